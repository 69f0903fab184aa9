"""Saturation vs initialisation: what each layer's activations look like at initialisation.

The course's claim: with weights drawn from N(0, 1), a deep sigmoid (or tanh) net saturates —
its activations pile up at 0 and 1 (±1 for tanh), where the derivative is ~0 and learning
stalls — while the Xavier initialisation N(0, 1/n_in) keeps them centred and spread out
through every layer; ReLU wants He's N(0, 2/n_in) to keep its scale.

What this script does: 5-layer nets of width 100 (Linear(100, 100) + activation, five times,
biases 0) with sigmoid, tanh and ReLU, each initialised with "gauss" N(0, 1), "xavier"
N(0, σ² = 1/n_in) and "he" N(0, σ² = 2/n_in) (``dlcore.init``). 1,000 inputs x ~ N(0, 1) of
dimension 100 (equal to the width, so every layer has n_in = 100) go through each net once,
with no gradient; each layer's activations (after the nonlinearity) are histogrammed, one
row per (activation, initialisation), one column per layer. Results: per (activation,
initialisation, layer) the mean and standard deviation of the activations, for sigmoid and
tanh the fraction that is not saturated (sigmoid in (0.05, 0.95); tanh in (−0.9, 0.9), the
same band since tanh(z) = 2σ(2z) − 1), for ReLU the fraction that is exactly 0. The default
mode draws 10 independent sets of nets and inputs and reports the non-saturated fraction's
mean over them (the figures show the first draw); --quick draws one.

Claim tested: the fraction of sigmoid activations in (0.05, 0.95) is larger under Xavier
than under N(0, 1), at the last layer and averaged over the layers.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Experiment, pyplot  # noqa: E402

import numpy  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import nn  # noqa: E402

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "relu": nn.ReLU}
INITS = ("gauss", "xavier", "he")
WIDTH, LAYERS, N_INPUTS = 100, 5, 1000
UNSATURATED = {"sigmoid": (0.05, 0.95), "tanh": (-0.9, 0.9)}  # the same band: tanh(z) = 2σ(2z) − 1


def build(activation: str, weight_init: str) -> nn.Sequential:
    layers = []
    for _ in range(LAYERS):
        layers += [nn.Linear(WIDTH, WIDTH, weight_init=weight_init), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers)


def layer_activations(model: nn.Sequential, x) -> list[numpy.ndarray]:
    """The output of every activation layer of ``model`` for input ``x``, on the host."""
    outputs = []
    with dlcore.no_grad():
        h = dlcore.Tensor(x)
        for layer in model:
            h = layer(h)
            if not isinstance(layer, nn.Linear):
                outputs.append(numpy.asarray(backends.to_numpy(h.data), dtype=numpy.float64).ravel())
    return outputs


def layer_stats(activation: str, a: numpy.ndarray) -> dict:
    stats = {"mean": float(a.mean()), "std": float(a.std())}
    if activation in UNSATURATED:
        low, high = UNSATURATED[activation]
        stats["fraction_unsaturated"] = float(((a > low) & (a < high)).mean())
    else:
        stats["fraction_zero"] = float((a == 0).mean())
    return stats


def main():
    exp = Experiment("saturation_init", __doc__)
    repeats = 1 if exp.quick else 10
    rng = numpy.random.default_rng(exp.seed)
    first = {}       # (activation, init) -> per-layer activations of the first draw (for the figure)
    results = {"settings": {"width": WIDTH, "layers": LAYERS, "inputs": N_INPUTS, "input_dim": WIDTH,
                            "input_distribution": "N(0, 1)", "repeats": repeats, "bias": 0.0,
                            "unsaturated_band": {k: list(v) for k, v in UNSATURATED.items()}},
               "stats": {}}
    for r in range(repeats):
        x = exp.backend.from_numpy(rng.standard_normal((N_INPUTS, WIDTH)).astype(numpy.float32))
        for activation in ACTIVATIONS:
            for weight_init in INITS:
                outs = layer_activations(build(activation, weight_init), x)
                key = f"{activation}/{weight_init}"
                per_layer = [layer_stats(activation, a) for a in outs]
                if r == 0:
                    first[activation, weight_init] = outs
                    results["stats"][key] = {"layers": per_layer}
                if activation in UNSATURATED:
                    entry = results["stats"][key]
                    entry.setdefault("_fractions", []).append([s["fraction_unsaturated"] for s in per_layer])
    for key, entry in results["stats"].items():
        fractions = entry.pop("_fractions", None)
        if fractions is not None:
            per_layer = numpy.mean(fractions, axis=0)
            entry["fraction_unsaturated_per_layer"] = [float(v) for v in per_layer]
            entry["fraction_unsaturated_mean_over_layers"] = float(per_layer.mean())
            entry["fraction_unsaturated_last_layer"] = float(per_layer[-1])
    s = results["stats"]
    results["claim"] = {
        "statement": "fraction of sigmoid activations in (0.05, 0.95) is larger under xavier than under gauss N(0,1)",
        "sigmoid_xavier_mean_over_layers": s["sigmoid/xavier"]["fraction_unsaturated_mean_over_layers"],
        "sigmoid_gauss_mean_over_layers": s["sigmoid/gauss"]["fraction_unsaturated_mean_over_layers"],
        "sigmoid_xavier_last_layer": s["sigmoid/xavier"]["fraction_unsaturated_last_layer"],
        "sigmoid_gauss_last_layer": s["sigmoid/gauss"]["fraction_unsaturated_last_layer"],
    }
    results["claim"]["holds"] = bool(
        results["claim"]["sigmoid_xavier_mean_over_layers"] > results["claim"]["sigmoid_gauss_mean_over_layers"]
        and results["claim"]["sigmoid_xavier_last_layer"] > results["claim"]["sigmoid_gauss_last_layer"])

    plt = pyplot()
    rows = [(a, i) for a in ACTIVATIONS for i in INITS]
    fig, axes = plt.subplots(len(rows), LAYERS, figsize=(2.3 * LAYERS, 1.35 * len(rows)), squeeze=False)
    colors = {"gauss": "tab:red", "xavier": "tab:blue", "he": "tab:green"}
    for row, (activation, weight_init) in enumerate(rows):
        for col, a in enumerate(first[activation, weight_init]):
            ax = axes[row, col]
            stats = results["stats"][f"{activation}/{weight_init}"]["layers"][col]
            title = f"μ={stats['mean']:.3g} σ={stats['std']:.3g}"
            if activation == "sigmoid":
                span = (0.0, 1.0)
            elif activation == "tanh":
                span = (-1.0, 1.0)
            else:  # ReLU: the positive part only; its scale depends on the initialisation
                a = a[a > 0]
                span = (0.0, max(float(numpy.quantile(a, 0.99)) if a.size else 1.0, 1e-12))
                title += f", {stats['fraction_zero']:.0%} zero"
            ax.hist(a, bins=40, range=span, color=colors[weight_init], histtype="stepfilled")
            ax.set_title(title, fontsize=7)
            ax.tick_params(labelsize=6)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            ax.xaxis.get_offset_text().set_fontsize(6)
            ax.set_yticks([])
            if row == 0:
                ax.annotate(f"layer {col + 1}", (0.5, 1.35), xycoords="axes fraction", ha="center",
                            fontsize=9, fontweight="bold")
            if col == 0:
                ax.set_ylabel(f"{activation}\n{weight_init}", fontsize=8)
    fig.suptitle("activations per layer at initialisation (5 × width 100, 1,000 inputs x ~ N(0,1)); "
                 "ReLU panels: the positive part, up to its 99th percentile", fontsize=9, y=1.005)
    fig.tight_layout()
    exp.figure(fig, "activation_histograms.png",
               "Histograms of each layer's activations at initialisation (rows: activation × initialisation, "
               "columns: layers 1-5): with N(0,1) weights sigmoid and tanh pile up at their limits, "
               "with Xavier they stay centred, and ReLU keeps its scale only under He.")

    fig, ax = plt.subplots(1, 2, figsize=(9, 3.4))
    for k, activation in enumerate(UNSATURATED):
        for weight_init in INITS:
            f = s[f"{activation}/{weight_init}"]["fraction_unsaturated_per_layer"]
            ax[k].plot(range(1, LAYERS + 1), f, "o-", color=colors[weight_init], label=weight_init)
        low, high = UNSATURATED[activation]
        ax[k].set_title(f"{activation}: fraction in ({low:g}, {high:g})")
        ax[k].set_xlabel("layer")
        ax[k].set_ylim(0, 1.05)
        ax[k].set_xticks(range(1, LAYERS + 1))
        ax[k].grid(alpha=0.3)
        ax[k].legend()
    fig.tight_layout()
    exp.figure(fig, "unsaturated_fraction.png",
               f"Fraction of non-saturated sigmoid and tanh activations per layer (mean of {repeats} draw(s)): "
               "near 1 under Xavier, far lower under N(0,1).")
    exp.finish(results)


if __name__ == "__main__":
    main()
