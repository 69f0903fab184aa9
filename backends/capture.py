"""Whether a CUDA graph is being captured (in this thread or task).

``dlcore.cuda_graph.CapturedStep`` sets it around the call it records. Work that a graph
cannot hold checks it and refuses with a message that says why, instead of failing inside
CuPy or being replayed wrong: a random draw (the generator's position would be fixed into
the graph) and Adam's update (its bias correction changes every step).
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager

_capturing = contextvars.ContextVar("dlcore_capturing", default=False)


def is_capturing() -> bool:
    """True while a CUDA graph is being captured."""
    return _capturing.get()


@contextmanager
def capturing():
    """``with capturing():`` is_capturing() is True inside the block."""
    token = _capturing.set(True)
    try:
        yield
    finally:
        _capturing.reset(token)
