"""Universal approximation: one hidden layer of J sigmoid units fits y = sin 2πx better as J grows.

The course's claim (Cybenko 1989, Hornik 1991): a network with a single hidden layer of
sigmoid units, ŷ(x) = Σ_{j=1..J} v_j σ(w_j x + b_j) + c, approximates any continuous function
on a compact set as closely as wanted, given enough units J; the approximation error falls
as J grows.

This script fits MLP([1, J, 1], activation="sigmoid") to n noisy samples of y = sin 2πx on
[0, 1] (``dlcore.data.sine``, noise std 0.02) by full-batch Adam with the library's Trainer,
for J ∈ {1, 2, 3, 5, 7, 10, 20} (quick: {1, 3, 10}), keeping the best of a few restarts
(seeds) per J. It reports, per J, the MSE against the clean target sin 2πx on a fine grid
of [0, 1] (the approximation error) and the final training MSE (which cannot go much below
the noise variance 0.02² = 4e-4), and draws each fit over the target and MSE against J.
Beyond a few units the grid MSE stops falling: one period of a sine needs only ~3 sigmoids,
and what is left is the estimation error from 256 noisy samples, not the approximation error.
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
from dlcore.data import sine  # noqa: E402
from dlcore.data.loader import ArrayLoader  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.training.trainer import Trainer  # noqa: E402

exp = Experiment("universal_approximation", __doc__)
QUIET = Console(quiet=True)  # the Trainer's end-of-fit line, once per fit, would drown the summary

UNITS = [1, 3, 10] if exp.quick else [1, 2, 3, 5, 7, 10, 20]
EPOCHS = 2500 if exp.quick else 6000
RESTARTS = 1 if exp.quick else 3
N_TRAIN, NOISE, LR = 256, 0.02, 0.05

x_train, y_train = sine(N_TRAIN, noise=NOISE, seed=exp.seed)
grid = numpy.linspace(0.0, 1.0, 501, dtype=numpy.float32)[:, None]
target = numpy.sin(2 * numpy.pi * grid)
grid_device = dlcore.tensor(grid, device=exp.backend.name)
loader = ArrayLoader(x_train, y_train, batch_size=N_TRAIN, shuffle=False)


def fit(units: int, seed: int):
    """Train MLP 1-J-1 (sigmoid) from seed ``seed``; returns (grid MSE, train MSE, predictions on the grid)."""
    dlcore.manual_seed(seed)
    model = MLP([1, units, 1], activation="sigmoid")
    history = Trainer(progress=False, log_every=10**6, console=QUIET).fit(
        model, losses.MSELoss(), optim.Adam(model, lr=LR), loader, None, EPOCHS)
    model.eval()
    with dlcore.no_grad():
        prediction = model(grid_device).numpy()
    return float(((prediction - target) ** 2).mean()), float(history.last["train_loss"]), prediction


results = {}
predictions = {}
for units in UNITS:
    runs = [fit(units, 1000 * exp.seed + 17 * units + r) for r in range(RESTARTS)]
    best = min(range(RESTARTS), key=lambda r: runs[r][0])
    grid_mse, train_mse, predictions[units] = runs[best]
    results[units] = {"mse": grid_mse, "train_mse": train_mse, "restart_mses": [r[0] for r in runs],
                      "best_restart": best}
    print(f"J={units:3d}  grid MSE {grid_mse:.3e}  train MSE {train_mse:.3e}", flush=True)

plt = pyplot()
cols = min(4, len(UNITS))
rows = -(-len(UNITS) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.6 * rows), squeeze=False, sharex=True, sharey=True)
for ax, units in zip(axes.flat, UNITS):
    ax.plot(x_train[:, 0], y_train[:, 0], ".", color="0.7", ms=2, label="samples")
    ax.plot(grid[:, 0], target[:, 0], "k--", lw=1, label="sin 2πx")
    ax.plot(grid[:, 0], predictions[units][:, 0], "C3", lw=1.8, label="network")
    ax.set_title(f"J = {units}   MSE {results[units]['mse']:.1e}", fontsize=9)
    ax.set_ylim(-1.4, 1.4)
for ax in list(axes.flat)[len(UNITS):]:
    ax.axis("off")
axes.flat[0].legend(fontsize=7, loc="lower left")
fig.suptitle("One hidden layer of J sigmoid units fitted to sin 2πx")
fig.tight_layout()
exp.figure(fig, "fits.png", "Fits of a 1-J-1 sigmoid network (red) over sin 2πx (dashed): one unit gives a single "
                            "step, a handful already traces the whole period.")

fig, ax = plt.subplots(figsize=(4.5, 3.4))
ax.semilogy(UNITS, [results[j]["mse"] for j in UNITS], "o-", label="MSE vs clean target (grid)")
ax.semilogy(UNITS, [results[j]["train_mse"] for j in UNITS], "s--", label="training MSE (noisy samples)")
ax.axhline(NOISE ** 2, color="0.5", lw=0.8, ls=":", label=f"noise variance {NOISE ** 2:.0e}")
ax.set_xlabel("hidden sigmoid units J")
ax.set_ylabel("mean squared error")
ax.set_xscale("log")
ax.set_xticks(UNITS)
ax.set_xticklabels([str(j) for j in UNITS])
ax.legend(fontsize=7)
fig.tight_layout()
exp.figure(fig, "mse_vs_units.png", "Mean squared error of the best fit against the number J of hidden sigmoid units "
                                    "(log scale): it falls by orders of magnitude from J = 1 until the noise in the samples, "
                                    "not the number of units, limits it.")

exp.finish({"units": UNITS, "epochs": EPOCHS, "restarts": RESTARTS, "n_train": N_TRAIN, "noise": NOISE,
            "mse": {str(j): results[j]["mse"] for j in UNITS},
            "train_mse": {str(j): results[j]["train_mse"] for j in UNITS},
            "per_units": {str(j): results[j] for j in UNITS}})
