"""CUDA-graph capture: a replayed step equals the eager step; what cannot be captured says so."""
import numpy
import pytest

import backends
import dlcore
from dlcore import Tensor, losses, optim
from dlcore.cuda_graph import CapturedStep
from dlcore.data import ArrayLoader, spiral
from dlcore.models import MLP
from dlcore.training import Trainer


def test_capture_needs_cupy():
    with pytest.raises(RuntimeError, match="needs the cupy backend; the active backend is 'numpy'"):
        CapturedStep(lambda: None)


def _setup(optimizer=lambda m: optim.Momentum(m, lr=0.05)):
    backends.use("cupy")
    dlcore.manual_seed(0)
    model = MLP([2, 32, 32, 2], activation="relu")
    return model, optimizer(model), losses.CrossEntropyLoss()


@pytest.mark.gpu
@pytest.mark.cuda_only
def test_replayed_step_equals_eager_step():
    x, y = spiral(256, noise=0.05)
    cp = backends.get("cupy").xp
    batches = [(cp.asarray(x[i:i + 32]), cp.asarray(y[i:i + 32])) for i in range(0, 256, 32)]

    eager_model, eager_opt, loss_fn = _setup()
    eager_losses = []
    for xb, yb in batches:
        loss = loss_fn(eager_model(Tensor(xb)), yb)
        eager_opt.zero_grad()
        loss.backward()
        eager_opt.step()
        eager_losses.append(float(loss.item()))

    model, opt, loss_fn = _setup()
    x_buf, y_buf = cp.empty_like(batches[0][0]), cp.empty_like(batches[0][1])

    def step():
        loss = loss_fn(model(Tensor(x_buf)), y_buf)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    x_buf[...], y_buf[...] = batches[0]
    captured = CapturedStep(step, restore=(model, opt))
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
@pytest.mark.cuda_only
def test_trainer_with_cuda_graph_matches_eager_trainer():
    x, y = spiral(300, noise=0.05)  # 300 = 9 full batches of 32 + a short one (run eagerly)
    histories = []
    for graph in (False, True):
        model, opt, loss_fn = _setup()
        trainer = Trainer(progress=False, cuda_graph=graph)
        histories.append(trainer.fit(model, loss_fn, opt, ArrayLoader(x, y, batch_size=32, seed=0), epochs=3))
        assert (trainer._graph is not None) == graph  # the replayed run did capture (else: eager vs eager)
        if graph:
            assert isinstance(trainer._graph[2], CapturedStep)
    for eager, replayed in zip(*histories):
        assert replayed["train_loss"] == pytest.approx(eager["train_loss"], rel=1e-5)


@pytest.mark.gpu
@pytest.mark.cuda_only
def test_adam_refuses_capture():
    model, opt, loss_fn = _setup(lambda m: optim.Adam(m, lr=0.01))
    cp = backends.get("cupy").xp
    xb, yb = cp.ones((4, 2), cp.float32), cp.zeros(4, cp.int64)

    def step():
        loss = loss_fn(model(Tensor(xb)), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss

    with pytest.raises(RuntimeError, match="Adam cannot be captured"):
        CapturedStep(step)
