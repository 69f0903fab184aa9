"""``axpby`` (y ← αx + βy, in place) from the BLAS library NumPy itself loaded.

NumPy has no fused multiply-add over arrays: v ← μv − ηg costs it a temporary and five array
passes over memory, on one core. The OpenBLAS that NumPy's wheels link for matrix products has
``?axpby``, which does it in one pass (g and v read, v written), split over the library's
threads. Measured on the 2-core CPU machine, the momentum update of the W1 benchmark MLP (two
such calls a parameter) took 1.2–1.8 ms instead of 2.7–3.5 ms. The call runs on the thread
pool of NumPy's own GEMMs (dlopen of the same file returns the loaded library), so no second
pool competes with it for the cores.

``axpby_kernels()`` maps a dtype to ``kernel(n, alpha, x_address, beta, y_address)``, or is
empty where the library is not one of the builds named in ``_SYMBOLS`` (then NumPy's ufuncs
serve). BLAS's rule for zero scale factors holds: β = 0 overwrites y (a NaN there is not
propagated), α = 0 leaves out x.
"""
from __future__ import annotations

import ctypes
import functools
import glob
import os

import numpy

# (symbol pattern, its integer type): the ILP64 OpenBLAS of NumPy ≥ 2 wheels (scipy-openblas,
# symbols prefixed and suffixed) and of NumPy 1.x wheels (suffixed only)
_SYMBOLS = (("scipy_cblas_{}axpby64_", ctypes.c_int64), ("cblas_{}axpby64_", ctypes.c_int64))
_TYPES = {numpy.dtype(numpy.float32): ("s", ctypes.c_float), numpy.dtype(numpy.float64): ("d", ctypes.c_double)}


def _numpy_openblas_paths() -> list[str]:
    """The OpenBLAS files shipped inside the NumPy wheel (``numpy.libs`` on Linux and Windows,
    ``numpy/.dylibs`` on macOS)."""
    package = os.path.dirname(numpy.__file__)
    return sorted(path for folder in (package + ".libs", os.path.join(package, ".dylibs"))
                  for path in glob.glob(os.path.join(folder, "*openblas*")))


def _bind(library, symbol: str, int_type, float_type):
    function = getattr(library, symbol)
    function.restype = None
    function.argtypes = [int_type, float_type, ctypes.c_void_p, int_type, float_type, ctypes.c_void_p, int_type]

    def kernel(n, alpha, x_address, beta, y_address):
        function(n, alpha, x_address, 1, beta, y_address, 1)
    return kernel


@functools.cache
def axpby_kernels() -> dict:
    """{dtype: kernel} for float32 and float64 from NumPy's OpenBLAS; {} when it has none we know."""
    for path in _numpy_openblas_paths():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        for pattern, int_type in _SYMBOLS:
            if all(hasattr(library, pattern.format(letter)) for letter, _ in _TYPES.values()):
                return {dtype: _bind(library, pattern.format(letter), int_type, float_type)
                        for dtype, (letter, float_type) in _TYPES.items()}
    return {}
