"""CPU vs GPU over a whole training run: same weights, same batches, 200 steps."""
import numpy
import pytest

import backends
import dlcore
from dlcore import Tensor, losses, optim
from dlcore.data import ArrayLoader, spiral
from dlcore.models import MLP

pytestmark = pytest.mark.gpu


def _train(backend: str, optimizer, steps: int = 200, dtype=numpy.float32):
    """Per-step losses (NumPy array) and final parameters of a seeded run on ``backend`` in ``dtype``."""
    backends.use("numpy")
    dlcore.manual_seed(0)
    with dlcore.default_dtype(dtype):
        model = MLP([2, 32, 32, 2], activation="relu").to(backend)
    opt = optimizer(model)
    x, y = spiral(256, noise=0.05)
    loader = ArrayLoader(x.astype(dtype), y, batch_size=32, seed=0, backend=backend)
    loss_fn = losses.CrossEntropyLoss()
    history = []
    while len(history) < steps:
        for xb, yb in loader:
            loss = loss_fn(model(Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(loss.data)  # stays on the device until the end
            if len(history) == steps:
                break
    return numpy.array([float(backends.to_numpy(h)) for h in history]), model.state_dict()


@pytest.mark.parametrize("optimizer", [
    lambda m: optim.Momentum(m, lr=0.05),
    lambda m: optim.Adam(m, lr=0.01),
], ids=["momentum", "adam"])
def test_training_run_agrees(optimizer):
    loss_cpu, params_cpu = _train("numpy", optimizer)
    loss_gpu, params_gpu = _train("cupy", optimizer)
    assert loss_cpu[-1] < 0.7 * loss_cpu[0]  # it did learn
    numpy.testing.assert_allclose(loss_gpu, loss_cpu, rtol=1e-4)
    for name in params_cpu:
        numpy.testing.assert_allclose(params_gpu[name], params_cpu[name], atol=1e-3, err_msg=name)


def test_a_label_outside_the_classes_stops_gpu_training_at_log_time_with_a_hint():
    """No host check of labels runs on CuPy; the sample's NaN loss is caught after the epoch."""
    from dlcore.training import Trainer

    x, y = spiral(64)
    y[5] = 2  # two classes: label 2 is out of range
    model = MLP([2, 8, 2]).to("cupy")
    loader = ArrayLoader(x, y, batch_size=16, shuffle=False, backend="cupy")
    with pytest.raises(FloatingPointError, match=r"epoch 1, step 1 of 4.*cross-entropy labels outside \[0, classes\)"):
        Trainer(progress=False).fit(model, losses.CrossEntropyLoss(), optim.SGD(model, lr=0.1), loader, epochs=1)
