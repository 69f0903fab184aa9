"""A minimal ctypes binding to the cuBLAS library that CuPy has loaded.

It does one thing: row-major GEMM, C = op(A) @ op(B), with a few microseconds of host
overhead, on CuPy's current stream, and it works while a CUDA graph is being captured
(CuPy 14 refuses its own cuBLAS wrappers during stream capture). The handle gets a
workspace allocated through CuPy up front, so cuBLAS never allocates during capture; since
``cublasSetStream_v2`` resets a handle's workspace to cuBLAS's default pool, it is set again
after every change of stream (as PyTorch's handle pool does).
TF32 tensor-core math (faster, ~10 mantissa bits) is used for the GEMMs whose caller asks
for it: the handle's math mode is set when a call asks for another than the last one.
"""
from __future__ import annotations

import ctypes
import os

import numpy

_OP_N, _OP_T = 0, 1
_DEFAULT_MATH, _TF32_MATH = 0, 3
_WORKSPACE_BYTES = 32 << 20


def _loaded_library(stem: str) -> str:
    """The path of the shared library ``stem`` (e.g. "libcublas.so") mapped into this process."""
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            name = os.path.basename(path)
            if name.startswith(stem):
                return path
    raise OSError(f"{stem} is not loaded in this process")


class Cublas:
    """cuBLAS GEMM through ctypes on a handle of its own (see the module docstring); ``workspace``
    is the device buffer the handle works in."""

    def __init__(self, cupy, library=None):
        """``library``: the loaded libcublas (``ctypes.CDLL``); by default the one CuPy loads."""
        if library is None:
            cupy.cuda.device.get_cublas_handle()  # makes CuPy load libcublas
            library = ctypes.CDLL(_loaded_library("libcublas.so"))
        lib = self._lib = library
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        for fn in (lib.cublasSgemm_v2, lib.cublasDgemm_v2):
            fn.argtypes = [pointer, integer, integer, integer, integer, integer, pointer, pointer, integer,
                           pointer, integer, pointer, pointer, integer]
            fn.restype = integer
        self._handle = pointer()
        self._check(lib.cublasCreate_v2(ctypes.byref(self._handle)), "cublasCreate_v2")
        self.workspace = cupy.empty(_WORKSPACE_BYTES, dtype=numpy.uint8)
        self._set_workspace()
        self._tf32 = None  # the math mode the handle has; set at the first GEMM
        self._cupy = cupy
        self._stream = None
        self._routines = {
            numpy.dtype(numpy.float32): (lib.cublasSgemm_v2, ctypes.c_float(1.0), ctypes.c_float(0.0)),
            numpy.dtype(numpy.float64): (lib.cublasDgemm_v2, ctypes.c_double(1.0), ctypes.c_double(0.0)),
        }

    def _set_workspace(self) -> None:
        """Make the handle use dlcore's workspace (needed again after each ``cublasSetStream_v2``)."""
        self._check(self._lib.cublasSetWorkspace_v2(self._handle, ctypes.c_void_p(self.workspace.data.ptr),
                                                    ctypes.c_size_t(_WORKSPACE_BYTES)), "cublasSetWorkspace_v2")

    @staticmethod
    def _check(status: int, call: str) -> None:
        if status != 0:
            raise RuntimeError(f"{call} failed with cuBLAS status {status}")

    def supports(self, dtype) -> bool:
        return dtype in self._routines

    def gemm(self, a, b, trans_a: bool, trans_b: bool, out, tf32: bool):
        """out (m, n) = op(a) @ op(b) for C-contiguous 2-D arrays of one dtype (f32/f64), on TF32
        tensor cores when ``tf32`` (float32 only; float64 GEMMs ignore the math mode).

        cuBLAS is column-major: a row-major matrix X is its transpose there, so computing
        Cᵀ = op(B)ᵀ op(A)ᵀ gives C in row-major order without any copy.
        """
        m, k = (a.shape[1], a.shape[0]) if trans_a else a.shape
        n = b.shape[0] if trans_b else b.shape[1]
        stream = self._cupy.cuda.get_current_stream().ptr
        if stream != self._stream:
            self._check(self._lib.cublasSetStream_v2(self._handle, ctypes.c_void_p(stream)), "cublasSetStream_v2")
            self._set_workspace()  # cublasSetStream_v2 went back to cuBLAS's default workspace
            self._stream = stream
        if tf32 is not self._tf32:
            self._tf32 = tf32
            self._check(self._lib.cublasSetMathMode(self._handle, _TF32_MATH if self._tf32 else _DEFAULT_MATH),
                        "cublasSetMathMode")
        routine, one, zero = self._routines[a.dtype]
        status = routine(self._handle, _OP_T if trans_b else _OP_N, _OP_T if trans_a else _OP_N, n, m, k,
                         ctypes.byref(one), b.data.ptr, b.shape[1], a.data.ptr, a.shape[1],
                         ctypes.byref(zero), out.data.ptr, n)
        self._check(status, "cublas gemm")
        return out
