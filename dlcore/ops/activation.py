"""Activation functions, each a Function with a hand-derived backward.

All are numerically stable for large |x|: sigmoid and softplus never exponentiate a
positive number, softmax subtracts the row maximum first.
"""
from __future__ import annotations

from backends.fused import fused
from dlcore import checks
from dlcore.core import Function

# The elementwise bodies below run as written on NumPy and as one fused kernel each on CuPy.


@fused("T x", "T y", "T z = exp(-fabs(x)); y = x >= 0 ? (T)1 / (1 + z) : z / (1 + z)", "dlcore_sigmoid")
def sigmoid_array(xp, x):
    """σ(x) = 1/(1+e⁻ˣ), evaluated with e^(−|x|) ≤ 1 so neither tail overflows or loses digits."""
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


@fused("T gy, T y", "T gx", "gx = gy * y * (1 - y)", "dlcore_sigmoid_grad")
def _sigmoid_grad(xp, gy, y):
    """g·y(1−y)."""
    return gy * y * (1 - y)


@fused("T gy, T y", "T gx", "gx = gy * (1 - y * y)", "dlcore_tanh_grad")
def _tanh_grad(xp, gy, y):
    """g·(1−y²)."""
    return gy * (1 - y * y)


@fused("T x", "T y", "y = max(x, (T)0) + log1p(exp(-fabs(x)))", "dlcore_softplus")
def softplus_array(xp, x):
    """max(x, 0) + ln(1 + e^(−|x|))."""
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


@fused("T gy, T x", "T gx", "T z = exp(-fabs(x)); gx = gy * (x >= 0 ? (T)1 / (1 + z) : z / (1 + z))",
       "dlcore_softplus_grad")
def _softplus_grad(xp, gy, x):
    """g·σ(x)."""
    return gy * sigmoid_array(xp, x)


@fused("T gy, T y", "T gx", "gx = y > 0 ? gy : (T)0", "dlcore_relu_grad")
def _relu_grad(xp, gy, y):
    """g·[y > 0]."""
    return gy * (y > 0)


@fused("T x, T alpha", "T y", "y = x > 0 ? x : alpha * x", "dlcore_leaky_relu")
def _leaky_relu(xp, x, alpha):
    """x if x > 0 else αx."""
    return xp.where(x > 0, x, alpha * x)


@fused("T gy, T x, T alpha", "T gx", "gx = x > 0 ? gy : alpha * gy", "dlcore_leaky_relu_grad")
def _leaky_relu_grad(xp, gy, x, alpha):
    """g if x > 0 else αg."""
    return xp.where(x > 0, gy, alpha * gy)


@fused("T x, T alpha", "T y", "y = x > 0 ? x : alpha * expm1(x)", "dlcore_elu")
def _elu(xp, x, alpha):
    """x if x > 0 else α(eˣ−1) (eˣ−1 taken at min(x, 0) so the unused branch cannot overflow)."""
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0)))


@fused("T gy, T x, T y, T alpha", "T gx", "gx = x > 0 ? gy : gy * (y + alpha)", "dlcore_elu_grad")
def _elu_grad(xp, gy, x, y, alpha):
    """g if x > 0 else g·(y + α)."""
    return xp.where(x > 0, gy, gy * (y + alpha))


@fused("T x, T beta", "T y, T s",
       "T bx = beta * x; T z = exp(-fabs(bx)); s = bx >= 0 ? (T)1 / (1 + z) : z / (1 + z); y = x * s",
       "dlcore_swish")
def _swish(xp, x, beta):
    """(x·σ(βx), σ(βx))."""
    s = sigmoid_array(xp, beta * x)
    return x * s, s


@fused("T gy, T y, T s, T beta", "T gx", "T by = beta * y; gx = gy * (by + s * (1 - by))", "dlcore_swish_grad")
def _swish_grad(xp, gy, y, s, beta):
    """g·(βy + s(1−βy))."""
    by = beta * y
    return gy * (by + s * (1 - by))


class StepFunction(Function):
    """y = 1 if x > 0 else 0 (the perceptron's activation); its gradient is zero everywhere."""

    def forward(self, xp, x):
        self.shape, self.dtype = x.shape, x.dtype
        return (x > 0).astype(x.dtype)

    def backward(self, xp, gy):
        return xp.zeros(self.shape, self.dtype)


class SigmoidFunction(Function):
    """y = σ(x) = 1/(1+e⁻ˣ);  ∂y/∂x = y(1−y)."""

    def forward(self, xp, x):
        self.y = sigmoid_array(xp, x)
        return self.y

    def backward(self, xp, gy):
        return _sigmoid_grad(xp, gy, self.y)


class TanhFunction(Function):
    """y = tanh x;  ∂y/∂x = 1 − y²."""

    def forward(self, xp, x):
        self.y = xp.tanh(x)
        return self.y

    def backward(self, xp, gy):
        return _tanh_grad(xp, gy, self.y)


class SoftplusFunction(Function):
    """y = ln(1+eˣ) = max(x,0) + ln(1+e^(−|x|));  ∂y/∂x = σ(x)."""

    def forward(self, xp, x):
        self.x = x
        return softplus_array(xp, x)

    def backward(self, xp, gy):
        return _softplus_grad(xp, gy, self.x)


class ReLUFunction(Function):
    """y = max(x, 0);  ∂y/∂x = 1 if x > 0 else 0."""

    def forward(self, xp, x):
        self.y = xp.maximum(x, 0)
        return self.y

    def backward(self, xp, gy):
        return _relu_grad(xp, gy, self.y)


class LeakyReLUFunction(Function):
    """y = x if x > 0 else αx;  ∂y/∂x = 1 if x > 0 else α."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, xp, x):
        self.x = x
        return _leaky_relu(xp, x, self.alpha)

    def backward(self, xp, gy):
        return _leaky_relu_grad(xp, gy, self.x, self.alpha)


class PReLUFunction(Function):
    """y = x if x > 0 else a·x with a learned slope ``a`` of size 1 or one per channel (axis 1);
    ∂y/∂x = 1 or a;  ∂y/∂a = Σ x over the entries with x ≤ 0."""

    def forward(self, xp, x, a):
        if a.size != 1 and (x.ndim < 2 or x.shape[1] != a.size):
            raise checks.ShapeError(f"PReLU has {a.size} slopes but the input has shape {x.shape}; "
                                    f"use num_parameters=1 or the channel count (axis 1)")
        self.x = x
        self.a_shape = a.shape
        self.a = a.reshape((1, -1) + (1,) * (x.ndim - 2)) if a.size != 1 else a.reshape(())
        return xp.where(x > 0, x, self.a * x)

    def backward(self, xp, gy):
        x = self.x
        gx = xp.where(x > 0, gy, self.a * gy) if self.needs_input_grad[0] else None
        ga = None
        if self.needs_input_grad[1]:
            contrib = xp.where(x > 0, 0, x * gy)
            axes = tuple(i for i in range(x.ndim) if i != 1) if self.a.ndim else None
            ga = contrib.sum(axis=axes).reshape(self.a_shape)
        return gx, ga


class ELUFunction(Function):
    """y = x if x > 0 else α(eˣ−1);  ∂y/∂x = 1 if x > 0 else y + α."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, xp, x):
        self.x = x
        self.y = _elu(xp, x, self.alpha)
        return self.y

    def backward(self, xp, gy):
        return _elu_grad(xp, gy, self.x, self.y, self.alpha)


class SwishFunction(Function):
    """y = x·σ(βx);  ∂y/∂x = σ(βx) + βx·σ(βx)(1−σ(βx)) = βy + σ(βx)(1−βy)."""

    def __init__(self, beta):
        self.beta = beta

    def forward(self, xp, x):
        self.y, self.s = _swish(xp, x, self.beta)
        return self.y

    def backward(self, xp, gy):
        return _swish_grad(xp, gy, self.y, self.s, self.beta)


class SoftmaxFunction(Function):
    """yᵢ = e^(xᵢ−m) / Σⱼ e^(xⱼ−m) along ``axis`` (m = max x);  ∂L/∂x = y ⊙ (g − Σ g⊙y)."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, xp, x):
        e = xp.exp(x - x.max(axis=self.axis, keepdims=True))
        self.y = e / e.sum(axis=self.axis, keepdims=True)
        return self.y

    def backward(self, xp, gy):
        y = self.y
        return y * (gy - (gy * y).sum(axis=self.axis, keepdims=True))


def log_softmax_array(xp, x, axis):
    """ln softmax(x) = x − m − ln Σ e^(x−m) (m = max x), stable for any logits."""
    shifted = x - x.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    """y = ln softmax(x) along ``axis``;  ∂L/∂x = g − softmax(x)·Σ g."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, xp, x):
        self.y = log_softmax_array(xp, x, self.axis)
        return self.y

    def backward(self, xp, gy):
        return gy - xp.exp(self.y) * gy.sum(axis=self.axis, keepdims=True)


def step(x): return StepFunction()(x)
def sigmoid(x): return SigmoidFunction()(x)
def tanh(x): return TanhFunction()(x)
def softplus(x): return SoftplusFunction()(x)
def relu(x): return ReLUFunction()(x)
def leaky_relu(x, alpha=0.01): return LeakyReLUFunction(checks.finite_number("leaky_relu", "alpha", alpha))(x)
def prelu(x, a): return PReLUFunction()(x, checks.array("prelu", "a", a))
def elu(x, alpha=1.0): return ELUFunction(checks.finite_number("elu", "alpha", alpha))(x)
def swish(x, beta=1.0): return SwishFunction(checks.finite_number("swish", "beta", beta))(x)
def softmax(x, axis=-1): return SoftmaxFunction(_axis("softmax", x, axis))(x)
def log_softmax(x, axis=-1): return LogSoftmax(_axis("log_softmax", x, axis))(x)


def _axis(owner: str, x, axis) -> int:
    """``axis`` as an int that names an axis of x (−ndim ≤ axis < ndim), else the error naming ``owner``."""
    axis, ndim = checks.integer(owner, "axis", axis), checks.array(owner, "x", x).ndim
    if not -ndim <= axis < ndim:
        raise checks.ArgumentValueError(f"{owner}: axis must be in [-{ndim}, {ndim}) for x of shape "
                                        f"{tuple(x.shape)}, got {axis}")
    return axis


def identity(x):
    """y = x (the identity activation); returns its input unchanged."""
    return x
