"""scripts/train.py --distributed under mpirun: 2 ranks × batch B train like 1 process × batch 2B."""
import json
import os
import subprocess
import sys

import pytest

from tests.test_distributed import MPI_MISSING, ROOT

pytestmark = pytest.mark.skipif(MPI_MISSING is not None, reason=str(MPI_MISSING))

ENV = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none", OMPI_MCA_rmaps_base_oversubscribe="1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1",
           OPENBLAS_NUM_THREADS="1")


def _train(prefix, out, batch):
    cmd = [*prefix, sys.executable, "scripts/train.py", "--config", "configs/xor.toml", "--backend", "numpy",
           "--json", "--set", f"run.out_dir='{out}'", "--set", "train.epochs=15", "--set", f"train.batch_size={batch}"]
    if prefix:
        cmd.append("--distributed")
    result = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1, result.stdout  # only rank 0 reports
    return json.loads(lines[0])


def test_two_ranks_train_like_one_process_with_double_batch(tmp_path):
    two = _train(["mpirun", "--allow-run-as-root", "--oversubscribe", "-n", "2"], tmp_path / "two", batch=8)
    one = _train([], tmp_path / "one", batch=16)
    assert two["ranks"] == 2 and one["ranks"] == 1
    assert two["train_loss"] == pytest.approx(one["train_loss"], rel=1e-5)
    assert two["val_loss"] == pytest.approx(one["val_loss"], rel=1e-5)
    runs = list((tmp_path / "two").iterdir())
    assert len(runs) == 1 and (runs[0] / "last.npz").is_file()  # one run directory, written by rank 0
