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

import numpy

from backends.fused import fused
from dlcore import checks
from dlcore.core import Function, Tensor
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
        self.n = (l.shape[0] if l.ndim else 1) if self.per_sample or self.reduction == "batchmean" else l.size
        if self.reduction == "sum":
            return l.sum()
        return l.mean() if l.size == self.n else l.sum() / self.n

    def backward(self, xp, g):
        if self.reduction in ("mean", "batchmean"):
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


def _class_rows(xp, y):
    """Logits or log-probabilities y of shape (N, C) or (N, C, d1, …) as rows (R, C), R = N·d1·…, C-contiguous."""
    return xp.ascontiguousarray(y if y.ndim == 2 else xp.moveaxis(y, 1, -1).reshape(-1, y.shape[1]))


def _class_layout(xp, g, shape):
    """Rows (R, C) back in the layout (N, C, d1, …) of ``shape``, the inverse of ``_class_rows``."""
    if len(shape) == 2:
        return g
    return xp.moveaxis(g.reshape((shape[0],) + shape[2:] + (shape[1],)), -1, 1)


class ClassLossFunction(LossFunction):
    """Base of the losses over a class axis (cross-entropy, NLL), in PyTorch's layout and definitions.

    y has shape (N, C) or (N, C, d1, …) (class axis 1, e.g. (N, C, H, W) for segmentation); targets are
    integer labels of shape (N,) or (N, d1, …), or (cross-entropy only) probability rows of y's shape.
    Each of the R = N·d1·… positions r is one sample. With labels t_r, ``weight`` w (one per class,
    default all 1) and ``ignore_index`` (a label that counts for nothing), the weight of position r is
    ω_r = w_(t_r)·[t_r ≠ ignore_index]; "mean" divides the sum of the losses by Σ_r ω_r (PyTorch's
    weighted mean: NaN when every target is ignored), "sum" sums them, "none" gives them in the
    shape (N, d1, …). Probability targets have no ignore_index; their "mean" divides by R. ``weight`` is
    copied to the logits' device at each call unless it is already there (an array of that backend).
    """

    def __init__(self, weight=None, ignore_index=-100, reduction="mean"):
        super().__init__(reduction)
        weight = weight.data if isinstance(weight, Tensor) else weight  # an array stays where it is
        self.weight = weight if weight is None or hasattr(weight, "shape") else numpy.asarray(weight, float)
        if self.weight is not None and (self.weight.ndim != 1 or self.weight.dtype.kind not in "fiu"):
            raise checks.ArgumentValueError(f"{self.name}: weight must be one number per class, shape (C,), got "
                                            f"shape {self.weight.shape} and dtype {self.weight.dtype}")
        self.ignore_index = checks.integer(self.name, "ignore_index", ignore_index)

    def labels(self, xp, y, t) -> bool:
        """Check the shapes of y and t; True when t holds class labels (False: probability rows)."""
        shape, dtype = _shape(t), getattr(t, "dtype", type(t).__name__)
        if y.ndim >= 2 and self.weight is not None and self.weight.shape[0] != y.shape[1]:
            raise checks.ShapeError(f"{self.name}: weight has {self.weight.shape[0]} entries for logits of shape "
                                    f"{y.shape} ({y.shape[1]} classes)")
        if y.ndim >= 2 and shape == y.shape[:1] + y.shape[2:] and getattr(dtype, "kind", None) in ("i", "u"):
            if _checked_on(xp) and t.size:
                kept = t[t != self.ignore_index]
                if kept.size:
                    _require(0 <= kept.min() and kept.max() < y.shape[1], self.name,
                             f"class labels must lie in [0, {y.shape[1]}) for {self.what} of shape {y.shape}", kept)
            return True
        if self.probabilities and y.ndim >= 2 and shape == y.shape:
            return False
        rows = " or (N, C) (one-hot/probability rows)" if self.probabilities else ""
        same = " or of the same shape" if self.probabilities else ""
        raise checks.ShapeError(f"{self.name}: needs {self.what} of shape (N, C) and targets of shape (N,) (integer "
                                f"labels){rows}, or {self.what} of shape (N, C, d1, …) and targets (N, d1, …){same}; "
                                f"got {self.what} of shape {y.shape} and targets of shape {shape} and dtype {dtype}")

    def row_weights(self, xp, t, dtype):
        """(labels with the ignored ones replaced by 0, ω_r per row, the class weights w on y's device or None)."""
        kept = t != self.ignore_index
        safe = xp.where(kept, t, 0)
        w = None if self.weight is None else xp.asarray(self.weight, dtype=dtype)
        return safe, (kept.astype(dtype) if w is None else w[safe] * kept), w

    def reduce(self, xp, loss, omega, out_shape):
        """The per-row losses reduced; saves the scale 1/Σω (mean) for backward."""
        if self.reduction == "none":
            return loss.reshape(out_shape)
        if self.reduction == "sum":
            self.scale = 1
            return loss.sum()
        self.scale = 1 / omega.sum()
        return loss.sum() * self.scale

    def row_grad(self, xp, g):
        """The incoming gradient per row: g (one per row for "none") times the scale of the reduction."""
        return g.reshape(-1) if self.reduction == "none" else g * self.scale


class CrossEntropyLossFunction(ClassLossFunction):
    """Multi-class cross-entropy from logits y (class axis 1), PyTorch's ``cross_entropy``; see
    ``ClassLossFunction`` for layouts, ``weight``, ``ignore_index`` and the reductions.

    Labels, with p_r = softmax(y_r), ω_r as in ClassLossFunction, ε = ``label_smoothing`` and W = Σ_c w_c:
    L_r = (1−ε)·ω_r·(−ln p_r,t_r) + (ε/C)·[t_r ≠ ignore]·Σ_c w_c·(−ln p_rc) (the target mixed with the uniform
    distribution, each class weighted); −ln p_rc = (m_r + ls_r) − y_rc with m_r = max_c y_rc and
    ls_r = ln Σ_c e^(y_rc − m_r) (one fused kernel each way on CuPy for the first term);
    ∂L_r/∂y_rk = a_r·(p_rk − [k = t_r]) + b_r·(W·p_rk − w_k), a_r = (1−ε)·ω_r, b_r = (ε/C)·[t_r ≠ ignore].

    Probability (or one-hot) rows t_r: t′ = (1−ε)·t + ε/C, L_r = −Σ_c w_c·t′_rc·ln p_rc;
    ∂L_r/∂y_r = p_r·Σ_c w_c t′_rc − w⊙t′_r;  ∂L_r/∂t_r = −(1−ε)·w⊙ln p_r. "mean" divides by R.
    """

    probabilities, what = True, "logits"

    def __init__(self, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index, reduction)
        self.label_smoothing = checks.finite_number(self.name, "label_smoothing", label_smoothing, "[0, 1]")

    def forward(self, xp, y, t):
        if y.dtype.kind != "f":
            return super().forward(xp, y, t)  # the base class's error for integer logits
        self.shape, out_shape = y.shape, y.shape[:1] + y.shape[2:]
        x, C, eps = _class_rows(xp, y), y.shape[1], self.label_smoothing
        if not self.labels(xp, y, t):
            return self._forward_soft(xp, x, xp.asarray(t, dtype=y.dtype), out_shape)
        self.t, omega, self.w = self.row_weights(xp, t.reshape(-1), y.dtype)
        n = x.shape[0]
        loss, self.m, self.ls = _softmax_ce(xp, x, self.t, C, *(xp.empty(n, y.dtype) for _ in range(3)))
        self.x, self.a = x, omega if eps == 0 else (1 - eps) * omega
        loss = loss * self.a
        if eps:
            kept = (t.reshape(-1) != self.ignore_index).astype(y.dtype)
            self.b = (eps / C) * kept
            lse = self.m + self.ls
            # (x·w).sum, not x @ w: a GEMV would be a cuBLAS call, which a CUDA-graph capture refuses
            smooth = lse * C - x.sum(axis=1) if self.w is None else lse * self.w.sum() - (x * self.w).sum(axis=1)
            loss = loss + self.b * smooth
        return self.reduce(xp, loss, omega, out_shape)

    def _forward_soft(self, xp, x, t, out_shape):
        t = _class_rows(xp, t)
        if self.label_smoothing:
            t = (1 - self.label_smoothing) * t + self.label_smoothing / x.shape[1]
        self.w = None if self.weight is None else xp.asarray(self.weight, dtype=x.dtype)
        self.x, self.soft = x, t if self.w is None else t * self.w
        self.logp = log_softmax_array(xp, x, axis=1)
        loss = -(self.soft * self.logp).sum(axis=1)
        return self.reduce(xp, loss, xp.asarray(float(x.shape[0]), x.dtype), out_shape)

    def backward(self, xp, g):
        g = self.row_grad(xp, g)
        if hasattr(self, "logp"):
            gx = xp.exp(self.logp) * self.soft.sum(axis=1, keepdims=True) - self.soft
            gt = None
            if self.needs_input_grad[1]:
                gt = -(1 - self.label_smoothing) * self.logp * (1 if self.w is None else self.w)
                gt = _class_layout(xp, gt * g.reshape(-1, 1) if g.ndim else gt * g, self.shape)
            gx = gx * g.reshape(-1, 1) if g.ndim else gx * g
            return _class_layout(xp, gx, self.shape), gt
        row = self.a * g
        gx = _softmax_ce_grad(xp, self.x, self.m, self.ls, self.t, row, 1.0, self.x.shape[1], 1)
        if self.label_smoothing:
            p = xp.exp((self.x - self.m[:, None]) - self.ls[:, None])
            w = 1 if self.w is None else self.w
            total = self.x.shape[1] if self.w is None else self.w.sum()
            gx = gx + (self.b * g)[:, None] * (total * p - w)
        return _class_layout(xp, gx, self.shape), None  # integer labels have no gradient


class NLLLossFunction(ClassLossFunction):
    """Negative log-likelihood of log-probabilities y (class axis 1), PyTorch's ``nll_loss``:
    L_r = −ω_r·y_r,t_r (ω_r = w_(t_r)·[t_r ≠ ignore_index]); ∂L_r/∂y_rk = −ω_r·[k = t_r]. Labels only;
    see ``ClassLossFunction`` for layouts and reductions (a weighted mean divides by Σ_r ω_r). On the
    device, where labels are not checked, a label outside [0, C) gives its row a NaN loss and no gradient,
    as cross-entropy's kernel does, instead of reading another class."""

    probabilities, what = False, "log-probabilities"

    def forward(self, xp, y, t):
        if y.dtype.kind != "f":
            return super().forward(xp, y, t)
        self.labels(xp, y, t)
        self.shape, x, labels = y.shape, _class_rows(xp, y), t.reshape(-1)
        outside = (labels != self.ignore_index) & ((labels < 0) | (labels >= y.shape[1]))
        self.t, omega, _ = self.row_weights(xp, xp.where(outside, 0, labels), y.dtype)
        loss = xp.where(outside, xp.nan, -x[xp.arange(x.shape[0]), self.t] * omega)
        self.omega = omega * ~outside
        return self.reduce(xp, loss, omega, y.shape[:1] + y.shape[2:])

    def backward(self, xp, g):
        rows = self.shape[0] * int(numpy.prod(self.shape[2:]))
        gx = xp.zeros((rows, self.shape[1]), dtype=self.omega.dtype)
        gx[xp.arange(rows), self.t] = -self.omega * self.row_grad(xp, g)
        return _class_layout(xp, gx, self.shape), None


class KLDivLossFunction(LossFunction):
    """Kullback–Leibler divergence, PyTorch's ``kl_div``: input y = log-probabilities ln q, target t the
    probabilities p (``log_target=True``: t = ln p). Elementwise l = p·(ln p − y), 0 where p = 0:
    l = t·(ln t − y) (t > 0), or e^t·(t − y) (log_target);  ∂l/∂y = −p;  ∂l/∂t = ln t + 1 − y, or
    e^t·(t − y + 1). Reductions as the elementwise losses, plus "batchmean": the sum divided by the batch
    size N = y.shape[0] (the true KL divergence per sample; "mean" divides by every element, as PyTorch).
    """

    REDUCTIONS = (*REDUCTIONS, "batchmean")

    def __init__(self, reduction="mean", log_target=False):
        self.reduction = checks.choice(self.name, "reduction", reduction, self.REDUCTIONS)
        self.log_target = checks.flag(self.name, "log_target", log_target)

    def targets(self, xp, y, t):
        t = super().targets(xp, y, t)
        if not self.log_target and _constant_targets_checked(self, xp, t):
            _require(0 <= t.min(), self.name, "targets must be probabilities ≥ 0 (for log-probabilities pass "
                                              "log_target=True)", t)
        return t

    def value(self, xp, y, t):
        self.y, self.t = y, t
        if self.log_target:
            self.p = xp.exp(t)
            return self.p * (t - y)
        self.p = t
        return xp.where(t > 0, t * (xp.log(xp.where(t > 0, t, 1)) - y), 0)

    def grad_y(self, xp):
        return -self.p

    def grad_t(self, xp):
        return self.p * (self.t - self.y + 1) if self.log_target else xp.log(self.t) + 1 - self.y


def sum_squared_error(y, t, reduction="mean"):
    """½ Σ (y − t)² per sample (sum over the non-batch axes), then the batch mean (or "sum"/"none")."""
    return SumSquaredErrorFunction(reduction)(y, t)


def mse_loss(y, t, reduction="mean"):
    """Mean squared error: mean of (y − t)² over all elements (or "sum"/"none")."""
    return MSELossFunction(reduction)(y, t)


def mae_loss(y, t, reduction="mean"):
    """Mean absolute error: mean of |y − t| over all elements (or "sum"/"none")."""
    return MAELossFunction(reduction)(y, t)


def cross_entropy(y, t, reduction="mean", weight=None, ignore_index=-100, label_smoothing=0.0):
    """−Σ_c t_c ln softmax(y)_c per sample from logits y (N, C) or (N, C, d1, …); t integer labels (N,) or
    (N, d1, …), or probability rows of y's shape; PyTorch's class ``weight``, ``ignore_index`` and
    ``label_smoothing`` (see CrossEntropyLossFunction)."""
    return CrossEntropyLossFunction(weight, ignore_index, reduction, label_smoothing)(y, t)


def nll_loss(y, t, reduction="mean", weight=None, ignore_index=-100):
    """−w_t·y_t per sample from log-probabilities y (N, C) or (N, C, d1, …) and integer labels t
    (see NLLLossFunction)."""
    return NLLLossFunction(weight, ignore_index, reduction)(y, t)


def kl_div(y, t, reduction="mean", log_target=False):
    """KL divergence t·(ln t − y) elementwise from log-probabilities y; "batchmean" divides the sum by N."""
    return KLDivLossFunction(reduction, log_target)(y, t)


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
