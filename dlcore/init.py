"""Weight initialisers.

Each initialiser is ``fn(shape, fan_in=None, fan_out=None, dtype=None)`` and returns an
array on the active backend, drawn from the seeded host generator (``dlcore.manual_seed``),
so one seed gives the same initial weights on CPU and GPU. Fans default to the layouts of
this library: a dense weight (n_in, n_out) has fan_in = n_in; a convolution weight
(out, in, kh, kw) has fan_in = in·kh·kw and fan_out = out·kh·kw.

Layers take ``weight_init="he"`` (a name below) or any callable with that signature.

Arguments are checked on entry, errors naming the initialiser: ``shape`` is an int or a
tuple/list of ints ≥ 0, ``fan_in``/``fan_out`` None or ints ≥ 1, ``dtype`` None or a
numeric NumPy dtype.
"""
from __future__ import annotations

import functools
import inspect
import math
import numbers

import numpy

import backends
from dlcore import checks, modes
from dlcore.checks import ArgumentTypeError, ArgumentValueError
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
    dtype = dtype if dtype is not None else modes.get_default_dtype()
    return backends.current().from_numpy(host.astype(dtype, copy=False))


def _checked_shape(owner: str, shape) -> tuple[int, ...]:
    """``shape`` (an int or a sequence of ints ≥ 0) as a tuple of Python ints, or the error naming ``owner``."""
    if isinstance(shape, numbers.Integral):
        shape = (shape,)
    try:
        sizes = tuple(shape)
    except TypeError:
        raise ArgumentTypeError(f"{owner}: shape must be a tuple of ints, got {type(shape).__name__}") from None
    return tuple(checks.integer(owner, f"shape[{i}]", n, minimum=0) for i, n in enumerate(sizes))


def _initializer(uses_fans: bool):
    """Decorator: check the initialiser's ``shape``, ``fan_in``, ``fan_out`` and ``dtype`` on entry
    (errors name it) and hand them on clean; with ``uses_fans`` a fan left None is filled in
    from the shape (``fans``)."""
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            given, name = bound.arguments, fn.__name__
            given["shape"] = _checked_shape(name, given["shape"])
            for key in ("fan_in", "fan_out"):
                if given.get(key) is not None:
                    given[key] = checks.integer(name, key, given[key], minimum=1)
            if uses_fans:
                for key, derived in zip(("fan_in", "fan_out"), fans(given["shape"])):
                    if given[key] is None:  # a fan of 0 means a zero-size weight: nothing is drawn
                        given[key] = max(derived, 1)
            if given["dtype"] is not None:
                given["dtype"] = checks.dtype(name, "dtype", given["dtype"])
            return fn(*bound.args, **bound.kwargs)
        return checked
    return decorate


@_initializer(uses_fans=False)
def normal(shape, std=1.0, mean=0.0, dtype=None):
    """w ~ N(mean, std²); std ≥ 0."""
    std = checks.finite_number("normal", "std", std, within="[0, inf)")
    mean = checks.finite_number("normal", "mean", mean)
    return _finish(host_generator().normal(mean, std, size=shape), dtype)


@_initializer(uses_fans=False)
def uniform(shape, low=-1.0, high=1.0, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[low, high), U[−1, 1) by default (the course's uniform initialisation); low ≤ high."""
    low, high = checks.finite_number("uniform", "low", low), checks.finite_number("uniform", "high", high)
    if low > high:
        raise ArgumentValueError(f"uniform: low ({low}) must be <= high ({high})")
    return _finish(host_generator().uniform(low, high, size=shape), dtype)


@_initializer(uses_fans=False)
def gauss(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, 1) (the course's Gaussian initialisation)."""
    return normal(shape, 1.0, dtype=dtype)


@_initializer(uses_fans=True)
def xavier(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = 1/√n_in — the course's "Xavier" initialisation.

    Glorot & Bengio derive σ = 1/√n_in for the forward signal alone (also known as LeCun
    normal); their compromise between forward and backward, σ = √(2/(n_in+n_out)), is
    ``glorot_normal``; their uniform version is ``xavier_uniform``.
    """
    return normal(shape, 1.0 / math.sqrt(fan_in), dtype=dtype)


@_initializer(uses_fans=True)
def glorot_normal(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = √(2/(n_in+n_out)) (Glorot & Bengio 2010, eq. 12 in normal form)."""
    return normal(shape, math.sqrt(2.0 / (fan_in + fan_out)), dtype=dtype)


@_initializer(uses_fans=True)
def xavier_uniform(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[−a, a) with a = √(6/(n_in+n_out)) (Glorot & Bengio 2010, eq. 16)."""
    a = math.sqrt(6.0 / (fan_in + fan_out))
    return uniform(shape, -a, a, dtype=dtype)


@_initializer(uses_fans=True)
def he(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, σ²) with σ = √(2/n_in) (He et al. 2015, for ReLU)."""
    return normal(shape, math.sqrt(2.0 / fan_in), dtype=dtype)


@_initializer(uses_fans=True)
def he_uniform(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ U[−a, a) with a = √(6/n_in), the uniform law of He's variance 2/n_in."""
    a = math.sqrt(6.0 / fan_in)
    return uniform(shape, -a, a, dtype=dtype)


@_initializer(uses_fans=False)
def zeros(shape, fan_in=None, fan_out=None, dtype=None):
    """w = 0."""
    return _finish(numpy.zeros(shape), dtype)


@_initializer(uses_fans=False)
def ones(shape, fan_in=None, fan_out=None, dtype=None):
    """w = 1."""
    return _finish(numpy.ones(shape), dtype)


INITIALIZERS = {
    "uniform": uniform, "gauss": gauss, "normal": gauss, "xavier": xavier, "glorot_normal": glorot_normal,
    "xavier_uniform": xavier_uniform, "he": he, "he_uniform": he_uniform, "zeros": zeros, "ones": ones,
}


def get(spec, owner: str = "init.get"):
    """The initialiser named ``spec`` (see INITIALIZERS), or ``spec`` itself when callable;
    ``owner`` (the layer asking) starts the error for an unknown name."""
    if callable(spec):
        return spec
    return INITIALIZERS[checks.choice(owner, "weight_init", spec, INITIALIZERS,
                                      "or a callable fn(shape, fan_in, fan_out, dtype)")]
