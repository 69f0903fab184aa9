"""A finished run, used afterwards: its model with the weights and the preprocessing it was trained with.

    run = dlcore.load_run("runs/iris-20261203-101500")   # best.npz (or last.npz)
    run.predict(x_raw)        # class labels (the names from the data), values, or masks
    run.outputs(x_raw)        # the model's raw outputs (logits, values)
    run.evaluate(x_raw, y)    # {"accuracy", "f1_macro"} or {"mse", …} or {"mean_iou"}

Raw inputs are what the run's data held before its preprocessing (standardisation with the
training split's statistics, reshaping to images): ``Preprocessing.apply`` repeats it.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy

import backends
from dlcore import io, metrics
from dlcore.checks import ArgumentValueError
from dlcore.modes import no_grad
from dlcore.core import Tensor
from dlcore.data.prepare import Preprocessing
from dlcore.training import runconfig
from dlcore.training.build import build_model

BATCH = 1024


def model_outputs(model, x, batch_size: int = BATCH):
    """``model`` (eval mode, no gradients) on the host array ``x`` in batches: the outputs on the device."""
    backend = backends.current()
    model.eval()
    with no_grad():
        parts = [model(Tensor(backend.from_numpy(x[i:i + batch_size]))).data for i in range(0, len(x), batch_size)]
    return parts[0] if len(parts) == 1 else backend.xp.concatenate(parts)


def scores(out, y, task: str, classes: int | None) -> tuple[dict, object]:
    """Metrics of outputs ``out`` against targets ``y`` (device arrays) and, for classification, the
    confusion matrix: accuracy and macro F1 (classify), MSE/RMSE/MAE/R² (regress), mean IoU of
    out > 0 (segment)."""
    if task == "segment":
        return {"mean_iou": metrics.mean_iou(y, out > 0)}, None
    if classes is None:
        return {name: getattr(metrics, name)(y, out) for name in ("mse", "rmse", "mae", "r2_score")}, None
    matrix = metrics.confusion_matrix(y, out, num_classes=classes)
    return {"accuracy": metrics.accuracy(y, out), "f1_macro": metrics.f1_score(y, out, average="macro")}, matrix


class SavedRun:
    """A run folder's model (on the current backend, eval mode), ``config``, ``preprocessing``,
    ``classes`` (class index → label, or None) and ``task``."""

    def __init__(self, model, config: dict, preprocessing: Preprocessing, weights: Path):
        self.model, self.config, self.preprocessing, self.weights = model, config, preprocessing, weights
        self.task, self.classes = preprocessing.task, preprocessing.classes

    def outputs(self, x):
        """The model's outputs (NumPy) for raw inputs ``x``: logits, values or mask logits."""
        return backends.to_numpy(model_outputs(self.model, self.preprocessing.apply(x)))

    def predict(self, x):
        """Predictions for raw inputs ``x``: class labels (the data's names; indices when it had none)
        for classification, values for regression, 0/1 masks for segmentation."""
        out = self.outputs(x)
        if self.task == "segment":
            return (out > 0).astype(numpy.uint8)
        if self.task != "classify":
            return out
        index = out.argmax(axis=1)
        return numpy.asarray(self.classes, dtype=object)[index] if self.classes else index

    def evaluate(self, x, y) -> dict:
        """The run's test metrics on raw inputs ``x`` and targets ``y`` (labels by name or index)."""
        if self.task == "classify" and self.classes:
            y = self.label_indices(y)
        backend = backends.current()
        out = model_outputs(self.model, self.preprocessing.apply(x))
        y = numpy.asarray(y, numpy.int64 if self.task == "classify" else numpy.float32)
        if self.task == "regress":
            y = y.reshape(len(y), -1)
        return scores(out, backend.from_numpy(y), self.task,
                      self.preprocessing.outputs if self.task == "classify" else None)[0]

    def label_indices(self, labels):
        """Class indices of ``labels`` given by name (or already as indices)."""
        labels = numpy.asarray(labels)
        if labels.dtype.kind in "iu":
            return labels.astype(numpy.int64)
        index = {str(name): i for i, name in enumerate(self.classes)}
        unknown = sorted({str(v) for v in labels} - set(index))
        if unknown:
            raise ArgumentValueError(f"SavedRun.evaluate: labels {', '.join(map(repr, unknown[:5]))} are not "
                                     f"classes of this run ({', '.join(map(str, self.classes))})")
        return numpy.array([index[str(v)] for v in labels], numpy.int64)


def load_run(run_dir, weights: str = "best") -> SavedRun:
    """The model of the run in ``run_dir`` built from its ``config.json``, with the weights of
    ``best.npz`` (``weights="best"``, falling back to ``last.npz`` when there is no best) or
    ``last.npz``, and its ``preprocessing.json``; on the current backend. A folder that is not a
    finished run, or damaged files in it, raise a one-line UserError naming the file."""
    run_dir = Path(run_dir)
    if weights not in ("best", "last"):
        raise ValueError(f"load_run: weights must be 'best' or 'last', got {weights!r}")
    config = runconfig.load_run(run_dir)
    path = run_dir / "preprocessing.json"
    try:
        preprocessing = Preprocessing.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise runconfig.ConfigError(f"{path} is missing: the run was made by a dlcore older than load_run, or did "
                                    f"not get past its start; train it again to use it") from None
    except (ValueError, TypeError) as why:
        raise runconfig.ConfigError(f"{path} is damaged ({why})") from None
    checkpoint = run_dir / f"{weights}.npz"
    if weights == "best" and not checkpoint.exists():
        checkpoint = run_dir / "last.npz"
    if not checkpoint.is_file():
        raise runconfig.ConfigError(f"{checkpoint} is missing: the run saved no weights (it did not finish its "
                                    f"first epoch); train it again to use it")
    sample = preprocessing.apply(numpy.zeros((1, *preprocessing.input_shape), numpy.float32))
    model = build_model(config, sample.shape[1:], preprocessing.outputs).to(backends.current().name)
    io.restore(checkpoint, model)
    model.eval()
    return SavedRun(model, config, preprocessing, checkpoint)
