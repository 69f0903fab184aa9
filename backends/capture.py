"""Whether a CUDA graph is being captured (in this thread or task), and what it must keep alive.

``dlcore.cuda_graph.CapturedStep`` sets it around the call it records. Work that a graph
cannot hold checks it and refuses with a message that says why, instead of failing inside
CuPy or being replayed wrong: a random draw (the generator's position would be fixed into
the graph) and Adam's update (its bias correction changes every step). Memory that a graph
uses by address but that another owner may let go of (the cuDNN workspace, replaced when a
larger one is needed) is handed to ``keep_alive``: the graph holds it as long as it lives.
"""
from __future__ import annotations

import contextvars
from contextlib import contextmanager

_held = contextvars.ContextVar("dlcore_capture_keeps_alive", default=None)  # the list of the graph being captured


def is_capturing() -> bool:
    """True while a CUDA graph is being captured."""
    return _held.get() is not None


def keep_alive(array) -> None:
    """While a graph is captured, make it hold ``array`` (whose address it records) as long as it lives."""
    held = _held.get()
    if held is not None:
        held.append(array)


@contextmanager
def capturing(held: list):
    """``with capturing(held):`` is_capturing() is True inside the block; ``keep_alive`` appends to ``held``."""
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
