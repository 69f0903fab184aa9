"""2-D convolution as im2col + one GEMM, and its adjoint, the transposed convolution.

Layout. For x (N, C, H, W), a KH×KW kernel, stride S, padding P and dilation D, the column
matrix holds one row per output pixel and one column per (kernel offset, channel):

    col[(n, oh, ow), (i, j, c)] = x_pad[n, c, oh·S + i·D, ow·S + j·D]      shape (N·OH·OW, KH·KW·C)

(channels last within a row: the copy out of the strided window view is then fast on both
backends). With the weight as the matrix W2[o, (i, j, c)] = W[o, c, i, j]:

    y2 = col @ W2ᵀ  (N·OH·OW, O)  → y (N, O, OH, OW), a transposed view (memory stays NHWC)
    dW2 = gy2ᵀ @ col,   dcol = gy2 @ W2,   dx = col2im(dcol)

``col2im`` is the adjoint of ``im2col``: it adds each window's gradient back onto the pixels
the window read (one slice add per kernel offset, or a single assignment when windows do not
overlap) and then undoes the padding (crop for zero padding; for edge padding the border
pixels also collect the gradient of the copies made of them). The pooling functions reuse
the same window view and fold.
"""
from __future__ import annotations

import backends
from dlcore import checks
from dlcore.checks import ShapeError
from dlcore.core import Function
from dlcore.ops import winograd
from dlcore.ops.layout import channel_rows, empty_nchw, is_channels_last, nhwc_contiguous, to_channels_last
from dlcore.ops.math import concat
from dlcore.ops.padding import pad as pad_axes

PADDING_MODES = ("zeros", "edge")


class ConvGeometry:
    """Kernel, stride, padding and dilation of a 2-D sliding window, each an (h, w) pair.

    Each is given as an int or an (h, w) pair of ints (NumPy ints too), ≥ 1 (padding ≥ 0), and
    ``padding_mode`` is one of PADDING_MODES; errors name ``owner`` (the function or layer as
    users write it, "conv2d") and the argument. Output size per axis: ⌊(H + 2P − D(K−1) − 1)/S⌋ + 1.
    """

    __slots__ = ("kernel", "stride", "padding", "dilation", "padding_mode", "overlapping", "_flipped")

    def __init__(self, kernel_size, stride=1, padding=0, dilation=1, padding_mode: str = "zeros",
                 owner: str = "ConvGeometry"):
        self.kernel = checks.int_pair(owner, "kernel_size", kernel_size, minimum=1)
        self.stride = checks.int_pair(owner, "stride", stride, minimum=1)
        self.padding = checks.int_pair(owner, "padding", padding, minimum=0)
        self.dilation = checks.int_pair(owner, "dilation", dilation, minimum=1)
        self.padding_mode = checks.choice(owner, "padding_mode", padding_mode, PADDING_MODES)
        # every pixel lies in at most one window when S ≥ D(K−1) + 1 on both axes
        self.overlapping = any(s < d * (k - 1) + 1 for k, s, d in zip(self.kernel, self.stride, self.dilation))
        self._flipped = False  # not yet computed

    def flipped(self):
        """The geometry under which correlating g with the flipped kernel gives this correlation's adjoint.

        Exists (else None) for stride 1 and zero padding P ≤ D(K−1): conv2dᵀ(g) = g ⋆ flip(W)
        with padding D(K−1) − P and the same dilation.
        """
        if self._flipped is False:
            pads = tuple(d * (k - 1) - p for k, p, d in zip(self.kernel, self.padding, self.dilation))
            ok = self.stride == (1, 1) and self.padding_mode == "zeros" and min(pads) >= 0
            self._flipped = ConvGeometry(self.kernel, 1, pads, self.dilation) if ok else None
        return self._flipped

    def __str__(self) -> str:
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = self.kernel, self.stride, self.padding, self.dilation
        return f"kernel {kh}×{kw}, stride {sh}×{sw}, padding {ph}×{pw}, dilation {dh}×{dw}"

    def output_size(self, h: int, w: int, who="conv2d") -> tuple[int, int]:
        """(OH, OW) = ⌊(H + 2P − D(K−1) − 1)/S⌋ + 1 per axis; ShapeError (a ValueError) naming ``who`` when empty."""
        out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1
                    for n, k, s, p, d in zip((h, w), self.kernel, self.stride, self.padding, self.dilation))
        if min(out) < 1:
            raise ShapeError(f"{who}: an input of spatial size {h}×{w} with {self} gives an empty output "
                             f"({out[0]}×{out[1]}); output size is ⌊(H + 2P − D(K−1) − 1)/S⌋ + 1")
        return out

    def input_size(self, oh: int, ow: int, who="conv_transpose2d") -> tuple[int, int]:
        """(H, W) = (OH−1)S − 2P + D(K−1) + 1 per axis: the smallest input whose output is (OH, OW)."""
        size = tuple((o - 1) * s - 2 * p + d * (k - 1) + 1
                     for o, k, s, p, d in zip((oh, ow), self.kernel, self.stride, self.padding, self.dilation))
        if min(size) < 1:
            raise ShapeError(f"{who}: an input of spatial size {oh}×{ow} with {self} gives an empty output "
                             f"({size[0]}×{size[1]}); output size is (H − 1)S − 2P + D(K−1) + 1")
        return size


def _window_view(xp, a, geometry: ConvGeometry, oh: int, ow: int):
    """v[n, oh, ow, i, j, c] = a[n, c, oh·S + i·D, ow·S + j·D] as a strided view of ``a`` (no copy)."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    n, c = a.shape[:2]
    s_n, s_c, s_h, s_w = a.strides
    return xp.lib.stride_tricks.as_strided(
        a, shape=(n, oh, ow, *geometry.kernel, c), strides=(s_n, s_h * sh, s_w * sw, s_h * dh, s_w * dw, s_c))


def pad(xp, x, geometry: ConvGeometry, pad_value=0):
    """x_pad: x (N, C, H, W) with P_h rows and P_w columns added on each side (x itself when P = 0).

    Zero padding fills them with ``pad_value`` (−∞ for max pooling); edge padding repeats the border.
    """
    ph, pw = geometry.padding
    if not (ph or pw):
        return x
    if geometry.padding_mode == "edge":
        return xp.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode="edge")
    n, c, h, w = x.shape
    # x's memory order is kept (xp.pad would make NHWC memory NCHW, and the im2col copy out of
    # NCHW windows is a slow gather): the border is filled, the interior copied
    x_pad = empty_nchw(xp, (n, c, h + 2 * ph, w + 2 * pw), x.dtype, is_channels_last(x))
    rows = x_pad[:, :, ph:ph + h]
    for border in (x_pad[:, :, :ph], x_pad[:, :, ph + h:], rows[:, :, :, :pw], rows[:, :, :, pw + w:]):
        border.fill(pad_value)
    x_pad[:, :, ph:ph + h, pw:pw + w] = x
    return x_pad


def windows(xp, x, geometry: ConvGeometry, oh: int, ow: int):
    """The padded input's windows, v[n, oh, ow, i, j, c] = x_pad[n, c, oh·S + i·D, ow·S + j·D].

    A view of x_pad (zero or edge padding, see ``pad``): nothing is copied but the padding.
    """
    return _window_view(xp, pad(xp, x, geometry), geometry, oh, ow)


def window_entry(a, geometry: ConvGeometry, i: int, j: int, oh: int, ow: int):
    """e[n, c, oh, ow] = a[n, c, oh·S + i·D, ow·S + j·D]: entry (i, j) of every window of the padded map ``a``."""
    (sh, sw), (dh, dw) = geometry.stride, geometry.dilation
    return a[:, :, i * dh:i * dh + sh * (oh - 1) + 1:sh, j * dw:j * dw + sw * (ow - 1) + 1:sw]


def fold(xp, g, x_shape, geometry: ConvGeometry, channels_last: bool = False):
    """The adjoint of ``windows``: gx[n, c, h, w] = Σ over the window entries g[n, oh, ow, i, j, c] read from (h, w).

    ``g`` has the window layout (N, OH, OW, KH, KW, C), any strides. One slice add per kernel
    offset (a single assignment when windows do not overlap); then the padding's gradient is
    dropped (zero padding) or added onto the border pixels it copied (edge padding).
    ``channels_last`` allocates the result with NHWC memory (still indexed NCHW).
    """
    n, c, h, w = x_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geometry.kernel, geometry.stride, geometry.padding, geometry.dilation
    oh, ow = g.shape[1:3]
    gp = empty_nchw(xp, (n, c, h + 2 * ph, w + 2 * pw), g.dtype, channels_last)
    gp.fill(0)
    if not geometry.overlapping:
        _window_view(xp, gp, geometry, oh, ow)[...] = g
    else:
        for i in range(kh):
            for j in range(kw):
                window_entry(gp, geometry, i, j, oh, ow)[...] += g[:, :, :, i, j].transpose(0, 3, 1, 2)
    if geometry.padding_mode == "edge":
        if ph:
            gp[:, :, ph] += gp[:, :, :ph].sum(axis=2)
            gp[:, :, ph + h - 1] += gp[:, :, ph + h:].sum(axis=2)
        if pw:
            gp[:, :, :, pw] += gp[:, :, :, :pw].sum(axis=3)
            gp[:, :, :, pw + w - 1] += gp[:, :, :, pw + w:].sum(axis=3)
    return gp[:, :, ph:ph + h, pw:pw + w]


def im2col(backend, x, geometry: ConvGeometry, oh: int, ow: int):
    """col[(n, oh, ow), (i, j, c)] = x_pad[n, c, oh·S + i·D, ow·S + j·D]: a C-contiguous (N·OH·OW, KH·KW·C) array.

    The copy out of the windows streams when each pixel's C values lie side by side (NHWC
    memory, as convolutions leave their outputs); an input with NCHW memory is copied to NHWC
    first: one pass over x instead of a gather KH·KW times its size (1.7× faster for a
    64×3×32×32 batch on the CPU). The column matrix is the backend's scratch memory (on NumPy
    reused from step to step instead of page-faulted anew: W2's step 0.80–0.86× on the CPU).
    """
    v = windows(backend.xp, to_channels_last(backend.xp, x), geometry, oh, ow)
    col = backend.scratch(v.shape, v.dtype)
    col[...] = v
    return col.reshape(v.shape[0] * oh * ow, -1)


def col2im(xp, col, x_shape, geometry: ConvGeometry, oh: int, ow: int):
    """The adjoint of ``im2col``: dx[n, c, h, w] = Σ of the col entries read from x[n, c, h, w] (NHWC memory)."""
    kh, kw = geometry.kernel
    g = col.reshape(x_shape[0], oh, ow, kh, kw, x_shape[1])
    return fold(xp, g, x_shape, geometry, channels_last=True)


# ---- the GEMM halves shared by conv2d and conv_transpose2d -------------------------------

def _weight_matrix(xp, W):
    """W2[o, (i, j, c)] = W[o, c, i, j]: the (O, KH·KW·C) matrix matching the column layout."""
    return xp.ascontiguousarray(W.transpose(0, 2, 3, 1)).reshape(W.shape[0], -1)


def _weight_grad(backend, xp, gy2, col, w_shape):
    """dW[o, c, i, j] from dW2 = gy2ᵀ @ col."""
    o, c, kh, kw = w_shape
    return xp.ascontiguousarray(backend.gemm(gy2, col, trans_a=True).reshape(o, kh, kw, c).transpose(0, 3, 1, 2))


def _rows(xp, a):
    """(N, C, H, W) → the C-contiguous (N·H·W, C) matrix (free when memory is already NHWC)."""
    return nhwc_contiguous(xp, a).reshape(-1, a.shape[1])


def _columns(backend, x, geometry, who):
    """(im2col(x), OH, OW) for a convolution of x."""
    oh, ow = geometry.output_size(*x.shape[2:], who)
    return im2col(backend, x, geometry, oh, ow), oh, ow


def _correlate(backend, col, W2, n, oh, ow):
    """Convolution forward from the column matrix: y = col @ W2ᵀ as (N, O, OH, OW) (NHWC memory)."""
    return backend.gemm(col, W2, trans_b=True).reshape(n, oh, ow, -1).transpose(0, 3, 1, 2)


def _correlate_adjoint(backend, xp, gy2, W2, x_shape, geometry):
    """Convolution's input gradient from its output gradient as rows gy2: col2im(gy2 @ W2).

    Where the geometry allows (stride 1, zero padding), the same as a correlation of gy with the
    flipped kernel, Wf2[c, (i, j, o)] = W[o, c, KH−1−i, KW−1−j], which on the CPU runs about
    twice as fast (an im2col copy instead of KH·KW slice adds).
    """
    n, c, h, w = x_shape
    oh, ow = geometry.output_size(h, w)
    flipped = geometry.flipped()
    if flipped is None:
        return col2im(xp, backend.gemm(gy2, W2), x_shape, geometry, oh, ow)
    o, (kh, kw) = W2.shape[0], geometry.kernel
    Wf2 = xp.ascontiguousarray(W2.reshape(o, kh, kw, c)[:, ::-1, ::-1, :].transpose(3, 1, 2, 0)).reshape(c, -1)
    gy = gy2.reshape(n, oh, ow, o).transpose(0, 3, 1, 2)
    return _correlate(backend, im2col(backend, gy, flipped, h, w), Wf2, n, h, w)


def _add_bias(xp, y, b):
    """y[n, o] += b[o] in place (y is a fresh buffer of this op), along long rows when y is channels-last."""
    if b is not None:
        (rows,), (bias,), _ = channel_rows(xp, (y,), (b.reshape(1, -1, 1, 1),))
        rows += bias  # rows views y's memory
    return y


class Conv2dFunction(Function):
    """y[n, o] = Σ_c Σ_ij W[o, c, i, j] · x_pad[n, c, oh·S + i·D, ow·S + j·D] + b[o] (NCHW cross-correlation).

    Where the backend has a convolution library (cuDNN on CuPy, see ``Backend.convolution``), its
    three convolutions run forward and backward and x is kept for backward. Otherwise one GEMM
    forward (y2 = col W2ᵀ) and two backward (dW2 = gy2ᵀ col; dcol = gy2 W2, dx = col2im(dcol), or
    for stride 1 the equal correlation of gy with the flipped kernel); only the column matrix is
    kept for backward. On the CPU with Numba, 3×3 stride-1 layers of at least 16 channels in and out run
    by Winograd's F(4×4, 3×3) instead (``dlcore.ops.winograd``), which keeps its transformed tiles.
    """

    def __init__(self, geometry: ConvGeometry, who="conv2d"):
        self.geometry, self.who = geometry, who

    def forward(self, xp, x, W, b=None):
        self.backend = backends.backend_of(x)
        self.x_shape, self.w_shape = x.shape, W.shape
        g = self.geometry
        self.library = self.backend.convolution(x.dtype, g.padding_mode)
        if self.library is not None:
            g.output_size(*x.shape[2:], self.who)  # the empty-output check
            self.x, self.W = x, W
            return _add_bias(xp, self.library.forward(x, W, g.padding, g.stride, g.dilation), b)
        self.winograd = None
        if winograd.applies(self.backend, x.dtype, g, x.shape[1], W.shape[0]):
            g.output_size(*x.shape[2:], self.who)
            self.winograd = winograd.WinogradConvolution(self.backend, g.padding)
            return self.winograd.forward(xp, x, W, b)
        self.W2 = _weight_matrix(xp, W)
        self.col, oh, ow = _columns(self.backend, x, g, self.who)
        return _add_bias(xp, _correlate(self.backend, self.col, self.W2, x.shape[0], oh, ow), b)

    def backward(self, xp, gy):
        needs, g = self.needs_input_grad, self.geometry
        with_bias = len(needs) > 2 and needs[2]
        if self.library is not None:
            args = (g.padding, g.stride, g.dilation)
            gx = self.library.backward_data(gy, self.W, self.x_shape, *args) if needs[0] else None
            gW = self.library.backward_filter(self.x, gy, self.w_shape, *args) if needs[1] else None
            return gx, gW, self.backend.channel_sums(gy) if with_bias else None
        if self.winograd is not None:
            gx, gW, gy2 = self.winograd.backward(xp, gy, needs[0], needs[1])
            return gx, gW, self.backend.column_sums(gy2) if with_bias else None
        gy2 = _rows(xp, gy)
        gx = _correlate_adjoint(self.backend, xp, gy2, self.W2, self.x_shape, g) if needs[0] else None
        gW = _weight_grad(self.backend, xp, gy2, self.col, self.w_shape) if needs[1] else None
        gb = self.backend.column_sums(gy2) if with_bias else None
        return gx, gW, gb


class ConvTranspose2dFunction(Function):
    """y = conv2dᵀ(x): the adjoint of conv2d with the weight W (C_in, C_out, KH, KW), plus b[o].

    y[n, o, h·S − P + i·D, w·S − P + j·D] += Σ_c x[n, c, h, w] · W[c, o, i, j]; output size
    (H−1)S − 2P + D(K−1) + 1 + OP, where the output padding 0 ≤ OP < S adds rows/columns at the
    bottom/right that no window reaches (they hold b), so that a stride-S conv2d of any input
    size has a transpose of that size. Its forward is conv2d's input gradient, its backward
    conv2d's forward (dx = conv2d(gy, W)) and weight gradient (x in the role of the output gradient).
    """

    def __init__(self, geometry: ConvGeometry, who="conv_transpose2d", output_padding=(0, 0)):
        self.geometry, self.who, self.output_padding = geometry, who, output_padding

    def forward(self, xp, x, W, b=None):
        self.backend = backends.backend_of(x)
        n, _, h, w = x.shape
        g = self.geometry
        self.w_shape = W.shape
        size = g.input_size(h, w, self.who)
        y_shape = (n, W.shape[1], size[0] + self.output_padding[0], size[1] + self.output_padding[1])
        self.library = self.backend.convolution(x.dtype, g.padding_mode)
        if self.library is not None:
            self.x, self.W = x, W
            return _add_bias(xp, self.library.backward_data(x, W, y_shape, g.padding, g.stride, g.dilation), b)
        self.x2, self.W2 = _rows(xp, x), _weight_matrix(xp, W)
        return _add_bias(xp, _correlate_adjoint(self.backend, xp, self.x2, self.W2, y_shape, g), b)

    def backward(self, xp, gy):
        needs, g = self.needs_input_grad, self.geometry
        gb = self.backend.channel_sums(gy) if len(needs) > 2 and needs[2] else None
        if self.library is not None:
            args = (g.padding, g.stride, g.dilation)
            gx = self.library.forward(gy, self.W, *args) if needs[0] else None
            gW = self.library.backward_filter(gy, self.x, self.w_shape, *args) if needs[1] else None
            return gx, gW, gb
        col, h, w = _columns(self.backend, gy, g, self.who)
        gx = _correlate(self.backend, col, self.W2, gy.shape[0], h, w) if needs[0] else None
        gW = _weight_grad(self.backend, xp, self.x2, col, self.w_shape) if needs[1] else None
        return gx, gW, gb


def _check(who, x, W, b, in_axis, groups=1):
    """ShapeError naming ``who`` unless x is (N, C, H, W), W 4-D with C/groups on ``in_axis`` (and out channels
    divisible by ``groups``) and a kernel of at least 1×1, and b None or of shape (out channels,); TypeError when
    one is not a Tensor or an array."""
    checks.array(who, "x", x)
    checks.array(who, "W", W)
    if (x.ndim != 4 or W.ndim != 4 or x.shape[1] != W.shape[in_axis] * groups or W.shape[1 - in_axis] % groups
            or min(W.shape[2:]) < 1):
        per_group = f"C/groups = C/{groups}" if groups > 1 else "C"
        raise ShapeError(f"{who} needs x (N, C, H, W) and a 4-D weight with {per_group} on axis {in_axis} and a "
                         f"kernel of at least 1×1; got x of shape {tuple(x.shape)} and weight of shape "
                         f"{tuple(W.shape)}")
    if b is not None and tuple(checks.array(who, "b", b).shape) != (W.shape[1 - in_axis],):
        raise ShapeError(f"{who} needs a bias b of shape ({W.shape[1 - in_axis]},) (one per output channel) for a "
                         f"weight of shape {tuple(W.shape)}, got b of shape {tuple(b.shape)}")


def same_padding(kernel, stride, dilation, who="conv2d") -> tuple[tuple[int, int], tuple[int, int]]:
    """PyTorch's padding="same" for stride 1: per axis the total D(K−1), of which ⌊D(K−1)/2⌋ on each side and
    the odd one left over (even kernels) after the last row/column. Returns (the symmetric padding, the extra
    rows and columns at the bottom and right)."""
    if tuple(stride) != (1, 1):
        raise checks.ArgumentValueError(f"{who}: padding='same' needs stride 1 (an output of the input's size), "
                                        f"got stride {tuple(stride)}")
    totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
    return tuple(t // 2 for t in totals), tuple(t % 2 for t in totals)


def pad_after(x, extra, padding_mode="zeros"):
    """x with ``extra`` = (rows, columns) added at the bottom and right: zeros, or copies of the edge ("edge")."""
    if not any(extra):
        return x
    return pad_axes(x, (0, extra[1], 0, extra[0]), mode="replicate" if padding_mode == "edge" else "constant")


def grouped_conv2d(x, W, b, geometry: ConvGeometry, groups: int, who="conv2d"):
    """Grouped convolution (PyTorch's ``groups``): the C input channels and O filters form G groups; group g's
    O/G filters W[g·O/G … (g+1)·O/G) (each over C/G channels) see only the input channels
    g·C/G … (g+1)·C/G, y = concat_g conv2d(x_g, W_g) + b (G = C: depthwise). One convolution per group
    joined along the channels, so its gradient is theirs."""
    cg, og = x.shape[1] // groups, W.shape[0] // groups
    outs = []
    for g in range(groups):
        fn = Conv2dFunction(geometry, who)
        x_g, W_g = x[:, g * cg:(g + 1) * cg], W[g * og:(g + 1) * og]
        outs.append(fn(x_g, W_g) if b is None else fn(x_g, W_g, b[g * og:(g + 1) * og]))
    return concat(outs, axis=1)


def conv2d(x, W, b=None, stride=1, padding=0, dilation=1, padding_mode="zeros", groups=1):
    """y[n, o] = Σ_c Σ_ij W[o, c, i, j] · x_pad[n, c, oh·S + i·D, ow·S + j·D] + b[o].

    x (N, C, H, W), W (O, C, KH, KW), b (O,) or None; output (N, O, OH, OW) with
    OH = ⌊(H + 2P − D(KH−1) − 1)/S⌋ + 1 (likewise OW). ``padding_mode`` "zeros" or "edge"
    (repeat the nearest pixel). ``padding`` "valid" is 0, "same" keeps H, W (stride 1; see
    ``same_padding``). ``groups`` G: W is (O, C/G, KH, KW), see ``grouped_conv2d``.
    """
    groups = checks.integer("conv2d", "groups", groups, minimum=1)
    _check("conv2d", x, W, b, 1, groups)
    extra = (0, 0)
    if isinstance(padding, str):
        checks.choice("conv2d", "padding", padding, ("same", "valid"))
        kernel = W.shape[2:]
        padding, extra = same_padding(kernel, checks.int_pair("conv2d", "stride", stride, minimum=1),
                                      checks.int_pair("conv2d", "dilation", dilation, minimum=1)) \
            if padding == "same" else (0, (0, 0))
    geometry = ConvGeometry(W.shape[2:], stride, padding, dilation, padding_mode, owner="conv2d")
    x = pad_after(x, extra, padding_mode)
    if groups > 1:
        return grouped_conv2d(x, W, b, geometry, groups)
    fn = Conv2dFunction(geometry)
    return fn(x, W) if b is None else fn(x, W, b)


def output_padding_pair(output_padding, geometry: ConvGeometry, who="conv_transpose2d") -> tuple[int, int]:
    """``output_padding`` (an int or (h, w) pair of ints) as an (h, w) pair, checked: 0 ≤ OP < S on each axis."""
    pair = checks.int_pair(who, "output_padding", output_padding, minimum=0)
    if any(not op < s for op, s in zip(pair, geometry.stride)):
        raise checks.ArgumentValueError(f"{who}: output_padding must be smaller than the stride on each axis, got "
                                        f"output_padding {pair} with stride {geometry.stride}")
    return pair


def conv_transpose2d(x, W, b=None, stride=1, padding=0, dilation=1, output_padding=0):
    """y = the adjoint of conv2d(·, W) applied to x, plus b: x (N, C_in, H, W), W (C_in, C_out, KH, KW).

    Output (N, C_out, (H−1)S − 2P + D(KH−1) + 1 + OP, likewise for W): the up-sampling of U-Nets;
    ``output_padding`` OP (0 ≤ OP < S) picks among the input sizes a stride-S conv2d maps to H.
    """
    _check("conv_transpose2d", x, W, b, 0)
    geometry = ConvGeometry(W.shape[2:], stride, padding, dilation, owner="conv_transpose2d")
    fn = ConvTranspose2dFunction(geometry, output_padding=output_padding_pair(output_padding, geometry))
    return fn(x, W) if b is None else fn(x, W, b)
