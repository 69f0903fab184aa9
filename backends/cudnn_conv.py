"""cuDNN convolutions on CuPy arrays through NVIDIA's cuDNN frontend (the ``cudnn`` package).

The three convolution products of a layer, each one cuDNN graph of a single node:

    fprop:  y[n, k, p, q]  = Σ_c Σ_rs x_pad[n, c, p·S + r·D, q·S + s·D] · w[k, c, r, s]
    dgrad:  dx = fpropᵀ(dy)            (the gradient with respect to the input)
    wgrad:  dw[k, c, r, s] = Σ_n Σ_pq dy[n, k, p, q] · x_pad[n, c, p·S + r·D, q·S + s·D]

A graph is built once per (operation, shapes, strides, geometry, TF32 switch) and cached; executing it
costs one frontend call on CuPy's current stream. Inputs may be NCHW- or NHWC-packed (cuDNN
reads the strides); outputs are written NCHW-contiguous. float32 only: the float64 convolutions
of gradient checks stay on the portable im2col path. Tensor-core (TF32) engines are excluded
unless ``backends.precision`` allows TF32, as PyTorch does with ``torch.backends.cudnn.allow_tf32 = False``.
``DLCORE_CUDNN_WORKSPACE_MB`` caps the scratch memory an engine may ask for (default 64; 0: no
cap). On the H100 the cap made the CNN benchmark both faster and smaller: without it cuDNN's
heuristics picked a weight-gradient engine with a 560 MiB workspace that ran slower than the
capped choice. All plans share one workspace buffer, the largest any of them needs; a CUDA graph
that captured a plan keeps the buffer it captured alive (``backends.capture.keep_alive``), since a
larger one may replace it while the graph still writes there. Operands that do not start on a
16-byte boundary, which the frontend's tensors assume, are copied first.

``cudnn`` is an optional dependency (``pip install -e '.[cudnn]'`` in the source tree); without it, or with
``DLCORE_CUDNN=0``, convolutions run as im2col + cuBLAS GEMM.
"""
from __future__ import annotations

import os

from backends.base import element_strides
from backends.capture import keep_alive
from backends.precision import tf32_enabled


def _row_major_strides(shape) -> list[int]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return strides[::-1]


ALIGNMENT = 16  # bytes: the frontend's tensors are built for 16-byte aligned data


def packed(xp, a):
    """``a`` itself when its memory is packed NCHW or NHWC (cuDNN's layouts) and starts on a 16-byte
    boundary, else an NCHW copy (CuPy allocates on 512-byte boundaries). A C-contiguous view with an
    offset, such as a batch slice or a channel slice of an N = 1 map, may start anywhere."""
    aligned = a.data.ptr % ALIGNMENT == 0
    if aligned and (a.flags.c_contiguous or a.transpose(0, 2, 3, 1).flags.c_contiguous):
        return a
    return xp.array(a, order="C")  # a copy even where ascontiguousarray would return ``a`` itself


def contiguous(xp, w):
    """``w`` itself when C-contiguous and 16-byte aligned (filters go to cuDNN as KCRS), else a copy that is."""
    return w if w.flags.c_contiguous and w.data.ptr % ALIGNMENT == 0 else xp.array(w, order="C")


def workspace_limit_bytes() -> int:
    """``DLCORE_CUDNN_WORKSPACE_MB`` (default 64) in bytes; 0 means no cap."""
    text = os.environ.get("DLCORE_CUDNN_WORKSPACE_MB", "64")
    try:
        megabytes = float(text)
    except ValueError:
        megabytes = -1.0
    if megabytes < 0:
        raise ValueError(f"DLCORE_CUDNN_WORKSPACE_MB must be a number of MiB ≥ 0 (0: no cap), got {text!r}")
    return int(megabytes * 2**20)


class _Plan:
    """One built single-node cuDNN graph: its operands (a, b, out), workspace size and executor.

    Executes through the frontend's C++ graph with the plan the frontend built (about 10 µs of
    host time per call instead of about 35 µs through ``pygraph.execute``'s Python layers); if
    this frontend version lacks those internals, through the public ``execute``.
    """

    __slots__ = ("graph", "operands", "workspace_bytes", "_uids", "_native", "_native_index")

    def __init__(self, graph, operands, workspace_bytes: int):
        self.graph, self.operands, self.workspace_bytes = graph, operands, workspace_bytes
        self._uids = [t.uid for t in operands]
        try:
            self._native = graph._lowered_graph._execute_plan_at_index
            self._native_index = graph._plans[graph._plan_index].cpp_index
        except (AttributeError, IndexError):
            self._native = self._native_index = None
        if self._native_index is None:
            self._native = None

    def execute(self, pointers, workspace: int, handle) -> None:
        if self._native is not None:
            try:
                self._native(dict(zip(self._uids, pointers)), workspace, self._native_index, handle.backend_handle,
                             None, None, None)
                return
            except TypeError:  # this frontend's internals take other arguments: the public API from now on
                self._native = None
        self.graph.execute(dict(zip(self.operands, pointers)), workspace, handle=handle)


class CudnnConvolution:
    """Forward, input-gradient and weight-gradient convolutions on cuDNN (see the module docstring).

    ``plans`` caches the built graph of each (operation, shapes, strides, geometry, TF32 switch);
    ``workspace`` is the buffer they share, replaced by a larger one when a plan needs more.
    """

    def __init__(self, cupy, workspace_limit: int):
        import cudnn  # ImportError: the frontend is not installed

        self.cudnn, self.xp = cudnn, cupy
        self.handle = cudnn.create_handle()
        self.version = cudnn.backend_version_string()
        self.workspace_limit = workspace_limit  # bytes an engine may ask for; 0: no cap
        self.plans: dict = {}
        self.workspace = cupy.empty(0, cupy.uint8)  # one buffer for every plan, grown on demand

    @staticmethod
    def supports(dtype) -> bool:
        return dtype.name == "float32"

    def forward(self, x, w, padding, stride, dilation):
        """y = x ⋆ w for x (N, C, H, W), w (K, C, R, S): (N, K, P, Q), NCHW-contiguous."""
        x = packed(self.xp, x)
        w = contiguous(self.xp, w)
        n, _, h, wd = x.shape
        k, _, r, s = w.shape
        out = tuple((size + 2 * p - d * (kk - 1) - 1) // st + 1
                    for size, kk, p, st, d in zip((h, wd), (r, s), padding, stride, dilation))
        y = self.xp.empty((n, k, *out), x.dtype)
        self._run("fprop", x, w, y, padding, stride, dilation)
        return y

    def backward_data(self, gy, w, x_shape, padding, stride, dilation):
        """dx (N, C, H, W) from dy (N, K, P, Q) and w (K, C, R, S): the adjoint of ``forward`` in x."""
        gy = packed(self.xp, gy)
        gx = self.xp.empty(x_shape, gy.dtype)
        self._run("dgrad", gy, contiguous(self.xp, w), gx, padding, stride, dilation)
        return gx

    def backward_filter(self, x, gy, w_shape, padding, stride, dilation):
        """dw (K, C, R, S) = Σ over batch and output pixels of dy ⊗ the windows of x."""
        gw = self.xp.empty(w_shape, gy.dtype)
        self._run("wgrad", packed(self.xp, x), packed(self.xp, gy), gw, padding, stride, dilation)
        return gw

    def _run(self, op, a, b, out, padding, stride, dilation):
        tf32 = tf32_enabled()
        key = (op, a.shape, a.strides, b.shape, b.strides, out.shape, padding, stride, dilation, tf32)
        plan = self.plans.get(key)
        if plan is None:
            try:
                plan = self.build_plan(op, a, b, out, padding, stride, dilation, tf32)
            except Exception as error:  # the frontend raises its own types; say what was asked for
                raise RuntimeError(
                    f"cuDNN {self.version} has no {op} convolution plan for operands {a.shape} and {b.shape} "
                    f"(output {out.shape}, padding {padding}, stride {stride}, dilation {dilation}): {error}. "
                    f"DLCORE_CUDNN=0 runs convolutions as im2col + GEMM instead") from error
            self.plans[key] = plan
        if plan.workspace_bytes > self.workspace.size:
            self.workspace = self.xp.empty(plan.workspace_bytes, self.xp.uint8)
        keep_alive(self.workspace)  # a graph captured now writes there on every replay, even once it is replaced
        self.cudnn.set_stream(self.handle, self.xp.cuda.get_current_stream().ptr)
        plan.execute((a.data.ptr, b.data.ptr, out.data.ptr), self.workspace.data.ptr, self.handle)

    def build_plan(self, op, a, b, out, padding, stride, dilation, tf32: bool) -> _Plan:
        """The single-node cuDNN graph of ``op`` ("fprop", "dgrad" or "wgrad") for operands shaped and
        strided as ``a``, ``b`` and ``out``: the heuristics' engines within ``workspace_limit``, without
        tensor-core (TF32) math unless ``tf32``."""
        cudnn = self.cudnn
        f32 = cudnn.data_type.FLOAT
        graph = cudnn.pygraph(io_data_type=f32, intermediate_data_type=f32, compute_data_type=f32,
                              handle=self.handle)
        ta = graph.tensor(name="a", dim=list(a.shape), stride=element_strides(a), data_type=f32)
        tb = graph.tensor(name="b", dim=list(b.shape), stride=element_strides(b), data_type=f32)
        params = dict(padding=list(padding), stride=list(stride), dilation=list(dilation), compute_data_type=f32)
        if op == "fprop":
            tout = graph.conv_fprop(image=ta, weight=tb, **params)
        elif op == "dgrad":
            tout = graph.conv_dgrad(loss=ta, filter=tb, **params)
        else:
            tout = graph.conv_wgrad(image=ta, loss=tb, **params)
        tout.set_output(True).set_dim(list(out.shape)).set_stride(_row_major_strides(out.shape)).set_data_type(f32)
        graph.validate()
        graph.build_operation_graph()
        graph.create_execution_plans([cudnn.heur_mode.A, cudnn.heur_mode.FALLBACK])
        if self.workspace_limit:
            graph.deselect_workspace_greater_than(self.workspace_limit)
        if not tf32:
            graph.deselect_numeric_notes([cudnn.numerical_note.TENSOR_CORE, cudnn.numerical_note.DOWN_CONVERT_INPUTS])
        graph.check_support()
        graph.build_plans()
        return _Plan(graph, (ta, tb, tout), int(graph.get_workspace_size()))
