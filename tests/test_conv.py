"""Convolution, pooling and skip layers: direct definitions, sizes, adjointness, errors and a learning run.

Gradient checks and CPU-vs-GPU parity of these ops run from tests/cases/conv_cases.py.
"""
import numpy
import pytest

import dlcore
import dlcore.functional as F
from dlcore import Tensor, losses, nn, optim
from dlcore.ops.conv import Conv2dFunction, ConvGeometry


def direct_conv2d(x, W, b=None, stride=1, padding=0, dilation=1, mode="constant"):
    """The definition, one output pixel at a time: y[n,o,p,q] = Σ_cij W[o,c,i,j] x_pad[n,c,pS+iD,qS+jD] + b[o]."""
    (sh, sw), (ph, pw), (dh, dw) = [(v, v) if isinstance(v, int) else v for v in (stride, padding, dilation)]
    xp = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), mode=mode)
    o, _, kh, kw = W.shape
    oh = (xp.shape[2] - dh * (kh - 1) - 1) // sh + 1
    ow = (xp.shape[3] - dw * (kw - 1) - 1) // sw + 1
    y = numpy.zeros((x.shape[0], o, oh, ow))
    for p in range(oh):
        for q in range(ow):
            patch = xp[:, :, p * sh:p * sh + dh * (kh - 1) + 1:dh, q * sw:q * sw + dw * (kw - 1) + 1:dw]
            y[:, :, p, q] = numpy.einsum("ncij,ocij->no", patch, W)
    return y if b is None else y + b[:, None, None]


def direct_pool(x, k, s, p, reduce, pad_value):
    xp = numpy.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=pad_value)
    oh, ow = (xp.shape[2] - k) // s + 1, (xp.shape[3] - k) // s + 1
    return numpy.array([[reduce(xp[:, :, i * s:i * s + k, j * s:j * s + k], axis=(2, 3)) for j in range(ow)]
                        for i in range(oh)]).transpose(2, 3, 0, 1)


CONFIGS = [  # x shape, W shape, stride, padding, dilation
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0, 1),
    ((2, 3, 7, 6), (2, 3, 3, 3), 2, 1, 1),
    ((1, 2, 9, 8), (3, 2, 5, 5), 3, 2, 1),
    ((2, 2, 7, 7), (2, 2, 3, 3), 1, 2, 2),
    ((2, 2, 6, 5), (3, 2, 2, 3), (2, 1), (1, 0), (1, 2)),
    ((1, 4, 4, 4), (2, 4, 1, 1), 1, 0, 1),
    ((2, 1, 6, 6), (2, 1, 2, 2), 2, 0, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CONFIGS)
@pytest.mark.parametrize("mode", ["zeros", "edge"])
def test_conv2d_equals_direct_definition(x_shape, w_shape, stride, padding, dilation, mode):
    rng = numpy.random.default_rng(0)
    x, W, b = rng.standard_normal(x_shape), rng.standard_normal(w_shape), rng.standard_normal(w_shape[0])
    y = F.conv2d(Tensor(x), Tensor(W), Tensor(b), stride, padding, dilation, mode).numpy()
    expected = direct_conv2d(x, W, b, stride, padding, dilation, "edge" if mode == "edge" else "constant")
    numpy.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("h, k, s, p, d", [(5, 3, 1, 0, 1), (7, 3, 2, 1, 1), (8, 5, 3, 2, 1), (9, 3, 2, 0, 3),
                                           (4, 4, 4, 0, 1), (6, 2, 5, 1, 2), (1, 1, 1, 0, 1)])
def test_conv_output_size_formula(h, k, s, p, d):
    layer = nn.Conv2d(2, 3, k, stride=s, padding=p, dilation=d)
    y = layer(Tensor(numpy.zeros((1, 2, h, h + 1), numpy.float32)))
    assert y.shape == (1, 3, (h + 2 * p - d * (k - 1) - 1) // s + 1, (h + 1 + 2 * p - d * (k - 1) - 1) // s + 1)


def test_empty_output_names_layer_and_sizes():
    layer = nn.Conv2d(3, 4, 5, padding=0)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4.*3×3.*kernel 5×5.*empty output \(-1×-1\)"):
        layer(Tensor(numpy.zeros((1, 3, 3, 3), numpy.float32)))
    with pytest.raises(ValueError, match=r"max_pool2d: .* 1×2 .*empty output \(0×1\)"):
        F.max_pool2d(Tensor(numpy.zeros((1, 1, 1, 2))), 2)


def test_channel_mismatch_names_layer_expected_and_actual():
    with pytest.raises(ValueError, match=r"Conv2d\(3, 8.*expects 3 input channels, got 2.*\(1, 2, 5, 5\)"):
        nn.Conv2d(3, 8, 3)(Tensor(numpy.zeros((1, 2, 5, 5), numpy.float32)))
    with pytest.raises(ValueError, match=r"ConvTranspose2d.*expects 4 input channels, got 3"):
        nn.ConvTranspose2d(4, 2, 2)(Tensor(numpy.zeros((1, 3, 5, 5), numpy.float32)))
    with pytest.raises(ValueError, match=r"NCHW.*\(5, 3\)"):
        nn.Conv2d(3, 8, 3)(Tensor(numpy.zeros((5, 3), numpy.float32)))
    with pytest.raises(ValueError, match=r"conv2d.*\(1, 2, 5, 5\).*\(8, 3, 3, 3\)"):
        F.conv2d(Tensor(numpy.zeros((1, 2, 5, 5))), Tensor(numpy.zeros((8, 3, 3, 3))))


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="padding_mode"):
        nn.Conv2d(1, 1, 3, padding_mode="reflect")
    with pytest.raises(ValueError, match="stride"):
        nn.Conv2d(1, 1, 3, stride=0)
    with pytest.raises(ValueError, match="half the kernel"):
        nn.MaxPool2d(2, padding=2)
    with pytest.raises(ValueError, match="nearest"):
        nn.Upsample2d(2, mode="bicubic")


def test_edge_padding_equals_explicit_edge_pad():
    rng = numpy.random.default_rng(1)
    x, W = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((2, 3, 3, 3))
    xe = Tensor(x, requires_grad=True)
    y = F.conv2d(xe, Tensor(W), padding=(2, 1), padding_mode="edge")
    padded = Tensor(numpy.pad(x, ((0, 0), (0, 0), (2, 2), (1, 1)), mode="edge"), requires_grad=True)
    expected = F.conv2d(padded, Tensor(W))
    numpy.testing.assert_allclose(y.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(y.shape)
    y.backward(g)
    expected.backward(g)
    # d/dx of an edge pad: each border pixel collects the gradients of its copies
    gp = padded.grad.copy()
    gp[:, :, 2] += gp[:, :, :2].sum(axis=2)
    gp[:, :, -3] += gp[:, :, -2:].sum(axis=2)
    gp[:, :, :, 1] += gp[:, :, :, :1].sum(axis=3)
    gp[:, :, :, -2] += gp[:, :, :, -1:].sum(axis=3)
    numpy.testing.assert_allclose(xe.grad, gp[:, :, 2:-2, 1:-1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("h, w, k, s, p, d", [(5, 5, 3, 1, 0, 1), (7, 6, 3, 2, 1, 1), (8, 9, 4, 2, 1, 1),
                                              (9, 8, 3, 3, 2, 2), (6, 6, 2, 2, 0, 1)])
def test_conv_transpose_is_the_adjoint_of_conv(h, w, k, s, p, d):
    """<conv(x), y> = <x, convᵀ(y)> for the same weight; and convᵀ's output size is (H−1)S − 2P + D(K−1) + 1."""
    rng = numpy.random.default_rng(2)
    W = rng.standard_normal((4, 3, k, k))  # conv 3 → 4 channels; convᵀ 4 → 3 with the same array
    x = rng.standard_normal((2, 3, h, w))
    cx = F.conv2d(Tensor(x), Tensor(W), stride=s, padding=p, dilation=d)
    y = rng.standard_normal(cx.shape)
    cty = F.conv_transpose2d(Tensor(y), Tensor(W), stride=s, padding=p, dilation=d)
    oh, ow = cx.shape[2:]
    assert cty.shape[2:] == ((oh - 1) * s - 2 * p + d * (k - 1) + 1, (ow - 1) * s - 2 * p + d * (k - 1) + 1)
    xs = x[:, :, :cty.shape[2], :cty.shape[3]]  # rows past the last window get nothing from convᵀ
    cx_s = F.conv2d(Tensor(xs), Tensor(W), stride=s, padding=p, dilation=d).numpy()
    numpy.testing.assert_allclose(numpy.vdot(cx_s, y), numpy.vdot(xs, cty.numpy()), rtol=1e-10)


@pytest.mark.parametrize("h, w, k, s, p", [(8, 7, 3, 2, 1), (10, 9, 3, 3, 1), (9, 9, 2, 2, 0)])
def test_output_padding_gives_the_transpose_of_every_input_size(h, w, k, s, p):
    """With OP = (H + 2P − K) mod S, convᵀ returns x's own size and <conv(x), y> = <x, convᵀ(y)> in full."""
    rng = numpy.random.default_rng(4)
    W = rng.standard_normal((4, 3, k, k))
    x = rng.standard_normal((2, 3, h, w))
    cx = F.conv2d(Tensor(x), Tensor(W), stride=s, padding=p)
    y = rng.standard_normal(cx.shape)
    op = ((h + 2 * p - k) % s, (w + 2 * p - k) % s)
    assert any(op), "the case must need output padding"
    cty = F.conv_transpose2d(Tensor(y), Tensor(W), stride=s, padding=p, output_padding=op)
    assert cty.shape == x.shape
    numpy.testing.assert_allclose(numpy.vdot(cx.numpy(), y), numpy.vdot(x, cty.numpy()), rtol=1e-10)
    layer = nn.ConvTranspose2d(4, 3, k, stride=s, padding=p, output_padding=op)
    assert layer(Tensor(y.astype(numpy.float32))).shape == x.shape and "output_padding" in repr(layer)


def test_output_padding_must_be_below_the_stride():
    with pytest.raises(ValueError, match=r"output_padding .* got output_padding \(2, 2\) with stride \(2, 2\)"):
        nn.ConvTranspose2d(2, 2, 3, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="smaller than the stride"):
        F.conv_transpose2d(Tensor(numpy.zeros((1, 2, 3, 3))), Tensor(numpy.zeros((2, 2, 3, 3))), output_padding=1)


def test_conv_transpose2d_module_upsamples_like_pytorch():
    layer = nn.ConvTranspose2d(3, 2, 2, stride=2)
    assert layer.weight.shape == (3, 2, 2, 2) and layer.bias.shape == (2,)
    assert layer(Tensor(numpy.ones((1, 3, 4, 5), numpy.float32))).shape == (1, 2, 8, 10)
    # stride = kernel: every input pixel paints its own K×K block with W[c, o]
    x = numpy.zeros((1, 3, 2, 2), numpy.float32)
    x[0, 1, 1, 0] = 1.0
    y = layer(Tensor(x)).numpy()
    numpy.testing.assert_allclose(y[0, :, 2:4, 0:2], layer.weight.numpy()[1])
    assert numpy.count_nonzero(y) == numpy.count_nonzero(layer.weight.numpy()[1])


@pytest.mark.parametrize("k, s, p", [(2, 2, 0), (3, 2, 1), (3, 1, 1), (2, 1, 0)])
def test_pools_equal_direct_definition(k, s, p):
    x = numpy.random.default_rng(3).standard_normal((2, 3, 7, 6))
    numpy.testing.assert_allclose(F.max_pool2d(Tensor(x), k, s, p).numpy(),
                                  direct_pool(x, k, s, p, numpy.max, -numpy.inf))
    numpy.testing.assert_allclose(F.avg_pool2d(Tensor(x), k, s, p).numpy(),
                                  direct_pool(x, k, s, p, numpy.mean, 0.0), rtol=1e-12)  # zeros counted
    assert nn.MaxPool2d(k, s, p)(Tensor(x)).shape == ((2, 3) + tuple((n + 2 * p - k) // s + 1 for n in (7, 6)))


@pytest.mark.parametrize("k, s", [(2, 2), (3, 1), (3, 2)])
def test_max_pool_gradient_goes_to_one_element_per_window_on_ties(k, s):
    x = Tensor(numpy.zeros((1, 2, 5, 5)), requires_grad=True)  # every window is one big tie
    y = F.max_pool2d(x, k, s)
    windows = numpy.prod(y.shape)
    y.backward(numpy.ones(y.shape))
    assert x.grad.sum() == windows
    if s >= k:  # disjoint windows: exactly one winner in each
        assert numpy.count_nonzero(x.grad) == windows
        blocks = x.grad[:, :, :y.shape[2] * k, :y.shape[3] * k].reshape(1, 2, y.shape[2], k, y.shape[3], k)
        numpy.testing.assert_array_equal(blocks.sum(axis=(3, 5)), 1.0)
        numpy.testing.assert_array_equal(blocks[:, :, :, 0, :, 0], 1.0)  # the first entry, as the CUDA kernel picks


@pytest.mark.parametrize("channels_last", [False, True])
@pytest.mark.parametrize("value", [0.0, -numpy.inf])
def test_zero_padding_equals_numpy_pad_and_keeps_the_memory_order(channels_last, value):
    from dlcore.ops.conv import ConvGeometry, pad
    from dlcore.ops.layout import is_channels_last

    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((2, 5, 4, 3)).transpose(0, 3, 1, 2) if channels_last else rng.standard_normal((2, 3, 5, 4))
    padded = pad(numpy, x, ConvGeometry(3, padding=(1, 2)), value)
    numpy.testing.assert_array_equal(padded, numpy.pad(x, ((0, 0), (0, 0), (1, 1), (2, 2)), constant_values=value))
    assert is_channels_last(padded) == channels_last


def test_max_pool_ties_go_to_the_first_maximum_in_row_major_window_order():
    # windows [[1, 3], [3, 2]] and [[0, 0], [5, 5]]: the winners are entries (0, 1) and (1, 0)
    x = Tensor(numpy.array([[[[1.0, 3.0, 0.0, 0.0], [3.0, 2.0, 5.0, 5.0]]]]), requires_grad=True)
    y = F.max_pool2d(x, 2)
    y.backward(numpy.array([[[[10.0, 20.0]]]]))
    numpy.testing.assert_array_equal(y.numpy(), [[[[3.0, 5.0]]]])
    numpy.testing.assert_array_equal(x.grad, [[[[0, 10, 0, 0], [0, 0, 20, 0]]]])


def test_max_pool_gradient_goes_to_the_arg_max():
    x = numpy.random.default_rng(4).permutation(2 * 36).reshape(1, 2, 6, 6).astype(numpy.float64)
    t = Tensor(x, requires_grad=True)
    y = F.max_pool2d(t, 2)
    y.backward(numpy.arange(1, y.size + 1, dtype=numpy.float64).reshape(y.shape))
    blocks = x.reshape(1, 2, 3, 2, 3, 2)
    winner = blocks == blocks.max(axis=(3, 5), keepdims=True)
    expected = (winner * numpy.arange(1, 19).reshape(1, 2, 3, 1, 3, 1)).reshape(x.shape)
    numpy.testing.assert_array_equal(t.grad, expected)


def test_global_pools_and_upsample():
    x = numpy.random.default_rng(5).standard_normal((2, 3, 4, 5))
    numpy.testing.assert_allclose(nn.GlobalAvgPool2d()(Tensor(x)).numpy(), x.mean(axis=(2, 3)), rtol=1e-12)
    numpy.testing.assert_array_equal(nn.GlobalMaxPool2d()(Tensor(x)).numpy(), x.max(axis=(2, 3)))
    up = nn.Upsample2d((2, 3))(Tensor(x)).numpy()
    numpy.testing.assert_array_equal(up, x.repeat(2, axis=2).repeat(3, axis=3))
    t = Tensor(x, requires_grad=True)
    F.upsample2d(t, 2).sum().backward()
    numpy.testing.assert_array_equal(t.grad, numpy.full(x.shape, 4.0))


def test_float32_stays_float32_and_one_column_buffer():
    x = Tensor(numpy.random.default_rng(6).standard_normal((2, 3, 6, 6)).astype(numpy.float32), requires_grad=True)
    layer = nn.Conv2d(3, 4, 3, stride=2, padding=1)
    y = layer(x)
    fn = y.creator
    assert isinstance(fn, Conv2dFunction) and y.dtype == numpy.float32
    assert fn.col.dtype == numpy.float32 and fn.col.shape == (2 * 3 * 3, 3 * 3 * 3)
    big = [k for k, v in vars(fn).items() if isinstance(v, numpy.ndarray) and v.size >= fn.col.size]
    assert big == ["col"]  # the column matrix is the only activation-sized array kept for backward
    z = nn.MaxPool2d(2)(nn.ConvTranspose2d(4, 2, 2, stride=2)(y))
    z.backward(numpy.ones(z.shape, numpy.float32))
    assert z.dtype == x.grad.dtype == layer.weight.grad.dtype == layer.bias.grad.dtype == numpy.float32


def test_conv_layer_state_and_init():
    layer = nn.Conv2d(3, 8, (3, 5), bias=False, weight_init="he")
    assert [n for n, _ in layer.named_parameters()] == ["weight"]
    assert layer.weight.shape == (8, 3, 3, 5) and layer.weight.dtype == numpy.float32
    assert abs(layer.weight.numpy().std() - (2 / 45) ** 0.5) < 0.05
    assert set(nn.Conv2d(2, 2, 1).state_dict()) == {"weight", "bias"}


def test_residual_adds_the_shortcut_and_names_shapes():
    x = Tensor(numpy.random.default_rng(7).standard_normal((2, 2, 4, 4)).astype(numpy.float32))
    block = nn.Conv2d(2, 2, 3, padding=1)
    numpy.testing.assert_allclose(nn.Residual(block)(x).numpy(), block(x).numpy() + x.numpy(), rtol=1e-6)
    proj = nn.Conv2d(2, 3, 1, stride=2)
    down = nn.Residual(nn.Conv2d(2, 3, 3, stride=2, padding=1), proj)
    assert [n for n, _ in down.named_parameters()] == ["block.weight", "block.bias", "shortcut.weight",
                                                       "shortcut.bias"]
    assert down(x).shape == (2, 3, 2, 2)
    with pytest.raises(ValueError, match=r"Residual.*\(2, 3, 2, 2\).*identity.*\(2, 2, 4, 4\)"):
        nn.Residual(nn.Conv2d(2, 3, 3, stride=2, padding=1))(x)


def _bars(n, rng):
    """8×8 images with one horizontal (label 0) or vertical (label 1) bar at a random position, plus noise."""
    labels = rng.integers(0, 2, n)
    x = rng.normal(0, 0.3, (n, 1, 8, 8))
    pos, start = rng.integers(0, 8, n), rng.integers(0, 4, n)
    for i in range(n):  # building the data set, not the model
        if labels[i]:
            x[i, 0, start[i]:start[i] + 5, pos[i]] += 1.0
        else:
            x[i, 0, pos[i], start[i]:start[i] + 5] += 1.0
    return x.astype(numpy.float32), labels


def test_tiny_cnn_learns_bar_orientation():
    rng = numpy.random.default_rng(0)
    x, t = _bars(600, rng)
    x_test, t_test = _bars(300, rng)
    model = nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1),
                          nn.ReLU(), nn.GlobalMaxPool2d(), nn.Linear(8, 2))
    loss_fn, opt = losses.CrossEntropyLoss(), optim.Adam(model, lr=0.02)
    for epoch in range(6):
        for i in range(0, len(x), 50):
            opt.zero_grad()
            loss_fn(model(Tensor(x[i:i + 50])), Tensor(t[i:i + 50])).backward()
            opt.step()
    with dlcore.no_grad():
        accuracy = (model.eval()(Tensor(x_test)).numpy().argmax(axis=1) == t_test).mean()
    assert accuracy >= 0.95


def test_geometry_reports_its_sizes():
    g = ConvGeometry((3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2))
    assert g.output_size(7, 6) == (4, 4)
    assert g.input_size(4, 4) == (7, 6)
    assert str(g) == "kernel 3×2, stride 2×1, padding 1×0, dilation 1×2"


def test_column_matrices_of_live_graphs_are_not_shared():
    """Two convolutions of the same shape before either backward: each keeps its own columns (the
    NumPy backend reuses column memory from step to step only once nothing references it)."""
    rng = numpy.random.default_rng(0)
    x1, x2 = (rng.standard_normal((8, 16, 32, 32)).astype(numpy.float32) for _ in range(2))
    W = Tensor(rng.standard_normal((16, 16, 3, 3)).astype(numpy.float32), requires_grad=True)
    y1 = F.conv2d(Tensor(x1), W, padding=1)
    y2 = F.conv2d(Tensor(x2), W, padding=1)  # columns of the same shape, 4.5 MiB: pooled
    y1.sum().backward()
    grad_1 = W.grad.copy()
    W.grad = None
    F.conv2d(Tensor(x1), W, padding=1).sum().backward()
    numpy.testing.assert_array_equal(grad_1, W.grad)
    W.grad = None
    y2.sum().backward()
    W.grad, grad_2 = None, W.grad
    F.conv2d(Tensor(x2), W, padding=1).sum().backward()
    numpy.testing.assert_array_equal(grad_2, W.grad)
