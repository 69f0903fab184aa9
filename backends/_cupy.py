"""The CuPy (CUDA GPU) backend. Imported only when CuPy is asked for."""
from __future__ import annotations

from backends._base import Backend, BackendUnavailableError

_INSTALL = ("Install CuPy for your CUDA version with `pip install dlcore[cuda12]` or "
            "`pip install dlcore[cuda13]`, or use the CPU with backend 'numpy'.")


class CupyBackend(Backend):
    name = "cupy"

    def __init__(self):
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
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        self.device_name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
        self.generator = cupy.random.RandomState()

    def seed(self, seed: int) -> None:
        self.generator = self.xp.random.RandomState(seed)

    def random(self, shape, dtype):
        return self.generator.random_sample(shape, dtype=dtype)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()

    def to_numpy(self, array):
        return self.xp.asnumpy(array)

    def from_numpy(self, array):
        return self.xp.asarray(array)
