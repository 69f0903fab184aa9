"""Tensor behaviour beyond single ops: graphs, accumulation, no_grad, dtypes, errors."""
import numpy
import pytest

import dlcore
from dlcore import Tensor


def test_python_data_defaults_to_float32_and_keeps_ints():
    assert Tensor([1.0, 2.0]).dtype == numpy.float32
    assert Tensor(3.0).dtype == numpy.float32
    assert Tensor([1, 2]).dtype.kind == "i"
    assert Tensor(numpy.zeros(2)).dtype == numpy.float64  # arrays keep their dtype


def test_default_dtype_context():
    with dlcore.default_dtype("float64"):
        assert Tensor([1.0]).dtype == numpy.float64
        assert dlcore.nn.Linear(2, 2).weight.dtype == numpy.float64
    assert Tensor([1.0]).dtype == numpy.float32


def test_facts_and_indexing():
    t = Tensor(numpy.arange(12.0).reshape(3, 4))
    assert t.shape == (3, 4) and t.ndim == 2 and len(t) == 3 and t.size == 12
    assert t[1, 2].item() == 6.0
    numpy.testing.assert_array_equal(t[:, 1].numpy(), [1.0, 5.0, 9.0])


def test_comparisons_carry_no_gradient():
    a = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = a > 1.5
    assert mask.dtype == numpy.bool_ and not mask.requires_grad
    numpy.testing.assert_array_equal(mask.numpy(), [False, True, True])
    numpy.testing.assert_array_equal((a == 2.0).numpy(), [False, True, False])


def test_gradient_accumulates_across_backward_calls():
    x = Tensor(numpy.array([1.0, 2.0]), requires_grad=True)
    (x * 3).sum().backward()
    (x * x).sum().backward()
    numpy.testing.assert_allclose(x.grad, [3 + 2, 3 + 4])


def test_shared_subexpression_gets_summed_gradient():
    x = Tensor(numpy.array(2.0), requires_grad=True)
    y = x * x          # used twice below
    z = y * y + y      # z = x⁴ + x², dz/dx = 4x³ + 2x
    z.backward()
    assert x.grad == pytest.approx(4 * 8 + 4)


def test_an_intermediate_used_at_several_depths_gets_every_path_before_its_own_backward():
    x = Tensor(numpy.array(1.5), requires_grad=True)
    a = x * x                 # a = x²: reaches z directly and through b, c and d
    b = a * 3.0
    c = b * a                 # 3x⁴
    d = c + b                 # 3x⁴ + 3x²
    z = d * a + a             # 3x⁶ + 3x⁴ + x², dz/dx = 18x⁵ + 12x³ + 2x
    z.backward()
    assert x.grad == pytest.approx(18 * 1.5 ** 5 + 12 * 1.5 ** 3 + 2 * 1.5)


def test_deep_chain_has_no_recursion_limit():
    x = Tensor(numpy.array(1.0), requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    y.backward()
    assert x.grad == 1.0


def test_no_grad_records_nothing():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with dlcore.no_grad():
        y = (x * 2).sum()
        with dlcore.enable_grad():
            z = (x * 2).sum()
    assert not y.requires_grad and y.creator is None
    assert z.requires_grad
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


def test_backward_needs_grad_for_non_scalar():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="one element"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"needs shape \(2,\)"):
        (x * 2).backward(numpy.ones(3, numpy.float32))


def test_integer_tensor_cannot_require_grad():
    with pytest.raises(TypeError, match="floating"):
        Tensor([1, 2], requires_grad=True)


def test_numpy_array_on_the_left_gives_a_tensor():
    x = Tensor(numpy.ones(3, numpy.float32), requires_grad=True)
    y = numpy.full(3, 2.0, numpy.float32) * x
    assert isinstance(y, Tensor)
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad, [2.0, 2.0, 2.0])


def test_matmul_shape_error_names_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4, 5\)"):
        Tensor(numpy.ones((2, 3))) @ Tensor(numpy.ones((4, 5)))


def test_mixed_precision_gradient_keeps_input_dtype():
    a = Tensor(numpy.ones(3, numpy.float32), requires_grad=True)
    b = Tensor(numpy.ones(3, numpy.float64))
    (a * b).sum().backward()
    assert a.grad.dtype == numpy.float32


def test_detach_and_repr():
    x = Tensor([1.0], requires_grad=True)
    assert not x.detach().requires_grad
    assert "requires_grad=True" in repr(x) and "float32" in repr(x)


def test_manual_seed_reproduces_weights():
    dlcore.manual_seed(7)
    a = dlcore.nn.Linear(3, 4).weight.numpy()
    dlcore.manual_seed(7)
    b = dlcore.nn.Linear(3, 4).weight.numpy()
    numpy.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("call, error, message", [
    (lambda a, b: a + b, ValueError,
     r"^Add: operands could not be broadcast.*\(inputs: \(2, 3\) float32, \(4, 3\) float32\)"),
    (lambda a, b: a.reshape(4, 2), ValueError,
     r"^Reshape: cannot reshape array of size 6.*\(inputs: \(2, 3\) float32\)"),
    (lambda a, b: a.sum(axis=3), numpy.exceptions.AxisError, r"^Sum: axis 3 is out of bounds"),
    (lambda a, b: dlcore.functional.concat([a, b[:2, :2]], axis=0), ValueError,
     r"^Concat: .*\(2, 3\) float32, \(2, 2\)"),
])
def test_array_library_errors_name_the_op_and_its_inputs(call, error, message):
    """NumPy's own shape and axis errors come back of the same type, named after the op, with its inputs."""
    a, b = Tensor(numpy.ones((2, 3), numpy.float32)), Tensor(numpy.ones((4, 3), numpy.float32))
    with pytest.raises(error, match=message):
        call(a, b)


def test_tensor_of_non_numbers_or_ragged_lists_says_so():
    with pytest.raises(TypeError, match=r"Tensor: data must be numbers, got str 'abc'"):
        Tensor("abc")
    with pytest.raises(ValueError, match=r"Tensor: cannot make an array of this list: .*inhomogeneous"):
        Tensor([[1, 2], [3]])
