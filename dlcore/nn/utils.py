"""Gradient clipping, PyTorch's ``torch.nn.utils`` functions: ``clip_grad_norm_``, ``clip_grad_value_``.

Both run between ``loss.backward()`` and ``optimizer.step()``, on the parameters' devices, without
waiting for the device (the norm stays there). Each gradient is replaced by a new array rather than
scaled in place: a gradient array may be shared (the optimizers never write into one either).

Example::

    >>> model = nn.Linear(2, 1)
    >>> loss = (model(dlcore.Tensor(np.full((1, 2), 100.0, "float32"))) ** 2).sum()
    >>> loss.backward()
    >>> _ = nn.utils.clip_grad_norm_(model, max_norm=1.0)
    >>> bool(np.sqrt(sum((p.grad ** 2).sum() for p in model.parameters())) <= 1.0)
    True
"""
from __future__ import annotations

import math

import backends
from dlcore import checks
from dlcore.core import Tensor


def _with_grads(owner: str, parameters) -> list[Tensor]:
    """The parameters (a Module, an iterable or one Tensor) that have a gradient."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    elif hasattr(parameters, "parameters"):
        parameters = parameters.parameters()
    params = list(parameters)
    for i, p in enumerate(params):
        checks.instance(owner, f"parameter {i}", p, Tensor, "a Parameter or Tensor")
    return [p for p in params if p.grad is not None]


def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0) -> Tensor:
    """Scale all gradients together so that their joint norm is at most ``max_norm``; returns the norm
    before clipping (a 0-d Tensor on the gradients' device).

    The norm is that of all gradients as one vector, ‖g‖_p = (Σ_i Σ |g_i|^p)^(1/p), or max |g| for
    ``norm_type=math.inf``; every gradient is multiplied by min(1, max_norm / (‖g‖ + 10⁻⁶)), as PyTorch's
    (the 10⁻⁶ keeps a zero norm finite). A NaN or infinite gradient makes the norm and every gradient
    NaN (the Trainer's divergence check then reports it).

    Example::

        >>> w = nn.Parameter(np.zeros(2, "float32"))
        >>> w.grad = np.array([3.0, 4.0], "float32")                # norm 5
        >>> norm = nn.utils.clip_grad_norm_([w], max_norm=1.0)
        >>> print(round(norm.item(), 4), w.grad)                    # scaled to norm 1 (less 10⁻⁶)
        5.0 [0.6 0.8]
    """
    params = _with_grads("clip_grad_norm_", parameters)
    max_norm = checks.finite_number("clip_grad_norm_", "max_norm", max_norm, "[0, inf)")
    norm_type = float(norm_type)
    if not (norm_type == math.inf or norm_type > 0):
        raise checks.ArgumentValueError(f"clip_grad_norm_: norm_type must be > 0 or math.inf, got {norm_type}")
    if not params:
        return Tensor(backends.current().xp.zeros((), "float32"))
    xp = backends.get_array_module(*(p.grad for p in params), op="clip_grad_norm_")
    if norm_type == math.inf:
        total = xp.stack([xp.abs(p.grad).max() for p in params]).max()
    else:
        total = xp.stack([(xp.abs(p.grad) ** norm_type).sum() for p in params]).sum() ** (1.0 / norm_type)
    scale = xp.minimum(max_norm / (total + 1e-6), 1.0)
    for p in params:
        p.grad = p.grad * scale.astype(p.grad.dtype)
    return Tensor(total)


def clip_grad_value_(parameters, clip_value: float) -> None:
    """Clip every gradient element into [−clip_value, clip_value], as PyTorch's.

    Example::

        >>> w = nn.Parameter(np.zeros(3, "float32"))
        >>> w.grad = np.array([-5.0, 0.5, 2.0], "float32")
        >>> nn.utils.clip_grad_value_([w], 1.0)
        >>> print(w.grad)
        [-1.   0.5  1. ]
    """
    params = _with_grads("clip_grad_value_", parameters)
    clip_value = checks.finite_number("clip_grad_value_", "clip_value", clip_value, "[0, inf)")
    for p in params:
        p.grad = backends.backend_of(p.grad).xp.clip(p.grad, -clip_value, clip_value)


__all__ = ["clip_grad_norm_", "clip_grad_value_"]
