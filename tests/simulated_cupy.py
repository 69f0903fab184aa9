"""A CuPy look-alike on the host, so that the GPU backend's Python path runs in CI (no GPU there).

``simulated_gpu(kernel_dir)`` installs (``backends.override``), inside a ``with`` block, a backend
named "cupy" that is ``CupyBackend`` itself, made by its own ``__init__`` on the simulated module:
every method the GPU runs (the device probe, GEMMs and ones-GEMM sums through the ctypes cuBLAS
binding, channel sums, the cuDNN switch, synchronize) runs here. The binding calls
``HostCublas``, a host stand-in for libcublas; cuDNN is off, so convolutions
take the portable im2col path, as on a GPU without the cuDNN frontend. Its module
``xp`` is NumPy cut down to what CuPy 14.2 has (``cupy_api.json``), and its arrays are
``DeviceArray``s, NumPy arrays that behave as CuPy's do where the difference bites:

* nothing comes back as a host scalar: reductions, ufuncs and integer indexing give 0-d
  device arrays;
* reading a value on the host is a synchronisation with the device: ``bool()``, ``float()``,
  ``int()``, ``item()``, ``tolist()``, ``get()``, printing, ``cupy.asnumpy``, a stream's
  ``synchronize()``, boolean-mask indexing and the functions whose output size depends on the
  data (``nonzero``, ``unique`` …) are recorded in ``SYNCS``, and raise ``HostSyncError``
  inside ``forbid_host_syncs()``;
* attributes, functions and keyword arguments that CuPy lacks raise, as they would on a GPU;
* a NumPy array among a device operation's arguments raises TypeError, as CuPy does;
* arrays move between host and device by copy (``cupy.asarray``/``asnumpy``), never aliased;
* out-of-bounds integer-array indices raise IndexError here, where CuPy wraps them around
  silently: a read out of range is a bug either way, and here it shows;
* ``ElementwiseKernel`` runs the fused CUDA body compiled as C++ (``fused_kernels.HostKernels``),
  so the fused kernels, not the portable bodies, serve the library's ``@fused`` operations;
* a stream captures a CUDA graph: host reads, and CuPy's own cuRAND and cuBLAS calls, raise
  there as on a GPU, and the graph replays the recorded operations with the numbers they were
  given at capture (``_Stream``);
* a non-blocking stream is not ordered after work queued on the legacy null stream: a device
  operation on it raises StreamOrderError unless it waited for that work (``wait_event``);
* a ``MemoryPool`` owns what is allocated inside ``using_allocator(pool.malloc)``, and dropping
  the pool frees that memory even where arrays still point into it, as CuPy before 14.1 does:
  the freed bytes become 0xFF here (NaN in floating arrays), as another allocation would reuse them;
* ``HostCublas``: ``cublasSetStream_v2`` resets the handle's workspace to cuBLAS's own, as
  cuBLAS does, and each GEMM notes the workspace it ran with.

What this cannot show is the device's arithmetic, CuPy's own kernels, the real cuBLAS, cuDNN,
CUDA's own graphs and NCCL: the GPU suite (``pytest -m gpu``) on a GPU does.

Regenerate the snapshot where CuPy imports (no GPU needed):
``python -m tests.simulated_cupy > tests/cupy_api.json``.
"""
from __future__ import annotations

import ctypes
import functools
import inspect
import itertools
import json
import types
import weakref
from contextlib import contextmanager
from pathlib import Path

import numpy

import backends
from backends.cublas import Cublas
from backends.cupy_backend import CupyBackend
from tests.fused_kernels import HostKernels

API = json.loads(Path(__file__).with_name("cupy_api.json").read_text())
CUPY = f"CuPy {API['cupy_version']}"

# functions whose output size depends on the data: CuPy reads a count back from the device
_DATA_SIZED = frozenset({"nonzero", "flatnonzero", "argwhere", "unique", "compress", "extract"})
# functions that take host data and copy it to the device
_FROM_HOST = frozenset({"asarray", "array", "asanyarray"})
# functions CuPy computes with cuBLAS (refused during stream capture)
_CUBLAS = frozenset({"matmul", "dot", "vdot", "inner", "tensordot"})


class HostSyncError(AssertionError):
    """A device value was read on the host where no synchronisation may happen."""


class SyncLog:
    """The host reads of device values (each waits for the device on a GPU), in the order they came."""

    def __init__(self):
        self.events: list[str] = []
        self.forbidden: list[str] = []  # why reads are forbidden now, innermost last

    def record(self, what: str) -> None:
        if self.forbidden:
            raise HostSyncError(f"{what}: a device value read on the host {self.forbidden[-1]}")
        self.events.append(what)

    @contextmanager
    def forbid(self, why: str):
        """Inside the block, any host read of a device value raises HostSyncError naming it and ``why``."""
        self.forbidden.append(why)
        try:
            yield
        finally:
            self.forbidden.pop()


SYNCS = SyncLog()


def forbid_host_syncs():
    """Inside the block, any host read of a device value raises HostSyncError naming it."""
    return SYNCS.forbid("inside a training step (on a GPU this waits until every queued kernel has finished)")


# ---- arrays ---------------------------------------------------------------------------------

def _host(x):
    """``x`` with every DeviceArray (also inside tuples and lists) seen as a plain NumPy array."""
    if isinstance(x, DeviceArray):
        return numpy.ndarray.view(x, numpy.ndarray)
    if type(x) in (tuple, list):
        return type(x)(_host(v) for v in x)
    return x


def _device(x):
    """Results as CuPy gives them: arrays as DeviceArrays and NumPy scalars as 0-d DeviceArrays."""
    if isinstance(x, numpy.ndarray):
        return x if type(x) is DeviceArray else numpy.ndarray.view(x, DeviceArray)
    if isinstance(x, numpy.generic):
        return numpy.ndarray.view(numpy.asarray(x), DeviceArray)
    if type(x) in (tuple, list):
        return type(x)(_device(v) for v in x)
    return x


def _refuse_host_arrays(what: str, args) -> None:
    """TypeError, as CuPy raises, for a NumPy array among ``args`` (or inside a tuple or list of them)."""
    for a in args:
        if type(a) in (tuple, list):
            _refuse_host_arrays(what, a)
        elif type(a) is numpy.ndarray:
            raise TypeError(f"{what}: a NumPy array of shape {a.shape} among the arguments of a device "
                            f"operation ({CUPY} refuses it: move it first, e.g. backends.to_device(a, 'cupy'))")


_UFUNC_KEYWORDS = API["ufunc_keywords"]


def _check_ufunc_keywords(ufunc, method: str, kwargs) -> None:
    """TypeError for a keyword CuPy's ufunc ``method`` does not take. NumPy's own array methods (``mean``,
    ``var`` …, which CuPy has) pass ``where=True`` and ``subok`` to ufuncs: those two are let through."""
    allowed = _UFUNC_KEYWORDS.get(method)  # None: any keyword
    unknown = [] if allowed is None else sorted(
        k for k, v in kwargs.items() if k not in allowed and not (k == "where" and v is True or k == "subok"))
    if unknown:
        name = f"cupy.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        raise TypeError(f"{name}: {CUPY} takes only the keywords {allowed}, got {unknown}")


class _Flags:
    """``cupy.ndarray.flags``: only these three."""

    __slots__ = ("c_contiguous", "f_contiguous", "owndata")

    def __init__(self, flags):
        self.c_contiguous, self.f_contiguous, self.owndata = flags.c_contiguous, flags.f_contiguous, flags.owndata


_NDARRAY_NAMES = frozenset(API["ndarray"])
_numpy_flags = numpy.ndarray.flags.__get__


def _apply_ufunc(ufunc, method, *inputs, **kwargs):
    """``ufunc.method`` on device arrays as CuPy's: no NumPy array in, results on the device."""
    out = kwargs.get("out")
    data = inputs[::2] if method == "at" else inputs  # ufunc.at(a, indices, b): CuPy takes host indices
    _refuse_host_arrays(f"cupy.{ufunc.__name__}", data + (out or ()))
    result = getattr(ufunc, method)(*_host(inputs), **{k: _host(v) for k, v in kwargs.items()})
    if out:
        return out[0] if len(out) == 1 else out
    return _device(result)


def _get_item(array, index):
    return _device(numpy.ndarray.__getitem__(array, _host(index)))


class DeviceArray(numpy.ndarray):
    """A NumPy array standing in for a ``cupy.ndarray`` (see the module docstring)."""

    def __array_finalize__(self, obj):
        _note_allocation(self)

    def __getattribute__(self, name):
        if name[0] != "_" and name not in _NDARRAY_NAMES:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r} ({CUPY} lacks it; NumPy has it)")
        value = numpy.ndarray.__getattribute__(self, name)
        if _Stream.capturing is not None and name[0] != "_" and callable(value):
            return functools.partial(_device_op, value)  # a method (astype, fill, argmax …) is a device operation
        return value

    @property
    def flags(self):
        return _Flags(_numpy_flags(self))

    @property
    def data(self):
        """CuPy's MemoryPointer, of which the library reads ``ptr``: the address of element 0."""
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        _check_ufunc_keywords(ufunc, method, kwargs)
        if ufunc is numpy.matmul:
            _refuse_in_capture("cuBLAS")
        return _device_op(_apply_ufunc, ufunc, method, *inputs, **kwargs)

    def __array_function__(self, func, types_, args, kwargs):
        # CuPy answers NumPy functions called on its arrays with its own function of that name
        implementation = getattr(_ROOT, func.__name__, None) if func.__name__ in _ROOT._names else None
        return NotImplemented if implementation is None else implementation(*args, **kwargs)

    def __getitem__(self, index):
        if _has_boolean_mask(index):
            SYNCS.record(f"boolean-mask indexing of a device array of shape {self.shape} (its size is read back)")
        return _device_op(_get_item, self, index)

    def __setitem__(self, index, value):
        _refuse_host_arrays("cupy.ndarray.__setitem__", (value,))
        _device_op(numpy.ndarray.__setitem__, self, _host(index), _host(value))

    def _read(self, what: str):
        SYNCS.record(f"{what} of a device array of shape {self.shape}")
        return numpy.ndarray.view(self, numpy.ndarray)

    def __bool__(self):
        return bool(self._read("bool()"))

    def __float__(self):
        return float(self._read("float()"))

    def __int__(self):
        return int(self._read("int()"))

    def __index__(self):
        return self._read("use as an index (__index__)").__index__()

    def __complex__(self):
        return complex(self._read("complex()"))

    def item(self, *args):
        return self._read("item()").item(*args)

    def tolist(self):
        return self._read("tolist()").tolist()

    def get(self):
        """CuPy's copy to the host."""
        return self._read("get()").copy()

    def __repr__(self):
        return f"device {numpy.ndarray.__repr__(self._read('repr()'))}"

    def __str__(self):
        return str(self._read("str()"))

    def __format__(self, spec):
        return format(self._read("format()"), spec)


DeviceArray.__module__ = "cupy._simulated"  # the shim assigns arrays from modules named cupy* to "cupy"


def _has_boolean_mask(index) -> bool:
    items = index if type(index) is tuple else (index,)
    return any(isinstance(i, numpy.ndarray) and i.dtype == bool for i in items)


# ---- the module ---------------------------------------------------------------------------------

def _device_function(qualname: str, fn, params):
    """``fn`` on device arrays as CuPy's function of that name: its keywords only, no NumPy arrays in."""
    name = qualname.rsplit(".", 1)[-1]

    def call(*args, **kwargs):
        if params is not None:
            unknown = [k for k in kwargs if k not in params]
            if unknown or len(args) > len(params):
                raise TypeError(f"{qualname}() takes ({', '.join(params)}) in {CUPY}; got {len(args)} positional "
                                f"arguments and the keywords {sorted(kwargs)}")
        if name not in _FROM_HOST:
            _refuse_host_arrays(qualname, (*args, *kwargs.values()))
        if name in _CUBLAS:
            _refuse_in_capture("cuBLAS")
        if name in _DATA_SIZED or name == "where" and len(args) + len(kwargs) == 1:
            SYNCS.record(f"{qualname} (its output size is read back from the device)")
        return _device_op(run, *args, **kwargs)

    def run(*args, **kwargs):
        return _device(fn(*_host(args), **{key: _host(v) for key, v in kwargs.items()}))

    run.__name__ = qualname

    call.__name__ = call.__qualname__ = name
    return call


class _Module(types.ModuleType):
    """A NumPy module cut down to the names its CuPy twin has; functions wrapped by ``_device_function``."""

    def __init__(self, name: str, numpy_module, extras=None):
        super().__init__(name)
        api = API[name]
        self._numpy, self._names, self._params = numpy_module, frozenset(api["names"]), api["params"]
        vars(self).update(extras or {})

    def __getattr__(self, name):  # called only for names not set yet
        if name.startswith("__") or name not in self._names and not hasattr(self._numpy, name):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        if name not in self._names:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r} ({CUPY} lacks it; NumPy has it)")
        if not hasattr(self._numpy, name):
            raise AttributeError(f"{self.__name__}.{name} exists in {CUPY} but not in its host simulation: "
                                 "mark the test cuda_only, or simulate it in tests/simulated_cupy.py")
        value = getattr(self._numpy, name)
        if callable(value) and not isinstance(value, (type, numpy.ufunc)):
            value = _device_function(f"{self.__name__}.{name}", value, self._params.get(name))
        setattr(self, name, value)
        return value


def _asarray(a, dtype=None, order=None, copy=None, blocking=False):
    """cupy.asarray: host data is copied to the device; a device array is kept unless a cast is asked for."""
    if isinstance(a, DeviceArray):
        return a if dtype is None or a.dtype == dtype else a.astype(dtype)
    _current_stream()._queue("cupy.asarray (a copy to the device)")
    return numpy.ndarray.view(numpy.array(_host(a), dtype=dtype, order=order or "K", copy=True), DeviceArray)


def _array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, blocking=False):
    """cupy.array: host data copied to the device; a device array copied too unless ``copy`` is False."""
    if isinstance(obj, DeviceArray) and not copy and ndmin <= obj.ndim:
        return _asarray(obj, dtype)
    _current_stream()._queue("cupy.array (a copy to the device)")
    return numpy.ndarray.view(numpy.array(_host(obj), dtype=dtype, order=order, copy=True, ndmin=ndmin), DeviceArray)


def _asnumpy(a, stream=None, order="C", out=None, blocking=True):
    """cupy.asnumpy: a host copy (a synchronisation for device arrays)."""
    if isinstance(a, DeviceArray):
        return a._read("cupy.asnumpy").copy()
    return numpy.asarray(a)


class _RandomState:
    """``cupy.random.RandomState`` on NumPy's: the methods CuPy has, results on the device, ``dtype=`` honoured."""

    _names = frozenset(API["RandomState"])

    def __init__(self, seed=None):
        self._state = numpy.random.RandomState(seed)

    def __getattr__(self, name):
        if name not in self._names or name.startswith("_"):
            raise AttributeError(f"'cupy.random.RandomState' object has no attribute {name!r}")
        method = getattr(self._state, name)

        def call(*args, dtype=None, **kwargs):
            _refuse_in_capture("cuRAND")
            values = method(*args, **kwargs)
            if dtype is not None:
                values = numpy.asarray(values).astype(dtype)
                if name == "random_sample" and values.dtype.kind == "f":
                    # a float64 draw within 2⁻²⁵ of 1 rounds to 1.0 in float32, where CuPy's float32 draws stay
                    # in [0, 1) (then −ln(1 − u) is +∞: about one denoising-autoencoder test run in 700 failed)
                    numpy.minimum(values, numpy.nextafter(values.dtype.type(1), values.dtype.type(0)), out=values)
            return _device(values)
        return call


# ---- streams and graph capture ------------------------------------------------------------------

class StreamOrderError(AssertionError):
    """A non-blocking stream ran device work not ordered after the null stream's queued work."""


class _Event:
    """``cupy.cuda.Event`` as recorded on a stream: how much null-stream work it follows."""

    def __init__(self, null_work: int):
        self.null_work = null_work


class _Stream:
    """``cupy.cuda.Stream``: a context that makes it the current stream, stream ordering and capture.

    Ordering: device operations on the null stream are counted (``null_work``); a non-blocking
    stream, which CUDA does not order after the legacy null stream, may run a device operation
    only once it has waited (``wait_event`` on an event recorded there) for all of them, or the
    host has synchronised the null stream; else StreamOrderError.

    While a stream captures, host reads raise HostSyncError (CUDA refuses them in capture), and
    so do the calls CuPy refuses: its cuRAND and cuBLAS wrappers raise NotImplementedError.
    Every device operation (ufunc, indexing, array method, ``cupy`` function, fused kernel,
    cuBLAS GEMM) is recorded with its arguments and result; ``end_capture`` returns a ``_Graph``
    whose ``launch`` runs them again into the same result arrays, with the Python numbers they
    were given then, as a CUDA graph replays its kernels. One difference: here the operations
    also run while they are captured, where CUDA only records them.
    """

    capturing: "_Stream | None" = None  # the stream capturing now, if any
    _stack: list = []  # the streams entered with ``with``, innermost last
    _inside_op = False  # True while a recorded operation runs: what it does inside is part of it
    null_work = 0  # device operations queued on the null stream so far
    null_synchronized = 0  # of those, how many the host has waited for
    _pointers = itertools.count(0x1000, 0x10)  # distinct handles, as CUDA's streams have

    def __init__(self, null=False, non_blocking=False, ptds=False, priority=None):
        self.ptr = 0 if null else next(_Stream._pointers)
        self.non_blocking = non_blocking
        self.waited_for = 0  # null-stream work this stream is ordered after (through wait_event)

    def record(self, event=None):
        """An event after the work queued here (only the null stream's is counted)."""
        return _Event(_Stream.null_work if self.ptr == 0 else 0)

    def wait_event(self, event):
        self.waited_for = max(self.waited_for, event.null_work)

    def _queue(self, what: str) -> None:
        """Account for a device operation ``what`` queued on this stream (see the class docstring)."""
        if self.ptr == 0:
            _Stream.null_work += 1
            return
        unordered = _Stream.null_work - max(self.waited_for, _Stream.null_synchronized)
        if self.non_blocking and unordered > 0:
            raise StreamOrderError(
                f"{what} on a non-blocking stream is not ordered after the {unordered} operation(s) queued on "
                "the legacy null stream before it (CUDA does not order them): make it wait first, "
                "stream.wait_event(cupy.cuda.get_current_stream().record())")

    def __enter__(self):
        _Stream._stack.append(self)
        return self

    def __exit__(self, *exc):
        _Stream._stack.pop()

    def synchronize(self):
        SYNCS.record("cupy.cuda.Stream.synchronize()")
        if self.ptr == 0:
            _Stream.null_synchronized = _Stream.null_work

    def begin_capture(self, mode=None):
        if _Stream.capturing is not None:
            raise RuntimeError("a stream is capturing already")
        _Stream.capturing = self
        self.recorded = []
        self._no_reads = SYNCS.forbid("inside a CUDA-graph capture (CUDA refuses it and invalidates the capture)")
        self._no_reads.__enter__()

    def end_capture(self):
        if _Stream.capturing is not self:
            raise RuntimeError("this stream is not capturing")
        _Stream.capturing = None
        self._no_reads.__exit__(None, None, None)
        return _Graph(self.recorded)

    def is_capturing(self) -> bool:
        return _Stream.capturing is self


def _refuse_in_capture(library: str) -> None:
    """CuPy's NotImplementedError for a cuRAND or cuBLAS call while a stream captures."""
    if _Stream.capturing is not None:
        raise NotImplementedError(f"calling {library} API during stream capture is currently unsupported")


def _device_op(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, one device operation; while a stream captures, it is also recorded.

    Lists among the arguments are copied (the caller may change them later; the graph would not
    see it). An operation that others run inside of is not recorded again.
    """
    if not _Stream._inside_op:
        name = f"cupy.{args[0].__name__}" if fn is _apply_ufunc else getattr(fn, "__name__", repr(fn))
        _current_stream()._queue(f"device operation {name}")
    capture = _Stream.capturing
    if capture is None or _Stream._inside_op:
        return fn(*args, **kwargs)
    args = tuple(list(a) if type(a) is list else a for a in args)
    _Stream._inside_op = True
    try:
        result = fn(*args, **kwargs)
    finally:
        _Stream._inside_op = False
    capture.recorded.append((fn, args, kwargs, result))
    return result


def _write_into(target, value) -> None:
    """Copy a replayed operation's ``value`` into the array its capture returned (not into views of the same memory)."""
    if type(target) in (tuple, list):
        for t, v in zip(target, value):
            _write_into(t, v)
    elif isinstance(target, numpy.ndarray) and not numpy.may_share_memory(target, value):
        numpy.copyto(_host(target), _host(value))


class _Graph:
    """A captured sequence of device operations (see ``_Stream``)."""

    def __init__(self, recorded):
        self.recorded = recorded

    def launch(self, stream=None):
        for fn, args, kwargs, result in self.recorded:
            _write_into(result, fn(*args, **kwargs))


class _MemoryPool:
    """``cupy.cuda.MemoryPool`` as CuPy before 14.1 has it (see the module docstring): the memory
    allocated while its ``malloc`` is the allocator is its own, and is freed when the pool is
    dropped, whatever still points into it. Allocations are NumPy's; ``malloc`` only has to exist."""

    def __init__(self):
        self.owned: list = []  # weak references to the memory (the arrays owning it) allocated from the pool
        weakref.finalize(self, _free, self.owned)

    def malloc(self, size):
        raise NotImplementedError("the simulation allocates through NumPy")

    def owns(self, array) -> bool:
        """Whether ``array``'s memory was allocated from this pool."""
        root = _memory_owner(array)
        return any(ref() is root for ref in self.owned)


def _free(owned) -> None:
    """A dropped pool's memory, freed: overwritten with 0xFF bytes where arrays still point into it."""
    for ref in owned:
        root = ref()
        if root is not None:
            ctypes.memset(root.__array_interface__["data"][0], 0xFF, numpy.ndarray.nbytes.__get__(root))


_allocators: list = []  # the pools of the enclosing ``using_allocator`` blocks, innermost last (None: CuPy's own)
_seen: dict = {}  # id → weak reference of every array owning device memory, once seen


_numpy_base = numpy.ndarray.base.__get__


def _memory_owner(array):
    """The array that owns ``array``'s memory (the end of its chain of bases)."""
    base = _numpy_base(array)
    while isinstance(base, numpy.ndarray):
        array, base = base, _numpy_base(base)
    return array


def _note_allocation(array) -> None:
    """Give the memory of a new device array to the current pool, if it is new memory (not seen before)."""
    root = _memory_owner(array)
    key = id(root)
    if key in _seen or not _numpy_flags(root).owndata:  # not owning: a view of memory another array owns
        return
    _seen[key] = weakref.ref(root, lambda _, key=key: _seen.pop(key, None))
    if _allocators and _allocators[-1] is not None:
        _allocators[-1].owned.append(weakref.ref(root))


@contextmanager
def _using_allocator(allocator=None):
    """``cupy.cuda.using_allocator``: inside the block, new device memory comes from ``allocator``'s pool."""
    pool = getattr(allocator, "__self__", None)
    _allocators.append(pool if isinstance(pool, _MemoryPool) else None)
    try:
        yield
    finally:
        _allocators.pop()


_STREAM = _Stream(null=True)  # the null stream, current outside every ``with stream:``


def _current_stream() -> _Stream:
    return _Stream._stack[-1] if _Stream._stack else _STREAM


class _HostElementwiseKernel:
    """``cupy.ElementwiseKernel`` whose body runs compiled as C++ on the host (``HostKernels``)."""

    def __init__(self, host_kernels: HostKernels, in_params, out_params, operation, name, preamble=""):
        self._host_kernels = host_kernels
        self._spec = types.SimpleNamespace(in_params=in_params, out_params=out_params, cuda=operation,
                                           name=name, preamble=preamble)

    def __call__(self, *args):
        _refuse_host_arrays(f"cupy.ElementwiseKernel {self._spec.name}", args)
        return _device_op(lambda *a: _device(self._host_kernels(self._spec, *_host(a))), *args)


# one device, as ``cupy.cuda.runtime`` describes it to the backend
_RUNTIME = types.SimpleNamespace(getDeviceCount=lambda: 1,
                                 getDeviceProperties=lambda device: {"name": b"simulated on the host"})


def simulated_cupy_module(host_kernels: HostKernels) -> _Module:
    """The ``cupy`` module as the simulation sees it (see the module docstring)."""
    return _Module("cupy", numpy, {
        "__version__": f"{API['cupy_version']} (simulated on the host)",
        "ndarray": DeviceArray,
        "asarray": _asarray,
        "array": _array,
        "asnumpy": _asnumpy,
        "ElementwiseKernel": lambda *args, **kwargs: _HostElementwiseKernel(host_kernels, *args, **kwargs),
        "cuda": types.SimpleNamespace(get_current_stream=_current_stream, Stream=_Stream, MemoryPool=_MemoryPool,
                                      using_allocator=_using_allocator, runtime=_RUNTIME,
                                      Device=lambda device=0: types.SimpleNamespace(id=device)),
        "lib": types.SimpleNamespace(stride_tricks=_Module("cupy.lib.stride_tricks", numpy.lib.stride_tricks)),
        "random": _Module("cupy.random", numpy.random, {"RandomState": _RandomState}),
        "linalg": _Module("cupy.linalg", numpy.linalg),
    })


_ROOT = simulated_cupy_module(None)  # what NumPy functions called on device arrays dispatch to (no kernels)


# cublasStatus_t cublas?gemm_v2(handle, transa, transb, m, n, k, *alpha, *A, lda, *B, ldb, *beta, *C, ldc)
_GEMM_PROTOTYPE = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                   ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                   ctypes.c_void_p, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int)
_CUBLAS_STATUS_INVALID_VALUE, _CUBLAS_STATUS_INTERNAL_ERROR, _CUBLAS_TF32_TENSOR_OP_MATH = 7, 14, 3


def _column_major(address: int, dtype, rows: int, cols: int, ld: int):
    """The rows × cols column-major matrix at ``address`` with leading dimension ``ld``, as a view."""
    if rows == 0 or cols == 0:
        return numpy.zeros((rows, cols), dtype)
    itemsize = numpy.dtype(dtype).itemsize
    size = ld * (cols - 1) + rows
    flat = numpy.frombuffer((ctypes.c_char * (size * itemsize)).from_address(address), dtype)
    return numpy.lib.stride_tricks.as_strided(flat, (rows, cols), (itemsize, ld * itemsize))


def _tf32(x):
    """float32 values rounded to TF32's 10 mantissa bits (to nearest), as tensor cores read their operands."""
    bits = numpy.ascontiguousarray(x, numpy.float32).view(numpy.uint32)
    return ((bits + numpy.uint32(0x1000)) & numpy.uint32(0xFFFFE000)).view(numpy.float32)


class HostCublas:
    """The libcublas entry points ``backends.cublas.Cublas`` calls, on host memory.

    The GEMMs are C functions (ctypes callbacks with cuBLAS's prototype, so the caller's argument
    types are marshalled as for the real library) computing cuBLAS's column-major
    C = α·op(A)·op(B) + β·C; a leading dimension shorter than its matrix's rows is refused with
    CUBLAS_STATUS_INVALID_VALUE, as cuBLAS refuses it. Under TF32 math, float32 operands are
    rounded to 10 mantissa bits first.
    """

    def __init__(self):
        self.math_mode = 0
        self.workspace = None  # (address, bytes) set by cublasSetWorkspace_v2; None: cuBLAS's own pool
        self.gemm_workspaces: list = []  # the workspace each GEMM ran with, in order
        self.cublasSgemm_v2 = _GEMM_PROTOTYPE(lambda *args: self._gemm(numpy.float32, ctypes.c_float, *args))
        self.cublasDgemm_v2 = _GEMM_PROTOTYPE(lambda *args: self._gemm(numpy.float64, ctypes.c_double, *args))

    def cublasCreate_v2(self, handle_pointer):
        return 0

    def cublasSetWorkspace_v2(self, handle, workspace, size):
        self.workspace = (workspace.value, size.value)
        return 0

    def cublasSetStream_v2(self, handle, stream):
        """cuBLAS: "unconditionally resets the cuBLAS library workspace back to the default workspace pool"."""
        self.workspace = None
        return 0

    def cublasSetMathMode(self, handle, mode):
        self.math_mode = mode
        return 0

    def _gemm(self, dtype, scalar, handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
        self.gemm_workspaces.append(self.workspace)
        try:
            (a_rows, a_cols), (b_rows, b_cols) = (k, m) if transa else (m, k), (n, k) if transb else (k, n)
            if lda < max(1, a_rows) or ldb < max(1, b_rows) or ldc < max(1, m):
                return _CUBLAS_STATUS_INVALID_VALUE
            op_a = _column_major(a, dtype, a_rows, a_cols, lda)
            op_b = _column_major(b, dtype, b_rows, b_cols, ldb)
            op_a, op_b = op_a.T if transa else op_a, op_b.T if transb else op_b
            if self.math_mode == _CUBLAS_TF32_TENSOR_OP_MATH and dtype is numpy.float32:
                op_a, op_b = _tf32(op_a), _tf32(op_b)
            alpha, beta = (ctypes.cast(p, ctypes.POINTER(scalar)).contents.value for p in (alpha, beta))
            out = _column_major(c, dtype, m, n, ldc)
            product = (alpha * (op_a @ op_b)).astype(dtype)
            out[...] = product if beta == 0 else product + beta * out
            return 0
        except Exception:  # noqa: BLE001  (an exception cannot cross the C boundary: it becomes a status)
            return _CUBLAS_STATUS_INTERNAL_ERROR


class _RecordedGemms:
    """``backends.cublas.Cublas`` whose GEMMs are device operations a capture records (``_device_op``)."""

    def __init__(self, cublas: Cublas):
        self._cublas = cublas

    def gemm(self, *args):
        return _device_op(self._cublas.gemm, *args)

    def __getattr__(self, name):
        return getattr(self._cublas, name)


def simulated_backend(host_kernels: HostKernels) -> CupyBackend:
    """``CupyBackend`` made by its own ``__init__`` on the simulated module, its GEMMs through
    ``backends.cublas`` on ``HostCublas`` (as ``host_cublas``) and recorded in captures, cuDNN off;
    ``host_kernels`` (whose ``calls`` name the fused kernels that ran) compiles the fused bodies."""
    host_cublas = HostCublas()
    backend = CupyBackend(simulated_cupy_module(host_kernels), cublas_library=host_cublas)
    backend.cublas = _RecordedGemms(backend.cublas)
    backend.cudnn_enabled = False
    backend.host_kernels, backend.host_cublas = host_kernels, host_cublas
    return backend


@contextmanager
def simulated_gpu(kernel_dir):
    """Inside the block, backend "cupy" is the simulation (fused kernels compiled into ``kernel_dir``),
    installed with ``backends.override``; whatever "cupy" was before comes back afterwards."""
    backend = simulated_backend(HostKernels(str(kernel_dir)))
    _Stream.null_work = _Stream.null_synchronized = 0
    try:
        with backends.override("cupy", backend):
            yield backend
    finally:
        if _Stream.capturing is not None:  # a test that failed mid-capture must not leave reads forbidden
            _Stream.capturing.end_capture()


# ---- the snapshot ------------------------------------------------------------------------------

def _snapshot(cupy) -> dict:
    """The names (and keyword lists of Python functions) of the CuPy API this simulation admits."""
    def public(obj):
        return sorted(n for n in dir(obj) if not n.startswith("_"))

    def params(fn):
        try:
            parameters = inspect.signature(fn).parameters.values()
        except (TypeError, ValueError):  # Cython functions, ufuncs
            return None
        if any(p.kind == p.VAR_KEYWORD for p in parameters):
            return None
        return [p.name for p in parameters if p.kind != p.VAR_POSITIONAL]

    def module(mod):
        names = public(mod)
        found = {n: params(getattr(mod, n)) for n in names
                 if callable(getattr(mod, n)) and not isinstance(getattr(mod, n), type)}
        return {"names": names, "params": {n: p for n, p in found.items() if p is not None}}

    def ufunc_keywords():
        """{method: keywords CuPy's ufuncs take}: "__call__" tried out (others raise 'Wrong arguments'
        before any device work), the methods read off their docstrings' signature line; None: any."""
        taken = []
        for keyword, value in (("out", None), ("dtype", None), ("casting", "same_kind"), ("where", True),
                               ("order", "K"), ("subok", True), ("signature", None)):
            try:
                cupy.add(1.0, 2.0, **{keyword: value})
            except TypeError as error:
                if "Wrong arguments" in str(error):
                    continue
            except Exception:  # noqa: BLE001  (no device: the keyword was accepted, the launch failed)
                pass
            taken.append(keyword)
        found = {"__call__": taken}
        for method in ("reduce", "accumulate", "reduceat", "at", "outer"):
            line = getattr(cupy.add, method).__doc__.splitlines()[0]  # "ufunc.reduce(self, array, axis=0, …)"
            params = [p.strip() for p in line[line.index("(") + 1:line.rindex(")")].split(",")]
            keywords = [p.split("=")[0] for p in params if "=" in p]
            found[method] = None if any(p.startswith("**") for p in params) else keywords
        return found

    return {"cupy_version": cupy.__version__, "cupy": module(cupy), "ufunc_keywords": ufunc_keywords(),
            "cupy.lib.stride_tricks": module(cupy.lib.stride_tricks), "cupy.random": module(cupy.random),
            "cupy.linalg": module(cupy.linalg), "ndarray": sorted(set(public(cupy.ndarray)) | {"T"}),
            "RandomState": public(cupy.random.RandomState)}


if __name__ == "__main__":
    import sys

    import cupy as _cupy
    json.dump(_snapshot(_cupy), sys.stdout, sort_keys=True)
