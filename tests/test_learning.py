"""Learning on generated data: a 2-layer MLP solves XOR and the two spirals."""
import numpy
import pytest

import dlcore
from dlcore import Tensor, losses, optim
from dlcore.data import ArrayLoader, spiral, xor
from dlcore.models import MLP
from dlcore.training import Trainer


def _accuracy(model, x, y):
    with dlcore.no_grad():
        return float((model(Tensor(x)).numpy().argmax(axis=1) == y).mean())


def test_two_layer_mlp_learns_xor():
    x, y = xor(4, noise=0.0)
    model = MLP([2, 4, 2], activation="tanh")
    opt = optim.Momentum(model, lr=0.1)
    history = Trainer(progress=False, log_every=10**6).fit(
        model, losses.CrossEntropyLoss(), opt, ArrayLoader(x, y, batch_size=4), epochs=300)
    assert history[-1]["train_accuracy"] == 1.0
    assert _accuracy(model, x, y) == 1.0


def test_mlp_learns_the_spiral():
    x, y = spiral(400, noise=0.05)
    model = MLP([2, 64, 64, 2], activation="tanh")
    opt = optim.Adam(model, lr=0.01)
    Trainer(progress=False, log_every=10**6).fit(
        model, losses.CrossEntropyLoss(), opt, ArrayLoader(x, y, batch_size=32, seed=0), epochs=150)
    assert _accuracy(model, x, y) >= 0.97


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the overflow is the point of the test
def test_nan_guard_names_epoch_and_step():
    x, y = spiral(200)
    x[70] = numpy.nan  # the sample lands in some batch of epoch 1; which step depends on the shuffle
    model = MLP([2, 8, 2])
    loader = ArrayLoader(x, y, batch_size=20, seed=0)
    order = numpy.random.default_rng(0).permutation(200)
    bad_step = int(numpy.flatnonzero(order == 70)[0]) // 20 + 1
    with pytest.raises(FloatingPointError, match=rf"epoch 1, step {bad_step} of 10"):
        Trainer(progress=False).fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1), loader, epochs=2)


def test_trainer_reports_validation_lr_and_time():
    x, y = spiral(200)
    model = MLP([2, 8, 2])
    trainer = Trainer(progress=False)
    loss = losses.CrossEntropyLoss()
    history = trainer.fit(model, loss, optim.Adam(model, lr=0.01), ArrayLoader(x, y), epochs=2,
                          val=ArrayLoader(x, y, shuffle=False))
    assert len(history) == 2 and history["epoch"] == [1, 2]
    assert set(history.last) >= {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr", "seconds"}
    assert history.last["lr"] == 0.01
    expected = trainer.evaluate(model, loss, ArrayLoader(x, y, 64))["loss"]
    assert history.last["val_loss"] == pytest.approx(expected, rel=1e-6)
    with dlcore.no_grad():
        direct = float(loss(model.eval()(Tensor(x)), y).item())
    assert expected == pytest.approx(direct, rel=1e-5)
