"""A run from a validated config: data, model, loss, optimizer, callbacks and a run directory.

``execute(cfg)`` (optionally after greedy layer-wise pre-training, ``[pretrain]``) trains and
writes ``<out_dir>/<name>-<timestamp>/`` with the resolved config, ``history.json``,
``metrics.json``, checkpoints (``last.npz``, ``best.npz``) and plots; ``execute(cfg, run_dir,
resume_from=run_dir / "last.npz")`` continues such a run (on the CPU the resumed epochs equal
those of an uninterrupted run bit for bit: weights, optimizer state, every random generator and
the callbacks' state all come back).
"""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

import numpy
from rich.console import Console

import backends
from dlcore import io
from dlcore.data import ArrayLoader, prepare
from dlcore.distributed import DistributedOptimizer, LocalCommunicator, ShardedLoader, sync_batch_norm
from dlcore.io import write_text_atomic
from dlcore.random import manual_seed
from dlcore.training import plots, saved
from dlcore.training.build import (build_augmentation, build_early_stopping, build_loss, build_model, build_optimizer,
                                   build_schedule, check_loss_fits, from_config, prepare_data, pretrained_model)
from dlcore.training.callbacks import Callback, Checkpoint
from dlcore.training.history import History
from dlcore.training.runconfig import ConfigError, check_cuda_graph_model
from dlcore.training.trainer import Trainer

_log = logging.getLogger("dlcore")


class _RankMean(Callback):
    """Data-parallel runs: each rank's training loss/accuracy (its own shard) → the mean over ranks.

    Every rank holds the same number of samples per epoch, so the mean of the ranks' means is
    the mean over the whole epoch; validation already runs on the whole validation set on
    every rank (identical weights, identical numbers)."""

    def __init__(self, comm):
        self.comm = comm

    def on_epoch_end(self, trainer, row):
        for key in ("train_loss", "train_accuracy"):
            if key in row:
                row[key] = float(self.comm.allreduce_mean(row[key]))


def _rng_state(loader) -> dict:
    state = {"loader": loader.generator.bit_generator.state}
    backend = backends.current()
    if backend.name == "numpy":
        state["backend"] = backend.generator.bit_generator.state
    return state


def _set_rng_state(loader, state: dict) -> None:
    loader.generator.bit_generator.state = state["loader"]
    if "backend" in state and backends.current().name == "numpy":
        backends.current().generator.bit_generator.state = state["backend"]


def _resumed_history(path: Path, meta: dict) -> History:
    """The History a checkpoint's meta carries; CheckpointError when it has none (not a run's checkpoint)."""
    if not isinstance(meta.get("history"), dict) or "rng" not in meta:
        raise io.CheckpointError(f"{path}: not a checkpoint of a training run (it has no history and random "
                                 f"generator states to resume from)")
    return History.from_dict(meta["history"])


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: ``run_dir``'s ``last.npz`` holds the last finished epoch, to resume from."""

    def __init__(self, run_dir: Path):
        super().__init__(f"interrupted; {run_dir}/last.npz holds the last finished epoch: continue with "
                         f"--resume {run_dir}")
        self.run_dir = run_dir


def new_run_dir(out_dir: Path, name: str) -> Path:
    """A fresh ``out_dir/name-YYYYmmdd-HHMMSS`` folder (with -2, -3, … when that second is taken)."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise ConfigError(f"run.out_dir = {str(out_dir)!r} is not a folder (a file has its name or is on "
                          f"its path); choose another run.out_dir") from None
    stem = f"{name}-{datetime.now().strftime('%Y%m%d-%H%M%S')}"
    for attempt in range(1, 1000):
        path = out_dir / (stem if attempt == 1 else f"{stem}-{attempt}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(f"could not make a new run directory for {stem} in {out_dir}")


def execute(cfg: dict, run_dir: Path | None = None, resume_from: Path | None = None, console=None,
            comm=None) -> dict:
    """Train the run ``cfg`` describes; returns the summary (also written to metrics.json).

    With a communicator ``comm`` (``distributed.enabled``; any size, 1 included) every rank trains on its
    shard with averaged gradients; only rank 0 writes the run directory and logs. ``run.tf32``
    allows TF32 math on the GPU for this run (``backends.precision``).
    """
    with backends.tf32(cfg["run"]["tf32"] or backends.tf32_enabled()):
        return _train_and_report(cfg, run_dir, resume_from, console, comm)


def _train_and_report(cfg, run_dir, resume_from, console, comm) -> dict:
    comm = comm or LocalCommunicator()
    if comm.distributed and cfg["pretrain"]["method"] != "none":
        raise ConfigError("pretrain and distributed runs cannot be combined yet; pre-train in one process")
    manual_seed(cfg["run"]["seed"])
    data = prepare_data(cfg)
    (x_train, y_train), (x_val, y_val) = data["train"], data["val"]
    n_out = data["preprocessing"].outputs
    pretrain_errors = None
    if cfg["pretrain"]["method"] != "none" and resume_from is None:
        model, pretrain_errors = pretrained_model(cfg, x_train, n_out, console)  # all training inputs, no labels
    else:
        model = build_model(cfg, x_train.shape[1:], n_out)
    if data["task"] == "classify" and cfg["data"]["labels_per_class"]:
        x_train, y_train = prepare.labelled_subset(x_train, y_train, cfg["data"]["labels_per_class"],
                                                   cfg["data"]["seed"])
    loss, optimizer = build_loss(cfg), build_optimizer(cfg, model)
    loader, optimizer = _training_loader(cfg, model, optimizer, x_train, y_train, data["task"], comm)
    val_loader = ArrayLoader(x_val, y_val, 1024, shuffle=False) if len(x_val) else None
    check_loss_fits(cfg, model, loss, x_train, y_train, data["task"])
    check_cuda_graph_model(cfg, model)

    history = callback_states = None
    if resume_from is not None:
        history, callback_states = _resume(cfg, run_dir, resume_from, model, optimizer, loader, comm)
    done = len(history) if history is not None else 0
    run_dir = _run_folder(cfg, run_dir, data["preprocessing"], comm)  # a resume writes only once the checkpoint loaded

    callbacks = [_RankMean(comm)] if comm.distributed else []
    if comm.is_main:
        callbacks.append(Checkpoint(run_dir, extra=lambda: {"rng": _rng_state(loader)}))
    callbacks += [c for c in (build_early_stopping(cfg, val_loader is not None), build_schedule(cfg)) if c]
    trainer = Trainer(callbacks, log_every=cfg["train"]["log_every"], progress=None if comm.is_main else False,
                      console=console if comm.is_main else Console(quiet=True), cuda_graph=_cuda_graph(cfg, comm))
    start = time.perf_counter()
    try:
        history = trainer.fit(model, loss, optimizer, loader, val_loader, max(0, cfg["train"]["epochs"] - done),
                              history, callback_states)
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None
    return _report(cfg, run_dir, model, history, data, time.perf_counter() - start, pretrain_errors, comm)


def _training_loader(cfg, model, optimizer, x, y, task, comm):
    """(loader, optimizer) of the training set: an ArrayLoader, or in a data-parallel run this rank's
    ShardedLoader with the model's parameters broadcast and the optimizer averaging gradients."""
    augmentation = build_augmentation(cfg, x, task)
    if not comm.distributed:
        with from_config(cfg, "train.batch_size"):
            return ArrayLoader(x, y, cfg["train"]["batch_size"], shuffle=True, seed=cfg["run"]["seed"],
                               transform=augmentation), optimizer
    if cfg["distributed"]["sync_batch_norm"]:
        sync_batch_norm(model, comm)  # BatchNorm statistics over the global batch
    comm.broadcast_parameters(model)
    with from_config(cfg, "train.batch_size", "distributed.even"):
        loader = ShardedLoader(x, y, cfg["train"]["batch_size"], comm=comm, seed=cfg["run"]["seed"],
                               even=cfg["distributed"]["even"], transform=augmentation)
    return loader, DistributedOptimizer(optimizer, comm)


def _resume(cfg, run_dir, checkpoint, model, optimizer, loader, comm):
    """(history, callback states) of the run in ``run_dir``, its ``checkpoint`` loaded into the model,
    optimizer and loader; temporary files a killed save left are removed first."""
    if comm.is_main:
        io.remove_temporaries(run_dir)
    meta = io.restore(checkpoint, model, optimizer)
    optimizer.lr = cfg["optim"]["lr"]  # a resume may change it; a schedule derives the next epoch's lr from it
    history = _resumed_history(checkpoint, meta)
    _set_rng_state(loader, meta["rng"])
    return history, meta.get("callbacks", {})


def _run_folder(cfg, run_dir, preprocessing, comm) -> Path:
    """The run's folder (a new one unless resuming), the same on every rank, with ``config.json`` and
    ``preprocessing.json`` (what ``dlcore.load_run`` needs to use the model on new raw data) written."""
    if run_dir is None and comm.is_main:
        run_dir = new_run_dir(Path(cfg["run"]["out_dir"]), cfg["run"]["name"])
    run_dir = Path(comm.bcast_object(str(run_dir) if comm.is_main else None))
    if comm.is_main:
        write_text_atomic(run_dir / "config.json", json.dumps(cfg, indent=1))
        write_text_atomic(run_dir / "preprocessing.json", json.dumps(preprocessing.to_dict()))
    return run_dir


def _cuda_graph(cfg, comm) -> bool:
    """Whether the Trainer captures the step: ``run.cuda_graph`` on CuPy (logged and ignored on NumPy)."""
    backend = backends.current()
    if cfg["run"]["cuda_graph"] and backend.name != "cupy" and comm.is_main:
        _log.info("run.cuda_graph = true: the %s backend has no CUDA graphs; training eagerly", backend.name)
    return cfg["run"]["cuda_graph"] and backend.name == "cupy"


def _report(cfg, run_dir, model, history, data, seconds, pretrain_errors, comm) -> dict:
    """The run's summary, with its test-set scores; rank 0 writes history, metrics and plots."""
    backend = backends.current()
    test = data["test"]
    x_test, y_test = test
    scores, matrix = ({}, None) if not len(x_test) else saved.scores(
        saved.model_outputs(model, x_test), backend.from_numpy(y_test), data["task"], data["classes"])
    summary = {"config": cfg["run"]["name"], "backend": backend.name, "device": backend.device_name,
               "epochs": len(history), "seconds": round(seconds, 3),
               "train_loss": history.last.get("train_loss"), "val_loss": history.last.get("val_loss"),
               "best_epoch": history.best_epoch, **{f"test_{k}": v for k, v in scores.items()},
               "run_dir": str(run_dir), "ranks": comm.size}
    if not comm.is_main:
        return summary
    history.save(run_dir / "history.json")
    if pretrain_errors is not None:
        summary["pretrain_final_errors"] = [float(errors[-1]) for errors in pretrain_errors]
        write_text_atomic(run_dir / "pretrain.json", json.dumps({"errors": pretrain_errors}, indent=1))
    write_text_atomic(run_dir / "metrics.json", json.dumps(summary, indent=1))
    plots.learning_curves(history, run_dir / "learning_curves.png", title=cfg["run"]["name"])
    if matrix is not None:
        plots.confusion_matrix(numpy.asarray(matrix).tolist(), run_dir / "confusion_matrix.png")
    return summary
