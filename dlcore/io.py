"""Checkpoints: a model's state, its optimizer's state and JSON metadata in one ``.npz`` file.

    dlcore.io.save("run/last.npz", model, optimizer, epoch=3, config=cfg, metrics={"val_loss": 0.2})
    ckpt = dlcore.io.load("run/last.npz")     # {"model": {...}, "optimizer": {...}, "epoch": 3, ...}
    meta = dlcore.io.restore("run/last.npz", model, optimizer)   # loads into them, returns the meta

Layout of the file (``numpy.load`` opens it; no pickle anywhere):

- ``model/<dotted name>``: each array of ``model.state_dict()`` (parameters and buffers);
- ``optimizer/<parameter name>/<buffer>``: each array of the optimizer's ``state``;
- ``__dlcore__``: UTF-8 JSON (as uint8) with the format version, the model keys, the
  optimizer's type, hyperparameters, step, parameter names and buffer names, and the meta.

Arrays are saved as NumPy copies (saving never moves the model) and load as NumPy;
``load_state_dict`` puts them on each parameter's current device, so a checkpoint written on
the GPU loads on the CPU and back. Writing is atomic: a temporary file in the same folder,
flushed and fsynced, then ``os.replace``, so a crash never leaves a half-written checkpoint
and a failed save leaves the previous file intact.

Weights alone, for other frameworks: ``save_safetensors``/``load_safetensors`` (the safetensors
format, with PyTorch's layout of Linear weights on request), at the end of this file.
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy

import backends
from backends import UserError
from dlcore.core import Tensor
from dlcore.nn import BatchNorm1d, BatchNorm2d, Linear, Module

#: the checkpoint format this dlcore writes; it reads every format in READABLE.
#: 1: model, optimizer and JSON meta; 2: arrays inside the meta's dicts (callback states) stored as arrays.
FORMAT = 2
READABLE = (1, 2)
_HEADER = "__dlcore__"
_RESERVED = ("model", "optimizer")


class CheckpointError(UserError, ValueError):
    """A checkpoint is unreadable, truncated, or lacks or mismatches a key; names file and key.

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "broken.npz")
        ...     _ = path.write_bytes(b"not a checkpoint")
        ...     dlcore.io.load(path)
        Traceback (most recent call last):
            ...
        dlcore.io.CheckpointError: .../broken.npz: not a readable dlcore checkpoint (truncated or corrupt?): ...
    """


def _json_default(value):
    """NumPy scalars and arrays in the meta become Python numbers and lists."""
    if isinstance(value, (numpy.generic, numpy.ndarray)):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


_ARRAY_REF = "__array__"


def _arrays_out(value, name: str, arrays: dict):
    """``value`` with each NumPy array inside its dicts moved into ``arrays`` (under a fresh
    name beginning with ``name``) and replaced by ``{"__array__": that name}``."""
    if isinstance(value, numpy.ndarray):
        key = f"{name}/{len(arrays)}"
        arrays[key] = value
        return {_ARRAY_REF: key}
    if isinstance(value, dict):
        return {k: _arrays_out(v, name, arrays) for k, v in value.items()}
    return value


def _arrays_in(value, get):
    """The inverse of ``_arrays_out``: each ``{"__array__": key}`` becomes ``get(key)``."""
    if isinstance(value, dict):
        if set(value) == {_ARRAY_REF}:
            return get(value[_ARRAY_REF])
        return {k: _arrays_in(v, get) for k, v in value.items()}
    return value


def save(path, model, optimizer=None, **meta) -> Path:
    """Write ``model`` (and ``optimizer``) state plus ``meta`` to ``path`` atomically; returns the path.

    ``meta`` must be JSON-serializable, but for NumPy values: an array that is a value of ``meta``
    or of a dict inside it is stored as an array and loads back as one (a callback's best
    weights, say); NumPy scalars, and arrays inside lists, become numbers and lists,
    e.g. epoch, config, metrics, ``rng=generator.bit_generator.state`` (the names "model" and
    "optimizer" are taken by the arguments). Missing parent folders are created.

    Example::

        >>> import os, tempfile
        >>> model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
        >>> opt = optim.Momentum(model, lr=0.1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save(os.path.join(folder, "run", "last.npz"), model, opt, epoch=3, note="first try")
        ...     checkpoint = dlcore.io.load(path)
        >>> list(checkpoint["model"]), checkpoint["epoch"], checkpoint["note"]
        (['0.weight', '0.bias', '1.weight', '1.bias', '1.running_mean', '1.running_var'], 3, 'first try')
    """
    if not isinstance(model, Module) or not (optimizer is None or callable(getattr(optimizer, "step", None))):
        raise TypeError(f"io.save(path, model, optimizer=None, **meta): got model {type(model).__name__} and "
                        f"optimizer {type(optimizer).__name__}; the model must be a dlcore.nn.Module and the "
                        f"optimizer a dlcore.optim optimizer (or a wrapper of one)")
    path = Path(path)
    model_state = model.state_dict()
    arrays = {f"model/{k}": v for k, v in model_state.items()}
    header = {"format": FORMAT, "model": list(model_state), "optimizer": None,
              "meta": _arrays_out(meta, "meta", arrays)}
    if optimizer is not None:
        opt = optimizer.state_dict()
        header["optimizer"] = {k: opt[k] for k in ("type", "hyper", "step", "params")}
        header["optimizer"]["state"] = {name: list(bufs) for name, bufs in opt["state"].items()}
        arrays.update({f"optimizer/{name}/{b}": a for name, bufs in opt["state"].items() for b, a in bufs.items()})
    try:
        text = json.dumps(header, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as why:
        raise TypeError(f"dlcore.io.save({str(path)!r}): meta is not JSON-serializable ({why})") from why
    arrays[_HEADER] = numpy.frombuffer(text.encode("utf-8"), dtype=numpy.uint8)

    with atomic_write(path, "wb") as f:
        numpy.savez(f, **arrays)
    return path


@contextlib.contextmanager
def atomic_write(path, mode: str = "wb"):
    """Write ``path`` so that readers see the old file or the whole new one, never half of it.

    Yields a file object on a temporary file ``.<name>.<random>.tmp`` in the same folder
    (missing folders are made); on success it is flushed, fsynced and renamed over ``path``; on
    any error it is removed and ``path`` stays as it was. A process killed while writing leaves
    its temporary file behind: ``remove_temporaries`` clears them. The file gets the permissions
    of any new file (0o666 less the umask), not the 0o600 of a temporary file. Checkpoints,
    histories, configs and plots all go through it.

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "numbers.txt")
        ...     with dlcore.io.atomic_write(path, "w") as f:
        ...         _ = f.write("1 2 3")
        ...     try:
        ...         with dlcore.io.atomic_write(path, "w") as f:
        ...             _ = f.write("4 5")
        ...             raise RuntimeError("crash while writing")
        ...     except RuntimeError:
        ...         pass
        ...     print(path.read_text(), sorted(p.name for p in path.parent.iterdir()))    # the old file, no leftovers
        1 2 3 ['numbers.txt']
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def write_text_atomic(path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` so that readers see the old file or the whole new one (``atomic_write``).

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = pathlib.Path(folder, "logs", "note.txt")    # missing folders are made
        ...     dlcore.io.write_text_atomic(path, "λ = 0.01")
        ...     print(path.read_text(encoding="utf-8"))
        λ = 0.01
    """
    with atomic_write(path, "w") as f:
        f.write(text)


_TEMPORARY_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask (reading it means setting it: it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_temporaries(folder) -> list[Path]:
    """Delete the temporary files that ``atomic_write`` calls left in ``folder`` when their process
    was killed mid-write (``.<name>.<random>.tmp``); returns the paths removed. Call it when no
    other process writes into ``folder`` (a run's start or resume).

    Example::

        >>> import pathlib, tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     _ = pathlib.Path(folder, ".last.npz.k3j2x.tmp").write_bytes(b"half a checkpoint")    # a killed writer's
        ...     _ = pathlib.Path(folder, "last.npz").write_bytes(b"")
        ...     removed = dlcore.io.remove_temporaries(folder)
        ...     print([p.name for p in removed], [p.name for p in pathlib.Path(folder).iterdir()])
        ['.last.npz.k3j2x.tmp'] ['last.npz']
    """
    removed = []
    for path in Path(folder).glob(f".*{_TEMPORARY_SUFFIX}"):
        if path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass


def load(path) -> dict:
    """{"model": {name: NumPy array}, "optimizer": state_dict or None, **meta} from ``path``.

    The optimizer's state dict is rebuilt exactly as ``Optimizer.state_dict()`` returned it.
    Raises FileNotFoundError for a missing file and CheckpointError naming the file (and the
    key) for a truncated, corrupt or incomplete one.

    Example::

        >>> import os, tempfile
        >>> model = nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save(os.path.join(folder, "ckpt.npz"), model, optim.SGD(model, lr=0.1), epoch=7)
        ...     checkpoint = dlcore.io.load(path)
        >>> sorted(checkpoint), checkpoint["optimizer"]["type"]
        (['epoch', 'model', 'optimizer'], 'SGD')
        >>> np.array_equal(checkpoint["model"]["weight"], model.weight.numpy())    # NumPy arrays
        True
    """
    path = Path(path)
    try:
        with numpy.load(path, allow_pickle=False) as z:
            def get(key):
                if key not in z.files:
                    raise CheckpointError(f"{path}: checkpoint has no key {key!r}")
                return z[key]

            header = json.loads(bytes(get(_HEADER)).decode("utf-8"))
            if header["format"] not in READABLE:
                newer = isinstance(header["format"], int) and header["format"] > FORMAT
                raise CheckpointError(f"{path}: checkpoint format {header['format']!r}"
                                      f"{', written by a newer dlcore' if newer else ''}; this dlcore reads formats "
                                      f"{', '.join(map(str, READABLE))}"
                                      f"{' (upgrade dlcore to read it)' if newer else ''}")
            result = {"model": {k: get(f"model/{k}") for k in header["model"]}, "optimizer": None}
            opt = header["optimizer"]
            if opt is not None:
                state = {name: {b: get(f"optimizer/{name}/{b}") for b in bufs} for name, bufs in opt["state"].items()}
                result["optimizer"] = {**opt, "state": state}
            result.update(_arrays_in(header["meta"], get))
    except (FileNotFoundError, CheckpointError):
        raise
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, KeyError, TypeError) as why:
        raise CheckpointError(f"{path}: not a readable dlcore checkpoint (truncated or corrupt?): "
                              f"{type(why).__name__}: {why}") from why
    return result


def restore(path, model, optimizer=None) -> dict:
    """Load ``path`` into ``model`` (and ``optimizer``) on their current devices; return the meta.

    A key the model or optimizer expects but the checkpoint lacks, or a shape or dtype that
    differs, raises CheckpointError naming the file and the key.

    Example::

        >>> import os, tempfile
        >>> model, other = nn.Linear(2, 1), nn.Linear(2, 1)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save(os.path.join(folder, "ckpt.npz"), model, epoch=5)
        ...     meta = dlcore.io.restore(path, other)    # the weights go into other
        >>> meta, np.array_equal(other.weight.numpy(), model.weight.numpy())
        ({'epoch': 5}, True)
    """
    ckpt = load(path)
    try:
        model.load_state_dict(ckpt["model"])
        if optimizer is not None:
            if ckpt["optimizer"] is None:
                raise CheckpointError(f"{path}: checkpoint has no optimizer state")
            optimizer.load_state_dict(ckpt["optimizer"])
    except CheckpointError:
        raise
    except (KeyError, ValueError) as why:
        raise CheckpointError(f"{path}: {why.args[0] if why.args else why}") from why
    return {k: v for k, v in ckpt.items() if k not in _RESERVED}


# ---- safetensors: weights for other frameworks ----------------------------------------------------
# The format (https://github.com/huggingface/safetensors, "Format"): an 8-byte little-endian unsigned
# header length N, N bytes of UTF-8 JSON {name: {"dtype", "shape", "data_offsets": [begin, end]}, …,
# "__metadata__": {str: str}}, then the raw little-endian C-order bytes of every tensor, the offsets
# counted from the end of the header and covering that byte buffer exactly. Written here in a few
# lines rather than with the ``safetensors`` package (the tests check both agree when it is installed).

#: safetensors dtype name → NumPy dtype (little-endian); bfloat16 and the float8s have no NumPy dtype
SAFETENSORS_DTYPES = {"BOOL": numpy.dtype("?"), "U8": numpy.dtype("u1"), "I8": numpy.dtype("i1"),
                      "U16": numpy.dtype("<u2"), "I16": numpy.dtype("<i2"), "F16": numpy.dtype("<f2"),
                      "U32": numpy.dtype("<u4"), "I32": numpy.dtype("<i4"), "F32": numpy.dtype("<f4"),
                      "U64": numpy.dtype("<u8"), "I64": numpy.dtype("<i8"), "F64": numpy.dtype("<f8")}
_SAFETENSORS_NAMES = {dtype.newbyteorder("="): name for name, dtype in SAFETENSORS_DTYPES.items()}
#: the layouts of save_safetensors/load_safetensors
LAYOUTS = ("dlcore", "pytorch")
_LAYOUT_KEY = "dlcore.layout"  # the __metadata__ entry that records the layout a file was written in


def _linear_weight_keys(model) -> set[str]:
    """The state_dict keys of every ``nn.Linear`` weight in ``model``: the arrays the layouts differ in."""
    return {f"{prefix}.weight" if prefix else "weight" for prefix, m in model.named_modules() if isinstance(m, Linear)}


def _check_layout(owner: str, layout) -> str:
    if layout not in LAYOUTS:
        raise ValueError(f"{owner}: layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    return layout


def save_safetensors(path, model, layout: str = "dlcore", metadata: dict | None = None) -> Path:
    """Write the weights of ``model`` (a Module, or a ``{name: array}`` dict such as a state_dict) to
    ``path`` in the safetensors format, atomically (``atomic_write``); returns the path.

    Every parameter and buffer of ``model.state_dict()`` is one tensor under its dotted name
    (``0.weight``, ``layer1.0.block.1.running_mean`` …), in its own dtype, on the host.
    ``layout``:

    - ``"dlcore"``: the arrays as the state_dict has them; ``nn.Linear`` weights are
      (in_features, out_features), since y = x @ W + b;
    - ``"pytorch"``: ``nn.Linear`` weights transposed to (out_features, in_features), PyTorch's
      y = x Wᵀ + b, so that ``torch.nn.Linear(in, out).load_state_dict(safetensors.torch.load_file(path))``
      loads them (a ``torch.nn.Sequential`` of the same layers loads a dlcore ``Sequential``/``MLP``).
      Conv2d (out, in, kh, kw), ConvTranspose2d (in, out, kh, kw), BatchNorm's weight, bias and
      running statistics and PReLU's slopes already match PyTorch and are written as they are.
      Needs a Module (a bare dict does not say which arrays are Linear weights).

    ``metadata`` (str → str) goes into the header's ``__metadata__``, with ``dlcore.layout`` = the
    layout when a Module is saved (a dict is written as given and records no layout), which
    ``load_safetensors`` reads back. Raises ValueError for a dtype safetensors lacks.

    Example::

        >>> import os, tempfile
        >>> model = nn.Sequential(nn.Linear(3, 2))
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save_safetensors(os.path.join(folder, "model.safetensors"), model, layout="pytorch")
        ...     arrays, metadata = dlcore.io.read_safetensors(path)
        >>> arrays["0.weight"].shape, metadata    # PyTorch's (out_features, in_features)
        ((2, 3), {'dlcore.layout': 'pytorch'})
    """
    layout = _check_layout("save_safetensors", layout)
    if isinstance(model, Module):
        state = model.state_dict()
        transposed = _linear_weight_keys(model) if layout == "pytorch" else set()
    elif isinstance(model, dict):
        if layout == "pytorch":
            raise TypeError("save_safetensors(layout='pytorch') needs the Module, not a dict: the dict does not "
                            "say which arrays are Linear weights to transpose")
        state = {k: numpy.asarray(backends.to_numpy(v.data if isinstance(v, Tensor) else v)) for k, v in model.items()}
        transposed = set()
    else:
        raise TypeError(f"save_safetensors(path, model): model must be a dlcore.nn.Module or a dict of arrays, "
                        f"got {type(model).__name__}")
    metadata = dict(metadata or {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"save_safetensors: metadata must map str to str (the format allows nothing else), "
                        f"got {metadata!r}")
    if isinstance(model, Module):  # a dict's layout is unknown: it records none
        metadata[_LAYOUT_KEY] = layout

    header, arrays, offset = {"__metadata__": metadata}, [], 0
    for name, array in state.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"save_safetensors: tensor names must be strings other than '__metadata__', got {name!r}")
        array = array.T if name in transposed else array
        kind = _SAFETENSORS_NAMES.get(array.dtype.newbyteorder("="))
        if kind is None:
            raise ValueError(f"save_safetensors: {name!r} has dtype {array.dtype}, which safetensors cannot hold "
                             f"(it holds {', '.join(SAFETENSORS_DTYPES)})")
        array = array.astype(SAFETENSORS_DTYPES[kind], order="C", copy=False)  # 0-d stays 0-d
        header[name] = {"dtype": kind, "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        arrays.append(array)
        offset += array.nbytes
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer pads it
    path = Path(path)
    with atomic_write(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for array in arrays:
            if array.nbytes:
                f.write(memoryview(array.reshape(-1)).cast("B"))
    return path


def read_safetensors(path) -> tuple[dict, dict]:
    """({name: NumPy array}, metadata) of the safetensors file ``path``, the arrays in file order.

    The arrays are writable views of one buffer read from the file (native byte order). Raises
    FileNotFoundError for a missing file and CheckpointError naming the file (and the tensor) for a
    header that is not the format's: a length past the end, JSON that is not an object, an unknown
    dtype, a shape and byte range that disagree, or byte ranges that overlap or leave gaps.

    Example::

        >>> import os, tempfile
        >>> weights = {"w": np.arange(6, dtype="float32").reshape(2, 3), "step": np.array(4)}
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save_safetensors(os.path.join(folder, "w.safetensors"), weights, metadata={"by": "me"})
        ...     arrays, metadata = dlcore.io.read_safetensors(path)
        >>> print(arrays["w"], arrays["step"], metadata)
        [[0. 1. 2.]
         [3. 4. 5.]] 4 {'by': 'me'}
    """
    path = Path(path)
    buffer = bytearray(path.read_bytes())

    def fail(why):
        return CheckpointError(f"{path}: not a readable safetensors file: {why}")

    if len(buffer) < 8:
        raise fail(f"{len(buffer)} bytes, shorter than the 8-byte header length")
    n = int.from_bytes(buffer[:8], "little")
    if n > len(buffer) - 8:
        raise fail(f"the header length {n} runs past the end of the file ({len(buffer)} bytes; truncated?)")
    try:
        header = json.loads(buffer[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as why:
        raise fail(f"the header is not UTF-8 JSON ({why})") from why
    if not isinstance(header, dict):
        raise fail(f"the header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise fail(f"__metadata__ must map str to str, got {metadata!r}")
    start, size = 8 + n, len(buffer) - 8 - n
    arrays, spans = {}, []
    for name, entry in header.items():
        try:
            dtype = SAFETENSORS_DTYPES[entry["dtype"]]
            shape = tuple(entry["shape"])
            begin, end = entry["data_offsets"]
            if not all(isinstance(d, int) and d >= 0 for d in (*shape, begin, end)):
                raise ValueError("shape and data_offsets must be non-negative integers")
        except (KeyError, TypeError, ValueError) as why:
            raise fail(f"tensor {name!r} has a malformed entry {entry!r} ({type(why).__name__}: {why})") from why
        count = int(numpy.prod(shape, dtype=numpy.int64))
        if end - begin != count * dtype.itemsize or end > size:
            raise fail(f"tensor {name!r}: {entry['dtype']} {list(shape)} needs {count * dtype.itemsize} bytes but "
                       f"data_offsets {[begin, end]} give {end - begin} of a {size}-byte buffer")
        array = numpy.frombuffer(buffer, dtype, count, start + begin) if count else numpy.zeros(0, dtype)
        arrays[name] = array.reshape(shape).astype(dtype.newbyteorder("="), copy=False)
        spans.append((begin, end, name))
    covered = 0
    for begin, end, name in sorted(spans):
        if begin != covered:
            raise fail(f"tensor {name!r} starts at byte {begin}, expected {covered} (overlapping or gapped data)")
        covered = end
    if covered != size:
        raise fail(f"the tensors cover {covered} of the {size} data bytes")
    return arrays, metadata


def load_safetensors(path, model=None, layout: str | None = None, strict: bool = True) -> dict:
    """The weights in the safetensors file ``path`` as {name: NumPy array}, loaded into ``model`` if given.

    ``layout`` ("dlcore" or "pytorch", see ``save_safetensors``) defaults to the one the file
    records (``dlcore.layout`` in its metadata), else "dlcore"; a file that records the other one
    is a CheckpointError rather than a silent transpose. With a ``model``, each ``nn.Linear``
    weight of a "pytorch" file is transposed back to (in_features, out_features), PyTorch's
    BatchNorm ``num_batches_tracked`` counters are dropped, and the arrays go through
    ``model.load_state_dict(state, strict)`` onto the model's device; the returned dict is then in
    dlcore's layout. Without a model the arrays are returned as stored. Missing or unexpected keys
    (when ``strict``) and shape or dtype mismatches are CheckpointErrors naming the file.

    Example::

        >>> import os, tempfile
        >>> model, copy = nn.Linear(3, 2), nn.Linear(3, 2)
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     path = dlcore.io.save_safetensors(os.path.join(folder, "model.safetensors"), model, layout="pytorch")
        ...     arrays = dlcore.io.load_safetensors(path, copy)    # transposed back into dlcore's layout
        >>> arrays["weight"].shape, np.array_equal(copy.weight.numpy(), model.weight.numpy())
        ((3, 2), True)
    """
    arrays, metadata = read_safetensors(path)
    recorded = metadata.get(_LAYOUT_KEY)
    layout = _check_layout("load_safetensors", layout if layout is not None else recorded or "dlcore")
    if recorded is not None and recorded != layout:
        raise CheckpointError(f"{path}: written in the {recorded!r} layout, asked to load it as {layout!r}; "
                              f"pass layout={recorded!r} (or leave it out)")
    if model is None:
        return arrays
    if layout == "pytorch":
        for key in _linear_weight_keys(model) & set(arrays):
            arrays[key] = numpy.ascontiguousarray(arrays[key].T)
        norms = {prefix for prefix, m in model.named_modules() if isinstance(m, (BatchNorm1d, BatchNorm2d))}
        for key in [k for k in arrays if k.endswith("num_batches_tracked")]:
            if key.rpartition(".")[0] in norms or key == "num_batches_tracked" and "" in norms:
                del arrays[key]
    try:
        model.load_state_dict(arrays, strict=strict)
    except (KeyError, ValueError) as why:
        raise CheckpointError(f"{path}: {why.args[0] if why.args else why}") from why
    return arrays
