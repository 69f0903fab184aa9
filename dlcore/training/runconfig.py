"""Run configurations: TOML files validated against a schema, with ``--set`` overrides.

A config has the sections below; every key has a default and a type. An unknown or
misspelt key, or a value of the wrong type, raises ConfigError naming the key and listing
the valid ones; so does a value of the right type that cannot work: a name that is not one
of the choices (``loss.name``, ``model.activation``, …, see ``choices()``) or a number out of
its range (``RANGES``).

``[data]`` names a built-in set (``data.name``) or, with ``data.path``, your own file or folder
(``dlcore.data.files``: a CSV/TSV table with ``data.target`` the label column and optionally
``data.features`` the input columns, a ``.npz`` with arrays x and y, or a folder of images with
one sub-folder per class, resized to ``data.image_size`` squared pixels when > 0); then
``data.name`` is not used. ``data.task`` is "classify", "regress" (numeric targets) or "segment".
"""
from __future__ import annotations

import copy
import difflib
import math
import json
import tomllib
from pathlib import Path

from backends import UserError

SCHEMA = {
    "run": {"name": "default", "seed": 0, "backend": "auto", "out_dir": "runs", "cuda_graph": False,
            "tf32": False},
    "data": {"name": "spiral", "n_samples": 400, "noise": 0.1, "seed": 0, "val_fraction": 0.1,
             "test_fraction": 0.1, "limit": 0, "standardize": False, "task": "classify", "image_noise": 0.3,
             "mask_threshold": 0.2, "labels_per_class": 0, "flip": False, "shift": 0, "path": "", "target": "",
             "features": [], "image_size": 0},
    "model": {"kind": "mlp", "hidden": [32, 32], "activation": "tanh", "weight_init": "", "dropout": 0.0,
              "batch_norm": False, "depth": 2, "base_channels": 16},
    "pretrain": {"method": "none", "epochs": 10, "batch_size": 64, "lr": 0.05, "k": 1, "corruption": 0.0},
    "loss": {"name": "cross_entropy"},
    "optim": {"name": "adam", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0, "l1": 0.0},
    "schedule": {"name": "none", "step_size": 10, "gamma": 0.5, "t_max": 0, "eta_min": 0.0},
    "early_stopping": {"patience": 0, "monitor": "val_loss", "min_delta": 0.0},
    "train": {"epochs": 100, "batch_size": 32, "log_every": 10},
    "distributed": {"enabled": False, "even": "pad", "sync_batch_norm": False},
}


#: key → (low, high): the value must lie in [low, high) (high None: no upper bound).
RANGES = {
    "run.seed": (0, None), "data.seed": (0, None), "data.n_samples": (1, None), "data.noise": (0, None),
    "data.val_fraction": (0, 1), "data.test_fraction": (0, 1), "data.limit": (0, None), "data.image_noise": (0, None),
    "data.labels_per_class": (0, None), "data.shift": (0, None), "data.image_size": (0, None),
    "model.dropout": (0, 1), "model.depth": (1, None), "model.base_channels": (1, None),
    "pretrain.epochs": (0, None), "pretrain.batch_size": (1, None), "pretrain.lr": (0, None), "pretrain.k": (1, None),
    "pretrain.corruption": (0, 1),
    "optim.lr": (0, None), "optim.momentum": (0, 1), "optim.weight_decay": (0, None), "optim.l1": (0, None),
    "schedule.step_size": (1, None), "schedule.gamma": (0, None), "schedule.t_max": (0, None),
    "schedule.eta_min": (0, None),
    "early_stopping.patience": (0, None), "early_stopping.min_delta": (0, None),
    "train.epochs": (0, None), "train.batch_size": (1, None), "train.log_every": (1, None),
}


#: what ``--set`` may change when a run is resumed: the length of training, the learning rate and
#: its schedule, early stopping, and where and how it runs. Everything else (the model, the data,
#: the loss, the optimizer and its other hyperparameters, the batch size, the seed) made the
#: checkpoint and is fixed.
RESUMABLE = ("train.epochs", "train.log_every", "optim.lr", "schedule.*", "early_stopping.*", "run.backend",
             "run.tf32", "run.cuda_graph")


class ConfigError(UserError, ValueError):
    """A config file or override that does not match the schema."""


def choices() -> dict[str, tuple[str, ...]]:
    """key → the names its value may take (the registries of the library, read when asked)."""
    from backends import NAMES as BACKENDS
    from dlcore.data import DATASETS, REAL_DATASETS
    from dlcore.init import INITIALIZERS
    from dlcore.losses import LOSSES
    from dlcore.nn.activation import ACTIVATIONS
    from dlcore.models import OPTIONS as MODEL_KINDS
    from dlcore.optim import OPTIMIZERS
    from dlcore.training.trainer import METRICS

    return {
        "run.backend": ("auto", *BACKENDS),
        "data.name": (*DATASETS, *REAL_DATASETS),
        "data.task": ("classify", "regress", "segment"),
        "model.kind": tuple(MODEL_KINDS),
        "model.activation": tuple(ACTIVATIONS),
        "model.weight_init": ("", *INITIALIZERS),
        "pretrain.method": ("none", "dbn", "sae"),
        "loss.name": tuple(LOSSES),
        "optim.name": tuple(OPTIMIZERS),
        "schedule.name": ("none", "step", "exponential", "cosine"),
        "early_stopping.monitor": METRICS,
        "distributed.even": ("pad", "truncate"),
    }


def _check_values(config: dict, source: str) -> None:
    """Names that are not among the choices and numbers out of range: ConfigError naming key and value."""
    for key, names in choices().items():
        section, name = key.split(".")
        value = config[section][name]
        if value not in names:
            close = difflib.get_close_matches(value, [n for n in names if n], n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            shown = ", ".join(repr(n) if n == "" else n for n in names)
            raise ConfigError(f"{source}: {key}: unknown value {value!r}{hint}; choose one of {shown}")
    for key, (low, high) in RANGES.items():
        section, name = key.split(".")
        value = config[section][name]
        if not (low <= value and (high is None or value < high)) or value == math.inf:  # NaN fails too
            bound = (f"in [{low}, {high})" if high is not None else
                     f"a finite number ≥ {low}" if isinstance(value, float) else f"≥ {low}")
            raise ConfigError(f"{source}: {key} must be {bound}, got {value}")
    features = config["data"]["features"]
    if not all(isinstance(f, str) and f for f in features):
        raise ConfigError(f"{source}: data.features must be a list of column names, got {features!r}")
    hidden = config["model"]["hidden"]
    if not all(isinstance(h, int) and not isinstance(h, bool) and h >= 1 for h in hidden):
        raise ConfigError(f"{source}: model.hidden must be a list of layer sizes ≥ 1, got {hidden!r}")
    _check_cuda_graph(config, source)
    data = config["data"]
    if data["name"] != "fashion_mnist" and data["val_fraction"] + data["test_fraction"] >= 1:
        raise ConfigError(f"{source}: data.val_fraction + data.test_fraction must be < 1 (the rest is the training "
                          f"set), got {data['val_fraction']} + {data['test_fraction']} = "
                          f"{data['val_fraction'] + data['test_fraction']:g}")


def _check_cuda_graph(config: dict, source: str) -> None:
    """``run.cuda_graph = true`` with an optimizer that declares a graph cannot replay its step
    (``Optimizer.capture_refusal``): ConfigError naming both keys. The model is asked once it is
    built (``check_cuda_graph_model``)."""
    from dlcore.optim import OPTIMIZERS

    name = config["optim"]["name"]
    refusal = OPTIMIZERS[name].capture_refusal
    if config["run"]["cuda_graph"] and refusal is not None:
        raise ConfigError(f"{source}: run.cuda_graph = true cannot train with optim.name = {name!r}: {refusal}; "
                          "choose another optimizer or set run.cuda_graph = false")


def check_cuda_graph_model(config: dict, model) -> None:
    """``run.cuda_graph = true`` for a built ``model`` with modules that draw random numbers in training
    (``Module.random_modules``, e.g. dropout): ConfigError naming the keys and the modules."""
    drawing = model.random_modules()
    if config["run"]["cuda_graph"] and drawing:
        m = config["model"]
        names = ", ".join(f"{name or 'the model'} {module!r}" for name, module in drawing)
        raise ConfigError(f"run.cuda_graph = true cannot train a model that draws random numbers (model.kind = "
                          f"{m['kind']!r}, model.dropout = {m['dropout']}: {names}): a graph would replay one "
                          "draw on every step; set run.cuda_graph = false")


def _check_type(key: str, value, default):
    if isinstance(default, bool) or isinstance(value, bool):
        ok = isinstance(value, bool) and isinstance(default, bool)
    elif isinstance(default, float):
        ok = isinstance(value, (int, float))
    else:
        ok = isinstance(value, type(default))
    if not ok:
        raise ConfigError(f"config key {key!r} must be {type(default).__name__}, got {value!r} ({type(value).__name__})")
    return float(value) if isinstance(default, float) else value


def validate(raw: dict, source: str = "config") -> dict:
    """``raw`` merged over the defaults, every key and type checked."""
    config = copy.deepcopy(SCHEMA)
    for section, values in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"{source}: unknown section [{section}]; valid sections: {', '.join(SCHEMA)}")
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: [{section}] must be a table of keys")
        for key, value in values.items():
            if key not in SCHEMA[section]:
                raise ConfigError(f"{source}: unknown key {section}.{key}; valid keys in [{section}]: "
                                  f"{', '.join(SCHEMA[section])}")
            config[section][key] = _check_type(f"{section}.{key}", value, SCHEMA[section][key])
    _check_values(config, source)
    return config


def parse_override(text: str) -> tuple[str, str, object]:
    """"section.key=value" → (section, key, value); value read as TOML, else kept as a string."""
    name, sep, literal = text.partition("=")
    section, dot, key = name.strip().partition(".")
    if not sep or not dot:
        raise ConfigError(f"--set needs section.key=value, got {text!r}")
    try:
        value = tomllib.loads(f"v = {literal.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = literal.strip()
    return section, key.strip(), value


def _read_text(path: Path, what: str) -> str:
    """The UTF-8 text of ``path``, or a ConfigError saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{what} {path} is a folder, not a file") from None
    except UnicodeDecodeError as error:
        raise ConfigError(f"{what} {path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except OSError as error:
        raise ConfigError(f"{what} {path} cannot be read: {error.strerror or error}") from None


def load(path, overrides=()) -> dict:
    """The validated config of TOML file ``path`` with ``overrides`` ("section.key=value") applied."""
    path = Path(path)
    try:
        raw = tomllib.loads(_read_text(path, "config file"))
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    return apply_overrides(validate(raw, str(path)), overrides)


def load_run(run_dir, overrides=()) -> dict:
    """The config of the run in ``run_dir`` (its ``config.json``) with the ``overrides`` a resume
    may make (``RESUMABLE``) applied; any other changed key is a ConfigError naming it, raised
    before anything is written."""
    path = Path(run_dir) / "config.json"
    try:
        raw = json.loads(_read_text(path, "the run's config"))
    except json.JSONDecodeError as error:
        raise ConfigError(f"the run's config {path} is damaged (not JSON: {error}); "
                          f"restore it, or start a new run with --config") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"the run's config {path} is damaged (a JSON {type(raw).__name__}, not an object)")
    saved = validate(raw, str(path))
    config = apply_overrides(saved, overrides)
    fixed = [key for key in _changed_keys(saved, config) if not _resumable(key)]
    if fixed:
        changes = ", ".join(f"{key} {_value(saved, key)!r} → {_value(config, key)!r}" for key in fixed)
        raise ConfigError(f"--resume cannot change {changes}: the checkpoint was made with them; a resume may "
                          f"change {', '.join(RESUMABLE)} (start a new run with --config for the rest)")
    return config


def _changed_keys(a: dict, b: dict) -> list[str]:
    return [f"{section}.{key}" for section in a for key in a[section] if a[section][key] != b[section][key]]


def _resumable(key: str) -> bool:
    return key in RESUMABLE or f"{key.split('.')[0]}.*" in RESUMABLE


def _value(config: dict, key: str):
    section, name = key.split(".")
    return config[section][name]


def apply_overrides(config: dict, overrides=()) -> dict:
    """``config`` with each "section.key=value" override applied and checked."""
    raw = copy.deepcopy(config)
    for text in overrides:
        section, key, value = parse_override(text)
        raw.setdefault(section, {})[key] = value
    return validate(raw, "--set")
