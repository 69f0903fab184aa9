"""Pictures of a run: learning curves and the confusion matrix (needs matplotlib, extra ``plot``).

Without matplotlib the functions warn once and return None; training is unaffected.
"""
from __future__ import annotations

import warnings
from pathlib import Path

from dlcore.io import atomic_write

_warned = False


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend, or None (with one warning) without matplotlib."""
    global _warned
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        return plt
    except ImportError:
        if not _warned:
            warnings.warn("matplotlib is not installed: no plots are written (in the dlcore source tree: "
                          "pip install -e '.[plot]')",
                          stacklevel=3)
            _warned = True
        return None


def save_figure(fig, path) -> Path:
    """Render the matplotlib figure ``fig`` as a PNG at ``path`` (atomically: temporary file, then
    rename) and close it; returns the path."""
    try:
        with atomic_write(path, "wb") as f:
            fig.savefig(f, format="png", dpi=110, bbox_inches="tight")
    finally:
        import matplotlib.pyplot as plt

        plt.close(fig)
    return Path(path)


def learning_curves(history, path, title: str = "") -> Path | None:
    """Loss (and accuracy when recorded) per epoch, train vs validation, the best epoch marked."""
    plt = pyplot()
    if plt is None:
        return None
    metrics = ["loss"] + (["accuracy"] if history.last.get("train_accuracy") is not None else [])
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 4), squeeze=False)
    epochs = history["epoch"]
    for ax, metric in zip(axes[0], metrics):
        for split, style in (("train", "-"), ("val", "--")):
            values = history[f"{split}_{metric}"]
            if any(v is not None for v in values):
                ax.plot(epochs, values, style, label=split)
        if history.best_epoch is not None:
            ax.axvline(history.best_epoch, color="grey", linestyle=":", label=f"best epoch {history.best_epoch}")
        ax.set_xlabel("epoch")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def confusion_matrix(matrix, path, title: str = "confusion matrix") -> Path | None:
    """The matrix as an image, rows = true class, columns = predicted, counts written in the cells."""
    plt = pyplot()
    if plt is None:
        return None
    n = len(matrix)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * n, 0.8 + 0.5 * n))
    ax.imshow(matrix, cmap="Blues")
    for i in range(n):
        for j in range(n):
            ax.text(j, i, str(int(matrix[i][j])), ha="center", va="center", fontsize=8,
                    color="white" if matrix[i][j] > 0.5 * max(map(max, matrix)) else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_title(title)
    return save_figure(fig, path)


def tiles(images, path, image_shape=(28, 28), columns: int = 10, title: str = "") -> Path | None:
    """Images (n, h·w) as a grid of grey tiles, each scaled to its own min–max (filters, samples)."""
    plt = pyplot()
    if plt is None:
        return None
    import numpy

    images = numpy.asarray(images, dtype=numpy.float64).reshape(-1, *image_shape)
    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(columns * 0.9, rows * 0.9 + (0.4 if title else 0)),
                             squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image in zip(axes.flat, images):
        low, high = image.min(), image.max()
        ax.imshow((image - low) / (high - low) if high > low else image * 0, cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
