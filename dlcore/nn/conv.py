"""Convolution, pooling and up-sampling layers on NCHW maps (over ``dlcore.ops.conv``/``pooling``)."""
from __future__ import annotations

from dlcore import checks, init
from dlcore.ops import conv as C
from dlcore.ops import pooling as P
from dlcore.nn.module import Module, Parameter, check_input_type


def _check_input(layer, x, channels=None):
    """ShapeError (a ValueError) naming the layer unless x is (N, channels, H, W)."""
    if x.ndim != 4:
        raise checks.ShapeError(f"{layer!r} expects an NCHW input (N, C, H, W), got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise checks.ShapeError(f"{layer!r} expects {channels} input channels, got {x.shape[1]} "
                                f"(input of shape {tuple(x.shape)})")


def _geometry(owner: str, kernel_size, stride, padding, dilation=1, padding_mode="zeros") -> C.ConvGeometry:
    """The window geometry after checking each setting: an int or (h, w) pair of ints, ≥ 1
    (padding ≥ 0), and a known ``padding_mode``; errors name ``owner`` and the setting."""
    return C.ConvGeometry(checks.int_pair(owner, "kernel_size", kernel_size, minimum=1),
                          checks.int_pair(owner, "stride", stride, minimum=1),
                          checks.int_pair(owner, "padding", padding, minimum=0),
                          checks.int_pair(owner, "dilation", dilation, minimum=1),
                          checks.choice(owner, "padding_mode", padding_mode, C.PADDING_MODES))


class _Conv(Module):
    """Weight, bias and geometry shared by Conv2d and ConvTranspose2d; channel counts are ints ≥ 1."""

    function = None
    transposed = False  # weight (in, out, kh, kw) instead of (out, in, kh, kw)

    def __init__(self, in_channels, out_channels, geometry, bias, weight_init):
        super().__init__()
        cls = type(self).__name__
        self.in_channels = checks.integer(cls, "in_channels", in_channels, minimum=1)
        self.out_channels = checks.integer(cls, "out_channels", out_channels, minimum=1)
        self.geometry = geometry
        kh, kw = geometry.kernel
        channels = (self.in_channels, self.out_channels) if self.transposed else (self.out_channels, self.in_channels)
        self.weight = Parameter(init.get(weight_init, cls)((*channels, kh, kw), fan_in=self.in_channels * kh * kw,
                                                           fan_out=self.out_channels * kh * kw))
        self.bias = Parameter(init.zeros((self.out_channels,))) if checks.flag(cls, "bias", bias) else None

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

    As PyTorch's: ``padding="valid"`` is 0 and ``padding="same"`` (stride 1) keeps H and W: D(K−1) per
    axis, half on each side and, for an even kernel, the odd row/column at the bottom/right.
    ``groups`` G splits the channels into G groups convolved separately (in and out channels divisible
    by G; ``weight`` (out, in/G, kh, kw); G = in_channels: a depthwise convolution), one convolution per
    group (``ops.conv.grouped_conv2d``).

    Example::

        >>> conv = nn.Conv2d(3, 8, kernel_size=3, stride=2, padding=1)
        >>> conv.weight.shape, conv.bias.shape    # (out, in, kh, kw), (out,)
        ((8, 3, 3, 3), (8,))
        >>> x = dlcore.Tensor(np.zeros((4, 3, 32, 32), "float32"))
        >>> conv(x).shape                          # ⌊(32 + 2·1 − 3)/2⌋ + 1 = 16
        (4, 8, 16, 16)
        >>> nn.Conv2d(3, 8, kernel_size=4, padding="same")(x).shape    # 1 row/column before, 2 after
        (4, 8, 32, 32)
        >>> depthwise = nn.Conv2d(3, 6, kernel_size=3, groups=3)       # two filters per input channel
        >>> depthwise.weight.shape, depthwise(x).shape
        ((6, 1, 3, 3), (4, 6, 30, 30))
    """

    function = C.Conv2dFunction

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, padding_mode="zeros",
                 bias=True, dilation=1, weight_init="he", groups=1):
        groups = checks.integer("Conv2d", "groups", groups, minimum=1)
        for name, channels in (("in_channels", in_channels), ("out_channels", out_channels)):
            if checks.integer("Conv2d", name, channels, minimum=1) % groups:
                raise checks.ArgumentValueError(f"Conv2d: {name} ({channels}) must be divisible by groups "
                                                f"({groups})")
        padding_name, extra = padding if isinstance(padding, str) else None, (0, 0)
        if padding_name is not None:
            checks.choice("Conv2d", "padding", padding, ("same", "valid"))
            probe = _geometry("Conv2d", kernel_size, stride, 0, dilation, padding_mode)
            padding, extra = C.same_padding(probe.kernel, probe.stride, probe.dilation, "Conv2d") \
                if padding == "same" else (0, (0, 0))
        geometry = _geometry("Conv2d", kernel_size, stride, padding, dilation, padding_mode)
        super().__init__(in_channels // groups, out_channels, geometry, bias, weight_init)
        self.in_channels, self.groups, self.padding_name, self.extra = in_channels, groups, padding_name, extra

    def forward(self, x):
        if self.groups == 1 and not any(self.extra):
            return super().forward(x)
        check_input_type(self, x, self.weight)
        _check_input(self, x, self.in_channels)
        x = C.pad_after(x, self.extra, self.geometry.padding_mode)
        if self.groups == 1:
            fn = C.Conv2dFunction(self.geometry, self)
            return fn(x, self.weight) if self.bias is None else fn(x, self.weight, self.bias)
        return C.grouped_conv2d(x, self.weight, self.bias, self.geometry, self.groups, self)

    def extra_repr(self) -> str:
        extra = f", padding={self.padding_name!r}" if self.padding_name else ""
        return super().extra_repr() + extra + (f", groups={self.groups}" if self.groups > 1 else "")


class ConvTranspose2d(_Conv):
    """y = conv2dᵀ(x) + b: the adjoint of a convolution, up-sampling by the stride (U-Net decoders).

    ``weight`` (in, out, kh, kw) as in PyTorch, ``bias`` (out,); output size
    (H−1)S − 2P + D(K−1) + 1 + OP with ``output_padding`` OP (0 ≤ OP < S).

    Example::

        >>> up = nn.ConvTranspose2d(8, 3, kernel_size=2, stride=2)
        >>> up.weight.shape                       # (in, out, kh, kw)
        (8, 3, 2, 2)
        >>> x = dlcore.Tensor(np.zeros((4, 8, 16, 16), "float32"))
        >>> up(x).shape                           # (16 − 1)·2 − 0 + 1·(2 − 1) + 1 = 32
        (4, 3, 32, 32)
    """

    transposed = True

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, bias=True, dilation=1,
                 weight_init="he", output_padding=0):
        geometry = _geometry("ConvTranspose2d", kernel_size, stride, padding, dilation)
        output_padding = checks.int_pair("ConvTranspose2d", "output_padding", output_padding, minimum=0)
        output_padding = C.output_padding_pair(output_padding, geometry, "ConvTranspose2d")
        super().__init__(in_channels, out_channels, geometry, bias, weight_init)
        self.output_padding = output_padding

    def function(self, geometry, who):
        return C.ConvTranspose2dFunction(geometry, who, self.output_padding)

    def extra_repr(self) -> str:
        extra = f", output_padding={self.output_padding}" if any(self.output_padding) else ""
        return super().extra_repr() + extra


class _Pool(Module):
    """A pooling layer: its window geometry and the pooling Function applied with it; ``ceil_mode`` rounds
    the output size up (PyTorch's rule, ``ops.pooling.pool_output_size``)."""

    function = None

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False):
        super().__init__()
        cls = type(self).__name__
        kernel = checks.int_pair(cls, "kernel_size", kernel_size, minimum=1)
        stride = kernel if stride is None else checks.int_pair(cls, "stride", stride, minimum=1)
        self.geometry = P.pool_geometry(kernel, stride, checks.int_pair(cls, "padding", padding, minimum=0), cls)
        self.ceil_mode = checks.flag(cls, "ceil_mode", ceil_mode)

    def forward(self, x):
        _check_input(self, x)
        return self.function(self.geometry, self, self.ceil_mode)(x)

    def extra_repr(self) -> str:
        return str(self.geometry) + (", ceil_mode=True" if self.ceil_mode else "")


class MaxPool2d(_Pool):
    """y[n, c, oh, ow] = max of x over the window at (oh·S, ow·S) (stride defaults to the kernel, padding −∞).

    The gradient goes to one arg-max per window.

    Example::

        >>> x = dlcore.Tensor(np.arange(16, dtype="float32").reshape(1, 1, 4, 4))
        >>> print(x.numpy()[0, 0])
        [[ 0.  1.  2.  3.]
         [ 4.  5.  6.  7.]
         [ 8.  9. 10. 11.]
         [12. 13. 14. 15.]]
        >>> print(nn.MaxPool2d(2)(x).numpy()[0, 0])    # the max of each 2×2 window
        [[ 5.  7.]
         [13. 15.]]
    """

    function = P.MaxPool2dFunction


class AvgPool2d(_Pool):
    """y[n, c, oh, ow] = mean of x over the window at (oh·S, ow·S); zero padding counts in the divisor
    unless ``count_include_pad=False`` (then only the input's pixels do, as PyTorch's).

    Example::

        >>> x = dlcore.Tensor(np.arange(16, dtype="float32").reshape(1, 1, 4, 4))
        >>> print(nn.AvgPool2d(2)(x).numpy()[0, 0])    # the mean of each 2×2 window
        [[ 2.5  4.5]
         [10.5 12.5]]
        >>> nn.AvgPool2d(3, stride=1, padding=1)(x).shape
        (1, 1, 4, 4)
        >>> print(nn.AvgPool2d(2, padding=1, count_include_pad=False)(x).numpy()[0, 0, 0])    # 0, mean(1, 2), 3
        [0.  1.5 3. ]
        >>> nn.AvgPool2d(3, stride=2, ceil_mode=True)(x).shape    # ⌈(4 − 3)/2⌉ + 1 = 2 (floor: 1)
        (1, 1, 2, 2)
    """

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
        super().__init__(kernel_size, stride, padding, ceil_mode)
        self.count_include_pad = checks.flag("AvgPool2d", "count_include_pad", count_include_pad)

    def function(self, geometry, who, ceil_mode):
        return P.AvgPool2dFunction(geometry, who, ceil_mode, self.count_include_pad)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.count_include_pad else ", count_include_pad=False")


class GlobalAvgPool2d(Module):
    """y[n, c] = mean over h, w of x[n, c, h, w]: (N, C, H, W) → (N, C).

    Example::

        >>> x = dlcore.Tensor(np.arange(32, dtype="float32").reshape(1, 2, 4, 4))
        >>> print(nn.GlobalAvgPool2d()(x).numpy())    # one mean per channel
        [[ 7.5 23.5]]
    """

    def forward(self, x):
        _check_input(self, x)
        return P.global_avg_pool2d(x)


class GlobalMaxPool2d(Module):
    """y[n, c] = max over h, w of x[n, c, h, w]: (N, C, H, W) → (N, C).

    Example::

        >>> x = dlcore.Tensor(np.arange(32, dtype="float32").reshape(1, 2, 4, 4))
        >>> print(nn.GlobalMaxPool2d()(x).numpy())    # one max per channel
        [[15. 31.]]
    """

    def forward(self, x):
        _check_input(self, x)
        return P.global_max_pool2d(x)


class Upsample2d(Module):
    """y[n, c, h, w] = x[n, c, ⌊h/s⌋, ⌊w/s⌋]: nearest-neighbour up-sampling by ``scale`` (int ≥ 1 or (h, w)
    pair), kept as an (h, w) pair; ``mode`` "nearest", or "bilinear" as PyTorch's (``align_corners``
    False by default: output pixel o reads the input at (o + ½)/s − ½, clamped at 0, interpolated
    linearly along each axis; ``ops.pooling.bilinear_matrix``).

    Example::

        >>> x = dlcore.Tensor(np.array([[[[1.0, 2.0], [3.0, 4.0]]]], "float32"))
        >>> print(nn.Upsample2d(scale=2)(x).numpy()[0, 0])
        [[1. 1. 2. 2.]
         [1. 1. 2. 2.]
         [3. 3. 4. 4.]
         [3. 3. 4. 4.]]
        >>> print(nn.Upsample2d(scale=2, mode="bilinear")(x).numpy()[0, 0])
        [[1.   1.25 1.75 2.  ]
         [1.5  1.75 2.25 2.5 ]
         [2.5  2.75 3.25 3.5 ]
         [3.   3.25 3.75 4.  ]]
    """

    def __init__(self, scale=2, mode="nearest", align_corners=False):
        super().__init__()
        self.scale = checks.int_pair("Upsample2d", "scale", scale, minimum=1)
        self.mode = checks.choice("Upsample2d", "mode", mode, ("nearest", "bilinear"))
        self.align_corners = checks.flag("Upsample2d", "align_corners", align_corners)

    def forward(self, x):
        _check_input(self, x)
        return P.upsample2d(x, self.scale, self.mode, self.align_corners)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, mode={self.mode!r}" + (", align_corners=True" if self.align_corners else "")


class AdaptiveAvgPool2d(Module):
    """y[n, c, i, j] = mean of x[n, c] over rows ⌊i·H/OH⌋ … ⌈(i+1)·H/OH⌉ − 1 and columns ⌊j·W/OW⌋ …
    ⌈(j+1)·W/OW⌉ − 1: any input size pooled to ``output_size`` (an int or (OH, OW)), PyTorch's
    AdaptiveAvgPool2d (windows overlap when OH does not divide H); output_size 1 is GlobalAvgPool2d
    keeping the (N, C, 1, 1) shape.

    Example::

        >>> x = dlcore.Tensor(np.arange(16, dtype="float32").reshape(1, 1, 4, 4))
        >>> print(nn.AdaptiveAvgPool2d(2)(x).numpy()[0, 0])          # 2×2 windows
        [[ 2.5  4.5]
         [10.5 12.5]]
        >>> print(nn.AdaptiveAvgPool2d((1, 3))(x).numpy()[0, 0])     # columns 0–1, 1–2, 2–3
        [[6.5 7.5 8.5]]
    """

    def __init__(self, output_size):
        super().__init__()
        self.output_size = checks.int_pair("AdaptiveAvgPool2d", "output_size", output_size, minimum=1)

    def forward(self, x):
        _check_input(self, x)
        return P.adaptive_avg_pool2d(x, self.output_size)

    def extra_repr(self) -> str:
        return f"output_size={self.output_size}"
