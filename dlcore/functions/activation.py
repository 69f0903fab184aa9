"""Activation functions, each a Function with a hand-derived backward.

All are numerically stable for large |x|: sigmoid and softplus never exponentiate a
positive number, softmax subtracts the row maximum first.
"""
from __future__ import annotations

from dlcore.core import Function


def _sigmoid(xp, x):
    """σ(x) = 1/(1+e⁻ˣ), evaluated with e^(−|x|) ≤ 1 so neither tail overflows or loses digits."""
    z = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + z), z / (1 + z))


class Step(Function):
    """y = 1 if x > 0 else 0 (the perceptron's activation); its gradient is zero everywhere."""

    def forward(self, xp, x):
        self.shape, self.dtype = x.shape, x.dtype
        return (x > 0).astype(x.dtype)

    def backward(self, xp, gy):
        return xp.zeros(self.shape, self.dtype)


class Sigmoid(Function):
    """y = σ(x) = 1/(1+e⁻ˣ);  ∂y/∂x = y(1−y)."""

    def forward(self, xp, x):
        self.y = _sigmoid(xp, x)
        return self.y

    def backward(self, xp, gy):
        return gy * self.y * (1 - self.y)


class Tanh(Function):
    """y = tanh x;  ∂y/∂x = 1 − y²."""

    def forward(self, xp, x):
        self.y = xp.tanh(x)
        return self.y

    def backward(self, xp, gy):
        return gy * (1 - self.y * self.y)


class Softplus(Function):
    """y = ln(1+eˣ) = max(x,0) + ln(1+e^(−|x|));  ∂y/∂x = σ(x)."""

    def forward(self, xp, x):
        self.x = x
        return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, xp, gy):
        return gy * _sigmoid(xp, self.x)


class ReLU(Function):
    """y = max(x, 0);  ∂y/∂x = 1 if x > 0 else 0."""

    def forward(self, xp, x):
        self.y = xp.maximum(x, 0)
        return self.y

    def backward(self, xp, gy):
        return gy * (self.y > 0)


class LeakyReLU(Function):
    """y = x if x > 0 else αx;  ∂y/∂x = 1 if x > 0 else α."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, xp, x):
        self.positive = x > 0
        return xp.where(self.positive, x, self.alpha * x)

    def backward(self, xp, gy):
        return xp.where(self.positive, gy, self.alpha * gy)


class PReLU(Function):
    """y = x if x > 0 else a·x with a learned slope ``a`` of size 1 or one per channel (axis 1);
    ∂y/∂x = 1 or a;  ∂y/∂a = Σ x over the entries with x ≤ 0."""

    def forward(self, xp, x, a):
        if a.size != 1 and (x.ndim < 2 or x.shape[1] != a.size):
            raise ValueError(f"PReLU has {a.size} slopes but the input has shape {x.shape}; "
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


class ELU(Function):
    """y = x if x > 0 else α(eˣ−1);  ∂y/∂x = 1 if x > 0 else y + α."""

    def __init__(self, alpha):
        self.alpha = alpha

    def forward(self, xp, x):
        self.positive = x > 0
        self.y = xp.where(self.positive, x, self.alpha * xp.expm1(xp.minimum(x, 0)))
        return self.y

    def backward(self, xp, gy):
        return xp.where(self.positive, gy, gy * (self.y + self.alpha))


class Swish(Function):
    """y = x·σ(βx);  ∂y/∂x = σ(βx) + βx·σ(βx)(1−σ(βx)) = βy + σ(βx)(1−βy)."""

    def __init__(self, beta):
        self.beta = beta

    def forward(self, xp, x):
        self.s = _sigmoid(xp, self.beta * x)
        self.y = x * self.s
        return self.y

    def backward(self, xp, gy):
        by = self.beta * self.y
        return gy * (by + self.s * (1 - by))


class Softmax(Function):
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


def step(x): return Step()(x)
def sigmoid(x): return Sigmoid()(x)
def tanh(x): return Tanh()(x)
def softplus(x): return Softplus()(x)
def relu(x): return ReLU()(x)
def leaky_relu(x, alpha=0.01): return LeakyReLU(alpha)(x)
def prelu(x, a): return PReLU()(x, a)
def elu(x, alpha=1.0): return ELU(alpha)(x)
def swish(x, beta=1.0): return Swish(beta)(x)
def softmax(x, axis=-1): return Softmax(axis)(x)
def log_softmax(x, axis=-1): return LogSoftmax(axis)(x)


def identity(x):
    """y = x (the identity activation); returns its input unchanged."""
    return x
