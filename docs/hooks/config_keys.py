"""MkDocs hook: the table of every run-config key, made at build time from the library itself.

``<!-- config-keys -->`` in a page becomes one table per section of
``dlcore.training.runconfig.SCHEMA``: key, default, type, valid values (``RANGES`` and
``choices()``), whether ``--set`` may change it on ``--resume`` (``RESUMABLE``) and what it does.
Every key of the schema gets a row; ``tests/test_docs.py`` fails when one has no line in
``MEANING`` (a key added to the schema) or ``MEANING`` names a key the schema no longer has.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = str(Path(__file__).resolve().parents[2])
if ROOT not in sys.path:  # the source tree's dlcore, whichever directory mkdocs was started from
    sys.path.insert(0, ROOT)

MARKER = "<!-- config-keys -->"

MEANING = {
    "run.name": "the run's name: its folder is `<out_dir>/<name>-<timestamp>/`",
    "run.seed": "seed of every random generator (weights, shuffling, dropout, augmentation)",
    "run.backend": "where it trains: `auto` picks CuPy when a CUDA device answers, else NumPy",
    "run.out_dir": "the folder that receives the run folders",
    "run.cuda_graph": "capture the whole training step as a CUDA graph (CuPy only; ignored with a log line on the CPU; refused with Adam or dropout)",
    "run.tf32": "let cuBLAS/cuDNN use TF32 tensor cores for float32 (relative error about 1e-3)",
    "data.name": "a built-in data set (not used when `data.path` is set)",
    "data.n_samples": "size of a generated set (xor, spiral, sine)",
    "data.noise": "noise of a generated set",
    "data.seed": "seed of the generated set and of the train/validation/test cut",
    "data.val_fraction": "part of the data held out for validation",
    "data.test_fraction": "part of the data held out for the final test",
    "data.limit": "Fashion-MNIST: at most this many images of the 60k training and 10k test sets (0: all)",
    "data.standardize": "standardize the features with the training part's mean and standard deviation",
    "data.task": "`classify` (integer labels), `regress` (numeric targets) or `segment` (image → mask)",
    "data.image_noise": "segmentation: standard deviation of the noise added to the input images",
    "data.mask_threshold": "segmentation: the target mask is the clean image > this value",
    "data.labels_per_class": "keep only this many labels per class for (fine-)tuning (0: all)",
    "data.flip": "image classifiers: random horizontal flips of the training batches, on the device",
    "data.shift": "image classifiers: random moves by up to this many pixels (zero fill)",
    "data.path": "your own data: a CSV/TSV table, a `.npz` with arrays `x` and `y`, or a folder of images with one sub-folder per class",
    "data.target": "CSV/TSV: the label (or target) column",
    "data.features": "CSV/TSV: the input columns (empty: every column but the target)",
    "data.image_size": "image folders: resize every image to this many pixels squared (0: keep; all must agree)",
    "model.kind": "the architecture (`dlcore.models.build`)",
    "model.hidden": "MLP: the widths of the hidden layers; rnn/lstm/gru: `[H] * layers`, the state width H once per stacked layer",
    "model.activation": "MLP: the hidden layers' activation",
    "model.weight_init": "MLP: the initialiser of the weights (empty: the model's default)",
    "model.dropout": "dropout probability (0: the kind's own default: AlexNet-small's 0.5, none in an MLP; between stacked recurrent layers)",
    "model.batch_norm": "MLP: BatchNorm1d after each hidden linear layer",
    "model.depth": "ResNet: depth (20, 32, …); U-Net: number of down/up levels",
    "model.base_channels": "ResNet and U-Net: channels of the first stage (doubled at each level)",
    "pretrain.method": "`dbn` (stacked RBMs) or `sae` (stacked autoencoders) greedy pre-training of the MLP's hidden layers before fine-tuning; `none`",
    "pretrain.epochs": "pre-training epochs per layer",
    "pretrain.batch_size": "pre-training batch size",
    "pretrain.lr": "pre-training learning rate",
    "pretrain.k": "DBN: Gibbs steps of contrastive divergence (CD-k)",
    "pretrain.corruption": "SAE: fraction of the inputs masked (denoising autoencoders when > 0)",
    "loss.name": "the loss (`dlcore.losses.LOSSES`)",
    "optim.name": "the optimizer (`dlcore.optim.OPTIMIZERS`)",
    "optim.lr": "learning rate (on resume: the schedule follows it from the next epoch)",
    "optim.momentum": "momentum of `momentum` and `nesterov`",
    "optim.weight_decay": "L2 regularisation strength",
    "optim.l1": "L1 regularisation strength",
    "schedule.name": "learning-rate schedule: `step` (StepLR), `exponential` (ExponentialLR), `cosine` (CosineLR) or `none`",
    "schedule.step_size": "StepLR: epochs between decays",
    "schedule.gamma": "StepLR/ExponentialLR: the decay factor",
    "schedule.t_max": "CosineLR: epochs of the half cosine (0: `train.epochs`)",
    "schedule.eta_min": "CosineLR: the smallest learning rate",
    "early_stopping.patience": "stop after this many epochs without improvement and restore the best weights (0: off)",
    "early_stopping.monitor": "the history entry watched",
    "early_stopping.min_delta": "the smallest change that counts as an improvement",
    "train.epochs": "number of epochs",
    "train.batch_size": "mini-batch size",
    "train.log_every": "log one line every this many epochs",
    "distributed.enabled": "data-parallel training over MPI ranks (also `--distributed`)",
    "distributed.even": "how shards of unequal size are evened: `pad` (repeat the first samples) or `truncate`",
    "distributed.sync_batch_norm": "BatchNorm statistics over all ranks",
}


def _keys(schema: dict) -> list[str]:
    return [f"{section}.{key}" for section, keys in schema.items() for key in keys]


def _resumable(key: str, resumable) -> bool:
    return any(key == r or (r.endswith(".*") and key.startswith(r[:-1])) for r in resumable)


def _valid(key: str, default, ranges: dict, choices: dict) -> str:
    if key in choices:
        return ", ".join(f"`{c}`" if c else "`\"\"`" for c in choices[key])
    if key in ranges:
        low, high = ranges[key]
        return f"≥ {low}" if high is None else f"[{low}, {high})"
    if isinstance(default, bool):
        return "`true`, `false`"
    return ""


def table() -> str:
    """The Markdown tables of every config key."""
    from dlcore.training import runconfig

    choices = runconfig.choices()
    out = []
    for section, entries in runconfig.SCHEMA.items():
        out += [f"### `[{section}]`", "", "| key | default | type | valid | on resume | what |",
                "| --- | --- | --- | --- | --- | --- |"]
        for key, default in entries.items():
            full = f"{section}.{key}"
            out.append(f"| `{full}` | `{json.dumps(default)}` | {type(default).__name__} | "
                       f"{_valid(full, default, runconfig.RANGES, choices)} | "
                       f"{'may change' if _resumable(full, runconfig.RESUMABLE) else 'fixed'} | {MEANING.get(full, '')} |")
        out.append("")
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs) -> str:
    if MARKER in markdown:
        return markdown.replace(MARKER, table())
    return markdown
