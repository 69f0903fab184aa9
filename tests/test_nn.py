"""Modules: registration order, state_dict round trips, modes, moves and clear errors."""
import numpy
import pytest

import dlcore
from dlcore import Tensor, nn
from dlcore.models import MLP


def _model():
    return nn.Sequential(nn.Linear(4, 5), nn.PReLU(), nn.Linear(5, 3))


def test_named_parameters_are_dotted_and_ordered():
    names = [n for n, _ in _model().named_parameters()]
    assert names == ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"]


def test_linear_contract_shapes_and_formula():
    layer = nn.Linear(4, 3)
    assert layer.weight.shape == (4, 3) and layer.bias.shape == (3,)
    numpy.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    x = numpy.random.default_rng(0).standard_normal((2, 4)).astype(numpy.float32)
    layer.bias.data[...] = numpy.array([1.0, -2.0, 0.5], numpy.float32)
    expected = x @ layer.weight.numpy() + layer.bias.numpy()
    numpy.testing.assert_allclose(layer(Tensor(x)).numpy(), expected, rtol=1e-6)


def test_linear_without_bias_has_one_parameter():
    assert [n for n, _ in nn.Linear(2, 2, bias=False).named_parameters()] == ["weight"]


def test_linear_wrong_width_names_layer_and_sizes():
    layer = nn.Linear(4, 3)
    with pytest.raises(ValueError) as info:
        layer(Tensor(numpy.ones((2, 5), numpy.float32)))
    message = str(info.value)
    assert "Linear(in_features=4" in message and "4 features" in message and "(2, 5)" in message


def test_state_dict_round_trip_gives_numpy_copies():
    a, b = _model(), _model()
    state = a.state_dict()
    assert all(isinstance(v, numpy.ndarray) for v in state.values())
    state["0.weight"][...] = 0  # a copy: the model is untouched
    assert not numpy.all(a[0].weight.numpy() == 0)
    b.load_state_dict(a.state_dict())
    x = Tensor(numpy.ones((2, 4), numpy.float32))
    numpy.testing.assert_array_equal(a(x).numpy(), b(x).numpy())


def test_load_state_dict_errors_name_the_key():
    model = _model()
    state = model.state_dict()
    bad = dict(state, **{"0.weight": numpy.zeros((3, 3), numpy.float32)})
    with pytest.raises(ValueError, match=r"'0.weight' has shape \(3, 3\) in the state but \(4, 5\)"):
        model.load_state_dict(bad)
    bad = dict(state, **{"2.bias": state["2.bias"].astype(numpy.float64)})
    with pytest.raises(ValueError, match=r"'2.bias' has dtype float64"):
        model.load_state_dict(bad)
    missing = {k: v for k, v in state.items() if k != "1.weight"}
    with pytest.raises(KeyError, match=r"missing keys \['1.weight'\]"):
        model.load_state_dict(missing)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        model.load_state_dict(dict(state, extra=numpy.zeros(1)))


def test_buffers_are_state_and_move_with_the_module():
    class WithBuffer(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.register_buffer("count", numpy.zeros(1, numpy.float32))

    m = WithBuffer()
    assert set(m.state_dict()) == {"lin.weight", "lin.bias", "count"}
    state = m.state_dict()
    state["count"] = numpy.array([5.0], numpy.float32)
    m.load_state_dict(state)
    assert m.count[0] == 5.0 and dict(m.named_buffers())["count"][0] == 5.0


def test_train_eval_reaches_children_and_the_functional_mode():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(dlcore.is_training())
            return x

    model = nn.Sequential(nn.Linear(2, 2), Probe())
    model(Tensor(numpy.ones((1, 2), numpy.float32)))
    model.eval()
    assert not model[1].training
    model(Tensor(numpy.ones((1, 2), numpy.float32)))
    assert seen == [True, False]


def test_assigning_none_unregisters_a_parameter():
    layer = nn.Linear(2, 2)
    layer.bias = None
    assert [n for n, _ in layer.named_parameters()] == ["weight"]


def test_shared_parameter_listed_once():
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(model.parameters())) == 2


def test_module_needs_super_init():
    class Broken(nn.Module):
        def __init__(self):
            self.x = 1

    with pytest.raises(RuntimeError, match=r"must call super\(\).__init__\(\)"):
        Broken()


def test_mlp_structure_and_default_init():
    model = MLP([4, 8, 8, 2], activation="relu")
    kinds = [type(m).__name__ for m in model]
    assert kinds == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    with pytest.raises(ValueError, match="activations.get: name must be one of .*got 'rleu'; did you mean 'relu'"):
        MLP([2, 2, 2], activation="rleu")


def test_unknown_weight_init_lists_choices():
    with pytest.raises(ValueError, match="Linear: weight_init must be one of .*'he'.* or a callable .*got 'hee'; "
                                         "did you mean 'he'"):
        nn.Linear(2, 2, weight_init="hee")


def test_to_numpy_is_identity_and_keeps_parameter_objects():
    model = _model()
    params = list(model.parameters())
    assert model.to("numpy") is model
    assert all(a is b for a, b in zip(params, model.parameters()))


@pytest.mark.gpu
def test_to_cupy_and_back_keeps_values_and_identity():
    model = _model()
    before = model.state_dict()
    params = list(model.parameters())
    model.to("cupy")
    assert all(p.device == "cupy" for p in model.parameters())
    assert all(a is b for a, b in zip(params, model.parameters()))
    after = model.to("numpy").state_dict()
    for k in before:
        numpy.testing.assert_array_equal(before[k], after[k])


@pytest.mark.parametrize("layer, shape", [(lambda: nn.Linear(3, 2), (4, 3)),
                                          (lambda: nn.Conv2d(1, 2, 3), (1, 1, 5, 5))])
def test_an_input_of_another_dtype_than_the_weights_is_refused(layer, shape):
    """A float64 batch into a float32 layer would make the rest of the step float64 without a word."""
    layer = layer()
    with pytest.raises(TypeError, match=r"has float32 weights but got a float64 input of shape .*astype\('float32'\)"):
        layer(Tensor(numpy.zeros(shape)))
    assert layer(Tensor(numpy.zeros(shape, numpy.float32))).dtype == numpy.float32
    with pytest.raises(TypeError, match=r"takes a Tensor \(or an array\), got list; wrap the data"):
        layer(numpy.zeros(shape).tolist())
