#!/usr/bin/env python3
"""What greedy pre-training buys, measured on MNIST-5k; writes report.json and PNGs.

    python scripts/pretrain_report.py [--out runs/pretrain_report] [--quick] [--backend numpy]

1. RBM (784-256, CD-1): reconstruction error per epoch, its filters and DBN samples as pictures.
2. Semi-supervised: pre-train (DBN and stacked denoising autoencoder) on every training image
   without labels, fine-tune on 10 labelled images per class; the same MLP from a random
   init on the same 100 labels; test accuracy mean ± std over 5 seeds.
3. A deep sigmoid net (6 hidden layers): per-layer gradient norms at the start of fine-tuning
   (the vanishing-gradient picture) and final accuracies, random init vs DBN vs SAE.
"""
from __future__ import annotations

import argparse
import copy
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import Tensor, losses  # noqa: E402
from dlcore.data import mnist_5k, split  # noqa: E402
from dlcore.unsupervised import DBN  # noqa: E402
from dlcore.training import plots, runconfig  # noqa: E402
from dlcore.io import write_text_atomic  # noqa: E402
from dlcore.training.build import build_model, pretrained_model  # noqa: E402
from dlcore.training.run import execute  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def rbm_pictures(out: Path, quick: bool) -> dict:
    x_train = split(*mnist_5k(), (0.8, 0.1, 0.1), seed=0)[0][0]
    dlcore.manual_seed(0)
    dbn = DBN((784, 256, 64), lr=0.05)
    errors = dbn.pretrain(x_train[:500] if quick else x_train, epochs=2 if quick else 15, batch_size=64)
    plots.tiles(backends.to_numpy(dbn.rbms[0].W.data).T[:100], out / "rbm_filters.png",
                title="RBM filters (columns of W)")
    plots.tiles(backends.to_numpy(dbn.sample(20, gibbs_steps=50 if quick else 500)), out / "dbn_samples.png",
                title="DBN samples")
    first = errors[0]
    return {"rbm_reconstruction_error_per_epoch": first,
            "monotone": all(b <= a for a, b in zip(first, first[1:]))}


def semi_supervised(base: dict, out: Path, quick: bool) -> dict:
    seeds = range(2 if quick else 5)
    results = {}
    for method in ("none", "dbn", "sae"):
        accuracies = []
        for seed in seeds:
            cfg = copy.deepcopy(base)
            cfg["run"].update(seed=seed, out_dir=str(out / "runs"), name=f"semi-{method}-{seed}")
            cfg["pretrain"]["method"] = method
            if method == "dbn":
                cfg["pretrain"].update(lr=0.05, corruption=0.0)
            cfg["data"]["labels_per_class"] = 10
            cfg["train"].update(epochs=5 if quick else 150, batch_size=20, log_every=10**6)
            cfg["schedule"]["name"] = "none"
            cfg["optim"]["lr"] = 0.1
            accuracies.append(execute(cfg)["test_accuracy"])
        results[method] = {"accuracies": accuracies, "mean": statistics.mean(accuracies),
                           "std": statistics.stdev(accuracies) if len(accuracies) > 1 else 0.0}
    return results


def layer_gradient_norms(model, x, y) -> list[float]:
    """‖∂L/∂W‖ of each Linear layer, input side first, for one batch."""
    model.train()
    loss = losses.CrossEntropyLoss()(model(Tensor(backends.current().from_numpy(x))), backends.current().from_numpy(y))
    model.zero_grad()
    loss.backward()
    return [float(numpy.linalg.norm(backends.to_numpy(m.weight.grad))) for m in model
            if isinstance(m, dlcore.nn.Linear)]


def deep_sigmoid(base: dict, out: Path, quick: bool) -> dict:
    results = {}
    x_train, y_train = split(*mnist_5k(), (0.8, 0.1, 0.1), seed=0)[0]
    for method in ("none", "dbn", "sae"):
        cfg = copy.deepcopy(base)
        cfg["model"]["hidden"] = [128] * (3 if quick else 6)
        cfg["run"].update(out_dir=str(out / "runs"), name=f"deep-{method}")
        cfg["pretrain"]["method"] = method
        if method == "dbn":
            cfg["pretrain"].update(lr=0.05, corruption=0.0)
        cfg["pretrain"]["epochs"] = 1 if quick else 10
        cfg["train"].update(epochs=2 if quick else 30, log_every=10**6)
        dlcore.manual_seed(0)
        if method == "none":
            model = build_model(cfg, (784,), 10)
        else:
            model = pretrained_model(cfg, x_train, 10)[0]
        norms = layer_gradient_norms(model, x_train[:256], y_train[:256])
        results[method] = {"gradient_norms_at_start": norms, "test_accuracy": execute(cfg)["test_accuracy"]}
    return results


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="runs/pretrain_report")
    parser.add_argument("--quick", action="store_true", help="seconds instead of minutes (used by the tests)")
    parser.add_argument("--backend", default="auto", choices=["auto", "numpy", "cupy"])
    args = parser.parse_args(argv)
    backends.use(args.backend)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    base = runconfig.load(ROOT / "configs" / "sae_mnist.toml")
    report = {"backend": backends.current().name, "quick": args.quick,
              "rbm": rbm_pictures(out, args.quick),
              "semi_supervised_10_per_class": semi_supervised(base, out, args.quick),
              "deep_sigmoid": deep_sigmoid(base, out, args.quick)}
    write_text_atomic(out / "report.json", json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
