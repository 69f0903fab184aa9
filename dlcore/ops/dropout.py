"""Inverted dropout."""
from __future__ import annotations

import backends
from backends.fused import fused
from dlcore import checks, modes
from dlcore.core import Function, Tensor


@fused("T x, bool keep, T scale", "T y", "y = keep ? x * scale : (T)0", "dlcore_dropout")
def _masked_scale(xp, x, keep, scale):
    """x·keep·scale."""
    return x * keep * scale


class DropoutFunction(Function):
    """y = x·m/(1 − p) with the keep mask m ∈ {0, 1};  ∂L/∂x = g·m/(1 − p).

    The mask is an input (a boolean array on x's device, of x's shape or one that broadcasts to it:
    one value per channel for ``dropout2d``), so E[y] = x when P(m = 1) = 1 − p.
    """

    def __init__(self, p: float):
        self.scale = 1.0 / (1.0 - p)

    def forward(self, xp, x, keep):
        self.keep = keep
        return _masked_scale(xp, x, keep, self.scale)

    def backward(self, xp, gy):
        return _masked_scale(xp, gy, self.keep, self.scale), None


def dropout(x, p: float = 0.5, training=None, mask=None):
    """Inverted dropout: y = x·m/(1 − p) in training, y = x in eval (and for p = 0).

    m keeps each unit with probability 1 − p, drawn as ``random(x.shape) >= p`` from the
    generator of x's backend, on x's device (seeded by ``dlcore.manual_seed``). ``mask`` (a
    boolean or 0/1 array of x's shape on x's device) replaces the draw, e.g. to compare
    backends exactly. ``training=None`` reads ``dlcore.is_training()`` (which a Module's call sets).
    """
    return _dropout("dropout", x, p, training, mask, lambda shape: shape)


def dropout2d(x, p: float = 0.5, training=None, mask=None):
    """Channel dropout (PyTorch's Dropout2d): y[n, c] = x[n, c]·m[n, c]/(1 − p) in training, whole maps kept or
    zeroed together, y = x in eval;  ∂L/∂x = g·m/(1 − p). x is (N, C, …) with at least one axis after C;
    m (N, C, 1, …) is drawn as in ``dropout`` or given as ``mask`` of that shape."""
    return _dropout("dropout2d", x, p, training, mask, lambda shape: shape[:2] + (1,) * (len(shape) - 2), 3)


def _dropout(who, x, p, training, mask, mask_shape, min_ndim=0):
    """Inverted dropout of x with a keep mask of shape ``mask_shape(x.shape)`` (broadcast over x)."""
    checks.array(who, "x", x)
    if x.ndim < min_ndim:
        raise checks.ShapeError(f"{who} needs an input (N, C, H, W) (at least one axis after the channels), got "
                                f"shape {tuple(x.shape)}")
    p = checks.finite_number(who, "p", p, within="[0, 1)")
    training = modes.is_training() if training is None else checks.flag(who, "training", training)
    if not training or p == 0.0:
        return x
    data = x.data if isinstance(x, Tensor) else x
    shape = mask_shape(data.shape)
    if mask is None:
        mask = backends.backend_of(data).random(shape, data.dtype) >= p
    else:
        mask = checks.array(who, "mask", mask)
        mask = mask.data if isinstance(mask, Tensor) else mask
        if mask.shape != shape:
            raise checks.ShapeError(f"{who}: the mask of shape {tuple(mask.shape)} does not match x of shape "
                                    f"{tuple(data.shape)}" + ("" if shape == data.shape else f" (needs {shape})"))
        if mask.dtype != bool:
            mask = mask != 0
    return DropoutFunction(p)(x, mask)
