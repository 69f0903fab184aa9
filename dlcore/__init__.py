"""dlcore: a from-scratch deep-learning framework on one code path for NumPy and CuPy."""
from backends import UserError
from dlcore.modes import (default_dtype, enable_grad, get_default_dtype, is_grad_enabled, is_training, no_grad,
                          training_mode)
from dlcore.core import Function, Tensor
from dlcore.random import manual_seed
from dlcore import functional
from dlcore import nn, losses, init, optim, metrics, io
from dlcore.gradcheck import gradcheck

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "is_training", "training_mode",
    "default_dtype", "get_default_dtype", "manual_seed", "gradcheck", "functional", "nn", "losses",
    "init", "optim", "metrics", "io", "tensor", "UserError", "from_dlpack", "load_run",
]


def tensor(data, requires_grad: bool = False, dtype=None, device: str | None = None) -> Tensor:
    """A new tensor from Python or array data, optionally converted to ``dtype`` (a numeric NumPy dtype)
    and moved to ``device``."""
    import backends
    from dlcore import checks

    dtype = None if dtype is None else checks.dtype("dlcore.tensor", "dtype", dtype)
    device = None if device is None else checks.backend_name("dlcore.tensor", "device", device)
    array = Tensor(data).data
    if device is not None:
        array = backends.to_device(array, device)
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    return Tensor(array, requires_grad=requires_grad)


#: DLPack device types (``__dlpack_device__()[0]``) whose memory NumPy reads: kDLCPU, kDLCUDAHost (pinned)
_DLPACK_HOST = {1: "kDLCPU", 3: "kDLCUDAHost"}
#: DLPack device types whose memory CuPy reads: kDLCUDA, kDLCUDAManaged
_DLPACK_CUDA = {2: "kDLCUDA", 13: "kDLCUDAManaged"}


def from_dlpack(obj, requires_grad: bool = False) -> Tensor:
    """A Tensor that shares the memory of ``obj`` (a PyTorch tensor, a CuPy or NumPy array, a dlcore
    Tensor, anything with ``__dlpack__``/``__dlpack_device__``): no copy, no device move.

    The backend is chosen from ``obj.__dlpack_device__()`` = (device type, id): type 1 (kDLCPU) or
    3 (kDLCUDAHost) → ``numpy.from_dlpack``, type 2 (kDLCUDA) or 13 (kDLCUDAManaged) →
    ``cupy.from_dlpack`` (a UserError when CuPy or a CUDA device is missing); any other type is a
    UserError naming it. Dtype, shape and strides are kept; a write through either side shows on the
    other. The reverse direction is ``torch.from_dlpack(tensor)`` / ``numpy.from_dlpack(tensor)``.
    A PyTorch tensor that requires a gradient must be ``.detach()``-ed first (PyTorch refuses to export it).
    """
    import backends

    if not (hasattr(obj, "__dlpack__") and hasattr(obj, "__dlpack_device__")):
        raise TypeError(f"dlcore.from_dlpack takes an object with __dlpack__ and __dlpack_device__ (a PyTorch "
                        f"tensor, a CuPy or NumPy array), got {type(obj).__name__}")
    device_type = int(obj.__dlpack_device__()[0])
    if device_type in _DLPACK_HOST:
        name = "numpy"
    elif device_type in _DLPACK_CUDA:
        name = "cupy"
    else:
        known = ", ".join(f"{k} ({v})" for k, v in sorted({**_DLPACK_HOST, **_DLPACK_CUDA}.items()))
        raise UserError(f"dlcore.from_dlpack: {type(obj).__name__} lives on DLPack device type {device_type}, "
                        f"which dlcore cannot use; it reads device types {known}")
    return Tensor(backends.get(name).xp.from_dlpack(obj), requires_grad=requires_grad)


def __getattr__(name):
    """Imported on first use: ``dlcore.onnx`` (the exporter; it imports the onnx package only when
    exporting) and ``dlcore.load_run`` (a finished run's model and preprocessing, from the training layer)."""
    import importlib

    if name == "onnx":
        return importlib.import_module("dlcore.onnx")
    if name == "load_run":
        return importlib.import_module("dlcore.training.saved").load_run
    raise AttributeError(f"module 'dlcore' has no attribute {name!r}")
