"""safetensors: dlcore.io.save_safetensors / load_safetensors / read_safetensors, in dlcore's and PyTorch's layouts."""
import json
import os

import numpy
import pytest

import dlcore
from dlcore import Tensor, io, nn
from dlcore.io import CheckpointError
from dlcore.models import MLP, LeNet


def _model(seed=0):
    """Linear layers, BatchNorm (buffers too) and a conv: every kind of array a state_dict has."""
    dlcore.manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 4 * 4, 5), nn.PReLU(), nn.Linear(5, 2, bias=False))
    bn = model[1]
    bn.running_mean = numpy.arange(3, dtype=numpy.float32)  # not the initial zeros/ones: they must travel
    bn.running_var = numpy.array([0.5, 2.0, 3.0], dtype=numpy.float32)
    return model


def _write_by_hand(path, arrays):
    """A safetensors file with no __metadata__ (as PyTorch's tools write one), float32/int64 only."""
    header, data = {}, b""
    for key, value in arrays.items():
        kind = {"float32": "F32", "int64": "I64"}[str(value.dtype)]
        header[key] = {"dtype": kind, "shape": list(value.shape), "data_offsets": [len(data), len(data) + value.nbytes]}
        data += value.tobytes()
    text = json.dumps(header).encode()
    path.write_bytes(len(text).to_bytes(8, "little") + text + data)
    return path


def _x():
    return Tensor(numpy.random.default_rng(3).standard_normal((2, 1, 4, 4)).astype(numpy.float32))


def _raw(path):
    """(header dict, data bytes) of a safetensors file, read by hand from the format's definition."""
    blob = open(path, "rb").read()
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8:8 + n]), blob[8 + n:]


def test_round_trip_restores_every_parameter_and_buffer(tmp_path):
    model = _model(0).eval()
    path = io.save_safetensors(tmp_path / "w.safetensors", model)
    other = _model(1).eval()
    assert not numpy.array_equal(other[0].weight.data, model[0].weight.data)
    state = io.load_safetensors(path, other)
    expected = model.state_dict()
    assert list(state) == list(expected)
    for key, value in expected.items():
        numpy.testing.assert_array_equal(other.state_dict()[key], value, err_msg=key)
    numpy.testing.assert_array_equal(other(_x()).data, model(_x()).data)


def test_the_file_is_the_documented_format(tmp_path):
    model = _model()
    path = io.save_safetensors(tmp_path / "w.safetensors", model, metadata={"epoch": "3"})
    header, data = _raw(path)
    assert header.pop("__metadata__") == {"epoch": "3", "dlcore.layout": "dlcore"}
    assert (os.path.getsize(path) - len(data)) % 8 == 0  # the data starts 8-byte aligned
    state = model.state_dict()
    assert set(header) == set(state)
    for key, entry in header.items():
        begin, end = entry["data_offsets"]
        assert entry["dtype"] == "F32" and entry["shape"] == list(state[key].shape)
        numpy.testing.assert_array_equal(numpy.frombuffer(data[begin:end], "<f4").reshape(entry["shape"]), state[key])
    assert sorted(e["data_offsets"][1] for e in header.values())[-1] == len(data)


def test_pytorch_layout_transposes_linear_weights_only(tmp_path):
    model = _model()
    path = io.save_safetensors(tmp_path / "w.safetensors", model, layout="pytorch")
    stored, metadata = io.read_safetensors(path)
    assert metadata["dlcore.layout"] == "pytorch"
    assert stored["4.weight"].shape == (5, 48) and stored["6.weight"].shape == (2, 5)   # (out, in)
    numpy.testing.assert_array_equal(stored["4.weight"], model[4].weight.data.T)
    numpy.testing.assert_array_equal(stored["0.weight"], model[0].weight.data)           # conv (out, in, kh, kw)
    assert stored["0.weight"].shape == (3, 1, 3, 3) and stored["5.weight"].shape == (1,)
    # PyTorch's formula y = x Wᵀ + b on the stored arrays gives the dlcore layer's output
    h = numpy.random.default_rng(4).standard_normal((3, 48)).astype(numpy.float32)
    numpy.testing.assert_allclose(h @ stored["4.weight"].T + stored["4.bias"], model[4](Tensor(h)).data,
                                  rtol=1e-5, atol=1e-6)
    # loading it (layout read from the file) puts the weights back as (in, out)
    other = _model(1)
    state = io.load_safetensors(path, other)
    assert state["4.weight"].shape == (48, 5)
    numpy.testing.assert_array_equal(other[4].weight.data, model[4].weight.data)
    numpy.testing.assert_array_equal(other[6].weight.data, model[6].weight.data)
    # without a model the arrays come back as stored
    assert io.load_safetensors(path)["4.weight"].shape == (5, 48)


def test_pytorch_layout_drops_batch_norm_counters(tmp_path):
    model = MLP([4, 3, 2], batch_norm=True)
    state = {k: (v.T if k in ("0.weight", "3.weight") else v) for k, v in model.state_dict().items()}
    state["1.num_batches_tracked"] = numpy.array(7, dtype=numpy.int64)  # as a PyTorch state_dict has it
    path = _write_by_hand(tmp_path / "t.safetensors", state)
    other = MLP([4, 3, 2], batch_norm=True)
    with pytest.raises(CheckpointError, match="unexpected keys \\['1.num_batches_tracked'\\]"):
        io.load_safetensors(path, other)  # no layout recorded: dlcore's is assumed, nothing dropped
    with pytest.raises(CheckpointError, match="has shape \\(3, 4\\) in the state but \\(4, 3\\)"):
        io.load_safetensors(path, other, strict=False)  # nor transposed
    io.load_safetensors(path, other, layout="pytorch")
    for key, value in model.state_dict().items():
        numpy.testing.assert_array_equal(other.state_dict()[key], value, err_msg=key)


def test_layout_mismatch_missing_keys_and_bad_arguments_are_errors(tmp_path):
    model = _model()
    path = io.save_safetensors(tmp_path / "w.safetensors", model, layout="pytorch")
    with pytest.raises(CheckpointError, match="'pytorch' layout, asked to load it as 'dlcore'"):
        io.load_safetensors(path, _model(), layout="dlcore")
    with pytest.raises(CheckpointError, match="missing keys"):
        io.load_safetensors(path, nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="layout must be one of"):
        io.save_safetensors(tmp_path / "x.safetensors", model, layout="torch")
    with pytest.raises(TypeError, match="needs the Module"):
        io.save_safetensors(tmp_path / "x.safetensors", model.state_dict(), layout="pytorch")
    with pytest.raises(TypeError, match="str to str"):
        io.save_safetensors(tmp_path / "x.safetensors", model, metadata={"epoch": 3})


def test_a_failed_save_leaves_the_previous_file(tmp_path):
    path = io.save_safetensors(tmp_path / "w.safetensors", {"a": numpy.ones(3, numpy.float32)})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="complex64.*cannot hold"):
        io.save_safetensors(path, {"a": numpy.ones(3, numpy.float32), "z": numpy.ones(2, numpy.complex64)})
    assert path.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["w.safetensors"]


@pytest.mark.parametrize("damage, message", [
    (lambda b: b[:5], "shorter than the 8-byte"),
    (lambda b: b[:40], "runs past the end"),
    (lambda b: b[:-4], "needs 12 bytes"),
    (lambda b: b + b"\0" * 4, "cover 12 of the 16"),
    (lambda b: b[:8] + b"[" + b[9:], "not UTF-8 JSON"),
])
def test_damaged_files_are_errors_naming_the_file(tmp_path, damage, message):
    good = io.save_safetensors(tmp_path / "good.safetensors", {"a": numpy.arange(3, dtype=numpy.float32)})
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(damage(good.read_bytes()))
    with pytest.raises(CheckpointError, match=message) as caught:
        io.read_safetensors(bad)
    assert str(bad) in str(caught.value)


def test_overlapping_offsets_are_refused(tmp_path):
    header = json.dumps({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                         "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}).encode()
    path = tmp_path / "overlap.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + bytes(12))
    with pytest.raises(CheckpointError, match="'b' starts at byte 4, expected 8"):
        io.read_safetensors(path)


def test_every_dtype_round_trips(tmp_path):
    arrays = {"f16": numpy.array([1.5, -2.0], numpy.float16), "f64": numpy.array([[1e300]]),
              "i64": numpy.array([-(2 ** 62), 5]), "u8": numpy.arange(4, dtype=numpy.uint8),
              "b": numpy.array([True, False, True]), "scalar": numpy.array(3.0, numpy.float32),
              "empty": numpy.zeros((0, 3), numpy.float32), "i32": numpy.array([7], numpy.int32)}
    loaded, metadata = io.read_safetensors(io.save_safetensors(tmp_path / "d.safetensors", arrays))
    assert list(loaded) == list(arrays) and metadata == {}  # a dict records no layout
    for key, value in arrays.items():
        assert loaded[key].dtype == value.dtype and loaded[key].shape == value.shape, key
        numpy.testing.assert_array_equal(loaded[key], value)
    loaded["f64"][0, 0] = 2.0  # writable arrays
    assert loaded["f64"][0, 0] == 2.0


def test_the_safetensors_package_reads_ours_and_we_read_its(tmp_path):
    st = pytest.importorskip("safetensors.numpy", reason="the safetensors package is not installed")
    model = LeNet(input_size=12, channels=(2, 3), hidden=(5, 4))
    ours = io.save_safetensors(tmp_path / "ours.safetensors", model, metadata={"k": "v"})
    theirs = st.load_file(str(ours))
    assert set(theirs) == set(model.state_dict())
    for key, value in model.state_dict().items():
        numpy.testing.assert_array_equal(theirs[key], value, err_msg=key)
    arrays = {"w": numpy.random.default_rng(0).standard_normal((3, 4)).astype(numpy.float32),
              "n": numpy.array([1, 2], numpy.int64), "h": numpy.ones(5, numpy.float16)}
    st.save_file(arrays, str(tmp_path / "theirs.safetensors"), metadata={"m": "1"})
    loaded, metadata = io.read_safetensors(tmp_path / "theirs.safetensors")
    assert metadata == {"m": "1"}
    for key, value in arrays.items():
        numpy.testing.assert_array_equal(loaded[key], value, err_msg=key)


def test_torch_linear_loads_the_pytorch_layout(tmp_path):
    torch = pytest.importorskip("torch")
    st_torch = pytest.importorskip("safetensors.torch")
    model = MLP([4, 6, 3], activation="tanh")
    path = io.save_safetensors(tmp_path / "mlp.safetensors", model, layout="pytorch")
    reference = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 3))
    reference.load_state_dict(st_torch.load_file(str(path)))
    x = numpy.random.default_rng(0).standard_normal((5, 4)).astype(numpy.float32)
    numpy.testing.assert_allclose(reference(torch.from_numpy(x)).detach().numpy(), model(Tensor(x)).data,
                                  rtol=1e-5, atol=1e-6)


@pytest.mark.gpu
def test_a_model_on_the_gpu_saves_and_loads_on_the_host(tmp_path):
    model = _model().to("cupy")
    path = io.save_safetensors(tmp_path / "gpu.safetensors", model, layout="pytorch")
    host = _model(1)
    io.load_safetensors(path, host)
    for key, value in host.state_dict().items():
        numpy.testing.assert_array_equal(value, model.state_dict()[key], err_msg=key)
