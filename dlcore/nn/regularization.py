"""Dropout layer (over ``dlcore.ops.dropout``)."""
from __future__ import annotations

from dlcore.checks import finite_number
from dlcore.ops.dropout import dropout
from dlcore.nn.module import Module


class Dropout(Module):
    """Inverted dropout: y = x·m/(1 − p) in training (m keeps a unit with probability 1 − p), y = x in eval;
    the drop probability p is in [0, 1).

    Example::

        >>> drop = nn.Dropout(p=0.5)
        >>> x = dlcore.Tensor(np.ones((2, 8), "float32"))
        >>> print(np.unique(drop(x).numpy()))    # training: dropped units 0, kept ones scaled by 1/(1 − p) = 2
        [0. 2.]
        >>> print(drop.eval()(x).numpy()[0])     # eval: the identity
        [1. 1. 1. 1. 1. 1. 1. 1.]
    """

    def __init__(self, p: float = 0.5):
        super().__init__()
        self.p = finite_number("Dropout", "p", p, within="[0, 1)")

    def forward(self, x):
        return dropout(x, self.p)

    def draws_random_numbers(self) -> bool:
        """True for p > 0: training draws a keep mask (p = 0 passes x through)."""
        return self.p > 0

    def extra_repr(self) -> str:
        return f"p={self.p}"
