"""The PyTorch-style Tensor API of issue #23, by value: closed forms, PyTorch's conventions at the edges
(sqrt and std at 0, ties, inclusive clip bounds), the dim/keepdim aliases, creation functions and their
seeded draws, errors. Gradients and CPU-vs-GPU parity of each op run from tests/cases/math_cases.py."""
import doctest

import numpy
import pytest

import backends
import dlcore
import dlcore.functional as F
from dlcore import Tensor
from dlcore.ops import math as ops_math, padding

X = numpy.array([[1.0, 5.0, 2.0], [4.0, 4.0, -1.0]])


def t(a, grad=False):
    return Tensor(numpy.asarray(a, numpy.float64), requires_grad=grad)


# ---- reductions and the dim / keepdim aliases ------------------------------------------------
@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std", "logsumexp", "argmax", "argmin"])
def test_dim_and_keepdim_are_aliases_of_axis_and_keepdims(name):
    x = t(X)
    by_axis = getattr(x, name)(axis=1, keepdims=True)
    by_dim = getattr(x, name)(dim=1, keepdim=True)
    numpy.testing.assert_array_equal(by_axis.numpy(), by_dim.numpy())
    numpy.testing.assert_array_equal(getattr(F, name)(x, dim=0).numpy(), getattr(x, name)(0).numpy())
    assert by_dim.shape == (2, 1)
    with pytest.raises(TypeError, match=rf"^{name}: got axis=1 and dim=0; they are one argument"):
        getattr(x, name)(axis=1, dim=0)
    with pytest.raises(TypeError, match=rf"^{name}: got keepdims=True and keepdim=False; they are one argument"):
        getattr(x, name)(1, keepdims=True, keepdim=False)
    with pytest.raises(TypeError, match=rf"^{name}: keepdims must be True or False, got 'yes'"):
        getattr(x, name)(1, keepdim="yes")


def test_min_max_values_and_tied_gradients():
    x = t([[3.0, 1.0, 3.0], [0.0, 2.0, 2.0]], grad=True)
    numpy.testing.assert_array_equal(x.max(dim=1).numpy(), [3.0, 2.0])
    numpy.testing.assert_array_equal(x.min(dim=0).numpy(), [0.0, 1.0, 2.0])
    assert x.min().item() == 0.0 and x.max().item() == 3.0
    x.max(dim=1).sum().backward()  # tied maxima share the gradient equally
    numpy.testing.assert_array_equal(x.grad, [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])
    x.grad = None
    x.min().backward()
    numpy.testing.assert_array_equal(x.grad, [[0, 0, 0], [1, 0, 0]])


def test_argmax_argmin():
    x = t([[1.0, 7.0, 7.0], [3.0, 2.0, 3.0]], grad=True)
    i = x.argmax(dim=1)
    assert i.dtype == numpy.int64 and not i.requires_grad
    numpy.testing.assert_array_equal(i.numpy(), [1, 0])  # the first of tied maxima, as NumPy and PyTorch
    numpy.testing.assert_array_equal(x.argmin(axis=1, keepdims=True).numpy(), [[0], [1]])
    assert x.argmax().item() == 1 and x.argmin().item() == 0  # into the flattened tensor
    numpy.testing.assert_array_equal(F.argmax(X, 0).numpy(), [1, 0, 0])  # arrays too
    with pytest.raises(TypeError, match=r"argmax: axis must be an int, got \(0, 1\)"):
        x.argmax(dim=(0, 1))


def test_var_std_closed_forms_and_correction():
    x = t([[1.0, 2.0, 3.0, 6.0], [2.0, 2.0, 2.0, 2.0]])
    # row 0: mean 3, squared deviations 4 + 1 + 0 + 9 = 14
    numpy.testing.assert_allclose(x.var(dim=1).numpy(), [14 / 3, 0.0])
    numpy.testing.assert_allclose(x.var(dim=1, correction=0).numpy(), [14 / 4, 0.0])
    numpy.testing.assert_allclose(x.std(dim=1).numpy(), numpy.sqrt([14 / 3, 0.0]))
    numpy.testing.assert_allclose(x.var().item(), numpy.var(x.numpy(), ddof=1))
    numpy.testing.assert_allclose(F.std(x, axis=(0, 1), correction=2).item(), numpy.std(x.numpy(), ddof=2))
    with numpy.errstate(divide="ignore", invalid="ignore"):  # n − correction = 0: NaN (all equal) or +∞
        assert numpy.isnan(t([5.0]).var().item())
        assert t([1.0, 3.0]).var(correction=2).item() == numpy.inf
    with pytest.raises(ValueError, match=r"var: correction must be an int ≥ 0, got -1"):
        x.var(correction=-1)


def test_unbiased_is_pytorchs_older_name_for_correction():
    x = t([[1.0, 2.0, 3.0, 6.0], [2.0, 2.0, 2.0, 2.0]])
    numpy.testing.assert_allclose(x.var(dim=1, unbiased=False).numpy(), [14 / 4, 0.0])
    numpy.testing.assert_allclose(x.var(dim=1, unbiased=True).numpy(), [14 / 3, 0.0])
    numpy.testing.assert_allclose(F.std(x, 1, unbiased=False).numpy(), numpy.sqrt([14 / 4, 0.0]))
    with pytest.raises(TypeError, match=r"^std: got correction=0 and unbiased=True; unbiased=True is "):
        x.std(correction=0, unbiased=True)
    with pytest.raises(TypeError, match=r"^var: unbiased must be True or False"):
        x.var(unbiased=1)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_takes_dim_as_pytorch(name):
    x = t([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    function = getattr(F, name)
    numpy.testing.assert_array_equal(function(x, dim=0).numpy(), function(x, axis=0).numpy())
    numpy.testing.assert_array_equal(function(x).numpy(), function(x, axis=1).numpy())  # default: last axis
    with pytest.raises(TypeError, match=rf"^{name}: got axis=0 and dim=1; they are one argument"):
        function(x, 0, dim=1)


def test_var_is_two_pass_in_float32():
    """Values near 1e4 spread by ~1: the one-pass E[x²] − E[x]² loses every digit in float32 (x² ≈ 1e8 has
    a spacing of 8); the two-pass form keeps the variance to ~1e-4."""
    rng = numpy.random.default_rng(0)
    host = 1e4 + rng.standard_normal(10000)
    x32 = host.astype(numpy.float32)
    exact = numpy.var(x32.astype(numpy.float64), ddof=1)
    one_pass = (numpy.mean(x32 * x32) - numpy.mean(x32) ** 2) * 10000 / 9999
    assert abs(one_pass - exact) > 0.05 * exact
    got = Tensor(x32).var()
    assert got.dtype == numpy.float32
    assert got.item() == pytest.approx(exact, rel=1e-4)


def test_std_gradient_is_zero_for_constant_values_as_pytorch():
    x = t([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]], grad=True)
    x.std(dim=1).sum().backward()
    numpy.testing.assert_array_equal(x.grad[0], [0.0, 0.0, 0.0])
    numpy.testing.assert_allclose(x.grad[1], [-0.5, 0.0, 0.5])  # (xᵢ − x̄)/((n − 1)·σ), σ = 1


def test_sqrt_gradient_at_zero_is_pytorchs():
    x = t([0.0, 0.0, 4.0], grad=True)
    y = x.sqrt()
    numpy.testing.assert_array_equal(y.numpy(), [0.0, 0.0, 2.0])
    with numpy.errstate(divide="ignore", invalid="ignore"):
        y.backward(numpy.array([1.0, 0.0, 1.0]))
    # 1/(2·0) = +∞; an incoming 0 gives 0/0 = NaN (torch.sqrt's backward computes the same grad/(2·y))
    assert x.grad[0] == numpy.inf and numpy.isnan(x.grad[1]) and x.grad[2] == 0.25


def test_logsumexp_is_stable_and_its_gradient_is_softmax():
    x = t([[1000.0, 1000.0, 990.0], [-1000.0, -1001.0, -1002.0]], grad=True)
    y = F.logsumexp(x, dim=1)
    shift = x.numpy().max(axis=1, keepdims=True)
    expected = shift[:, 0] + numpy.log(numpy.exp(x.numpy() - shift).sum(axis=1))
    numpy.testing.assert_allclose(y.numpy(), expected, rtol=1e-15)
    assert numpy.isfinite(y.numpy()).all()
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad, F.softmax(t(x.numpy()), axis=1).numpy(), rtol=1e-12)
    small = numpy.array([0.5, -1.0, 2.0])
    assert t(small).logsumexp().item() == pytest.approx(numpy.log(numpy.exp(small).sum()))
    # a row of −∞ (every term impossible) gives −∞, not NaN; +∞ gives +∞
    with numpy.errstate(divide="ignore"):  # ln 0
        y = F.logsumexp(t([[-numpy.inf, -numpy.inf], [numpy.inf, 0.0]]), 1)
    numpy.testing.assert_array_equal(y.numpy(), [-numpy.inf, numpy.inf])


def test_clip_values_and_inclusive_bounds():
    x = t([-2.0, -1.0, 0.0, 1.0, 2.0], grad=True)
    y = x.clip(-1.0, 1.0)
    numpy.testing.assert_array_equal(y.numpy(), [-1.0, -1.0, 0.0, 1.0, 1.0])
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad, [0.0, 1.0, 1.0, 1.0, 0.0])  # the bounds themselves pass, as torch.clamp
    numpy.testing.assert_array_equal(F.clip(x, min=0.5).numpy(), [0.5, 0.5, 0.5, 1.0, 2.0])
    numpy.testing.assert_array_equal(F.clip(x, max=-1.5).numpy(), [-2.0, -1.5, -1.5, -1.5, -1.5])
    assert Tensor(numpy.ones(2, numpy.float32)).clip(0, 0.5).dtype == numpy.float32
    with pytest.raises(ValueError, match="clip: min and max are both None"):
        x.clip()
    with pytest.raises(TypeError, match=r"clip: max must be a number, got '1'"):
        x.clip(0.0, "1")


def test_exp_log_sqrt_methods():
    x = t([0.25, 1.0, 4.0])
    numpy.testing.assert_allclose(x.exp().log().numpy(), x.numpy())
    numpy.testing.assert_allclose(x.sqrt().numpy(), [0.5, 1.0, 2.0])


# ---- shapes --------------------------------------------------------------------------------
def test_view_reshape_with_inferred_size():
    x = t(numpy.arange(24.0).reshape(2, 3, 4))
    assert x.view(-1).shape == (24,) and x.view(4, -1).shape == (4, 6) and x.reshape((-1, 2, 3)).shape == (4, 2, 3)
    numpy.testing.assert_array_equal(x.view(6, -1).numpy(), numpy.arange(24.0).reshape(6, 4))
    with pytest.raises(ValueError, match=r"^Reshape: can only specify one unknown dimension"):
        x.view(-1, -1)


def test_transpose_swaps_two_axes_and_permute_orders_all():
    host = numpy.arange(24.0).reshape(2, 3, 4)
    x = t(host)
    numpy.testing.assert_array_equal(x.transpose(0, 2).numpy(), numpy.swapaxes(host, 0, 2))
    numpy.testing.assert_array_equal(x.transpose(-1, 1).numpy(), numpy.swapaxes(host, 1, 2))
    numpy.testing.assert_array_equal(x.transpose(2, 0, 1).numpy(), host.transpose(2, 0, 1))  # a full permutation
    numpy.testing.assert_array_equal(x.transpose((1, 0, 2)).numpy(), host.transpose(1, 0, 2))
    numpy.testing.assert_array_equal(x.transpose().numpy(), host.T)
    m = t(numpy.arange(6.0).reshape(2, 3))
    numpy.testing.assert_array_equal(m.transpose(0, 1).numpy(), m.T.numpy())  # torch.transpose(m, 0, 1) = mᵀ
    numpy.testing.assert_array_equal(x.permute(2, 0, 1).numpy(), host.transpose(2, 0, 1))
    numpy.testing.assert_array_equal(x.permute((1, 2, 0)).numpy(), host.transpose(1, 2, 0))
    numpy.testing.assert_array_equal(F.swapaxes(x, 0, 1).numpy(), numpy.swapaxes(host, 0, 1))
    with pytest.raises(ValueError, match=r"permute: dims must order all 3 axes once each, got \(0, 0, 1\)"):
        x.permute(0, 0, 1)
    with pytest.raises(ValueError, match=r"swapaxes: dim must be in \[-3, 3\) for a tensor of 3 axes, got 3"):
        x.transpose(0, 3)


def test_unsqueeze_squeeze_flatten():
    x = t(numpy.arange(6.0).reshape(2, 3))
    assert x.unsqueeze(0).shape == (1, 2, 3) and x.unsqueeze(-1).shape == (2, 3, 1) and x.unsqueeze(1).shape == (2, 1, 3)
    with pytest.raises(ValueError, match=r"unsqueeze: dim must be in \[-3, 3\)"):
        x.unsqueeze(3)
    y = t(numpy.zeros((1, 2, 1, 3, 1)))
    assert y.squeeze().shape == (2, 3)
    assert y.squeeze(0).shape == (2, 1, 3, 1) and y.squeeze(dim=(0, -1)).shape == (2, 1, 3)
    assert y.squeeze(1).shape == y.shape  # an axis whose size is not 1 stays, as torch.squeeze
    with pytest.raises(TypeError, match=r"squeeze: got axis=0 and dim=2"):
        y.squeeze(0, dim=2)
    z = t(numpy.arange(120.0).reshape(2, 3, 4, 5))
    assert z.flatten().shape == (120,) and z.flatten(1).shape == (2, 60) and z.flatten(1, 2).shape == (2, 12, 5)
    assert z.flatten(-2).shape == (2, 3, 20) and t(3.0).flatten().shape == (1,)
    numpy.testing.assert_array_equal(z.flatten(1).numpy(), numpy.arange(120.0).reshape(2, 60))
    with pytest.raises(ValueError, match=r"flatten: start_dim \(2\) comes after end_dim \(1\)"):
        z.flatten(2, 1)


# ---- joining and padding ---------------------------------------------------------------------
def test_stack_and_cat():
    a, b = t([[1.0, 2.0]], grad=True), t([[3.0, 4.0]], grad=True)
    numpy.testing.assert_array_equal(dlcore.stack([a, b]).numpy(), [[[1, 2]], [[3, 4]]])
    numpy.testing.assert_array_equal(dlcore.stack([a, b], dim=-1).numpy(), [[[1, 3], [2, 4]]])
    numpy.testing.assert_array_equal(dlcore.cat([a, b]).numpy(), [[1, 2], [3, 4]])
    numpy.testing.assert_array_equal(dlcore.cat((a, b), dim=1).numpy(), [[1, 2, 3, 4]])
    (dlcore.stack([a, b], dim=1) * t([[[1.0, 10.0], [100.0, 1000.0]]])).sum().backward()  # y[0, i] = tensors[i][0]
    numpy.testing.assert_array_equal(a.grad, [[1.0, 10.0]])
    numpy.testing.assert_array_equal(b.grad, [[100.0, 1000.0]])
    assert dlcore.cat is F.concat and dlcore.stack is F.stack
    with pytest.raises(TypeError, match=r"stack: tensors must be a non-empty list or tuple of tensors, got list \(empty\)"):
        dlcore.stack([])
    with pytest.raises(TypeError, match=r"concat: got axis=0 and dim=1"):
        dlcore.cat([a, b], 0, dim=1)
    with pytest.raises(ValueError, match=r"^Stack: all input arrays must have the same shape"):
        dlcore.stack([a, t([1.0])])


@pytest.mark.parametrize("mode, numpy_mode", [("constant", "constant"), ("reflect", "reflect"),
                                              ("replicate", "edge"), ("circular", "wrap")])
def test_pad_matches_numpy_pad_in_pytorchs_order(mode, numpy_mode):
    host = numpy.arange(24.0).reshape(2, 3, 4)
    y = F.pad(t(host), (2, 1, 0, 2), mode=mode)  # last axis by (2, 1), the one before it by (0, 2)
    numpy.testing.assert_array_equal(y.numpy(), numpy.pad(host, ((0, 0), (0, 2), (2, 1)), mode=numpy_mode))
    assert F.pad(t(host), (1, 1, 1, 1, 1, 1), mode=mode).shape == (4, 5, 6)


def test_pad_gradient_sums_the_copies():
    x = t([1.0, 2.0, 3.0], grad=True)
    F.pad(x, (2, 1), mode="replicate").sum().backward()  # y = [1, 1, 1, 2, 3, 3]
    numpy.testing.assert_array_equal(x.grad, [3.0, 1.0, 2.0])
    x.grad = None
    F.pad(x, (2, 1), mode="reflect").sum().backward()  # y = [3, 2, 1, 2, 3, 2]
    numpy.testing.assert_array_equal(x.grad, [1.0, 3.0, 2.0])
    x.grad = None
    F.pad(x, (2, 3), mode="circular").sum().backward()  # y = [2, 3, 1, 2, 3, 1, 2, 3]
    numpy.testing.assert_array_equal(x.grad, [2.0, 3.0, 3.0])
    x.grad = None
    F.pad(x, (2, 1), value=-7.0).sum().backward()  # y = [−7, −7, 1, 2, 3, −7]
    numpy.testing.assert_array_equal(x.grad, [1.0, 1.0, 1.0])


def test_pad_errors():
    x = t(numpy.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"pad: pad must be a tuple of \(left, right\) pairs, one for each of up to 2"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(TypeError, match=r"pad: pad must be a tuple"):
        F.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(ValueError, match=r"pad: pad\[1\] must be an int ≥ 0, got -1"):
        F.pad(x, (1, -1))
    with pytest.raises(ValueError, match=r"pad: mode 'reflect' needs widths < the size of the axis padded, "
                                         r"got \(3, 0\) for axis 1 of size 3"):
        F.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match=r"pad: mode 'circular' needs widths ≤ the size"):
        F.pad(x, (0, 0, 0, 3), mode="circular")
    with pytest.raises(ValueError, match=r"pad: mode must be one of .*got 'edge'"):
        F.pad(x, (1, 1), mode="edge")
    with pytest.raises(ValueError, match=r"axis 1 of x is empty"):
        F.pad(t(numpy.zeros((2, 0))), (1, 1), mode="replicate")
    assert F.pad(x, (3, 3, 3, 3)).shape == (8, 9)  # constant mode: any width


# ---- creation ------------------------------------------------------------------------------
def test_zeros_ones():
    z = dlcore.zeros(2, 3)
    assert z.shape == (2, 3) and z.dtype == numpy.float32 and not z.requires_grad and not z.numpy().any()
    assert dlcore.zeros((2, 3)).shape == (2, 3) and dlcore.zeros([4]).shape == (4,) and dlcore.zeros().shape == ()
    o = dlcore.ones(3, dtype="float64", requires_grad=True)
    assert o.dtype == numpy.float64 and o.requires_grad and (o.numpy() == 1).all()
    assert dlcore.ones(2, dtype=numpy.int32).dtype == numpy.int32
    with dlcore.default_dtype("float64"):
        assert dlcore.zeros(1).dtype == numpy.float64
    with pytest.raises(ValueError, match=r"dlcore.zeros: size\[1\] must be an int ≥ 0, got -1"):
        dlcore.zeros(2, -1)
    with pytest.raises(TypeError, match=r"dlcore.ones: size\[0\] must be an int ≥ 0, got 2.5"):
        dlcore.ones(2.5)
    with pytest.raises(ValueError, match=r"dlcore.zeros: device must be one of 'numpy', 'cupy', 'auto', got 'gpu'"):
        dlcore.zeros(2, device="gpu")
    with pytest.raises(TypeError, match=r"floating"):
        dlcore.zeros(2, dtype="int64", requires_grad=True)


def test_randn_rand_follow_the_seed():
    dlcore.manual_seed(5)
    a, u = dlcore.randn(4, 3), dlcore.rand(4, 3)
    dlcore.manual_seed(5)
    numpy.testing.assert_array_equal(dlcore.randn((4, 3)).numpy(), a.numpy())
    numpy.testing.assert_array_equal(dlcore.rand(4, 3).numpy(), u.numpy())
    assert a.dtype == numpy.float32 and dlcore.randn(2, dtype="float64").dtype == numpy.float64
    # the host generator's draws: the values numpy.random.default_rng(5) gives
    host = numpy.random.default_rng(5)
    numpy.testing.assert_array_equal(a.numpy(), host.standard_normal((4, 3)).astype(numpy.float32))
    numpy.testing.assert_array_equal(u.numpy(), host.random((4, 3)).astype(numpy.float32))
    big, unit = dlcore.randn(20000, dtype="float64").numpy(), dlcore.rand(20000, dtype="float64").numpy()
    assert abs(big.mean()) < 0.03 and abs(big.std() - 1) < 0.03       # N(0, 1): standard error ≈ 0.007
    assert abs(unit.mean() - 0.5) < 0.01 and 0 <= unit.min() and unit.max() < 1  # U[0, 1): mean ½, sd ≈ 0.29
    with pytest.raises(TypeError, match=r"dlcore.randn: dtype must be a floating dtype such as 'float32', got int64"):
        dlcore.randn(2, dtype="int64")


@pytest.mark.gpu
def test_random_creation_gives_the_same_values_on_both_backends():
    values = {}
    for device in ("numpy", "cupy"):
        dlcore.manual_seed(11)
        values[device] = [dlcore.randn(3, 4, device=device), dlcore.rand(5, device=device),
                          dlcore.arange(0, 1, 0.1, device=device), dlcore.zeros(2, device=device)]
        assert all(v.device == device for v in values[device])
    for cpu, gpu in zip(values["numpy"], values["cupy"]):
        numpy.testing.assert_array_equal(gpu.numpy(), cpu.numpy())


def test_arange():
    numpy.testing.assert_array_equal(dlcore.arange(4).numpy(), [0, 1, 2, 3])
    assert dlcore.arange(4).dtype == numpy.int64
    numpy.testing.assert_array_equal(dlcore.arange(2, 9, 3).numpy(), [2, 5, 8])
    numpy.testing.assert_array_equal(dlcore.arange(5, 0, -2).numpy(), [5, 3, 1])
    r = dlcore.arange(0, 1, 0.25)
    assert r.dtype == numpy.float32
    numpy.testing.assert_array_equal(r.numpy(), [0.0, 0.25, 0.5, 0.75])
    assert dlcore.arange(0.0, 1.0, 0.1).shape == (10,)  # ⌈(end − start)/step⌉
    assert dlcore.arange(3, dtype="float64", requires_grad=True).requires_grad
    assert dlcore.arange(0).shape == (0,)
    with pytest.raises(ValueError, match="dlcore.arange: step must not be 0"):
        dlcore.arange(0, 3, 0)
    with pytest.raises(ValueError, match="dlcore.arange: end must be finite, got inf"):
        dlcore.arange(0, float("inf"))
    with pytest.raises(TypeError, match=r"dlcore.arange: start must be a number, got 'a'"):
        dlcore.arange("a", 3)


def test_docstring_examples_run():
    previous = backends.current().name
    backends.use("numpy")
    try:
        for module in (ops_math, padding):
            result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
            assert result.failed == 0 and result.attempted > 0, module.__name__
        for name in ("zeros", "ones", "randn", "rand", "arange"):
            finder = doctest.DocTestFinder()
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
            for test in finder.find(getattr(dlcore, name), name, globs=vars(dlcore).copy()):
                runner.run(test)
            assert runner.failures == 0 and runner.tries > 0, name
    finally:
        backends.use(previous)
