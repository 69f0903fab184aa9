"""CUDA-graph capture: a replayed step equals the eager step; what cannot be captured says so.

Without CUDA these run on the host simulation, whose streams capture and whose graphs replay
the recorded operations with the numbers of the capture (``tests/simulated_cupy.py``).
"""
import json
from pathlib import Path

import numpy
import pytest

import backends
import dlcore
from dlcore import Tensor, losses, models, nn, optim
from dlcore.cuda_graph import CapturedStep
from dlcore.data import ArrayLoader, spiral
from dlcore.models import MLP
from dlcore.training import StepLR, Trainer
from dlcore.training.step import CaptureError, EagerStep, GraphStep


def test_capture_needs_cupy():
    with pytest.raises(RuntimeError, match="needs the cupy backend; the active backend is 'numpy'"):
        CapturedStep(lambda: None)


def _training_step(model, opt, loss_fn, x, t):
    """A training step on the device arrays ``x`` and ``t`` (read anew by every call or replay); returns the loss."""
    def step():
        loss = loss_fn(model(Tensor(x)), t)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss
    return step


def _setup(optimizer=lambda m: optim.Momentum(m, lr=0.05)):
    backends.use("cupy")
    dlcore.manual_seed(0)
    model = MLP([2, 32, 32, 2], activation="relu")
    return model, optimizer(model), losses.CrossEntropyLoss()


@pytest.mark.gpu
def test_replayed_step_equals_eager_step():
    x, y = spiral(256, noise=0.05)
    cp = backends.get("cupy").xp
    batches = [(cp.asarray(x[i:i + 32]), cp.asarray(y[i:i + 32])) for i in range(0, 256, 32)]

    eager_model, eager_opt, loss_fn = _setup()
    eager_losses = [float(_training_step(eager_model, eager_opt, loss_fn, xb, yb)().item()) for xb, yb in batches]

    model, opt, loss_fn = _setup()
    x_buf, y_buf = batches[0][0].copy(), batches[0][1].copy()
    captured = CapturedStep(_training_step(model, opt, loss_fn, x_buf, y_buf), restore=(model, opt))
    replay_losses = []
    for xb, yb in batches:
        x_buf[...] = xb
        y_buf[...] = yb
        replay_losses.append(float(captured().item()))
    numpy.testing.assert_allclose(replay_losses, eager_losses, rtol=1e-6)
    eager_state, state = eager_model.state_dict(), model.state_dict()
    for name in state:
        numpy.testing.assert_allclose(state[name], eager_state[name], rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.gpu
def test_dropping_a_captured_step_leaves_what_outlives_it_intact():
    """Momentum buffers and the backend's cached ones rows (bias gradients as GEMMs) outlive a captured
    step, which the Trainer drops at every recapture. Were they made in the graph's private pool, CuPy
    before 14.1 would free them with it (the simulation models that: freed memory reads NaN). After
    two replays and the step dropped, two eager steps train exactly as a twin's four eager steps."""
    import gc

    x, y = spiral(128, noise=0.05)
    cp = backends.get("cupy").xp
    batches = [(cp.asarray(x[i:i + 32]), cp.asarray(y[i:i + 32])) for i in range(0, 128, 32)]
    twin, twin_opt, loss_fn = _setup()
    twin_losses = [float(_training_step(twin, twin_opt, loss_fn, xb, yb)().item()) for xb, yb in batches]

    model, opt, loss_fn = _setup()
    x_buf, y_buf = batches[0][0].copy(), batches[0][1].copy()
    captured = CapturedStep(_training_step(model, opt, loss_fn, x_buf, y_buf), restore=(model, opt))
    losses_ = []
    for xb, yb in batches[:2]:
        x_buf[...], y_buf[...] = xb, yb
        losses_.append(float(captured().item()))
    del captured
    gc.collect()
    losses_ += [float(_training_step(model, opt, loss_fn, xb, yb)().item()) for xb, yb in batches[2:]]
    numpy.testing.assert_allclose(losses_, twin_losses, rtol=1e-6)
    for name, value in twin.state_dict().items():
        numpy.testing.assert_allclose(model.state_dict()[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.gpu
def test_trainer_with_cuda_graph_matches_eager_trainer():
    x, y = spiral(300, noise=0.05)  # 300 = 9 full batches of 32 + a short one (run eagerly)
    histories = []
    for graph in (False, True):
        model, opt, loss_fn = _setup()
        trainer = Trainer(progress=False, cuda_graph=graph)
        histories.append(trainer.fit(model, loss_fn, opt, ArrayLoader(x, y, batch_size=32, seed=0), epochs=3))
        assert isinstance(trainer.step, GraphStep if graph else EagerStep)
        if graph:  # the replayed run did capture (else: eager vs eager)
            assert isinstance(trainer.step.captured, CapturedStep)
    for eager, replayed in zip(*histories):
        assert replayed["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-5)


def _step_of(model, opt, loss_fn):
    """A training step on a fixed batch of 4 two-feature samples on the device."""
    cp = backends.get("cupy").xp
    return _training_step(model, opt, loss_fn, cp.ones((4, 2), cp.float32), cp.zeros(4, cp.int64))


@pytest.mark.gpu
def test_adam_refuses_capture():
    with pytest.raises(RuntimeError, match="Adam cannot be captured"):
        CapturedStep(_step_of(*_setup(lambda m: optim.Adam(m, lr=0.01))))


@pytest.mark.gpu
def test_dropout_refuses_capture_with_the_draw_it_needed():
    """A random draw in a graph would repeat on every replay (and CuPy's cuRAND refuses capture):
    dlcore says so, naming the draw, instead of CuPy's NotImplementedError. Eager warm-up steps draw fine."""
    backends.use("cupy")
    dlcore.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 2))
    with pytest.raises(RuntimeError, match=r"a random draw of shape \(4, 8\) \(float32\) cannot be captured in a "
                                           r"CUDA graph.*Dropout.*Trainer\(cuda_graph=False\)"):
        CapturedStep(_step_of(model, optim.Momentum(model, lr=0.1), losses.CrossEntropyLoss()))
    model.eval()  # no draw in eval mode: the capture goes through
    with dlcore.no_grad():
        CapturedStep(lambda: model(Tensor(backends.get("cupy").xp.ones((4, 2), "float32"))))


CAPTURABLE = {
    # name: (model, input shape, optimizer)
    "mlp-batchnorm-sgd": (lambda: models.MLP([6, 16, 16, 3], batch_norm=True), (8, 6), optim.SGD),
    "mlp-batchnorm-momentum": (lambda: models.MLP([6, 16, 16, 3], batch_norm=True), (8, 6), optim.Momentum),
    "mlp-batchnorm-nesterov": (lambda: models.MLP([6, 16, 16, 3], batch_norm=True), (8, 6), optim.Nesterov),
    "mlp-batchnorm-adagrad": (lambda: models.MLP([6, 16, 16, 3], batch_norm=True), (8, 6), optim.AdaGrad),
    "mlp-batchnorm-rmsprop": (lambda: models.MLP([6, 16, 16, 3], batch_norm=True), (8, 6), optim.RMSprop),
    "lenet": (lambda: models.lenet(input_size=12, channels=(2, 3), hidden=(6, 5), num_classes=3), (4, 1, 12, 12),
              optim.Momentum),
    "alexnet_small": (lambda: models.alexnet_small(input_size=8, width=(2, 2, 3, 3, 2), hidden=(5, 4), num_classes=3,
                                                   dropout=0.0), (4, 1, 8, 8), optim.Momentum),
    "resnet8": (lambda: models.resnet(8, base_channels=2, num_classes=3), (4, 1, 8, 8), optim.Momentum),
    "unet": (lambda: models.unet(depth=1, base_channels=2), (2, 1, 8, 8), optim.Momentum),  # segments: mask targets
}


@pytest.mark.gpu
@pytest.mark.parametrize("name", CAPTURABLE)
def test_every_model_family_captures_and_its_replays_are_its_eager_steps(name):
    """The step captures (no host read, no CuPy cuBLAS or cuRAND call in it); with ``restore`` the warm-up
    and capture calls leave parameters, BatchNorm statistics and the optimizer as they were; three
    replays on new batches then train as three eager steps of a twin model. (Tolerance: cuDNN's
    backward convolutions may accumulate in another order from call to call.)"""
    make_model, shape, make_optimizer = CAPTURABLE[name]
    backends.use("cupy")
    cp = backends.get("cupy").xp
    rng = numpy.random.default_rng(0)
    inputs = [rng.standard_normal(shape).astype(numpy.float32) for _ in range(3)]
    if name == "unet":
        loss_fn, targets = losses.BCEWithLogitsLoss(), [(x > 0).astype(numpy.float32) for x in inputs]
    else:
        loss_fn, targets = losses.CrossEntropyLoss(), [rng.integers(0, 3, shape[0]) for _ in inputs]
    batches = [(cp.asarray(x), cp.asarray(t)) for x, t in zip(inputs, targets)]

    def model_and_step(x, t):
        dlcore.manual_seed(0)
        model = make_model()
        opt = make_optimizer(model, lr=0.1, weight_decay=1e-3)
        return model, opt, _training_step(model, opt, loss_fn, x, t)

    x_buf, t_buf = batches[0][0].copy(), batches[0][1].copy()  # the warm-up steps train on real data
    model, opt, step = model_and_step(x_buf, t_buf)
    before = model.state_dict()
    captured = CapturedStep(step, restore=(model, opt))
    after = model.state_dict()
    assert after.keys() == before.keys()
    for key in before:
        numpy.testing.assert_array_equal(after[key], before[key], err_msg=key)
    assert opt.t == 0 and opt.state  # the warm-up made the state; the capture's changes were undone
    for buffers in opt.state.values():
        for buffer in buffers.values():
            assert not backends.to_numpy(buffer).any()

    twin_x, twin_t = cp.empty_like(x_buf), cp.empty_like(t_buf)
    twin, _, twin_step = model_and_step(twin_x, twin_t)
    for x, t in batches:
        x_buf[...], t_buf[...] = x, t
        twin_x[...], twin_t[...] = x, t
        assert float(captured().item()) == pytest.approx(float(twin_step().item()), rel=1e-5)
    for key, value in twin.state_dict().items():
        numpy.testing.assert_allclose(model.state_dict()[key], value, rtol=1e-4, atol=1e-5, err_msg=key)


@pytest.mark.gpu
def test_trainer_captures_again_when_the_lr_changes_and_counts_replayed_steps(monkeypatch):
    """A graph keeps the lr it was captured with. Under a step-decay schedule the replayed Trainer trains
    as the eager one: one capture per learning rate, the same losses and weights, the same step count."""
    captured_lrs = []

    class CountedCapture(CapturedStep):
        def __init__(self, fn, warmup=2, restore=()):
            captured_lrs.append(restore[1].lr)
            super().__init__(fn, warmup, restore)

    monkeypatch.setattr(dlcore.training.step, "CapturedStep", CountedCapture)
    x, y = spiral(300, noise=0.05)  # 9 full batches of 32 an epoch, and a short one run eagerly
    runs = []
    for graph in (False, True):
        model, opt, loss_fn = _setup(lambda m: optim.Momentum(m, lr=0.1))
        history = Trainer(callbacks=[StepLR(1, gamma=0.5)], progress=False, cuda_graph=graph).fit(
            model, loss_fn, opt, ArrayLoader(x, y, batch_size=32, seed=0), epochs=3)
        runs.append((history, model.state_dict(), opt.t))
    (eager, eager_state, eager_t), (replayed, state, t) = runs
    assert captured_lrs == [0.1, 0.05, 0.025]
    assert replayed["lr"] == eager["lr"] == [0.1, 0.05, 0.025]
    assert replayed["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-6)
    for name in state:
        numpy.testing.assert_allclose(state[name], eager_state[name], rtol=1e-6, atol=1e-7, err_msg=name)
    assert t == eager_t == 30


@pytest.mark.gpu
def test_a_config_run_with_cuda_graph_matches_the_eager_run(tmp_path):
    """``run.cuda_graph = true`` end to end on the GPU: data moved to the device, a cosine schedule,
    early stopping on validation, checkpoints; the same history and final checkpoint as the eager run."""
    from dlcore.training import run, runconfig

    backends.use("cupy")
    config = tmp_path / "graph.toml"
    summaries, histories = [], []
    for graph in ("false", "true"):
        config.write_text(f"[run]\ncuda_graph = {graph}\nout_dir = '{tmp_path / graph}'\n"
                          "[optim]\nname = 'nesterov'\nlr = 0.1\n[train]\nepochs = 6\nbatch_size = 32\n"
                          "[schedule]\nname = 'cosine'\nt_max = 6\n[early_stopping]\npatience = 3\n")
        summaries.append(run.execute(runconfig.load(config)))
        histories.append(json.loads((Path(summaries[-1]["run_dir"]) / "history.json").read_text())["epochs"])
    eager, replayed = histories
    assert summaries[1]["backend"] == "cupy" and len(replayed) == len(eager) >= 3  # early stopping may end it
    assert [e["lr"] for e in replayed] == [e["lr"] for e in eager]
    for key in ("train_loss", "val_loss", "train_accuracy", "val_accuracy"):
        assert [e[key] for e in replayed] == pytest.approx([e[key] for e in eager], rel=1e-5), key
    eager_last, last = (dlcore.io.load(Path(summary["run_dir"]) / "last.npz") for summary in summaries)
    assert last["optimizer"]["step"] == eager_last["optimizer"]["step"]  # replayed steps are counted
    for name, weights in eager_last["model"].items():
        numpy.testing.assert_allclose(last["model"][name], weights, rtol=1e-4, atol=1e-6, err_msg=name)


# ---- what the objects declare for capture (CPU: checked before anything is captured) ----------

def test_optimizers_declare_whether_a_graph_can_replay_their_step():
    assert optim.Adam.capture_refusal == "Adam's bias correction changes every step and a graph replays the captured one"
    for cls in (optim.SGD, optim.Momentum, optim.Nesterov, optim.AdaGrad, optim.RMSprop):
        assert cls.capture_refusal is None, cls.__name__


def test_optimizer_snapshot_puts_count_and_state_back_into_the_same_arrays():
    """What a capture's warm-up steps did is undone in place: the state arrays keep their identity (a
    graph holds their addresses) and values; state made after the snapshot is zeroed; t goes back."""
    a, b = nn.Parameter(numpy.ones(3)), nn.Parameter(numpy.ones(2))
    opt = optim.Momentum([a, b], lr=0.5, momentum=0.5)
    a.grad = numpy.array([1.0, 2.0, 3.0])
    opt.step()  # v_a = -0.5·g
    v_a = opt.state["0"]["v"]
    restore = opt.snapshot()
    b.grad = numpy.array([4.0, 4.0])
    opt.step()
    opt.step()
    assert opt.t == 3 and "1" in opt.state
    v_b = opt.state["1"]["v"]
    restore()
    assert opt.t == 1
    assert opt.state["0"]["v"] is v_a and opt.state["1"]["v"] is v_b
    numpy.testing.assert_array_equal(v_a, [-0.5, -1.0, -1.5])
    numpy.testing.assert_array_equal(v_b, [0.0, 0.0])
    opt.count_replayed_step()
    assert opt.t == 2


def test_modules_declare_their_random_draws():
    model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Sequential(nn.Dropout(0.0), nn.Dropout(0.2)))
    assert [(name, m.p) for name, m in model.random_modules()] == [("1", 0.5), ("2.1", 0.2)]
    assert nn.Dropout(0.3).random_modules()[0][0] == ""  # the root
    assert MLP([2, 8, 2]).random_modules() == [] and not nn.Dropout(0.0).draws_random_numbers()


@pytest.mark.parametrize("case", ["adam", "dropout"])
def test_graph_step_refuses_before_any_step(case):
    """Trainer(cuda_graph=True) asks the optimizer and the model when the fit starts: a CaptureError (a
    UserError) saying what and why, and the model untouched (on any backend: nothing is captured yet)."""
    dlcore.manual_seed(0)
    if case == "adam":
        model = MLP([2, 4, 2])
        opt = optim.Adam(model, lr=0.1)
        message = (r"^GraphStep: Adam cannot be captured in a CUDA graph: Adam's bias correction changes every "
                   r"step and a graph replays the captured one; train with eager steps \(Trainer\(cuda_graph=False\)\)$")
    else:
        model = nn.Sequential(nn.Linear(2, 4), nn.Dropout(0.5), nn.Linear(4, 2))
        opt = optim.Momentum(model, lr=0.1)
        message = (r"^GraphStep: the model draws random numbers in training \(1 Dropout\(p=0.5\)\): a CUDA graph "
                   r"would replay one draw on every step; train with eager steps \(Trainer\(cuda_graph=False\)\)$")
    before = model.state_dict()
    x, y = spiral(40, noise=0.05)
    with pytest.raises(CaptureError, match=message) as caught:
        Trainer(progress=False, cuda_graph=True).fit(model, losses.CrossEntropyLoss(), opt,
                                                     ArrayLoader(x, y, batch_size=8, seed=0))
    assert isinstance(caught.value, dlcore.UserError) and opt.t == 0
    for name, value in model.state_dict().items():
        numpy.testing.assert_array_equal(value, before[name], err_msg=name)


def test_trainer_trains_with_the_step_it_is_given():
    """Trainer(step=...) calls the step with every training batch (bound to the fit's model, loss and
    optimizer first); validation does not go through it. The default step is EagerStep: same history."""
    class CountingStep(EagerStep):
        def __init__(self):
            self.bound, self.batches = [], []

        def bind(self, model, loss, optimizer, batch_size=None):
            self.bound.append(batch_size)
            super().bind(model, loss, optimizer, batch_size)

        def __call__(self, xb, yb):
            self.batches.append(len(xb))
            return super().__call__(xb, yb)

    x, y = spiral(60, noise=0.05)
    histories, step = [], CountingStep()
    for trainer in (Trainer(progress=False), Trainer(progress=False, step=step)):
        dlcore.manual_seed(0)
        model = MLP([2, 8, 2])
        histories.append(trainer.fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1),
                                     ArrayLoader(x, y, batch_size=25, seed=0), ArrayLoader(x, y, batch_size=60),
                                     epochs=2))
    assert step.bound == [25] and step.batches == [25, 25, 10] * 2
    assert histories[1]["train_loss"] == histories[0]["train_loss"]
    assert histories[1]["val_loss"] == histories[0]["val_loss"]


def test_trainer_step_argument_is_checked():
    with pytest.raises(dlcore.UserError, match=r"^Trainer: give step or cuda_graph=True, not both"):
        Trainer(step=EagerStep(), cuda_graph=True)
    with pytest.raises(dlcore.UserError, match=r"^Trainer: step is the class GraphStep, not an instance of it; "
                                               r"make one first, e.g. GraphStep\(\)$"):
        Trainer(step=GraphStep)
    with pytest.raises(dlcore.UserError, match=r"^Trainer: step must be a training step with bind\(\) and "
                                               r"__call__ \(EagerStep, GraphStep\), got function$"):
        Trainer(step=lambda xb, yb: None)
