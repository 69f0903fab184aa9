"""Metrics of classification and regression (``dlcore.metrics``).

Inputs are NumPy or CuPy arrays, Tensors or lists; both arguments must live on the same
device. The work is done with that device's ``xp`` and only the result comes to the host:
every metric returns a Python float, ``confusion_matrix`` a NumPy int64 array.

Classification inputs are class labels 0 … k−1 of shape (N,) (or (N, 1)), or scores of
shape (N, C) (logits, probabilities or one-hot rows), which are turned into labels by
argmax over axis 1. Float labels must hold whole numbers; threshold probabilities of a
binary model yourself, e.g. ``(p > 0.5)``.

With the confusion matrix M (rows true class, columns predicted class), per class c:
TP_c = M[c, c], FP_c = Σ_r M[r, c] − TP_c, FN_c = Σ_k M[c, k] − TP_c, and

    precision_c = TP_c / (TP_c + FP_c)    recall_c = TP_c / (TP_c + FN_c)
    F1_c = 2·precision_c·recall_c / (precision_c + recall_c) = 2·TP_c / (2·TP_c + FP_c + FN_c)

A ratio whose denominator is 0 (no sample predicted as c, none truly c) is 0.0.
``average`` picks how classes combine: "binary" scores class ``pos_label`` alone (labels
must be at most 2 classes); "macro" is the unweighted mean over the classes present in
y_true or y_pred; "weighted" is the mean weighted by each class's support (its number of
true samples, n_c): Σ_c n_c·score_c / N; "micro" sums TP, FP and FN over all classes first,
which for single-label data makes precision = recall = F1 = accuracy; None gives no mean but
the score of every class 0 … k−1 as a NumPy float64 array (index = class).

Beyond these: ``balanced_accuracy`` (the macro mean of recall over the true classes),
``top_k_accuracy`` (from (N, C) scores) and ``roc_auc`` (binary labels and one score per sample).
"""
from __future__ import annotations

import numpy

import backends
from dlcore import checks
from dlcore.checks import ArgumentTypeError, ArgumentValueError
from dlcore.core import Tensor

__all__ = ["accuracy", "precision", "recall", "f1_score", "confusion_matrix", "balanced_accuracy", "top_k_accuracy",
           "roc_auc", "mse", "rmse", "mae", "r2_score", "mean_iou"]


def _arrays(y_true, y_pred, op: str):
    """(xp, a, b): the raw arrays of Tensors/lists/arrays, both on the same device and numeric."""
    a, b = (v.data if isinstance(v, Tensor) else v for v in (y_true, y_pred))
    a, b = (numpy.asarray(v) if isinstance(v, (list, tuple, int, float)) else v for v in (a, b))
    for name, v in (("y_true", a), ("y_pred", b)):
        kind = getattr(getattr(v, "dtype", None), "kind", None)
        if kind is None or kind not in checks.NUMERIC_KINDS:
            what = f"an array of dtype {v.dtype}" if kind else type(v).__name__
            raise ArgumentTypeError(f"metrics.{op}: {name} must be numbers (an array, Tensor or list), got {what}")
    return backends.backend_for((a, b), op=f"metrics.{op}").xp, a, b


def _labels(xp, a, which: str, op: str):
    """Class labels (N,) int64 from labels (N,)/(N, 1) or scores (N, C ≥ 2) (argmax)."""
    if a.ndim == 2 and a.shape[1] > 1:
        return xp.argmax(a, axis=1)
    if a.ndim > 2 or (a.ndim == 2 and a.shape[1] != 1):
        raise ArgumentValueError(f"metrics.{op}: {which} of shape {a.shape}; expected labels (N,) or scores (N, C)")
    a = a.reshape(-1)
    if a.dtype.kind == "f" and not bool(xp.all(a == xp.floor(a))):
        raise ArgumentValueError(f"metrics.{op}: {which} holds non-integer floats; pass class labels, (N, C) scores, "
                                 f"or threshold probabilities yourself, e.g. (p > 0.5)")
    return a.astype(xp.int64)


def _class_pair(y_true, y_pred, op: str):
    xp, a, b = _arrays(y_true, y_pred, op)
    t, p = _labels(xp, a, "y_true", op), _labels(xp, b, "y_pred", op)
    if t.shape != p.shape:
        raise ArgumentValueError(f"metrics.{op}: y_true has {t.shape[0]} samples but y_pred has {p.shape[0]}")
    if t.size == 0:
        raise ArgumentValueError(f"metrics.{op}: no samples")
    return xp, t, p


def accuracy(y_true, y_pred) -> float:
    """Fraction of samples whose predicted class equals the true class: (1/N) Σ [ŷᵢ = yᵢ]."""
    xp, t, p = _class_pair(y_true, y_pred, "accuracy")
    return float(xp.mean(t == p, dtype=xp.float64))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None) -> numpy.ndarray:
    """M (k×k, NumPy int64) with M[i, j] = number of samples of true class i predicted as j.

    k = ``num_classes``, or 1 + the largest label seen. Labels outside 0 … k−1 raise ValueError.
    """
    return _confusion(y_true, y_pred, num_classes, "confusion_matrix")


def _confusion(y_true, y_pred, num_classes, op, at_least: int = 0) -> numpy.ndarray:
    xp, t, p = _class_pair(y_true, y_pred, op)
    lo, hi = (int(v) for v in backends.to_numpy(xp.stack([xp.minimum(t.min(), p.min()),
                                                           xp.maximum(t.max(), p.max())])))
    k = max(hi + 1, at_least) if num_classes is None else checks.integer(f"metrics.{op}", "num_classes",
                                                                           num_classes, minimum=1)
    if lo < 0 or hi >= k:
        raise ArgumentValueError(f"metrics.{op}: labels span {lo}..{hi}, outside 0..{k - 1}")
    return backends.to_numpy(xp.bincount(t * k + p, minlength=k * k).reshape(k, k)).astype(numpy.int64)


AVERAGES = ("binary", "macro", "micro", "weighted")


def _scores(y_true, y_pred, average, pos_label, num_classes, op):
    """(tp, fp, fn, weights): float arrays over the classes that ``average`` combines, and the weight of
    each class in the mean (None for ``average=None``: one score per class 0 … k−1, no mean)."""
    if average is not None:
        average = checks.choice(f"metrics.{op}", "average", average, AVERAGES, alternative="or None")
    pos_label = checks.integer(f"metrics.{op}", "pos_label", pos_label, minimum=0)
    m = _confusion(y_true, y_pred, num_classes, op, at_least=pos_label + 1 if average == "binary" else 0)
    tp = numpy.diag(m).astype(numpy.float64)
    fp, fn = m.sum(axis=0) - tp, m.sum(axis=1) - tp
    if average is None:
        return tp, fp, fn, None
    if average == "binary":
        seen = m.sum(axis=0) + m.sum(axis=1)
        present = numpy.count_nonzero(seen)
        if present == 2 and 0 <= pos_label < len(m) and not seen[pos_label]:  # e.g. labels 0/2, pos_label 1
            raise ArgumentValueError(f"metrics.{op}: pos_label={pos_label} is not one of the two labels present, "
                                     f"{numpy.flatnonzero(seen).tolist()}; pass pos_label= one of them")
        if present > 2 or not 0 <= pos_label < len(m):
            raise ArgumentValueError(f"metrics.{op}: average='binary' needs two classes including pos_label="
                                     f"{pos_label}; the labels have {len(m)} classes: use average='macro', "
                                     f"'weighted', 'micro' or None")
        return tp[[pos_label]], fp[[pos_label]], fn[[pos_label]], numpy.ones(1)
    if average == "micro":
        return tp.sum(keepdims=True), fp.sum(keepdims=True), fn.sum(keepdims=True), numpy.ones(1)
    if average == "weighted":
        return tp, fp, fn, m.sum(axis=1).astype(numpy.float64)
    present = (m.sum(axis=0) + m.sum(axis=1)) > 0
    return tp[present], fp[present], fn[present], numpy.ones(int(present.sum()))


def _ratio(num, den, weights):
    """num/den per class (0.0 where den is 0), averaged with ``weights``, or the array itself when they are None."""
    per_class = numpy.divide(num, den, out=numpy.zeros_like(num), where=den > 0)
    return per_class if weights is None else float(numpy.average(per_class, weights=weights))


def precision(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
              num_classes: int | None = None) -> float | numpy.ndarray:
    """TP / (TP + FP): the fraction of predicted positives that are right (0.0 with none predicted).

    >>> precision([0, 1, 2, 2], [0, 2, 2, 2], average=None)  # class 1 is never predicted
    array([1.        , 0.        , 0.66666667])
    >>> precision([0, 1, 2, 2], [0, 2, 2, 2], average="weighted")  # (1·1 + 1·0 + 2·⅔) / 4
    0.5833333333333333
    """
    tp, fp, _, weights = _scores(y_true, y_pred, average, pos_label, num_classes, "precision")
    return _ratio(tp, tp + fp, weights)


def recall(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
           num_classes: int | None = None) -> float | numpy.ndarray:
    """TP / (TP + FN): the fraction of true positives that are found (0.0 with none present).

    >>> recall([0, 1, 2, 2], [0, 2, 2, 2], average=None)
    array([1., 0., 1.])
    """
    tp, _, fn, weights = _scores(y_true, y_pred, average, pos_label, num_classes, "recall")
    return _ratio(tp, tp + fn, weights)


def f1_score(y_true, y_pred, average: str | None = "binary", pos_label: int = 1,
             num_classes: int | None = None) -> float | numpy.ndarray:
    """F1 = 2·P·R / (P + R) = 2·TP / (2·TP + FP + FN) per class (0.0 when TP = FP = FN = 0).

    "macro" averages the per-class F1 (not the harmonic mean of macro P and R); "weighted" weighs
    each class's F1 by its support.

    >>> f1_score([0, 1, 2, 2], [0, 2, 2, 2], average=None)
    array([1. , 0. , 0.8])
    """
    tp, fp, fn, weights = _scores(y_true, y_pred, average, pos_label, num_classes, "f1_score")
    return _ratio(2 * tp, 2 * tp + fp + fn, weights)


def balanced_accuracy(y_true, y_pred, num_classes: int | None = None) -> float:
    """The mean of the recalls TP_c / n_c over the classes c present in y_true (n_c > 0): accuracy with
    every true class weighing the same, so a majority-class guess scores 1/(number of classes).

    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])  # (3/3 + 0/1) / 2, where accuracy is 0.75
    0.5
    """
    m = _confusion(y_true, y_pred, num_classes, "balanced_accuracy")
    support = m.sum(axis=1)
    present = support > 0
    return float(numpy.mean(numpy.diag(m)[present] / support[present]))


def top_k_accuracy(y_true, y_score, k: int = 5) -> float:
    """Fraction of samples whose true class is among the ``k`` highest of its scores (N, C):
    (1/N) Σᵢ [#{c : s_ic > s_i,yᵢ} < k]. A score tied with the true class's counts for it (fewer than k
    classes strictly above), so k = 1 is ``accuracy`` where there are no ties, and k ≥ C gives 1.0.

    >>> scores = [[0.5, 0.3, 0.2], [0.1, 0.3, 0.6], [0.2, 0.5, 0.3]]
    >>> top_k_accuracy([1, 1, 0], scores, k=2)  # ranks of the true class: 2nd, 2nd, 3rd
    0.6666666666666666
    """
    op = "top_k_accuracy"
    k = checks.integer(f"metrics.{op}", "k", k, minimum=1)
    xp, a, s = _arrays(y_true, y_score, op)
    if s.ndim != 2:
        raise ArgumentValueError(f"metrics.{op}: y_score must be scores of shape (N, C), got shape {s.shape}")
    t = _labels(xp, a, "y_true", op)
    if t.shape[0] != s.shape[0] or not t.size:
        raise ArgumentValueError(f"metrics.{op}: y_true has {t.shape[0]} samples but y_score has {s.shape[0]}"
                                 if t.size else f"metrics.{op}: no samples")
    lo, hi = (int(v) for v in backends.to_numpy(xp.stack([t.min(), t.max()])))
    if lo < 0 or hi >= s.shape[1]:
        raise ArgumentValueError(f"metrics.{op}: labels span {lo}..{hi}, outside the {s.shape[1]} score columns")
    true_score = s[xp.arange(t.size), t]
    above = (s > true_score[:, None]).sum(axis=1)
    return float(xp.mean(above < k, dtype=xp.float64))


def roc_auc(y_true, y_score) -> float:
    """Area under the ROC curve of binary labels y_true (0/1 or bools, both present) and scores y_score
    (N,) (any monotone score of class 1: a probability, a logit, a margin):

        AUC = P(s⁺ > s⁻) + ½·P(s⁺ = s⁻)  over the pairs of a positive and a negative sample
            = (Σ_{i: yᵢ=1} rankᵢ − n⁺(n⁺ + 1)/2) / (n⁺·n⁻)   (the Mann–Whitney U statistic),

    with rankᵢ the 1-based rank of sᵢ among all scores, tied scores sharing the mean of their ranks
    (which is the trapezoidal area under the ROC curve). 1.0 ranks every positive above every negative,
    0.5 is chance. Sorting is O(N log N) on the device of the inputs.

    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])  # 3 of the 4 (positive, negative) pairs in order
    0.75
    """
    op = "roc_auc"
    xp, a, s = _arrays(y_true, y_score, op)
    if not (s.ndim == 1 or s.ndim == 2 and s.shape[1] == 1):
        raise ArgumentValueError(f"metrics.{op}: y_score must hold one score per sample, shape (N,) or (N, 1), "
                                 f"got {s.shape}; for two-class outputs pass the score of class 1, e.g. "
                                 f"softmax(logits)[:, 1] or logits[:, 1] − logits[:, 0]")
    t = _labels(xp, a, "y_true", op)
    s = s.reshape(-1).astype(xp.float64)
    if t.shape != s.shape:
        raise ArgumentValueError(f"metrics.{op}: y_true has {t.shape[0]} samples but y_score has {s.shape[0]}")
    if not t.size:
        raise ArgumentValueError(f"metrics.{op}: no samples")
    positive = t == 1
    ordered = xp.sort(s)
    rank = (xp.searchsorted(ordered, s, side="left") + xp.searchsorted(ordered, s, side="right") + 1) / 2
    wrong, n_pos, rank_sum = backends.to_numpy(xp.stack([((t != 0) & (t != 1)).sum(), positive.sum(),
                                                         (rank * positive).sum()]))
    n_neg = t.size - n_pos
    if wrong:
        raise ArgumentValueError(f"metrics.{op}: y_true must hold binary labels 0 and 1; {int(wrong)} are neither")
    if not n_pos or not n_neg:
        raise ArgumentValueError(f"metrics.{op}: y_true holds only class {int(n_pos > 0)}; the ROC curve needs "
                                 f"positive and negative samples")
    return float((rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# ---- regression ----------------------------------------------------------------------------
def _regression_pair(y_true, y_pred, op: str):
    """(xp, t, p) as float64 arrays of shape (N, outputs); (N,) and (N, 1) are interchangeable."""
    xp, a, b = _arrays(y_true, y_pred, op)
    if a.shape != b.shape:
        flat = all(v.ndim == 1 or (v.ndim == 2 and v.shape[1] == 1) for v in (a, b))
        if not (flat and a.size == b.size):
            raise ArgumentValueError(f"metrics.{op}: y_true of shape {a.shape} and y_pred of shape {b.shape} differ")
    if a.size == 0:
        raise ArgumentValueError(f"metrics.{op}: no samples")
    n = a.shape[0] if a.ndim else 1
    return xp, a.reshape(n, -1).astype(xp.float64), b.reshape(n, -1).astype(xp.float64)


def mse(y_true, y_pred) -> float:
    """Mean squared error: (1/N) Σ (yᵢ − ŷᵢ)² (over every output)."""
    xp, t, p = _regression_pair(y_true, y_pred, "mse")
    return float(xp.mean((t - p) ** 2))


def rmse(y_true, y_pred) -> float:
    """Root mean squared error: √MSE."""
    return float(numpy.sqrt(mse(y_true, y_pred)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error: (1/N) Σ |yᵢ − ŷᵢ|."""
    xp, t, p = _regression_pair(y_true, y_pred, "mae")
    return float(xp.mean(xp.abs(t - p)))


def r2_score(y_true, y_pred) -> float:
    """Coefficient of determination R² = 1 − SS_res / SS_tot.

    SS_res = Σ (yᵢ − ŷᵢ)², SS_tot = Σ (yᵢ − ȳ)² with ȳ the mean of the TARGETS y (not of the
    predictions). 1 is a perfect fit, 0 is no better than predicting ȳ, and it is negative
    for worse. Constant targets (SS_tot = 0) give 1.0 for a perfect fit, else 0.0. With
    several outputs (N, k), R² is computed per output and averaged.
    """
    xp, t, p = _regression_pair(y_true, y_pred, "r2_score")
    ss = xp.stack([((t - p) ** 2).sum(axis=0), ((t - t.mean(axis=0)) ** 2).sum(axis=0)])
    ss_res, ss_tot = backends.to_numpy(ss)
    r2 = numpy.where(ss_tot > 0, 1.0 - ss_res / numpy.where(ss_tot > 0, ss_tot, 1.0),
                     numpy.where(ss_res == 0, 1.0, 0.0))
    return float(r2.mean())


def mean_iou(mask_true, mask_pred) -> float:
    """Mean over samples of IoU = |T ∩ P| / |T ∪ P| for binary masks (N, …), booleans or 0/1.

    A sample whose true and predicted masks are both empty has IoU 1 (they agree exactly).
    Threshold logits or probabilities yourself, e.g. ``logits > 0``.
    """
    xp, t, p = _arrays(mask_true, mask_pred, "mean_iou")
    if t.shape != p.shape or t.ndim < 2:
        raise ArgumentValueError(f"metrics.mean_iou: needs two masks of one shape (N, ...), "
                                 f"got {t.shape} and {p.shape}")
    t, p = t.reshape(len(t), -1) != 0, p.reshape(len(p), -1) != 0
    inter = (t & p).sum(axis=1)
    union = (t | p).sum(axis=1)
    iou = xp.where(union > 0, inter / xp.maximum(union, 1), 1.0)
    return float(iou.mean())
