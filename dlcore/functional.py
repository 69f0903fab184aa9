"""The functions users call: ``import dlcore.functional as F; F.relu(x)``."""
from dlcore.functions.activation import (elu, identity, leaky_relu, log_softmax, prelu, relu, sigmoid, softmax,
                                         softplus, step, swish, tanh)
from dlcore.functions.linear import linear
from dlcore.functions.loss import (bce_with_logits, binary_cross_entropy, cross_entropy, epsilon_insensitive_loss,
                                   exponential_loss, hinge_loss, huber_loss, logistic_loss, mae_loss, mse_loss,
                                   quantile_loss, sum_squared_error)
from dlcore.functions.math import (abs, add, astype, concat, div, exp, getitem, log, matmul, max, mean, mul, neg, pow,
                                   reshape, sub, sum, transpose)

__all__ = [
    "step", "sigmoid", "tanh", "softplus", "relu", "leaky_relu", "prelu", "elu", "identity", "softmax",
    "log_softmax", "swish", "linear", "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sum",
    "mean", "max", "abs", "reshape", "transpose", "astype", "getitem", "concat", "sum_squared_error", "mse_loss",
    "mae_loss", "cross_entropy", "binary_cross_entropy", "bce_with_logits", "logistic_loss", "exponential_loss",
    "hinge_loss", "quantile_loss", "huber_loss", "epsilon_insensitive_loss",
]
from dlcore.functions.conv import conv2d, conv_transpose2d
from dlcore.functions.dropout import dropout
from dlcore.functions.normalization import batch_norm
from dlcore.functions.pooling import avg_pool2d, global_avg_pool2d, global_max_pool2d, max_pool2d, upsample2d

__all__ += ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d",
            "upsample2d", "batch_norm", "dropout"]
