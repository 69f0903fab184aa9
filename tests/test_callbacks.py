"""Early stopping with restore, learning-rate schedules, History."""
import json
import math
import re

import numpy
import pytest

import dlcore
from dlcore import losses, optim
from dlcore.data import ArrayLoader, spiral
from dlcore.models import MLP
from dlcore.training import CosineLR, EarlyStopping, ExponentialLR, History, StepLR, Trainer


def _overfitting_setup():
    """Validation labels are the training labels flipped: the better training goes, the worse validation."""
    x, y = spiral(200, noise=0.05)
    model = MLP([2, 32, 2], activation="tanh")
    return model, ArrayLoader(x, y, batch_size=20, seed=0), ArrayLoader(x, 1 - y, batch_size=200, shuffle=False)


def test_early_stopping_stops_and_restores_the_best_epoch():
    model, train, val = _overfitting_setup()
    stopper = EarlyStopping(monitor="val_loss", patience=3)
    trainer = Trainer(callbacks=[stopper], progress=False)
    loss = losses.CrossEntropyLoss()
    history = trainer.fit(model, loss, optim.Adam(model, lr=0.01), train, val, epochs=50)
    best_epoch, best_value = history.best("val_loss")
    assert history.best_epoch == best_epoch == stopper.best_epoch
    assert history.stopped_epoch == best_epoch + 3 == len(history) < 50
    assert trainer.evaluate(model, loss, val)["loss"] == pytest.approx(best_value, rel=1e-6)


def test_early_stopping_compares_with_the_best_not_the_previous_epoch():
    stopper = EarlyStopping(monitor="val_loss", patience=2, min_delta=0.1)

    class FakeTrainer:
        stop = False
        model = None
        history = History()

    stopper.restore_best = False
    stopper.on_fit_start(FakeTrainer)
    for epoch, value in enumerate([1.0, 0.95, 0.85, 0.8], start=1):  # 0.85 beats 1.0 by 0.15; 0.95 and 0.8 do not
        stopper.on_epoch_end(FakeTrainer, {"epoch": epoch, "val_loss": value})
    assert stopper.best_epoch == 3 and stopper.wait == 1 and not FakeTrainer.stop


def test_early_stopping_needs_the_monitored_value():
    model, train, _ = _overfitting_setup()
    with pytest.raises(KeyError, match="'val_loss'.*pass a validation loader"):
        Trainer(callbacks=[EarlyStopping()], progress=False).fit(
            model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1), train, epochs=1)


def test_accuracy_monitor_maximises():
    assert EarlyStopping(monitor="val_accuracy").mode == "max"


@pytest.mark.parametrize("schedule, expected", [
    (StepLR(step_size=2, gamma=0.5), [1.0, 1.0, 0.5, 0.5, 0.25]),
    (ExponentialLR(gamma=0.9), [0.9 ** e for e in range(5)]),
    (CosineLR(t_max=4, eta_min=0.1), [0.1 + 0.45 * (1 + math.cos(math.pi * min(e, 4) / 4)) for e in range(5)]),
])
def test_learning_rate_schedules(schedule, expected):
    model, train, _ = _overfitting_setup()
    history = Trainer(callbacks=[schedule], progress=False).fit(
        model, losses.CrossEntropyLoss(), optim.SGD(model, lr=1.0), train, epochs=5)
    numpy.testing.assert_allclose(history["lr"], expected, rtol=1e-12)


def test_history_save_and_load(tmp_path):
    history = History([{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.25}])
    history.best_epoch = 2
    path = tmp_path / "history.json"
    history.save(path)
    assert json.loads(path.read_text())["best_epoch"] == 2
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left behind
    again = History.load(path)
    assert again["val_loss"] == [0.5, 0.25] and again.best("val_loss") == (2, 0.25)


def test_early_stopping_rejects_a_metric_the_trainer_does_not_report():
    with pytest.raises(ValueError, match=r"EarlyStopping: monitor 'val_acc' is not a metric the Trainer reports; "
                                         r"did you mean 'val_accuracy'\? choose one of train_loss, train_accuracy, "
                                         r"val_loss, val_accuracy"):
        EarlyStopping(monitor="val_acc")
    with pytest.raises(TypeError, match="EarlyStopping: monitor must be a metric name"):
        EarlyStopping(monitor=None)
    with pytest.raises(ValueError, match="EarlyStopping: patience must be ≥ 0 epochs, got -1"):
        EarlyStopping(patience=-1)
    assert EarlyStopping(monitor="val_f1", mode="max").mode == "max"  # a metric a callback of one's own adds


def test_missing_monitored_value_lists_what_the_epoch_reports():
    """With a validation loader but regression targets there is no val_accuracy; the hint says why."""
    from dlcore.data import sine

    x, y = sine(40)
    model = MLP([1, 4, 1])
    with pytest.raises(KeyError, match=r"'val_accuracy', but epoch 1 reports train_loss, val_loss; accuracy is "
                                       r"reported only for integer class labels") as caught:
        Trainer(callbacks=[EarlyStopping("val_accuracy")], progress=False).fit(
            model, losses.MSELoss(), optim.SGD(model, lr=0.1), ArrayLoader(x, y), ArrayLoader(x, y), epochs=1)
    # a user's error (one line from the command): str() is the message itself, not KeyError's quoted repr
    assert isinstance(caught.value, dlcore.UserError) and str(caught.value).startswith("EarlyStopping monitors")


@pytest.mark.parametrize("make, error, message", [
    (lambda: StepLR(0), ValueError, "StepLR: step_size must be an int ≥ 1, got 0"),
    (lambda: StepLR(2.5), TypeError, "StepLR: step_size must be an int ≥ 1, got 2.5 (float)"),
    (lambda: StepLR(2, gamma=-0.5), ValueError, "StepLR: gamma must be ≥ 0, got -0.5"),
    (lambda: CosineLR(0), ValueError, "CosineLR: t_max must be an int ≥ 1, got 0"),
    (lambda: CosineLR(10, eta_min=float("nan")), ValueError, "CosineLR: eta_min must be finite, got nan"),
    (lambda: ExponentialLR("0.9"), TypeError, "ExponentialLR: gamma must be a number, got '0.9' (str)"),
    (lambda: ExponentialLR(0.9, base_lr=-1), ValueError, "ExponentialLR: base_lr must be ≥ 0, got -1"),
])
def test_schedules_check_their_arguments_where_they_enter(make, error, message):
    with pytest.raises(error, match=re.escape(message)):
        make()


def test_checkpoint_rejects_a_metric_the_trainer_does_not_report(tmp_path):
    from dlcore.training import Checkpoint

    with pytest.raises(ValueError, match=r"Checkpoint: monitor 'val_acc' is not a metric the Trainer reports; "
                                         r"did you mean 'val_accuracy'\?"):
        Checkpoint(tmp_path, monitor="val_acc")
    assert Checkpoint(tmp_path, monitor="val_accuracy").mode == "max"


def test_an_explicit_base_lr_is_the_schedules_eta_0_whatever_the_optimizer_starts_with():
    model, train, _ = _overfitting_setup()
    history = Trainer(callbacks=[StepLR(1, 0.5, base_lr=0.2)], progress=False).fit(
        model, losses.CrossEntropyLoss(), optim.SGD(model, lr=1.0), train, epochs=3)
    assert history["lr"] == [0.2, 0.1, 0.05]  # not the optimizer's 1.0


def test_on_a_terminal_a_step_bar_shows_each_epoch_moving():
    import io

    from rich.console import Console

    model, train, _ = _overfitting_setup()
    screen = io.StringIO()
    Trainer(progress=True, console=Console(file=screen, force_terminal=True, width=120)).fit(
        model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1), train, epochs=2)
    shown = screen.getvalue()
    assert " step" in shown and f"{len(train)}/{len(train)}" in shown and "epoch" in shown and "2/2" in shown


def test_an_lr_schedule_subclass_that_does_not_call_the_base_init_still_works():
    """LRSchedule took no arguments before base_lr: subclasses written then (own __init__, no
    super().__init__()) keep working, with η₀ the optimizer's lr."""
    from dlcore.training import LRSchedule

    class Halving(LRSchedule):
        def __init__(self, every):
            self.every = every

        def lr_at(self, epochs_done):
            return self.base_lr / 2 ** (epochs_done // self.every)

    x, y = spiral(40, noise=0.05)
    model = MLP([2, 4, 2])
    history = Trainer([Halving(2)], progress=False).fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.4),
                                                       ArrayLoader(x, y, batch_size=20), epochs=4)
    assert history["lr"] == [0.4, 0.4, 0.2, 0.2]
