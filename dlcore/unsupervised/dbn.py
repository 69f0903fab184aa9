"""Deep belief net: a stack of RBMs trained greedily, then unrolled into an MLP for fine-tuning."""
from __future__ import annotations

from dlcore.nn.module import Module
from dlcore.unsupervised.greedy import pretrain_rbms
from dlcore.unsupervised.rbm import RBM, stack_to_mlp


class DBN(Module):
    """RBMs ``rbm0``, ``rbm1``, … of sizes[0]→sizes[1], sizes[1]→sizes[2], …

    The first RBM's visible units are ``visible`` ("bernoulli" or "gaussian"); the hidden
    units of one RBM are the (Bernoulli) visible units of the next. ``rbm_kwargs`` (k,
    persistent, lr, momentum, weight_decay, weight_init, sample_visible) go to every RBM.

    - ``pretrain(x, epochs, batch_size)``: greedy — RBM 1 on x, RBM l+1 on RBM l's p(h|·).
    - ``transform(x)``: the top hidden probabilities of the up-pass hₗ = σ(cₗ + hₗ₋₁Wₗ).
    - ``to_mlp(n_classes)``: Linear(Wₗ, cₗ) → sigmoid per RBM, plus a fresh output layer;
      fine-tune it with the Trainer or any optimizer.
    - ``sample(n, gibbs_steps)``: Gibbs sampling in the top RBM (the undirected associative
      memory), then one top-down pass: binary states hₗ₋₁ ~ p(hₗ₋₁|hₗ) through the lower
      RBMs and, at the bottom, the visible means E[v|h₁] (pixel probabilities for pictures).
    """

    def __init__(self, sizes=(784, 500, 250), visible: str = "bernoulli", **rbm_kwargs):
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"DBN needs at least a visible and a hidden size, got {sizes}")
        self.sizes = sizes
        self.rbms = [RBM(n_in, n_out, visible=visible if i == 0 else "bernoulli", **rbm_kwargs)
                     for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:]))]
        for i, rbm in enumerate(self.rbms):
            setattr(self, f"rbm{i}", rbm)

    def pretrain(self, x, epochs: int = 10, batch_size: int = 100, seed: int = 0, on_epoch=None) -> list[list[float]]:
        """Greedy layer-wise CD training; returns each RBM's per-epoch reconstruction errors
        (``on_epoch(layer, epoch, error)`` is called after each epoch when given)."""
        return pretrain_rbms(self.rbms, x, epochs, batch_size, seed, on_epoch)

    def transform(self, x):
        """Top hidden probabilities of the deterministic up-pass, shape (N, sizes[-1])."""
        for rbm in self.rbms:
            x = rbm.p_h_given_v(x)
        return x

    forward = transform

    def to_mlp(self, n_classes: int, activation: str = "sigmoid", weight_init="xavier"):
        """MLP [sizes…, n_classes]: hidden layers copy each RBM's W and hidden bias c; a fresh output layer."""
        return stack_to_mlp(self.rbms, n_classes, activation, weight_init)

    def sample(self, n: int, gibbs_steps: int = 200, start=None):
        """n visible samples (N, sizes[0]): the visible means after the top-down pass (see class doc).

        The top RBM's chain starts from the first n rows of ``start`` (data) pushed up to its
        visible layer, or from uniform random binary states.
        """
        top = self.rbms[-1]
        if start is None:
            v = (top.backend.random((n, top.n_visible), top.W.dtype) < 0.5).astype(top.W.dtype)
        else:
            v = start[:n]
            for rbm in self.rbms[:-1]:
                v = rbm.p_h_given_v(v)
        state, mean = top.gibbs(v, gibbs_steps)
        if len(self.rbms) > 1:
            for rbm in reversed(self.rbms[1:-1]):
                state = rbm.sample_v(state)
            mean = self.rbms[0].p_v_given_h(state)
        return mean
