"""Batch normalization as one coarse Function with a hand-derived backward."""
from __future__ import annotations

import backends
from backends.fused import fused
from dlcore import checks, modes
from dlcore.core import Function, Tensor
from dlcore.ops.layout import channel_rows


@fused("T x, T mean, T inv_std, T gamma, T beta", "T xhat, T y",
       "xhat = (x - mean) * inv_std; y = gamma * xhat + beta", "dlcore_batch_norm")
def _normalize(xp, x, mean, inv_std, gamma, beta):
    """(x̂, y) = ((x − μ)/σ, γx̂ + β)."""
    (x,), (mean, inv_std, gamma, beta), back = channel_rows(xp, (x,), (mean, inv_std, gamma, beta))
    xhat = x - mean
    xhat *= inv_std
    y = gamma * xhat
    y += beta
    return back(xhat), back(y)


@fused("T g, T xhat, T k, T mean_g, T mean_gx", "T gx", "gx = k * (g - mean_g - xhat * mean_gx)",
       "dlcore_batch_norm_grad")
def _normalize_grad(xp, g, xhat, k, mean_g, mean_gx):
    """γ/σ · (g − mean(g) − x̂·mean(g·x̂))."""
    (g, xhat), (k, mean_g, mean_gx), back = channel_rows(xp, (g, xhat), (k, mean_g, mean_gx))
    gx = g - mean_g
    gx -= xhat * mean_gx
    gx *= k
    return back(gx)


class BatchNorm(Function):
    """y = γ·(x − μ)/√(σ² + ε) + β per channel (axis 1), statistics over every other axis.

    Training (batch statistics μ = mean(x), σ² = mean((x − μ)²)):
        ∂L/∂x = γ/σ · (g − mean(g) − x̂·mean(g·x̂)),  ∂L/∂γ = Σ g·x̂,  ∂L/∂β = Σ g.
    When running statistics are given they are updated in place on the device:
        r_μ ← (1 − m)·r_μ + m·μ,   r_σ² ← (1 − m)·r_σ² + m·σ²·n/(n − 1)   (n values per channel).
    Eval (μ, σ² = the running statistics, constants): ∂L/∂x = g·γ/σ.

    Synchronised (training with a ``comm`` whose ``distributed`` is true): μ, σ² and n are
    those of the global batch, the union of every rank's batch (R ranks, n = Σ_r n_r):
        μ = Σ_r Σx / n,   σ² = Σ_r Σ(x − μ)² / n
    (two passes, as one process computes them, so no Σx² − nμ² cancellation: one allreduce of
    the packed [Σx, n_r], then one of Σ(x − μ)², both in x's dtype). The input gradient uses
    the global sums (one allreduce of the packed [Σg, Σg·x̂]):
        ∂L_r/∂x = γ/σ · (g − Σ_r Σg / n − x̂·Σ_r Σg·x̂ / n),
    which is R·∂L/∂x for the rank-averaged loss L = (1/R)·Σ_r L_r, the same convention as every
    other local gradient that ``DistributedOptimizer`` averages over the ranks; ∂L/∂γ and ∂L/∂β
    stay the local sums for that reason. The running statistics are updated from the global
    μ, σ² and n, so they stay identical on every rank. Eval never communicates.
    """

    def __init__(self, training: bool, running_mean=None, running_var=None, momentum=0.1, eps=1e-5, comm=None):
        self.training, self.running_mean, self.running_var = training, running_mean, running_var
        self.momentum, self.eps = momentum, eps
        self.comm = comm if training and comm is not None and comm.distributed else None

    def forward(self, xp, x, gamma, beta):
        shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
        self.n = x.size // x.shape[1]
        self.backend = backends.backend_of(x)
        if self.training:
            mean, var = self._batch_moments(xp, x, shape)
            if self.running_mean is not None:
                m = self.momentum
                self.running_mean *= 1 - m
                self.running_mean += m * mean.reshape(-1)
                self.running_var *= 1 - m
                self.running_var += (m * self.n / (self.n - 1)) * var.reshape(-1)
        else:
            mean = self.running_mean.reshape(shape).astype(x.dtype, copy=False)
            var = self.running_var.reshape(shape).astype(x.dtype, copy=False)
        self.inv_std = 1 / xp.sqrt(var + self.eps)
        self.gamma = gamma.reshape(shape)
        self.xhat, y = _normalize(xp, x, mean, self.inv_std, self.gamma, beta.reshape(shape))
        return y

    def _batch_moments(self, xp, x, shape):
        """(μ, σ²) of the batch, shaped ``shape``, in two passes: μ = Σx / n, σ² = Σ(x − μ)² / n.

        Synchronised, both sums and n are those of the global batch (``self.n`` becomes the
        global count, a 0-d array of x's dtype kept on the device).
        """
        sums = self.backend.channel_sums(x)
        if self.comm is not None:
            total = self.comm.allreduce_sum_array(xp.concatenate([sums, xp.full(1, self.n, dtype=x.dtype)]))
            sums, self.n = total[:-1], total[-1]
        mean = (sums / self.n).reshape(shape)
        squares = x - mean
        squares *= squares
        square_sums = self.backend.channel_sums(squares)
        if self.comm is not None:
            square_sums = self.comm.allreduce_sum_array(square_sums)
        return mean, (square_sums / self.n).reshape(shape)

    def backward(self, xp, gy):
        needs = self.needs_input_grad
        centred = needs[0] and self.training  # the training gradient of x needs both sums
        shape = self.gamma.shape
        sum_g = self.backend.channel_sums(gy).reshape(shape) if needs[2] or centred else None
        sum_gx = self.backend.channel_sums(gy * self.xhat).reshape(shape) if needs[1] or centred else None
        d_gamma = sum_gx.reshape(-1) if needs[1] else None  # local sums, also when synchronised
        d_beta = sum_g.reshape(-1) if needs[2] else None
        gx = None
        if needs[0]:
            k = self.gamma * self.inv_std
            if centred and self.comm is not None:  # the global sums, one allreduce of [Σg, Σg·x̂]
                sum_g, sum_gx = self.comm.allreduce_sum_array(xp.stack([sum_g, sum_gx]))
            gx = _normalize_grad(xp, gy, self.xhat, k, sum_g / self.n, sum_gx / self.n) if self.training else gy * k
        return gx, d_gamma, d_beta


def batch_norm(x, weight, bias, running_mean=None, running_var=None, training=None, momentum=0.1, eps=1e-5,
               comm=None):
    """y = γ·(x − μ)/√(σ² + ε) + β per channel (axis 1 of (N, C), (N, C, L) or (N, C, H, W)).

    ``weight`` γ and ``bias`` β have shape (C,). In training (``training=None`` reads
    ``dlcore.is_training()``) μ, σ² are the batch's mean and biased variance over every axis
    but 1, and ``running_mean``/``running_var`` (if given) are updated in place:
    r ← (1 − m)·r + m·stat, the variance unbiased (×n/(n−1)). In eval the running statistics
    are used (batch statistics when none are given). With a distributed communicator ``comm``
    the training statistics are those of the global batch over all ranks (see ``BatchNorm``);
    every rank must then call it in the same order with the same C.
    """
    for name, value in (("x", x), ("weight", weight), ("bias", bias)):
        checks.array("batch_norm", name, value)
    if x.ndim < 2 or weight.shape != (x.shape[1],) or bias.shape != (x.shape[1],):
        raise checks.ShapeError(f"batch_norm needs x (N, C, ...) and weight, bias of shape (C,); got x "
                                f"{tuple(x.shape)}, weight {tuple(weight.shape)}, bias {tuple(bias.shape)}")
    if (running_mean is None) != (running_var is None):
        raise checks.ArgumentTypeError("batch_norm: running_mean and running_var must be given together (or neither)")
    if running_mean is not None:
        for name, value in (("running_mean", running_mean), ("running_var", running_var)):
            if tuple(checks.array("batch_norm", name, value).shape) != (x.shape[1],):
                raise checks.ShapeError(f"batch_norm: {name} must have shape ({x.shape[1]},) (one per channel of x "
                                        f"{tuple(x.shape)}), got {tuple(value.shape)}")
        # the statistics are updated in place: they must live where x does
        backends.backend_for((x.data if isinstance(x, Tensor) else x, running_mean, running_var), "batch_norm")
    momentum = checks.finite_number("batch_norm", "momentum", momentum, within="[0, 1]")
    eps = checks.finite_number("batch_norm", "eps", eps, within="(0, inf)")
    training = modes.is_training() if training is None else checks.flag("batch_norm", "training", training)
    if not training and running_mean is None:
        training = True
    ranks = comm.size if comm is not None and comm.distributed else 1  # equal batches on every rank assumed
    if training and ranks * (x.size // x.shape[1]) < 2:
        raise checks.ShapeError(f"batch_norm in training needs more than one value per channel, got x "
                                f"{tuple(x.shape)}" + (f" on each of {ranks} ranks" if ranks > 1 else ""))
    return BatchNorm(training, running_mean, running_var, momentum, eps, comm)(x, weight, bias)
