"""Define-by-run autograd: ``Tensor`` holds an array and the ``Function`` that made it.

A Function's ``forward(xp, *arrays)`` and ``backward(xp, *grad_outputs)`` are written once
against ``xp`` (NumPy or CuPy). Calling a Function on tensors runs ``forward`` and, when
gradients are enabled and an input requires them, records the function as the output's
``creator``. ``Tensor.backward()`` walks the recorded graph in reverse topological order
and leaves dL/dθ in the ``.grad`` (an xp array, as in Chainer) of every leaf tensor that
requires a gradient; gradients of intermediate tensors are freed as soon as they are used.
"""
from __future__ import annotations

import itertools
import weakref

import numpy

import backends
from dlcore import modes
from dlcore.checks import NUMERIC_KINDS, ArgumentTypeError, ArgumentValueError, ShapeError, flag


_call_counter = itertools.count()  # numbers recorded calls in the order they ran


class Function:
    """One differentiable operation.

    Subclasses implement ``forward(xp, *arrays)`` returning an array (or a tuple of
    arrays) and ``backward(xp, *grad_outputs)`` returning one gradient per input, in the
    input's shape, or None where an input needs none. ``self.needs_input_grad`` tells
    which inputs want a gradient. Inputs may be Tensors, arrays or Python scalars; scalars
    reach ``forward`` unchanged and get no gradient. Anything ``backward`` needs is saved
    on ``self`` by ``forward``. Neither method may modify its arguments in place.
    """

    inputs: tuple = ()
    outputs: tuple = ()
    needs_input_grad: tuple = ()

    @property
    def name(self) -> str:
        """The op as errors name it: the class name without the suffix "Function" that a class sharing
        its name with a layer or loss carries (ReLUFunction → "ReLU", MSELossFunction → "MSELoss")."""
        return type(self).__name__.removesuffix("Function")

    def __call__(self, *inputs):
        arrays = [x.data if isinstance(x, Tensor) else x for x in inputs]
        backend = backends.backend_for(arrays, op=self)
        wants = [isinstance(x, Tensor) and x.requires_grad for x in inputs]
        record = True in wants and modes.is_grad_enabled()
        self.needs_input_grad = tuple(wants) if record else (False,) * len(inputs)
        try:
            ys = self.forward(backend.xp, *arrays)
        except _ARRAY_ERRORS as error:
            raise _naming_the_op(error, self.name, arrays) from error
        if type(ys) is not tuple:
            y = ys if type(ys) is backend.array_type else backend.xp.asarray(ys)
            if y.dtype.kind not in NUMERIC_KINDS:  # strings or objects went through (e.g. "a" + "b")
                raise _non_numeric(self.name, arrays)
            y = _wrap(y, record)
            if record:
                self._record(inputs, (y,), backend.xp)
            return y
        outputs = tuple(_wrap(backend.xp.asarray(y), record) for y in ys)
        if any(y.data.dtype.kind not in NUMERIC_KINDS for y in outputs):
            raise _non_numeric(self.name, arrays)
        if record:
            self._record(inputs, outputs, backend.xp)
        return outputs

    def _record(self, inputs, outputs, xp):
        self._order = next(_call_counter)
        self.inputs = inputs
        self.outputs = tuple([weakref.ref(y) for y in outputs])
        self._output_meta = tuple([(y.data.shape, y.data.dtype) for y in outputs])
        self._xp = xp
        for y in outputs:
            y.creator = self

    def forward(self, xp, *arrays):
        raise NotImplementedError

    def backward(self, xp, *grad_outputs):
        raise NotImplementedError


class Tensor:
    """An n-dimensional array on the active backend, with optional gradient tracking.

    ``Tensor(data, requires_grad=False)``: NumPy and CuPy arrays are wrapped as they are
    (no copy, no device change); Python numbers and lists become arrays on the active
    backend, floating values in the default dtype (float32).
    """

    __slots__ = ("data", "grad", "requires_grad", "creator", "__weakref__")
    __array_ufunc__ = None  # numpy_array + tensor → Tensor.__radd__, never a silent conversion

    def __init__(self, data, requires_grad: bool = False):
        if isinstance(data, Tensor):
            data = data.data
        self.data = _as_array(data)
        self.grad = None
        self.requires_grad = flag("Tensor", "requires_grad", requires_grad)
        self.creator = None
        if self.requires_grad and self.data.dtype.kind not in "fc":
            raise ArgumentTypeError(f"Tensor: only floating tensors can require gradients, got dtype {self.data.dtype}")

    # ---- array facts -------------------------------------------------------------
    @property
    def shape(self):
        return self.data.shape

    @property
    def dtype(self):
        return self.data.dtype

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def device(self) -> str:
        """The backend name the data lives on: "numpy" or "cupy"."""
        return backends.backend_of(self.data).name

    @property
    def xp(self):
        return backends.backend_of(self.data).xp

    def __len__(self) -> int:
        return len(self.data)

    def __repr__(self) -> str:
        grad = ", requires_grad=True" if self.requires_grad else ""
        body = numpy.array2string(self.numpy(), prefix="tensor(", separator=", ")
        return f"tensor({body}, dtype={self.dtype}, device={self.device}{grad})"

    def __bool__(self) -> bool:
        return bool(self.data)

    __hash__ = object.__hash__

    # ---- host access and moves (these synchronise with the device) ------------------
    def item(self):
        """The single value as a Python number (copies to the host)."""
        if self.data.size != 1:
            raise ShapeError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def numpy(self):
        """The data as a NumPy array (a copy when it lives on the GPU)."""
        return backends.to_numpy(self.data)

    def to(self, name: str) -> Tensor:
        """This tensor on backend ``name`` ("numpy"/"cupy"); a new leaf tensor unless already there."""
        moved = backends.to_device(self.data, name)
        if moved is self.data:
            return self
        return Tensor(moved, requires_grad=self.requires_grad)

    def detach(self) -> Tensor:
        """The same data, cut off from the graph."""
        return Tensor(self.data)

    # ---- autograd ------------------------------------------------------------------
    def backward(self, grad=None) -> None:
        """Accumulate d(self)/d(leaf) into ``.grad`` of every leaf that requires it.

        ``grad`` (dL/d self) defaults to 1 for a tensor of one element.
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad "
                               "(no input required a gradient, or it was made under no_grad())")
        xp = self.xp
        if grad is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a tensor of one element, "
                                   f"got shape {self.shape}; pass grad=… of that shape")
            grad = xp.ones_like(self.data)
        else:
            grad = grad.data if isinstance(grad, Tensor) else grad
            if not hasattr(grad, "shape"):
                raise ArgumentTypeError(f"backward(grad): grad must be a Tensor or an array of shape {self.shape}, "
                                        f"got {type(grad).__name__}")
            if grad.shape != self.shape:
                raise ArgumentValueError(f"backward(grad) needs shape {self.shape}, got {grad.shape}")
        if self.creator is None:
            _accumulate_leaf(self, grad)
            return
        pending = {id(self): grad}
        for fn in _reverse_topological(self.creator):
            gys = _output_grads(fn, pending)
            if gys is None:
                continue
            gxs = fn.backward(fn._xp, *gys)
            if type(gxs) is not tuple:
                gxs = (gxs,)
            for x, gx, needed in zip(fn.inputs, gxs, fn.needs_input_grad):
                if not needed or gx is None:
                    continue
                data = x.data
                if gx.shape != data.shape:
                    raise RuntimeError(f"{fn.name}.backward returned a gradient of shape {gx.shape} "
                                       f"for an input of shape {data.shape}")
                if gx.dtype is not data.dtype and gx.dtype != data.dtype:
                    gx = gx.astype(data.dtype)  # an op that promoted dtypes: the gradient takes the input's
                if x.creator is None:
                    _accumulate_leaf(x, gx)
                else:
                    previous = pending.get(id(x))
                    pending[id(x)] = gx if previous is None else previous + gx

    def zero_grad(self) -> None:
        self.grad = None

    # ---- operators (defined in dlcore.ops.math) --------------------------------
    def __add__(self, other): return _m.add(self, other)
    def __radd__(self, other): return _m.add(other, self)
    def __sub__(self, other): return _m.sub(self, other)
    def __rsub__(self, other): return _m.sub(other, self)
    def __mul__(self, other): return _m.mul(self, other)
    def __rmul__(self, other): return _m.mul(other, self)
    def __truediv__(self, other): return _m.div(self, other)
    def __rtruediv__(self, other): return _m.div(other, self)
    def __pow__(self, other): return _m.pow(self, other)
    def __rpow__(self, other): return _m.pow(other, self)
    def __matmul__(self, other): return _m.matmul(self, other)
    def __rmatmul__(self, other): return _m.matmul(other, self)
    def __neg__(self): return _m.neg(self)
    def __pos__(self): return self
    def __getitem__(self, index): return _m.getitem(self, index)

    # comparisons give boolean tensors and carry no gradient
    def __eq__(self, other): return Tensor(self.data == _raw(other))
    def __ne__(self, other): return Tensor(self.data != _raw(other))
    def __lt__(self, other): return Tensor(self.data < _raw(other))
    def __le__(self, other): return Tensor(self.data <= _raw(other))
    def __gt__(self, other): return Tensor(self.data > _raw(other))
    def __ge__(self, other): return Tensor(self.data >= _raw(other))

    # reductions: ``dim``/``keepdim`` are PyTorch's names for ``axis``/``keepdims`` (passing both is an error)
    def sum(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.sum(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def mean(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.mean(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def max(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.max(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def min(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.min(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmax(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.argmax(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def argmin(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.argmin(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def var(self, axis=None, keepdims=None, *, correction=None, dim=None, keepdim=None, unbiased=None):
        return _m.var(self, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim, unbiased=unbiased)

    def std(self, axis=None, keepdims=None, *, correction=None, dim=None, keepdim=None, unbiased=None):
        return _m.std(self, axis, keepdims, correction=correction, dim=dim, keepdim=keepdim, unbiased=unbiased)

    def logsumexp(self, axis=None, keepdims=None, *, dim=None, keepdim=None):
        return _m.logsumexp(self, axis, keepdims, dim=dim, keepdim=keepdim)

    def exp(self): return _m.exp(self)
    def log(self): return _m.log(self)
    def sqrt(self): return _m.sqrt(self)
    def abs(self): return _m.abs(self)
    def __abs__(self): return _m.abs(self)
    def clip(self, min=None, max=None): return _m.clip(self, min, max)  # noqa: A002 (PyTorch's names)
    def astype(self, dtype): return _m.astype(self, dtype)

    # shapes
    def reshape(self, *shape):
        """The same values in ``shape`` (ints or one tuple); one size may be -1, inferred from the others."""
        return _m.reshape(self, shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape)

    def view(self, *shape):
        """``reshape`` under PyTorch's name. The result may share memory with this tensor or be a copy;
        Tensor has no in-place operations, so nothing done through Tensors tells the two apart."""
        return self.reshape(*shape)

    def transpose(self, *axes):
        """Two ints (dim0, dim1): those axes exchanged, as torch.transpose; nothing: the axes reversed
        (``.T``); otherwise a permutation of all axes (ints or one tuple), as numpy.transpose."""
        if len(axes) == 2 and all(isinstance(a, (int, numpy.integer)) for a in axes):
            return _m.swapaxes(self, *axes)
        return _m.transpose(self, axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None))

    def permute(self, *dims):
        """Axis i of the result is axis ``dims[i]`` of this tensor (ints or one tuple), as torch.permute."""
        return _m.permute(self, dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims)

    def unsqueeze(self, dim): return _m.unsqueeze(self, dim)
    def squeeze(self, axis=None, *, dim=None): return _m.squeeze(self, axis, dim=dim)
    def flatten(self, start_dim=0, end_dim=-1): return _m.flatten(self, start_dim, end_dim)

    @property
    def T(self):
        return _m.transpose(self, None)

    # ---- DLPack: zero-copy exchange with PyTorch, CuPy, NumPy, JAX … --------------------
    def __dlpack__(self, *, stream=None, **kwargs):
        """A DLPack capsule of ``self.data``, sharing its memory (no copy, no device move).

        ``torch.from_dlpack(t)``, ``numpy.from_dlpack(t)`` and ``cupy.from_dlpack(t)`` call it; the
        result views the same buffer, so writes through either side show on the other. ``stream``
        (the consumer's CUDA stream, None on the host) and the newer keywords of the protocol
        (``max_version``, ``dl_device``, ``copy``) go to the array's own ``__dlpack__`` unchanged.
        Only the values travel: ``requires_grad`` and the recorded graph do not.
        """
        return self.data.__dlpack__(stream=stream, **kwargs)

    def __dlpack_device__(self) -> tuple[int, int]:
        """(DLPack device type, device id) of the data: (1, 0) on the host (kDLCPU), (2, n) on CUDA device n."""
        device_type, device_id = self.data.__dlpack_device__()
        return int(device_type), int(device_id)


# The error types NumPy and CuPy raise for shapes that do not broadcast, reshapes that do not fit,
# axes out of range and the like: a Function re-raises them with its name and its inputs.
_ARRAY_ERRORS = (ValueError, IndexError, TypeError)


def _describe(arrays) -> str:
    return ", ".join(f"{tuple(a.shape)} {a.dtype}" if hasattr(a, "shape") else repr(a) for a in arrays)


def _is_number(a) -> bool:
    """False for strings and for arrays of strings or objects; True for numbers, numeric arrays and the rest."""
    return not isinstance(a, (str, bytes)) and getattr(getattr(a, "dtype", None), "kind", "f") in NUMERIC_KINDS


def _non_numeric(op: str, arrays) -> TypeError:
    """The error for an op given strings or objects where it computes on numbers."""
    return ArgumentTypeError(f"{op}: inputs must be numbers (bool, int or float arrays), got {_describe(arrays)}")


def _naming_the_op(error: Exception, op: str, arrays) -> Exception:
    """``error`` again as "op: message (inputs: shapes and dtypes)", of the same type (a TypeError for
    NumPy's UFuncTypeError), or the error for non-numeric inputs when there are some; an error of another
    subclass with its own fields (e.g. DeviceMismatchError) or one that names the op already is kept."""
    message = str(error)
    if not all(_is_number(a) for a in arrays):
        return _non_numeric(op, arrays)
    kind = type(error)
    if isinstance(error, TypeError) and kind.__module__.startswith("numpy"):  # UFuncTypeError and kin
        kind = TypeError
    if kind not in (*_ARRAY_ERRORS, numpy.exceptions.AxisError) or message.startswith(op):
        return error
    return kind(f"{op}: {message} (inputs: {_describe(arrays)})")


def _wrap(array, requires_grad: bool) -> Tensor:
    """A Tensor around an op's output array, without Tensor.__init__'s checks (the hot path)."""
    t = object.__new__(Tensor)
    t.data, t.grad, t.requires_grad, t.creator = array, None, requires_grad, None
    return t


def _raw(x):
    return x.data if isinstance(x, Tensor) else x


def _as_array(data):
    """``data`` as an xp array: arrays unchanged; Python data on the active backend."""
    if isinstance(data, (numpy.ndarray, numpy.generic)) or hasattr(data, "__cuda_array_interface__"):
        if data.dtype.kind not in NUMERIC_KINDS:
            raise ArgumentTypeError(f"Tensor: data must be numbers, got an array of dtype {data.dtype}")
        return numpy.asarray(data) if isinstance(data, numpy.generic) else data  # a NumPy scalar: 0-d array
    try:
        host = numpy.asarray(data)
    except ValueError as error:  # ragged nested lists
        raise ArgumentValueError(f"Tensor: cannot make an array of this {type(data).__name__}: {error}") from error
    if host.dtype.kind not in NUMERIC_KINDS:
        raise ArgumentTypeError(f"Tensor: data must be numbers, got {type(data).__name__} {data!r:.60} "
                                f"(dtype {host.dtype})")
    if host.dtype == numpy.float64:
        host = host.astype(modes.get_default_dtype())
    return backends.current().from_numpy(host)


def _output_grads(fn: Function, pending: dict):
    """The gradients of ``fn``'s outputs taken out of ``pending``, or None when no output got one.

    An output nobody used gets zeros when another output of ``fn`` has a gradient.
    """
    if len(fn.outputs) == 1:  # the common case, without the general path's lists
        y = fn.outputs[0]()
        g = pending.pop(id(y), None) if y is not None else None
        return None if g is None else (g,)
    gys = []
    for ref in fn.outputs:
        y = ref()
        gys.append(pending.pop(id(y), None) if y is not None else None)
    if all(g is None for g in gys):
        return None
    return [fn._xp.zeros(shape, dtype) if g is None else g for g, (shape, dtype) in zip(gys, fn._output_meta)]


def _accumulate_leaf(leaf: Tensor, grad) -> None:
    # out of place: ``grad`` may be shared with other tensors' gradients or be a broadcast view
    if leaf.grad is None:
        leaf.grad = grad if grad.flags.c_contiguous else backends.backend_of(grad).xp.ascontiguousarray(grad)
    else:
        leaf.grad = leaf.grad + grad


def _reverse_topological(root: Function) -> list:
    """Functions reachable from ``root``, each before the functions that made its inputs.

    A Function's inputs existed before it was called, so the order of the calls is a
    topological order of the graph: the reachable functions sorted by decreasing call
    number (``_order``, set when the call is recorded) come in reverse topological order.
    """
    found = {id(root): root}
    stack = [root]
    while stack:
        for x in stack.pop().inputs:
            if isinstance(x, Tensor):
                fn = x.creator
                if fn is not None and id(fn) not in found:
                    found[id(fn)] = fn
                    stack.append(fn)
    return sorted(found.values(), key=_call_number, reverse=True)


def _call_number(fn: Function) -> int:
    return fn._order


from dlcore.ops import math as _m  # noqa: E402  (operators need Tensor defined first)
