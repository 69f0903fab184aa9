"""A deep Boltzmann machine with two hidden layers (Salakhutdinov & Hinton 2009).

    E(v, h¹, h²) = −vᵀW¹h¹ − h¹ᵀW²h² − bᵀv − c¹ᵀh¹ − c²ᵀh²

Unlike a DBN, every connection is undirected, so h¹ receives input from below and above:
p(h¹ⱼ = 1 | v, h²) = σ(c¹ⱼ + vᵀW¹₍:,ⱼ₎ + W²₍ⱼ,:₎h²) and p(h² = 1 | h¹) = σ(c² + h¹ᵀW²).

What is implemented (and what is not):

- greedy initialisation from two RBMs with the doubling of S&H §3.1: the bottom RBM uses
  2W¹ bottom-up and W¹ top-down (the visible layer counted twice, standing in for the
  missing top-down input of h²), the top RBM W² bottom-up and 2W² top-down (h² counted
  twice, standing in for the missing input of v to h¹). Both are trained by CD with the
  usual RBM rule; the DBM takes W¹, b, c¹ from the bottom RBM and W², c² from the top one
  (the top RBM's visible bias is not used);
- mean-field inference of q(h¹, h² | v) = Πμ, started from the doubled recognition pass;
- ``to_mlp`` for discriminative fine-tuning with backprop.

There is no joint training of the whole DBM (no stochastic-approximation / persistent-chain
updates of the joint likelihood): the parameters are the greedy ones until fine-tuning.
"""
from __future__ import annotations

from dlcore.ops.activation import sigmoid_array
from dlcore.nn.module import Module
from dlcore.unsupervised.greedy import pretrain_rbms
from dlcore.unsupervised.rbm import RBM, stack_to_mlp


class DBM(Module):
    """Two-hidden-layer DBM of ``sizes`` = [n_visible, n_hidden1, n_hidden2] (see module doc).

    Sub-modules ``rbm1`` (v–h¹, scale_up=2) and ``rbm2`` (h¹–h², scale_down=2) hold the
    parameters W¹ = rbm1.W, b = rbm1.b, c¹ = rbm1.c, W² = rbm2.W, c² = rbm2.c. ``rbm_kwargs``
    (k, persistent, lr, momentum, weight_decay, weight_init) go to both RBMs.
    """

    def __init__(self, sizes=(784, 500, 1000), **rbm_kwargs):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) != 3:
            raise ValueError(f"DBM takes sizes [n_visible, n_hidden1, n_hidden2], got {sizes}")
        self.sizes = sizes
        self.rbm1 = RBM(sizes[0], sizes[1], scale_up=2.0, **rbm_kwargs)
        self.rbm2 = RBM(sizes[1], sizes[2], scale_down=2.0, **rbm_kwargs)

    def pretrain(self, x, epochs: int = 10, batch_size: int = 100, seed: int = 0) -> list[list[float]]:
        """Greedy initialisation: rbm1 on x, rbm2 on rbm1's p(h¹|v) = σ(2vW¹ + c¹); per-epoch errors of each."""
        return pretrain_rbms([self.rbm1, self.rbm2], x, epochs, batch_size, seed)

    def mean_field(self, v, steps: int = 10):
        """(μ¹, μ²) of the factorised posterior q(h¹, h² | v) after ``steps`` updates.

        Start (``steps=0``): μ¹ = σ(2vW¹ + c¹), μ² = σ(μ¹W² + c²) (the doubled recognition pass).
        Each step:           μ¹ ← σ(vW¹ + μ²W²ᵀ + c¹),  then  μ² ← σ(μ¹W² + c²).
        Updating the layers in turn is block coordinate ascent on the variational lower bound
        (each update is the exact optimum given the other layer), so the bound never decreases
        and the iteration settles at a fixed point of both equations instead of oscillating.
        """
        r1, r2 = self.rbm1, self.rbm2
        v = r1._input(v, op="DBM.mean_field")
        xp, gemm = r1.W.xp, r1.backend.gemm
        mu1 = r1.p_h_given_v(v)
        mu2 = r2.p_h_given_v(mu1)
        bottom_up = gemm(v, r1.W.data)
        bottom_up += r1.c.data
        for _ in range(steps):
            top_down = gemm(mu2, r2.W.data, trans_b=True)
            top_down += bottom_up
            mu1 = sigmoid_array(xp, top_down)
            mu2 = r2.p_h_given_v(mu1)
        return mu1, mu2

    def forward(self, v):
        """μ² of ``mean_field(v)``."""
        return self.mean_field(v)[1]

    def to_mlp(self, n_classes: int, activation: str = "sigmoid", weight_init="xavier"):
        """MLP [n_visible, n_hidden1, n_hidden2, n_classes] for fine-tuning.

        Layer 1 is Linear(2W¹, c¹), layer 2 Linear(W², c²), then a fresh output layer: with
        sigmoid the hidden activations are exactly ``mean_field(v, steps=0)``. The
        approximation: one bottom-up pass replaces the mean-field fixed point, the top-down
        input W²μ² to h¹ being stood in for by doubling W¹ (S&H instead feed q(h²|v) as an
        extra input to the first layer).
        """
        return stack_to_mlp([self.rbm1, self.rbm2], n_classes, activation, weight_init)
