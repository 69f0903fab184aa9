"""Multi-layer perceptrons."""
from __future__ import annotations

from dlcore.nn import BatchNorm1d, Dropout, Linear, Sequential
from dlcore.nn.activation import get as activation_layer


class MLP(Sequential):
    """Dense layers of ``sizes`` = [n_in, h₁, …, n_out]; each hidden layer is
    Linear → (BatchNorm1d) → activation → (Dropout(p)).

    The last layer has no activation (losses such as CrossEntropyLoss take logits).
    ``weight_init`` defaults to "he" for the ReLU family and "xavier" otherwise.
    """

    def __init__(self, sizes, activation: str = "relu", weight_init=None, dropout: float = 0.0,
                 batch_norm: bool = False):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2:
            raise ValueError(f"MLP needs at least input and output sizes, got {sizes}")
        if weight_init is None:
            weight_init = "he" if activation in ("relu", "leaky_relu", "prelu", "elu", "swish") else "xavier"
        layers = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(Linear(n_in, n_out, weight_init=weight_init))
            if i == len(sizes) - 2:
                break
            if batch_norm:
                layers.append(BatchNorm1d(n_out))
            layers.append(activation_layer(activation))
            if dropout > 0:
                layers.append(Dropout(dropout))
        super().__init__(*layers)
