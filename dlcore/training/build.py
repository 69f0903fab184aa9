"""From a validated run config to the library's objects: data, model, loss check, optimizer,
schedule, augmentation and greedy pre-training.

Each builder reads the config's sections and hands plain arguments to the library
(``dlcore.data.prepare``, ``models.build``, ``optim.get``, the schedules); ``from_config`` turns
what the library refuses into a ConfigError naming the keys to change.
"""
from __future__ import annotations

from contextlib import contextmanager

import numpy

import backends
from dlcore import losses, models, optim
from dlcore.modes import no_grad
from dlcore.core import Tensor
from dlcore.data import DATASETS, CorruptDatasetError, FlipShift, files, prepare, standardization
from dlcore.training.callbacks import Callback, CosineLR, EarlyStopping, ExponentialLR, StepLR
from dlcore.training.runconfig import ConfigError
from dlcore.unsupervised import DBN, StackedAutoencoder


@contextmanager
def from_config(cfg, *keys):
    """A ValueError or KeyError raised while building from ``keys`` ("section.key") becomes a
    ConfigError that names them and their values: the user's config, not the library's argument,
    is what to fix. Other exceptions (bugs) pass through unchanged."""
    try:
        yield
    except (ConfigError, CorruptDatasetError, files.DataFileError):  # they name their cause already
        raise
    except (ValueError, KeyError) as error:
        values = ", ".join(f"{key} = {cfg[key.split('.')[0]][key.split('.')[1]]!r}" for key in keys)
        reason = error.args[0] if isinstance(error, KeyError) and error.args else error
        raise ConfigError(f"{values}: {reason}") from error


def prepare_data(cfg) -> dict:
    """{"train", "val", "test": (x, y) NumPy pairs, "classes": int or None, "task", "preprocessing"}:
    the steps of ``dlcore.data.prepare`` as ``[data]`` and ``model.kind`` ask (your own file when
    ``data.path`` is set), an error naming the keys to change. "preprocessing" is the fitted
    ``Preprocessing`` that a trained model's users apply to new raw inputs."""
    data = cfg["data"]
    x, y, own_test, names = _load(cfg)
    fractions = ("data.val_fraction",) if own_test is not None else ("data.val_fraction", "data.test_fraction")
    with from_config(cfg, *fractions):
        parts = prepare.cut(x, y, own_test, data["val_fraction"], data["test_fraction"], data["seed"])
    image_model = cfg["model"]["kind"] in (*models.IMAGE_MODELS, *models.SEQUENCE_MODELS)  # RNNs read image rows
    flatten = not image_model and x.ndim > 2  # images from a folder into an MLP
    if flatten:
        parts = [(x.reshape(len(x), -1), y) for x, y in parts]
    mean = std = None
    if data["standardize"]:
        mean, std = standardization(parts[0][0])
        parts = [(((x - mean) / std).astype(x.dtype), y) for x, y in parts]
    image_side = None
    if image_model and parts[0][0].ndim == 2:
        with from_config(cfg, "data.path" if data["path"] else "data.name", "model.kind"):
            parts = [(prepare.as_images(x, data["path"] or data["name"]), y) for x, y in parts]
        image_side = parts[0][0].shape[-1]
    if data["task"] == "segment":
        parts = prepare.segmentation(parts, data["image_noise"], data["mask_threshold"], data["seed"] + 1)
        classes = None
    elif data["task"] == "regress":
        parts = [(x, y.astype(numpy.float32).reshape(len(y), -1)) for x, y in parts]
        classes = None
    else:
        classes = len(names.classes) if names.classes else prepare.count_classes(parts[0][1], parts[2][1])
    task = data["task"] if data["task"] != "classify" or classes else "regress"
    outputs = classes or parts[0][1].shape[1]
    preprocessing = prepare.Preprocessing(task, x.shape[1:], outputs, flatten, mean, std, image_side,
                                          names.classes if classes else None, names.features)
    return {"train": parts[0], "val": parts[1], "test": parts[2], "classes": classes, "task": task,
            "preprocessing": preprocessing}


def _load(cfg):
    """(x, y, the set's own test pair or None, Data names) of ``data.path`` or the built-in ``data.name``."""
    data = cfg["data"]
    if data["path"]:
        size = (data["image_size"],) * 2 if data["image_size"] else None
        task = "regress" if data["task"] == "regress" else "classify"
        with from_config(cfg, "data.path", "data.target", "data.features", "data.task"):
            table = files.from_path(data["path"], data["target"], data["features"], task, size)
        return table.x, table.y, None, table
    sizes = ("data.n_samples", "data.noise") if data["name"] in DATASETS else ()
    with from_config(cfg, "data.name", *sizes):
        x, y, own_test = prepare.load_set(data["name"], data["seed"], n_samples=data["n_samples"],
                                          noise=data["noise"], limit=data["limit"])
    return x, y, own_test, files.Data(x, y)


def build_model(cfg, sample_shape, n_out: int):
    """The model ``model.kind`` names (``models.build``), for inputs of ``sample_shape`` and ``n_out`` outputs."""
    m = cfg["model"]
    options = {key: m[key] for key in models.OPTIONS[m["kind"]]}
    if "weight_init" in options:
        options["weight_init"] = m["weight_init"] or None  # "" in a config: each layer's default
    if options.get("dropout") == 0:  # the config's default: the kind's own (AlexNet's 0.5, an MLP's none)
        del options["dropout"]
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
        dbn = DBN(sizes, lr=p["lr"], k=p["k"])
        errors = dbn.pretrain(x_train, p["epochs"], p["batch_size"], seed=cfg["run"]["seed"], on_epoch=log.line)
        return dbn.to_mlp(n_out), errors
    if p["method"] == "sae":
        sae = StackedAutoencoder(sizes, activation=m["activation"], corruption=p["corruption"])
        histories = sae.pretrain(x_train, p["epochs"], p["batch_size"], lr=p["lr"], seed=cfg["run"]["seed"],
                                 loss="bce" if m["activation"] == "sigmoid" else "mse", callbacks=[log])
        return sae.to_mlp(n_out), [h["train_loss"] for h in histories]
    raise ConfigError(f"pretrain.method {p['method']!r} is unknown; choose none, dbn or sae")


def build_loss(cfg):
    """The loss ``loss.name`` names (``losses.get``)."""
    with from_config(cfg, "loss.name"):
        return losses.get(cfg["loss"]["name"])


def build_optimizer(cfg, model):
    """The optimizer ``[optim]`` describes (``optim.get``), over ``model``'s parameters."""
    o = cfg["optim"]
    kwargs = {"lr": o["lr"], "weight_decay": o["weight_decay"], "l1": o["l1"]}
    if o["name"] in ("momentum", "nesterov"):
        kwargs["momentum"] = o["momentum"]
    with from_config(cfg, *(f"optim.{k}" for k in ("name", "lr", "momentum", "weight_decay", "l1"))):
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
    with from_config(cfg, *(f"schedule.{k}" for k in ("name", "step_size", "gamma", "t_max", "eta_min"))):
        return makers[s["name"]]()


def build_early_stopping(cfg, has_validation: bool):
    """``EarlyStopping`` when ``early_stopping.patience`` > 0 and there is validation data, else None."""
    e = cfg["early_stopping"]
    if e["patience"] == 0 or not has_validation:
        return None
    with from_config(cfg, "early_stopping.monitor", "early_stopping.patience", "early_stopping.min_delta"):
        return EarlyStopping(e["monitor"], e["patience"], e["min_delta"])


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
