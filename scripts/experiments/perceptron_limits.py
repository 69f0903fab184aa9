"""Perceptron limits: a single threshold unit learns AND, OR and NAND but never XOR; two layers solve XOR.

The course's claim (Minsky & Papert 1969): Rosenblatt's perceptron y = step(w·x + b) draws one
straight line through the input plane, so the perceptron rule w ← w + η(t − y)x,
b ← b + η(t − y) converges on every linearly separable truth table (AND, OR, NAND) and cycles
forever on XOR, which no line separates; one hidden layer trained by backpropagation
represents and learns XOR.

This script runs ``Perceptron(2).fit_rule`` on the four points of each gate (η = 0.5, at most
100 epochs) and reports whether it converged and the truth table it ends with; then trains
a 2-4-2 tanh MLP (cross-entropy, full-batch Adam, the library's Trainer) on XOR from several
seeds and reports each seed's accuracy on the four points. It draws the decision regions
(predictions over a grid as filled contours, the four points marked) of each perceptron
and of the first MLP that solves XOR.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Experiment, pyplot  # noqa: E402

import numpy  # noqa: E402
from rich.console import Console  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import losses, optim  # noqa: E402
from dlcore.data.loader import ArrayLoader  # noqa: E402
from dlcore.models import MLP, Perceptron  # noqa: E402
from dlcore.training.trainer import Trainer  # noqa: E402

exp = Experiment("perceptron_limits", __doc__)
QUIET = Console(quiet=True)

X = numpy.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=numpy.float32)
GATES = {"AND": [0, 0, 0, 1], "OR": [0, 1, 1, 1], "NAND": [1, 1, 1, 0], "XOR": [0, 1, 1, 0]}
MAX_EPOCHS, RULE_LR = 100, 0.5
MLP_SEEDS = list(range(exp.seed, exp.seed + (3 if exp.quick else 10)))
MLP_EPOCHS, MLP_LR = 300, 0.05

device = exp.backend.name
x_device = backends.to_device(X, device)
lin = numpy.linspace(-0.5, 1.5, 201, dtype=numpy.float32)
gx, gy = numpy.meshgrid(lin, lin)
grid = dlcore.tensor(numpy.stack([gx.ravel(), gy.ravel()], axis=1), device=device)

# ---- the perceptron rule on each gate ---------------------------------------------------
perceptrons = {}
for name, truth in GATES.items():
    dlcore.manual_seed(exp.seed)
    perceptron = Perceptron(2)
    converged = perceptron.fit_rule(x_device, backends.to_device(numpy.array(truth, numpy.float32), device),
                                    lr=RULE_LR, max_epochs=MAX_EPOCHS)
    with dlcore.no_grad():
        table = perceptron(dlcore.Tensor(x_device)).numpy()[:, 0].astype(int).tolist()
        regions = perceptron(grid).numpy()[:, 0].reshape(gx.shape)
    w = backends.to_numpy(perceptron.linear.weight.data)[:, 0]
    b = float(backends.to_numpy(perceptron.linear.bias.data)[0])
    perceptrons[name] = {"converged": bool(converged), "truth_table": table, "target": truth,
                         "correct": table == truth, "weights": w.tolist(), "bias": b, "regions": regions}
    print(f"perceptron {name:4s}: converged={converged}  table={table}  target={truth}", flush=True)

# ---- a two-layer network trained by backpropagation on XOR -------------------------------
xor_labels = numpy.array(GATES["XOR"], dtype=numpy.int64)
loader = ArrayLoader(X, xor_labels, batch_size=4, shuffle=False)
mlp_runs, solved = {}, None
for seed in MLP_SEEDS:
    dlcore.manual_seed(seed)
    model = MLP([2, 4, 2], activation="tanh")
    history = Trainer(progress=False, log_every=10**6, console=QUIET).fit(
        model, losses.CrossEntropyLoss(), optim.Adam(model, lr=MLP_LR), loader, None, MLP_EPOCHS)
    model.eval()
    with dlcore.no_grad():
        predicted = model(dlcore.Tensor(x_device)).numpy().argmax(axis=1)
    accuracy = float((predicted == xor_labels).mean())
    mlp_runs[seed] = {"accuracy": accuracy, "loss": float(history.last["train_loss"]),
                      "predictions": predicted.tolist()}
    if accuracy == 1.0 and solved is None:
        solved = seed
        with dlcore.no_grad():
            logits = model(grid).numpy()
        p_one = numpy.exp(logits[:, 1] - logits.max(1)) / numpy.exp(logits - logits.max(1, keepdims=True)).sum(1)
        mlp_regions = p_one.reshape(gx.shape)
    print(f"MLP 2-4-2 tanh, seed {seed}: XOR accuracy {accuracy:.2f}, loss {history.last['train_loss']:.4f}",
          flush=True)

# ---- pictures ----------------------------------------------------------------------------
plt = pyplot()
panels = [(f"perceptron: {name}", perceptrons[name]["regions"], GATES[name],
           ("converged" if perceptrons[name]["converged"] else f"no convergence in {MAX_EPOCHS} epochs"))
          for name in GATES]
if solved is not None:
    panels.append((f"2-4-2 tanh MLP: XOR (seed {solved})", mlp_regions, GATES["XOR"], "P(class 1), accuracy 1.0"))
fig, axes = plt.subplots(1, len(panels), figsize=(3.1 * len(panels), 3.3), squeeze=False)
for ax, (title, regions, truth, note) in zip(axes[0], panels):
    ax.contourf(gx, gy, regions, levels=numpy.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.55)
    ax.contour(gx, gy, regions, levels=[0.5], colors="k", linewidths=1.2)
    truth = numpy.array(truth)
    for label, marker, colour in ((0, "o", "C0"), (1, "s", "C3")):
        pts = X[truth == label]
        ax.scatter(pts[:, 0], pts[:, 1], marker=marker, s=90, c=colour, edgecolors="k", zorder=3,
                   label=f"target {label}")
    ax.set_title(f"{title}\n{note}", fontsize=9)
    ax.set_xlim(-0.5, 1.5)
    ax.set_ylim(-0.5, 1.5)
    ax.set_aspect("equal")
    ax.set_xlabel("x₁")
axes[0, 0].set_ylabel("x₂")
axes[0, 0].legend(fontsize=7, loc="upper left")
fig.tight_layout()
exp.figure(fig, "decision_boundaries.png",
           "Decision regions (red = output 1) of perceptrons trained by the perceptron rule on AND, OR, NAND and XOR, "
           "and of a 2-4-2 tanh network trained by backprop on XOR: one line cannot separate XOR, two layers can.")

exp.finish({
    "perceptron": {name: {k: v for k, v in run.items() if k != "regions"} for name, run in perceptrons.items()},
    "rule": {"lr": RULE_LR, "max_epochs": MAX_EPOCHS},
    "mlp": {"sizes": [2, 4, 2], "activation": "tanh", "epochs": MLP_EPOCHS, "lr": MLP_LR,
            "runs": {str(s): r for s, r in mlp_runs.items()},
            "seeds_solved": [s for s, r in mlp_runs.items() if r["accuracy"] == 1.0],
            "success_rate": sum(r["accuracy"] == 1.0 for r in mlp_runs.values()) / len(mlp_runs),
            "plotted_seed": solved,
            "accuracy": mlp_runs[solved]["accuracy"] if solved is not None else max(
                r["accuracy"] for r in mlp_runs.values())},
})
