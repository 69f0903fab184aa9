"""scripts/train.py end to end: a tiny config, --json, run directory contents, resume, errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy

ROOT = Path(__file__).resolve().parent.parent


def _train(*args, cwd=ROOT):
    result = subprocess.run([sys.executable, "scripts/train.py", *args], cwd=cwd, capture_output=True, text=True,
                            timeout=300)
    return result


def test_tiny_config_writes_a_complete_run(tmp_path):
    result = _train("--config", "configs/xor.toml", "--backend", "numpy", "--json",
                    "--set", f"run.out_dir='{tmp_path}'", "--set", "train.epochs=30")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(summary) >= {"config", "backend", "epochs", "seconds", "train_loss", "val_loss", "test_accuracy",
                            "run_dir"}
    assert summary["backend"] == "numpy" and summary["epochs"] == 30 and summary["test_accuracy"] >= 0.95
    run = Path(summary["run_dir"])
    names = {p.name for p in run.iterdir()}
    assert {"config.json", "history.json", "metrics.json", "last.npz", "best.npz"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert len(history) == 30 and history[-1]["train_loss"] == summary["train_loss"]


def test_resume_continues_bit_for_bit(tmp_path):
    common = ["--backend", "numpy", "--json", "--set", "data.name='spiral'", "--set", "optim.name='adam'",
              "--set", "train.log_every=1"]
    straight = _train("--config", "configs/spiral.toml", *common, "--set", f"run.out_dir='{tmp_path / 'a'}'",
                      "--set", "train.epochs=6")
    first = _train("--config", "configs/spiral.toml", *common, "--set", f"run.out_dir='{tmp_path / 'b'}'",
                   "--set", "train.epochs=3")
    assert straight.returncode == 0 and first.returncode == 0, straight.stderr + first.stderr
    run_b = json.loads(first.stdout.strip().splitlines()[-1])["run_dir"]
    resumed = _train("--resume", run_b, "--backend", "numpy", "--json", "--set", "train.epochs=6")
    assert resumed.returncode == 0, resumed.stderr
    run_a = json.loads(straight.stdout.strip().splitlines()[-1])["run_dir"]
    a = json.loads((Path(run_a) / "history.json").read_text())["epochs"]
    b = json.loads((Path(run_b) / "history.json").read_text())["epochs"]
    assert len(a) == len(b) == 6
    for key in ("train_loss", "val_loss", "train_accuracy"):
        assert [r[key] for r in a] == [r[key] for r in b], key  # equal to the last bit
    from dlcore import io
    wa, wb = io.load(Path(run_a) / "last.npz")["model"], io.load(Path(run_b) / "last.npz")["model"]
    for name in wa:
        numpy.testing.assert_array_equal(wa[name], wb[name])


def test_bad_key_and_missing_file_fail_clearly(tmp_path):
    result = _train("--config", "configs/xor.toml", "--set", "optim.learnrate=0.1")
    assert result.returncode == 2 and "optim.learnrate" in result.stderr
    result = _train("--config", str(tmp_path / "nope.toml"))
    assert result.returncode == 2 and "does not exist" in result.stderr
    result = _train("--resume", str(tmp_path))
    assert result.returncode == 2 and "not a run directory" in result.stderr
