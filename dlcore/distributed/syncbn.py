"""Synchronised BatchNorm: batch statistics over the global batch of every rank.

    model = sync_batch_norm(build_model(), comm)   # before comm.broadcast_parameters(model)

In training each BatchNorm layer then normalizes with μ = Σ_r Σx / n and
σ² = Σ_r Σ(x − μ)² / n, n = Σ_r n_r (two small allreduces per layer in the forward pass and
one of [Σg, Σg·x̂] in the backward pass; formulas in ``dlcore.ops.normalization.BatchNorm``),
so N ranks × batch B normalize exactly like one process with batch N·B, and the running
statistics stay identical on every rank. Eval uses the running statistics, no communication.
"""
from __future__ import annotations

from dlcore.nn.normalization import BatchNormBase


def sync_batch_norm(model, comm):
    """Set ``comm`` on every BatchNorm layer of ``model`` (in place) and return ``model``.

    Every rank must hold the same BatchNorm layers: their names and channel counts are
    compared with rank 0's (one object broadcast), and a rank that differs raises ValueError
    naming the layer (under ``run_or_abort`` that ends the job instead of a hang in a collective).
    """
    layers = [(name or type(m).__name__, m) for name, m in model.named_modules() if isinstance(m, BatchNormBase)]
    mine = [(name, m.num_features) for name, m in layers]
    main = comm.bcast_object(mine, root=0)
    if mine != main:
        for (name, c), (name0, c0) in zip(mine, main):
            if (name, c) != (name0, c0):
                raise ValueError(f"sync_batch_norm: BatchNorm layer {name!r} has {c} channels on rank {comm.rank} "
                                 f"but rank 0's layer {name0!r} has {c0}; every rank must hold the same model")
        raise ValueError(f"sync_batch_norm: rank {comm.rank} has {len(mine)} BatchNorm layers but rank 0 has "
                         f"{len(main)}; every rank must hold the same model")
    for _, m in layers:
        m.comm = comm
    return model
