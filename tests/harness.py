"""Run a test case on one backend and dtype, from host-made inputs, and bring results home."""
from __future__ import annotations

import numpy

import backends
import dlcore
from dlcore import Tensor


def host_inputs(case, seed=0):
    """The case's inputs as a tuple of host arrays (``make`` may return one array or a tuple)."""
    made = case.make(numpy.random.default_rng(seed))
    return (made,) if isinstance(made, numpy.ndarray) else tuple(numpy.asarray(a) for a in made)


def forward_backward(case, backend: str, dtype, seed: int = 0):
    """Forward and backward of ``case`` on ``backend``, left there: (output tensor, input tensors or arrays).

    The output gradient is a fixed random array made on the host, so both backends see the
    same numbers.
    """
    arrays = host_inputs(case, seed)
    tensors = [Tensor(backends.to_device(a.astype(dtype), backend), requires_grad=True)
               if a.dtype.kind == "f" else backends.to_device(a, backend) for a in arrays]
    y = case.fn(*tensors)
    gy = numpy.random.default_rng(seed + 1).standard_normal(y.shape).astype(y.dtype)
    if case.gradcheck or any(isinstance(t, Tensor) for t in tensors):
        y.backward(backends.to_device(gy, backend))
    return y, tensors


def run_case(case, backend: str, dtype, seed: int = 0):
    """``forward_backward`` brought home: (output, [grad per float input]) as NumPy."""
    y, tensors = forward_backward(case, backend, dtype, seed)
    grads = [None if not isinstance(t, Tensor) or t.grad is None else backends.to_numpy(t.grad) for t in tensors]
    return backends.to_numpy(y.data), grads


def module_forward_backward(case, backend: str, dtype, seed: int = 0):
    """Forward and backward of a layer on ``backend``, left there: (layer, input tensor, output tensor).

    The layer is built on the host under ``dtype`` and moved, so both backends start from
    the same weights.
    """
    backends.use("numpy")
    dlcore.manual_seed(seed)
    with dlcore.default_dtype(dtype):
        layer = case.factory()
    layer.to(backend)
    rng = numpy.random.default_rng(seed)
    x_host = rng.standard_normal(case.input_shape)
    if case.input_kind == "away_from_zero":
        x_host = numpy.where(numpy.abs(x_host) < 0.1, 0.1, x_host)
    x = Tensor(backends.to_device(x_host.astype(dtype), backend), requires_grad=True)
    y = layer(x)
    gy = rng.standard_normal(y.shape).astype(dtype)
    y.backward(backends.to_device(gy, backend))
    return layer, x, y


def run_module_case(case, backend: str, dtype, seed: int = 0):
    """``module_forward_backward`` brought home: (output, input grad, {param name: grad}) as NumPy, the
    dict holding the parameters that got a gradient (an encoder leaves its decoder's without one)."""
    layer, x, y = module_forward_backward(case, backend, dtype, seed)
    grads = {name: backends.to_numpy(p.grad) for name, p in layer.named_parameters() if p.grad is not None}
    return backends.to_numpy(y.data), backends.to_numpy(x.grad), grads
