"""No host synchronisation inside a training step, checked on the host simulation of CuPy.

DESIGN's first performance rule: a step never waits for the GPU; losses and metrics reach the
host at log time. On a GPU a stray ``float(loss)`` or ``if xp.any(...)`` costs a stall and no
error, so it is caught here instead, where every host read of a device value raises inside
``forbid_host_syncs()`` (``tests/simulated_cupy.py``): every op and layer forward and backward,
a training step of every model family under every optimizer, RBM and autoencoder steps, and
the Trainer, whose reads must not grow with the number of steps in an epoch. The first tests
check that the simulation catches what it claims to.
"""
import ctypes

import numpy
import pytest

import backends
import backends.fused
import dlcore
from dlcore import Tensor, losses, models, optim
from dlcore.data import ArrayLoader, spiral
from dlcore.training import Trainer
from dlcore.unsupervised import RBM, StackedAutoencoder
from tests.cases import all_cases, all_module_cases
from tests.fused_kernels import HostKernels
from tests.harness import forward_backward, module_forward_backward
from tests.simulated_cupy import SYNCS, DeviceArray, HostSyncError, forbid_host_syncs, simulated_gpu

pytestmark = pytest.mark.skipif(HostKernels.compiler is None, reason="no C++ compiler for the simulated kernels")


@pytest.fixture
def gpu(host_kernel_dir):
    """The simulated CuPy backend, active; SYNCS emptied."""
    with simulated_gpu(host_kernel_dir) as backend:
        backends.use("cupy")
        SYNCS.events.clear()
        yield backend


# ---- the simulation itself -------------------------------------------------------------------

def test_reads_of_device_values_are_caught(gpu):
    a = gpu.from_numpy(numpy.array([1.0, -2.0, 3.0], numpy.float32))
    total = a.sum()
    assert isinstance(total, DeviceArray) and total.shape == ()  # a 0-d device array, as CuPy gives
    assert isinstance(a[0], DeviceArray)
    reads = {"float()": lambda: float(total), "bool()": lambda: bool(total > 0), "item()": total.item,
             "int()": lambda: int(a[2]), "tolist()": a.tolist, "boolean-mask": lambda: a[a > 0],
             "cupy.nonzero": lambda: gpu.xp.nonzero(a), "cupy.asnumpy": lambda: backends.to_numpy(a),
             "synchronize": gpu.synchronize}
    for what, read in reads.items():
        with forbid_host_syncs(), pytest.raises(HostSyncError, match="read on the host"):
            read()
        read()
        assert what in SYNCS.events[-1]


def test_what_cupy_refuses_is_refused(gpu):
    xp = gpu.xp
    a = gpu.from_numpy(numpy.ones((2, 3), numpy.float32))
    with pytest.raises(AttributeError, match="CuPy .* lacks it"):
        xp.errstate  # noqa: B018  (NumPy has it, CuPy does not)
    with pytest.raises(AttributeError, match="'cupy.ndarray' object has no attribute 'ctypes'"):
        a.ctypes  # noqa: B018
    assert not hasattr(a.flags, "writeable")
    with pytest.raises(TypeError, match="a NumPy array of shape \\(2, 3\\)"):
        a + numpy.ones((2, 3), numpy.float32)
    with pytest.raises(TypeError, match="a NumPy array"):
        xp.concatenate([a, numpy.ones((2, 3), numpy.float32)])
    with pytest.raises(TypeError, match="takes \\(a, axis, dtype, out, keepdims\\)"):
        xp.sum(a, where=a > 0)
    with pytest.raises(TypeError, match="cupy.multiply: .* only the keywords \\['out', 'dtype', 'casting'\\]"):
        xp.multiply(a, 2, where=a > 0)
    host = numpy.zeros(3, numpy.float32)
    moved = gpu.from_numpy(host)
    moved += 1
    assert host.tolist() == [0, 0, 0]  # copied to the device, not aliased


@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_gemms_run_through_the_cublas_binding_on_host_cublas(gpu, dtype):
    """``backends.cublas`` (row-major GEMMs as cuBLAS's column-major ones) on the simulation's cuBLAS."""
    rng = numpy.random.default_rng(0)
    rtol = 1e-6 if dtype == numpy.float32 else 1e-12
    for trans_a in (False, True):
        for trans_b in (False, True):
            a = rng.standard_normal((5, 3) if trans_a else (3, 5)).astype(dtype)
            b = rng.standard_normal((4, 5) if trans_b else (5, 4)).astype(dtype)
            out = gpu.gemm(gpu.from_numpy(a), gpu.from_numpy(b), trans_a, trans_b)
            expected = (a.T if trans_a else a) @ (b.T if trans_b else b)
            numpy.testing.assert_allclose(backends.to_numpy(out), expected, rtol=rtol)
    a = gpu.from_numpy(numpy.ones((3, 5), numpy.float32))
    one, zero = ctypes.c_float(1.0), ctypes.c_float(0.0)
    status = gpu.host_cublas.cublasSgemm_v2(None, 0, 0, 5, 3, 5, ctypes.byref(one), a.data.ptr, 4,  # lda < 5
                                           a.data.ptr, 5, ctypes.byref(zero), a.data.ptr, 5)
    assert status == 7  # CUBLAS_STATUS_INVALID_VALUE, as cuBLAS answers


def test_float32_uniform_draws_stay_below_one_as_cupys_do(gpu, monkeypatch):
    """A float64 draw within 2⁻²⁵ of 1 would round to 1.0 in float32; CuPy's float32 random_sample is in [0, 1)."""
    class NearOne:  # NumPy's generator, at a draw that rounds up in float32
        @staticmethod
        def random_sample(shape):
            return numpy.full(shape, 1 - 2.0 ** -30)

    state = gpu.xp.random.RandomState(0)
    monkeypatch.setattr(state, "_state", NearOne())
    u = gpu.to_numpy(state.random_sample((3,), dtype=numpy.float32))
    assert u.dtype == numpy.float32 and (u < 1).all() and (u == numpy.nextafter(numpy.float32(1), 0)).all()


def test_a_capturing_stream_refuses_what_cuda_and_cupy_refuse_and_its_graph_replays(gpu):
    """In stream capture: host reads raise, CuPy's own cuBLAS and cuRAND calls raise NotImplementedError
    as CuPy's do, dlcore's cuBLAS binding works. The graph replays into the captured arrays, reading
    their inputs anew and the Python numbers of the capture."""
    xp = gpu.xp
    a = gpu.from_numpy(numpy.ones((2, 2), numpy.float32))
    total = xp.zeros((), numpy.float32)
    scale = 0.5
    stream = xp.cuda.Stream(non_blocking=True)
    stream.wait_event(xp.cuda.get_current_stream().record())  # ordered after the uploads above
    with stream:
        assert xp.cuda.get_current_stream() is stream
        stream.begin_capture()
        assert stream.is_capturing()
        with pytest.raises(HostSyncError, match="float\\(\\) .* inside a CUDA-graph capture"):
            float(a.sum())
        with pytest.raises(NotImplementedError, match="calling cuBLAS API during stream capture"):
            a @ a  # noqa: B018
        with pytest.raises(NotImplementedError, match="calling cuRAND API during stream capture"):
            xp.random.RandomState(0).random_sample((2,))
        product = gpu.gemm(a, a) * scale  # [[1, 1], [1, 1]]
        total += product.sum()
        graph = stream.end_capture()
    assert xp.cuda.get_current_stream() is not stream and not stream.is_capturing()
    assert float(total) == 4.0 and float((a @ a).sum()) == 8.0  # reads and CuPy's matmul are allowed again
    a.fill(2.0)
    scale = 10.0  # noqa: F841  (the graph keeps the 0.5 it was captured with)
    graph.launch(stream)
    assert backends.to_numpy(product).tolist() == [[4.0, 4.0], [4.0, 4.0]] and float(total) == 4.0 + 16.0


def test_a_non_blocking_stream_runs_nothing_before_waiting_for_the_null_stream(gpu):
    """CUDA does not order a non-blocking stream after the legacy null stream: device work on one
    raises until it has waited for what the null stream queued (or the host synchronised it)."""
    from tests.simulated_cupy import StreamOrderError

    xp = gpu.xp
    a = gpu.from_numpy(numpy.ones(3, numpy.float32))  # an upload, queued on the null stream
    stream = xp.cuda.Stream(non_blocking=True)
    with stream, pytest.raises(StreamOrderError, match="not ordered after the 1 operation"):
        a + 1  # noqa: B018
    stream.wait_event(xp.cuda.get_current_stream().record())
    with stream:
        assert backends.to_numpy(a + 1).tolist() == [2, 2, 2]
    a *= 2  # more null-stream work, not waited for
    with stream, pytest.raises(StreamOrderError):
        a + 1  # noqa: B018
    gpu.synchronize()  # the host waited for the null stream: everything before is done
    with stream, xp.cuda.Stream():  # a blocking stream is ordered after the null stream anyway
        a + 1  # noqa: B018


def test_a_dropped_memory_pool_frees_its_memory_under_the_arrays_still_using_it(gpu):
    """As CuPy before 14.1: what was allocated inside using_allocator(pool.malloc) is the pool's, and
    dropping the pool frees it (its bytes become 0xFF, NaN in float32) while arrays still point there."""
    import gc

    xp = gpu.xp
    before = xp.ones(4, numpy.float32)
    pool = xp.cuda.MemoryPool()
    with xp.cuda.using_allocator(pool.malloc):
        inside = xp.ones(4, numpy.float32) * 3
        view_of_before = before[1:]
        copy_of_before = before.copy()
    after = xp.ones(4, numpy.float32)
    assert pool.owns(inside) and pool.owns(inside[2:]) and pool.owns(copy_of_before)
    assert not any(pool.owns(a) for a in (before, view_of_before, after))
    del pool
    gc.collect()
    assert numpy.isnan(backends.to_numpy(inside)).all() and numpy.isnan(backends.to_numpy(copy_of_before)).all()
    for a in (before, view_of_before, after):
        assert backends.to_numpy(a).tolist() == [1.0] * a.size


def test_host_cublas_resets_the_workspace_at_set_stream(gpu):
    """cuBLAS's rule: cublasSetStream_v2 puts a handle back on cuBLAS's own workspace; each GEMM notes its workspace."""
    from tests.simulated_cupy import HostCublas

    host = HostCublas()
    assert host.cublasSetWorkspace_v2(None, ctypes.c_void_p(4096), ctypes.c_size_t(64)) == 0
    assert host.workspace == (4096, 64)
    assert host.cublasSetStream_v2(None, ctypes.c_void_p(16)) == 0
    assert host.workspace is None


def _training_step(model, opt, x, t):
    """The closure CapturedStep takes: forward, cross-entropy, backward and update on the fixed batch (x, t)."""
    def step():
        loss = losses.CrossEntropyLoss()(model(Tensor(x)), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def test_every_gemm_of_a_captured_step_uses_dlcores_cublas_workspace(gpu):
    """The capture stream is a new stream for the cuBLAS handle; after cublasSetStream_v2 the binding must
    set its own workspace again, or cuBLAS would allocate from its default pool inside the graph."""
    from dlcore.cuda_graph import CapturedStep

    model = models.MLP([2, 8, 2])
    opt = optim.SGD(model, lr=0.1)
    x, t = gpu.from_numpy(numpy.ones((4, 2), numpy.float32)), gpu.from_numpy(numpy.zeros(4, numpy.int64))

    step = _training_step(model, opt, x, t)
    host = gpu.host_cublas
    workspace = (gpu.cublas.workspace.data.ptr, gpu.cublas.workspace.size)
    host.gemm_workspaces.clear()
    CapturedStep(step)()
    assert len(host.gemm_workspaces) > 0 and set(host.gemm_workspaces) == {workspace}


def test_what_outlives_a_captured_step_is_not_allocated_from_its_pool(gpu):
    """Optimizer state, the backend's cached ones rows and the cuBLAS workspace outlive the step; the
    graph's private pool holds only what the step makes (its temporaries and its outputs)."""
    from dlcore.cuda_graph import CapturedStep

    model = models.MLP([2, 8, 2], batch_norm=True)
    opt = optim.Momentum(model, lr=0.1)
    x, t = gpu.from_numpy(numpy.ones((4, 2), numpy.float32)), gpu.from_numpy(numpy.zeros(4, numpy.int64))

    step = _training_step(model, opt, x, t)
    captured = CapturedStep(step, restore=(model, opt))
    kept = gpu.kept_arrays()
    long_lived = [a for bufs in opt.state.values() for a in bufs.values()] + kept
    long_lived += [p.data for p in model.parameters()] + [b for _, b in model.named_buffers()]
    assert opt.state and any(a is gpu.cublas.workspace for a in kept) and len(kept) > 1  # ones rows too
    assert [a.shape for a in long_lived if captured.pool.owns(a)] == []
    assert captured.pool.owns(captured.result.data)


def test_fused_operations_run_their_cuda_bodies(gpu):
    x = Tensor(gpu.from_numpy(numpy.array([[-1.0, 2.0]], numpy.float32)), requires_grad=True)
    with backends.fused.FUSED.scoped(True):  # also under DLCORE_FUSED=0
        dlcore.functional.relu(x).sum().backward()
    assert "dlcore_relu_grad" in gpu.host_kernels.calls
    assert backends.to_numpy(x.grad).tolist() == [[0.0, 1.0]]


# ---- ops and layers ------------------------------------------------------------------------------

# on CuPy, DLCORE_FUSED=0 runs the portable bodies: they must not read the device either
FUSED = pytest.mark.parametrize("fused", [True, False], ids=["fused", "portable"])


@FUSED
@pytest.mark.parametrize("case", all_cases(), ids=lambda c: c.name)
def test_op_forward_and_backward_read_nothing_back(gpu, case, fused):
    with backends.fused.FUSED.scoped(fused), forbid_host_syncs():
        forward_backward(case, "cupy", numpy.float32)


@FUSED
@pytest.mark.parametrize("case", all_module_cases(), ids=lambda c: c.name)
def test_layer_forward_and_backward_read_nothing_back(gpu, case, fused):
    with backends.fused.FUSED.scoped(fused), forbid_host_syncs():
        module_forward_backward(case, "cupy", numpy.float32)


# ---- training steps --------------------------------------------------------------------------------

def _steps_without_reads(model, loss_fn, optimizer, x, t, steps: int = 3):
    """``steps`` training steps on the device (the first creates the optimizer state) with host reads forbidden."""
    x, t = backends.to_device(x, "cupy"), backends.to_device(t, "cupy")
    with forbid_host_syncs():
        for _ in range(steps):
            loss = loss_fn(model(Tensor(x)), t)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return float(loss.data)


OPTIMIZERS = {
    "sgd": lambda m: optim.SGD(m, lr=0.1, weight_decay=1e-3, l1=1e-4),
    "momentum": lambda m: optim.Momentum(m, lr=0.1, weight_decay=1e-3, l1=1e-4),
    "nesterov": lambda m: optim.Nesterov(m, lr=0.1, weight_decay=1e-3, l1=1e-4),
    "adagrad": lambda m: optim.AdaGrad(m, lr=0.1, weight_decay=1e-3, l1=1e-4),
    "rmsprop": lambda m: optim.RMSprop(m, lr=0.01, weight_decay=1e-3, l1=1e-4),
    "adam": lambda m: optim.Adam(m, lr=0.01, weight_decay=1e-3, l1=1e-4),
}


@FUSED
@pytest.mark.parametrize("make_optimizer", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_a_training_step_under_every_optimizer_reads_nothing_back(gpu, make_optimizer, fused):
    model = models.MLP([6, 16, 16, 3], dropout=0.2, batch_norm=True).to("cupy")
    rng = numpy.random.default_rng(0)
    with backends.fused.FUSED.scoped(fused):
        loss = _steps_without_reads(model, losses.CrossEntropyLoss(), make_optimizer(model),
                                    rng.standard_normal((8, 6)).astype(numpy.float32), rng.integers(0, 3, 8))
    assert numpy.isfinite(loss)


CNNS = {
    "lenet": (lambda: models.lenet(input_size=12, channels=(2, 3), hidden=(6, 5), num_classes=3), (4, 1, 12, 12)),
    "alexnet_small": (lambda: models.alexnet_small(input_size=8, width=(2, 2, 3, 3, 2), hidden=(5, 4),
                                                   num_classes=3), (4, 1, 8, 8)),
    "resnet8": (lambda: models.resnet(8, base_channels=2, num_classes=3), (4, 1, 8, 8)),
}


@pytest.mark.parametrize("name", CNNS)
def test_a_cnn_training_step_reads_nothing_back(gpu, name):
    make, shape = CNNS[name]
    model = make().to("cupy")
    rng = numpy.random.default_rng(0)
    loss = _steps_without_reads(model, losses.CrossEntropyLoss(), optim.Momentum(model, lr=0.01),
                                rng.standard_normal(shape).astype(numpy.float32), rng.integers(0, 3, shape[0]))
    assert numpy.isfinite(loss)


def test_a_unet_segmentation_step_reads_nothing_back(gpu):
    model = models.unet(depth=1, base_channels=2).to("cupy")
    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 1, 8, 8)).astype(numpy.float32)
    loss = _steps_without_reads(model, losses.BCEWithLogitsLoss(), optim.Adam(model, lr=1e-3), x,
                                (x > 0).astype(numpy.float32))
    assert numpy.isfinite(loss)


def test_an_rbm_cd_step_reads_nothing_back(gpu):
    for persistent in (False, True):
        rbm = RBM(6, 4, k=2, persistent=persistent).to("cupy")
        v = gpu.from_numpy((numpy.random.default_rng(0).random((8, 6)) < 0.5).astype(numpy.float32))
        with forbid_host_syncs():
            errors = [rbm.cd_step(v) for _ in range(3)]
        assert numpy.isfinite(float(errors[-1]))


# ---- reads per epoch, not per step -------------------------------------------------------------

def _reads_during(run) -> list[str]:
    SYNCS.events.clear()
    run()
    return list(SYNCS.events)


def test_the_trainer_reads_the_device_once_per_buffer_and_epoch(gpu):
    """4 or 8 steps an epoch: per epoch, the loss and accuracy buffers of training and validation."""
    def fit(n_samples):
        x, y = spiral(n_samples)
        model = models.MLP([2, 8, 2]).to("cupy")
        train = ArrayLoader(x, y, batch_size=16, backend="cupy")
        val = ArrayLoader(x[:48], y[:48], batch_size=16, shuffle=False, backend="cupy")
        return lambda: Trainer(progress=False).fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1),
                                                   train, val, epochs=2)
    short, long = _reads_during(fit(64)), _reads_during(fit(128))
    assert len(short) == len(long) == 2 * 4, f"4 steps an epoch: {short}\n8 steps an epoch: {long}"


def test_pretraining_reads_the_device_a_fixed_number_of_times_per_epoch(gpu):
    def pretrain(n_samples, kind):
        x = (numpy.random.default_rng(0).random((n_samples, 6)) < 0.5).astype(numpy.float32)
        if kind == "rbm":
            rbm = RBM(6, 4).to("cupy")
            return lambda: rbm.fit(x, epochs=2, batch_size=16)
        sae = StackedAutoencoder((6, 4, 3)).to("cupy")
        return lambda: sae.pretrain(x, epochs=2, batch_size=16)
    for kind in ("rbm", "sae"):
        short, long = _reads_during(pretrain(64, kind)), _reads_during(pretrain(128, kind))
        assert len(short) == len(long), f"{kind}, 4 steps an epoch: {short}\n8 steps an epoch: {long}"
