"""The ``dlcore`` command: train, resume, predict (own data in, predictions out), the source-tree tools."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from dlcore import cli
from dlcore.data import from_csv, spiral

ROOT = Path(__file__).resolve().parent.parent


def _spiral_table(path, n=600):
    x, y = spiral(n, noise=0.05, seed=3)
    arms = numpy.array(["left", "right"])[y]
    path.write_text("x0,x1,arm\n" + "".join(f"{a:.6f},{b:.6f},{arm}\n" for (a, b), arm in zip(x, arms)))
    return x, arms


def test_train_then_predict_own_csv_through_the_dlcore_command(tmp_path, capsys):
    _spiral_table(tmp_path / "train.csv")
    status = cli.main(["train", str(ROOT / "configs/spiral.toml"), "--backend", "numpy", "--json",
                       "--set", f"run.out_dir='{tmp_path / 'runs'}'", "--set", f"data.path='{tmp_path / 'train.csv'}'",
                       "--set", "data.target='arm'", "--set", "data.standardize=true", "--set", "train.epochs=100"])
    assert status == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["test_accuracy"] >= 0.95
    x_new, arms = _spiral_table(tmp_path / "new.csv", n=200)  # new points, the label column is ignored
    assert cli.main(["predict", summary["run_dir"], "--input", str(tmp_path / "new.csv"),
                     "--output", str(tmp_path / "out.csv"), "--backend", "numpy"]) == 0
    rows = (tmp_path / "out.csv").read_text().splitlines()
    assert rows[0] == "id,prediction" and len(rows) == 201 and rows[1].startswith("1,")
    predicted = numpy.array([row.split(",")[1] for row in rows[1:]])
    assert (predicted == arms).mean() >= 0.95


def test_resume_through_the_dlcore_command(tmp_path, capsys):
    common = ["--backend", "numpy", "--set", f"run.out_dir='{tmp_path}'", "--set", "data.n_samples=100", "--json"]
    assert cli.main(["train", str(ROOT / "configs/spiral.toml"), *common, "--set", "train.epochs=2"]) == 0
    run = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"]
    assert cli.main(["resume", run, "--set", "train.epochs=3", "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3


def test_predict_errors_are_one_line(tmp_path, capsys):
    assert cli.main(["predict", str(tmp_path), "--input", "x.csv"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "config.json does not exist" in err and "Traceback" not in err


def test_the_installed_command_and_the_source_tree_tools():
    """The console script pyproject declares (make installs it into the venv), and bench's own --help."""
    command = shutil.which("dlcore", path=str(Path(sys.executable).parent))
    assert command, "the dlcore console script is not installed (pip install -e .)"
    result = subprocess.run([command, "bench", "--help"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "--backend" in result.stdout, result.stderr
    result = subprocess.run([command, "frobnicate"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "invalid choice: 'frobnicate'" in result.stderr


def test_export_a_trained_run_as_onnx_and_safetensors(tmp_path, capsys):
    from dlcore import io
    from dlcore.training.saved import load_run

    assert cli.main(["train", str(ROOT / "configs/spiral.toml"), "--backend", "numpy", "--json", "--set",
                     f"run.out_dir='{tmp_path}'", "--set", "data.n_samples=100", "--set", "train.epochs=2"]) == 0
    run = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_dir"]
    status = cli.main(["export", run, "--safetensors", str(tmp_path / "w.safetensors"), "--layout", "pytorch"])
    assert status == 0
    weights, metadata = io.read_safetensors(tmp_path / "w.safetensors")
    model = load_run(run).model
    numpy.testing.assert_array_equal(weights["0.weight"], model[0].weight.data.T)  # (out, in) for PyTorch
    assert cli.main(["export", run]) == 2 and "say what to write" in capsys.readouterr().err
    pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
    from dlcore import onnx

    assert cli.main(["export", run, "--onnx", str(tmp_path / "m.onnx")]) == 0
    x = numpy.random.default_rng(0).standard_normal((5, 2)).astype(numpy.float32)
    numpy.testing.assert_allclose(onnx.run(tmp_path / "m.onnx", x), load_run(run).outputs(x), atol=1e-5)
