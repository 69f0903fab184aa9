"""Worker the distributed tests launch under ``mpirun -n 2``: ``distributed_worker.py MODE OUT_DIR``.

Modes: ``equivalence`` (50 steps of a float64 MLP with DistributedOptimizer(Momentum),
per-rank batch B; rank 0 saves the final parameters and the rank-averaged losses),
``shard`` (rank 0 saves every rank's shard of 3 epochs and their ranks on the node), ``fail`` (rank 1 raises while
rank 0 waits in an allreduce: the job must end non-zero), ``checkpoint`` (one epoch of 16
steps, rank 0 alone writes ckpt.npz, then another epoch; rank 0 saves final.npz), ``syncbn``
(the MLP with BatchNorm1d trained 30 steps with synchronised BatchNorm, then again without;
rank 0 saves both ranks' parameters and running statistics to sync.npz and local.npz).
The problem set-up (``make_data``, ``make_model``) is shared with the single-process
reference runs in tests/test_distributed.py.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import io, losses, optim  # noqa: E402
from dlcore.core import Tensor  # noqa: E402
from dlcore.models import MLP  # noqa: E402

N, FEATURES, CLASSES = 256, 8, 3
B = 8            # per-rank batch; the single-process reference uses B * size
SEED = 5         # data order seed
LR, MOMENTUM = 0.1, 0.9
SYNCBN_STEPS = 30  # steps of the syncbn mode


def make_data():
    rng = numpy.random.default_rng(123)
    x = rng.normal(size=(N, FEATURES))
    y = (x[:, 0] + x[:, 1] * x[:, 2] > 0).astype(numpy.int64) + (x[:, 3] > 1).astype(numpy.int64)
    return x, y


def make_model(seed: int, batch_norm: bool = False):
    dlcore.manual_seed(seed)
    with dlcore.default_dtype("float64"):
        return MLP([FEATURES, 16, 16, CLASSES], activation="tanh", batch_norm=batch_norm)


def make_optimizer(model):
    return optim.Momentum(model, lr=LR, momentum=MOMENTUM)


def train(model, optimizer, loader, steps: int, skip: int = 0):
    """``steps`` optimizer steps over the loader's epochs (the first ``skip`` batches are
    drawn but not trained on, to resume mid-epoch); returns the losses."""
    loss_fn, out, seen = losses.CrossEntropyLoss(), [], 0
    while len(out) < steps:
        for xb, yb in loader:
            seen += 1
            if seen <= skip:
                continue
            loss = loss_fn(model(Tensor(xb)), yb)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            out.append(float(loss.data))
            if len(out) == steps:
                break
    return out


def params(model) -> dict:
    return {k: v for k, v in model.state_dict().items()}


def main(mode: str, out: Path, comm) -> None:
    from dlcore.distributed import DistributedOptimizer, ShardedLoader, shard, sync_batch_norm
    x, y = make_data()
    if mode == "equivalence":
        model = make_model(seed=1 + comm.rank)  # different on purpose: the broadcast must fix it
        comm.broadcast_parameters(model)
        opt = DistributedOptimizer(make_optimizer(model), comm)
        loader = ShardedLoader(x, y, batch_size=B, comm=comm, seed=SEED)
        local = train(model, opt, loader, 50)
        mean = [comm.allreduce_mean(v) for v in local]
        if comm.is_main:
            numpy.savez(out / "equivalence.npz", losses=numpy.array(mean), **params(model))
    elif mode == "shard":
        from dlcore.distributed.communicator import local_rank
        mine = [shard(N + 1, comm.rank, comm.size, epoch=e, seed=SEED, batch_size=B) for e in range(3)]
        everyone = comm.comm.gather(mine, root=0)
        on_node = comm.comm.gather(local_rank(comm.comm), root=0)
        if comm.is_main:
            numpy.savez(out / "shard.npz", local_ranks=numpy.array(on_node),
                        **{f"r{r}e{e}": a for r, arrs in enumerate(everyone) for e, a in enumerate(arrs)})
    elif mode == "fail":
        comm.barrier()
        if comm.rank == 1:
            raise RuntimeError("rank 1 fails on purpose")
        comm.allreduce_mean(1.0)  # rank 0 would wait here forever without the abort
        (out / "should_not_exist").write_text("rank 0 went on")
    elif mode == "checkpoint":
        model = make_model(seed=1)
        comm.broadcast_parameters(model)
        opt = DistributedOptimizer(make_optimizer(model), comm)
        loader = ShardedLoader(x, y, batch_size=B, comm=comm, seed=SEED)
        train(model, opt, loader, len(loader))          # exactly one epoch
        if comm.is_main:
            io.save(out / "ckpt.npz", model, opt, epoch=1)
        comm.barrier()
        train(model, opt, loader, len(loader))          # the second epoch
        if comm.is_main:
            numpy.savez(out / "final.npz", **params(model))
    elif mode == "syncbn":
        for name, sync in (("sync", True), ("local", False)):
            model = make_model(seed=1, batch_norm=True)
            if sync:
                sync_batch_norm(model, comm)
            comm.broadcast_parameters(model)
            loader = ShardedLoader(x, y, batch_size=B, comm=comm, seed=SEED)
            train(model, DistributedOptimizer(make_optimizer(model), comm), loader, SYNCBN_STEPS)
            everyone = comm.comm.gather(params(model), root=0)
            if comm.is_main:
                numpy.savez(out / f"{name}.npz", **{f"r{r}/{k}": v for r, state in enumerate(everyone)
                                                   for k, v in state.items()})
    else:
        raise ValueError(f"unknown mode {mode!r}")


if __name__ == "__main__":
    backends.use("numpy")
    from dlcore.distributed import create_communicator, run_or_abort
    comm = create_communicator("numpy")
    run_or_abort(main, comm, sys.argv[1], Path(sys.argv[2]), comm)
