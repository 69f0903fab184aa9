"""3×3 stride-1 convolution by Winograd's minimal filtering F(4×4, 3×3) (Lavin and Gray, 2015).

Each 4×4 block of outputs comes from a 6×6 input tile d with 36 multiplications per (input,
output) channel pair instead of 144:

    Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A,      g the 3×3 kernel,

        Bᵀ = [[4, 0, −5, 0, 1, 0], [0, −4, −4, 1, 1, 0], [0, 4, −4, −1, 1, 0],
              [0, −2, −1, 2, 1, 0], [0, 2, −1, −2, 1, 0], [0, 4, 0, −5, 0, 1]],
        G  = [[¼, 0, 0], [−⅙, −⅙, −⅙], [−⅙, ⅙, −⅙], [1/24, 1/12, ⅙], [1/24, −1/12, ⅙], [0, 0, 1]],
        Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0], [0, 1, −1, 8, −8, 1]]

(the interpolation points 0, ±1, ±2 and ∞). Summed over the C input channels, each of the 36
positions k = 6ξ + ν of the transformed tiles is one matrix product: with V[k] = (Bᵀ d B)[ξ, ν]
as a (tiles, C) matrix and U[k] = (G g Gᵀ)[ξ, ν] as (O, C), M[k] = V[k] U[k]ᵀ, and each output tile
is Aᵀ M A. So a layer's multiply-adds drop 4× and land in 36 GEMMs. Backward stays in the
transformed domain, by the adjoint of each linear step: dM = A gY Aᵀ per output tile,
dU[k] = dM[k]ᵀ V[k], dV[k] = dM[k] U[k], dW = Gᵀ dU G, and dx = B dV Bᵀ added back onto the
overlapping input tiles (neighbours share two rows or columns).

Rounding: the transforms scale by up to 8 and 1/24, so float32 results differ from im2col +
GEMM by about 1e-5 of the outputs' magnitude (im2col: 1e-6), as for cuDNN's Winograd algorithms;
float64 agrees to 1e-13. ``DLCORE_WINOGRAD=0`` keeps every convolution on im2col.

The tile and kernel transforms run as compiled passes on the CPU when Numba is installed
(``dlcore.ops.winograd_cpu``, see ``backends.compiled``); the portable ``xp`` bodies below state the
same formulas as einsums and are the reference the tests compare the compiled ones with.
"""
from __future__ import annotations

import numpy

from backends import compiled
from backends.base import Switch
from dlcore.ops.layout import nhwc_contiguous

WINOGRAD = Switch("DLCORE_WINOGRAD", True)

BT = numpy.array([[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0],
                  [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]], dtype=numpy.float64)
G = numpy.array([[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6],
                 [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]], dtype=numpy.float64)
AT = numpy.array([[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
                 dtype=numpy.float64)
M_OUT, ALPHA = AT.shape  # 4×4 output tiles from 6×6 input tiles

# Layers with fewer channels than this in or out stay on im2col: their 36 GEMMs are too thin.
# Forward and backward of one layer on 64×32×32 inputs, 2-core CPU machine, Winograd time over
# im2col's: 8 channels in and out 1.10, 16 in and out 0.84, 1 in and 32 out 1.82, and an RGB first
# layer (3 in, 32 out, no input gradient) 2.0.
MIN_CHANNELS = 16


def applies(backend, dtype, geometry, channels_in: int, channels_out: int) -> bool:
    """True where conv2d runs by Winograd: on the CPU with compiled transforms and ``WINOGRAD`` on, a 3×3
    kernel of stride 1 and dilation 1 with zero padding ≤ 2, float32 or float64, and at least
    ``MIN_CHANNELS`` channels in and out."""
    return (WINOGRAD.on and compiled.runs_on(backend.xp) and geometry.kernel == (3, 3)
            and geometry.stride == (1, 1) and geometry.dilation == (1, 1) and geometry.padding_mode == "zeros"
            and max(geometry.padding) <= 2 and numpy.dtype(dtype) in (numpy.float32, numpy.float64)
            and min(channels_in, channels_out) >= MIN_CHANNELS)


def _kernels(xp):
    """The compiled transforms where they run on ``xp``'s arrays, else None (the portable bodies)."""
    if compiled.runs_on(xp):
        from dlcore.ops import winograd_cpu
        return winograd_cpu
    return None


def tile_counts(oh: int, ow: int) -> tuple[int, int]:
    """(TH, TW) = (⌈OH/4⌉, ⌈OW/4⌉): the 4×4 output tiles covering an OH×OW output."""
    return -(-oh // M_OUT), -(-ow // M_OUT)


def weight_transform(xp, W):
    """U[6ξ + ν, o, c] = (G W[o, c] Gᵀ)[ξ, ν]: the (36, O, C) transformed kernels of W (O, C, 3, 3), as two
    matrix products over the kernel's rows, then its columns."""
    kernels = _kernels(xp)
    if kernels is not None:
        u = xp.empty((ALPHA ** 2, *W.shape[:2]), W.dtype)
        kernels.weight_transform(W, u)
        return u
    g = xp.asarray(G, dtype=W.dtype)
    rows = xp.tensordot(g, W, axes=(1, 2))  # (G W)[ξ, o, c, j]
    return xp.ascontiguousarray(xp.matmul(rows, g.T).transpose(0, 3, 1, 2)).reshape(ALPHA ** 2, *W.shape[:2])


def weight_grad(xp, dU):
    """dW[o, c] = Gᵀ dU[:, :, o, c] G (O, C, 3, 3): the gradient through ``weight_transform``."""
    kernels = _kernels(xp)
    if kernels is not None:
        dw = xp.empty((*dU.shape[1:], 3, 3), dU.dtype)
        kernels.weight_grad(dU, dw)
        return dw
    g = xp.asarray(G, dtype=dU.dtype)
    rows = xp.tensordot(g.T, dU.reshape(ALPHA, ALPHA, *dU.shape[1:]), axes=(1, 0))  # (Gᵀ dU)[i, ν, o, c]
    return xp.ascontiguousarray(xp.tensordot(rows, g, axes=(1, 0)).transpose(1, 2, 0, 3))


def padded(a, out, top: int = 0, left: int = 0):
    """out (N, rows, cols, C) ← a (N, H, W, C) placed at (top, left) in zeros (rows ≥ top + H, cols ≥ left + W)."""
    h, w = a.shape[1:3]
    for border in (out[:, :top], out[:, top + h:], out[:, top:top + h, :left], out[:, top:top + h, left + w:]):
        border.fill(0)
    out[:, top:top + h, left:left + w] = a
    return out


def _tiles(xp, a, tiles, size: int):
    """t[n, th, tw, r, s, c] = a[n, 4·th + r, 4·tw + s, c] for r, s < size: the tiles of a (N, H', W', C),
    overlapping when size > 4, as a strided view."""
    s_n, s_h, s_w, s_c = a.strides
    return xp.lib.stride_tricks.as_strided(a, (a.shape[0], *tiles, size, size, a.shape[3]),
                                           (s_n, M_OUT * s_h, M_OUT * s_w, s_h, s_w, s_c))


def input_transform(xp, x_pad, tiles, v):
    """v (36, N·TH·TW, C) ← V[6ξ + ν, t, c] = (Bᵀ d B)[ξ, ν] for the 6×6 tiles d[r, s] = x_pad[n, 4·th + r, 4·tw + s, c]
    of the zero-padded input x_pad (N, 4·TH + 2, 4·TW + 2, C), t = (n·TH + th)·TW + tw."""
    kernels = _kernels(xp)
    if kernels is not None:
        kernels.input_transform(x_pad, *tiles, v)
        return v
    bt = xp.asarray(BT, dtype=x_pad.dtype)
    v[...] = xp.einsum("ak,ntwksc,bs->abntwc", bt, _tiles(xp, x_pad, tiles, ALPHA), bt).reshape(v.shape)
    return v


def output_transform(xp, m, bias, tiles, y):
    """y (N, OH, OW, O) ← y[n, 4·th + i, 4·tw + j, o] = (Aᵀ M A)[i, j] + bias[o], M[ξ, ν] = m[6ξ + ν, t, o], from the
    (36, N·TH·TW, O) products (the parts of the last tiles beyond y are dropped); ``bias`` (O,) or None."""
    n, oh, ow, o = y.shape
    kernels = _kernels(xp)
    if kernels is not None:
        kernels.output_transform(m, xp.zeros(o, m.dtype) if bias is None else bias, *tiles, y)
        return y
    at = xp.asarray(AT, dtype=m.dtype)
    full = xp.einsum("ia,abntwo,jb->ntiwjo", at, m.reshape(ALPHA, ALPHA, n, *tiles, o), at)
    y[...] = full.reshape(n, M_OUT * tiles[0], M_OUT * tiles[1], o)[:, :oh, :ow]
    if bias is not None:
        y += bias
    return y


def output_transform_adjoint(xp, gy_pad, tiles, dm):
    """dm (36, N·TH·TW, O) ← dM[6ξ + ν, t, o] = (A g Aᵀ)[ξ, ν] for the 4×4 tiles g of gy_pad (N, 4·TH, 4·TW, O), the
    output gradient zero-padded to whole tiles: the gradient of ``output_transform`` with respect to m."""
    kernels = _kernels(xp)
    if kernels is not None:
        kernels.output_transform_adjoint(gy_pad, *tiles, dm)
        return dm
    at = xp.asarray(AT, dtype=gy_pad.dtype)
    dm[...] = xp.einsum("ia,ntwijo,jb->abntwo", at, _tiles(xp, gy_pad, tiles, M_OUT), at).reshape(dm.shape)
    return dm


def input_transform_adjoint(xp, dv, padding, tiles, gx):
    """gx (N, H, W, C) ← Σ over the tiles that read x_pad[n, h + ph, w + pw, c] of (B dV Bᵀ)[r, s], dV[ξ, ν] =
    dv[6ξ + ν, t, c]: the gradient of ``input_transform`` with respect to x."""
    (n, h, w, c), (ph, pw), (th, tw) = gx.shape, padding, tiles
    kernels = _kernels(xp)
    if kernels is not None:
        kernels.input_transform_adjoint(dv, ph, pw, th, tw, gx)
        return gx
    bt = xp.asarray(BT, dtype=dv.dtype)
    dd = xp.einsum("ar,abntwc,bs->rsntwc", bt, dv.reshape(ALPHA, ALPHA, n, th, tw, c), bt)
    g_pad = xp.zeros((n, M_OUT * th + 2, M_OUT * tw + 2, c), dv.dtype)
    for r in range(ALPHA):
        for s in range(ALPHA):
            g_pad[:, r:r + M_OUT * th:M_OUT, s:s + M_OUT * tw:M_OUT] += dd[r, s]
    gx[...] = g_pad[:, ph:ph + h, pw:pw + w]
    return gx


class WinogradConvolution:
    """conv2d by F(4×4, 3×3), forward and backward, for one call with zero padding ``padding`` (≤ 2 per axis).

    Forward keeps the transformed input V (2.25× the input's size) and kernels U for backward.
    """

    def __init__(self, backend, padding):
        self.backend, self.padding = backend, padding

    def forward(self, xp, x, W, b):
        """y = Aᵀ[U ⊙ V]A per tile as (N, O, OH, OW) with NHWC memory; M[k] = V[k] U[k]ᵀ is 36 GEMMs.
        Large temporaries come from the backend's scratch memory (reused from step to step)."""
        (n, c, h, w), (ph, pw), scratch = x.shape, self.padding, self.backend.scratch
        oh, ow, o = h + 2 * ph - 2, w + 2 * pw - 2, W.shape[0]
        self.x_shape, self.tiles = (n, h, w, c), tile_counts(oh, ow)
        (th, tw), t = self.tiles, n * self.tiles[0] * self.tiles[1]
        x_pad = padded(nhwc_contiguous(xp, x), scratch((n, M_OUT * th + 2, M_OUT * tw + 2, c), x.dtype), ph, pw)
        self.V = input_transform(xp, x_pad, self.tiles, scratch((ALPHA ** 2, t, c), x.dtype))
        self.U = weight_transform(xp, W)
        products = self.backend.batched_gemm(self.V, self.U.transpose(0, 2, 1),
                                             out=scratch((ALPHA ** 2, t, o), x.dtype))
        y = output_transform(xp, products, b, self.tiles, scratch((n, oh, ow, o), x.dtype))
        return y.transpose(0, 3, 1, 2)

    def backward(self, xp, gy, needs_x: bool, needs_w: bool):
        """(gx, gW, gy as channels-last rows (N·OH·OW, O) for the bias gradient), gx/gW None when not needed:
        dM = A gY Aᵀ, dW = Gᵀ(Σ_t dM[k]ᵀ V[k])G, gx = the sum over tiles of B(dM[k] U[k])Bᵀ, cropped."""
        gy_rows, scratch = nhwc_contiguous(xp, gy), self.backend.scratch
        (th, tw), (n, _, _, c), o = self.tiles, self.x_shape, gy_rows.shape[3]
        if gy_rows.shape[1:3] != (M_OUT * th, M_OUT * tw):
            gy_pad = padded(gy_rows, scratch((n, M_OUT * th, M_OUT * tw, o), gy.dtype))
        else:
            gy_pad = gy_rows
        dm = output_transform_adjoint(xp, gy_pad, self.tiles, scratch((ALPHA ** 2, n * th * tw, o), gy.dtype))
        gW = weight_grad(xp, self.backend.batched_gemm(dm.transpose(0, 2, 1), self.V)) if needs_w else None
        gx = None
        if needs_x:
            dv = self.backend.batched_gemm(dm, self.U, out=scratch(self.V.shape, gy.dtype))
            gx = input_transform_adjoint(xp, dv, self.padding, self.tiles, scratch(self.x_shape, gy.dtype))
            gx = gx.transpose(0, 3, 1, 2)
        return gx, gW, gy_rows.reshape(-1, o)
