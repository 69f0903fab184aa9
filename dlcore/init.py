"""Weight initialisers.

Each initialiser is ``fn(shape, fan_in=None, fan_out=None, dtype=None)`` and returns an
array on the active backend, drawn from the seeded host generator (``dlcore.manual_seed``),
so one seed gives the same initial weights on CPU and GPU. Fans default to the layouts of
this library: a dense weight (n_in, n_out) has fan_in = n_in; a convolution weight
(out, in, kh, kw) has fan_in = in·kh·kw and fan_out = out·kh·kw.

Layers take ``weight_init="he"`` (a name below) or any callable with that signature.
"""
from __future__ import annotations

import math

import numpy

import backends
from dlcore import config
from dlcore.checks import finite_number
from dlcore.random import host_generator


def fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of ``shape`` in this library's layouts."""
    shape = tuple(shape)
    if len(shape) == 0:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def _finish(host, dtype):
    dtype = numpy.dtype(dtype) if dtype is not None else config.get_default_dtype()
    return backends.current().from_numpy(host.astype(dtype, copy=False))


def _fans(shape, fan_in, fan_out):
    default_in, default_out = fans(shape)
    return fan_in or default_in, fan_out or default_out


def normal(shape, std=1.0, mean=0.0, dtype=None):
    """w ~ N(mean, std²); std ≥ 0."""
    std, mean = finite_number("normal", "std", std), finite_number("normal", "mean", mean)
    if std < 0:
        raise ValueError(f"normal: std must be >= 0, got {std}")
    return _finish(host_generator().normal(mean, std, size=tuple(shape)), dtype)


def uniform(shape, low=-1.0, high=1.0, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[low, high), U[−1, 1) by default (the course's uniform initialisation); low ≤ high."""
    low, high = finite_number("uniform", "low", low), finite_number("uniform", "high", high)
    if low > high:
        raise ValueError(f"uniform: low ({low}) must be <= high ({high})")
    return _finish(host_generator().uniform(low, high, size=tuple(shape)), dtype)


def gauss(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, 1) (the course's Gaussian initialisation)."""
    return normal(shape, 1.0, dtype=dtype)


def xavier(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = 1/√n_in — the course's "Xavier" initialisation.

    Glorot & Bengio derive σ = 1/√n_in for the forward signal alone (also known as LeCun
    normal); their compromise between forward and backward, σ = √(2/(n_in+n_out)), is
    ``glorot_normal``; their uniform version is ``xavier_uniform``.
    """
    n_in, _ = _fans(shape, fan_in, fan_out)
    return normal(shape, 1.0 / math.sqrt(n_in), dtype=dtype)


def glorot_normal(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = √(2/(n_in+n_out)) (Glorot & Bengio 2010, eq. 12 in normal form)."""
    n_in, n_out = _fans(shape, fan_in, fan_out)
    return normal(shape, math.sqrt(2.0 / (n_in + n_out)), dtype=dtype)


def xavier_uniform(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[−a, a) with a = √(6/(n_in+n_out)) (Glorot & Bengio 2010, eq. 16)."""
    n_in, n_out = _fans(shape, fan_in, fan_out)
    a = math.sqrt(6.0 / (n_in + n_out))
    return uniform(shape, -a, a, dtype=dtype)


def he(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = √(2/n_in) (He et al. 2015, for ReLU)."""
    n_in, _ = _fans(shape, fan_in, fan_out)
    return normal(shape, math.sqrt(2.0 / n_in), dtype=dtype)


def he_uniform(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[−a, a) with a = √(6/n_in), the uniform law of He's variance 2/n_in."""
    n_in, _ = _fans(shape, fan_in, fan_out)
    a = math.sqrt(6.0 / n_in)
    return uniform(shape, -a, a, dtype=dtype)


def zeros(shape, fan_in=None, fan_out=None, dtype=None):
    """w = 0."""
    return _finish(numpy.zeros(tuple(shape)), dtype)


def ones(shape, fan_in=None, fan_out=None, dtype=None):
    """w = 1."""
    return _finish(numpy.ones(tuple(shape)), dtype)


INITIALIZERS = {
    "uniform": uniform, "gauss": gauss, "normal": gauss, "xavier": xavier, "glorot_normal": glorot_normal,
    "xavier_uniform": xavier_uniform, "he": he, "he_uniform": he_uniform, "zeros": zeros, "ones": ones,
}


def get(spec):
    """The initialiser named ``spec`` (see INITIALIZERS), or ``spec`` itself when callable."""
    if callable(spec):
        return spec
    try:
        return INITIALIZERS[spec]
    except KeyError:
        raise ValueError(f"unknown weight_init {spec!r}; choose one of {', '.join(sorted(INITIALIZERS))} "
                         f"or pass a callable fn(shape, fan_in, fan_out, dtype)") from None
