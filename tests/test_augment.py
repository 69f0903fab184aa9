"""FlipShift: every augmented image is its source flipped or not and moved by at most `shift` pixels."""
import numpy
import pytest

import backends
import dlcore
from dlcore.data import ArrayLoader, FlipShift
from dlcore.training.runconfig import ConfigError, SCHEMA
from dlcore.training.build import build_augmentation


def _moved(image, dy, dx):
    """image moved by (dy, dx) pixels, zero fill: out[h, w] = image[h − dy, w − dx]."""
    out = numpy.zeros_like(image)
    h, w = image.shape[-2:]
    out[..., max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        image[..., max(-dy, 0):h - max(dy, 0), max(-dx, 0):w - max(dx, 0)]
    return out


def _transforms(image, out, shift):
    """The (flipped, dy, dx) that turn ``image`` into ``out``."""
    return [(f, dy, dx) for f in (False, True) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1)
            if numpy.array_equal(_moved(image[..., ::-1] if f else image, dy, dx), out)]


def _check(backend, shift, flip):
    backends.use(backend)
    dlcore.manual_seed(3)
    x = numpy.random.default_rng(0).standard_normal((48, 2, 6, 7)).astype(numpy.float32)
    out = backends.to_numpy(FlipShift(flip, shift)(backends.to_device(x, backend)))
    assert out.shape == x.shape and out.dtype == x.dtype
    found = [_transforms(a, b, shift) for a, b in zip(x, out)]
    assert all(len(f) == 1 for f in found), "every image is one flip/shift of its source"
    kinds = {f[0] for f in found}
    assert {t[0] for t in kinds} == ({False, True} if flip else {False})
    if shift:
        assert {t[1] for t in kinds} == set(range(-shift, shift + 1))  # 48 draws hit every offset
    return kinds


@pytest.mark.parametrize("shift,flip", [(0, True), (2, False), (1, True)])
def test_flip_shift_moves_images_as_documented(shift, flip):
    _check("numpy", shift, flip)


def test_no_flip_no_shift_is_identity():
    x = numpy.arange(2 * 1 * 3 * 3, dtype=numpy.float32).reshape(2, 1, 3, 3)
    numpy.testing.assert_array_equal(FlipShift(False, 0)(x), x)


def test_loader_applies_the_transform_to_inputs_only():
    x = numpy.ones((10, 1, 4, 4), numpy.float32)
    y = numpy.arange(10)
    seen = [(xb, yb) for xb, yb in ArrayLoader(x, y, 4, transform=lambda b: b * 2, seed=0)]
    assert all((xb == 2).all() for xb, _ in seen)
    assert sorted(numpy.concatenate([yb for _, yb in seen])) == list(range(10))


def test_augmentation_config_needs_image_classification():
    cfg = {section: dict(keys) for section, keys in SCHEMA.items()}
    cfg["data"]["flip"] = True
    assert isinstance(build_augmentation(cfg, numpy.zeros((2, 1, 4, 4)), "classify"), FlipShift)
    with pytest.raises(ConfigError, match=r"data.flip / data.shift .* shape \(2, 16\)"):
        build_augmentation(cfg, numpy.zeros((2, 16)), "classify")
    with pytest.raises(ConfigError, match="task 'segment'"):
        build_augmentation(cfg, numpy.zeros((2, 1, 4, 4)), "segment")
    cfg["data"].update(flip=False, shift=0)
    assert build_augmentation(cfg, numpy.zeros((2, 16)), "classify") is None


@pytest.mark.gpu
def test_flip_shift_on_the_gpu():
    _check("cupy", 2, True)
