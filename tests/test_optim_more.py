"""Parameter groups, AdamW, amsgrad, betas=, SGD(momentum=) as PyTorch's, zero_grad(set_to_none=),
nn.utils.clip_grad_norm_/clip_grad_value_, Module.apply/requires_grad_, LinearWarmup and ReduceLROnPlateau.

Steps against NumPy references written from PyTorch's documented update rules (torch.optim.SGD,
AdamW, Adam(amsgrad=True)); against PyTorch itself where it imports (CI: skipped); CPU vs the
(simulated) GPU with the ``gpu`` mark.
"""
import math
import os
import tempfile

import numpy
import pytest

import backends
import dlcore
import dlcore.io
from dlcore import data, losses, nn, optim, training
from dlcore.nn import Parameter
from dlcore.training.callbacks import LinearWarmup, ReduceLROnPlateau
from tests.test_optim import grad_sequence, host_params, train

RNG = numpy.random.default_rng(11)


def _model():
    dlcore.manual_seed(0)
    with dlcore.default_dtype("float64"):
        return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))


def _set_grads(model, seed):
    rng = numpy.random.default_rng(seed)
    for p in model.parameters():
        p.grad = rng.standard_normal(p.shape)


# ---- parameter groups -------------------------------------------------------------------------------
@pytest.mark.parametrize("name, kwargs", [("SGD", {}), ("Momentum", {"momentum": 0.5}),
                                          ("Adam", {}), ("AdamW", {}), ("RMSprop", {})])
def test_groups_step_like_one_optimizer_per_group(name, kwargs):
    grouped, twin = _model(), _model()
    cls = getattr(optim, name)
    opt = cls([{"params": grouped[0], "lr": 0.1, "weight_decay": 0.3}, {"params": grouped[2]}], lr=0.01, **kwargs)
    first = cls(twin[0], lr=0.1, weight_decay=0.3, **kwargs)
    second = cls(twin[2], lr=0.01, **kwargs)
    for step in range(4):
        _set_grads(grouped, step), _set_grads(twin, step)
        opt.step(), first.step(), second.step()
        if step == 1:  # a schedule halves the default lr: both groups follow
            opt.lr, first.lr, second.lr = 0.005, 0.05, 0.005
    for (name_a, a), (name_b, b) in zip(grouped.named_parameters(), twin.named_parameters()):
        numpy.testing.assert_allclose(a.data, b.data, rtol=1e-13, err_msg=name_a)
    assert opt.lr == 0.005 and opt.weight_decay == second.weight_decay  # the defaults are back after each step
    assert opt.hyperparameters(group=0) == {**first.hyperparameters(), "lr": pytest.approx(0.05)}


def test_group_names_values_and_errors():
    model = _model()
    opt = optim.SGD([{"params": model[0], "lr": 0.1}, {"params": model[2].parameters(), "l1": 0.5}], lr=0.01)
    assert list(opt.params) == ["group0.weight", "group0.bias", "group1.0", "group1.1"]
    assert dict(opt.param_groups[0]) == {"params": ["group0.weight", "group0.bias"], "lr_scale": pytest.approx(10)}
    assert opt.hyperparameters(group=1) == {"lr": 0.01, "weight_decay": 0.0, "l1": 0.5}
    with pytest.raises(TypeError):
        opt.param_groups[0]["lr_scale"] = 1.0  # fixed once made (a captured CUDA graph holds them)
    with pytest.raises(ValueError, match=r"SGD: parameter group 1 sets \['momentum'\], which SGD does not have"):
        optim.SGD([{"params": model[0]}, {"params": model[2], "momentum": 0.9}], lr=0.1)
    with pytest.raises(ValueError, match="the same parameter twice"):
        optim.SGD([{"params": model[0]}, {"params": [model[0].weight]}], lr=0.1)
    with pytest.raises(ValueError, match="parameter group 0 has no 'params'"):
        optim.SGD([{"lr": 0.1}], lr=0.1)
    with pytest.raises(ValueError, match=r"Adam: lr must be ≥ 0, got -1"):
        optim.Adam([{"params": model[0], "lr": -1}], lr=0.1)
    with pytest.raises(ValueError, match="default lr is 0"):
        optim.SGD([{"params": model[0], "lr": 0.1}], lr=0.0)


def test_groups_survive_state_dict_and_checkpoints():
    a, b = _model(), _model()
    make = lambda m: optim.Adam([{"params": m[0], "lr": 0.1, "weight_decay": 0.2}, {"params": m[2]}], lr=0.01)
    opt_a, opt_b = make(a), make(b)
    for step in range(3):
        _set_grads(a, step), _set_grads(b, step)
        opt_a.step(), opt_b.step()
    saved = opt_a.state_dict()
    assert saved["groups"] == [{"params": ["group0.weight", "group0.bias"], "lr_scale": pytest.approx(10),
                                "weight_decay": 0.2}, {"params": ["group1.weight", "group1.bias"]}]
    resumed_model = _model()
    resumed_model.load_state_dict(a.state_dict())
    resumed = make(resumed_model)
    resumed.load_state_dict(saved)
    with tempfile.TemporaryDirectory() as folder:  # dlcore.io: groups as constructed, state and step restored
        path = dlcore.io.save(os.path.join(folder, "ckpt.npz"), a, opt_a)
        from_disk_model = _model()
        from_disk = make(from_disk_model)
        dlcore.io.restore(path, from_disk_model, from_disk)
    for step in range(3, 6):
        for m in (a, resumed_model, from_disk_model):
            _set_grads(m, step)
        opt_a.step(), resumed.step(), from_disk.step()
    for m in (resumed_model, from_disk_model):
        for (name, p), q in zip(m.named_parameters(), a.parameters()):
            numpy.testing.assert_array_equal(p.data, q.data, err_msg=name)
    other = optim.Adam([{"params": b[0]}, {"params": b[2]}], lr=0.01)
    other_groups = dict(saved, groups=[{"params": ["group0.weight"]}, {"params": ["group1.weight"]}])
    with pytest.raises(KeyError, match="parameter groups"):
        other.load_state_dict(other_groups)


def test_plain_optimizers_keep_their_state_dict():
    model = _model()
    assert "groups" not in optim.SGD(model, lr=0.1).state_dict()
    assert optim.SGD(model, lr=0.1).param_groups == ()


# ---- AdamW, amsgrad, betas ---------------------------------------------------------------------------
def reference_adam(theta, grads, lr, b1, b2, eps, wd=0.0, decoupled=False, amsgrad=False):
    """torch.optim.Adam/AdamW's documented algorithm, step by step, in float64."""
    theta = theta.copy()
    m, v, v_max = numpy.zeros_like(theta), numpy.zeros_like(theta), numpy.zeros_like(theta)
    for t, g in enumerate(grads, start=1):
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
        if amsgrad:
            v_max = numpy.maximum(v_max, v)
            v_hat = v_max / (1 - b2 ** t)
        theta = theta - lr * m_hat / (numpy.sqrt(v_hat) + eps)
    return theta


@pytest.mark.parametrize("cls, amsgrad", [("Adam", False), ("Adam", True), ("AdamW", False), ("AdamW", True)])
def test_adam_variants_match_the_reference(cls, amsgrad):
    theta0 = RNG.standard_normal(6)
    grads = [RNG.standard_normal(6) * (3 if i % 3 == 0 else 0.1) for i in range(12)]  # v falls: amsgrad matters
    p = Parameter(theta0.copy())
    opt = getattr(optim, cls)([p], lr=0.05, betas=(0.8, 0.95), eps=1e-3, weight_decay=0.1, amsgrad=amsgrad)
    for g in grads:
        p.grad = g
        opt.step()
    expected = reference_adam(theta0, grads, 0.05, 0.8, 0.95, 1e-3, 0.1, decoupled=cls == "AdamW", amsgrad=amsgrad)
    numpy.testing.assert_allclose(p.data, expected, rtol=1e-12)
    plain = reference_adam(theta0, grads, 0.05, 0.8, 0.95, 1e-3, 0.1, decoupled=cls == "AdamW")
    assert amsgrad == (not numpy.allclose(plain, expected))


def test_adamw_defaults():
    opt = optim.AdamW(nn.Linear(2, 1), lr=1e-3)
    assert type(opt) is optim.AdamW and opt.weight_decay == 0.01 and opt.capture_refusal
    assert (opt.beta1, opt.beta2) == (0.9, 0.999)


def test_betas_errors():
    w = [Parameter(numpy.zeros(2))]
    assert optim.Adam(w, betas=[0.5, 0.6]).hyperparameters()["beta2"] == 0.6
    with pytest.raises(ValueError, match=r"Adam: got betas=\(0.5, 0.6\) and beta1=0.7"):
        optim.Adam(w, beta1=0.7, betas=(0.5, 0.6))
    with pytest.raises(ValueError, match=r"betas must be a pair"):
        optim.Adam(w, betas=0.9)
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0, 1\), got 1"):
        optim.Adam(w, betas=(0.9, 1))


def test_amsgrad_state_dict_has_v_max_and_refuses_a_plain_adam_state():
    p = Parameter(numpy.ones(2))
    opt = optim.Adam([p], amsgrad=True)
    p.grad = numpy.ones(2)
    opt.step()
    assert sorted(opt.state_dict()["state"]["0"]) == ["m", "v", "v_max"]
    with pytest.raises(KeyError, match=r"'0' has buffers \['m', 'v', 'v_max'\], expected \['m', 'v'\]"):
        optim.Adam([Parameter(numpy.ones(2))]).load_state_dict(opt.state_dict())


# ---- SGD with PyTorch's momentum ------------------------------------------------------------------------
@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd_momentum_is_pytorchs_under_a_changing_lr(nesterov):
    theta0, grads = RNG.standard_normal(5), [RNG.standard_normal(5) for _ in range(8)]
    lrs = [0.1, 0.1, 0.1, 0.05, 0.05, 0.01, 0.01, 0.01]
    p = Parameter(theta0.copy())
    opt = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=nesterov, weight_decay=0.01)
    theta, b = theta0.copy(), numpy.zeros(5)
    for lr, g in zip(lrs, grads):
        opt.lr, p.grad = lr, g
        opt.step()
        g = g + 0.01 * theta  # torch.optim.SGD: b ← μb + g (b₁ = g); θ ← θ − η(g + μb if nesterov else b)
        b = 0.9 * b + g
        theta = theta - lr * (g + 0.9 * b if nesterov else b)
    numpy.testing.assert_allclose(p.data, theta, rtol=1e-12)
    folded = Parameter(theta0.copy())  # dlcore's Momentum folds η into v: the same at constant η, not here
    momentum = optim.Momentum([folded], lr=0.1, momentum=0.9, weight_decay=0.01)
    for lr, g in zip(lrs, grads):
        momentum.lr, folded.grad = lr, g
        momentum.step()
    if not nesterov:
        assert not numpy.allclose(folded.data, theta)


def test_sgd_momentum_equals_momentum_at_a_constant_lr_and_errors():
    a, b = Parameter(numpy.ones(3)), Parameter(numpy.ones(3))
    sgd, mom = optim.SGD([a], lr=0.1, momentum=0.7), optim.Momentum([b], lr=0.1, momentum=0.7)
    for g in [RNG.standard_normal(3) for _ in range(5)]:
        a.grad = b.grad = g
        sgd.step(), mom.step()
    numpy.testing.assert_allclose(a.data, b.data, rtol=1e-13)
    numpy.testing.assert_allclose(sgd.state["0"]["b"], -mom.state["0"]["v"] / 0.1, rtol=1e-12)
    assert sgd.hyperparameters() == {"lr": 0.1, "momentum": 0.7, "weight_decay": 0.0, "l1": 0.0}
    with pytest.raises(ValueError, match="nesterov=True needs a momentum > 0"):
        optim.SGD([a], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match=r"SGD: momentum must be in \[0, 1\), got 1"):
        optim.SGD([a], lr=0.1, momentum=1)


# ---- zero_grad, clipping, apply, requires_grad_ ----------------------------------------------------------
def test_zero_grad_set_to_none_false_gives_zeros_without_writing_into_the_old_array():
    p, q = Parameter(numpy.ones(2)), Parameter(numpy.ones(3))
    old = p.grad = numpy.array([1.0, 2.0])
    opt = optim.SGD([p, q], lr=0.1)
    opt.zero_grad(set_to_none=False)
    numpy.testing.assert_array_equal(p.grad, [0, 0])
    assert q.grad is None and old.tolist() == [1.0, 2.0]
    opt.zero_grad()
    assert p.grad is None


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
def test_clip_grad_norm_scales_to_the_joint_norm(norm_type):
    model = _model()
    _set_grads(model, 0)
    grads = [p.grad.copy() for p in model.parameters()]
    flat = numpy.concatenate([g.ravel() for g in grads])
    norm = numpy.abs(flat).max() if norm_type == math.inf else (numpy.abs(flat) ** norm_type).sum() ** (1 / norm_type)
    total = nn.utils.clip_grad_norm_(model, max_norm=0.5, norm_type=norm_type)
    assert total.item() == pytest.approx(norm, rel=1e-12)
    for p, g in zip(model.parameters(), grads):
        numpy.testing.assert_allclose(p.grad, g * 0.5 / (norm + 1e-6), rtol=1e-12)
    untouched = [p.grad.copy() for p in model.parameters()]
    nn.utils.clip_grad_norm_(model.parameters(), max_norm=10.0, norm_type=norm_type)  # below the maximum: kept
    for p, g in zip(model.parameters(), untouched):
        numpy.testing.assert_allclose(p.grad, g, rtol=1e-12)


def test_clip_grad_value_and_errors():
    p, q = Parameter(numpy.zeros(3)), Parameter(numpy.zeros(2))
    p.grad = numpy.array([-3.0, 0.2, 9.0])
    nn.utils.clip_grad_value_([p, q], 0.5)
    numpy.testing.assert_array_equal(p.grad, [-0.5, 0.2, 0.5])
    assert q.grad is None
    with pytest.raises(ValueError, match="clip_grad_norm_: norm_type must be > 0"):
        nn.utils.clip_grad_norm_([p], 1.0, norm_type=0)
    with pytest.raises(TypeError, match="clip_grad_value_: parameter 0"):
        nn.utils.clip_grad_value_([numpy.zeros(2)], 1.0)
    assert nn.utils.clip_grad_norm_([q], 1.0).item() == 0.0


def test_apply_visits_children_first_and_requires_grad_freezes():
    model = _model()
    seen = []
    assert model.apply(lambda m: seen.append(type(m).__name__)) is model
    assert seen == ["Linear", "Tanh", "Linear", "Sequential"]
    model[0].requires_grad_(False)
    x = dlcore.Tensor(numpy.ones((2, 3)))
    model(x).sum().backward()
    assert model[0].weight.grad is None and model[2].weight.grad is not None
    assert all(p.requires_grad for p in model.requires_grad_().parameters())


# ---- schedules -------------------------------------------------------------------------------------------
def test_linear_warmup_values_and_in_a_fit():
    warmup = LinearWarmup(warmup_epochs=3, start_factor=0.25, base_lr=0.4)
    assert [warmup.lr_at(n) for n in range(5)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4])
    x, y = data.sine(32)
    model = nn.Linear(1, 1)
    history = training.Trainer([LinearWarmup(warmup_epochs=2, start_factor=0.5)], progress=False).fit(
        model, losses.MSELoss(), optim.SGD(model, lr=0.2), data.ArrayLoader(x, y, batch_size=8), epochs=4)
    assert history["lr"] == pytest.approx([0.1, 0.15, 0.2, 0.2])
    with pytest.raises(ValueError, match="start_factor"):
        LinearWarmup(3, start_factor=1.5)


def _reference_plateau(values, lr, factor, patience, threshold, cooldown, min_lr, mode="min"):
    """torch.optim.lr_scheduler.ReduceLROnPlateau's documented rule (relative threshold)."""
    best, bad, cool, out = None, 0, 0, []
    for v in values:
        better = best is None or (v < best * (1 - threshold) if mode == "min" else v > best * (1 + threshold))
        best, bad = (v, 0) if better else (best, bad + 1)
        if cool > 0:
            cool, bad = cool - 1, 0
        if bad > patience:
            lr, cool, bad = max(lr * factor, min_lr), cooldown, 0
        out.append(lr)
    return out


@pytest.mark.parametrize("mode", ["min", "max"])
def test_reduce_lr_on_plateau_follows_pytorchs_rule(mode):
    values = list(RNG.uniform(0, 1, 40).round(2))
    opt = optim.SGD([Parameter(numpy.zeros(1))], lr=1.0)
    plateau = ReduceLROnPlateau(mode=mode, monitor="val_loss", factor=0.5, patience=2, threshold=0.01, cooldown=1,
                                min_lr=0.01)
    got = [plateau.step(v, opt) for v in values]
    assert got == pytest.approx(_reference_plateau(values, 1.0, 0.5, 2, 0.01, 1, 0.01, mode))
    assert min(got) == 0.01 and got[-1] == opt.lr


def test_reduce_lr_on_plateau_in_a_fit_resumes_from_its_state():
    """Six epochs in one fit, or three and three more from the saved model, optimizer and callback
    states: the same lrs (the validation loss of a mirrored target only gets worse, so it reduces)."""
    x, y = data.sine(32)
    train, val = data.ArrayLoader(x, y, batch_size=8, shuffle=False), data.ArrayLoader(x, -y, batch_size=8)

    def start():
        dlcore.manual_seed(0)
        model = nn.Linear(1, 1)
        plateau = ReduceLROnPlateau(factor=0.5, patience=1, base_lr=0.4)
        return model, optim.SGD(model, lr=0.1), training.Trainer([plateau], progress=False)

    model, opt, trainer = start()
    whole = trainer.fit(model, losses.MSELoss(), opt, train, val, epochs=6)
    assert whole["lr"][0] == 0.4 and min(whole["lr"]) < 0.4  # base_lr set at the start, then reduced

    model, opt, trainer = start()
    history = trainer.fit(model, losses.MSELoss(), opt, train, val, epochs=3)
    saved = model.state_dict(), opt.state_dict(), trainer.callback_states()
    model, opt, trainer = start()
    model.load_state_dict(saved[0]), opt.load_state_dict(saved[1])
    history = trainer.fit(model, losses.MSELoss(), opt, train, val, epochs=3, history=history,
                          callback_states=saved[2])
    assert history["lr"] == whole["lr"] and history["val_loss"] == pytest.approx(whole["val_loss"])


def test_reduce_lr_on_plateau_monitoring_an_absent_value_is_a_user_error_naming_it():
    x, y = data.sine(16)
    model = nn.Linear(1, 1)
    trainer = training.Trainer([ReduceLROnPlateau(monitor="val_accuracy")], progress=False)  # regression: no accuracy
    with pytest.raises(dlcore.UserError, match=r"^ReduceLROnPlateau monitors 'val_accuracy', but epoch 1 reports "
                                               r"train_loss, val_loss$"):
        trainer.fit(model, losses.MSELoss(), optim.SGD(model, lr=0.1), data.ArrayLoader(x, y), data.ArrayLoader(x, y),
                    epochs=1)


# ---- CPU vs GPU ---------------------------------------------------------------------------------------------
NEW = {"AdamW": dict(lr=0.01, weight_decay=0.1), "AdamAMSGrad": dict(lr=0.01, amsgrad=True, betas=(0.8, 0.9)),
       "SGDMomentum": dict(lr=0.05, momentum=0.9), "SGDNesterov": dict(lr=0.05, momentum=0.9, nesterov=True)}


def _new(name, params):
    cls = {"AdamW": optim.AdamW, "AdamAMSGrad": optim.Adam}.get(name, optim.SGD)
    return cls(params, **NEW[name])


@pytest.mark.gpu
@pytest.mark.parametrize("name", list(NEW))
def test_gpu_parity_of_the_new_rules_with_groups(name):
    rng = numpy.random.default_rng(5)
    host = host_params(rng, numpy.float32)
    grads = grad_sequence(rng, host, 30)
    results = {}
    for backend in ("numpy", "cupy"):
        params = {k: Parameter(backends.to_device(a.copy(), backend)) for k, a in host.items()}
        groups = [{"params": [("w", params["w"])], "lr": 0.02}, {"params": [("b", params["b"])]}]
        opt = _new(name, groups)
        train(opt, {"group0.w": params["w"], "group1.b": params["b"]},
              [{"group0.w": g["w"], "group1.b": g["b"]} for g in grads], backend)
        results[backend] = {k: backends.to_numpy(p.data) for k, p in params.items()}
    for k in host:
        numpy.testing.assert_allclose(results["cupy"][k], results["numpy"][k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.gpu
def test_gpu_clip_grad_norm_stays_on_the_device():
    p = Parameter(backends.to_device(numpy.zeros(4, numpy.float32), "cupy"))
    p.grad = backends.to_device(numpy.array([3.0, 4.0, 0.0, 0.0], numpy.float32), "cupy")
    norm = nn.utils.clip_grad_norm_([p], 1.0)
    assert norm.device == "cupy" and backends.backend_of(p.grad).name == "cupy"
    numpy.testing.assert_allclose(backends.to_numpy(p.grad), [0.6, 0.8, 0, 0], rtol=1e-5)


# ---- against PyTorch, where it imports ------------------------------------------------------------------------
def test_against_pytorch_optimizers():
    torch = pytest.importorskip("torch")
    theta0, grads = RNG.standard_normal(4), [RNG.standard_normal(4) for _ in range(6)]
    cases = [(optim.AdamW, torch.optim.AdamW, dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
             (optim.SGD, torch.optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01))]
    for ours_cls, theirs_cls, kw in cases:
        p, t = Parameter(theta0.copy()), torch.tensor(theta0.copy(), requires_grad=True)
        ours, theirs = ours_cls([p], **kw), theirs_cls([t], **kw)
        for i, g in enumerate(grads):
            if i == 3:
                ours.lr = theirs.param_groups[0]["lr"] = kw["lr"] / 2
            p.grad, t.grad = g, torch.tensor(g)
            ours.step(), theirs.step()
        numpy.testing.assert_allclose(p.data, t.detach().numpy(), rtol=1e-10)


@pytest.mark.gpu
def test_a_captured_step_with_groups_and_a_weighted_loss_replays_the_eager_steps():
    """CUDA-graph capture (the host simulation without CUDA): parameter groups with their own lr and weight
    decay, PyTorch-style momentum, and cross-entropy with class weights (on the device), ignored labels
    and label smoothing: replays equal eager steps, and the optimizer's snapshot puts its state back."""
    from dlcore.cuda_graph import CapturedStep
    from dlcore.data import spiral
    from dlcore.models import MLP

    x, y = spiral(128, noise=0.05)
    y[::7] = -100
    cp = backends.get("cupy").xp
    batches = [(cp.asarray(x[i:i + 32]), cp.asarray(y[i:i + 32])) for i in range(0, 128, 32)]

    def setup():
        backends.use("cupy")
        dlcore.manual_seed(0)
        model = MLP([2, 16, 2], activation="tanh")
        layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        opt = optim.SGD([{"params": layers[0], "lr": 0.2, "weight_decay": 0.01}, {"params": layers[1]}], lr=0.05,
                        momentum=0.9, nesterov=True)
        loss_fn = losses.CrossEntropyLoss(weight=cp.asarray([1.0, 2.0], dtype="float32"), label_smoothing=0.1)
        return model, opt, loss_fn

    def step_of(model, opt, loss_fn, xb, yb):
        def step():
            loss = loss_fn(model(dlcore.Tensor(xb)), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss
        return step

    model, opt, loss_fn = setup()
    eager = [float(step_of(model, opt, loss_fn, xb, yb)().item()) for xb, yb in batches]
    twin, twin_opt, twin_loss = setup()
    x_buf, y_buf = batches[0][0].copy(), batches[0][1].copy()
    captured = CapturedStep(step_of(twin, twin_opt, twin_loss, x_buf, y_buf), restore=(twin, twin_opt))
    replayed = []
    for xb, yb in batches:
        x_buf[...], y_buf[...] = xb, yb
        replayed.append(float(captured().item()))
        twin_opt.count_replayed_step()
    numpy.testing.assert_allclose(replayed, eager, rtol=1e-6)
    for (name, a), b in zip(model.state_dict().items(), twin.state_dict().values()):
        numpy.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-7, err_msg=name)
    assert twin_opt.t == opt.t == 4


@pytest.mark.parametrize("name", ["training.callbacks.LinearWarmup", "training.callbacks.ReduceLROnPlateau",
                                  "nn.utils.clip_grad_norm_", "nn.utils.clip_grad_value_"])
def test_examples_of_names_outside_the_checked_namespaces_run(name, tmp_path, monkeypatch):
    """test_docstrings runs the examples of the names in nn, optim, training … ``__all__``; these live one
    level down (training.callbacks until training exports them; nn.utils' functions)."""
    from tests import test_docstrings

    obj = dlcore
    for part in name.split("."):
        obj = getattr(obj, part)
    test_docstrings.test_example_runs(name, obj, tmp_path, monkeypatch)
