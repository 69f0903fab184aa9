"""Run configurations: TOML files validated against a schema, with ``--set`` overrides.

A config has the sections below; every key has a default and a type. An unknown or
misspelt key, or a value of the wrong type, raises ConfigError naming the key and listing
the valid ones.
"""
from __future__ import annotations

import copy
import tomllib
from pathlib import Path

SCHEMA = {
    "run": {"name": "default", "seed": 0, "backend": "auto", "out_dir": "runs", "cuda_graph": False,
            "tf32": False},
    "data": {"name": "spiral", "n_samples": 400, "noise": 0.1, "seed": 0, "val_fraction": 0.1,
             "test_fraction": 0.1, "limit": 0, "standardize": False, "task": "classify", "image_noise": 0.3,
             "mask_threshold": 0.2, "labels_per_class": 0, "flip": False, "shift": 0},
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


class ConfigError(ValueError):
    """A config file or override that does not match the schema."""


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


def load(path, overrides=()) -> dict:
    """The validated config of TOML file ``path`` with ``overrides`` ("section.key=value") applied."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file {path} is not valid TOML: {error}") from None
    return apply_overrides(validate(raw, str(path)), overrides)


def apply_overrides(config: dict, overrides=()) -> dict:
    """``config`` with each "section.key=value" override applied and checked."""
    raw = copy.deepcopy(config)
    for text in overrides:
        section, key, value = parse_override(text)
        raw.setdefault(section, {})[key] = value
    return validate(raw, "--set")
