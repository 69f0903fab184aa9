"""Learning on generated data: a 2-layer MLP solves XOR and the two spirals."""
import subprocess
import sys
from pathlib import Path

import numpy
import pytest

import dlcore
from dlcore import Tensor, losses, optim
from dlcore.data import ArrayLoader, spiral, xor
from dlcore.models import MLP
from dlcore.training import Trainer

ROOT = Path(__file__).resolve().parent.parent


def _accuracy(model, x, y):
    with dlcore.no_grad():
        return float((model(Tensor(x)).numpy().argmax(axis=1) == y).mean())


def test_two_layer_mlp_learns_xor():
    x, y = xor(4, noise=0.0)
    model = MLP([2, 4, 2], activation="tanh")
    opt = optim.Momentum(model, lr=0.1)
    history = Trainer(model, losses.CrossEntropyLoss(), opt, progress=False, log_every=10**6).fit(
        ArrayLoader(x, y, batch_size=4), epochs=300)
    assert history[-1]["train_accuracy"] == 1.0
    assert _accuracy(model, x, y) == 1.0


def test_mlp_learns_the_spiral():
    x, y = spiral(400, noise=0.05)
    model = MLP([2, 64, 64, 2], activation="tanh")
    opt = optim.Adam(model, lr=0.01)
    Trainer(model, losses.CrossEntropyLoss(), opt, progress=False, log_every=10**6).fit(
        ArrayLoader(x, y, batch_size=32, seed=0), epochs=150)
    assert _accuracy(model, x, y) >= 0.97


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_trainer_reports_validation_and_stops_on_nan():
    x, y = spiral(200)
    model = MLP([2, 8, 2])
    trainer = Trainer(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=1e30), progress=False)
    with pytest.raises(FloatingPointError, match="epoch 1"):
        trainer.fit(ArrayLoader(x * 1e30, y), epochs=2)
    model = MLP([2, 8, 2])
    trainer = Trainer(model, losses.CrossEntropyLoss(), optim.Adam(model), progress=False)
    history = trainer.fit(ArrayLoader(x, y), epochs=2, val_loader=ArrayLoader(x, y, shuffle=False))
    assert set(history[-1]) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "seconds"}
    assert history[-1]["val_loss"] == pytest.approx(trainer.evaluate(ArrayLoader(x, y, 64))["loss"], rel=1e-5)


def test_train_script_end_to_end():
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "--config", "configs/xor.toml", "--backend", "numpy",
         "--set", "train.epochs=40"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "summary" in result.stdout and "train_accuracy" in result.stdout
    accuracy = float(result.stdout.split("train_accuracy")[1].split()[1])
    assert accuracy >= 0.95


def test_train_script_rejects_bad_key():
    result = subprocess.run(
        [sys.executable, "scripts/train.py", "--config", "configs/xor.toml", "--set", "optim.learnrate=0.1"],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "optim.learnrate" in result.stderr
