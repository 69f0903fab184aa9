"""The fused CuPy kernels equal their portable bodies run on CuPy (and the switch works)."""
import numpy
import pytest

import backends
from backends import fused

pytestmark = pytest.mark.gpu


def test_switch_forces_portable_bodies_on_cupy():
    from dlcore.ops.activation import _relu_grad

    cp = backends.get("cupy").xp
    gy = cp.asarray(numpy.random.default_rng(0).standard_normal(1000).astype(numpy.float32))
    y = cp.asarray(numpy.random.default_rng(1).standard_normal(1000).astype(numpy.float32))
    with fused.FUSED.scoped(True):
        with_kernel = _relu_grad(cp, gy, y)
        with fused.FUSED.scoped(False):
            portable = _relu_grad(cp, gy, y)
    assert _relu_grad.kernel_module is cp and _relu_grad.kernel is not None  # the fused body ran
    numpy.testing.assert_array_equal(cp.asnumpy(with_kernel), cp.asnumpy(portable))


def test_relu_backward_on_cupy_runs_the_fused_kernel_not_the_compiled_cpu_loop():
    """ReLU's gradient has a Numba loop for NumPy arrays (dlcore.ops.activation_cpu); a CuPy array takes the fused
    kernel, and the gradient of an NHWC-memory map keeps its values."""
    import dlcore
    from backends import compiled
    from dlcore.ops.activation import _relu_grad

    cp = backends.get("cupy").xp
    x = numpy.random.default_rng(2).standard_normal((2, 5, 4, 3)).astype(numpy.float32)
    x = numpy.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)  # NHWC memory, NCHW indices
    assert not compiled.runs_on(cp)
    _relu_grad.kernel_module = None
    xt = dlcore.tensor(cp.asarray(x), requires_grad=True)
    with fused.FUSED.scoped(True):
        dlcore.functional.relu(xt).backward(cp.ones(x.shape, cp.float32))
    assert _relu_grad.kernel_module is cp  # the fused body ran
    numpy.testing.assert_array_equal(cp.asnumpy(xt.grad), (x > 0).astype(numpy.float32))
