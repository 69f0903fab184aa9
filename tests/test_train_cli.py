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
    ("model.activation='mish'", "model.activation: unknown value 'mish'"),
    ("model.weight_init='kaiming'", "model.weight_init: unknown value 'kaiming'"),
    ('run.backend="gpu"', "run.backend: unknown value 'gpu'; choose one of auto, numpy, cupy"),
    ("data.val_fraction=1.5", "data.val_fraction must be in [0, 1), got 1.5"),
    ("data.n_samples=-5", "data.n_samples must be ≥ 1, got -5"),
    ("data.n_samples=1", "data.n_samples = 1, data.noise = 0.05: spiral: n (the number of samples) must be an int ≥ 2"),
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


# ---- every error a user can cause: one line, exit status 2 (in-process: main() of scripts/train.py) ----
def _train_main():
    import importlib.util

    spec = importlib.util.spec_from_file_location("train_script", ROOT / "scripts" / "train.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A one-epoch spiral run to break in various ways (each test breaks a copy)."""
    out = tmp_path_factory.mktemp("runs")
    assert _train_main()(["--config", str(ROOT / "configs/spiral.toml"), "--backend", "numpy", "--set",
                          f"run.out_dir='{out}'", "--set", "train.epochs=1", "--set", "data.n_samples=100"]) == 0
    return next(out.iterdir())


def _break_checkpoint(run, how):
    from dlcore import io
    from dlcore.models import MLP
    from dlcore.optim import Adam

    last = run / "last.npz"
    if how == "empty":
        last.write_bytes(b"")
    elif how == "truncated":
        last.write_bytes(last.read_bytes()[:700])
    elif how == "foreign":
        with open(last, "wb") as f:
            numpy.savez(f, weights=numpy.zeros(3))
    elif how == "other model":
        model = MLP([2, 5, 2])
        io.save(last, model, Adam(model))
    elif how == "no history":
        model = MLP([2, 64, 64, 2], activation="tanh")  # the run's own model, saved without a run's meta
        io.save(last, model, Adam(model))


@pytest.mark.parametrize("how, message", [
    ("empty", "last.npz: not a readable dlcore checkpoint (truncated or corrupt?): EOFError"),
    ("truncated", "last.npz: not a readable dlcore checkpoint (truncated or corrupt?): BadZipFile"),
    ("foreign", "last.npz: checkpoint has no key '__dlcore__'"),
    ("other model", "last.npz: load_state_dict"),
    ("no history", "last.npz: not a checkpoint of a training run"),
])
def test_a_broken_checkpoint_on_resume_is_one_line(finished_run, tmp_path, capsys, how, message):
    import shutil

    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    _break_checkpoint(run, how)
    config_before = (run / "config.json").read_bytes()
    assert _train_main()(["--resume", str(run), "--set", "train.epochs=2"]) == 2
    _assert_one_error_line(capsys.readouterr().err, message)
    assert (run / "config.json").read_bytes() == config_before  # a failed resume rewrites nothing


def _assert_one_error_line(stderr, message):
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert "Traceback" not in stderr and len(errors) == 1 and message in errors[0], stderr


def test_a_damaged_run_config_is_one_line(finished_run, tmp_path, capsys):
    import shutil

    run = Path(shutil.copytree(finished_run, tmp_path / "run"))
    (run / "config.json").write_text('{"run": {"name": ')
    assert _train_main()(["--resume", str(run)]) == 2
    _assert_one_error_line(capsys.readouterr().err, "config.json is damaged (not JSON: Expecting value")


@pytest.mark.parametrize("case, message", [
    ("folder", "is a folder, not a file"),
    ("latin-1", "is not UTF-8 text (byte 17: invalid continuation byte)"),
    ("out_dir is a file", "is not a folder (a file has its name or is on its path); choose another run.out_dir"),
    ("mse on labels", "loss.name = 'mse' does not fit this data (classify task; targets of int64, one value per "
                      "sample): MSELoss: prediction shape (2, 2) and target shape (2,) differ"),
    ("diverges", "training loss became inf in epoch 1, step"),
])
def test_user_errors_of_a_new_run_are_one_line_and_leave_no_run_folder(tmp_path, capsys, case, message):
    config, out = ROOT / "configs/xor.toml", tmp_path / "runs"
    extra = []
    if case == "folder":
        config = tmp_path
    elif case == "latin-1":
        config = tmp_path / "latin.toml"
        config.write_bytes('[run]\nname = "caf\u00e9"\n'.encode("latin-1"))
    elif case == "out_dir is a file":
        out.write_text("not a folder")
    elif case == "mse on labels":
        extra = ["--set", "loss.name='mse'"]
    elif case == "diverges":
        config = ROOT / "configs/sine_regression.toml"
        extra = ["--set", "optim.name='sgd'", "--set", "optim.lr=1e6"]
    argv = ["--config", str(config), "--backend", "numpy", "--set", f"run.out_dir='{out}'", *extra]
    assert _train_main()(argv) == 2
    _assert_one_error_line(capsys.readouterr().err, message)
    if case in ("folder", "latin-1", "mse on labels"):
        assert not out.exists()


def test_damaged_data_under_dlcore_data_is_one_line(tmp_path, capsys, monkeypatch):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz",
                 "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).write_bytes(b"not gzip")
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    assert _train_main()(["--config", str(ROOT / "configs/fashion_mlp.toml"), "--backend", "numpy",
                          "--set", f"run.out_dir='{tmp_path / 'runs'}'"]) == 2
    _assert_one_error_line(capsys.readouterr().err, "train-images-idx3-ubyte.gz: not a readable gzip file")


def test_debug_shows_the_traceback_of_a_user_error(tmp_path):
    from dlcore.training.runconfig import ConfigError

    with pytest.raises(ConfigError, match="is a folder, not a file"):
        _train_main()(["--config", str(tmp_path), "--debug"])


def test_ctrl_c_says_how_to_resume_and_the_resume_finishes_the_run(tmp_path):
    import signal
    import time

    process = subprocess.Popen([sys.executable, "scripts/train.py", "--config", "configs/spiral.toml", "--backend",
                                "numpy", "--set", f"run.out_dir='{tmp_path}'", "--set", "train.epochs=100000"],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not list(tmp_path.glob("*/last.npz")) and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    run = next(tmp_path.iterdir())
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert f"interrupted; {run}/last.npz holds the last finished epoch: continue with --resume {run}" in stderr
    from dlcore import io
    done = io.load(run / "last.npz")["epoch"]
    resumed = _train("--resume", str(run), "--set", f"train.epochs={done + 2}", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["epochs"] == done + 2
