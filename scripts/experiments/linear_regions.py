"""Linear regions: a deeper random ReLU net cuts the input plane into more linear pieces.

The course's claim (Montúfar, Pascanu, Cho & Bengio 2014): a ReLU network is piecewise
linear, and the maximal number of linear regions it can have grows exponentially with depth
but only polynomially with width. For n₀ inputs and L hidden layers of widths n₁ … n_L
(each nᵢ ≥ n₀) their lower bound on that maximum is

    R(n₀; n₁, …, n_L) = ( ∏_{i=1}^{L−1} ⌊nᵢ / n₀⌋ )^{n₀} · Σ_{j=0}^{n₀} C(n_L, j),

which for n₀ = 2 inputs and equal widths n is ⌊n/2⌋^{2(L−1)} · (1 + n + n(n−1)/2) (at L = 1 it
is the exact maximum of n lines in general position in the plane). It bounds what the best
choice of weights can reach; a randomly initialised net need not come near it (Hanin &
Rolnick 2019 find random nets have far fewer regions, roughly growing with the number of
units), so the script compares the trend, not the values.

This script builds random ReLU MLPs 2 → n → … → n → 1 (``dlcore.models.MLP``, He-normal
weights, biases drawn N(0, 0.3²) because zero biases would put every first-layer line through
the origin), for depth L = 1 … 6 (quick: 1 … 3) at width n = 16, a few nets per depth. It runs
the library's forward pass over a fine grid of the square [−1, 1]², collects the sign pattern
(pre-activation > 0) of every hidden unit layer by layer, and counts the distinct patterns.
Each pattern is one activation region, a convex polygon on which the net is affine. The count
is a lower bound on the number of activation regions meeting the square (regions smaller than
the grid spacing are missed; it cannot exceed the number of grid points); the number of
distinct affine pieces of the output can be smaller still where a whole layer is switched off.
It plots the mean count against depth with the bound, and the regions of one net per depth
coloured at random (one colour per pattern).
"""
from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import Experiment, pyplot  # noqa: E402

import numpy  # noqa: E402

import backends  # noqa: E402
import dlcore  # noqa: E402
from dlcore import init  # noqa: E402
from dlcore.models import MLP  # noqa: E402
from dlcore.nn import Linear  # noqa: E402

exp = Experiment("linear_regions", __doc__)

N_IN, WIDTH, BIAS_STD = 2, 16, 0.3
if exp.quick:
    DEPTHS, NETS, RESOLUTION, SHOWN = [1, 2, 3], 2, 200, [1, 2, 3]
else:
    DEPTHS, NETS, RESOLUTION, SHOWN = [1, 2, 3, 4, 5, 6], 5, 800, [1, 2, 3, 4, 5, 6]
CHUNK = 1 << 17

lin = numpy.linspace(-1.0, 1.0, RESOLUTION, dtype=numpy.float32)
gx, gy = numpy.meshgrid(lin, lin)
points = numpy.stack([gx.ravel(), gy.ravel()], axis=1)
xp = exp.backend.xp


def montufar_bound(n_in: int, widths: list[int]) -> int:
    """(∏_{i=1}^{L−1} ⌊nᵢ/n₀⌋)^{n₀} · Σ_{j=0}^{n₀} C(n_L, j)  (Montúfar et al. 2014)."""
    product = math.prod(n // n_in for n in widths[:-1])
    return product ** n_in * sum(math.comb(widths[-1], j) for j in range(n_in + 1))


def random_net(depth: int, seed: int) -> MLP:
    """A ReLU MLP 2 → WIDTH × depth → 1 with He-normal weights and N(0, BIAS_STD²) biases."""
    dlcore.manual_seed(seed)
    model = MLP([N_IN] + [WIDTH] * depth + [1], activation="relu", weight_init="he")
    for layer in model:
        if isinstance(layer, Linear):
            layer.bias.data = init.normal(layer.bias.shape, std=BIAS_STD)
    return model


def activation_codes(model: MLP) -> numpy.ndarray:
    """(grid points, hidden layers) int64: each hidden layer's on/off pattern as the bits of one integer."""
    layers = list(model)
    weights = xp.asarray(1 << numpy.arange(WIDTH, dtype=numpy.int64))  # WIDTH ≤ 62 bits per layer
    codes = []
    with dlcore.no_grad():
        for start in range(0, len(points), CHUNK):
            x = dlcore.tensor(points[start:start + CHUNK], device=exp.backend.name)
            chunk = []
            for i, layer in enumerate(layers):
                x = layer(x)
                if isinstance(layer, Linear) and i < len(layers) - 1:  # a hidden layer's pre-activations
                    chunk.append(((x.data > 0) * weights).sum(axis=1))
            codes.append(backends.to_numpy(xp.stack(chunk, axis=1)))
    return numpy.concatenate(codes)


def count_regions(codes: numpy.ndarray):
    """(number of distinct patterns, region index of each grid point)."""
    rows = numpy.ascontiguousarray(codes).view(numpy.dtype((numpy.void, codes.itemsize * codes.shape[1])))[:, 0]
    unique, inverse = numpy.unique(rows, return_inverse=True)
    return len(unique), inverse.reshape(-1)


counts, bounds, region_maps = {}, {}, {}
for depth in DEPTHS:
    counts[depth] = []
    bounds[depth] = montufar_bound(N_IN, [WIDTH] * depth)
    for k in range(NETS):
        n_regions, inverse = count_regions(activation_codes(random_net(depth, 1000 * exp.seed + 10 * depth + k)))
        counts[depth].append(n_regions)
        if k == 0 and depth in SHOWN:
            region_maps[depth] = (n_regions, inverse.reshape(gx.shape))
    print(f"depth {depth}: regions {counts[depth]}  mean {numpy.mean(counts[depth]):.1f}  "
          f"Montúfar bound {bounds[depth]:.3g}", flush=True)

plt = pyplot()
means = [float(numpy.mean(counts[d])) for d in DEPTHS]
fig, ax = plt.subplots(figsize=(5, 3.8))
for depth in DEPTHS:
    ax.plot([depth] * NETS, counts[depth], ".", color="C0", alpha=0.5)
ax.plot(DEPTHS, means, "o-", color="C0", label=f"random nets, mean of {NETS} (grid count)")
ax.plot(DEPTHS, [bounds[d] for d in DEPTHS], "s--", color="C3", label="Montúfar et al. bound on the maximum")
ax.axhline(RESOLUTION ** 2, color="0.5", ls=":", lw=1, label=f"grid points ({RESOLUTION}²): most countable")
ax.set_yscale("log")
ax.set_xlabel(f"hidden layers L (width {WIDTH} each)")
ax.set_ylabel("linear regions in [−1, 1]²")
ax.set_xticks(DEPTHS)
ax.legend(fontsize=7)
fig.tight_layout()
exp.figure(fig, "regions_vs_depth.png",
           f"Distinct ReLU activation patterns on a {RESOLUTION}² grid of [−1, 1]² for random width-{WIDTH} nets "
           f"against depth, with the Montúfar et al. lower bound on the maximal count: the random nets' count grows "
           f"with depth ({means[0]:.0f} at L = {DEPTHS[0]} to {means[-1]:.0f} at L = {DEPTHS[-1]}) but stays far "
           f"below the bound.")

cols = min(3, len(SHOWN))
rows = -(-len(SHOWN) // cols)
fig, axes = plt.subplots(rows, cols, figsize=(3.3 * cols, 3.4 * rows), squeeze=False)
colours = numpy.random.default_rng(exp.seed)
for ax, depth in zip(axes.flat, SHOWN):
    n_regions, index = region_maps[depth]
    palette = colours.random((n_regions, 3)) * 0.8 + 0.2
    ax.imshow(palette[index], origin="lower", extent=(-1, 1, -1, 1), interpolation="nearest")
    ax.set_title(f"L = {depth}: {n_regions} regions", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
for ax in list(axes.flat)[len(SHOWN):]:
    ax.axis("off")
fig.suptitle(f"Linear regions of random ReLU nets, width {WIDTH}")
fig.tight_layout()
exp.figure(fig, "regions.png", f"The activation regions of one random width-{WIDTH} ReLU net per depth over "
                               f"[−1, 1]², one random colour per pattern: each added layer folds and cuts the "
                               f"previous regions into smaller ones.")

exp.finish({
    "width": WIDTH, "n_in": N_IN, "bias_std": BIAS_STD, "weight_init": "he", "grid": RESOLUTION, "nets": NETS,
    "depths": DEPTHS,
    "counts": {str(d): counts[d] for d in DEPTHS},
    "mean_count": {str(d): float(numpy.mean(counts[d])) for d in DEPTHS},
    "montufar_bound": {str(d): bounds[d] for d in DEPTHS},
    "bound_formula": "(prod_{i=1}^{L-1} floor(n_i/n_0))^{n_0} * sum_{j=0}^{n_0} C(n_L, j), n_0 = 2",
})
