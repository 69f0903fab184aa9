"""Convolution by Winograd's F(4×4, 3×3) on the CPU (dlcore.ops.winograd): each compiled transform equals its
portable body, the convolution and both its gradients equal im2col + GEMM's (float64 to rounding, float32 within
the transforms' stated error), a float64 gradient check, and where the path applies."""
import contextlib

import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from backends import compiled
from dlcore import nn
from dlcore.ops import winograd
from dlcore.ops.conv import ConvGeometry

needs_numba = pytest.mark.skipif(not compiled.numba_installed(),
                                 reason="the compiled transforms need Numba (pip install -e '.[cpu]')")

# (N, C, H, W, O, padding): outputs that are and are not multiples of 4, all three paddings it takes
SHAPES = [(2, 3, 8, 8, 4, 1), (1, 2, 6, 7, 3, 0), (2, 3, 5, 5, 2, 2), (1, 1, 3, 3, 1, 1), (2, 5, 13, 9, 6, 1),
          (1, 2, 9, 10, 3, 2)]


@contextlib.contextmanager
def path(name: str, monkeypatch):
    """conv2d on "im2col", or by Winograd with the "compiled" or the "portable" transforms, at any channel count."""
    monkeypatch.setattr(winograd, "MIN_CHANNELS", 1)
    with winograd.WINOGRAD.scoped(name != "im2col"), contextlib.ExitStack() as stack:
        if name == "portable":
            stack.enter_context(monkeypatch.context()).setattr(winograd, "_kernels", lambda xp: None)
        yield


def conv_and_grads(x, W, b, padding):
    xt, Wt, bt = (dlcore.tensor(a, requires_grad=True) for a in (x, W, b))
    y = F.conv2d(xt, Wt, bt, padding=padding)
    y.backward(numpy.random.default_rng(1).standard_normal(y.shape).astype(x.dtype))
    return y.numpy(), xt.grad, Wt.grad, bt.grad


def random_conv(shape, dtype, seed=0):
    n, c, h, w, o, _ = shape
    rng = numpy.random.default_rng(seed)
    return (rng.standard_normal((n, c, h, w)).astype(dtype), rng.standard_normal((o, c, 3, 3)).astype(dtype),
            rng.standard_normal(o).astype(dtype))


@needs_numba
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("transforms", ["compiled", "portable"])
def test_winograd_equals_im2col_in_float64(shape, transforms, monkeypatch):
    x, W, b = random_conv(shape, numpy.float64)
    with path("im2col", monkeypatch):
        expected = conv_and_grads(x, W, b, shape[-1])
    with path(transforms, monkeypatch):
        got = conv_and_grads(x, W, b, shape[-1])
    for name, a, e in zip(("y", "gx", "gW", "gb"), got, expected):
        numpy.testing.assert_allclose(a, e, rtol=1e-11, atol=1e-12, err_msg=name)


@needs_numba
@pytest.mark.parametrize("shape", [(4, 32, 16, 16, 32, 1), (2, 16, 11, 7, 24, 2)])
def test_winograd_float32_error_is_the_transforms_stated_one(shape, monkeypatch):
    """Against float64 im2col: F(4×4, 3×3) in float32 errs by about 1e-5 of the values' scale (im2col: 1e-6)."""
    x, W, b = random_conv(shape, numpy.float32)
    with path("im2col", monkeypatch):
        exact = conv_and_grads(*(a.astype(numpy.float64) for a in (x, W, b)), shape[-1])
    with path("compiled", monkeypatch):
        got = conv_and_grads(x, W, b, shape[-1])
    for name, a, e in zip(("y", "gx", "gW", "gb"), got, exact):
        assert a.dtype == numpy.float32
        assert numpy.abs(a - e).max() <= 2e-5 * numpy.abs(e).max(), name


@needs_numba
@pytest.mark.parametrize("dtype", [numpy.float32, numpy.float64])
def test_each_compiled_transform_equals_its_portable_body(dtype, monkeypatch):
    from dlcore.ops import winograd_cpu

    rng = numpy.random.default_rng(0)
    n, c, o, tiles = 2, 5, 3, (3, 2)
    t = n * tiles[0] * tiles[1]
    x_pad = rng.standard_normal((n, 4 * tiles[0] + 2, 4 * tiles[1] + 2, c)).astype(dtype)
    m = rng.standard_normal((36, t, o)).astype(dtype)
    gy_pad = rng.standard_normal((n, 4 * tiles[0], 4 * tiles[1], o)).astype(dtype)
    dv = rng.standard_normal((36, t, c)).astype(dtype)
    bias = rng.standard_normal(o).astype(dtype)
    w = rng.standard_normal((o, c, 3, 3)).astype(dtype)
    du = rng.standard_normal((36, o, c)).astype(dtype)
    calls = {
        "weight_transform": lambda: winograd.weight_transform(numpy, w),
        "weight_grad": lambda: winograd.weight_grad(numpy, du),
        "input_transform": lambda: winograd.input_transform(numpy, x_pad, tiles, numpy.empty((36, t, c), dtype)),
        "output_transform": lambda: winograd.output_transform(numpy, m, bias, tiles, numpy.empty((n, 10, 7, o), dtype)),
        "output_transform_adjoint": lambda: winograd.output_transform_adjoint(numpy, gy_pad, tiles,
                                                                              numpy.empty((36, t, o), dtype)),
        "input_transform_adjoint": lambda: winograd.input_transform_adjoint(numpy, dv, (1, 2), tiles,
                                                                            numpy.empty((n, 11, 7, c), dtype)),
    }
    tolerance = dict(rtol=1e-5, atol=1e-4) if dtype == numpy.float32 else dict(rtol=1e-12, atol=1e-12)
    for name, call in calls.items():
        compiled_result = call()
        with monkeypatch.context() as patch:
            patch.setattr(winograd, "_kernels", lambda xp: None)
            portable_result = call()
        assert winograd._kernels(numpy) is winograd_cpu
        numpy.testing.assert_allclose(compiled_result, portable_result, err_msg=name, **tolerance)


@needs_numba
def test_gradcheck_through_the_winograd_path(monkeypatch):
    rng = numpy.random.default_rng(0)
    x, W, b = rng.standard_normal((2, 2, 6, 5)), rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3)
    with path("compiled", monkeypatch):
        assert dlcore.gradcheck(lambda x, W, b: F.conv2d(x, W, b, padding=1), [x, W, b])
        assert dlcore.gradcheck(lambda x, W: F.conv2d(x, W, padding=2), [x, W])


@needs_numba
def test_the_output_is_nchw_indexed_with_channels_last_memory_and_x_may_need_no_gradient(monkeypatch):
    x, W, b = random_conv((2, 16, 8, 8, 16, 1), numpy.float32)
    with path("compiled", monkeypatch):
        Wt = dlcore.tensor(W, requires_grad=True)
        y = F.conv2d(dlcore.tensor(x), Wt, padding=1)  # x without a gradient, no bias
        y.sum().backward()
    assert y.shape == (2, 16, 8, 8) and y.data.strides[1] == 4  # channels vary fastest in memory
    assert Wt.grad.shape == W.shape


def _applies(geometry, channels=(16, 16), dtype=numpy.float32, backend=None):
    return winograd.applies(backend or backends.get("numpy"), dtype, geometry, *channels)


@needs_numba
def test_where_winograd_applies():
    assert _applies(ConvGeometry(3, 1, 1)) and _applies(ConvGeometry(3, 1, 0)) and _applies(ConvGeometry(3, 1, 2))
    assert _applies(ConvGeometry(3, 1, 1), dtype=numpy.float64)
    for geometry in (ConvGeometry(3, 2, 1), ConvGeometry(5, 1, 2), ConvGeometry(3, 1, 2, dilation=2),
                     ConvGeometry(3, 1, 1, padding_mode="edge"), ConvGeometry(3, 1, 3), ConvGeometry((3, 1), 1, 1)):
        assert not _applies(geometry), geometry
    assert not _applies(ConvGeometry(3, 1, 1), channels=(3, 32))  # the first layer of an RGB net stays on im2col
    assert not _applies(ConvGeometry(3, 1, 1), dtype=numpy.float16)
    with winograd.WINOGRAD.scoped(False):
        assert not _applies(ConvGeometry(3, 1, 1))
    with compiled.COMPILED.scoped(False):
        assert not _applies(ConvGeometry(3, 1, 1))


def test_without_numba_or_switched_off_convolutions_stay_on_im2col(monkeypatch):
    """No Winograd state is left on the function: its backward is im2col's."""
    monkeypatch.setattr(compiled, "numba_installed", lambda: False)
    layer = nn.Conv2d(16, 16, 3, padding=1)
    y = layer(dlcore.tensor(numpy.ones((1, 16, 4, 4), numpy.float32)))
    assert y.creator.winograd is None and y.creator.col is not None


@pytest.mark.gpu
def test_the_gpu_never_takes_the_cpu_winograd_path():
    assert not winograd.applies(backends.get("cupy"), numpy.float32, ConvGeometry(3, 1, 1), 64, 64)


@needs_numba
def test_a_cnn_trains_the_same_on_either_path(monkeypatch):
    """Ten SGD steps of a small CNN with 16-channel 3×3 layers: the losses agree to float32 rounding."""
    rng = numpy.random.default_rng(0)
    x, t = rng.standard_normal((16, 3, 12, 12)).astype(numpy.float32), rng.integers(0, 4, 16)
    losses = {}
    for name in ("im2col", "compiled"):
        with winograd.WINOGRAD.scoped(name == "compiled"):
            dlcore.manual_seed(0)
            model = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1),
                                  nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(16 * 36, 4))
            opt = dlcore.optim.SGD(model, lr=0.05)
            history = []
            for _ in range(10):
                loss = dlcore.losses.CrossEntropyLoss()(model(dlcore.tensor(x)), t)
                opt.zero_grad()
                loss.backward()
                opt.step()
                history.append(loss.item())
            losses[name] = history
    assert losses["compiled"][-1] < losses["compiled"][0]
    numpy.testing.assert_allclose(losses["compiled"], losses["im2col"], rtol=1e-4)
