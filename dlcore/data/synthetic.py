"""Generated data sets of the course: XOR, the playground's two spirals, a noisy sine.

Each returns NumPy arrays ``(x, y)``: x float32 of shape (n, features); y int64 class
labels, or float32 targets of shape (n, 1) for regression. Seeded: same seed, same data.
"""
from __future__ import annotations

import math
import numbers

import numpy

from dlcore import checks


def _check(fn: str, n, noise, seed, minimum: int = 1) -> int:
    """n as a Python int, or the error naming the generator, the argument and its value: the checks'
    TypeError/ValueError for n and seed, a ValueError for a noise that is not a finite number ≥ 0."""
    n = checks.integer(fn, "n (the number of samples)", n, minimum=minimum)
    checks.integer(fn, "seed", seed, minimum=0)
    if isinstance(noise, bool) or not isinstance(noise, numbers.Real) or not (0 <= noise < math.inf):
        raise checks.ArgumentValueError(f"{fn}: noise (a standard deviation) must be a finite number ≥ 0, "
                                        f"got {noise!r}")
    return n


def xor(n: int = 200, noise: float = 0.1, seed: int = 0):
    """Points around the four corners of the unit square; class = x₁ XOR x₂.

    ``n`` samples, each corner (a, b) ∈ {0,1}² with Gaussian noise of std ``noise``;
    label a XOR b. With n ≤ 4 and noise 0 it is exactly the truth table.

    Example::

        >>> x, y = data.xor(4, noise=0.0)    # the truth table
        >>> print(x, y)
        [[0. 0.]
         [0. 1.]
         [1. 0.]
         [1. 1.]] [0 1 1 0]
        >>> data.xor(200)[0].shape
        (200, 2)
    """
    n = _check("xor", n, noise, seed)
    rng = numpy.random.default_rng(seed)
    corners = numpy.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=numpy.float64)
    which = numpy.arange(n) % 4
    x = corners[which] + noise * rng.standard_normal((n, 2))
    y = (corners[which, 0] != corners[which, 1]).astype(numpy.int64)
    return x.astype(numpy.float32), y


def spiral(n: int = 400, noise: float = 0.1, turns: float = 1.75, seed: int = 0):
    """The TensorFlow playground's two interleaved spirals; ``n`` points, half per arm.

    Arm k ∈ {0, 1} at parameter s ∈ [0, 1): radius r = s, angle θ = 2π·turns·s + kπ,
    point (r cos θ, r sin θ) plus Gaussian noise of std noise·r; label k.

    Example::

        >>> x, y = data.spiral(400, noise=0.1)
        >>> x.shape, np.bincount(y)
        ((400, 2), array([200, 200]))
        >>> bool(np.abs(x).max() < 1.5)    # radii up to 1, plus noise
        True
    """
    n = _check("spiral", n, noise, seed, minimum=2)
    turns = checks.finite_number("spiral", "turns", turns)
    rng = numpy.random.default_rng(seed)
    half = n // 2
    s = numpy.tile(numpy.linspace(0.0, 1.0, half, endpoint=False), 2)
    k = numpy.repeat(numpy.arange(2), half)
    theta = 2 * numpy.pi * turns * s + k * numpy.pi
    x = numpy.stack([s * numpy.cos(theta), s * numpy.sin(theta)], axis=1)
    x += noise * s[:, None] * rng.standard_normal(x.shape)
    order = rng.permutation(2 * half)
    return x[order].astype(numpy.float32), k[order].astype(numpy.int64)


def sine(n: int = 200, noise: float = 0.05, seed: int = 0):
    """y = sin 2πx + N(0, noise²) for x uniform on [0, 1]; x and y of shape (n, 1), float32.

    Example::

        >>> x, y = data.sine(100, noise=0.0)
        >>> x.shape, y.shape, x.dtype
        ((100, 1), (100, 1), dtype('float32'))
        >>> np.allclose(y, np.sin(2 * np.pi * x), atol=1e-6)
        True
    """
    n = _check("sine", n, noise, seed)
    rng = numpy.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, (n, 1))
    y = numpy.sin(2 * numpy.pi * x) + noise * rng.standard_normal((n, 1))
    return x.astype(numpy.float32), y.astype(numpy.float32)


DATASETS = {"xor": xor, "spiral": spiral, "sine": sine}
