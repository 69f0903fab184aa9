"""Every op and layer: backward equals central differences in float64; inputs are never modified."""
import importlib
import pkgutil

import numpy
import pytest

import dlcore
from dlcore import Tensor
from dlcore.core import Function
from tests.cases import all_cases, all_module_cases
from tests.harness import host_inputs, run_case, run_module_case

CASES = all_cases()
GRAD_CASES = [c for c in CASES if c.gradcheck]
MODULE_CASES = all_module_cases()


def _tensors(arrays):
    return [Tensor(a) if a.dtype.kind == "f" else a for a in arrays]


def _check(case, arrays, strided: bool = False):
    """gradcheck of ``case`` on ``arrays``; with ``strided``, the float inputs reach the op as the
    strided views they are (as Tensors, which gradcheck does not copy) and ``fn`` asserts so."""
    floats = [i for i, a in enumerate(arrays) if a.dtype.kind == "f"]

    def fn(*float_tensors):
        args = list(arrays)
        for i, t in zip(floats, float_tensors):
            args[i] = t
            if strided and t.ndim and t.shape[-1] > 1:
                assert not t.data.flags.c_contiguous, f"input {i} of {case.name} lost its strides"
        return case.fn(*args)

    inputs = [Tensor(arrays[i]) if strided else arrays[i] for i in floats]
    dlcore.gradcheck(fn, inputs, atol=case.gc_atol, rtol=case.gc_rtol)


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_gradcheck(case):
    _check(case, host_inputs(case))


def _non_contiguous(a):
    """The same values in a strided view (every other element of a doubled array)."""
    if a.dtype.kind != "f" or a.ndim == 0:
        return a
    wide = numpy.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    view = wide[..., ::2]
    assert not view.flags.c_contiguous or a.shape[-1] == 1
    return view


@pytest.mark.parametrize("case", GRAD_CASES, ids=lambda c: c.name)
def test_gradcheck_non_contiguous(case):
    _check(case, tuple(_non_contiguous(a) for a in host_inputs(case)), strided=True)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_inputs_not_modified(case):
    arrays = host_inputs(case)
    before = [a.copy() for a in arrays]
    tensors = [Tensor(a, requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]
    y = case.fn(*tensors)
    gy = numpy.random.default_rng(1).standard_normal(y.shape)
    gy_before = gy.copy()
    y.backward(gy)
    for i, (a, b) in enumerate(zip(arrays, before)):
        numpy.testing.assert_array_equal(a, b, err_msg=f"{case.name} modified input {i}")
    numpy.testing.assert_array_equal(gy, gy_before, err_msg=f"{case.name} modified the incoming gradient")


@pytest.mark.parametrize("case", MODULE_CASES, ids=lambda c: c.name)
def test_module_gradcheck(case):
    with dlcore.default_dtype("float64"):
        layer = case.factory()
    x = numpy.random.default_rng(0).standard_normal(case.input_shape)
    if case.input_kind == "away_from_zero":
        x = numpy.where(numpy.abs(x) < 0.1, 0.1, x)
    params = list(layer.parameters())
    assert all(p.dtype == numpy.float64 for p in params)
    dlcore.gradcheck(lambda x, *p: layer(x), [x, *params])


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_float32_stays_float32(case):
    arrays = host_inputs(case)
    tensors = [Tensor(a.astype(numpy.float32), requires_grad=True) if a.dtype.kind == "f" else a for a in arrays]
    y = case.fn(*tensors)
    assert y.dtype == numpy.float32, f"{case.name} returned {y.dtype} for float32 inputs"
    y.backward(numpy.ones(y.shape, numpy.float32))
    for t in tensors:
        if isinstance(t, Tensor) and t.grad is not None:
            assert t.grad.dtype == numpy.float32


def _leaf_subclasses(cls):
    """The classes derived from ``cls`` that nothing derives from (the ops one can call)."""
    subclasses = cls.__subclasses__()
    return {cls} if not subclasses else set().union(*(_leaf_subclasses(s) for s in subclasses))


def test_every_function_is_exercised_by_a_case(monkeypatch):
    """The cases drive the gradient checks and the GPU parity suite, so a Function without one
    would be checked on neither; a new op must bring its case."""
    for module in pkgutil.walk_packages(dlcore.__path__, "dlcore."):
        importlib.import_module(module.name)
    called = set()
    function_call = Function.__call__

    def recording_call(self, *args, **kwargs):
        called.add(type(self))
        return function_call(self, *args, **kwargs)

    monkeypatch.setattr(Function, "__call__", recording_call)
    for case in CASES:
        run_case(case, "numpy", numpy.float64)
    for case in MODULE_CASES:
        run_module_case(case, "numpy", numpy.float64)
    missing = sorted(f"{f.__module__}.{f.__qualname__}" for f in _leaf_subclasses(Function) - called
                     if f.__module__.startswith("dlcore."))  # not Functions that tests or users define
    assert not missing, f"Functions no case calls (add one to tests/cases): {missing}"


# Modules that do not learn by backprop: each is checked against a reference of its own rule in its
# test module (contrastive divergence: test_rbm, test_dbn; the perceptron rule: test_perceptron).
NOT_BACKPROP = {"RBM", "DBM", "DBN", "Perceptron"}


def test_every_module_is_exercised_by_a_module_case():
    """Module cases drive the module gradient checks and the GPU parity suite: a layer or model
    that none builds (as itself or inside another) would be checked on neither."""
    for module in pkgutil.walk_packages(dlcore.__path__, "dlcore."):
        importlib.import_module(module.name)
    built = set()
    with dlcore.default_dtype("float64"):
        for case in MODULE_CASES:
            built.update(type(m) for m in case.factory().modules())
    missing = sorted(f"{m.__module__}.{m.__qualname__}" for m in _leaf_subclasses(dlcore.nn.Module) - built
                     if m.__module__.startswith("dlcore.") and m.__name__ not in NOT_BACKPROP)
    assert not missing, f"Modules no module case builds (add one to tests/cases): {missing}"


def _pow_grads(a, b):
    """(y, ∂Σy/∂a, ∂Σy/∂b) of y = a ** b for float64 arrays or numbers (a number gets no gradient)."""
    ta, tb = (Tensor(numpy.asarray(v, numpy.float64), requires_grad=True) if isinstance(v, list) else v
              for v in (a, b))
    with numpy.errstate(divide="ignore", invalid="ignore"):
        y = ta ** tb
        y.backward(numpy.ones(y.shape))
    return y.data, *(t.grad if isinstance(t, Tensor) else None for t in (ta, tb))


def test_pow_gradients_at_a_zero_base_are_pytorchs():
    """PyTorch's values where b·aᵇ⁻¹ or aᵇ·ln a is 0·∞: ∂/∂a = 0 where b = 0; ∂/∂b = 0 where a = 0 and
    b ≥ 0, −∞ where a = 0 and b < 0 (torch.pow(a, b).sum().backward() on these gives the same)."""
    y, ga, gb = _pow_grads([0.0, 0.0, 0.0, 0.0, 2.0], [0.0, 1.0, 2.0, -1.0, 3.0])
    numpy.testing.assert_array_equal(y, [1.0, 0.0, 0.0, numpy.inf, 8.0])
    numpy.testing.assert_array_equal(ga, [0.0, 1.0, 0.0, -numpy.inf, 12.0])
    numpy.testing.assert_array_equal(gb, [0.0, 0.0, 0.0, -numpy.inf, 8.0 * numpy.log(2.0)])
    # a number on one side: a ** 0 (∂/∂a = 0, also at a = 0) and 0 ** b (∂/∂b = 0 for b ≥ 0)
    numpy.testing.assert_array_equal(_pow_grads([0.0, 3.0], 0)[1], [0.0, 0.0])
    numpy.testing.assert_array_equal(_pow_grads(0.0, [0.0, 2.0])[2], [0.0, 0.0])
