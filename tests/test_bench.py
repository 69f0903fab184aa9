"""scripts/bench.py runs on the CPU and writes the JSON its README table is made from."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import backends
from backends import compiled

ROOT = Path(__file__).resolve().parent.parent


def test_bench_times_the_mlp_and_the_cnn_on_the_cpu(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "scripts/bench.py", "--backend", "numpy", "--workloads", "W1,W2", "--steps", "1",
           "--repeats", "1", "--warmup", "0", "--threads", "1", "--json", str(out)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    w1, w2 = result["workloads"]["W1"], result["workloads"]["W2"]
    assert result["backend"] == "numpy"
    if compiled.available():  # W2's 3×3 layers of 32 and 64 channels run by Winograd; im2col is timed beside it
        assert result["versions"]["convolution"] == "Winograd F(4×4, 3×3) where it applies, else im2col + GEMM"
        blocks = w2["blocks_ms"]
        assert w2["im2col_ms"] > 0 and w2["ratio_vs_im2col"] == blocks["dlcore"][0] / blocks["im2col"][0]
    else:
        assert result["versions"]["convolution"] == "im2col + GEMM" and w2["im2col_ms"] is None
    assert w1["input"] == [128, 784] and w2["input"] == [64, 3, 32, 32]
    assert w1["dlcore_ms"] > 0 and w2["dlcore_ms"] > 0
    assert w1["gemm_floor_ms"] > 0 and w2["gemm_floor_ms"] > 0  # the CPU's convolutions are GEMMs too
    assert w1["dlcore_graph_ms"] is None  # CUDA graphs exist on the GPU only
    assert w1["ratio_vs_floor"] == w1["blocks_ms"]["dlcore"][0] / w1["blocks_ms"]["floor"][0]  # one round
    if w1["torch_ms"] is not None:  # PyTorch side by side when it is installed
        assert w1["ratio_vs_torch"] == w1["blocks_ms"]["dlcore"][0] / w1["blocks_ms"]["torch"][0]


def _bench_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("dlcore_bench_script", ROOT / "scripts" / "bench.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_contenders_take_turns_block_by_block_and_ratios_pair_rounds():
    bench = _bench_module()
    calls = []
    contenders = {name: (lambda name=name: calls.append(name), lambda name=name: calls.append(name + " sync"))
                  for name in ("a", "b")}
    blocks = bench.interleaved_blocks(contenders, steps=2, repeats=3, warmup=1)
    warm = ["a", "a sync", "b", "b sync"]
    one_round = ["a", "a", "a sync", "b", "b", "b sync"]
    assert calls == warm + one_round * 3
    assert [len(v) for v in blocks.values()] == [3, 3] and all(t > 0 for v in blocks.values() for t in v)
    # rounds 2 and 3 were twice as loaded for both: the paired ratio stays 2, the ratio of medians does not
    assert bench.paired_ratio([2.0, 8.0, 8.0], [1.0, 4.0, 4.0]) == 2.0
    assert bench.paired_ratio([1.0, 3.0, 30.0], [1.0, 1.0, 10.0]) == 3.0
    assert bench.paired_ratio([1.0], None) is None


def test_the_floor_replays_the_gemms_the_step_makes():
    """W1's step: x@W for three layers, g@Wᵀ for the two upper ones, xᵀ@g for all three; the floor makes the same."""
    import backends

    bench = _bench_module()
    backend = backends.use("numpy")
    step, _, _ = bench.dlcore_step(*bench.WORKLOADS["W1"], warmup=0)
    calls = bench.recorded_gemms(step, backend)
    f32 = numpy.dtype("float32")

    def gemm(a, b, trans_a=False, trans_b=False):
        return "gemm", a, b, {"trans_a": trans_a, "trans_b": trans_b}, f32
    assert calls == [gemm((128, 784), (784, 1024)), gemm((128, 1024), (1024, 1024)), gemm((128, 1024), (1024, 10)),
                     gemm((128, 10), (1024, 10), trans_b=True), gemm((128, 1024), (128, 10), trans_a=True),
                     gemm((128, 1024), (1024, 1024), trans_b=True), gemm((128, 1024), (128, 1024), trans_a=True),
                     gemm((128, 784), (128, 1024), trans_a=True)]
    assert "gemm" not in vars(backend) and "batched_gemm" not in vars(backend)  # the recording is gone
    replayed = []
    backend.gemm = lambda a, b, trans_a=False, trans_b=False: replayed.append(gemm(a.shape, b.shape, trans_a, trans_b))
    try:
        bench.gemm_floor_step(calls, backend)()
    finally:
        del backend.gemm
    assert replayed == calls


def test_the_floor_counts_the_winograd_products():
    """A 3×3 convolution of 16 channels in and out by Winograd: 36 products per GEMM stack, forward and backward."""
    if not compiled.available():
        pytest.skip("Winograd convolutions run where Numba is installed (pip install -e '.[cpu]')")
    import dlcore
    from dlcore import nn

    bench = _bench_module()
    backend = backends.use("numpy")
    layer = nn.Conv2d(16, 16, 3, padding=1)
    x = dlcore.tensor(numpy.ones((2, 16, 8, 8), numpy.float32), requires_grad=True)
    calls = bench.recorded_gemms(lambda: layer(x).sum().backward(), backend)
    # V (36, tiles, C) @ Uᵀ (36, C, O) forward; dMᵀ @ V for the kernels and dM @ U for the input backward
    assert [(name, a, b) for name, a, b, _, _ in calls] == [
        ("batched_gemm", (36, 8, 16), (36, 16, 16)), ("batched_gemm", (36, 16, 8), (36, 8, 16)),
        ("batched_gemm", (36, 8, 16), (36, 16, 16))]


@pytest.mark.gpu
def test_bench_times_the_eager_and_the_captured_step_on_cupy(tmp_path):
    """On CuPy (or its host simulation) the bench also captures the step as a CUDA graph and times its replays."""
    out = tmp_path / "bench.json"
    _bench_module().main(["--backend", "cupy", "--workloads", "W1", "--steps", "1", "--repeats", "1",
                          "--warmup", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["backend"] == "cupy" and "errors" not in result, result.get("errors")
    assert result["versions"]["cupy"] == backends.get("cupy").xp.__version__
    w1 = result["workloads"]["W1"]
    assert w1["dlcore_ms"] > 0 and w1["dlcore_graph_ms"] > 0 and w1["gemm_floor_ms"] > 0
