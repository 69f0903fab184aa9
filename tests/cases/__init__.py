"""Op test cases shared by the float64 gradient checks and the CPU-vs-GPU parity tests.

A ``Case`` is written once (Chainer's FunctionTestCase idea): ``make(rng)`` builds the
inputs on the host as NumPy arrays (floating inputs in float64, integer inputs such as
class labels as they are), ``fn(*tensors)`` applies the op. The test modules send the same
host inputs to each backend and dtype; nothing here is backend-specific.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy


@dataclass(frozen=True)
class Case:
    name: str
    fn: Callable
    make: Callable[[numpy.random.Generator], tuple]
    gradcheck: bool = True          # False for ops whose gradient is zero or undefined by design
    gc_atol: float = 1e-5           # float64 central-difference tolerances
    gc_rtol: float = 1e-4
    rtol: float = 1e-5              # float32 CPU-vs-GPU tolerances
    atol: float = 1e-6
    why_looser: str = ""            # the reason, where rtol/atol are looser than 1e-5/1e-6


@dataclass(frozen=True)
class ModuleCase:
    """A layer: ``factory()`` builds it (under the active backend and default dtype)."""
    name: str
    factory: Callable
    input_shape: tuple
    input_kind: str = "normal"      # "normal", or "away_from_zero" for kinks at 0
    rtol: float = 1e-5
    atol: float = 1e-6
    extra: dict = field(default_factory=dict)


def normal(*shape):
    """Inputs ~ N(0, 1) of ``shape``."""
    return lambda rng: rng.standard_normal(shape)


def away_from_zero(shape, gap=0.1):
    """N(0,1) inputs with |x| ≥ gap, for ops with a kink at 0 (central differences straddle it otherwise)."""
    def make(rng):
        x = rng.standard_normal(shape)
        return numpy.where(numpy.abs(x) < gap, numpy.sign(x + 1e-12) * gap, x)
    return make


def all_cases() -> list[Case]:
    from tests.cases import (activation_cases, conv_cases, linear_cases, loss_cases, math_cases, norm_cases,
                             sequence_cases)
    return [*math_cases.CASES, *activation_cases.CASES, *linear_cases.CASES, *loss_cases.CASES, *conv_cases.CASES,
            *norm_cases.CASES, *sequence_cases.CASES]


def all_module_cases() -> list[ModuleCase]:
    from tests.cases import (activation_cases, autoencoder_cases, conv_cases, linear_cases, model_cases, norm_cases,
                             sequence_cases)
    return [*activation_cases.MODULE_CASES, *linear_cases.MODULE_CASES, *conv_cases.MODULE_CASES,
            *norm_cases.MODULE_CASES, *model_cases.MODULE_CASES, *autoencoder_cases.MODULE_CASES,
            *sequence_cases.MODULE_CASES]
