"""Batch size and flat minima: the same net trained with small and with large mini-batches.

The course's claim (Keskar et al. 2017): large-batch training tends to converge to sharp minima
of the training loss, small-batch training to flat ones (the gradient noise of small batches
shakes the parameters out of narrow valleys), and flat minima generalise better.

What the script does: an MLP 784-256-256-10 (ReLU, He init) is trained on 4,000 MNIST-5k
images from the same initial weights with batch 16 and with batch 1024, both with Adam at the
same learning rate η = 1e-3 (no scaling with the batch size, as in Keskar et al.), until the
training loss (measured on the whole training set in eval mode after an epoch) is below 0.01 or
a maximum number of epochs has passed, so both nets are compared at about the same training
loss. It reports the test accuracy on the other 1,000 images and a sharpness measure: the mean
increase of the training loss when every parameter tensor W gets Gaussian noise of relative
scale ε (δ = ε · rms(W) · z with z ~ N(0, 1) elementwise, so ‖δ‖ ≈ ε‖W‖), for
ε = 0.01, 0.02, 0.03, 0.05 and 0.1, averaged over 10 draws taken as 5 antithetic pairs (z, −z),
which cancels the first-order term (the same draws for both nets), computed with the
library's forward pass in eval mode without gradients. The claim holds in a run when the
small-batch net's loss increase is the smaller one; it is not guaranteed, and the JSON says
whether it held. ``--quick``: an MLP 784-128-10 on 1,000 images, batch 16 for at most 5 epochs
against the whole set (batch 1000) for at most 40, target 0.05, 4 draws.
"""
from __future__ import annotations

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
from dlcore.training import Callback, Trainer  # noqa: E402


class StopAtTrainingLoss(Callback):
    """Measures the whole training set in eval mode after each epoch (``train_eval_loss``) and stops
    the fit once it is below ``target``."""

    def __init__(self, loader, target: float):
        self.loader, self.target = loader, target

    def on_epoch_end(self, trainer, row):
        measured = trainer.evaluate(trainer.model, trainer.loss, self.loader)
        row.update({f"train_eval_{k}": v for k, v in measured.items()})
        if measured["loss"] < self.target:
            trainer.stop = True


def dataset_loss(model, loss_fn, loader) -> float:
    """Mean loss over the loader's samples, eval mode, no gradients (the value stays a device
    scalar until the end)."""
    model.eval()
    total, n = 0.0, 0
    with dlcore.no_grad():
        for xb, yb in loader:
            total = total + loss_fn(model(Tensor(xb)), yb).data * len(xb)
            n += len(xb)
    return float(total) / n


def sharpness(model, loss_fn, loader, epsilons, draws: int, seed: int):
    """The unperturbed loss and {ε: [mean loss increase of each antithetic pair of draws]} under
    relative Gaussian weight noise."""
    params = list(model.parameters())
    saved = [p.data.copy() for p in params]
    rms = [float(backends.backend_of(p.data).xp.sqrt((p.data.astype(numpy.float64) ** 2).mean())) for p in params]
    base = dataset_loss(model, loss_fn, loader)
    increases = {}
    for eps in epsilons:
        pairs = []
        # the draws come in antithetic pairs (z, −z): a pair's mean increase cancels the first-order
        # term g·δ, which is not zero where training stopped short of the exact minimum
        for pair in range(draws // 2):
            rng = numpy.random.default_rng([seed, pair])  # the same z for every ε and for both nets
            noise = [backends.to_device(rng.standard_normal(w.shape, dtype=numpy.float32), backends.backend_of(w).name)
                     for w in saved]
            losses_pm = []
            for sign in (1.0, -1.0):
                for p, w, r, z in zip(params, saved, rms, noise):
                    p.data[...] = w + numpy.float32(sign * eps * r) * z
                losses_pm.append(dataset_loss(model, loss_fn, loader))
            pairs.append(0.5 * (losses_pm[0] + losses_pm[1]) - base)
        increases[eps] = pairs
    for p, w in zip(params, saved):
        p.data[...] = w
    return base, increases


def main():
    exp = Experiment("batch_size", __doc__)
    plt = pyplot()
    quick = exp.quick
    lr, target = 1e-3, 0.01
    if quick:
        n_train, sizes, small, large, max_epochs, draws = 1000, [784, 128, 10], 16, 1000, {16: 5, 1000: 40}, 4
        target = 0.05
    else:
        n_train, sizes, small, large, max_epochs, draws = 4000, [784, 256, 256, 10], 16, 1024, {16: 40, 1024: 400}, 10
    epsilons = [0.01, 0.02, 0.03, 0.05, 0.1]

    x, y = mnist_5k()
    (x_train, y_train), (x_test, y_test) = split(x, y, (0.8, 0.2), seed=exp.seed)
    x_train, y_train = x_train[:n_train], y_train[:n_train]
    device = exp.backend.name
    x_test_d, y_test_d = backends.to_device(x_test, device), backends.to_device(y_test, device)
    full = ArrayLoader(x_train, y_train, batch_size=1000, shuffle=False)
    loss_fn = losses.CrossEntropyLoss()

    results, histories = {}, {}
    for batch in (small, large):
        dlcore.manual_seed(exp.seed)  # the same initial weights for both batch sizes
        model = MLP(sizes, activation="relu")
        loader = ArrayLoader(x_train, y_train, batch_size=batch, shuffle=True, seed=exp.seed)
        trainer = Trainer(callbacks=[StopAtTrainingLoss(full, target)], progress=False, log_every=10 ** 6)
        history = trainer.fit(model, loss_fn, optim.Adam(model, lr=lr), loader, None, max_epochs[batch])
        base, increases = sharpness(model, loss_fn, full, epsilons, draws, exp.seed)
        model.eval()
        with dlcore.no_grad():
            test_acc = metrics.accuracy(y_test_d, model(Tensor(x_test_d)).data.argmax(axis=1))
        weight_norm = float(numpy.sqrt(sum(float((p.numpy().astype(numpy.float64) ** 2).sum())
                                           for p in model.parameters())))
        results[str(batch)] = {
            "batch_size": batch, "lr": lr, "epochs": len(history), "steps": len(history) * len(loader),
            "reached_target": history.last["train_eval_loss"] < target,
            "train_loss": base, "train_accuracy": history.last["train_eval_accuracy"], "test_accuracy": test_acc,
            "weight_norm": weight_norm,
            "sharpness": {str(e): float(numpy.mean(v)) for e, v in increases.items()},
            "sharpness_std": {str(e): float(numpy.std(v)) for e, v in increases.items()},  # over the pairs
            "seconds": float(sum(history["seconds"])),
        }
        histories[batch] = history

    s, b = results[str(small)]["sharpness"], results[str(large)]["sharpness"]
    flatter = [e for e in s if s[e] < b[e]]

    colors = {small: "tab:blue", large: "tab:red"}
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for batch in (small, large):
        r = results[str(batch)]
        mean = numpy.array([r["sharpness"][str(e)] for e in epsilons])
        sem = numpy.array([r["sharpness_std"][str(e)] for e in epsilons]) / numpy.sqrt(draws // 2)
        ax1.errorbar(epsilons, mean, yerr=sem, marker="o", capsize=3, color=colors[batch],
                     label=f"batch {batch}: train loss {r['train_loss']:.3g}, test {r['test_accuracy']:.1%}")
        h = histories[batch]
        ax2.semilogy(h["epoch"], h["train_eval_loss"], "-", color=colors[batch],
                     label=f"batch {batch} ({r['steps']} steps)")
    ax1.set_xlabel("relative noise scale ε (per parameter tensor)")
    ax1.set_xscale("log")
    ax1.set_yscale("log", nonpositive="clip")
    ax1.set_ylabel(f"training-loss increase (mean ± s.e., {draws} draws)")
    ax1.set_title("sharpness: loss increase under random weight noise", fontsize=10)
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    ax2.axhline(target, color="grey", linestyle=":", label=f"target {target:g}")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("training loss (whole set, eval mode)")
    ax2.set_title(f"training, Adam η={lr:g} for both batch sizes", fontsize=10)
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    fig.suptitle(f"MLP {'-'.join(map(str, sizes))} on {n_train} MNIST-5k images, same initial weights")
    fig.tight_layout()
    exp.figure(fig, "sharpness.png",
               f"Mean increase of the training loss under relative Gaussian weight noise of scale ε for the nets "
               f"trained with batch {small} and batch {large} (left), and their training curves (right); "
               f"a lower curve on the left is a flatter minimum.")
    exp.finish({"model": sizes, "train_size": n_train, "test_size": int(len(x_test)), "optimizer": f"Adam lr={lr:g}",
                "lr_rule": "the same learning rate for both batch sizes (no scaling)", "target_train_loss": target,
                "epsilons": epsilons, "draws": draws, "batches": results,
                "claim_held": len(flatter) == len(epsilons),
                "small_batch_flatter_at": [float(e) for e in flatter]})


if __name__ == "__main__":
    main()
