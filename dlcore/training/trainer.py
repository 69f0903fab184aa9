"""Mini-batch training with device-side accumulation and a rich progress display."""
from __future__ import annotations

import math
import sys
import time

import backends
from dlcore.config import no_grad
from dlcore.core import Tensor


class Trainer:
    """Runs epochs of forward, backward and optimizer steps over a loader.

    Losses and correct-prediction counts accumulate on the device; they reach the host
    once per epoch, so a step never waits for the GPU. Accuracy is reported when the
    targets are integer class labels. A non-finite epoch loss stops training with an error
    naming the epoch. ``cuda_graph=True`` (CuPy only) captures the training step once per
    batch shape and replays it (``dlcore.cuda_graph``); a final short batch runs eagerly.
    """

    def __init__(self, model, loss, optimizer, log_every: int = 1, progress: bool | None = None, console=None,
                 cuda_graph: bool = False):
        self.model, self.loss, self.optimizer = model, loss, optimizer
        self.log_every = max(1, int(log_every))
        self.progress = sys.stderr.isatty() if progress is None else progress
        self.console = console
        self.cuda_graph = cuda_graph
        self._graph = None

    def _step(self, xb, yb, train: bool):
        """Forward (and backward and update when training): (outputs, loss) tensors."""
        out = self.model(Tensor(xb))
        loss = self.loss(out, yb)
        if train:
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        return out, loss

    def _replayed_step(self, xb, yb):
        """The training step as a replayed CUDA graph, captured on the first batch of each shape."""
        if self._graph is None or self._graph[0].shape != xb.shape or self._graph[1].shape != yb.shape:
            from dlcore.cuda_graph import CapturedStep

            x_buf, y_buf = xb.copy(), yb.copy()
            step = CapturedStep(lambda: self._step(x_buf, y_buf, True), restore=(self.model, self.optimizer))
            self._graph = (x_buf, y_buf, step)
        x_buf, y_buf, step = self._graph
        x_buf[...] = xb
        y_buf[...] = yb
        return step()

    def _run_epoch(self, loader, train: bool):
        total = correct = None
        for xb, yb in loader:
            if train and self.cuda_graph and len(xb) == loader.batch_size:
                out, loss = self._replayed_step(xb, yb)
            else:
                out, loss = self._step(xb, yb, train)
            batch_loss = loss.data * len(xb)
            total = batch_loss if total is None else total + batch_loss
            if yb.dtype.kind in "iu" and out.ndim == 2:
                hits = (out.data.argmax(axis=1) == yb).sum()
                correct = hits if correct is None else correct + hits
        n = loader.n_samples if not getattr(loader, "drop_last", False) else len(loader) * loader.batch_size
        result = {"loss": float(total) / n}  # the one host synchronisation of the epoch
        if correct is not None:
            result["accuracy"] = int(correct) / n
        return result

    def evaluate(self, loader) -> dict:
        """{"loss", "accuracy"?} of the model over ``loader`` in eval mode, without gradients."""
        self.model.eval()
        with no_grad():
            return self._run_epoch(loader, train=False)

    def fit(self, train_loader, epochs: int, val_loader=None) -> list[dict]:
        """Train for ``epochs``; returns one dict per epoch (train_loss, train_accuracy, val_*, seconds)."""
        history = []
        display = _Display(epochs, self.progress, self.console)
        with display:
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                self.model.train()
                row = {"epoch": epoch, **{f"train_{k}": v for k, v in self._run_epoch(train_loader, True).items()}}
                if not math.isfinite(row["train_loss"]):
                    raise FloatingPointError(f"training loss became {row['train_loss']} in epoch {epoch}; "
                                             f"lower the learning rate or check the data for NaN/inf")
                if val_loader is not None:
                    row.update({f"val_{k}": v for k, v in self.evaluate(val_loader).items()})
                backends.backend_of(train_loader.x).synchronize()
                row["seconds"] = time.perf_counter() - start
                history.append(row)
                if epoch % self.log_every == 0 or epoch == epochs:
                    display.update(epoch, row)
        return history


def format_row(row: dict) -> str:
    return "  ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in row.items() if k != "seconds")


class _Display:
    """An epoch progress bar on a terminal; one plain line per logged epoch otherwise."""

    def __init__(self, epochs, live: bool, console):
        from rich.console import Console

        self.epochs, self.live = epochs, live
        self.console = console or Console(stderr=True)
        self.bar = None

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("epoch"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                TextColumn("{task.fields[info]}"), console=self.console)
            self.bar.start()
            self.task = self.bar.add_task("train", total=self.epochs, info="")
        return self

    def update(self, epoch, row):
        if self.bar is not None:
            self.bar.update(self.task, completed=epoch, info=format_row(row))
        else:
            self.console.print(format_row(row), highlight=False, soft_wrap=True)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False
