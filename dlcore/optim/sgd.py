"""Gradient descent with and without momentum: ``SGD``, ``Momentum``, ``Nesterov``.

Throughout, g = ∇θ + weight_decay·θ + l1·sign(θ) (see ``Optimizer``), η = ``lr``.
"""
from __future__ import annotations

from backends import axpby
from backends.fused import fused
from dlcore.optim.optimizer import Optimizer

# μ = 1 never forgets a gradient (v grows without bound); μ < 0 flips the velocity each step
_MOMENTUM_RANGE = {"momentum": "[0, 1)"}


@fused("T g, T lr", "T p", "p -= lr * g", "dlcore_sgd")
def _sgd(xp, g, lr, p):
    """θ ← θ − η g, in place."""
    axpby(-lr, g, 1.0, p)


@fused("T g, T lr, T mu", "T p, T v", "v = mu * v - lr * g; p += v", "dlcore_momentum")
def momentum_update(xp, g, lr, mu, p, v):
    """v ← μv − ηg; θ ← θ + v, in place (Momentum's step, and the RBM's CD update)."""
    axpby(-lr, g, mu, v)
    axpby(1.0, v, 1.0, p)


@fused("T g, T lr, T mu", "T p, T v", "T step = lr * g; v = mu * v - step; p += mu * v - step", "dlcore_nesterov")
def _nesterov(xp, g, lr, mu, p, v):
    """v ← μv − ηg; θ ← θ + μv − ηg, in place."""
    axpby(-lr, g, mu, v)
    axpby(mu, v, 1.0, p)
    axpby(-lr, g, 1.0, p)


class SGD(Optimizer):
    """Plain gradient descent: θ ← θ − η g.

    Example::

        >>> w = nn.Parameter(np.array([1.0, -1.0], "float32"))
        >>> opt = optim.SGD([w], lr=0.1)
        >>> w.grad = np.array([2.0, -4.0], "float32")    # a known gradient
        >>> opt.step()                                    # θ − η g = (1 − 0.2, −1 + 0.4)
        >>> print(w.numpy())
        [ 0.8 -0.6]
        >>> opt.zero_grad(); w.grad is None
        True
    """

    def __init__(self, params, lr: float, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1)

    def update(self, xp, param, g, state):
        _sgd(xp, g, self.lr, param)


class Momentum(Optimizer):
    """Gradient descent with momentum (velocity v, μ = ``momentum``):

        v ← μ v − η g;   θ ← θ + v

    μ must be in [0, 1); μ = 0 is plain gradient descent.

    Example::

        >>> w = nn.Parameter(np.array([0.0], "float32"))
        >>> opt = optim.Momentum([w], lr=0.1, momentum=0.9)
        >>> for _ in range(3):        # the same gradient 1 each step: v = −0.1, −0.19, −0.271
        ...     w.grad = np.array([1.0], "float32")
        ...     opt.step()
        >>> print(w.numpy())          # −(0.1 + 0.19 + 0.271)
        [-0.561]
    """

    buffers = ("v",)
    hyper_ranges = _MOMENTUM_RANGE

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, momentum=momentum)

    def update(self, xp, param, g, state):
        momentum_update(xp, g, self.lr, self.momentum, param, state["v"])


class Nesterov(Optimizer):
    """Nesterov momentum (look-ahead), in the form that needs ∇ only at the stored parameters:

        v ← μ v − η g;   θ ← θ + μ v − η g        (g evaluated at the stored θ)

    The course's rule evaluates the gradient at the look-ahead point ψ + μv of the
    "real" parameters ψ: v ← μv − η∇f(ψ + μv); ψ ← ψ + v. Store θ = ψ + μv instead
    (Sutskever et al. 2013; Bengio et al. 2013). Then g = ∇f(θ) and, with v' the new
    velocity, θ' = ψ' + μv' = ψ + v' + μv' = (θ − μv) + v' + μv' = θ + μv' + (v' − μv)
    = θ + μv' − ηg. The two sequences differ only by μv, which goes to 0 at convergence,
    so they reach the same minimum. μ must be in [0, 1).

    Example::

        >>> w = nn.Parameter(np.array([0.0], "float32"))
        >>> opt = optim.Nesterov([w], lr=0.1, momentum=0.9)
        >>> w.grad = np.array([1.0], "float32")
        >>> opt.step()                # v = −0.1; θ = 0 + 0.9·(−0.1) − 0.1
        >>> print(w.numpy())
        [-0.19]
    """

    buffers = ("v",)
    hyper_ranges = _MOMENTUM_RANGE

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, momentum=momentum)

    def update(self, xp, param, g, state):
        _nesterov(xp, g, self.lr, self.momentum, param, state["v"])
