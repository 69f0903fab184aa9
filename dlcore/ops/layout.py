"""Memory layout of NCHW-indexed maps.

Convolution outputs are NCHW-indexed views of NHWC memory ("channels last"), because the
im2col copy and the GEMMs are fastest that way; the layers after them keep that memory order
(``is_channels_last``, ``empty_nchw``, ``to_channels_last``). ``channel_rows`` serves per-channel
arithmetic on such maps (BatchNorm, convolution bias): broadcasting a (C,) vector over NHWC memory runs NumPy's inner loop along the
C values of one pixel, short rows that make it ~2× slower than long ones.
"""
from __future__ import annotations

ROW_WIDTH = 256  # values per row that channel_rows aims for


def is_channels_last(a) -> bool:
    """True when the NCHW-indexed ``a`` has NHWC memory (channels vary fastest)."""
    return a.ndim == 4 and a.shape[1] > 1 and a.strides[1] < a.strides[3]


def empty_nchw(xp, shape, dtype, channels_last: bool):
    """An uninitialised NCHW-indexed array of ``shape``, with NHWC memory when ``channels_last``."""
    if not channels_last:
        return xp.empty(shape, dtype)
    n, c, h, w = shape
    return xp.empty((n, h, w, c), dtype).transpose(0, 3, 1, 2)


def nhwc(a):
    """The (N, H, W, C) view of the NCHW-indexed ``a`` (C-contiguous exactly when ``a`` has NHWC memory)."""
    return a.transpose(0, 2, 3, 1)


def nhwc_contiguous(xp, a):
    """``a`` (N, C, H, W) as a C-contiguous (N, H, W, C) array: a view when its memory is NHWC, else a copy."""
    return xp.ascontiguousarray(nhwc(a))


def flat_views(*arrays):
    """1-D views of arrays of one shape and strides that fill their memory without gaps, in any axis order
    (an NCHW-indexed map with NHWC memory, a transposed matrix), so that entry i of each is the same
    index; None when they do not (different layouts, gaps between entries)."""
    first = arrays[0]
    if any(a.shape != first.shape or a.strides != first.strides for a in arrays):
        return None
    order = sorted(range(first.ndim), key=lambda axis: -first.strides[axis])  # slowest-varying axis first
    memory = [a.transpose(order) for a in arrays]
    if not all(a.flags.c_contiguous for a in memory):
        return None
    return [a.reshape(-1) for a in memory]


def to_channels_last(xp, a):
    """``a`` (N, C, H, W) with NHWC memory: ``a`` itself when it has it, else a copy."""
    if is_channels_last(a) or a.shape[1] == 1:
        return a
    return xp.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def _pixels_per_row(pixels: int, channels: int) -> int:
    """The smallest k ≥ ROW_WIDTH/C that divides the pixel count, searched up to 4× that (else 1)."""
    low = -(-ROW_WIDTH // channels)
    return next((k for k in range(low, 4 * low + 1) if pixels % k == 0), 1)


def channel_rows(xp, maps, per_channel):
    """(maps, per_channel, back) laid out for per-channel elementwise arithmetic in long rows.

    When every (N, C, H, W) map is NHWC-contiguous, each becomes the 2-D view (M/k, k·C) of
    its memory (M = N·H·W pixels, k of them per row) and each (1, C, 1, 1) per-channel array
    its C values repeated k times, so that row r, column j·C + c holds pixel r·k + j, channel c
    on both sides; ``back(r)`` views a result as (N, C, H, W) again. Otherwise the arrays come
    back unchanged and ``back`` is the identity. The arithmetic is the same either way.
    """
    first = maps[0]
    if first.ndim != 4 or not all(m.shape == first.shape and is_channels_last(m) and
                                  m.transpose(0, 2, 3, 1).flags.c_contiguous for m in maps):
        return maps, per_channel, lambda r: r
    n, c, h, w = first.shape
    k = _pixels_per_row(n * h * w, c)
    rows = tuple(m.transpose(0, 2, 3, 1).reshape(-1, k * c) for m in maps)
    tiled = tuple(xp.tile(v.reshape(c), k) for v in per_channel)
    return rows, tiled, lambda r: r.reshape(n, h, w, c).transpose(0, 3, 1, 2)
