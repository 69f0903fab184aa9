"""Argument checks shared by the public constructors and functions.

Each check takes ``owner`` (the class or function as users write it: "Linear",
"metrics.precision"), the argument's ``name`` and its ``value``; it returns the value in its
plain form (a Python int, float or bool, an (h, w) pair, a NumPy dtype) or raises one line,
"owner: name must be …, got value": TypeError for a value of the wrong type, ValueError for
one of the right type outside its range (``ArgumentTypeError`` and ``ArgumentValueError``,
which are also ``UserError``s, so a command-line tool reports them as one line). Booleans are
not numbers here; NumPy scalars are. An input whose shape does not fit the layer or function
it is given to, found when it runs, is a ``ShapeError`` (a ValueError and a ``UserError``).
"""
from __future__ import annotations

import difflib
import functools
import math
import numbers
import re

import numpy

import backends
from backends import UserError

#: dtype.kind of the arrays ops compute on: bool, signed and unsigned int, float, complex
NUMERIC_KINDS = "biufc"


class ArgumentTypeError(UserError, TypeError):
    """An argument of a public constructor or function has the wrong type."""


class ArgumentValueError(UserError, ValueError):
    """An argument of a public constructor or function has the right type but a value outside its range."""


class ShapeError(UserError, ValueError):
    """An input's shape does not fit the layer or function it is given to (found in the forward pass:
    "Linear(…) expects inputs whose last axis has 3 features, got …")."""


def _got(value) -> str:
    """``value`` for a message: its repr on one line, at most 60 characters, and its type."""
    text = " ".join(repr(value).split())
    return f"{text if len(text) <= 60 else text[:57] + '...'} ({type(value).__name__})"


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, (bool, numpy.bool_))


def integer(owner: str, name: str, value, minimum: int | None = None) -> int:
    """``value`` (an int or NumPy integer) as a Python int, ≥ ``minimum`` when one is given."""
    what = "an int" if minimum is None else f"an int ≥ {minimum}"
    if not _is_int(value):
        raise ArgumentTypeError(f"{owner}: {name} must be {what}, got {_got(value)}")
    if minimum is not None and value < minimum:
        raise ArgumentValueError(f"{owner}: {name} must be {what}, got {value}")
    return int(value)


def int_pair(owner: str, name: str, value, minimum: int) -> tuple[int, int]:
    """``value``, an int or an (h, w) pair (tuple or list) of ints, as a pair of Python ints ≥ ``minimum``."""
    what = f"an int ≥ {minimum} or an (h, w) pair of them"
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(pair) != 2 or not all(_is_int(v) for v in pair):
        raise ArgumentTypeError(f"{owner}: {name} must be {what}, got {_got(value)}")
    if min(pair) < minimum:
        raise ArgumentValueError(f"{owner}: {name} must be {what}, got {value!r}")
    return int(pair[0]), int(pair[1])


@functools.lru_cache(maxsize=None)
def _interval(spec: str):
    """(low, high, low_closed, high_closed, words) of an interval written "[0, 1)", "(0, inf)", …"""
    bracket_low, low, high, bracket_high = re.fullmatch(r"([\[(])(.+), *(.+)([\])])", spec).groups()
    low, high = float(low), float(high)
    if high == math.inf:
        words = f"{'≥' if bracket_low == '[' else '>'} {low:g}"
    elif low == -math.inf:
        words = f"{'≤' if bracket_high == ']' else '<'} {high:g}"
    else:
        words = f"in {spec}"
    return low, high, bracket_low == "[", bracket_high == "]", words


def finite_number(owner: str, name: str, value, within: str | None = None) -> float:
    """``value`` as a finite Python float, in the interval ``within`` (e.g. "[0, 1)", "(0, inf)") when given.

    TypeError for None, bools, strings and other non-numbers; ValueError for NaN, ±inf and
    values outside the interval.
    """
    try:
        if value is None or isinstance(value, (bool, numpy.bool_, str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise ArgumentTypeError(f"{owner}: {name} must be a number, got {_got(value)}") from None
    if not math.isfinite(number):
        raise ArgumentValueError(f"{owner}: {name} must be finite, got {number}")
    if within is not None:
        low, high, low_closed, high_closed, words = _interval(within)
        above = number >= low if low_closed else number > low
        below = number <= high if high_closed else number < high
        if not (above and below):
            raise ArgumentValueError(f"{owner}: {name} must be {words}, got {number}")
    return number


def flag(owner: str, name: str, value) -> bool:
    """``value`` (a bool or NumPy bool) as a Python bool: "no" or 0 are not switches."""
    if not isinstance(value, (bool, numpy.bool_)):
        raise ArgumentTypeError(f"{owner}: {name} must be True or False, got {_got(value)}")
    return bool(value)


def choice(owner: str, name: str, value, options, alternative: str = ""):
    """``value`` when it is one of ``options`` (strings), else the error listing them (and
    ``alternative``, e.g. "or a callable"), with a "did you mean" for a near miss."""
    valid = ", ".join(map(repr, options)) + (f" {alternative}" if alternative else "")
    if not isinstance(value, str):
        raise ArgumentTypeError(f"{owner}: {name} must be one of {valid}, got {_got(value)}")
    if value in options:
        return value
    close = difflib.get_close_matches(value, options, n=1) or difflib.get_close_matches(value.lower(), options, n=1)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    raise ArgumentValueError(f"{owner}: {name} must be one of {valid}, got {value!r}{hint}")


def backend_name(owner: str, name: str, value) -> str:
    """``value`` when it names a backend ("numpy", "cupy") or is "auto" (the active one)."""
    return choice(owner, name, value, (*backends.NAMES, "auto"))


def instance(owner: str, name: str, value, cls: type, what: str):
    """``value`` when it is a ``cls`` (described as ``what``, e.g. "a Module"); a class given
    where an instance is needed gets "did you mean ReLU()?"."""
    if isinstance(value, cls):
        return value
    if isinstance(value, type) and issubclass(value, cls):
        raise ArgumentTypeError(f"{owner}: {name} must be {what}, got the class {value.__name__}; "
                                f"did you mean {value.__name__}()?")
    raise ArgumentTypeError(f"{owner}: {name} must be {what}, got {type(value).__name__}")


def array(owner: str, name: str, value):
    """``value`` when it is a Tensor or an array (it has a shape and a dtype; NumPy scalars too), not a list
    or a Python number."""
    if not (hasattr(value, "shape") and hasattr(value, "dtype")):
        raise ArgumentTypeError(f"{owner}: {name} must be a Tensor or an array, got {_got(value)}")
    return value


def dtype(owner: str, name: str, value) -> numpy.dtype:
    """``value`` (a NumPy dtype, a name such as "float32", or a type such as numpy.float32) as a numeric dtype;
    not None (which NumPy reads as float64)."""
    try:
        if value is None:
            raise TypeError
        result = numpy.dtype(value)
    except TypeError:
        raise ArgumentTypeError(f"{owner}: {name} must be a NumPy dtype such as 'float32', got {_got(value)}") from None
    if result.kind not in NUMERIC_KINDS:
        raise ArgumentTypeError(f"{owner}: {name} must be a numeric dtype such as 'float32', got {result}")
    return result

