"""Optimizers: SGD, Momentum, Nesterov, AdaGrad, RMSprop and Adam on an ill-conditioned bowl and on MNIST.

The course's claim: on an anisotropic function such as f(x, y) = x²/20 + y² plain SGD zigzags
across the steep direction (y) while creeping along the flat one (x); Momentum rolls like a ball
and builds up speed along x; AdaGrad/RMSprop scale each coordinate's step by its own gradient
history, so the steep coordinate gets small steps and the path runs straight to the minimum;
Adam combines both. On a real network the adaptive and momentum methods train faster than SGD.

What the script does:

(a) Each optimizer takes N = 30 steps on f(x, y) = x²/20 + y² from (−7, 2) with the course's
    learning rates (SGD 0.95, Momentum 0.1 and Nesterov 0.1 with μ = 0.9, AdaGrad 1.5,
    RMSprop 0.1 with α = 0.99, Adam 0.3). The point is a dlcore Parameter of shape (2,); f is
    built from dlcore ops, ``f.backward()`` and ``optimizer.step()`` do the rest. The paths are
    drawn on the contour plot, f against the step on a log scale, and a sweep of the learning
    rate (same N) shows where each optimizer works and what it reaches at its best rate.
    SGD's rate is capped by the steep direction: it diverges for η ≥ 1 = 2/L_y.
(b) The same MLP 784-256-128-10 (ReLU, He init, the same initial weights for every optimizer:
    ``dlcore.manual_seed`` before building each) is trained on MNIST-5k with each optimizer
    (same mini-batches in the same order); training loss per step on one plot; results: final
    training loss and test accuracy per optimizer; 10 epochs of batch 64 on 4,000 images, tested on
    the other 1,000. ``--quick``: an MLP 784-128-10, 3 epochs of batch 32 on 1,000 images.
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy

sys.path.insert(0, str(Path(__file__).parent))
from common import Experiment, pyplot  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import losses, metrics, optim  # noqa: E402
from dlcore.core import Tensor  # noqa: E402
from dlcore.data import ArrayLoader, mnist_5k, split  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.nn import Parameter  # noqa: E402

START = (-7.0, 2.0)
STEPS = 30
FLOOR = 1e-8  # the sweep plot shows f below this as this
NAMES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")
COLORS = dict(zip(NAMES, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown")))

# (class, keyword arguments) per optimizer on the 2-D function: the course's learning rates
BOWL = {
    "SGD": (optim.SGD, {"lr": 0.95}),
    "Momentum": (optim.Momentum, {"lr": 0.1, "momentum": 0.9}),
    "Nesterov": (optim.Nesterov, {"lr": 0.1, "momentum": 0.9}),
    "AdaGrad": (optim.AdaGrad, {"lr": 1.5}),
    "RMSprop": (optim.RMSprop, {"lr": 0.1, "alpha": 0.99}),
    "Adam": (optim.Adam, {"lr": 0.3}),
}
# on MNIST: rates usual for each method on an MLP of this size
MNIST = {
    "SGD": (optim.SGD, {"lr": 0.1}),
    "Momentum": (optim.Momentum, {"lr": 0.01, "momentum": 0.9}),
    "Nesterov": (optim.Nesterov, {"lr": 0.01, "momentum": 0.9}),
    "AdaGrad": (optim.AdaGrad, {"lr": 0.01}),
    "RMSprop": (optim.RMSprop, {"lr": 0.001, "alpha": 0.99}),
    "Adam": (optim.Adam, {"lr": 0.001}),
}


def bowl(p):
    """f(x, y) = x²/20 + y² of a Parameter p = (x, y), as a dlcore graph."""
    x, y = p[0], p[1]
    return x * x / 20.0 + y * y


def descend(cls, kwargs, steps: int = STEPS):
    """The path (steps+1, 2) and f values (steps+1,) of ``cls(**kwargs)`` from START, on the host."""
    p = Parameter(dlcore.tensor(list(START)).data)  # float32 on the active device
    opt = cls([p], **kwargs)
    points, values = [p.numpy().copy()], []
    for _ in range(steps):
        f = bowl(p)
        values.append(float(f.item()))
        opt.zero_grad()
        f.backward()
        opt.step()
        points.append(p.numpy().copy())
    values.append(float(bowl(p).item()))
    return numpy.array(points, dtype=numpy.float64), numpy.array(values, dtype=numpy.float64)


def part_a(exp, plt):
    paths, results = {}, {}
    for name, (cls, kw) in BOWL.items():
        path, values = descend(cls, kw)
        paths[name] = (path, values)
        final = path[-1]
        y_signs = numpy.sign(path[1:, 1])
        results[name] = {
            "lr": kw["lr"], **{k: v for k, v in kw.items() if k != "lr"},
            "final_point": [float(final[0]), float(final[1])],
            "final_f": float(values[-1]),
            "distance_to_minimum": float(numpy.hypot(*final)),
            "y_sign_changes": int((y_signs[1:] * y_signs[:-1] < 0).sum()),
        }

    # learning-rate sweep: final f after STEPS steps for each rate of a log grid
    grid = [float(v) for v in numpy.logspace(-3, 0.5, 15)]  # 4 per decade, 0.1 and 1 included
    sweep = {}
    for name, (cls, kw) in BOWL.items():
        finals = []
        with numpy.errstate(over="ignore", invalid="ignore"):
            for lr in grid:
                value = descend(cls, {**kw, "lr": lr})[1][-1]
                finals.append(value if math.isfinite(value) and value < 1e6 else float("inf"))
        best = int(numpy.argmin(finals))
        sweep[name] = {"final_f": [v if math.isfinite(v) else None for v in finals],  # None: diverged
                       "best_lr": grid[best], "best_final_f": finals[best]}

    # the contour plot, one panel per optimizer
    xs, ys = numpy.meshgrid(numpy.linspace(-10, 10, 300), numpy.linspace(-5, 5, 200))
    zs = xs ** 2 / 20 + ys ** 2
    fig, axes = plt.subplots(2, 3, figsize=(14, 6.6), sharex=True, sharey=True)
    for ax, name in zip(axes.flat, NAMES):
        path = paths[name][0]
        ax.contour(xs, ys, zs, levels=numpy.geomspace(0.02, 20, 12), cmap="Greys", linewidths=0.7)
        ax.plot(path[:, 0], path[:, 1], "o-", color=COLORS[name], markersize=3, linewidth=1.2)
        ax.plot(0, 0, "+", color="black", markersize=12)
        r = results[name]
        ax.set_title(f"{name} (η = {r['lr']:g}): f = {r['final_f']:.2g} after {STEPS} steps", fontsize=10)
        ax.set_xlim(-10, 10)
        ax.set_ylim(-5, 5)
    for ax in axes[-1]:
        ax.set_xlabel("x")
    for ax in axes[:, 0]:
        ax.set_ylabel("y")
    fig.suptitle(f"f(x, y) = x²/20 + y², {STEPS} steps from {START}")
    fig.tight_layout()
    exp.figure(fig, "paths.png", f"Paths of the six optimizers on f(x, y) = x²/20 + y² over {STEPS} steps from "
                                 f"(−7, 2) with the course's learning rates: SGD zigzags across y, AdaGrad and "
                                 f"RMSprop run straight, Momentum/Nesterov overshoot along x.")

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    for name in NAMES:
        ax1.semilogy(paths[name][1], "-", color=COLORS[name], label=f"{name} η={BOWL[name][1]['lr']:g}")
        finals = numpy.array([numpy.inf if v is None else v for v in sweep[name]["final_f"]])
        shown = numpy.where(numpy.isfinite(finals), numpy.maximum(finals, FLOOR), numpy.nan)
        ax2.loglog(grid, shown, "o-", color=COLORS[name], markersize=3, label=name)
        ax2.plot(BOWL[name][1]["lr"], results[name]["final_f"], "*", color=COLORS[name], markersize=12)
    ax1.set_xlabel("step")
    ax1.set_ylabel("f")
    ax1.set_title("f along the paths")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.set_xlabel("learning rate η")
    ax2.set_ylabel(f"f after {STEPS} steps")
    ax2.set_ylim(FLOOR / 3, 1e2)
    ax2.set_title(f"learning-rate sweep (★ = the rate used; gaps: diverged; floor {FLOOR:g})", fontsize=10)
    ax2.grid(alpha=0.3)
    ax2.legend(fontsize=8)
    fig.tight_layout()
    exp.figure(fig, "bowl_convergence.png", f"f against the step for each optimizer, and f after {STEPS} steps "
                                            f"against the learning rate: SGD diverges above η = 1, while "
                                            f"momentum at the same η gets much further.")
    return {"function": "x^2/20 + y^2", "start": list(START), "steps": STEPS, "optimizers": results,
            "lr_sweep": {"lrs": grid, **sweep}}


def part_b(exp, plt):
    quick = exp.quick
    x, y = mnist_5k()
    (x_train, y_train), (x_test, y_test) = split(x, y, (0.8, 0.2), seed=exp.seed)
    if quick:
        x_train, y_train = x_train[:1000], y_train[:1000]
    epochs, batch_size, sizes = (3, 32, [784, 128, 10]) if quick else (10, 64, [784, 256, 128, 10])
    device = exp.backend.name
    x_test_d, y_test_d = backends.to_device(x_test, device), backends.to_device(y_test, device)
    loss_fn = losses.CrossEntropyLoss()

    curves, results = {}, {}
    for name, (cls, kw) in MNIST.items():
        dlcore.manual_seed(exp.seed)  # the same initial weights for every optimizer
        model = MLP(sizes, activation="relu")
        opt = cls(model, **kw)
        loader = ArrayLoader(x_train, y_train, batch_size=batch_size, shuffle=True, seed=exp.seed)
        xp = exp.backend.xp
        step_losses = []
        model.train()
        for _ in range(epochs):
            buffer = xp.empty(len(loader), dtype=numpy.float32)  # losses stay on the device during an epoch
            for i, (xb, yb) in enumerate(loader):
                loss = loss_fn(model(Tensor(xb)), yb)
                opt.zero_grad()
                loss.backward()
                opt.step()
                buffer[i] = loss.data
            step_losses.append(backends.to_numpy(buffer))
        curves[name] = numpy.concatenate(step_losses).astype(numpy.float64)
        model.eval()
        with dlcore.no_grad():
            logits = model(Tensor(x_test_d))
            train_loss = 0.0
            for xb, yb in ArrayLoader(x_train, y_train, batch_size=1000, shuffle=False):
                train_loss += float(loss_fn(model(Tensor(xb)), yb).item()) * len(xb)
        results[name] = {
            "lr": kw["lr"], **{k: v for k, v in kw.items() if k != "lr"},
            "final_train_loss": train_loss / len(x_train),   # the whole training set after training, eval mode
            "last_epoch_mean_loss": float(step_losses[-1].mean()),
            "test_accuracy": metrics.accuracy(y_test_d, logits.data.argmax(axis=1)),
        }

    steps_per_epoch = len(curves["SGD"]) // epochs
    window = max(1, steps_per_epoch // 8)
    fig, ax = plt.subplots(figsize=(8, 4.8))
    for name in NAMES:
        c = curves[name]
        smooth = numpy.convolve(c, numpy.ones(window) / window, mode="valid")
        t = (numpy.arange(len(smooth)) + window) / steps_per_epoch
        r = results[name]
        ax.semilogy(t, smooth, color=COLORS[name],
                    label=f"{name} η={r['lr']:g}: loss {r['final_train_loss']:.3f}, test {r['test_accuracy']:.1%}")
    ax.set_xlabel("epoch")
    ax.set_ylabel(f"training loss (mean of {window} steps)")
    ax.set_title(f"MLP {'-'.join(map(str, sizes))} on MNIST-5k ({len(x_train)} images, batch {batch_size}), "
                 f"same initial weights")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    exp.figure(fig, "mnist_loss.png", "Training loss per step of the same MLP (same initial weights, same "
                                      "batches) on MNIST-5k with each optimizer; the legend gives the final "
                                      "training loss and test accuracy.")
    return {"model": sizes, "train_size": len(x_train), "test_size": len(x_test), "epochs": epochs,
            "batch_size": batch_size, "optimizers": results}


def main():
    exp = Experiment("optimizers", __doc__)
    plt = pyplot()
    exp.finish({"bowl": part_a(exp, plt), "mnist": part_b(exp, plt)})


if __name__ == "__main__":
    main()
