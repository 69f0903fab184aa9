"""Every public class and function of nn, losses, optim, data, training and io has an example, and it runs.

Public names: a module's ``__all__`` when it has one, else the names not starting with "_" bound to
classes or functions defined in that module (``__module__`` is the module), imports excluded. Of
these, the ones that carry a docstring of their own are checked: classes, functions and modules
(``nn.activations``); plain data such as the ``LOSSES`` dict has none and is left out.

An example is a doctest block: a line of the object's own docstring (``__doc__``, not one inherited)
that starts, after indentation, with ``>>> ``. For a class it is in the class docstring; for a name
re-exported from a submodule it is in the docstring where the object is defined.

Each example then runs as a doctest (its own docstring only, not its methods'), on the NumPy backend
with seed 0 (the conftest fixture), in a temporary working directory, with ELLIPSIS and
NORMALIZE_WHITESPACE, NumPy printing 4 digits (suppressed scientific notation), and these names
already imported, as the examples assume::

    import numpy as np
    import dlcore
    from dlcore import nn, losses, optim, data, training
    import dlcore.io
"""
from __future__ import annotations

import doctest
import importlib
import inspect
import re

import numpy
import pytest

import dlcore

MODULES = ["dlcore.nn", "dlcore.losses", "dlcore.optim", "dlcore.data", "dlcore.training", "dlcore.io"]

#: what a failing example raises when the machine lacks its data files or an optional package: it is
#: skipped, not failed (the data sets' own tests say the same with skipif marks)
MISSING_HERE = ("DatasetNotFoundError", "No module named 'PIL'")

_EXAMPLE = re.compile(r"^\s*>>> ", re.MULTILINE)


def public_names(module) -> list[str]:
    """``__all__``, or the classes and functions the module defines itself under names without "_"."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, value in vars(module).items()
            if not name.startswith("_") and (inspect.isclass(value) or inspect.isfunction(value))
            and value.__module__ == module.__name__]


def documented() -> list[tuple[str, object]]:
    """("nn.Linear", object) for every public name that can carry a docstring, module by module."""
    found = []
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        short = module_name.removeprefix("dlcore.")
        for name in public_names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj) or inspect.ismodule(obj):
                found.append((f"{short}.{name}", obj))
    return found


DOCUMENTED = documented()


def has_example(obj) -> bool:
    return bool(_EXAMPLE.search(obj.__doc__ or ""))


def test_every_public_name_has_an_example():
    missing = [name for name, obj in DOCUMENTED if not has_example(obj)]
    assert not missing, (f"{len(missing)} public names have no '>>>' example in their own docstring "
                         f"(add an 'Example::' section): {', '.join(missing)}")


def test_the_modules_have_public_names():
    per_module = {m: sum(name.startswith(m.removeprefix("dlcore.") + ".") for name, _ in DOCUMENTED) for m in MODULES}
    assert all(n > 0 for n in per_module.values()), per_module


def _globs() -> dict:
    from dlcore import data, losses, nn, optim, training
    import dlcore.io

    return {"np": numpy, "dlcore": dlcore, "nn": nn, "losses": losses, "optim": optim, "data": data,
            "training": training}


@pytest.mark.parametrize("name, obj", [(n, o) for n, o in DOCUMENTED if has_example(o)],
                         ids=[n for n, o in DOCUMENTED if has_example(o)])
def test_example_runs(name, obj, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DLCORE_DATA", raising=False)  # put back afterwards, whatever an example sets
    finder = doctest.DocTestFinder(recurse=False)
    tests = [t for t in finder.find(obj, name, module=False, globs=_globs()) if t.examples]
    assert tests, f"{name}: no doctest found although its docstring has '>>>'"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    report = []
    with numpy.printoptions(precision=4, suppress=True):
        for test in tests:
            runner.run(test, out=report.append)
    failed, attempted = runner.summarize(verbose=False)
    text = "".join(report)
    raised = text.split("Exception raised:")[1:]  # the tracebacks of lines that failed by raising
    if failed and any(why in part for part in raised for why in MISSING_HERE):
        pytest.skip(f"{name}: its example needs files or a package this machine lacks:\n{text}")
    assert failed == 0, f"{name}: {failed} of {attempted} example lines failed\n" + text
