"""The library's fused CUDA bodies, checked without a GPU: found, and wrapped as ``cupy.ElementwiseKernel`` wraps them.

CuPy turns ``ElementwiseKernel(in_params, out_params, body)`` into a loop over the element
index ``i`` of the broadcast non-raw arguments, with type placeholders (``T``, ``L``) as
typedefs, ``const T &x`` bound to element i of each non-raw input, ``T &y`` to element i of
each output, ``raw`` arrays (read-only when inputs) indexed by a flat C-order index, and
``;`` after the body. Two wrappers of the same body follow that recipe:

* ``cuda_source`` gives the CUDA kernel, for NVRTC to compile (``test_cuda_sources.py``);
* ``HostKernels`` compiles the body as C++ with the host compiler and calls it like CuPy
  calls its kernel (broadcasting, output allocation, in-place outputs), so that the fused
  bodies can run on NumPy arrays and be compared with their portable bodies
  (``test_fused_on_host.py``). What the host cannot show is rounding: NVRTC contracts
  multiply-adds and the device has its own math library; the GPU parity suite sees those.
"""
from __future__ import annotations

import ctypes
import hashlib
import importlib
import itertools
import os
import pkgutil
import shutil
import subprocess

import numpy

import backends
import dlcore
from backends.fused import Elementwise

# C types of CuPy's parameter type names; single capital letters are placeholders, tried with each type listed
C_TYPES = {"bool": "bool", "int32": "int", "int64": "long long", "float32": "float", "float64": "double"}
# (L: the integer labels cross-entropy accepts, of any width and sign)
PLACEHOLDER_TYPES = {"T": ("float", "double"),
                     "L": ("int", "long long", "short", "signed char", "unsigned char", "unsigned int")}
NUMPY_TYPES = {"bool": numpy.bool_, "signed char": numpy.int8, "unsigned char": numpy.uint8, "short": numpy.int16,
               "int": numpy.int32, "unsigned int": numpy.uint32, "long long": numpy.int64,
               "float": numpy.float32, "double": numpy.float64}


DTYPE_TO_C = {numpy.dtype(t): c for c, t in NUMPY_TYPES.items()}


def signature(kernel: Elementwise) -> list[tuple[bool, bool, str, str]]:
    """[(is_output, raw, C type, name)] of the kernel's inputs, then its outputs (placeholders kept as T, L)."""
    out = []
    for is_output, spec in ((False, kernel.in_params), (True, kernel.out_params)):
        for item in filter(None, (p.strip() for p in spec.split(","))):
            *qualifiers, type_name, name = item.split()
            c_type = type_name if type_name in PLACEHOLDER_TYPES else C_TYPES[type_name]
            out.append((is_output, qualifiers == ["raw"], c_type, name))
    return out


def bindings(kernel: Elementwise) -> list[dict]:
    """Every assignment of C types to the placeholders the kernel uses (each from PLACEHOLDER_TYPES)."""
    used = sorted({c_type for _, _, c_type, _ in signature(kernel) if c_type in PLACEHOLDER_TYPES})
    return [dict(zip(used, types)) for types in itertools.product(*(PLACEHOLDER_TYPES[p] for p in used))]


def fused_kernels() -> dict[str, Elementwise]:
    """Every Elementwise defined anywhere in dlcore or backends (found by importing every module), by name."""
    found = {}
    for package in (dlcore, backends):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            for value in vars(importlib.import_module(info.name)).values():
                if isinstance(value, Elementwise):
                    found[value.name] = value
    return dict(sorted(found.items()))


def _typedefs(binding: dict) -> str:
    return "".join(f"typedef {c_type} {placeholder};\n" for placeholder, c_type in binding.items())


def _raw_parameter(is_output: bool, c_type: str, name: str) -> str:
    """A raw parameter as CuPy declares it: read-only when it is an input."""
    return f"RawArray<{c_type if is_output else 'const ' + c_type}> {name}"


def _body(kernel: Elementwise, reference) -> str:
    """The per-element references of the non-raw parameters, ``reference(is_output, c_type, name, k)``, then the body."""
    lines = [reference(is_output, c_type, name, k)
             for k, (is_output, raw, c_type, name) in enumerate(signature(kernel)) if not raw]
    return "\n".join(lines) + f"\n{kernel.cuda};\n"  # CuPy ends the body with ";"


# CUDA: raw arrays as plain pointers (the library's raw arguments are C-contiguous, or addressed as &x[0] plus strides).
# CuPy compiles with NVRTC's --std=c++14 and no "using"; the names _n and _raw_* stand for CuPy's own.
_CUDA_RAW_ARRAY = """
template <typename V> struct RawArray {
    V* data;
    __device__ V& operator[](ptrdiff_t k) const { return data[k]; }
};
"""


def cuda_source(kernel: Elementwise, binding: dict) -> str:
    """The kernel as cupy.ElementwiseKernel would generate it, its placeholders typedef'd as ``binding`` says."""
    params = [_raw_parameter(is_output, c_type, name) if raw else f"{c_type}* _raw_{name}"
              for is_output, raw, c_type, name in signature(kernel)]
    body = _body(kernel, lambda out, c_type, name, k: f"{'' if out else 'const '}{c_type} &{name} = _raw_{name}[i];")
    return (f"{_CUDA_RAW_ARRAY}{_typedefs(binding)}{kernel.preamble}\n"
            f'extern "C" __global__ void {kernel.name}({", ".join(params)}, ptrdiff_t _n) {{\n'
            "for (ptrdiff_t i = blockIdx.x * blockDim.x + threadIdx.x; i < _n; i += blockDim.x * gridDim.x) {\n"
            f"{body}}}\n}}\n")


# C++: every argument is (pointer, shape, byte strides); raw arrays index their own shape in C order,
# the others the broadcast shape with their broadcast strides (0 along broadcast axes)
_HOST_PRELUDE = """
#include <algorithm>
#include <cmath>
#include <cstddef>
using std::ceil; using std::cos; using std::erf; using std::exp; using std::expm1; using std::fabs; using std::floor;
using std::fmax; using std::fmin; using std::isinf; using std::isnan; using std::log; using std::log1p; using std::max;
using std::min; using std::nan; using std::pow; using std::sin; using std::sqrt; using std::tanh;
struct Layout { char* data; int ndim; const ptrdiff_t* shape; const ptrdiff_t* strides;
    char* at(ptrdiff_t k) const {
        char* p = data;
        for (int d = ndim - 1; d >= 0; --d) { p += (k % shape[d]) * strides[d]; k /= shape[d]; }
        return p;
    }
};
template <typename V> struct RawArray {
    Layout layout;
    V& operator[](ptrdiff_t k) const { return *reinterpret_cast<V*>(layout.at(k)); }
};
"""


def host_source(kernel: Elementwise, binding: dict) -> str:
    """The kernel body as a C++ function ``run(_layouts, _n)`` looping over i as CuPy's kernel does."""
    raws = [f"{_raw_parameter(is_output, c_type, name)}{{_layouts[{k}]}};"
            for k, (is_output, raw, c_type, name) in enumerate(signature(kernel)) if raw]
    body = _body(kernel, lambda out, c_type, name, k:
                 f"{'' if out else 'const '}{c_type} &{name} = *reinterpret_cast<{c_type}*>(_layouts[{k}].at(i));")
    return (f"{_HOST_PRELUDE}{_typedefs(binding)}{kernel.preamble}\n"
            'extern "C" void run(const Layout* _layouts, ptrdiff_t _n) {\n' + "\n".join(raws) +
            f"\nfor (ptrdiff_t i = 0; i < _n; ++i) {{\n{body}}}\n}}\n")


class _Layout(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("ndim", ctypes.c_int), ("shape", ctypes.POINTER(ctypes.c_ssize_t)),
                ("strides", ctypes.POINTER(ctypes.c_ssize_t))]


class HostKernels:
    """Fused CUDA bodies compiled as C++ into ``cache_dir`` and called the way CuPy calls the kernel."""

    compiler = shutil.which("c++") or shutil.which("g++")

    def __init__(self, cache_dir):
        self.cache_dir, self.libraries, self.calls = cache_dir, {}, set()

    def _library(self, kernel: Elementwise, binding: dict):
        source = host_source(kernel, binding)
        key = hashlib.sha256(source.encode()).hexdigest()[:16]
        if key not in self.libraries:
            path = os.path.join(self.cache_dir, f"{kernel.name}-{key}.so")
            if not os.path.exists(path):
                compiled = subprocess.run([self.compiler, "-O1", "-std=c++14", "-shared", "-fPIC", "-x", "c++", "-",
                                           "-o", path], input=source, capture_output=True, text=True)
                if compiled.returncode:
                    raise RuntimeError(f"{kernel.name} {binding} does not compile as C++:\n{compiled.stderr}")
            run = ctypes.CDLL(path).run
            run.argtypes, run.restype = [ctypes.POINTER(_Layout), ctypes.c_ssize_t], None
            self.libraries[key] = run
        return self.libraries[key]

    def __call__(self, kernel: Elementwise, *args):
        """``kernel(*args)`` as cupy.ElementwiseKernel does it, on NumPy arrays: outputs (a tuple when several)."""
        specs = signature(kernel)
        n_in = sum(not is_output for is_output, _, _, _ in specs)
        if len(args) not in (n_in, len(specs)):
            raise TypeError(f"{kernel.name}: {len(args)} arguments for {n_in} inputs and {len(specs) - n_in} outputs")
        binding = {}
        for (_, _, c_type, _), a in zip(specs, args):
            if c_type in PLACEHOLDER_TYPES and isinstance(a, numpy.ndarray):
                binding.setdefault(c_type, DTYPE_TO_C[a.dtype])
        dtype = {c: numpy.dtype(NUMPY_TYPES[binding.get(c, c)]) for _, _, c, _ in specs}
        arrays = [a if isinstance(a, numpy.ndarray) else numpy.asarray(a, dtype[c_type])
                  for (_, _, c_type, _), a in zip(specs, args)]
        if not any(isinstance(a, numpy.ndarray) and not raw for (_, raw, _, _), a in zip(specs, args)):
            raise ValueError(f"{kernel.name}: loop size is undecided (no non-raw array argument), as CuPy says")
        shape = numpy.broadcast_shapes(*(a.shape for (_, raw, _, _), a in zip(specs, arrays) if not raw))
        for (_, raw, _, name), a in zip(specs[n_in:], arrays[n_in:]):
            if not raw and a.shape != shape:
                raise ValueError(f"{kernel.name}: output {name} has shape {a.shape}, the loop shape is {shape}")
        for _, raw, c_type, name in specs[len(arrays):]:
            if raw:
                raise ValueError(f"{kernel.name}: the raw output {name} must be passed, as CuPy says")
            arrays.append(numpy.empty(shape, dtype[c_type]))
        keep = []  # the shape and stride buffers live until the call returns
        layouts = (_Layout * len(specs))()
        for layout, (_, raw, c_type, name), a in zip(layouts, specs, arrays):
            if a.dtype != dtype[c_type]:
                raise TypeError(f"{kernel.name}: {name} is {a.dtype}, the kernel reads {dtype[c_type]}")
            view = a if raw else numpy.broadcast_to(a, shape)
            dims = (ctypes.c_ssize_t * max(view.ndim, 1))(*view.shape)
            steps = (ctypes.c_ssize_t * max(view.ndim, 1))(*view.strides)
            keep += [dims, steps]
            layout.data, layout.ndim, layout.shape, layout.strides = a.ctypes.data, view.ndim, dims, steps
        self._library(kernel, binding)(layouts, ctypes.c_ssize_t(int(numpy.prod(shape))))
        self.calls.add(kernel.name)
        results = arrays[n_in:]
        return results[0] if len(results) == 1 else tuple(results)
