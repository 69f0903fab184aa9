"""Mini-batches from in-memory arrays that live on the active device."""
from __future__ import annotations

import math

import numpy

import backends
from dlcore import checks
from dlcore.checks import ArgumentTypeError, ArgumentValueError


class ArrayLoader:
    """Yields ``(x_batch, y_batch)`` device arrays from whole arrays moved to the device once.

    Each epoch draws a permutation without replacement from a generator seeded with
    ``seed`` (on the host, so CPU and GPU see the same batch order); ``drop_last`` drops
    a final short batch. Batches are gathered on the device: no host transfer per step.
    ``transform`` (e.g. ``dlcore.data.FlipShift``) maps each input batch on the device.
    ``x`` and ``y`` are NumPy or CuPy arrays (lists and tuples are converted with
    ``numpy.asarray``, a ``dlcore.Tensor`` gives its array) with one row per sample each;
    ``batch_size`` and ``seed`` are ints (≥ 1, ≥ 0), ``shuffle`` and ``drop_last`` bools,
    ``transform`` None or a callable, ``backend`` None (the active one), "numpy", "cupy" or "auto".

    Example::

        >>> x, y = np.arange(10, dtype="float32").reshape(5, 2), np.arange(5)
        >>> loader = data.ArrayLoader(x, y, batch_size=2, shuffle=False)
        >>> len(loader), [yb.tolist() for xb, yb in loader]
        (3, [[0, 1], [2, 3], [4]])
        >>> shuffled = data.ArrayLoader(x, y, batch_size=2, drop_last=True, seed=0)
        >>> [yb.tolist() for xb, yb in shuffled]    # a new permutation each epoch; the short batch dropped
        [[2, 4], [3, 0]]
    """

    def __init__(self, x, y, batch_size: int = 32, shuffle: bool = True, drop_last: bool = False,
                 seed: int = 0, backend: str | None = None, transform=None):
        x, y = _as_array("x", x), _as_array("y", y)
        if len(x) != len(y):
            raise ArgumentValueError(f"ArrayLoader: x has {len(x)} samples but y has {len(y)}")
        self.batch_size = checks.integer("ArrayLoader", "batch_size", batch_size, minimum=1)
        self.shuffle = checks.flag("ArrayLoader", "shuffle", shuffle)
        self.drop_last = checks.flag("ArrayLoader", "drop_last", drop_last)
        if transform is not None and not callable(transform):
            raise ArgumentTypeError(f"ArrayLoader: transform must be None or a callable batch → batch, "
                                    f"got {type(transform).__name__}")
        self.transform = transform
        self.generator = numpy.random.default_rng(checks.integer("ArrayLoader", "seed", seed, minimum=0))
        name = backends.current().name if backend is None else checks.backend_name("ArrayLoader", "backend", backend)
        self.x = backends.to_device(numpy.ascontiguousarray(x) if isinstance(x, numpy.ndarray) else x, name)
        self.y = backends.to_device(numpy.ascontiguousarray(y) if isinstance(y, numpy.ndarray) else y, name)
        self._xp = backends.backend_of(self.x).xp

    def __len__(self) -> int:
        n = len(self.x) / self.batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    @property
    def n_samples(self) -> int:
        return len(self.x)

    def __iter__(self):
        order = self._xp.asarray(self.generator.permutation(len(self.x))) if self.shuffle else None
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            index = slice(start, start + self.batch_size) if order is None else order[start:start + self.batch_size]
            x = self.x[index]
            yield (x if self.transform is None else self.transform(x)), self.y[index]


def _as_array(name: str, a):
    """``a`` as an array of at least one dimension: lists/tuples → numpy.asarray, a Tensor → its data."""
    from dlcore.core import Tensor

    if isinstance(a, Tensor):
        a = a.data
    elif isinstance(a, (list, tuple)):
        try:
            a = numpy.asarray(a)
        except ValueError as why:
            raise ArgumentValueError(f"ArrayLoader: {name} is a {type(a).__name__} that does not make a "
                                     f"rectangular array ({why})") from None
    if getattr(a, "ndim", 0) < 1 or not hasattr(a, "__getitem__"):
        raise ArgumentTypeError(f"ArrayLoader: {name} must be an array with one row per sample (NumPy, CuPy or a "
                                f"list), got {type(a).__name__}{f' of shape {a.shape}' if hasattr(a, 'shape') else ''}")
    if getattr(a.dtype, "kind", "f") not in checks.NUMERIC_KINDS:
        raise ArgumentTypeError(f"ArrayLoader: {name} must be numbers, got an array of dtype {a.dtype}")
    return a
