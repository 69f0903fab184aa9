"""The differentiable operations, one small module per family, each written once against ``xp``."""
