"""Elementwise operations with one portable body and an optional fused CUDA body.

    @fused("T gy, T y", "T gx", "gx = y > 0 ? gy : (T)0", "dlcore_relu_grad")
    def relu_grad(xp, gy, y):
        return gy * (y > 0)

``relu_grad(xp, gy, y)`` runs the Python body on NumPy (and on CuPy when fused kernels
are switched off); on CuPy it launches one ``cupy.ElementwiseKernel`` built from the CUDA
body, compiled on first use. Both bodies state the same formula; the CPU-vs-GPU parity
tests prove they agree. Outputs named among the inputs' arrays (``out_params`` passed as
arguments) are updated in place, which is how optimizer updates avoid temporaries.

``DLCORE_FUSED=0`` in the environment (or ``set_enabled(False)``, or ``with
FUSED.scoped(False):``) makes CuPy use the portable bodies too, for debugging.
"""
from __future__ import annotations

from backends.base import Switch

FUSED = Switch("DLCORE_FUSED", True)
set_enabled = FUSED.set  # set_enabled(False): CuPy runs the portable bodies; returns the previous setting
enabled = FUSED.get


class Elementwise:
    """An elementwise op: ``portable(xp, *args)`` everywhere, a CUDA kernel on CuPy.

    ``kernel`` is the ``ElementwiseKernel`` built by the module ``kernel_module`` on the first
    fused call (None before); a call with another CuPy module (a test's simulation) builds its own.
    """

    def __init__(self, portable, in_params: str, out_params: str, cuda: str, name: str, preamble: str = ""):
        self.portable = portable
        self.in_params, self.out_params, self.cuda, self.name, self.preamble = (
            in_params, out_params, cuda, name, preamble)
        self.kernel = self.kernel_module = None
        self.__doc__, self.__name__ = portable.__doc__, portable.__name__

    def __call__(self, xp, *args):
        if FUSED.on and xp.__name__ == "cupy":
            if self.kernel_module is not xp:
                self.kernel = xp.ElementwiseKernel(self.in_params, self.out_params, self.cuda, self.name,
                                                   preamble=self.preamble)
                self.kernel_module = xp
            return self.kernel(*args)
        return self.portable(xp, *args)

    def __repr__(self) -> str:
        return f"<fused elementwise {self.name}>"


def fused(in_params: str, out_params: str, cuda: str, name: str, preamble: str = ""):
    """Decorator: give the portable function ``fn(xp, *args)`` a fused CUDA body (see module doc)."""
    def wrap(portable):
        return Elementwise(portable, in_params, out_params, cuda, name, preamble)
    return wrap
