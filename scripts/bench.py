#!/usr/bin/env python3
"""Time full training steps (forward, backward, optimizer) of fixed workloads.

    python scripts/bench.py [--backend auto|numpy|cupy] [--workloads W1,W1-big] [--json out.json]

For each workload: median milliseconds per step of dlcore after warm-up, synchronised with
the device; in the same run, PyTorch with the identical model when ``torch`` imports (TF32
off in both unless --tf32), and the GEMM floor (the step's matrix products alone, same library);
on the CPU where convolutions run by Winograd (Numba installed), dlcore again with them on im2col
(the other compiled kernels, max pooling, stay on in both).
The contenders take turns block by block, and each ratio is the median of the per-round
ratios, so a host whose load drifts (a shared VM) skews both sides of a ratio alike.
Prints a rich table and writes JSON (``blocks_ms`` keeps every block time).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402

import backends  # noqa: E402
from backends import compiled  # noqa: E402
import dlcore  # noqa: E402
from dlcore import Tensor, losses, nn, optim  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.ops import winograd  # noqa: E402

def w1_model(sizes):
    return lambda: MLP(sizes, activation="relu")


def w2_model():
    """The CNN issue's workload: 3×32×32 → conv3×3(32) ReLU ×2 → pool → conv3×3(64) ReLU ×2 → pool → 512 → 10."""
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 8 * 8, 512), nn.ReLU(), nn.Linear(512, 10))


WORKLOADS = {
    # name: (model builder, input shape without the batch axis, classes, batch)
    "W1": (w1_model([784, 1024, 1024, 10]), (784,), 10, 128),
    "W1-big": (w1_model([784, 4096, 4096, 10]), (784,), 10, 1024),
    "W2": (w2_model, (3, 32, 32), 10, 64),
    "W2-big": (w2_model, (3, 32, 32), 10, 256),
}


CPU_SETTLE_S = 0.25  # pause before each CPU block (see interleaved_blocks)


def interleaved_blocks(contenders: dict, steps: int, repeats: int, warmup: int,
                       settle_s: float = 0.0) -> dict[str, list[float]]:
    """ms per step of each timed block, per contender, the contenders taking turns.

    ``contenders`` maps a name to ``(step, sync)``. After ``warmup`` steps of each, round r
    times one block of ``steps`` calls of every contender in turn (ending with its ``sync``),
    so contender A's block r and contender B's block r ran under the same load of the machine:
    their ratio is a fair one even on a noisy host, where load drifts between seconds.
    ``settle_s`` is a pause before each block. On the CPU it is needed: OpenBLAS's idle
    worker threads keep spinning for ~0.1 s after a GEMM (so do OpenMP's), and without the
    pause they would steal cores from the next contender (measured on 2 cores: PyTorch's
    GEMMs 1.6-2.6x slower right after NumPy's).
    """
    for step, sync in contenders.values():
        for _ in range(warmup):
            step()
        sync()
    blocks = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, (step, sync) in contenders.items():
            time.sleep(settle_s)
            start = time.perf_counter()
            for _ in range(steps):
                step()
            sync()
            blocks[name].append((time.perf_counter() - start) * 1e3 / steps)
    return blocks


def paired_ratio(numerator: list[float], denominator: list[float] | None) -> float | None:
    """The median over rounds of numerator[r] / denominator[r] (None without a denominator)."""
    if not denominator:
        return None
    return statistics.median(a / b for a, b in zip(numerator, denominator))


def make_data(shape, classes, batch, seed=0):
    rng = numpy.random.default_rng(seed)
    return rng.standard_normal((batch, *shape)).astype(numpy.float32), rng.integers(0, classes, batch)


def uses_winograd(model) -> bool:
    """True when a convolution of ``model`` runs by Winograd here (see dlcore.ops.winograd.applies)."""
    backend = backends.current()
    return any(isinstance(m, nn.Conv2d) and winograd.applies(backend, numpy.float32, m.geometry, m.in_channels,
                                                             m.out_channels)
               for m in model.modules())


def dlcore_step(build, shape, classes, batch, warmup: int, graph: bool = False, use_winograd: bool = True):
    """(step, pool bytes, model): dlcore's training step, warmed up, ready to time.

    The pool bytes are what CuPy's memory pool holds after the warm-up (the step's steady
    footprint: parameters, optimizer state, activations); None on NumPy and for ``graph``,
    the step captured once and replayed as a CUDA graph.
    """
    backend = backends.current()
    dlcore.manual_seed(0)
    model = build()
    opt = optim.Momentum(model, lr=0.01, momentum=0.9)
    loss_fn = losses.CrossEntropyLoss()
    x_host, t_host = make_data(shape, classes, batch)
    x, t = Tensor(backend.from_numpy(x_host)), backend.from_numpy(t_host)

    def step():
        loss = loss_fn(model(x), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    if graph:
        from dlcore.cuda_graph import CapturedStep

        return CapturedStep(step, warmup=max(1, warmup)), None, model
    pool = getattr(backend.xp, "get_default_memory_pool", None)
    if pool is not None:
        pool().free_all_blocks()
    with winograd.WINOGRAD.scoped(use_winograd and winograd.WINOGRAD.on):
        for _ in range(warmup):
            step()
    backend.synchronize()
    return step, (pool().total_bytes() if pool is not None else None), model


def recorded_gemms(step, backend) -> list[tuple]:
    """(backend method, a's shape, b's shape, its other arguments but ``out``, dtype) of every matrix product
    one ``step`` makes.

    These are the step's matrix products: per Linear x@W, g@Wᵀ and xᵀ@g (the first layer needs
    no g@Wᵀ), per convolution on the portable path its column-matrix GEMMs, and on the CPU's
    Winograd path its stacks of 36 products (``batched_gemm``).
    """
    calls = []

    def recording(name):
        method = getattr(backend, name)
        signature = inspect.signature(method)

        def record(a, b, *args, **kwargs):
            bound = signature.bind(a, b, *args, **kwargs)
            bound.apply_defaults()
            options = {k: v for k, v in bound.arguments.items() if k not in ("a", "b", "out")}
            calls.append((name, a.shape, b.shape, options, a.dtype))
            return method(a, b, *args, **kwargs)
        return record

    for name in ("gemm", "batched_gemm"):  # instance attributes over the methods, for this one step
        setattr(backend, name, recording(name))
    try:
        step()
    finally:
        del backend.gemm, backend.batched_gemm
    backend.synchronize()
    return calls


def gemm_floor_step(calls, backend):
    """The products of ``recorded_gemms`` alone, on fresh C-contiguous operands: the step's matrix-product floor."""
    rng = numpy.random.default_rng(0)
    operands = [(getattr(backend, name), backend.from_numpy(rng.standard_normal(a).astype(dtype)),
                 backend.from_numpy(rng.standard_normal(b).astype(dtype)), flags)
                for name, a, b, flags, dtype in calls]

    def step():
        for method, a, b, flags in operands:
            method(a, b, **flags)

    return step


def torch_twin(torch, model):
    """The dlcore Sequential ``model`` rebuilt in PyTorch with the same weights."""
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            t = torch.nn.Linear(m.in_features, m.out_features)
            weight = m.weight.numpy().T
        elif isinstance(m, nn.Conv2d):
            w = m.weight.numpy()
            t = torch.nn.Conv2d(w.shape[1], w.shape[0], w.shape[2:], padding=m.geometry.padding)
            weight = w
        else:
            layers.append({"ReLU": torch.nn.ReLU, "Flatten": torch.nn.Flatten}.get(type(m).__name__, None)()
                          if type(m).__name__ != "MaxPool2d" else torch.nn.MaxPool2d(2))
            continue
        with torch.no_grad():
            t.weight.copy_(torch.from_numpy(numpy.ascontiguousarray(weight)))
            t.bias.copy_(torch.from_numpy(m.bias.numpy()))
        layers.append(t)
    return torch.nn.Sequential(*layers)


def torch_step(shape, classes, batch, args, dl_model):
    """(step, sync, memory) of the identical PyTorch model, or None when torch does not import.

    ``memory()`` gives (peak allocated, peak reserved) bytes on CUDA, (None, None) on the CPU.
    """
    try:
        import torch
    except ImportError:
        return None
    device = "cuda" if backends.current().name == "cupy" and torch.cuda.is_available() else "cpu"
    if device == "cpu":
        torch.set_num_threads(args.threads or os.cpu_count())
    torch.backends.cuda.matmul.allow_tf32 = args.tf32
    torch.backends.cudnn.allow_tf32 = args.tf32
    model = torch_twin(torch, dl_model).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_host, t_host = make_data(shape, classes, batch)
    x, t = torch.from_numpy(x_host).to(device), torch.from_numpy(t_host).to(device)

    def step():
        loss = loss_fn(model(x), t)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    if device != "cuda":
        return step, (lambda: None), (lambda: (None, None))
    torch.cuda.reset_peak_memory_stats()
    return step, torch.cuda.synchronize, (lambda: (torch.cuda.max_memory_allocated(), torch.cuda.max_memory_reserved()))


def versions():
    info = {"python": platform.python_version(), "numpy": numpy.__version__, "machine": platform.machine()}
    backend = backends.current()
    info["device"] = backend.device_name
    if backend.name == "cupy":
        info["cupy"] = backend.xp.__version__
    library = backend.convolution(numpy.dtype("float32"))
    if library is not None:
        info["convolution"] = f"cuDNN {library.version}"
    elif compiled.runs_on(backend.xp) and winograd.WINOGRAD.on:
        info["convolution"] = "Winograd F(4×4, 3×3) where it applies, else im2col + GEMM"
    else:
        info["convolution"] = "im2col + GEMM"
    try:
        import torch
        info["torch"] = torch.__version__
    except ImportError:
        pass
    return info


def bench_workload(name: str, args, results: dict) -> dict:
    """Time dlcore, its CUDA graph (CuPy), the GEMM floor and PyTorch on one workload, interleaved.

    The floor is timed where every matrix product of the step goes through the backend's GEMM:
    MLPs, and CNNs on the portable path (not with cuDNN).

    Each ratio is the median over rounds of the two contenders' block times in that round
    (``paired_ratio``); graph capture errors are reported in ``results["errors"]``.
    """
    build, shape, classes, batch = WORKLOADS[name]
    backend = backends.current()
    step, pool_bytes, model = dlcore_step(build, shape, classes, batch, args.warmup)
    contenders = {"dlcore": (step, backend.synchronize)}
    if backend.convolution(numpy.dtype("float32")) is None or not any(isinstance(m, nn.Conv2d) for m in model):
        contenders["floor"] = (gemm_floor_step(recorded_gemms(step, backend), backend), backend.synchronize)
    if uses_winograd(model):
        im2col_step = dlcore_step(build, shape, classes, batch, args.warmup, use_winograd=False)[0]

        def on_im2col():
            with winograd.WINOGRAD.scoped(False):
                im2col_step()
        contenders["im2col"] = (on_im2col, backend.synchronize)
    if backend.name == "cupy":
        try:
            contenders["graph"] = (dlcore_step(build, shape, classes, batch, args.warmup, graph=True)[0],
                                   backend.synchronize)
        except Exception as error:  # report, keep benchmarking the rest
            results.setdefault("errors", {})[f"{name} graph"] = f"{type(error).__name__}: {error}"
    twin = torch_step(shape, classes, batch, args, model)
    if twin is not None:
        contenders["torch"] = twin[:2]
    settle_s = 0.0 if backend.name == "cupy" else CPU_SETTLE_S
    blocks = interleaved_blocks(contenders, args.steps, args.repeats, args.warmup, settle_s)
    ms = {k: statistics.median(v) for k, v in blocks.items()}
    torch_peak, torch_reserved = twin[2]() if twin is not None else (None, None)
    return {
        "input": [batch, *shape], "dlcore_ms": ms["dlcore"], "dlcore_graph_ms": ms.get("graph"),
        "gemm_floor_ms": ms.get("floor"), "torch_ms": ms.get("torch"), "im2col_ms": ms.get("im2col"),
        "ratio_vs_torch": paired_ratio(blocks["dlcore"], blocks.get("torch")),
        "graph_ratio_vs_torch": paired_ratio(blocks["graph"], blocks.get("torch")) if "graph" in blocks else None,
        "ratio_vs_floor": paired_ratio(blocks["dlcore"], blocks.get("floor")),
        "ratio_vs_im2col": paired_ratio(blocks["dlcore"], blocks.get("im2col")),
        "dlcore_pool_bytes": pool_bytes, "torch_peak_bytes": torch_peak, "torch_reserved_bytes": torch_reserved,
        "blocks_ms": blocks,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "cupy"])
    parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"comma list of {', '.join(WORKLOADS)}")
    parser.add_argument("--steps", type=int, default=20, help="steps per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks; the median is reported")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for PyTorch (0: all)")
    parser.add_argument("--tf32", action="store_true",
                        help="allow TF32 in dlcore and PyTorch (off for headline figures)")
    parser.add_argument("--json", default="bench.json", help="where to write the results")
    args = parser.parse_args(argv)
    backend = backends.use(args.backend)
    backends.set_tf32(args.tf32)
    results = {"backend": backend.name, "versions": versions(), "tf32": args.tf32, "workloads": {}}
    for name in args.workloads.split(","):
        if name not in WORKLOADS:
            parser.error(f"unknown workload {name!r}; choose from {', '.join(WORKLOADS)}")
        results["workloads"][name] = bench_workload(name, args, results)
    _print_table(results)
    tmp = Path(args.json).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=2))
    tmp.replace(args.json)
    return 0


def _print_table(results):
    from rich.console import Console
    from rich.table import Table

    def fmt(v, spec=".3f"):
        return "—" if v is None else format(v, spec)

    table = Table(title=f"dlcore bench on {results['backend']} ({results['versions']['device']}; "
                        f"convolution: {results['versions']['convolution']})")
    for col in ("workload", "dlcore ms", "graph ms", "torch ms", "GEMM floor", "× torch", "graph × torch",
                "× floor", "× im2col", "pool MiB", "torch MiB", "torch reserved"):
        table.add_column(col, justify="right")
    for name, r in results["workloads"].items():
        mib = lambda b: None if b is None else b / 2**20  # noqa: E731
        table.add_row(name, fmt(r["dlcore_ms"]), fmt(r["dlcore_graph_ms"]), fmt(r["torch_ms"]),
                      fmt(r["gemm_floor_ms"]), fmt(r["ratio_vs_torch"], ".2f"), fmt(r["graph_ratio_vs_torch"], ".2f"),
                      fmt(r["ratio_vs_floor"], ".2f"), fmt(r["ratio_vs_im2col"], ".2f"),
                      fmt(mib(r["dlcore_pool_bytes"]), ".1f"),
                      fmt(mib(r["torch_peak_bytes"]), ".1f"), fmt(mib(r["torch_reserved_bytes"]), ".1f"))
    Console(width=160).print(table)


if __name__ == "__main__":
    sys.exit(main())
