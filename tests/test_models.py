"""Ready-made CNNs (LeNet, AlexNetSmall, ResNet, U-Net): shapes, names, state, skips, errors and learning runs.

Gradient checks and CPU-vs-GPU parity of tiny versions run from tests/cases/model_cases.py.
"""
import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor, data, losses, models, nn, optim


def _x(*shape, seed=0):
    return Tensor(numpy.random.default_rng(seed).standard_normal(shape).astype(numpy.float32))


SHAPES = [  # factory, input shape, output shape
    (lambda: models.lenet(), (2, 1, 28, 28), (2, 10)),
    (lambda: models.lenet(in_channels=3, num_classes=5, input_size=32), (2, 3, 32, 32), (2, 5)),
    (lambda: models.alexnet_small(), (2, 1, 28, 28), (2, 10)),
    (lambda: models.alexnet_small(in_channels=3, input_size=32, width=(8, 8, 8, 8, 8), hidden=(16, 8)),
     (2, 3, 32, 32), (2, 10)),
    (lambda: models.resnet(8), (2, 1, 28, 28), (2, 10)),
    (lambda: models.resnet(14, in_channels=3, num_classes=4, base_channels=4), (2, 3, 32, 32), (2, 4)),
    (lambda: models.resnet(20, base_channels=4), (1, 1, 32, 32), (1, 10)),
    (lambda: models.unet(), (2, 1, 28, 28), (2, 1, 28, 28)),
    (lambda: models.unet(depth=3, base_channels=4, in_channels=3, out_channels=2), (2, 3, 32, 32), (2, 2, 32, 32)),
    (lambda: models.unet(depth=1, base_channels=4), (1, 1, 28, 12), (1, 1, 28, 12)),
]


@pytest.mark.parametrize("factory, x_shape, y_shape", SHAPES)
def test_output_shapes(factory, x_shape, y_shape):
    model = factory()
    y = model(_x(*x_shape))
    assert y.shape == y_shape and y.dtype == numpy.float32
    y.sum().backward()
    assert all(p.grad is not None and p.grad.shape == p.shape for p in model.parameters())


SMALL = {  # small but complete versions: every kind of block, fast to run
    "lenet": (lambda: models.lenet(channels=(2, 3), hidden=(8, 6)), (4, 1, 28, 28)),
    "alexnet_small": (lambda: models.alexnet_small(width=(2, 2, 3, 3, 2), hidden=(8, 6)), (4, 1, 28, 28)),
    "resnet": (lambda: models.resnet(14, base_channels=2), (4, 1, 16, 16)),
    "unet": (lambda: models.unet(depth=2, base_channels=2), (4, 1, 16, 16)),
}


@pytest.mark.parametrize("name", SMALL)
def test_parameter_names_are_dotted_and_deterministic(name):
    factory, _ = SMALL[name]
    a, b = factory(), factory()
    names = [n for n, _ in a.named_parameters()]
    assert names == [n for n, _ in b.named_parameters()] and list(a.state_dict()) == list(b.state_dict())
    assert len(set(names)) == len(names) and all("." in n for n in names)
    assert set(names) <= set(a.state_dict())


def test_expected_names():
    assert [n for n, _ in models.lenet().named_parameters()] == [
        "features.0.weight", "features.0.bias", "features.3.weight", "features.3.bias", "classifier.0.weight",
        "classifier.0.bias", "classifier.2.weight", "classifier.2.bias", "classifier.4.weight", "classifier.4.bias"]
    names = [n for n, _ in models.resnet(8, base_channels=2).named_parameters()]
    assert names[:3] == ["stem.0.weight", "stem.1.weight", "stem.1.bias"] and names[-2:] == ["fc.weight", "fc.bias"]
    assert "layer2.0.shortcut.0.weight" in names and "layer1.0.shortcut.0.weight" not in names
    names = [n for n, _ in models.unet(depth=2, base_channels=2).named_parameters()]
    assert names[0] == "down.0.0.weight" and "bottleneck.3.weight" in names and names[-1] == "head.bias"
    assert "up.1.up.weight" in names and "up.1.conv.0.weight" in names


def test_architectures_follow_their_definitions():
    lenet = models.lenet()
    assert [m.weight.shape for m in lenet.modules() if isinstance(m, (nn.Conv2d, nn.Linear))] == [
        (6, 1, 5, 5), (16, 6, 5, 5), (400, 120), (120, 84), (84, 10)]
    alex = models.alexnet_small(input_size=32)
    kinds = [type(m).__name__ for m in alex.modules()]
    assert (kinds.count("Conv2d"), kinds.count("MaxPool2d"), kinds.count("Linear"), kinds.count("Dropout")) == \
        (5, 3, 3, 2)
    assert alex.classifier[1].weight.shape == (64 * 4 * 4, 256)
    for depth in (8, 14, 20):  # ResNet-depth: 6n + 1 3×3 convs plus the classifier, two 1×1 projections
        convs = [m for m in models.resnet(depth, base_channels=2).modules() if isinstance(m, nn.Conv2d)]
        assert sum(c.geometry.kernel == (3, 3) for c in convs) + 1 == depth
        assert [c.out_channels for c in convs if c.geometry.kernel == (1, 1)] == [4, 8]
    assert 0.26e6 < sum(p.size for p in models.resnet(20).parameters()) < 0.28e6  # 0.27M in He et al., Table 6
    up = [m for m in models.unet(depth=2).modules() if isinstance(m, nn.ConvTranspose2d)]
    assert [(u.in_channels, u.out_channels, u.geometry.kernel, u.geometry.stride) for u in up] == [
        (64, 32, (2, 2), (2, 2)), (32, 16, (2, 2), (2, 2))]


def _one_training_step(model, x_shape):
    out = model(_x(*x_shape))
    out.sum().backward()
    optim.SGD(model, lr=0.01).step()


@pytest.mark.parametrize("name", SMALL)
def test_state_dict_round_trip_gives_identical_outputs(name):
    factory, x_shape = SMALL[name]
    dlcore.manual_seed(0)
    a = factory()
    _one_training_step(a, x_shape)  # weights and BN running statistics move away from their initial values
    dlcore.manual_seed(1)
    b = factory()
    x = _x(*x_shape, seed=2)
    with dlcore.no_grad():
        assert not numpy.array_equal(a.eval()(x).numpy(), b.eval()(x).numpy())
        b.load_state_dict(a.state_dict())
        numpy.testing.assert_array_equal(b(x).numpy(), a(x).numpy())


@pytest.mark.parametrize("name", ["resnet", "unet"])
def test_batchnorm_buffers_are_in_state_dict(name):
    factory, x_shape = SMALL[name]
    model = factory()
    bns = [n for n, m in model.named_modules() if isinstance(m, nn.BatchNorm2d)]
    state = model.state_dict()
    assert bns and all(f"{n}.running_mean" in state and f"{n}.running_var" in state for n in bns)
    model(_x(*x_shape))
    after = model.state_dict()
    assert not numpy.array_equal(after[f"{bns[0]}.running_mean"], state[f"{bns[0]}.running_mean"])


def test_unet_concatenates_its_skips(monkeypatch):
    model = models.unet(depth=2, base_channels=2).eval()
    x = _x(2, 1, 16, 16)
    with dlcore.no_grad():
        y = model(x).numpy()
        seen, concat = [], F.concat

        def zero_skip(tensors, axis=0):
            up, skip = tensors
            seen.append((axis, up.shape, skip.shape))
            return concat([up, Tensor(numpy.zeros(skip.shape, numpy.float32))], axis)

        monkeypatch.setattr(F, "concat", zero_skip)
        y_no_skip = model(x).numpy()
    assert seen == [(1, (2, 4, 8, 8), (2, 4, 8, 8)), (1, (2, 2, 16, 16), (2, 2, 16, 16))]
    assert numpy.abs(y - y_no_skip).max() > 1e-3


def test_alexnet_dropout_is_active_only_in_training():
    model = models.alexnet_small(width=(2, 2, 3, 3, 2), hidden=(16, 8))
    x = _x(2, 1, 28, 28)
    assert not numpy.array_equal(model(x).numpy(), model(x).numpy())
    model.eval()
    numpy.testing.assert_array_equal(model(x).numpy(), model(x).numpy())


@pytest.mark.parametrize("make, match", [
    (lambda: models.resnet(10), r"ResNet: depth must be 6n \+ 2 .*got 10"),
    (lambda: models.resnet(2), r"depth must be 6n \+ 2.*got 2"),
    (lambda: models.resnet(8, base_channels=0), r"ResNet: base_channels must be an int ≥ 1, got 0"),
    (lambda: models.lenet(input_size=10), r"LeNet: input_size must be an int ≥ 12, got 10"),
    (lambda: models.lenet(channels=(6,)), r"LeNet: channels must be 2 conv widths"),
    (lambda: models.alexnet_small(dropout=1.0), r"AlexNetSmall: dropout must be in \[0, 1\), got 1.0"),
    (lambda: models.alexnet_small(width=(8, 8, 8)), r"AlexNetSmall: width must give 5 conv widths"),
    (lambda: models.alexnet_small(hidden=(16, 0)), r"AlexNetSmall: hidden must be an int ≥ 1, got 0"),
    (lambda: models.unet(depth=0), r"UNet: depth must be an int ≥ 1, got 0"),
    (lambda: models.unet(in_channels=1.5), r"UNet: in_channels must be an int ≥ 1, got 1.5 \(float\)"),
])
def test_bad_constructor_arguments_raise_clear_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_wrong_input_sizes_name_the_model_and_sizes():
    with pytest.raises(ValueError, match=r"UNet\(depth=2\) needs .*divisible by 2\*\*2 = 4.*\(1, 1, 30, 30\).*30×30"):
        models.unet(depth=2, base_channels=2)(_x(1, 1, 30, 30))
    with pytest.raises(ValueError, match=r"UNet\(depth=3\).*divisible by 2\*\*3 = 8.*28×32"):
        models.unet(depth=3, base_channels=2)(_x(1, 1, 28, 32))
    with pytest.raises(ValueError, match=r"LeNet\(input_size=28\) expects .*\(N, C, 28, 28\), got \(1, 1, 32, 32\)"):
        models.lenet()(_x(1, 1, 32, 32))
    with pytest.raises(ValueError, match=r"Conv2d\(1, 4.*expects 1 input channels, got 3"):
        models.resnet(8, base_channels=4)(_x(1, 3, 8, 8))


def test_lenet_learns_a_small_mnist_subset():
    """800 shuffled MNIST-5k digits for 6 epochs of Adam: ≥ 90% on 200 other digits (measured 93–94% over seeds)."""
    x, y = data.mnist_5k()
    (x_train, t_train), (x_test, t_test), _ = data.split(x, y, (0.16, 0.04, 0.8), seed=0)  # rows are sorted by label
    x_train, x_test = [(a.reshape(-1, 1, 28, 28) - 0.13) / 0.31 for a in (x_train, x_test)]
    model = models.lenet(channels=(12, 24))
    loss_fn, opt = losses.CrossEntropyLoss(), optim.Adam(model, lr=2e-3)
    rng = numpy.random.default_rng(0)
    for epoch in range(6):
        opt.lr = 2e-3 * 0.75 ** epoch
        order = rng.permutation(len(x_train))
        for i in range(0, len(order), 16):
            batch = order[i:i + 16]
            opt.zero_grad()
            loss_fn(model(Tensor(x_train[batch])), Tensor(t_train[batch])).backward()
            opt.step()
    with dlcore.no_grad():
        accuracy = (model.eval()(Tensor(x_test)).numpy().argmax(axis=1) == t_test).mean()
    assert accuracy >= 0.90


def _rectangles(n, rng, size=16):
    """Bright axis-aligned rectangles (3–8 pixels a side) plus N(0, 0.4²) noise; the mask is the rectangle."""
    masks = numpy.zeros((n, 1, size, size), numpy.float32)
    for i in range(n):  # building the data set, not the model
        h, w = rng.integers(3, 9, 2)
        top, left = rng.integers(0, size - h + 1), rng.integers(0, size - w + 1)
        masks[i, 0, top:top + h, left:left + w] = 1
    return (masks + rng.normal(0, 0.4, masks.shape)).astype(numpy.float32), masks


def test_unet_learns_toy_segmentation():
    """A depth-2 U-Net segments noisy rectangles (pixel-wise thresholding errs on ~10% of pixels): mean IoU ≥ 0.9."""
    rng = numpy.random.default_rng(0)
    x, masks = _rectangles(256, rng)
    x_test, masks_test = _rectangles(100, rng)
    model = models.unet(depth=2, base_channels=8)
    loss_fn, opt = losses.BCEWithLogitsLoss(), optim.Adam(model, lr=1e-2)
    for epoch in range(8):
        for i in range(0, len(x), 16):
            opt.zero_grad()
            loss_fn(model(Tensor(x[i:i + 16])), Tensor(masks[i:i + 16])).backward()
            opt.step()
    with dlcore.no_grad():
        pred = model.eval()(Tensor(x_test)).numpy() > 0
    truth = masks_test > 0.5
    iou = (pred & truth).sum(axis=(1, 2, 3)) / (pred | truth).sum(axis=(1, 2, 3))
    assert iou.mean() >= 0.9


@pytest.mark.gpu
@pytest.mark.parametrize("factory, x_shape, y_shape", SHAPES[::2])
def test_full_size_models_agree_on_gpu(factory, x_shape, y_shape):
    """The default-size models in eval mode: same weights and input on NumPy and CuPy, same outputs."""
    model = factory().eval()
    x = numpy.random.default_rng(0).standard_normal(x_shape).astype(numpy.float32)
    with dlcore.no_grad():
        y_cpu = model(Tensor(x)).numpy()
        model.to("cupy")
        y_gpu = backends.to_numpy(model(Tensor(backends.to_device(x, "cupy"))).data)
    numpy.testing.assert_allclose(y_gpu, y_cpu, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("kind, shape, options, cls", [
    ("mlp", (12,), {"hidden": [8, 4], "activation": "relu"}, "MLP"),
    ("lenet", (1, 28, 28), {}, "LeNet"),
    ("alexnet_small", (1, 16, 16), {"dropout": 0.0}, "AlexNetSmall"),
    ("resnet", (1, 8, 8), {"depth": 8, "base_channels": 4}, "ResNet"),
    ("unet", (1, 8, 8), {"depth": 1, "base_channels": 4}, "UNet"),
])
def test_models_build_makes_each_kind_for_its_inputs_and_outputs(kind, shape, options, cls):
    from dlcore import Tensor, models

    model = models.build(kind, shape, 3, **options)
    assert type(model).__name__ == cls
    out = model(Tensor(numpy.zeros((2, *shape), numpy.float32)))
    assert out.shape == ((2, 3, *shape[1:]) if kind == "unet" else (2, 3))


def test_models_build_names_what_a_kind_does_not_take():
    from dlcore import models

    with pytest.raises(TypeError, match="models.build: kind 'lenet' takes the options none, got dropout"):
        models.build("lenet", (1, 28, 28), 10, dropout=0.5)
    with pytest.raises(ValueError, match="models.build: kind must be one of .*; did you mean 'resnet'"):
        models.build("resnt", (1, 8, 8), 10)


def test_optim_get_gives_the_class_a_config_names():
    from dlcore import optim

    assert [optim.get(name) for name in optim.OPTIMIZERS] == [optim.SGD, optim.Momentum, optim.Nesterov,
                                                              optim.AdaGrad, optim.RMSprop, optim.Adam, optim.AdamW]
