"""Whether CUDA float32 GEMMs and convolutions may use TF32 tensor-core math.

TF32 multiplies float32 operands rounded to 10 mantissa bits (float32's 8 exponent bits, so
the same range) and accumulates in float32: each operand carries a relative rounding error
up to 2⁻¹¹ ≈ 5e-4 instead of 2⁻²⁴ ≈ 6e-8, so a product is off by up to about 1e-3. Tensor
cores of Ampere and later GPUs run it several times faster than float32 math.

Off by default (PyTorch too has it off for matmul, though on for cuDNN). ``DLCORE_TF32=1`` in
the environment, ``set_tf32(True)``, ``with tf32():`` or the run config's ``run.tf32 = true``
turns it on. It governs the cuBLAS GEMMs of dense layers and im2col convolutions and cuDNN's
choice of convolution engines, read at each call. The GEMMs against a ones vector that sum on
CuPy (bias gradients, BatchNorm statistics) stay float32, and CuPy's own ``matmul`` (used by
``Tensor @``) follows CuPy's ``CUPY_TF32`` instead. NumPy ignores it. A captured CUDA graph replays the math it was
captured with.
"""
from __future__ import annotations

from backends.base import Switch

TF32 = Switch("DLCORE_TF32", False)
set_tf32 = TF32.set          # set_tf32(flag): allow or forbid TF32 from now on; returns the previous setting
tf32_enabled = TF32.get
tf32 = TF32.scoped           # with tf32(flag): TF32 allowed (or forbidden) in the block, as before after it
