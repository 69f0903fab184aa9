#!/usr/bin/env python3
"""Run every experiment script and write an index page of their pictures.

    python scripts/experiments/run_all.py [--out runs/experiments] [--quick] [--backend auto]

Each script writes into ``<out>/<name>/``; ``<out>/index.md`` lists every picture with its
one-sentence caption and links each experiment's JSON of numbers. A script that fails is
reported in the index and makes the exit status non-zero; the others still run.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from dlcore.io import write_text_atomic  # noqa: E402

SCRIPTS = ["universal_approximation", "perceptron_limits", "playground_spiral", "saturation_init",
           "vanishing_gradients", "optimizers", "dropout_early_stopping", "batch_size", "linear_regions",
           "l1_vs_l2"]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(HERE.parents[1] / "runs" / "experiments"))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "cupy"])
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = ["# dlcore experiments", "", f"Backend: {args.backend}{' (quick mode)' if args.quick else ''}.", ""]
    failed = []
    for name in SCRIPTS:
        command = [sys.executable, str(HERE / f"{name}.py"), "--out", str(out / name), "--backend", args.backend]
        print(f"== {name}", flush=True)
        result = subprocess.run(command + (["--quick"] if args.quick else []), capture_output=True, text=True)
        lines.append(f"## {name.replace('_', ' ')}")
        lines.append("")
        record_path = out / name / f"{name}.json"
        if result.returncode != 0 or not record_path.exists():
            failed.append(name)
            lines += [f"**failed** (exit {result.returncode}):", "", "```", result.stderr[-2000:], "```", ""]
            continue
        record = json.loads(record_path.read_text())
        lines.append(f"{record['seconds']} s; numbers in [{name}.json]({name}/{name}.json).")
        lines.append("")
        for filename, caption in record["figures"].items():
            lines += [f"![{filename}]({name}/{filename})", "", caption, ""]
    write_text_atomic(out / "index.md", "\n".join(lines))
    print(f"index: {out / 'index.md'}" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
