"""Cases for the losses: every loss under every reduction, and every cross-entropy target form.

Floating targets are ordinary inputs, so the gradient checks cover ∂L/∂t as well as ∂L/∂y;
integer class labels are constants. Inputs keep central differences off each loss's kinks.
"""
import numpy

from dlcore.ops import loss as L
from tests.cases import Case


def _away(x, kinks, gap=0.15):
    """``x`` with values closer than ``gap`` to any ±kink pushed out to distance ``gap``."""
    for k in kinks:
        for c in {k, -k}:
            x = numpy.where(numpy.abs(x - c) < gap, c + numpy.where(x >= c, gap, -gap), x)
    return x


def residuals(*kinks, shape=(4, 3), scale=2.0):
    """(y, t): t ~ N(0, 1), residual y − t ~ U(−scale, scale) kept off ±kinks."""
    def make(rng):
        t = rng.standard_normal(shape)
        return t + _away(rng.uniform(-scale, scale, shape), kinks), t
    return make


def margins(shape=(4, 3), scale=3.0):
    """(y, t): t ∈ {−1, +1}, y ~ U(−scale, scale) with |y| off 1 (the hinge's kink is at t·y = 1)."""
    return lambda rng: (_away(rng.uniform(-scale, scale, shape), (1.0,)), rng.choice([-1.0, 1.0], shape))


def probabilities(rng, shape=(4, 3)):
    """(y, t): predicted probabilities in (0.05, 0.95) and soft targets in [0, 1]."""
    return rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape)


def logits_and_labels(rng, n=5, c=4):
    return rng.standard_normal((n, c)) * 2, rng.integers(0, c, n)


def logits_and_one_hot(rng, n=5, c=4):
    return rng.standard_normal((n, c)) * 2, numpy.eye(c)[rng.integers(0, c, n)]


def logits_and_soft(rng, n=5, c=4):
    p = rng.uniform(0.1, 1, (n, c))
    return rng.standard_normal((n, c)) * 2, p / p.sum(axis=1, keepdims=True)


def _reductions(name, fn, make, **kwargs):
    """One Case per reduction of ``fn(y, t, reduction=…)``."""
    return [Case(f"{name}_{r}", lambda y, t, r=r: fn(y, t, reduction=r), make, **kwargs) for r in L.REDUCTIONS]


CASES = [
    *_reductions("sum_squared_error", L.sum_squared_error, residuals(shape=(4, 2, 3))),
    *_reductions("sum_squared_error_1d", L.sum_squared_error, residuals(shape=(5,))),
    *_reductions("mse", L.mse_loss, residuals()),
    *_reductions("mae", L.mae_loss, residuals(0.0)),
    *_reductions("cross_entropy_labels", L.cross_entropy, logits_and_labels),
    *_reductions("cross_entropy_one_hot", L.cross_entropy, logits_and_one_hot),
    *_reductions("cross_entropy_soft", L.cross_entropy, logits_and_soft),
    *_reductions("binary_cross_entropy", L.binary_cross_entropy, probabilities),
    *_reductions("bce_with_logits", L.bce_with_logits, lambda rng: (rng.standard_normal((4, 3)) * 3,
                                                                      rng.uniform(0, 1, (4, 3)))),
    Case("bce_with_logits_tails", L.bce_with_logits, lambda rng: (rng.uniform(-30, 30, (4, 5)),
                                                                  rng.uniform(0, 1, (4, 5)))),
    *_reductions("logistic", L.logistic_loss, margins()),
    Case("logistic_tails", L.logistic_loss, margins(scale=30.0)),
    *_reductions("exponential", L.exponential_loss, margins()),
    *_reductions("hinge", L.hinge_loss, margins()),
    *_reductions("quantile", lambda y, t, reduction: L.quantile_loss(y, t, 0.3, reduction), residuals(0.0)),
    *_reductions("huber", lambda y, t, reduction: L.huber_loss(y, t, 0.8, reduction), residuals(0.8, scale=3.0)),
    *_reductions("epsilon_insensitive", lambda y, t, reduction: L.epsilon_insensitive_loss(y, t, 0.3, reduction),
                 residuals(0.3)),
]


def labels_with_ignored(rng, n=6, c=4):
    """(logits, labels) with two labels set to −100, PyTorch's default ignore_index."""
    t = rng.integers(0, c, n)
    t[[1, 4]] = -100
    return rng.standard_normal((n, c)) * 2, t


def pixel_logits_and_labels(rng, n=2, c=3, h=3, w=2):
    """(N, C, H, W) logits and (N, H, W) labels, one ignored (segmentation with a void class)."""
    t = rng.integers(0, c, (n, h, w))
    t[0, 1, 1] = -100
    return rng.standard_normal((n, c, h, w)) * 2, t


def pixel_logits_and_soft(rng, n=2, c=3, h=2, w=2):
    p = rng.uniform(0.1, 1, (n, c, h, w))
    return rng.standard_normal((n, c, h, w)) * 2, p / p.sum(axis=1, keepdims=True)


def log_probabilities_and_labels(rng, n=5, c=4):
    x = rng.standard_normal((n, c))
    return x - numpy.log(numpy.exp(x).sum(axis=1, keepdims=True)), rng.integers(0, c, n)


def kl_inputs(rng, shape=(3, 4)):
    """(log q, p): log-probabilities of rows and target probabilities in (0.05, 1)."""
    q, p = rng.uniform(0.05, 1, shape), rng.uniform(0.05, 1, shape)
    return numpy.log(q / q.sum(axis=1, keepdims=True)), p / p.sum(axis=1, keepdims=True)


CLASS_WEIGHT = numpy.array([0.5, 2.0, 1.0, 3.0])

CASES += [
    *_reductions("cross_entropy_weighted", lambda y, t, reduction: L.cross_entropy(y, t, reduction, CLASS_WEIGHT),
                 labels_with_ignored),
    *_reductions("cross_entropy_smoothed", lambda y, t, reduction: L.cross_entropy(
        y, t, reduction, CLASS_WEIGHT, label_smoothing=0.2), labels_with_ignored),
    *_reductions("cross_entropy_soft_weighted_smoothed", lambda y, t, reduction: L.cross_entropy(
        y, t, reduction, CLASS_WEIGHT, label_smoothing=0.1), logits_and_soft),
    *_reductions("cross_entropy_pixels", lambda y, t, reduction: L.cross_entropy(
        y, t, reduction, CLASS_WEIGHT[:3], label_smoothing=0.1), pixel_logits_and_labels),
    *_reductions("cross_entropy_pixels_soft", L.cross_entropy, pixel_logits_and_soft),
    *_reductions("nll", lambda y, t, reduction: L.nll_loss(y, t, reduction, CLASS_WEIGHT), labels_with_ignored),
    *_reductions("nll_pixels", L.nll_loss, pixel_logits_and_labels),
    *[Case(f"kl_div_{r}", lambda y, t, r=r: L.kl_div(y, t, r), kl_inputs) for r in (*L.REDUCTIONS, "batchmean")],
    Case("kl_div_log_target", lambda y, t: L.kl_div(y, t, "batchmean", log_target=True),
         lambda rng: (lambda log_q, p: (log_q, numpy.log(p)))(*kl_inputs(rng))),
]
