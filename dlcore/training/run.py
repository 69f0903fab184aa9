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
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import numpy
from rich.console import Console

import backends
import dlcore
from dlcore import io, losses, metrics, models, optim
from dlcore.config import no_grad
from dlcore.core import Tensor
from dlcore.data import DATASETS, ArrayLoader, CorruptDatasetError, FlipShift, prepare, standardize
from dlcore.distributed import DistributedOptimizer, LocalCommunicator, ShardedLoader, sync_batch_norm
from dlcore.training import plots
from dlcore.training.callbacks import Callback, Checkpoint, CosineLR, EarlyStopping, ExponentialLR, StepLR
from dlcore.training.history import History, write_text_atomic
from dlcore.training.runconfig import ConfigError, model_dropout
from dlcore.training.trainer import Trainer
from dlcore.unsupervised import StackedAutoencoder

_log = logging.getLogger("dlcore")


@contextmanager
def from_config(cfg, *keys):
    """A ValueError or KeyError raised while building from ``keys`` ("section.key") becomes a
    ConfigError that names them and their values: the user's config, not the library's argument,
    is what to fix. Other exceptions (bugs) pass through unchanged."""
    try:
        yield
    except (ConfigError, CorruptDatasetError):  # they name their cause already
        raise
    except (ValueError, KeyError) as error:
        values = ", ".join(f"{key} = {cfg[key.split('.')[0]][key.split('.')[1]]!r}" for key in keys)
        reason = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise ConfigError(f"{values}: {reason}") from error


def prepare_data(cfg) -> dict:
    """{"train", "val", "test": (x, y) NumPy pairs, "classes": int or None, "task"}: the steps of
    ``dlcore.data.prepare`` as ``[data]`` and ``model.kind`` ask, an error naming the keys to change."""
    data = cfg["data"]
    if data["task"] not in ("classify", "segment"):
        raise ConfigError(f"data.task {data['task']!r} is unknown; choose classify or segment")
    sizes = ("data.n_samples", "data.noise") if data["name"] in DATASETS else ()
    with from_config(cfg, "data.name", *sizes):
        x, y, own_test = prepare.load_set(data["name"], data["seed"], n_samples=data["n_samples"],
                                          noise=data["noise"], limit=data["limit"])
    fractions = ("data.val_fraction",) if own_test is not None else ("data.val_fraction", "data.test_fraction")
    with from_config(cfg, *fractions):
        parts = prepare.cut(x, y, own_test, data["val_fraction"], data["test_fraction"], data["seed"])
    if data["standardize"]:
        parts = [(x, y) for x, (_, y) in zip(standardize(*(x for x, _ in parts)), parts)]
    if cfg["model"]["kind"] in models.IMAGE_MODELS:
        with from_config(cfg, "data.name", "model.kind"):
            parts = [(prepare.as_images(x, data["name"]), y) for x, y in parts]
    if data["task"] == "segment":
        parts = prepare.segmentation(parts, data["image_noise"], data["mask_threshold"], data["seed"] + 1)
        classes, task = None, "segment"
    else:
        classes = prepare.count_classes(parts[0][1], parts[2][1])
        task = "classify" if classes else "regress"
    return {"train": parts[0], "val": parts[1], "test": parts[2], "classes": classes, "task": task}


def build_model(cfg, sample_shape, n_out: int):
    """The model ``model.kind`` names (``models.build``), for inputs of ``sample_shape`` and ``n_out`` outputs."""
    m = cfg["model"]
    options = {key: m[key] for key in models.OPTIONS[m["kind"]]}
    if "weight_init" in options:
        options["weight_init"] = m["weight_init"] or None  # "" in a config: each layer's default
    if "dropout" in options:
        options["dropout"] = model_dropout(m)
    with from_config(cfg, *(f"model.{key}" for key in ("kind", *options))):
        return models.build(m["kind"], sample_shape, n_out, **options)


def build_augmentation(cfg, x_train, task: str):
    """``FlipShift`` for the training batches when ``data.flip`` or ``data.shift`` asks for it, else None."""
    data = cfg["data"]
    if not data["flip"] and not data["shift"]:
        return None
    if x_train.ndim != 4 or task != "classify":
        raise ConfigError(f"data.flip / data.shift augment image classification inputs (N, C, H, W); this run has "
                          f"task {task!r} and inputs of shape {tuple(x_train.shape)} (model.kind "
                          f"{cfg['model']['kind']!r})")
    if data["shift"] < 0:
        raise ConfigError(f"data.shift must be ≥ 0 pixels, got {data['shift']}")
    return FlipShift(data["flip"], data["shift"])


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


class _PretrainLog(Callback):
    """One line per pre-training epoch: layer, epoch and reconstruction error."""

    def __init__(self, console=None):
        self.console, self.layer = console, 0

    def line(self, layer, epoch, error):
        if self.console is not None:
            self.console.print(f"pretrain layer {layer} epoch {epoch}: reconstruction error {error:.4f}",
                               highlight=False)

    def on_fit_start(self, trainer):  # the stacked autoencoder trains each layer with its own fit
        self.layer += 1

    def on_epoch_end(self, trainer, row):
        self.line(self.layer, row["epoch"], row["train_loss"])


def pretrained_model(cfg, x_train, n_out, console=None):
    """Greedy layer-wise pre-training on the training inputs (no labels), then the MLP to fine-tune.

    ``pretrain.method``: "dbn" (a stack of RBMs trained by CD-k; the MLP has sigmoid units)
    or "sae" (a stack of autoencoders, denoising when ``corruption`` > 0, trained with Adam
    through the Trainer). Logs one line per epoch to ``console``; returns (model, per-layer
    reconstruction errors per epoch).
    """
    p, m = cfg["pretrain"], cfg["model"]
    sizes = [x_train.shape[1], *m["hidden"]]
    log = _PretrainLog(console)
    if p["method"] == "dbn":
        dbn = models.DBN(sizes, lr=p["lr"], k=p["k"])
        errors = dbn.pretrain(x_train, p["epochs"], p["batch_size"], seed=cfg["run"]["seed"], on_epoch=log.line)
        return dbn.to_mlp(n_out), errors
    if p["method"] == "sae":
        sae = StackedAutoencoder(sizes, activation=m["activation"], corruption=p["corruption"])
        histories = sae.pretrain(x_train, p["epochs"], p["batch_size"], lr=p["lr"], seed=cfg["run"]["seed"],
                                 loss="bce" if m["activation"] == "sigmoid" else "mse", callbacks=[log])
        return sae.to_mlp(n_out), [h["train_loss"] for h in histories]
    raise ConfigError(f"pretrain.method {p['method']!r} is unknown; choose none, dbn or sae")


def build_optimizer(cfg, model):
    """The optimizer ``[optim]`` describes (``optim.get``), over ``model``'s parameters."""
    o = cfg["optim"]
    kwargs = {"lr": o["lr"], "weight_decay": o["weight_decay"], "l1": o["l1"]}
    if o["name"] in ("momentum", "nesterov"):
        kwargs["momentum"] = o["momentum"]
    return optim.get(o["name"])(model, **kwargs)


def build_schedule(cfg):
    """The lr schedule ``[schedule]`` names (None for "none"), from the base lr ``optim.lr``."""
    s, base_lr = cfg["schedule"], cfg["optim"]["lr"]
    if s["name"] == "none":
        return None
    makers = {"step": lambda: StepLR(s["step_size"], s["gamma"], base_lr=base_lr),
              "exponential": lambda: ExponentialLR(s["gamma"], base_lr=base_lr),
              "cosine": lambda: CosineLR(s["t_max"] or cfg["train"]["epochs"], s["eta_min"], base_lr=base_lr)}
    if s["name"] not in makers:
        raise ConfigError(f"schedule.name {s['name']!r} is unknown; choose one of none, {', '.join(makers)}")
    return makers[s["name"]]()


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


def evaluate_test_set(model, x, y, data) -> tuple[dict, numpy.ndarray | None]:
    """Test-set metrics of ``model`` (eval mode) and, for classification, the confusion matrix."""
    model.eval()
    backend = backends.current()
    with no_grad():
        out = xp_concat(backend.xp, [model(Tensor(backend.from_numpy(x[i:i + 1024]))).data
                                     for i in range(0, len(x), 1024)])
    y = backend.from_numpy(y)
    if data["task"] == "segment":
        return {"mean_iou": metrics.mean_iou(y, out > 0)}, None
    classes = data["classes"]
    if classes is None:
        return {name: getattr(metrics, name)(y, out) for name in ("mse", "rmse", "mae", "r2_score")}, None
    matrix = metrics.confusion_matrix(y, out, num_classes=classes)
    scores = {"accuracy": metrics.accuracy(y, out), "f1_macro": metrics.f1_score(y, out, average="macro")}
    return scores, matrix


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C during training: ``run_dir``'s ``last.npz`` holds the last finished epoch, to resume from."""

    def __init__(self, run_dir: Path):
        super().__init__(f"interrupted; {run_dir}/last.npz holds the last finished epoch: continue with "
                         f"--resume {run_dir}")
        self.run_dir = run_dir


def check_loss_fits(cfg, model, loss, x, y, task: str) -> None:
    """ConfigError naming ``loss.name`` when the loss cannot take the model's outputs for the
    data's targets (``mse`` on class labels, say): one forward pass of two training samples in
    eval mode, before a run folder is made. Eval mode and no_grad: no statistic or random
    generator moves, so the run is the same as without the check."""
    backend = backends.current()
    model.eval()
    try:
        with no_grad():
            out = model(Tensor(backend.from_numpy(x[:2])))
            try:
                loss(out, backend.from_numpy(y[:2]))
            except (ValueError, TypeError) as why:
                per_sample = "one value" if y.ndim == 1 else f"shape {tuple(y.shape[1:])}"
                raise ConfigError(f"loss.name = {cfg['loss']['name']!r} does not fit this data ({task} task; targets "
                                  f"of {y.dtype}, {per_sample} per sample): {why}") from why
    finally:
        model.train()


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


def xp_concat(xp, arrays):
    return arrays[0] if len(arrays) == 1 else xp.concatenate(arrays)


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
    backend = backends.current()
    comm = comm or LocalCommunicator()
    main = comm.is_main
    if comm.distributed and cfg["pretrain"]["method"] != "none":
        raise ConfigError("pretrain and distributed runs cannot be combined yet; pre-train in one process")
    dlcore.manual_seed(cfg["run"]["seed"])
    data = prepare_data(cfg)
    (x_train, y_train), val, test = data["train"], data["val"], data["test"]
    n_out = data["classes"] or y_train.shape[1]
    pretrain_errors = None
    if cfg["pretrain"]["method"] != "none" and resume_from is None:
        model, pretrain_errors = pretrained_model(cfg, x_train, n_out, console)  # all training inputs, no labels
    else:
        model = build_model(cfg, x_train.shape[1:], n_out)
    if data["task"] == "classify" and cfg["data"]["labels_per_class"]:
        x_train, y_train = prepare.labelled_subset(x_train, y_train, cfg["data"]["labels_per_class"],
                                                   cfg["data"]["seed"])
    with from_config(cfg, "loss.name"):
        loss = losses.get(cfg["loss"]["name"])
    with from_config(cfg, *(f"optim.{k}" for k in ("name", "lr", "momentum", "weight_decay", "l1"))):
        optimizer = build_optimizer(cfg, model)
    augmentation = build_augmentation(cfg, x_train, data["task"])
    if comm.distributed:
        if cfg["distributed"]["sync_batch_norm"]:
            sync_batch_norm(model, comm)  # BatchNorm statistics over the global batch
        comm.broadcast_parameters(model)
        optimizer = DistributedOptimizer(optimizer, comm)
        with from_config(cfg, "train.batch_size", "distributed.even"):
            loader = ShardedLoader(x_train, y_train, cfg["train"]["batch_size"], comm=comm, seed=cfg["run"]["seed"],
                                   even=cfg["distributed"]["even"], transform=augmentation)
    else:
        with from_config(cfg, "train.batch_size"):
            loader = ArrayLoader(x_train, y_train, cfg["train"]["batch_size"], shuffle=True,
                                 seed=cfg["run"]["seed"], transform=augmentation)
    val_loader = ArrayLoader(*val, 1024, shuffle=False) if len(val[0]) else None
    check_loss_fits(cfg, model, loss, x_train, y_train, data["task"])

    history, callback_states = None, None
    if resume_from is not None:
        if main:
            io.remove_temporaries(run_dir)  # left by a process killed while saving
        meta = io.restore(resume_from, model, optimizer)
        optimizer.lr = cfg["optim"]["lr"]  # a resume may change it; a schedule derives the next epoch's lr from it
        history, callback_states = _resumed_history(resume_from, meta), meta.get("callbacks", {})
        _set_rng_state(loader, meta["rng"])
    done = len(history) if history is not None else 0
    if run_dir is None and main:
        run_dir = new_run_dir(Path(cfg["run"]["out_dir"]), cfg["run"]["name"])
    run_dir = Path(comm.bcast_object(str(run_dir) if main else None))
    if main:  # a resume rewrites it only now, with its accepted overrides, once the checkpoint has loaded
        write_text_atomic(run_dir / "config.json", json.dumps(cfg, indent=1))

    callbacks = [_RankMean(comm)] if comm.distributed else []
    if main:
        callbacks.append(Checkpoint(run_dir, extra=lambda: {"rng": _rng_state(loader)}))
    stopping = cfg["early_stopping"]
    if stopping["patience"] > 0 and val_loader is not None:
        with from_config(cfg, "early_stopping.monitor", "early_stopping.patience", "early_stopping.min_delta"):
            callbacks.append(EarlyStopping(stopping["monitor"], stopping["patience"], stopping["min_delta"]))
    with from_config(cfg, *(f"schedule.{k}" for k in ("name", "step_size", "gamma", "t_max", "eta_min"))):
        schedule = build_schedule(cfg)
    if schedule is not None:
        callbacks.append(schedule)

    cuda_graph = cfg["run"]["cuda_graph"] and backend.name == "cupy"
    if cfg["run"]["cuda_graph"] and not cuda_graph and main:
        _log.info("run.cuda_graph = true: the %s backend has no CUDA graphs; training eagerly", backend.name)
    trainer = Trainer(callbacks, log_every=cfg["train"]["log_every"], progress=None if main else False,
                      console=console if main else Console(quiet=True), cuda_graph=cuda_graph)
    start = time.perf_counter()
    try:
        history = trainer.fit(model, loss, optimizer, loader, val_loader, max(0, cfg["train"]["epochs"] - done),
                              history, callback_states)
    except KeyboardInterrupt:
        raise RunInterrupted(run_dir) from None
    seconds = time.perf_counter() - start
    if main:
        history.save(run_dir / "history.json")

    scores, matrix = evaluate_test_set(model, *test, data) if len(test[0]) else ({}, None)
    summary = {"config": cfg["run"]["name"], "backend": backend.name, "device": backend.device_name,
               "epochs": len(history), "seconds": round(seconds, 3),
               "train_loss": history.last.get("train_loss"), "val_loss": history.last.get("val_loss"),
               "best_epoch": history.best_epoch, **{f"test_{k}": v for k, v in scores.items()},
               "run_dir": str(run_dir), "ranks": comm.size}
    if not main:
        return summary
    if pretrain_errors is not None:
        summary["pretrain_final_errors"] = [float(errors[-1]) for errors in pretrain_errors]
        write_text_atomic(run_dir / "pretrain.json", json.dumps({"errors": pretrain_errors}, indent=1))
    write_text_atomic(run_dir / "metrics.json", json.dumps(summary, indent=1))
    plots.learning_curves(history, run_dir / "learning_curves.png", title=cfg["run"]["name"])
    if matrix is not None:
        plots.confusion_matrix(numpy.asarray(matrix).tolist(), run_dir / "confusion_matrix.png")
    return summary
