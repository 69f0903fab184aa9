"""Convolution, pooling and up-sampling layers on NCHW maps (over ``dlcore.functions.conv``/``pooling``)."""
from __future__ import annotations

from dlcore import init
from dlcore.functions import conv as C
from dlcore.functions import pooling as P
from dlcore.nn.module import Module, Parameter, check_input_type


def _check_input(layer, x, channels=None):
    """ValueError naming the layer unless x is (N, channels, H, W)."""
    if x.ndim != 4:
        raise ValueError(f"{layer!r} expects an NCHW input (N, C, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{layer!r} expects {channels} input channels, got {x.shape[1]} "
                         f"(input of shape {tuple(x.shape)})")


class _Conv(Module):
    """Weight, bias and geometry shared by Conv2d and ConvTranspose2d."""

    function = None

    def __init__(self, in_channels, out_channels, weight_shape, geometry, bias, weight_init):
        super().__init__()
        if in_channels < 1 or out_channels < 1:
            raise ValueError(f"{type(self).__name__} needs positive channel counts, got "
                             f"in_channels={in_channels}, out_channels={out_channels}")
        self.in_channels, self.out_channels, self.geometry = int(in_channels), int(out_channels), geometry
        kh, kw = geometry.kernel
        self.weight = Parameter(init.get(weight_init)(weight_shape, fan_in=self.in_channels * kh * kw,
                                                      fan_out=self.out_channels * kh * kw))
        self.bias = Parameter(init.zeros((self.out_channels,))) if bias else None

    def forward(self, x):
        check_input_type(self, x, self.weight)
        _check_input(self, x, self.in_channels)
        fn = self.function(self.geometry, self)
        return fn(x, self.weight) if self.bias is None else fn(x, self.weight, self.bias)

    def extra_repr(self) -> str:
        mode = f", padding_mode={self.geometry.padding_mode}" if self.geometry.padding_mode != "zeros" else ""
        return (f"{self.in_channels}, {self.out_channels}, {self.geometry}{mode}, bias={self.bias is not None}")


class Conv2d(_Conv):
    """y[n, o] = Σ_c Σ_ij W[o, c, i, j] · x_pad[n, c, oh·S + i·D, ow·S + j·D] + b[o] on NCHW input.

    ``weight`` (out, in, kh, kw), ``bias`` (out,); kernel_size, stride, padding and dilation
    are ints or (h, w) pairs; output size ⌊(H + 2P − D(K−1) − 1)/S⌋ + 1; ``padding_mode``
    "zeros" or "edge" (repeat the nearest pixel). ``weight_init`` a name from dlcore.init or a callable.
    """

    function = C.Conv2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, padding_mode="zeros",
                 bias=True, dilation=1, weight_init="he"):
        geometry = C.ConvGeometry(kernel_size, stride, padding, dilation, padding_mode)
        super().__init__(in_channels, out_channels, (out_channels, in_channels, *geometry.kernel), geometry,
                         bias, weight_init)


class ConvTranspose2d(_Conv):
    """y = conv2dᵀ(x) + b: the adjoint of a convolution, up-sampling by the stride (U-Net decoders).

    ``weight`` (in, out, kh, kw) as in PyTorch, ``bias`` (out,); output size
    (H−1)S − 2P + D(K−1) + 1 + OP with ``output_padding`` OP (0 ≤ OP < S).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, dilation=1,
                 weight_init="he", output_padding=0):
        geometry = C.ConvGeometry(kernel_size, stride, padding, dilation)
        output_padding = C.output_padding_pair(output_padding, geometry, "ConvTranspose2d")
        super().__init__(in_channels, out_channels, (in_channels, out_channels, *geometry.kernel), geometry,
                         bias, weight_init)
        self.output_padding = output_padding

    def function(self, geometry, who):
        return C.ConvTranspose2d(geometry, who, self.output_padding)

    def extra_repr(self) -> str:
        extra = f", output_padding={self.output_padding}" if any(self.output_padding) else ""
        return super().extra_repr() + extra


class _Pool(Module):
    """A pooling layer: its window geometry and the pooling Function applied with it."""

    function = None

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.geometry = P.pool_geometry(kernel_size, stride, padding)

    def forward(self, x):
        _check_input(self, x)
        return self.function(self.geometry, self)(x)

    def extra_repr(self) -> str:
        return str(self.geometry)


class MaxPool2d(_Pool):
    """y[n, c, oh, ow] = max of x over the window at (oh·S, ow·S) (stride defaults to the kernel, padding −∞).

    The gradient goes to one arg-max per window.
    """

    function = P.MaxPool2d


class AvgPool2d(_Pool):
    """y[n, c, oh, ow] = mean of x over the window at (oh·S, ow·S); zero padding counts in the divisor."""

    function = P.AvgPool2d


class GlobalAvgPool2d(Module):
    """y[n, c] = mean over h, w of x[n, c, h, w]: (N, C, H, W) → (N, C)."""

    def forward(self, x):
        _check_input(self, x)
        return P.global_avg_pool2d(x)


class GlobalMaxPool2d(Module):
    """y[n, c] = max over h, w of x[n, c, h, w]: (N, C, H, W) → (N, C)."""

    def forward(self, x):
        _check_input(self, x)
        return P.global_max_pool2d(x)


class Upsample2d(Module):
    """y[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]: nearest-neighbour up-sampling by ``scale`` (int or (h, w))."""

    def __init__(self, scale=2, mode="nearest"):
        super().__init__()
        if mode != "nearest":
            raise ValueError(f"Upsample2d supports mode='nearest' only, got {mode!r}")
        self.scale, self.mode = scale, mode

    def forward(self, x):
        _check_input(self, x)
        return P.upsample2d(x, self.scale, self.mode)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}"
