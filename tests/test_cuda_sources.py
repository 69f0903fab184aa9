"""Every fused CUDA body compiles, checked on any Linux machine: no GPU is needed to run NVRTC.

CI has no GPU, so a typo in a kernel string would otherwise wait for the next GPU session.
Each ``backends.fused.Elementwise`` found in the library is wrapped the way
``cupy.ElementwiseKernel`` wraps it (type placeholders as typedefs; per element,
``const T &x`` for an input, ``T &y`` for an output; ``raw`` arrays indexable by the flat
index ``i``) and compiled by NVRTC for every float type and label type it can be called with.
NVRTC comes from the ``nvidia-cuda-nvrtc`` wheel of the ``dev`` extra (Linux x86-64 only).
"""
import ctypes
import ctypes.util
import glob
import importlib
import itertools
import os
import pkgutil
import sys

import pytest

import backends
import dlcore
from backends.fused import Elementwise

# C types of CuPy's parameter type names; single capital letters are placeholders, tried with each type listed
C_TYPES = {"bool": "bool", "int32": "int", "int64": "long long", "float32": "float", "float64": "double"}
PLACEHOLDER_TYPES = {"T": ("float", "double"), "L": ("int", "long long")}

# CuPy's raw parameters index their memory by the flat element index (and &x[0] is the data pointer)
RAW_ARRAY = """
template <typename V> struct RawArray {
    V* data;
    __device__ V& operator[](ptrdiff_t k) const { return data[k]; }
};
"""


def _nvrtc_library():
    """The NVRTC shared library: the one of the nvidia-cuda-nvrtc wheel, else one on the loader path."""
    for root in sys.path:
        for path in sorted(glob.glob(os.path.join(root or ".", "nvidia", "*", "lib", "libnvrtc.so.*"))):
            if os.path.basename(path).split(".so.")[1].isdigit():
                return path
    return ctypes.util.find_library("nvrtc")


def _compile(source: str) -> str | None:
    """NVRTC's error log for ``source``, or None when it compiles."""
    lib = ctypes.CDLL(NVRTC)
    program = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"fused.cu", 0, None, None) == 0
    options = (ctypes.c_char_p * 2)(b"--gpu-architecture=compute_80", b"--std=c++17")
    try:
        status = lib.nvrtcCompileProgram(program, len(options), options)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
    return None if status == 0 else log.value.decode(errors="replace")


NVRTC = _nvrtc_library()
needs_nvrtc = pytest.mark.skipif(NVRTC is None, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")


def _parameters(spec: str):
    """[(raw, C type, name)] of a CuPy parameter list such as "raw T x, int32 C" (placeholders kept)."""
    out = []
    for item in filter(None, (p.strip() for p in spec.split(","))):
        *qualifiers, type_name, name = item.split()
        out.append((qualifiers == ["raw"], type_name if type_name in PLACEHOLDER_TYPES else C_TYPES[type_name], name))
    return out


def kernel_source(kernel: Elementwise, binding: dict) -> str:
    """The kernel as cupy.ElementwiseKernel would generate it, its placeholders typedef'd as ``binding`` says."""
    params, references = [], []
    for is_output, spec in ((False, kernel.in_params), (True, kernel.out_params)):
        for raw, c_type, name in _parameters(spec):
            if raw:
                params.append(f"RawArray<{c_type}> {name}")
            else:
                params.append(f"{c_type}* _raw_{name}")
                references.append(f"{'' if is_output else 'const '}{c_type} &{name} = _raw_{name}[i];")
    typedefs = "".join(f"typedef {c_type} {placeholder};\n" for placeholder, c_type in binding.items())
    return (f"{RAW_ARRAY}{typedefs}{kernel.preamble}\n"
            f'extern "C" __global__ void {kernel.name}({", ".join(params)}, ptrdiff_t _n) {{\n'
            "for (ptrdiff_t i = blockIdx.x * blockDim.x + threadIdx.x; i < _n; i += blockDim.x * gridDim.x) {\n"
            + "\n".join(references) + f"\n{kernel.cuda};\n}}\n}}\n")  # CuPy ends the body with ";"


def bindings(kernel: Elementwise) -> list[dict]:
    """Every assignment of C types to the placeholders the kernel uses (T: float, double; L: int, long long)."""
    used = sorted({c_type for spec in (kernel.in_params, kernel.out_params)
                   for _, c_type, _ in _parameters(spec) if c_type in PLACEHOLDER_TYPES})
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


KERNELS = fused_kernels()


def test_every_fused_kernel_is_found():
    """The search reaches every module that defines kernels (so a new kernel cannot escape the check)."""
    assert {"dlcore_relu_grad", "dlcore_softmax_ce", "dlcore_softmax_ce_grad", "dlcore_max_pool_grad",
            "dlcore_batch_norm", "dlcore_dropout", "dlcore_momentum", "dlcore_adam"} <= set(KERNELS)
    assert len(KERNELS) >= 25


@needs_nvrtc
@pytest.mark.parametrize("name", list(KERNELS))
def test_fused_cuda_body_compiles(name):
    for binding in bindings(KERNELS[name]):
        log = _compile(kernel_source(KERNELS[name], binding))
        assert log is None, f"{name} with {binding} does not compile:\n{log}"


@needs_nvrtc
@pytest.mark.parametrize("cuda, error", [
    ("y = x + undefined_name;", "undefined"),
    ("x = y;", "must be a modifiable lvalue"),  # inputs are const, as in CuPy
    ("y = t[i] +;", "expected an expression"),
])
def test_a_broken_body_fails_with_nvrtc_log(cuda, error):
    kernel = Elementwise(lambda xp, x, t: None, "T x, raw L t", "T y", cuda, "broken")
    log = _compile(kernel_source(kernel, {"T": "float", "L": "int"}))
    assert log is not None and error in log
