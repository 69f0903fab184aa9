"""Your own data: tables, arrays and image folders in; a config run on them; the run used afterwards."""
import json
import re
from pathlib import Path

import numpy
import pytest
from rich.console import Console

import dlcore
from dlcore.data import DataFileError, from_csv, from_folder, from_npz, from_path, prepare, spiral
from dlcore.training import runconfig
from dlcore.training.run import execute
from dlcore.training.saved import load_run


def _write_spiral_csv(path, n=300, seed=0, delimiter=","):
    """Two spirals as a table: x0, x1 (features), a text column, and the arm as a word."""
    x, y = spiral(n, noise=0.05, seed=seed)
    names = numpy.array(["left", "right"])[y]
    lines = [delimiter.join(["x0", "x1", "note", "arm"])]
    lines += [delimiter.join([f"{a:.6f}", f"{b:.6f}", f"n{i}", arm]) for i, ((a, b), arm) in enumerate(zip(x, names))]
    path.write_text("\n".join(lines) + "\n")
    return x, names


# ---- readers -----------------------------------------------------------------------------------------
def test_csv_labels_become_sorted_class_indices_and_features_are_chosen_by_name(tmp_path):
    x, names = _write_spiral_csv(tmp_path / "spiral.csv")
    data = from_csv(tmp_path / "spiral.csv", target="arm", features=["x0", "x1"])
    xs, ys = data  # unpacks as the (x, y) pair the loaders take
    assert data.classes == ("left", "right") and data.features == ("x0", "x1")
    numpy.testing.assert_allclose(xs, x, atol=1e-6)
    assert xs.dtype == numpy.float32 and ys.dtype == numpy.int64
    assert (numpy.array(data.classes)[ys] == names).all()


@pytest.mark.parametrize("delimiter, suffix", [("\t", ".tsv"), (";", ".csv"), ("\t", ".txt")])
def test_tabs_and_semicolons_are_found(tmp_path, delimiter, suffix):
    x, _ = _write_spiral_csv(tmp_path / f"t{suffix}", n=20, delimiter=delimiter)
    numpy.testing.assert_allclose(from_csv(tmp_path / f"t{suffix}", "arm", ["x0", "x1"]).x, x, atol=1e-6)


def test_numeric_labels_sort_as_numbers_and_regression_keeps_values(tmp_path):
    (tmp_path / "t.csv").write_text("a,b,size\n1,2,10\n3,4,2\n5,6,10\n7,8,2.5\n")
    data = from_csv(tmp_path / "t.csv", "size")
    assert data.classes == ("2", "2.5", "10") and data.y.tolist() == [2, 0, 2, 1]
    regression = from_csv(tmp_path / "t.csv", "size", task="regress")
    assert regression.classes is None and regression.y.tolist() == [[10.0], [2.0], [10.0], [2.5]]


@pytest.mark.parametrize("text, kwargs, message", [
    ("a,b,c\n1,2,x\n", {"target": "d"}, "no column 'd'; the columns are a, b, c"),
    ("a,b,c\n1,2,x\n", {"target": ""}, "say which column is the target (data.target); the columns are a, b, c"),
    ("a,b,c\n1,2,x\n1,2\n", {"target": "c"}, "row 3 has 2 fields, the header has 3 (a, b, c)"),
    ("a,b,c\n1,two,x\n", {"target": "c"}, "row 2, column 'b': 'two' is not a number"),
    ("", {"target": "c"}, "empty; a table needs a header row"),
    ("a,b,c\n", {"target": "c"}, "only a header row"),
    ("a,b,c\n1,2,x\n", {"target": "c", "features": ["a", "c"]}, "the target column 'c' is also a feature"),
    ("a,b,c\n1,2,x\n", {"target": "c", "task": "cluster"}, "task must be one of classify, regress"),
])
def test_table_faults_are_one_line_naming_the_file_and_the_place(tmp_path, text, kwargs, message):
    (tmp_path / "t.csv").write_text(text)
    with pytest.raises(DataFileError, match=re.escape(message)) as caught:
        from_csv(tmp_path / "t.csv", **kwargs)
    assert "task" in kwargs or str(caught.value).startswith(f"{tmp_path / 't.csv'}: ")


def test_npz_arrays_and_their_faults(tmp_path):
    x, y = spiral(10, seed=0)
    numpy.savez(tmp_path / "a.npz", x=x, y=y)
    data = from_path(tmp_path / "a.npz")
    numpy.testing.assert_array_equal(data.x, x)
    assert data.y.tolist() == y.tolist() and data.classes == ("0", "1")
    numpy.savez(tmp_path / "b.npz", inputs=x, y=y)
    with pytest.raises(DataFileError, match="b.npz: needs arrays x and y .* it has inputs, y"):
        from_npz(tmp_path / "b.npz")
    numpy.savez(tmp_path / "c.npz", x=x, y=y + 0.5)
    with pytest.raises(DataFileError, match="class labels y must be whole numbers ≥ 0 .* set data.task = 'regress'"):
        from_npz(tmp_path / "c.npz")
    assert from_npz(tmp_path / "c.npz", task="regress").y.shape == (10, 1)
    with pytest.raises(DataFileError, match="cannot read .json"):
        (tmp_path / "d.json").write_text("{}")
        from_path(tmp_path / "d.json")


def _image_folder(root, size=(6, 6), per_class=4, classes=("cat", "dog"), mode="L"):
    from PIL import Image

    rng = numpy.random.default_rng(0)
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            shape = size if mode == "L" else (*size, 3)
            pixels = (rng.random(shape) * 100 + 155 * c).astype(numpy.uint8)  # class 1 is brighter
            Image.fromarray(pixels, mode).save(root / name / f"{i}.png")
    return root


def test_an_image_folder_gives_nchw_images_in_0_1_and_classes_by_folder(tmp_path):
    from PIL import Image

    root = _image_folder(tmp_path / "pics")
    data = from_folder(root)
    assert data.x.shape == (8, 1, 6, 6) and data.x.dtype == numpy.float32 and data.classes == ("cat", "dog")
    assert data.y.tolist() == [0] * 4 + [1] * 4 and 0 <= data.x.min() and data.x.max() <= 1
    expected = numpy.asarray(Image.open(root / "dog" / "0.png"), numpy.float32) / 255
    numpy.testing.assert_array_equal(data.x[4, 0], expected)
    assert from_folder(_image_folder(tmp_path / "rgb", mode="RGB")).x.shape == (8, 3, 6, 6)
    assert from_folder(root, size=(4, 5)).x.shape == (8, 1, 4, 5)


def test_image_folder_faults(tmp_path):
    root = _image_folder(tmp_path / "pics")
    (root / "empty").mkdir()
    with pytest.raises(DataFileError, match="empty: the class folder holds no image"):
        from_folder(root)
    (root / "empty").rmdir()
    _image_folder(tmp_path / "other", size=(5, 5), classes=("bird",))
    (tmp_path / "other" / "bird" / "0.png").rename(root / "cat" / "odd.png")
    with pytest.raises(DataFileError, match="odd.png: 5×5 pixels, but 0.png has 6×6; give a size"):
        from_folder(root)
    with pytest.raises(DataFileError, match="needs one sub-folder of images per class, found none"):
        from_folder(tmp_path / "other" / "bird")


# ---- a config run on your own data, used afterwards ----------------------------------------------------
def _run(tmp_path, path, *overrides):
    cfg = runconfig.load(Path(__file__).resolve().parent.parent / "configs" / "spiral.toml",
                         ["run.backend='numpy'", f"run.out_dir='{tmp_path / 'runs'}'", f"data.path='{path}'",
                          "train.log_every=100", *overrides])
    summary = execute(cfg, console=Console(quiet=True))
    return Path(summary["run_dir"]), summary, cfg


def test_a_csv_with_word_labels_trains_and_the_saved_run_predicts_words(tmp_path):
    _write_spiral_csv(tmp_path / "spiral.csv", n=1000)
    run, summary, cfg = _run(tmp_path, tmp_path / "spiral.csv", "data.target='arm'", "data.features=['x0', 'x1']",
                             "data.standardize=true", "train.epochs=100")
    assert summary["test_accuracy"] >= 0.95
    saved = json.loads((run / "preprocessing.json").read_text())
    assert saved["classes"] == ["left", "right"] and saved["features"] == ["x0", "x1"] and len(saved["mean"]) == 2
    # the test split from the raw table, cut as the run cut it: load_run repeats the preprocessing exactly
    data = from_csv(tmp_path / "spiral.csv", "arm", ["x0", "x1"])
    _, _, (x_test, y_test) = prepare.cut(data.x, data.y, None, 0.2, 0.1, 0)
    trained = dlcore.load_run(run, weights="last")  # the top-level name
    assert trained.evaluate(x_test, numpy.array(data.classes)[y_test])["accuracy"] == summary["test_accuracy"]
    words = trained.predict(x_test)
    assert set(words) <= {"left", "right"} and (words == numpy.array(data.classes)[y_test]).mean() >= 0.95


def test_regression_from_a_table_and_its_saved_run(tmp_path):
    rng = numpy.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 2))
    y = x[:, 0] * 2 - x[:, 1]
    lines = ["a,b,target"] + [f"{a:.6f},{b:.6f},{t:.6f}" for (a, b), t in zip(x, y)]
    (tmp_path / "r.csv").write_text("\n".join(lines))
    run, summary, _ = _run(tmp_path, tmp_path / "r.csv", "data.target='target'", "data.task='regress'",
                           "loss.name='mse'", "train.epochs=40")
    assert summary["test_r2_score"] > 0.95
    prediction = load_run(run).predict(x[:5].astype(numpy.float32))
    assert prediction.shape == (5, 1) and numpy.abs(prediction[:, 0] - y[:5]).max() < 0.3


def test_an_image_folder_trains_an_mlp_and_a_resnet(tmp_path):
    root = _image_folder(tmp_path / "pics", size=(8, 8), per_class=30)
    for kind in ("mlp", "resnet"):
        run, summary, _ = _run(tmp_path / kind, root, f"model.kind='{kind}'", "model.depth=8",
                               "model.base_channels=4", "train.epochs=8", "data.val_fraction=0.2")
        assert summary["test_accuracy"] == 1.0, kind  # bright dogs, dark cats
        trained = load_run(run)
        assert list(trained.predict(from_folder(root).x[[0, -1]])) == ["cat", "dog"]


def test_data_faults_in_a_run_are_one_line_user_errors(tmp_path):
    (tmp_path / "t.csv").write_text("a,b\n1,x\n")
    with pytest.raises(DataFileError, match="no column 'label'; the columns are a, b"):
        _run(tmp_path, tmp_path / "t.csv", "data.target='label'")
    assert not (tmp_path / "runs").exists()


def test_predict_on_inputs_of_another_shape_is_one_line(tmp_path, capsys):
    from dlcore import cli

    _write_spiral_csv(tmp_path / "spiral.csv", n=100)
    run, _, _ = _run(tmp_path, tmp_path / "spiral.csv", "data.target='arm'", "data.features=['x0', 'x1']",
                     "train.epochs=1")
    numpy.savez(tmp_path / "x.npz", x=numpy.zeros((3, 5), numpy.float32))
    assert cli.main(["predict", str(run), "--input", str(tmp_path / "x.npz"), "--backend", "numpy"]) == 2
    assert "inputs of shape (5,) per sample, but the model was trained on (2,)" in capsys.readouterr().err
