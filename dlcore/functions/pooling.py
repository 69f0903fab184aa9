"""Pooling and nearest up-sampling on NCHW maps, built on the convolution's window view and fold."""
from __future__ import annotations

import math

from dlcore.core import Function
from dlcore.functions.conv import ConvGeometry, fold, windows
from dlcore.functions.math import reshape


def pool_geometry(kernel_size, stride=None, padding=0) -> ConvGeometry:
    """The window of a pooling layer: stride defaults to the kernel; padding at most half the kernel."""
    geometry = ConvGeometry(kernel_size, kernel_size if stride is None else stride, padding)
    if any(2 * p > k for p, k in zip(geometry.padding, geometry.kernel)):
        raise ValueError(f"pooling padding must be at most half the kernel size, got {geometry}")
    return geometry


class _Pool(Function):
    """Shared by the pools: the windows as (N, C, OH, OW, KH·KW), and the fold of their gradient."""

    pad_value = 0.0

    def __init__(self, geometry: ConvGeometry, who):
        self.geometry, self.who = geometry, who

    def _windows(self, xp, x):
        n, c, h, w = self.x_shape = x.shape
        oh, ow = self.geometry.output_size(h, w, self.who)
        v = windows(xp, x, self.geometry, oh, ow, self.pad_value).transpose(0, 5, 1, 2, 3, 4)
        return v.reshape(n, c, oh, ow, -1)

    def _fold(self, xp, g):
        """gx from g[n, c, oh, ow, i, j], the gradient of each window entry."""
        return fold(xp, g.transpose(0, 2, 3, 4, 5, 1), self.x_shape, self.geometry)


class MaxPool2d(_Pool):
    """y[n, c, oh, ow] = max_ij x_pad[n, c, oh·S + i, ow·S + j] (padding is −∞).

    ∂L/∂x: each window's gradient goes to its arg-max only (the first one on ties).
    """

    pad_value = -math.inf

    def forward(self, xp, x):
        v = self._windows(xp, x)
        self.index = v.argmax(axis=-1)
        return xp.take_along_axis(v, self.index[..., None], axis=-1)[..., 0]

    def backward(self, xp, gy):
        kk = math.prod(self.geometry.kernel)
        g = (xp.arange(kk) == self.index[..., None]) * gy[..., None]
        return self._fold(xp, g.reshape(*gy.shape, *self.geometry.kernel))


class AvgPool2d(_Pool):
    """y[n, c, oh, ow] = (1/(KH·KW)) Σ_ij x_pad[n, c, oh·S + i, ow·S + j] (zero padding counts in the divisor).

    ∂L/∂x: every entry of a window receives g/(KH·KW).
    """

    def forward(self, xp, x):
        return self._windows(xp, x).mean(axis=-1)

    def backward(self, xp, gy):
        kh, kw = self.geometry.kernel
        g = (gy * (1.0 / (kh * kw)))[..., None, None]
        return self._fold(xp, xp.broadcast_to(g, (*gy.shape, kh, kw)))


class Upsample2d(Function):
    """y[n, c, h, w] = x[n, c, ⌊h/s_h⌋, ⌊w/s_w⌋] (nearest neighbour); ∂L/∂x sums each s_h×s_w block of g."""

    def __init__(self, scale):
        self.scale = tuple(scale)

    def forward(self, xp, x):
        n, c, h, w = x.shape
        sh, sw = self.scale
        return xp.broadcast_to(x[:, :, :, None, :, None], (n, c, h, sh, w, sw)).reshape(n, c, h * sh, w * sw)

    def backward(self, xp, gy):
        n, c, h, w = gy.shape
        sh, sw = self.scale
        return gy.reshape(n, c, h // sh, sh, w // sw, sw).sum(axis=(3, 5))


def _check(who, x):
    if x.ndim != 4:
        raise ValueError(f"{who} needs an NCHW input (N, C, H, W), got shape {tuple(x.shape)}")


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """y[n, c, oh, ow] = max of x_pad over the window at (oh·S, ow·S); stride defaults to kernel_size.

    Output size ⌊(H + 2P − K)/S⌋ + 1; padding is −∞; the gradient goes to one arg-max per window.
    """
    _check("max_pool2d", x)
    return MaxPool2d(pool_geometry(kernel_size, stride, padding), "max_pool2d")(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """y[n, c, oh, ow] = mean of x_pad over the window at (oh·S, ow·S), zero padding included in the count."""
    _check("avg_pool2d", x)
    return AvgPool2d(pool_geometry(kernel_size, stride, padding), "avg_pool2d")(x)


def global_avg_pool2d(x):
    """y[n, c] = (1/(H·W)) Σ_hw x[n, c, h, w]."""
    _check("global_avg_pool2d", x)
    return reshape(AvgPool2d(ConvGeometry(x.shape[2:], x.shape[2:]), "global_avg_pool2d")(x), x.shape[:2])


def global_max_pool2d(x):
    """y[n, c] = max_hw x[n, c, h, w]; the gradient goes to one arg-max per map."""
    _check("global_max_pool2d", x)
    return reshape(MaxPool2d(ConvGeometry(x.shape[2:], x.shape[2:]), "global_max_pool2d")(x), x.shape[:2])


def upsample2d(x, scale=2, mode="nearest"):
    """y[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]: each pixel repeated s_h×s_w times (``scale`` an int or pair)."""
    _check("upsample2d", x)
    if mode != "nearest":
        raise ValueError(f"upsample2d supports mode='nearest' only, got {mode!r}")
    scale = (scale, scale) if isinstance(scale, int) else tuple(scale)
    if len(scale) != 2 or min(scale) < 1:
        raise ValueError(f"upsample2d needs a positive int scale or (h, w) pair, got {scale!r}")
    return Upsample2d(scale)(x)
