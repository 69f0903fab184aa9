"""Gradient descent with and without momentum: ``SGD``, ``Momentum``, ``Nesterov``.

Throughout, g = ∇θ + weight_decay·θ + l1·sign(θ) (see ``Optimizer``), η = ``lr``.
"""
from __future__ import annotations

from backends import axpby
from backends.fused import fused
from dlcore import checks
from dlcore.checks import ArgumentValueError, flag
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

    With ``momentum`` μ > 0, torch.optim.SGD's momentum (buffer b, no dampening):

        b ← μ b + g;   θ ← θ − η b         (``nesterov=True``: θ ← θ − η (g + μ b))

    b holds gradients, not steps, so a change of η applies at once to the whole accumulated
    velocity: under an lr schedule this is PyTorch's SGD, where ``Momentum`` (v = −η b for a
    constant η) keeps the old η inside v. μ is then a hyperparameter (schedulable, in
    ``state_dict()``) and b a buffer.

    Example::

        >>> w = nn.Parameter(np.array([1.0, -1.0], "float32"))
        >>> opt = optim.SGD([w], lr=0.1)
        >>> w.grad = np.array([2.0, -4.0], "float32")    # a known gradient
        >>> opt.step()                                    # θ − η g = (1 − 0.2, −1 + 0.4)
        >>> print(w.numpy())
        [ 0.8 -0.6]
        >>> opt.zero_grad(); w.grad is None
        True
        >>> w = nn.Parameter(np.array([0.0], "float32"))
        >>> opt = optim.SGD([w], lr=0.1, momentum=0.9)
        >>> for _ in range(2):        # b = 1, then 0.9·1 + 1 = 1.9
        ...     w.grad = np.array([1.0], "float32")
        ...     opt.step()
        >>> print(w.numpy(), opt.state["0"]["b"])    # −0.1·(1 + 1.9)
        [-0.29] [1.9]
    """

    hyper_ranges = _MOMENTUM_RANGE

    def __init__(self, params, lr: float, weight_decay: float = 0.0, l1: float = 0.0, momentum: float = 0.0,
                 nesterov: bool = False):
        self.nesterov = flag("SGD", "nesterov", nesterov)
        if checks.finite_number("SGD", "momentum", momentum, "[0, 1)") or self.nesterov:
            if not momentum:
                raise ArgumentValueError("SGD: nesterov=True needs a momentum > 0")
            self.buffers = ("b",)
            super().__init__(params, lr, weight_decay, l1, momentum=momentum)
        else:
            super().__init__(params, lr, weight_decay, l1)

    def update(self, xp, param, g, state):
        if not self.buffers:
            _sgd(xp, g, self.lr, param)
            return
        b = state["b"]
        axpby(1.0, g, self.momentum, b)
        if self.nesterov:
            axpby(-self.lr, g, 1.0, param)
            axpby(-self.lr * self.momentum, b, 1.0, param)
        else:
            axpby(-self.lr, b, 1.0, param)


class Momentum(Optimizer):
    """Gradient descent with momentum (velocity v, μ = ``momentum``):

        v ← μ v − η g;   θ ← θ + v

    μ must be in [0, 1); μ = 0 is plain gradient descent.

    The learning rate is folded into v: for a constant η this is PyTorch's SGD(momentum=μ)
    (b ← μb + g; θ ← θ − ηb, and v = −ηb), but when η changes (an lr schedule) v still carries
    the steps taken with the old η, so the runs differ from PyTorch's from that epoch on. For
    PyTorch's behaviour use ``optim.SGD(params, lr, momentum=μ)``.

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
