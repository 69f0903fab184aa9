"""Dropout layer (over ``dlcore.ops.dropout``)."""
from __future__ import annotations

from dlcore.checks import finite_number
from dlcore.ops.dropout import dropout, dropout2d
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


class Dropout2d(Dropout):
    """Channel dropout (PyTorch's Dropout2d): in training each map x[n, c] (N, C, H, W) is zeroed with
    probability p or kept and scaled by 1/(1 − p), as a whole (neighbouring pixels are correlated, so
    dropping single pixels regularizes conv maps little); y = x in eval.

    Example::

        >>> drop = nn.Dropout2d(p=0.5)
        >>> y = drop(dlcore.Tensor(np.ones((2, 4, 3, 3), "float32"))).numpy()
        >>> sorted({float(v) for v in np.unique(y.reshape(8, 9), axis=0)[:, 0]})    # each map all 0 or all 2
        [0.0, 2.0]
        >>> bool((y.reshape(8, 9).min(axis=1) == y.reshape(8, 9).max(axis=1)).all())
        True
    """

    def forward(self, x):
        return dropout2d(x, self.p)
