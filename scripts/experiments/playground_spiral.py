"""Playground spiral: what MLPs of different shapes and activations carve out of the two-spiral data.

The course's claim (after the TensorFlow playground, playground.tensorflow.org): the two
interleaved spirals are far from linearly separable; a small network with raw (x₁, x₂)
inputs has to build the curved boundary out of its hidden units, deeper/wider hidden
layers do so more easily, and the activation shapes the boundary (piecewise-linear
polygons for ReLU, smooth curves for tanh and sigmoid).

This script trains MLPs with hidden shapes 5-4-3, 8-8 and 16-16-16 (rows) and activations
ReLU, tanh and sigmoid (columns) on ``dlcore.data.spiral`` (cross-entropy, full-batch Adam,
the library's Trainer), draws each net's predicted class over the plane as filled regions
with the training points on top, as the playground does, and reports each panel's training
accuracy and loss. Quick mode trains fewer panels (8-8 and 16-16-16 with ReLU and tanh) for
fewer epochs on fewer points.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Experiment, pyplot  # noqa: E402

import numpy  # noqa: E402
from rich.console import Console  # noqa: E402

import dlcore  # noqa: E402
from dlcore import losses, optim  # noqa: E402
from dlcore.data import spiral  # noqa: E402
from dlcore.data.loader import ArrayLoader  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.training.trainer import Trainer  # noqa: E402

exp = Experiment("playground_spiral", __doc__)
QUIET = Console(quiet=True)

if exp.quick:
    SHAPES, ACTIVATIONS, N_POINTS, EPOCHS = [(8, 8), (16, 16, 16)], ["relu", "tanh"], 200, 600
else:
    SHAPES, ACTIVATIONS, N_POINTS, EPOCHS = [(5, 4, 3), (8, 8), (16, 16, 16)], ["relu", "tanh", "sigmoid"], 400, 3000
NOISE, LR = 0.1, 0.03

x, y = spiral(N_POINTS, noise=NOISE, seed=exp.seed)
loader = ArrayLoader(x, y, batch_size=len(x), shuffle=False)
x_device = dlcore.tensor(x, device=exp.backend.name)
lin = numpy.linspace(-1.2, 1.2, 161, dtype=numpy.float32)
gx, gy = numpy.meshgrid(lin, lin)
grid = dlcore.tensor(numpy.stack([gx.ravel(), gy.ravel()], axis=1), device=exp.backend.name)

panels = {}
for row, shape in enumerate(SHAPES):
    for col, activation in enumerate(ACTIVATIONS):
        dlcore.manual_seed(exp.seed)
        model = MLP([2, *shape, 2], activation=activation)
        history = Trainer(progress=False, log_every=10**6, console=QUIET).fit(
            model, losses.CrossEntropyLoss(), optim.Adam(model, lr=LR), loader, None, EPOCHS)
        model.eval()
        with dlcore.no_grad():
            accuracy = float((model(x_device).numpy().argmax(axis=1) == y).mean())
            logits = model(grid).numpy()
        p_one = 1.0 / (1.0 + numpy.exp(numpy.clip(logits[:, 0] - logits[:, 1], -60, 60)))  # softmax, 2 classes
        name = f"{'-'.join(map(str, shape))} {activation}"
        panels[name] = {"shape": list(shape), "activation": activation, "train_accuracy": accuracy,
                        "train_loss": float(history.last["train_loss"]), "p_one": p_one.reshape(gx.shape),
                        "cell": (row, col)}
        print(f"{name:16s} train accuracy {accuracy:.3f}  loss {history.last['train_loss']:.4f}", flush=True)

plt = pyplot()
fig, axes = plt.subplots(len(SHAPES), len(ACTIVATIONS), figsize=(2.9 * len(ACTIVATIONS), 2.9 * len(SHAPES)),
                         squeeze=False)
for name, panel in panels.items():
    ax = axes[panel["cell"]]
    ax.contourf(gx, gy, panel["p_one"], levels=numpy.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.contour(gx, gy, panel["p_one"], levels=[0.5], colors="k", linewidths=0.6)
    ax.scatter(x[:, 0], x[:, 1], c=numpy.where(y == 1, "C3", "C0"), s=6, edgecolors="w", linewidths=0.3)
    ax.set_title(f"{name}: train acc {panel['train_accuracy']:.2f}", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
for row, shape in enumerate(SHAPES):
    axes[row, 0].set_ylabel(f"hidden {'-'.join(map(str, shape))}")
for col, activation in enumerate(ACTIVATIONS):
    axes[-1, col].set_xlabel(activation)
fig.suptitle(f"Two spirals, {N_POINTS} points: predicted class regions after {EPOCHS} epochs of Adam")
fig.tight_layout()
best = max(panels, key=lambda n: panels[n]["train_accuracy"])
worst = min(panels, key=lambda n: panels[n]["train_accuracy"])
exp.figure(fig, "decision_regions.png",
           "Predicted class regions (red = class 1, shaded by probability) of MLPs of each hidden shape (rows) and "
           f"activation (columns) on the two spirals with the training points; train accuracy ranges from "
           f"{panels[worst]['train_accuracy']:.2f} ({worst}) to {panels[best]['train_accuracy']:.2f} ({best}).")

exp.finish({
    "n_points": N_POINTS, "noise": NOISE, "epochs": EPOCHS, "lr": LR,
    "train_accuracy": {name: p["train_accuracy"] for name, p in panels.items()},
    "train_loss": {name: p["train_loss"] for name, p in panels.items()},
    "best_panel": best, "best_accuracy": panels[best]["train_accuracy"],
    "worst_panel": worst, "worst_accuracy": panels[worst]["train_accuracy"],
})
