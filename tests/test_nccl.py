"""The NCCL communicator on one GPU: one rank trains exactly like one process, through NCCL.

Several GPUs are not available to the tests; with one rank the collectives still run (NCCL
sums over one rank, then the mean divides by 1), so the whole data-parallel code path of a
GPU job is exercised. The 2-rank equivalence of the same code is tested on the CPU over MPI.
"""
from __future__ import annotations

import numpy
import pytest

import backends
from dlcore.data import ArrayLoader
from dlcore.distributed import DistributedOptimizer, NCCLCommunicator, ShardedLoader
from tests import distributed_worker as W

pytestmark = [pytest.mark.gpu, pytest.mark.cuda_only]


class _CountingNccl:
    """Forwards to the real NCCL communicator and counts the collectives that ran."""

    def __init__(self, inner):
        self.inner, self.calls = inner, {"allReduce": 0, "bcast": 0}

    def allReduce(self, *args):
        self.calls["allReduce"] += 1
        return self.inner.allReduce(*args)

    def bcast(self, *args):
        self.calls["bcast"] += 1
        return self.inner.bcast(*args)


@pytest.fixture(scope="module")
def nccl():
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError) as why:
        pytest.skip(f"mpi4py cannot load an MPI library here: {why}")
    comm = NCCLCommunicator()
    comm.nccl_comm = _CountingNccl(comm.nccl_comm)
    return comm


def test_one_nccl_rank_trains_like_one_process(nccl):
    backends.use("cupy")
    x, y = W.make_data()
    reference = W.make_model(seed=1)
    ref_losses = W.train(reference, W.make_optimizer(reference), ArrayLoader(x, y, W.B, seed=W.SEED), 50)

    model = W.make_model(seed=1)
    nccl.broadcast_parameters(model)
    optimizer = DistributedOptimizer(W.make_optimizer(model), nccl)
    losses = W.train(model, optimizer, ShardedLoader(x, y, W.B, comm=nccl, seed=W.SEED), 50)

    assert (nccl.rank, nccl.size) == (0, 1)
    assert nccl.nccl_comm.calls["bcast"] >= 1 and nccl.nccl_comm.calls["allReduce"] >= 50
    numpy.testing.assert_array_equal(losses, ref_losses)
    for name, value in W.params(reference).items():
        numpy.testing.assert_array_equal(W.params(model)[name], value, err_msg=name)


def test_nccl_metrics_travel_over_mpi(nccl):
    assert nccl.allreduce_mean(numpy.array([2.0, 4.0])).tolist() == [2.0, 4.0]
    assert nccl.allreduce_mean(3.5) == 3.5


def test_sync_batch_norm_over_one_nccl_rank_equals_local(nccl):
    """Synchronised BatchNorm through NCCL (global sums over one rank) matches the local layer."""
    from dlcore import Tensor, nn
    from dlcore.distributed import sync_batch_norm

    backends.use("cupy")
    x_host = numpy.random.default_rng(0).standard_normal((8, 3, 5, 5)).astype(numpy.float32)
    results = []
    for comm in (None, nccl):
        layer = nn.BatchNorm2d(3).to("cupy")
        if comm is not None:
            sync_batch_norm(layer, comm)
        x = Tensor(backends.to_device(x_host, "cupy"), requires_grad=True)
        y = layer(x)
        (y * y).sum().backward()
        results.append([backends.to_numpy(a) for a in (y.data, x.grad, layer.weight.grad, layer.running_var)])
    for local, synced in zip(*results):
        numpy.testing.assert_allclose(synced, local, rtol=1e-5, atol=1e-5)
