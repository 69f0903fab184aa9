"""Whether CPU kernels compiled with Numba run: one pass over memory where NumPy makes several.

Numba is an optional dependency (``pip install -e '.[cpu]'``; ``make`` installs it). An op with
compiled CPU kernels keeps them in a module of its own that imports numba at its top and is
imported only when ``available()`` says so; the op's portable ``xp`` body stays, runs
wherever Numba is absent or switched off, and is what the tests compare the kernels with.

``DLCORE_COMPILED=0`` in the environment (or ``COMPILED.set(False)``, or ``with
COMPILED.scoped(False):``) keeps every op on its portable body.
"""
from __future__ import annotations

import functools
import importlib.util

from backends.base import Switch

COMPILED = Switch("DLCORE_COMPILED", True)


@functools.cache
def numba_installed() -> bool:
    """True when the numba package can be imported (found without importing it)."""
    return importlib.util.find_spec("numba") is not None


def available() -> bool:
    """True when compiled CPU kernels run: Numba is installed and ``COMPILED`` is on."""
    return COMPILED.on and numba_installed()


def runs_on(xp) -> bool:
    """True when compiled CPU kernels run on the arrays of the array module ``xp`` (NumPy's)."""
    return xp.__name__ == "numpy" and available()
