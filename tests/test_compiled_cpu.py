"""The Numba-compiled CPU kernels: max pooling and ReLU's gradient equal their portable bodies in every
setting, no compiled kernel (pooling, Winograd transforms, ReLU) reads or writes outside its arrays (run
once with Numba's bounds checks), and float32 kernels compute in float32."""
import os
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import dlcore
import dlcore.functional as F
from backends import compiled

pytestmark = pytest.mark.skipif(not compiled.numba_installed(),
                                reason="the compiled kernels need Numba (pip install -e '.[cpu]')")

ROOT = Path(__file__).resolve().parent.parent

POOLS = [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=3, stride=1, padding=1),
         dict(kernel_size=2, stride=2, ceil_mode=True), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True),
         dict(kernel_size=(2, 3), stride=(1, 2))]


def channels_last(a):
    return numpy.ascontiguousarray(a.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def pool_and_grad(x, settings):
    xt = dlcore.tensor(x, requires_grad=True)
    y = F.max_pool2d(xt, **settings)
    y.backward(numpy.random.default_rng(5).standard_normal(y.shape).astype(x.dtype))
    return y, xt.grad


@pytest.mark.parametrize("settings", POOLS)
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_compiled_max_pool_equals_the_portable_body(settings, dtype):
    x = channels_last(numpy.random.default_rng(0).standard_normal((2, 5, 7, 6)).astype(dtype))
    x[0, 0, 0, 0] = numpy.nan  # NaN wins its windows, with index K − 1
    x[1, 2, 3, 3] = x[1, 2, 3, 4]  # a tie: the first maximum wins
    x[1, 3] = -numpy.inf  # a channel of −∞: the padding ties with it
    results = {}
    for on in (True, False):
        with compiled.COMPILED.scoped(on):
            y, gx = pool_and_grad(x, settings)
        results[on] = y.numpy(), y.creator.index, gx
        assert y.creator.compiled == on and y.data.strides[1] == y.data.itemsize  # channels-last memory kept
    (y1, i1, g1), (y0, i0, g0) = results[True], results[False]
    numpy.testing.assert_array_equal(y1, y0)
    numpy.testing.assert_array_equal(i1, i0)
    numpy.testing.assert_allclose(g1, g0, rtol=1e-6, atol=1e-6)  # overlapping windows add in another order


def test_maps_with_nchw_memory_keep_the_portable_pooling():
    x = numpy.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(numpy.float32)
    y, _ = pool_and_grad(x, dict(kernel_size=2))
    assert not y.creator.compiled


_BOUNDS_CHECKED = """
import numpy, dlcore, dlcore.functional as F
from dlcore.ops import winograd
winograd.MIN_CHANNELS = 1
rng = numpy.random.default_rng(0)
for n, c, h, w, o, p in [(1, 2, 6, 7, 3, 0), (2, 3, 5, 5, 2, 2), (1, 1, 3, 3, 1, 1), (2, 5, 13, 9, 6, 1)]:
    x = dlcore.tensor(rng.standard_normal((n, c, h, w)), requires_grad=True)
    F.conv2d(x, dlcore.tensor(rng.standard_normal((o, c, 3, 3))), padding=p).sum().backward()
for settings in {pools}:
    a = numpy.ascontiguousarray(rng.standard_normal((2, 7, 6, 5)).astype(numpy.float32)).transpose(0, 3, 1, 2)
    x = dlcore.tensor(a, requires_grad=True)
    y = F.max_pool2d(x, **settings)
    assert y.creator.compiled, settings
    y.sum().backward()
    r = F.relu(x)
    r.backward(numpy.ones_like(r.data))  # the gradient in y's NHWC memory: the compiled pass
print("in bounds")
"""


def test_no_compiled_kernel_leaves_its_arrays(tmp_path):
    """Numba does not check indices; with NUMBA_BOUNDSCHECK=1 every out-of-range access raises IndexError."""
    env = dict(os.environ, NUMBA_BOUNDSCHECK="1", NUMBA_CACHE_DIR=str(tmp_path), OPENBLAS_NUM_THREADS="1")
    run = subprocess.run([sys.executable, "-c", _BOUNDS_CHECKED.format(pools=POOLS)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip() == "in bounds", run.stdout + run.stderr


def _float32_calls():
    """(kernel, float32 arguments) for each compiled kernel that does arithmetic."""
    from dlcore.ops import activation_cpu, winograd_cpu
    rng = numpy.random.default_rng(0)
    f32 = lambda *shape: rng.standard_normal(shape).astype(numpy.float32)  # noqa: E731
    return [(winograd_cpu.input_transform, (f32(1, 10, 10, 4), 2, 2, f32(36, 4, 4))),
            (winograd_cpu.output_transform, (f32(36, 4, 3), f32(3), 2, 2, f32(1, 8, 8, 3))),
            (winograd_cpu.output_transform_adjoint, (f32(1, 8, 8, 3), 2, 2, f32(36, 4, 3))),
            (winograd_cpu.input_transform_adjoint, (f32(36, 4, 4), 1, 1, 2, 2, f32(1, 8, 8, 4))),
            (winograd_cpu.weight_transform, (f32(3, 4, 3, 3), f32(36, 3, 4))),
            (winograd_cpu.weight_grad, (f32(36, 3, 4), f32(3, 4, 3, 3))),
            (activation_cpu.relu_grad, (f32(10), f32(10), f32(10)))]


@pytest.mark.parametrize("index", range(7))
def test_float32_kernels_compute_in_float32(index):
    """An integer literal times a float32 is float64 in Numba, as in NumPy's scalar rules: such a kernel
    converts every value to double and back and runs its vector loops at half width (the Winograd
    transforms took 1.3-2× as long). The compiled code of a float32 call has no conversion to double."""
    import numba
    kernel, args = _float32_calls()[index]
    fresh = numba.njit(kernel.py_func)  # the cached dispatchers cannot show their code
    fresh(*args)
    llvm_ir = fresh.inspect_llvm(fresh.signatures[0])
    assert "fpext" not in llvm_ir and " double " not in llvm_ir, kernel.__name__


def _relu_operands(layout, dtype):
    """(x, gy) of one layout: C-contiguous, NHWC memory under NCHW indices, a transposed matrix, a strided
    view (gaps: the portable body), or gy and x in different layouts (the portable body)."""
    rng = numpy.random.default_rng(3)
    x, gy = (rng.standard_normal((2, 5, 4, 3)).astype(dtype) for _ in range(2))
    x[0, 0, 0] = 0.0  # ReLU'(0) = 0
    return {"c": (x, gy), "nhwc": (channels_last(x), channels_last(gy)), "transposed": (x[0, 0].T, gy[0, 0].T),
            "strided": (x[:, ::2], gy[:, ::2]), "mixed": (channels_last(x), gy)}[layout]


@pytest.mark.parametrize("layout", ["c", "nhwc", "transposed", "strided", "mixed"])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_compiled_relu_gradient_equals_the_portable_body(layout, dtype, monkeypatch):
    from dlcore.ops import activation_cpu
    x, gy = _relu_operands(layout, dtype)
    calls = []
    kernel = activation_cpu.relu_grad
    monkeypatch.setattr(activation_cpu, "relu_grad", lambda *flat: calls.append(1) or kernel(*flat))
    grads = {}
    for on in (True, False):
        with compiled.COMPILED.scoped(on):
            xt = dlcore.tensor(x, requires_grad=True)
            F.relu(xt).backward(gy)
            grads[on] = xt.grad
    assert len(calls) == (0 if layout in ("strided", "mixed") else 1)
    numpy.testing.assert_array_equal(grads[True], grads[False])
    numpy.testing.assert_array_equal(grads[True], gy * (x > 0))
    assert grads[True].dtype == dtype
