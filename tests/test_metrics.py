"""Metrics against hand-computed confusion matrices and closed forms, on each backend."""
import numpy
import pytest

import backends
from dlcore import Tensor, metrics

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]

# 3 classes: M = [[2,1,0],[0,0,2],[0,0,1]]; TP = [2,0,1], FP = [0,1,2], FN = [1,2,0]
TRUE3 = [0, 0, 0, 1, 1, 2]
PRED3 = [0, 0, 1, 2, 2, 2]
# binary: TP = 2, FP = 1, FN = 2, TN = 3
TRUE2 = [1, 1, 1, 0, 0, 0, 0, 1]
PRED2 = [1, 0, 1, 1, 0, 0, 0, 0]


def on(backend, *arrays):
    return [backends.to_device(numpy.asarray(a), backend) for a in arrays]


@pytest.mark.parametrize("backend", BACKENDS)
def test_confusion_matrix_and_accuracy(backend):
    t, p = on(backend, TRUE3, PRED3)
    m = metrics.confusion_matrix(t, p)
    assert isinstance(m, numpy.ndarray) and m.dtype == numpy.int64
    numpy.testing.assert_array_equal(m, [[2, 1, 0], [0, 0, 2], [0, 0, 1]])
    numpy.testing.assert_array_equal(metrics.confusion_matrix(t, p, num_classes=4)[:3, :3], m)
    assert metrics.confusion_matrix(t, p, num_classes=4)[3].sum() == 0
    a = metrics.accuracy(t, p)
    assert type(a) is float and a == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_binary_precision_recall_f1(backend):
    t, p = on(backend, TRUE2, PRED2)
    assert metrics.precision(t, p) == pytest.approx(2 / 3)
    assert metrics.recall(t, p) == pytest.approx(2 / 4)
    assert metrics.f1_score(t, p) == pytest.approx(2 * 2 / (2 * 2 + 1 + 2))  # = 2PR/(P+R) = 4/7
    # class 0 as the positive one: TP = 3, FP = 2, FN = 1
    assert metrics.precision(t, p, pos_label=0) == pytest.approx(3 / 5)
    assert metrics.recall(t, p, pos_label=0) == pytest.approx(3 / 4)
    assert metrics.f1_score(t, p, pos_label=0) == pytest.approx(2 / 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_macro_and_micro_averages(backend):
    t, p = on(backend, TRUE3, PRED3)
    assert metrics.precision(t, p, average="macro") == pytest.approx((1 + 0 + 1 / 3) / 3)
    assert metrics.recall(t, p, average="macro") == pytest.approx((2 / 3 + 0 + 1) / 3)
    assert metrics.f1_score(t, p, average="macro") == pytest.approx((4 / 5 + 0 + 2 / 4) / 3)
    for fn in (metrics.precision, metrics.recall, metrics.f1_score):  # single-label: micro = accuracy
        assert fn(t, p, average="micro") == pytest.approx(0.5)
        # a class absent from both y_true and y_pred does not count in the macro mean
        assert fn(t, p, average="macro", num_classes=5) == fn(t, p, average="macro")


def test_zero_division_gives_zero():
    assert metrics.precision([1, 1, 0], [0, 0, 0]) == 0.0  # nothing predicted positive
    assert metrics.recall([0, 0, 0], [1, 0, 0]) == 0.0     # no true positive exists
    assert metrics.f1_score([0, 0, 0], [0, 0, 0]) == 0.0
    assert metrics.precision([0, 1, 1], [1, 1, 1]) == pytest.approx(2 / 3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_scores_tensors_and_one_hot_inputs(backend):
    scores = numpy.eye(3)[PRED3] * 2.0 - 0.5  # argmax = PRED3
    one_hot = numpy.eye(3, dtype=numpy.float32)[TRUE3]
    t, s, oh = on(backend, TRUE3, scores, one_hot)
    assert metrics.accuracy(t, s) == 0.5
    assert metrics.accuracy(Tensor(oh), Tensor(s)) == 0.5
    col = on(backend, numpy.asarray(TRUE3, dtype=numpy.float32)[:, None])[0]
    assert metrics.accuracy(col, s) == 0.5  # (N, 1) float labels holding whole numbers
    numpy.testing.assert_array_equal(metrics.confusion_matrix(oh, s), metrics.confusion_matrix(TRUE3, PRED3))


def test_bad_classification_inputs():
    with pytest.raises(ValueError, match="non-integer floats.*p > 0.5"):
        metrics.accuracy([0, 1], numpy.array([0.2, 0.9]))
    with pytest.raises(ValueError, match="y_true has 3 samples but y_pred has 2"):
        metrics.accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match=r"average='binary' needs two classes.*'macro'"):
        metrics.precision(TRUE3, PRED3)
    with pytest.raises(ValueError, match=r"labels span 0..2, outside 0..1"):
        metrics.confusion_matrix(TRUE3, PRED3, num_classes=2)
    with pytest.raises(ValueError, match=r"labels span -1..1"):
        metrics.confusion_matrix([0, 1], [-1, 1])
    with pytest.raises(ValueError, match=r"average must be one of 'binary', 'macro', 'micro', 'weighted' or None, "
                                         r"got 'mean'"):
        metrics.f1_score(TRUE2, PRED2, average="mean")


# ---- regression ----------------------------------------------------------------------------
Y = [1.0, 2.0, 3.0, 4.0]
P = [1.5, 2.0, 2.0, 5.0]  # residuals −0.5, 0, 1, −1


@pytest.mark.parametrize("backend", BACKENDS)
def test_regression_closed_forms(backend):
    y, p = on(backend, numpy.float32(Y), numpy.float32(P))
    assert metrics.mse(y, p) == pytest.approx(2.25 / 4)
    assert metrics.rmse(y, p) == pytest.approx(0.75)
    assert metrics.mae(y, p) == pytest.approx(2.5 / 4)
    # R² = 1 − SS_res/SS_tot with ȳ = 2.5 (target mean): 1 − 2.25/5;
    # the mean of the predictions (2.625) would give 1 − 2.25/5.0625
    assert metrics.r2_score(y, p) == pytest.approx(0.55)
    assert metrics.r2_score(y, y) == 1.0
    assert metrics.r2_score(y, on(backend, numpy.full(4, 2.5))[0]) == pytest.approx(0.0)
    assert all(type(f(y, p)) is float for f in (metrics.mse, metrics.rmse, metrics.mae, metrics.r2_score))


def test_regression_shapes_and_constant_targets():
    y, p = numpy.array(Y), numpy.array(P)
    assert metrics.mse(y[:, None], p) == metrics.mse(y, p)  # (N, 1) and (N,) interchangeable
    assert metrics.r2_score(Tensor(y[:, None]), p) == pytest.approx(0.55)
    assert metrics.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0  # SS_tot = 0
    assert metrics.r2_score([2.0, 2.0], [2.0, 3.0]) == 0.0
    two = numpy.stack([y, 2 * y], axis=1)  # per output, then averaged
    assert metrics.r2_score(two, numpy.stack([p, 2 * y], axis=1)) == pytest.approx((0.55 + 1.0) / 2)
    with pytest.raises(ValueError, match=r"y_true of shape \(4, 2\) and y_pred of shape \(4,\) differ"):
        metrics.mse(two, p)


@pytest.mark.gpu
def test_metrics_refuse_mixed_devices():
    with pytest.raises(backends.DeviceMismatchError):
        metrics.accuracy(numpy.asarray(TRUE3), backends.to_device(numpy.asarray(PRED3), "cupy"))
