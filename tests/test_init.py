"""Initialisers: the variances they promise, on the host generator, in the default dtype."""
import math

import numpy
import pytest

from dlcore import init

SHAPE = (400, 300)  # 120,000 samples: the sample std is within ~0.5% of the true std


@pytest.mark.parametrize("name, std", [
    ("gauss", 1.0),
    ("xavier", 1 / math.sqrt(400)),
    ("he", math.sqrt(2 / 400)),
    ("glorot_normal", math.sqrt(2 / 700)),
    ("uniform", math.sqrt(1 / 3)),                     # U[-1, 1): variance 1/3
    ("xavier_uniform", math.sqrt(6 / 700) / math.sqrt(3)),
    ("he_uniform", math.sqrt(6 / 400) / math.sqrt(3)),
])
def test_standard_deviation(name, std):
    w = init.get(name)(SHAPE)
    assert w.dtype == numpy.float32
    assert abs(w.mean()) < 4 * std / math.sqrt(w.size)
    assert w.std() == pytest.approx(std, rel=0.015)


def test_uniform_range_and_bounds():
    w = init.uniform((1000,), -0.5, 0.25)
    assert w.min() >= -0.5 and w.max() < 0.25
    a = math.sqrt(6 / 700)
    w = init.xavier_uniform(SHAPE)
    assert w.min() >= -a and w.max() < a and w.max() > 0.99 * a


def test_conv_layout_fans():
    assert init.fans((16, 3, 5, 5)) == (75, 400)
    w = init.he((64, 32, 3, 3))
    assert w.std() == pytest.approx(math.sqrt(2 / (32 * 9)), rel=0.02)


def test_zeros_ones_and_explicit_dtype():
    assert (init.zeros((3,)) == 0).all() and (init.ones((3,)) == 1).all()
    assert init.he((3, 3), dtype="float64").dtype == numpy.float64


def test_callable_passes_through():
    fn = lambda shape, fan_in=None, fan_out=None, dtype=None: numpy.full(shape, 0.5, numpy.float32)  # noqa: E731
    assert init.get(fn) is fn


@pytest.mark.gpu
@pytest.mark.parametrize("name", sorted(init.INITIALIZERS))
def test_same_seed_same_weights_on_gpu(name):
    import backends
    import dlcore

    dlcore.manual_seed(3)
    on_cpu = init.get(name)((50, 40))
    backends.use("cupy")
    dlcore.manual_seed(3)
    on_gpu = init.get(name)((50, 40))
    assert backends.backend_of(on_gpu).name == "cupy"
    numpy.testing.assert_array_equal(backends.to_numpy(on_gpu), on_cpu)


def test_bad_arguments_name_the_initialiser_and_values():
    with pytest.raises(ValueError, match=r"uniform: low \(1\.0\) must be <= high \(-1\.0\)"):
        init.uniform((2, 2), low=1, high=-1)
    with pytest.raises(ValueError, match=r"uniform: high must be finite, got inf"):
        init.uniform((2, 2), low=0, high=float("inf"))
    with pytest.raises(TypeError, match=r"uniform: low must be a number, got None"):
        init.uniform((2, 2), low=None)
    with pytest.raises(ValueError, match=r"normal: std must be ≥ 0, got -1\.0"):
        init.normal((2, 2), std=-1)
    with pytest.raises(ValueError, match=r"normal: mean must be finite, got nan"):
        init.normal((2, 2), mean=float("nan"))
    w = init.uniform((3,), low=0.5, high=0.5)  # low == high is allowed: a constant
    assert (w == 0.5).all() and w.shape == (3,)
