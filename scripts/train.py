#!/usr/bin/env python3
"""Train a model from a TOML config: ``python scripts/train.py --config configs/default.toml``."""
from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.logging import RichHandler  # noqa: E402
from rich.table import Table  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import losses, optim  # noqa: E402
from dlcore.data import DATASETS, ArrayLoader  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.training import Trainer  # noqa: E402
from dlcore.training import runconfig  # noqa: E402

OPTIMIZERS = {"sgd": optim.SGD, "momentum": optim.Momentum, "nesterov": optim.Nesterov,
              "adagrad": optim.AdaGrad, "rmsprop": optim.RMSprop, "adam": optim.Adam}


def build_optimizer(cfg, model):
    name = cfg["name"]
    if name not in OPTIMIZERS:
        raise runconfig.ConfigError(f"optim.name {name!r} is unknown; choose one of {', '.join(OPTIMIZERS)}")
    kwargs = {"lr": cfg["lr"], "weight_decay": cfg["weight_decay"], "l1": cfg["l1"]}
    if name in ("momentum", "nesterov"):
        kwargs["momentum"] = cfg["momentum"]
    return OPTIMIZERS[name](model, **kwargs)


def split(x, y, val_fraction, seed):
    order = numpy.random.default_rng(seed).permutation(len(x))
    n_val = int(round(len(x) * val_fraction))
    val, train = order[:n_val], order[n_val:]
    return (x[train], y[train]), (x[val], y[val])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="TOML run configuration")
    parser.add_argument("--backend", choices=["auto", "numpy", "cupy"], help="overrides run.backend")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (repeatable)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])
    console = Console(stderr=True)
    try:
        cfg = runconfig.load(args.config, args.set)
    except runconfig.ConfigError as error:
        console.print(f"[red]config error:[/red] {error}")
        return 2
    backend = backends.use(args.backend or cfg["run"]["backend"])
    dlcore.manual_seed(cfg["run"]["seed"])

    data = cfg["data"]
    if data["name"] not in DATASETS:
        console.print(f"[red]config error:[/red] data.name {data['name']!r} is unknown; "
                      f"choose one of {', '.join(DATASETS)}")
        return 2
    x, y = DATASETS[data["name"]](n=data["n_samples"], noise=data["noise"], seed=data["seed"])
    (x_train, y_train), (x_val, y_val) = split(x, y, data["val_fraction"], data["seed"])
    n_out = int(y.max()) + 1 if y.dtype.kind in "iu" else y.shape[1]
    model = MLP([x.shape[1], *cfg["model"]["hidden"], n_out], activation=cfg["model"]["activation"],
                weight_init=cfg["model"]["weight_init"] or None)
    loss = losses.get(cfg["loss"]["name"])
    optimizer = build_optimizer(cfg["optim"], model)
    train = ArrayLoader(x_train, y_train, cfg["train"]["batch_size"], shuffle=True, seed=cfg["run"]["seed"])
    val = ArrayLoader(x_val, y_val, 1024, shuffle=False) if len(x_val) else None

    console.print(f"[bold]{cfg['run']['name']}[/bold]: {data['name']} ({len(x_train)} train / {len(x_val)} val) "
                  f"on {backend.name} ({backend.device_name})")
    start = time.perf_counter()
    history = Trainer(log_every=cfg["train"]["log_every"], console=console).fit(
        model, loss, optimizer, train, val, cfg["train"]["epochs"])
    seconds = time.perf_counter() - start

    table = Table(title=f"{cfg['run']['name']} — summary")
    for column in ("metric", "value"):
        table.add_column(column)
    for key, value in history[-1].items():
        if key not in ("epoch", "seconds"):
            table.add_row(key, f"{value:.4f}")
    table.add_row("epochs", str(len(history)))
    table.add_row("seconds", f"{seconds:.1f}")
    table.add_row("backend", f"{backend.name} ({backend.device_name})")
    Console().print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
