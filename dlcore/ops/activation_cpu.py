"""Activation gradients as Numba-compiled CPU loops: one pass over memory where NumPy makes several.

NumPy computes ReLU's gradient gy·[y > 0] in two passes and a cast (the mask as booleans, then a
product of floats and booleans); the loop here reads gy and y once and writes gx once, as the
fused CUDA kernel does. The arrays come as 1-D views of memory that the caller has checked they
share (``dlcore.ops.layout.flat_views``). Imported only where ``backends.compiled`` says Numba
runs; the tests compare the kernel with the portable body.
"""
from __future__ import annotations

import numba


@numba.njit(cache=True, nogil=True)
def relu_grad(gy, y, gx):
    """gx[i] = gy[i] if y[i] > 0 else 0, over 1-D arrays of one length (NaN in y gives 0, as on CUDA)."""
    zero = gy.dtype.type(0)
    for i in range(gy.size):
        gx[i] = gy[i] if y[i] > 0 else zero
