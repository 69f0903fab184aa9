"""Seeding and the host generator that initialisers draw from.

Initial weights are drawn on the host from one NumPy generator and then moved to the
active backend, so the same seed gives the same initial weights on CPU and GPU. Sampling
inside a training step (dropout masks) uses each backend's own generator, on the device.
"""
from __future__ import annotations

import numpy

import backends
from dlcore import checks

_host = numpy.random.default_rng()


def manual_seed(seed: int) -> None:
    """Seed the host generator and the generator of every backend that can run here; ``seed`` is an int ≥ 0."""
    global _host
    seed = checks.integer("manual_seed", "seed", seed, minimum=0)
    _host = numpy.random.default_rng(seed)
    for name in backends.NAMES:
        try:
            backends.get(name).seed(seed)
        except backends.BackendUnavailableError:
            pass


def host_generator() -> numpy.random.Generator:
    """The seeded NumPy generator used for initial weights and data shuffling on the host."""
    return _host
