"""Data-parallel training: communicators, the optimizer wrapper, dataset sharding.

    comm = create_communicator()                 # MPI for NumPy, NCCL for CuPy
    sync_batch_norm(model, comm)                 # optional: BatchNorm statistics over all ranks
    comm.broadcast_parameters(model)             # rank 0's initial weights everywhere
    opt = DistributedOptimizer(optim.Momentum(model, lr=0.1), comm)
    loader = ShardedLoader(x, y, batch_size=B, comm=comm, seed=0)
    ...                                          # loss.backward(); opt.step() averages grads
    if comm.is_main: dlcore.io.save(...)         # only rank 0 writes

Launch: ``mpirun -n 2 python script.py`` (see docs/distributed.md).
"""
from dlcore.distributed.communicator import (Communicator, LocalCommunicator, MPICommunicator, NCCLCommunicator,
                                             create_communicator, launched_by_mpi, pack,
                                             select_gpu_before_backend, unpack)
from dlcore.distributed.launch import abort_on_error, run_or_abort
from dlcore.distributed.optimizer import DistributedOptimizer
from dlcore.distributed.sharding import ShardedLoader, global_order, shard, shard_order
from dlcore.distributed.syncbn import sync_batch_norm

__all__ = ["Communicator", "LocalCommunicator", "MPICommunicator", "NCCLCommunicator", "create_communicator",
           "launched_by_mpi", "pack", "unpack", "select_gpu_before_backend", "abort_on_error", "run_or_abort",
           "DistributedOptimizer", "ShardedLoader", "global_order", "shard", "shard_order",
           "sync_batch_norm"]
