"""Cases for convolution, transposed convolution, pooling and up-sampling."""
import numpy

from dlcore import nn
import dlcore.functional as F
from dlcore.ops import conv as C
from dlcore.ops import pooling as P
from tests.cases import Case, ModuleCase

# Conv sums run in a different order in cuBLAS than in NumPy's GEMM (float32 rounding).
GEMM = dict(rtol=1e-4, atol=1e-4, why_looser="conv sums of up to 75 products: cuBLAS and NumPy GEMMs "
                                             "add them in different orders (float32 rounding)")


def _conv(x_shape, w_shape, bias=True, out_axis=0):
    """x, W (and b of W's output-channel count) ~ N(0, 1); out_axis=1 for transposed-conv weights."""
    def make(rng):
        arrays = (rng.standard_normal(x_shape), rng.standard_normal(w_shape))
        return arrays + (rng.standard_normal(w_shape[out_axis]),) if bias else arrays
    return make


def distinct(*shape):
    """Values spaced ≥ 4/size apart in random order: a unique arg-max in every window (no ties)."""
    return lambda rng: ((rng.permutation(int(numpy.prod(shape))) / numpy.prod(shape) - 0.5) * 4).reshape(shape)


CASES = [
    Case("conv2d", F.conv2d, _conv((2, 3, 5, 5), (4, 3, 3, 3)), **GEMM),
    Case("conv2d_stride2_pad1", lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1),
         _conv((2, 3, 6, 5), (4, 3, 3, 3)), **GEMM),
    Case("conv2d_stride3_pad2_k5", lambda x, w, b: F.conv2d(x, w, b, stride=3, padding=2),
         _conv((1, 2, 7, 8), (3, 2, 5, 5)), **GEMM),
    Case("conv2d_dilation2", lambda x, w, b: F.conv2d(x, w, b, padding=2, dilation=2),
         _conv((2, 2, 6, 6), (3, 2, 3, 3)), **GEMM),
    Case("conv2d_rect", lambda x, w, b: F.conv2d(x, w, b, stride=(2, 1), padding=(1, 0)),
         _conv((2, 2, 6, 5), (3, 2, 2, 3)), **GEMM),
    Case("conv2d_k2_stride2", lambda x, w, b: F.conv2d(x, w, b, stride=2),
         _conv((2, 3, 4, 6), (2, 3, 2, 2)), **GEMM),
    Case("conv2d_k2_pad2", lambda x, w, b: F.conv2d(x, w, b, padding=2),  # stride 1, P > D(K−1): col2im
         _conv((1, 2, 4, 5), (2, 2, 2, 2)), **GEMM),
    Case("conv2d_1x1_no_bias", F.conv2d, _conv((2, 3, 4, 4), (5, 3, 1, 1), bias=False), **GEMM),
    Case("conv2d_edge_pad1", lambda x, w, b: F.conv2d(x, w, b, padding=1, padding_mode="edge"),
         _conv((2, 2, 5, 4), (3, 2, 3, 3)), **GEMM),
    Case("conv2d_edge_pad2_stride2", lambda x, w: F.conv2d(x, w, stride=2, padding=(2, 1), padding_mode="edge"),
         _conv((1, 2, 5, 5), (2, 2, 3, 3), bias=False), **GEMM),
    Case("conv_transpose2d", F.conv_transpose2d, _conv((2, 3, 4, 4), (3, 2, 3, 3), out_axis=1), **GEMM),
    Case("conv_transpose2d_stride2_pad1", lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1),
         _conv((2, 3, 3, 4), (3, 2, 3, 3), out_axis=1), **GEMM),
    Case("conv_transpose2d_stride2_output_padding1",
         lambda x, w, b: F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=1),
         _conv((2, 3, 3, 4), (3, 2, 3, 3), out_axis=1), **GEMM),
    Case("conv_transpose2d_k2_stride2_no_bias", lambda x, w: F.conv_transpose2d(x, w, stride=2),
         _conv((2, 2, 3, 3), (2, 3, 2, 2), bias=False), **GEMM),
    Case("max_pool2d", lambda x: F.max_pool2d(x, 2), distinct(2, 3, 6, 6)),
    Case("max_pool2d_overlap", lambda x: F.max_pool2d(x, 3, stride=2), distinct(2, 3, 7, 7)),
    Case("max_pool2d_pad1", lambda x: F.max_pool2d(x, 3, stride=2, padding=1), distinct(2, 2, 6, 5)),
    # x (N, H, W, C) seen as NCHW with NHWC memory, as convolutions leave it: y and gx keep that order
    Case("max_pool2d_channels_last", lambda x: F.max_pool2d(x.transpose(0, 3, 1, 2), 2), distinct(2, 6, 6, 3)),
    Case("max_pool2d_pad1_channels_last", lambda x: F.max_pool2d(x.transpose(0, 3, 1, 2), 3, stride=2, padding=1),
         distinct(2, 6, 5, 2)),
    Case("avg_pool2d", lambda x: F.avg_pool2d(x, 2), lambda rng: rng.standard_normal((2, 3, 6, 6))),
    Case("avg_pool2d_overlap_pad1", lambda x: F.avg_pool2d(x, 3, stride=2, padding=1),
         lambda rng: rng.standard_normal((2, 3, 7, 6))),
    Case("global_avg_pool2d", F.global_avg_pool2d, lambda rng: rng.standard_normal((2, 3, 4, 5))),
    Case("global_max_pool2d", F.global_max_pool2d, distinct(2, 3, 4, 5)),
    Case("upsample2d", F.upsample2d, lambda rng: rng.standard_normal((2, 3, 3, 4))),
    Case("upsample2d_rect", lambda x: F.upsample2d(x, (2, 3)), lambda rng: rng.standard_normal((1, 2, 3, 2))),
]

MODULE_CASES = [
    ModuleCase("Conv2d", lambda: nn.Conv2d(3, 4, 3, padding=1), (2, 3, 5, 5), rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("Conv2d_edge_stride2_no_bias", lambda: nn.Conv2d(2, 3, (3, 2), stride=2, padding=1,
                                                                padding_mode="edge", bias=False),
               (2, 2, 6, 5), rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("ConvTranspose2d", lambda: nn.ConvTranspose2d(3, 2, 2, stride=2), (2, 3, 3, 3),
               rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("MaxPool2d", lambda: nn.MaxPool2d(2), (2, 3, 4, 4)),
    ModuleCase("AvgPool2d", lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 5, 5)),
    ModuleCase("GlobalAvgPool2d", nn.GlobalAvgPool2d, (2, 3, 4, 4)),
    ModuleCase("GlobalMaxPool2d", nn.GlobalMaxPool2d, (2, 3, 4, 4)),
    ModuleCase("Upsample2d", nn.Upsample2d, (2, 3, 3, 3)),
    ModuleCase("Residual_conv", lambda: nn.Residual(nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.Tanh())),
               (2, 2, 4, 4), rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("Residual_projection", lambda: nn.Residual(nn.Conv2d(2, 3, 3, stride=2, padding=1),
                                                          nn.Conv2d(2, 3, 1, stride=2)),
               (2, 2, 5, 5), rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("SmallCNN", lambda: nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.Tanh(), nn.AvgPool2d(2),
                                                 nn.Flatten(), nn.Linear(12, 2)),
               (2, 1, 4, 4), rtol=GEMM["rtol"], atol=GEMM["atol"]),
]

CASES += [
    Case("conv2d_same_even_kernel", lambda x, w, b: C.conv2d(x, w, b, padding="same"),
         _conv((2, 2, 5, 4), (3, 2, 4, 2)), **GEMM),
    Case("conv2d_same_edge_dilation2", lambda x, w: C.conv2d(x, w, padding="same", dilation=(2, 1),
                                                             padding_mode="edge"),
         _conv((1, 2, 5, 5), (2, 2, 2, 3), bias=False), **GEMM),
    Case("conv2d_groups2", lambda x, w, b: C.conv2d(x, w, b, padding=1, groups=2), _conv((2, 4, 4, 4), (6, 2, 3, 3)),
         **GEMM),
    Case("conv2d_depthwise_stride2", lambda x, w, b: C.conv2d(x, w, b, stride=2, groups=3),
         _conv((2, 3, 5, 5), (3, 1, 3, 3)), **GEMM),
    Case("max_pool2d_ceil", lambda x: P.max_pool2d(x, 3, stride=2, ceil_mode=True), distinct(2, 2, 6, 5)),
    Case("max_pool2d_ceil_pad1", lambda x: P.max_pool2d(x, 2, padding=1, ceil_mode=True), distinct(1, 2, 5, 6)),
    Case("avg_pool2d_exclude_pad", lambda x: P.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False),
         lambda rng: rng.standard_normal((2, 2, 6, 5))),
    Case("avg_pool2d_ceil", lambda x: P.avg_pool2d(x, 3, stride=2, ceil_mode=True),
         lambda rng: rng.standard_normal((2, 2, 6, 5))),
    Case("avg_pool2d_ceil_exclude_pad", lambda x: P.avg_pool2d(x, 2, padding=1, ceil_mode=True,
                                                               count_include_pad=False),
         lambda rng: rng.standard_normal((1, 2, 5, 4))),
    Case("adaptive_avg_pool2d", lambda x: P.adaptive_avg_pool2d(x, (3, 2)),
         lambda rng: rng.standard_normal((2, 3, 7, 5))),
    Case("upsample2d_bilinear", lambda x: P.upsample2d(x, (2, 3), mode="bilinear"),
         lambda rng: rng.standard_normal((2, 2, 3, 4))),
    Case("upsample2d_bilinear_align_corners", lambda x: P.upsample2d(x, 2, mode="bilinear", align_corners=True),
         lambda rng: rng.standard_normal((1, 2, 3, 3))),
]

MODULE_CASES += [
    ModuleCase("Conv2d_same", lambda: nn.Conv2d(3, 4, 4, padding="same"), (2, 3, 5, 5), rtol=GEMM["rtol"],
               atol=GEMM["atol"]),
    ModuleCase("Conv2d_depthwise", lambda: nn.Conv2d(3, 6, 3, padding="same", groups=3), (2, 3, 5, 5),
               rtol=GEMM["rtol"], atol=GEMM["atol"]),
    ModuleCase("MaxPool2d_ceil", lambda: nn.MaxPool2d(2, ceil_mode=True), (2, 3, 5, 5)),
    ModuleCase("AvgPool2d_ceil_exclude_pad", lambda: nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False),
               (2, 3, 6, 6)),
    ModuleCase("AdaptiveAvgPool2d", lambda: nn.AdaptiveAvgPool2d((2, 3)), (2, 3, 5, 7)),
    ModuleCase("Upsample2d_bilinear", lambda: nn.Upsample2d(2, mode="bilinear"), (2, 3, 3, 3)),
]
