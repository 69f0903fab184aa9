"""Max pooling's forward and backward as Numba-compiled CPU loops over channels-last maps.

One pass over the input and the output each, where the portable bodies of ``pooling`` make
one per window entry (and one more per entry for the arg-max); same results, same rules: the
window's first maximum wins (entry k = a·K_w + b, the smallest k on ties), a window holding NaN
gives NaN with index K − 1, and positions outside the map (padding, ceil mode) count as −∞.
The innermost loops run over the contiguous channels. Imported only where
``backends.compiled`` says Numba runs; the tests compare both kernels with the portable bodies.
"""
from __future__ import annotations

import numba
import numpy


@numba.njit(cache=True, nogil=True)
def max_pool(x, kh, kw, sh, sw, ph, pw, y, index):
    """y[n, i, j, c] = max over the window (i·sh − ph + a, j·sw − pw + b) of x (N, H, W, C), index = the first
    arg-max a·kw + b; y and index (N, OH, OW, C)."""
    n_count, h, w, channels = x.shape
    oh, ow = y.shape[1], y.shape[2]
    last = kh * kw - 1
    best = numpy.empty(channels, x.dtype)
    arg = numpy.empty(channels, numpy.int32)
    for n in range(n_count):
        for i in range(oh):
            for j in range(ow):
                best[:] = -numpy.inf
                for a in range(max(0, ph - i * sh), min(kh, h + ph - i * sh)):
                    for b in range(max(0, pw - j * sw), min(kw, w + pw - j * sw)):
                        row = x[n, i * sh - ph + a, j * sw - pw + b]
                        for c in range(channels):
                            v = row[c]
                            if v > best[c] or v != v:  # NaN wins and stays (v > NaN is False)
                                best[c] = v
                arg[:] = last
                for k in range(last, -1, -1):  # last to first, so the first maximum is the one left
                    a, b = k // kw, k % kw
                    r, s = i * sh - ph + a, j * sw - pw + b
                    if 0 <= r < h and 0 <= s < w:
                        row = x[n, r, s]
                        for c in range(channels):
                            if row[c] == best[c]:
                                arg[c] = k
                    else:
                        for c in range(channels):
                            if best[c] == -numpy.inf:  # padding equals a window maximum of −∞
                                arg[c] = k
                y[n, i, j] = best
                index[n, i, j] = arg


@numba.njit(cache=True, nogil=True)
def max_pool_grad(gy, index, kh, kw, sh, sw, ph, pw, gx):
    """gx[n, r, s, c] = Σ over the windows whose arg-max is (r, s) of gy (gx (N, H, W, C) is overwritten;
    an arg-max in the padding adds nothing). Windows that tile the map (stride = kernel, no padding, none
    past its end) each write their own pixels, the arg-max gy and zeros elsewhere, in a loop over channels that vectorises;
    overlapping ones add into gx window by window."""
    n_count, h, w, channels = gx.shape
    oh, ow = gy.shape[1], gy.shape[2]
    tiling = kh == sh and kw == sw and ph == 0 and pw == 0 and oh * sh <= h and ow * sw <= w  # no window sticks out
    if not tiling or oh * sh != h or ow * sw != w:  # pixels no window writes (or that several add into)
        gx[:] = 0
    zero = gx.dtype.type(0)
    for n in range(n_count):
        for i in range(oh):
            for j in range(ow):
                if tiling:
                    for a in range(kh):
                        for b in range(kw):
                            k = a * kw + b
                            out = gx[n, i * sh + a, j * sw + b]
                            for c in range(channels):
                                out[c] = gy[n, i, j, c] if index[n, i, j, c] == k else zero
                else:
                    for c in range(channels):
                        k = index[n, i, j, c]
                        r, s = i * sh - ph + k // kw, j * sw - pw + k % kw
                        if 0 <= r < h and 0 <= s < w:
                            gx[n, r, s, c] += gy[n, i, j, c]
