"""Layers and options of issue #23: values against closed forms and NumPy references of PyTorch's
definitions; against PyTorch itself where it imports (not in CI: skipped). Gradients and CPU-vs-GPU
parity: the cases in tests/cases (activation_cases, norm_cases, conv_cases)."""
import math

import numpy
import pytest

import dlcore
from dlcore import Tensor, nn

RNG = numpy.random.default_rng(23)


def _t(a):
    return Tensor(numpy.asarray(a, dtype=numpy.float64))


# ---- GELU, Softmax(dim=), Flatten(start_dim) ----------------------------------------------------------------
def test_gelu_is_x_times_the_normal_cdf():
    x = numpy.linspace(-8, 8, 161)
    cdf = numpy.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in x])
    exact = x * cdf
    numpy.testing.assert_allclose(nn.GELU()(_t(x)).numpy(), exact, rtol=2e-7, atol=1e-15)  # the erfc fit: 1.2e-7
    tanh_form = 0.5 * x * (1 + numpy.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    numpy.testing.assert_allclose(nn.GELU(approximate="tanh")(_t(x)).numpy(), tanh_form, rtol=1e-14, atol=1e-300)
    g = Tensor(x.copy(), requires_grad=True)
    nn.GELU()(g).sum().backward()
    phi = numpy.exp(-x * x / 2) / math.sqrt(2 * math.pi)
    numpy.testing.assert_allclose(g.grad, cdf + x * phi, rtol=2e-7, atol=1e-7)
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU(approximate="erf")


def test_softmax_dim_and_flatten_start_dim():
    x = RNG.standard_normal((2, 3, 4))
    e = numpy.exp(x - x.max(axis=1, keepdims=True))
    numpy.testing.assert_allclose(nn.Softmax(dim=1)(_t(x)).numpy(), e / e.sum(axis=1, keepdims=True), rtol=1e-14)
    with pytest.raises(ValueError, match="axis=1 and dim=0"):
        nn.Softmax(1, dim=0)
    assert nn.Flatten(start_dim=0)(_t(x)).shape == (24,)
    assert nn.Flatten(1, 1)(_t(x)).shape == (2, 3, 4) and nn.Flatten(-2)(_t(x)).shape == (2, 12)
    numpy.testing.assert_array_equal(nn.Flatten(1, 2)(_t(x)).numpy(), x.reshape(2, 12))
    with pytest.raises(ValueError, match="cannot merge axes 2 … 1"):
        nn.Flatten(2, 1)(_t(x))


# ---- containers -------------------------------------------------------------------------------------------------
def test_module_list_and_dict_register_their_modules():
    layers = nn.ModuleList([nn.Linear(2, 3), nn.ReLU()])
    layers.extend([nn.Linear(3, 1)])
    assert [n for n, _ in layers.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert isinstance(layers[-1], nn.Linear) and len(layers[1:]) == 2 and isinstance(layers[1:], nn.ModuleList)
    heads = nn.ModuleDict({"a": nn.Linear(2, 2)})
    heads["b"] = nn.Linear(2, 1)

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers, self.heads = layers, heads

    model = Model()
    assert sorted(model.state_dict()) == sorted(
        ["layers.0.weight", "layers.0.bias", "layers.2.weight", "layers.2.bias", "heads.a.weight", "heads.a.bias",
         "heads.b.weight", "heads.b.bias"])
    assert list(heads.keys()) == ["a", "b"] and dict(heads.items())["b"] is heads["b"]
    model.eval()
    assert not layers[0].training and not heads["a"].training
    with pytest.raises(ValueError, match="ModuleDict: a name must be an identifier"):
        heads["a.b"] = nn.ReLU()
    with pytest.raises(ValueError, match="ModuleDict: a name must be an identifier"):
        heads["forward"] = nn.ReLU()
    with pytest.raises(TypeError, match="ModuleList: module 3"):
        layers.append(numpy.zeros(2))


# ---- normalization ------------------------------------------------------------------------------------------------
def reference_group_norm(x, groups, gamma, beta, eps=1e-5):
    n, c = x.shape[:2]
    g = x.reshape(n, groups, -1)
    y = ((g - g.mean(axis=2, keepdims=True)) / numpy.sqrt(g.var(axis=2, keepdims=True) + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    return y * gamma.reshape(shape) + beta.reshape(shape)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_group_norm_matches_its_definition(groups):
    x = RNG.standard_normal((3, 6, 4, 5)) * 3 + 1
    with dlcore.default_dtype("float64"):
        norm = nn.GroupNorm(groups, 6)
    norm.weight.data[...] = RNG.uniform(0.5, 2, 6)
    norm.bias.data[...] = RNG.standard_normal(6)
    expected = reference_group_norm(x, groups, norm.weight.data, norm.bias.data)
    numpy.testing.assert_allclose(norm(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(norm.eval()(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)  # no running stats
    with pytest.raises(ValueError, match=r"num_channels \(6\) must be divisible by num_groups \(4\)"):
        nn.GroupNorm(4, 6)


def test_group_norm_of_one_channel_per_group_is_instance_norm():
    x = RNG.standard_normal((2, 3, 7))
    y = nn.GroupNorm(3, 3, affine=False)(_t(x)).numpy()
    numpy.testing.assert_allclose(y, (x - x.mean(axis=2, keepdims=True)) / numpy.sqrt(x.var(axis=2, keepdims=True)
                                                                                        + 1e-5), rtol=1e-12)
    assert nn.GroupNorm(3, 3, affine=False).state_dict() == {}


def test_batch_norm_without_affine_or_running_statistics():
    x = RNG.standard_normal((8, 3, 2, 2)) * 2 + 5
    bn = nn.BatchNorm2d(3, affine=False, track_running_stats=False)
    assert bn.weight is None and bn.running_mean is None and bn.state_dict() == {}
    assert list(bn.parameters()) == []
    mean, var = x.mean(axis=(0, 2, 3), keepdims=True), x.var(axis=(0, 2, 3), keepdims=True)
    expected = (x - mean) / numpy.sqrt(var + 1e-5)
    numpy.testing.assert_allclose(bn(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(bn.eval()(_t(x)).numpy(), expected, rtol=1e-12, atol=1e-12)  # batch stats in eval
    with dlcore.default_dtype("float64"):  # x is float64: float32 running statistics would refuse it
        tracked = nn.BatchNorm2d(3, affine=False)
    tracked(_t(x))
    numpy.testing.assert_allclose(tracked.running_mean, 0.1 * mean.reshape(-1), rtol=1e-6)
    assert sorted(tracked.state_dict()) == ["running_mean", "running_var"]
    assert "affine=False" in repr(tracked) and "track_running_stats" not in repr(tracked)


# ---- Dropout2d ------------------------------------------------------------------------------------------------------
def test_dropout2d_drops_whole_channels_with_probability_p():
    dlcore.manual_seed(0)
    y = nn.Dropout2d(0.25)(_t(numpy.ones((400, 10, 3, 3)))).numpy()
    per_map = y.reshape(4000, 9)
    assert (per_map.min(axis=1) == per_map.max(axis=1)).all()
    assert set(numpy.unique(per_map)) == {0.0, 1 / 0.75}
    assert abs((per_map[:, 0] == 0).mean() - 0.25) < 0.02
    x = Tensor(RNG.standard_normal((2, 3, 2, 2)), requires_grad=True)
    mask = numpy.array([[1, 0, 1], [0, 0, 1]]).reshape(2, 3, 1, 1)
    from dlcore.ops.dropout import dropout2d
    out = dropout2d(x, 0.5, training=True, mask=mask)
    out.backward(numpy.ones(x.shape))
    numpy.testing.assert_allclose(out.numpy(), x.data * mask * 2)
    numpy.testing.assert_allclose(x.grad, numpy.broadcast_to(mask * 2.0, x.shape))
    with pytest.raises(ValueError, match=r"dropout2d: the mask of shape \(2, 3\) does not match x of shape"):
        dropout2d(x, 0.5, training=True, mask=numpy.ones((2, 3)))
    with pytest.raises(ValueError, match=r"dropout2d needs an input \(N, C, H, W\)"):
        dropout2d(_t(numpy.ones((2, 3))), 0.5, training=True)
    assert nn.Dropout2d(0.5).draws_random_numbers() and nn.Dropout2d(0.5).eval()(x) is x


def test_against_pytorch_activations_and_norms():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 6, 3, 3))
    numpy.testing.assert_allclose(nn.GELU()(_t(x)).numpy(), torch.nn.GELU()(torch.tensor(x)).numpy(), rtol=2e-7)
    with dlcore.default_dtype("float64"):
        group_norm = nn.GroupNorm(3, 6)
    numpy.testing.assert_allclose(group_norm(_t(x)).numpy(),
                                  torch.nn.GroupNorm(3, 6).double()(torch.tensor(x)).detach().numpy(), rtol=1e-10,
                                  atol=1e-12)


# ---- convolution: padding "same"/"valid", groups ----------------------------------------------------------------
def reference_conv(x, w, stride=1, pads=((0, 0), (0, 0))):
    """Direct NCHW cross-correlation of x padded with zeros by pads = ((top, bottom), (left, right))."""
    x = numpy.pad(x, ((0, 0), (0, 0), *pads))
    o, c, kh, kw = w.shape
    oh, ow = (x.shape[2] - kh) // stride + 1, (x.shape[3] - kw) // stride + 1
    y = numpy.zeros((x.shape[0], o, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = x[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw]
            y[:, :, i, j] = numpy.einsum("nchw,ochw->no", patch, w)
    return y


@pytest.mark.parametrize("kernel", [(3, 3), (4, 2), (2, 5)])
def test_conv_same_pads_the_odd_row_after_as_pytorch(kernel):
    x = RNG.standard_normal((2, 3, 6, 5))
    with dlcore.default_dtype("float64"):
        conv = nn.Conv2d(3, 2, kernel, padding="same", bias=False)
    pads = tuple(((k - 1) // 2, (k - 1) - (k - 1) // 2) for k in kernel)
    y = conv(_t(x)).numpy()
    assert y.shape == (2, 2, 6, 5)
    numpy.testing.assert_allclose(y, reference_conv(x, conv.weight.data, pads=pads), rtol=1e-12, atol=1e-12)
    valid = nn.Conv2d(3, 2, kernel, padding="valid", bias=False)
    assert valid.geometry.padding == (0, 0)
    with pytest.raises(ValueError, match=r"padding='same' needs stride 1"):
        nn.Conv2d(3, 2, 3, stride=2, padding="same")
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2d(3, 2, 3, padding="full")


def test_grouped_and_depthwise_convolution():
    x = RNG.standard_normal((2, 4, 5, 5))
    with dlcore.default_dtype("float64"):
        conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
    assert conv.weight.shape == (6, 2, 3, 3) and "groups=2" in repr(conv)
    conv.bias.data[...] = RNG.standard_normal(6)
    w = conv.weight.data
    expected = numpy.concatenate([reference_conv(x[:, :2], w[:3], pads=((1, 1), (1, 1))),
                                  reference_conv(x[:, 2:], w[3:], pads=((1, 1), (1, 1)))], axis=1)
    numpy.testing.assert_allclose(conv(_t(x)).numpy(), expected + conv.bias.data.reshape(1, 6, 1, 1), rtol=1e-12,
                                  atol=1e-12)
    with dlcore.default_dtype("float64"):
        depthwise = nn.Conv2d(4, 4, 3, groups=4, bias=False)
    y = depthwise(_t(x)).numpy()
    for c in range(4):
        numpy.testing.assert_allclose(y[:, c:c + 1], reference_conv(x[:, c:c + 1], depthwise.weight.data[c:c + 1]),
                                      rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match=r"Conv2d: out_channels \(5\) must be divisible by groups \(2\)"):
        nn.Conv2d(4, 5, 3, groups=2)
    with pytest.raises(ValueError, match=r"conv2d needs x \(N, C, H, W\) and a 4-D weight with C/groups = C/2"):
        dlcore.ops.conv.conv2d(_t(x), _t(numpy.zeros((6, 4, 3, 3))), groups=2)


# ---- pooling: ceil_mode, count_include_pad, adaptive; bilinear up-sampling -------------------------------------------
def reference_pool(x, k, s, p, op, ceil_mode=False, count_include_pad=True):
    """PyTorch's pooling by its definition, window by window (max over real pixels and −∞ padding)."""
    n, c, h, w = x.shape

    def size(length):
        o = (-(-(length + 2 * p - k) // s) if ceil_mode else (length + 2 * p - k) // s) + 1
        return o - 1 if ceil_mode and (o - 1) * s >= length + p else o

    oh, ow = size(h), size(w)
    y = numpy.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            r0, c0 = i * s - p, j * s - p
            r1, c1 = min(r0 + k, h + p), min(c0 + k, w + p)
            window = x[:, :, max(r0, 0):min(r1, h), max(c0, 0):min(c1, w)]
            if op == "max":
                y[:, :, i, j] = window.max(axis=(2, 3))
            else:
                count = (r1 - r0) * (c1 - c0) if count_include_pad else window.shape[2] * window.shape[3]
                y[:, :, i, j] = window.sum(axis=(2, 3)) / count
    return y


@pytest.mark.parametrize("k, s, p", [(3, 2, 0), (2, 2, 1), (3, 2, 1), (3, 3, 1), (2, 1, 0)])
@pytest.mark.parametrize("ceil_mode", [False, True])
def test_pooling_matches_pytorchs_windows_and_divisors(k, s, p, ceil_mode):
    x = RNG.standard_normal((2, 2, 7, 6))
    got = nn.MaxPool2d(k, s, p, ceil_mode=ceil_mode)(_t(x)).numpy()
    numpy.testing.assert_allclose(got, reference_pool(x, k, s, p, "max", ceil_mode), rtol=1e-14)
    for include in (True, False):
        got = nn.AvgPool2d(k, s, p, ceil_mode=ceil_mode, count_include_pad=include)(_t(x)).numpy()
        numpy.testing.assert_allclose(got, reference_pool(x, k, s, p, "avg", ceil_mode, include), rtol=1e-12)


def test_adaptive_avg_pool_windows():
    x = RNG.standard_normal((2, 3, 7, 5))
    y = nn.AdaptiveAvgPool2d((3, 2))(_t(x)).numpy()
    rows = [(i * 7 // 3, -(-(i + 1) * 7 // 3)) for i in range(3)]
    cols = [(j * 5 // 2, -(-(j + 1) * 5 // 2)) for j in range(2)]
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            numpy.testing.assert_allclose(y[:, :, i, j], x[:, :, r0:r1, c0:c1].mean(axis=(2, 3)), rtol=1e-12)
    numpy.testing.assert_allclose(nn.AdaptiveAvgPool2d(1)(_t(x)).numpy()[:, :, 0, 0], x.mean(axis=(2, 3)),
                                  rtol=1e-12)


def reference_bilinear(x, scale, align_corners=False):
    n, c, h, w = x.shape

    def coords(length):
        m = length * scale
        if align_corners:
            src = numpy.arange(m) * ((length - 1) / (m - 1))
        else:
            src = numpy.maximum((numpy.arange(m) + 0.5) / scale - 0.5, 0)
        lo = numpy.floor(src).astype(int)
        return lo, numpy.minimum(lo + 1, length - 1), src - lo

    (r0, r1, a), (c0, c1, b) = coords(h), coords(w)
    top = x[:, :, r0][:, :, :, c0] * (1 - b) + x[:, :, r0][:, :, :, c1] * b
    bottom = x[:, :, r1][:, :, :, c0] * (1 - b) + x[:, :, r1][:, :, :, c1] * b
    return top * (1 - a)[:, None] + bottom * a[:, None]


@pytest.mark.parametrize("align_corners", [False, True])
def test_bilinear_upsampling(align_corners):
    x = RNG.standard_normal((2, 3, 4, 5))
    got = nn.Upsample2d(3, mode="bilinear", align_corners=align_corners)(_t(x)).numpy()
    numpy.testing.assert_allclose(got, reference_bilinear(x, 3, align_corners), rtol=1e-12, atol=1e-14)
    flat = nn.Upsample2d(2, mode="bilinear")(_t(numpy.full((1, 1, 3, 3), 7.0))).numpy()
    numpy.testing.assert_allclose(flat, 7.0)  # interpolation weights sum to 1


def test_against_pytorch_conv_and_pooling():
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((2, 4, 7, 6))
    tx = torch.tensor(x)
    with dlcore.default_dtype("float64"):
        conv = nn.Conv2d(4, 4, 4, padding="same", groups=2)
    theirs = torch.nn.functional.conv2d(tx, torch.tensor(conv.weight.data), torch.tensor(conv.bias.data),
                                        padding="same", groups=2)
    numpy.testing.assert_allclose(conv(_t(x)).numpy(), theirs.numpy(), rtol=1e-12, atol=1e-12)
    pairs = [(nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
              torch.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False)),
             (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
             (nn.AdaptiveAvgPool2d((3, 4)), torch.nn.AdaptiveAvgPool2d((3, 4))),
             (nn.Upsample2d(2, mode="bilinear"), torch.nn.Upsample(scale_factor=2, mode="bilinear"))]
    for ours, theirs in pairs:
        numpy.testing.assert_allclose(ours(_t(x)).numpy(), theirs(tx).numpy(), rtol=1e-12, atol=1e-12)


@pytest.mark.gpu
def test_resampling_and_weighted_cross_entropy_are_captured_in_a_cuda_graph():
    """Adaptive pooling and bilinear up-sampling run as GEMMs of the backend (its cuBLAS binding), which a
    CUDA-graph capture accepts (the host simulation refuses CuPy's own cuBLAS calls as CUDA does)."""
    import backends
    from dlcore import losses, optim
    from dlcore.cuda_graph import CapturedStep

    backends.use("cupy")
    cp = backends.get("cupy").xp
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding="same"), nn.Upsample2d(2, mode="bilinear"),
                          nn.AdaptiveAvgPool2d(3), nn.Flatten(), nn.Linear(18, 3))
    opt = optim.SGD(model, lr=0.1)
    loss_fn = losses.CrossEntropyLoss(weight=cp.asarray([1.0, 2.0, 0.5], dtype="float32"), label_smoothing=0.1)
    x = cp.asarray(RNG.standard_normal((4, 1, 5, 5)).astype("float32"))
    t = cp.asarray(numpy.array([0, 1, 2, -100]))

    def step():
        loss = loss_fn(model(Tensor(x)), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    state = model.state_dict()
    eager = [float(step().item()) for _ in range(3)]
    model.load_state_dict(state)
    captured = CapturedStep(step, restore=(model, opt))
    numpy.testing.assert_allclose([float(captured().item()) for _ in range(3)], eager, rtol=1e-5)
