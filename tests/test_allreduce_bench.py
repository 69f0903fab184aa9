"""scripts/allreduce_bench.py runs as one process (--quick) and writes the JSON it documents."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# 784 → 512 → 256 → 10 (configs/default.toml): weights and biases
DEFAULT_MLP = 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10


def test_quick_run_writes_the_table_as_json(tmp_path):
    out = tmp_path / "allreduce.json"
    cmd = [sys.executable, "scripts/allreduce_bench.py", "--quick", "--json", str(out), "--bandwidth", "20e9",
           "--step-ms", "fashion_cnn=10"]
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert not Path(f"{out}.tmp").exists()
    result = json.loads(out.read_text())
    assert result["ranks"] == 1 and result["bandwidth_kind"] == "algorithm" and result["backend"] == "numpy"
    models = result["models"]
    assert list(models) == ["default", "fashion_mlp", "mnist_cnn", "fashion_cnn", "fashion_resnet", "fashion_unet"]
    assert models["default"]["parameters"] == DEFAULT_MLP
    for name, r in models.items():
        assert r["bytes"] == 4 * r["parameters"] > 0, name  # float32 gradients
        assert r["median_ms"] > 0 and r["bandwidth_GBps"] == pytest.approx(r["bytes"] / r["median_ms"] / 1e6)
        t8 = 2 * 7 / 8 * r["bytes"] / 20e9 + 2 * 7 * 5e-6  # the ring model with B = 20 GB/s, α = 5 µs
        assert r["predicted_ms_8"] == pytest.approx(t8 * 1e3)
    cnn = models["fashion_cnn"]
    assert cnn["efficiency_8"] == pytest.approx(10 / (10 + cnn["predicted_ms_8"]))
    assert models["default"]["step_ms"] is None and models["default"]["efficiency_8"] is None
