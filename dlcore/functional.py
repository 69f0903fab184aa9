"""The functions users call: ``import dlcore.functional as F; F.relu(x)``."""
from dlcore.ops.activation import (elu, gelu, identity, leaky_relu, log_softmax, prelu, relu, sigmoid, softmax,
                                   softplus, step, swish, tanh)
from dlcore.ops.linear import linear
from dlcore.ops.loss import (bce_with_logits, binary_cross_entropy, cross_entropy, epsilon_insensitive_loss,
                             exponential_loss, hinge_loss, huber_loss, logistic_loss, mae_loss, mse_loss,
                             kl_div, nll_loss, quantile_loss, sum_squared_error)
from dlcore.ops.math import (abs, add, argmax, argmin, astype, clip, concat, div, exp, flatten, getitem, log,
                             logsumexp, matmul, max, mean, min, mul, neg, permute, pow, reshape, sqrt, squeeze, stack,
                             std, sub, sum, swapaxes, transpose, unsqueeze, var)
from dlcore.ops.padding import pad

__all__ = [
    "step", "sigmoid", "tanh", "softplus", "relu", "leaky_relu", "prelu", "elu", "identity", "softmax",
    "log_softmax", "swish", "linear", "add", "sub", "mul", "div", "pow", "neg", "matmul", "exp", "log", "sum",
    "mean", "max", "abs", "reshape", "transpose", "astype", "getitem", "concat", "sum_squared_error", "mse_loss",
    "mae_loss", "cross_entropy", "binary_cross_entropy", "bce_with_logits", "logistic_loss", "exponential_loss",
    "hinge_loss", "quantile_loss", "huber_loss", "epsilon_insensitive_loss",
    "min", "argmax", "argmin", "var", "std", "logsumexp", "sqrt", "clip", "permute", "swapaxes", "unsqueeze",
    "squeeze", "flatten", "stack", "pad",
]
from dlcore.ops.conv import conv2d, conv_transpose2d
from dlcore.ops.dropout import dropout, dropout2d
from dlcore.ops.normalization import batch_norm
from dlcore.ops.pooling import (adaptive_avg_pool2d, avg_pool2d, global_avg_pool2d, global_max_pool2d, max_pool2d,
                                upsample2d)

__all__ += ["conv2d", "conv_transpose2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d", "global_max_pool2d",
            "upsample2d", "batch_norm", "dropout", "dropout2d", "adaptive_avg_pool2d", "gelu", "nll_loss", "kl_div"]
