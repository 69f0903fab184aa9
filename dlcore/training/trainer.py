"""Mini-batch training with device-side accumulation, callbacks and a rich progress display."""
from __future__ import annotations

import numbers
import sys
import time

import numpy

import backends
from backends import UserError
from dlcore.checks import ArgumentTypeError
from dlcore.modes import no_grad
from dlcore.core import Tensor
from dlcore.training.history import History
from dlcore.training.step import EagerStep, GraphStep

#: The metrics an epoch's row holds: train_loss always, val_loss with a validation loader, and
#: *_accuracy when the targets are integer class labels (besides "epoch", "lr" and "seconds").
METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")

_ORDER = "fit(model, loss, optimizer, train, val=None, epochs=1)"


class DivergenceError(UserError, FloatingPointError):
    """The loss became NaN or ±inf: the message names the epoch and step, and what to try.

    Example::

        >>> x, y = data.sine(32)
        >>> x[10, 0] = np.nan    # a bad sample in the second batch of 8
        >>> model = nn.Linear(1, 1)
        >>> training.Trainer(progress=False).fit(model, losses.MSELoss(), optim.SGD(model, lr=0.1),
        ...                                      data.ArrayLoader(x, y, batch_size=8, shuffle=False))
        Traceback (most recent call last):
            ...
        dlcore.training.trainer.DivergenceError: training loss became nan in epoch 1, step 2 of 4; lower the ...
    """


def _describe(value) -> str:
    """A short description of an argument for error messages: its type and, for arrays, its shape."""
    shape = getattr(value, "shape", None)
    return f"{type(value).__name__} of shape {tuple(shape)}" if shape is not None else type(value).__name__


def _check_loader(name: str, loader, owner: str = "Trainer.fit") -> None:
    """A loader is anything iterable with len() that yields (x_batch, y_batch) pairs; arrays are not."""
    if isinstance(loader, (tuple, list)) and loader and all(hasattr(a, "shape") for a in loader):
        raise TypeError(f"{owner}: {name} must be a loader of (x_batch, y_batch) pairs, got a "
                        f"{type(loader).__name__} of {len(loader)} arrays "
                        f"({', '.join(_describe(a) for a in loader)}); wrap arrays in "
                        f"dlcore.data.ArrayLoader(x, y, batch_size=...)")
    if hasattr(loader, "shape") or not (hasattr(loader, "__iter__") and hasattr(loader, "__len__")):
        raise TypeError(f"{owner}: {name} must be a loader (iterable of (x_batch, y_batch) pairs with len()), "
                        f"got {_describe(loader)}; wrap arrays in dlcore.data.ArrayLoader(x, y, batch_size=...)")


def _check_fit_arguments(model, loss, optimizer, train, val, epochs) -> None:
    """TypeError/ValueError naming the argument, what was passed and the fix, before any work is done."""
    for name, value in (("model", model), ("loss", loss), ("optimizer", optimizer)):
        if isinstance(value, type):
            raise TypeError(f"Trainer.fit: {name} is the class {value.__name__}, not an instance of it; "
                            f"make one first, e.g. {value.__name__}(...)")
    if not callable(model) or not callable(getattr(model, "train", None)):
        raise TypeError(f"Trainer.fit: model must be a dlcore.nn.Module, got {_describe(model)}; "
                        f"the order is {_ORDER}")
    if not callable(loss):
        raise TypeError(f"Trainer.fit: loss must be callable as loss(outputs, targets), got {_describe(loss)}; "
                        f"the order is {_ORDER}")
    if not (callable(getattr(optimizer, "step", None)) and callable(getattr(optimizer, "zero_grad", None))):
        raise TypeError(f"Trainer.fit: optimizer must have step() and zero_grad() (a dlcore.optim optimizer), "
                        f"got {_describe(optimizer)}; the order is {_ORDER}")
    _check_loader("train", train)
    if val is not None:
        _check_loader("val", val)
    if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral):
        raise TypeError(f"Trainer.fit: epochs must be a whole number, got {epochs!r} ({type(epochs).__name__})")
    if epochs < 0:
        raise ValueError(f"Trainer.fit: epochs must be ≥ 0, got {epochs}")


class Trainer:
    """Runs epochs of forward, backward and optimizer steps, with validation and callbacks.

    ``Trainer(callbacks=[EarlyStopping(...), CosineLR(...)]).fit(model, loss, optimizer,
    train, val, epochs)`` returns a History. Each step's loss (and, for integer class labels,
    its number of correct predictions) is written into a buffer on the device; the buffer
    reaches the host once per epoch, so a step never waits for the GPU. A non-finite loss
    stops training with an error naming the epoch and the step.

    How a batch trains is the ``step`` object's business (``dlcore.training.step``): an
    ``EagerStep`` by default; ``cuda_graph=True`` is short for ``step=GraphStep()`` (CuPy only),
    which captures the step as a CUDA graph and replays it.

    Example::

        >>> x, y = data.xor(64, noise=0.1)
        >>> model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
        >>> trainer = training.Trainer(progress=False, log_every=10)    # a line per 10 epochs on stderr
        >>> history = trainer.fit(model, losses.CrossEntropyLoss(), optim.Adam(model, lr=0.05),
        ...                       data.ArrayLoader(x, y, batch_size=16), epochs=30)
        >>> len(history), history.last["train_accuracy"], history.last["train_loss"] < 0.05
        (30, 1.0, True)
        >>> trainer.evaluate(model, losses.CrossEntropyLoss(), data.ArrayLoader(x, y))["accuracy"]
        1.0
    """

    def __init__(self, callbacks=(), log_every: int = 1, progress: bool | None = None, console=None,
                 cuda_graph: bool = False, step=None):
        if step is not None and cuda_graph:
            raise ArgumentTypeError("Trainer: give step or cuda_graph=True, not both (cuda_graph=True is "
                                    "step=GraphStep())")
        if isinstance(step, type):
            raise ArgumentTypeError(f"Trainer: step is the class {step.__name__}, not an instance of it; make one "
                                    f"first, e.g. {step.__name__}()")
        if step is not None and not (callable(step) and callable(getattr(step, "bind", None))):
            raise ArgumentTypeError(f"Trainer: step must be a training step with bind() and __call__ (EagerStep, "
                                    f"GraphStep), got {_describe(step)}")
        self.callbacks = sorted(callbacks, key=lambda callback: getattr(callback, "order", 0))
        self.log_every = max(1, int(log_every))
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.console = console
        self.step = step if step is not None else GraphStep() if cuda_graph else EagerStep()

    # ---- one epoch ----------------------------------------------------------------------
    def _forward(self, xb, yb):
        """Forward and loss without an update (evaluation): (outputs, loss) tensors."""
        out = self.model(Tensor(xb))
        return out, self.loss(out, yb)

    def _run_epoch(self, loader, train: bool, epoch: int | None, on_step=None) -> dict:
        losses = correct = xp = None
        sizes = []
        for i, (xb, yb) in enumerate(loader):
            if xp is None:
                xp = backends.backend_of(xb).xp
                losses = xp.empty(len(loader), dtype=numpy.float64)
                if yb.dtype.kind in "iu":
                    correct = xp.zeros(len(loader), dtype=numpy.int64)
            out, loss = self.step(xb, yb) if train else self._forward(xb, yb)
            losses[i] = loss.data
            if correct is not None and out.ndim == 2:
                correct[i] = (out.data.argmax(axis=1) == yb).sum()
            sizes.append(len(xb))
            if on_step is not None:
                on_step()
        if xp is None:
            raise ValueError("the loader yielded no batch (empty data set, or drop_last with too few samples)")
        step_losses = backends.to_numpy(losses[:len(sizes)])  # the one host synchronisation of the epoch
        bad = numpy.flatnonzero(~numpy.isfinite(step_losses))
        if bad.size:
            where = "training" if train else "validation"
            when = f"epoch {epoch}, step" if epoch is not None else "evaluation batch"
            raise DivergenceError(
                f"{where} loss became {step_losses[bad[0]]} in {when} {bad[0] + 1} of {len(sizes)}; "
                "lower the learning rate or check the data for NaN/inf (on the GPU, cross-entropy labels "
                "outside [0, classes) also give NaN)")
        weights = numpy.asarray(sizes, dtype=numpy.float64)
        result = {"loss": float(step_losses @ weights / weights.sum())}
        if correct is not None:
            result["accuracy"] = float(backends.to_numpy(correct[:len(sizes)]).sum() / weights.sum())
        return result

    # ---- public ---------------------------------------------------------------------
    def evaluate(self, model, loss, loader, epoch: int | None = None) -> dict:
        """{"loss", "accuracy"?} of ``model`` over ``loader`` in eval mode, without gradients
        (``epoch``: the epoch a NaN loss is reported in, when it runs as part of one)."""
        _check_loader("loader", loader, "Trainer.evaluate")
        self.model, self.loss = model, loss
        model.eval()
        with no_grad():
            return self._run_epoch(loader, train=False, epoch=epoch)

    def callback_states(self) -> dict:
        """{key: state_dict()} of every callback with state; the key is the class name (with
        "#2", "#3", … for a second and third of a class), as ``fit(callback_states=...)`` takes it."""
        states = {}
        for key, callback in self._keyed_callbacks():
            state = callback.state_dict() if hasattr(callback, "state_dict") else {}
            if state:
                states[key] = state
        return states

    def _keyed_callbacks(self):
        seen: dict[str, int] = {}
        for callback in self.callbacks:
            name = type(callback).__name__
            seen[name] = seen.get(name, 0) + 1
            yield (name if seen[name] == 1 else f"{name}#{seen[name]}"), callback

    def fit(self, model, loss, optimizer, train, val=None, epochs: int = 1, history: History | None = None,
            callback_states: dict | None = None) -> History:
        """Train for ``epochs`` more epochs (continuing ``history`` when given); returns the History.

        ``train`` and ``val`` are loaders: iterables with len() of (x_batch, y_batch) pairs, such
        as ``dlcore.data.ArrayLoader``. Arguments of the wrong kind (arrays instead of a
        loader, loss and optimizer swapped, a negative ``epochs``) raise before any work.
        ``callback_states`` (what ``callback_states()`` returned, e.g. from a checkpoint's
        "callbacks") is loaded into the callbacks before the fit starts, so that a resumed run
        continues their schedules, best values and patience counts; a callback without an entry
        starts fresh. A fit continuing a history whose early stopping had already stopped it
        trains no epoch.
        """
        _check_fit_arguments(model, loss, optimizer, train, val, epochs)
        epochs = int(epochs)
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.history = history if history is not None else History()
        self.stop = False
        self.step.bind(model, loss, optimizer, getattr(train, "batch_size", None))
        first = len(self.history) + 1
        for key, callback in self._keyed_callbacks():
            if callback_states and key in callback_states:
                callback.load_state_dict(callback_states[key])
        for callback in self.callbacks:
            callback.on_fit_start(self)
        if self.stop:
            epochs = 0
        else:
            self.history.stopped_epoch = None  # a continued history goes on past an earlier stop
        with _Display(epochs, self.progress, self.console) as display:
            for epoch in range(first, first + epochs):
                self.epoch = epoch
                start = time.perf_counter()
                lr = getattr(optimizer, "lr", None)
                model.train()
                display.begin_epoch(len(train))
                trained = self._run_epoch(train, True, epoch, on_step=display.step)
                row = {"epoch": epoch, **{f"train_{k}": v for k, v in trained.items()}}
                if val is not None:
                    row.update({f"val_{k}": v for k, v in self.evaluate(model, loss, val, epoch).items()})
                row["lr"] = lr
                row["seconds"] = time.perf_counter() - start
                self.history.append(row)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, row)
                    if self.stop:  # recorded at once: a Checkpoint later in the list saves it
                        self.history.stopped_epoch = epoch
                if epoch % self.log_every == 0 or epoch == first + epochs - 1 or self.stop:
                    display.update(epoch - first + 1, row)
                if self.stop:
                    break
        for callback in self.callbacks:
            callback.on_fit_end(self)
        return self.history


def format_row(row: dict) -> str:
    """"epoch=3  train_loss=0.1234 …" for one epoch's dict."""
    parts = []
    for key, value in row.items():
        if key == "seconds" or value is None:
            continue
        parts.append(f"{key}={value:.4g}" if key == "lr" else f"{key}={value:.4f}" if isinstance(value, float)
                     else f"{key}={value}")
    return "  ".join(parts)


class _Display:
    """On a terminal, a bar of epochs and a bar of the current epoch's training steps (a long epoch
    shows it is moving); one plain line per logged epoch otherwise (CI, logs)."""

    def __init__(self, epochs, live: bool, console):
        from rich.console import Console

        self.epochs, self.live = epochs, live
        self.console = console or Console(stderr=True)
        self.bar = None

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description:>5}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task("epoch", total=self.epochs, info="")
            self.steps = self.bar.add_task("step", total=None, info="")
        return self

    def begin_epoch(self, steps: int) -> None:
        """Start the step bar of an epoch of ``steps`` training steps."""
        if self.bar is not None:
            self.bar.reset(self.steps, total=steps)

    def step(self) -> None:
        """One more training step (no device read: a count on the host)."""
        if self.bar is not None:
            self.bar.advance(self.steps)

    def update(self, done, row):
        if self.bar is not None:
            self.bar.update(self.task, completed=done, info=format_row(row))
        else:
            self.console.print(format_row(row), highlight=False, soft_wrap=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def summary_table(history: History, title: str = "summary", extra: dict | None = None):
    """A rich Table of the last epoch's values (and the best epoch, when known) plus ``extra`` rows.

    Example::

        >>> history = training.History([{"epoch": 1, "train_loss": 0.9, "val_loss": 1.0},
        ...                             {"epoch": 2, "train_loss": 0.5, "val_loss": 0.7}])
        >>> table = training.summary_table(history, extra={"test_loss": 0.75})
        >>> list(table.columns[0].cells), list(table.columns[1].cells)    # rich.console.Console().print(table) draws it
        (['train_loss', 'val_loss', 'epochs', 'test_loss'], ['0.5000', '0.7000', '2', '0.7500'])
    """
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in history.last.items():
        if key not in ("epoch", "seconds", "lr") and value is not None:
            table.add_row(key, f"{value:.4f}")
    table.add_row("epochs", str(len(history)))
    if history.best_epoch is not None:
        table.add_row("best epoch", str(history.best_epoch))
    for key, value in (extra or {}).items():
        table.add_row(key, value if isinstance(value, str) else f"{value:.4f}")
    return table


__all__ = ["Trainer", "DivergenceError", "METRICS", "format_row", "summary_table"]
