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
"""
from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy

from backends import UserError
from dlcore.nn import Module

FORMAT = 1
_HEADER = "__dlcore__"
_RESERVED = ("model", "optimizer")


class CheckpointError(UserError, ValueError):
    """A checkpoint is unreadable, truncated, or lacks or mismatches a key; names file and key."""


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

    ``meta`` must be JSON-serializable (NumPy scalars/arrays are converted to numbers/lists),
    e.g. epoch, config, metrics, ``rng=generator.bit_generator.state`` (the names "model" and
    "optimizer" are taken by the arguments). Missing parent folders are created.
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
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=_TEMPORARY_SUFFIX, dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


_TEMPORARY_SUFFIX = ".tmp"


def _umask() -> int:
    """The process's umask (reading it means setting it: it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def remove_temporaries(folder) -> list[Path]:
    """Delete the temporary files that ``atomic_write`` calls left in ``folder`` when their process
    was killed mid-write (``.<name>.<random>.tmp``); returns the paths removed. Call it when no
    other process writes into ``folder`` (a run's start or resume)."""
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
    """
    path = Path(path)
    try:
        with numpy.load(path, allow_pickle=False) as z:
            def get(key):
                if key not in z.files:
                    raise CheckpointError(f"{path}: checkpoint has no key {key!r}")
                return z[key]

            header = json.loads(bytes(get(_HEADER)).decode("utf-8"))
            if header["format"] != FORMAT:
                raise CheckpointError(f"{path}: checkpoint format {header['format']!r}, expected {FORMAT}")
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
