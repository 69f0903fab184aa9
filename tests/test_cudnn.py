"""The cuDNN fast path for convolutions agrees with the portable im2col + cuBLAS path on the GPU.

The last tests, of what ``backends.cudnn_conv`` decides about operand alignment and workspace lifetime,
run on CuPy arrays with a stand-in for the frontend, so they also run on the host simulation.
"""
import sys
import types

import numpy
import pytest

import backends
import dlcore.functional as F
from backends.cudnn_conv import CudnnConvolution, contiguous, packed
from dlcore import Tensor
from dlcore.cuda_graph import CapturedStep
from tests.cases import all_cases
from tests.harness import run_case

pytestmark = pytest.mark.gpu
cuda_only = pytest.mark.cuda_only

CONV_CASES = [case for case in all_cases() if case.name.startswith("conv")]


@pytest.fixture
def cupy_backend():
    backend = backends.get("cupy")
    if backend.convolution(numpy.dtype("float32")) is None:
        pytest.skip("the cuDNN frontend is not installed here (pip install -e '.[cudnn]' in the source tree)")
    return backend


@cuda_only
@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: c.name)
def test_cudnn_equals_im2col(case, cupy_backend, monkeypatch):
    y_cudnn, g_cudnn = run_case(case, "cupy", numpy.float32)
    monkeypatch.setattr(cupy_backend, "cudnn_enabled", False)
    y_im2col, g_im2col = run_case(case, "cupy", numpy.float32)
    numpy.testing.assert_allclose(y_cudnn, y_im2col, rtol=case.rtol, atol=case.atol, err_msg="forward")
    for i, (a, b) in enumerate(zip(g_cudnn, g_im2col)):
        numpy.testing.assert_allclose(a, b, rtol=case.rtol, atol=case.atol, err_msg=f"grad {i}")


@cuda_only
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


@cuda_only
def test_cudnn_serves_float32_zero_padding_only(cupy_backend):
    assert cupy_backend.convolution(numpy.dtype("float64")) is None
    assert cupy_backend.convolution(numpy.dtype("float32"), padding_mode="edge") is None


@cuda_only
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
    plans = cupy_backend.convolution(numpy.dtype("float32")).plans
    assert {key[-1] for key in plans if key[0] == "fprop" and key[1] == x.shape} == {False, True}
    assert errors[False] < 1e-4 and errors[True] < 5e-3, errors  # float32 engines include Winograd and FFT


def test_operands_off_a_16_byte_boundary_reach_cudnn_as_aligned_copies():
    """The frontend builds its tensors for 16-byte aligned data. A batch slice of maps of 9 floats
    (36 bytes) starts 4, 8 or 12 bytes off the boundary unless the offset is a multiple of 4 maps,
    and a channel slice of an N = 1 map (12 bytes a channel) likewise: those are copied, C-contiguous
    and aligned; aligned packed views pass as they are. Filters the same."""
    cupy = backends.get("cupy").xp
    x = cupy.asarray(numpy.arange(8 * 9, dtype=numpy.float32).reshape(8, 1, 3, 3))
    assert x.data.ptr % 16 == 0  # CuPy allocates on 512-byte boundaries
    for start in range(5):
        view = x[start:]
        given = packed(cupy, view)
        assert (given is view) == (start % 4 == 0), start
        assert given.data.ptr % 16 == 0 and given.flags.c_contiguous
        numpy.testing.assert_array_equal(cupy.asnumpy(given), cupy.asnumpy(view))
    channels = cupy.asarray(numpy.arange(9, dtype=numpy.float32).reshape(1, 3, 1, 3))[:, 1:]
    assert channels.flags.c_contiguous and packed(cupy, channels) is not channels
    assert packed(cupy, channels).data.ptr % 16 == 0
    w = cupy.asarray(numpy.ones((3, 3, 1, 1), numpy.float32))
    assert contiguous(cupy, w) is w and contiguous(cupy, w[1:]) is not w[1:]  # 3 floats a filter
    assert contiguous(cupy, w[1:]).data.ptr % 16 == 0


class _Frontend(types.ModuleType):
    """Stands in for the ``cudnn`` package: what ``CudnnConvolution`` calls besides its plans."""

    def __init__(self):
        super().__init__("cudnn")
        self.streams = []

    def create_handle(self):
        return object()

    def backend_version_string(self):
        return "stand-in"

    def set_stream(self, handle, stream):
        self.streams.append(stream)


class _Plan:
    """A built plan that asks for ``workspace_bytes`` and notes the workspace address of each execution."""

    def __init__(self, workspace_bytes):
        self.workspace_bytes, self.workspaces = workspace_bytes, []

    def execute(self, pointers, workspace, handle):
        self.workspaces.append(workspace)


def test_a_workspace_a_graph_captured_lives_as_long_as_the_graph(monkeypatch):
    """A graph writes into the workspace address it captured on every replay. When a later eager call
    needs a larger workspace and replaces the buffer, the captured one must not go back to the pool:
    the captured step holds it."""
    backends.use("cupy")
    cupy = backends.get("cupy").xp
    monkeypatch.setitem(sys.modules, "cudnn", _Frontend())
    conv = CudnnConvolution(cupy, workspace_limit=0)
    plans = {}
    monkeypatch.setattr(conv, "build_plan", lambda op, a, *_: plans.setdefault(a.shape, _Plan(a.shape[0] * 1024)))
    w = cupy.ones((2, 1, 3, 3), numpy.float32)
    small = cupy.ones((2, 1, 4, 4), numpy.float32)
    step = CapturedStep(lambda: conv.forward(small, w, (1, 1), (1, 1), (1, 1)) + 1)
    captured = conv.workspace
    assert plans[small.shape].workspaces[-1] == captured.data.ptr  # the address the graph holds
    conv.forward(cupy.ones((8, 1, 4, 4), numpy.float32), w, (1, 1), (1, 1), (1, 1))
    assert conv.workspace is not captured and conv.workspace.size == 8 * 1024  # replaced by a larger one
    assert any(held is captured for held in step.kept_alive)
