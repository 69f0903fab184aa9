"""Each fused CUDA body computes what its portable body computes, checked on the CPU.

The GPU parity suite compares the fused kernels with NumPy, but only where a GPU is lent.
Here every fused body is compiled as C++ and run on NumPy arrays the way CuPy runs it
(``tests/fused_kernels.py``), in place of the portable body, through the GPU suite's
scenarios (every op case and layer case, every optimizer's update, dropout, the 200-step
training runs) and edge cases besides (ties in max pooling, labels outside the classes or of
narrow types). For each kernel, every scenario that reaches it must give the portable result:
in float32 within the case's CPU-vs-GPU tolerances, in float64 to 1e-10. A kernel no scenario
reaches fails too.
"""
import numpy
import pytest

import backends
import dlcore
from backends.fused import Elementwise
from dlcore import Tensor, optim
from dlcore import functional as F
from dlcore.nn import Parameter
from tests.cases import all_cases, all_module_cases
from tests.fused_kernels import HostKernels, fused_kernels
from tests.harness import run_case, run_module_case

pytestmark = pytest.mark.skipif(HostKernels.compiler is None, reason="no C++ compiler (c++ or g++) on PATH")

KERNELS = fused_kernels()
FLOAT64_TOLERANCE = dict(rtol=1e-10, atol=1e-12)


def _optimizer_run(name, make):
    """Parameters after three updates of ``make(params)`` on fixed gradients, with weight decay and l1."""
    def run(dtype):
        rng = numpy.random.default_rng(0)
        params = [Parameter(rng.standard_normal(shape).astype(dtype)) for shape in ((3, 5), (5,))]
        opt = make(params)
        for _ in range(3):
            for p in params:
                p.grad = rng.standard_normal(p.shape).astype(dtype)
            opt.step()
        return [p.data for p in params]
    return f"optimizer {name}", run, dict(rtol=1e-5, atol=1e-6)


def _dropout(dtype):
    rng = numpy.random.default_rng(0)
    x = Tensor(rng.standard_normal((4, 6)).astype(dtype), requires_grad=True)
    y = F.dropout(x, 0.3, training=True, mask=rng.random((4, 6)) >= 0.3)
    y.backward(numpy.ones_like(y.data))
    return [y.data, x.grad]


def _max_pool_ties(dtype):
    """Windows holding their maximum twice (values from {0, 1, 2}): the first arg-max gets the gradient."""
    x = Tensor(numpy.random.default_rng(0).integers(0, 3, (2, 3, 7, 7)).astype(dtype), requires_grad=True)
    y = F.max_pool2d(x, 3, 2, 1)
    y.backward(numpy.arange(y.data.size, dtype=dtype).reshape(y.shape))
    return [y.data, x.grad]


def _labels_out_of_range(dtype):
    """Cross-entropy's unchecked device path: labels −1 and C give NaN, the other rows their loss; in
    the gradient, their rows get no one-hot."""
    from dlcore.ops.loss import _softmax_ce, _softmax_ce_grad

    x = numpy.random.default_rng(0).standard_normal((4, 3)).astype(dtype)
    t = numpy.array([2, -1, 3, 0])
    loss, m, ls = _softmax_ce(numpy, x, t, 3, *(numpy.empty(4, dtype) for _ in range(3)))
    return [loss, m, ls, _softmax_ce_grad(numpy, x, m, ls, t, numpy.ones(1, dtype), dtype(0.25), 3, 0)]


def _narrow_labels(dtype):
    """Cross-entropy with uint8 and int16 labels (any integer type is accepted; the kernel is built per type)."""
    from dlcore import losses

    out = []
    for label_type in (numpy.uint8, numpy.int16):
        y = Tensor(numpy.random.default_rng(0).standard_normal((5, 4)).astype(dtype), requires_grad=True)
        loss = losses.CrossEntropyLoss()(y, numpy.array([3, 0, 1, 2, 3], label_type))
        loss.backward()
        out += [loss.data, y.grad]
    return out


def _training_run(dtype):
    """The GPU suite's 200-step training run (momentum, then Adam) on a spiral: losses and final weights."""
    from tests.test_gpu_training import _train

    out = []
    for make in (lambda m: optim.Momentum(m, lr=0.05), lambda m: optim.Adam(m, lr=0.01)):
        losses, params = _train("numpy", make, dtype=dtype)
        out += [losses, *params.values()]
    return out


def _scenarios():
    """(name, run(dtype) → list of NumPy arrays, float32 tolerances) for every scenario."""
    out = [(f"op {c.name}", lambda dtype, c=c: (lambda y, gs: [y, *gs])(*run_case(c, "numpy", dtype)),
            dict(rtol=c.rtol, atol=c.atol)) for c in all_cases()]
    out += [(f"layer {c.name}", lambda dtype, c=c: (lambda y, gx, gp: [y, gx, *gp.values()])(
        *run_module_case(c, "numpy", dtype)), dict(rtol=c.rtol, atol=c.atol)) for c in all_module_cases()]
    out += [_optimizer_run(name, make) for name, make in {
        "SGD": lambda p: optim.SGD(p, lr=0.1, weight_decay=0.01, l1=0.01),
        "Momentum": lambda p: optim.Momentum(p, lr=0.1, momentum=0.9, weight_decay=0.01),
        "Nesterov": lambda p: optim.Nesterov(p, lr=0.1, momentum=0.9, l1=0.01),
        "AdaGrad": lambda p: optim.AdaGrad(p, lr=0.1, eps=1e-3),
        "RMSprop": lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-3),
        "Adam": lambda p: optim.Adam(p, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-3, weight_decay=0.01)}.items()]
    out += [("dropout", _dropout, dict(rtol=1e-6, atol=0)), ("max pool with ties", _max_pool_ties, dict(rtol=0, atol=0)),
            ("labels out of range", _labels_out_of_range, dict(rtol=1e-6, atol=1e-6)),
            ("narrow label types", _narrow_labels, dict(rtol=1e-6, atol=1e-6)),
            ("200 training steps", _training_run, dict(rtol=1e-4, atol=1e-3))]
    return out


@pytest.fixture(scope="module")
def runs(host_kernel_dir):
    """{scenario: (float32 tolerances, kernels it ran, {dtype: (portable results, fused results)})}."""
    host = HostKernels(str(host_kernel_dir))
    portable_call = Elementwise.__call__

    def fused_on_host(kernel, xp, *args):
        return host(kernel, *args) if xp is numpy else portable_call(kernel, xp, *args)

    out = {}
    for name, run, tolerance in _scenarios():
        results = {}
        for dtype in (numpy.float32, numpy.float64):
            backends.use("numpy")
            dlcore.manual_seed(0)
            portable = run(dtype)
            host.calls.clear()
            Elementwise.__call__ = fused_on_host
            try:
                dlcore.manual_seed(0)
                fused = run(dtype)
            finally:
                Elementwise.__call__ = portable_call
            results[dtype] = (portable, fused)
        out[name] = (tolerance, set(host.calls), results)
    return out


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_fused_body_equals_portable_body(kernel, runs):
    reached = {name: run for name, run in runs.items() if kernel in run[1]}
    assert reached, f"no scenario runs {kernel}: add an op, layer or optimizer case that reaches it"
    for name, (tolerance, _, results) in reached.items():
        for dtype, (portable, fused) in results.items():
            assert len(portable) == len(fused)
            for i, (a, b) in enumerate(zip(portable, fused)):
                assert (a is None) == (b is None), f"{kernel} in {name}: a gradient on one path only"
                if a is None:
                    continue
                numpy.testing.assert_allclose(
                    b, a, **(tolerance if dtype is numpy.float32 else FLOAT64_TOLERANCE),
                    err_msg=f"{kernel} in {name}, {numpy.dtype(dtype)}, result {i}")


def test_a_wrong_fused_body_is_caught(tmp_path):
    """The host path runs the CUDA body, not the portable one: a body with a wrong formula differs."""
    from dlcore.ops.activation import _relu_grad

    wrong = Elementwise(_relu_grad.portable, _relu_grad.in_params, _relu_grad.out_params,
                        "gx = y >= 0 ? gy : (T)0", "relu_grad_wrong_at_zero")
    gy, y = numpy.ones(3, numpy.float32), numpy.array([-1.0, 0.0, 2.0], numpy.float32)
    host = HostKernels(str(tmp_path))
    numpy.testing.assert_array_equal(host(_relu_grad, gy, y), [0, 0, 1])
    numpy.testing.assert_array_equal(host(wrong, gy, y), [0, 1, 1])
    numpy.testing.assert_array_equal(_relu_grad.portable(numpy, gy, y), [0, 0, 1])
