"""Tensor arithmetic: the operators, reductions, shape changes, exp/log and indexing.

Binary operators broadcast as NumPy does; their backward sums each gradient back to its
input's shape (``sum_to``). Python numbers combine with tensors without changing the
tensor's dtype (float32 stays float32).
"""
from __future__ import annotations

import numpy

import backends
from dlcore.checks import ShapeError
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


class Max(Function):
    """y = max x over ``axis``; the gradient is shared equally among the maxima."""

    def __init__(self, axis, keepdims):
        self.axis, self.keepdims = axis, keepdims

    def forward(self, xp, x):
        self.x = x
        self.y = x.max(axis=self.axis, keepdims=True)
        return self.y if self.keepdims else self.y.reshape(
            [n for i, n in enumerate(x.shape) if i not in _normalize_axes(self.axis, x.ndim)])

    def backward(self, xp, gy):
        axes = _normalize_axes(self.axis, self.x.ndim)
        is_max = self.x == self.y
        count = is_max.sum(axis=axes, keepdims=True)
        g = _expand_reduced(xp, gy, axes, self.y.shape, self.keepdims)
        return (is_max * (g / count)).astype(self.x.dtype, copy=False)


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
def sum(x, axis=None, keepdims=False): return Sum(axis, keepdims)(x)  # noqa: A001
def mean(x, axis=None, keepdims=False): return Mean(axis, keepdims)(x)
def max(x, axis=None, keepdims=False): return Max(axis, keepdims)(x)  # noqa: A001
def reshape(x, shape): return Reshape(shape)(x)
def transpose(x, axes=None): return Transpose(axes)(x)
def astype(x, dtype): return AsType(numpy.dtype(dtype))(x)


def getitem(x, index):
    """x[index]; index may hold integer tensors or arrays (on the same device as x)."""
    if isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    elif isinstance(index, Tensor):
        index = index.data
    return GetItem(index)(x)


def concat(tensors, axis=0):
    """y = the tensors joined along ``axis`` (U-Net skips: ``concat([up, skip], axis=1)``)."""
    return Concat(axis)(*tensors)
