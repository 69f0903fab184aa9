"""Data sets and loaders (``dlcore.data``).

``DATASETS`` maps the generated sets (xor, spiral, sine) to ``fn(n, noise, seed)``;
``REAL_DATASETS`` maps the real ones (fashion_mnist, mnist_5k, digits, iris,
breast_cancer, wine, diabetes) to loaders read from files on disk; ``load(name, **kw)``
calls the latter.
"""
from dlcore.data.augment import FlipShift
from dlcore.data.datasets import (REAL_DATASETS, CorruptDatasetError, DatasetNotFoundError, breast_cancer,
                                  diabetes, digits, fashion_mnist, iris, load, mnist_5k, split, standardize, wine)
from dlcore.data.loader import ArrayLoader
from dlcore.data.synthetic import DATASETS, sine, spiral, xor

__all__ = ["ArrayLoader", "FlipShift", "DATASETS", "xor", "spiral", "sine",
           "REAL_DATASETS", "load", "fashion_mnist", "mnist_5k", "digits", "iris", "breast_cancer", "wine",
           "diabetes", "split", "standardize", "DatasetNotFoundError", "CorruptDatasetError"]
