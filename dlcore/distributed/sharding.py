"""Dataset sharding: each rank a disjoint, seeded, equal-size part of every epoch.

The global order of epoch ``e`` is the ``e``-th permutation drawn from
``numpy.random.default_rng(seed)`` — the same order ``ArrayLoader(seed=seed)`` uses — and
is identical on every rank. Ranks split it **by batch blocks**: with per-rank batch ``B``
and ``size`` ranks, global batch ``k`` is ``order[k·size·B : (k+1)·size·B]`` and rank ``r``
takes the ``r``-th of its ``size`` equal parts. Hence the ranks' ``k``-th batches,
concatenated in rank order, are exactly the ``k``-th batch of one process with batch
``size·B`` over the same order, and averaging per-rank mean-loss gradients gives that
process's gradient: N ranks × batch B train like 1 process × batch N·B.

When ``n`` is not a multiple of ``size`` (policy, as PyTorch's DistributedSampler):
``even="pad"`` (default) appends the first ``size - n % size`` samples of the order again,
so every sample is seen at least once and a few twice; ``even="truncate"`` drops the last
``n % size`` samples of the order (they differ every epoch). Every rank always gets the same
number of samples, so collectives stay in step. The last global block may be short; it is
still split evenly (its length is a multiple of ``size``).
"""
from __future__ import annotations

import math

import numpy

import backends


def global_order(n_samples: int, epoch: int = 0, seed: int = 0, shuffle: bool = True) -> numpy.ndarray:
    """The epoch's permutation of range(n_samples), identical on every rank."""
    if not shuffle:
        return numpy.arange(n_samples)
    rng = numpy.random.default_rng(seed)
    for _ in range(epoch):
        rng.permutation(n_samples)
    return rng.permutation(n_samples)


def _even(order: numpy.ndarray, size: int, even: str) -> numpy.ndarray:
    n = len(order)
    if even == "pad":
        total = math.ceil(n / size) * size
        return numpy.resize(order, total) if total != n else order
    if even == "truncate":
        return order[: (n // size) * size]
    raise ValueError(f"shard: even must be 'pad' or 'truncate', got {even!r}")


def shard_order(order, rank: int, size: int, batch_size: int = 1, even: str = "pad") -> numpy.ndarray:
    """Rank ``rank``'s indices from a global ``order`` (block split described above)."""
    if not 0 <= rank < size:
        raise ValueError(f"shard: rank {rank} is outside 0..{size - 1}")
    if batch_size < 1:
        raise ValueError(f"shard: batch_size must be >= 1, got {batch_size}")
    order = _even(numpy.asarray(order), size, even)
    block = size * batch_size
    parts = []
    for start in range(0, len(order), block):
        chunk = order[start:start + block]
        part = len(chunk) // size
        parts.append(chunk[rank * part:(rank + 1) * part])
    return numpy.concatenate(parts) if parts else order[:0]


def shard(n_samples: int, rank: int, size: int, epoch: int = 0, seed: int = 0,
          batch_size: int = 1, shuffle: bool = True, even: str = "pad") -> numpy.ndarray:
    """Indices of rank ``rank``'s shard of epoch ``epoch`` (see the module docstring)."""
    return shard_order(global_order(n_samples, epoch, seed, shuffle), rank, size, batch_size, even)


class ShardedLoader:
    """``ArrayLoader``'s distributed twin: rank ``comm.rank``'s batches of size ``batch_size``.

    Arrays move to the device once; each epoch draws the next permutation from its own
    ``default_rng(seed)`` (as ``ArrayLoader`` does, so with ``size == 1`` it yields the same
    batches), takes this rank's shard and gathers the batches on the device. Every rank
    must use the same ``seed`` and iterate the same number of epochs.
    ``drop_last`` drops a final short batch (on every rank alike); ``transform`` maps each
    input batch on the device, as in ``ArrayLoader``.
    """

    def __init__(self, x, y, batch_size: int, comm=None, rank: int | None = None, size: int | None = None,
                 shuffle: bool = True, drop_last: bool = False, seed: int = 0, even: str = "pad",
                 backend: str | None = None, transform=None):
        if len(x) != len(y):
            raise ValueError(f"ShardedLoader: x has {len(x)} samples but y has {len(y)}")
        if batch_size < 1:
            raise ValueError(f"ShardedLoader: batch_size must be >= 1, got {batch_size}")
        self.rank = comm.rank if rank is None and comm is not None else (rank or 0)
        self.size = comm.size if size is None and comm is not None else (size or 1)
        name = backend or backends.current().name
        self.x = backends.to_device(numpy.ascontiguousarray(x) if isinstance(x, numpy.ndarray) else x, name)
        self.y = backends.to_device(numpy.ascontiguousarray(y) if isinstance(y, numpy.ndarray) else y, name)
        self.batch_size, self.shuffle, self.drop_last, self.even = int(batch_size), shuffle, drop_last, even
        self.transform = transform
        self.generator = numpy.random.default_rng(seed)
        self.epoch = 0
        self._xp = backends.backend_of(self.x).xp
        _even(numpy.arange(1), 1, even)  # validates ``even``

    @property
    def n_samples(self) -> int:
        """Samples of this rank per epoch."""
        n = len(self.x)
        return math.ceil(n / self.size) if self.even == "pad" else n // self.size

    def __len__(self) -> int:
        n = self.n_samples / self.batch_size
        return math.floor(n) if self.drop_last else math.ceil(n)

    def indices(self) -> numpy.ndarray:
        """This rank's indices for the next epoch (advances the generator)."""
        n = len(self.x)
        order = self.generator.permutation(n) if self.shuffle else numpy.arange(n)
        self.epoch += 1
        return shard_order(order, self.rank, self.size, self.batch_size, self.even)

    def __iter__(self):
        index = self._xp.asarray(self.indices())
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            i = index[start:start + self.batch_size]
            yield (self.x[i] if self.transform is None else self.transform(self.x[i])), self.y[i]
