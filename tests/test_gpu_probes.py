"""Probes on a real GPU of the faults issue #19 found in the GPU path (see GPU_CHECKS.md).

The host simulation models them where it can (test_cuda_graph, test_simulated_gpu, test_cudnn);
these look at what CUDA, CuPy, cuBLAS and cuDNN themselves do, so they run only on a device.
"""
import re

import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor, losses, optim
from dlcore.cuda_graph import CapturedStep
from dlcore.models import MLP

pytestmark = [pytest.mark.gpu, pytest.mark.cuda_only]


@pytest.fixture
def gpu():
    backends.use("cupy")
    return backends.get("cupy")


def _mlp_step(cp):
    """A model, its Momentum optimizer and a training step on fixed device buffers."""
    dlcore.manual_seed(0)
    model = MLP([8, 16, 4])
    opt = optim.Momentum(model, lr=0.1)
    x, t = cp.ones((32, 8), cp.float32), cp.zeros(32, cp.int64)

    def step():
        loss = losses.CrossEntropyLoss()(model(Tensor(x)), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return model, opt, step


def test_1_long_lived_state_is_not_in_the_capture_pool(gpu):
    """Item 1: optimizer state, cached ones rows and the cuBLAS workspace come from CuPy's own pool,
    not the graph's private one (which CuPy < 14.1 frees under them when a step is dropped)."""
    cp = gpu.xp
    assert tuple(map(int, re.match(r"(\d+)\.(\d+)", cp.__version__).groups())) >= (14, 1), cp.__version__
    model, opt, step = _mlp_step(cp)
    captured = CapturedStep(step, restore=(model, opt))
    with cp.cuda.using_allocator(captured.pool.malloc):
        private = cp.empty(1).data.mem.pool()  # the graph pool's allocator, as its allocations name it
    long_lived = [a for bufs in opt.state.values() for a in bufs.values()] + gpu.kept_arrays()
    assert len(long_lived) > 2
    for a in long_lived:
        owner = getattr(a.data.mem, "pool", None)
        assert owner is None or owner() is not private, a.shape


def test_2_the_capture_stream_waits_for_work_queued_before_it(gpu):
    """Item 2: a buffer filled on the current stream behind a ~0.5 s kernel is read by the warm-up
    call on the capture stream only after the fill (a non-blocking stream would not wait)."""
    cp = gpu.xp
    spin = cp.RawKernel(r'''extern "C" __global__ void spin(long long cycles) {
        long long start = clock64(); while (clock64() - start < cycles) {} }''', "spin")
    buf = cp.zeros(1 << 20, cp.float32)
    cp.cuda.Device().synchronize()
    seen = []

    def read():
        seen.append(buf * 1)
        return seen[-1]

    spin((1,), (1,), (numpy.int64(1_000_000_000),))
    buf.fill(1.0)
    CapturedStep(read, warmup=2)
    cp.cuda.Device().synchronize()
    assert len(seen) == 3  # eager, warm-up on the capture stream, captured
    for i in (0, 1):
        assert float(seen[i].min()) == 1.0, f"call {i} read the buffer before it was filled"


def test_3_cublas_allocates_no_workspace_of_its_own_on_a_new_stream(gpu):
    """Item 3: after cublasSetStream_v2 the handle is given dlcore's workspace again, so a GEMM on a
    fresh stream takes no device memory (cuBLAS's own per-stream workspace is 4 MiB or more)."""
    cp = gpu.xp
    a = cp.ones((512, 512), cp.float32)
    out = cp.empty((512, 512), cp.float32)
    gpu.cublas.gemm(a, a, False, False, out, False)  # loads the kernel first
    cp.cuda.Device().synchronize()
    taken = []
    for _ in range(3):
        stream = cp.cuda.Stream(non_blocking=True)
        free = cp.cuda.runtime.memGetInfo()[0]
        with stream:
            gpu.cublas.gemm(a, a, False, False, out, False)
        stream.synchronize()
        taken.append(free - cp.cuda.runtime.memGetInfo()[0])
    assert max(taken) < 2 << 20, taken
    numpy.testing.assert_allclose(cp.asnumpy(out), 512.0)


@pytest.fixture
def cudnn(gpu):
    conv = gpu.convolution(numpy.dtype("float32"))
    if conv is None:
        pytest.skip("the cuDNN frontend is not installed here (pip install -e '.[cudnn]' in the source tree)")
    return conv


def test_4_a_captured_cudnn_workspace_outlives_a_larger_one(gpu, cudnn):
    """Item 4: a graph of a convolution keeps the workspace it captured when a larger batch replaces
    the buffer; its replays still equal the eager convolution."""
    cp = gpu.xp
    rng = numpy.random.default_rng(0)
    w = Tensor(cp.asarray(rng.standard_normal((16, 8, 3, 3)), cp.float32))
    small = cp.asarray(rng.standard_normal((2, 8, 16, 16)), cp.float32)
    captured = CapturedStep(lambda: F.conv2d(Tensor(small), w, padding=1))
    workspace = cudnn.workspace
    F.conv2d(Tensor(cp.asarray(rng.standard_normal((256, 8, 64, 64)), cp.float32)), w, padding=1)
    if cudnn.workspace is not workspace:
        assert any(held is workspace for held in captured.kept_alive)
    expected = cp.asnumpy(F.conv2d(Tensor(small), w, padding=1).data)
    numpy.testing.assert_allclose(cp.asnumpy(captured().data), expected, rtol=1e-5, atol=1e-5)


def test_5_an_unaligned_batch_slice_convolves_on_cudnn(gpu, cudnn):
    """Item 5: x[1:] of 5x5 maps starts 100 bytes in (not on a 16-byte boundary); cuDNN gets an aligned
    copy and the result equals NumPy's."""
    cp = gpu.xp
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((8, 1, 5, 5)).astype(numpy.float32)
    w = rng.standard_normal((4, 1, 3, 3)).astype(numpy.float32)
    view = cp.asarray(x)[1:]
    assert view.data.ptr % 16 != 0
    got = F.conv2d(Tensor(view), Tensor(cp.asarray(w)), padding=1)
    expected = F.conv2d(Tensor(x[1:]), Tensor(w), padding=1)
    numpy.testing.assert_allclose(cp.asnumpy(got.data), expected.data, rtol=1e-4, atol=1e-4)
