"""The ``dlcore`` command: train from a config, resume a run, predict with a trained run, benchmarks.

    dlcore train configs/default.toml [--backend numpy] [--set optim.lr=0.05] [--json]
    dlcore resume runs/NAME-TIMESTAMP [--set train.epochs=40]     # what --set may change: runconfig.RESUMABLE
    dlcore predict runs/NAME-TIMESTAMP --input new.csv [--output predictions.csv]
    dlcore export runs/NAME-TIMESTAMP --onnx model.onnx [--safetensors model.safetensors --layout pytorch]
    dlcore bench [scripts/bench.py options]       dlcore experiments [--quick]   (from a source tree)
    mpirun -n 4 dlcore train configs/default.toml --distributed                # data-parallel

``scripts/train.py --config FILE | --resume RUN_DIR`` is the same as ``dlcore train``/``resume``.
Every error a user can cause is one ``error:`` line and exit status 2 (``--debug`` shows its
traceback); Ctrl-C during training says how to resume and exits with 130.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io as text_io
import json
import logging
import runpy
import sys
import warnings
from pathlib import Path

import backends

SOURCE_TREE = Path(__file__).resolve().parent.parent
#: command → the script of the source tree it runs
TOOLS = {"bench": "bench.py", "experiments": "experiments/run_all.py"}


def main(argv=None) -> int:
    """``dlcore COMMAND ...``: the exit status."""
    parser = argparse.ArgumentParser(prog="dlcore", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    train = commands.add_parser("train", help="train the run a TOML config describes")
    train.add_argument("config", help="TOML run configuration")
    _run_options(train, distributed=True)
    resume = commands.add_parser("resume", help="continue a run from its last.npz")
    resume.add_argument("run_dir", metavar="RUN_DIR")
    _run_options(resume, distributed=False)
    predict = commands.add_parser("predict", help="predictions of a trained run for new inputs")
    predict.add_argument("run_dir", metavar="RUN_DIR")
    predict.add_argument("--input", required=True, help="a .csv/.tsv table with the run's feature columns, "
                                                        "a .npz with an array x, or a folder of images")
    predict.add_argument("--output", help="CSV file to write (default: standard output)")
    predict.add_argument("--weights", choices=["best", "last"], default="best")
    predict.add_argument("--backend", choices=["auto", "numpy", "cupy"], default="auto")
    predict.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    export = commands.add_parser("export", help="a trained run's model as ONNX and/or safetensors")
    export.add_argument("run_dir", metavar="RUN_DIR")
    export.add_argument("--onnx", metavar="FILE", help="write the model (eval mode) as an ONNX graph")
    export.add_argument("--safetensors", metavar="FILE", help="write the weights as safetensors")
    export.add_argument("--layout", choices=["dlcore", "pytorch"], default="dlcore",
                        help="safetensors layout: pytorch stores Linear weights as (out, in)")
    export.add_argument("--weights", choices=["best", "last"], default="best")
    export.add_argument("--debug", action="store_true", help="show the traceback of a user error too")
    for name, script in TOOLS.items():
        commands.add_parser(name, help=f"scripts/{script} with the arguments that follow (needs the source tree)")
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in TOOLS:  # everything after the name is the script's, --help included
        return _source_script(TOOLS[argv[0]], argv[1:])
    args = parser.parse_args(argv)
    if args.command == "predict":
        return _guarded(args.debug, lambda: _predict(args))
    if args.command == "export":
        return _guarded(args.debug, lambda: _export(args))
    return train_or_resume(args, resume_dir=args.run_dir if args.command == "resume" else None)


def script_main(argv=None) -> int:
    """``scripts/train.py --config FILE | --resume RUN_DIR [options]``: the same as ``dlcore train``/``resume``."""
    parser = argparse.ArgumentParser(prog="scripts/train.py", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="TOML run configuration")
    source.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last.npz")
    _run_options(parser, distributed=True)
    args = parser.parse_args(argv)
    return train_or_resume(args, resume_dir=args.resume)


def _run_options(parser, distributed: bool) -> None:
    parser.add_argument("--backend", choices=["auto", "numpy", "cupy"], help="overrides run.backend")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="override a config value (repeatable)")
    parser.add_argument("--json", action="store_true", help="print one JSON line with the results at the end")
    if distributed:
        parser.add_argument("--distributed", action="store_true",
                            help="data-parallel over the ranks mpirun started (sets distributed.enabled)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a user error too")


def _guarded(debug: bool, action) -> int:
    """``action()``'s status; a UserError is one ``error:`` line and status 2 (re-raised with ``debug``)."""
    from rich.console import Console
    from rich.markup import escape

    try:
        return action()
    except backends.UserError as error:
        if debug:
            raise
        # the text as is (escaped: "[optim]" in a message is not rich markup); bugs keep their traceback
        Console(stderr=True).print(f"[red]error:[/red] {escape(str(error))}", highlight=False, soft_wrap=True)
        return 2


def train_or_resume(args, resume_dir=None) -> int:
    """Train ``args.config`` or resume ``resume_dir``; prints the summary table (and ``--json`` line)."""
    from rich.console import Console
    from rich.logging import RichHandler
    from rich.markup import escape

    from dlcore.distributed import LocalCommunicator, abort_on_error, create_communicator, select_gpu_before_backend
    from dlcore.training import History, runconfig, summary_table
    from dlcore.training.run import RunInterrupted, execute

    # NumPy's overflow/invalid warnings repeat what the Trainer reports as one line when a loss turns NaN/inf
    warnings.filterwarnings("ignore", r"(overflow|invalid value|divide by zero) encountered", RuntimeWarning)
    if getattr(args, "distributed", False):
        args.set.append("distributed.enabled=true")
    logging.basicConfig(level=logging.INFO, format="%(message)s", handlers=[RichHandler(show_path=False)])
    console = Console(stderr=True)
    outcome = {}

    def run() -> int:
        nonlocal console
        if resume_dir:
            run_dir = Path(resume_dir)
            if not (run_dir / "config.json").is_file() or not (run_dir / "last.npz").is_file():
                raise runconfig.ConfigError(f"{run_dir} is not a run directory with config.json and last.npz")
            cfg = runconfig.load_run(run_dir, args.set)
        else:
            run_dir, cfg = None, runconfig.load(args.config, args.set)
        if cfg["distributed"]["enabled"] and (args.backend or cfg["run"]["backend"]) != "numpy":
            select_gpu_before_backend()  # one GPU per rank, chosen before CuPy state is made on GPU 0
        backend = backends.use(args.backend or cfg["run"]["backend"])
        cfg["run"]["backend"] = backend.name
        comm = create_communicator() if cfg["distributed"]["enabled"] else LocalCommunicator()
        if not comm.is_main:
            console = Console(stderr=True, quiet=True)
        source = cfg["data"]["path"] or cfg["data"]["name"]
        console.print(f"[bold]{escape(cfg['run']['name'])}[/bold]: {escape(source)} on {backend.name} "
                      f"({backend.device_name}){f', {comm.size} ranks' if comm.size > 1 else ''}", highlight=False)
        try:
            with abort_on_error(comm):  # a rank that fails ends every rank, never a hang
                outcome.update(summary=execute(cfg, run_dir, resume_from=run_dir / "last.npz" if run_dir else None,
                                               console=console, comm=comm), main=comm.is_main, cfg=cfg)
        except RunInterrupted as interrupted:
            console.print(f"[yellow]{escape(str(interrupted))}[/yellow]", highlight=False, soft_wrap=True)
            return 130  # the shell's status for a run ended by Ctrl-C
        return 0

    status = _guarded(args.debug, run)
    if status or not outcome["main"]:
        return status
    summary, cfg = outcome["summary"], outcome["cfg"]
    history = History.load(Path(summary["run_dir"]) / "history.json")
    extra = {k: v for k, v in summary.items() if k.startswith("test_")}
    extra.update(seconds=summary["seconds"], backend=f"{summary['backend']} ({summary['device']})",
                 run_dir=summary["run_dir"])
    Console(stderr=args.json).print(summary_table(history, f"{cfg['run']['name']} — summary", extra))
    if args.json:
        print(json.dumps(summary))
    return 0


def _predict(args) -> int:
    """Write one CSV row per input: its id (row number or image file) and the prediction."""
    from dlcore.training.saved import load_run

    backends.use(args.backend)
    run = load_run(args.run_dir, args.weights)
    ids, x = read_inputs(args.input, run.preprocessing)
    predictions = run.predict(x)
    out = text_io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    if run.task == "classify":
        writer.writerow(["id", "prediction"])
        writer.writerows(zip(ids, predictions))
    elif run.task == "regress":
        columns = [f"prediction_{j}" for j in range(predictions.shape[1])] if predictions.shape[1] > 1 else \
            ["prediction"]
        writer.writerow(["id", *columns])
        writer.writerows([i, *map(repr, map(float, row))] for i, row in zip(ids, predictions))
    else:
        writer.writerow(["id", "mask_pixels_on"])
        writer.writerows(zip(ids, predictions.reshape(len(predictions), -1).sum(axis=1)))
    if args.output:
        from dlcore.io import write_text_atomic

        with _writing(args.output):
            write_text_atomic(args.output, out.getvalue())
    else:
        sys.stdout.write(out.getvalue())
    return 0


def _export(args) -> int:
    """Write the run's model to the files asked for; one line per file on standard output."""
    import numpy

    from dlcore import io, onnx
    from dlcore.training.saved import load_run

    if not (args.onnx or args.safetensors):
        raise backends.UserError("dlcore export: say what to write: --onnx FILE and/or --safetensors FILE")
    backends.use("numpy")
    run = load_run(args.run_dir, args.weights)
    if args.onnx:
        example = run.preprocessing.apply(numpy.zeros((1, *run.preprocessing.input_shape), numpy.float32))
        with _writing(args.onnx):
            onnx.export(run.model, args.onnx, example=example)
        print(f"{args.onnx}: ONNX graph of {run.weights} (inputs after the run's preprocessing.json)")
    if args.safetensors:
        with _writing(args.safetensors):
            io.save_safetensors(args.safetensors, run.model, layout=args.layout)
        print(f"{args.safetensors}: weights of {run.weights}, {args.layout} layout")
    return 0


@contextlib.contextmanager
def _writing(path):
    """An OSError while writing the file ``path`` the user named (a folder of that name, no permission)
    becomes a one-line UserError naming it."""
    try:
        yield
    except OSError as why:
        raise backends.UserError(f"cannot write {path}: {why.strerror or why}") from why


def read_inputs(path, preprocessing):
    """(ids, x) of new raw inputs for a run with ``preprocessing``: a table's feature columns (ids: row
    numbers from 1), a ``.npz``'s array x (ids: indices), or the images in a folder, read at the
    run's image size and channels (ids: file names)."""
    import numpy

    from dlcore.data import files

    path = Path(path)
    if not path.exists():
        raise files.DataFileError(f"{path}: no such file or folder")
    if path.is_dir():
        if len(preprocessing.input_shape) != 3:
            raise files.DataFileError(f"{path}: a folder of images, but this run was not trained on images")
        images = sorted(p for p in path.iterdir() if p.suffix.lower() in files.IMAGE_SUFFIXES)
        if not images:
            raise files.DataFileError(f"{path}: holds no image ({', '.join(files.IMAGE_SUFFIXES)})")
        channels, *size = preprocessing.input_shape
        return [p.name for p in images], numpy.stack([files.read_image(p, size, channels == 1) for p in images])
    if path.suffix == ".npz":
        x, = files.read_arrays(path, ("x",))
        if x.ndim == 0:
            raise files.DataFileError(f"{path}: x is a single value; it must hold one row per sample")
        if x.dtype.kind not in "biuf":
            raise files.DataFileError(f"{path}: x holds {x.dtype} values; the inputs must be numbers")
        if not len(x):
            raise files.DataFileError(f"{path}: x holds no sample")
        return list(range(len(x))), x.astype(numpy.float32)
    if not preprocessing.features:
        raise files.DataFileError(f"{path}: this run was not trained on a table; give a .npz with x or a folder of "
                                  f"images")
    x = files.read_columns(path, preprocessing.features)
    return list(range(1, len(x) + 1)), x


def _source_script(relative: str, arguments) -> int:
    """Run ``scripts/<relative>`` of the source tree with ``arguments``."""
    script = SOURCE_TREE / "scripts" / relative
    if not script.is_file():
        print(f"error: this command runs scripts/{relative} of a source tree, which this installation lacks; "
              f"clone the project and install it with pip install -e .", file=sys.stderr)
        return 2
    sys.argv = [str(script), *arguments]
    try:
        runpy.run_path(str(script), run_name="__main__")
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            return stop.code or 0
        print(stop.code, file=sys.stderr)  # sys.exit("message"): shown, status 1, as Python does
        return 1
    return 0
