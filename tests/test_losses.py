"""Loss values against closed forms and independent NumPy computations; reductions, dtypes, errors."""
import numpy
import pytest

from dlcore import Tensor, losses

RNG = numpy.random.default_rng(0)


def _value(loss, y, t, **kwargs):
    """``loss(y, t)`` on float64 data, as a NumPy array."""
    return loss(**kwargs)(Tensor(numpy.asarray(y, numpy.float64)), numpy.asarray(t)).numpy()


def _none(loss, y, t, **kwargs):
    return _value(loss, y, t, reduction="none", **kwargs)


def _softmax(x):
    e = numpy.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_hinge_zero_at_and_beyond_the_margin_linear_below():
    y, t = [1.0, 2.0, 0.5, -2.0, 3.0], [1.0, 1.0, 1.0, 1.0, -1.0]  # margins 1, 2, 0.5, −2, −3
    numpy.testing.assert_allclose(_none(losses.HingeLoss, y, t), [0, 0, 0.5, 3, 4])
    numpy.testing.assert_allclose(_value(losses.HingeLoss, y, t), 7.5 / 5)


def test_huber_quadratic_inside_linear_outside_continuous_at_delta():
    r = numpy.array([0.5, -0.5, 2.0, -3.0, 1.0])
    numpy.testing.assert_allclose(_none(losses.HuberLoss, r, 0 * r), [0.125, 0.125, 1.5, 2.5, 0.5])
    numpy.testing.assert_allclose(_none(losses.HuberLoss, r, 0 * r, delta=2.0), [0.125, 0.125, 2.0, 4.0, 0.5])
    d = 0.7
    at, below, above = _none(losses.HuberLoss, [d, d - 1e-9, d + 1e-9], [0.0, 0.0, 0.0], delta=d)
    assert at == pytest.approx(0.5 * d * d) and below == pytest.approx(at) and above == pytest.approx(at)


def test_quantile_is_asymmetric():
    y, t = [1.0, 0.0, 2.0], [0.0, 1.0, 2.0]  # over-prediction by 1, under-prediction by 1, exact
    numpy.testing.assert_allclose(_none(losses.QuantileLoss, y, t, tau=0.9), [0.1, 0.9, 0.0])
    numpy.testing.assert_allclose(_none(losses.QuantileLoss, y, t, tau=0.5), [0.5, 0.5, 0.0])


def test_epsilon_insensitive_is_zero_inside_the_tube():
    y, t = [0.05, -0.09, 0.5, -0.3, 0.1], [0.0, 0.0, 0.0, 0.0, 0.0]
    numpy.testing.assert_allclose(_none(losses.EpsilonInsensitiveLoss, y, t), [0, 0, 0.4, 0.2, 0], atol=1e-15)
    numpy.testing.assert_allclose(_none(losses.EpsilonInsensitiveLoss, y, t, epsilon=0.2), [0, 0, 0.3, 0.1, 0])


def test_sum_squared_error_is_half_the_sum_per_sample():
    y, t = RNG.standard_normal((3, 2, 4)), RNG.standard_normal((3, 2, 4))
    per_sample = 0.5 * ((y - t) ** 2).reshape(3, -1).sum(axis=1)
    numpy.testing.assert_allclose(_none(losses.SumSquaredError, y, t), per_sample)
    numpy.testing.assert_allclose(_value(losses.SumSquaredError, y, t, reduction="sum"), 0.5 * ((y - t) ** 2).sum())
    numpy.testing.assert_allclose(_value(losses.SumSquaredError, y, t), 0.5 * ((y - t) ** 2).sum() / 3)


def test_mse_and_mae_are_means_over_all_elements():
    y, t = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 3))
    numpy.testing.assert_allclose(_value(losses.MSELoss, y, t), numpy.mean((y - t) ** 2))
    numpy.testing.assert_allclose(_value(losses.MAELoss, y, t), numpy.mean(numpy.abs(y - t)))


def test_mse_gradients_for_prediction_and_target():
    y, t = Tensor(RNG.standard_normal((4, 3)), requires_grad=True), Tensor(RNG.standard_normal((4, 3)),
                                                                            requires_grad=True)
    losses.MSELoss()(y, t).backward()
    numpy.testing.assert_allclose(y.grad, 2 * (y.data - t.data) / 12)
    numpy.testing.assert_allclose(t.grad, -2 * (y.data - t.data) / 12)


def test_cross_entropy_on_huge_logits_is_finite_and_exact():
    x = numpy.array([[1000.0, -1000.0, 0.0], [-1000.0, 1000.0, 0.0]])
    labels = numpy.array([0, 0])
    # −ln softmax(x)_0 by hand: row 0 → ln(1 + e^−2000 + e^−1000) = 0; row 1 → 2000 + ln(1 + …) = 2000
    numpy.testing.assert_allclose(_none(losses.CrossEntropyLoss, x, labels), [0.0, 2000.0])
    assert _value(losses.CrossEntropyLoss, x.astype(numpy.float32), labels) == pytest.approx(1000.0)


def test_cross_entropy_labels_equal_one_hot_and_gradient_is_softmax_minus_one_hot_over_n():
    x, labels = RNG.standard_normal((5, 4)), RNG.integers(0, 4, 5)
    one_hot = numpy.eye(4)[labels]
    expected = -numpy.log(_softmax(x)[numpy.arange(5), labels])
    grads = []
    for t in (labels, one_hot):
        y = Tensor(x.copy(), requires_grad=True)
        out = losses.CrossEntropyLoss()(y, t)
        out.backward()
        assert out.numpy() == pytest.approx(expected.mean())
        numpy.testing.assert_allclose(_none(losses.CrossEntropyLoss, x, t), expected)
        grads.append(y.grad)
    for g in grads:
        numpy.testing.assert_allclose(g, (_softmax(x) - one_hot) / 5, atol=1e-15)


def test_cross_entropy_with_soft_targets():
    x, p = RNG.standard_normal((3, 4)), RNG.uniform(0.1, 1, (3, 4))
    t = p / p.sum(axis=1, keepdims=True)
    expected = -(t * numpy.log(_softmax(x))).sum(axis=1)
    numpy.testing.assert_allclose(_none(losses.CrossEntropyLoss, x, t), expected)
    numpy.testing.assert_allclose(_value(losses.CrossEntropyLoss, x, t), expected.mean())


def test_binary_cross_entropy_values_and_clipping():
    y, t = RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(0, 1, (4, 3))
    numpy.testing.assert_allclose(_none(losses.BinaryCrossEntropy, y, t),
                                  -(t * numpy.log(y) + (1 - t) * numpy.log(1 - y)))
    wrong = _none(losses.BinaryCrossEntropy, [0.0, 1.0], [1.0, 0.0])  # confidently wrong: clipped to −ln ε
    numpy.testing.assert_allclose(wrong, [-numpy.log(1e-7)] * 2, rtol=1e-6)
    right = _none(losses.BinaryCrossEntropy, [0.0, 1.0], [0.0, 1.0])
    assert numpy.all(numpy.isfinite(right)) and numpy.all(right < 1e-6)
    y32 = Tensor(numpy.array([0.0, 1.0, 0.5], numpy.float32), requires_grad=True)
    out = losses.BinaryCrossEntropy()(y32, numpy.array([1.0, 0.0, 1.0], numpy.float32))
    out.backward()
    assert numpy.isfinite(out.numpy()) and numpy.all(numpy.isfinite(y32.grad))
    numpy.testing.assert_allclose(y32.grad, [0.0, 0.0, (0.5 - 1) / 0.25 / 3])  # no gradient where clipped


def test_bce_with_logits_equals_bce_of_sigmoid_and_is_finite_for_huge_logits():
    x, t = RNG.uniform(-5, 5, (4, 3)), RNG.uniform(0, 1, (4, 3))
    s = 1 / (1 + numpy.exp(-x))
    numpy.testing.assert_allclose(_none(losses.BCEWithLogitsLoss, x, t),
                                  -(t * numpy.log(s) + (1 - t) * numpy.log(1 - s)))
    numpy.testing.assert_allclose(_none(losses.BCEWithLogitsLoss, [1000.0, -1000.0, 1000.0, -1000.0],
                                        [0.0, 1.0, 1.0, 0.0]), [1000.0, 1000.0, 0.0, 0.0])


def test_logistic_loss_values_and_no_overflow():
    y, t = RNG.uniform(-5, 5, 6), RNG.choice([-1.0, 1.0], 6)
    numpy.testing.assert_allclose(_none(losses.LogisticLoss, y, t), numpy.log1p(numpy.exp(-t * y)))
    numpy.testing.assert_allclose(_none(losses.LogisticLoss, [1000.0, -1000.0, 1000.0], [-1.0, 1.0, 1.0]),
                                  [1000.0, 1000.0, 0.0])
    assert _value(losses.LogisticLoss, numpy.float32([1000.0]), numpy.float32([-1.0])) == pytest.approx(1000.0)


def test_exponential_loss_values():
    y, t = numpy.array([0.0, 1.0, -2.0, 0.5]), numpy.array([1.0, 1.0, 1.0, -1.0])
    numpy.testing.assert_allclose(_none(losses.ExponentialLoss, y, t),
                                  [1.0, numpy.exp(-1), numpy.exp(2), numpy.exp(0.5)])


def _inputs(name):
    """(y, t) suited to the loss registered as ``name``."""
    y = RNG.standard_normal((4, 3))
    if name in ("cross_entropy", "nll"):
        return y, RNG.integers(0, 3, 4)
    if name == "kl_div":
        return y, RNG.uniform(0, 1, (4, 3))
    if name == "binary_cross_entropy":
        return RNG.uniform(0.05, 0.95, (4, 3)), RNG.uniform(0, 1, (4, 3))
    if name == "bce_with_logits":
        return y, RNG.uniform(0, 1, (4, 3))
    if name in ("logistic", "exponential", "hinge"):
        return y, RNG.choice([-1.0, 1.0], (4, 3))
    return y, RNG.standard_normal((4, 3))


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_reductions_are_consistent(name):
    cls = losses.LOSSES[name]
    y, t = _inputs(name)
    none, total, mean = (_value(cls, y, t, reduction=r) for r in ("none", "sum", "mean"))
    per_sample = cls in (losses.SumSquaredError, losses.CrossEntropyLoss, losses.NLLLoss)
    assert none.shape == ((4,) if per_sample else (4, 3))
    assert total.shape == mean.shape == ()
    numpy.testing.assert_allclose(total, none.sum())
    numpy.testing.assert_allclose(mean, none.mean())


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_float32_in_float32_out_even_with_float64_targets(name):
    y, t = _inputs(name)
    y32 = Tensor(y.astype(numpy.float32), requires_grad=True)
    out = losses.get(name)(y32, t)  # t stays float64 (or int64 labels)
    out.backward()
    assert out.dtype == numpy.float32 and y32.grad.dtype == numpy.float32


@pytest.mark.parametrize("name", list(losses.LOSSES))
def test_shape_mismatch_names_the_loss_and_both_shapes(name):
    cls = losses.LOSSES[name]
    with pytest.raises(ValueError) as err:
        cls()(Tensor(numpy.zeros((4, 3))), numpy.zeros((4, 2)))
    assert cls.__name__ in str(err.value) and "(4, 3)" in str(err.value) and "(4, 2)" in str(err.value)


def test_cross_entropy_rejects_float_vector_targets():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss.*\(N,\) \(integer labels\).*dtype float64"):
        losses.CrossEntropyLoss()(Tensor(numpy.zeros((4, 3))), numpy.zeros(4))


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="reduction"):
        losses.MSELoss(reduction="average")
    with pytest.raises(ValueError, match="tau"):
        losses.QuantileLoss(tau=1.5)
    with pytest.raises(ValueError, match="delta"):
        losses.HuberLoss(delta=0)


def test_get_and_registry():
    loss = losses.get("huber", delta=2.0, reduction="sum")
    assert isinstance(loss, losses.HuberLoss) and loss.delta == 2.0 and loss.reduction == "sum"
    assert repr(loss) == "HuberLoss(delta=2.0, reduction='sum')"
    assert losses.get("cross_entropy").reduction == "mean"
    with pytest.raises(ValueError, match="losses.get: name must be one of .*'mse'.*'cross_entropy'.*'hinge'.*got 'nope'"):
        losses.get("nope")


def test_explicit_penalties_match_optimizer_terms():
    import dlcore
    from dlcore import nn, optim

    layer = nn.Linear(3, 2)
    layer.bias.data[...] = numpy.array([0.5, -0.25], numpy.float32)
    w, b = layer.weight.numpy(), layer.bias.numpy()
    l2 = losses.l2_penalty(layer.parameters(), 0.1)
    l1 = losses.l1_penalty(layer.parameters(), 0.01)
    assert l2.item() == pytest.approx(0.05 * ((w ** 2).sum() + (b ** 2).sum()), rel=1e-6)
    assert l1.item() == pytest.approx(0.01 * (numpy.abs(w).sum() + numpy.abs(b).sum()), rel=1e-6)
    (l2 + l1).backward()
    numpy.testing.assert_allclose(layer.weight.grad, 0.1 * w + 0.01 * numpy.sign(w), rtol=1e-6)
    # the same step through the optimizers' weight_decay / l1 terms on a zero loss gradient
    twin = nn.Linear(3, 2)
    twin.load_state_dict(layer.state_dict())
    for p in twin.parameters():
        p.grad = numpy.zeros_like(p.data)
    optim.SGD(twin, lr=1.0, weight_decay=0.1, l1=0.01).step()
    optim.SGD(layer, lr=1.0).step()
    for a, b in zip(layer.parameters(), twin.parameters()):
        numpy.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)
    assert dlcore.Tensor([-2.0]).abs().item() == 2.0


@pytest.mark.parametrize("loss, y, t, message", [
    (losses.CrossEntropyLoss(), numpy.zeros((4, 10)), numpy.array([0, 1, 2, 10]),
     r"CrossEntropyLoss: class labels must lie in \[0, 10\) for logits of shape \(4, 10\), got values from 0 to 10"),
    (losses.CrossEntropyLoss(), numpy.zeros((2, 10)), numpy.array([-1, 3]), r"got values from -1 to 3"),
    (losses.BinaryCrossEntropy(), numpy.array([3.0, -2.0]), numpy.array([1.0, 0.0]),
     r"BinaryCrossEntropy: predictions must be probabilities in \[0, 1\] \(for logits use BCEWithLogitsLoss\), "
     r"got values from -2.0 to 3.0"),
    (losses.BinaryCrossEntropy(), numpy.array([0.5]), numpy.array([2.0]),
     r"targets must lie in \[0, 1\], got values"),
    (losses.BCEWithLogitsLoss(), numpy.array([0.5]), numpy.array([-1.0]), r"BCEWithLogitsLoss: targets must lie in"),
    (losses.HingeLoss(), numpy.zeros(3), numpy.array([0.0, 1.0, 1.0]),
     r"HingeLoss: targets must be −1 or \+1, got values"),
    (losses.LogisticLoss(), numpy.zeros(2), numpy.array([0.0, 1.0]), r"LogisticLoss: targets must be −1 or \+1"),
])
def test_values_that_would_give_a_silently_wrong_loss_are_refused(loss, y, t, message):
    """Labels out of range (−1 would wrap to the last class), logits given as probabilities, and
    {0, 1} targets for a margin loss: each a clear error on the host instead of a wrong number."""
    with pytest.raises(ValueError, match=message):
        loss(Tensor(y), t)


def test_a_target_that_requires_a_gradient_may_take_any_value():
    """Margin-loss formulas hold for real-valued t; only constant targets must be ±1."""
    t = Tensor(numpy.array([0.5, -2.0]), requires_grad=True)
    losses.HingeLoss()(Tensor(numpy.array([0.1, 0.2])), t).backward()
    numpy.testing.assert_allclose(t.grad, -numpy.array([0.1, 0.2]) * (numpy.array([0.05, -0.4]) < 1) / 2)


def test_cross_entropy_body_gives_nan_for_a_label_outside_the_classes_and_reads_no_logit_for_it():
    """The unchecked device path: rows with labels −1 or C get NaN, the other rows their exact loss;
    the gradient subtracts no one-hot in their rows (the CUDA body's rule), reading nothing out of range."""
    from dlcore.ops.loss import _softmax_ce, _softmax_ce_grad

    x = numpy.arange(12, dtype=numpy.float64).reshape(4, 3) / 4
    t = numpy.array([2, -1, 3, 0])
    loss, m, ls = _softmax_ce(numpy, x, t, 3, numpy.empty(4), numpy.empty(4), numpy.empty(4))
    expected_lse = numpy.log(numpy.exp(x).sum(axis=1))
    numpy.testing.assert_array_equal(m, x[:, 2])
    numpy.testing.assert_allclose(m + ls, expected_lse, rtol=1e-15)
    numpy.testing.assert_allclose(loss[[0, 3]], expected_lse[[0, 3]] - x[[0, 3], [2, 0]], rtol=1e-15)
    assert numpy.isnan(loss[[1, 2]]).all()
    grad = _softmax_ce_grad(numpy, x, m, ls, t, numpy.ones(1), 1.0, 3, 0)
    softmax = numpy.exp(x - expected_lse[:, None])
    numpy.testing.assert_allclose(grad, softmax - numpy.eye(3)[[2, 0, 0, 0]] * [[1], [0], [0], [1]], rtol=1e-15)


@pytest.mark.gpu
@pytest.mark.parametrize("fused_kernels", [True, False], ids=["fused", "portable"])
def test_cross_entropy_on_the_gpu_turns_an_out_of_range_label_into_nan(fused_kernels):
    """CuPy has no host check of labels: a label −1 or C makes that sample's loss NaN (caught at log
    time) instead of reading another row's logit; in-range rows still equal the NumPy loss."""
    import backends
    from backends import fused

    y = numpy.random.default_rng(0).standard_normal((4, 5)).astype(numpy.float32)
    good = numpy.array([0, 4, 2, 1])
    expected = losses.CrossEntropyLoss(reduction="none")(Tensor(y), good).numpy()
    cupy = backends.get("cupy")
    with fused.FUSED.scoped(fused_kernels):
        for bad_row, bad_label in ((1, 5), (2, -1)):
            t = good.copy()
            t[bad_row] = bad_label
            got = losses.CrossEntropyLoss(reduction="none")(Tensor(cupy.from_numpy(y)), cupy.from_numpy(t)).numpy()
            assert numpy.isnan(got[bad_row])
            keep = numpy.arange(4) != bad_row
            numpy.testing.assert_allclose(got[keep], expected[keep], rtol=1e-5, atol=1e-6)


def _large_logits(scale):
    """float32 logits of magnitude ``scale`` that differ by O(1) within a row (256 rows, 10 classes)."""
    return (scale + numpy.random.default_rng(0).standard_normal((256, 10))).astype(numpy.float32)


@pytest.mark.parametrize("backend", ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
@pytest.mark.parametrize("scale", [1e4, 100.0])
def test_float32_cross_entropy_with_labels_keeps_its_digits_at_large_logits(backend, scale):
    """Per-row losses and gradients of float32 logits near 1e4 (and 100) equal the float64 values of
    the same numbers to float32 precision, as PyTorch's do: lse − x_t would be off by half an ulp of
    the logits (5e-4 at 1e4, 4e-6 at 100). On cupy: the fused kernels (the host simulation runs their
    CUDA bodies compiled as C++)."""
    import backends

    x = _large_logits(scale)
    t = numpy.random.default_rng(1).integers(0, 10, len(x))
    x64 = x.astype(numpy.float64)
    shifted = x64 - x64.max(axis=1, keepdims=True)
    log_softmax = shifted - numpy.log(numpy.exp(shifted).sum(axis=1, keepdims=True))
    rows = numpy.arange(len(x))
    expected_grad = numpy.exp(log_softmax)
    expected_grad[rows, t] -= 1
    xb = Tensor(backends.to_device(x, backend), requires_grad=True)
    loss = losses.CrossEntropyLoss(reduction="none")(xb, backends.to_device(t, backend))
    loss.backward(backends.to_device(numpy.ones(len(x), numpy.float32), backend))
    numpy.testing.assert_allclose(loss.numpy(), -log_softmax[rows, t], rtol=5e-7, atol=5e-7)
    numpy.testing.assert_allclose(backends.to_numpy(xb.grad), expected_grad, rtol=0, atol=3e-7)


@pytest.mark.parametrize("scale", [1e4, 100.0])
def test_float32_bce_with_logits_keeps_its_digits_at_large_logits(scale):
    """Soft targets near the logit's side (0.999 for x > 0, 0.001 for x < 0) make the loss small next to
    |x|: computed as a sum of non-negative terms it keeps float32 precision (max(x, 0) − x·t lost 4e-5)."""
    x = _large_logits(scale) * numpy.where(numpy.random.default_rng(2).random((256, 10)) < 0.5, 1, -1)
    x = x.astype(numpy.float32)
    t = numpy.where(x > 0, 0.999, 0.001).astype(numpy.float32)
    x64, t64 = x.astype(numpy.float64), t.astype(numpy.float64)
    expected = (1 - t64) * numpy.maximum(x64, 0) + t64 * numpy.maximum(-x64, 0) + numpy.log1p(numpy.exp(-abs(x64)))
    xb = Tensor(x, requires_grad=True)
    loss = losses.BCEWithLogitsLoss(reduction="none")(xb, t)
    loss.backward(numpy.ones_like(x))
    numpy.testing.assert_allclose(loss.numpy(), expected, rtol=1e-6)
    numpy.testing.assert_allclose(xb.grad, numpy.exp(-numpy.logaddexp(0, -x64)) - t64, rtol=0, atol=1e-7)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse_loss", "bce_with_logits"])
def test_the_functional_losses_refuse_integer_predictions_too(loss):
    """Integer logits gave cross-entropy 0.0 (a silently wrong loss); the check is in the Function itself."""
    import dlcore.functional as F

    y = numpy.array([[3, 1], [0, 2]])
    t = numpy.array([0, 1]) if loss == "cross_entropy" else numpy.zeros((2, 2), numpy.float32)
    with pytest.raises(TypeError, match=r"the prediction y has dtype int64, but losses take floating predictions"):
        getattr(F, loss)(Tensor(y), t)
