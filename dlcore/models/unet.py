"""U-Net (Ronneberger et al. 2015): an encoder/decoder with concatenated skip connections, for segmentation."""
from __future__ import annotations

import dlcore.functional as F
from dlcore.checks import ShapeError
from dlcore.models.common import check_sizes
from dlcore.nn import BatchNorm2d, Conv2d, ConvTranspose2d, MaxPool2d, Module, ReLU, Sequential


def double_conv(in_channels, out_channels):
    """(Conv3×3(pad 1, no bias)-BN-ReLU) × 2: the unit of every U-Net level; keeps H×W."""
    return Sequential(Conv2d(in_channels, out_channels, 3, padding=1, bias=False, weight_init="he"),
                      BatchNorm2d(out_channels), ReLU(),
                      Conv2d(out_channels, out_channels, 3, padding=1, bias=False, weight_init="he"),
                      BatchNorm2d(out_channels), ReLU())


class UpBlock(Module):
    """One decoder level: y = double_conv(concat([ConvTranspose2d(k=2, s=2)(x), skip], axis=1))."""

    def __init__(self, in_channels, out_channels):
        super().__init__()
        self.up = ConvTranspose2d(in_channels, out_channels, 2, stride=2, weight_init="he")
        self.conv = double_conv(2 * out_channels, out_channels)

    def forward(self, x, skip):
        return self.conv(F.concat([self.up(x), skip], axis=1))


class UNet(Module):
    """U-Net of ``depth`` levels on (N, in_channels, H, W) input, H and W divisible by 2**depth:

    down.i (i = 0…depth−1): double_conv(→ b·2ⁱ), its output kept as skip i, then MaxPool2
    bottleneck:             double_conv(→ b·2^depth)
    up.j (level i = depth−1−j): ConvTranspose2d(b·2ⁱ⁺¹ → b·2ⁱ, k=2, s=2), concat with skip i
                            on the channel axis, double_conv(2·b·2ⁱ → b·2ⁱ)
    head:                   Conv1×1(b → out_channels): per-pixel logits (train with BCEWithLogitsLoss)

    with b = ``base_channels`` = 16 and double_conv = (Conv3×3(pad 1)-BN-ReLU) × 2. The output has
    the input's H×W.
    """

    def __init__(self, depth=2, base_channels=16, in_channels=1, out_channels=1):
        super().__init__()
        check_sizes("UNet", depth=depth, base_channels=base_channels, in_channels=in_channels,
                    out_channels=out_channels)
        self.depth, b = depth, base_channels
        self.down = Sequential(*(double_conv(in_channels if i == 0 else b << (i - 1), b << i) for i in range(depth)))
        self.pool = MaxPool2d(2)
        self.bottleneck = double_conv(b << (depth - 1), b << depth)
        self.up = Sequential(*(UpBlock(b << (i + 1), b << i) for i in reversed(range(depth))))
        self.head = Conv2d(b, out_channels, 1)

    def forward(self, x):
        m = 2 ** self.depth
        if x.ndim != 4 or x.shape[2] % m or x.shape[3] % m:
            raise ShapeError(f"UNet(depth={self.depth}) needs NCHW input with height and width divisible by "
                             f"2**{self.depth} = {m}, got shape {tuple(x.shape)} "
                             f"(H×W {'×'.join(map(str, x.shape[2:]))}); pad or crop the images to a multiple of {m}")
        skips = []
        for level in self.down:
            x = level(x)
            skips.append(x)
            x = self.pool(x)
        x = self.bottleneck(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip)
        return self.head(x)


unet = UNet
