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
capture (``Trainer(cuda_graph=True)`` captures again by itself). Adam, whose bias correction changes every step, refuses to be
captured, and so does a random draw (dropout): CuPy's generator refuses stream capture, and
a graph would repeat one mask on every replay. The GEMMs use dlcore's own cuBLAS binding
(``backends._cublas``), which works during capture where CuPy's does not.
"""
from __future__ import annotations

import backends
from backends.capture import capturing, is_capturing

__all__ = ["CapturedStep", "is_capturing"]


class CapturedStep:
    """``fn`` captured as a CUDA graph after ``warmup`` eager calls; calling this replays it.

    Returns what ``fn`` returned during capture (tensors whose arrays the graph rewrites on
    every replay). Needs the CuPy backend. ``restore`` lists modules and optimizers whose
    state the warm-up and capture calls must not change: their parameters, buffers and
    optimizer state are put back in place afterwards, so the first replay is the first step.

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
    """Copies of the state of modules (parameters, buffers) and optimizers (state arrays, step
    count); the returned function writes them back into the same arrays (the graph holds
    their addresses) and zeroes optimizer state created in between."""
    saved, optimizers = [], []
    for obj in objects:
        if hasattr(obj, "named_parameters"):
            saved += [(p.data, p.data.copy()) for p in obj.parameters()]
            saved += [(b, b.copy()) for _, b in obj.named_buffers()]
        else:
            existing = {id(a) for bufs in obj.state.values() for a in bufs.values()}
            saved += [(a, a.copy()) for bufs in obj.state.values() for a in bufs.values()]
            optimizers.append((obj, obj.t, existing))

    def put_back():
        for target, copy in saved:
            target[...] = copy
        for opt, t, existing in optimizers:
            opt.t = t
            for bufs in opt.state.values():
                for a in bufs.values():
                    if id(a) not in existing:
                        a.fill(0)
    return put_back
