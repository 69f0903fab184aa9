"""The CuPy (CUDA GPU) backend. Imported only when CuPy is asked for."""
from __future__ import annotations

import logging

import numpy

from backends.base import Backend, BackendUnavailableError, env_flag
from backends.capture import is_capturing
from backends.precision import tf32_enabled

_INSTALL = ("Install CuPy for your CUDA version: in the dlcore source tree, `pip install -e '.[cuda12]'` or "
            "`pip install -e '.[cuda13]'`; or use the CPU with backend 'numpy'.")


class CupyBackend(Backend):
    """The GPU backend: CuPy arrays on the device CuPy has current when it is made.

    ``cupy``: the CuPy module, imported when None (a test may give a stand-in with CuPy's API, as
    the host simulation ``tests/simulated_cupy.py`` does). ``cublas_library``: the libcublas that the
    GEMM binding calls (``backends.cublas``), by default the one CuPy loads. Raises
    BackendUnavailableError when CuPy is missing or no CUDA device answers.
    """

    name = "cupy"

    def __init__(self, cupy=None, cublas_library=None):
        super().__init__()
        if cupy is None:
            try:
                import cupy
            except ImportError as error:
                raise BackendUnavailableError("cupy", f"CuPy is not installed ({error})", _INSTALL) from None
        try:
            count = cupy.cuda.runtime.getDeviceCount()
        except Exception as error:  # CUDA driver missing or broken
            raise BackendUnavailableError("cupy", f"no CUDA device answers ({error})",
                                          "Check the NVIDIA driver with `nvidia-smi`, or use backend 'numpy'.") from None
        if count == 0:
            raise BackendUnavailableError("cupy", "CuPy found no CUDA device",
                                          "Check the NVIDIA driver with `nvidia-smi`, or use backend 'numpy'.")
        self.xp = cupy
        self.array_type = cupy.ndarray
        self.device_id = cupy.cuda.Device().id  # the GPU its cuBLAS handle and generator live on
        props = cupy.cuda.runtime.getDeviceProperties(self.device_id)
        self.device_name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        self.generator = cupy.random.RandomState()
        try:
            from backends.cublas import Cublas
            self.cublas = Cublas(cupy, cublas_library)
        except (OSError, AttributeError, RuntimeError) as why:  # fall back to cupy.matmul
            self.cublas = None
            logging.getLogger("dlcore").warning("dlcore: direct cuBLAS GEMM unavailable (%s); using cupy.matmul", why)
        self.cudnn_enabled = env_flag("DLCORE_CUDNN", True)
        self._cudnn = None  # created on the first convolution

    def seed(self, seed: int) -> None:
        self.generator = self.xp.random.RandomState(seed)

    def kept_arrays(self) -> list:
        """The cached ones rows and the cuBLAS binding's workspace."""
        return super().kept_arrays() + ([self.cublas.workspace] if self.cublas is not None else [])

    def random(self, shape, dtype):
        if is_capturing():
            raise RuntimeError(
                f"a random draw of shape {tuple(shape)} ({numpy.dtype(dtype).name}) cannot be captured in a CUDA "
                "graph: CuPy's generator refuses stream capture, and a graph would repeat the same numbers on "
                "every replay. Dropout, a denoising autoencoder's noise and RBM sampling draw them; train such "
                "a model without capture (Trainer(cuda_graph=False))")
        return self.generator.random_sample(shape, dtype=dtype)

    def gemm(self, a, b, trans_a: bool = False, trans_b: bool = False):
        """op(a) @ op(b) through the ctypes cuBLAS binding (low host overhead, capturable), on TF32
        tensor cores while ``backends.tf32_enabled()``."""
        return self._cublas_gemm(a, b, trans_a, trans_b, tf32_enabled())

    def _cublas_gemm(self, a, b, trans_a: bool, trans_b: bool, tf32: bool):
        if self.cublas is None or a.dtype != b.dtype or not self.cublas.supports(a.dtype):
            return super().gemm(a, b, trans_a, trans_b)
        a, b = self.xp.ascontiguousarray(a), self.xp.ascontiguousarray(b)
        m = a.shape[1] if trans_a else a.shape[0]
        n = b.shape[0] if trans_b else b.shape[1]
        return self.cublas.gemm(a, b, trans_a, trans_b, self.xp.empty((m, n), a.dtype), tf32)

    def _ones_gemm(self, a, trans_b: bool = False):
        """ones(1, n) @ op(a) in full float32 whatever the TF32 switch says: these GEMMs are sums (bias
        gradients, BatchNorm's mean and variance), which TF32's 10-bit operands would bias."""
        ones = self._cached_ones((1, a.shape[1] if trans_b else a.shape[0]), a.dtype)
        return self._cublas_gemm(ones, a, False, trans_b, False)

    def column_sums(self, a):
        """Σ over rows as the GEMM ones(1, N) @ a: one cuBLAS call instead of a reduction kernel."""
        return self._ones_gemm(a).reshape(a.shape[1])

    def channel_sums(self, a):
        """Σ over N, then over the pixels, as two ones-GEMMs on NCHW memory (no reduction kernel)."""
        if a.ndim < 3 or not a.flags.c_contiguous:
            return super().channel_sums(a)
        n, c = a.shape[:2]
        per_pixel = self.column_sums(a.reshape(n, -1)).reshape(c, -1)  # (C, H·W)
        return self._ones_gemm(per_pixel, trans_b=True).reshape(c)

    def convolution(self, dtype, padding_mode: str = "zeros"):
        """cuDNN (through the ``cudnn`` frontend package) for float32 zero-padded convolutions.

        None, hence im2col + cuBLAS, when ``cudnn_enabled`` is off (``DLCORE_CUDNN=0``), the
        frontend is not installed, or the dtype/padding is one cuDNN is not used for here.
        """
        if not self.cudnn_enabled or padding_mode != "zeros":
            return None
        if self._cudnn is None:
            from backends.cudnn_conv import CudnnConvolution, workspace_limit_bytes
            limit = workspace_limit_bytes()  # a bad DLCORE_CUDNN_WORKSPACE_MB is raised, not a quiet fallback
            try:
                self._cudnn = CudnnConvolution(self.xp, limit)
                logging.getLogger("dlcore").info("dlcore: convolutions on cuDNN %s", self._cudnn.version)
            except Exception as why:  # ImportError, or a cuDNN library the frontend cannot load
                self._cudnn = False
                logging.getLogger("dlcore").info(
                    "dlcore: cuDNN frontend unavailable (%s); convolutions use im2col + cuBLAS "
                    "(pip install -e '.[cudnn]' in the dlcore source tree for the fast path)", why)
        return self._cudnn if self._cudnn and self._cudnn.supports(dtype) else None

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def to_numpy(self, array):
        return self.xp.asnumpy(array)

    def from_numpy(self, array):
        return self.xp.asarray(array)
