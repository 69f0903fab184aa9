"""The pre-training report runs end to end in --quick mode and writes what it promises."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_report(tmp_path):
    result = subprocess.run([sys.executable, "scripts/pretrain_report.py", "--quick", "--backend", "numpy",
                             "--out", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    errors = report["rbm"]["rbm_reconstruction_error_per_epoch"]
    assert len(errors) == 2 and errors[1] < errors[0]
    semi = report["semi_supervised_10_per_class"]
    assert set(semi) == {"none", "dbn", "sae"} and all(0.1 < v["mean"] <= 1 for v in semi.values())
    # pre-training is the point: in --quick mode none ≈ 0.23, dbn ≈ 0.75, sae ≈ 0.73 (10 labels a class)
    assert semi["dbn"]["mean"] > semi["none"]["mean"] + 0.2 and semi["sae"]["mean"] > semi["none"]["mean"] + 0.2
    deep = report["deep_sigmoid"]
    assert all(len(v["gradient_norms_at_start"]) == 4 for v in deep.values())
    assert {p.name for p in tmp_path.glob("*.png")} == {"rbm_filters.png", "dbn_samples.png"}
