"""Loss functions (being written)."""
