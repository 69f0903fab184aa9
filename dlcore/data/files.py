"""Your own data from files: a CSV/TSV table, a ``.npz`` of arrays, or a folder of images.

    x, y = dlcore.data.from_csv("flowers.csv", target="species")   # string labels → 0, 1, 2
    data = dlcore.data.from_csv("houses.csv", target="price", task="regress")
    x, y = dlcore.data.from_folder("pictures/")                      # pictures/<class>/<image>
    data.classes   # ("setosa", "versicolor", "virginica"): class index → label

Each returns a ``Data``: the pair (x, y) the loaders take (it unpacks as ``x, y``) with the
names that go with it, ``classes`` (the label of each class index, for classification) and
``features`` (the column names of x, for a table). Inputs are float32; class labels int64 in
[0, len(classes)); regression targets float32 of shape (N, 1). ``from_path`` picks the reader
from the path. Readers are NumPy's and the standard library's (``csv``); images need Pillow
(``pip install -e '.[images]'`` in the source tree). Faults in a file are one-line ``DataFileError``s naming the
file, the row or column and the fix.
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy

from backends import UserError

TASKS = ("classify", "regress")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class DataFileError(UserError, ValueError):
    """A data file that cannot become (x, y): the message names the file and what is wrong in it.

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "bad.csv")
        ...     _ = path.write_text("size,label\\n1.5,a\\nbig,b\\n")
        ...     data.from_csv(path, target="label")
        Traceback (most recent call last):
            ...
        dlcore.data.files.DataFileError: .../bad.csv: row 3, column 'size': 'big' is not a number (...)
    """


class Data(tuple):
    """(x, y) with ``classes`` (class index → label, or None for regression) and ``features``.

    Example::

        >>> d = data.Data(np.zeros((3, 2), "float32"), np.array([0, 1, 1]), classes=["cat", "dog"])
        >>> x, y = d    # unpacks as (x, y)
        >>> d.x.shape, d.classes[d.y[1]]
        ((3, 2), 'dog')
    """

    def __new__(cls, x, y, classes=None, features=None):
        data = super().__new__(cls, (x, y))
        data.classes = None if classes is None else tuple(classes)
        data.features = None if features is None else tuple(features)
        return data

    def __getnewargs__(self):  # copy/deepcopy/pickle rebuild through __new__(x, y, …), not tuple's one argument
        return (self[0], self[1], self.classes, self.features)

    @property
    def x(self):
        return self[0]

    @property
    def y(self):
        return self[1]


def from_path(path, target: str = "", features=(), task: str = "classify", image_size=None) -> Data:
    """The reader for ``path``: a folder → ``from_folder``, ``.npz`` → ``from_npz``, ``.csv``/``.tsv``/
    ``.txt`` → ``from_csv`` (``target`` and ``features`` apply to tables only).

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = pathlib.Path(folder, "houses.csv").write_text("rooms,price\\n3,250.0\\n5,410.5\\n")
        ...     x, y = data.from_path(pathlib.Path(folder, "houses.csv"), target="price", task="regress")
        >>> print(x, y)    # from_csv for a .csv; regression targets (N, 1)
        [[3.]
         [5.]] [[250. ]
         [410.5]]
    """
    path = Path(path)
    if path.is_dir():
        return from_folder(path, size=image_size)
    if not path.exists():
        raise DataFileError(f"{path}: no such file or folder")
    if path.suffix == ".npz":
        return from_npz(path, task)
    if path.suffix in (".csv", ".tsv", ".txt"):
        return from_csv(path, target, features, task)
    raise DataFileError(f"{path}: cannot read {path.suffix or 'a file without a suffix'}; give a .csv/.tsv table, "
                        f"a .npz with arrays x and y, or a folder with one sub-folder of images per class")


def from_csv(path, target: str, features=(), task: str = "classify", delimiter: str | None = None) -> Data:
    """A table with a header row: x = the ``features`` columns (all but ``target`` when empty), y =
    the ``target`` column, as class indices of its sorted distinct values (``task="classify"``) or
    as numbers (``task="regress"``). The delimiter is a tab for ``.tsv``, else sniffed (comma,
    semicolon, tab); quoted fields are read as ``csv`` does. Every feature must be a number.

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "flowers.csv")
        ...     _ = path.write_text("petal,sepal,species\\n1.4,5.1,setosa\\n4.7,7.0,versicolor\\n1.3,4.9,setosa\\n")
        ...     flowers = data.from_csv(path, target="species")
        >>> x, y = flowers
        >>> x.shape, y, flowers.classes, flowers.features
        ((3, 2), array([0, 1, 0]), ('setosa', 'versicolor'), ('petal', 'sepal'))
    """
    path = Path(path)
    _check_task(task)
    header, rows, lines = _read_table(path, delimiter)
    if not target:
        raise DataFileError(f"{path}: say which column is the target (data.target); the columns are "
                            f"{', '.join(header)}")
    names = [features] if isinstance(features, str) else list(features)  # one name, or a list of them
    names = names or [name for name in header if name != target]
    for name in [target, *names]:
        if name not in header:
            raise DataFileError(f"{path}: no column {name!r}; the columns are {', '.join(header)}")
        _check_unique(path, header, name)
    if target in names:
        raise DataFileError(f"{path}: the target column {target!r} is also a feature")
    columns = {name: header.index(name) for name in [target, *names]}
    x = numpy.empty((len(rows), len(names)), numpy.float32)
    for i, (row, line) in enumerate(zip(rows, lines)):
        for j, name in enumerate(names):
            x[i, j] = _number(path, row[columns[name]], line, name)
    labels = [row[columns[target]] for row in rows]
    if task == "regress":
        y = numpy.array([[_number(path, v, line, target, _TARGET_HINT)] for v, line in zip(labels, lines)],
                        numpy.float32)
        return Data(x, y, None, names)
    classes = _sorted_labels(set(labels))
    index = {label: i for i, label in enumerate(classes)}
    return Data(x, numpy.array([index[v] for v in labels], numpy.int64), classes, names)


def read_arrays(path, names) -> tuple:
    """The arrays ``names`` of the ``.npz`` file at ``path``, in that order; DataFileError naming the file when
    it is missing, not a readable .npz (a .npy file renamed included) or lacks one of them.

    >>> import numpy, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), "a.npz")
    >>> numpy.savez(path, x=numpy.ones((2, 3)))
    >>> [a.shape for a in read_arrays(path, ["x"])]
    [(2, 3)]
    """
    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path}: no such file")
    savez = f"numpy.savez(path, {', '.join(f'{name}=...' for name in names)})"
    try:
        arrays = numpy.load(path, allow_pickle=False)
        if not isinstance(arrays, numpy.lib.npyio.NpzFile):
            raise DataFileError(f"{path}: holds one array (a .npy file), not arrays {' and '.join(names)}; write it "
                                f"with {savez}")
        with arrays:
            missing = [name for name in names if name not in arrays.files]
            if missing:
                raise DataFileError(f"{path}: needs array{'s' if len(names) > 1 else ''} {' and '.join(names)} "
                                    f"({savez}); it has {', '.join(arrays.files) or 'none'}")
            return tuple(arrays[name] for name in names)
    except (OSError, ValueError) as why:
        if isinstance(why, DataFileError):
            raise
        raise DataFileError(f"{path}: not a readable .npz file ({why})") from None


def from_npz(path, task: str = "classify") -> Data:
    """Arrays ``x`` (N, …) and ``y`` (N,) or (N, k) of a ``numpy.savez`` file. For classification
    y must hold whole numbers ≥ 0 (its classes are named "0", "1", …); for regression any numbers.

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "set.npz")
        ...     np.savez(path, x=np.ones((4, 3)), y=np.array([0, 2, 1, 2]))
        ...     x, y = d = data.from_npz(path)
        >>> x.dtype, y, d.classes
        (dtype('float32'), array([0, 2, 1, 2]), ('0', '1', '2'))
    """
    path = Path(path)
    _check_task(task)
    x, y = read_arrays(path, ("x", "y"))
    if x.ndim == 0 or y.ndim == 0:
        raise DataFileError(f"{path}: x and y must have one row per sample, got shapes {x.shape} and {y.shape}")
    if len(x) != len(y):
        raise DataFileError(f"{path}: x has {len(x)} samples but y has {len(y)}")
    if x.dtype.kind not in "biuf" or y.dtype.kind not in "biuf":
        raise DataFileError(f"{path}: x and y must be numeric, got {x.dtype} and {y.dtype}")
    if task == "regress":
        y = y.astype(numpy.float32)
        return Data(x.astype(numpy.float32), y.reshape(len(y), -1))
    if y.ndim != 1 or (len(y) and (y.min() < 0 or not numpy.array_equal(y, numpy.round(y)))):
        raise DataFileError(f"{path}: class labels y must be whole numbers ≥ 0 of shape (N,), got {y.dtype} "
                            f"of shape {y.shape}; for numeric targets set data.task = 'regress'")
    y = y.astype(numpy.int64)
    return Data(x.astype(numpy.float32), y, [str(c) for c in range(int(y.max()) + 1 if len(y) else 0)])


def from_folder(path, size=None, grayscale: bool | None = None) -> Data:
    """Images in ``path/<class>/``, one sub-folder per class (sorted names are the classes):
    x (N, C, H, W) float32 in [0, 1], y the class indices. ``size`` (h, w) resizes every image;
    without it all must have one size. ``grayscale`` (default: when every image is) gives C = 1,
    else C = 3 (RGB). Needs Pillow.

    Example::

        >>> import pathlib, tempfile
        >>> from PIL import Image
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     for label, shade in (("cat", 0), ("dog", 255)):
        ...         pathlib.Path(folder, label).mkdir()
        ...         Image.new("L", (6, 4), shade).save(pathlib.Path(folder, label, "1.png"))
        ...     x, y = d = data.from_folder(folder)
        >>> x.shape, y, d.classes, float(x[1].max())    # (N, C, H, W), grey: C = 1
        ((2, 1, 4, 6), array([0, 1]), ('cat', 'dog'), 1.0)
    """
    path = Path(path)
    Image = _pillow(path)
    folders = sorted(p for p in path.iterdir() if p.is_dir()) if path.is_dir() else []
    if not folders:
        raise DataFileError(f"{path}: needs one sub-folder of images per class, found none")
    files = {folder.name: sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
             for folder in folders}
    for name, images in files.items():
        if not images:
            raise DataFileError(f"{path / name}: the class folder holds no image ({', '.join(IMAGE_SUFFIXES)})")
    found = []  # (label, file, mode, (height, width)) from each image's header
    for label, images in enumerate(files.values()):
        for file in images:
            try:
                with Image.open(file) as image:
                    found.append((label, file, image.mode, (image.height, image.width)))
            except OSError as why:
                raise DataFileError(f"{file}: not a readable image ({why})") from None
    if grayscale is None:
        grayscale = all(mode in ("L", "1") or _full_scale(mode) != 255 for _, _, mode, _ in found)
    shape = (int(size[0]), int(size[1])) if size else found[0][3]
    for _, file, _, pixels in found:
        if not size and pixels != shape:
            raise DataFileError(f"{file}: {pixels[0]}×{pixels[1]} pixels, but {found[0][1].name} has "
                                f"{shape[0]}×{shape[1]}; give a size (data.image_size) to resize them all")
    x = numpy.stack([read_image(file, size, grayscale) for _, file, _, _ in found])
    y = numpy.array([label for label, _, _, _ in found], numpy.int64)
    return Data(x, y, list(files))


def read_columns(path, features) -> numpy.ndarray:
    """The ``features`` columns of a table (header row, as ``from_csv`` reads it) as float32 (N, D):
    new inputs for a model trained on those columns (other columns, the target among them, are ignored)."""
    path = Path(path)
    header, rows, lines = _read_table(path, None)
    for name in features:
        if name not in header:
            raise DataFileError(f"{path}: no column {name!r}, which the model takes; the columns are "
                                f"{', '.join(header)}")
        _check_unique(path, header, name)
    columns = [header.index(name) for name in features]
    x = numpy.empty((len(rows), len(columns)), numpy.float32)
    for i, (row, line) in enumerate(zip(rows, lines)):
        x[i] = [_number(path, row[c], line, name) for c, name in zip(columns, features)]
    return x


def read_image(path, size=None, grayscale: bool = True) -> numpy.ndarray:
    """One image file as float32 (C, H, W) in [0, 1] (C = 1 grayscale, else 3), resized to ``size`` (h, w):
    8-bit values / 255, 16-bit (and 32-bit integer) grayscale ones / 65535, floating-point ones as stored."""
    path = Path(path)
    Image = _pillow(path)
    try:
        with Image.open(path) as image:
            scale = _full_scale(image.mode)
            image = image.convert("F" if scale != 255 else "L" if grayscale else "RGB")
    except OSError as why:
        raise DataFileError(f"{path}: not a readable image ({why})") from None
    if size:
        image = image.resize((int(size[1]), int(size[0])))
    pixels = numpy.asarray(image, numpy.float32) / numpy.float32(scale)
    if pixels.ndim == 3:
        return pixels.transpose(2, 0, 1)
    return pixels[None] if grayscale else numpy.repeat(pixels[None], 3, axis=0)


def _full_scale(mode: str) -> float:
    """The pixel value that is 1.0 for a Pillow image mode: 255 (8 bits a channel), 65535 (16- and 32-bit
    integer grayscale, which converting to "L" would clip at 255), 1 (floating-point grayscale)."""
    if mode == "F":
        return 1.0
    return 65535.0 if mode == "I" or mode.startswith("I;16") else 255.0


def _pillow(path):
    """PIL.Image, or the DataFileError saying that reading the images at ``path`` needs Pillow."""
    try:
        from PIL import Image
    except ImportError:
        raise DataFileError(f"{path}: reading images needs Pillow: in the dlcore source tree, "
                            f"pip install -e '.[images]'") from None
    return Image


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise DataFileError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def _read_table(path: Path, delimiter: str | None) -> tuple[list[str], list[list[str]], list[int]]:
    """(header, rows, the line number in the file of each row) of a delimited text file (blank lines
    skipped, quoted fields may hold delimiters and line breaks); every row must have the header's
    number of fields."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise DataFileError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as why:
        raise DataFileError(f"{path}: not a readable UTF-8 text file ({why})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise DataFileError(f"{path}: empty; a table needs a header row and at least one data row")
    if delimiter is None:
        delimiter = "\t" if path.suffix == ".tsv" else _sniff(lines[0])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    table = []  # (line number of the row's end, fields)
    try:
        for row in reader:
            if row:
                table.append((reader.line_num, row))
    except csv.Error as why:
        raise DataFileError(f"{path}: row {reader.line_num + 1} is not a readable table row ({why})") from None
    header = [name.strip() for name in table[0][1]]
    if len(table) < 2:
        raise DataFileError(f"{path}: only a header row; the table has no data")
    for number, row in table[1:]:
        if len(row) != len(header):
            raise DataFileError(f"{path}: row {number} has {len(row)} fields, the header has {len(header)} "
                                f"({', '.join(header)})")
    return header, [[field.strip() for field in row] for _, row in table[1:]], [number for number, _ in table[1:]]


def _sniff(header_line: str) -> str:
    """The delimiter of a header line: the most frequent of comma, semicolon and tab (comma on a tie)."""
    return max((",", ";", "\t"), key=header_line.count)


_FEATURE_HINT = "features must be numeric; list the numeric columns in data.features"
_TARGET_HINT = "regression targets must be numeric; for class labels set data.task = 'classify'"


def _check_unique(path: Path, header: list[str], name: str) -> None:
    if header.count(name) > 1:
        raise DataFileError(f"{path}: the header names {header.count(name)} columns {name!r}; give each column "
                            f"its own name ({', '.join(header)})")


def _number(path: Path, text: str, line: int, column: str, hint: str = _FEATURE_HINT) -> float:
    """``text`` (row ``line`` of the file) as a finite number, or the DataFileError naming the place."""
    try:
        value = float(text)
    except ValueError:
        raise DataFileError(f"{path}: row {line}, column {column!r}: {text!r} is not a number ({hint})") from None
    if not math.isfinite(value):
        raise DataFileError(f"{path}: row {line}, column {column!r}: {text!r} is not a finite number (a missing "
                            f"value? fill it in or drop the row)")
    return value


def _sorted_labels(labels) -> list[str]:
    """Labels sorted as numbers when they all are ("2" before "10"; equal numbers such as "1" and "1.0"
    by their text), else as text: the same order in every run."""
    try:
        keys = {label: (float(label), label) for label in labels}
    except ValueError:
        return sorted(labels)
    if any(math.isnan(number) for number, _ in keys.values()):
        return sorted(labels)
    return sorted(labels, key=keys.__getitem__)
