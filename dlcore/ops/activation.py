"""Activation functions, each a Function with a hand-derived backward.

All are numerically stable for large |x|: sigmoid and softplus never exponentiate a
positive number, softmax subtracts the row maximum first.
"""
from __future__ import annotations

from backends import compiled
from backends.fused import fused
from dlcore import checks
from dlcore.core import Function
from dlcore.ops.layout import flat_views

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


def _erfc(xp, x):
    """erfc(x) = 1 − erf(x) by Numerical Recipes' Chebyshev fit (erfcc): fractional error below 1.2·10⁻⁷
    everywhere, so exact to float32 but not to float64. NumPy has no erf; the CUDA body computes the
    same fit rather than CUDA's erfc, so both backends give the same numbers."""
    z = xp.abs(x)
    t = 1 / (1 + 0.5 * z)
    poly = -1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (
        0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))))
    ans = t * xp.exp(-z * z + poly)
    return xp.where(x >= 0, ans, 2 - ans)


@fused("T x", "T y, T p", """
    const T a = -x * (T)0.7071067811865476, z = fabs(a), t = 1 / (1 + (T)0.5 * z);
    const T poly = (T)-1.26551223 + t * ((T)1.00002368 + t * ((T)0.37409196 + t * ((T)0.09678418 + t * (
        (T)-0.18628806 + t * ((T)0.27886807 + t * ((T)-1.13520398 + t * ((T)1.48851587 + t * ((T)-0.82215223
        + t * (T)0.17087277))))))));
    const T erfc_a = t * exp(-z * z + poly);
    p = (T)0.5 * (a >= 0 ? erfc_a : 2 - erfc_a);
    y = x * p;
    """, "dlcore_gelu")
def _gelu(xp, x):
    """p = Φ(x) = ½ erfc(−x/√2), the standard normal CDF, and y = x·Φ(x)."""
    p = 0.5 * _erfc(xp, -x * 0.7071067811865476)
    return x * p, p


@fused("T gy, T x, T p", "T gx", "gx = gy * (p + x * exp((T)-0.5 * x * x) * (T)0.3989422804014327)",
       "dlcore_gelu_grad")
def _gelu_grad(xp, gy, x, p):
    """g·(Φ(x) + x·φ(x)), φ(x) = e^(−x²/2)/√(2π)."""
    return gy * (p + x * xp.exp(-0.5 * x * x) * 0.3989422804014327)


@fused("T x", "T y, T th", "th = tanh((T)0.7978845608028654 * (x + (T)0.044715 * x * x * x)); "
       "y = (T)0.5 * x * (1 + th)", "dlcore_gelu_tanh")
def _gelu_tanh(xp, x):
    """th = tanh(√(2/π)(x + 0.044715x³)) and y = ½x(1 + th)."""
    th = xp.tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))
    return 0.5 * x * (1 + th), th


@fused("T gy, T x, T th", "T gx", "gx = gy * ((T)0.5 * (1 + th) + (T)0.5 * x * (1 - th * th) * "
       "(T)0.7978845608028654 * (1 + (T)0.134145 * x * x))", "dlcore_gelu_tanh_grad")
def _gelu_tanh_grad(xp, gy, x, th):
    """g·(½(1 + th) + ½x(1 − th²)·√(2/π)(1 + 3·0.044715x²))."""
    return gy * (0.5 * (1 + th) + 0.5 * x * (1 - th * th) * 0.7978845608028654 * (1 + 0.134145 * x * x))


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
        if compiled.runs_on(xp) and gy.dtype == self.y.dtype:
            gx = xp.empty_like(self.y)  # the memory layout of y (NHWC for a convolution's output)
            flat = flat_views(gy, self.y, gx)
            if flat is not None:  # one compiled pass (dlcore.ops.activation_cpu)
                from dlcore.ops import activation_cpu
                activation_cpu.relu_grad(*flat)
                return gx
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


class GELUFunction(Function):
    """Gaussian error linear unit, PyTorch's GELU: y = x·Φ(x) = ½x(1 + erf(x/√2)) (Φ the standard normal
    CDF);  ∂y/∂x = Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π). ``approximate="tanh"``: y = ½x(1 + tanh(u)),
    u = √(2/π)(x + 0.044715x³);  ∂y/∂x = ½(1 + tanh u) + ½x(1 − tanh²u)·√(2/π)(1 + 0.134145x²).
    Φ comes from an erfc fit with fractional error below 1.2·10⁻⁷ (``_erfc``): exact to float32, the same
    numbers on both backends, within about 10⁻⁷ of the exact GELU in float64."""

    def __init__(self, approximate="none"):
        self.approximate = approximate

    def forward(self, xp, x):
        self.x = x
        y, self.saved = (_gelu_tanh if self.approximate == "tanh" else _gelu)(xp, x)
        return y

    def backward(self, xp, gy):
        return (_gelu_tanh_grad if self.approximate == "tanh" else _gelu_grad)(xp, gy, self.x, self.saved)


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
def gelu(x, approximate="none"):
    """x·Φ(x) = ½x(1 + erf(x/√2)), or with ``approximate="tanh"`` ½x(1 + tanh(√(2/π)(x + 0.044715x³)))."""
    return GELUFunction(checks.choice("gelu", "approximate", approximate, ("none", "tanh")))(x)


def softmax(x, axis=None, *, dim=None): return SoftmaxFunction(_axis("softmax", x, axis, dim))(x)
def log_softmax(x, axis=None, *, dim=None): return LogSoftmax(_axis("log_softmax", x, axis, dim))(x)


def _axis(owner: str, x, axis, dim=None) -> int:
    """``axis`` (or ``dim``, PyTorch's name for it; neither: the last axis) as an int that names an axis
    of x (−ndim ≤ axis < ndim), else the error naming ``owner``."""
    if dim is not None:
        if axis is not None:
            raise checks.ArgumentTypeError(f"{owner}: got axis={axis!r} and dim={dim!r}; they are one argument "
                                           f"(NumPy's and PyTorch's name), pass one of them")
        axis = dim
    axis, ndim = checks.integer(owner, "axis", -1 if axis is None else axis), checks.array(owner, "x", x).ndim
    if not -ndim <= axis < ndim:
        raise checks.ArgumentValueError(f"{owner}: axis must be in [-{ndim}, {ndim}) for x of shape "
                                        f"{tuple(x.shape)}, got {axis}")
    return axis


def identity(x):
    """y = x (the identity activation); returns its input unchanged."""
    return x
