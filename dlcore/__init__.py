"""dlcore: a from-scratch deep-learning framework on one code path for NumPy and CuPy."""
from backends import UserError
from dlcore.config import (default_dtype, enable_grad, get_default_dtype, is_grad_enabled,
                           is_training, no_grad, training_mode)
from dlcore.core import Function, Tensor
from dlcore.random import manual_seed
from dlcore import functional
from dlcore import nn, losses, init, optim, metrics, io
from dlcore.gradcheck import gradcheck

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Function", "no_grad", "enable_grad", "is_grad_enabled", "is_training", "training_mode",
    "default_dtype", "get_default_dtype", "manual_seed", "gradcheck", "functional", "nn", "losses",
    "init", "optim", "metrics", "io", "tensor", "UserError",
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
