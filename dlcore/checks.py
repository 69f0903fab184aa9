"""Argument checks shared by layers, optimizers and initialisers."""
from __future__ import annotations

import math


def finite_number(owner: str, name: str, value) -> float:
    """``value`` as a finite Python float, else TypeError (None, bools, strings, non-numbers) or
    ValueError (NaN, ±inf) saying "owner: name must be …, got value"."""
    try:
        if value is None or isinstance(value, (bool, str, bytes)):
            raise TypeError
        number = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{owner}: {name} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{owner}: {name} must be finite, got {number}")
    return number
