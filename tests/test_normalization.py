"""Batch normalization: per-channel statistics, running statistics, eval mode and state.

Gradient checks (training and eval) and CPU-vs-GPU parity run from tests/cases/norm_cases.py.
"""
import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor, nn


def reference(x, gamma, beta, axes, eps=1e-5):
    """γ·(x − mean)/√(var + ε) + β with mean and biased var over ``axes`` (NumPy, float64)."""
    shape = [1] * x.ndim
    shape[1] = -1
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return gamma.reshape(shape) * (x - mean) / numpy.sqrt(var + eps) + beta.reshape(shape)


def _data(shape, seed=0):
    """Inputs whose channels have clearly different means and scales."""
    rng = numpy.random.default_rng(seed)
    c = shape[1]
    scale = numpy.linspace(0.5, 3.0, c).reshape((1, c) + (1,) * (len(shape) - 2))
    return rng.standard_normal(shape) * scale + 2 * scale


def _layer(cls, c, seed=1):
    layer = cls(c)
    rng = numpy.random.default_rng(seed)
    layer.weight.data = rng.uniform(0.5, 1.5, c).astype(numpy.float32)
    layer.bias.data = rng.standard_normal(c).astype(numpy.float32)
    return layer


@pytest.mark.parametrize("cls, shape, axes", [(nn.BatchNorm2d, (4, 3, 5, 6), (0, 2, 3)),
                                              (nn.BatchNorm1d, (16, 5), (0,)),
                                              (nn.BatchNorm1d, (6, 4, 7), (0, 2))])
def test_training_normalizes_per_channel(cls, shape, axes):
    x = _data(shape).astype(numpy.float32)
    layer = _layer(cls, shape[1])
    y = layer(Tensor(x)).numpy()
    expected = reference(x.astype(numpy.float64), layer.weight.numpy(), layer.bias.numpy(), axes)
    numpy.testing.assert_allclose(y, expected, rtol=1e-4, atol=1e-4)
    if len(shape) == 4:  # the trap: statistics per C·H·W activation are something else
        wrong = (x - x.mean(axis=0)) / numpy.sqrt(x.var(axis=0) + 1e-5)
        assert not numpy.allclose(y, wrong, atol=1e-2)


@pytest.mark.parametrize("cls, shape, axes", [(nn.BatchNorm2d, (4, 3, 5, 6), (0, 2, 3)),
                                              (nn.BatchNorm1d, (16, 5), (0,))])
def test_running_statistics_use_unbiased_variance_and_serve_eval(cls, shape, axes):
    layer = cls(shape[1], momentum=0.2)
    running_mean, running_var = layer.running_mean, layer.running_var
    mean, var = numpy.zeros(shape[1]), numpy.ones(shape[1])
    for seed in range(3):
        x = _data(shape, seed).astype(numpy.float32)
        layer(Tensor(x))
        n = x.size // shape[1]
        mean = 0.8 * mean + 0.2 * x.mean(axis=axes)
        var = 0.8 * var + 0.2 * x.var(axis=axes) * n / (n - 1)
    assert layer.running_mean is running_mean and layer.running_var is running_var  # updated in place
    assert layer.running_mean.dtype == numpy.float32
    numpy.testing.assert_allclose(layer.running_mean, mean, rtol=1e-5)
    numpy.testing.assert_allclose(layer.running_var, var, rtol=1e-5)
    x = _data(shape, 9).astype(numpy.float32)
    layer.eval()
    before = layer.running_mean.copy()
    y = layer(Tensor(x)).numpy()
    shape_c = (1, -1) + (1,) * (len(shape) - 2)
    numpy.testing.assert_allclose(y, (x - mean.reshape(shape_c)) / numpy.sqrt(var.reshape(shape_c) + 1e-5),
                                  rtol=1e-4, atol=1e-5)
    numpy.testing.assert_array_equal(layer.running_mean, before)  # eval leaves the statistics alone


def test_state_dict_holds_running_statistics():
    layer = nn.BatchNorm2d(3)
    assert list(layer.state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    numpy.testing.assert_array_equal(layer.state_dict()["running_var"], numpy.ones(3, numpy.float32))
    layer(Tensor(_data((4, 3, 2, 2)).astype(numpy.float32)))
    state = layer.state_dict()
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(state)
    numpy.testing.assert_array_equal(fresh.running_mean, state["running_mean"])
    x = Tensor(_data((2, 3, 2, 2), 5).astype(numpy.float32))
    numpy.testing.assert_array_equal(fresh.eval()(x).numpy(), layer.eval()(x).numpy())
    # the loaded statistics are the ones the next training step updates
    fresh.train()(x)
    assert not numpy.array_equal(fresh.running_mean, state["running_mean"])


@pytest.mark.parametrize("training", [True, False])
def test_gamma_beta_and_input_gradients(training):
    with dlcore.default_dtype("float64"):
        layer = nn.BatchNorm2d(3)
    layer.weight.data = numpy.array([0.5, 1.5, -1.0])
    layer.bias.data = numpy.array([0.1, -0.2, 0.3])
    layer.running_mean = numpy.array([0.2, -0.1, 0.4])
    layer.running_var = numpy.array([0.5, 2.0, 1.2])
    layer.train(training)
    dlcore.gradcheck(lambda x, g, b: layer(x), [_data((3, 3, 2, 3)), layer.weight, layer.bias])


@pytest.mark.parametrize("shape", [(4, 3, 5, 6), (2, 16, 7, 7)])
def test_channels_last_input_gives_the_same_numbers_as_nchw(shape):
    """NHWC memory takes the long-row path (``layout.channel_rows``); NCHW memory does not."""
    rng = numpy.random.default_rng(0)
    n, c, h, w = shape
    nhwc = rng.standard_normal((n, h, w, c)).transpose(0, 3, 1, 2)
    gy = rng.standard_normal(shape)
    results = []
    for x_host in (nhwc, numpy.ascontiguousarray(nhwc)):
        with dlcore.default_dtype("float64"):
            layer = nn.BatchNorm2d(c)
        layer.weight.data[:] = rng.uniform(0.5, 2.0, c) if not results else results[0][3]
        x = Tensor(x_host, requires_grad=True)
        y = layer(x)
        y.backward(numpy.ascontiguousarray(gy.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2) if not results else gy)
        results.append((y.numpy(), x.grad, layer.weight.grad, layer.weight.data.copy()))
    (y1, gx1, gw1, _), (y2, gx2, gw2, _) = results
    numpy.testing.assert_allclose(y1, y2, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(gx1, gx2, rtol=1e-10, atol=1e-12)
    numpy.testing.assert_allclose(gw1, gw2, rtol=1e-10)


def test_bad_inputs_name_the_layer():
    with pytest.raises(ValueError, match=r"BatchNorm2d\(4.*4 channels.*\(2, 3, 5, 5\)"):
        nn.BatchNorm2d(4)(Tensor(numpy.zeros((2, 3, 5, 5), numpy.float32)))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(3.*2-D or 3-D.*\(2, 3, 5, 5\)"):
        nn.BatchNorm1d(3)(Tensor(numpy.zeros((2, 3, 5, 5), numpy.float32)))
    with pytest.raises(ValueError, match="more than one value per channel"):
        nn.BatchNorm1d(3)(Tensor(numpy.zeros((1, 3), numpy.float32)))
    nn.BatchNorm1d(3).eval()(Tensor(numpy.zeros((1, 3), numpy.float32)))  # fine in eval


def test_functional_without_running_statistics_uses_the_batch():
    x = _data((5, 2))
    g, b = numpy.array([1.0, 2.0]), numpy.array([0.0, 1.0])
    for training in (True, False, None):
        numpy.testing.assert_allclose(F.batch_norm(Tensor(x), Tensor(g), Tensor(b), training=training).numpy(),
                                      reference(x, g, b, (0,)), rtol=1e-12)


@pytest.mark.gpu
def test_running_statistics_parity_on_gpu():
    """Three training steps on each backend give the same running statistics and eval output."""
    results = []
    for name in ("numpy", "cupy"):
        layer = nn.BatchNorm2d(3).to(name)
        for seed in range(3):
            layer(Tensor(backends.to_device(_data((4, 3, 5, 5), seed).astype(numpy.float32), name)))
        assert backends.backend_of(layer.running_mean).name == name
        y = layer.eval()(Tensor(backends.to_device(_data((2, 3, 5, 5), 7).astype(numpy.float32), name)))
        results.append((layer.state_dict(), y.numpy()))
    (s_cpu, y_cpu), (s_gpu, y_gpu) = results
    for key in ("running_mean", "running_var"):
        numpy.testing.assert_allclose(s_gpu[key], s_cpu[key], rtol=1e-5, atol=1e-6, err_msg=key)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-5, atol=1e-5)



@pytest.mark.gpu
def test_running_statistics_on_another_device_are_refused():
    x = Tensor(backends.to_device(numpy.ones((3, 2), numpy.float32), "cupy"))
    g, b = (Tensor(backends.to_device(numpy.full(2, v, numpy.float32), "cupy")) for v in (1.0, 0.0))
    with pytest.raises(backends.DeviceMismatchError, match="batch_norm"):
        F.batch_norm(x, g, b, numpy.zeros(2, numpy.float32), numpy.ones(2, numpy.float32))


@pytest.mark.parametrize("cls", [nn.BatchNorm1d, nn.BatchNorm2d])
@pytest.mark.parametrize("kwargs, error, match", [
    (dict(num_features=4, momentum=1.5), ValueError, r"momentum must be in \[0, 1\], got 1\.5"),
    (dict(num_features=4, momentum=-0.1), ValueError, r"momentum must be in \[0, 1\], got -0\.1"),
    (dict(num_features=4, momentum=float("nan")), ValueError, r"momentum must be finite, got nan"),
    (dict(num_features=4, eps=-1), ValueError, r"eps must be > 0, got -1\.0"),
    (dict(num_features=4, eps=0.0), ValueError, r"eps must be > 0, got 0\.0"),
    (dict(num_features=4, eps=float("inf")), ValueError, r"eps must be finite, got inf"),
    (dict(num_features=4, eps=None), TypeError, r"eps must be a number, got None"),
    (dict(num_features=0), ValueError, r"num_features must be an int ≥ 1, got 0"),
    (dict(num_features=2.5), TypeError, r"num_features must be an int ≥ 1, got 2\.5 \(float\)"),
    (dict(num_features=True), TypeError, r"num_features must be an int ≥ 1, got True \(bool\)"),
])
def test_bad_arguments_name_the_layer_key_and_value(cls, kwargs, error, match):
    with pytest.raises(error, match=rf"{cls.__name__}: {match}"):
        cls(**kwargs)


def test_momentum_and_eps_edges_and_later_assignment():
    layer = nn.BatchNorm1d(numpy.int64(3), momentum=0, eps=1e-3)
    assert (layer.num_features, layer.momentum, layer.eps) == (3, 0.0, 1e-3)
    assert type(layer.num_features) is int and type(layer.momentum) is float
    layer.momentum = 1  # 1 keeps only the last batch's statistics: allowed
    assert layer.momentum == 1.0
    with pytest.raises(ValueError, match=r"BatchNorm1d: momentum must be in \[0, 1\], got 2\.0"):
        layer.momentum = 2.0
    with pytest.raises(ValueError, match=r"BatchNorm1d: eps must be > 0, got -1\.0"):
        layer.eps = -1.0
    assert (layer.momentum, layer.eps) == (1.0, 1e-3)
    # momentum = 1: the running statistics are the last batch's (unbiased variance)
    x = numpy.array([[1.0, 2.0, 3.0], [3.0, 6.0, 9.0]], numpy.float32)
    layer(Tensor(x))
    numpy.testing.assert_allclose(layer.running_mean, [2.0, 4.0, 6.0], rtol=1e-6)
    numpy.testing.assert_allclose(layer.running_var, [2.0, 8.0, 18.0], rtol=1e-6)
