"""Tensor arithmetic: the operators, reductions, shape changes, exp/log and indexing.

Binary operators broadcast as NumPy does; their backward sums each gradient back to its
input's shape (``sum_to``). Python numbers combine with tensors without changing the
tensor's dtype (float32 stays float32).
"""
from __future__ import annotations

import builtins

import numpy

import backends
from dlcore import checks
from dlcore.checks import ArgumentTypeError, ArgumentValueError, ShapeError
from dlcore.core import Function, Tensor


def sum_to(g, shape):
    """Sum ``g`` over the axes that broadcasting added or stretched, giving ``shape``.

    The adjoint of broadcasting: if y = broadcast_to(x, g.shape) then dL/dx = sum_to(dL/dy, x.shape).
    """
    if g.shape == tuple(shape):
        return g
    lead = g.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape)


def _shape(a):
    return getattr(a, "shape", ())


class Add(Function):
    """y = a + b;  ∂y/∂a = ∂y/∂b = 1."""

    def forward(self, xp, a, b):
        self.shapes = (_shape(a), _shape(b))
        return a + b

    def backward(self, xp, gy):
        return sum_to(gy, self.shapes[0]), sum_to(gy, self.shapes[1])


class Sub(Function):
    """y = a − b;  ∂y/∂a = 1, ∂y/∂b = −1."""

    def forward(self, xp, a, b):
        self.shapes = (_shape(a), _shape(b))
        return a - b

    def backward(self, xp, gy):
        gb = -sum_to(gy, self.shapes[1]) if self.needs_input_grad[1] else None
        return sum_to(gy, self.shapes[0]), gb


class Mul(Function):
    """y = a · b;  ∂y/∂a = b, ∂y/∂b = a."""

    def forward(self, xp, a, b):
        self.a, self.b = a, b
        return a * b

    def backward(self, xp, gy):
        a, b = self.a, self.b
        ga = sum_to(gy * b, _shape(a)) if self.needs_input_grad[0] else None
        gb = sum_to(gy * a, _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Div(Function):
    """y = a / b;  ∂y/∂a = 1/b, ∂y/∂b = −a/b²."""

    def forward(self, xp, a, b):
        self.a, self.b = a, b
        return a / b

    def backward(self, xp, gy):
        a, b = self.a, self.b
        ga = sum_to(gy / b, _shape(a)) if self.needs_input_grad[0] else None
        gb = sum_to(-gy * a / (b * b), _shape(b)) if self.needs_input_grad[1] else None
        return ga, gb


class Pow(Function):
    """y = aᵇ;  ∂y/∂a = b·aᵇ⁻¹, ∂y/∂b = aᵇ·ln a, with PyTorch's values where these are 0·∞:

    ∂y/∂a = 0 where b = 0 (y ≡ 1 there; b·aᵇ⁻¹ would be 0·∞ at a = 0), and
    ∂y/∂b = 0 where a = 0 and b ≥ 0 (the limit as b → +0 of ∂y/∂b for a > 0); at a = 0, b < 0
    it is −∞ (aᵇ = +∞ times ln 0 = −∞), as in PyTorch.
    """

    def forward(self, xp, a, b):
        self.a, self.b = a, b
        self.y = a ** b
        return self.y

    def backward(self, xp, gy):
        a, b = self.a, self.b
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(gy * _zero_where(xp, b == 0, b * a ** (b - 1)), _shape(a))
        if self.needs_input_grad[1]:
            gb = sum_to(gy * _zero_where(xp, (a == 0) & (b >= 0), self.y * xp.log(a)), _shape(b))
        return ga, gb


def _zero_where(xp, condition, value):
    """``value`` with 0 where ``condition`` holds; ``condition`` is one bool when it tests a number operand."""
    if isinstance(condition, (bool, numpy.bool_)):
        return xp.zeros_like(value) if condition else value
    return xp.where(condition, 0, value)


class Neg(Function):
    """y = −x."""

    def forward(self, xp, x):
        return -x

    def backward(self, xp, gy):
        return -gy


class MatMul(Function):
    """y = a @ b (NumPy matmul rules, batched and 1-D operands included);
    ∂L/∂a = ∂L/∂y @ bᵀ, ∂L/∂b = aᵀ @ ∂L/∂y."""

    def forward(self, xp, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ShapeError(f"matmul needs operands of at least one dimension, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ShapeError(f"matmul shapes {a.shape} and {b.shape} do not align "
                             f"({a.shape[-1]} ≠ {b.shape[-2 if b.ndim > 1 else 0]})")
        self.a, self.b = a, b
        return xp.matmul(a, b)

    def backward(self, xp, gy):
        a, b = self.a, self.b
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        if a.ndim == 1:
            gy = xp.expand_dims(gy, -2)
        if b.ndim == 1:
            gy = xp.expand_dims(gy, -1)
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = sum_to(xp.matmul(gy, xp.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if self.needs_input_grad[1]:
            gb = sum_to(xp.matmul(xp.swapaxes(a2, -1, -2), gy), b2.shape).reshape(b.shape)
        return ga, gb


def _normalize_axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    return tuple(a % ndim for a in axes) if ndim else ()


def _expand_reduced(xp, g, axes, shape, keepdims):
    """Broadcast a reduced gradient back over the ``axes`` it was reduced along."""
    if not keepdims:
        for a in sorted(axes):
            g = xp.expand_dims(g, a)
    return xp.broadcast_to(g, shape)


class Sum(Function):
    """y = Σ x over ``axis``;  ∂y/∂x = 1 broadcast back."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, xp, x):
        self.shape = x.shape
        return x.sum(axis=self.axis, keepdims=self.keepdims)

    def backward(self, xp, gy):
        return _expand_reduced(xp, gy, _normalize_axes(self.axis, len(self.shape)), self.shape, self.keepdims)


class Mean(Function):
    """y = (1/n) Σ x over ``axis`` (n elements per output);  ∂y/∂x = 1/n."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, xp, x):
        self.shape = x.shape
        return x.mean(axis=self.axis, keepdims=self.keepdims)

    def backward(self, xp, gy):
        axes = _normalize_axes(self.axis, len(self.shape))
        n = int(numpy.prod([self.shape[a] for a in axes]))
        return _expand_reduced(xp, gy / n, axes, self.shape, self.keepdims)


class _Extremum(Function):
    """y = the largest (Max) or smallest (Min) x over ``axis``; the gradient is shared equally among
    the elements that attain it (PyTorch does so for a reduction over every axis; over ``dim`` it
    gives it all to the one element its argmax names: the two agree where there is no tie)."""

    reduce = ""  # the array method: "max" or "min"

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, xp, x):
        self.x = x
        self.y = getattr(x, self.reduce)(axis=self.axis, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(
            [n for i, n in enumerate(x.shape) if i not in _normalize_axes(self.axis, x.ndim)])

    def backward(self, xp, gy):
        axes = _normalize_axes(self.axis, self.x.ndim)
        is_extreme = self.x == self.y
        count = is_extreme.sum(axis=axes, keepdims=True)
        g = _expand_reduced(xp, gy, axes, self.y.shape, self.keepdims)
        return (is_extreme * (g / count)).astype(self.x.dtype, copy=False)


class Max(_Extremum):
    """y = max x over ``axis``; ∂y/∂xᵢ = 1/k at each of the k maxima, 0 elsewhere."""

    reduce = "max"


class Min(_Extremum):
    """y = min x over ``axis``; ∂y/∂xᵢ = 1/k at each of the k minima, 0 elsewhere."""

    reduce = "min"


def _variance(xp, x, axes, correction):
    """(Σ (x − x̄)² / dof with the reduced axes kept, x − x̄, dof) over ``axes``, dof = max(n − correction, 0).

    Two passes (the mean first, then the squared deviations from it), so float32 loses nothing to
    cancellation as the one-pass E[x²] − E[x]² does when the mean is large against the spread.
    dof = 0 divides by zero: +∞, or NaN where every deviation is 0, as PyTorch's var.
    """
    n = int(numpy.prod([x.shape[a] for a in axes]))
    d = x - x.mean(axis=axes, keepdims=True)
    dof = builtins.max(n - correction, 0)
    return (d * d).sum(axis=axes, keepdims=True) / dof, d, dof


def _squeezed(y, axes, keepdims):
    """``y`` (reduced with its axes kept) without the reduced ``axes`` unless ``keepdims``."""
    return y if keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])


class Var(Function):
    """y = Σ (x − x̄)² / (n − correction) over ``axis`` (n values per output, x̄ their mean);
    ∂y/∂xᵢ = 2 (xᵢ − x̄) / (n − correction) (the terms through x̄ sum to zero)."""

    def __init__(self, axis, keepdims, correction):
        self.axis, self.keepdims, self.correction = axis, keepdims, correction

    def forward(self, xp, x):
        self.shape, self.axes = x.shape, _normalize_axes(self.axis, x.ndim)
        y, self.d, self.dof = _variance(xp, x, self.axes, self.correction)
        return _squeezed(y, self.axes, self.keepdims)

    def backward(self, xp, gy):
        g = _expand_reduced(xp, gy, self.axes, self.shape, self.keepdims)
        return g * self.d * 2 / self.dof


class Std(Function):
    """y = √var(x) over ``axis`` (``Var``'s two-pass variance, same ``correction``);
    ∂y/∂xᵢ = (xᵢ − x̄) / ((n − correction) · y), and 0 where y = 0 (all values equal: there
    1/y is ∞ and xᵢ − x̄ is 0; PyTorch's std gives 0 there too)."""

    def __init__(self, axis, keepdims, correction):
        self.axis, self.keepdims, self.correction = axis, keepdims, correction

    def forward(self, xp, x):
        self.shape, self.axes = x.shape, _normalize_axes(self.axis, x.ndim)
        var, self.d, self.dof = _variance(xp, x, self.axes, self.correction)
        self.y = xp.sqrt(var)
        return _squeezed(self.y, self.axes, self.keepdims)

    def backward(self, xp, gy):
        g = _expand_reduced(xp, gy, self.axes, self.shape, self.keepdims)
        positive = self.y > 0
        return xp.where(positive, g, 0) * self.d / (self.dof * xp.where(positive, self.y, 1))


class LogSumExp(Function):
    """y = m + ln Σ e^(x − m) over ``axis``, m = max x (0 where that max is ±∞), so no exponential
    overflows and the largest term is e⁰ = 1; ∂y/∂xᵢ = e^(xᵢ − y) = softmax(x)ᵢ."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, xp, x):
        self.x, self.axes = x, _normalize_axes(self.axis, x.ndim)
        m = x.max(axis=self.axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0)
        self.y = xp.log(xp.exp(x - m).sum(axis=self.axes, keepdims=True)) + m
        return _squeezed(self.y, self.axes, self.keepdims)

    def backward(self, xp, gy):
        g = _expand_reduced(xp, gy, self.axes, self.x.shape, self.keepdims)
        return g * xp.exp(self.x - self.y)


class Reshape(Function):
    """y = x viewed with another shape."""

    def __init__(self, shape):
        self.shape = tuple(shape)

    def forward(self, xp, x):
        self.in_shape = x.shape
        return x.reshape(self.shape)

    def backward(self, xp, gy):
        return gy.reshape(self.in_shape)


class Transpose(Function):
    """y = x with its axes permuted (reversed when ``axes`` is None)."""

    def __init__(self, axes):
        self.axes = None if axes is None else tuple(axes)

    def forward(self, xp, x):
        return x.transpose(self.axes)

    def backward(self, xp, gy):
        if self.axes is None:
            return gy.transpose()
        return gy.transpose(tuple(numpy.argsort(self.axes)))


class Exp(Function):
    """y = eˣ;  ∂y/∂x = y."""

    def forward(self, xp, x):
        self.y = xp.exp(x)
        return self.y

    def backward(self, xp, gy):
        return gy * self.y


class Log(Function):
    """y = ln x;  ∂y/∂x = 1/x."""

    def forward(self, xp, x):
        self.x = x
        return xp.log(x)

    def backward(self, xp, gy):
        return gy / self.x


class Abs(Function):
    """y = |x|;  ∂y/∂x = sign(x) (0 at x = 0)."""

    def forward(self, xp, x):
        self.x = x
        return xp.abs(x)

    def backward(self, xp, gy):
        return gy * xp.sign(self.x)


class Sqrt(Function):
    """y = √x;  ∂y/∂x = 1/(2y), taken as it is at x = 0, as PyTorch does: +∞ (−∞) for an incoming
    gradient > 0 (< 0), NaN for an incoming 0 (0·∞)."""

    def forward(self, xp, x):
        self.y = xp.sqrt(x)
        return self.y

    def backward(self, xp, gy):
        return gy / (2 * self.y)


class Clip(Function):
    """y = min(max(x, low), high) (a bound of None is no bound);  ∂y/∂x = 1 where low ≤ x ≤ high, both
    ends included as in PyTorch's clamp, else 0 (with low > high every y is high and every ∂y/∂x 0)."""

    def __init__(self, low, high):
        self.low, self.high = low, high

    def forward(self, xp, x):
        self.x = x
        y = x if self.low is None else xp.maximum(x, self.low)
        return y if self.high is None else xp.minimum(y, self.high)

    def backward(self, xp, gy):
        inside = True
        if self.low is not None:
            inside = inside & (self.x >= self.low)
        if self.high is not None:
            inside = inside & (self.x <= self.high)
        return gy * inside


class AsType(Function):
    """y = x converted to ``dtype``; the gradient converts back."""

    def __init__(self, dtype):
        self.dtype = dtype

    def forward(self, xp, x):
        self.in_dtype = x.dtype
        return x.astype(self.dtype)

    def backward(self, xp, gy):
        return gy.astype(self.in_dtype)


def _is_basic_index(index) -> bool:
    parts = index if isinstance(index, tuple) else (index,)
    return all(p is None or p is Ellipsis or isinstance(p, (int, slice, numpy.integer)) for p in parts)


class GetItem(Function):
    """y = x[index]; the gradient is scattered back (repeated indices accumulate)."""

    def __init__(self, index):
        self.index = index

    def forward(self, xp, x):
        self.shape, self.dtype = x.shape, x.dtype
        return x[self.index]

    def backward(self, xp, gy):
        gx = xp.zeros(self.shape, self.dtype)
        if _is_basic_index(self.index):
            gx[self.index] = gy
        else:
            backends.backend_of(gx).scatter_add(gx, self.index, gy)
        return gx


class Concat(Function):
    """y = the inputs joined along ``axis``; the gradient is split back into pieces."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, xp, *xs):
        self.sizes = [x.shape[self.axis] for x in xs]
        return xp.concatenate(xs, axis=self.axis)

    def backward(self, xp, gy):
        bounds = numpy.cumsum(self.sizes)[:-1].tolist()
        return tuple(xp.split(gy, bounds, axis=self.axis))


class Stack(Function):
    """y = the inputs (of one shape) stacked along a new axis ``axis``; input i gets y's gradient at index i
    of that axis."""

    def __init__(self, axis):
        self.axis = axis

    def forward(self, xp, *xs):
        return xp.stack(xs, axis=self.axis)

    def backward(self, xp, gy):
        return tuple(xp.moveaxis(gy, self.axis, 0))


# ---- the functional forms ------------------------------------------------------------

def add(a, b): return Add()(a, b)
def sub(a, b): return Sub()(a, b)
def mul(a, b): return Mul()(a, b)
def div(a, b): return Div()(a, b)
def pow(a, b): return Pow()(a, b)  # noqa: A001 (mirrors the operator)
def neg(x): return Neg()(x)
def matmul(a, b): return MatMul()(a, b)
def exp(x): return Exp()(x)
def abs(x): return Abs()(x)  # noqa: A001
def log(x): return Log()(x)


def reduction_axes(owner: str, axis, keepdims, dim, keepdim):
    """(axis, keepdims) from NumPy's names and PyTorch's (``dim``, ``keepdim``), which are aliases:
    passing both names of one argument is an error naming both; keepdims left None is False."""
    if dim is not None:
        if axis is not None:
            raise ArgumentTypeError(f"{owner}: got axis={axis!r} and dim={dim!r}; they are one argument "
                                    f"(NumPy's and PyTorch's name), pass one of them")
        axis = dim
    if keepdim is not None:
        if keepdims is not None:
            raise ArgumentTypeError(f"{owner}: got keepdims={keepdims!r} and keepdim={keepdim!r}; they are one "
                                    f"argument (NumPy's and PyTorch's name), pass one of them")
        keepdims = keepdim
    return axis, False if keepdims is None else checks.flag(owner, "keepdims", keepdims)


def sum(x, axis=None, keepdims=None, *, dim=None, keepdim=None):  # noqa: A001
    """y = Σ x over ``axis`` (an int, a tuple of ints, or None for every axis); ``dim``/``keepdim`` are
    PyTorch's names for ``axis``/``keepdims``.

    >>> import dlcore
    >>> sum(dlcore.tensor([[1.0, 2.0], [3.0, 4.0]]), dim=0).numpy()
    array([4., 6.], dtype=float32)
    """
    axis, keepdims = reduction_axes("sum", axis, keepdims, dim, keepdim)
    return Sum(axis, keepdims)(x)


def mean(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """y = (1/n) Σ x over ``axis`` (n values per output); ``dim``/``keepdim`` are aliases of ``axis``/``keepdims``.

    >>> import dlcore
    >>> mean(dlcore.tensor([[1.0, 2.0], [3.0, 5.0]]), axis=1, keepdims=True).numpy()
    array([[1.5],
           [4. ]], dtype=float32)
    """
    axis, keepdims = reduction_axes("mean", axis, keepdims, dim, keepdim)
    return Mean(axis, keepdims)(x)


def max(x, axis=None, keepdims=None, *, dim=None, keepdim=None):  # noqa: A001
    """y = max x over ``axis``: the values only, also with ``dim`` (``torch.max(x, dim)`` also returns the
    indices: ``argmax`` gives them); the gradient is shared equally among tied maxima.

    >>> import dlcore
    >>> max(dlcore.tensor([[1.0, 7.0], [3.0, 2.0]]), dim=1).numpy()
    array([7., 3.], dtype=float32)
    """
    axis, keepdims = reduction_axes("max", axis, keepdims, dim, keepdim)
    return Max(axis, keepdims)(x)


def min(x, axis=None, keepdims=None, *, dim=None, keepdim=None):  # noqa: A001
    """y = min x over ``axis`` (values only, as ``max``); the gradient is shared equally among tied minima.

    >>> import dlcore
    >>> min(dlcore.tensor([[1.0, 7.0], [3.0, 2.0]]), dim=1).numpy()
    array([1., 2.], dtype=float32)
    """
    axis, keepdims = reduction_axes("min", axis, keepdims, dim, keepdim)
    return Min(axis, keepdims)(x)


def _arg_extremum(owner, x, axis, keepdims, dim, keepdim):
    axis, keepdims = reduction_axes(owner, axis, keepdims, dim, keepdim)
    axis = None if axis is None else checks.integer(owner, "axis", axis)
    data = checks.array(owner, "x", x.data if isinstance(x, Tensor) else x)
    return Tensor(getattr(backends.backend_of(data).xp, owner)(data, axis=axis, keepdims=keepdims))


def argmax(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """The index (int64) of the largest x along ``axis`` (an int), or into the flattened x when ``axis`` is
    None; the first one where several tie. No gradient.

    >>> import dlcore
    >>> argmax(dlcore.tensor([[1.0, 7.0], [3.0, 2.0]]), dim=1).numpy()
    array([1, 0])
    """
    return _arg_extremum("argmax", x, axis, keepdims, dim, keepdim)


def argmin(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """The index (int64) of the smallest x along ``axis``, as ``argmax``. No gradient.

    >>> import dlcore
    >>> argmin(dlcore.tensor([[1.0, 7.0], [3.0, 2.0]])).item()
    0
    """
    return _arg_extremum("argmin", x, axis, keepdims, dim, keepdim)


def _correction(owner, correction, unbiased) -> int:
    """The divisor's correction from ``correction`` or PyTorch's older ``unbiased`` flag (True: 1,
    False: 0); neither given: 1. Both given is an error naming both."""
    if unbiased is None:
        return checks.integer(owner, "correction", 1 if correction is None else correction, minimum=0)
    if correction is not None:
        raise ArgumentTypeError(f"{owner}: got correction={correction!r} and unbiased={unbiased!r}; "
                                f"unbiased=True is correction=1 and unbiased=False correction=0, pass one of them")
    return int(checks.flag(owner, "unbiased", unbiased))


def var(x, axis=None, keepdims=None, *, correction=None, dim=None, keepdim=None, unbiased=None):
    """y = Σ (x − x̄)² / (n − correction) over ``axis`` (n values per output, x̄ their mean).

    ``correction=1`` (the default, as PyTorch's var; NumPy's default is ``ddof=0``) is the unbiased
    sample variance, ``correction=0`` the population variance; PyTorch's ``unbiased=True/False`` is
    accepted for correction 1/0. Computed in two passes (mean, then
    squared deviations), which keeps float32 exact where E[x²] − E[x]² cancels. n ≤ correction
    divides by zero (NaN or +∞, as PyTorch).

    >>> import dlcore
    >>> var(dlcore.tensor([[1.0, 3.0], [2.0, 2.0]]), dim=1).numpy()
    array([2., 0.], dtype=float32)
    >>> var(dlcore.tensor([1.0, 3.0]), correction=0).item()
    1.0
    >>> var(dlcore.tensor([1.0, 3.0]), unbiased=False).item()
    1.0
    """
    axis, keepdims = reduction_axes("var", axis, keepdims, dim, keepdim)
    return Var(axis, keepdims, _correction("var", correction, unbiased))(x)


def std(x, axis=None, keepdims=None, *, correction=None, dim=None, keepdim=None, unbiased=None):
    """y = √var(x) over ``axis``, with ``var``'s ``correction`` (default 1, as PyTorch); the gradient is 0
    where y = 0 (constant values), as PyTorch's.

    >>> import dlcore
    >>> std(dlcore.tensor([1.0, 3.0, 5.0])).item()
    2.0
    """
    axis, keepdims = reduction_axes("std", axis, keepdims, dim, keepdim)
    return Std(axis, keepdims, _correction("std", correction, unbiased))(x)


def logsumexp(x, axis=None, keepdims=None, *, dim=None, keepdim=None):
    """y = ln Σ eˣ over ``axis``, computed as m + ln Σ e^(x − m) with m = max x, so large x do not
    overflow; its gradient is softmax(x) along ``axis``.

    >>> import dlcore
    >>> logsumexp(dlcore.tensor([1000.0, 1000.0], dtype="float64")).item()  # 1000 + ln 2; e¹⁰⁰⁰ overflows
    1000.6931471805599
    """
    axis, keepdims = reduction_axes("logsumexp", axis, keepdims, dim, keepdim)
    return LogSumExp(axis, keepdims)(x)


def sqrt(x):
    """y = √x; ∂y/∂x = 1/(2√x), +∞ at x = 0 (PyTorch's value there).

    >>> import dlcore
    >>> sqrt(dlcore.tensor([4.0, 9.0])).numpy()
    array([2., 3.], dtype=float32)
    """
    return Sqrt()(x)


def clip(x, min=None, max=None):  # noqa: A002 (PyTorch's names)
    """y = min(max(x, ``min``), ``max``), a bound of None being no bound (at least one is needed);
    the gradient passes where min ≤ x ≤ max (ends included, as torch.clamp) and is 0 elsewhere.

    >>> import dlcore
    >>> clip(dlcore.tensor([-2.0, 0.5, 3.0]), min=0.0, max=1.0).numpy()
    array([0. , 0.5, 1. ], dtype=float32)
    """
    if min is None and max is None:
        raise ArgumentValueError("clip: min and max are both None; give at least one bound")
    low = None if min is None else checks.finite_number("clip", "min", min)
    high = None if max is None else checks.finite_number("clip", "max", max)
    return Clip(low, high)(x)


def reshape(x, shape): return Reshape(shape)(x)
def transpose(x, axes=None): return Transpose(axes)(x)


def _dim(owner: str, dim, ndim: int) -> int:
    """``dim`` as an int in 0 … ndim − 1 (negative counts from the end), else the error naming ``owner``."""
    dim = checks.integer(owner, "dim", dim)
    if not -ndim <= dim < ndim:
        raise ArgumentValueError(f"{owner}: dim must be in [-{ndim}, {ndim}) for a tensor of {ndim} axes, got {dim}")
    return dim % ndim


def permute(x, dims):
    """y = x with its axes reordered: axis i of y is axis ``dims[i]`` of x (``numpy.transpose(x, dims)``).

    >>> import dlcore
    >>> permute(dlcore.zeros(2, 3, 4), (2, 0, 1)).shape
    (4, 2, 3)
    """
    ndim = checks.array("permute", "x", x).ndim
    dims = tuple(_dim("permute", d, ndim) for d in dims)
    if sorted(dims) != list(range(ndim)):
        raise ArgumentValueError(f"permute: dims must order all {ndim} axes once each, got {dims}")
    return Transpose(dims)(x)


def swapaxes(x, dim0, dim1):
    """y = x with axes ``dim0`` and ``dim1`` exchanged (``torch.transpose(x, dim0, dim1)``).

    >>> import dlcore
    >>> swapaxes(dlcore.zeros(2, 3, 4), 0, -1).shape
    (4, 3, 2)
    """
    ndim = checks.array("swapaxes", "x", x).ndim
    order = list(range(ndim))
    i, j = _dim("swapaxes", dim0, ndim), _dim("swapaxes", dim1, ndim)
    order[i], order[j] = j, i
    return Transpose(order)(x)


def unsqueeze(x, dim):
    """y = x with a new axis of size 1 at position ``dim`` (−ndim−1 ≤ dim ≤ ndim, as torch.unsqueeze).

    >>> import dlcore
    >>> unsqueeze(dlcore.zeros(2, 3), -1).shape
    (2, 3, 1)
    """
    shape = list(checks.array("unsqueeze", "x", x).shape)
    shape.insert(_dim("unsqueeze", dim, len(shape) + 1), 1)
    return Reshape(shape)(x)


def squeeze(x, axis=None, *, dim=None):
    """y = x without its axes of size 1: all of them, or those among ``axis`` (an int or a tuple; ``dim`` is
    PyTorch's name); a named axis whose size is not 1 stays, as torch.squeeze (numpy.squeeze raises).

    >>> import dlcore
    >>> squeeze(dlcore.zeros(2, 1, 3, 1)).shape
    (2, 3)
    >>> squeeze(dlcore.zeros(2, 1, 3, 1), dim=1).shape
    (2, 3, 1)
    """
    axis, _ = reduction_axes("squeeze", axis, None, dim, None)
    shape = checks.array("squeeze", "x", x).shape
    if axis is None:
        named = range(len(shape))
    else:
        named = {_dim("squeeze", a, len(shape)) for a in (axis if isinstance(axis, (tuple, list)) else (axis,))}
    return Reshape([n for i, n in enumerate(shape) if n != 1 or i not in named])(x)


def flatten(x, start_dim=0, end_dim=-1):
    """y = x with axes ``start_dim`` … ``end_dim`` (both included) merged into one (torch.flatten).

    >>> import dlcore
    >>> flatten(dlcore.zeros(2, 3, 4, 5), start_dim=1).shape
    (2, 60)
    """
    shape = checks.array("flatten", "x", x).shape
    if not shape:
        return Reshape((1,))(x)
    first, last = _dim("flatten", start_dim, len(shape)), _dim("flatten", end_dim, len(shape))
    if first > last:
        raise ArgumentValueError(f"flatten: start_dim ({start_dim}) comes after end_dim ({end_dim}) "
                                 f"for a tensor of {len(shape)} axes")
    return Reshape((*shape[:first], int(numpy.prod(shape[first:last + 1])), *shape[last + 1:]))(x)
def astype(x, dtype): return AsType(numpy.dtype(dtype))(x)


def getitem(x, index):
    """x[index]; index may hold integer tensors or arrays (on the same device as x)."""
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = index.data
    return GetItem(index)(x)


def _sequence(owner: str, tensors) -> list:
    if not isinstance(tensors, (list, tuple)) or not tensors:
        raise ArgumentTypeError(f"{owner}: tensors must be a non-empty list or tuple of tensors, "
                                f"got {type(tensors).__name__}{'' if tensors else ' (empty)'}")
    return list(tensors)


def _join_axis(owner: str, axis, dim) -> int:
    axis, _ = reduction_axes(owner, axis, None, dim, None)
    return 0 if axis is None else checks.integer(owner, "axis", axis)


def concat(tensors, axis=None, *, dim=None):
    """y = the tensors joined along the existing axis ``axis`` (default 0; ``dim`` is PyTorch's name);
    ``dlcore.cat`` is this function (U-Net skips: ``concat([up, skip], axis=1)``).

    >>> import dlcore
    >>> concat([dlcore.ones(2, 1), dlcore.zeros(2, 2)], dim=1).numpy()
    array([[1., 0., 0.],
           [1., 0., 0.]], dtype=float32)
    """
    return Concat(_join_axis("concat", axis, dim))(*_sequence("concat", tensors))


def stack(tensors, axis=None, *, dim=None):
    """y = the tensors (of one shape) stacked along a new axis ``axis`` (default 0; ``dim`` is PyTorch's
    name): y[..., i, ...] = tensors[i].

    >>> import dlcore
    >>> stack([dlcore.tensor([1.0, 2.0]), dlcore.tensor([3.0, 4.0])], dim=1).numpy()
    array([[1., 3.],
           [2., 4.]], dtype=float32)
    """
    return Stack(_join_axis("stack", axis, dim))(*_sequence("stack", tensors))
