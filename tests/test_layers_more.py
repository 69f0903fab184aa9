"""Layers and options of issue #23: values against closed forms and NumPy references of PyTorch's
definitions; against PyTorch itself where it imports (not in CI: skipped). Gradients and CPU-vs-GPU
parity: the cases in tests/cases (activation_cases, norm_cases, conv_cases)."""
import math

import numpy
import pytest

import dlcore
from dlcore import Tensor, nn

RNG = numpy.random.default_rng(23)


def _t(a):
    return Tensor(numpy.asarray(a, dtype=numpy.float64))


# ---- GELU, Softmax(dim=), Flatten(start_dim) ----------------------------------------------------------------
def test_gelu_is_x_times_the_normal_cdf():
    x = numpy.linspace(-8, 8, 161)
    cdf = numpy.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    exact = x * cdf
    numpy.testing.assert_allclose(nn.GELU()(_t(x)).numpy(), exact, rtol=2e-7, atol=1e-15)  # the erfc fit: 1.2e-7
    tanh_form = 0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    numpy.testing.assert_allclose(nn.GELU(approximate="tanh")(_t(x)).numpy(), tanh_form, rtol=1e-14, atol=1e-300)
    g = Tensor(x.copy(), requires_grad=True)
    nn.GELU()(g).sum().backward()
    phi = numpy.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    numpy.testing.assert_allclose(g.grad, cdf + x * phi, rtol=2e-7, atol=1e-7)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU(approximate="erf")


def test_softmax_dim_and_flatten_start_dim():
    x = RNG.standard_normal((2, 3, 4))
    e = numpy.exp(x - x.max(axis=1, keepdims=True))
    numpy.testing.assert_allclose(nn.Softmax(dim=1)(_t(x)).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    with pytest.raises(ValueError, match="axis=1 and dim=0"):
        nn.Softmax(1, dim=0)
    assert nn.Flatten(start_dim=0)(_t(x)).shape == (24,)
    assert nn.Flatten(1, 1)(_t(x)).shape == (2, 3, 4) and nn.Flatten(-2)(_t(x)).shape == (2, 12)
    numpy.testing.assert_array_equal(nn.Flatten(1, 2)(_t(x)).numpy(), x.reshape(2, 12))
    with pytest.raises(ValueError, match="cannot merge axes 2 … 1"):
        nn.Flatten(2, 1)(_t(x))


# ---- containers -------------------------------------------------------------------------------------------------
def test_module_list_and_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    layers.extend([nn.Linear(3, 1)])
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(layers[-1], nn.Linear) and len(layers[1:]) == 2 and isinstance(layers[1:], nn.ModuleList)
    heads = nn.ModuleDict({"a": nn.Linear(2, 2)})
    heads["b"] = nn.Linear(2, 1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers, self.heads = layers, heads

    model = Model()
    assert sorted(model.state_dict()) == sorted(
        ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "heads.a.weight", "heads.a.bias",
         "heads.b.weight", "heads.b.bias"])
    assert list(heads.keys()) == ["a", "b"] and dict(heads.items())["b"] is heads["b"]
    model.eval()
    assert not layers[0].training and not heads["a"].training
    with pytest.raises(ValueError, match="ModuleDict: a name must be an identifier"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(ValueError, match="ModuleDict: a name must be an identifier"):
        heads["forward"] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleList: module 3"):
        layers.append(numpy.zeros(2))


# ---- normalization ------------------------------------------------------------------------------------------------
def reference_group_norm(x, groups, gamma, beta, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    y = ((g - g.mean(axis=2, keepdims=True)) / numpy.sqrt(g.var(axis=2, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_matches_its_definition(groups):
    x = RNG.standard_normal((3, 6, 4, 5)) * 3 + 1
    with dlcore.default_dtype("float64"):
        norm = nn.GroupNorm(groups, 6)
    norm.weight.data[...] = RNG.uniform(0.5, 2, 6)
    norm.bias.data[...] = RNG.standard_normal(6)
    expected = reference_group_norm(x, groups, norm.weight.data, norm.bias.data)
    numpy.testing.assert_allclose(norm(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(norm.eval()(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)  # no running stats
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


def test_group_norm_of_one_channel_per_group_is_instance_norm():
    x = RNG.standard_normal((2, 3, 7))
    y = nn.GroupNorm(3, 3, affine=False)(_t(x)).numpy()
    numpy.testing.assert_allclose(y, (x - x.mean(axis=2, keepdims=True)) / numpy.sqrt(x.var(axis=2, keepdims=True)
                                                                                        + 1e-5), rtol=1e-12)
    assert nn.GroupNorm(3, 3, affine=False).state_dict() == {}


def test_batch_norm_without_affine_or_running_statistics():
    x = RNG.standard_normal((8, 3, 2, 2)) * 2 + 5
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None and bn.state_dict() == {}
    assert list(bn.parameters()) == []
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    expected = (x - mean) / numpy.sqrt(var + 1e-5)
    numpy.testing.assert_allclose(bn(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(bn.eval()(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)  # batch stats in eval
    tracked = nn.BatchNorm2d(3, affine=False)
    tracked(_t(x))
    numpy.testing.assert_allclose(tracked.running_mean, 0.1 * mean.reshape(-1), rtol=1e-6)
    assert sorted(tracked.state_dict()) == ["running_mean", "running_var"]
    assert "affine=False" in repr(tracked) and "track_running_stats" not in repr(tracked)


# ---- Dropout2d ------------------------------------------------------------------------------------------------------
def test_dropout2d_drops_whole_channels_with_probability_p():
    dlcore.manual_seed(0)
    y = nn.Dropout2d(0.25)(_t(numpy.ones((400, 10, 3, 3)))).numpy()
    per_map = y.reshape(4000, 9)
    assert (per_map.min(axis=1) == per_map.max(axis=1)).all()
    assert set(numpy.unique(per_map)) == {0.0, 1 / 0.75}
    assert abs((per_map[:, 0] == 0).mean() - 0.25) < 0.02
    x = Tensor(RNG.standard_normal((2, 3, 2, 2)), requires_grad=True)
    mask = numpy.array([[1, 0, 1], [0, 0, 1]]).reshape(2, 3, 1, 1)
    from dlcore.ops.dropout import dropout2d
    out = dropout2d(x, 0.5, training=True, mask=mask)
    out.backward(numpy.ones(x.shape))
    numpy.testing.assert_allclose(out.numpy(), x.data * mask * 2)
    numpy.testing.assert_allclose(x.grad, numpy.broadcast_to(mask * 2.0, x.shape))
    with pytest.raises(ValueError, match=r"dropout2d: the mask of shape \(2, 3\) does not match x of shape"):
        dropout2d(x, 0.5, training=True, mask=numpy.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dropout2d needs an input \(N, C, H, W\)"):
        dropout2d(_t(numpy.ones((2, 3))), 0.5, training=True)
    assert nn.Dropout2d(0.5).draws_random_numbers() and nn.Dropout2d(0.5).eval()(x) is x


def test_against_pytorch_activations_and_norms():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 6, 3, 3))
    numpy.testing.assert_allclose(nn.GELU()(_t(x)).numpy(), torch.nn.GELU()(torch.tensor(x)).numpy(), rtol=2e-7)
    numpy.testing.assert_allclose(nn.GroupNorm(3, 6)(_t(x)).numpy(),
                                  torch.nn.GroupNorm(3, 6).double()(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                                  atol=1e-12)
