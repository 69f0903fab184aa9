"""What every experiment script shares: its command line, output folder, JSON and figures.

    from common import Experiment
    exp = Experiment("universal_approximation", __doc__)   # parses --out, --quick, --backend, --seed
    ...
    exp.figure(fig, "fits.png", "One sentence saying what the picture shows.")
    exp.finish({"mse": mse_by_j})                          # writes <name>.json, prints it

Each script writes under ``--out`` (default runs/experiments/<name>/): its PNGs and one
``<name>.json`` holding its numbers, its settings and a caption per picture, which
``run_all.py`` turns into the index page.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore.io import write_text_atomic  # noqa: E402


class Experiment:
    """Command line, seeding, figures with captions and the JSON record of one experiment."""

    def __init__(self, name: str, description: str, argv=None):
        parser = argparse.ArgumentParser(description=description,
                                         formatter_class=argparse.RawDescriptionHelpFormatter)
        parser.add_argument("--out", default=str(ROOT / "runs" / "experiments" / name), help="output folder")
        parser.add_argument("--quick", action="store_true", help="a small version that runs in seconds")
        parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "cupy"])
        parser.add_argument("--seed", type=int, default=0)
        self.args = parser.parse_args(argv)
        self.name, self.quick, self.seed = name, self.args.quick, self.args.seed
        self.out = Path(self.args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.backend = backends.use(self.args.backend)
        dlcore.manual_seed(self.seed)
        self.figures: dict[str, str] = {}
        self.started = time.perf_counter()

    def figure(self, fig, filename: str, caption: str) -> Path:
        """Save a matplotlib figure as ``filename`` in the output folder (atomically) with its caption."""
        from dlcore.training.plots import save_figure

        path = save_figure(fig, self.out / filename)
        self.figures[filename] = caption
        return path

    def finish(self, results: dict) -> dict:
        """Write ``<name>.json`` (results, settings, captions, seconds) and print it; returns the record."""
        record = {"experiment": self.name, "quick": self.quick, "seed": self.seed, "backend": self.backend.name,
                  "seconds": round(time.perf_counter() - self.started, 2), "figures": self.figures,
                  "results": results}
        write_text_atomic(self.out / f"{self.name}.json", json.dumps(record, indent=1, default=float))
        print(json.dumps(record, indent=1, default=float))
        return record


def pyplot():
    """matplotlib.pyplot with the file-only Agg backend (experiments need the ``plot`` extra)."""
    from dlcore.training import plots

    plt = plots.pyplot()
    if plt is None:
        raise SystemExit("the experiments draw pictures: install matplotlib (in the dlcore source tree: "
                         "pip install -e '.[plot]')")
    return plt
