"""CPU vs GPU: every op and layer, forward and backward, float32, from the same host inputs."""
import numpy
import pytest

from tests.cases import all_cases, all_module_cases
from tests.harness import run_case, run_module_case

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_op_parity(case):
    y_cpu, g_cpu = run_case(case, "numpy", numpy.float32)
    y_gpu, g_gpu = run_case(case, "cupy", numpy.float32)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name} forward")
    for i, (a, b) in enumerate(zip(g_gpu, g_cpu)):
        assert (a is None) == (b is None)
        if a is not None:
            numpy.testing.assert_allclose(a, b, rtol=case.rtol, atol=case.atol, err_msg=f"{case.name} grad {i}")


@pytest.mark.parametrize("case", all_module_cases(), ids=lambda c: c.name)
def test_module_parity(case):
    y_cpu, gx_cpu, gp_cpu = run_module_case(case, "numpy", numpy.float32)
    y_gpu, gx_gpu, gp_gpu = run_module_case(case, "cupy", numpy.float32)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=case.rtol, atol=case.atol)
    numpy.testing.assert_allclose(gx_gpu, gx_cpu, rtol=case.rtol, atol=case.atol)
    assert gp_gpu.keys() == gp_cpu.keys()
    for name in gp_cpu:
        numpy.testing.assert_allclose(gp_gpu[name], gp_cpu[name], rtol=case.rtol, atol=case.atol, err_msg=name)
