"""User errors of the sequence, attention and container layers that used to pass silently or end in a
bare traceback (unpacking, AttributeError) instead of an error naming the layer and what it got."""
import numpy
import pytest

import dlcore
from dlcore import nn
from dlcore.ops.attention import scaled_dot_product_attention


def _x(*shape, dtype="float32"):
    return dlcore.Tensor(numpy.random.default_rng(0).normal(size=shape).astype(dtype))


@pytest.mark.parametrize("which", ["key_padding_mask", "attn_mask"])
def test_attention_refuses_integer_masks_instead_of_adding_them(which):
    # an int 0/1 mask used to be added to the scores (+1 where "masked"): a silently wrong result;
    # PyTorch accepts boolean or floating masks only
    attn, x = nn.MultiheadAttention(4, 2), _x(2, 3, 4)
    mask = numpy.array([[0, 0, 1], [0, 1, 1]]) if which == "key_padding_mask" else \
        numpy.triu(numpy.ones((3, 3), int), 1)
    with pytest.raises(TypeError, match=rf"MultiheadAttention.*{which}.*int64.*bool"):
        attn(x, x, x, **{which: mask})
    with pytest.raises(TypeError, match=r"scaled_dot_product_attention.*mask.*int64"):
        scaled_dot_product_attention(_x(2, 3, 4), _x(2, 3, 4), _x(2, 3, 4), numpy.zeros((3, 3), int))


def test_attention_masks_must_be_arrays():
    attn, x = nn.MultiheadAttention(4, 2), _x(2, 3, 4)
    with pytest.raises(TypeError, match=r"MultiheadAttention.*key_padding_mask must be a Tensor or an array.*list"):
        attn(x, x, x, key_padding_mask=[[False, False, True], [False, True, True]])
    with pytest.raises(TypeError, match=r"MultiheadAttention.*attn_mask must be a Tensor or an array.*list"):
        attn(x, x, x, attn_mask=[[False] * 3] * 3)


def test_attention_boolean_and_float_masks_still_work():
    attn, x = nn.MultiheadAttention(4, 2), _x(2, 3, 4)
    keep = numpy.array([[False, False, True], [False, True, True]])
    _, w_bool = attn(x, x, x, key_padding_mask=keep)
    _, w_float = attn(x, x, x, key_padding_mask=numpy.where(keep, -numpy.inf, 0.0))
    numpy.testing.assert_allclose(w_bool.numpy(), w_float.numpy())
    assert float(abs(w_bool.numpy()[keep[:, None, :].repeat(3, axis=1)]).max()) == 0.0


@pytest.mark.parametrize("state", ["one tensor", "three tensors"])
def test_lstm_state_must_be_a_pair(state):
    lstm, x = nn.LSTM(4, 5), _x(2, 3, 4)
    h = _x(1, 2, 5)
    with pytest.raises(TypeError, match=r"LSTM\(4, 5.*state must be a pair \(h0, c0\)"):
        lstm(x, h if state == "one tensor" else (h, h, h))


@pytest.mark.parametrize("cls", [nn.GRU, nn.RNN])
def test_rnn_and_gru_take_one_state_tensor(cls):
    layer, x, h = cls(4, 5), _x(2, 3, 4), _x(1, 2, 5)
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(4, 5.*h0 must be a Tensor or an array.*tuple"):
        layer(x, (h, h))


def test_recurrent_states_must_have_the_inputs_dtype():
    # a float64 h0 used to turn the float32 layer's whole output and states into float64, silently
    lstm, x = nn.LSTM(4, 5), _x(2, 3, 4)
    h64 = _x(1, 2, 5, dtype="float64")
    with pytest.raises(TypeError, match=r"LSTM\(4, 5.*h0 has dtype float64.*float32"):
        lstm(x, (h64, _x(1, 2, 5)))
    with pytest.raises(TypeError, match=r"GRU\(4, 5.*h0 has dtype float64.*float32"):
        nn.GRU(4, 5)(x, h64)
    y, (h_n, c_n) = lstm(x, (_x(1, 2, 5), _x(1, 2, 5)))
    assert y.dtype == h_n.dtype == c_n.dtype == numpy.float32


def test_group_norm_takes_arrays_as_layer_norm_does():
    x = numpy.random.default_rng(1).normal(size=(2, 4, 3)).astype("float32")
    norm = nn.GroupNorm(2, 4)
    numpy.testing.assert_allclose(norm(x).numpy(), norm(dlcore.Tensor(x)).numpy())
    with pytest.raises(TypeError, match=r"GroupNorm\(2, 4.*Tensor or an array.*list"):
        norm(x.tolist())


@pytest.mark.parametrize("name", ["training", "_modules", "_parameters"])
def test_module_dict_refuses_names_of_module_state(name):
    # "training" used to replace the module's train/eval flag by the given module
    with pytest.raises(ValueError, match=rf"ModuleDict.*{name!r}"):
        nn.ModuleDict({name: nn.ReLU()})
    heads = nn.ModuleDict({"a": nn.ReLU()})
    heads["a"] = nn.Tanh()  # replacing a module under its own name stays allowed
    assert isinstance(heads["a"], nn.Tanh) and heads.training is True


@pytest.mark.parametrize("metric", ["precision", "recall", "f1_score"])
def test_binary_scores_refuse_a_pos_label_that_is_not_one_of_the_two_labels(metric):
    # labels 0/2 with the default pos_label=1 used to score the absent class 1: 0.0, silently (sklearn raises)
    from dlcore import metrics
    with pytest.raises(ValueError, match=rf"metrics.{metric}: pos_label=1 is not one of the two labels present, "
                                         r"\[0, 2\]"):
        getattr(metrics, metric)([0, 2, 2], [0, 2, 0])
    assert getattr(metrics, metric)([0, 2, 2], [0, 2, 0], pos_label=2) > 0
    assert getattr(metrics, metric)([0, 0, 0], [0, 0, 0]) == 0.0  # one label only: no positive, 0.0 as before


@pytest.mark.parametrize("layer, shape", [(lambda: nn.BatchNorm2d(3), (2, 3, 4, 4)),
                                          (lambda: nn.BatchNorm1d(3, affine=False), (4, 3)),
                                          (lambda: nn.LayerNorm(4), (2, 4)), (lambda: nn.GroupNorm(2, 4), (2, 4, 3))])
def test_normalization_layers_refuse_a_batch_of_another_dtype_as_linear_does(layer, shape):
    """A float64 batch into float32 parameters or running statistics would make the rest of the step float64."""
    module = layer()
    with pytest.raises(TypeError, match=r"has float32 weights but got a float64 input of shape"):
        module(numpy.ones(shape))
    assert module(numpy.ones(shape, numpy.float32)).dtype == numpy.float32


def test_a_batch_norm_without_parameters_or_statistics_takes_any_float_dtype():
    layer = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert layer(numpy.ones((4, 3))).dtype == numpy.float64
