"""Every fused CUDA body compiles, checked on any Linux machine: NVRTC needs no GPU.

CI has no GPU, so a typo in a kernel string would otherwise wait for the next GPU session.
Each fused kernel of the library is wrapped as ``cupy.ElementwiseKernel`` wraps it (see
``tests/fused_kernels.py``) and compiled for every float type and label type it can be
called with. NVRTC comes from the ``nvidia-cuda-nvrtc`` wheel of the ``dev`` extra (Linux
x86-64); elsewhere these tests skip.
"""
import ctypes
import ctypes.util
import glob
import os
import sys

import pytest

from backends.fused import Elementwise
from tests.fused_kernels import bindings, cuda_source, fused_kernels


def _nvrtc_library():
    """The NVRTC shared library: the one of the nvidia-cuda-nvrtc wheel, else one on the loader path."""
    for root in sys.path:
        for path in sorted(glob.glob(os.path.join(root or ".", "nvidia", "*", "lib", "libnvrtc.so.*"))):
            if os.path.basename(path).split(".so.")[1].isdigit():
                return path
    return ctypes.util.find_library("nvrtc")


NVRTC = _nvrtc_library()
needs_nvrtc = pytest.mark.skipif(NVRTC is None, reason="NVRTC not installed (pip install nvidia-cuda-nvrtc)")
KERNELS = fused_kernels()


def _compile(source: str) -> str | None:
    """NVRTC's error log for ``source``, or None when it compiles."""
    lib = ctypes.CDLL(NVRTC)
    program = ctypes.c_void_p()
    assert lib.nvrtcCreateProgram(ctypes.byref(program), source.encode(), b"fused.cu", 0, None, None) == 0
    options = (ctypes.c_char_p * 2)(b"--gpu-architecture=compute_80", b"--std=c++14")  # CuPy's default
    try:
        status = lib.nvrtcCompileProgram(program, len(options), options)
        size = ctypes.c_size_t()
        lib.nvrtcGetProgramLogSize(program, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        lib.nvrtcGetProgramLog(program, log)
    finally:
        lib.nvrtcDestroyProgram(ctypes.byref(program))
    return None if status == 0 else log.value.decode(errors="replace")


def test_every_fused_kernel_is_found():
    """The search reaches every module that defines kernels (so a new kernel cannot escape the checks)."""
    assert {"dlcore_relu_grad", "dlcore_softmax_ce", "dlcore_softmax_ce_grad", "dlcore_max_pool_grad",
            "dlcore_batch_norm", "dlcore_dropout", "dlcore_momentum", "dlcore_adam"} <= set(KERNELS)
    assert len(KERNELS) >= 25


@needs_nvrtc
@pytest.mark.parametrize("name", list(KERNELS))
def test_fused_cuda_body_compiles(name):
    for binding in bindings(KERNELS[name]):
        log = _compile(cuda_source(KERNELS[name], binding))
        assert log is None, f"{name} with {binding} does not compile:\n{log}"


@needs_nvrtc
@pytest.mark.parametrize("cuda, error", [
    ("y = x + undefined_name;", "undefined"),
    ("x = y;", "must be a modifiable lvalue"),  # inputs are const, as in CuPy
    ("t[i] = 0; y = x;", "must be a modifiable lvalue"),  # raw inputs too
    ("y = t[i] +;", "expected an expression"),
])
def test_a_broken_body_fails_with_nvrtc_log(cuda, error):
    kernel = Elementwise(lambda xp, x, t: None, "T x, raw L t", "T y", cuda, "broken")
    log = _compile(cuda_source(kernel, {"T": "float", "L": "int"}))
    assert log is not None and error in log
