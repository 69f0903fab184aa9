"""Layers and containers (``dlcore.nn``)."""
from dlcore.nn.module import Module, Parameter
from dlcore.nn.layers import Flatten, Linear, ModuleDict, ModuleList, Sequential
from dlcore.nn.activation import (ELU, GELU, Identity, LeakyReLU, PReLU, ReLU, Sigmoid, Softmax, Softplus, Step,
                                  Swish, Tanh)
from dlcore.nn import activation as activations
from dlcore.nn import utils

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear", "Flatten", "Step", "Sigmoid",
           "Tanh", "Softplus", "ReLU", "LeakyReLU", "PReLU", "ELU", "Identity", "Softmax", "Swish", "GELU", "activations",
           "utils"]
from dlcore.nn.conv import (AdaptiveAvgPool2d, AvgPool2d, Conv2d, ConvTranspose2d, GlobalAvgPool2d, GlobalMaxPool2d,
                            MaxPool2d, Upsample2d)
from dlcore.nn.normalization import BatchNorm1d, BatchNorm2d, GroupNorm
from dlcore.nn.regularization import Dropout, Dropout2d
from dlcore.nn.residual import Residual

__all__ += ["Conv2d", "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "AdaptiveAvgPool2d", "GlobalAvgPool2d",
            "GlobalMaxPool2d", "Upsample2d", "BatchNorm1d", "BatchNorm2d", "GroupNorm", "Dropout", "Dropout2d",
            "Residual"]
from dlcore.nn.layers import Embedding
from dlcore.nn.normalization import LayerNorm
from dlcore.nn.recurrent import GRU, LSTM, RNN
from dlcore.nn.attention import MultiheadAttention, TransformerEncoderLayer

__all__ += ["Embedding", "LayerNorm", "RNN", "LSTM", "GRU", "MultiheadAttention", "TransformerEncoderLayer"]
