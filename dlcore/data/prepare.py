"""The steps that turn a data set into a run's train/val/test pairs (NumPy, on the host).

``load_set`` reads or generates a set and ``cut`` splits it; ``as_images`` shapes feature rows into images;
``segmentation`` turns an image set into a denoising-segmentation task; ``count_classes``
tells classification from regression; ``labelled_subset`` keeps a few labels per class. Each
raises ValueError naming what is wrong with the data; the config layer adds the keys to change.
"""
from __future__ import annotations

import numpy

from dlcore.checks import ShapeError
from dlcore.data.datasets import fashion_mnist, load, split
from dlcore.data.synthetic import DATASETS


def load_set(name: str, seed: int = 0, *, n_samples: int = 0, noise: float = 0.0, limit: int = 0):
    """(x, y, own test pair or None) of the data set ``name``: a generated one (``DATASETS``:
    ``n_samples`` samples with ``noise``, seeded), Fashion-MNIST (its 60k training images and its
    official 10k test set, at most ``limit`` of each; 0: all) or another real one (``load``)."""
    if name == "fashion_mnist":
        return (*fashion_mnist("train", limit=limit or None), fashion_mnist("test", limit=limit or None))
    if name in DATASETS:
        return (*DATASETS[name](n=n_samples, noise=noise, seed=seed), None)
    return (*load(name), None)


def cut(x, y, own_test, val_fraction: float, test_fraction: float, seed: int) -> list[tuple]:
    """[(x, y) train, val, test]: a seeded split by the fractions; a set with its ``own_test``
    keeps it, and only ``val_fraction`` is cut from the rest."""
    if own_test is not None:
        train, val, _ = split(x, y, (1 - val_fraction, val_fraction, 0.0), seed=seed)
        return [train, val, own_test]
    return list(split(x, y, (1 - val_fraction - test_fraction, val_fraction, test_fraction), seed=seed))


def as_images(x, name: str = "the data"):
    """(N, S·S) feature rows → (N, 1, S, S) images; ValueError when S·S is not the row length."""
    side = int(round(x.shape[1] ** 0.5)) if x.ndim == 2 else 0
    if x.ndim != 2 or side * side != x.shape[1]:
        got = f"{x.shape[1]} features per sample" if x.ndim == 2 else f"samples of shape {tuple(x.shape[1:])}"
        raise ValueError(f"data {name!r} has {got}, not a square image; image models need image data")
    return x.reshape(len(x), 1, side, side)


def segmentation(parts, image_noise: float, mask_threshold: float, seed: int) -> list[tuple]:
    """Denoising segmentation from image pairs: input = image + N(0, image_noise²) noise
    (seeded), target = the mask image > mask_threshold, as float32 (N, 1, S, S)."""
    rng = numpy.random.default_rng(seed)
    return [((x + image_noise * rng.standard_normal(x.shape)).astype(numpy.float32),
             (x > mask_threshold).astype(numpy.float32)) for x, _ in parts]


def count_classes(*labels) -> int | None:
    """1 + the largest label for integer class labels (every split's), None for other targets (regression)."""
    if labels[0].dtype.kind not in "iu":
        return None
    return int(max(y.max() for y in labels if len(y))) + 1


def labelled_subset(x, y, per_class: int, seed: int):
    """The first ``per_class`` samples of each class in a seeded shuffle (semi-supervised runs)."""
    order = numpy.random.default_rng(seed).permutation(len(y))
    keep = numpy.sort(numpy.concatenate([order[y[order] == c][:per_class] for c in numpy.unique(y)]))
    return x[keep], y[keep]


class Preprocessing:
    """What turns raw inputs into a run's model inputs, fitted on its training split, and the names
    that go with its outputs; saved in the run folder (``preprocessing.json``) so that a trained
    model can be used on new raw data (``dlcore.load_run``).

    ``apply(x)``: x → reshaped to (N, D) when ``flatten`` → z = (x − μ)/σ with the training
    split's ``mean`` and ``std`` when standardizing → (N, 1, S, S) when ``image_side`` is S.
    ``task`` ("classify", "regress" or "segment"), ``classes`` (class index → label),
    ``features`` (input column names of a table), ``input_shape`` (one raw sample's shape) and
    ``outputs`` (the model's number of outputs).
    """

    FIELDS = ("task", "input_shape", "outputs", "flatten", "mean", "std", "image_side", "classes", "features")

    def __init__(self, task="classify", input_shape=(), outputs=1, flatten=False, mean=None, std=None,
                 image_side=None, classes=None, features=None):
        self.task, self.input_shape, self.outputs, self.flatten = task, tuple(input_shape), int(outputs), bool(flatten)
        self.mean = None if mean is None else numpy.asarray(mean, numpy.float32)
        self.std = None if std is None else numpy.asarray(std, numpy.float32)
        self.image_side = image_side
        self.classes = None if classes is None else list(classes)
        self.features = None if features is None else list(features)

    def apply(self, x):
        """Model inputs from raw inputs of ``input_shape`` per sample (NumPy, float32)."""
        x = numpy.asarray(x, numpy.float32)
        if x.shape[1:] != self.input_shape:
            raise ShapeError(f"inputs of shape {x.shape[1:]} per sample, but the model was trained on "
                             f"{self.input_shape}")
        if self.flatten:
            x = x.reshape(len(x), -1)
        if self.mean is not None:
            x = ((x - self.mean) / self.std).astype(numpy.float32)
        if self.image_side:
            x = as_images(x)
        return x

    def to_dict(self) -> dict:
        """JSON-ready fields (arrays as lists of floats: float32 values come back exactly)."""
        return {name: (value.tolist() if isinstance(value, numpy.ndarray) else
                       list(value) if isinstance(value, tuple) else value)
                for name, value in ((name, getattr(self, name)) for name in self.FIELDS)}

    @classmethod
    def from_dict(cls, data: dict) -> Preprocessing:
        return cls(**{name: data[name] for name in cls.FIELDS if name in data})
