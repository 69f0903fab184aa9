"""Data sets and loaders (``dlcore.data``)."""
from dlcore.data.loader import ArrayLoader
from dlcore.data.synthetic import DATASETS, sine, spiral, xor

__all__ = ["ArrayLoader", "DATASETS", "xor", "spiral", "sine"]
