"""The metrics of issue #23: weighted and per-class averages, balanced and top-k accuracy, ROC-AUC,
against hand-computed values and closed forms on each backend (and scikit-learn where it imports)."""
import itertools

import numpy
import pytest

import backends
from dlcore import Tensor, metrics

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]

# 3 classes: M = [[2,1,0],[0,0,2],[0,0,1]]; TP = [2,0,1], FP = [0,1,2], FN = [1,2,0], support = [3,2,1]
TRUE3 = [0, 0, 0, 1, 1, 2]
PRED3 = [0, 0, 1, 2, 2, 2]
PRECISION3 = [1.0, 0.0, 1 / 3]
RECALL3 = [2 / 3, 0.0, 1.0]
F1_3 = [4 / 5, 0.0, 2 / 4]


def on(backend, *arrays):
    return [backends.to_device(numpy.asarray(a), backend) for a in arrays]


@pytest.mark.parametrize("backend", BACKENDS)
def test_per_class_scores(backend):
    t, p = on(backend, TRUE3, PRED3)
    for fn, expected in ((metrics.precision, PRECISION3), (metrics.recall, RECALL3), (metrics.f1_score, F1_3)):
        scores = fn(t, p, average=None)
        assert isinstance(scores, numpy.ndarray) and scores.dtype == numpy.float64
        numpy.testing.assert_allclose(scores, expected, rtol=1e-12)
        # index = class: a class absent from both gets 0.0 at its place
        numpy.testing.assert_allclose(fn(t, p, average=None, num_classes=5), [*expected, 0.0, 0.0], rtol=1e-12)
        # the macro mean is the mean of the per-class scores (over the present classes)
        assert fn(t, p, average="macro") == pytest.approx(numpy.mean(expected))


@pytest.mark.parametrize("backend", BACKENDS)
def test_weighted_average_weighs_by_support(backend):
    t, p = on(backend, TRUE3, PRED3)
    support = numpy.array([3, 2, 1])
    for fn, expected in ((metrics.precision, PRECISION3), (metrics.recall, RECALL3), (metrics.f1_score, F1_3)):
        value = fn(t, p, average="weighted")
        assert type(value) is float
        assert value == pytest.approx(float(support @ expected) / 6)
    # weighted recall is Σ n_c·TP_c/n_c / N = Σ TP_c / N = accuracy
    assert metrics.recall(t, p, average="weighted") == pytest.approx(metrics.accuracy(t, p))
    # a class predicted but never true has support 0: it weighs nothing (macro counts it)
    t2, p2 = on(backend, [0, 0, 1, 1], [0, 2, 1, 1])
    assert metrics.precision(t2, p2, average="weighted") == pytest.approx((2 * 1.0 + 2 * 1.0 + 0 * 0.0) / 4)
    assert metrics.precision(t2, p2, average="macro") == pytest.approx((1.0 + 1.0 + 0.0) / 3)


def test_binary_error_names_the_other_averages():
    with pytest.raises(ValueError, match=r"average='binary' needs two classes.*'macro', 'weighted', 'micro' or None"):
        metrics.recall(TRUE3, PRED3)
    with pytest.raises(TypeError, match=r"average must be one of .* or None, got 3"):
        metrics.recall(TRUE3, PRED3, average=3)


@pytest.mark.parametrize("backend", BACKENDS)
def test_balanced_accuracy(backend):
    t, p = on(backend, TRUE3, PRED3)
    assert metrics.balanced_accuracy(t, p) == pytest.approx(numpy.mean(RECALL3))
    # a majority-class guess: accuracy 0.9, balanced accuracy 1/2
    t, p = on(backend, [0] * 9 + [1], [0] * 10)
    assert metrics.accuracy(t, p) == pytest.approx(0.9)
    assert metrics.balanced_accuracy(t, p) == pytest.approx(0.5)
    # classes only predicted (never true) do not enter the mean; scores (N, C) give labels by argmax
    scores = numpy.eye(4)[[0, 3, 1, 1]]
    t, s = on(backend, [0, 0, 1, 1], scores)
    assert metrics.balanced_accuracy(t, s) == pytest.approx((1 / 2 + 2 / 2) / 2)
    assert type(metrics.balanced_accuracy(t, s)) is float


@pytest.mark.parametrize("backend", BACKENDS)
def test_top_k_accuracy(backend):
    scores = numpy.array([[0.5, 0.3, 0.2],    # true 1: 2nd
                          [0.1, 0.3, 0.6],    # true 1: 2nd
                          [0.2, 0.5, 0.3],    # true 0: 3rd
                          [0.7, 0.2, 0.1]])   # true 0: 1st
    t, s = on(backend, [1, 1, 0, 0], scores)
    assert metrics.top_k_accuracy(t, s, k=1) == pytest.approx(1 / 4)
    assert metrics.top_k_accuracy(t, s, k=2) == pytest.approx(3 / 4)
    assert metrics.top_k_accuracy(t, s, k=3) == 1.0
    assert metrics.top_k_accuracy(t, s, k=10) == 1.0
    assert metrics.top_k_accuracy(t, s, k=1) == metrics.accuracy(t, s)
    # ties with the true class's score count for it: every class tied, k = 1 is right everywhere
    t, s = on(backend, [0, 1, 2], numpy.zeros((3, 3), numpy.float32))
    assert metrics.top_k_accuracy(Tensor(t), Tensor(s), k=1) == 1.0


def test_top_k_accuracy_matches_a_sort_on_random_scores():
    rng = numpy.random.default_rng(0)
    scores, labels = rng.standard_normal((200, 7)), rng.integers(0, 7, 200)
    order = numpy.argsort(-scores, axis=1)
    for k in (1, 2, 5):
        expected = numpy.mean([labels[i] in order[i, :k] for i in range(200)])
        assert metrics.top_k_accuracy(labels, scores, k=k) == pytest.approx(expected)


def test_top_k_accuracy_errors():
    with pytest.raises(ValueError, match=r"metrics.top_k_accuracy: k must be an int ≥ 1, got 0"):
        metrics.top_k_accuracy([0], [[1.0, 0.0]], k=0)
    with pytest.raises(ValueError, match=r"y_score must be scores of shape \(N, C\), got shape \(2,\)"):
        metrics.top_k_accuracy([0, 1], [0.2, 0.8])
    with pytest.raises(ValueError, match=r"labels span 0..2, outside the 2 score columns"):
        metrics.top_k_accuracy([0, 2], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"y_true has 3 samples but y_score has 2"):
        metrics.top_k_accuracy([0, 1, 1], [[1.0, 0.0], [0.0, 1.0]])


def _pairwise_auc(labels, scores):
    """P(s⁺ > s⁻) + ½ P(s⁺ = s⁻) by enumerating every (positive, negative) pair: the definition."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = sum((a > b) + 0.5 * (a == b) for a, b in itertools.product(pos, neg))
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("backend", BACKENDS)
def test_roc_auc_hand_computed(backend):
    t, s = on(backend, [0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    assert metrics.roc_auc(t, s) == pytest.approx(0.75)
    t, s = on(backend, [0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4])
    assert metrics.roc_auc(t, s) == 1.0
    assert metrics.roc_auc(t, -s) == 0.0
    # ties across the classes count one half: the pairs (0.5, 0.5) twice out of 4
    t, s = on(backend, [0, 1, 0, 1], [0.5, 0.5, 0.2, 0.9])
    assert metrics.roc_auc(t, s) == pytest.approx((1 + 0.5 + 1 + 1) / 4)
    t, s = on(backend, [0, 1, 1], numpy.zeros((3, 1), numpy.float32))
    assert metrics.roc_auc(t, s) == 0.5


@pytest.mark.parametrize("backend", BACKENDS)
def test_roc_auc_equals_the_pairwise_definition(backend):
    rng = numpy.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = numpy.round(rng.standard_normal(300) + labels, 1)  # rounded: many ties, within and across classes
    t, s = on(backend, labels, scores)
    assert metrics.roc_auc(t, s) == pytest.approx(_pairwise_auc(labels, scores), rel=1e-12)
    # bool labels and a monotone transform of the scores give the same area
    t, s = on(backend, labels.astype(bool), 1 / (1 + numpy.exp(-scores)))
    assert metrics.roc_auc(t, s) == pytest.approx(_pairwise_auc(labels, scores), rel=1e-12)


def test_roc_auc_errors():
    with pytest.raises(ValueError, match=r"y_true holds only class 1; the ROC curve needs positive and negative"):
        metrics.roc_auc([1, 1], [0.2, 0.3])
    with pytest.raises(ValueError, match=r"binary labels 0 and 1; 1 are neither"):
        metrics.roc_auc([0, 1, 2], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match=r"one score per sample.*logits\[:, 1\] − logits\[:, 0\]"):
        metrics.roc_auc([0, 1], [[0.2, 0.8], [0.6, 0.4]])
    with pytest.raises(ValueError, match=r"y_true has 2 samples but y_score has 3"):
        metrics.roc_auc([0, 1], [0.2, 0.3, 0.4])
    with pytest.raises(ValueError, match=r"no samples"):
        metrics.roc_auc(numpy.zeros(0, int), numpy.zeros(0))


def test_against_scikit_learn():
    sk = pytest.importorskip("sklearn.metrics")
    rng = numpy.random.default_rng(1)
    labels, scores = rng.integers(0, 4, 500), rng.standard_normal((500, 4))
    predicted = scores.argmax(axis=1)
    for ours, theirs in ((metrics.precision, sk.precision_score), (metrics.recall, sk.recall_score),
                         (metrics.f1_score, sk.f1_score)):
        for average in ("weighted", None):
            numpy.testing.assert_allclose(ours(labels, predicted, average=average),
                                          theirs(labels, predicted, average=average), rtol=1e-12)
    assert metrics.balanced_accuracy(labels, predicted) == pytest.approx(sk.balanced_accuracy_score(labels, predicted))
    for k in (1, 2, 3):
        assert metrics.top_k_accuracy(labels, scores, k=k) == pytest.approx(
            sk.top_k_accuracy_score(labels, scores, k=k))
    binary = (labels > 1).astype(int)
    margin = numpy.round(scores[:, 0] + binary, 1)
    assert metrics.roc_auc(binary, margin) == pytest.approx(sk.roc_auc_score(binary, margin))


def test_docstring_examples():
    import doctest

    result = doctest.testmod(metrics, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 7 and result.failed == 0
