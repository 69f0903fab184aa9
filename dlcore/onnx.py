"""Export a model to ONNX: ``dlcore.onnx.export(model, "model.onnx", example=x)``.

The model is run once on ``example`` in eval mode and the operations it records (the autograd
graph of ``dlcore.core.Function`` calls) are written as ONNX nodes, opset ``OPSET``, with the
parameters and BatchNorm statistics as initializers under their ``state_dict`` names. So any
model whose forward is made of the supported operations exports, whatever Python its forward
runs: Sequential stacks, the library's models (MLP, Perceptron, LeNet, AlexNetSmall, ResNet,
UNet, the autoencoders) and user modules alike. Operation → ONNX node:

    Linear               y = x @ W + b            MatMul(x, W) + Add(b)     (W stays (in, out))
    Conv2d               zero / edge padding      Conv / Pad(mode="edge") + Conv    (groups=1; 'same': odd kernels)
    ConvTranspose2d      output_padding           ConvTranspose
    MaxPool2d, AvgPool2d ceil_mode, count_include_pad  MaxPool, AveragePool with the same options
    GlobalAvg/MaxPool2d  → (N, C)                 GlobalAveragePool / GlobalMaxPool + Reshape
    Upsample2d (nearest) y[h, w] = x[⌊h/s⌋, ⌊w/s⌋] Resize(nearest, asymmetric, floor)
    BatchNorm1d/2d       (eval: running stats)     BatchNormalization
    Flatten, reshape     batch axis kept dynamic   Reshape(shape = [0, …])
    Residual, +, −, ×, ÷, concat, transpose, matmul, exp, log, abs, sum/mean/max, astype
    ReLU, Sigmoid, Tanh, Softplus, LeakyReLU, ELU, PReLU, Softmax, LogSoftmax: the ONNX op of that name
    Swish                x·σ(βx)                  Mul(x, Sigmoid(Mul(x, β)))
    Step                 1 if x > 0 else 0         Cast(Greater(x, 0))
    Dropout              identity in eval          nothing

The batch axis (axis 0) of the input, and of every output whose axis 0 is the example's batch
size, is the symbolic dimension "batch": the file runs on any batch size; the other axes are
the example's. The ``onnx`` package (``pip install -e ".[onnx]"`` in the dlcore source tree) is
imported only when ``export`` runs, never by ``import dlcore``.
"""
from __future__ import annotations

from importlib import metadata
from pathlib import Path

import numpy

import backends
from backends import UserError
from dlcore import modes
from dlcore.core import Function, Tensor
from dlcore.ops import activation as A
from dlcore.ops import conv as C
from dlcore.ops import linear as L
from dlcore.ops import math as M
from dlcore.ops import normalization as N
from dlcore.ops import pooling as P
from dlcore.io import atomic_write
from dlcore.nn import Module

#: the ONNX operator set the files use (ONNX 1.12 and later, onnxruntime 1.12 and later read it)
OPSET = 17
#: the IR version written: that of ONNX 1.12, the first with opset 17, so older runtimes open the files
IR_VERSION = 8
#: the layers whose operations export (their Functions are the keys of _HANDLERS)
SUPPORTED_LAYERS = ("Sequential", "Linear", "Conv2d (zero or edge padding, groups=1, 'same' with odd kernels)",
                    "ConvTranspose2d", "MaxPool2d", "AvgPool2d", "GlobalAvgPool2d", "GlobalMaxPool2d",
                    "Upsample2d (nearest)", "BatchNorm1d", "BatchNorm2d",
                    "Flatten", "Dropout", "Residual", "Identity", "Step", "Sigmoid", "Tanh", "Softplus", "ReLU",
                    "LeakyReLU", "PReLU", "ELU", "Softmax", "Swish", "functional.concat")

INSTALL = 'pip install -e ".[onnx]"'


class ExportError(UserError, ValueError):
    """The model cannot be written as ONNX: an operation without a mapping, or a bad argument."""


def _onnx():
    """The ``onnx`` module, or a one-line UserError saying how to install it."""
    try:
        import onnx
        from onnx import helper, numpy_helper  # noqa: F401 (submodules used by _Graph)
    except ImportError as error:
        raise UserError(f"dlcore.onnx.export needs the onnx package ({error}); in the dlcore source tree run: "
                        f"{INSTALL}") from None
    return onnx


def export(model: Module, path, example, input_name: str = "input", output_name: str = "output",
           dynamic_batch: bool = True) -> Path:
    """Write ``model`` as an ONNX file at ``path`` (atomically; missing folders are made); returns the path.

    ``example``: one input batch (a Tensor or an array, e.g. ``x[:2]``), on which the model is run
    once in eval mode to record its operations (BatchNorm uses its running statistics, Dropout is
    the identity); each module's train/eval flag is restored afterwards. The graph has one input
    ``input_name`` shaped like ``example`` and one output ``output_name`` per tensor the forward
    returns (``output``, ``output_1``, … for a tuple), float32 when the model is. With
    ``dynamic_batch`` axis 0 of the input (and of the outputs that share it) is named "batch";
    the other sizes are the example's, fixed. The file is checked with ``onnx.checker`` (with
    shape inference) before it is written.

    Onnxruntime reproduces the model's eval output, ``numpy.allclose(session.run(None,
    {"input": x})[0], model(Tensor(x)).numpy(), atol=1e-5)`` in float32 (see tests/test_onnx.py).
    An operation with no ONNX mapping raises ExportError naming it, the layer that computed it
    and the layers that export (SUPPORTED_LAYERS); so does an output that does not depend on the
    input. Only what the forward records is exported: a value it takes out of the graph
    (``Tensor(x.data)``, ``.numpy()``, a ``no_grad`` block) is written as the constant it was for
    ``example``. Without the onnx package a UserError names the command that installs it.
    """
    onnx = _onnx()
    if not isinstance(model, Module):
        raise ExportError(f"dlcore.onnx.export: model must be a dlcore.nn.Module, got {type(model).__name__}")
    x = _example(model, example)
    outputs, owners = _trace(model, x)
    graph = _Graph(onnx, model, x, owners)
    names = graph.build(outputs, input_name, output_name, dynamic_batch)
    proto = onnx.helper.make_model(
        onnx.helper.make_graph(graph.nodes, type(model).__name__, [graph.value_info(input_name, x, dynamic_batch)],
                               [graph.value_info(n, y, dynamic_batch, x.shape[0]) for n, y in zip(names, outputs)],
                               graph.initializers),
        opset_imports=[onnx.helper.make_opsetid("", OPSET)], producer_name="dlcore", producer_version=_version())
    proto.ir_version = IR_VERSION
    onnx.checker.check_model(proto, full_check=True)
    path = Path(path)
    with atomic_write(path, "wb") as f:
        f.write(proto.SerializeToString())
    return path


def _version() -> str:
    """dlcore's installed version, for the file's producer_version ("" when run from an uninstalled tree)."""
    try:
        return metadata.version("dlcore")
    except metadata.PackageNotFoundError:
        return ""


def _example(model: Module, example) -> Tensor:
    """``example`` as a floating Tensor that requires a gradient (so every operation on it is
    recorded), on the device of the model's parameters."""
    data = example.data if isinstance(example, Tensor) else example
    if not hasattr(data, "shape") or not hasattr(data, "dtype"):
        raise ExportError(f"dlcore.onnx.export: example must be a Tensor or an array (one input batch), "
                          f"got {type(example).__name__}")
    if data.dtype.kind != "f" or data.ndim == 0:
        raise ExportError(f"dlcore.onnx.export: example must be a floating batch (N, …), got dtype {data.dtype} "
                          f"and shape {tuple(data.shape)}")
    first = next(iter(model.parameters()), None)
    if first is not None:
        data = backends.to_device(data, backends.backend_of(first.data).name)
    return Tensor(data, requires_grad=True)


def _tensors(values) -> list[Tensor]:
    """The Tensors among ``values`` (a Tensor, or a tuple/list/dict of them and other things)."""
    if isinstance(values, Tensor):
        return [values]
    if isinstance(values, dict):
        values = list(values.values())
    if isinstance(values, (tuple, list)):
        return [t for v in values for t in _tensors(v)]
    return []


def _trace(model: Module, x: Tensor):
    """(output tensors, {id(Function): (dotted module name, module)}) of one eval-mode forward on x.

    Each module's ``forward`` is wrapped for the call: when it returns, the Functions between its
    inputs and its outputs that no inner module claimed are its own. Modes and forwards are put back.
    """
    was_training = [(m, m.training) for m in model.modules()]
    owners: dict[int, tuple[str, Module]] = {}
    wrapped = []

    def wrap(name: str, module: Module):
        original = module.forward

        def forward(*args, **kwargs):
            y = original(*args, **kwargs)
            stops = {id(t) for t in _tensors(args) + _tensors(kwargs)}
            for fn in _functions(_tensors(y), stops):
                owners.setdefault(id(fn), (name, module))
            return y

        wrapped.append((module, module.__dict__.get("forward")))
        object.__setattr__(module, "forward", forward)

    try:
        seen = set()
        for name, module in model.named_modules():
            if id(module) not in seen:  # a module registered under two names is wrapped once
                seen.add(id(module))
                wrap(name, module)
        model.eval()
        with modes.enable_grad():
            y = model(x)
    finally:
        for module, previous in reversed(wrapped):
            if previous is None:
                del module.__dict__["forward"]
            else:
                object.__setattr__(module, "forward", previous)
        for module, mode in was_training:
            object.__setattr__(module, "training", mode)
    outputs = _tensors(y)
    if not outputs or (not isinstance(y, Tensor) and len(outputs) != len(y)):
        raise ExportError(f"dlcore.onnx.export: the model must return a Tensor or a tuple of Tensors, "
                          f"got {type(y).__name__}")
    return outputs, owners


def _functions(outputs, stops=frozenset()) -> list[Function]:
    """The recorded Functions that ``outputs`` depend on, each after the Functions making its inputs
    (a depth-first post-order); the walk does not go past the tensors whose ids are in ``stops``."""
    order, seen = [], set()
    stack = [(t.creator, False) for t in reversed(outputs) if t.creator is not None and id(t) not in stops]
    while stack:
        fn, done = stack.pop()
        if done:
            order.append(fn)
            continue
        if id(fn) in seen:
            continue
        seen.add(id(fn))
        stack.append((fn, True))
        for t in reversed(fn.inputs):
            if isinstance(t, Tensor) and t.creator is not None and id(t) not in stops and id(t.creator) not in seen:
                stack.append((t.creator, False))
    return order


class _Graph:
    """The ONNX nodes and initializers of a traced forward, built one Function at a time."""

    def __init__(self, onnx, model: Module, x: Tensor, owners: dict):
        self.onnx, self.helper, self.x, self.owners = onnx, onnx.helper, x, owners
        self.nodes, self.initializers = [], []
        self.names: dict[int, str] = {}  # id(Tensor or array) → value name
        self.parameters = {id(p): name for name, p in model.named_parameters()}
        self.buffers = {id(b): name for name, b in model.named_buffers()}
        self.used: set[str] = set()
        self.keep = []  # the arrays named by id: kept alive so that no id is reused meanwhile
        self.owner = ""

    # ---- names and values ----------------------------------------------------------------
    def fresh(self, stem: str) -> str:
        stem = stem or "value"
        name, k = stem, 1
        while name in self.used:
            name, k = f"{stem}_{k}", k + 1
        self.used.add(name)
        return name

    def constant(self, array, stem: str = "const") -> str:
        """An initializer holding ``array`` (a host copy), under a fresh name built from ``stem``."""
        name = self.fresh(stem)
        host = numpy.ascontiguousarray(backends.to_numpy(array))
        self.initializers.append(self.onnx.numpy_helper.from_array(host, name))
        return name

    def value(self, v, dtype) -> str:
        """The name of input ``v`` of a Function: the graph input, a value made by a node, a parameter
        or buffer (an initializer named as in state_dict), or a constant (scalars in ``dtype``)."""
        if isinstance(v, Tensor):
            if id(v) in self.names:
                return self.names[id(v)]
            if v.creator is not None:
                raise ExportError("dlcore.onnx.export: internal error, a value is used before it is made")
            array, stem = v.data, self.parameters.get(id(v), "const")
        elif hasattr(v, "shape") and hasattr(v, "dtype"):
            if id(v) in self.names:
                return self.names[id(v)]
            array, stem = v, self.buffers.get(id(v), "const")
        else:
            return self.constant(numpy.asarray(v, dtype=dtype))
        name = self.names[id(v)] = self.constant(array, stem)
        self.keep.append(v)
        return name

    def node(self, op: str, inputs, outputs=None, **attributes) -> str:
        """Append node ``op``; returns its (first) output's name, fresh unless given."""
        out = outputs or [self.fresh(f"{self.owner}.{op}" if self.owner else op)]
        self.nodes.append(self.helper.make_node(op, list(inputs), out, name=self.fresh(f"{self.owner}/{op}"),
                                                **attributes))
        return out[0]

    def value_info(self, name: str, t: Tensor, dynamic: bool, batch: int | None = None):
        """The typed, shaped graph input/output ``name`` of t: axis 0 "batch" when dynamic (and, for
        an output, when its axis 0 is the example's batch size ``batch``)."""
        dims = list(t.shape)
        if dynamic and dims and (batch is None or dims[0] == batch):
            dims[0] = "batch"
        return self.helper.make_tensor_value_info(name, self.helper.np_dtype_to_tensor_dtype(t.dtype), dims)

    # ---- the graph -----------------------------------------------------------------------
    def build(self, outputs, input_name: str, output_name: str, dynamic: bool) -> list[str]:
        """Nodes for every Function ``outputs`` depend on; returns the graph's output names."""
        self.names[id(self.x)] = input_name
        self.used.add(input_name)
        final = [output_name if i == 0 else f"{output_name}_{i}" for i in range(len(outputs))]
        self.used.update(final)
        self.dynamic = dynamic
        for fn in _functions(outputs):
            owner = self.owners.get(id(fn))
            self.owner = owner[0] if owner else ""
            handler = _HANDLERS.get(type(fn))
            if handler is None:
                raise _unsupported(fn, owner)
            dtype = _output_dtype(fn)
            ins = [None if v is None else self.value(v, dtype) for v in fn.inputs]
            results = handler(self, fn, ins)
            for ref, name in zip(fn.outputs, results if isinstance(results, list) else [results]):
                y = ref()
                if y is not None:
                    self.names[id(y)] = name
        self.owner = ""
        for t, name in zip(outputs, final):  # also right for an output that is the input, a parameter, or repeated
            self.node("Identity", [self.value(t, t.dtype)], [name])
        depends = {input_name}  # the values computed from the input, node by node (nodes are in order)
        for n in self.nodes:
            if depends.intersection(n.input):
                depends.update(n.output)
        constant = [name for name in final if name not in depends]
        if constant:
            which = "the output" if len(final) == 1 else f"output {', '.join(map(repr, constant))}"
            raise ExportError(f"dlcore.onnx.export: {which} does not depend on the input: the forward leaves the "
                              f"recorded graph (a no_grad block, Tensor(x.data), a NumPy round trip), so the file "
                              f"would return the example's result for every input")
        return final


def _output_dtype(fn: Function):
    ys = [ref() for ref in fn.outputs]
    return next((y.dtype for y in ys if y is not None), numpy.dtype("float32"))


def _output(fn: Function) -> Tensor:
    y = fn.outputs[0]()
    if y is None:
        raise ExportError(f"dlcore.onnx.export: internal error, the output of {fn.name} is gone")
    return y


def _unsupported(fn: Function, owner) -> ExportError:
    where = f"layer {owner[0] or '(the model itself)'!r} ({type(owner[1]).__name__})" if owner else "the model"
    ops = ", ".join(sorted({f.__name__ for f in _HANDLERS}))
    return ExportError(f"dlcore.onnx.export: {where} computes {fn.name}, which has no ONNX mapping. "
                       f"Layers that export: {', '.join(SUPPORTED_LAYERS)}; operations: {ops}")


# ---- one handler per Function: (graph, fn, input names) → output name(s) -----------------------

def _pads(padding) -> list[int]:
    """ONNX pads [top, left, bottom, right] for a symmetric (h, w) padding."""
    ph, pw = padding
    return [ph, pw, ph, pw]


def _linear(g: _Graph, fn, ins):
    y = g.node("MatMul", ins[:2])
    return g.node("Add", [y, ins[2]]) if len(ins) > 2 and ins[2] is not None else y


def _conv(g: _Graph, fn, ins):
    geo, x = fn.geometry, ins[0]
    padding = geo.padding
    if geo.padding_mode == "edge" and any(padding):
        (ph, pw), padding = padding, (0, 0)
        x = g.node("Pad", [x, g.constant(numpy.array([0, 0, ph, pw, 0, 0, ph, pw], numpy.int64), "pads")],
                   mode="edge")
    return g.node("Conv", [x, *(n for n in ins[1:] if n is not None)], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), dilations=list(geo.dilation), pads=_pads(padding))


def _conv_transpose(g: _Graph, fn, ins):
    geo = fn.geometry
    return g.node("ConvTranspose", [n for n in ins if n is not None], kernel_shape=list(geo.kernel),
                  strides=list(geo.stride), dilations=list(geo.dilation), pads=_pads(geo.padding),
                  output_padding=list(fn.output_padding))


def _pool(op: str, global_op: str, **extra):
    def handler(g: _Graph, fn, ins):
        geo = fn.geometry
        if fn.who in ("global_avg_pool2d", "global_max_pool2d"):
            return g.node(global_op, ins)
        options = dict(extra, ceil_mode=int(fn.ceil_mode))
        if fn.ceil_mode:  # ONNX rounds up without PyTorch's rule that drops a last window starting in the padding
            sizes = fn.inputs[0].shape[2:]
            onnx_sizes = tuple(-(-(n + 2 * p - k) // s) + 1
                               for n, k, s, p in zip(sizes, geo.kernel, geo.stride, geo.padding))
            if onnx_sizes != tuple(_output(fn).shape[2:]):
                raise ExportError(f"dlcore.onnx.export: {fn.who} with ceil_mode on a {sizes[0]}×{sizes[1]} input "
                                  f"drops a last window that would start in the padding, which ONNX's ceil_mode "
                                  f"keeps; export it with ceil_mode=False or an input size where they agree")
        if "count_include_pad" in extra:
            options["count_include_pad"] = int(fn.count_include_pad)
        return g.node(op, ins, kernel_shape=list(geo.kernel), strides=list(geo.stride), pads=_pads(geo.padding),
                      **options)
    return handler


def _upsample(g: _Graph, fn, ins):
    sh, sw = fn.scale
    scales = g.constant(numpy.array([1, 1, sh, sw], numpy.float32), "scales")
    return g.node("Resize", [ins[0], "", scales], mode="nearest", coordinate_transformation_mode="asymmetric",
                  nearest_mode="floor")


def _batch_norm(g: _Graph, fn, ins):
    if fn.training:
        raise ExportError("dlcore.onnx.export: a batch_norm call in training mode (batch statistics, or no "
                          "running statistics given); only eval-mode BatchNorm exports")
    dtype = _output_dtype(fn)
    stats = [g.value(fn.running_mean, dtype), g.value(fn.running_var, dtype)]
    return g.node("BatchNormalization", [*ins, *stats], epsilon=float(fn.eps))


def _reshape(g: _Graph, fn, ins):
    x, y = fn.inputs[0], _output(fn)
    shape = list(y.shape)
    if g.dynamic and shape and x.shape and shape[0] == x.shape[0]:
        shape[0] = 0  # ONNX Reshape: 0 copies the input's size, so the batch stays dynamic
    return g.node("Reshape", [ins[0], g.constant(numpy.array(shape, numpy.int64), "shape")])


def _prelu(g: _Graph, fn, ins):
    x, a = fn.inputs
    slope = ins[1]
    if a.size != 1 and x.ndim > 2:  # one slope per channel (axis 1): (C, 1, …, 1) broadcasts against (N, C, …)
        shape = numpy.array([a.size] + [1] * (x.ndim - 2), numpy.int64)
        slope = g.node("Reshape", [slope, g.constant(shape, "shape")])
    return g.node("PRelu", [ins[0], slope])


def _swish(g: _Graph, fn, ins):
    dtype = _output_dtype(fn)
    z = ins[0] if fn.beta == 1 else g.node("Mul", [ins[0], g.constant(numpy.array(fn.beta, dtype), "beta")])
    return g.node("Mul", [ins[0], g.node("Sigmoid", [z])])


def _step(g: _Graph, fn, ins):
    dtype = _output_dtype(fn)
    positive = g.node("Greater", [ins[0], g.constant(numpy.array(0, dtype), "zero")])
    return g.node("Cast", [positive], to=g.helper.np_dtype_to_tensor_dtype(dtype))


def _reduce(op: str, axes_as_input: bool):
    def handler(g: _Graph, fn, ins):
        x = fn.inputs[0]
        axes = list(range(x.ndim)) if fn.axis is None else (
            [fn.axis] if isinstance(fn.axis, int) else list(fn.axis))
        keep = int(bool(fn.keepdims))
        if axes_as_input:  # ReduceSum takes its axes as an input from opset 13
            return g.node(op, [ins[0], g.constant(numpy.array(axes, numpy.int64), "axes")], keepdims=keep)
        return g.node(op, ins, axes=axes, keepdims=keep)
    return handler


def _transpose(g: _Graph, fn, ins):
    perm = list(fn.axes) if fn.axes is not None else list(reversed(range(fn.inputs[0].ndim)))
    return g.node("Transpose", ins, perm=perm)


def _simple(op: str, **attributes_of):
    """A handler writing ``op`` on the inputs, with attributes read from the Function (name → getter)."""
    def handler(g: _Graph, fn, ins):
        return g.node(op, [n for n in ins if n is not None], **{k: get(fn) for k, get in attributes_of.items()})
    return handler


_HANDLERS = {
    L.LinearFunction: _linear,
    C.Conv2dFunction: _conv,
    C.ConvTranspose2dFunction: _conv_transpose,
    P.MaxPool2dFunction: _pool("MaxPool", "GlobalMaxPool"),
    P.AvgPool2dFunction: _pool("AveragePool", "GlobalAveragePool", count_include_pad=1),
    P.Upsample2dFunction: _upsample,
    N.BatchNorm: _batch_norm,
    A.ReLUFunction: _simple("Relu"),
    A.SigmoidFunction: _simple("Sigmoid"),
    A.TanhFunction: _simple("Tanh"),
    A.SoftplusFunction: _simple("Softplus"),
    A.LeakyReLUFunction: _simple("LeakyRelu", alpha=lambda fn: float(fn.alpha)),
    A.ELUFunction: _simple("Elu", alpha=lambda fn: float(fn.alpha)),
    A.PReLUFunction: _prelu,
    A.SwishFunction: _swish,
    A.StepFunction: _step,
    A.SoftmaxFunction: _simple("Softmax", axis=lambda fn: int(fn.axis)),
    A.LogSoftmax: _simple("LogSoftmax", axis=lambda fn: int(fn.axis)),
    M.Add: _simple("Add"),
    M.Sub: _simple("Sub"),
    M.Mul: _simple("Mul"),
    M.Div: _simple("Div"),
    M.Pow: _simple("Pow"),
    M.Neg: _simple("Neg"),
    M.MatMul: _simple("MatMul"),
    M.Exp: _simple("Exp"),
    M.Log: _simple("Log"),
    M.Abs: _simple("Abs"),
    M.Reshape: _reshape,
    M.Transpose: _transpose,
    M.Concat: _simple("Concat", axis=lambda fn: int(fn.axis)),
    M.Sum: _reduce("ReduceSum", axes_as_input=True),
    M.Mean: _reduce("ReduceMean", axes_as_input=False),
    M.Max: _reduce("ReduceMax", axes_as_input=False),
    M.AsType: lambda g, fn, ins: g.node("Cast", ins, to=g.helper.np_dtype_to_tensor_dtype(numpy.dtype(fn.dtype))),
}


def run(path, x) -> numpy.ndarray:
    """The first output of the ONNX file ``path`` on the batch ``x`` (an array or Tensor), computed by
    onnxruntime on the CPU: a check that an exported file reproduces the model. Needs onnxruntime
    (``pip install -e ".[onnx]"``)."""
    try:
        import onnxruntime
    except ImportError as error:
        raise UserError(f"dlcore.onnx.run needs onnxruntime ({error}); in the dlcore source tree run: "
                        f"{INSTALL}") from None
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    data = backends.to_numpy(x.data if isinstance(x, Tensor) else x)
    return session.run(None, {session.get_inputs()[0].name: numpy.ascontiguousarray(data)})[0]

