"""Tiny autoencoders (tied and untied, corruption 0) for the float64 gradient checks and CPU-vs-GPU parity."""
from dlcore.unsupervised.autoencoder import Autoencoder, StackedAutoencoder
from tests.cases import ModuleCase

MODULE_CASES = [
    ModuleCase("autoencoder_tied", lambda: Autoencoder(6, 4, tied=True), (5, 6)),
    ModuleCase("autoencoder_untied_tanh_identity", lambda: Autoencoder(6, 4, "tanh", output="identity"), (5, 6)),
    ModuleCase("stacked_autoencoder_encoder", lambda: StackedAutoencoder((6, 4, 3)), (5, 6)),
]
