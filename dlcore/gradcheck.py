"""Numerical gradient check by central differences."""
from __future__ import annotations

import numpy

import backends
from dlcore.core import Tensor


def numerical_grad(fn, inputs, weight, eps):
    """∂/∂xᵢ Σ weight·fn(x) for each float input, by (E(x+ε) − E(x−ε)) / 2ε per element."""
    grads = []
    for x in inputs:
        g = numpy.zeros(x.shape, dtype=numpy.float64)
        for i in range(x.size):
            idx = numpy.unravel_index(i, x.shape)
            old = x.data[idx].copy()
            x.data[idx] = old + eps
            plus = _weighted(fn, inputs, weight)
            x.data[idx] = old - eps
            minus = _weighted(fn, inputs, weight)
            x.data[idx] = old
            g[idx] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _weighted(fn, inputs, weight) -> float:
    out = fn(*inputs)
    return float(numpy.sum(backends.to_numpy(out.data).astype(numpy.float64) * weight))


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-4, seed: int = 0) -> bool:
    """Check the backward pass of ``fn(*inputs)`` against central differences.

    Every input is a float64 NumPy array or Tensor (Parameters included: pass a layer's
    parameters as extra inputs and ignore them in ``fn``, they are perturbed in place).
    The scalar checked is E = Σ w ⊙ fn(x) with fixed random weights w, so every output
    element is tested. Numerical: ∂E/∂xᵢ ≈ (E(xᵢ+ε) − E(xᵢ−ε)) / 2ε. Returns True or raises
    AssertionError naming the input, the worst element and both values.
    """
    tensors = [x if isinstance(x, Tensor) else Tensor(numpy.array(x, dtype=numpy.float64)) for x in inputs]
    for i, t in enumerate(tensors):
        if t.dtype != numpy.float64:
            raise TypeError(f"gradcheck needs float64 inputs (central differences lose digits in float32); "
                            f"input {i} is {t.dtype}")
        t.requires_grad = True
        t.grad = None
    out = fn(*tensors)
    weight = numpy.random.default_rng(seed).standard_normal(out.shape)
    out.backward(backends.backend_of(out.data).from_numpy(weight.astype(out.dtype)))
    analytic = [numpy.zeros(t.shape) if t.grad is None else backends.to_numpy(t.grad) for t in tensors]
    numeric = numerical_grad(fn, tensors, weight, eps)
    for i, (a, n) in enumerate(zip(analytic, numeric)):
        err = numpy.abs(a - n) - (atol + rtol * numpy.abs(n))
        if err.size and err.max() > 0:
            worst = numpy.unravel_index(numpy.argmax(err), err.shape)
            raise AssertionError(f"gradcheck failed for input {i} (shape {a.shape}) at {worst}: "
                                 f"backward gives {a[worst]:.8g}, central difference gives {n[worst]:.8g} "
                                 f"(atol={atol}, rtol={rtol})")
    return True
