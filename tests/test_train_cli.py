"""scripts/train.py end to end: a tiny config, --json, run directory contents, resume, errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

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


def test_section_names_in_errors_are_printed_as_text():
    """"[optimizer]" in a message is text, not rich markup that would vanish."""
    result = _train("--config", "configs/xor.toml", "--set", "optimizer.lr=0.1")
    assert result.returncode == 2 and "unknown section [optimizer]" in result.stderr, result.stderr
    result = _train("--config", "configs/xor.toml", "--set", "optim.learning_rate=0.1")
    assert result.returncode == 2 and "valid keys in [optim]: name, lr" in result.stderr, result.stderr


@pytest.mark.parametrize("override, message", [
    ("optim.lr=-1", "optim.lr must be a finite number ≥ 0, got -1.0"),
    ("train.batch_size=0", "train.batch_size must be ≥ 1, got 0"),
    ("loss.name='crossentropy'", "loss.name: unknown value 'crossentropy' (did you mean 'cross_entropy'?)"),
    ("data.name='mnist'", "data.name: unknown value 'mnist'"),
    ("model.activation='gelu'", "model.activation: unknown value 'gelu'"),
    ("model.weight_init='kaiming'", "model.weight_init: unknown value 'kaiming'"),
    ('run.backend="gpu"', "run.backend: unknown value 'gpu'; choose one of auto, numpy, cupy"),
    ("data.val_fraction=1.5", "data.val_fraction must be in [0, 1), got 1.5"),
    ("data.n_samples=-5", "data.n_samples must be ≥ 1, got -5"),
    ("data.n_samples=1", "data.n_samples = 1, data.noise = 0.05: spiral: n (the number of samples) must be ≥ 2"),
])
def test_values_the_builders_reject_are_one_line_errors_naming_the_key(tmp_path, override, message):
    result = _train("--config", "configs/spiral.toml", "--backend", "numpy", "--set", f"run.out_dir='{tmp_path}'",
                    "--set", "train.epochs=1", "--set", override)
    assert result.returncode == 2, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in result.stderr and len(errors) == 1 and message in errors[0], result.stderr
    assert not list(tmp_path.iterdir())  # failed before a run directory was made


def test_missing_cupy_is_a_one_line_error():
    import backends

    if backends.cuda_available():
        pytest.skip("CuPy and a CUDA device are here: --backend cupy works")
    result = _train("--config", "configs/xor.toml", "--backend", "cupy")
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert "error: backend 'cupy' is not available" in result.stderr
