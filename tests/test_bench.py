"""scripts/bench.py runs on the CPU and writes the JSON its README table is made from."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_times_the_mlp_and_the_cnn_on_the_cpu(tmp_path):
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "scripts/bench.py", "--backend", "numpy", "--workloads", "W1,W2", "--steps", "1",
           "--repeats", "1", "--warmup", "0", "--threads", "1", "--json", str(out)]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=240,
                         env=dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1"))
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(out.read_text())
    assert result["backend"] == "numpy" and result["versions"]["convolution"] == "im2col + GEMM"
    w1, w2 = result["workloads"]["W1"], result["workloads"]["W2"]
    assert w1["input"] == [128, 784] and w2["input"] == [64, 3, 32, 32]
    assert w1["dlcore_ms"] > 0 and w2["dlcore_ms"] > 0
    assert w1["gemm_floor_ms"] > 0 and w2["gemm_floor_ms"] is None  # the floor is timed for the MLPs
    assert w1["dlcore_graph_ms"] is None  # CUDA graphs exist on the GPU only
    if w1["torch_ms"] is not None:  # PyTorch side by side when it is installed
        assert w1["ratio_vs_torch"] == w1["dlcore_ms"] / w1["torch_ms"]
