"""Capture a whole training step as a CUDA graph once, then replay it with one launch.

For small, launch-bound models the host time of a step (Python, CuPy dispatch, kernel
launches) exceeds its GPU time; a replayed graph costs one launch. The captured function
must have fixed shapes, read its inputs from fixed device buffers, and do device work
only (no ``.item()``, no host transfers)::

    x_buf, t_buf = cupy.empty((128, 784), cupy.float32), cupy.empty(128, cupy.int64)

    def train_step():
        loss = loss_fn(model(Tensor(x_buf)), t_buf)
        opt.zero_grad(); loss.backward(); opt.step()
        return loss

    step = CapturedStep(train_step)   # warms up (eager), then captures
    for xb, tb in loader:
        x_buf[...] = xb; t_buf[...] = tb
        loss = step()                 # replays; ``loss`` is the same Tensor, refreshed

What the step allocates while it is captured comes from a memory pool private to the graph,
so the addresses the graph uses are never handed to other code. What outlives a step
(optimizer state, the backend's cached rows of ones, the cuDNN workspace) is made by a first
eager call from CuPy's own pool instead: before CuPy 14.1 a dropped pool frees its memory
even where arrays still point into it, and every recapture drops the old step and its pool.
A workspace the graph captured by address is kept alive as long as the step
(``backends.capture.keep_alive``).

Hyperparameters are read when the step is captured: a learning-rate change needs a new
capture. ``dlcore.training.GraphStep`` (what ``Trainer(cuda_graph=True)`` trains with) keeps
that bookkeeping, and refuses up front what cannot be replayed: an optimizer whose
``capture_refusal`` says why (Adam: its bias correction changes every step), and a model with
modules that draw random numbers (``Module.random_modules()``; dropout): CuPy's generator refuses
stream capture, and a graph would repeat one mask on every replay. Inside a capture both refuse
again (``Optimizer.step``, the backend's ``random``) for a step built by hand. The GEMMs use
dlcore's own cuBLAS binding, which works during capture where CuPy's does not.
"""
from __future__ import annotations

import backends
from backends.capture import capturing, is_capturing

__all__ = ["CapturedStep", "is_capturing"]


class CapturedStep:
    """``fn`` captured as a CUDA graph after ``warmup`` eager calls; calling this replays it.

    Returns what ``fn`` returned during capture (tensors whose arrays the graph rewrites on
    every replay). Needs the CuPy backend. ``restore`` lists modules and optimizers whose
    state the warm-up and capture calls must not change: their parameters and buffers, and
    the optimizers' state (``Optimizer.snapshot``), are put back in place afterwards, so the
    first replay is the first step.

    The first warm-up call runs on the current stream from CuPy's own pool and makes what
    outlives the step; the others (at least one) run on the capture stream from the graph's
    pool and fill it. The capture stream first waits for the work queued on the current stream
    (a non-blocking stream is not ordered after the legacy default stream by itself).
    """

    def __init__(self, fn, warmup: int = 2, restore=()):
        backend = backends.current()
        if backend.name != "cupy":
            raise RuntimeError(f"CUDA graph capture needs the cupy backend; the active backend is {backend.name!r}")
        cupy = backend.xp
        put_back = _snapshot(restore)
        fn()  # optimizer state, cached ones rows, workspaces: made here, outside the graph's pool
        self.pool = cupy.cuda.MemoryPool()
        self.kept_alive = []  # what the graph uses by address and must outlive any other owner
        stream = cupy.cuda.Stream(non_blocking=True)
        stream.wait_event(cupy.cuda.get_current_stream().record())
        with cupy.cuda.using_allocator(self.pool.malloc), stream:
            for _ in range(max(1, warmup - 1)):  # compiles kernels, fills the pool
                fn()
            stream.synchronize()
            with capturing(self.kept_alive):
                stream.begin_capture()
                try:
                    self.result = fn()
                finally:
                    graph = stream.end_capture()
        put_back()
        self.graph = graph
        self._cupy = cupy

    def __call__(self):
        """Replay the step on the current stream (ordered after any copies into the input buffers)."""
        self.graph.launch(self._cupy.cuda.get_current_stream())
        return self.result


def _snapshot(objects):
    """A function that writes back the state ``objects`` have now: a module's parameters and buffers
    into the same arrays (the graph holds their addresses); an optimizer by its own ``snapshot()``."""
    saved, restores = [], []
    for obj in objects:
        if hasattr(obj, "named_parameters"):
            saved += [(p.data, p.data.copy()) for p in obj.parameters()]
            saved += [(b, b.copy()) for _, b in obj.named_buffers()]
        else:
            restores.append(obj.snapshot())

    def put_back():
        for target, copy in saved:
            target[...] = copy
        for restore in restores:
            restore()
    return put_back
