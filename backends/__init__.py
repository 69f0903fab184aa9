"""The dispatch shim: which array module is active and how arrays move between devices.

Everything above this package asks it for ``xp`` (NumPy or CuPy) instead of importing
either conditionally.

    >>> import backends
    >>> backends.use("numpy")            # or "cupy", or "auto"
    >>> backends.current().xp            # the numpy module
    >>> backends.get_array_module(a, b)  # the backend owning a and b (error if mixed)

The parts: ``base`` (what every backend provides, the errors), ``numpy_backend`` and
``cupy_backend`` (the two backends), ``cublas`` (a ctypes GEMM binding that works during
CUDA-graph capture), ``cudnn_conv`` (cuDNN convolutions through NVIDIA's frontend), ``blas``
(NumPy's own BLAS ``?axpby``), ``scratch`` (host temporaries reused across steps), ``fused``
(elementwise kernels with a portable body), ``capture`` (whether a CUDA graph is being captured,
what it must keep alive) and ``precision`` (the TF32 switch).

Tests install a backend of their own, a stand-in or a simulation, with ``override``; and
``unchosen`` lets them watch the first choice of a backend.
"""
from __future__ import annotations

import logging
import os
from contextlib import contextmanager

from backends.base import Backend, BackendUnavailableError, DeviceMismatchError, UserError, element_strides
from backends.numpy_backend import NumpyBackend
from backends.precision import set_tf32, tf32, tf32_enabled

__all__ = [
    "Backend", "BackendUnavailableError", "DeviceMismatchError", "NAMES", "UserError",
    "use", "current", "chosen", "get", "existing", "backend_of", "axpby", "get_array_module", "to_numpy", "to_device",
    "cuda_available", "element_strides", "set_tf32", "tf32", "tf32_enabled", "override", "unchosen",
]

NAMES = ("numpy", "cupy")
_log = logging.getLogger("dlcore")
_instances: dict[str, Backend] = {"numpy": NumpyBackend()}
_by_type: dict[type, Backend] = {}  # array type → its backend, filled by _classify
_unavailable: dict[str, BackendUnavailableError] = {}
_current: Backend | None = None


def get(name: str) -> Backend:
    """The backend called ``name`` ("numpy" or "cupy"), created on first use.

    Raises BackendUnavailableError when CuPy or a CUDA device is missing.
    """
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)} or 'auto'")
    if name not in _instances:
        if name in _unavailable:  # a failed import or device probe is not retried
            raise _unavailable[name]
        if name == "numpy":  # made at import; again only inside an ``override("numpy", None)``
            _instances[name] = NumpyBackend()
            return _instances[name]
        from backends.cupy_backend import CupyBackend  # imports cupy: only when asked for
        try:
            _instances[name] = CupyBackend()
        except BackendUnavailableError as error:
            _unavailable[name] = error
            raise
    return _instances[name]


def existing(name: str) -> Backend | None:
    """The backend called ``name`` if it has been created, else None (this never creates one)."""
    return _instances.get(name)


def cuda_available() -> bool:
    """True when CuPy imports and a CUDA device answers."""
    try:
        get("cupy")
    except BackendUnavailableError:
        return False
    return True


def use(name: str = "auto") -> Backend:
    """Make ``name`` ("auto", "numpy" or "cupy") the active backend and return it.

    "auto" picks CuPy when it imports and a CUDA device answers, else NumPy, and logs
    the choice in one line.
    """
    global _current
    if name == "auto":
        try:
            _current = get("cupy")
            _log.info("dlcore backend: cupy (%s)", _current.device_name)
        except BackendUnavailableError as why:
            _current = get("numpy")
            _log.info("dlcore backend: numpy (no GPU: %s)", why.reason)
    else:
        _current = get(name)
    return _current


def current() -> Backend:
    """The active backend; on first call it is chosen by ``DLCORE_BACKEND`` (default "auto")."""
    if _current is None:
        name = os.environ.get("DLCORE_BACKEND", "auto").strip().lower() or "auto"
        if name not in (*NAMES, "auto"):
            raise ValueError(f"DLCORE_BACKEND={name!r} in the environment is not a backend; "
                             f"set it to one of {', '.join(NAMES)} or auto (or unset it)")
        return use(name)
    return _current


def chosen() -> Backend | None:
    """The active backend if one has been chosen (by ``use`` or a first ``current()``), else None."""
    return _current


@contextmanager
def override(name: str, backend: Backend | None):
    """``with override(name, backend):`` inside the block ``get(name)`` is ``backend`` (for a test: a
    stand-in, or the host simulation of CuPy); ``backend=None`` is as if none of that name had been
    made yet (``existing(name)`` is None; ``get`` makes one, kept only inside the block).

    Arrays of a type from a module named ``cupy…`` belong to the "cupy" backend in force when they
    are first seen in the block. On the way out the backend of that name (or none, or the error it
    was unavailable with) and the active backend come back as they were; array types seen inside
    are forgotten.
    """
    global _current
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    saved = (_instances.get(name), _unavailable.get(name), _current)
    _unavailable.pop(name, None)
    _instances.pop(name, None)
    if backend is not None:
        _instances[name] = backend
    _by_type.clear()
    try:
        yield backend
    finally:
        instance, unavailable, _current = saved
        for table, value in ((_instances, instance), (_unavailable, unavailable)):
            table.pop(name, None)
            if value is not None:
                table[name] = value
        _by_type.clear()


@contextmanager
def unchosen():
    """``with unchosen():`` no backend is chosen inside the block (``chosen()`` is None, and the first
    ``current()`` chooses by ``DLCORE_BACKEND``); the choice made before comes back afterwards."""
    global _current
    saved, _current = _current, None
    try:
        yield
    finally:
        _current = saved


def backend_of(array) -> Backend:
    """The backend whose array type ``array`` is; NumPy for Python scalars."""
    backend = _by_type.get(type(array))
    return backend if backend is not None else _classify(array)


def axpby(alpha: float, x, beta: float, y) -> None:
    """y ← αx + βy in place, by the backend that owns ``y`` (one BLAS pass on NumPy)."""
    backend_of(y).axpby(alpha, x, beta, y)


def _classify(array) -> Backend:
    """Slow path of backend_of: look at the type's module once, then remember the type."""
    kind = type(array)
    backend = get("cupy" if kind.__module__.startswith("cupy") else "numpy")
    if kind not in (int, float, bool, complex):
        _by_type[kind] = backend
    return backend


def get_array_module(*arrays, op: str = "operation"):
    """The array module (numpy or cupy) shared by ``arrays``.

    Raises DeviceMismatchError naming ``op`` and the device of each input when NumPy and
    CuPy arrays are mixed; nothing is converted silently. Python scalars and None are
    ignored.
    """
    return backend_for(arrays, op).xp


def backend_for(arrays, op="operation") -> Backend:
    """The Backend shared by ``arrays`` (see get_array_module); the active one if none is an array.

    ``op`` names the operation in the error: a string, or an object with a ``name`` (a
    Function), whose name is only looked up when there is an error.
    """
    found = None
    for a in arrays:
        backend = _by_type.get(type(a))
        if backend is None:
            if a is None or isinstance(a, (int, float, bool)):
                continue
            backend = _classify(a)
        if found is None:
            found = backend
        elif backend is not found:
            raise DeviceMismatchError(getattr(op, "name", op), arrays)
    return found if found is not None else current()


def to_numpy(array):
    """A NumPy copy-or-view of ``array`` (copies device memory to the host)."""
    return backend_of(array).to_numpy(array)


def to_device(array, name: str):
    """``array`` on backend ``name`` ("numpy"/"cupy"); returned unchanged when already there."""
    target = current() if name == "auto" else get(name)
    if backend_of(array) is target:
        return array
    return target.from_numpy(to_numpy(array))
