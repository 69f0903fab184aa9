"""Callbacks the Trainer calls at the start and end of a fit and after every epoch.

A callback may set ``trainer.stop = True`` to end the fit after the current epoch. Hooks:
``on_fit_start(trainer)``, ``on_epoch_end(trainer, row)`` (row: that epoch's dict, already
the last entry of ``trainer.history``), ``on_fit_end(trainer)``. During a fit the trainer exposes ``model``,
``optimizer``, ``history`` and ``epoch``.
"""
from __future__ import annotations

import difflib
import math
from pathlib import Path

from dlcore.training.trainer import METRICS


class Callback:
    """Base class: every hook does nothing."""

    def on_fit_start(self, trainer) -> None: ...
    def on_epoch_end(self, trainer, row: dict) -> None: ...
    def on_fit_end(self, trainer) -> None: ...


def _mode_for(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if any(w in monitor for w in ("acc", "f1", "precision", "recall", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved on its best value by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best`` the model gets the best epoch's weights back.

    Improvement means value < best − min_delta ("min") or value > best + min_delta ("max");
    the comparison is with the best value so far, not with the previous epoch.

    ``monitor`` is one of the metrics the Trainer reports (``METRICS``: train_loss,
    train_accuracy, val_loss, val_accuracy); a name that is not (a typo such as "val_acc")
    raises at construction. A metric that a callback of your own adds to the epoch's row is
    accepted with an explicit ``mode="min"`` or ``"max"``.
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True):
        if not isinstance(monitor, str):
            raise TypeError(f"EarlyStopping: monitor must be a metric name (one of {', '.join(METRICS)}), "
                            f"got {monitor!r}")
        if monitor not in METRICS and mode == "auto":
            close = difflib.get_close_matches(monitor, METRICS, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(f"EarlyStopping: monitor {monitor!r} is not a metric the Trainer reports; {hint}"
                             f"choose one of {', '.join(METRICS)} (for a metric your own callback adds to the "
                             f"epoch's row, also pass mode='min' or 'max')")
        if not patience >= 0:
            raise ValueError(f"EarlyStopping: patience must be ≥ 0 epochs, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be ≥ 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.restore_best = _mode_for(monitor, mode), restore_best

    def on_fit_start(self, trainer):
        self.best, self.best_epoch, self.best_state, self.wait = None, None, None, 0

    def _improved(self, value) -> bool:
        if self.best is None:
            return True
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta

    def on_epoch_end(self, trainer, row):
        if self.monitor not in row:
            reported = [k for k in row if k not in ("epoch", "lr", "seconds")]
            if self.monitor.startswith("val_") and not any(k.startswith("val_") for k in row):
                hint = "pass a validation loader (fit's val argument) for val_* values"
            elif self.monitor.endswith("_accuracy"):
                hint = "accuracy is reported only for integer class labels, which these targets are not"
            else:
                hint = "no callback before EarlyStopping added it"
            raise KeyError(f"EarlyStopping monitors {self.monitor!r}, but epoch {row.get('epoch')} reports "
                           f"{', '.join(reported)}; {hint}")
        value = row[self.monitor]
        if self._improved(value):
            self.best, self.best_epoch, self.wait = value, row["epoch"], 0
            if self.restore_best:
                self.best_state = trainer.model.state_dict()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                trainer.stop = True
        trainer.history.best_epoch = self.best_epoch

    def on_fit_end(self, trainer):
        if self.restore_best and self.best_state is not None:
            trainer.model.load_state_dict(self.best_state)


class LRSchedule(Callback):
    """Sets ``optimizer.lr = lr_at(epoch)`` after each epoch, from the lr the fit started with."""

    def on_fit_start(self, trainer):
        self.base_lr = trainer.optimizer.lr

    def on_epoch_end(self, trainer, row):
        trainer.optimizer.lr = self.lr_at(row["epoch"])

    def lr_at(self, epochs_done: int) -> float:
        raise NotImplementedError


class StepLR(LRSchedule):
    """η = η₀ · γ^⌊epochs/step_size⌋: large first, then smaller in steps."""

    def __init__(self, step_size: int, gamma: float = 0.1):
        self.step_size, self.gamma = int(step_size), float(gamma)

    def lr_at(self, epochs_done):
        return self.base_lr * self.gamma ** (epochs_done // self.step_size)


class ExponentialLR(LRSchedule):
    """η = η₀ · γ^epochs."""

    def __init__(self, gamma: float):
        self.gamma = float(gamma)

    def lr_at(self, epochs_done):
        return self.base_lr * self.gamma ** epochs_done


class CosineLR(LRSchedule):
    """η = η_min + ½(η₀ − η_min)(1 + cos(π · epochs/T)) for epochs ≤ T, then η_min."""

    def __init__(self, t_max: int, eta_min: float = 0.0):
        self.t_max, self.eta_min = int(t_max), float(eta_min)

    def lr_at(self, epochs_done):
        progress = min(epochs_done, self.t_max) / self.t_max
        return self.eta_min + 0.5 * (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress))


class Checkpoint(Callback):
    """Writes ``last.npz`` after every epoch and ``best.npz`` whenever ``monitor`` improves.

    Each file holds the model, the optimizer, the epoch, the history so far and whatever the
    ``extra()`` callable returns (e.g. RNG states for resuming); ``dlcore.io.save`` writes it
    atomically. A missing monitored value (no validation data) disables ``best.npz``.
    """

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True, extra=None):
        self.directory, self.monitor, self.mode = Path(directory), monitor, _mode_for(monitor, mode)
        self.save_best, self.save_last, self.extra = save_best, save_last, extra or dict

    def on_fit_start(self, trainer):
        self.directory.mkdir(parents=True, exist_ok=True)
        self.best = None

    def _write(self, name, trainer, row):
        from dlcore import io

        io.save(self.directory / name, trainer.model, trainer.optimizer, epoch=row["epoch"],
                history=trainer.history.to_dict(), **self.extra())

    def on_epoch_end(self, trainer, row):
        if self.save_last:
            self._write("last.npz", trainer, row)
        value = row.get(self.monitor)
        if self.save_best and value is not None:
            better = self.best is None or (value < self.best if self.mode == "min" else value > self.best)
            if better:
                self.best = value
                self._write("best.npz", trainer, row)
