"""Tiny versions of the ready-made CNNs, for the float64 gradient checks and CPU-vs-GPU parity.

Channel counts are tiny because the gradient check perturbs every parameter and input element
(two forward passes each): each case stays around 1,000 elements or fewer.
"""
from dlcore import models
from tests.cases import ModuleCase

# Sums of many products (conv/linear GEMMs) and per-channel BN reductions run in different orders on
# NumPy and CuPy; a deep net chains them, so float32 results agree to ~1e-4, not 1e-5 (measured: float32
# vs float64 on NumPy stays under 2% of this tolerance for every case below).
DEEP = dict(rtol=1e-4, atol=1e-4)

MODULE_CASES = [
    ModuleCase("lenet_tiny", lambda: models.lenet(input_size=12, channels=(2, 3), hidden=(6, 5), num_classes=3),
               (2, 1, 12, 12), **DEEP),
    ModuleCase("alexnet_small_tiny_eval", lambda: models.alexnet_small(input_size=8, width=(2, 2, 3, 3, 2),
                                                                       hidden=(5, 4), num_classes=3).eval(),
               (2, 1, 8, 8), **DEEP),
    ModuleCase("resnet8_tiny", lambda: models.resnet(8, base_channels=2, num_classes=3), (2, 1, 8, 8), **DEEP),
    ModuleCase("unet_depth1_tiny", lambda: models.unet(depth=1, base_channels=2), (2, 1, 8, 8), **DEEP),
]
