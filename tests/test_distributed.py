"""dlcore.distributed: sharding and flat packing (always), and 2-rank MPI runs (when MPI is here).

The MPI tests launch ``mpirun -n 2 python tests/distributed_worker.py MODE DIR`` and compare
with single-process references computed here. They skip (with the install command) unless
mpi4py imports and ``mpirun`` is on PATH; every launch has a timeout, so nothing hangs.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy
import pytest

import backends
import dlcore
from dlcore import io
from dlcore.data import ArrayLoader
from dlcore import Tensor, nn
from dlcore.distributed import (Communicator, DistributedOptimizer, LocalCommunicator, ShardedLoader,
                                create_communicator, global_order, pack, shard, sync_batch_norm, unpack)
from tests import distributed_worker as W

ROOT = Path(__file__).resolve().parent.parent
WORKER = ROOT / "tests" / "distributed_worker.py"
INSTALL = "apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py"


def _mpi_missing() -> str | None:
    """Why the MPI tests cannot run here, or None. MPI is initialised in a child process
    (with a timeout), never in the pytest process."""
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return f"mpi4py is not installed ({INSTALL})"
    if shutil.which("mpirun") is None:
        return f"mpirun is not on PATH ({INSTALL})"
    try:
        probe = subprocess.run([sys.executable, "-c", "from mpi4py import MPI; MPI.COMM_WORLD.Barrier()"],
                               capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return "mpi4py's MPI_Init did not finish in 30 s here"
    if probe.returncode != 0:
        return f"mpi4py cannot load an MPI library ({INSTALL}): {probe.stderr.strip()[-300:]}"
    return None


MPI_MISSING = _mpi_missing()
needs_mpi = pytest.mark.skipif(MPI_MISSING is not None, reason=str(MPI_MISSING))


def mpirun(mode: str, out: Path, n: int = 2, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               DLCORE_BACKEND="numpy", OMPI_MCA_btl_vader_single_copy_mechanism="none",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_ALLOW_RUN_AS_ROOT="1",
               OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", str(n),
           sys.executable, str(WORKER), mode, str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def reference(steps: int, model=None, optimizer=None, skip: int = 0, size: int = 2):
    """One process, batch size·B, the same global order: (model, optimizer, losses)."""
    x, y = W.make_data()
    model = model or W.make_model(seed=1)
    optimizer = optimizer or W.make_optimizer(model)
    loader = ArrayLoader(x, y, batch_size=size * W.B, seed=W.SEED)
    return model, optimizer, W.train(model, optimizer, loader, steps, skip=skip)


# ---- without MPI ---------------------------------------------------------------------------
@pytest.mark.parametrize("n,size,b", [(64, 2, 8), (64, 4, 4), (60, 2, 7), (10, 3, 2), (2, 3, 1)])
def test_shards_cover_every_sample_each_epoch(n, size, b):
    for epoch in range(3):
        shards = [shard(n, r, size, epoch=epoch, seed=7, batch_size=b) for r in range(size)]
        assert len({len(s) for s in shards}) == 1  # equal size on every rank
        together = numpy.concatenate(shards)
        assert set(together.tolist()) == set(range(n))  # every sample at least once
        if n % size == 0:
            assert sorted(together.tolist()) == list(range(n))  # ... and exactly once
        else:
            assert len(together) == -(-n // size) * size  # padded by < size repeats


def test_shards_differ_per_epoch_and_truncate_policy():
    assert not numpy.array_equal(shard(100, 0, 2, epoch=0, seed=1), shard(100, 0, 2, epoch=1, seed=1))
    assert numpy.array_equal(shard(100, 1, 2, epoch=2, seed=1), shard(100, 1, 2, epoch=2, seed=1))
    cut = [shard(11, r, 2, seed=3, even="truncate") for r in range(2)]
    assert len(cut[0]) == len(cut[1]) == 5 and len(set(numpy.concatenate(cut).tolist())) == 10
    with pytest.raises(ValueError):
        shard(10, 2, 2)


def test_rank_batches_concatenate_to_the_big_batch():
    """Rank r's k-th batch of B is the r-th part of the single process's k-th batch of size·B."""
    n, size, b = 70, 2, 8  # 70 = 4 full global batches of 16 and a short one of 6
    order = global_order(n, epoch=1, seed=9)
    shards = [shard(n, r, size, epoch=1, seed=9, batch_size=b) for r in range(size)]
    for k, start in enumerate(range(0, n, size * b)):
        big = order[start:start + size * b]
        small = numpy.concatenate([s[k * b:(k + 1) * b] for s in shards])
        assert numpy.array_equal(big, small)


def test_sharded_loader_of_one_rank_equals_array_loader():
    x = numpy.arange(50.0).reshape(25, 2)
    y = numpy.arange(25)
    a = ArrayLoader(x, y, batch_size=4, seed=3)
    s = ShardedLoader(x, y, batch_size=4, comm=LocalCommunicator(), seed=3)
    assert len(a) == len(s)
    for _ in range(2):
        for (xa, ya), (xs, ys) in zip(a, s, strict=True):
            assert numpy.array_equal(xa, xs) and numpy.array_equal(ya, ys)


def test_pack_unpack_round_trip():
    arrays = [numpy.arange(6.0).reshape(2, 3), numpy.ones(4), numpy.full((1, 1, 2), 7.0)]
    buf = pack(arrays)
    assert buf.ndim == 1 and buf.size == 12 and buf.flags.c_contiguous
    for a, b in zip(arrays, unpack(buf, arrays)):
        assert numpy.array_equal(a, b)
    with pytest.raises(ValueError):
        unpack(buf[:-1], arrays)


class FakeTwoRanks(Communicator):
    """Size 2 in one process, counting the calls (to check one flat buffer per step) and keeping
    a host copy of every buffer this rank sends. The 'other rank' adds ``other[k]`` to the k-th
    allreduce (the buffer it sends there); without ``other`` it holds the same data as this
    rank, so every sum is doubled."""

    rank, size = 0, 2

    def __init__(self, other=None):
        self.calls, self.sent = [], []
        self.other = None if other is None else list(other)

    def _allreduce_sum(self, buf):
        self.calls.append(buf.size)
        self.sent.append(numpy.array(buf))
        if self.other is None:
            return buf * 2
        theirs = self.other.pop(0)
        assert (theirs.shape, theirs.dtype) == (buf.shape, buf.dtype), "the ranks' buffers differ"
        return buf + theirs

    def _bcast(self, buf, root=0):
        self.calls.append(buf.size)
        return buf

    def barrier(self):
        pass


def _two_ranks_gradients():
    """Rank 0's model with its gradients (batch x[:16]), and both ranks' gradients of the same
    parameters (rank 1's from batch x[16:32]): parameter 0 has a gradient on rank 1 only,
    parameter 1 on rank 0 only, the last one on neither. Returns (model, rank 0's, rank 1's)
    gradient lists, None where a rank has none."""
    x, y = W.make_data()
    models, grads = [], []
    for rows in (slice(0, 16), slice(16, 32)):
        model = W.make_model(seed=0)
        dlcore.losses.CrossEntropyLoss()(model(dlcore.Tensor(x[rows])), y[rows]).backward()
        models.append(model)
        grads.append([p.grad.copy() for p in model.parameters()])
    mine, theirs = grads
    assert not any(numpy.allclose(a, b) for a, b in zip(mine, theirs))  # the ranks really differ
    mine[0] = mine[-1] = theirs[1] = theirs[-1] = None
    for p, g in zip(models[0].parameters(), mine, strict=True):
        p.grad = g
    return models[0], mine, theirs


def _zero_filled(grads, params):
    """A rank's gradients as it packs them: zeros where it has none."""
    return [numpy.zeros_like(p.data) if g is None else g for g, p in zip(grads, params, strict=True)]


def _has_grad(grads):
    """A rank's has-gradient flags, in the parameters' dtype (float64 here)."""
    return numpy.array([g is not None for g in grads], dtype=numpy.float64)


def _assert_averaged(params, mine, theirs):
    """Every grad is (rank 0's + rank 1's) / 2, a rank without a gradient counting as zeros
    (still divided by 2); a parameter without a gradient on either rank keeps None."""
    for i, (p, a, b) in enumerate(zip(params, mine, theirs, strict=True)):
        if a is None and b is None:
            assert p.grad is None, f"parameter {i} has no gradient on any rank"
            continue
        a = numpy.zeros(b.shape) if a is None else a
        b = numpy.zeros(a.shape) if b is None else b
        numpy.testing.assert_array_equal(numpy.asarray(p.grad), (a + b) / 2, err_msg=f"parameter {i}")


def test_allreduce_grads_one_buffer_and_none_grads_stay_none():
    """Host gradients: one flat buffer per step (every gradient, then the has-gradient flags)
    and one allreduce; each grad becomes the mean of both ranks' (a gradient missing on one rank
    counts as zeros), and a parameter without a gradient on either rank keeps None."""
    model, mine, theirs = _two_ranks_gradients()
    params = list(model.parameters())
    comm = FakeTwoRanks(other=[pack(_zero_filled(theirs, params) + [_has_grad(theirs)])])
    opt = DistributedOptimizer(W.make_optimizer(model), comm)
    comm.allreduce_grads(opt.params)
    assert comm.calls == [sum(p.data.size for p in params) + len(params)]
    assert comm.sent[0][-len(params):].tolist() == [0.0] + [1.0] * (len(params) - 2) + [0.0]
    _assert_averaged(params, mine, theirs)


def test_distributed_optimizer_delegates():
    model = W.make_model(seed=0)
    inner = W.make_optimizer(model)
    opt = DistributedOptimizer(inner, LocalCommunicator())
    opt.lr = 0.5
    assert inner.lr == 0.5 and opt.lr == 0.5 and opt.params is inner.params
    x, y = W.make_data()
    dlcore.losses.CrossEntropyLoss()(model(dlcore.Tensor(x[:8])), y[:8]).backward()
    opt.step()
    assert inner.t == 1 and opt.state_dict()["step"] == 1
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())
    inner2 = W.make_optimizer(model)
    DistributedOptimizer(inner2, LocalCommunicator()).load_state_dict(opt.state_dict())
    assert inner2.t == 1


def test_local_communicator_is_identity():
    comm = LocalCommunicator()
    assert (comm.rank, comm.size, comm.is_main) == (0, 1, True)
    model = W.make_model(seed=0)
    before = model.state_dict()
    comm.broadcast_parameters(model)
    assert all(numpy.array_equal(before[k], v) for k, v in model.state_dict().items())
    assert comm.allreduce_mean(2.5) == 2.5
    comm.barrier()


def test_create_communicator_names_an_unknown_backend():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        create_communicator("tpu")


def test_without_mpi4py_one_process_gets_a_local_communicator(monkeypatch):
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py raises ImportError
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        monkeypatch.delenv(var, raising=False)
    assert isinstance(create_communicator("numpy"), LocalCommunicator)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "2")  # under mpirun: refuse, do not train alone
    with pytest.raises(ImportError, match="pip install mpi4py"):
        create_communicator("numpy")


def _bn_step(layer, x, w):
    """One training forward/backward of ``layer`` on x with loss Σ y·w: (y, ∂/∂x, ∂/∂γ, ∂/∂β, running stats)."""
    t = Tensor(x, requires_grad=True)
    y = layer(t)
    (y * Tensor(w)).sum().backward()
    return y.numpy(), t.grad, layer.weight.grad, layer.bias.grad, layer.running_mean.copy(), layer.running_var.copy()


def _bn_data(shape, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.standard_normal(shape) * 2 + 3, rng.standard_normal(shape)


@pytest.mark.parametrize("cls, shape", [(nn.BatchNorm1d, (6, 4)), (nn.BatchNorm2d, (4, 3, 5, 5))])
def test_sync_batch_norm_with_a_local_communicator_changes_nothing(cls, shape):
    plain, synced = cls(shape[1]), sync_batch_norm(nn.Sequential(cls(shape[1])), LocalCommunicator())[0]
    assert synced.comm is not None
    for seed in range(3):
        x, w = (a.astype(numpy.float32) for a in _bn_data(shape, seed))
        for a, b in zip(_bn_step(plain, x, w), _bn_step(synced, x, w), strict=True):
            numpy.testing.assert_array_equal(a, b)


def test_synchronised_batch_norm_uses_the_global_batch():
    """Two ranks holding the same batch x (FakeTwoRanks doubles every sum) normalize like one
    process with the batch [x; x]: same output, input gradient and running statistics (with
    n = 2·B), and half the γ, β gradients (local sums, which allreduce_grads averages)."""
    comm = FakeTwoRanks()
    x, w = _bn_data((4, 3, 5, 5))
    with dlcore.default_dtype("float64"):
        one, two = nn.BatchNorm2d(3), nn.BatchNorm2d(3, comm=comm)
    y1, gx1, gg1, gb1, mean1, var1 = _bn_step(one, numpy.concatenate([x, x]), numpy.concatenate([w, w]))
    y2, gx2, gg2, gb2, mean2, var2 = _bn_step(two, x, w)
    assert comm.calls == [3 + 1, 3, 2 * 3]  # forward [Σx, n], Σ(x − μ)²; backward [Σg, Σg·x̂]
    for a, b in [(y1[:4], y2), (gx1[:4], gx2), (gg1, 2 * gg2), (gb1, 2 * gb2), (mean1, mean2), (var1, var2)]:
        numpy.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-12)
    two.eval()(Tensor(x))
    assert len(comm.calls) == 3  # eval uses the running statistics: no communication
    with dlcore.default_dtype("float64"):  # x is float64: a float32 layer would refuse it
        alone, synchronised = nn.BatchNorm1d(3), nn.BatchNorm1d(3, comm=comm)
    with pytest.raises(ValueError, match="more than one value per channel"):
        alone(Tensor(x[:1, :, 0, 0]))
    synchronised(Tensor(x[:1, :, 0, 0]))  # batch 1 per rank: 2 values per channel in all


def test_sync_batch_norm_names_a_layer_that_differs_on_another_rank():
    comm = FakeTwoRanks()
    comm.rank = 1
    comm.bcast_object = lambda obj, root=0: [("1", 32), ("4", 16)]  # rank 0's BatchNorm layers
    with pytest.raises(ValueError, match=r"layer '1' has 16 channels on rank 1 but rank 0's layer '1' has 32"):
        sync_batch_norm(W.make_model(seed=0, batch_norm=True), comm)
    comm.bcast_object = lambda obj, root=0: [("1", 16)]
    with pytest.raises(ValueError, match="rank 1 has 2 BatchNorm layers but rank 0 has 1"):
        sync_batch_norm(W.make_model(seed=0, batch_norm=True), comm)


# ---- two MPI ranks -------------------------------------------------------------------------
@needs_mpi
def test_two_ranks_equal_one_process_with_double_batch(tmp_path):
    run = mpirun("equivalence", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    got = numpy.load(tmp_path / "equivalence.npz")
    model, _, ref_losses = reference(50)
    for name, value in model.state_dict().items():
        numpy.testing.assert_allclose(got[name], value, rtol=0, atol=1e-5, err_msg=name)
    numpy.testing.assert_allclose(got["losses"], ref_losses, rtol=0, atol=1e-8)
    # the ranks really trained: the weights moved away from the initial ones
    start = W.make_model(seed=1).state_dict()
    assert max(numpy.abs(got[k] - v).max() for k, v in start.items()) > 1e-2


@needs_mpi
def test_two_ranks_with_sync_batch_norm_equal_one_process_with_double_batch(tmp_path):
    """Synchronised BatchNorm: 2 ranks × B match 1 process × 2B to 1e-10 (float64; the
    difference is ~1e-15), with identical running statistics on both ranks; without it the
    parameters and the ranks' statistics drift apart (by ~0.1)."""
    run = mpirun("syncbn", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    model, _, _ = reference(W.SYNCBN_STEPS, model=W.make_model(seed=1, batch_norm=True))
    expected = model.state_dict()
    assert any(k.endswith("running_var") for k in expected)
    sync, local = numpy.load(tmp_path / "sync.npz"), numpy.load(tmp_path / "local.npz")
    for name, value in expected.items():
        numpy.testing.assert_allclose(sync[f"r0/{name}"], value, rtol=0, atol=1e-10, err_msg=name)
        numpy.testing.assert_array_equal(sync[f"r1/{name}"], sync[f"r0/{name}"], err_msg=name)
    assert max(numpy.abs(local[f"r0/{k}"] - v).max() for k, v in expected.items()) > 1e-2
    assert max(numpy.abs(local[f"r0/{k}"] - local[f"r1/{k}"]).max() for k in expected) > 1e-2


@needs_mpi
def test_two_ranks_shard_every_sample_once(tmp_path):
    run = mpirun("shard", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    got = numpy.load(tmp_path / "shard.npz")
    n = W.N + 1  # odd: one sample padded per epoch
    for e in range(3):
        a, b = got[f"r0e{e}"], got[f"r1e{e}"]
        assert len(a) == len(b) == (n + 1) // 2
        assert set(a.tolist()) | set(b.tolist()) == set(range(n))
        assert len(set(a.tolist()) & set(b.tolist())) <= 1  # only the padded repeat
    assert got["local_ranks"].tolist() == [0, 1]  # both ranks on this machine: GPUs 0 and 1 of a node


def _fake_cupy(device_count, chosen):
    """The CuPy calls that choosing a GPU makes; ``chosen`` collects the devices made current."""
    class FakeCupy:
        class cuda:
            class runtime:
                @staticmethod
                def getDeviceCount():
                    return device_count

            class Device:
                def __init__(self, n):
                    self.n = n
                    self.pci_bus_id = f"0000:{n:02x}:00.0"

                def use(self):
                    chosen.append(self.n)

    return FakeCupy


def test_each_rank_takes_the_gpu_of_its_rank_on_the_node():
    """use_local_gpu: GPU = local rank mod the visible GPU count, made CuPy's current device."""
    from dlcore.distributed.communicator import use_local_gpu
    chosen = []
    fake_cupy = _fake_cupy(4, chosen)
    assert [use_local_gpu(fake_cupy, r) for r in (0, 3, 5)] == [0, 3, 1]
    assert chosen == [0, 3, 1]


def test_a_rank_refuses_a_gpu_other_than_the_backends():
    """A CuPy backend made on GPU 0 before the communicator: rank 0 goes on, rank 1 is told why it cannot."""
    from dlcore.distributed.communicator import use_local_gpu
    chosen = []
    fake_cupy = _fake_cupy(4, chosen)
    with backends.override("cupy", type("MadeOnGpu0", (), {"device_id": 0})()):
        assert use_local_gpu(fake_cupy, 0) == 0
        with pytest.raises(RuntimeError, match=r"trains on GPU 1, but dlcore's CuPy backend was already created on "
                                               r"GPU 0.*before the first backends.use\('cupy'\)"):
            use_local_gpu(fake_cupy, 1)
    assert chosen == [0]


def test_shared_gpus_are_refused_naming_the_ranks_that_would_share():
    """Two ranks of a node on one GPU (more ranks than GPUs) are refused; GPUs told apart by PCI bus id, so
    ranks that each see only their own GPU as device 0 (CUDA_VISIBLE_DEVICES) are fine."""
    from dlcore.distributed.communicator import refuse_shared_gpus

    refuse_shared_gpus(["0000:3b:00.0", "0000:5e:00.0"])
    refuse_shared_gpus(["0000:3b:00.0"])
    with pytest.raises(RuntimeError, match=r"3 ranks on this node, but only 2 GPU\(s\) for them: ranks \[0, 2\] on "
                                           r"node would share GPU 0000:3b:00.0\. NCCL needs one GPU per rank.*"
                                           r"--map-by ppr:2:node.*CUDA_VISIBLE_DEVICES"):
        refuse_shared_gpus(["0000:3b:00.0", "0000:5e:00.0", "0000:3b:00.0"])


class _FakeNode:
    """The node communicator of a split: this process is ``rank``; ``others`` are the other ranks' GPUs."""

    def __init__(self, rank, others):
        self.rank, self.others, self.freed = rank, others, False

    def Get_rank(self):
        return self.rank

    def allgather(self, mine):
        return self.others[:self.rank] + [mine] + self.others[self.rank:]

    def Free(self):
        self.freed = True


class _FakeComm:
    """An mpi4py communicator: rank ``rank`` of ``size``; splitting it by node gives ``node``."""

    def __init__(self, rank, size, node):
        self.rank, self.size, self.node, self.splits = rank, size, node, []

    def Get_rank(self):
        return self.rank

    def Get_size(self):
        return self.size

    def Split_type(self, split_type, key):
        self.splits.append((split_type, key))
        return self.node

    def bcast(self, obj, root=0):
        return obj


class _World:
    def Split_type(self, *args, **kwargs):
        raise AssertionError("COMM_WORLD was split: a collective over ranks that need not all be making this communicator")


def _nccl_on_fakes(monkeypatch, comm, device_count, chosen):
    """NCCLCommunicator(comm) with mpi4py, CuPy and NCCL stood in for (a GPU count of ``device_count``)."""
    import types

    from dlcore.distributed import NCCLCommunicator

    mpi = types.ModuleType("mpi4py")
    mpi.MPI = types.SimpleNamespace(COMM_WORLD=_World(), COMM_TYPE_SHARED="shared")
    cupy = types.ModuleType("cupy")
    cupy.cuda = types.ModuleType("cupy.cuda")
    fake = _fake_cupy(device_count, chosen).cuda
    cupy.cuda.runtime, cupy.cuda.Device = fake.runtime, fake.Device
    cupy.cuda.nccl = types.SimpleNamespace(available=True, get_unique_id=lambda: b"id", NCCL_FLOAT32=7,
                                           NCCL_FLOAT64=8, NcclCommunicator=lambda size, uid, rank: (size, uid, rank))
    for name, module in (("mpi4py", mpi), ("cupy", cupy), ("cupy.cuda", cupy.cuda)):
        monkeypatch.setitem(sys.modules, name, module)
    with backends.override("cupy", None):  # no CuPy backend made yet
        return NCCLCommunicator(comm)


def test_nccl_takes_the_gpu_of_its_rank_among_the_ranks_of_the_communicator_given(monkeypatch):
    """A communicator of fewer ranks than COMM_WORLD: the node's ranks are counted in it, never in
    COMM_WORLD (splitting that is a collective the other ranks would not join: a hang)."""
    chosen = []
    sub = _FakeComm(rank=1, size=2, node=_FakeNode(rank=1, others=["0000:00:00.0"]))
    comm = _nccl_on_fakes(monkeypatch, sub, device_count=2, chosen=chosen)
    assert sub.splits == [("shared", 1)] and sub.node.freed
    assert (comm.local_rank, comm.device, chosen) == (1, 1, [1])
    assert (comm.nccl_comm[0], comm.nccl_comm[2]) == (2, 1)  # NCCL's size and rank are the communicator's


def test_nccl_refuses_more_ranks_on_a_node_than_gpus(monkeypatch):
    """Three ranks on a node of two GPUs: rank 2 would take GPU 0 with rank 0. Every rank of the node
    learns it (the GPUs are gathered first) and raises before making a GPU current or joining NCCL."""
    chosen = []
    sub = _FakeComm(rank=2, size=3, node=_FakeNode(rank=2, others=["0000:00:00.0", "0000:01:00.0"]))
    with pytest.raises(RuntimeError, match=r"3 ranks on this node, but only 2 GPU\(s\).*ranks \[0, 2\]"):
        _nccl_on_fakes(monkeypatch, sub, device_count=2, chosen=chosen)
    assert chosen == [] and sub.node.freed


def test_create_communicator_selects_the_gpu_before_the_backend_is_chosen(monkeypatch):
    """With no backend chosen yet ("auto" may create CuPy's on GPU 0), or with "cupy" asked for,
    the rank's GPU is selected first; a chosen backend or "numpy" leaves the device alone."""
    from dlcore.distributed import communicator
    selected = []
    monkeypatch.setattr(communicator, "select_gpu_before_backend", lambda: selected.append(backends.chosen()))
    monkeypatch.setattr(communicator, "NCCLCommunicator", communicator.LocalCommunicator)
    monkeypatch.setattr(communicator, "MPICommunicator", communicator.LocalCommunicator)
    monkeypatch.setenv("DLCORE_BACKEND", "numpy")
    with backends.unchosen():
        communicator.create_communicator()
        assert selected == [None] and backends.chosen() is backends.get("numpy")  # selected, then chosen
        communicator.create_communicator()
        communicator.create_communicator("numpy")
        assert selected == [None]
        communicator.create_communicator("cupy")
        assert len(selected) == 2


@needs_mpi
def test_a_failing_rank_ends_the_job_non_zero(tmp_path):
    start = time.monotonic()
    run = mpirun("fail", tmp_path, timeout=60)
    elapsed = time.monotonic() - start
    assert run.returncode != 0
    assert elapsed < 60
    assert "rank 1 fails on purpose" in run.stderr + run.stdout
    assert not (tmp_path / "should_not_exist").exists()


@needs_mpi
def test_only_rank_0_checkpoints_and_one_process_resumes(tmp_path):
    run = mpirun("checkpoint", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.npz", "final.npz"]
    epoch = W.N // (2 * W.B)
    # the checkpoint equals one epoch of the single-process run ...
    model, opt, _ = reference(epoch)
    ckpt = io.load(tmp_path / "ckpt.npz")
    for name, value in model.state_dict().items():
        numpy.testing.assert_allclose(ckpt["model"][name], value, atol=1e-5, err_msg=name)
    # ... and a single process resumes from it to the distributed run's second epoch
    model2 = W.make_model(seed=99)
    opt2 = W.make_optimizer(model2)
    meta = io.restore(tmp_path / "ckpt.npz", model2, opt2)
    assert meta["epoch"] == 1 and opt2.t == epoch
    reference(epoch, model=model2, optimizer=opt2, skip=epoch)
    final = numpy.load(tmp_path / "final.npz")
    for name, value in model2.state_dict().items():
        numpy.testing.assert_allclose(final[name], value, atol=1e-5, err_msg=name)


def test_gpu_gradients_are_averaged_without_reading_the_device(monkeypatch):
    """On the GPU the has-gradient counts go through a host allreduce of their own, then every
    gradient in one device buffer; each grad becomes the mean of both ranks' (zeros for a rank
    without one, None where neither has one) and stays on the device, and no device array is
    ever copied to the host (that would synchronise every step)."""
    from tests.test_backends import _FakeCupy, _FakeDeviceArray

    model, mine, theirs = _two_ranks_gradients()
    with backends.override("cupy", _FakeCupy()):
        real_to_numpy = backends.to_numpy

        def refuse_device_reads(a):
            assert not isinstance(a, _FakeDeviceArray), "a device array was read back to the host"
            return real_to_numpy(a)

        monkeypatch.setattr(backends, "to_numpy", refuse_device_reads)
        params = list(model.parameters())
        other = [_has_grad(theirs), pack(_zero_filled(theirs, params)).view(_FakeDeviceArray)]
        for p in params:
            p.data = p.data.view(_FakeDeviceArray)
            p.grad = None if p.grad is None else p.grad.view(_FakeDeviceArray)
        comm = FakeTwoRanks(other=other)
        comm.allreduce_grads(params)
        assert comm.calls == [len(params), sum(p.data.size for p in params)]  # host counts, then one buffer
        assert comm.sent[0].tolist() == [0.0] + [1.0] * (len(params) - 2) + [0.0]
        assert all(isinstance(p.grad, _FakeDeviceArray) for p in params[:-1])
        _assert_averaged(params, mine, theirs)
