#!/usr/bin/env python3
"""Time the gradient allreduce of data-parallel training for the shipped models' sizes.

    mpirun -n 2 python scripts/allreduce_bench.py --json allreduce.json      # NumPy, MPI ranks
    python scripts/allreduce_bench.py --backend cupy --measure-step           # one GPU, NCCL
    mpirun -n 4 python scripts/allreduce_bench.py --backend cupy              # four GPUs, NCCL

Each model is built as ``scripts/train.py`` builds it from ``configs/NAME.toml`` (MNIST and
Fashion-MNIST: 784 inputs for an MLP, 1×28×28 images for the CNNs; 10 classes, 1 mask
channel for the U-Net). Every gradient is set to ones and ``comm.allreduce_grads(model)`` is
timed as training pays it (pack into one flat buffer, allreduce, divide, unpack): each call
between a barrier and a device synchronisation, the median of ``--repeats`` calls after
``--warmup``, averaged over the ranks. Per model, with N ranks and t the median:

    bus bandwidth   2(N−1)/N · bytes / t          (N = 1: the algorithm bandwidth bytes / t)
    t8              2·7/8 · bytes / B + 2·7·α      ring allreduce over 8 ranks: 2(N−1) steps, each
                                                   moving bytes/N at bandwidth B after latency α
    efficiency8     t_step / (t_step + t8)         communication not overlapped with compute

B is ``--bandwidth`` (bytes/s), by default the bandwidth measured here for the largest model
(with N = 1 that is a local copy, far above any link: pass the link's bus bandwidth, e.g.
150e9 for NVLink or 20e9 for PCIe/InfiniBand). α is ``--latency``, default 5 µs, the order of
one NCCL/MPI hop between GPUs or nodes. t_step is a ``--step-ms NAME=MS`` figure or, with
``--measure-step``, the median time of one training step (forward, backward, update) of a
batch of ``train.batch_size`` on this device. Rank 0 prints a table and writes ``--json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy  # noqa: E402

import backends  # noqa: E402
from dlcore import Tensor, losses  # noqa: E402
from dlcore.distributed import create_communicator, select_gpu_before_backend  # noqa: E402
from dlcore.training import runconfig  # noqa: E402
from dlcore.models import IMAGE_MODELS  # noqa: E402
from dlcore.training.build import build_model, build_optimizer  # noqa: E402

CONFIGS = ("default", "fashion_mlp", "mnist_cnn", "fashion_cnn", "fashion_resnet", "fashion_unet")
SIDE, CLASSES = 28, 10  # MNIST and Fashion-MNIST: 28×28 grey images, 10 classes
RING = 8                # the rank count of the prediction


def model_for(name: str):
    """(config, model) of configs/NAME.toml, built as scripts/train.py builds it."""
    cfg = runconfig.load(ROOT / "configs" / f"{name}.toml")
    if cfg["data"]["name"] not in ("mnist_5k", "fashion_mnist"):
        raise SystemExit(f"configs/{name}.toml trains on {cfg['data']['name']!r}; this benchmark knows the "
                         f"input shapes of mnist_5k and fashion_mnist only")
    shape = (1, SIDE, SIDE) if cfg["model"]["kind"] in IMAGE_MODELS else (SIDE * SIDE,)
    n_out = 1 if cfg["data"]["task"] == "segment" else CLASSES
    return cfg, build_model(cfg, shape, n_out), shape


def median_ms(call, repeats: int, warmup: int, comm=None) -> float:
    """Median milliseconds of ``call`` over ``repeats`` calls after ``warmup``, each timed up to
    a device synchronisation; with ``comm`` each starts after a barrier and the ranks' medians
    are averaged."""
    sync = backends.current().synchronize
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        sync()
        if comm is not None:
            comm.barrier()
        start = time.perf_counter()
        call()
        sync()
        times.append(time.perf_counter() - start)
    ms = statistics.median(times) * 1e3
    return ms if comm is None else comm.allreduce_mean(ms)


def step_ms(cfg, model, shape, args) -> float:
    """One training step of a batch of ``train.batch_size`` random samples on this device (no allreduce)."""
    backend, batch = backends.current(), cfg["train"]["batch_size"]
    rng = numpy.random.default_rng(0)
    x = Tensor(backend.from_numpy(rng.standard_normal((batch, *shape)).astype(numpy.float32)))
    if cfg["data"]["task"] == "segment":
        target = backend.from_numpy((rng.random((batch, 1, SIDE, SIDE)) > 0.5).astype(numpy.float32))
    else:
        target = backend.from_numpy(rng.integers(0, CLASSES, batch))
    loss_fn, optimizer = losses.get(cfg["loss"]["name"]), build_optimizer(cfg, model)

    def step():
        loss = loss_fn(model(x), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    return median_ms(step, args.repeats, args.warmup)


def bench(args, comm) -> dict:
    """The results (the JSON written): per model its size, median allreduce time, bandwidth and t8."""
    n = comm.size
    rows = {}
    for name in args.configs.split(","):
        if name not in CONFIGS:
            raise SystemExit(f"unknown config {name!r}; choose from {', '.join(CONFIGS)}")
        cfg, model, shape = model_for(name)
        params = list(model.parameters())
        for p in params:
            p.grad = backends.current().xp.ones_like(p.data)
        nbytes = sum(p.data.nbytes for p in params)
        ms = median_ms(lambda: comm.allreduce_grads(params), args.repeats, args.warmup, comm)
        factor = 2 * (n - 1) / n if n > 1 else 1.0
        measured_step = step_ms(cfg, model, shape, args) if args.measure_step else None
        rows[name] = {"kind": cfg["model"]["kind"], "parameters": sum(p.data.size for p in params),
                      "bytes": nbytes, "median_ms": ms, "bandwidth_GBps": factor * nbytes / (ms * 1e-3) / 1e9,
                      "step_ms": args.step_ms.get(name, measured_step)}
    largest = max(rows.values(), key=lambda r: r["bytes"])
    bandwidth = args.bandwidth or largest["bandwidth_GBps"] * 1e9
    for r in rows.values():
        t8 = 2 * (RING - 1) / RING * r["bytes"] / bandwidth + 2 * (RING - 1) * args.latency
        r["predicted_ms_8"] = t8 * 1e3
        r["efficiency_8"] = r["step_ms"] / (r["step_ms"] + r["predicted_ms_8"]) if r["step_ms"] else None
    backend, mpi = backends.current(), getattr(comm, "MPI", None)
    return {"backend": backend.name, "device": backend.device_name, "communicator": comm.name, "ranks": n,
            "bandwidth_kind": "bus" if n > 1 else "algorithm", "cpus": os.cpu_count(), "machine": platform.machine(),
            "mpi": mpi.Get_library_version().split(",")[0].strip("\x00 ") if mpi else None,
            "model_bandwidth_Bps": bandwidth,
            "model_bandwidth_from": "--bandwidth" if args.bandwidth else "measured, largest model",
            "model_latency_s": args.latency, "repeats": args.repeats, "models": rows}


def print_table(results) -> None:
    from rich.console import Console
    from rich.table import Table

    def fmt(v, spec):
        return "—" if v is None else format(v, spec)

    table = Table(title=f"allreduce_grads: {results['ranks']} rank(s), {results['communicator']} on "
                        f"{results['backend']} ({results['device']}); t8: B = "
                        f"{results['model_bandwidth_Bps'] / 1e9:.2f} GB/s, α = {results['model_latency_s'] * 1e6:g} µs")
    for col in ("config", "model", "parameters", "MB", "median ms", f"{results['bandwidth_kind']} GB/s",
                "t8 ms", "step ms", "efficiency 8"):
        table.add_column(col, justify="right")
    for name, r in results["models"].items():
        table.add_row(name, r["kind"], f"{r['parameters']:,}", f"{r['bytes'] / 1e6:.2f}", f"{r['median_ms']:.3f}",
                      f"{r['bandwidth_GBps']:.2f}", f"{r['predicted_ms_8']:.3f}", fmt(r["step_ms"], ".2f"),
                      fmt(r["efficiency_8"], ".1%"))
    Console(width=160).print(table)


def step_time(text: str):
    name, sep, ms = text.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--step-ms needs NAME=MS, got {text!r}")
    return name, float(ms)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma list of configs/NAME.toml names")
    parser.add_argument("--repeats", type=int, default=50, help="timed calls; the median is reported")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--quick", action="store_true", help="3 repeats after 1 warm-up call (smoke test)")
    parser.add_argument("--bandwidth", type=float, default=0.0, help="B of the 8-rank model in bytes/s "
                        "(default: the bandwidth measured for the largest model)")
    parser.add_argument("--latency", type=float, default=5e-6, help="α of the 8-rank model in seconds")
    parser.add_argument("--step-ms", type=step_time, action="append", default=[], metavar="NAME=MS",
                        help="a model's training step time for the efficiency (repeatable)")
    parser.add_argument("--measure-step", action="store_true", help="time one training step per model here")
    parser.add_argument("--json", default="allreduce_bench.json", help="where rank 0 writes the results")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats, args.warmup = 3, 1
    args.step_ms = dict(args.step_ms)
    unknown = set(args.step_ms) - set(args.configs.split(","))
    if unknown:
        parser.error(f"--step-ms names {', '.join(sorted(unknown))}, not among --configs {args.configs}")
    if args.backend != "numpy":
        select_gpu_before_backend()  # one GPU per rank, chosen before CuPy state is made on GPU 0
    backends.use(args.backend)
    comm = create_communicator(args.backend)
    results = bench(args, comm)
    if comm.is_main:
        print_table(results)
        tmp = Path(f"{args.json}.tmp")
        tmp.write_text(json.dumps(results, indent=2))
        tmp.replace(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
