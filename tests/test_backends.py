"""The backend shim: choosing a backend, moving arrays, and refusing mixed devices."""
import logging
import os
import subprocess
import sys

import numpy
import pytest

import backends
import dlcore
from backends import Backend
from dlcore import Tensor


def test_numpy_backend_basics():
    b = backends.use("numpy")
    assert backends.current() is b and b.xp is numpy and b.name == "numpy"
    a = numpy.arange(3.0)
    assert backends.get_array_module(a) is numpy
    assert backends.to_numpy(a) is a
    assert backends.to_device(a, "numpy") is a


def test_unknown_backend_name():
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        backends.use("tpu")


def test_auto_logs_its_choice(caplog):
    with caplog.at_level(logging.INFO, logger="dlcore"):
        chosen = backends.use("auto")
    assert chosen.name in ("numpy", "cupy")
    assert any("dlcore backend:" in r.getMessage() for r in caplog.records)


def test_environment_variable_picks_backend(monkeypatch):
    before = backends.current()
    monkeypatch.setenv("DLCORE_BACKEND", "numpy")
    with backends.unchosen():
        assert backends.chosen() is None
        assert backends.current().name == "numpy" and backends.chosen() is backends.get("numpy")
    monkeypatch.setenv("DLCORE_BACKEND", "gpu")
    with backends.unchosen():
        with pytest.raises(ValueError, match=r"DLCORE_BACKEND='gpu' in the environment is not a backend; .*numpy, cupy"):
            backends.current()
    assert backends.chosen() is before  # the choice made before comes back


@pytest.mark.skipif(backends.cuda_available(), reason="CUDA is here")
def test_cupy_missing_says_how_to_install():
    with pytest.raises(backends.BackendUnavailableError, match=r"pip install -e '\.\[cuda12\]'|nvidia-smi"):
        backends.use("cupy")


class _FakeDeviceArray(numpy.ndarray):
    """A NumPy array that the shim takes for a CuPy array (its type lives in a 'cupy' module)."""


_FakeDeviceArray.__module__ = "cupy._fake"


class _FakeCupy(Backend):
    name = "cupy"
    xp = numpy


def test_mixed_devices_raise_naming_op_and_inputs():
    host = Tensor(numpy.ones((2, 3), numpy.float32))
    device = Tensor(numpy.ones((2, 3), numpy.float32).view(_FakeDeviceArray))
    with backends.override("cupy", _FakeCupy()), pytest.raises(backends.DeviceMismatchError) as info:
        host + device
    message = str(info.value)
    assert "Add" in message and "input 0: numpy (2, 3)" in message and "input 1: cupy (2, 3)" in message
    assert "to('cupy')" in message


@pytest.mark.gpu
def test_mixed_numpy_cupy_raises_on_gpu():
    a = Tensor(numpy.ones((2, 2), numpy.float32))
    b = Tensor(numpy.ones((2, 2), numpy.float32)).to("cupy")
    with pytest.raises(backends.DeviceMismatchError, match="MatMul"):
        a @ b
    layer = dlcore.nn.Linear(2, 3)
    with pytest.raises(backends.DeviceMismatchError, match="Linear"):
        layer(b)


@pytest.mark.gpu
def test_round_trip_between_devices():
    a = numpy.random.default_rng(0).standard_normal((3, 4)).astype(numpy.float32)
    on_gpu = backends.to_device(a, "cupy")
    assert backends.backend_of(on_gpu).name == "cupy"
    numpy.testing.assert_array_equal(backends.to_numpy(on_gpu), a)
    backends.use("cupy")
    assert Tensor([1.0, 2.0]).device == "cupy"


@pytest.mark.gpu
@pytest.mark.parametrize("shape", [(7, 5), (4, 3, 6, 5), (2, 3, 4)])
def test_gemm_reductions_match_numpy(shape):
    """column_sums / channel_sums run as ones-GEMMs on CuPy; NumPy sums are the reference."""
    a = numpy.random.default_rng(0).standard_normal(shape).astype(numpy.float32)
    gpu = backends.get("cupy")
    expected = a.sum(axis=(0, *range(2, a.ndim)))
    numpy.testing.assert_allclose(gpu.to_numpy(gpu.channel_sums(gpu.from_numpy(a))), expected, rtol=1e-5, atol=1e-5)
    numpy.testing.assert_allclose(gpu.to_numpy(gpu.column_sums(gpu.from_numpy(a.reshape(shape[0], -1)))),
                                  a.reshape(shape[0], -1).sum(axis=0), rtol=1e-5, atol=1e-5)
    fortran = gpu.xp.asfortranarray(gpu.from_numpy(a))  # not C-contiguous: the reduction-kernel path
    numpy.testing.assert_allclose(gpu.to_numpy(gpu.channel_sums(fortran)), expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("layout", ["nchw", "nhwc", "strided", "2d", "3d"])
def test_numpy_channel_and_column_sums_match_numpy_reductions(layout):
    """The NumPy backend sums as BLAS GEMVs where it can; plain reductions are the reference."""
    rng = numpy.random.default_rng(0)
    a = {"nchw": rng.standard_normal((4, 3, 6, 5)),
         "nhwc": rng.standard_normal((4, 6, 5, 3)).transpose(0, 3, 1, 2),
         "strided": rng.standard_normal((4, 3, 12, 5))[:, :, ::2],
         "2d": rng.standard_normal((7, 5)),
         "3d": rng.standard_normal((2, 3, 4))}[layout]
    cpu = backends.get("numpy")
    expected = a.sum(axis=(0, *range(2, a.ndim)))
    numpy.testing.assert_allclose(cpu.channel_sums(a), expected, rtol=1e-12)
    rows = a.reshape(a.shape[0], -1)
    for matrix in (rows, numpy.asfortranarray(rows), rows[:, ::2]):
        numpy.testing.assert_allclose(cpu.column_sums(matrix), matrix.sum(axis=0), rtol=1e-12)
    assert cpu.channel_sums(a.astype(numpy.float32)).dtype == numpy.float32


def test_cudnn_workspace_cap_is_read_and_checked(monkeypatch):
    from backends.cudnn_conv import workspace_limit_bytes
    monkeypatch.delenv("DLCORE_CUDNN_WORKSPACE_MB", raising=False)
    assert workspace_limit_bytes() == 64 * 2**20
    monkeypatch.setenv("DLCORE_CUDNN_WORKSPACE_MB", "0")
    assert workspace_limit_bytes() == 0
    for bad in ("lots", "-1"):
        monkeypatch.setenv("DLCORE_CUDNN_WORKSPACE_MB", bad)
        with pytest.raises(ValueError, match=f"DLCORE_CUDNN_WORKSPACE_MB must be a number of MiB.*{bad}"):
            workspace_limit_bytes()


def test_bad_cudnn_workspace_cap_is_raised_not_a_silent_fallback(monkeypatch):
    """A typo in DLCORE_CUDNN_WORKSPACE_MB stops every convolution, the first and the next, instead of
    quietly moving them to im2col (the CuPy backend is made on the host simulation: no GPU needed)."""
    from tests.simulated_cupy import simulated_backend

    backend = simulated_backend(host_kernels=None)
    backend.cudnn_enabled = True
    monkeypatch.setenv("DLCORE_CUDNN_WORKSPACE_MB", "64MB")
    for _ in range(2):
        with pytest.raises(ValueError, match="DLCORE_CUDNN_WORKSPACE_MB must be a number of MiB.*'64MB'"):
            backend.convolution(numpy.dtype(numpy.float32))


def test_tf32_switch_defaults_off_reads_the_environment_and_restores():
    code = "import backends; print(backends.tf32_enabled())"
    for value, expected in (("", "False"), ("1", "True"), ("0", "False")):
        env = {**os.environ, "DLCORE_TF32": value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected, f"DLCORE_TF32={value!r}"
    previous = backends.set_tf32(False)
    with pytest.raises(RuntimeError, match="inside"):
        with backends.tf32(True):
            assert backends.tf32_enabled()
            raise RuntimeError("inside")
    assert backends.tf32_enabled() is False
    assert backends.set_tf32(True) is False and backends.set_tf32(previous) is True


@pytest.mark.gpu
def test_tf32_switch_governs_dense_layer_gemms():
    """The same float32 GEMM is exact to ~1e-7 with TF32 off and to ~1e-3 with it on (10-bit operands)."""
    backend = backends.get("cupy")
    if backend.cublas is None:
        pytest.skip("the direct cuBLAS binding did not load here; cupy.matmul follows CUPY_TF32 instead")
    rng = numpy.random.default_rng(0)
    a, b = rng.standard_normal((512, 512)), rng.standard_normal((512, 512))
    exact = a @ b

    def relative_error():
        out = backend.gemm(backend.xp.asarray(a, numpy.float32), backend.xp.asarray(b, numpy.float32))
        return numpy.abs(backends.to_numpy(out) - exact).max() / numpy.abs(exact).max()

    with backends.tf32(False):
        float32_error = relative_error()
    with backends.tf32(True):
        tf32_error = relative_error()
    with backends.tf32(False):
        assert relative_error() == float32_error  # the handle's math mode follows the switch back
    assert float32_error < 1e-6 and 2e-5 < tf32_error < 5e-3, (float32_error, tf32_error)


@pytest.mark.gpu
def test_sums_stay_float32_under_tf32(monkeypatch):
    """Bias gradients and BatchNorm statistics are ones-GEMMs on CuPy. TF32's 10-bit operands would
    round 1 + 3·2⁻¹³ to 1, so these GEMMs ask cuBLAS for float32 math whatever the switch says."""
    backend = backends.get("cupy")
    if backend.cublas is None:
        pytest.skip("the direct cuBLAS binding did not load here; sums are reductions")
    asked = []
    gemm = backend.cublas.gemm
    monkeypatch.setattr(backend.cublas, "gemm", lambda *args: asked.append(args[-1]) or gemm(*args))
    value = 1 + 3 * 2.0 ** -13
    with backends.tf32(True):
        columns = backend.column_sums(backend.xp.full((256, 8), value, numpy.float32))
        channels = backend.channel_sums(backend.xp.full((2, 8, 4, 32), value, numpy.float32))
    assert asked and not any(asked)
    for sums in (columns, channels):  # 256 · value is exact in float32
        numpy.testing.assert_array_equal(backends.to_numpy(sums), numpy.full(8, 256 * value, numpy.float32))


def test_scratch_pool_reuses_only_arrays_nothing_references():
    from backends.scratch import ScratchPool
    pool = ScratchPool(capacity=5 << 20)
    shape = (512, 1024)  # 2 MiB of float32: pooled
    first = pool.empty(shape, numpy.float32)
    first_id = id(first)
    assert id(pool.empty(shape, numpy.float32)) != first_id  # still referenced by ``first``
    view = first.reshape(-1)
    del first
    assert id(pool.empty(shape, numpy.float32)) != first_id  # a view keeps its base busy
    del view
    assert id(pool.empty(shape, numpy.float32)) == first_id
    assert pool.kept_bytes == 2 * (2 << 20)
    small = pool.empty((100,), numpy.float32)
    assert small.shape == (100,) and pool.kept_bytes == 4 << 20  # small arrays are plain numpy.empty


def test_scratch_pool_stays_within_its_capacity():
    from backends.scratch import ScratchPool
    pool = ScratchPool(capacity=5 << 20)
    busy = pool.empty((512, 1024), numpy.float32)  # 2 MiB, held
    pool.empty((1024, 1024), numpy.float32)  # 4 MiB would exceed 5 MiB: returned but not kept
    assert pool.kept_bytes == 2 << 20
    del busy
    third = pool.empty((256, 1024, 4), numpy.float32)  # 4 MiB: the now free 2 MiB array makes room
    assert pool.kept_bytes == 4 << 20 and third.shape == (256, 1024, 4) and third.flags.c_contiguous
    huge = pool.empty((1536, 1024), numpy.float32)  # 6 MiB can never fit: not kept, nothing dropped
    assert huge.shape == (1536, 1024) and pool.kept_bytes == 4 << 20
    pool.clear()
    assert pool.kept_bytes == 0


def _axpby_operands(layout, dtype, rng):
    """(x, y) of ``layout``: both C-, both F-contiguous, mixed orders, strided, 0-d, x a NumPy scalar,
    or "small" (C-contiguous under the NumPy backend's BLAS threshold); the others are above it."""
    from backends.numpy_backend import AXPBY_BLAS_MIN_SIZE
    a, b = (rng.standard_normal((256, AXPBY_BLAS_MIN_SIZE // 256 + 2)).astype(dtype) for _ in range(2))
    return {"c": (a, b), "f": (numpy.asfortranarray(a), numpy.asfortranarray(b)),
            "mixed": (a, numpy.asfortranarray(b)), "strided": (a[:, ::2], b[:, ::2]),
            "0-d": (a[:1, :1].reshape(()), b[:1, :1].reshape(())), "scalar": (a[0, 0], b[:1, :1].reshape(())),
            "small": (a[:100].copy(), b[:100].copy())}[layout]


@pytest.mark.parametrize("layout", ["c", "f", "mixed", "strided", "0-d", "scalar", "small"])
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
@pytest.mark.parametrize("alpha, beta", [(-0.1, 0.9), (1.0, 1.0), (0.5, 0.0), (0.0, 0.9), (-0.01, 1.0)])
def test_axpby_computes_alpha_x_plus_beta_y_in_place(layout, dtype, alpha, beta):
    x, y = _axpby_operands(layout, dtype, numpy.random.default_rng(0))
    expected = alpha * x.astype(numpy.float64) + beta * y.astype(numpy.float64)
    target = y
    backends.axpby(alpha, x, beta, y)
    assert y is target and y.dtype == dtype
    numpy.testing.assert_allclose(y, expected, rtol=1e-6 if dtype == numpy.float32 else 1e-15, atol=1e-7)


@pytest.mark.parametrize("layout", ["c", "strided", "small"])  # the BLAS path and the ufunc path
def test_axpby_zero_factors_drop_their_operand_as_blas_does(layout):
    x, y = _axpby_operands(layout, numpy.float32, numpy.random.default_rng(1))
    y[...] = numpy.nan
    backends.axpby(2.0, x, 0.0, y)  # β = 0 overwrites y, NaN included
    numpy.testing.assert_array_equal(y, 2 * x)
    x[...] = numpy.nan
    backends.axpby(0.0, x, 0.5, y)  # α = 0 leaves x out
    assert not numpy.isnan(y).any()
    numpy.testing.assert_array_equal(y, numpy.float32(0.5) * (2 * _axpby_operands(layout, numpy.float32,
                                     numpy.random.default_rng(1))[0]))
    y[...] = numpy.nan
    backends.axpby(0.0, x, 0.0, y)  # both: y = 0
    numpy.testing.assert_array_equal(y, 0)


def test_axpby_on_numpy_runs_blas_for_contiguous_floats(monkeypatch):
    """Large contiguous float operands go to NumPy's own OpenBLAS, the others to the ufunc body."""
    from backends.blas import axpby_kernels
    if not axpby_kernels():
        pytest.skip("this NumPy's BLAS has no axpby that backends.blas knows (ufuncs serve)")
    calls = []
    monkeypatch.setattr(Backend, "axpby", lambda self, *args: calls.append(args))
    rng = numpy.random.default_rng(2)
    for layout in ("c", "f"):
        x, y = _axpby_operands(layout, numpy.float32, rng)
        backends.axpby(0.5, x, 1.0, y)
    assert calls == []
    for layout in ("mixed", "strided", "scalar", "0-d", "small"):
        x, y = _axpby_operands(layout, numpy.float32, rng)
        backends.axpby(0.5, x, 1.0, y)
    assert len(calls) == 5
    half = numpy.ones(1 << 16, numpy.float16)
    backends.axpby(0.5, half, 1.0, half.copy())
    assert len(calls) == 6


@pytest.mark.gpu
@pytest.mark.parametrize("alpha, beta", [(-0.1, 0.9), (0.5, 0.0)])
def test_axpby_on_cupy_matches_numpy(alpha, beta):
    gpu = backends.get("cupy")
    x, y = _axpby_operands("c", numpy.float32, numpy.random.default_rng(3))
    y_gpu = gpu.from_numpy(y)
    backends.axpby(alpha, gpu.from_numpy(x), beta, y_gpu)
    backends.axpby(alpha, x, beta, y)
    numpy.testing.assert_allclose(gpu.to_numpy(y_gpu), y, rtol=1e-6, atol=1e-7)


# ---- installing a backend for a test ----------------------------------------------------------

def test_override_installs_a_backend_for_the_block_and_puts_everything_back():
    """Inside the block get/existing/use give the stand-in and arrays of a cupy* type belong to it;
    afterwards the backend of that name, the active backend and the types seen are as before."""
    active, made = backends.current(), backends.existing("cupy")
    fake, device = _FakeCupy(), numpy.ones(2).view(_FakeDeviceArray)
    with backends.override("cupy", fake) as given:
        assert given is fake and backends.get("cupy") is fake and backends.existing("cupy") is fake
        assert backends.backend_of(device) is fake
        assert backends.use("cupy") is fake and backends.current() is fake
    assert backends.current() is active and backends.existing("cupy") is made
    if backends.cuda_available():
        assert backends.backend_of(device) is backends.get("cupy")
    else:  # the type seen inside is forgotten: outside it is CuPy's, which is not here
        with pytest.raises(backends.BackendUnavailableError):
            backends.backend_of(device)


def test_override_with_none_is_a_backend_not_made_yet():
    host = backends.get("numpy")
    with backends.override("numpy", None):
        assert backends.existing("numpy") is None
        fresh = backends.get("numpy")
        assert fresh is not host and fresh.name == "numpy" and backends.backend_of(numpy.ones(1)) is fresh
    assert backends.get("numpy") is host and backends.backend_of(numpy.ones(1)) is host
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        with backends.override("tpu", None):
            pass


@pytest.mark.skipif(backends.cuda_available(), reason="CUDA is here")
def test_override_keeps_the_reason_a_backend_is_unavailable():
    """A failed device probe is not retried: after an override the same error comes back."""
    with pytest.raises(backends.BackendUnavailableError) as before:
        backends.get("cupy")
    with backends.override("cupy", _FakeCupy()):
        backends.get("cupy")
    with pytest.raises(backends.BackendUnavailableError) as after:
        backends.get("cupy")
    assert after.value is before.value


def test_a_fused_operation_builds_a_kernel_for_each_cupy_module_it_is_called_with():
    """The kernel is cached with the module that built it: a test's simulated module and CuPy itself
    never run each other's kernels, and nothing has to empty the cache between them."""
    from backends.fused import FUSED, Elementwise

    def module(tag, built):
        def kernel(*spec, preamble=""):
            built.append(tag)
            return lambda *args: (tag, args)
        return type(sys)("cupy"), kernel

    built = []
    first, second = (module(tag, built) for tag in "ab")
    for mod, kernel in (first, second):
        mod.ElementwiseKernel = kernel
    op = Elementwise(lambda xp, x: ("portable", x), "T x", "T y", "y = x", "dlcore_test_copy")
    with FUSED.scoped(True):
        assert [op(first[0], 1), op(first[0], 2), op(second[0], 3), op(first[0], 4)] == [
            ("a", (1,)), ("a", (2,)), ("b", (3,)), ("a", (4,))]
    assert built == ["a", "b", "a"] and op.kernel_module is first[0]
    assert op(numpy, 5) == ("portable", 5)


def test_the_cupy_backend_is_made_by_its_init_on_a_module_with_cupys_api():
    """CupyBackend(cupy, cublas_library): the device probe, the generator and the cuBLAS binding come
    from the module given (here the host simulation); kept_arrays lists the binding's workspace and
    the ones rows that sums as GEMMs make."""
    from tests.simulated_cupy import simulated_backend

    backend = simulated_backend(host_kernels=None)
    assert (backend.name, backend.device_id, backend.device_name) == ("cupy", 0, "simulated on the host")
    kept = backend.kept_arrays()
    assert len(kept) == 1 and kept[0] is backend.cublas.workspace
    sums = backend.column_sums(backend.from_numpy(numpy.arange(6, dtype=numpy.float32).reshape(3, 2)))
    assert backend.to_numpy(sums).tolist() == [6.0, 9.0]
    assert len(backend.kept_arrays()) == 2 and backend.kept_arrays()[0].shape == (1, 3)


@pytest.mark.parametrize("rows", [4096, 4096 + 317, 1000])  # whole slices, slices and a rest, too short
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_numpy_products_over_a_long_inner_dimension_sum_slices_to_the_product(rows, dtype, monkeypatch):
    """aᵀb with K ≥ LONG_INNER_MIN rows and a small result, alone (gemm) or stacked (batched_gemm of a
    transposed stack), runs as one batched product over row slices; it equals the product (float64
    reference), and a result above LONG_INNER_MAX_RESULT entries stays one product."""
    from backends import numpy_backend
    rng = numpy.random.default_rng(0)
    backend = backends.get("numpy")
    sliced = []
    real_matmul = numpy.matmul
    monkeypatch.setattr(numpy_backend.numpy, "matmul", lambda a, b, **kw: (
        a.shape[-1] == numpy_backend.LONG_INNER_SLICE and sliced.append(a.shape)) or real_matmul(a, b, **kw))
    tolerance = 2e-6 if dtype == numpy.float32 else 1e-13
    a, b = rng.standard_normal((3, rows, 32)).astype(dtype), rng.standard_normal((3, rows, 27)).astype(dtype)
    expected = numpy.matmul(a.astype(numpy.float64).transpose(0, 2, 1), b)
    for got in (backend.gemm(a[1], b[1], trans_a=True)[None], backend.batched_gemm(a.transpose(0, 2, 1), b),
                backend.batched_gemm(a.transpose(0, 2, 1), b, out=numpy.empty((3, 32, 27), dtype))):
        assert got.shape[1:] == (32, 27) and got.dtype == dtype
        numpy.testing.assert_allclose(got, expected[1:2] if len(got) == 1 else expected, rtol=tolerance,
                                      atol=tolerance * numpy.sqrt(rows))
    assert len(sliced) == (3 if rows >= numpy_backend.LONG_INNER_MIN else 0)
    wide = rng.standard_normal((rows, 200)).astype(dtype)  # a 32 × 200 result: one product
    sliced.clear()
    numpy.testing.assert_allclose(backend.gemm(a[0], wide, trans_a=True), a[0].astype(numpy.float64).T @ wide,
                                  rtol=tolerance, atol=tolerance * numpy.sqrt(rows))
    assert sliced == []
