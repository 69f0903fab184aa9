"""dlcore: a from-scratch deep-learning framework on one code path for NumPy and CuPy."""
from backends import UserError
from dlcore.modes import (default_dtype, enable_grad, get_default_dtype, is_grad_enabled, is_training, no_grad,
                          training_mode)
from dlcore.core import Function, Tensor
from dlcore.random import host_generator, manual_seed
from dlcore import functional
from dlcore import nn, losses, init, optim, metrics, io
from dlcore.gradcheck import gradcheck

__version__ = "0.2.0"  # the one place the version is written (pyproject.toml reads it)

__all__ = [
    "Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "is_training", "training_mode",
    "default_dtype", "get_default_dtype", "manual_seed", "gradcheck", "functional", "nn", "losses",
    "init", "optim", "metrics", "io", "tensor", "UserError", "from_dlpack", "load_run",
    "zeros", "ones", "randn", "rand", "arange", "stack", "cat",
]

from dlcore.ops.math import concat as cat, stack  # noqa: E402  (the tensors joined: cat on an axis, stack on a new one)


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


def _created(owner: str, make, size, dtype, device, requires_grad: bool, floating: bool = False) -> Tensor:
    """A tensor of shape ``size`` (ints or one tuple/list of them, each ≥ 0) made by ``make(xp_or_host,
    shape, dtype)`` on ``device`` (None: the active backend) in ``dtype`` (None: the default dtype)."""
    import backends
    from dlcore import checks

    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = tuple(checks.integer(owner, f"size[{i}]", n, minimum=0) for i, n in enumerate(size))
    dtype = get_default_dtype() if dtype is None else checks.dtype(owner, "dtype", dtype)
    if floating and dtype.kind != "f":
        raise checks.ArgumentTypeError(f"{owner}: dtype must be a floating dtype such as 'float32', got {dtype}")
    backend = backends.current() if device in (None, "auto") else backends.get(checks.backend_name(owner, "device",
                                                                                                    device))
    return Tensor(make(backend, shape, dtype), requires_grad=requires_grad)


def zeros(*size, dtype=None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of zeros of shape ``size`` (``zeros(2, 3)`` or ``zeros((2, 3))``), in ``dtype`` (default: the
    default dtype, float32) on ``device`` ("numpy", "cupy"; default: the active backend).

    >>> zeros(2, 3).shape
    (2, 3)
    """
    return _created("dlcore.zeros", lambda b, shape, dt: b.xp.zeros(shape, dt), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones of shape ``size``, as ``zeros``.

    >>> ones(2, dtype="int64").numpy()
    array([1, 1])
    """
    return _created("dlcore.ones", lambda b, shape, dt: b.xp.ones(shape, dt), size, dtype, device, requires_grad)


def randn(*size, dtype=None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Samples of N(0, 1) of shape ``size``, drawn on the host from the generator ``dlcore.manual_seed`` seeds
    (as the initialisers are) and moved to ``device``: one seed gives the same values on CPU and GPU.

    >>> manual_seed(0)
    >>> a = randn(3)
    >>> manual_seed(0)
    >>> bool((randn(3).numpy() == a.numpy()).all())
    True
    """
    return _created("dlcore.randn", lambda b, shape, dt: b.from_numpy(host_generator().standard_normal(shape)
                                                                        .astype(dt)),
                    size, dtype, device, requires_grad, floating=True)


def rand(*size, dtype=None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """Samples of U[0, 1) of shape ``size``, drawn on the host as ``randn`` (same seed, same values everywhere).

    >>> x = rand(1000).numpy()
    >>> bool((x >= 0).all() and (x < 1).all())
    True
    """
    return _created("dlcore.rand", lambda b, shape, dt: b.from_numpy(host_generator().random(shape).astype(dt)),
                    size, dtype, device, requires_grad, floating=True)


def arange(start, end=None, step=1, *, dtype=None, device: str | None = None, requires_grad: bool = False) -> Tensor:
    """start, start + step, … up to but excluding ``end`` (``arange(n)``: 0 … n − 1), ⌈(end − start)/step⌉
    values; int64 when start, end and step are ints, else the default dtype (as torch.arange). The values
    are computed on the host in float64 or int64 and moved, so CPU and GPU hold the same ones.

    >>> arange(4).numpy()
    array([0, 1, 2, 3])
    >>> arange(0, 1, 0.25).numpy()
    array([0.  , 0.25, 0.5 , 0.75], dtype=float32)
    """
    import numbers

    import numpy

    from dlcore import checks

    if end is None:
        start, end = 0, start
    bounds = {"start": start, "end": end, "step": step}
    whole = all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, numpy.bool_)) for v in bounds.values())
    values = [int(v) if whole else checks.finite_number("dlcore.arange", name, v) for name, v in bounds.items()]
    if values[2] == 0:
        raise checks.ArgumentValueError("dlcore.arange: step must not be 0")
    host = numpy.arange(*values)
    if dtype is None and not whole:
        dtype = get_default_dtype()
    return _created("dlcore.arange", lambda b, shape, dt: b.from_numpy(host.astype(dt)), host.shape,
                    host.dtype if dtype is None else dtype, device, requires_grad)


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
