"""The dense layer's operation as one coarse Function."""
from __future__ import annotations

import backends
from dlcore import checks
from dlcore.core import Function


class LinearFunction(Function):
    """y = x @ W + b for x of shape (..., n_in), W (n_in, n_out), b (n_out,) or None.

    ∂L/∂x = g Wᵀ,  ∂L/∂W = xᵀ g (summed over all leading axes),  ∂L/∂b = Σ g.
    The matrix products go through the backend's GEMM (cuBLAS directly on CuPy).
    """

    def forward(self, xp, x, W, b=None):
        self.backend = backends.backend_of(W)
        self.x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])  # 2-D inputs (the usual case) as they are
        self.W = W
        y = self.backend.gemm(self.x2, W)
        if b is not None:
            y += b
        return y if x.ndim == 2 else y.reshape(x.shape[:-1] + (W.shape[1],))

    def backward(self, xp, gy):
        g2 = gy if gy.ndim == 2 else gy.reshape(-1, gy.shape[-1])
        needs = self.needs_input_grad
        gx = gW = gb = None
        if needs[0]:
            gx = self.backend.gemm(g2, self.W, trans_b=True)
            if gy.ndim != 2:
                gx = gx.reshape(gy.shape[:-1] + (self.W.shape[0],))
        if needs[1]:
            gW = self.backend.gemm(self.x2, g2, trans_a=True)
        if len(needs) > 2 and needs[2]:
            gb = self.backend.column_sums(g2)
        return gx, gW, gb


def linear(x, W, b=None):
    """y = x @ W + b (W of shape (n_in, n_out), as nn.Linear stores it; x (..., n_in), b (n_out,) or None).

    A ShapeError (a ValueError) names the shapes that do not fit; a TypeError an argument that is
    not a Tensor or an array.
    """
    x_shape, w_shape = checks.array("linear", "x", x).shape, checks.array("linear", "W", W).shape
    if len(w_shape) != 2 or len(x_shape) == 0 or x_shape[-1] != w_shape[0]:
        raise checks.ShapeError(f"linear needs x (..., n_in) and W (n_in, n_out), got x of shape {tuple(x_shape)} "
                                f"and W of shape {tuple(w_shape)}")
    if b is not None and tuple(checks.array("linear", "b", b).shape) != (w_shape[1],):
        raise checks.ShapeError(f"linear needs a bias b of shape ({w_shape[1]},) for W of shape {tuple(w_shape)}, "
                                f"got b of shape {tuple(b.shape)}")
    if b is None:
        return LinearFunction()(x, W)
    return LinearFunction()(x, W, b)
