"""A run's lifecycle: k epochs, then a resume to N, equals N epochs straight, bit for bit (CPU).

Each piece of training state that a resume must bring back has its own test: the learning-rate
schedules, early stopping (best value, patience count, best weights, the stop epoch), the
Checkpoint's best value (``best.npz``), and what ``--set`` may change on a resume.
"""
import json
import math
import os
import re
from pathlib import Path

import numpy
import pytest
from rich.console import Console

from dlcore import io
from dlcore.data import ArrayLoader, spiral
from dlcore.models import MLP
from dlcore import losses, optim
from dlcore.training import DivergenceError, History, Trainer, runconfig
from dlcore.training.run import execute

SPIRAL = Path(__file__).resolve().parent.parent / "configs" / "spiral.toml"
SMALL = ["run.backend='numpy'", "data.n_samples=200", "train.log_every=100", "model.hidden=[16, 16]"]
#: an over-fitting set-up in which early stopping (patience 3) ends a 40-epoch run at epoch 12
STOPPING = ["run.backend='numpy'", "data.n_samples=120", "data.noise=0.3", "optim.lr=0.05", "model.hidden=[64, 64]",
            "early_stopping.patience=3", "train.log_every=100"]


def _start(out_dir, epochs, overrides):
    cfg = runconfig.load(SPIRAL, [*overrides, f"run.out_dir='{out_dir}'", f"train.epochs={epochs}"])
    return Path(execute(cfg, console=Console(quiet=True))["run_dir"])


def _resume(run_dir, *overrides):
    cfg = runconfig.load_run(run_dir, overrides)
    return execute(cfg, run_dir, resume_from=run_dir / "last.npz", console=Console(quiet=True))


def _history(run_dir):
    data = json.loads((run_dir / "history.json").read_text())
    data["epochs"] = [{k: v for k, v in row.items() if k != "seconds"} for row in data["epochs"]]
    return data


def _assert_same_checkpoint(a, b):
    ca, cb = io.load(a), io.load(b)
    assert ca["epoch"] == cb["epoch"]
    assert ca["model"].keys() == cb["model"].keys()
    for name in ca["model"]:
        numpy.testing.assert_array_equal(ca["model"][name], cb["model"][name], err_msg=name)
    assert ca["optimizer"]["hyper"] == cb["optimizer"]["hyper"] and ca["optimizer"]["step"] == cb["optimizer"]["step"]
    for name, buffers in ca["optimizer"]["state"].items():
        for buffer, array in buffers.items():
            numpy.testing.assert_array_equal(array, cb["optimizer"]["state"][name][buffer], err_msg=f"{name}/{buffer}")


def _assert_same_run(straight, resumed):
    assert _history(straight) == _history(resumed)  # every loss, accuracy and lr, to the last bit
    for name in ("last.npz", "best.npz"):
        _assert_same_checkpoint(straight / name, resumed / name)
    scores = [{k: v for k, v in json.loads((run / "metrics.json").read_text()).items() if k.startswith("test_")}
              for run in (straight, resumed)]
    assert scores[0] == scores[1] and scores[0]


@pytest.mark.parametrize("schedule", [
    ["schedule.name='step'", "schedule.step_size=2", "schedule.gamma=0.5"],
    ["schedule.name='exponential'", "schedule.gamma=0.7"],
    ["schedule.name='cosine'", "schedule.t_max=6", "schedule.eta_min=0.001"],  # t_max pinned: 0 follows train.epochs
])
def test_a_resumed_schedule_continues_from_the_base_lr(tmp_path, schedule):
    overrides = [*SMALL, "optim.name='momentum'", "optim.lr=0.1", *schedule]
    straight = _start(tmp_path / "straight", 6, overrides)
    resumed = _start(tmp_path / "resumed", 2, overrides)
    _resume(resumed, "train.epochs=6")
    assert len({row["lr"] for row in _history(straight)["epochs"]}) > 2  # the schedule did move the lr
    _assert_same_run(straight, resumed)


@pytest.mark.parametrize("stopped_after", [10, 12])  # after the best epoch (9); at the stop
def test_a_resumed_run_stops_early_where_the_straight_run_did(tmp_path, stopped_after):
    """Best value, best epoch, patience count and best weights come back; so does best.npz."""
    straight = _start(tmp_path / "straight", 40, STOPPING)
    history = _history(straight)
    assert (history["best_epoch"], history["stopped_epoch"], len(history["epochs"])) == (9, 12, 12)
    resumed = _start(tmp_path / "resumed", stopped_after, STOPPING)
    summary = _resume(resumed, "train.epochs=40")
    _assert_same_run(straight, resumed)  # 12: the run had stopped, and the resume trains no epoch
    assert summary["epochs"] == 12 and summary["best_epoch"] == 9


def test_more_patience_on_resume_trains_on_past_the_earlier_stop(tmp_path):
    run = _start(tmp_path, 12, STOPPING)
    _resume(run, "train.epochs=14", "early_stopping.patience=10")
    history = _history(run)
    assert len(history["epochs"]) == 14 and history["stopped_epoch"] is None and history["best_epoch"] == 9


def test_an_lr_set_on_resume_takes_effect_through_the_schedule(tmp_path):
    overrides = [*SMALL, "optim.name='sgd'", "optim.lr=0.1", "schedule.name='step'", "schedule.step_size=2",
                 "schedule.gamma=0.5"]
    run = _start(tmp_path, 3, overrides)
    _resume(run, "train.epochs=6", "optim.lr=0.02")
    lrs = [row["lr"] for row in _history(run)["epochs"]]
    assert lrs == [0.1, 0.1, 0.05, 0.02 * 0.5, 0.02 * 0.25, 0.02 * 0.25]
    saved = json.loads((run / "config.json").read_text())
    assert saved["optim"]["lr"] == 0.02 and saved["train"]["epochs"] == 6  # a later plain --resume keeps them


@pytest.mark.parametrize("override, named", [
    ("model.hidden=[8]", "model.hidden [16, 16] → [8]"),
    ("data.n_samples=300", "data.n_samples 200 → 300"),
    ("optim.name='sgd'", "optim.name 'adam' → 'sgd'"),
    ("train.batch_size=8", "train.batch_size 32 → 8"),
])
def test_a_fixed_key_set_on_resume_is_refused_before_anything_is_written(tmp_path, override, named):
    run = _start(tmp_path, 2, SMALL)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()}
    with pytest.raises(runconfig.ConfigError, match=re.escape(f"--resume cannot change {named}: ") +
                       ".* a resume may change train.epochs, train.log_every, optim.lr, schedule"):
        runconfig.load_run(run, [override, "train.epochs=4"])
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in run.iterdir()} == before
    runconfig.load_run(run, ["model.hidden=[16, 16]", "train.epochs=4"])  # the same value is no change


def test_a_resume_removes_what_a_killed_save_left_and_files_follow_the_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        run = _start(tmp_path, 2, SMALL)
        (run / ".last.npz.k3j9x_2a.tmp").write_bytes(b"half a checkpoint")
        _resume(run, "train.epochs=3")
    finally:
        os.umask(previous)
    assert not list(run.glob("*.tmp")) and not list(run.glob(".*.tmp"))
    modes = {p.name: p.stat().st_mode & 0o777 for p in run.iterdir()}
    assert set(modes.values()) == {0o640}, modes  # 0o666 less the umask, not mkstemp's 0o600


def test_a_nan_in_validation_names_the_epoch_it_happened_in():
    x, y = spiral(40, noise=0.05, seed=0)

    class GoesBad(ArrayLoader):
        """Validation data that holds a NaN from the third pass on."""
        passes = 0

        def __iter__(self):
            GoesBad.passes += 1
            for xb, yb in super().__iter__():
                yield (xb * math.nan if GoesBad.passes >= 3 else xb), yb

    model = MLP([2, 8, 2])
    with pytest.raises(DivergenceError, match="validation loss became nan in epoch 3, step 1 of 1"):
        Trainer(progress=False).fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1),
                                    ArrayLoader(x, y, batch_size=20), GoesBad(x, y, batch_size=40, shuffle=False),
                                    epochs=5)


def test_callback_states_continue_a_fit_in_python(tmp_path):
    """The same through the Python API: Checkpoint saves every callback's state (listed first, it
    still runs last), and ``fit(..., history, callback_states)`` takes them back."""
    import dlcore
    from dlcore.training import Checkpoint, EarlyStopping, StepLR

    x, y = spiral(200, noise=0.3, seed=1)
    xv, yv = spiral(100, noise=0.3, seed=2)

    def fit(folder, epochs, resume=False):
        model = MLP([2, 32, 2])
        opt = optim.Momentum(model, lr=0.1)
        train = ArrayLoader(x, y, batch_size=20, seed=0)
        callbacks = [Checkpoint(folder, extra=lambda: {"loader": train.generator.bit_generator.state}),
                     EarlyStopping(patience=2), StepLR(2, 0.5)]
        history = states = None
        if resume:
            meta = io.restore(folder / "last.npz", model, opt)
            history, states = History.from_dict(meta["history"]), meta["callbacks"]
            train.generator.bit_generator.state = meta["loader"]
            assert set(states) == {"Checkpoint", "EarlyStopping", "StepLR"}
        history = Trainer(callbacks, progress=False).fit(model, losses.CrossEntropyLoss(), opt, train,
                                                         ArrayLoader(xv, yv, 100, shuffle=False), epochs, history,
                                                         states)
        return model, history

    dlcore.manual_seed(0)
    straight, history = fit(tmp_path / "a", 8)
    dlcore.manual_seed(0)
    fit(tmp_path / "b", 3)
    resumed, resumed_history = fit(tmp_path / "b", 5, resume=True)
    assert [r["val_loss"] for r in history] == [r["val_loss"] for r in resumed_history]
    assert history.best_epoch == resumed_history.best_epoch and history.stopped_epoch == resumed_history.stopped_epoch
    for name, value in straight.state_dict().items():
        numpy.testing.assert_array_equal(value, resumed.state_dict()[name], err_msg=name)
    _assert_same_checkpoint(tmp_path / "a" / "best.npz", tmp_path / "b" / "best.npz")


def test_early_stopping_on_another_monitor_after_a_resume_starts_afresh(tmp_path):
    """``early_stopping.monitor`` may change on a resume: the saved best value and patience count
    belong to the old metric (a val_loss of 0.5 is no best val_accuracy) and are not taken over."""
    from dlcore.training import EarlyStopping

    before = EarlyStopping("val_loss", patience=3)
    before.best, before.best_epoch, before.wait = 0.5, 4, 2
    after = EarlyStopping("val_accuracy", patience=3)
    after.load_state_dict(before.state_dict())
    assert (after.best, after.best_epoch, after.wait, after.best_state) == (None, None, 0, None)
    same = EarlyStopping("val_loss", patience=5)
    same.load_state_dict(before.state_dict())
    assert (same.best, same.best_epoch, same.wait) == (0.5, 4, 2)
    old = {k: v for k, v in before.state_dict().items() if k != "monitor"}  # a checkpoint that did not record it
    same.load_state_dict(old)
    assert (same.best, same.best_epoch, same.wait) == (0.5, 4, 2)

    stopped = _start(tmp_path, 40, STOPPING)  # stopped early on val_loss, its patience used up
    done = len(_history(stopped)["epochs"])
    assert done < 40
    summary = _resume(stopped, "early_stopping.monitor='val_accuracy'", "early_stopping.patience=1")
    assert summary["epochs"] > done  # a fresh count on val_accuracy trains on
