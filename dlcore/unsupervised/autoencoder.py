"""Dense autoencoders (optionally tied, optionally denoising) and greedy stacked pre-training.

An autoencoder with n_in inputs and n_hidden code units computes

    h = f(x̃ W + b)          (encoder; x̃ = corrupt(x) in training, x̃ = x in eval)
    x̂ = g(h W' + b')        (decoder; W' = Wᵀ when tied, its own (n_hidden, n_in) matrix otherwise)

and is trained to make x̂ close to the clean x (binary cross-entropy for inputs in [0, 1], or
MSE). With tied weights the decoder is ``F.linear(h, W.T, b')`` through autograd, so the one
parameter W receives ∂L/∂W = x̃ᵀ δ_enc + (hᵀ δ_dec)ᵀ, the sum of both uses.

``StackedAutoencoder`` trains autoencoders greedily: layer 1 reconstructs x, layer k
reconstructs the codes of layer k−1 (computed in eval mode, uncorrupted); then ``to_mlp``
stacks copies of the encoders under a new output layer for supervised fine-tuning.
"""
from __future__ import annotations

import copy
import math

import backends
from dlcore import init, modes
from dlcore.checks import ShapeError
from dlcore.core import Tensor
from dlcore.ops.linear import linear
from dlcore.nn import Linear, Module, Parameter, Sequential
from dlcore.nn.activation import get as activation_layer
from dlcore.unsupervised.greedy import pretrain_autoencoders

CORRUPTIONS = ("mask", "gaussian")
_RELU_FAMILY = ("relu", "leaky_relu", "prelu", "elu", "swish")


class Autoencoder(Module):
    """h = f(x̃ W + b),  x̂ = g(h W' + b'),  W' = Wᵀ if ``tied`` else a separate weight.

    ``activation`` f and ``output`` g are activation names ("sigmoid" output for data in
    [0, 1] with BCE, "identity" for real-valued data with MSE). ``corruption`` ν makes it a
    denoising autoencoder (applied in training mode only, see ``corrupt``). Parameters:
    ``encoder.weight`` (n_in, n_hidden), ``encoder.bias``, and ``decoder.weight``/``decoder.bias``
    (untied) or ``decoder_bias`` (tied).
    """

    def __init__(self, n_in: int, n_hidden: int, activation: str = "sigmoid", tied: bool = False,
                 corruption: float = 0.0, corruption_kind: str = "mask", output: str = "sigmoid"):
        super().__init__()
        if corruption_kind not in CORRUPTIONS:
            raise ValueError(f"Autoencoder: corruption_kind must be one of {CORRUPTIONS}, got {corruption_kind!r}")
        limit = 1.0 if corruption_kind == "mask" else math.inf
        if not 0.0 <= corruption < limit:
            raise ValueError(f"Autoencoder: {corruption_kind} corruption must be in [0, {limit}), got {corruption}")
        self.n_in, self.n_hidden, self.tied = int(n_in), int(n_hidden), bool(tied)
        self.corruption, self.corruption_kind = float(corruption), corruption_kind
        weight_init = "he" if activation in _RELU_FAMILY else "xavier"
        self.encoder = Linear(n_in, n_hidden, weight_init=weight_init)
        self.activation = activation_layer(activation)
        if self.tied:
            self.decoder_bias = Parameter(init.zeros((self.n_in,)))
        else:
            self.decoder = Linear(n_hidden, n_in, weight_init=weight_init)
        self.output = activation_layer(output)

    def corrupt(self, x):
        """x̃ in training mode (``dlcore.is_training()``), x itself in eval or when ν = 0.

        "mask": x̃ = x·m with m ~ Bernoulli(1 − ν) per entry (a fraction ν of inputs set to 0);
        "gaussian": x̃ = x + ν·z, z = √(−2 ln(1 − u₁))·cos(2π u₂) ~ N(0, 1) (Box–Muller from
        uniforms u₁, u₂ ∈ [0, 1)). Draws come from x's backend generator, on x's device.
        """
        x = x if isinstance(x, Tensor) else Tensor(x)
        if self.corruption == 0.0 or not modes.is_training():
            return x
        backend, dtype = backends.backend_of(x.data), x.dtype
        u = backend.random(x.shape, dtype)
        if self.corruption_kind == "mask":
            return x * (u >= self.corruption).astype(dtype)
        xp = backend.xp
        z = xp.sqrt(-2.0 * xp.log1p(-u)) * xp.cos((2.0 * math.pi) * backend.random(x.shape, dtype))
        return x + (self.corruption * z).astype(dtype, copy=False)

    def encode(self, x):
        """h = f(x W + b) (no corruption)."""
        return self.activation(self.encoder(x))

    def decode(self, h):
        """x̂ = g(h Wᵀ + b') when tied, g(h W' + b') otherwise."""
        if not self.tied:
            return self.output(self.decoder(h))
        if h.ndim == 0 or h.shape[-1] != self.n_hidden:
            raise ShapeError(f"{type(self).__name__}.decode expects codes with {self.n_hidden} features, "
                             f"got shape {tuple(h.shape)}")
        return self.output(linear(h, self.encoder.weight.T, self.decoder_bias))

    def forward(self, x):
        """x̂ = decode(encode(corrupt(x))): the reconstruction, to be compared with the clean x."""
        return self.decode(self.encode(self.corrupt(x)))


class StackedAutoencoder(Module):
    """Autoencoders of ``sizes`` = [n₀, n₁, …, n_L]: layer k maps n_{k−1} → n_k and back.

    The first layer's output activation is ``output`` (sigmoid for data in [0, 1]); deeper
    layers reconstruct codes, so theirs is sigmoid when ``activation`` is (codes in (0, 1))
    and identity otherwise. ``forward(x)`` = ``encode(x)``, the top-level code.
    """

    def __init__(self, sizes=(784, 256, 64), activation: str = "sigmoid", tied: bool = False,
                 corruption: float = 0.0, corruption_kind: str = "mask", output: str = "sigmoid"):
        super().__init__()
        self.sizes = [int(s) for s in sizes]
        if len(self.sizes) < 2:
            raise ValueError(f"StackedAutoencoder needs at least input and code sizes, got {self.sizes}")
        deeper = "sigmoid" if activation == "sigmoid" else "identity"
        self.layers = Sequential(*(
            Autoencoder(n_in, n_out, activation, tied, corruption, corruption_kind, output if k == 0 else deeper)
            for k, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:]))))

    def encode(self, x):
        """h_L = f(…f(x W₁ + b₁)… W_L + b_L), no corruption."""
        for ae in self.layers:
            x = ae.encode(x)
        return x

    def decode(self, h):
        """x̂ from a top-level code, through the decoders in reverse order."""
        for ae in reversed(list(self.layers)):
            h = ae.decode(h)
        return h

    def forward(self, x):
        return self.encode(x)

    def pretrain(self, x, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3, optimizer="adam",
                 seed: int = 0, loss: str = "bce", callbacks=()) -> list:
        """Greedy layer-wise training of the layers (``greedy.pretrain_autoencoders``); returns one
        ``History`` per layer."""
        return pretrain_autoencoders(list(self.layers), x, epochs, batch_size, lr, optimizer, seed, loss, callbacks)

    def encoder(self, copy_weights: bool = False) -> Sequential:
        """Sequential(Linear₁, f, …, Linear_L, f) of the encoders: the trained layers themselves
        (shared) or, with ``copy_weights``, independent copies."""
        layers = [m for ae in self.layers for m in (ae.encoder, ae.activation)]
        return Sequential(*(copy.deepcopy(m) if copy_weights else m for m in layers))

    def to_mlp(self, n_classes: int, weight_init="xavier") -> Sequential:
        """Copies of the pre-trained encoders plus a new output Linear(n_L, n_classes) (logits):
        Sequential(Linear, f, …, Linear, f, Linear), parameters "0.weight", "0.bias", …"""
        device = backends.backend_of(self.layers[0].encoder.weight.data).name
        head = Linear(self.sizes[-1], n_classes, weight_init=weight_init).to(device)
        return self.encoder(copy_weights=True).append(head)


__all__ = ["Autoencoder", "StackedAutoencoder", "CORRUPTIONS"]
