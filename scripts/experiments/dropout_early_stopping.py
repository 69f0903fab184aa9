"""Dropout and early stopping: an over-sized MLP on a small training set, with and without Dropout(0.5).

The course's claim: a network with far more parameters than training examples overfits: the
training loss keeps falling towards zero while the validation loss reaches a minimum and then
rises. Early stopping watches the validation loss, stops after ``patience`` epochs without
improvement and restores the weights of the best epoch; dropout (each hidden unit dropped with
probability 0.5 in training) regularises the network, so the gap between training and
validation grows more slowly.

What the script does: an MLP 784-512-512-10 (ReLU, He init; about 670k parameters) is trained
with plain SGD (η = 0.05, batch 32) on 500 MNIST-5k images, validated on 500 and tested on the other
4,000, once without dropout and once with Dropout(0.5) after each hidden layer, from the same
initial weights. Each configuration is trained twice from the same seed: once for the full
number of epochs without stopping (the learning curves, which show the overfitting) and once
with ``EarlyStopping(monitor="val_loss", patience=10, restore_best=True)`` (the stopping epoch,
the best epoch and the restored model's test accuracy). The two runs are identical up to the
stopping epoch. The training loss is plotted as measured in eval mode after each epoch (dropout
off, the same network the validation set sees) and, faintly, as the mean over the epoch's
training steps (dropout on). ``--quick``: an MLP 784-256-256-10 on 300/300 images, 25 epochs,
patience 5.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import Experiment, pyplot  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import losses, metrics, optim  # noqa: E402
from dlcore.core import Tensor  # noqa: E402
from dlcore.data import ArrayLoader, mnist_5k, split  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.training import Callback, EarlyStopping, Trainer  # noqa: E402


class EvalOnTraining(Callback):
    """Adds the training set's loss and accuracy in eval mode (dropout off) to each epoch's row."""

    def __init__(self, loader):
        self.loader = loader

    def on_epoch_end(self, trainer, row):
        measured = trainer.evaluate(trainer.model, trainer.loss, self.loader)
        row.update({f"train_eval_{k}": v for k, v in measured.items()})


def test_accuracy(model, x, y) -> float:
    model.eval()
    with dlcore.no_grad():
        return metrics.accuracy(y, model(Tensor(x)).data.argmax(axis=1))


def main():
    exp = Experiment("dropout_early_stopping", __doc__)
    plt = pyplot()
    quick = exp.quick
    n_train, n_val = (300, 300) if quick else (500, 500)
    sizes = [784, 256, 256, 10] if quick else [784, 512, 512, 10]
    epochs, patience, batch_size, lr = (25, 5, 32, 0.05) if quick else (100, 10, 32, 0.05)

    x, y = mnist_5k()
    n = len(x)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = split(
        x, y, (n_train / n, n_val / n, 1 - (n_train + n_val) / n), seed=exp.seed)
    device = exp.backend.name
    x_test, y_test = backends.to_device(x_test, device), backends.to_device(y_test, device)
    loss_fn = losses.CrossEntropyLoss()

    def train(dropout: float, callbacks, n_epochs: int):
        dlcore.manual_seed(exp.seed)  # same initial weights and dropout masks in every run of a setting
        model = MLP(sizes, activation="relu", dropout=dropout)
        train_loader = ArrayLoader(x_train, y_train, batch_size=batch_size, shuffle=True, seed=exp.seed)
        val_loader = ArrayLoader(x_val, y_val, batch_size=500, shuffle=False)
        train_eval = ArrayLoader(x_train, y_train, batch_size=500, shuffle=False)
        trainer = Trainer(callbacks=[EvalOnTraining(train_eval), *callbacks], progress=False, log_every=10 ** 6)
        history = trainer.fit(model, loss_fn, optim.SGD(model, lr=lr), train_loader, val_loader, n_epochs)
        return model, history, trainer, val_loader

    settings = {"no dropout": 0.0, "dropout 0.5": 0.5}
    results, curves = {}, {}
    for label, p in settings.items():
        full_model, full, _, _ = train(p, [], epochs)
        stopper = EarlyStopping(monitor="val_loss", patience=patience, restore_best=True)
        model, history, trainer, val_loader = train(p, [stopper], epochs)
        best_epoch = history.best_epoch
        best_val_loss = history.rows[best_epoch - 1]["val_loss"]
        restored = trainer.evaluate(model, loss_fn, val_loader)
        ran = len(history)
        same = max(abs(a - b) for r, s in zip(history.rows, full.rows[:ran])
                   for a, b in ((r["train_loss"], s["train_loss"]), (r["val_loss"], s["val_loss"])))
        last = full.last
        results[label] = {
            "dropout": p,
            "best_epoch": best_epoch,
            "stopped_epoch": history.stopped_epoch,           # None: never stopped within the epochs
            "best_val_loss": best_val_loss,
            "restored_val_loss": restored["loss"],
            "restored_val_accuracy": restored["accuracy"],
            "restored_test_accuracy": test_accuracy(model, x_test, y_test),
            "final_test_accuracy": test_accuracy(full_model, x_test, y_test),  # after all epochs, no stopping
            "final_train_loss": last["train_eval_loss"],
            "final_val_loss": last["val_loss"],
            "final_train_accuracy": last["train_eval_accuracy"],
            "final_val_accuracy": last["val_accuracy"],
            "final_loss_gap": last["val_loss"] - last["train_eval_loss"],
            "final_accuracy_gap": last["train_eval_accuracy"] - last["val_accuracy"],
            "min_val_loss_epoch": full.best("val_loss", "min")[0],
            "runs_agree_until_stop": same,   # largest |difference| of the two runs' losses up to the stop
        }
        curves[label] = full

    fig, axes = plt.subplots(2, 2, figsize=(12, 8))
    for row, label in zip(axes, settings):
        h, r = curves[label], results[label]
        epochs_axis = h["epoch"]
        for ax, metric in zip(row, ("loss", "accuracy")):
            ax.plot(epochs_axis, h[f"train_eval_{metric}"], "-", color="tab:blue", label="train (eval mode)")
            if settings[label] > 0:
                ax.plot(epochs_axis, h[f"train_{metric}"], "-", color="tab:blue", alpha=0.35,
                        label="train (dropout on, epoch mean)")
            ax.plot(epochs_axis, h[f"val_{metric}"], "-", color="tab:orange", label="validation")
            ax.axvline(r["best_epoch"], color="tab:green", linestyle=":", label=f"best epoch {r['best_epoch']}")
            if r["stopped_epoch"] is not None:
                ax.axvline(r["stopped_epoch"], color="tab:red", linestyle="--",
                           label=f"early stop (patience {patience}): epoch {r['stopped_epoch']}")
            ax.set_xlabel("epoch")
            ax.set_ylabel(metric)
            ax.grid(alpha=0.3)
            if metric == "loss":
                ax.set_ylim(0, 1.05 * max(max(h[k]) for k in ("val_loss", "train_eval_loss", "train_loss")))
                ax.set_title(f"{label}: loss", fontsize=10)
            else:
                ax.set_title(f"{label}: accuracy (test {r['restored_test_accuracy']:.1%} restored, "
                             f"{r['final_test_accuracy']:.1%} after {epochs} epochs)", fontsize=10)
            ax.legend(fontsize=8)
    fig.suptitle(f"MLP {'-'.join(map(str, sizes))} on {n_train} MNIST-5k images (validation {n_val}, "
                 f"test {len(x_test)}), SGD η={lr:g}, batch {batch_size}")
    fig.tight_layout()
    exp.figure(fig, "learning_curves.png",
               "Training (eval mode) and validation loss and accuracy of an over-sized MLP on a small training "
               "set, without and with Dropout(0.5): the validation loss turns up while the training loss falls; "
               "the best epoch and the early-stopping epoch are marked.")
    exp.finish({"model": sizes, "train_size": n_train, "val_size": n_val, "test_size": int(len(x_test)),
                "epochs": epochs, "patience": patience, "batch_size": batch_size, "optimizer": f"SGD lr={lr:g}",
                "settings": results,
                "curves": {label: {k: curves[label][k] for k in ("train_eval_loss", "val_loss", "train_loss",
                                                                 "train_eval_accuracy", "val_accuracy")}
                           for label in settings}})


if __name__ == "__main__":
    main()
