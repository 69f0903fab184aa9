"""L1 vs L2 regularisation: which one makes weights sparse.

The course's claim: an L1 penalty λ₁·Σ|w| pulls every weight towards 0 with a constant force
λ₁·sign(w), so weights the data does not need become exactly 0 (a sparse model); an L2 penalty
½λ₂·Σw² pulls with force λ₂·w, which fades as w shrinks, so weights get small but not 0.

What this script does: the same MLP 784-128-10 (ReLU, He initialisation, ``dlcore.models.MLP``,
the same initial weights and batch order for all) trained on MNIST-5k (split 80/10/10, seed 0)
with plain SGD (lr 0.1, batch 64) three times: without a penalty, with L2 (``weight_decay=λ₂``,
λ₂ = 1e-2) and with L1 (``l1=λ₁``, λ₁ = 1e-3), for 30 epochs (--quick: 5). With λ₂ = 10·λ₁
the two runs reach a similar test accuracy and a weight spread (standard deviation) of the
same order, so the difference lies in the shape of the distribution. The penalties act
inside the optimizer (on biases too). The script histograms the first layer's 784×128 weights
and reports, for each run, the fraction of near-zero weights |w| < 1e-3 (and < 1e-2), their
standard deviation, the number of hidden units whose incoming weights are all near zero, and
the test accuracy. Plain SGD on the sub-gradient λ₁·sign(w) leaves a "zeroed" weight
oscillating within ±lr·λ₁ = 1e-4 of 0 instead of sitting at exactly 0, hence the threshold
1e-3. (Weights of pixels that are 0 in every image get no data gradient: L2 decays them by
(1 − lr·λ₂) per step, so with long enough training they too fall below any threshold; L1
reaches 0 in finite time.)

Claim tested: L1 leaves a larger fraction of near-zero first-layer weights (|w| < 1e-3) than L2.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Experiment, pyplot  # noqa: E402

import numpy  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import losses, optim  # noqa: E402
from dlcore.data import ArrayLoader, mnist_5k, split  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.training.trainer import Trainer  # noqa: E402

LR, BATCH, HIDDEN = 0.1, 64, 128
L1, L2 = 1e-3, 1e-2
THRESHOLD = 1e-3
RUNS = {"none": {}, "L2": {"weight_decay": L2}, "L1": {"l1": L1}}
COLORS = {"none": "tab:gray", "L2": "tab:blue", "L1": "tab:red"}


def main():
    exp = Experiment("l1_vs_l2", __doc__)
    epochs = 5 if exp.quick else 30
    x, y = mnist_5k()
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(x, y, (0.8, 0.1, 0.1), seed=0)
    test_loader = ArrayLoader(x_test, y_test, batch_size=500, shuffle=False)
    val_loader = ArrayLoader(x_val, y_val, batch_size=500, shuffle=False)
    loss = losses.CrossEntropyLoss()
    weights, results = {}, {"settings": {
        "model": f"MLP 784-{HIDDEN}-10 relu, he init", "data": "MNIST-5k split 80/10/10 (seed 0)",
        "optimizer": f"SGD lr={LR}", "batch_size": BATCH, "epochs": epochs, "l1": L1, "weight_decay_l2": L2,
        "near_zero_threshold": THRESHOLD, "weights": "first layer (784 x 128)"}, "runs": {}}
    for name, penalty in RUNS.items():
        dlcore.manual_seed(exp.seed)  # the same initial weights and batch order for every run
        model = MLP([x.shape[1], HIDDEN, 10], activation="relu")
        trainer = Trainer(progress=False, log_every=10**6)
        history = trainer.fit(model, loss, optim.SGD(model, lr=LR, **penalty),
                              ArrayLoader(x_train, y_train, batch_size=BATCH, seed=exp.seed), val_loader, epochs)
        test = trainer.evaluate(model, loss, test_loader)
        w = numpy.asarray(backends.to_numpy(model[0].weight.data), dtype=numpy.float64)
        weights[name] = w
        a = numpy.abs(w)
        results["runs"][name] = {
            "penalty": penalty, "test_accuracy": test["accuracy"], "test_loss": test["loss"],
            "final_train_loss": history.last["train_loss"], "final_val_accuracy": history.last["val_accuracy"],
            "near_zero_fraction": float((a < THRESHOLD).mean()), "below_1e-2_fraction": float((a < 1e-2).mean()),
            "weight_std": float(w.std()), "max_abs_weight": float(a.max()),
            "dead_hidden_units": int((a.max(axis=0) < THRESHOLD).sum()),
            "l1_norm": float(a.sum()), "l2_norm": float(numpy.sqrt((w * w).sum())),
        }
    r = results["runs"]
    results["claim"] = {
        "statement": f"L1 gives a larger fraction of near-zero first-layer weights (|w| < {THRESHOLD:g}) than L2",
        "L1_near_zero": r["L1"]["near_zero_fraction"], "L2_near_zero": r["L2"]["near_zero_fraction"],
        "holds": bool(r["L1"]["near_zero_fraction"] > r["L2"]["near_zero_fraction"]),
    }

    plt = pyplot()
    span = max(float(numpy.quantile(numpy.abs(w), 0.999)) for w in weights.values())
    fig, axes = plt.subplots(1, len(RUNS), figsize=(4.2 * len(RUNS), 3.4), sharey=True)
    for ax, name in zip(axes, RUNS):
        ax.hist(weights[name].ravel(), bins=121, range=(-span, span), color=COLORS[name], log=True,
                histtype="stepfilled")
        run = r[name]
        ax.set_title(f"{name} ({', '.join(f'{k}={v:g}' for k, v in run['penalty'].items()) or 'no penalty'})\n"
                     f"|w|<{THRESHOLD:g}: {run['near_zero_fraction']:.1%}, σ={run['weight_std']:.3g}, "
                     f"test acc {run['test_accuracy']:.1%}", fontsize=9)
        ax.set_xlabel("first-layer weight")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("count (log scale)")
    fig.tight_layout()
    exp.figure(fig, "weight_histograms.png",
               "First-layer weight histograms of the same MLP trained without a penalty, with L2 and with L1: "
               "L1 piles most weights into a spike at 0, L2 only narrows the bell.")

    fig, ax = plt.subplots(figsize=(5.5, 4))
    grid = numpy.logspace(-6, 0, 200)
    for name in RUNS:
        a = numpy.sort(numpy.abs(weights[name]).ravel())
        ax.semilogx(grid, numpy.searchsorted(a, grid) / a.size, color=COLORS[name], label=name)
    ax.axvline(THRESHOLD, color="black", linestyle=":", label=f"threshold {THRESHOLD:g}")
    ax.set_xlabel("t")
    ax.set_ylabel("fraction of first-layer weights with |w| < t")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    exp.figure(fig, "abs_weight_cdf.png",
               "Fraction of first-layer weights below each magnitude t: under L1 most weights are below 1e-3, "
               "under L2 and without a penalty almost none are.")

    units = 8
    fig, axes = plt.subplots(len(RUNS), units, figsize=(1.3 * units, 1.45 * len(RUNS)))
    for row, name in enumerate(RUNS):
        w = weights[name]
        scale = float(numpy.quantile(numpy.abs(w), 0.999))  # one colour scale for the whole layer
        for col in range(units):
            ax = axes[row, col]
            ax.imshow(w[:, col].reshape(28, 28), cmap="RdBu_r", vmin=-scale, vmax=scale)
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].set_ylabel(name)
    fig.suptitle("first-layer weights of hidden units 1-8 as 28×28 images (white = 0; one colour scale per "
                 "row, ±its 99.9th percentile of |w|)", fontsize=9)
    fig.tight_layout()
    exp.figure(fig, "first_layer_filters.png",
               "The first 8 hidden units' input weights as images: L1 sets most of them to 0 (some units "
               "entirely), L2 smooths and fades them but leaves them non-zero.")
    exp.finish(results)


if __name__ == "__main__":
    main()
