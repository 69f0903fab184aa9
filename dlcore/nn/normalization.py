"""Batch normalization layers (over ``dlcore.ops.normalization.batch_norm``)."""
from __future__ import annotations

import backends
from dlcore import checks, init
from dlcore.core import Tensor
from dlcore.ops.layer_norm import layer_norm
from dlcore.ops.normalization import batch_norm
from dlcore.nn.module import Module, Parameter, check_input_type


class BatchNormBase(Module):
    """y = γ·(x − μ)/√(σ² + ε) + β per channel (axis 1); see BatchNorm1d / BatchNorm2d.

    ``comm`` (a ``dlcore.distributed`` communicator, default None; set it on a whole model with
    ``dlcore.distributed.sync_batch_norm``) synchronises training: μ, σ² are then over the
    global batch of every rank (n = Σ_r n_r values per channel), so the running statistics
    are identical on every rank. Without one (or with ``LocalCommunicator``) nothing changes.

    ``num_features`` must be an int ≥ 1, ``momentum`` in [0, 1] (0 freezes the running
    statistics, 1 keeps only the last batch's), ``eps`` > 0 (finite); ``momentum`` and ``eps``
    are checked again when assigned later.

    As PyTorch's: ``affine=False`` learns no γ, β (y = x̂; ``weight`` and ``bias`` are None);
    ``track_running_stats=False`` keeps no running statistics (no buffers, none in state_dict)
    and normalizes with the batch statistics in eval too.
    """

    dims = ()

    def __init__(self, num_features: int, momentum: float = 0.1, eps: float = 1e-5, comm=None, affine: bool = True,
                 track_running_stats: bool = True):
        super().__init__()
        cls = type(self).__name__
        self.num_features = checks.integer(cls, "num_features", num_features, minimum=1)
        self.momentum, self.eps = momentum, eps
        self.affine = checks.flag(cls, "affine", affine)
        self.track_running_stats = checks.flag(cls, "track_running_stats", track_running_stats)
        self.weight = Parameter(init.ones((self.num_features,))) if self.affine else None
        self.bias = Parameter(init.zeros((self.num_features,))) if self.affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", init.zeros((self.num_features,)))
            self.register_buffer("running_var", init.ones((self.num_features,)))
        else:
            self.running_mean = self.running_var = None
        self.comm = comm

    #: the interval each checked setting must lie in
    _ranges = {"momentum": "[0, 1]", "eps": "(0, inf)"}

    def __setattr__(self, name, value):
        if name in self._ranges:
            value = checks.finite_number(type(self).__name__, name, value, within=self._ranges[name])
        super().__setattr__(name, value)

    def forward(self, x):
        if x.ndim not in self.dims or x.shape[1] != self.num_features:
            raise checks.ShapeError(f"{self!r} expects an input of {' or '.join(f'{d}-D' for d in self.dims)} "
                                    f"shape with {self.num_features} channels on axis 1, got shape {tuple(x.shape)}")
        weight, bias = self.weight, self.bias
        reference = weight if weight is not None else self.running_mean
        if reference is not None:  # parameters or running statistics fix the dtype, as for Linear
            check_input_type(self, x, reference)
        if weight is None:
            xp = backends.backend_of(getattr(x, "data", x)).xp
            weight, bias = xp.ones(self.num_features, x.dtype), xp.zeros(self.num_features, x.dtype)
        return batch_norm(x, weight, bias, self.running_mean, self.running_var, training=None if
                          self.track_running_stats else True, momentum=self.momentum, eps=self.eps, comm=self.comm)

    def extra_repr(self) -> str:
        sync = "" if self.comm is None else f", comm={self.comm!r}"
        options = "".join(f", {k}=False" for k in ("affine", "track_running_stats") if not getattr(self, k))
        return f"{self.num_features}, momentum={self.momentum}, eps={self.eps}{options}{sync}"


class BatchNorm1d(BatchNormBase):
    """Batch normalization of (N, C) or (N, C, L) inputs, statistics per feature C over N (and L).

    Training: batch mean and biased variance normalize; running_mean/running_var (buffers,
    in state_dict) follow r ← (1 − m)·r + m·stat with the unbiased variance. Eval: the running
    statistics normalize. Learned ``weight`` γ (ones) and ``bias`` β (zeros).

    Example::

        >>> bn = nn.BatchNorm1d(2)
        >>> x = dlcore.Tensor(np.array([[1.0, 10.0], [3.0, 30.0]], "float32"))
        >>> print(bn(x).numpy().round(3))    # training: each feature to mean 0, variance 1
        [[-1. -1.]
         [ 1.  1.]]
        >>> print(bn.running_mean, bn.running_var)    # 0.9·r + 0.1·(mean, unbiased variance)
        [0.2 2. ] [ 1.1 20.9]
        >>> print(bn.eval()(x).numpy().round(3))      # eval: the running statistics
        [[0.763 1.75 ]
         [2.67  6.125]]
    """

    dims = (2, 3)


class BatchNorm2d(BatchNormBase):
    """Batch normalization of NCHW maps, statistics per channel over N, H and W (not per C·H·W).

    Same training/eval rules and running statistics as BatchNorm1d.

    Example::

        >>> bn = nn.BatchNorm2d(3)
        >>> x = dlcore.Tensor(np.random.default_rng(0).normal(5.0, 2.0, (8, 3, 4, 4)).astype("float32"))
        >>> y = bn(x).numpy()
        >>> np.allclose(y.mean(axis=(0, 2, 3)), 0, atol=1e-5), np.allclose(y.std(axis=(0, 2, 3)), 1, atol=1e-3)
        (True, True)
        >>> bn.running_mean.shape    # one statistic per channel, not per C·H·W
        (3,)
    """

    dims = (4,)


class GroupNorm(Module):
    """Group normalization (Wu & He), PyTorch's GroupNorm: the C channels of x (N, C, …) form G =
    ``num_groups`` groups of C/G channels; each sample's group is normalized with its own mean and biased
    variance over its channels and positions, y = (x − μ_ng)/√(σ²_ng + ε) · γ_c + β_c, with ``weight`` γ
    (ones) and ``bias`` β (zeros) per channel (none with ``affine=False``). No running statistics: the same
    in training and eval, independent of the batch size. G = 1 is a LayerNorm over (C, …); G = C is
    instance normalization. Composed from Tensor operations (reshape, mean, sqrt): its gradient is theirs.

    Example::

        >>> norm = nn.GroupNorm(num_groups=2, num_channels=4)
        >>> x = dlcore.Tensor(np.array([[1.0, 3.0, 10.0, 30.0]], "float32").reshape(1, 4, 1, 1))
        >>> print(norm(x).numpy().reshape(-1))    # groups (1, 3) and (10, 30), each to mean 0, variance 1
        [-1.  1. -1.  1.]
    """

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True):
        super().__init__()
        self.num_groups = checks.integer("GroupNorm", "num_groups", num_groups, minimum=1)
        self.num_channels = checks.integer("GroupNorm", "num_channels", num_channels, minimum=1)
        if self.num_channels % self.num_groups:
            raise checks.ArgumentValueError(f"GroupNorm: num_channels ({num_channels}) must be divisible by "
                                            f"num_groups ({num_groups})")
        self.eps = checks.finite_number("GroupNorm", "eps", eps, within="(0, inf)")
        affine = checks.flag("GroupNorm", "affine", affine)
        self.weight = Parameter(init.ones((self.num_channels,))) if affine else None
        self.bias = Parameter(init.zeros((self.num_channels,))) if affine else None

    def forward(self, x):
        if not isinstance(x, Tensor):  # an array, as the other layers take: the Tensor operations below need one
            x = Tensor(checks.array(repr(self), "the input", x))
        if x.ndim < 2 or x.shape[1] != self.num_channels:
            raise checks.ShapeError(f"{self!r} expects an input (N, {self.num_channels}, …), got shape "
                                    f"{tuple(x.shape)}")
        if self.weight is not None:
            check_input_type(self, x, self.weight)
        groups = x.reshape(x.shape[0], self.num_groups, -1)
        centred = groups - groups.mean(axis=2, keepdims=True)
        y = (centred / ((centred * centred).mean(axis=2, keepdims=True) + self.eps).sqrt()).reshape(*x.shape)
        if self.weight is None:
            return y
        shape = (1, self.num_channels) + (1,) * (x.ndim - 2)
        return y * self.weight.reshape(*shape) + self.bias.reshape(*shape)

    def extra_repr(self) -> str:
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}" + ("" if self.weight is not None else
                                                                              ", affine=False")


class LayerNorm(Module):
    """Layer normalization: y = γ ⊙ (x − μ)/√(σ² + ε) + β with μ and σ² (biased) over the trailing axes
    ``normalized_shape`` of each sample (no running statistics; the same in training and eval).

    ``normalized_shape`` is an int or a tuple of the trailing sizes; ``weight`` γ (ones) and
    ``bias`` β (zeros) have that shape, unless ``elementwise_affine=False`` (then none).

    >>> import numpy, dlcore
    >>> norm = dlcore.nn.LayerNorm(4)
    >>> y = norm(dlcore.Tensor(numpy.array([[1.0, 2.0, 3.0, 4.0]], "float32")))
    >>> numpy.round(y.numpy(), 3)
    array([[-1.342, -0.447,  0.447,  1.342]], dtype=float32)
    """

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True):
        super().__init__()
        shape = (normalized_shape,) if not isinstance(normalized_shape, (tuple, list)) else normalized_shape
        self.normalized_shape = tuple(checks.integer("LayerNorm", "normalized_shape", n, minimum=1) for n in shape)
        self.eps = checks.finite_number("LayerNorm", "eps", eps, within="(0, inf)")
        affine = checks.flag("LayerNorm", "elementwise_affine", elementwise_affine)
        self.weight = Parameter(init.ones(self.normalized_shape)) if affine else None
        self.bias = Parameter(init.zeros(self.normalized_shape)) if affine else None

    def forward(self, x):
        k = len(self.normalized_shape)
        if tuple(x.shape[x.ndim - k:]) != self.normalized_shape or x.ndim < k:
            raise checks.ShapeError(f"{self!r} normalizes trailing axes {self.normalized_shape}, got an input of "
                                    f"shape {tuple(x.shape)}")
        if self.weight is not None:
            check_input_type(self, x, self.weight)
        if self.weight is None:
            xp = backends.backend_of(getattr(x, "data", x)).xp
            return layer_norm(x, xp.ones(self.normalized_shape, x.dtype), xp.zeros(self.normalized_shape, x.dtype),
                              self.eps)
        return layer_norm(x, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}" + ("" if self.weight is not None else
                                                              ", elementwise_affine=False")
