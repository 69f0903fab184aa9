"""Checkpoints: round trip of model, optimizer and meta; atomic writes; errors naming file and key."""
import os

import numpy
import pytest

import backends
import dlcore
from dlcore import io, nn, optim
from dlcore.io import CheckpointError


class Net(nn.Module):
    """Two linear layers and a buffer (like BatchNorm's running statistics)."""

    def __init__(self, hidden=4):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(3, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.register_buffer("count", numpy.zeros(2, dtype=numpy.float32))

    def forward(self, x):
        return self.body(x)


def trained(backend="numpy", steps=2, opt=optim.Adam):
    """A Net and its optimizer after ``steps`` updates on fixed data, on ``backend``."""
    dlcore.manual_seed(0)
    model = Net().to(backend)
    optimizer = opt(model, lr=0.01)
    x = backends.to_device(numpy.random.default_rng(1).standard_normal((8, 3)).astype(numpy.float32), backend)
    for _ in range(steps):
        optimizer.zero_grad()
        (model(dlcore.Tensor(x)) ** 2).mean().backward()
        optimizer.step()
    model.count = model.count + 1
    return model, optimizer, x


def assert_same_state(a, b):
    assert list(a) == list(b)
    for k in a:
        assert a[k].dtype == b[k].dtype, k
        numpy.testing.assert_array_equal(backends.to_numpy(a[k]), backends.to_numpy(b[k]), err_msg=k)


def assert_same_optimizer_state(a, b):
    scalars = ("type", "hyper", "step", "params")
    assert {k: a[k] for k in scalars} == {k: b[k] for k in scalars}
    assert list(a["state"]) == list(b["state"])
    for name in a["state"]:
        assert_same_state(a["state"][name], b["state"][name])


@pytest.mark.parametrize("opt", [optim.Adam, optim.Momentum, optim.SGD])
def test_round_trip_of_model_optimizer_and_meta(tmp_path, opt):
    model, optimizer, _ = trained(opt=opt)
    rng = numpy.random.default_rng(5)
    meta = {"epoch": 3, "config": {"model": {"hidden": [4]}, "lr": 0.01}, "metrics": {"val_loss": numpy.float32(0.25)},
            "rng": rng.bit_generator.state}
    io.save(tmp_path / "ckpt.npz", model, optimizer, **meta)
    ckpt = io.load(tmp_path / "ckpt.npz")
    assert set(ckpt) == {"model", "optimizer", "epoch", "config", "metrics", "rng"}
    assert_same_state(ckpt["model"], model.state_dict())
    assert all(isinstance(a, numpy.ndarray) for a in ckpt["model"].values())
    assert_same_optimizer_state(ckpt["optimizer"], optimizer.state_dict())
    assert ckpt["epoch"] == 3 and ckpt["config"] == meta["config"] and ckpt["metrics"] == {"val_loss": 0.25}
    restored = numpy.random.default_rng()
    restored.bit_generator.state = ckpt["rng"]
    assert restored.random() == rng.random()


def test_restore_resumes_bit_for_bit(tmp_path):
    model, optimizer, x = trained()
    io.save(tmp_path / "c.npz", model, optimizer, epoch=2)
    fresh_model = Net(); fresh_opt = optim.Adam(fresh_model, lr=0.5)
    assert io.restore(tmp_path / "c.npz", fresh_model, fresh_opt) == {"epoch": 2}
    assert fresh_opt.lr == 0.01 and fresh_opt.t == 2
    for m, o in ((model, optimizer), (fresh_model, fresh_opt)):
        o.zero_grad()
        (m(dlcore.Tensor(x)) ** 2).mean().backward()
        o.step()
    assert_same_state(model.state_dict(), fresh_model.state_dict())


def test_model_only_checkpoint(tmp_path):
    model, _, _ = trained()
    io.save(tmp_path / "sub" / "m.npz", model)  # missing folders are created
    ckpt = io.load(tmp_path / "sub" / "m.npz")
    assert ckpt["optimizer"] is None and set(ckpt) == {"model", "optimizer"}
    with pytest.raises(CheckpointError, match="m.npz: checkpoint has no optimizer state"):
        io.restore(tmp_path / "sub" / "m.npz", Net(), optim.SGD(Net(), lr=0.1))


def test_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    model, optimizer, _ = trained()
    io.save(path, model, optimizer, epoch=1)
    io.save(path, model, optimizer, epoch=2)  # overwrites in place
    assert os.listdir(tmp_path) == ["ckpt.npz"] and io.load(path)["epoch"] == 2

    def broken_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(io.numpy, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        io.save(path, Net(hidden=7), epoch=3)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ckpt.npz"]  # no temporary file left behind
    ckpt = io.load(path)  # the previous checkpoint is intact
    assert ckpt["epoch"] == 2
    assert_same_state(ckpt["model"], model.state_dict())


def test_meta_is_checked_before_writing(tmp_path):
    with pytest.raises(TypeError, match="meta is not JSON-serializable"):
        io.save(tmp_path / "c.npz", Net(), when=object())
    assert os.listdir(tmp_path) == []


@pytest.mark.parametrize("damage", ["truncate", "flip", "empty", "garbage"])
def test_damaged_checkpoint_names_the_file(tmp_path, damage):
    path = tmp_path / "ckpt.npz"
    model, optimizer, _ = trained()
    io.save(path, model, optimizer)
    raw = bytearray(path.read_bytes())
    if damage == "truncate":
        raw = raw[: len(raw) // 2]
    elif damage == "flip":
        raw[200] ^= 0xFF  # inside the first array's data: its CRC no longer matches
    elif damage == "empty":
        raw = b""
    else:
        raw = b"not a checkpoint at all" * 10
    path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=f"{path}: not a readable dlcore checkpoint"):
        io.load(path)


def test_missing_file_and_missing_key(tmp_path):
    with pytest.raises(FileNotFoundError):
        io.load(tmp_path / "nothing.npz")
    path = tmp_path / "ckpt.npz"
    model, optimizer, _ = trained()
    io.save(path, model, optimizer)
    with numpy.load(path) as z:
        arrays = {k: z[k] for k in z.files if k != "optimizer/body.2.bias/v"}
    numpy.savez(path, **arrays)
    with pytest.raises(CheckpointError, match=f"{path}: checkpoint has no key 'optimizer/body.2.bias/v'"):
        io.load(path)


def test_mismatched_model_names_file_and_key(tmp_path):
    path = tmp_path / "ckpt.npz"
    io.save(path, Net())
    with pytest.raises(CheckpointError,
                       match=rf"{path}: .*'body.0.weight' has shape \(3, 4\) in the state but \(3, 7\)"):
        io.restore(path, Net(hidden=7))
    other = nn.Sequential(nn.Linear(3, 4))
    with pytest.raises(CheckpointError, match=rf"{path}: .*missing keys \['0.bias', '0.weight'\]"):
        io.restore(path, other)


@pytest.mark.gpu
def test_checkpoint_from_the_gpu_loads_on_the_cpu_and_back(tmp_path):
    model, optimizer, _ = trained("cupy")
    io.save(tmp_path / "gpu.npz", model, optimizer, epoch=2)
    assert all(backends.backend_of(p.data).name == "cupy" for p in model.parameters())  # not moved
    ckpt = io.load(tmp_path / "gpu.npz")
    assert all(isinstance(a, numpy.ndarray) for a in ckpt["model"].values())
    cpu_model = Net(); cpu_opt = optim.Adam(cpu_model, lr=0.1)
    io.restore(tmp_path / "gpu.npz", cpu_model, cpu_opt)
    assert_same_state(cpu_model.state_dict(), model.state_dict())
    assert_same_optimizer_state(cpu_opt.state_dict(), optimizer.state_dict())
    io.save(tmp_path / "cpu.npz", cpu_model, cpu_opt)
    gpu_model = Net().to("cupy"); gpu_opt = optim.Adam(gpu_model, lr=0.1)
    io.restore(tmp_path / "cpu.npz", gpu_model, gpu_opt)
    assert all(backends.backend_of(p.data).name == "cupy" for p in gpu_model.parameters())
    assert all(backends.backend_of(a).name == "cupy" for bufs in gpu_opt.state.values() for a in bufs.values())
    assert_same_state(gpu_model.state_dict(), model.state_dict())


def test_save_with_swapped_arguments_and_load_state_dict_of_a_module_say_what_to_pass(tmp_path):
    model = nn.Linear(2, 2)
    opt = optim.SGD(model, lr=0.1)
    with pytest.raises(TypeError, match=r"io.save\(path, model, optimizer=None, \*\*meta\): got model SGD and "
                                        r"optimizer Linear"):
        io.save(tmp_path / "x.npz", opt, model)
    assert not list(tmp_path.iterdir())
    with pytest.raises(TypeError, match=r"Linear.load_state_dict takes a dict of arrays, got Linear "
                                        r"\(did you mean its .state_dict\(\)\?\)"):
        model.load_state_dict(nn.Linear(2, 2))


def _with_format(path, fmt):
    """The checkpoint at ``path`` rewritten with header format ``fmt`` (what another dlcore would write)."""
    import json as _json

    with numpy.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    header = _json.loads(bytes(arrays["__dlcore__"]).decode())
    header["format"] = fmt
    arrays["__dlcore__"] = numpy.frombuffer(_json.dumps(header).encode(), numpy.uint8)
    with open(path, "wb") as f:
        numpy.savez(f, **arrays)


def test_checkpoints_say_their_format_and_old_ones_still_load(tmp_path):
    from dlcore import io as dio
    from dlcore.models import MLP

    model = MLP([3, 4, 2])
    dio.save(tmp_path / "a.npz", model, epoch=1, state={"weights": numpy.arange(3.0)})
    assert dio.FORMAT == 2 and dio.READABLE == (1, 2)
    numpy.testing.assert_array_equal(dio.load(tmp_path / "a.npz")["state"]["weights"], numpy.arange(3.0))
    dio.save(tmp_path / "old.npz", model, epoch=1)
    _with_format(tmp_path / "old.npz", 1)  # a format-1 file: no arrays in its meta
    assert dio.load(tmp_path / "old.npz")["epoch"] == 1
    _with_format(tmp_path / "a.npz", 7)
    with pytest.raises(dio.CheckpointError, match=r"a.npz: checkpoint format 7, written by a newer dlcore; this dlcore "
                                                  r"reads formats 1, 2 \(upgrade dlcore to read it\)"):
        dio.load(tmp_path / "a.npz")
