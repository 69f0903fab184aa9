"""The NumPy (CPU) backend."""
from __future__ import annotations

import numpy

from backends.base import Backend
from backends.blas import axpby_kernels
from backends.scratch import ScratchPool


# Below this many elements the ufuncs are faster: a BLAS call costs ~10 µs of ctypes and
# thread wake-up, against the ufuncs' ~5 µs (a momentum update of 16 K float32: 14 µs vs 9 µs;
# of 128 K: 64 µs vs 75 µs; of 1 M: 0.47 ms vs 0.97 ms, on the 2-core CPU machine).
AXPBY_BLAS_MIN_SIZE = 1 << 15

# OpenBLAS runs aᵀb slowly when the inner dimension K is long and the result small, as in a convolution's
# weight gradient: a sum over every pixel (im2col: K = N·OH·OW, an O × KH·KW·C result) or over every
# tile (Winograd: K = tiles, 36 results of O × C). Summed from products over slices of LONG_INNER_SLICE
# rows (one batched GEMM), they took 0.4-0.7× the time on the 2-core CPU machine, measured in one
# interleaved run each: 36 products with K = 4096 and 32 × 32 results (W2's largest Winograd layer)
# 5.5 against 14.5 ms; K = 65536 and a 32 × 27 result (an RGB first layer at batch 64) 2.3 against
# 3.4 ms; a 6 × 25 one 0.5 against 1.1 ms. Slices of 1024 rows were as slow as none for the first,
# and results above LONG_INNER_MAX_RESULT entries (32 × 288: 17.6 against 16.8 ms) gain nothing.
LONG_INNER_MIN = 2048
LONG_INNER_SLICE = 512
LONG_INNER_MAX_RESULT = 4096


class NumpyBackend(Backend):
    name = "numpy"
    xp = numpy
    array_type = numpy.ndarray
    device_name = "cpu"

    def __init__(self):
        super().__init__()
        self.generator = numpy.random.default_rng()
        self.scratch_pool = ScratchPool()

    def scratch(self, shape, dtype):
        """From ``scratch_pool``: large temporaries are reused across steps instead of re-faulted."""
        return self.scratch_pool.empty(shape, dtype)

    def axpby(self, alpha, x, beta, y):
        """y ← αx + βy in one multithreaded pass of BLAS ``?axpby`` (see ``backends.blas``) when x
        and y are float32 or float64 arrays of one dtype, shape and memory order and at least
        ``AXPBY_BLAS_MIN_SIZE`` elements; else by ufuncs."""
        kernel = axpby_kernels().get(y.dtype) if y.size >= AXPBY_BLAS_MIN_SIZE else None
        if (kernel is not None and isinstance(x, numpy.ndarray) and x.dtype == y.dtype and x.shape == y.shape
                and y.flags.writeable
                and (x.flags.c_contiguous and y.flags.c_contiguous or x.flags.f_contiguous and y.flags.f_contiguous)):
            kernel(y.size, alpha, x.ctypes.data, beta, y.ctypes.data)
        else:
            super().axpby(alpha, x, beta, y)

    def gemm(self, a, b, trans_a: bool = False, trans_b: bool = False):
        """op(a) @ op(b); aᵀb with a long inner dimension and a small result by ``_sliced_inner_products``."""
        if trans_a and not trans_b and _slices_pay(a, b) and a.flags.c_contiguous and b.flags.c_contiguous:
            return _sliced_inner_products(a, b)
        return super().gemm(a, b, trans_a, trans_b)

    def batched_gemm(self, a, b, out=None):
        """a[k] @ b[k]; where a is the transposed view of a C-contiguous stack (aᵀ[k] (K, M)) with a long K
        and small results, by ``_sliced_inner_products``."""
        if a.ndim == 3 and b.ndim == 3:
            rows = a.transpose(0, 2, 1)
            if _slices_pay(rows, b) and rows.flags.c_contiguous and b.flags.c_contiguous:
                return _sliced_inner_products(rows, b, out)
        return super().batched_gemm(a, b, out)

    def column_sums(self, a):
        """Σ over the rows of the 2-D ``a`` as the BLAS matrix-vector product ones(M) @ a.

        NumPy's own reduction over axis 0 is ~8× slower when rows are short (an NHWC map seen
        as (N·H·W, C) rows); a strided ``a`` that BLAS cannot read keeps the reduction.
        """
        if not (a.flags.c_contiguous or a.flags.f_contiguous):
            return super().column_sums(a)
        return self._cached_ones((a.shape[0],), a.dtype) @ a

    def channel_sums(self, a):
        """Σ over every axis but 1; an (N, C, H, W) map with NHWC memory is summed as (N·H·W, C) rows."""
        rows = a.transpose(0, 2, 3, 1) if a.ndim == 4 else None
        if rows is not None and rows.flags.c_contiguous:
            return self.column_sums(rows.reshape(-1, a.shape[1]))
        return super().channel_sums(a)

    def seed(self, seed: int) -> None:
        self.generator = numpy.random.default_rng(seed)

    def random(self, shape, dtype):
        return self.generator.random(shape, dtype=dtype)

    def to_numpy(self, array):
        return numpy.asarray(array)

    def from_numpy(self, array):
        return numpy.asarray(array)


def _slices_pay(rows_a, rows_b) -> bool:
    """True when aᵀb for a (…, K, M) and b (…, K, N) runs faster in slices: K ≥ LONG_INNER_MIN and
    M·N ≤ LONG_INNER_MAX_RESULT (see LONG_INNER_SLICE)."""
    return rows_a.shape[-2] >= LONG_INNER_MIN and rows_a.shape[-1] * rows_b.shape[-1] <= LONG_INNER_MAX_RESULT


def _sliced_inner_products(rows_a, rows_b, out=None):
    """Σ_s a_sᵀ b_s = aᵀb for a (…, K, M) and b (…, K, N), C-contiguous, over slices s of LONG_INNER_SLICE rows:
    one batched GEMM over every (leading index, slice), a sum over the slices, and one more product for the
    rows left over. Into ``out`` (…, M, N) when given."""
    k, m, n = rows_a.shape[-2], rows_a.shape[-1], rows_b.shape[-1]
    lead = rows_a.shape[:-2]
    whole = k - k % LONG_INNER_SLICE
    a = rows_a[..., :whole, :].reshape(*lead, whole // LONG_INNER_SLICE, LONG_INNER_SLICE, m)
    b = rows_b[..., :whole, :].reshape(*lead, whole // LONG_INNER_SLICE, LONG_INNER_SLICE, n)
    products = numpy.matmul(a.swapaxes(-1, -2), b).sum(axis=-3, out=out)
    if whole < k:
        products += numpy.matmul(rows_a[..., whole:, :].swapaxes(-1, -2), rows_b[..., whole:, :])
    return products
