"""Plots are optional: without matplotlib a run still works and one warning says why."""
import builtins
import warnings

import pytest

from dlcore.training import History, plots


def test_without_matplotlib_warns_once_and_writes_nothing(tmp_path, monkeypatch):
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("no matplotlib here")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    monkeypatch.setattr(plots, "_warned", False)
    history = History([{"epoch": 1, "train_loss": 1.0, "val_loss": 1.1}])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert plots.learning_curves(history, tmp_path / "curves.png") is None
        assert plots.confusion_matrix([[1, 0], [0, 1]], tmp_path / "cm.png") is None
    assert len(caught) == 1 and "matplotlib is not installed" in str(caught[0].message)
    assert list(tmp_path.iterdir()) == []


def test_learning_curves_png(tmp_path):
    pytest.importorskip("matplotlib")
    history = History([{"epoch": e, "train_loss": 1 / e, "val_loss": 1.2 / e, "train_accuracy": 0.5,
                        "val_accuracy": 0.4} for e in range(1, 4)])
    history.best_epoch = 2
    path = plots.learning_curves(history, tmp_path / "curves.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["curves.png"]
