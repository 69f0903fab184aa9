"""Pooling and nearest up-sampling on NCHW maps, built on the convolution's window view and fold."""
from __future__ import annotations

import math

from backends import element_strides
from backends.fused import fused
from dlcore import checks
from dlcore.checks import ShapeError
from dlcore.core import Function
from dlcore.ops.conv import ConvGeometry, fold, pad, window_entry, windows
from dlcore.ops.layout import empty_nchw, is_channels_last, to_channels_last
from dlcore.ops.math import reshape

# The window of output pixel (oh, ow) covers padded rows oh·S_h .. oh·S_h + K_h − 1, i.e. input rows
# oh·S_h − P_h + a for a < K_h (likewise columns); ``index`` = a·K_w + b names the window entry.
# Array arguments are addressed through their element strides, so any memory layout works.
_WINDOW_PARAMS = "int32 kh, int32 kw, int32 sh, int32 sw, int32 ph, int32 pw"

_MAX_POOL_CUDA = """
    const int c_ = i / (oh * ow) % c, n_ = i / (oh * ow * c);
    const int oh_ = i / ow % oh, ow_ = i % ow;
    const T* base = &x[0] + n_ * s0 + c_ * s1;
    T best = 0;
    int arg = -1;
    for (int a = 0; a < kh; ++a) {
        const int row = oh_ * sh - ph + a;
        if (row < 0 || row >= h) continue;  // padding (−∞) never wins over a pixel
        for (int b = 0; b < kw; ++b) {
            const int col = ow_ * sw - pw + b;
            if (col < 0 || col >= w) continue;
            const T v = base[row * s2 + col * s3];
            if (arg < 0 || v > best) { best = v; arg = a * kw + b; }
        }
    }
    y = best;
    index = arg;
"""

_MAX_POOL_GRAD_CUDA = """
    const int c_ = i / (h * w) % c, n_ = i / (h * w * c);
    const int row = i / w % h + ph, col = i % w + pw;
    const T* g = &gy[0] + n_ * s0 + c_ * s1;
    const int* k = &index[0] + (n_ * c + c_) * oh * ow;
    const int oh_lo = row < kh ? 0 : (row - kh) / sh + 1, oh_hi = min(row / sh, oh - 1);
    const int ow_lo = col < kw ? 0 : (col - kw) / sw + 1, ow_hi = min(col / sw, ow - 1);
    T sum = 0;
    for (int p = oh_lo; p <= oh_hi; ++p)
        for (int q = ow_lo; q <= ow_hi; ++q)
            if (k[p * ow + q] == (row - p * sh) * kw + (col - q * sw)) sum += g[p * s2 + q * s3];
    gx = sum;
"""


@fused(f"raw T x, int32 c, int32 h, int32 w, int32 oh, int32 ow, {_WINDOW_PARAMS}, "
       "int32 s0, int32 s1, int32 s2, int32 s3", "T y, int32 index", _MAX_POOL_CUDA, "dlcore_max_pool")
def _max_pool(xp, x, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, s0, s1, s2, s3, y, index):
    """y = max over each window of x_pad (−∞ padding), index = the first arg-max a·K_w + b; written into y, index.

    One pass per window entry k = a·K_w + b for the maximum, then one per entry, last to first,
    that moves the index to k where entry k equals it (arithmetic, no masked copies: those are
    ten times slower on NumPy). A window holding NaN gets y = NaN (and index K−1); the CUDA
    body lets a NaN entry win only when it is the window's first.
    """
    geometry = ConvGeometry((kh, kw), (sh, sw), (ph, pw))
    x_pad = pad(xp, x, geometry, -math.inf)
    entries = [window_entry(x_pad, geometry, k // kw, k % kw, oh, ow) for k in range(kh * kw)]
    best = entries[0].copy(order="K")  # in x's memory order, so every pass below streams
    for entry in entries[1:]:
        xp.maximum(best, entry, out=best)
    arg = xp.full_like(best, kh * kw - 1, dtype=index.dtype)
    for k in range(kh * kw - 2, -1, -1):
        arg += (entries[k] == best) * (k - arg)  # arg ← k where entry k is the maximum
    y[...], index[...] = best, arg
    return y, index


@fused(f"raw T gy, raw int32 index, int32 c, int32 h, int32 w, int32 oh, int32 ow, {_WINDOW_PARAMS}, "
       "int32 s0, int32 s1, int32 s2, int32 s3", "T gx", _MAX_POOL_GRAD_CUDA, "dlcore_max_pool_grad")
def _max_pool_grad(xp, gy, index, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, s0, s1, s2, s3, gx):
    """gx[n, c, h, w] = Σ over the windows whose arg-max is (h, w) of gy (a gather: no atomics, deterministic).

    One pass per window entry (a, b): the windows whose arg-max it is add their gy onto it; when
    the windows tile the map (stride = kernel, no padding, no leftover rows or columns) each
    pass writes its pixels outright. ``index`` is first put in gy's memory order, so that every
    pass streams.
    """
    geometry = ConvGeometry((kh, kw), (sh, sw), (ph, pw))
    if is_channels_last(gy):
        index = to_channels_last(xp, index)
    if (kh, kw) == (sh, sw) and not (ph or pw) and (oh * sh, ow * sw) == (h, w):
        for k in range(kh * kw):
            xp.multiply(gy, index == k, out=window_entry(gx, geometry, k // kw, k % kw, oh, ow))
        return gx
    g_pad = empty_nchw(xp, (gy.shape[0], c, h + 2 * ph, w + 2 * pw), gy.dtype, is_channels_last(gx)) \
        if ph or pw else gx  # the padded gradient in gx's memory order, as fold makes it
    g_pad.fill(0)
    for k in range(kh * kw):
        window_entry(g_pad, geometry, k // kw, k % kw, oh, ow)[...] += gy * (index == k)
    if g_pad is not gx:
        gx[...] = g_pad[:, :, ph:ph + h, pw:pw + w]
    return gx


def pool_geometry(kernel_size, stride=None, padding=0, owner="pooling") -> ConvGeometry:
    """The window of a pooling layer: stride defaults to the kernel; padding at most half the kernel.

    Each an int or an (h, w) pair of ints; errors name ``owner`` ("max_pool2d", "MaxPool2d") and the argument.
    """
    geometry = ConvGeometry(kernel_size, kernel_size if stride is None else stride, padding, owner=owner)
    if any(2 * p > k for p, k in zip(geometry.padding, geometry.kernel)):
        raise checks.ArgumentValueError(f"{owner}: padding must be at most half the kernel size, got {geometry}")
    return geometry


class _Pool(Function):
    """Shared by the pools: the windows as (N, C, OH, OW, KH·KW), and the fold of their gradient."""

    def __init__(self, geometry: ConvGeometry, who):
        self.geometry, self.who = geometry, who

    def _windows(self, xp, x):
        n, c, h, w = self.x_shape = x.shape
        oh, ow = self.geometry.output_size(h, w, self.who)
        v = windows(xp, x, self.geometry, oh, ow).transpose(0, 5, 1, 2, 3, 4)
        return v.reshape(n, c, oh, ow, -1)

    def _fold(self, xp, g):
        """gx from g[n, c, oh, ow, i, j], the gradient of each window entry."""
        return fold(xp, g.transpose(0, 2, 3, 4, 5, 1), self.x_shape, self.geometry)


class MaxPool2dFunction(_Pool):
    """y[n, c, oh, ow] = max_ij x_pad[n, c, oh·S + i, ow·S + j] (padding is −∞).

    ∂L/∂x: each window's gradient goes to its arg-max only (the first one on ties).
    """

    def forward(self, xp, x):
        n, c, h, w = self.x_shape = x.shape
        oh, ow = self.geometry.output_size(h, w, self.who)
        self.sizes = (c, h, w, oh, ow, *self.geometry.kernel, *self.geometry.stride, *self.geometry.padding)
        self.channels_last = is_channels_last(x)  # y and gx keep x's memory order
        y = empty_nchw(xp, (n, c, oh, ow), x.dtype, self.channels_last)
        self.index = xp.empty((n, c, oh, ow), xp.int32)
        return _max_pool(xp, x, *self.sizes, *element_strides(x), y, self.index)[0]

    def backward(self, xp, gy):
        gx = empty_nchw(xp, self.x_shape, gy.dtype, self.channels_last)
        return _max_pool_grad(xp, gy, self.index, *self.sizes, *element_strides(gy), gx)


class AvgPool2dFunction(_Pool):
    """y[n, c, oh, ow] = (1/(KH·KW)) Σ_ij x_pad[n, c, oh·S + i, ow·S + j] (zero padding counts in the divisor).

    ∂L/∂x: every entry of a window receives g/(KH·KW).
    """

    def forward(self, xp, x):
        return self._windows(xp, x).mean(axis=-1)

    def backward(self, xp, gy):
        kh, kw = self.geometry.kernel
        g = (gy * (1.0 / (kh * kw)))[..., None, None]
        return self._fold(xp, xp.broadcast_to(g, (*gy.shape, kh, kw)))


class Upsample2dFunction(Function):
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


def _check(who, x, whole_map=False):
    """ShapeError naming ``who`` unless x is (N, C, H, W), with H, W ≥ 1 when the window is the ``whole_map``;
    TypeError unless it is a Tensor or an array."""
    if checks.array(who, "x", x).ndim != 4 or (whole_map and min(x.shape[2:]) < 1):
        raise ShapeError(f"{who} needs an NCHW input (N, C, H, W){' with H, W ≥ 1' if whole_map else ''}, "
                         f"got shape {tuple(x.shape)}")


def max_pool2d(x, kernel_size, stride=None, padding=0):
    """y[n, c, oh, ow] = max of x_pad over the window at (oh·S, ow·S); stride defaults to kernel_size.

    Output size ⌊(H + 2P − K)/S⌋ + 1; padding is −∞; the gradient goes to one arg-max per window.
    """
    _check("max_pool2d", x)
    return MaxPool2dFunction(pool_geometry(kernel_size, stride, padding, "max_pool2d"), "max_pool2d")(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0):
    """y[n, c, oh, ow] = mean of x_pad over the window at (oh·S, ow·S), zero padding included in the count."""
    _check("avg_pool2d", x)
    return AvgPool2dFunction(pool_geometry(kernel_size, stride, padding, "avg_pool2d"), "avg_pool2d")(x)


def global_avg_pool2d(x):
    """y[n, c] = (1/(H·W)) Σ_hw x[n, c, h, w]."""
    _check("global_avg_pool2d", x, whole_map=True)
    return reshape(AvgPool2dFunction(ConvGeometry(x.shape[2:], x.shape[2:]), "global_avg_pool2d")(x), x.shape[:2])


def global_max_pool2d(x):
    """y[n, c] = max_hw x[n, c, h, w]; the gradient goes to one arg-max per map."""
    _check("global_max_pool2d", x, whole_map=True)
    return reshape(MaxPool2dFunction(ConvGeometry(x.shape[2:], x.shape[2:]), "global_max_pool2d")(x), x.shape[:2])


def upsample2d(x, scale=2, mode="nearest"):
    """y[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]: each pixel repeated s_h×s_w times (``scale`` an int or pair)."""
    _check("upsample2d", x)
    scale = checks.int_pair("upsample2d", "scale", scale, minimum=1)
    checks.choice("upsample2d", "mode", mode, ("nearest",))
    return Upsample2dFunction(scale)(x)
