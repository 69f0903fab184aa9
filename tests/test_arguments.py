"""Every public constructor and function checks its arguments where they enter.

A bad argument raises TypeError (wrong type) or ValueError (right type, wrong value), which is
also a ``dlcore.UserError`` (so scripts report it as one line), with a one-line message that
names the class or function and the argument. Good arguments, NumPy scalars included, still work.
"""
import math

import numpy
import pytest

import dlcore
import dlcore.functional as F
from dlcore import Tensor, checks, init, losses, metrics, models, nn, optim
from dlcore.data import ArrayLoader, sine, spiral, xor
from dlcore.ops.activation import LeakyReLUFunction
from dlcore.unsupervised import RBM

NAN, INF = float("nan"), float("inf")


def _param():
    return nn.Parameter(numpy.zeros(3, numpy.float32))


def _x(n=4):
    return numpy.zeros((n, 2), numpy.float32)


def _logits():
    return Tensor(numpy.zeros((2, 3), numpy.float32))


def _map(n=1, c=1, size=4):
    """An (n, c, size, size) map of ones."""
    return Tensor(numpy.ones((n, c, size, size), numpy.float32))


def _kernel(o=2, c=1, k=3):
    """An (o, c, k, k) convolution weight of ones."""
    return Tensor(numpy.ones((o, c, k, k), numpy.float32))


def _vector(n):
    return Tensor(numpy.ones(n, numpy.float32))


def _norm(**kwargs):
    """F.batch_norm of a (4, 2) batch."""
    return F.batch_norm(Tensor(_x()), _vector(2), _vector(2), **kwargs)


BAD = [
    # ---- sizes: ints ≥ 1 (not floats, not bools, not strings) ----
    ("Linear float size", lambda: nn.Linear(2.5, 3), TypeError,
     r"Linear: in_features must be an int ≥ 1, got 2\.5 \(float\)"),
    ("Linear bool size", lambda: nn.Linear(True, 3), TypeError, r"Linear: in_features .*got True \(bool\)"),
    ("Linear zero size", lambda: nn.Linear(2, 0), ValueError, r"Linear: out_features must be an int ≥ 1, got 0"),
    ("Linear bias", lambda: nn.Linear(2, 3, bias="no"), TypeError, r"Linear: bias must be True or False, got 'no'"),
    ("Linear weight_init", lambda: nn.Linear(2, 3, weight_init="hee"), ValueError,
     r"Linear: weight_init must be one of .*got 'hee'; did you mean 'he'\?"),
    ("Conv2d channels", lambda: nn.Conv2d(1.5, 2, 3), TypeError, r"Conv2d: in_channels must be an int ≥ 1, got 1\.5"),
    ("Conv2d kernel float", lambda: nn.Conv2d(1, 2, 3.5), TypeError,
     r"Conv2d: kernel_size must be an int ≥ 1 or an \(h, w\) pair of them, got 3\.5 \(float\)"),
    ("Conv2d kernel 1-tuple", lambda: nn.Conv2d(1, 2, (3,)), TypeError, r"Conv2d: kernel_size .*got \(3,\)"),
    ("Conv2d stride pair", lambda: nn.Conv2d(1, 2, 3, stride=(1.5, 1)), TypeError, r"Conv2d: stride .*\(1\.5, 1\)"),
    ("Conv2d stride 0", lambda: nn.Conv2d(1, 2, 3, stride=0), ValueError, r"Conv2d: stride must be an int ≥ 1"),
    ("Conv2d padding", lambda: nn.Conv2d(1, 2, 3, padding=-1), ValueError, r"Conv2d: padding must be an int ≥ 0"),
    ("Conv2d dilation", lambda: nn.Conv2d(1, 2, 3, dilation=0), ValueError, r"Conv2d: dilation must be an int ≥ 1"),
    ("Conv2d padding_mode", lambda: nn.Conv2d(1, 2, 3, padding_mode="zero"), ValueError,
     r"Conv2d: padding_mode must be one of 'zeros', 'edge', got 'zero'; did you mean 'zeros'\?"),
    ("Conv2d bias", lambda: nn.Conv2d(1, 2, 3, bias=None), TypeError, r"Conv2d: bias must be True or False"),
    ("ConvTranspose2d channels", lambda: nn.ConvTranspose2d(2, 0.5, 2), TypeError,
     r"ConvTranspose2d: out_channels must be an int ≥ 1"),
    ("ConvTranspose2d output_padding", lambda: nn.ConvTranspose2d(1, 2, 2, stride=2, output_padding=1.5), TypeError,
     r"ConvTranspose2d: output_padding must be an int ≥ 0"),
    ("MaxPool2d kernel", lambda: nn.MaxPool2d(2.5), TypeError, r"MaxPool2d: kernel_size .*got 2\.5"),
    ("AvgPool2d stride", lambda: nn.AvgPool2d(2, stride=0.5), TypeError, r"AvgPool2d: stride .*got 0\.5"),
    ("MaxPool2d padding", lambda: nn.MaxPool2d(2, padding=-1), ValueError, r"MaxPool2d: padding must be an int ≥ 0"),
    ("Upsample2d float scale", lambda: nn.Upsample2d(1.5), TypeError, r"Upsample2d: scale .*got 1\.5 \(float\)"),
    ("Upsample2d zero scale", lambda: nn.Upsample2d(0), ValueError, r"Upsample2d: scale must be an int ≥ 1"),
    ("Upsample2d mode", lambda: nn.Upsample2d(2, mode="bicubic"), ValueError,
     r"Upsample2d: mode must be one of 'nearest', 'bilinear', got 'bicubic'"),
    ("BatchNorm1d float size", lambda: nn.BatchNorm1d(2.0), TypeError, r"BatchNorm1d: num_features .*got 2\.0"),
    ("BatchNorm2d momentum", lambda: nn.BatchNorm2d(4, momentum="0.1"), TypeError,
     r"BatchNorm2d: momentum must be a number"),
    ("PReLU size", lambda: nn.PReLU(0), ValueError, r"PReLU: num_parameters must be an int ≥ 1, got 0"),
    ("PReLU float size", lambda: nn.PReLU(1.5), TypeError, r"PReLU: num_parameters .*got 1\.5"),
    # ---- numbers: finite, and in their interval ----
    ("Dropout p = 1", lambda: nn.Dropout(1.0), ValueError, r"Dropout: p must be in \[0, 1\), got 1\.0"),
    ("Dropout p str", lambda: nn.Dropout("0.5"), TypeError, r"Dropout: p must be a number, got '0\.5' \(str\)"),
    ("Dropout p bool", lambda: nn.Dropout(True), TypeError, r"Dropout: p must be a number, got True"),
    ("LeakyReLU alpha str", lambda: nn.LeakyReLU("a"), TypeError, r"LeakyReLU: alpha must be a number"),
    ("LeakyReLU alpha nan", lambda: nn.LeakyReLU(NAN), ValueError, r"LeakyReLU: alpha must be finite, got nan"),
    ("ELU alpha inf", lambda: nn.ELU(INF), ValueError, r"ELU: alpha must be finite, got inf"),
    ("Swish beta", lambda: nn.Swish("1"), TypeError, r"Swish: beta must be a number"),
    ("PReLU init", lambda: nn.PReLU(init=None), TypeError, r"PReLU: init must be a number, got None"),
    ("Softmax axis", lambda: nn.Softmax(1.5), TypeError, r"Softmax: axis must be an int, got 1\.5"),
    # ---- containers and names ----
    ("Sequential non-module", lambda: nn.Sequential(nn.Linear(2, 2), 3), TypeError,
     r"Sequential: layer 1 must be a Module, got int"),
    ("Sequential class", lambda: nn.Sequential(nn.ReLU), TypeError,
     r"Sequential: layer 0 must be a Module, got the class ReLU; did you mean ReLU\(\)\?"),
    ("Residual block", lambda: nn.Residual(3), TypeError, r"Residual: block must be a Module, got int"),
    ("Residual shortcut", lambda: nn.Residual(nn.ReLU(), "x"), TypeError,
     r"Residual: shortcut must be a Module or None, got str"),
    ("activations.get", lambda: nn.activations.get("rleu"), ValueError,
     r"activations.get: name must be one of .*got 'rleu'; did you mean 'relu'\?"),
    ("Module.train", lambda: nn.Linear(2, 2).train("no"), TypeError, r"Linear.train: mode must be True or False"),
    ("Module.to", lambda: nn.Linear(2, 2).to("gpu"), ValueError,
     r"Linear.to: name must be one of 'numpy', 'cupy', 'auto', got 'gpu'"),
    ("Module.load_state_dict strict", lambda: nn.Linear(2, 2).load_state_dict({}, strict="no"), TypeError,
     r"Linear.load_state_dict: strict must be True or False"),
    # ---- losses ----
    ("CrossEntropyLoss integer logits",
     lambda: losses.CrossEntropyLoss()(Tensor(numpy.array([[9, 0], [0, 9]])), numpy.array([0, 1])), TypeError,
     r"CrossEntropyLoss: the prediction y has dtype int64, .*floating.*y\.astype\('float32'\)"),
    ("MSELoss integer prediction", lambda: losses.MSELoss()(numpy.array([1, 2]), numpy.array([0.0, 1.0])),
     TypeError, r"MSELoss: the prediction y has dtype int64"),
    ("MSELoss list prediction", lambda: losses.MSELoss()([1.0], [1.0]), TypeError,
     r"MSELoss: the prediction y must be a Tensor or an array, got list"),
    ("QuantileLoss tau str", lambda: losses.QuantileLoss("a"), TypeError, r"QuantileLoss: tau must be a number"),
    ("HuberLoss delta None", lambda: losses.HuberLoss(None), TypeError, r"HuberLoss: delta must be a number"),
    ("HuberLoss delta inf", lambda: losses.HuberLoss(INF), ValueError, r"HuberLoss: delta must be finite, got inf"),
    ("EpsilonInsensitiveLoss nan", lambda: losses.EpsilonInsensitiveLoss(NAN), ValueError,
     r"EpsilonInsensitiveLoss: epsilon must be finite"),
    ("BinaryCrossEntropy eps", lambda: losses.BinaryCrossEntropy(eps="a"), TypeError,
     r"BinaryCrossEntropy: eps must be a number"),
    ("losses.get", lambda: losses.get("msee"), ValueError,
     r"losses.get: name must be one of .*got 'msee'; did you mean 'mse'\?"),
    ("l2_penalty empty", lambda: losses.l2_penalty([], 0.1), ValueError, r"l2_penalty: got no parameters"),
    ("l1_penalty coef", lambda: losses.l1_penalty([_param()], -1), ValueError,
     r"l1_penalty: coef must be ≥ 0, got -1\.0"),
    # ---- initialisers ----
    ("init shape float", lambda: init.he((2, 2.5)), TypeError, r"he: shape\[1\] must be an int ≥ 0, got 2\.5"),
    ("init shape None", lambda: init.uniform(None), TypeError, r"uniform: shape must be a tuple of ints, got NoneType"),
    ("init shape negative", lambda: init.zeros((2, -1)), ValueError, r"zeros: shape\[1\] must be an int ≥ 0, got -1"),
    ("init fan_in 0", lambda: init.xavier((3, 2), fan_in=0), ValueError,
     r"xavier: fan_in must be an int ≥ 1, got 0"),
    ("init dtype name", lambda: init.zeros((2,), dtype="foo"), TypeError,
     r"zeros: dtype must be a NumPy dtype such as 'float32', got 'foo'"),
    ("init dtype text", lambda: init.ones((2,), dtype=str), TypeError, r"ones: dtype must be a numeric dtype"),
    ("init.get", lambda: init.get(3), TypeError, r"init.get: weight_init must be one of .*or a callable"),
    # ---- optimizers ----
    ("SGD lr", lambda: optim.SGD([_param()], lr=-1), ValueError, r"SGD: lr must be ≥ 0, got -1\.0"),
    ("Adam beta1", lambda: optim.Adam([_param()], beta1=1.0), ValueError, r"Adam: beta1 must be in \[0, 1\)"),
    ("Momentum momentum", lambda: optim.Momentum([_param()], 0.1, momentum="0.9"), TypeError,
     r"Momentum: momentum must be a number"),
    ("SGD load_state_dict", lambda: optim.SGD([_param()], 0.1).load_state_dict(None), TypeError,
     r"SGD.load_state_dict takes the dict that state_dict\(\) returns, got NoneType"),
    ("SGD params empty", lambda: optim.SGD([], 0.1), ValueError, r"SGD got an empty parameter list"),
    ("SGD params not tensors", lambda: optim.SGD([1], 0.1), TypeError, r"SGD: parameter 0 is a int"),
    # ---- data ----
    ("ArrayLoader batch_size float", lambda: ArrayLoader(_x(), _x(), batch_size=2.5), TypeError,
     r"ArrayLoader: batch_size must be an int ≥ 1, got 2\.5"),
    ("ArrayLoader batch_size 0", lambda: ArrayLoader(_x(), _x(), batch_size=0), ValueError,
     r"ArrayLoader: batch_size must be an int ≥ 1, got 0"),
    ("ArrayLoader seed -1", lambda: ArrayLoader(_x(), _x(), seed=-1), ValueError,
     r"ArrayLoader: seed must be an int ≥ 0, got -1"),
    ("ArrayLoader seed float", lambda: ArrayLoader(_x(), _x(), seed=1.5), TypeError, r"ArrayLoader: seed .*got 1\.5"),
    ("ArrayLoader shuffle", lambda: ArrayLoader(_x(), _x(), shuffle="no"), TypeError,
     r"ArrayLoader: shuffle must be True or False"),
    ("ArrayLoader drop_last", lambda: ArrayLoader(_x(), _x(), drop_last=1), TypeError,
     r"ArrayLoader: drop_last must be True or False"),
    ("ArrayLoader transform", lambda: ArrayLoader(_x(), _x(), transform=3), TypeError,
     r"ArrayLoader: transform must be None or a callable"),
    ("ArrayLoader backend", lambda: ArrayLoader(_x(), _x(), backend="gpu"), ValueError,
     r"ArrayLoader: backend must be one of 'numpy', 'cupy', 'auto', got 'gpu'"),
    ("ArrayLoader text", lambda: ArrayLoader(numpy.array(["a", "b"]), _x(2)), TypeError,
     r"ArrayLoader: x must be numbers, got an array of dtype <U1"),
    ("ArrayLoader lengths", lambda: ArrayLoader(_x(4), _x(3)), ValueError, r"ArrayLoader: x has 4 samples but y has 3"),
    # ---- metrics ----
    ("precision average", lambda: metrics.precision([0, 1], [0, 1], average="Macro"), ValueError,
     r"metrics.precision: average must be one of 'binary', 'macro', 'micro', 'weighted' or None, got 'Macro'; "
     r"did you mean 'macro'\?"),
    ("confusion_matrix num_classes float", lambda: metrics.confusion_matrix([0, 1], [0, 1], num_classes=2.5),
     TypeError, r"metrics.confusion_matrix: num_classes must be an int ≥ 1, got 2\.5"),
    ("confusion_matrix num_classes 0", lambda: metrics.confusion_matrix([0, 1], [0, 1], num_classes=0), ValueError,
     r"metrics.confusion_matrix: num_classes must be an int ≥ 1, got 0"),
    ("recall pos_label", lambda: metrics.recall([0, 1], [0, 1], pos_label=1.5), TypeError,
     r"metrics.recall: pos_label must be an int ≥ 0"),
    ("accuracy text labels", lambda: metrics.accuracy(["a", "b"], ["a", "b"]), TypeError,
     r"metrics.accuracy: y_true must be numbers .*dtype <U1"),
    ("mse None", lambda: metrics.mse(None, [1.0]), TypeError, r"metrics.mse: y_true must be numbers .*NoneType"),
    # ---- seeds ----
    ("manual_seed -1", lambda: dlcore.manual_seed(-1), ValueError, r"manual_seed: seed must be an int ≥ 0, got -1"),
    ("manual_seed str", lambda: dlcore.manual_seed("a"), TypeError, r"manual_seed: seed .*got 'a' \(str\)"),
    ("manual_seed float", lambda: dlcore.manual_seed(1.5), TypeError, r"manual_seed: seed .*got 1\.5 \(float\)"),
    ("manual_seed bool", lambda: dlcore.manual_seed(True), TypeError, r"manual_seed: seed .*got True \(bool\)"),
    # ---- tensors and ops on strings or objects ----
    ("Tensor text array", lambda: Tensor(numpy.array(["a", "b"])), TypeError,
     r"Tensor: data must be numbers, got an array of dtype <U1"),
    ("Tensor object array", lambda: Tensor(numpy.array([1, None], dtype=object)), TypeError,
     r"Tensor: data must be numbers, got an array of dtype object"),
    ("Tensor requires_grad", lambda: Tensor([1.0], requires_grad="yes"), TypeError,
     r"Tensor: requires_grad must be True or False"),
    ("relu of text", lambda: F.relu(numpy.array(["a", "b"])), TypeError,
     r"ReLU: inputs must be numbers \(bool, int or float arrays\), got \(2,\) <U1"),
    ("add of text", lambda: F.add(numpy.array(["a"]), numpy.array(["b"])), TypeError,
     r"Add: inputs must be numbers .*<U1, \(1,\) <U1"),
    ("tensor plus str", lambda: Tensor(numpy.ones(2, numpy.float32)) + "a", TypeError,
     r"Add: inputs must be numbers .*float32, 'a'"),
    ("exp of objects", lambda: F.exp(numpy.array([1.0, None], dtype=object)), TypeError,
     r"Exp: inputs must be numbers .*object"),
    ("backward grad", lambda: (Tensor([1.0, 2.0], requires_grad=True) * 2).backward("a"), TypeError,
     r"backward\(grad\): grad must be a Tensor or an array of shape \(2,\), got str"),
    ("dlcore.tensor device", lambda: dlcore.tensor([1.0], device="gpu"), ValueError,
     r"dlcore.tensor: device must be one of 'numpy', 'cupy', 'auto', got 'gpu'"),
    ("dlcore.tensor dtype", lambda: dlcore.tensor([1.0], dtype="foo"), TypeError,
     r"dlcore.tensor: dtype must be a NumPy dtype"),
    # ---- the functional layer: sizes as the layers check them, named after F.<function> ----
    ("conv2d float stride pair", lambda: F.conv2d(_map(), _kernel(), stride=(1.5, 1)), TypeError,  # was truncated
     r"conv2d: stride must be an int ≥ 1 or an \(h, w\) pair of them, got \(1\.5, 1\) \(tuple\)"),
    ("conv2d float stride", lambda: F.conv2d(_map(), _kernel(), stride=1.5), TypeError,
     r"conv2d: stride .*got 1\.5 \(float\)"),
    ("conv2d bool stride", lambda: F.conv2d(_map(), _kernel(), stride=True), TypeError,  # was stride 1
     r"conv2d: stride .*got True \(bool\)"),
    ("conv2d padding str", lambda: F.conv2d(_map(), _kernel(), padding="full"), ValueError,
     r"conv2d: padding must be one of 'same', 'valid', got 'full'"),
    ("conv2d padding list", lambda: F.conv2d(_map(), _kernel(), padding=[1, 1, 1]), TypeError,
     r"conv2d: padding must be an int ≥ 0 or an \(h, w\) pair of them"),
    ("conv2d dilation 0", lambda: F.conv2d(_map(), _kernel(), dilation=0), ValueError,
     r"conv2d: dilation must be an int ≥ 1 or an \(h, w\) pair of them, got 0"),
    ("conv2d padding_mode", lambda: F.conv2d(_map(), _kernel(), padding_mode="edges"), ValueError,
     r"conv2d: padding_mode must be one of 'zeros', 'edge', got 'edges'; did you mean 'edge'\?"),
    ("conv2d bias list", lambda: F.conv2d(_map(), _kernel(), [0.0, 0.0]), TypeError,
     r"conv2d: b must be a Tensor or an array, got \[0\.0, 0\.0\] \(list\)"),
    ("conv2d x list", lambda: F.conv2d([[1.0]], _kernel()), TypeError, r"conv2d: x must be a Tensor or an array"),
    ("conv_transpose2d output_padding float",
     lambda: F.conv_transpose2d(_map(), _kernel(1, 2, 2), stride=2, output_padding=1.5), TypeError,
     r"conv_transpose2d: output_padding must be an int ≥ 0 .*got 1\.5 \(float\)"),
    ("conv_transpose2d output_padding ≥ stride",
     lambda: F.conv_transpose2d(_map(), _kernel(1, 2, 2), stride=2, output_padding=2), ValueError,
     r"conv_transpose2d: output_padding must be smaller than the stride on each axis, got output_padding \(2, 2\)"),
    ("conv_transpose2d stride pair", lambda: F.conv_transpose2d(_map(), _kernel(1, 2, 2), stride=(2, 2.0)),
     TypeError, r"conv_transpose2d: stride .*got \(2, 2\.0\)"),
    ("max_pool2d float kernel", lambda: F.max_pool2d(_map(), 2.5), TypeError,
     r"max_pool2d: kernel_size must be an int ≥ 1 or an \(h, w\) pair of them, got 2\.5 \(float\)"),
    ("avg_pool2d float kernel pair", lambda: F.avg_pool2d(_map(), (2.0, 2)), TypeError,  # was accepted
     r"avg_pool2d: kernel_size .*got \(2\.0, 2\)"),
    ("max_pool2d stride 0", lambda: F.max_pool2d(_map(), 2, stride=0), ValueError,
     r"max_pool2d: stride must be an int ≥ 1"),
    ("avg_pool2d padding -1", lambda: F.avg_pool2d(_map(), 2, padding=-1), ValueError,
     r"avg_pool2d: padding must be an int ≥ 0"),
    ("max_pool2d padding over half the kernel", lambda: F.max_pool2d(_map(), 2, padding=2), ValueError,
     r"max_pool2d: padding must be at most half the kernel size, got kernel 2×2"),
    ("MaxPool2d padding over half the kernel", lambda: nn.MaxPool2d(2, padding=2), ValueError,
     r"MaxPool2d: padding must be at most half the kernel size"),
    ("upsample2d float scale", lambda: F.upsample2d(_map(), 1.5), TypeError,
     r"upsample2d: scale must be an int ≥ 1 or an \(h, w\) pair of them, got 1\.5 \(float\)"),
    ("upsample2d float pair", lambda: F.upsample2d(_map(), (2.0, 2.0)), TypeError,
     r"upsample2d: scale .*got \(2\.0, 2\.0\)"),
    ("upsample2d scale 0", lambda: F.upsample2d(_map(), 0), ValueError, r"upsample2d: scale must be an int ≥ 1"),
    ("upsample2d mode", lambda: F.upsample2d(_map(), 2, mode="bicubic"), ValueError,
     r"upsample2d: mode must be one of 'nearest', 'bilinear', got 'bicubic'"),
    # ---- the functional layer: numbers, flags and arrays ----
    ("dropout p str", lambda: F.dropout(_map(), "a"), TypeError, r"dropout: p must be a number, got 'a' \(str\)"),
    ("dropout p = 1", lambda: F.dropout(_map(), 1.0), ValueError, r"dropout: p must be in \[0, 1\), got 1\.0"),
    ("dropout p nan", lambda: F.dropout(_map(), NAN), ValueError, r"dropout: p must be finite, got nan"),
    ("dropout training str", lambda: F.dropout(_map(), 0.5, training="no"), TypeError,  # was dropout on
     r"dropout: training must be True or False, got 'no' \(str\)"),
    ("dropout mask list", lambda: F.dropout(_map(), 0.5, training=True, mask=[1]), TypeError,
     r"dropout: mask must be a Tensor or an array, got \[1\] \(list\)"),
    ("leaky_relu alpha str", lambda: F.leaky_relu(_x(), "a"), TypeError,
     r"leaky_relu: alpha must be a number, got 'a' \(str\)"),
    ("leaky_relu alpha nan", lambda: F.leaky_relu(_x(), NAN), ValueError,  # was NaN outputs
     r"leaky_relu: alpha must be finite, got nan"),
    ("elu alpha None", lambda: F.elu(_x(), None), TypeError, r"elu: alpha must be a number, got None"),
    ("swish beta list", lambda: F.swish(_x(), [1, 2]), TypeError, r"swish: beta must be a number, got \[1, 2\]"),
    ("softmax float axis", lambda: F.softmax(_logits(), 1.5), TypeError, r"softmax: axis must be an int, got 1\.5"),
    ("softmax axis out of range", lambda: F.softmax(_logits(), 2), ValueError,
     r"softmax: axis must be in \[-2, 2\) for x of shape \(2, 3\), got 2"),
    ("log_softmax str axis", lambda: F.log_softmax(_logits(), "1"), TypeError,
     r"log_softmax: axis must be an int, got '1' \(str\)"),
    ("prelu slope list", lambda: F.prelu(_x(), [0.1]), TypeError,
     r"prelu: a must be a Tensor or an array, got \[0\.1\] \(list\)"),
    ("linear weight list", lambda: F.linear(_x(), [[1.0], [1.0]]), TypeError,
     r"linear: W must be a Tensor or an array, got \[\[1\.0\], \[1\.0\]\] \(list\)"),
    ("batch_norm momentum str", lambda: _norm(momentum="a", training=True), TypeError,  # was ignored
     r"batch_norm: momentum must be a number, got 'a'"),
    ("batch_norm eps negative", lambda: _norm(eps=-1.0, training=True), ValueError,  # was NaN outputs
     r"batch_norm: eps must be > 0, got -1\.0"),
    ("batch_norm training str", lambda: _norm(training="no"), TypeError,
     r"batch_norm: training must be True or False, got 'no'"),
    ("batch_norm running_mean alone", lambda: _norm(running_mean=numpy.zeros(2, numpy.float32)), TypeError,
     r"batch_norm: running_mean and running_var must be given together"),
    ("batch_norm weight None", lambda: F.batch_norm(Tensor(_x()), None, _vector(2)), TypeError,
     r"batch_norm: weight must be a Tensor or an array, got None"),
    # ---- settings and generators ----
    ("default_dtype name", lambda: dlcore.default_dtype("foo"), TypeError,
     r"default_dtype: dtype must be a NumPy dtype such as 'float32', got 'foo' \(str\)"),
    ("default_dtype None", lambda: dlcore.default_dtype(None), TypeError,  # was float64
     r"default_dtype: dtype must be a NumPy dtype .*got None"),
    ("default_dtype int", lambda: dlcore.default_dtype("int32"), ValueError,
     r"default_dtype: dtype must be a floating dtype such as 'float32' or 'float64', got int32"),
    ("default_dtype text", lambda: dlcore.default_dtype(str), TypeError, r"default_dtype: dtype must be a numeric"),
    ("training_mode str", lambda: dlcore.training_mode("no"), TypeError,  # was training on
     r"training_mode: mode must be True or False, got 'no' \(str\)"),
    ("xor n float", lambda: xor(2.5), TypeError,
     r"xor: n \(the number of samples\) must be an int ≥ 1, got 2\.5 \(float\)"),
    ("spiral n 1", lambda: spiral(1), ValueError, r"spiral: n \(the number of samples\) must be an int ≥ 2, got 1"),
    ("sine noise negative", lambda: sine(4, noise=-0.1), ValueError,
     r"sine: noise \(a standard deviation\) must be a finite number ≥ 0, got -0\.1"),
    ("xor seed -1", lambda: xor(4, seed=-1), ValueError, r"xor: seed must be an int ≥ 0, got -1"),
    ("sine seed float", lambda: sine(4, seed=1.5), TypeError, r"sine: seed must be an int ≥ 0, got 1\.5 \(float\)"),
    ("spiral seed None", lambda: spiral(4, seed=None), TypeError,  # was an unseeded draw
     r"spiral: seed must be an int ≥ 0, got None"),
    ("spiral turns str", lambda: spiral(4, turns="a"), TypeError, r"spiral: turns must be a number, got 'a'"),
    ("spiral turns nan", lambda: spiral(4, turns=NAN), ValueError,  # was NaN points
     r"spiral: turns must be finite, got nan"),
]

#: an input whose shape does not fit, found in the forward pass: a ShapeError (ValueError and UserError)
SHAPES = [
    ("Linear features", lambda: nn.Linear(3, 2)(Tensor(_x())),
     r"Linear\(in_features=3.*\) expects inputs whose last axis has 3 features, got an input of shape \(4, 2\)"),
    ("Conv2d channels", lambda: nn.Conv2d(3, 4, 3)(_map(c=2, size=5)),
     r"Conv2d\(3, 4.*expects 3 input channels, got 2"),
    ("MaxPool2d not NCHW", lambda: nn.MaxPool2d(2)(Tensor(_x())), r"MaxPool2d\(.*expects an NCHW input"),
    ("Conv2d empty output", lambda: nn.Conv2d(1, 1, 5)(_map()), r"Conv2d\(1, 1.*empty output \(0×0\)"),
    ("BatchNorm1d channels", lambda: nn.BatchNorm1d(3)(Tensor(_x())), r"BatchNorm1d\(3.*with 3 channels on axis 1"),
    ("PReLU channels", lambda: nn.PReLU(3)(Tensor(_x())), r"PReLU has 3 slopes but the input has shape \(4, 2\)"),
    ("Residual shapes", lambda: nn.Residual(nn.Linear(2, 3))(Tensor(_x())),
     r"Residual: the block gives shape \(4, 3\) but the identity gives \(4, 2\)"),
    ("conv2d channels", lambda: F.conv2d(_map(c=2), _kernel()),
     r"conv2d needs x \(N, C, H, W\) and a 4-D weight with C on axis 1 .*got x of shape \(1, 2, 4, 4\)"),
    ("conv2d bias shape", lambda: F.conv2d(_map(), _kernel(), _vector(3)),
     r"conv2d needs a bias b of shape \(2,\) .*got b of shape \(3,\)"),
    ("conv2d empty output", lambda: F.conv2d(_map(size=2), _kernel()), r"^conv2d: an input of spatial size 2×2"),
    ("conv_transpose2d channels", lambda: F.conv_transpose2d(_map(c=3), _kernel(1, 2, 2)),
     r"conv_transpose2d needs x .*C on axis 0"),
    ("max_pool2d not NCHW", lambda: F.max_pool2d(Tensor(_x()), 2), r"max_pool2d needs an NCHW input"),
    ("global_avg_pool2d empty map", lambda: F.global_avg_pool2d(Tensor(numpy.ones((1, 1, 0, 4), numpy.float32))),
     r"global_avg_pool2d needs an NCHW input \(N, C, H, W\) with H, W ≥ 1, got shape \(1, 1, 0, 4\)"),
    ("linear features", lambda: F.linear(Tensor(_x()), _kernel(4, 2, 1).reshape(4, 2)),
     r"linear needs x \(\.\.\., n_in\) and W \(n_in, n_out\), got x of shape \(4, 2\) and W of shape \(4, 2\)"),
    ("linear bias shape", lambda: F.linear(Tensor(_x()), _kernel(2, 3, 1).reshape(2, 3), _vector(2)),
     r"linear needs a bias b of shape \(3,\) for W of shape \(2, 3\), got b of shape \(2,\)"),
    ("batch_norm channels", lambda: F.batch_norm(Tensor(_x()), _vector(3), _vector(2)),
     r"batch_norm needs x \(N, C, \.\.\.\) and weight, bias of shape \(C,\)"),
    ("batch_norm running statistics", lambda: _norm(running_mean=numpy.zeros(3), running_var=numpy.ones(3)),
     r"batch_norm: running_mean must have shape \(2,\) .*got \(3,\)"),
    ("batch_norm one value per channel", lambda: F.batch_norm(Tensor(_x(1)), _vector(2), _vector(2), training=True),
     r"batch_norm in training needs more than one value per channel"),
    ("dropout mask", lambda: F.dropout(_map(), 0.5, training=True, mask=numpy.ones(3, bool)),
     r"dropout: the mask of shape \(3,\) does not match x of shape \(1, 1, 4, 4\)"),
    ("matmul shapes", lambda: Tensor(_x()) @ Tensor(_x()), r"matmul shapes \(4, 2\) and \(4, 2\) do not align"),
    ("item of many", lambda: Tensor(_x()).item(), r"item\(\) needs a tensor with one element, got shape \(4, 2\)"),
    ("loss shapes", lambda: losses.MSELoss()(Tensor(_x()), numpy.zeros(4, numpy.float32)),
     r"MSELoss: prediction shape \(4, 2\) and target shape \(4,\) differ"),
    ("cross-entropy shapes", lambda: losses.CrossEntropyLoss()(Tensor(_x()), numpy.zeros((4, 3), numpy.float32)),
     r"CrossEntropyLoss: needs logits of shape \(N, C\) and targets"),
    ("LeNet input size", lambda: models.LeNet(input_size=28)(_map(size=8)),
     r"LeNet\(input_size=28\) expects input of shape \(N, C, 28, 28\), got \(1, 1, 8, 8\)"),
    ("RBM input", lambda: RBM(3, 2).p_h_given_v(_x()), r"RBM.p_h_given_v of n_visible=3.* expects a \(N, 3\) input"),
]


@pytest.mark.parametrize("call, error, match", [case[1:] for case in BAD], ids=[case[0] for case in BAD])
def test_a_bad_argument_is_refused_in_one_line_naming_the_owner_and_the_argument(call, error, match):
    with pytest.raises(error, match=match) as caught:
        call()
    assert isinstance(caught.value, dlcore.UserError)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("call, match", [case[1:] for case in SHAPES], ids=[case[0] for case in SHAPES])
def test_an_input_of_the_wrong_shape_is_a_one_line_shape_error(call, match):
    with pytest.raises(ValueError, match=match) as caught:
        call()
    assert isinstance(caught.value, checks.ShapeError) and isinstance(caught.value, dlcore.UserError)
    assert "\n" not in str(caught.value)


def test_numpy_errors_inside_an_op_come_back_as_a_plain_type_error_naming_the_op():
    """A setting nothing checked (a string slope given to the Function itself, past F.leaky_relu's check)
    fails inside NumPy with a UFuncTypeError; it is re-raised as a TypeError that starts with the op's name."""
    with pytest.raises(TypeError, match=r"^LeakyReLU: .*\(inputs: \(2,\) float32\)") as caught:
        LeakyReLUFunction("a")(Tensor(numpy.ones(2, numpy.float32)))
    assert type(caught.value) is TypeError


def test_good_arguments_still_work_numpy_scalars_included():
    i64, i32 = numpy.int64, numpy.int32
    layer = nn.Linear(i64(2), i32(3), bias=numpy.bool_(True))
    assert (layer.in_features, layer.out_features) == (2, 3) and type(layer.in_features) is int
    assert layer.weight.shape == (2, 3) and layer.bias is not None
    conv = nn.Conv2d(i64(1), 2, (i64(3), 3), stride=[1, 2], padding=i64(1), padding_mode="edge")
    assert conv.geometry.kernel == (3, 3) and conv.geometry.stride == (1, 2) and conv.weight.shape == (2, 1, 3, 3)
    deconv = nn.ConvTranspose2d(2, 1, 2, stride=2, output_padding=i64(1))
    assert deconv.output_padding == (1, 1) and deconv.weight.shape == (2, 1, 2, 2)
    assert nn.MaxPool2d(i64(2)).geometry.stride == (2, 2) and nn.AvgPool2d((2, 3), stride=1).geometry.kernel == (2, 3)
    x = Tensor(numpy.ones((1, 1, 2, 2), numpy.float32))
    assert nn.Upsample2d(i64(2))(x).shape == (1, 1, 4, 4) and nn.Upsample2d((1, 3))(x).shape == (1, 1, 2, 6)
    assert nn.BatchNorm1d(i64(3), momentum=numpy.float32(0.5)).momentum == 0.5
    assert nn.Dropout(numpy.float32(0.25)).p == 0.25 and nn.Dropout(0).p == 0.0
    assert nn.LeakyReLU(numpy.float64(0.2)).alpha == 0.2 and nn.ELU(-1).alpha == -1.0
    assert nn.PReLU(i64(3), init=0).weight.shape == (3,)
    assert nn.Softmax(i64(1))(_logits()).shape == (2, 3)
    assert len(nn.Sequential(nn.Linear(2, 2), nn.ReLU())) == 2 and nn.Residual(nn.ReLU()).shortcut is None
    assert nn.Linear(2, 2).train(numpy.bool_(False)).training is False

    dlcore.manual_seed(i64(3))
    dlcore.manual_seed(0)
    loader = ArrayLoader(_x(4), _x(4), batch_size=i64(2), seed=i64(1), shuffle=numpy.bool_(False))
    assert len(loader) == 2 and type(loader.batch_size) is int
    assert metrics.confusion_matrix([0, 1], [0, 1], num_classes=i64(3)).shape == (3, 3)
    assert metrics.precision([0, 1], [0, 1], pos_label=i64(1)) == 1.0
    assert init.he([3, 2], fan_in=i64(4)).shape == (3, 2) and init.zeros(3).shape == (3,)
    assert init.ones(numpy.array([2, 1])).shape == (2, 1)
    assert init.he((0, 2)).shape == (0, 2)  # a zero-size weight: nothing drawn, no division by a zero fan
    assert init.zeros((2,), dtype=numpy.float64).dtype == numpy.float64

    loss = losses.CrossEntropyLoss()(_logits(), numpy.array([0, 2]))  # integer labels stay fine
    assert math.isclose(loss.item(), math.log(3), rel_tol=1e-6)
    assert losses.QuantileLoss(numpy.float32(0.25)).tau == 0.25 and losses.get("huber", delta=2).delta == 2.0
    p = _param()
    assert optim.SGD([p], lr=numpy.float32(0.5)).lr == 0.5
    mask = Tensor(numpy.array([True, False]))
    assert (F.mul(mask, Tensor(numpy.array([2.0, 3.0], numpy.float32)))).numpy().tolist() == [2.0, 0.0]
    assert dlcore.tensor([1, 2], dtype="float64").dtype == numpy.float64


def test_good_arguments_of_the_functional_layer_still_work_numpy_scalars_included():
    i64 = numpy.int64
    x = _map()
    assert F.conv2d(x, _kernel(), stride=i64(1), padding=(i64(1), 1), dilation=[1, 1]).shape == (1, 2, 4, 4)
    assert F.conv2d(x, _kernel(), _vector(2), stride=(1, 2), padding_mode="edge").shape == (1, 2, 2, 1)
    assert F.conv_transpose2d(x, _kernel(1, 2, 2), stride=i64(2), output_padding=i64(1)).shape == (1, 2, 9, 9)
    assert F.conv_transpose2d(x, _kernel(1, 2, 2), _vector(2), stride=[2, 1]).shape == (1, 2, 8, 5)
    assert F.max_pool2d(x, i64(2)).shape == (1, 1, 2, 2) and F.max_pool2d(x, (2, 1), stride=[1, i64(1)]).shape \
        == (1, 1, 3, 4)
    assert F.avg_pool2d(x, 2, stride=2, padding=i64(1)).shape == (1, 1, 3, 3)
    assert F.upsample2d(x, i64(2)).shape == (1, 1, 8, 8) and F.upsample2d(x, (i64(1), 3)).shape == (1, 1, 4, 12)
    assert F.upsample2d(x, [2, 1]).shape == (1, 1, 8, 4)
    assert F.global_avg_pool2d(x).shape == (1, 1) and F.global_max_pool2d(x).shape == (1, 1)

    assert F.dropout(x, numpy.float32(0.5), training=numpy.bool_(False)) is x and F.dropout(x, 0, training=True) is x
    kept = F.dropout(x, 0.5, training=True, mask=Tensor(numpy.ones((1, 1, 4, 4), bool)))
    assert numpy.array_equal(kept.numpy(), numpy.full((1, 1, 4, 4), 2.0, numpy.float32))
    minus = Tensor(-numpy.ones((2, 2), numpy.float32))
    slope = F.leaky_relu(minus, numpy.float64(0.25))  # a NumPy float64 slope does not make float32 float64
    assert slope.dtype == numpy.float32 and slope.numpy().tolist() == [[-0.25, -0.25]] * 2
    assert F.elu(minus, 1).dtype == numpy.float32 and F.swish(minus, numpy.float32(2.0)).shape == (2, 2)
    assert F.prelu(minus, numpy.full(1, 0.5, numpy.float32)).numpy().tolist() == [[-0.5, -0.5]] * 2
    assert F.softmax(_logits(), i64(1)).shape == (2, 3) and F.log_softmax(_logits(), -2).shape == (2, 3)
    assert F.linear(Tensor(_x()), _kernel(2, 3, 1).reshape(2, 3), _vector(3)).shape == (4, 3)
    assert _norm(momentum=numpy.float32(0.5), eps=1e-3, training=numpy.bool_(True)).shape == (4, 2)
    mean, var = numpy.zeros(2, numpy.float32), numpy.ones(2, numpy.float32)
    assert _norm(running_mean=mean, running_var=var, training=False).shape == (4, 2)

    for dtype in ("float64", numpy.float16, numpy.dtype("float32")):
        with dlcore.default_dtype(dtype):
            assert dlcore.get_default_dtype() == numpy.dtype(dtype)
    with dlcore.training_mode(numpy.bool_(False)):
        assert dlcore.is_training() is False
    assert xor(i64(4), noise=numpy.float32(0.0), seed=i64(1))[0].shape == (4, 2)
    assert spiral(i64(6), turns=numpy.float32(1.0), seed=2)[0].shape == (6, 2) and sine(3, seed=0)[0].shape == (3, 1)
