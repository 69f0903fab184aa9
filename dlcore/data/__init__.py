"""Data sets and loaders (``dlcore.data``).

``DATASETS`` maps the generated sets (xor, spiral, sine) to ``fn(n, noise, seed)``;
``REAL_DATASETS`` maps the real ones (fashion_mnist, mnist_5k, digits, iris,
breast_cancer, wine, diabetes) to loaders read from files on disk; ``load(name, **kw)``
calls the latter. Your own data: ``from_csv``, ``from_npz``, ``from_folder`` (or ``from_path``),
each returning a ``Data`` (x, y) with the class and feature names.
"""
from dlcore.data.augment import FlipShift
from dlcore.data.datasets import (REAL_DATASETS, CorruptDatasetError, DatasetNotFoundError, breast_cancer,
                                  diabetes, digits, fashion_mnist, iris, load, mnist_5k, split, standardization,
                                  standardize, wine)
from dlcore.data.files import Data, DataFileError, from_csv, from_folder, from_npz, from_path
from dlcore.data.loader import ArrayLoader
from dlcore.data.synthetic import DATASETS, sine, spiral, xor

__all__ = ["ArrayLoader", "FlipShift", "DATASETS", "xor", "spiral", "sine",
           "REAL_DATASETS", "load", "fashion_mnist", "mnist_5k", "digits", "iris", "breast_cancer", "wine",
           "diabetes", "split", "standardize", "standardization", "DatasetNotFoundError", "CorruptDatasetError",
           "Data", "DataFileError", "from_csv", "from_npz", "from_folder", "from_path"]
