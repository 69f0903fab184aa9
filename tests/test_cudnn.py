"""The cuDNN fast path for convolutions agrees with the portable im2col + cuBLAS path on the GPU."""
import numpy
import pytest

import backends
import dlcore.functional as F
from dlcore import Tensor
from tests.cases import all_cases
from tests.harness import run_case

pytestmark = [pytest.mark.gpu, pytest.mark.cuda_only]

CONV_CASES = [case for case in all_cases() if case.name.startswith("conv")]


@pytest.fixture
def cupy_backend():
    backend = backends.get("cupy")
    if backend.convolution(numpy.dtype("float32")) is None:
        pytest.skip("the cuDNN frontend is not installed here (pip install dlcore[cudnn])")
    return backend


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c.name)
def test_cudnn_equals_im2col(case, cupy_backend, monkeypatch):
    y_cudnn, g_cudnn = run_case(case, "cupy", numpy.float32)
    monkeypatch.setattr(cupy_backend, "cudnn_enabled", False)
    y_im2col, g_im2col = run_case(case, "cupy", numpy.float32)
    numpy.testing.assert_allclose(y_cudnn, y_im2col, rtol=case.rtol, atol=case.atol, err_msg="forward")
    for i, (a, b) in enumerate(zip(g_cudnn, g_im2col)):
        numpy.testing.assert_allclose(a, b, rtol=case.rtol, atol=case.atol, err_msg=f"grad {i}")


def test_cudnn_reads_channels_last_inputs(cupy_backend):
    """An input whose memory is NHWC (as the im2col path leaves activations) gives the NCHW result."""
    cupy = cupy_backend.xp
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((4, 8, 10, 10)).astype(numpy.float32)
    w = rng.standard_normal((6, 8, 3, 3)).astype(numpy.float32)
    x_nhwc = cupy.ascontiguousarray(cupy.asarray(x).transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    y = F.conv2d(Tensor(x_nhwc), Tensor(cupy.asarray(w)), stride=2, padding=1)
    expected = F.conv2d(Tensor(x), Tensor(w), stride=2, padding=1)
    numpy.testing.assert_allclose(cupy.asnumpy(y.data), expected.data, rtol=1e-4, atol=1e-4)


def test_cudnn_serves_float32_zero_padding_only(cupy_backend):
    assert cupy_backend.convolution(numpy.dtype("float64")) is None
    assert cupy_backend.convolution(numpy.dtype("float32"), padding_mode="edge") is None


def test_cudnn_plans_follow_the_tf32_switch(cupy_backend):
    """Each setting of the TF32 switch gets plans of its own; both agree with float64 to their precision."""
    cupy = cupy_backend.xp
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((8, 32, 16, 16))
    w = rng.standard_normal((64, 32, 3, 3))
    exact = F.conv2d(Tensor(x), Tensor(w), padding=1).data
    scale = numpy.abs(exact).max()
    errors = {}
    for allowed in (False, True):
        with backends.tf32(allowed):
            y = F.conv2d(Tensor(cupy.asarray(x, numpy.float32)), Tensor(cupy.asarray(w, numpy.float32)), padding=1)
        errors[allowed] = numpy.abs(cupy.asnumpy(y.data) - exact).max() / scale
    plans = cupy_backend.convolution(numpy.dtype("float32"))._plans
    assert {key[-1] for key in plans if key[0] == "fprop" and key[1] == x.shape} == {False, True}
    assert errors[False] < 1e-4 and errors[True] < 5e-3, errors  # float32 engines include Winograd and FFT
