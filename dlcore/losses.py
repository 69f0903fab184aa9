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
  batch mean of those, "sum" their sum;
* CrossEntropyLoss and NLLLoss as PyTorch's: one loss per sample and position, (N, d1, …) for "none";
  "mean" divides by the summed class weights of the non-ignored targets;
* KLDivLoss: elementwise, and "batchmean" too (the sum divided by the batch size).

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
    also refuses a prediction ``y`` that is not floating (integer logits give a meaningless loss).

    Example::

        >>> loss = losses.MSELoss(reduction="sum")
        >>> loss, isinstance(loss, losses.Loss)
        (MSELoss(reduction='sum'), True)
        >>> y = dlcore.Tensor(np.array([1.0, 2.0], "float32"), requires_grad=True)
        >>> value = loss(y, np.zeros(2, "float32"))    # 1² + 2²
        >>> value.backward()
        >>> value.item(), y.grad                        # ∂/∂y = 2(y − t)
        (5.0, array([2., 4.], dtype=float32))
    """

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
    """½ Σ (y − t)² per sample (over the non-batch axes), batch-mean by default;  ∂/∂y = (y − t)/N.

    Example::

        >>> y = dlcore.Tensor(np.array([[1.0, 2.0], [0.0, 1.0]], "float32"))
        >>> t = np.zeros((2, 2), "float32")
        >>> print(losses.SumSquaredError(reduction="none")(y, t).numpy())    # ½(1 + 4), ½(0 + 1)
        [2.5 0.5]
        >>> losses.SumSquaredError()(y, t).item()                            # their batch mean
        1.5
    """
    function = _loss.SumSquaredErrorFunction


class MSELoss(Loss):
    """Mean squared error, mean of (y − t)² over all n elements;  ∂/∂y = 2(y − t)/n.

    Example::

        >>> y = dlcore.Tensor(np.array([[1.0, 2.0], [0.0, 1.0]], "float32"))
        >>> losses.MSELoss()(y, np.zeros((2, 2), "float32")).item()    # (1 + 4 + 0 + 1)/4
        1.5
    """
    function = _loss.MSELossFunction


class MAELoss(Loss):
    """Mean absolute error, mean of |y − t| over all n elements;  ∂/∂y = sign(y − t)/n.

    Example::

        >>> y = dlcore.Tensor(np.array([1.0, -2.0, 0.5, 0.5], "float32"))
        >>> losses.MAELoss()(y, np.zeros(4, "float32")).item()    # (1 + 2 + 0.5 + 0.5)/4
        1.0
    """
    function = _loss.MAELossFunction


class CrossEntropyLoss(Loss):
    """Multi-class cross-entropy from logits y (N, C): −Σ_c t_c ln softmax(y)_c per sample, batch mean;
    t integer labels (N,) or one-hot/probability rows (N, C);  ∂/∂y = (softmax(y) − t)/N.

    As PyTorch's: logits (N, C, d1, …) with labels (N, d1, …) (e.g. (N, C, H, W) for segmentation, one
    sample per pixel); ``weight`` (C,) scales class c's loss by w_c and a weighted mean divides by the
    sum of the weights of the targets, Σ_r w_(t_r); a label equal to ``ignore_index`` counts for nothing
    (neither loss nor weight); ``label_smoothing`` ε mixes the target with the uniform distribution,
    (1−ε)·onehot(t) + ε/C. Formulas and gradients: ``dlcore.ops.loss.CrossEntropyLossFunction``.

    Example::

        >>> logits = dlcore.Tensor(np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 0.0]], "float32"))
        >>> per_sample = losses.CrossEntropyLoss(reduction="none")(logits, np.array([0, 2]))
        >>> print(per_sample.numpy())    # −ln(e²/(e² + 2)), −ln(1/3)
        [0.2395 1.0986]
        >>> one_hot = np.array([[1, 0, 0], [0, 0, 1]], "float32")    # the same targets, one-hot
        >>> round(losses.CrossEntropyLoss()(logits, one_hot).item(), 4)
        0.6691
        >>> weighted = losses.CrossEntropyLoss(weight=np.array([3.0, 1.0, 1.0]))    # (3·0.2395 + 1.0986)/(3 + 1)
        >>> round(weighted(logits, np.array([0, 2])).item(), 4)
        0.4543
        >>> round(losses.CrossEntropyLoss(ignore_index=2)(logits, np.array([0, 2])).item(), 4)    # sample 0 only
        0.2395
        >>> pixels = dlcore.Tensor(np.zeros((1, 3, 2, 2), "float32"))                # (N, C, H, W) logits
        >>> round(losses.CrossEntropyLoss()(pixels, np.zeros((1, 2, 2), "int64")).item(), 4)    # ln 3
        1.0986
    """
    function = _loss.CrossEntropyLossFunction

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index, label_smoothing=label_smoothing)


class NLLLoss(Loss):
    """Negative log-likelihood of log-probabilities y (N, C) or (N, C, d1, …) (e.g. after log_softmax) and
    integer labels t (N,) or (N, d1, …), PyTorch's NLLLoss: L_r = −w_(t_r)·y_r,t_r, batch mean divided by
    Σ_r w_(t_r) (the weights of the non-ignored targets; all 1 without ``weight``); labels equal to
    ``ignore_index`` count for nothing;  ∂L/∂y_r,t_r = −w_(t_r)/Σ w. NLLLoss(log_softmax(y)) = CrossEntropyLoss(y).

    Example::

        >>> logp = dlcore.Tensor(np.log(np.array([[0.5, 0.25, 0.25], [0.1, 0.2, 0.7]])), requires_grad=True)
        >>> loss = losses.NLLLoss()(logp, np.array([0, 2]))
        >>> round(loss.item(), 4)    # −(ln 0.5 + ln 0.7)/2
        0.5249
        >>> loss.backward()
        >>> print(logp.grad)
        [[-0.5  0.   0. ]
         [ 0.   0.  -0.5]]
    """
    function = _loss.NLLLossFunction

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction, weight=weight, ignore_index=ignore_index)


class KLDivLoss(Loss):
    """Kullback–Leibler divergence of PyTorch's KLDivLoss: the input y holds log-probabilities ln q, the
    target t probabilities p (or ln p with ``log_target=True``); elementwise l = p·(ln p − ln q), 0 where
    p = 0;  ∂l/∂y = −p. ``reduction="batchmean"`` divides the sum by the batch size N (KL(p‖q) per
    sample, what the divergence means); "mean" (the default, as PyTorch's) divides by every element.

    Example::

        >>> log_q = dlcore.Tensor(np.log(np.array([[0.5, 0.5], [0.9, 0.1]])))
        >>> p = np.array([[0.5, 0.5], [0.5, 0.5]])
        >>> kl = losses.KLDivLoss(reduction="batchmean")(log_q, p)    # (0 + ½ln(0.5/0.9) + ½ln(0.5/0.1))/2
        >>> round(kl.item(), 4)
        0.2554
    """
    function = _loss.KLDivLossFunction

    def __init__(self, reduction="mean", log_target=False):
        super().__init__(reduction, log_target=log_target)


class BinaryCrossEntropy(Loss):
    """−[t ln p + (1−t) ln(1−p)] from probabilities, p = clip(y, eps, 1−eps), mean over elements;
    ∂/∂y = (p − t)/(p(1−p))/n inside the clip range, 0 outside.

    Example::

        >>> p = dlcore.Tensor(np.array([0.9, 0.2], "float32"))    # probabilities, e.g. after a Sigmoid
        >>> print(losses.BinaryCrossEntropy(reduction="none")(p, np.array([1.0, 0.0], "float32")).numpy())
        [0.1054 0.2231]
    """
    function = _loss.BinaryCrossEntropyFunction

    def __init__(self, eps=1e-7, reduction="mean"):
        super().__init__(reduction, eps=eps)


class BCEWithLogitsLoss(Loss):
    """Binary cross-entropy of σ(y), stably max(y,0) − y·t + ln(1+e^(−|y|)), mean over elements;
    ∂/∂y = (σ(y) − t)/n.

    Example::

        >>> logits = dlcore.Tensor(np.array([2.0, -1.0, 0.0], "float32"))
        >>> t = np.array([1.0, 0.0, 1.0], "float32")
        >>> print(losses.BCEWithLogitsLoss(reduction="none")(logits, t).numpy())    # −ln σ(2), −ln σ(1), ln 2
        [0.1269 0.3133 0.6931]
    """
    function = _loss.BCEWithLogitsLossFunction


class LogisticLoss(Loss):
    """ln(1 + e^(−t·y)), t ∈ {−1, +1}, computed without overflow, mean over elements;
    ∂/∂y = −t·σ(−t·y)/n.

    Example::

        >>> y = dlcore.Tensor(np.array([2.0, 0.0, -1.0], "float32"))
        >>> print(losses.LogisticLoss(reduction="none")(y, np.array([1.0, 1.0, 1.0], "float32")).numpy())
        [0.1269 0.6931 1.3133]
    """
    function = _loss.LogisticLossFunction


class ExponentialLoss(Loss):
    """e^(−t·y), t ∈ {−1, +1}, mean over elements;  ∂/∂y = −t·e^(−t·y)/n.

    Example::

        >>> y = dlcore.Tensor(np.array([1.0, 0.0, -1.0], "float32"))
        >>> print(losses.ExponentialLoss(reduction="none")(y, np.array([1.0, 1.0, 1.0], "float32")).numpy())
        [0.3679 1.     2.7183]
    """
    function = _loss.ExponentialLossFunction


class HingeLoss(Loss):
    """max(1 − t·y, 0), t ∈ {−1, +1}, mean over elements;  ∂/∂y = −t/n where t·y < 1, else 0.

    Example::

        >>> y = dlcore.Tensor(np.array([2.0, 0.5, -1.0], "float32"))
        >>> print(losses.HingeLoss(reduction="none")(y, np.array([1.0, 1.0, 1.0], "float32")).numpy())
        [0.  0.5 2. ]
    """
    function = _loss.HingeLossFunction


class QuantileLoss(Loss):
    """τ-quantile (pinball) loss (1−τ)·max(y−t, 0) + τ·max(t−y, 0), 0 < τ < 1, mean over elements;
    ∂/∂y = (1−τ)/n where y > t, −τ/n where y < t.

    Example::

        >>> y = dlcore.Tensor(np.array([1.0, -1.0], "float32"))    # one over, one under the target 0
        >>> print(losses.QuantileLoss(tau=0.9, reduction="none")(y, np.zeros(2, "float32")).numpy())
        [0.1 0.9]
    """
    function = _loss.QuantileLossFunction

    def __init__(self, tau=0.5, reduction="mean"):
        super().__init__(reduction, tau=tau)


class HuberLoss(Loss):
    """½r² if |r| ≤ δ else δ(|r| − ½δ), r = y − t, mean over elements;  ∂/∂y = clip(r, −δ, δ)/n.

    Example::

        >>> y = dlcore.Tensor(np.array([0.5, 1.0, 2.0, -3.0], "float32"))    # residuals, target 0
        >>> print(losses.HuberLoss(delta=1.0, reduction="none")(y, np.zeros(4, "float32")).numpy())
        [0.125 0.5   1.5   2.5  ]
    """
    function = _loss.HuberLossFunction

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction, delta=delta)


class EpsilonInsensitiveLoss(Loss):
    """max(|t − y| − ε, 0), mean over elements;  ∂/∂y = sign(y − t)/n outside the ε-tube, 0 inside.

    Example::

        >>> y = dlcore.Tensor(np.array([0.05, -0.3, 1.0], "float32"))
        >>> print(losses.EpsilonInsensitiveLoss(epsilon=0.1, reduction="none")(y, np.zeros(3, "float32")).numpy())
        [0.  0.2 0.9]
    """
    function = _loss.EpsilonInsensitiveLossFunction

    def __init__(self, epsilon=0.1, reduction="mean"):
        super().__init__(reduction, epsilon=epsilon)


LOSSES = {
    "sum_squared_error": SumSquaredError,
    "mse": MSELoss,
    "mae": MAELoss,
    "cross_entropy": CrossEntropyLoss,
    "nll": NLLLoss,
    "kl_div": KLDivLoss,
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
    """The loss registered as ``name`` in LOSSES, made with ``kwargs`` (e.g. ``get("huber", delta=2.0)``).

    Example::

        >>> losses.get("huber", delta=2.0)
        HuberLoss(delta=2.0, reduction='mean')
        >>> losses.get("mse") is losses.get("mse")    # a new object each time
        False
    """
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
