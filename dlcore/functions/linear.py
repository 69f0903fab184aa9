"""The dense layer's operation as one coarse Function."""
from __future__ import annotations

from dlcore.core import Function


class Linear(Function):
    """y = x @ W + b for x of shape (..., n_in), W (n_in, n_out), b (n_out,) or None.

    ∂L/∂x = g Wᵀ,  ∂L/∂W = xᵀ g (summed over all leading axes),  ∂L/∂b = Σ g.
    """

    def forward(self, xp, x, W, b=None):
        self.x, self.W = x, W
        y = x @ W
        if b is not None:
            y += b
        return y

    def backward(self, xp, gy):
        x, W = self.x, self.W
        gx = gy @ W.T if self.needs_input_grad[0] else None
        gW = gb = None
        if self.needs_input_grad[1]:
            gW = x.reshape(-1, x.shape[-1]).T @ gy.reshape(-1, gy.shape[-1])
        if len(self.needs_input_grad) > 2 and self.needs_input_grad[2]:
            gb = gy.reshape(-1, gy.shape[-1]).sum(axis=0)
        return gx, gW, gb


def linear(x, W, b=None):
    """y = x @ W + b (W of shape (n_in, n_out), as nn.Linear stores it)."""
    if b is None:
        return Linear()(x, W)
    return Linear()(x, W, b)
