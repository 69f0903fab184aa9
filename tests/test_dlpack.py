"""DLPack: Tensor.__dlpack__/__dlpack_device__ and dlcore.from_dlpack share memory, never copy."""
import numpy
import pytest

import dlcore
from dlcore import Tensor


def test_numpy_from_dlpack_of_a_tensor_shares_its_memory():
    t = Tensor(numpy.arange(12, dtype=numpy.float32).reshape(3, 4))
    a = numpy.from_dlpack(t)
    assert numpy.shares_memory(a, t.data)
    assert a.dtype == numpy.float32 and a.shape == (3, 4)
    t.data[1, 2] = -7.0  # a write through the tensor shows in the consumer's array
    assert a[1, 2] == -7.0
    assert t.__dlpack_device__() == (1, 0)


def test_from_dlpack_of_a_numpy_array_shares_its_memory():
    a = numpy.linspace(0, 1, 10).reshape(2, 5)  # float64 stays float64: nothing is converted
    t = dlcore.from_dlpack(a)
    assert isinstance(t, Tensor) and t.device == "numpy"
    assert numpy.shares_memory(t.data, a) and t.dtype == numpy.float64
    a[0, 0] = 42.0
    assert t.data[0, 0] == 42.0
    assert not t.requires_grad and dlcore.from_dlpack(a.astype(numpy.float32), requires_grad=True).requires_grad


def test_round_trip_keeps_strides_of_a_transposed_view():
    base = numpy.arange(24, dtype=numpy.float32).reshape(2, 3, 4)
    t = Tensor(base.transpose(0, 2, 1))  # not contiguous, like conv outputs kept NHWC in memory
    back = dlcore.from_dlpack(t)
    assert numpy.shares_memory(back.data, base)
    numpy.testing.assert_array_equal(back.data, base.transpose(0, 2, 1))
    assert back.data.strides == t.data.strides


def test_a_tensor_from_dlpack_computes_and_back_propagates():
    a = numpy.array([[1.0, -2.0, 3.0]], dtype=numpy.float32)
    x = dlcore.from_dlpack(a, requires_grad=True)
    y = (x * x).sum()
    y.backward()
    numpy.testing.assert_array_equal(x.grad, 2 * a)


def test_from_dlpack_refuses_unknown_devices_and_non_dlpack_objects():
    class OnOpenCL:
        def __dlpack__(self, stream=None):
            raise AssertionError("must not be called for an unsupported device")

        def __dlpack_device__(self):
            return (4, 0)  # kDLOpenCL

    with pytest.raises(dlcore.UserError, match="device type 4.*1 \\(kDLCPU\\)"):
        dlcore.from_dlpack(OnOpenCL())
    with pytest.raises(TypeError, match="__dlpack__"):
        dlcore.from_dlpack([1.0, 2.0])


def test_pytorch_reads_and_writes_the_same_memory():
    torch = pytest.importorskip("torch")
    t = Tensor(numpy.arange(6, dtype=numpy.float32).reshape(2, 3))
    p = torch.from_dlpack(t)
    assert p.data_ptr() == t.data.ctypes.data and tuple(p.shape) == (2, 3) and p.dtype == torch.float32
    p[0, 1] = 100.0
    assert t.data[0, 1] == 100.0
    q = torch.arange(4, dtype=torch.float64)
    back = dlcore.from_dlpack(q)
    assert back.data.ctypes.data == q.data_ptr() and back.dtype == numpy.float64
    q[3] = -1.0
    assert back.data[3] == -1.0


@pytest.mark.gpu
@pytest.mark.cuda_only
def test_cupy_exchange_is_zero_copy_on_the_device():
    import backends

    cupy = backends.get("cupy").xp
    t = Tensor(cupy.arange(8, dtype=cupy.float32))
    assert t.__dlpack_device__()[0] == 2  # kDLCUDA
    c = cupy.from_dlpack(t)
    assert c.data.ptr == t.data.data.ptr
    back = dlcore.from_dlpack(c)
    assert back.device == "cupy" and back.data.data.ptr == t.data.data.ptr
    c[2] = 50.0
    assert float(back.data[2]) == 50.0
