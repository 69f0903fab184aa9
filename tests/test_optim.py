"""Optimizers: convergence, hand-computed steps, gradient safety, dtypes, save/resume, GPU parity."""
import copy

import numpy
import pytest

import backends
import dlcore
from dlcore import nn, optim
from dlcore.nn import Parameter

NAMES = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
# hyperparameters for the unit tests below (eps is large so its place in the formula matters)
HYPER = {"SGD": dict(lr=0.1), "Momentum": dict(lr=0.1, momentum=0.8), "Nesterov": dict(lr=0.1, momentum=0.8),
         "AdaGrad": dict(lr=0.1, eps=1e-3), "RMSprop": dict(lr=0.1, alpha=0.9, eps=1e-3),
         "Adam": dict(lr=0.1, beta1=0.8, beta2=0.9, eps=1e-3)}
REG = dict(weight_decay=0.1, l1=0.05)


def make(name, params, **overrides):
    return getattr(optim, name)(params, **{**HYPER[name], **overrides})


def host_params(rng, dtype=numpy.float64):
    """Two named host arrays with no exact zeros (sign(0) = 0 would hide the l1 term)."""
    return {"w": (rng.uniform(0.2, 1.0, (3, 4)) * rng.choice([-1, 1], (3, 4))).astype(dtype),
            "b": (rng.uniform(0.2, 1.0, (4,)) * rng.choice([-1, 1], (4,))).astype(dtype)}


def grad_sequence(rng, arrays, steps):
    return [{k: rng.standard_normal(a.shape).astype(a.dtype) for k, a in arrays.items()} for _ in range(steps)]


def train(opt, params, grads, backend="numpy"):
    """Run ``opt`` over the host gradient dicts ``grads``; params is {name: Parameter}."""
    for gs in grads:
        for k, p in params.items():
            p.grad = backends.to_device(gs[k], backend)
        opt.step()


# ---- 1, 2: convergence on quadratics -----------------------------------------------------
def quadratic(n, lo, hi, seed=0):
    """f(θ) = ½θᵀAθ − bᵀθ with A SPD of eigenvalues linspace(lo, hi) (condition number hi/lo)."""
    rng = numpy.random.default_rng(seed)
    q, _ = numpy.linalg.qr(rng.standard_normal((n, n)))
    a = q @ numpy.diag(numpy.linspace(lo, hi, n)) @ q.T
    b = rng.standard_normal(n)
    return a, b, numpy.linalg.solve(a, b)


def descend(opt_name, kwargs, a, b, steps, lr_decay=1.0):
    """Minimise the quadratic from θ = 0 for ``steps`` steps; returns the max error per step."""
    p = Parameter(numpy.zeros(len(b)))
    opt = getattr(optim, opt_name)([p], **kwargs)
    errors = []
    for _ in range(steps):
        p.grad = a @ p.data - b
        opt.step()
        opt.lr *= lr_decay
        errors.append(numpy.max(numpy.abs(p.data - numpy.linalg.solve(a, b))))
    return numpy.array(errors)


# (hyperparameters, steps, lr decay per step); the quadratic has condition number 10, |θ*|∞ ≈ 0.45.
# RMSprop with a constant lr ends in a ±lr oscillation, so its lr decays by 1% per step.
CONVERGENCE = {"SGD": (dict(lr=0.1), 200, 1.0), "Momentum": (dict(lr=0.05), 300, 1.0),
               "Nesterov": (dict(lr=0.05), 300, 1.0), "AdaGrad": (dict(lr=0.5), 200, 1.0),
               "RMSprop": (dict(lr=0.02), 1000, 0.99), "Adam": (dict(lr=0.05), 300, 1.0)}


@pytest.mark.parametrize("name", NAMES)
def test_reaches_minimum_of_convex_quadratic(name):
    a, b, _ = quadratic(5, 1.0, 10.0)
    kwargs, steps, decay = CONVERGENCE[name]
    errors = descend(name, kwargs, a, b, steps, decay)
    assert errors[-1] < 1e-4, f"{name} ended {errors[-1]:.2e} from A⁻¹b"


def test_momentum_and_nesterov_beat_sgd_when_ill_conditioned():
    a, b, _ = quadratic(5, 1.0, 100.0)  # condition number 100; lr = 1/λmax for all three
    first = {}
    for name in ("SGD", "Momentum", "Nesterov"):
        reached = numpy.flatnonzero(descend(name, dict(lr=0.01), a, b, 3000) < 1e-4)
        assert reached.size, f"{name} never reached 1e-4"
        first[name] = reached[0] + 1
    assert 500 < first["SGD"] < 3000  # ≈ ln(1e4) / (lr·λmin) ≈ 900
    assert first["Momentum"] < first["SGD"] / 3
    assert first["Nesterov"] < first["SGD"] / 3


def test_nesterov_equals_lookahead_form():
    """θ_k of the stored form is ψ_k + μ v_k of the course's form with ∇ at ψ + μv."""
    a, b, _ = quadratic(4, 1.0, 20.0)
    lr, mu = 0.02, 0.9
    p = Parameter(numpy.zeros(4))
    opt = optim.Nesterov([p], lr=lr, momentum=mu)
    psi, v = numpy.zeros(4), numpy.zeros(4)
    for _ in range(25):
        v = mu * v - lr * (a @ (psi + mu * v) - b)
        psi = psi + v
        p.grad = a @ p.data - b
        opt.step()
        numpy.testing.assert_allclose(p.data, psi + mu * v, rtol=1e-12, atol=1e-14)


# ---- 3: steps against hand-computed references -----------------------------------------------
def reference(name, theta, grads, lr, weight_decay, l1, momentum=0, eps=0, alpha=0, beta1=0, beta2=0):
    """θ after each step, from the formulas as written (NumPy, float64, one array)."""
    v = h = m = 0.0
    out = []
    for t, grad in enumerate(grads, start=1):
        g = grad + weight_decay * theta + l1 * numpy.sign(theta)
        if name == "SGD":
            theta = theta - lr * g
        elif name == "Momentum":
            v = momentum * v - lr * g
            theta = theta + v
        elif name == "Nesterov":
            v = momentum * v - lr * g
            theta = theta + momentum * v - lr * g
        elif name == "AdaGrad":
            h = h + g ** 2
            theta = theta - lr * g / (numpy.sqrt(h) + eps)
        elif name == "RMSprop":
            h = alpha * h + (1 - alpha) * g ** 2
            theta = theta - lr * g / (numpy.sqrt(h) + eps)
        elif name == "Adam":
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g ** 2
            m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
            theta = theta - lr * m_hat / (numpy.sqrt(v_hat) + eps)
        out.append(theta)
    return out


@pytest.mark.parametrize("regularized", [False, True], ids=["plain", "wd+l1"])
@pytest.mark.parametrize("name", NAMES)
def test_steps_match_hand_computed_reference(name, regularized):
    rng = numpy.random.default_rng(1)
    host = host_params(rng)
    grads = grad_sequence(rng, host, 3)
    reg = REG if regularized else dict(weight_decay=0.0, l1=0.0)
    params = {k: Parameter(a.copy()) for k, a in host.items()}
    opt = make(name, list(params.items()), **reg)
    expected = {k: reference(name, host[k], [gs[k] for gs in grads], **HYPER[name], **reg) for k in host}
    for step, gs in enumerate(grads):
        train(opt, params, [gs])
        for k, p in params.items():
            numpy.testing.assert_allclose(p.data, expected[k][step], rtol=1e-12, atol=1e-14,
                                          err_msg=f"{name} {k} step {step + 1}")


def test_lr_can_change_between_steps():
    p = Parameter(numpy.array([1.0, -2.0]))
    opt = optim.SGD([p], lr=0.1)
    p.grad = numpy.array([1.0, 1.0])
    opt.lr = 0.5
    opt.step()
    numpy.testing.assert_array_equal(p.data, [0.5, -2.5])
    opt.lr = 0.0
    opt.step()
    numpy.testing.assert_array_equal(p.data, [0.5, -2.5])
    opt.lr = numpy.float64(0.25)  # kept as a Python float, so float32 stays float32
    assert type(opt.lr) is float
    with pytest.raises(ValueError, match="lr must be ≥ 0"):
        opt.lr = -0.1


# ---- 4: gradients untouched, skipped parameters, in-place float32 updates -----------------------
@pytest.mark.parametrize("name", NAMES)
def test_grad_unmodified_none_skipped_float32_kept(name):
    rng = numpy.random.default_rng(2)
    host = host_params(rng, numpy.float32)
    w, b = Parameter(host["w"].copy()), Parameter(host["b"].copy())
    opt = make(name, [("w", w), ("b", b)], **REG)
    grad = rng.standard_normal((3, 4)).astype(numpy.float32)
    grad_before, w_array = grad.copy(), w.data
    for _ in range(3):
        w.grad = grad  # the same array every step, as a shared gradient would be
        opt.step()
        assert w.grad is grad
        numpy.testing.assert_array_equal(grad, grad_before)
    assert w.data is w_array, "the parameter array must be updated in place"
    assert w.data.dtype == numpy.float32
    assert not numpy.array_equal(w.data, host["w"])
    numpy.testing.assert_array_equal(b.data, host["b"])  # grad None: untouched, no state
    assert b.grad is None and "b" not in opt.state
    assert set(opt.state["w"]) == set(opt.buffers)
    for buf in opt.state["w"].values():
        assert buf.dtype == numpy.float32 and buf.shape == (3, 4)


@pytest.mark.parametrize("name", NAMES)
def test_scalar_parameter(name):
    p = Parameter(numpy.array(0.5, dtype=numpy.float32))
    opt = make(name, [p], **REG)
    ref = reference(name, numpy.float64(0.5), [1.0, 1.0], **HYPER[name], **REG)
    for expected in ref:
        p.grad = numpy.array(1.0, dtype=numpy.float32)
        opt.step()
        assert p.data.shape == () and p.data.dtype == numpy.float32
        numpy.testing.assert_allclose(p.data, expected, rtol=1e-5)


def test_gradient_shape_error_names_the_parameter():
    p = Parameter(numpy.zeros((2, 3)))
    opt = optim.SGD([("layer.weight", p)], lr=0.1)
    p.grad = numpy.zeros((3, 2))
    with pytest.raises(ValueError, match="layer.weight"):
        opt.step()


# ---- 5: state_dict round trip and load errors -----------------------------------------------
@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip_resumes_exactly(name):
    rng = numpy.random.default_rng(3)
    host = host_params(rng, numpy.float32)
    grads = grad_sequence(rng, host, 6)
    params = {k: Parameter(a.copy()) for k, a in host.items()}
    opt = make(name, params.items(), **REG)
    train(opt, params, grads[:3])
    opt.lr = 0.05  # as a schedule would have left it
    saved = opt.state_dict()
    snapshot = copy.deepcopy(saved)
    assert saved["type"] == name and saved["step"] == 3 and saved["params"] == ["w", "b"]
    assert saved["hyper"]["lr"] == 0.05 and saved["hyper"]["weight_decay"] == REG["weight_decay"]
    for bufs in saved["state"].values():
        assert set(bufs) == set(opt.buffers)
        assert all(type(a) is numpy.ndarray for a in bufs.values())

    resumed_params = {k: Parameter(p.data.copy()) for k, p in params.items()}
    resumed = make(name, resumed_params.items(), lr=1.0)
    resumed.load_state_dict(saved)
    assert resumed.lr == 0.05 and resumed.t == 3 and resumed.l1 == REG["l1"]

    train(opt, params, grads[3:])
    train(resumed, resumed_params, grads[3:])
    for k in params:
        numpy.testing.assert_array_equal(resumed_params[k].data, params[k].data, err_msg=k)
    for k, bufs in saved["state"].items():  # the saved dict holds copies, not live buffers
        for buf, a in bufs.items():
            numpy.testing.assert_array_equal(a, snapshot["state"][k][buf])


def test_load_casts_to_parameter_dtype_and_copies():
    w = Parameter(numpy.ones(3, dtype=numpy.float32))
    opt = optim.Momentum([("w", w)], lr=0.1)
    state = {"type": "Momentum", "hyper": {"lr": 0.1, "momentum": 0.5}, "step": 7, "params": ["w"],
             "state": {"w": {"v": numpy.array([1.0, 2.0, 3.0])}}}
    opt.load_state_dict(state)
    assert opt.state["w"]["v"].dtype == numpy.float32 and opt.momentum == 0.5 and opt.t == 7
    w.grad = numpy.zeros(3, dtype=numpy.float32)
    opt.step()
    numpy.testing.assert_array_equal(state["state"]["w"]["v"], [1.0, 2.0, 3.0])
    numpy.testing.assert_allclose(w.data, [1.5, 2.0, 2.5])


def _stepped(name, names=("w", "b")):
    rng = numpy.random.default_rng(4)
    host = host_params(rng)
    params = {k: Parameter(host[old]) for k, old in zip(names, ("w", "b"))}
    opt = make(name, params.items())
    train(opt, params, [{k: numpy.ones_like(p.data) for k, p in params.items()}])
    return opt


def test_load_state_dict_errors_name_the_problem():
    saved = _stepped("Momentum").state_dict()
    with pytest.raises(ValueError, match="Momentum.*Nesterov"):
        _stepped("Nesterov").load_state_dict(saved)
    with pytest.raises(KeyError, match=r"missing parameter names \['c'\].*unexpected names \['b'\]"):
        _stepped("Momentum", names=("w", "c")).load_state_dict(saved)
    bad = copy.deepcopy(saved)
    bad["state"]["w"]["v"] = numpy.zeros((4, 3))
    with pytest.raises(ValueError, match=r"w\.v has shape \(4, 3\)"):
        _stepped("Momentum").load_state_dict(bad)
    bad = copy.deepcopy(_stepped("Adam").state_dict())
    del bad["state"]["b"]["m"]
    with pytest.raises(KeyError, match="'b'"):
        _stepped("Adam").load_state_dict(bad)


# ---- 6, 7: what params may be; zero_grad -----------------------------------------------------
def test_accepts_module_named_pairs_and_plain_parameters():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
    names = [n for n, _ in model.named_parameters()]
    assert list(optim.Adam(model).params) == names
    assert list(optim.Adam(model.named_parameters()).params) == names
    assert list(optim.SGD({n: p for n, p in model.named_parameters()}, lr=0.1).params) == names
    plain = optim.SGD(model.parameters(), lr=0.1)
    assert list(plain.params) == [str(i) for i in range(len(names))]
    assert all(a is b for a, b in zip(plain.params.values(), model.parameters()))


def test_bad_parameter_lists_raise():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam(nn.ReLU())
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam(iter(()))
    p = Parameter(numpy.zeros(2))
    with pytest.raises(ValueError, match="same parameter twice"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(TypeError, match="parameter 1"):
        optim.SGD([p, numpy.zeros(2)], lr=0.1)
    with pytest.raises(ValueError, match="lr must be ≥ 0"):
        optim.SGD([p], lr=-1.0)


def test_zero_grad_clears_every_grad():
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    for p in model.parameters():
        p.grad = numpy.ones_like(p.data)
    opt = optim.Momentum(model, lr=0.1)
    opt.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def test_trains_a_linear_model_through_backward():
    rng = numpy.random.default_rng(5)
    x = dlcore.Tensor(rng.standard_normal((64, 3)).astype(numpy.float32))
    w_true = numpy.array([[1.5], [-2.0], [0.5]], dtype=numpy.float32)
    y = dlcore.Tensor(x.data @ w_true + 0.25)
    model = nn.Linear(3, 1)
    opt = optim.Adam(model, lr=0.05)
    for _ in range(400):
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
    assert loss.item() < 1e-6
    numpy.testing.assert_allclose(model.weight.data, w_true, atol=1e-3)
    numpy.testing.assert_allclose(model.bias.data, [0.25], atol=1e-3)
    assert model.weight.data.dtype == numpy.float32


# ---- GPU: the same host params and gradients on NumPy and CuPy --------------------------------
# All rules use only +, −, ×, ÷ and √ (correctly rounded on both backends) with the same
# float32 operands, so 50 steps agree to rtol 1e-5 / atol 1e-6 for every optimizer.
def _run_on(backend, name, host, grads, steps):
    params = {k: Parameter(backends.to_device(a.copy(), backend)) for k, a in host.items()}
    opt = make(name, params.items(), **REG)
    train(opt, params, grads[:steps], backend)
    return opt, params


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_gpu_parity_50_steps(name):
    rng = numpy.random.default_rng(6)
    host = {"w": rng.standard_normal((32, 16)).astype(numpy.float32),
            "b": rng.standard_normal(16).astype(numpy.float32)}
    grads = grad_sequence(rng, host, 50)
    cpu_opt, cpu = _run_on("numpy", name, host, grads, 50)
    gpu_opt, gpu = _run_on("cupy", name, host, grads, 50)
    for k in host:
        assert gpu[k].data.dtype == numpy.float32 and backends.backend_of(gpu[k].data).name == "cupy"
        numpy.testing.assert_allclose(backends.to_numpy(gpu[k].data), cpu[k].data, rtol=1e-5, atol=1e-6, err_msg=k)
        for buf, a in gpu_opt.state[k].items():
            assert backends.backend_of(a).name == "cupy" and a.dtype == numpy.float32
            numpy.testing.assert_allclose(backends.to_numpy(a), cpu_opt.state[k][buf], rtol=1e-5, atol=1e-6,
                                          err_msg=f"{k}.{buf}")


@pytest.mark.gpu
@pytest.mark.parametrize("name", NAMES)
def test_gpu_state_dict_resumes_on_cpu(name):
    rng = numpy.random.default_rng(7)
    host = host_params(rng, numpy.float32)
    grads = grad_sequence(rng, host, 10)
    gpu_opt, gpu = _run_on("cupy", name, host, grads, 5)
    saved = gpu_opt.state_dict()
    cpu = {k: Parameter(backends.to_numpy(p.data).copy()) for k, p in gpu.items()}
    cpu_opt = make(name, cpu.items())
    cpu_opt.load_state_dict(saved)
    assert all(type(a) is numpy.ndarray for bufs in cpu_opt.state.values() for a in bufs.values())
    train(gpu_opt, gpu, grads[5:], "cupy")
    train(cpu_opt, cpu, grads[5:], "numpy")
    for k in host:
        numpy.testing.assert_allclose(backends.to_numpy(gpu[k].data), cpu[k].data, rtol=1e-5, atol=1e-6, err_msg=k)


# ---- argument validation: every hyperparameter checked at construction and on assignment -------
@pytest.mark.parametrize("name, kwargs, error, match", [
    ("Momentum", dict(lr=0.1, momentum=1.0), ValueError, r"Momentum: momentum must be in \[0, 1\), got 1\.0"),
    ("Nesterov", dict(lr=0.1, momentum=1.0), ValueError, r"Nesterov: momentum must be in \[0, 1\), got 1\.0"),
    ("Momentum", dict(lr=0.1, momentum=-0.5), ValueError, r"Momentum: momentum must be in \[0, 1\), got -0\.5"),
    ("Adam", dict(beta1=1.0), ValueError, r"Adam: beta1 must be in \[0, 1\), got 1\.0"),
    ("Adam", dict(beta2=1.5), ValueError, r"Adam: beta2 must be in \[0, 1\), got 1\.5"),
    ("Adam", dict(beta2=-0.1), ValueError, r"Adam: beta2 must be in \[0, 1\), got -0\.1"),
    ("RMSprop", dict(alpha=1.2), ValueError, r"RMSprop: alpha must be in \[0, 1\), got 1\.2"),
    ("RMSprop", dict(alpha=1.0), ValueError, r"RMSprop: alpha must be in \[0, 1\), got 1\.0"),
    ("SGD", dict(lr=float("nan")), ValueError, r"SGD: lr must be finite, got nan"),
    ("SGD", dict(lr=float("inf")), ValueError, r"SGD: lr must be finite, got inf"),
    ("SGD", dict(lr=0.1, weight_decay=float("nan")), ValueError, r"SGD: weight_decay must be finite, got nan"),
    ("AdaGrad", dict(eps=-1e-8), ValueError, r"AdaGrad: eps must be ≥ 0, got -1e-08"),
    ("Adam", dict(lr=None), TypeError, r"Adam: lr must be a number, got None"),
    ("Momentum", dict(lr=0.1, momentum="0.9"), TypeError, r"Momentum: momentum must be a number, got '0\.9'"),
    ("SGD", dict(lr=True), TypeError, r"SGD: lr must be a number, got True"),
])
def test_bad_hyperparameters_name_the_class_key_and_value(name, kwargs, error, match):
    with pytest.raises(error, match=match):
        getattr(optim, name)([Parameter(numpy.zeros(2))], **kwargs)


def test_range_edges_are_accepted():
    p = Parameter(numpy.zeros(2))
    assert optim.Momentum([p], lr=0.1, momentum=0.0).momentum == 0.0
    assert optim.Nesterov([p], lr=0.1, momentum=0.999).momentum == 0.999
    adam = optim.Adam([p], lr=0.0, beta1=0.0, beta2=0.0, eps=0.0)
    assert (adam.lr, adam.beta1, adam.beta2, adam.eps) == (0.0, 0.0, 0.0, 0.0)
    assert optim.SGD([p], lr=numpy.float32(0.5)).lr == 0.5


def test_rmsprop_alpha_zero_steps_by_about_lr_times_sign():
    """α = 0 (legal): h = g², so the step is η g / (|g| + ε) ≈ η sign(g)."""
    p = Parameter(numpy.array([1.0, 1.0]))
    opt = optim.RMSprop([p], lr=0.1, alpha=0.0, eps=1e-8)
    p.grad = numpy.array([4.0, -0.5])
    opt.step()
    numpy.testing.assert_allclose(p.data, [0.9, 1.1], rtol=1e-7)


@pytest.mark.parametrize("name, key, value, match", [
    ("Momentum", "momentum", 1.0, r"Momentum: momentum must be in \[0, 1\), got 1\.0"),
    ("Adam", "beta1", 1.0, r"Adam: beta1 must be in \[0, 1\), got 1\.0"),
    ("Adam", "beta2", 2.0, r"Adam: beta2 must be in \[0, 1\), got 2\.0"),
    ("RMSprop", "alpha", 1.0, r"RMSprop: alpha must be in \[0, 1\), got 1\.0"),
    ("SGD", "lr", float("nan"), r"SGD: lr must be finite, got nan"),
])
def test_bad_assignment_raises_and_keeps_the_old_value(name, key, value, match):
    opt = make(name, [Parameter(numpy.zeros(2))])
    before = getattr(opt, key)
    with pytest.raises(ValueError, match=match):
        setattr(opt, key, value)
    assert getattr(opt, key) == before
    setattr(opt, key, 0.5)  # a value in range is still taken, as a Python float
    assert getattr(opt, key) == 0.5 and type(getattr(opt, key)) is float


def test_load_state_dict_checks_hyperparameters():
    opt = make("Adam", [Parameter(numpy.zeros(2))])
    d = opt.state_dict()
    d["hyper"]["beta2"] = 1.0
    with pytest.raises(ValueError, match=r"Adam: beta2 must be in \[0, 1\), got 1\.0"):
        opt.load_state_dict(d)


def test_parameters_passed_wrongly_are_named():
    model = nn.Sequential(nn.Linear(3, 2))
    with pytest.raises(TypeError, match=r"SGD: pass the model or model\.parameters\(\) \(called\), "
                                        r"got the bound method Sequential\.parameters"):
        optim.SGD(model.parameters, lr=0.1)
    with pytest.raises(TypeError, match=r"Adam: params is a single Parameter of shape \(3, 2\)"):
        optim.Adam(model[0].weight)
    with pytest.raises(TypeError, match=r"Momentum: params must be a Module.*got float 0\.1"):
        optim.Momentum(0.1, lr=0.1)
    with pytest.raises(ValueError, match="SGD got an empty parameter list"):
        optim.SGD([], lr=0.1)
    assert len(optim.SGD(model.parameters(), lr=0.1).params) == 2
