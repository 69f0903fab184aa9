#!/usr/bin/env python3
"""Train a model from a TOML config.

    python scripts/train.py --config configs/default.toml [--backend numpy] [--set optim.lr=0.05] [--json]
    python scripts/train.py --resume runs/NAME-TIMESTAMP [--set train.epochs=40]   # see runconfig.RESUMABLE
    mpirun -n 4 python scripts/train.py --config configs/default.toml --distributed   # data-parallel
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rich.console import Console  # noqa: E402
from rich.logging import RichHandler  # noqa: E402
from rich.markup import escape  # noqa: E402

import backends  # noqa: E402
from dlcore.distributed import (LocalCommunicator, abort_on_error, create_communicator,  # noqa: E402
                                select_gpu_before_backend)
from dlcore.training import History, runconfig, summary_table  # noqa: E402
from dlcore.training.run import RunInterrupted, execute  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="TOML run configuration")
    source.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.npz")
    parser.add_argument("--backend", choices=["auto", "numpy", "cupy"], help="overrides run.backend")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the results at the end")
    parser.add_argument("--distributed", action="store_true",
                        help="data-parallel over the ranks mpirun started (sets distributed.enabled)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    args = parser.parse_args(argv)
    # NumPy's overflow/invalid warnings repeat what the Trainer reports as one line when a loss turns NaN/inf
    warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning)
    if args.distributed:
        args.set.append("distributed.enabled=true")
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])
    console = Console(stderr=True)
    try:
        if args.resume:
            run_dir = Path(args.resume)
            if not (run_dir / "config.json").is_file() or not (run_dir / "last.npz").is_file():
                raise runconfig.ConfigError(f"{run_dir} is not a run directory with config.json and last.npz")
            cfg = runconfig.load_run(run_dir, args.set)
        else:
            run_dir = None
            cfg = runconfig.load(args.config, args.set)
        if cfg["distributed"]["enabled"] and (args.backend or cfg["run"]["backend"]) != "numpy":
            select_gpu_before_backend()  # one GPU per rank, chosen before CuPy state is made on GPU 0
        backend = backends.use(args.backend or cfg["run"]["backend"])
        cfg["run"]["backend"] = backend.name
        comm = create_communicator() if cfg["distributed"]["enabled"] else LocalCommunicator()
        if not comm.is_main:
            console = Console(stderr=True, quiet=True)
        console.print(f"[bold]{escape(cfg['run']['name'])}[/bold]: {cfg['data']['name']} on {backend.name} "
                      f"({backend.device_name}){f', {comm.size} ranks' if comm.size > 1 else ''}", highlight=False)
        with abort_on_error(comm):  # a rank that fails ends every rank, never a hang
            summary = execute(cfg, run_dir, resume_from=run_dir / "last.npz" if run_dir else None, console=console,
                              comm=comm)
    except RunInterrupted as interrupted:
        console.print(f"[yellow]{escape(str(interrupted))}[/yellow]", highlight=False, soft_wrap=True)
        return 130  # the shell's status for a run ended by Ctrl-C
    except backends.UserError as error:
        # one line, the text as is (escaped: "[optim]" in a message is not rich markup); bugs keep their traceback
        if args.debug:
            raise
        console.print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2
    if not comm.is_main:
        return 0
    history = History.load(Path(summary["run_dir"]) / "history.json")
    extra = {k: v for k, v in summary.items() if k.startswith("test_")}
    extra.update(seconds=summary["seconds"], backend=f"{summary['backend']} ({summary['device']})",
                 run_dir=summary["run_dir"])
    Console(stderr=args.json).print(summary_table(history, f"{cfg['run']['name']} — summary", extra))
    if args.json:
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
