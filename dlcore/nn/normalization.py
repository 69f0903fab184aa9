"""Batch normalization layers (over ``dlcore.functions.normalization.batch_norm``)."""
from __future__ import annotations

from dlcore import init
from dlcore.functions.normalization import batch_norm
from dlcore.nn.module import Module, Parameter


class _BatchNorm(Module):
    """y = γ·(x − μ)/√(σ² + ε) + β per channel (axis 1); see BatchNorm1d / BatchNorm2d."""

    dims = ()

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5):
        super().__init__()
        if num_features < 1:
            raise ValueError(f"{type(self).__name__} needs num_features ≥ 1, got {num_features}")
        self.num_features, self.momentum, self.eps = int(num_features), float(momentum), float(eps)
        self.weight = Parameter(init.ones((self.num_features,)))
        self.bias = Parameter(init.zeros((self.num_features,)))
        self.register_buffer("running_mean", init.zeros((self.num_features,)))
        self.register_buffer("running_var", init.ones((self.num_features,)))

    def forward(self, x):
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            raise ValueError(f"{self!r} expects an input of {' or '.join(f'{d}-D' for d in self.dims)} shape "
                             f"with {self.num_features} channels on axis 1, got shape {tuple(x.shape)}")
        return batch_norm(x, self.weight, self.bias, self.running_mean, self.running_var,
                          momentum=self.momentum, eps=self.eps)

    def extra_repr(self) -> str:
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}"


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs, statistics per feature C over N (and L).

    Training: batch mean and biased variance normalize; running_mean/running_var (buffers,
    in state_dict) follow r ← (1 − m)·r + m·stat with the unbiased variance. Eval: the running
    statistics normalize. Learned ``weight`` γ (ones) and ``bias`` β (zeros).
    """

    dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of NCHW maps, statistics per channel over N, H and W (not per C·H·W).

    Same training/eval rules and running statistics as BatchNorm1d.
    """

    dims = (4,)
