"""The functions users call: ``import dlcore.functional as F; F.relu(x)``."""
from dlcore.functions.activation import (elu, identity, leaky_relu, log_softmax, prelu, relu, sigmoid, softmax,
                                         softplus, step, swish, tanh)
from dlcore.functions.linear import linear
from dlcore.functions.math import (add, astype, concat, div, exp, getitem, log, matmul, max, mean, mul, neg, pow,
                                   reshape, sub, sum, transpose)

__all__ = [
    "step", "sigmoid", "tanh", "softplus", "relu", "leaky_relu", "prelu", "elu", "identity", "softmax",
    "log_softmax", "swish", "linear", "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sum",
    "mean", "max", "reshape", "transpose", "astype", "getitem", "concat",
]
