"""Dropout layer (over ``dlcore.functions.dropout``)."""
from __future__ import annotations

from dlcore.functions.dropout import dropout
from dlcore.nn.module import Module


class Dropout(Module):
    """Inverted dropout: y = x·m/(1 − p) in training (m keeps a unit with probability 1 − p), y = x in eval."""

    def __init__(self, p: float = 0.5):
        super().__init__()
        p = float(p)
        if not 0.0 <= p < 1.0:
            raise ValueError(f"Dropout probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x):
        return dropout(x, self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"
