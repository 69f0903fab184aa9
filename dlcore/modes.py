"""Run-time settings kept in ``contextvars``: gradient recording, train/eval mode, dtype.

Each setting is a context variable, so a ``with`` block changes it for the code inside
(threads and asyncio tasks each see their own value) and restores it afterwards.
"""
from __future__ import annotations

import contextlib
import contextvars

import numpy

from dlcore import checks

_grad_enabled = contextvars.ContextVar("dlcore_grad_enabled", default=True)
_training = contextvars.ContextVar("dlcore_training", default=True)
_default_dtype = contextvars.ContextVar("dlcore_default_dtype", default=numpy.dtype(numpy.float32))


def is_grad_enabled() -> bool:
    """Whether new operations record the graph needed by ``backward``."""
    return _grad_enabled.get()


def is_training() -> bool:
    """Whether layers behave as in training (dropout on, batch statistics) or in eval."""
    return _training.get()


def get_default_dtype() -> numpy.dtype:
    """The floating dtype of new parameters and of tensors built from Python data (float32)."""
    return _default_dtype.get()


def set_training(mode: bool) -> contextvars.Token:
    """Set the train/eval mode and return the token that ``reset_training`` restores it with
    (the hot path of ``Module.__call__``; elsewhere use the ``training_mode`` block)."""
    return _training.set(mode)


def reset_training(token: contextvars.Token) -> None:
    _training.reset(token)


@contextlib.contextmanager
def _setting(var: contextvars.ContextVar, value):
    token = var.set(value)
    try:
        yield
    finally:
        var.reset(token)


def no_grad():
    """Context manager: operations inside record no graph (inference, evaluation, updates)."""
    return _setting(_grad_enabled, False)


def enable_grad():
    """Context manager: record the graph again inside a ``no_grad`` block."""
    return _setting(_grad_enabled, True)


def training_mode(mode: bool):
    """Context manager: set train (True) or eval (False) behaviour for functional calls."""
    return _setting(_training, checks.flag("training_mode", "mode", mode))


def default_dtype(dtype):
    """Context manager: make ``dtype`` (a floating dtype, e.g. "float64" for gradient checks) the default."""
    dtype = checks.dtype("default_dtype", "dtype", dtype)
    if dtype.kind != "f":
        raise checks.ArgumentValueError(f"default_dtype: dtype must be a floating dtype such as 'float32' or "
                                        f"'float64', got {dtype}")
    return _setting(_default_dtype, dtype)
