"""The NumPy (CPU) backend."""
from __future__ import annotations

import numpy

from backends._base import Backend


class NumpyBackend(Backend):
    name = "numpy"
    xp = numpy
    array_type = numpy.ndarray
    device_name = "cpu"

    def __init__(self):
        self.generator = numpy.random.default_rng()

    def seed(self, seed: int) -> None:
        self.generator = numpy.random.default_rng(seed)

    def random(self, shape, dtype):
        return self.generator.random(shape, dtype=dtype)

    def to_numpy(self, array):
        return numpy.asarray(array)

    def from_numpy(self, array):
        return numpy.asarray(array)
