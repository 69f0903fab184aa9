"""Pooling and nearest up-sampling on NCHW maps, built on the convolution's window view and fold."""
from __future__ import annotations

import math

import backends
from backends import compiled, element_strides
from backends.fused import fused
from dlcore import checks
from dlcore.checks import ShapeError
from dlcore.core import Function
from dlcore.ops.conv import ConvGeometry, fold, pad, window_entry, windows
from dlcore.ops.layout import empty_nchw, is_channels_last, nhwc, nhwc_contiguous, to_channels_last
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
    x_pad = _pad_after(xp, pad(xp, x, geometry, -math.inf), _ceil_extra(geometry, h, w, oh, ow), -math.inf)
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
    eh, ew = _ceil_extra(geometry, h, w, oh, ow)
    g_pad = empty_nchw(xp, (gy.shape[0], c, h + 2 * ph + eh, w + 2 * pw + ew), gy.dtype, is_channels_last(gx)) \
        if ph or pw or eh or ew else gx  # the padded gradient in gx's memory order, as fold makes it
    g_pad.fill(0)
    for k in range(kh * kw):
        window_entry(g_pad, geometry, k // kw, k % kw, oh, ow)[...] += gy * (index == k)
    if g_pad is not gx:
        gx[...] = g_pad[:, :, ph:ph + h, pw:pw + w]
    return gx


def _ceil_extra(geometry: ConvGeometry, h: int, w: int, oh: int, ow: int) -> tuple[int, int]:
    """Rows and columns that the last windows of a ceil-mode output read beyond the padded map (0 otherwise)."""
    return tuple(max(0, (o - 1) * s + k - (n + 2 * p))
                 for n, o, k, s, p in zip((h, w), (oh, ow), geometry.kernel, geometry.stride, geometry.padding))


def _pad_after(xp, a, extra, value):
    """``a`` with ``extra`` = (rows, columns) of ``value`` added at the bottom and right (``a`` itself when none)."""
    if not any(extra):
        return a
    return xp.pad(a, ((0, 0), (0, 0), (0, extra[0]), (0, extra[1])), constant_values=value)


def pool_output_size(geometry: ConvGeometry, h: int, w: int, ceil_mode: bool, who) -> tuple[int, int]:
    """(OH, OW): ⌊(H + 2P − K)/S⌋ + 1 per axis, or with ``ceil_mode`` ⌈(H + 2P − K)/S⌉ + 1 less the last window
    when it would start in the bottom/right padding (PyTorch's rule: every window starts inside the input
    or its top/left padding)."""
    floor = geometry.output_size(h, w, who)
    if not ceil_mode:
        return floor
    out = []
    for n, k, s, p in zip((h, w), geometry.kernel, geometry.stride, geometry.padding):
        o = -(-(n + 2 * p - k) // s) + 1
        out.append(o - 1 if (o - 1) * s >= n + p else o)
    return tuple(out)


def pool_geometry(kernel_size, stride=None, padding=0, owner="pooling") -> ConvGeometry:
    """The window of a pooling layer: stride defaults to the kernel; padding at most half the kernel.

    Each an int or an (h, w) pair of ints; errors name ``owner`` ("max_pool2d", "MaxPool2d") and the argument.
    """
    geometry = ConvGeometry(kernel_size, kernel_size if stride is None else stride, padding, owner=owner)
    if any(2 * p > k for p, k in zip(geometry.padding, geometry.kernel)):
        raise checks.ArgumentValueError(f"{owner}: padding must be at most half the kernel size, got {geometry}")
    return geometry


class _Pool(Function):
    """Shared by the pools: the windows as (N, C, OH, OW, KH·KW), and the fold of their gradient.

    ``ceil_mode`` rounds the output size up (see ``pool_output_size``); the windows it adds reach past the
    bottom/right padding, where max pooling sees −∞ and average pooling counts nothing."""

    def __init__(self, geometry: ConvGeometry, who, ceil_mode: bool = False):
        self.geometry, self.who, self.ceil_mode = geometry, who, ceil_mode

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

    ∂L/∂x: each window's gradient goes to its arg-max only (the first one on ties). On the CPU with
    Numba a channels-last x is pooled by the compiled loops of ``dlcore.ops.pooling_cpu`` (same rules).
    """

    def forward(self, xp, x):
        n, c, h, w = self.x_shape = x.shape
        oh, ow = pool_output_size(self.geometry, h, w, self.ceil_mode, self.who)
        self.sizes = (c, h, w, oh, ow, *self.geometry.kernel, *self.geometry.stride, *self.geometry.padding)
        self.channels_last = is_channels_last(x)  # y and gx keep x's memory order
        y = empty_nchw(xp, (n, c, oh, ow), x.dtype, self.channels_last)
        self.compiled = (self.channels_last and compiled.runs_on(xp) and nhwc(x).flags.c_contiguous
                         and x.dtype in (xp.float32, xp.float64))
        if self.compiled:  # one compiled pass over channels-last memory (dlcore.ops.pooling_cpu)
            from dlcore.ops import pooling_cpu

            self.index = empty_nchw(xp, (n, c, oh, ow), xp.int32, True)
            pooling_cpu.max_pool(nhwc(x), *self.geometry.kernel, *self.geometry.stride, *self.geometry.padding,
                                 nhwc(y), nhwc(self.index))
            return y
        self.index = xp.empty((n, c, oh, ow), xp.int32)
        return _max_pool(xp, x, *self.sizes, *element_strides(x), y, self.index)[0]

    def backward(self, xp, gy):
        gx = empty_nchw(xp, self.x_shape, gy.dtype, self.channels_last)
        if self.compiled:
            from dlcore.ops import pooling_cpu

            pooling_cpu.max_pool_grad(nhwc_contiguous(xp, gy), nhwc(self.index), *self.geometry.kernel,
                                      *self.geometry.stride, *self.geometry.padding, nhwc(gx))
            return gx
        return _max_pool_grad(xp, gy, self.index, *self.sizes, *element_strides(gy), gx)


class AvgPool2dFunction(_Pool):
    """y[n, c, oh, ow] = (1/(KH·KW)) Σ_ij x_pad[n, c, oh·S + i, ow·S + j] (zero padding counts in the divisor).

    ∂L/∂x: every entry of a window receives g/(KH·KW).

    With ``count_include_pad=False`` or ``ceil_mode`` the divisor is PyTorch's, per window: the window's
    rows start = oh·S − P … end = min(start + K, H + P) (the ceil-mode rows past the padding never count),
    and without count_include_pad only those inside the input, max(start, 0) … min(end, H); likewise the
    columns; the divisor is rows × columns, and each entry of the window receives g/divisor.
    """

    def __init__(self, geometry: ConvGeometry, who, ceil_mode: bool = False, count_include_pad: bool = True):
        super().__init__(geometry, who, ceil_mode)
        self.count_include_pad = count_include_pad
        self.plain = count_include_pad and not ceil_mode

    def forward(self, xp, x):
        if self.plain:
            return self._windows(xp, x).mean(axis=-1)
        n, c, h, w = x.shape
        oh, ow = pool_output_size(self.geometry, h, w, True, self.who) if self.ceil_mode else \
            self.geometry.output_size(h, w, self.who)
        self.extra = _ceil_extra(self.geometry, h, w, oh, ow)
        self.x_shape = (n, c, h + self.extra[0], w + self.extra[1])  # the windows' map: x, zeros after it
        self.divisor = self._divisor(xp, h, w, oh, ow, x.dtype)
        return self._windows(xp, _pad_after(xp, x, self.extra, 0)).sum(axis=-1) / self.divisor

    def _divisor(self, xp, h, w, oh, ow, dtype):
        counts = []
        for n, o, k, s, p in zip((h, w), (oh, ow), self.geometry.kernel, self.geometry.stride, self.geometry.padding):
            start = xp.arange(o) * s - p
            end = xp.minimum(start + k, n + p)
            if not self.count_include_pad:
                start, end = xp.maximum(start, 0), xp.minimum(end, n)
            counts.append(end - start)
        return (counts[0][:, None] * counts[1][None, :]).astype(dtype)

    def backward(self, xp, gy):
        kh, kw = self.geometry.kernel
        g = (gy * (1.0 / (kh * kw)) if self.plain else gy / self.divisor)[..., None, None]
        gx = self._fold(xp, xp.broadcast_to(g, (*gy.shape, kh, kw)))
        return gx if self.plain or not any(self.extra) else gx[:, :, :gx.shape[2] - self.extra[0],
                                                                  :gx.shape[3] - self.extra[1]]


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


class Resample2dFunction(Function):
    """y[n, c] = M_h · x[n, c] · M_wᵀ: every output pixel a fixed linear combination of the input pixels,
    separable over rows and columns (adaptive average pooling, bilinear up-sampling);
    ∂L/∂x[n, c] = M_hᵀ · g[n, c] · M_w. ``rows(xp, H, dtype)`` and ``cols(xp, W, dtype)`` build M_h (OH, H)
    and M_w (OW, W) on x's device. Two GEMMs of the backend each way (its cuBLAS binding on CuPy, which
    a CUDA-graph capture accepts), the maps of every n, c side by side."""

    def __init__(self, rows, cols):
        self.rows, self.cols = rows, cols

    def forward(self, xp, x):
        self.backend = backends.backend_of(x)
        self.mh, self.mw = self.rows(xp, x.shape[2], x.dtype), self.cols(xp, x.shape[3], x.dtype)
        return _separable(self.backend, xp, x, self.mh, self.mw, adjoint=False)

    def backward(self, xp, gy):
        return _separable(self.backend, xp, gy, self.mh, self.mw, adjoint=True)


def _separable(backend, xp, a, mh, mw, adjoint: bool):
    """M_h·a[n, c]·M_wᵀ for every n, c (``adjoint``: M_hᵀ·a[n, c]·M_w) as two 2-D GEMMs."""
    n, c, h, w = a.shape
    rows = backend.gemm(xp.ascontiguousarray(a).reshape(-1, w), mw, trans_b=not adjoint)  # (n·c·h, w′)
    w2 = rows.shape[1]
    side_by_side = xp.ascontiguousarray(rows.reshape(n * c, h, w2).transpose(1, 0, 2)).reshape(h, -1)
    out = backend.gemm(mh, side_by_side, trans_a=adjoint)  # (h′, n·c·w′)
    h2 = out.shape[0]
    return xp.ascontiguousarray(out.reshape(h2, n * c, w2).transpose(1, 0, 2)).reshape(n, c, h2, w2)


def adaptive_matrix(m: int):
    """M (m, n) of adaptive average pooling to m outputs, PyTorch's windows: output i averages the inputs
    ⌊i·n/m⌋ … ⌈(i+1)·n/m⌉ − 1 (they overlap when m does not divide n)."""
    def build(xp, n, dtype):
        i, j = xp.arange(m)[:, None], xp.arange(n)[None, :]
        start, end = (i * n) // m, -((-(i + 1) * n) // m)
        return (((j >= start) & (j < end)) / (end - start)).astype(dtype)
    return build


def bilinear_matrix(scale: int, align_corners: bool):
    """M (n·scale, n) of linear interpolation along one axis, PyTorch's: output o reads the input at
    s = (o + ½)/scale − ½ clamped at 0 (``align_corners=False``) or s = o·(n − 1)/(n·scale − 1) (True), as
    (1 − λ)·x[⌊s⌋] + λ·x[min(⌊s⌋ + 1, n − 1)], λ = s − ⌊s⌋."""
    def build(xp, n, dtype):
        m = n * scale
        o = xp.arange(m, dtype="float64")
        if align_corners:
            src = o * ((n - 1) / (m - 1)) if m > 1 else o * 0
        else:
            src = xp.maximum((o + 0.5) / scale - 0.5, 0)
        lo = xp.floor(src)
        lam = (src - lo)[:, None]
        lo = lo.astype("int64")[:, None]
        j = xp.arange(n)[None, :]
        return ((j == lo) * (1 - lam) + (j == xp.minimum(lo + 1, n - 1)) * lam).astype(dtype)
    return build


def adaptive_avg_pool2d(x, output_size):
    """y[n, c, i, j] = mean of x[n, c] over rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1 and the like columns: any input
    size to ``output_size`` (an int or (OH, OW)), PyTorch's AdaptiveAvgPool2d (see ``Resample2dFunction``)."""
    _check("adaptive_avg_pool2d", x, whole_map=True)
    oh, ow = checks.int_pair("adaptive_avg_pool2d", "output_size", output_size, minimum=1)
    return Resample2dFunction(adaptive_matrix(oh), adaptive_matrix(ow))(x)


def _check(who, x, whole_map=False):
    """ShapeError naming ``who`` unless x is (N, C, H, W), with H, W ≥ 1 when the window is the ``whole_map``;
    TypeError unless it is a Tensor or an array."""
    if checks.array(who, "x", x).ndim != 4 or (whole_map and min(x.shape[2:]) < 1):
        raise ShapeError(f"{who} needs an NCHW input (N, C, H, W){' with H, W ≥ 1' if whole_map else ''}, "
                         f"got shape {tuple(x.shape)}")


def max_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False):
    """y[n, c, oh, ow] = max of x_pad over the window at (oh·S, ow·S); stride defaults to kernel_size.

    Output size ⌊(H + 2P − K)/S⌋ + 1 (``ceil_mode``: rounded up, see ``pool_output_size``); padding is −∞;
    the gradient goes to one arg-max per window.
    """
    _check("max_pool2d", x)
    geometry = pool_geometry(kernel_size, stride, padding, "max_pool2d")
    return MaxPool2dFunction(geometry, "max_pool2d", checks.flag("max_pool2d", "ceil_mode", ceil_mode))(x)


def avg_pool2d(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """y[n, c, oh, ow] = mean of x_pad over the window at (oh·S, ow·S), zero padding included in the count
    (``count_include_pad=False``: only the input's pixels count; ``ceil_mode`` as max_pool2d; the divisors are
    PyTorch's, see ``AvgPool2dFunction``)."""
    _check("avg_pool2d", x)
    geometry = pool_geometry(kernel_size, stride, padding, "avg_pool2d")
    return AvgPool2dFunction(geometry, "avg_pool2d", checks.flag("avg_pool2d", "ceil_mode", ceil_mode),
                             checks.flag("avg_pool2d", "count_include_pad", count_include_pad))(x)


def global_avg_pool2d(x):
    """y[n, c] = (1/(H·W)) Σ_hw x[n, c, h, w]."""
    _check("global_avg_pool2d", x, whole_map=True)
    return reshape(AvgPool2dFunction(ConvGeometry(x.shape[2:], x.shape[2:]), "global_avg_pool2d")(x), x.shape[:2])


def global_max_pool2d(x):
    """y[n, c] = max_hw x[n, c, h, w]; the gradient goes to one arg-max per map."""
    _check("global_max_pool2d", x, whole_map=True)
    return reshape(MaxPool2dFunction(ConvGeometry(x.shape[2:], x.shape[2:]), "global_max_pool2d")(x), x.shape[:2])


def upsample2d(x, scale=2, mode="nearest", align_corners=False):
    """Up-sampling by ``scale`` (an int or pair): "nearest", y[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋] (each pixel
    repeated s_h×s_w times), or "bilinear", PyTorch's (``align_corners`` False by default; ``bilinear_matrix``)."""
    _check("upsample2d", x)
    scale = checks.int_pair("upsample2d", "scale", scale, minimum=1)
    if checks.choice("upsample2d", "mode", mode, ("nearest", "bilinear")) == "nearest":
        return Upsample2dFunction(scale)(x)
    corners = checks.flag("upsample2d", "align_corners", align_corners)
    return Resample2dFunction(bilinear_matrix(scale[0], corners), bilinear_matrix(scale[1], corners))(x)
