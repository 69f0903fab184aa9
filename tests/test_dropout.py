"""Inverted dropout: eval identity, keep rate and scale, explicit masks, validation and seeding."""
import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor, nn


def _statistics(y, x, p):
    """Assert ≈(1−p) of the units are kept (5σ of the binomial), kept ones scaled by 1/(1−p), mean kept."""
    kept = y != 0
    n = y.size
    assert abs(kept.mean() - (1 - p)) < 5 * numpy.sqrt(p * (1 - p) / n)
    numpy.testing.assert_allclose(y[kept], x[kept] / (1 - p), rtol=1e-6)
    assert abs(y.mean() - x.mean()) < 5 * numpy.sqrt(p / (1 - p) / n) * numpy.abs(x).max()


def test_eval_is_identity():
    x = Tensor(numpy.random.default_rng(0).standard_normal((4, 5)).astype(numpy.float32))
    assert nn.Dropout(0.5).eval()(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    with dlcore.training_mode(False):
        assert F.dropout(x, 0.5) is x
    model = nn.Sequential(nn.Linear(5, 5), nn.Dropout(0.9))
    model.eval()
    numpy.testing.assert_array_equal(model(x).numpy(), model[0](x).numpy())


@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_training_keeps_one_minus_p_and_scales(p):
    x = numpy.ones((200, 500), numpy.float32)
    y = nn.Dropout(p)(Tensor(x)).numpy()
    assert y.dtype == numpy.float32
    _statistics(y, x, p)


def test_gradient_uses_the_same_mask():
    t = Tensor(numpy.random.default_rng(1).standard_normal((30, 40)), requires_grad=True)
    y = F.dropout(t, 0.4, training=True)
    g = numpy.random.default_rng(2).standard_normal(y.shape)
    y.backward(g)
    kept = y.numpy() != 0
    numpy.testing.assert_allclose(t.grad, g * kept / 0.6, rtol=1e-12)


def test_explicit_mask():
    x = numpy.arange(1.0, 7.0).reshape(2, 3)
    mask = numpy.array([[1, 0, 1], [0, 0, 1]])
    for m in (mask, mask.astype(bool), Tensor(mask.astype(bool))):
        y = F.dropout(Tensor(x), 0.25, training=True, mask=m)
        numpy.testing.assert_allclose(y.numpy(), x * mask / 0.75)
    with pytest.raises(ValueError, match=r"mask of shape \(3,\).*\(2, 3\)"):
        F.dropout(Tensor(x), 0.25, training=True, mask=numpy.ones(3, bool))


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_p_must_be_in_zero_one(p):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        nn.Dropout(p)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        F.dropout(Tensor(numpy.ones(3)), p)


def test_p_zero_is_identity():
    x = Tensor(numpy.ones((3, 3)))
    assert nn.Dropout(0.0)(x) is x


def test_seeded_reproducibility():
    x = Tensor(numpy.ones((50, 50), numpy.float32))
    dlcore.manual_seed(3)
    a = nn.Dropout(0.5)(x).numpy()
    dlcore.manual_seed(3)
    b = nn.Dropout(0.5)(x).numpy()
    c = nn.Dropout(0.5)(x).numpy()
    numpy.testing.assert_array_equal(a, b)
    assert not numpy.array_equal(b, c)


@pytest.mark.gpu
def test_dropout_on_gpu_statistics_seeding_and_mask_parity():
    x_host = numpy.ones((300, 500), numpy.float32)
    x = Tensor(backends.to_device(x_host, "cupy"))
    dlcore.manual_seed(4)
    y = nn.Dropout(0.3)(x)
    assert y.device == "cupy" and y.dtype == numpy.float32
    _statistics(y.numpy(), x_host, 0.3)
    dlcore.manual_seed(4)
    numpy.testing.assert_array_equal(nn.Dropout(0.3)(x).numpy(), y.numpy())
    mask = numpy.random.default_rng(5).random(x_host.shape) >= 0.3
    outs = []
    for name in ("numpy", "cupy"):
        t = Tensor(backends.to_device(x_host * 2, name), requires_grad=True)
        out = F.dropout(t, 0.3, training=True, mask=backends.to_device(mask, name))
        out.backward(backends.to_device(x_host, name))
        outs.append((out.numpy(), backends.to_numpy(t.grad)))
    numpy.testing.assert_array_equal(outs[0][0], outs[1][0])
    numpy.testing.assert_array_equal(outs[0][1], outs[1][1])
