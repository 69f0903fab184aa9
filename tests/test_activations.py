"""Activations: closed-form values, stability in the tails, the layers' settings."""
import math
import warnings

import numpy
import pytest

import dlcore.functional as F
from dlcore import Tensor, nn


def _f(values, dtype=numpy.float64):
    return Tensor(numpy.array(values, dtype))


def test_step_is_course_formula_with_zero_gradient():
    x = _f([-1.0, 0.0, 2.0])
    x.requires_grad = True
    y = F.step(x)
    numpy.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 1.0])  # 1 if x > 0 else 0: step(0) = 0
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad, 0.0)


def test_sigmoid_values_and_tails_without_overflow():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an overflow in exp would raise here
        y = F.sigmoid(_f([0.0, 2.0, -100.0, 100.0, -1000.0], numpy.float32)).numpy()
    assert y[0] == 0.5
    assert y[1] == pytest.approx(1 / (1 + math.exp(-2)), rel=1e-7)
    assert y[2] == pytest.approx(math.exp(-100), rel=1e-6)  # keeps its digits, not 0 or 1−1
    assert y[3] == 1.0 and y[4] == 0.0


def test_tanh_softplus_values():
    numpy.testing.assert_allclose(F.tanh(_f([0.5])).numpy(), [math.tanh(0.5)], rtol=1e-15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.softplus(_f([0.0, 1.0, 1000.0, -1000.0, -30.0])).numpy()
    numpy.testing.assert_allclose(y[:2], [math.log(2), math.log1p(math.e)], rtol=1e-15)
    assert y[2] == 1000.0 and y[3] == 0.0
    assert y[4] == pytest.approx(math.exp(-30), rel=1e-12)


def test_relu_family_values():
    x = _f([-2.0, -0.5, 0.0, 3.0])
    numpy.testing.assert_array_equal(F.relu(x).numpy(), [0, 0, 0, 3])
    numpy.testing.assert_allclose(F.leaky_relu(x, 0.1).numpy(), [-0.2, -0.05, 0, 3])
    numpy.testing.assert_allclose(nn.LeakyReLU()(x).numpy(), [-0.02, -0.005, 0, 3])
    numpy.testing.assert_allclose(F.elu(x, 2.0).numpy(), [2 * math.expm1(-2), 2 * math.expm1(-0.5), 0, 3])
    assert F.elu(_f([-1e4])).numpy()[0] == -1.0


def test_prelu_learns_slope_per_channel():
    layer = nn.PReLU(num_parameters=2, init=0.25)
    numpy.testing.assert_array_equal(layer.weight.numpy(), [0.25, 0.25])
    x = Tensor(numpy.array([[-4.0, -8.0], [2.0, -1.0]], numpy.float32))
    numpy.testing.assert_allclose(layer(x).numpy(), [[-1.0, -2.0], [2.0, -0.25]])
    layer(x).sum().backward()
    numpy.testing.assert_allclose(layer.weight.grad, [-4.0, -9.0])  # Σ x where x ≤ 0, per channel
    with pytest.raises(ValueError, match="3 slopes but the input has shape"):
        nn.PReLU(3)(x)


def test_swish_values():
    x = numpy.array([-3.0, 0.0, 1.0, 4.0])
    expected = x / (1 + numpy.exp(-1.5 * x))
    numpy.testing.assert_allclose(F.swish(_f(x), 1.5).numpy(), expected, rtol=1e-14)
    assert F.swish(_f([0.0])).numpy()[0] == 0.0


def test_identity_returns_input():
    x = _f([1.0, -2.0])
    assert F.identity(x) is x and nn.Identity()(x) is x


def test_softmax_sums_to_one_and_survives_huge_logits():
    y = F.softmax(_f([[1.0, 2.0, 3.0], [1000.0, -1000.0, 0.0]], numpy.float32)).numpy()
    numpy.testing.assert_allclose(y.sum(axis=1), 1.0, rtol=1e-6)
    e = numpy.exp([1.0, 2.0, 3.0])
    numpy.testing.assert_allclose(y[0], e / e.sum(), rtol=1e-6)
    numpy.testing.assert_array_equal(y[1], [1.0, 0.0, 0.0])
    z = F.log_softmax(_f([[1000.0, 0.0]])).numpy()
    numpy.testing.assert_allclose(z, [[0.0, -1000.0]])
    numpy.testing.assert_allclose(nn.Softmax(axis=0)(_f([[0.0], [0.0]])).numpy(), [[0.5], [0.5]])


def test_activation_registry():
    assert isinstance(nn.activations.get("swish"), nn.Swish)
    assert isinstance(nn.activations.get("gelu"), nn.GELU)
    with pytest.raises(ValueError, match="activations.get: name must be one of 'step', .*'gelu', got 'mish'"):
        nn.activations.get("mish")
