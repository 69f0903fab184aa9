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
