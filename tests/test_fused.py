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
