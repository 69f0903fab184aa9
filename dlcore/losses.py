"""The losses as small callable objects: ``loss = losses.MSELoss()(y, t); loss.backward()``.

y is the prediction (a Tensor), t the target (a Tensor or an array of y's shape; integer
class labels of shape (N,) for CrossEntropyLoss). t gets a gradient only when it is a Tensor
that requires one. A shape mismatch raises ValueError naming the loss and both shapes.

Every loss takes ``reduction="mean"|"sum"|"none"``:

* elementwise losses (MSELoss, MAELoss, BinaryCrossEntropy, BCEWithLogitsLoss, LogisticLoss,
  ExponentialLoss, HingeLoss, QuantileLoss, HuberLoss, EpsilonInsensitiveLoss): "none" gives
  the elementwise losses in y's shape, "mean" their mean over all elements (= the batch mean
  of the per-sample means), "sum" their sum;
* per-sample losses (SumSquaredError, CrossEntropyLoss): "none" gives one value per sample,
  shape (N,) (½Σ(y−t)² over the non-batch axes, or −Σ_c t_c ln softmax(y)_c), "mean" the
  batch mean of those, "sum" their sum.

The math, derivatives included, lives in ``dlcore.ops.loss``; each call is one graph
node. ``LOSSES`` maps config names to the classes and ``get(name, **kwargs)`` builds one.
"""
from __future__ import annotations

from dlcore import checks
from dlcore.checks import ArgumentTypeError, ArgumentValueError
from dlcore.ops import loss as _loss


class Loss:
    """A loss with its settings: ``loss(y, t)`` applies a fresh ``function`` (a Function class)
    built from the settings, which are this object's attributes (``reduction`` and any
    hyper-parameter). The Function checks them, so a bad setting fails when the loss is made; it
    also refuses a prediction ``y`` that is not floating (integer logits give a meaningless loss)."""

    function: type = _loss.LossFunction

    def __init__(self, reduction="mean", **settings):
        self.__dict__.update(settings, reduction=reduction)
        self.function(**vars(self))  # raises now, not at the first call, on a bad setting

    def __call__(self, y, t):
        """The loss of prediction ``y`` against target ``t``: a 0-d Tensor, or per element/sample for "none"."""
        if getattr(y, "dtype", None) is None:
            raise ArgumentTypeError(f"{type(self).__name__}: the prediction y must be a Tensor or an array, "
                                    f"got {type(y).__name__}")
        return self.function(**vars(self))(y, t)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class SumSquaredError(Loss):
    """½ Σ (y − t)² per sample (over the non-batch axes), batch-mean by default;  ∂/∂y = (y − t)/N."""
    function = _loss.SumSquaredErrorFunction


class MSELoss(Loss):
    """Mean squared error, mean of (y − t)² over all n elements;  ∂/∂y = 2(y − t)/n."""
    function = _loss.MSELossFunction


class MAELoss(Loss):
    """Mean absolute error, mean of |y − t| over all n elements;  ∂/∂y = sign(y − t)/n."""
    function = _loss.MAELossFunction


class CrossEntropyLoss(Loss):
    """Multi-class cross-entropy from logits y (N, C): −Σ_c t_c ln softmax(y)_c per sample, batch mean;
    t integer labels (N,) or one-hot/probability rows (N, C);  ∂/∂y = (softmax(y) − t)/N."""
    function = _loss.CrossEntropyLossFunction


class BinaryCrossEntropy(Loss):
    """−[t ln p + (1−t) ln(1−p)] from probabilities, p = clip(y, eps, 1−eps), mean over elements;
    ∂/∂y = (p − t)/(p(1−p))/n inside the clip range, 0 outside."""
    function = _loss.BinaryCrossEntropyFunction

    def __init__(self, eps=1e-7, reduction="mean"):
        super().__init__(reduction, eps=eps)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of σ(y), stably max(y,0) − y·t + ln(1+e^(−|y|)), mean over elements;
    ∂/∂y = (σ(y) − t)/n."""
    function = _loss.BCEWithLogitsLossFunction


class LogisticLoss(Loss):
    """ln(1 + e^(−t·y)), t ∈ {−1, +1}, computed without overflow, mean over elements;
    ∂/∂y = −t·σ(−t·y)/n."""
    function = _loss.LogisticLossFunction


class ExponentialLoss(Loss):
    """e^(−t·y), t ∈ {−1, +1}, mean over elements;  ∂/∂y = −t·e^(−t·y)/n."""
    function = _loss.ExponentialLossFunction


class HingeLoss(Loss):
    """max(1 − t·y, 0), t ∈ {−1, +1}, mean over elements;  ∂/∂y = −t/n where t·y < 1, else 0."""
    function = _loss.HingeLossFunction


class QuantileLoss(Loss):
    """τ-quantile (pinball) loss (1−τ)·max(y−t, 0) + τ·max(t−y, 0), 0 < τ < 1, mean over elements;
    ∂/∂y = (1−τ)/n where y > t, −τ/n where y < t."""
    function = _loss.QuantileLossFunction

    def __init__(self, tau=0.5, reduction="mean"):
        super().__init__(reduction, tau=tau)


class HuberLoss(Loss):
    """½r² if |r| ≤ δ else δ(|r| − ½δ), r = y − t, mean over elements;  ∂/∂y = clip(r, −δ, δ)/n."""
    function = _loss.HuberLossFunction

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction, delta=delta)


class EpsilonInsensitiveLoss(Loss):
    """max(|t − y| − ε, 0), mean over elements;  ∂/∂y = sign(y − t)/n outside the ε-tube, 0 inside."""
    function = _loss.EpsilonInsensitiveLossFunction

    def __init__(self, epsilon=0.1, reduction="mean"):
        super().__init__(reduction, epsilon=epsilon)


LOSSES = {
    "sum_squared_error": SumSquaredError,
    "mse": MSELoss,
    "mae": MAELoss,
    "cross_entropy": CrossEntropyLoss,
    "binary_cross_entropy": BinaryCrossEntropy,
    "bce_with_logits": BCEWithLogitsLoss,
    "logistic": LogisticLoss,
    "exponential": ExponentialLoss,
    "hinge": HingeLoss,
    "quantile": QuantileLoss,
    "huber": HuberLoss,
    "epsilon_insensitive": EpsilonInsensitiveLoss,
}


def get(name: str, **kwargs) -> Loss:
    """The loss registered as ``name`` in LOSSES, made with ``kwargs`` (e.g. ``get("huber", delta=2.0)``)."""
    return LOSSES[checks.choice("losses.get", "name", name, LOSSES)](**kwargs)


__all__ = ["Loss", *(cls.__name__ for cls in LOSSES.values()), "LOSSES", "get"]


def l2_penalty(parameters, coef: float):
    """Explicit L2 regularisation term ½·λ·Σ θ² over ``parameters``; add it to the loss.

    Its gradient λθ is what ``weight_decay=λ`` adds inside the optimizers, without a term.
    """
    params, coef = _penalty_arguments("l2_penalty", parameters, coef)
    return sum(((p * p).sum() for p in params[1:]), (params[0] * params[0]).sum()) * (0.5 * coef)


def l1_penalty(parameters, coef: float):
    """Explicit L1 regularisation term λ·Σ |θ| over ``parameters``; add it to the loss.

    Its (sub)gradient λ·sign(θ) is what ``l1=λ`` adds inside the optimizers.
    """
    params, coef = _penalty_arguments("l1_penalty", parameters, coef)
    return sum((abs(p).sum() for p in params[1:]), abs(params[0]).sum()) * coef


def _penalty_arguments(owner: str, parameters, coef) -> tuple[list, float]:
    """(the parameters as a non-empty list, coef as a float ≥ 0), or the error naming ``owner``."""
    params = list(parameters)
    if not params:
        raise ArgumentValueError(f"{owner}: got no parameters; pass model.parameters() or a list of Parameters")
    return params, checks.finite_number(owner, "coef", coef, within="[0, inf)")
