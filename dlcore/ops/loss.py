"""Loss functions, each one coarse Function with a hand-derived backward.

Notation: y is the prediction (first argument), t the target (second argument), r = y − t
the residual and m = t·y the margin. A target is a Tensor or an array of y's shape; it is
cast to y's dtype (so float64 targets never upcast float32 predictions). Cross-entropy also
takes integer class labels of shape (N,). When a floating target is a Tensor that requires a
gradient it gets one (∂L/∂t is stated with each loss); otherwise targets are constants.

Reduction, ``reduction="mean"|"sum"|"none"``:

* elementwise losses (MSE, MAE, binary cross-entropy from probabilities or logits, logistic,
  exponential, hinge, quantile, Huber, ε-insensitive): "none" gives the elementwise losses
  lᵢ in y's shape, "mean" their mean over all n elements (= the batch mean of the per-sample
  means), "sum" their sum;
* per-sample losses (sum of squares, cross-entropy): "none" gives one value per sample,
  shape (N,) (½Σ(y−t)² over the non-batch axes, or −Σ_c t_c ln softmax(y)_c), "mean" the
  batch mean of those (divides by N), "sum" their sum.

Each loss is a single graph node: forward computes the elementwise value and reduces it,
backward multiplies the elementwise derivatives by the incoming gradient (divided by n or N
for "mean"). On NumPy the values are checked where a wrong one would give a wrong loss without
an error: cross-entropy labels lie in [0, C), constant margin-loss targets are −1 or +1,
binary cross-entropy probabilities and constant targets lie in [0, 1]. On CuPy these checks would wait for the
device at every step, so they are not made there: an out-of-range cross-entropy label gives a NaN
loss for its sample (which the Trainer reports at log time), the other wrong values a wrong loss
(validate such data once, on the host, before training on the GPU).
"""
from __future__ import annotations

from backends.fused import fused
from dlcore import checks
from dlcore.core import Function
from dlcore.ops.activation import log_softmax_array, sigmoid_array

REDUCTIONS = ("mean", "sum", "none")


def _shape(a):
    return getattr(a, "shape", ())


def _checked_on(xp) -> bool:
    """Whether values are checked (see the module docstring): on the host only, where it is free."""
    return xp.__name__ == "numpy"


def _constant_targets_checked(loss, xp, t) -> bool:
    """Whether ``t``'s values are checked: on the host, when it is not empty and is a constant (a target
    that requires a gradient is a variable the formulas hold for at any value)."""
    return _checked_on(xp) and t.size > 0 and not loss.needs_input_grad[1]


def _require(ok: bool, loss: str, what: str, a) -> None:
    """Raise ValueError "loss: what, got values from min to max" unless ``ok``."""
    if not ok:
        raise ValueError(f"{loss}: {what}, got values from {a.min()} to {a.max()}")


class LossFunction(Function):
    """Base of the losses: an elementwise value l(y, t), reduced as the module docstring says.

    Each subclass is named after the public loss it computes (``MSELossFunction`` for ``losses.MSELoss``:
    errors name "MSELoss", see ``Function.name``) and implements
    ``value(xp, y, t)`` → l elementwise, saving on ``self`` what the derivatives need, and
    ``grad_y(xp)`` → ∂l/∂y, ``grad_t(xp)`` → ∂l/∂t, both elementwise. ``per_sample = True``
    makes "none" sum l over the non-batch axes and "mean" divide by the batch size N.
    """

    per_sample = False

    def __init__(self, reduction="mean"):
        self.reduction = checks.choice(self.name, "reduction", reduction, REDUCTIONS)

    def targets(self, xp, y, t):
        """``t`` as an array of ``y``'s dtype, after checking that it has ``y``'s shape."""
        if _shape(t) != y.shape:
            raise checks.ShapeError(f"{self.name}: prediction shape {y.shape} and target shape {_shape(t)} "
                                    f"differ; they must be equal")
        return xp.asarray(t, dtype=y.dtype)

    def forward(self, xp, y, t):
        if y.dtype.kind != "f":  # integer logits would give a meaningless loss (0 for cross-entropy)
            raise checks.ArgumentTypeError(f"{self.name}: the prediction y has dtype {y.dtype}, but losses take "
                                           f"floating predictions (logits, probabilities or values); convert it "
                                           f"with y.astype('float32')")
        l = self.value(xp, y, self.targets(xp, y, t))
        self.ndim = y.ndim
        if self.reduction == "none":
            return l.sum(axis=tuple(range(1, l.ndim))) if self.per_sample and l.ndim > 1 else l
        self.n = (l.shape[0] if l.ndim else 1) if self.per_sample else l.size
        if self.reduction == "sum":
            return l.sum()
        return l.mean() if l.size == self.n else l.sum() / self.n

    def backward(self, xp, g):
        if self.reduction == "mean":
            g = g / self.n
        elif self.reduction == "none" and self.per_sample:  # one gradient per sample, spread over its elements
            g = g.reshape(g.shape + (1,) * (self.ndim - g.ndim))
        need_y, need_t = self.needs_input_grad
        return self.grad_y(xp) * g if need_y else None, self.grad_t(xp) * g if need_t else None

    def value(self, xp, y, t):
        raise NotImplementedError

    def grad_y(self, xp):
        raise NotImplementedError

    def grad_t(self, xp):
        raise NotImplementedError


class ResidualLossFunction(LossFunction):
    """l = f(r) of the residual r = y − t;  ∂l/∂y = f′(r), ∂l/∂t = −f′(r) (subclasses give f, f′)."""

    def value(self, xp, y, t):
        self.r = y - t
        return self.f(xp, self.r)

    def grad_y(self, xp):
        return self.df(xp, self.r)

    def grad_t(self, xp):
        return -self.df(xp, self.r)


class MarginLossFunction(LossFunction):
    """l = f(m) of the margin m = t·y, t ∈ {−1, +1};  ∂l/∂y = f′(m)·t, ∂l/∂t = f′(m)·y."""

    def targets(self, xp, y, t):
        t = super().targets(xp, y, t)
        if _constant_targets_checked(self, xp, t):
            _require(bool(((t == 1) | (t == -1)).all()), self.name, "targets must be −1 or +1", t)
        return t

    def value(self, xp, y, t):
        self.y, self.t, self.m = y, t, t * y
        return self.f(xp, self.m)

    def grad_y(self, xp):
        return self.df(xp, self.m) * self.t

    def grad_t(self, xp):
        return self.df(xp, self.m) * self.y


class SumSquaredErrorFunction(ResidualLossFunction):
    """Sum of squares, per sample: L = ½ Σ (y − t)² over the non-batch axes;  ∂l/∂y = y − t."""

    per_sample = True

    def f(self, xp, r): return 0.5 * r * r
    def df(self, xp, r): return r


class MSELossFunction(ResidualLossFunction):
    """Mean squared error: l = (y − t)²;  ∂l/∂y = 2(y − t)."""

    def f(self, xp, r): return r * r
    def df(self, xp, r): return 2 * r


class MAELossFunction(ResidualLossFunction):
    """Mean absolute error: l = |y − t|;  ∂l/∂y = sign(y − t) (0 at y = t)."""

    def f(self, xp, r): return xp.abs(r)
    def df(self, xp, r): return xp.sign(r)


class HuberLossFunction(ResidualLossFunction):
    """l = ½r² if |r| ≤ δ else δ(|r| − ½δ), r = y − t;  ∂l/∂y = clip(r, −δ, δ). Quadratic near 0,
    linear (robust to outliers) beyond δ, continuous with a continuous derivative at |r| = δ."""

    def __init__(self, delta=1.0, reduction="mean"):
        super().__init__(reduction)
        self.delta = checks.finite_number(self.name, "delta", delta, "(0, inf)")

    def f(self, xp, r):
        a, d = xp.abs(r), self.delta
        return xp.where(a <= d, 0.5 * r * r, d * (a - 0.5 * d))

    def df(self, xp, r): return xp.clip(r, -self.delta, self.delta)


class QuantileLossFunction(ResidualLossFunction):
    """τ-quantile (pinball) loss: l = (1−τ)·max(y−t, 0) + τ·max(t−y, 0);
    ∂l/∂y = 1−τ if y > t else −τ. Its minimiser over y is the τ-quantile of t."""

    def __init__(self, tau=0.5, reduction="mean"):
        super().__init__(reduction)
        self.tau = checks.finite_number(self.name, "tau", tau, "(0, 1)")

    def f(self, xp, r): return xp.maximum((1 - self.tau) * r, -self.tau * r)
    def df(self, xp, r): return (r > 0).astype(r.dtype) - self.tau


class EpsilonInsensitiveLossFunction(ResidualLossFunction):
    """ε-insensitive loss (support-vector regression): l = max(|t − y| − ε, 0);
    ∂l/∂y = sign(y − t) if |y − t| > ε else 0 (no penalty inside the tube)."""

    def __init__(self, epsilon=0.1, reduction="mean"):
        super().__init__(reduction)
        self.epsilon = checks.finite_number(self.name, "epsilon", epsilon, "[0, inf)")

    def f(self, xp, r): return xp.maximum(xp.abs(r) - self.epsilon, 0)
    def df(self, xp, r): return xp.sign(r) * (xp.abs(r) > self.epsilon)


class LogisticLossFunction(MarginLossFunction):
    """Logistic loss: l = ln(1 + e^(−m)), m = t·y, evaluated as max(−m, 0) + ln(1 + e^(−|m|)) so it
    never overflows;  ∂l/∂m = −σ(−m)."""

    def f(self, xp, m): return xp.maximum(-m, 0) + xp.log1p(xp.exp(-xp.abs(m)))
    def df(self, xp, m): return -sigmoid_array(xp, -m)


class ExponentialLossFunction(MarginLossFunction):
    """Exponential (AdaBoost) loss: l = e^(−m), m = t·y;  ∂l/∂m = −e^(−m)."""

    def f(self, xp, m): return xp.exp(-m)
    def df(self, xp, m): return -xp.exp(-m)


class HingeLossFunction(MarginLossFunction):
    """Hinge loss: l = max(1 − m, 0), m = t·y;  ∂l/∂m = −1 if m < 1 else 0."""

    def f(self, xp, m): return xp.maximum(1 - m, 0)
    def df(self, xp, m): return -(m < 1).astype(m.dtype)


class BinaryCrossEntropyFunction(LossFunction):
    """Binary cross-entropy from probabilities: l = −[t ln p + (1−t) ln(1−p)], p = clip(y, ε, 1−ε);
    ∂l/∂y = (p − t) / (p(1−p)) inside [ε, 1−ε], 0 where the clip is active;
    ∂l/∂t = ln(1−p) − ln p. The clip keeps the loss finite at y = 0 and y = 1."""

    def __init__(self, eps=1e-7, reduction="mean"):
        super().__init__(reduction)
        self.eps = checks.finite_number(self.name, "eps", eps, "(0, 0.5)")

    def targets(self, xp, y, t):
        t = super().targets(xp, y, t)
        if _checked_on(xp) and y.size:
            _require(0 <= y.min() and y.max() <= 1, self.name,
                     "predictions must be probabilities in [0, 1] (for logits use BCEWithLogitsLoss)", y)
        if _constant_targets_checked(self, xp, t):
            _require(0 <= t.min() and t.max() <= 1, self.name, "targets must lie in [0, 1]", t)
        return t

    def value(self, xp, y, t):
        self.inside = (y >= self.eps) & (y <= 1 - self.eps)
        self.p, self.t = xp.clip(y, self.eps, 1 - self.eps), t
        return -(t * xp.log(self.p) + (1 - t) * xp.log1p(-self.p))

    def grad_y(self, xp):
        p = self.p
        return (p - self.t) / (p * (1 - p)) * self.inside

    def grad_t(self, xp):
        return xp.log1p(-self.p) - xp.log(self.p)


class BCEWithLogitsLossFunction(LossFunction):
    """Binary cross-entropy from logits x: l = −[t ln σ(x) + (1−t) ln(1−σ(x))], evaluated as
    (1−t)·max(x, 0) + t·max(−x, 0) + ln(1 + e^(−|x|)): a sum of non-negative terms, so neither e^x
    overflows nor anything cancels (max(x, 0) − x·t would lose the rounding of x·t, 5e-4 at x = 1e4 in
    float32, from a small loss);  ∂l/∂x = σ(x) − t,  ∂l/∂t = −x."""

    def targets(self, xp, y, t):
        t = super().targets(xp, y, t)
        if _constant_targets_checked(self, xp, t):
            _require(0 <= t.min() and t.max() <= 1, self.name, "targets must lie in [0, 1]", t)
        return t

    def value(self, xp, y, t):
        self.x, self.t = y, t
        return (1 - t) * xp.maximum(y, 0) + t * xp.maximum(-y, 0) + xp.log1p(xp.exp(-xp.abs(y)))

    def grad_y(self, xp): return sigmoid_array(xp, self.x) - self.t
    def grad_t(self, xp): return -self.x


@fused("raw T x, raw L t, int32 C", "T loss, T m, T ls", """
    const ptrdiff_t row = i * C;
    T top = x[row];
    for (int c = 1; c < C; ++c) top = max(top, x[row + c]);
    T s = 0;
    for (int c = 0; c < C; ++c) s += exp(x[row + c] - top);
    m = top;
    ls = log(s);
    loss = (0 <= t[i] && t[i] < C) ? (top - x[row + t[i]]) + ls : (T)nan("");
    """, "dlcore_softmax_ce")
def _softmax_ce(xp, x, t, C, loss, m, ls):
    """Per row r of logits x (N, C) with label t_r: m_r = max_c x_rc, ls_r = ln Σ_c e^(x_rc − m_r), and
    loss_r = (m_r − x_r,t_r) + ls_r (= −ln softmax(x_r)_t_r); written into ``loss``, ``m`` and ``ls``.

    Not as lse_r − x_r,t_r with lse_r = m_r + ls_r: at logits of magnitude M, lse_r carries an
    absolute rounding error of half an ulp of M (5e-4 at 1e4 in float32), which that difference
    keeps while cancelling the rest; m_r − x_r,t_r is exact for logits within a factor 2 of each other.
    A label outside [0, C) gives loss_r = NaN (no logit is read for it): on the device, where
    labels are not checked, the loss says so at log time instead of reading another row's logit.
    """
    m[...] = x.max(axis=1)
    shifted = x - m[:, None]
    ls[...] = xp.log(xp.exp(shifted).sum(axis=1))
    valid = (t >= 0) & (t < C)
    picked = shifted[xp.arange(x.shape[0]), xp.where(valid, t, 0)]
    loss[...] = xp.where(valid, ls - picked, xp.nan)
    return loss, m, ls


@fused("T x, raw T m, raw T ls, raw L t, raw T g, T scale, int32 C, int32 per_row", "T gx", """
    const ptrdiff_t r = i / C;
    const T onehot = (i % C) == t[r] ? (T)1 : (T)0;
    gx = (exp((x - m[r]) - ls[r]) - onehot) * (g[per_row ? r : 0] * scale);
    """, "dlcore_softmax_ce_grad")
def _softmax_ce_grad(xp, x, m, ls, t, g, scale, C, per_row):
    """∂L/∂x = (softmax(x) − onehot(t)) · g · scale, with softmax(x)_rc = e^((x_rc − m_r) − ls_r) (m and ls
    from ``_softmax_ce``; x_rc − m_r is exact, where x_rc − (m_r + ls_r) would carry the rounding of
    m_r + ls_r); g is one value (reductions "mean"/"sum") or one per row (``per_row``, reduction "none").
    A label outside [0, C) has an all-zero one-hot row, as in the CUDA body (its loss is already NaN)."""
    gx = xp.exp((x - m[:, None]) - ls[:, None])
    valid = (t >= 0) & (t < C)
    gx[xp.arange(x.shape[0]), xp.where(valid, t, 0)] -= valid
    return gx * ((g[:, None] if per_row else g) * scale)


class CrossEntropyLossFunction(LossFunction):
    """Multi-class cross-entropy from logits y of shape (N, C), per sample: L = −Σ_c t_c ln softmax(y)_c,
    with ln softmax computed stably (max subtracted). Targets: integer labels of shape (N,)
    (then L = −ln softmax(y)_label = (max y − y_label) + ln Σ_c e^(y_c − max y), one fused kernel each way on CuPy)
    or one-hot/probability rows of shape (N, C).
    ∂L/∂y = softmax(y)·Σ_c t_c − t (= softmax(y) − t for rows that sum to 1);  ∂L/∂t = −ln softmax(y).
    """

    per_sample = True

    def targets(self, xp, y, t):
        shape, dtype = _shape(t), getattr(t, "dtype", type(t).__name__)
        if y.ndim == 2 and shape == y.shape[:1] and getattr(dtype, "kind", None) in ("i", "u"):
            if _checked_on(xp) and t.size:
                _require(0 <= t.min() and t.max() < y.shape[1], self.name,
                         f"class labels must lie in [0, {y.shape[1]}) for logits of shape {y.shape}", t)
            return t
        if y.ndim == 2 and shape == y.shape:
            return xp.asarray(t, dtype=y.dtype)
        raise checks.ShapeError(f"{self.name}: needs logits of shape (N, C) and targets of shape (N,) (integer "
                                f"labels) or (N, C) (one-hot/probability rows); got logits of shape {y.shape} and "
                                f"targets of shape {shape} and dtype {dtype}")

    def value(self, xp, y, t):
        self.y, self.t = xp.ascontiguousarray(y), t
        if t.ndim == 1:
            n = y.shape[0]
            loss, self.m, self.ls = _softmax_ce(xp, self.y, t, y.shape[1], *(xp.empty(n, y.dtype) for _ in range(3)))
            return loss
        self.logp = log_softmax_array(xp, y, axis=1)
        return -(t * self.logp)

    def backward(self, xp, g):
        if self.t.ndim == 2:
            return super().backward(xp, g)
        scale = 1.0 / self.n if self.reduction == "mean" else 1.0
        gy = _softmax_ce_grad(xp, self.y, self.m, self.ls, self.t, g, scale, self.y.shape[1], int(g.ndim == 1))
        return gy, None  # integer labels have no gradient

    def grad_y(self, xp):
        return xp.exp(self.logp) * self.t.sum(axis=1, keepdims=True) - self.t

    def grad_t(self, xp):
        return -self.logp


def sum_squared_error(y, t, reduction="mean"):
    """½ Σ (y − t)² per sample (sum over the non-batch axes), then the batch mean (or "sum"/"none")."""
    return SumSquaredErrorFunction(reduction)(y, t)


def mse_loss(y, t, reduction="mean"):
    """Mean squared error: mean of (y − t)² over all elements (or "sum"/"none")."""
    return MSELossFunction(reduction)(y, t)


def mae_loss(y, t, reduction="mean"):
    """Mean absolute error: mean of |y − t| over all elements (or "sum"/"none")."""
    return MAELossFunction(reduction)(y, t)


def cross_entropy(y, t, reduction="mean"):
    """−Σ_c t_c ln softmax(y)_c per sample from logits y (N, C); t integer labels (N,) or rows (N, C)."""
    return CrossEntropyLossFunction(reduction)(y, t)


def binary_cross_entropy(y, t, eps=1e-7, reduction="mean"):
    """−[t ln p + (1−t) ln(1−p)] elementwise from probabilities, p = clip(y, eps, 1−eps)."""
    return BinaryCrossEntropyFunction(eps, reduction)(y, t)


def bce_with_logits(y, t, reduction="mean"):
    """Binary cross-entropy of σ(y) against t, computed stably as (1−t)·max(y,0) + t·max(−y,0) + ln(1+e^(−|y|))."""
    return BCEWithLogitsLossFunction(reduction)(y, t)


def logistic_loss(y, t, reduction="mean"):
    """ln(1 + e^(−t·y)) elementwise, t ∈ {−1, +1}, computed without overflow."""
    return LogisticLossFunction(reduction)(y, t)


def exponential_loss(y, t, reduction="mean"):
    """e^(−t·y) elementwise, t ∈ {−1, +1}."""
    return ExponentialLossFunction(reduction)(y, t)


def hinge_loss(y, t, reduction="mean"):
    """max(1 − t·y, 0) elementwise, t ∈ {−1, +1}."""
    return HingeLossFunction(reduction)(y, t)


def quantile_loss(y, t, tau=0.5, reduction="mean"):
    """(1−τ)·max(y−t, 0) + τ·max(t−y, 0) elementwise."""
    return QuantileLossFunction(tau, reduction)(y, t)


def huber_loss(y, t, delta=1.0, reduction="mean"):
    """½r² if |r| ≤ δ else δ(|r| − ½δ) elementwise, r = y − t."""
    return HuberLossFunction(delta, reduction)(y, t)


def epsilon_insensitive_loss(y, t, epsilon=0.1, reduction="mean"):
    """max(|t − y| − ε, 0) elementwise."""
    return EpsilonInsensitiveLossFunction(epsilon, reduction)(y, t)
