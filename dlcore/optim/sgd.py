"""Gradient descent with and without momentum: ``SGD``, ``Momentum``, ``Nesterov``.

Throughout, g = ∇θ + weight_decay·θ + l1·sign(θ) (see ``Optimizer``), η = ``lr``.
"""
from __future__ import annotations

from dlcore.optim.optimizer import Optimizer


class SGD(Optimizer):
    """Plain gradient descent: θ ← θ − η g."""

    def __init__(self, params, lr: float, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1)

    def update(self, xp, param, g, state):
        param -= self.lr * g


class Momentum(Optimizer):
    """Gradient descent with momentum (velocity v, μ = ``momentum``):

        v ← μ v − η g;   θ ← θ + v
    """

    buffers = ("v",)

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, momentum=momentum)

    def update(self, xp, param, g, state):
        v = state["v"]
        v *= self.momentum
        v -= self.lr * g
        param += v


class Nesterov(Optimizer):
    """Nesterov momentum (look-ahead), in the form that needs ∇ only at the stored parameters:

        v ← μ v − η g;   θ ← θ + μ v − η g        (g evaluated at the stored θ)

    The course's rule evaluates the gradient at the look-ahead point ψ + μv of the
    "real" parameters ψ: v ← μv − η∇f(ψ + μv); ψ ← ψ + v. Store θ = ψ + μv instead
    (Sutskever et al. 2013; Bengio et al. 2013). Then g = ∇f(θ) and, with v' the new
    velocity, θ' = ψ' + μv' = ψ + v' + μv' = (θ − μv) + v' + μv' = θ + μv' + (v' − μv)
    = θ + μv' − ηg. The two sequences differ only by μv, which goes to 0 at convergence,
    so they reach the same minimum.
    """

    buffers = ("v",)

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, momentum=momentum)

    def update(self, xp, param, g, state):
        v = state["v"]
        step = self.lr * g
        v *= self.momentum
        v -= step
        param -= step
        param += self.momentum * v
