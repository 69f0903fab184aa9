"""Mini-batches from in-memory arrays that live on the active device."""
from __future__ import annotations

import math

import numpy

import backends


class ArrayLoader:
    """Yields ``(x_batch, y_batch)`` device arrays from whole arrays moved to the device once.

    Each epoch draws a permutation without replacement from a generator seeded with
    ``seed`` (on the host, so CPU and GPU see the same batch order); ``drop_last`` drops
    a final short batch. Batches are gathered on the device: no host transfer per step.
    ``transform`` (e.g. ``dlcore.data.FlipShift``) maps each input batch on the device.
    """

    def __init__(self, x, y, batch_size: int = 32, shuffle: bool = True, drop_last: bool = False,
                 seed: int = 0, backend: str | None = None, transform=None):
        if len(x) != len(y):
            raise ValueError(f"ArrayLoader: x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"ArrayLoader: batch_size must be ≥ 1, got {batch_size}")
        name = backend or backends.current().name
        self.x = backends.to_device(numpy.ascontiguousarray(x) if isinstance(x, numpy.ndarray) else x, name)
        self.y = backends.to_device(numpy.ascontiguousarray(y) if isinstance(y, numpy.ndarray) else y, name)
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), shuffle, drop_last
        self.transform = transform
        self.generator = numpy.random.default_rng(seed)
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
