"""User errors around a finished run (predict, export, the source-tree tools) are one ``error:`` line."""
import json
import shutil
from pathlib import Path

import numpy
import pytest

from dlcore import cli

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    status = cli.main(["train", str(ROOT / "configs/spiral.toml"), "--backend", "numpy", "--json", "--set",
                       f"run.out_dir='{out}'", "--set", "data.n_samples=100", "--set", "train.epochs=2"])
    assert status == 0
    return Path(next(p for p in out.iterdir() if p.is_dir()))


def _assert_one_error_line(capsys, *words):
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    for word in words:
        assert word in err, err


def test_predict_with_a_run_that_saved_no_checkpoint_is_one_line(finished_run, tmp_path, capsys):
    run = tmp_path / "killed-in-epoch-1"  # config and preprocessing written, no epoch finished
    run.mkdir()
    for name in ("config.json", "preprocessing.json"):
        shutil.copy(finished_run / name, run / name)
    numpy.savez(tmp_path / "x.npz", x=numpy.zeros((3, 2), numpy.float32))
    assert cli.main(["predict", str(run), "--input", str(tmp_path / "x.npz"), "--backend", "numpy"]) == 2
    _assert_one_error_line(capsys, "last.npz")


@pytest.mark.parametrize("x, message", [(numpy.zeros((0, 2), numpy.float32), "no sample"),
                                        (numpy.float32(2), "one row per sample"),
                                        (numpy.array([["a", "b"]]), "numbers")])
def test_predict_with_an_npz_whose_x_is_not_rows_of_numbers_is_one_line(finished_run, tmp_path, capsys, x,
                                                                         message):
    numpy.savez(tmp_path / "x.npz", x=x)
    assert cli.main(["predict", str(finished_run), "--input", str(tmp_path / "x.npz"), "--backend", "numpy"]) == 2
    _assert_one_error_line(capsys, "x.npz", message)


def test_predict_with_a_missing_input_or_a_npy_named_npz_is_one_line(finished_run, tmp_path, capsys):
    for name in ("absent.csv", "absent.npz"):  # the missing file is named, before the run's kind of input
        assert cli.main(["predict", str(finished_run), "--input", str(tmp_path / name), "--backend", "numpy"]) == 2
        _assert_one_error_line(capsys, name, "no such file or folder")
    numpy.save(tmp_path / "x.npy", numpy.zeros((3, 2), numpy.float32))
    (tmp_path / "x.npy").rename(tmp_path / "x.npz")
    assert cli.main(["predict", str(finished_run), "--input", str(tmp_path / "x.npz"), "--backend", "numpy"]) == 2
    _assert_one_error_line(capsys, "x.npz", "holds one array (a .npy file), not arrays x;")


def test_predict_and_export_into_a_folder_are_one_line(finished_run, tmp_path, capsys):
    numpy.savez(tmp_path / "x.npz", x=numpy.zeros((3, 2), numpy.float32))
    folder = tmp_path / "a-folder"
    folder.mkdir()
    assert cli.main(["predict", str(finished_run), "--input", str(tmp_path / "x.npz"), "--output", str(folder),
                     "--backend", "numpy"]) == 2
    _assert_one_error_line(capsys, str(folder))
    assert cli.main(["export", str(finished_run), "--safetensors", str(folder)]) == 2
    _assert_one_error_line(capsys, str(folder))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-folder", "x.npz"]  # no temporary file left behind
    assert not list(folder.iterdir())


def test_a_source_tree_tool_that_exits_with_a_message_shows_it(tmp_path, monkeypatch, capsys):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "bench.py").write_text("raise SystemExit('install matplotlib first')\n")
    monkeypatch.setattr(cli, "SOURCE_TREE", tmp_path)
    monkeypatch.setattr("sys.argv", list(__import__("sys").argv))
    assert cli.main(["bench"]) == 1
    assert "install matplotlib first" in capsys.readouterr().err


def test_the_finished_run_fixture_predicts(finished_run, tmp_path, capsys):
    """The runs above fail for their inputs, not for the run: the same run predicts good inputs."""
    numpy.savez(tmp_path / "x.npz", x=numpy.zeros((3, 2), numpy.float32))
    assert cli.main(["predict", str(finished_run), "--input", str(tmp_path / "x.npz"), "--backend", "numpy",
                     "--output", str(tmp_path / "out.csv")]) == 0
    assert (tmp_path / "out.csv").read_text().splitlines()[0] == "id,prediction"
    assert json.loads((finished_run / "metrics.json").read_text())["epochs"] == 2
