"""Callbacks the Trainer calls at the start and end of a fit and after every epoch.

A callback may set ``trainer.stop = True`` to end the fit after the current epoch. Hooks:
``on_fit_start(trainer)``, ``on_epoch_end(trainer, row)`` (row: that epoch's dict, already
the last entry of ``trainer.history``), ``on_fit_end(trainer)``. During a fit the trainer exposes ``model``,
``optimizer``, ``history`` and ``epoch``.

A callback that learns something during a fit (a best value, a patience count, the lr a schedule
started from) returns it from ``state_dict()`` and takes it back in ``load_state_dict(state)``;
``Checkpoint`` saves every callback's state with the model, and a fit given those states
(``Trainer.fit(..., callback_states=...)``) continues exactly where the saved one was.
"""
from __future__ import annotations

import difflib
import math
from pathlib import Path

from backends import UserError
from dlcore import checks
from dlcore.training.trainer import METRICS


class MonitorError(UserError, KeyError):
    """A callback monitors a value that the epoch's row does not report (a typo, or no validation data).

    A KeyError, as a missing key; ``str()`` is the message itself (KeyError's would quote it)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Callback:
    """Base class: every hook does nothing, and there is no state to save.

    ``order``: the Trainer calls ``on_epoch_end`` in ascending order (stable: equal orders keep
    the order of the list). ``Checkpoint`` has order 100 so that it saves what every other
    callback did in that epoch (the schedule's next lr, the early-stopping count).

    Example::

        >>> class StopAtEpoch(training.Callback):
        ...     def __init__(self, last):
        ...         self.last = last
        ...     def on_epoch_end(self, trainer, row):
        ...         print("epoch", row["epoch"], "loss below 1:", row["train_loss"] < 1)
        ...         trainer.stop = row["epoch"] >= self.last
        >>> x, y = data.sine(32)
        >>> model = nn.Linear(1, 1)
        >>> history = training.Trainer([StopAtEpoch(2)], progress=False).fit(
        ...     model, losses.MSELoss(), optim.SGD(model, lr=0.1), data.ArrayLoader(x, y, batch_size=8), epochs=10)
        epoch 1 loss below 1: True
        epoch 2 loss below 1: True
        >>> len(history), history.stopped_epoch
        (2, 2)
    """

    order = 0

    def on_fit_start(self, trainer) -> None: ...
    def on_epoch_end(self, trainer, row: dict) -> None: ...
    def on_fit_end(self, trainer) -> None: ...

    def state_dict(self) -> dict:
        """What this callback learnt during the fit (JSON values and NumPy arrays); {} if nothing."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Take back what ``state_dict()`` returned (``Trainer.fit`` calls it before ``on_fit_start``,
        which then sees the loaded state: a hook that resets state should do so only for a new
        training, an empty ``trainer.history``)."""


def _mode_for(monitor: str, mode: str) -> str:
    if mode == "auto":
        return "max" if any(w in monitor for w in ("acc", "f1", "precision", "recall", "r2")) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'min', 'max' or 'auto', got {mode!r}")
    return mode


def _check_monitor(owner: str, monitor, mode: str) -> None:
    """``monitor`` must name a metric the Trainer reports, unless an explicit ``mode`` says that a
    callback of the user's own adds it: TypeError/ValueError with a did-you-mean otherwise."""
    if not isinstance(monitor, str):
        raise TypeError(f"{owner}: monitor must be a metric name (one of {', '.join(METRICS)}), got {monitor!r}")
    if monitor not in METRICS and mode == "auto":
        close = difflib.get_close_matches(monitor, METRICS, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ValueError(f"{owner}: monitor {monitor!r} is not a metric the Trainer reports; {hint}"
                         f"choose one of {', '.join(METRICS)} (for a metric your own callback adds to the "
                         f"epoch's row, also pass mode='min' or 'max')")


def _better(value, best, mode: str, min_delta: float = 0.0) -> bool:
    """Whether ``value`` improves on ``best`` (None: nothing yet) by more than ``min_delta``."""
    if best is None:
        return True
    return value < best - min_delta if mode == "min" else value > best + min_delta


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved on its best value by more than ``min_delta`` for
    ``patience`` epochs; with ``restore_best`` the model gets the best epoch's weights back.

    Improvement means value < best − min_delta ("min") or value > best + min_delta ("max");
    the comparison is with the best value so far, not with the previous epoch.

    ``monitor`` is one of the metrics the Trainer reports (``METRICS``: train_loss,
    train_accuracy, val_loss, val_accuracy); a name that is not (a typo such as "val_acc")
    raises at construction. A metric that a callback of your own adds to the epoch's row is
    accepted with an explicit ``mode="min"`` or ``"max"``.

    Example::

        >>> x, y = data.sine(64)
        >>> model = nn.Sequential(nn.Linear(1, 16), nn.Tanh(), nn.Linear(16, 1))
        >>> val = data.ArrayLoader(x, -y, batch_size=16)    # a validation set the fit only gets worse on
        >>> history = training.Trainer([training.EarlyStopping(patience=2)], progress=False).fit(
        ...     model, losses.MSELoss(), optim.SGD(model, lr=0.1), data.ArrayLoader(x, y, batch_size=16), val,
        ...     epochs=20)
        >>> [round(v, 3) for v in history["val_loss"]]    # best at epoch 2, then 2 epochs without improvement
        [0.674, 0.658, 0.818, 1.0]
        >>> history.best_epoch, history.stopped_epoch
        (2, 4)
        >>> round(training.Trainer().evaluate(model, losses.MSELoss(), val)["loss"], 3)    # epoch 2's weights back
        0.658
    """

    def __init__(self, monitor: str = "val_loss", patience: int = 5, min_delta: float = 0.0, mode: str = "auto",
                 restore_best: bool = True):
        _check_monitor("EarlyStopping", monitor, mode)
        if not patience >= 0:
            raise ValueError(f"EarlyStopping: patience must be ≥ 0 epochs, got {patience!r}")
        if not min_delta >= 0:
            raise ValueError(f"EarlyStopping: min_delta must be ≥ 0, got {min_delta!r}")
        self.monitor, self.patience, self.min_delta = monitor, int(patience), float(min_delta)
        self.mode, self.restore_best = _mode_for(monitor, mode), restore_best
        self._reset()

    def _reset(self) -> None:
        self.best, self.best_epoch, self.best_state, self.wait = None, None, None, 0

    def on_fit_start(self, trainer):
        """A new training (empty history) starts afresh; a fit that continues a history continues
        from this state (loaded, or left by the previous fit), and stops at once when its
        patience is already used up (a resumed run that had stopped early)."""
        if not len(trainer.history):
            self._reset()
        elif self.wait >= max(self.patience, 1):
            trainer.stop = True

    def state_dict(self) -> dict:
        """The monitored metric, its best value and epoch, the epochs waited since, and the best
        epoch's weights (or None)."""
        return {"monitor": self.monitor, "best": self.best, "best_epoch": self.best_epoch, "wait": self.wait,
                "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        """Take the state back; a state of another monitored metric (``early_stopping.monitor``
        changed on a resume) is not this one's: the count starts afresh."""
        if state.get("monitor", self.monitor) != self.monitor:
            self._reset()
            return
        self.best, self.best_epoch, self.wait = state["best"], state["best_epoch"], int(state["wait"])
        self.best_state = state["best_state"]

    def on_epoch_end(self, trainer, row):
        if self.monitor not in row:
            reported = [k for k in row if k not in ("epoch", "lr", "seconds")]
            if self.monitor.startswith("val_") and not any(k.startswith("val_") for k in row):
                hint = "pass a validation loader (fit's val argument) for val_* values"
            elif self.monitor.endswith("_accuracy"):
                hint = "accuracy is reported only for integer class labels, which these targets are not"
            else:
                hint = "no callback before EarlyStopping added it"
            raise MonitorError(f"EarlyStopping monitors {self.monitor!r}, but epoch {row.get('epoch')} reports "
                               f"{', '.join(reported)}; {hint}")
        value = row[self.monitor]
        if _better(value, self.best, self.mode, self.min_delta):
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
    """Sets ``optimizer.lr = lr_at(epochs done)`` when a fit starts and after each epoch, from the
    base lr η₀.

    η₀ is ``base_lr`` when given; otherwise the optimizer's lr when a new training starts (an
    empty history), kept through fits that continue it and saved in ``state_dict()``: a
    resumed run does not take the already-decayed lr for η₀.

    Example::

        >>> class Halving(training.LRSchedule):    # η = η₀ / 2^epochs
        ...     def lr_at(self, epochs_done):
        ...         return self.base_lr / 2 ** epochs_done
        >>> [Halving(base_lr=0.1).lr_at(epochs) for epochs in range(4)]
        [0.1, 0.05, 0.025, 0.0125]
    """

    # the defaults of a subclass whose own __init__ does not call this one (as before base_lr existed)
    base_lr, _fixed_base = None, False

    def __init__(self, base_lr: float | None = None):
        self._fixed_base = base_lr is not None
        if self._fixed_base:
            base_lr = checks.finite_number(type(self).__name__, "base_lr", base_lr, "[0, inf)")
        self.base_lr = base_lr

    def on_fit_start(self, trainer):
        if not self._fixed_base and (self.base_lr is None or not len(trainer.history)):
            self.base_lr = trainer.optimizer.lr
        trainer.optimizer.lr = self.lr_at(len(trainer.history))

    def state_dict(self) -> dict:
        return {} if self._fixed_base else {"base_lr": self.base_lr}

    def load_state_dict(self, state: dict) -> None:
        if not self._fixed_base:
            self.base_lr = state["base_lr"]

    def on_epoch_end(self, trainer, row):
        trainer.optimizer.lr = self.lr_at(row["epoch"])

    def lr_at(self, epochs_done: int) -> float:
        raise NotImplementedError


class StepLR(LRSchedule):
    """η = η₀ · γ^⌊epochs/step_size⌋: large first, then smaller in steps.

    Example::

        >>> schedule = training.StepLR(step_size=2, gamma=0.1)
        >>> x, y = data.sine(32)
        >>> model = nn.Linear(1, 1)
        >>> history = training.Trainer([schedule], progress=False).fit(
        ...     model, losses.MSELoss(), optim.SGD(model, lr=0.5), data.ArrayLoader(x, y, batch_size=8), epochs=5)
        >>> [round(lr, 4) for lr in history["lr"]]    # the lr each epoch trained with, from η₀ = the optimizer's 0.5
        [0.5, 0.5, 0.05, 0.05, 0.005]
    """

    def __init__(self, step_size: int, gamma: float = 0.1, base_lr: float | None = None):
        super().__init__(base_lr)
        self.step_size = checks.integer("StepLR", "step_size", step_size, minimum=1)
        self.gamma = checks.finite_number("StepLR", "gamma", gamma, "[0, inf)")

    def lr_at(self, epochs_done):
        return self.base_lr * self.gamma ** (epochs_done // self.step_size)


class ExponentialLR(LRSchedule):
    """η = η₀ · γ^epochs.

    Example::

        >>> schedule = training.ExponentialLR(gamma=0.5, base_lr=1.0)
        >>> [schedule.lr_at(epochs) for epochs in range(4)]
        [1.0, 0.5, 0.25, 0.125]
    """

    def __init__(self, gamma: float, base_lr: float | None = None):
        super().__init__(base_lr)
        self.gamma = checks.finite_number("ExponentialLR", "gamma", gamma, "[0, inf)")

    def lr_at(self, epochs_done):
        return self.base_lr * self.gamma ** epochs_done


class CosineLR(LRSchedule):
    """η = η_min + ½(η₀ − η_min)(1 + cos(π · epochs/T)) for epochs ≤ T, then η_min.

    Example::

        >>> schedule = training.CosineLR(t_max=4, eta_min=0.0, base_lr=1.0)
        >>> [round(schedule.lr_at(epochs), 4) for epochs in range(6)]    # η_min after T epochs
        [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """

    def __init__(self, t_max: int, eta_min: float = 0.0, base_lr: float | None = None):
        super().__init__(base_lr)
        self.t_max = checks.integer("CosineLR", "t_max", t_max, minimum=1)
        self.eta_min = checks.finite_number("CosineLR", "eta_min", eta_min, "[0, inf)")

    def lr_at(self, epochs_done):
        progress = min(epochs_done, self.t_max) / self.t_max
        return self.eta_min + 0.5 * (self.base_lr - self.eta_min) * (1 + math.cos(math.pi * progress))


class LinearWarmup(LRSchedule):
    """Linear warm-up (PyTorch's LinearLR with end factor 1): η = η₀ · (s + (1 − s) · min(n, T)/T) after n
    epochs, from s·η₀ (s = ``start_factor``) up to η₀ after T = ``warmup_epochs``, then η₀.

    In a fit it sets the lr as every ``LRSchedule``; outside one ``lr_at(n)`` is the lr after n steps of
    any kind, e.g. per iteration: ``optimizer.lr = warmup.lr_at(iteration)`` (a warm-up over iterations).

    Example::

        >>> warmup = training.callbacks.LinearWarmup(warmup_epochs=4, start_factor=0.2, base_lr=0.1)
        >>> [round(warmup.lr_at(n), 4) for n in range(6)]
        [0.02, 0.04, 0.06, 0.08, 0.1, 0.1]
    """

    def __init__(self, warmup_epochs: int, start_factor: float = 1 / 3, base_lr: float | None = None):
        super().__init__(base_lr)
        self.warmup_epochs = checks.integer("LinearWarmup", "warmup_epochs", warmup_epochs, minimum=1)
        self.start_factor = checks.finite_number("LinearWarmup", "start_factor", start_factor, "[0, 1]")

    def lr_at(self, epochs_done):
        s = self.start_factor
        return self.base_lr * (s + (1 - s) * min(epochs_done, self.warmup_epochs) / self.warmup_epochs)


class ReduceLROnPlateau(Callback):
    """Multiply the lr by ``factor`` when ``monitor`` has not improved for more than ``patience`` epochs,
    as PyTorch's ReduceLROnPlateau: improvement is value < best·(1 − threshold) ("min", relative) or
    value < best − threshold (``threshold_mode="abs"``) ("max": > best·(1 + threshold), > best +
    threshold); after a reduction, ``cooldown`` epochs count no bad epochs; the lr never goes below
    ``min_lr`` (a reduction smaller than 1e-8 is not made).

    In a fit it acts after each epoch on the epoch's ``monitor`` value (checked as EarlyStopping's is);
    with ``base_lr`` it sets the optimizer's lr to it when a new training starts. Outside a fit,
    ``step(value, optimizer)`` does the same for one value and returns the lr. ``state_dict()`` holds the
    best value and the counts (the lr itself is the optimizer's, saved with it).

    Example::

        >>> w = nn.Parameter(np.zeros(1, "float32"))
        >>> opt = optim.SGD([w], lr=1.0)
        >>> plateau = training.callbacks.ReduceLROnPlateau(mode="min", factor=0.5, patience=1)
        >>> [plateau.step(loss, opt) for loss in [3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 1.0]]
        [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", factor: float = 0.1, patience: int = 10,
                 threshold: float = 1e-4, threshold_mode: str = "rel", cooldown: int = 0, min_lr: float = 0.0,
                 base_lr: float | None = None):
        _check_monitor("ReduceLROnPlateau", monitor, mode)
        self.monitor, self.mode = monitor, _mode_for(monitor, mode)
        self.factor = checks.finite_number("ReduceLROnPlateau", "factor", factor, "[0, 1)")
        self.patience = checks.integer("ReduceLROnPlateau", "patience", patience, minimum=0)
        self.threshold = checks.finite_number("ReduceLROnPlateau", "threshold", threshold, "[0, inf)")
        self.threshold_mode = checks.choice("ReduceLROnPlateau", "threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = checks.integer("ReduceLROnPlateau", "cooldown", cooldown, minimum=0)
        self.min_lr = checks.finite_number("ReduceLROnPlateau", "min_lr", min_lr, "[0, inf)")
        self.base_lr = None if base_lr is None else checks.finite_number("ReduceLROnPlateau", "base_lr", base_lr,
                                                                         "[0, inf)")
        self._reset()

    def _reset(self) -> None:
        self.best, self.bad_epochs, self.cooldown_left = None, 0, 0

    def _improves(self, value) -> bool:
        if self.best is None:
            return True
        if self.threshold_mode == "abs":
            return _better(value, self.best, self.mode, self.threshold)
        scale = 1 - self.threshold if self.mode == "min" else 1 + self.threshold
        return value < self.best * scale if self.mode == "min" else value > self.best * scale

    def step(self, value: float, optimizer) -> float:
        """Count ``value`` (one epoch's monitored metric), reduce ``optimizer.lr`` if the patience has run out;
        returns the lr now."""
        value = float(value)
        if self._improves(value):
            self.best, self.bad_epochs = value, 0
        else:
            self.bad_epochs += 1
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.bad_epochs = 0
        if self.bad_epochs > self.patience:
            new = max(optimizer.lr * self.factor, self.min_lr)
            if optimizer.lr - new > 1e-8:
                optimizer.lr = new
            self.cooldown_left, self.bad_epochs = self.cooldown, 0
        return optimizer.lr

    def on_fit_start(self, trainer):
        if not len(trainer.history):
            self._reset()
            if self.base_lr is not None:
                trainer.optimizer.lr = self.base_lr

    def on_epoch_end(self, trainer, row):
        if self.monitor not in row:
            raise MonitorError(f"ReduceLROnPlateau monitors {self.monitor!r}, but epoch {row.get('epoch')} reports "
                               f"{', '.join(k for k in row if k not in ('epoch', 'lr', 'seconds'))}")
        self.step(row[self.monitor], trainer.optimizer)

    def state_dict(self) -> dict:
        return {"best": self.best, "bad_epochs": self.bad_epochs, "cooldown_left": self.cooldown_left}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.bad_epochs = state["best"], int(state["bad_epochs"])
        self.cooldown_left = int(state["cooldown_left"])


class Checkpoint(Callback):
    """Writes ``last.npz`` after every epoch and ``best.npz`` whenever ``monitor`` improves.

    Each file holds the model, the optimizer, the epoch, the history so far, the state of every
    callback of the fit (``callbacks``: what ``Trainer.callback_states()`` returns) and whatever
    the ``extra()`` callable returns (e.g. RNG states for resuming); ``dlcore.io.save`` writes it
    atomically. It runs after the other callbacks of an epoch (``order`` 100), so the files hold
    what they did (the next epoch's lr, the early-stopping count). A missing monitored value (no
    validation data) disables ``best.npz``. ``monitor`` is checked as EarlyStopping's is.

    Example::

        >>> import os, tempfile
        >>> x, y = data.sine(32)
        >>> model = nn.Linear(1, 1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     trainer = training.Trainer([training.Checkpoint(folder, monitor="train_loss")], progress=False)
        ...     _ = trainer.fit(model, losses.MSELoss(), optim.SGD(model, lr=0.1), data.ArrayLoader(x, y), epochs=3)
        ...     last = dlcore.io.load(os.path.join(folder, "last.npz"))
        ...     print(sorted(os.listdir(folder)), last["epoch"], len(last["history"]["epochs"]))
        ['best.npz', 'last.npz'] 3 3
    """

    order = 100

    def __init__(self, directory, monitor: str = "val_loss", mode: str = "auto", save_best: bool = True,
                 save_last: bool = True, extra=None):
        _check_monitor("Checkpoint", monitor, mode)
        self.directory, self.monitor, self.mode = Path(directory), monitor, _mode_for(monitor, mode)
        self.save_best, self.save_last, self.extra = save_best, save_last, extra or dict
        self.best = None

    def on_fit_start(self, trainer):
        self.directory.mkdir(parents=True, exist_ok=True)
        if not len(trainer.history):
            self.best = None

    def state_dict(self) -> dict:
        """The best monitored value so far (None before the first)."""
        return {"best": self.best}

    def load_state_dict(self, state: dict) -> None:
        self.best = state["best"]

    def _write(self, name, trainer, row):
        from dlcore import io

        io.save(self.directory / name, trainer.model, trainer.optimizer, epoch=row["epoch"],
                history=trainer.history.to_dict(), callbacks=trainer.callback_states(), **self.extra())

    def on_epoch_end(self, trainer, row):
        value = row.get(self.monitor)
        improved = self.save_best and value is not None and _better(value, self.best, self.mode)
        if improved:
            self.best = value
        if self.save_last:
            self._write("last.npz", trainer, row)
        if improved:
            self._write("best.npz", trainer, row)
