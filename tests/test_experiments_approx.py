"""The course-experiment scripts 1, 2, 3 and 9 in --quick mode: they run, draw, and the claims hold."""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(name: str, out: Path) -> dict:
    result = subprocess.run([sys.executable, f"scripts/experiments/{name}.py", "--quick", "--backend", "numpy",
                             "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((out / f"{name}.json").read_text())
    assert record["experiment"] == name and record["quick"] is True and record["backend"] == "numpy"
    assert record["figures"], "the script recorded no figure"
    for filename, caption in record["figures"].items():
        assert (out / filename).stat().st_size > 1000, filename
        assert filename.endswith(".png") and caption
    return record["results"]


def test_universal_approximation_error_falls_with_units(tmp_path):
    results = _run("universal_approximation", tmp_path)
    mse = results["mse"]
    assert {"1", "10"} <= set(mse)
    # One sigmoid is a single step (MSE ≈ 0.065 against sin 2πx); ten trace the sine (≈ 1e-4).
    assert mse["10"] < mse["1"] / 10
    assert mse["1"] > 0.02 and mse["10"] < 0.01


def test_perceptron_fails_xor_and_two_layers_solve_it(tmp_path):
    results = _run("perceptron_limits", tmp_path)
    gates = results["perceptron"]
    for gate in ("AND", "OR", "NAND"):
        assert gates[gate]["converged"] and gates[gate]["correct"], gates[gate]
        assert gates[gate]["truth_table"] == gates[gate]["target"]
    assert not gates["XOR"]["converged"]
    assert gates["XOR"]["truth_table"] != [0, 1, 1, 0]
    assert results["mlp"]["accuracy"] == 1.0 and results["mlp"]["plotted_seed"] is not None
    assert results["mlp"]["seeds_solved"]


def test_playground_spiral_some_net_fits_the_spirals(tmp_path):
    results = _run("playground_spiral", tmp_path)
    accuracies = results["train_accuracy"]
    assert len(accuracies) >= 4 and all(0.0 <= a <= 1.0 for a in accuracies.values())
    # The 16-16-16 nets reach ≥ 0.98 for seeds 0-4 in quick mode; 0.9 leaves margin.
    assert results["best_accuracy"] >= 0.9


def test_linear_regions_grow_with_depth(tmp_path):
    results = _run("linear_regions", tmp_path)
    mean = results["mean_count"]
    deepest, shallowest = str(max(results["depths"])), str(min(results["depths"]))
    assert shallowest == "1" and int(deepest) > 1
    assert mean[deepest] > mean[shallowest]
    # Depth 1: width-16 lines cut the plane into at most 1 + 16 + 120 = 137 regions (the bound is exact there).
    assert results["montufar_bound"]["1"] == 137
    assert all(c <= 137 for c in results["counts"]["1"])
    assert results["montufar_bound"]["2"] == 8 ** 2 * 137
