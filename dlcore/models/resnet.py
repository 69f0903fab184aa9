"""CIFAR-style residual networks (He et al. 2016, §4.2): ResNet-8/14/20/32/…"""
from __future__ import annotations

import dlcore.functional as F
from dlcore.models.common import Chain, check_sizes
from dlcore.nn import BatchNorm2d, Conv2d, GlobalAvgPool2d, Linear, ReLU, Residual, Sequential


def conv_bn(in_channels, out_channels, kernel_size=3, stride=1):
    """Conv(k×k, stride, pad k//2, no bias: BN's β is the bias)-BatchNorm2d."""
    return Sequential(Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=kernel_size // 2,
                             bias=False, weight_init="he"), BatchNorm2d(out_channels))


class BasicBlock(Residual):
    """y = ReLU(block(x) + shortcut(x)) with block = Conv3×3(stride s)-BN-ReLU-Conv3×3-BN.

    The shortcut is the identity when the shape is kept (s = 1, same channels), else a
    1×1 Conv with stride s followed by BN (the projection shortcut).
    """

    def __init__(self, in_channels, out_channels, stride=1):
        check_sizes("BasicBlock", in_channels=in_channels, out_channels=out_channels, stride=stride)
        shortcut = None if stride == 1 and in_channels == out_channels else conv_bn(in_channels, out_channels, 1,
                                                                                     stride)
        super().__init__(Sequential(*conv_bn(in_channels, out_channels, 3, stride), ReLU(),
                                    *conv_bn(out_channels, out_channels)), shortcut)

    def forward(self, x):
        return F.relu(super().forward(x))


class ResNet(Chain):
    """ResNet-``depth`` for small images, depth = 6n + 2 (8, 14, 20, 32, …), any input size:

    stem:   Conv3×3(b, pad 1)-BN-ReLU
    layer1: n BasicBlocks with b channels
    layer2: n BasicBlocks with 2b channels, the first with stride 2 (projection shortcut)
    layer3: n BasicBlocks with 4b channels, the first with stride 2 (projection shortcut)
    head:   GlobalAvgPool2d → Linear(4b, num_classes) (logits)

    with b = ``base_channels`` = 16. Parameters are named e.g. ``layer2.0.shortcut.0.weight``;
    BatchNorm running statistics are buffers in ``state_dict``.
    """

    def __init__(self, depth=20, in_channels=1, num_classes=10, base_channels=16):
        super().__init__()
        check_sizes("ResNet", in_channels=in_channels, num_classes=num_classes, base_channels=base_channels)
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise ValueError(f"ResNet: depth must be 6n + 2 with n ≥ 1 (8, 14, 20, 32, …: 2 + 3 stages of n "
                             f"two-conv blocks), got {depth!r}")
        n, b = (depth - 2) // 6, base_channels
        self.depth = depth
        self.stem = Sequential(*conv_bn(in_channels, b), ReLU())
        c_in = b
        for stage, c in enumerate((b, 2 * b, 4 * b), start=1):
            blocks = [BasicBlock(c_in if i == 0 else c, c, 2 if stage > 1 and i == 0 else 1) for i in range(n)]
            setattr(self, f"layer{stage}", Sequential(*blocks))
            c_in = c
        self.pool = GlobalAvgPool2d()
        self.fc = Linear(4 * b, num_classes)


resnet = ResNet
