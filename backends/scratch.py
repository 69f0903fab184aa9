"""Large host arrays kept from one training step to the next (``NumpyBackend.scratch``).

A fresh NumPy array of tens of MiB costs its page faults every time: glibc hands blocks that
large back to the kernel when they are freed and maps them again, zero-filled, at the next
allocation. The im2col column matrices of a CNN are that size and are made anew each step;
on the 2-core CPU machine the faults took 15–20% of a step of the benchmark CNN (W2).

``ScratchPool.empty`` returns an array of the asked shape and dtype that nothing outside the
pool references any more (its reference count, calibrated below, says so; a view of it counts
as a reference through its ``base``), else a new one, which the pool keeps while its total
stays within ``capacity`` bytes (least recently used free arrays make room). Requests under
1 MiB are plain ``numpy.empty`` (malloc serves those from memory it keeps), and so are those
over the capacity. ``clear()`` lets the kept memory go.
"""
from __future__ import annotations

import sys
import threading
from collections import OrderedDict

import numpy

MIN_POOLED_BYTES = 1 << 20
DEFAULT_CAPACITY = 1 << 30


def _references(arrays: list, i: int) -> int:
    """The reference count of ``arrays[i]`` as seen from here (the list's own reference included)."""
    return sys.getrefcount(arrays[i])


# What _references says of an array that only the pool's list holds, measured on this
# interpreter (CPython versions count the call's own references differently).
_UNREFERENCED = _references([numpy.empty(1)], 0)


class ScratchPool:
    """Arrays for temporaries: reused once unreferenced, at most ``capacity`` bytes kept."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY):
        self.capacity = capacity
        self.kept_bytes = 0
        self._arrays: OrderedDict[tuple, list] = OrderedDict()  # (shape, dtype) → arrays, least recent first
        self._lock = threading.Lock()  # two threads must not both find the same array free

    def empty(self, shape, dtype) -> numpy.ndarray:
        """An uninitialised C-contiguous array of ``shape`` and ``dtype`` (reused when one is free)."""
        shape, dtype = tuple(shape), numpy.dtype(dtype)
        nbytes = int(numpy.prod(shape)) * dtype.itemsize
        if not MIN_POOLED_BYTES <= nbytes <= self.capacity:
            return numpy.empty(shape, dtype)
        key = (shape, dtype)
        with self._lock:
            arrays = self._arrays.setdefault(key, [])
            self._arrays.move_to_end(key)
            for i in range(len(arrays)):
                if _references(arrays, i) == _UNREFERENCED:
                    return arrays[i]
            fresh = numpy.empty(shape, dtype)
            self._make_room(nbytes)
            if self.kept_bytes + nbytes <= self.capacity:
                self._arrays.setdefault(key, []).append(fresh)  # _make_room may have dropped the key
                self.kept_bytes += nbytes
            return fresh

    def _make_room(self, nbytes: int) -> None:
        """Drop free arrays, least recently asked-for shapes first, until ``nbytes`` more fit."""
        for key in list(self._arrays):
            if self.kept_bytes + nbytes <= self.capacity:
                return
            arrays = self._arrays[key]
            for i in reversed(range(len(arrays))):
                if _references(arrays, i) == _UNREFERENCED:
                    self.kept_bytes -= arrays.pop(i).nbytes
            if not arrays:
                del self._arrays[key]

    def clear(self) -> None:
        """Forget every kept array (those still in use live on with their users)."""
        with self._lock:
            self._arrays.clear()
            self.kept_bytes = 0
