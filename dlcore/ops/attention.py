"""Scaled dot-product attention, composed from the differentiable ops (matmul, softmax, dropout):
each piece has its hand-derived backward, and the composition is exact."""
from __future__ import annotations

import math

from dlcore import checks
from dlcore.core import Tensor
from dlcore.ops.activation import softmax
from dlcore.ops.dropout import dropout
from dlcore.ops.math import matmul, transpose


def additive_mask(mask, dtype, owner: str = "scaled_dot_product_attention", name: str = "mask"):
    """``mask`` as an array to add to attention scores: a boolean mask (True = may not attend, as in
    PyTorch) becomes −∞ where True and 0 elsewhere; a float mask is added as it is. Any other dtype is a
    TypeError naming ``owner`` and ``name``: an integer 0/1 mask added as it is would shift the scores by 1
    instead of masking (PyTorch refuses it too)."""
    data = checks.array(owner, name, mask)
    data = data.data if isinstance(data, Tensor) else data
    if data.dtype.kind not in "bf":
        raise checks.ArgumentTypeError(f"{owner}: {name} must be boolean (True = may not attend) or floating "
                                       f"(added to the scores), got dtype {data.dtype}; write mask.astype(bool)")
    if data.dtype == bool:
        xp = Tensor(data).xp
        return xp.where(data, xp.asarray(-xp.inf, dtype), xp.asarray(0, dtype))
    return data.astype(dtype, copy=False)


def scaled_dot_product_attention(q, k, v, mask=None, dropout_p: float = 0.0, training=None):
    """(softmax(q kᵀ/√d + M) v, the attention weights) for q (..., L, d), k (..., S, d), v (..., S, dᵥ).

    ``mask`` M broadcasts to (..., L, S): boolean (True = may not attend, −∞ added) or additive float.
    ``dropout_p`` drops attention weights in training (inverted dropout); the weights returned
    are those before dropout. A row whose every key is masked gives NaN, as in PyTorch.
    """
    for name, t in (("q", q), ("k", k), ("v", v)):
        checks.array("scaled_dot_product_attention", name, t)
    if q.shape[-1] != k.shape[-1] or k.shape[-2] != v.shape[-2]:
        raise checks.ShapeError(f"scaled_dot_product_attention needs q (..., L, d), k (..., S, d) and v (..., S, dv), "
                                f"got q {tuple(q.shape)}, k {tuple(k.shape)}, v {tuple(v.shape)}")
    scores = matmul(q, transpose(k, (*range(k.ndim - 2), k.ndim - 1, k.ndim - 2))) * (1 / math.sqrt(q.shape[-1]))
    if mask is not None:
        scores = scores + additive_mask(mask, scores.dtype)
    weights = softmax(scores, axis=-1)
    return matmul(dropout(weights, dropout_p, training), v), weights
