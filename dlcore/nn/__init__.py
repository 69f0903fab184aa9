"""Layers and containers (``dlcore.nn``)."""
from dlcore.nn.module import Module, Parameter
from dlcore.nn.layers import Flatten, Linear, Sequential
from dlcore.nn.activation import (ELU, Identity, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Softplus, Step,
                                  Swish, Tanh)
from dlcore.nn import activation as activations

__all__ = ["Module", "Parameter", "Sequential", "Linear", "Flatten", "Step", "Sigmoid", "Tanh", "Softplus",
           "ReLU", "LeakyReLU", "PReLU", "ELU", "Identity", "Softmax", "Swish", "activations"]
