"""Embedding lookup as one Function."""
from __future__ import annotations

import backends
from dlcore import checks
from dlcore.core import Function, Tensor


class EmbeddingFunction(Function):
    """y = W[idx]: row idx of the table W (V, E) for every integer in idx, giving idx.shape + (E,);
    ∂L/∂W = Σ of the rows of g at each index (repeated indices accumulate), no gradient for idx."""

    def forward(self, xp, idx, W):
        self.idx, self.W_shape, self.dtype = idx, W.shape, W.dtype
        return W[idx]

    def backward(self, xp, gy):
        gW = None
        if self.needs_input_grad[1]:
            gW = xp.zeros(self.W_shape, self.dtype)
            backends.backend_of(gW).scatter_add(gW, self.idx.reshape(-1), gy.reshape(-1, self.W_shape[1]))
        return None, gW


def embedding(idx, weight):
    """y = weight[idx]: the rows of ``weight`` (V, E) that the integers ``idx`` (any shape, 0 ≤ idx < V)
    name. On NumPy an IndexError names an index out of range; on CuPy the indices are not read back
    (no host synchronisation in a training step), so keep them in range there."""
    table = checks.array("embedding", "weight", weight)
    data = checks.array("embedding", "idx", idx)
    data = data.data if isinstance(data, Tensor) else data
    if data.dtype.kind not in "iu":
        raise checks.ArgumentTypeError(f"embedding: idx must hold integers, got dtype {data.dtype}")
    if table.ndim != 2:
        raise checks.ShapeError(f"embedding: weight must be a table (V, E), got shape {tuple(table.shape)}")
    on_host = backends.backend_of(data).name == "numpy"
    if on_host and data.size and (int(data.min()) < 0 or int(data.max()) >= table.shape[0]):
        raise IndexError(f"embedding: indices must lie in [0, {table.shape[0]}), got values from {int(data.min())} "
                         f"to {int(data.max())}")
    return EmbeddingFunction()(data, weight)
