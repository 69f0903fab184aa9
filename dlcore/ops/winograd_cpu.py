"""The tile and kernel transforms of ``dlcore.ops.winograd`` (F(4×4, 3×3)) as Numba-compiled CPU loops.

Each kernel makes one pass over its input and its output where the portable einsum makes
several, with the transform matrices written out as the additions they are. Their constants
are of the arrays' dtype (``_coefficients``, ``_fractions``): an integer literal times a
float32 is a float64 in Numba, which made the float32 loops convert every value to double. The innermost
loop runs over channels, which are contiguous in every array here (the inputs are padded
first, so the loops read whole tiles without a bound test), so it streams through memory and
vectorises. They run on one thread: a parallel region started right after a GEMM competes
with OpenBLAS's spinning worker threads for the two cores, and made the W2 step 1.3-1.5×
slower in place than one thread did (alone, W2's first Winograd layer's input transform took
2.4 ms on two threads against 6.7 ms on one; two Python threads over halves of the batch gained
nothing in the step either). Imported only where ``backends.compiled`` says
Numba runs; the tests compare every kernel with ``winograd``'s portable body.
"""
from __future__ import annotations

import numba
import numpy

_jit = numba.njit(cache=True, nogil=True)


@numba.njit(inline="always")
def _coefficients(dtype):
    """(2, 4, 5, 8) in ``dtype``: integer literals would promote float32 arithmetic to float64."""
    return dtype.type(2), dtype.type(4), dtype.type(5), dtype.type(8)


@numba.njit(inline="always")
def _bt(coef, d0, d1, d2, d3, d4, d5):
    """Bᵀ d for one line of six."""
    two, four, five = coef[0], coef[1], coef[2]
    return (four * d0 - five * d2 + d4, d3 + d4 - four * (d1 + d2), four * (d1 - d2) - d3 + d4,
            two * (d3 - d1) - d2 + d4, two * (d1 - d3) - d2 + d4, four * d1 - five * d3 + d5)


@numba.njit(inline="always")
def _b(coef, v0, v1, v2, v3, v4, v5):
    """B v (the adjoint of ``_bt``) for one line of six."""
    two, four, five = coef[0], coef[1], coef[2]
    return (four * v0, four * (v2 - v1 + v5) + two * (v4 - v3), -five * v0 - four * (v1 + v2) - v3 - v4,
            v1 - v2 + two * (v3 - v4) - five * v5, v0 + v1 + v2 + v3 + v4, v5)


@numba.njit(inline="always")
def _at(coef, m0, m1, m2, m3, m4, m5):
    """Aᵀ m for one line of six: four outputs."""
    two, four, eight = coef[0], coef[1], coef[3]
    return (m0 + m1 + m2 + m3 + m4, m1 - m2 + two * (m3 - m4), m1 + m2 + four * (m3 + m4),
            m1 - m2 + eight * (m3 - m4) + m5)


@numba.njit(inline="always")
def _a(coef, g0, g1, g2, g3):
    """A g (the adjoint of ``_at``): six values from a line of four."""
    two, four, eight = coef[0], coef[1], coef[3]
    return (g0, g0 + g1 + g2 + g3, g0 - g1 + g2 - g3, g0 + two * g1 + four * g2 + eight * g3,
            g0 - two * g1 + four * g2 - eight * g3, g3)


@numba.njit(inline="always")
def _g(fractions, g0, g1, g2):
    """G g for one line of three: six values (``fractions`` = (¼, ⅙, 1/12, 1/24) in the array's dtype)."""
    quarter, sixth, twelfth, twenty_fourth = fractions
    outer = g0 + g2
    return (quarter * g0, -sixth * (outer + g1), sixth * (g1 - outer), twenty_fourth * g0 + twelfth * g1 + sixth * g2,
            twenty_fourth * g0 - twelfth * g1 + sixth * g2, g2)


@numba.njit(inline="always")
def _gt(fractions, d0, d1, d2, d3, d4, d5):
    """Gᵀ d (the adjoint of ``_g``): three values from a line of six."""
    quarter, sixth, twelfth, twenty_fourth = fractions
    return (quarter * d0 - sixth * (d1 + d2) + twenty_fourth * (d3 + d4), sixth * (d2 - d1) + twelfth * (d3 - d4),
            sixth * (d3 + d4 - d1 - d2) + d5)


@numba.njit(inline="always")
def _fractions(dtype):
    """(¼, ⅙, 1/12, 1/24) in ``dtype``."""
    return dtype.type(1 / 4), dtype.type(1 / 6), dtype.type(1 / 12), dtype.type(1 / 24)


@_jit
def weight_transform(w, u):
    """u[6ξ + ν, o, c] = (G w[o, c] Gᵀ)[ξ, ν] for the 3×3 kernels of w (O, C, 3, 3); u (36, O, C)."""
    fractions = _fractions(w.dtype)
    outputs, channels = w.shape[0], w.shape[1]
    rows = numpy.empty((6, 3, channels), w.dtype)  # rows[ξ, j] = (G w)[ξ, j]
    for o in range(outputs):
        for j in range(3):
            for c in range(channels):
                rows[0, j, c], rows[1, j, c], rows[2, j, c], rows[3, j, c], rows[4, j, c], rows[5, j, c] = _g(
                    fractions, w[o, c, 0, j], w[o, c, 1, j], w[o, c, 2, j])
        for xi in range(6):
            k = 6 * xi
            for c in range(channels):
                u[k, o, c], u[k + 1, o, c], u[k + 2, o, c], u[k + 3, o, c], u[k + 4, o, c], u[k + 5, o, c] = _g(
                    fractions, rows[xi, 0, c], rows[xi, 1, c], rows[xi, 2, c])


@_jit
def weight_grad(du, dw):
    """dw[o, c] = Gᵀ dU[o, c] G for dU[ξ, ν] = du[6ξ + ν, o, c] (36, O, C); dw (O, C, 3, 3): the gradient through
    ``weight_transform``."""
    fractions = _fractions(du.dtype)
    outputs, channels = dw.shape[0], dw.shape[1]
    cols = numpy.empty((6, 3, channels), du.dtype)  # cols[ξ, j] = (dU G)[ξ, j]
    for o in range(outputs):
        for xi in range(6):
            k = 6 * xi
            for c in range(channels):
                cols[xi, 0, c], cols[xi, 1, c], cols[xi, 2, c] = _gt(
                    fractions, du[k, o, c], du[k + 1, o, c], du[k + 2, o, c], du[k + 3, o, c], du[k + 4, o, c],
                    du[k + 5, o, c])
        for j in range(3):
            for c in range(channels):
                dw[o, c, 0, j], dw[o, c, 1, j], dw[o, c, 2, j] = _gt(
                    fractions, cols[0, j, c], cols[1, j, c], cols[2, j, c], cols[3, j, c], cols[4, j, c], cols[5, j, c])


@_jit
def input_transform(x_pad, tiles_h, tiles_w, v):
    """v[6ξ + ν, t, c] = (Bᵀ d B)[ξ, ν] for the 6×6 tiles d[r, s] = x_pad[n, 4·th + r, 4·tw + s, c] of the
    zero-padded input x_pad (N, 4·TH + 2, 4·TW + 2, C), t = (n·TH + th)·TW + tw.

    A row of tiles at a time: Bᵀ d for all its tiles, then for each ξ the six rows v[6ξ + ν] along the
    whole row of tiles. Written tile by tile (36 places of C values each, far apart in v), the same
    pass took twice as long.
    """
    coef = _coefficients(x_pad.dtype)
    n_count, channels = x_pad.shape[0], x_pad.shape[3]
    rows = numpy.empty((tiles_w, 6, 6, channels), x_pad.dtype)  # rows[tw, ξ, s] = (Bᵀ d)[ξ, s]
    for n in range(n_count):
        for th in range(tiles_h):
            h0, t0 = 4 * th, (n * tiles_h + th) * tiles_w
            for tw in range(tiles_w):
                w0 = 4 * tw
                for s in range(6):
                    for c in range(channels):
                        (rows[tw, 0, s, c], rows[tw, 1, s, c], rows[tw, 2, s, c], rows[tw, 3, s, c],
                         rows[tw, 4, s, c], rows[tw, 5, s, c]) = _bt(
                            coef, x_pad[n, h0, w0 + s, c], x_pad[n, h0 + 1, w0 + s, c], x_pad[n, h0 + 2, w0 + s, c],
                            x_pad[n, h0 + 3, w0 + s, c], x_pad[n, h0 + 4, w0 + s, c], x_pad[n, h0 + 5, w0 + s, c])
            for xi in range(6):
                k = 6 * xi
                for tw in range(tiles_w):
                    t = t0 + tw
                    for c in range(channels):
                        v[k, t, c], v[k + 1, t, c], v[k + 2, t, c], v[k + 3, t, c], v[k + 4, t, c], v[k + 5, t, c] = \
                            _bt(coef, rows[tw, xi, 0, c], rows[tw, xi, 1, c], rows[tw, xi, 2, c], rows[tw, xi, 3, c],
                                rows[tw, xi, 4, c], rows[tw, xi, 5, c])


@_jit
def output_transform(m, bias, tiles_h, tiles_w, y):
    """y[n, 4·th + i, 4·tw + j, o] = (Aᵀ M A)[i, j] + bias[o] for M[ξ, ν] = m[6ξ + ν, t, o], inside y only."""
    coef = _coefficients(m.dtype)
    n_count, oh, ow, outputs = y.shape
    for n in range(n_count):
        cols = numpy.empty((4, 6, outputs), m.dtype)  # cols[i, ν] = (Aᵀ M)[i, ν]
        tile = numpy.empty((4, 4, outputs), m.dtype)
        for th in range(tiles_h):
            for tw in range(tiles_w):
                h0, w0, t = 4 * th, 4 * tw, (n * tiles_h + th) * tiles_w + tw
                for nu in range(6):
                    for o in range(outputs):
                        cols[0, nu, o], cols[1, nu, o], cols[2, nu, o], cols[3, nu, o] = _at(
                            coef, m[nu, t, o], m[6 + nu, t, o], m[12 + nu, t, o], m[18 + nu, t, o], m[24 + nu, t, o],
                            m[30 + nu, t, o])
                for i in range(4):
                    for o in range(outputs):
                        tile[i, 0, o], tile[i, 1, o], tile[i, 2, o], tile[i, 3, o] = _at(
                            coef, cols[i, 0, o], cols[i, 1, o], cols[i, 2, o], cols[i, 3, o], cols[i, 4, o],
                            cols[i, 5, o])
                for i in range(min(4, oh - h0)):  # the last tiles of an output not a multiple of 4 are cut
                    for j in range(min(4, ow - w0)):
                        for o in range(outputs):
                            y[n, h0 + i, w0 + j, o] = tile[i, j, o] + bias[o]


@_jit
def output_transform_adjoint(gy, tiles_h, tiles_w, dm):
    """dm[6ξ + ν, t, o] = (A g Aᵀ)[ξ, ν] for the 4×4 tiles g[i, j] = gy[n, 4·th + i, 4·tw + j, o] of gy
    (N, 4·TH, 4·TW, O), zero-padded by the caller where the output is not a multiple of 4."""
    coef = _coefficients(gy.dtype)
    n_count, outputs = gy.shape[0], gy.shape[3]
    for n in range(n_count):
        cols = numpy.empty((6, 4, outputs), gy.dtype)  # cols[ξ, j] = (A g)[ξ, j]
        for th in range(tiles_h):
            for tw in range(tiles_w):
                h0, w0, t = 4 * th, 4 * tw, (n * tiles_h + th) * tiles_w + tw
                for j in range(4):
                    for o in range(outputs):
                        cols[0, j, o], cols[1, j, o], cols[2, j, o], cols[3, j, o], cols[4, j, o], cols[5, j, o] = \
                            _a(coef, gy[n, h0, w0 + j, o], gy[n, h0 + 1, w0 + j, o], gy[n, h0 + 2, w0 + j, o],
                               gy[n, h0 + 3, w0 + j, o])
                for xi in range(6):
                    k = 6 * xi
                    for o in range(outputs):
                        (dm[k, t, o], dm[k + 1, t, o], dm[k + 2, t, o], dm[k + 3, t, o], dm[k + 4, t, o],
                         dm[k + 5, t, o]) = _a(coef, cols[xi, 0, o], cols[xi, 1, o], cols[xi, 2, o], cols[xi, 3, o])


@_jit
def input_transform_adjoint(dv, ph, pw, tiles_h, tiles_w, gx):
    """gx[n, 4·th + r − ph, 4·tw + s − pw, c] = Σ over the tiles of (B dV Bᵀ)[r, s], dV[ξ, ν] = dv[6ξ + ν, t, c]:
    the gradient of ``input_transform`` with respect to x (N, H, W, C), which it overwrites (what falls in
    the padding is dropped).

    In raster order a tile's rows r < 2 (below the first tile row) and columns s < 2 (right of the first
    column) were written by the tiles before it and are added to; the rest of it is written outright,
    so gx needs no zeroing and most of the pass is plain stores.
    """
    coef = _coefficients(dv.dtype)
    n_count, h, w, channels = gx.shape
    for n in range(n_count):
        cols = numpy.empty((6, 6, channels), dv.dtype)  # cols[r, ν] = (B dV)[r, ν]
        tile = numpy.empty((6, 6, channels), dv.dtype)
        for th in range(tiles_h):
            for tw in range(tiles_w):
                h0, w0, t = 4 * th - ph, 4 * tw - pw, (n * tiles_h + th) * tiles_w + tw
                for nu in range(6):
                    for c in range(channels):
                        cols[0, nu, c], cols[1, nu, c], cols[2, nu, c], cols[3, nu, c], cols[4, nu, c], \
                            cols[5, nu, c] = _b(coef, dv[nu, t, c], dv[6 + nu, t, c], dv[12 + nu, t, c],
                                                dv[18 + nu, t, c], dv[24 + nu, t, c], dv[30 + nu, t, c])
                for r in range(6):
                    for c in range(channels):
                        tile[r, 0, c], tile[r, 1, c], tile[r, 2, c], tile[r, 3, c], tile[r, 4, c], tile[r, 5, c] = \
                            _b(coef, cols[r, 0, c], cols[r, 1, c], cols[r, 2, c], cols[r, 3, c], cols[r, 4, c],
                               cols[r, 5, c])
                for r in range(max(0, -h0), min(6, h - h0)):
                    for s in range(max(0, -w0), min(6, w - w0)):
                        if (th > 0 and r < 2) or (tw > 0 and s < 2):
                            for c in range(channels):
                                gx[n, h0 + r, w0 + s, c] += tile[r, s, c]
                        else:
                            for c in range(channels):
                                gx[n, h0 + r, w0 + s, c] = tile[r, s, c]
