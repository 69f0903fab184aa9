#!/usr/bin/env python3
"""Train a model from a TOML config: the same as the ``dlcore train`` / ``dlcore resume`` commands.

    python scripts/train.py --config configs/default.toml [--backend numpy] [--set optim.lr=0.05] [--json]
    python scripts/train.py --resume runs/NAME-TIMESTAMP [--set train.epochs=40]   # see runconfig.RESUMABLE
    mpirun -n 4 python scripts/train.py --config configs/default.toml --distributed   # data-parallel
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from dlcore.cli import script_main as main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
