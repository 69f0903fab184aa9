"""What every backend provides, and the errors the shim raises."""
from __future__ import annotations

import os
from contextlib import contextmanager


def env_flag(name: str, default: bool) -> bool:
    """The boolean environment switch ``name``: "0", "false", "no", "off" are False, any other value True."""
    value = os.environ.get(name, "").strip().lower()
    return default if not value else value not in ("0", "false", "no", "off")


class Switch:
    """A process-wide on/off setting whose starting value comes from an environment flag."""

    def __init__(self, env_name: str, default: bool):
        self.on = env_flag(env_name, default)

    def get(self) -> bool:
        return self.on

    def set(self, flag: bool) -> bool:
        """Turn the setting on or off; returns the previous setting."""
        previous, self.on = self.on, bool(flag)
        return previous

    @contextmanager
    def scoped(self, flag: bool = True):
        """``with switch.scoped(flag):`` the setting is ``flag`` inside the block, the previous one after."""
        previous = self.set(flag)
        try:
            yield
        finally:
            self.set(previous)


def element_strides(a) -> list[int]:
    """The strides of array ``a`` counted in elements instead of bytes."""
    return [s // a.itemsize for s in a.strides]


class UserError(Exception):
    """The root of every error that a user's input causes (a config, a file, an argument, a missing
    device, a diverging run), as opposed to a fault in dlcore itself: a command-line tool prints
    such an error as one line and exits with status 2, and shows a traceback for anything else.
    It lives in the lowest layer so that every layer's errors can derive from it; ``dlcore.UserError``
    is the same class."""


class BackendUnavailableError(UserError, RuntimeError):
    """The requested backend cannot run here (CuPy missing or no CUDA device)."""

    def __init__(self, name: str, reason: str, remedy: str):
        self.reason = reason
        super().__init__(f"backend {name!r} is not available: {reason}. {remedy}")


class DeviceMismatchError(UserError, ValueError):
    """An operation received arrays living on different devices."""

    def __init__(self, op: str, arrays):
        from backends import backend_of

        where = ", ".join(
            f"input {i}: {backend_of(a).name} {getattr(a, 'shape', '')}"
            for i, a in enumerate(arrays)
            if a is not None and not isinstance(a, (int, float, bool))
        )
        super().__init__(
            f"{op} got arrays on different devices ({where}). Move them to one backend "
            f"first, e.g. tensor.to('cupy') / module.to('cupy') or backends.to_device(a, 'numpy'); "
            f"dlcore never converts silently."
        )


class Backend:
    """One array library: its module ``xp``, random numbers, scatter-add and sync.

    Subclasses set ``name`` and ``xp`` and implement the methods below.
    """

    name: str
    xp = None
    array_type: type = None  # xp.ndarray
    device_name: str = "cpu"

    def __init__(self):
        self._ones = {}  # (shape, dtype) → a ones array, see _cached_ones

    def __repr__(self):
        return f"<backend {self.name} ({self.device_name})>"

    def _cached_ones(self, shape: tuple, dtype):
        """A ones array of ``shape`` made once and kept (never written to): sums as matrix products."""
        key = (shape, dtype)
        ones = self._ones.get(key)
        if ones is None:
            ones = self._ones[key] = self.xp.ones(shape, dtype)
        return ones

    def kept_arrays(self) -> list:
        """The arrays this backend made once and keeps using from call to call (rows of ones for sums
        as matrix products): state that outlives a training step, as a CUDA-graph capture must know."""
        return list(self._ones.values())

    def seed(self, seed: int) -> None:
        """Reseed this backend's generator (used by dropout and other in-step sampling)."""
        raise NotImplementedError

    def random(self, shape, dtype):
        """Uniform samples in [0, 1) of ``shape`` and ``dtype`` from this backend's generator."""
        raise NotImplementedError

    def scatter_add(self, target, indices, values) -> None:
        """target[indices] += values, accumulating repeated indices (in place)."""
        self.xp.add.at(target, indices, values)

    def gemm(self, a, b, trans_a: bool = False, trans_b: bool = False):
        """op(a) @ op(b) for 2-D arrays, op(x) = xᵀ when asked (no transposed copy is made)."""
        return self.xp.matmul(a.T if trans_a else a, b.T if trans_b else b)

    def batched_gemm(self, a, b, out=None):
        """a[k] @ b[k] for each k of two stacks of matrices (3-D arrays; a transposed view is not copied),
        into ``out`` when given."""
        return self.xp.matmul(a, b, out=out)

    def axpby(self, alpha: float, x, beta: float, y) -> None:
        """y ← αx + βy, in place (x and y of one shape and dtype); as in BLAS, β = 0 overwrites y
        and α = 0 leaves out x, so neither factor lets a NaN through from the array it scales."""
        if beta == 0.0:
            if alpha == 0.0:
                y.fill(0)
            else:
                self.xp.multiply(x, alpha, out=y)
            return
        if beta != 1.0:
            y *= beta
        if alpha != 0.0:
            y += x if alpha == 1.0 else alpha * x

    def column_sums(self, a):
        """Σ over the rows of the 2-D array ``a``: shape (a.shape[1],)."""
        return a.sum(axis=0)

    def channel_sums(self, a):
        """Σ over every axis but 1 of an (N, C, ...) array: shape (C,) (bias gradients of NCHW maps)."""
        return a.sum(axis=(0, *range(2, a.ndim)))

    def scratch(self, shape, dtype):
        """An uninitialised C-contiguous array for a temporary that the caller overwrites whole and
        never hands to users (im2col columns); a backend may give back one it made earlier."""
        return self.xp.empty(shape, dtype)

    def convolution(self, dtype, padding_mode: str = "zeros"):
        """A library convolution engine (forward, backward_data, backward_filter) for ``dtype``, or None.

        None means: convolve as im2col + GEMM, the portable path every backend has.
        """
        return None

    def synchronize(self) -> None:
        """Wait until queued device work has finished (no-op on the CPU)."""

    def to_numpy(self, array):
        raise NotImplementedError

    def from_numpy(self, array):
        raise NotImplementedError
