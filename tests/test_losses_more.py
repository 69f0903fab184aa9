"""Cross-entropy's class weights, ignore_index, label smoothing and (N, C, H, W) logits; NLLLoss; KLDivLoss.

Values against a direct NumPy reading of PyTorch's definitions (torch.nn.CrossEntropyLoss, NLLLoss,
KLDivLoss docs: a weighted mean divides by the summed weights of the non-ignored targets; label
smoothing mixes the one-hot target with the uniform distribution) and hand-computed numbers; against
PyTorch itself where it imports (not in CI: those tests skip). Gradients: tests/cases/loss_cases.py.
"""
import numpy
import pytest

import dlcore
from dlcore import Tensor, losses

RNG = numpy.random.default_rng(3)


def _log_softmax(x, axis=1):
    m = x.max(axis=axis, keepdims=True)
    return x - m - numpy.log(numpy.exp(x - m).sum(axis=axis, keepdims=True))


def reference_cross_entropy(x, t, weight=None, ignore_index=-100, smoothing=0.0, reduction="mean"):
    """PyTorch's cross_entropy with class-index targets, element by element, for (N, C, d…) logits."""
    C = x.shape[1]
    logp = numpy.moveaxis(_log_softmax(x), 1, -1).reshape(-1, C)
    w = numpy.ones(C) if weight is None else numpy.asarray(weight, float)
    losses_, omegas = [], []
    for row, label in zip(logp, t.reshape(-1)):
        if label == ignore_index:
            losses_.append(0.0), omegas.append(0.0)
            continue
        nll = -w[label] * row[label]
        smooth = -(w * row).sum()
        losses_.append((1 - smoothing) * nll + smoothing / C * smooth), omegas.append(w[label])
    losses_ = numpy.array(losses_)
    if reduction == "none":
        return losses_.reshape(t.shape)
    return losses_.sum() if reduction == "sum" else losses_.sum() / sum(omegas)


def _ce(x, t, **kw):
    return losses.CrossEntropyLoss(**kw)(Tensor(x), t).numpy()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(6, 4), (2, 4, 3, 2)])
@pytest.mark.parametrize("smoothing", [0.0, 0.25])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_pytorchs_definition(reduction, shape, smoothing, weighted):
    x = RNG.standard_normal(shape) * 2
    t = RNG.integers(0, shape[1], shape[:1] + shape[2:])
    t.reshape(-1)[[0, 3]] = -100
    weight = numpy.array([0.5, 2.0, 1.0, 3.0]) if weighted else None
    got = _ce(x, t, weight=weight, label_smoothing=smoothing, reduction=reduction)
    numpy.testing.assert_allclose(got, reference_cross_entropy(x, t, weight, -100, smoothing, reduction), rtol=1e-12)


def test_weighted_mean_divides_by_the_weights_of_the_targets():
    x = numpy.zeros((3, 2))  # every sample's loss is ln 2
    got = _ce(x, numpy.array([0, 1, 1]), weight=numpy.array([1.0, 3.0]))
    assert got == pytest.approx((1 + 3 + 3) * numpy.log(2) / (1 + 3 + 3))
    got = _ce(numpy.array([[0.0, 0.0], [5.0, 0.0]]), numpy.array([0, 1]), weight=numpy.array([1.0, 3.0]))
    assert got == pytest.approx((numpy.log(2) + 3 * (5 + numpy.log1p(numpy.exp(-5)))) / 4)


def test_ignore_index_drops_the_sample_from_loss_gradient_and_count():
    x = Tensor(RNG.standard_normal((3, 4)), requires_grad=True)
    loss = losses.CrossEntropyLoss(ignore_index=7)(x, numpy.array([1, 7, 2]))
    loss.backward()
    alone = Tensor(x.data[[0, 2]], requires_grad=True)
    twin = losses.CrossEntropyLoss()(alone, numpy.array([1, 2]))
    twin.backward()
    assert loss.item() == pytest.approx(twin.item())
    numpy.testing.assert_allclose(x.grad[[0, 2]], alone.grad)
    numpy.testing.assert_array_equal(x.grad[1], 0)


@pytest.mark.filterwarnings("ignore:.*encountered:RuntimeWarning")
def test_all_targets_ignored_is_nan_for_the_mean_as_in_pytorch():
    assert numpy.isnan(_ce(numpy.zeros((2, 3)), numpy.array([-100, -100])))
    assert _ce(numpy.zeros((2, 3)), numpy.array([-100, -100]), reduction="sum") == 0


def test_label_smoothing_of_labels_equals_smoothed_one_hot_rows():
    x, t, eps = RNG.standard_normal((5, 3)), RNG.integers(0, 3, 5), 0.3
    smoothed = (1 - eps) * numpy.eye(3)[t] + eps / 3
    numpy.testing.assert_allclose(_ce(x, t, label_smoothing=eps), _ce(x, smoothed), rtol=1e-12)
    numpy.testing.assert_allclose(_ce(x, numpy.eye(3)[t], label_smoothing=eps), _ce(x, smoothed), rtol=1e-12)


def test_segmentation_logits_equal_the_per_pixel_rows():
    x = RNG.standard_normal((2, 3, 4, 5))
    t = RNG.integers(0, 3, (2, 4, 5))
    rows = numpy.moveaxis(x, 1, -1).reshape(-1, 3)
    per_pixel = _ce(x, t, reduction="none")
    assert per_pixel.shape == (2, 4, 5)
    numpy.testing.assert_allclose(per_pixel.reshape(-1), _ce(rows, t.reshape(-1), reduction="none"), rtol=1e-12)
    soft = numpy.moveaxis(numpy.eye(3)[t], -1, 1)
    numpy.testing.assert_allclose(_ce(x, soft), _ce(x, t), rtol=1e-12)


def test_bad_class_settings_are_clear_errors():
    with pytest.raises(ValueError, match=r"CrossEntropyLoss: weight has 2 entries for logits of shape \(4, 3\)"):
        losses.CrossEntropyLoss(weight=[1.0, 2.0])(Tensor(numpy.zeros((4, 3))), numpy.zeros(4, int))
    with pytest.raises(ValueError, match="label_smoothing"):
        losses.CrossEntropyLoss(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"weight must be one number per class"):
        losses.NLLLoss(weight=numpy.ones((2, 2)))
    with pytest.raises(ValueError, match=r"NLLLoss: needs log-probabilities of shape \(N, C\)"):
        losses.NLLLoss()(Tensor(numpy.zeros((4, 3))), numpy.zeros((4, 3)))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_of_log_softmax_is_cross_entropy(reduction):
    x = RNG.standard_normal((2, 4, 3))
    t = RNG.integers(0, 4, (2, 3))
    t[1, 2] = -100
    w = numpy.array([1.0, 2.0, 0.5, 1.5])
    nll = losses.NLLLoss(weight=w, reduction=reduction)(Tensor(_log_softmax(x)), t).numpy()
    numpy.testing.assert_allclose(nll, _ce(x, t, weight=w, reduction=reduction), rtol=1e-12)


def test_nll_values_and_gradient():
    logp = Tensor(numpy.log(numpy.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])), requires_grad=True)
    loss = losses.NLLLoss(weight=numpy.array([2.0, 1.0]), ignore_index=1)(logp, numpy.array([0, 1, 0]))
    loss.backward()
    assert loss.item() == pytest.approx(-(2 * numpy.log(0.5) + 2 * numpy.log(0.9)) / 4)
    numpy.testing.assert_allclose(logp.grad, [[-0.5, 0], [0, 0], [-0.5, 0]])


def test_kl_div_values_and_reductions():
    q, p = numpy.array([[0.5, 0.5], [0.9, 0.1]]), numpy.array([[0.5, 0.5], [0.0, 1.0]])
    log_q = Tensor(numpy.log(q), requires_grad=True)
    elementwise = [[0, 0], [0, numpy.log(1 / 0.1)]]  # p = 0 contributes 0
    numpy.testing.assert_allclose(losses.KLDivLoss(reduction="none")(log_q, p).numpy(), elementwise, atol=1e-15)
    assert losses.KLDivLoss(reduction="sum")(log_q, p).item() == pytest.approx(numpy.log(10))
    assert losses.KLDivLoss()(log_q, p).item() == pytest.approx(numpy.log(10) / 4)
    loss = losses.KLDivLoss(reduction="batchmean")(log_q, p)
    assert loss.item() == pytest.approx(numpy.log(10) / 2)
    loss.backward()
    numpy.testing.assert_allclose(log_q.grad, -p / 2)
    with_logs = losses.KLDivLoss(reduction="batchmean", log_target=True)(log_q, numpy.log(numpy.array([[0.5, 0.5],
                                                                                                    [0.3, 0.7]])))
    assert with_logs.item() == pytest.approx((0.3 * numpy.log(0.3 / 0.9) + 0.7 * numpy.log(0.7 / 0.1)) / 2)


def test_kl_div_refuses_negative_constant_targets():
    with pytest.raises(ValueError, match=r"KLDivLoss: targets must be probabilities ≥ 0 \(for log-probabilities"):
        losses.KLDivLoss()(Tensor(numpy.zeros(2)), numpy.array([-0.5, 0.5]))


def test_new_losses_are_registered():
    assert type(losses.get("nll")) is losses.NLLLoss and type(losses.get("kl_div")) is losses.KLDivLoss
    assert losses.get("kl_div", reduction="batchmean").reduction == "batchmean"


def test_float32_weighted_cross_entropy_stays_float32():
    x = Tensor(RNG.standard_normal((4, 3)).astype(numpy.float32), requires_grad=True)
    labels = numpy.array([0, 1, 2, 1])
    loss = losses.CrossEntropyLoss(weight=numpy.array([1.0, 2.0, 3.0]), label_smoothing=0.1)(x, labels)
    loss.backward()
    assert loss.dtype == numpy.float32 and x.grad.dtype == numpy.float32


class TestAgainstPyTorch:
    @pytest.fixture(autouse=True)
    def _torch(self):
        self.torch = pytest.importorskip("torch")

    @pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
    def test_cross_entropy(self, reduction):
        torch = self.torch
        x, t = RNG.standard_normal((2, 4, 3, 3)), RNG.integers(0, 4, (2, 3, 3))
        t[0, 0, 0] = -100
        w = numpy.array([0.5, 2.0, 1.0, 3.0])
        xt = torch.tensor(x, requires_grad=True)
        theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.2, reduction=reduction)(
            xt, torch.tensor(t))
        theirs.backward(torch.ones_like(theirs))
        ours_x = Tensor(x, requires_grad=True)
        ours = losses.CrossEntropyLoss(weight=w, label_smoothing=0.2, reduction=reduction)(ours_x, t)
        ours.backward(numpy.ones(ours.shape))
        numpy.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10)
        numpy.testing.assert_allclose(ours_x.grad, xt.grad.numpy(), rtol=1e-10, atol=1e-14)

    def test_nll_and_kl_div(self):
        torch = self.torch
        logp, t = _log_softmax(RNG.standard_normal((5, 3))), RNG.integers(0, 3, 5)
        w = numpy.array([1.0, 2.0, 0.5])
        theirs = torch.nn.NLLLoss(weight=torch.tensor(w))(torch.tensor(logp), torch.tensor(t)).item()
        assert losses.NLLLoss(weight=w)(Tensor(logp), t).item() == pytest.approx(theirs, rel=1e-12)
        p = numpy.exp(_log_softmax(RNG.standard_normal((5, 3))))
        theirs = torch.nn.KLDivLoss(reduction="batchmean")(torch.tensor(logp), torch.tensor(p)).item()
        assert losses.KLDivLoss(reduction="batchmean")(Tensor(logp), p).item() == pytest.approx(theirs, rel=1e-12)


@pytest.mark.gpu
def test_nll_labels_outside_the_classes_are_nan_on_the_unchecked_device_path():
    """On the device labels are not checked (a check would wait for it): a label outside [0, C) gives its row
    NaN and no gradient, as cross-entropy's kernel does; on the host it is an error."""
    import backends

    logp = _log_softmax(RNG.standard_normal((3, 4)))
    x = Tensor(backends.to_device(logp, "cupy"), requires_grad=True)
    loss = losses.NLLLoss(reduction="none")(x, backends.to_device(numpy.array([1, 7, -100]), "cupy"))
    loss.backward(backends.to_device(numpy.ones(3), "cupy"))
    values, gx = backends.to_numpy(loss.data), backends.to_numpy(x.grad)
    assert values[0] == pytest.approx(-logp[0, 1]) and numpy.isnan(values[1]) and values[2] == 0
    numpy.testing.assert_array_equal(gx[1:], 0)
    assert gx[0, 1] == -1
    with pytest.raises(ValueError, match=r"NLLLoss: class labels must lie in \[0, 4\) for log-probabilities"):
        losses.NLLLoss()(Tensor(logp), numpy.array([1, 7, 0]))
