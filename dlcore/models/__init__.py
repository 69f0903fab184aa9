"""Ready-made models (``dlcore.models``)."""
from dlcore.models.mlp import MLP
from dlcore.models.perceptron import Perceptron

__all__ = ["MLP", "Perceptron"]
