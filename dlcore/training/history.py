"""``History``: what happened in each epoch of a fit."""
from __future__ import annotations

import json
from pathlib import Path

from dlcore.io import write_text_atomic


class History:
    """One dict per epoch (epoch, train_loss, train_accuracy?, val_*, lr, seconds).

    ``history["val_loss"]`` is the list of that value over epochs; ``best(monitor, mode)``
    the (epoch, value) of the best one; ``save(path)`` writes JSON atomically.

    Example::

        >>> history = training.History([{"epoch": 1, "val_loss": 0.9}, {"epoch": 2, "val_loss": 0.4},
        ...                             {"epoch": 3, "val_loss": 0.5}])
        >>> history["val_loss"], history.best("val_loss")
        ([0.9, 0.4, 0.5], (2, 0.4))
        >>> len(history), history.last
        (3, {'epoch': 3, 'val_loss': 0.5})
    """

    def __init__(self, rows=None):
        self.rows: list[dict] = list(rows or [])
        self.best_epoch: int | None = None     # set by EarlyStopping
        self.stopped_epoch: int | None = None  # set when a callback stopped the fit early

    def append(self, row: dict) -> None:
        self.rows.append(row)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, key):
        if isinstance(key, int):
            return self.rows[key]
        return [row.get(key) for row in self.rows]

    @property
    def last(self) -> dict:
        return self.rows[-1] if self.rows else {}

    def best(self, monitor: str = "val_loss", mode: str = "min") -> tuple[int, float]:
        """(epoch, value) of the best ``monitor`` value ("min" or "max")."""
        rows = [r for r in self.rows if r.get(monitor) is not None]
        if not rows:
            raise KeyError(f"history has no {monitor!r}; it has {sorted(self.rows[0]) if self.rows else []}")
        row = (min if mode == "min" else max)(rows, key=lambda r: r[monitor])
        return row["epoch"], row[monitor]

    def to_dict(self) -> dict:
        return {"epochs": self.rows, "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch}

    def save(self, path) -> None:
        """Write the history as JSON: to a temporary file first, then renamed over ``path``."""
        write_text_atomic(path, json.dumps(self.to_dict(), indent=1))

    @classmethod
    def from_dict(cls, data: dict) -> History:
        """The History whose ``to_dict()`` is ``data``."""
        history = cls(data["epochs"])
        history.best_epoch, history.stopped_epoch = data.get("best_epoch"), data.get("stopped_epoch")
        return history

    @classmethod
    def load(cls, path) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))
