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


def test_fit_checks_its_arguments_before_training():
    x, y = spiral(40)
    model = MLP([2, 4, 2])
    loss, opt, loader = losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1), ArrayLoader(x, y, batch_size=8)
    trainer = Trainer(progress=False)
    order = r"the order is fit\(model, loss, optimizer, train, val=None, epochs=1\)"
    with pytest.raises(TypeError, match=r"Trainer.fit: loss must be callable as loss\(outputs, targets\), got SGD; "
                                        + order):
        trainer.fit(model, opt, loss, loader)  # optimizer and loss swapped
    with pytest.raises(TypeError, match=r"Trainer.fit: model must be a dlcore.nn.Module, got CrossEntropyLoss"):
        trainer.fit(loss, model, opt, loader)
    with pytest.raises(TypeError, match=r"Trainer.fit: optimizer must have step\(\) and zero_grad\(\)"):
        trainer.fit(model, loss, loss, loader)
    with pytest.raises(TypeError, match=r"Trainer.fit: loss is the class CrossEntropyLoss, not an instance"):
        trainer.fit(model, losses.CrossEntropyLoss, opt, loader)
    with pytest.raises(TypeError, match=r"Trainer.fit: train must be a loader of \(x_batch, y_batch\) pairs, got a "
                                        r"tuple of 2 arrays \(ndarray of shape \(40, 2\), ndarray of shape \(40,\)\); "
                                        r"wrap arrays in dlcore.data.ArrayLoader\(x, y, batch_size=...\)"):
        trainer.fit(model, loss, opt, (x, y))
    with pytest.raises(TypeError, match=r"Trainer.fit: val must be a loader .* got ndarray of shape \(40, 2\)"):
        trainer.fit(model, loss, opt, loader, x)
    with pytest.raises(ValueError, match="Trainer.fit: epochs must be ≥ 0, got -1"):
        trainer.fit(model, loss, opt, loader, epochs=-1)
    with pytest.raises(TypeError, match=r"Trainer.fit: epochs must be a whole number, got 2.5 \(float\)"):
        trainer.fit(model, loss, opt, loader, epochs=2.5)
    assert opt.t == 0  # nothing trained
    # duck-typed loaders are still fine: a list of (x_batch, y_batch) pairs, and 0 epochs
    batches = [(x[:20], y[:20]), (x[20:], y[20:])]
    assert len(trainer.fit(model, loss, opt, batches, batches, epochs=numpy.int64(2))) == 2
    assert len(trainer.fit(model, loss, opt, loader, epochs=0)) == 0
