"""dlcore against PyTorch, an independent implementation of the same formulas.

Same inputs, weights and output gradients on both sides: every op below gives the same value
and input gradients in float64 to rounding (rtol 1e-9), every optimizer the same parameters
after several updates, and a CNN the same losses and weights over float32 training steps.
PyTorch's conventions are the ones dlcore's API promises (NCHW, W of Linear as (in, out) =
PyTorch's weight transposed, BatchNorm's unbiased running variance, AvgPool counting the
zero padding, Adam's bias correction, SGD momentum as v = μv − ηg). Skipped where torch is
not installed (CI installs only dlcore's own dependencies); the ``gpu`` cases run dlcore on
CuPy against PyTorch on the CPU.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor, losses, nn, optim
from scripts.bench import torch_twin

torch = pytest.importorskip("torch")
TF = torch.nn.functional

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]
RTOL, ATOL = 1e-9, 1e-11  # float64: the two sides differ only in summation order


@dataclass(frozen=True)
class Pair:
    """``ours(*tensors)`` and ``theirs(*torch_tensors)`` compute the same function of ``make(rng)``'s arrays;
    the float arrays at ``differentiable`` (all by default) get gradients, the others (labels, and
    targets PyTorch does not differentiate) are passed as they are."""
    name: str
    ours: Callable
    theirs: Callable
    make: Callable
    differentiable: tuple | None = None


def normal(*shapes):
    return lambda rng: tuple(rng.standard_normal(s) for s in shapes)


def away_from_zero(*shape):
    """N(0, 1) values with |x| ≥ 0.1, away from the kinks of ReLU-like functions."""
    def make(rng):
        x = rng.standard_normal(shape)
        return (numpy.where(numpy.abs(x) < 0.1, 0.1, x),)
    return make


def labels_and_logits(n, c):
    return lambda rng: (rng.standard_normal((n, c)), rng.integers(0, c, n))


PAIRS = [
    Pair("sigmoid", F.sigmoid, torch.sigmoid, normal((4, 5))),
    Pair("tanh", F.tanh, torch.tanh, normal((4, 5))),
    Pair("softplus", F.softplus, TF.softplus, normal((4, 5))),
    Pair("relu", F.relu, TF.relu, away_from_zero(4, 5)),
    Pair("leaky_relu", lambda x: F.leaky_relu(x, 0.2), lambda x: TF.leaky_relu(x, 0.2), away_from_zero(4, 5)),
    Pair("elu", lambda x: F.elu(x, 0.7), lambda x: TF.elu(x, 0.7), away_from_zero(4, 5)),
    Pair("prelu_per_channel", F.prelu, TF.prelu, lambda rng: (away_from_zero(2, 3, 4, 4)(rng)[0],
                                                               rng.uniform(0.1, 0.5, 3))),
    Pair("swish", lambda x: F.swish(x, 1.5), lambda x: x * torch.sigmoid(1.5 * x), normal((4, 5))),
    Pair("softmax", lambda x: F.softmax(x, axis=1), lambda x: torch.softmax(x, 1), normal((3, 4, 2))),
    Pair("log_softmax", F.log_softmax, lambda x: torch.log_softmax(x, -1), normal((3, 6))),
    Pair("linear", F.linear, lambda x, w, b: TF.linear(x, w.T, b), normal((5, 7), (7, 3), (3,))),
    Pair("conv2d_stride_pad", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         lambda x, w, b: TF.conv2d(x, w, b, stride=2, padding=1), normal((2, 3, 9, 8), (4, 3, 3, 3), (4,))),
    Pair("conv2d_dilated", lambda x, w: F.conv2d(x, w, padding=2, dilation=2),
         lambda x, w: TF.conv2d(x, w, padding=2, dilation=2), normal((2, 2, 7, 7), (3, 2, 3, 3))),
    Pair("conv_transpose2d", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         lambda x, w, b: TF.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         normal((2, 4, 5, 6), (4, 3, 3, 3), (3,))),
    Pair("max_pool2d_overlapping_padded", lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: TF.max_pool2d(x, 3, 2, 1),
         normal((2, 3, 9, 9))),
    Pair("avg_pool2d_padded", lambda x: F.avg_pool2d(x, 3, 2, 1), lambda x: TF.avg_pool2d(x, 3, 2, 1),
         normal((2, 3, 8, 8))),
    Pair("conv2d_edge_padding", lambda x, w: F.conv2d(x, w, padding=1, padding_mode="edge"),
         lambda x, w: TF.conv2d(TF.pad(x, (1, 1, 1, 1), mode="replicate"), w), normal((2, 2, 6, 5), (3, 2, 3, 3))),
    Pair("global_max_pool2d", F.global_max_pool2d, lambda x: TF.adaptive_max_pool2d(x, 1).flatten(1),
         normal((2, 3, 5, 4))),
    Pair("global_avg_pool2d", F.global_avg_pool2d, lambda x: TF.adaptive_avg_pool2d(x, 1).flatten(1),
         normal((2, 3, 5, 4))),
    Pair("upsample2d", F.upsample2d, lambda x: TF.interpolate(x, scale_factor=2, mode="nearest"),
         normal((2, 3, 4, 5))),
    Pair("batch_norm_training", lambda x, g, b: F.batch_norm(x, g, b, training=True, eps=1e-3),
         lambda x, g, b: TF.batch_norm(x, None, None, g, b, training=True, eps=1e-3),
         normal((4, 3, 5, 5), (3,), (3,))),
    Pair("matmul_batched", lambda a, b: a @ b, torch.matmul, normal((2, 3, 4), (4, 5))),
    Pair("max_axis", lambda x: x.max(axis=1), lambda x: x.max(1).values, normal((4, 6))),
    Pair("sum_squared_error", F.sum_squared_error, lambda y, t: 0.5 * ((y - t) ** 2).sum() / y.shape[0],
         normal((6, 3), (6, 3))),
    Pair("mse", F.mse_loss, TF.mse_loss, normal((6, 3), (6, 3))),
    Pair("mae", F.mae_loss, TF.l1_loss, normal((6, 3), (6, 3))),
    Pair("huber", lambda y, t: F.huber_loss(y, t, delta=0.5), lambda y, t: TF.huber_loss(y, t, delta=0.5),
         normal((6, 3), (6, 3))),
    Pair("cross_entropy_labels", F.cross_entropy, TF.cross_entropy, labels_and_logits(7, 5)),
    Pair("cross_entropy_probabilities", F.cross_entropy, TF.cross_entropy,
         lambda rng: (rng.standard_normal((5, 4)), rng.dirichlet(numpy.ones(4), 5))),
    Pair("bce_with_logits", F.bce_with_logits, TF.binary_cross_entropy_with_logits,
         lambda rng: (rng.standard_normal((6, 2)), rng.uniform(0, 1, (6, 2)))),
    Pair("binary_cross_entropy", F.binary_cross_entropy, TF.binary_cross_entropy,
         lambda rng: (rng.uniform(0.05, 0.95, (6, 2)), rng.uniform(0, 1, (6, 2))), differentiable=(0,)),
    # the margin losses, t ∈ {−1, +1}, against their formulas written in PyTorch
    Pair("hinge", F.hinge_loss, lambda y, t: TF.relu(1 - t * y).mean(),
         lambda rng: (rng.standard_normal((8,)) * 2, rng.choice([-1.0, 1.0], 8)), differentiable=(0,)),
    Pair("exponential", F.exponential_loss, lambda y, t: torch.exp(-t * y).mean(),
         lambda rng: (rng.standard_normal((8,)), rng.choice([-1.0, 1.0], 8)), differentiable=(0,)),
    Pair("quantile", lambda y, t: F.quantile_loss(y, t, tau=0.3),
         lambda y, t: torch.maximum(0.7 * (y - t), 0.3 * (t - y)).mean(), normal((6, 2), (6, 2))),
    Pair("epsilon_insensitive", lambda y, t: F.epsilon_insensitive_loss(y, t, epsilon=0.2),
         lambda y, t: TF.relu((t - y).abs() - 0.2).mean(), normal((6, 2), (6, 2))),
    Pair("logistic_is_soft_margin", F.logistic_loss, TF.soft_margin_loss,
         lambda rng: (rng.standard_normal((8,)), rng.choice([-1.0, 1.0], 8)), differentiable=(0,)),
]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pair", PAIRS, ids=lambda p: p.name)
def test_op_equals_pytorch(pair, backend):
    arrays = pair.make(numpy.random.default_rng(0))
    grads = [a.dtype.kind == "f" and (pair.differentiable is None or i in pair.differentiable)
             for i, a in enumerate(arrays)]
    ours = [Tensor(backends.to_device(a, backend), requires_grad=True) if wants
            else backends.to_device(a, backend) for a, wants in zip(arrays, grads)]
    theirs = [torch.tensor(a, requires_grad=wants) for a, wants in zip(arrays, grads)]
    y, y_ref = pair.ours(*ours), pair.theirs(*theirs)
    gy = numpy.random.default_rng(1).standard_normal(y_ref.shape)
    y.backward(backends.to_device(gy, backend))
    y_ref.backward(torch.tensor(gy))
    numpy.testing.assert_allclose(backends.to_numpy(y.data), y_ref.detach().numpy(), rtol=RTOL, atol=ATOL,
                                  err_msg=f"{pair.name}: value")
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if isinstance(a, Tensor):
            numpy.testing.assert_allclose(backends.to_numpy(a.grad), b.grad.numpy(), rtol=RTOL, atol=ATOL,
                                          err_msg=f"{pair.name}: gradient of input {i}")


def test_batch_norm_running_statistics_equal_pytorch():
    """Both update r ← (1 − m)·r + m·stat with the unbiased batch variance, and use r in eval."""
    x = numpy.random.default_rng(0).standard_normal((6, 3, 4, 4)) * 2 + 1
    with dlcore.default_dtype("float64"):
        ours = nn.BatchNorm2d(3, momentum=0.3)
    theirs = torch.nn.BatchNorm2d(3, momentum=0.3).double()
    for _ in range(3):
        ours(Tensor(x))
        theirs(torch.tensor(x))
    numpy.testing.assert_allclose(ours.running_mean, theirs.running_mean.numpy(), rtol=RTOL)
    numpy.testing.assert_allclose(ours.running_var, theirs.running_var.numpy(), rtol=RTOL)
    ours.eval()
    theirs.eval()
    numpy.testing.assert_allclose(ours(Tensor(x)).data, theirs(torch.tensor(x)).detach().numpy(), rtol=RTOL)


# name: (dlcore optimizer(params), torch optimizer(params)); the same hyperparameters on both sides
OPTIMIZERS = {
    "sgd": (lambda p: optim.SGD(p, lr=0.1, weight_decay=0.01),
            lambda p: torch.optim.SGD(p, lr=0.1, weight_decay=0.01)),
    "momentum": (lambda p: optim.Momentum(p, lr=0.1, momentum=0.9, weight_decay=0.01),
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01)),
    "nesterov": (lambda p: optim.Nesterov(p, lr=0.1, momentum=0.9),
                 lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    "adagrad": (lambda p: optim.AdaGrad(p, lr=0.1, eps=1e-10),
                lambda p: torch.optim.Adagrad(p, lr=0.1, eps=1e-10)),
    "rmsprop": (lambda p: optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
                lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8)),
    "adam": (lambda p: optim.Adam(p, lr=0.01, beta1=0.8, beta2=0.99, eps=1e-8, weight_decay=0.01),
             lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=1e-8, weight_decay=0.01)),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", OPTIMIZERS)
def test_optimizer_updates_equal_pytorch(name, backend):
    """Ten updates from the same start and the same gradient sequence give the same parameters."""
    rng = numpy.random.default_rng(0)
    start = {"w": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    grads = [{k: rng.standard_normal(v.shape) for k, v in start.items()} for _ in range(10)]
    ours = {k: nn.Parameter(backends.to_device(v.copy(), backend)) for k, v in start.items()}
    theirs = {k: torch.tensor(v, requires_grad=True) for k, v in start.items()}
    make_ours, make_theirs = OPTIMIZERS[name]
    opt, opt_ref = make_ours(list(ours.items())), make_theirs(list(theirs.values()))
    for g in grads:
        for k in start:
            ours[k].grad = backends.to_device(g[k], backend)
            theirs[k].grad = torch.tensor(g[k])
        opt.step()
        opt_ref.step()
    for k in start:
        numpy.testing.assert_allclose(backends.to_numpy(ours[k].data), theirs[k].detach().numpy(), rtol=RTOL,
                                      atol=ATOL, err_msg=f"{name}: {k}")


def small_cnn():
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3, padding=1),
                         nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 4 * 4, 10))


@pytest.mark.parametrize("backend", BACKENDS)
def test_cnn_training_steps_equal_pytorch(backend):
    """Five float32 SGD-momentum steps of a small CNN: the same losses and weights as PyTorch's."""
    dlcore.manual_seed(0)
    model = small_cnn()
    twin = torch_twin(torch, model)  # the benchmark's twin: same layers, same weights (Linear's transposed)
    model.to(backend)
    opt = optim.Momentum(model, lr=0.05, momentum=0.9)
    opt_ref = torch.optim.SGD(twin.parameters(), lr=0.05, momentum=0.9)
    # on CuPy, cuDNN may pick Winograd or FFT engines (float32, but summed in another order): 1e-4
    loss_rtol = 1e-5 if backend == "numpy" else 1e-4
    rng = numpy.random.default_rng(0)
    for step in range(5):
        x = rng.standard_normal((16, 3, 16, 16)).astype(numpy.float32)
        t = rng.integers(0, 10, 16)
        loss = losses.CrossEntropyLoss()(model(Tensor(backends.to_device(x, backend))), backends.to_device(t, backend))
        opt.zero_grad()
        loss.backward()
        opt.step()
        loss_ref = torch.nn.functional.cross_entropy(twin(torch.from_numpy(x)), torch.from_numpy(t))
        opt_ref.zero_grad()
        loss_ref.backward()
        opt_ref.step()
        assert loss.item() == pytest.approx(loss_ref.item(), rel=loss_rtol), f"step {step}"
    ours = [p.numpy() for p in model.parameters()]
    theirs = [p.detach().numpy() for p in twin.parameters()]
    ours[-2] = ours[-2].T  # Linear's weight: (in, out) here, (out, in) in PyTorch
    for i, (a, b) in enumerate(zip(ours, theirs)):
        numpy.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"parameter {i}")
