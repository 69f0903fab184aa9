"""Padding of any axes: a constant border, or one taken from the values themselves (``F.pad``)."""
from __future__ import annotations

import backends
from dlcore import checks
from dlcore.checks import ArgumentValueError
from dlcore.core import Function

MODES = ("constant", "reflect", "replicate", "circular")


def source_index(xp, n: int, before: int, after: int, mode: str):
    """For each of the n + before + after positions of a padded axis, the position of x it copies.

    Position o of the padded axis holds x at i = o − before when 0 ≤ i < n; outside, "reflect"
    mirrors about the edge values without repeating them (i = −1 → 1, i = n → n − 2), "replicate"
    repeats the edge value (i < 0 → 0, i ≥ n → n − 1) and "circular" wraps around (i mod n).
    """
    i = xp.arange(-before, n + after)
    if mode == "replicate":
        return xp.clip(i, 0, n - 1)
    if mode == "circular":
        return i % n
    return (n - 1) - xp.abs((n - 1) - xp.abs(i))  # reflect: |i| folds the left side, then n − 1 the right


class Pad(Function):
    """y = x with ``widths[a] = (before, after)`` values added on each side of axis a.

    mode "constant": the new values are ``value``; ∂L/∂x is ∂L/∂y's centre.
    "reflect", "replicate", "circular": y = x taken at ``source_index`` along each padded axis in
    turn; ∂L/∂x sums ∂L/∂y over every position that copies each value (axis by axis, in reverse).
    """

    def __init__(self, widths, mode, value):
        self.widths, self.mode, self.value = widths, mode, value

    def forward(self, xp, x):
        self.shape = x.shape
        if self.mode == "constant":
            y = xp.full([n + b + a for n, (b, a) in zip(x.shape, self.widths)], self.value, dtype=x.dtype)
            y[self._centre()] = x
            return y
        for axis, (before, after) in enumerate(self.widths):
            if before or after:
                x = xp.take(x, source_index(xp, x.shape[axis], before, after, self.mode), axis=axis)
        return x

    def _centre(self):
        return tuple(slice(b, b + n) for n, (b, _) in zip(self.shape, self.widths))

    def backward(self, xp, gy):
        if self.mode == "constant":
            return gy[self._centre()]
        g = gy
        for axis in reversed(range(len(self.shape))):
            before, after = self.widths[axis]
            if before or after:
                n = self.shape[axis]
                gx = xp.zeros(g.shape[:axis] + (n,) + g.shape[axis + 1:], g.dtype)
                index = (slice(None),) * axis + (source_index(xp, n, before, after, self.mode),)
                backends.backend_of(gx).scatter_add(gx, index, g)
                g = gx
        return g


def pad(x, pad, mode="constant", value=0.0):  # noqa: A002 (PyTorch's names)
    """y = x padded as ``torch.nn.functional.pad``: ``pad`` = (left, right) for the last axis, then
    (left, right) for the one before it, and so on: (l₁, r₁, l₂, r₂, …), ints ≥ 0, for up to every axis.

    ``mode``: "constant" fills with ``value``; "reflect" mirrors x about its edge values (widths < the
    axis length); "replicate" repeats the edge values; "circular" wraps around (widths ≤ the length).
    The gradient sums over every output position that holds a copy of each input value.

    >>> import dlcore
    >>> x = dlcore.tensor([[1.0, 2.0, 3.0]])
    >>> pad(x, (2, 1)).numpy()
    array([[0., 0., 1., 2., 3., 0.]], dtype=float32)
    >>> pad(x, (2, 1), mode="reflect").numpy()
    array([[3., 2., 1., 2., 3., 2.]], dtype=float32)
    >>> pad(x, (1, 1, 1, 0), mode="replicate").numpy()
    array([[1., 1., 2., 3., 3.],
           [1., 1., 2., 3., 3.]], dtype=float32)
    """
    shape = tuple(checks.array("pad", "x", x).shape)
    if not isinstance(pad, (tuple, list)) or len(pad) % 2 or len(pad) > 2 * len(shape):
        raise checks.ArgumentTypeError(f"pad: pad must be a tuple of (left, right) pairs, one for each of up to "
                                       f"{len(shape)} last axes of x of shape {shape}, got {pad!r}")
    sizes = [checks.integer("pad", f"pad[{i}]", p, minimum=0) for i, p in enumerate(pad)]
    mode = checks.choice("pad", "mode", mode, MODES)
    value = checks.finite_number("pad", "value", value)
    widths = [(0, 0)] * len(shape)
    for k in range(len(sizes) // 2):
        axis = len(shape) - 1 - k
        widths[axis] = (sizes[2 * k], sizes[2 * k + 1])
        n, widest = shape[axis], max(widths[axis])
        if mode != "constant" and not n:
            raise ArgumentValueError(f"pad: mode {mode!r} copies values of x, but axis {axis} of x is empty")
        if mode == "reflect" and widest >= n or mode == "circular" and widest > n:
            bound = "<" if mode == "reflect" else "≤"
            raise ArgumentValueError(f"pad: mode {mode!r} needs widths {bound} the size of the axis padded, "
                                     f"got {widths[axis]} for axis {axis} of size {n}")
    return Pad(tuple(widths), mode, value)(x)
