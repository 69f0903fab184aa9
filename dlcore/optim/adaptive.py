"""Per-coordinate adaptive learning rates: ``AdaGrad``, ``RMSprop``, ``Adam``.

Throughout, g = ∇θ + weight_decay·θ + l1·sign(θ) (see ``Optimizer``), η = ``lr``, and
squares and square roots are elementwise.
"""
from __future__ import annotations

import math

from backends import axpby
from backends.fused import fused
from dlcore.checks import ArgumentValueError, flag
from dlcore.optim.optimizer import Optimizer


def _ema(buf, x, decay: float) -> None:
    """buf ← decay · buf + (1 − decay) · x, in place."""
    axpby(1.0 - decay, x, decay, buf)


def _adaptive_step(xp, param, num, sq, lr: float, eps: float) -> None:
    """param ← param − lr · num / (√sq + eps), in place, through one scratch array."""
    d = xp.empty_like(param)
    xp.sqrt(sq, out=d)
    d += eps
    xp.divide(num, d, out=d)
    axpby(-lr, d, 1.0, param)


@fused("T g, T lr, T eps", "T p, T h", "h += g * g; p -= lr * g / (sqrt(h) + eps)", "dlcore_adagrad")
def _adagrad(xp, g, lr, eps, p, h):
    """h ← h + g²; θ ← θ − η g/(√h + ε), in place."""
    h += g * g
    _adaptive_step(xp, p, g, h, lr, eps)


@fused("T g, T lr, T alpha, T eps", "T p, T h",
       "h = alpha * h + (1 - alpha) * (g * g); p -= lr * g / (sqrt(h) + eps)", "dlcore_rmsprop")
def _rmsprop(xp, g, lr, alpha, eps, p, h):
    """h ← αh + (1−α)g²; θ ← θ − η g/(√h + ε), in place."""
    _ema(h, g * g, alpha)
    _adaptive_step(xp, p, g, h, lr, eps)


@fused("T g, T lr_t, T beta1, T beta2, T eps_t", "T p, T m, T v",
       "m = beta1 * m + (1 - beta1) * g; v = beta2 * v + (1 - beta2) * (g * g); p -= lr_t * m / (sqrt(v) + eps_t)",
       "dlcore_adam")
def _adam(xp, g, lr_t, beta1, beta2, eps_t, p, m, v):
    """m ← β1m + (1−β1)g; v ← β2v + (1−β2)g²; θ ← θ − η_t m/(√v + ε_t), in place."""
    _ema(m, g, beta1)
    _ema(v, g * g, beta2)
    _adaptive_step(xp, p, m, v, lr_t, eps_t)


class AdaGrad(Optimizer):
    """AdaGrad (h: running sum of squared gradients):

        h ← h + g²;   θ ← θ − η g / (√h + ε)

    Example::

        >>> w = nn.Parameter(np.array([0.0, 0.0], "float32"))
        >>> opt = optim.AdaGrad([w], lr=0.1)
        >>> w.grad = np.array([4.0, 0.01], "float32")
        >>> opt.step()                # the first step is ≈ η·sign(g) whatever the size of g
        >>> print(w.numpy())
        [-0.1 -0.1]
        >>> print(opt.state["0"]["h"])    # h = g²
        [16.      0.0001]
    """

    buffers = ("h",)

    def __init__(self, params, lr: float = 0.01, eps: float = 1e-8, weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, eps=eps)

    def update(self, xp, param, g, state):
        _adagrad(xp, g, self.lr, self.eps, param, state["h"])


class RMSprop(Optimizer):
    """RMSprop (h: exponential average of squared gradients, α = ``alpha``):

        h ← α h + (1 − α) g²;   θ ← θ − η g / (√h + ε)

    α must be in [0, 1) (α = 0: h = g², steps of about η·sign(g)).

    Example::

        >>> w = nn.Parameter(np.array([0.0], "float32"))
        >>> opt = optim.RMSprop([w], lr=0.01, alpha=0.99)
        >>> w.grad = np.array([2.0], "float32")
        >>> opt.step()                # h = 0.01·4 = 0.04; θ = −0.01·2/√0.04
        >>> print(w.numpy(), opt.state["0"]["h"])
        [-0.1] [0.04]
    """

    buffers = ("h",)
    # not α = 1: h would stay at its initial 0 and every step would be η g / ε (1e8·η·g)
    hyper_ranges = {"alpha": "[0, 1)"}

    def __init__(self, params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, l1: float = 0.0):
        super().__init__(params, lr, weight_decay, l1, alpha=alpha, eps=eps)

    def update(self, xp, param, g, state):
        _rmsprop(xp, g, self.lr, self.alpha, self.eps, param, state["h"])


class Adam(Optimizer):
    """Adam (Kingma & Ba), t = the step count (``self.t``, 1 at the first step):

        m ← β1 m + (1 − β1) g;   v ← β2 v + (1 − β2) g²
        m̂ = m / (1 − β1ᵗ);   v̂ = v / (1 − β2ᵗ);   θ ← θ − η m̂ / (√v̂ + ε)

    Computed as θ ← θ − η_t m / (√v + ε_t) with η_t = η √(1−β2ᵗ) / (1−β1ᵗ) and
    ε_t = ε √(1−β2ᵗ), which is the same expression multiplied through by √(1−β2ᵗ) and
    needs no bias-corrected copies of m and v. t counts ``step()`` calls of this optimizer,
    so a parameter skipped (grad None) at some steps still uses the global t.
    β1 and β2 must be in [0, 1) (β = 1 makes the bias correction 1/(1 − βᵗ) divide by 0);
    ``betas=(β1, β2)`` (PyTorch's spelling) sets both. ``amsgrad=True`` (Reddi et al.; PyTorch's
    amsgrad) steps with the largest v so far: v_max ← max(v_max, v); θ ← θ − η_t m / (√v_max + ε_t),
    a third buffer ``v_max``.

    Example::

        >>> w = nn.Parameter(np.array([0.0, 0.0], "float32"))
        >>> opt = optim.Adam([w], lr=0.001)
        >>> w.grad = np.array([5.0, -0.1], "float32")
        >>> opt.step()                # m̂ = g, v̂ = g²: the first step is η·sign(g)
        >>> print(w.numpy(), opt.t)
        [-0.001  0.001] 1
        >>> sorted(opt.state_dict()["hyper"])
        ['beta1', 'beta2', 'eps', 'l1', 'lr', 'weight_decay']
        >>> optim.Adam([w], betas=(0.8, 0.99), amsgrad=True).buffers
        ('m', 'v', 'v_max')
    """

    buffers = ("m", "v")
    hyper_ranges = {"beta1": "[0, 1)", "beta2": "[0, 1)"}
    capture_refusal = "Adam's bias correction changes every step and a graph replays the captured one"

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.0, l1: float = 0.0, *, betas=None, amsgrad: bool = False):
        cls = type(self).__name__
        if betas is not None:
            if (beta1, beta2) != (0.9, 0.999):
                raise ArgumentValueError(f"{cls}: got betas={betas!r} and beta1={beta1}, beta2={beta2}; give one "
                                         f"of the two spellings")
            if not isinstance(betas, (tuple, list)) or len(betas) != 2:
                raise ArgumentValueError(f"{cls}: betas must be a pair (β1, β2), got {betas!r}")
            beta1, beta2 = betas
        self.amsgrad = flag(cls, "amsgrad", amsgrad)
        if self.amsgrad:
            self.buffers = ("m", "v", "v_max")
        super().__init__(params, lr, weight_decay, l1, beta1=beta1, beta2=beta2, eps=eps)

    def update(self, xp, param, g, state):
        root_c2 = math.sqrt(1.0 - self.beta2 ** self.t)
        lr_t, eps_t = self.lr * root_c2 / (1.0 - self.beta1 ** self.t), self.eps * root_c2
        if not self.amsgrad:
            _adam(xp, g, lr_t, self.beta1, self.beta2, eps_t, param, state["m"], state["v"])
            return
        m, v, v_max = state["m"], state["v"], state["v_max"]
        _ema(m, g, self.beta1)
        _ema(v, g * g, self.beta2)
        xp.maximum(v_max, v, out=v_max)
        _adaptive_step(xp, param, m, v_max, lr_t, eps_t)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter; PyTorch's AdamW), λ = ``weight_decay``:

        θ ← θ − η λ θ;   then Adam's step (``Adam``) from g = ∇θ + l1·sign(θ), without λθ

    where ``Adam(weight_decay=λ)`` adds λθ to g, which the adaptive denominator then rescales. The
    default λ is 0.01, as PyTorch's; ``betas`` and ``amsgrad`` as in Adam.

    Example::

        >>> w = nn.Parameter(np.array([1.0, -2.0], "float32"))
        >>> opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
        >>> w.grad = np.array([0.0, 0.0], "float32")    # no gradient: only the decay acts
        >>> opt.step()                                   # θ(1 − ηλ) = θ·0.95
        >>> print(w.numpy())
        [ 0.95 -1.9 ]
    """

    def __init__(self, params, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8,
                 weight_decay: float = 0.01, l1: float = 0.0, *, betas=None, amsgrad: bool = False):
        super().__init__(params, lr, beta1, beta2, eps, weight_decay, l1, betas=betas, amsgrad=amsgrad)

    def _gradient(self, xp, p):
        """g = grad + l1·sign(θ): the decay is applied to θ in ``update``, not through g."""
        return p.grad + self.l1 * xp.sign(p.data) if self.l1 else p.grad

    def update(self, xp, param, g, state):
        if self.weight_decay:
            param *= 1.0 - self.lr * self.weight_decay
        super().update(xp, param, g, state)
