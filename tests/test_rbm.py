"""RBM: CD/PCD steps against a NumPy reference, brute-force energies, learning, PCD, seeds, dtypes, GPU parity."""
import itertools

import numpy
import pytest

import backends
import dlcore
from dlcore.data import ArrayLoader, mnist_5k, split
from dlcore.unsupervised import RBM


def sig(x):
    return 1 / (1 + numpy.exp(-x))


def set_params(rbm, W, b, c):
    xp = rbm.W.xp
    for p, value in ((rbm.W, W), (rbm.b, b), (rbm.c, c)):
        p.data[...] = xp.asarray(value, dtype=p.dtype)


def host_state(rbm):
    return {k: v.astype(numpy.float64) for k, v in rbm.state_dict().items()}


def reference_cd(state, v0, us, *, visible="bernoulli", k=1, chain=None, sample_visible=False,
                 lr=0.1, momentum=0.0, weight_decay=0.0):
    """One CD-k / PCD-k step written out in float64 from the RBM docstring; returns (new state, error, chain)."""
    W, b, c, dW, db, dc = (state[n] for n in ("W", "b", "c", "dW", "db", "dc"))
    us = list(us)

    def mean_v(h):
        a = h @ W.T + b
        return sig(a) if visible == "bernoulli" else a

    def visible_state(mean):
        if not sample_visible:
            return mean
        u = us.pop(0)
        if visible == "bernoulli":
            return (u < mean) * 1.0
        return mean + numpy.sqrt(-2 * numpy.log(1 - u[0])) * numpy.cos(2 * numpy.pi * u[1])

    p0 = sig(v0 @ W + c)
    recon = mean_v((us.pop(0) < p0) * 1.0)
    error = ((v0 - recon) ** 2).sum(axis=1).mean()
    vk, steps = (visible_state(recon), k - 1) if chain is None else (chain, k)
    for _ in range(steps):
        vk = visible_state(mean_v((us.pop(0) < sig(vk @ W + c)) * 1.0))
    assert not us, "the reference consumed fewer uniforms than supplied"
    pk = sig(vk @ W + c)
    n, m = len(v0), len(vk)
    dW = momentum * dW + lr * (v0.T @ p0 / n - vk.T @ pk / m - weight_decay * W)
    db = momentum * db + lr * (v0.sum(0) / n - vk.sum(0) / m)
    dc = momentum * dc + lr * (p0.sum(0) / n - pk.sum(0) / m)
    return dict(W=W + dW, b=b + db, c=c + dc, dW=dW, db=db, dc=dc), error, vk


def test_cd1_step_by_hand():
    """W = 0, b = c = 0: p(h|v) = p(v|h) = ½, so ΔW = ε(v⁰ᵀ½ − ½·½), Δb = ε(v⁰ − ½), Δc = 0, error = 3/4."""
    rbm = RBM(3, 2, lr=0.1, momentum=0.0, weight_decay=0.0)
    set_params(rbm, numpy.zeros((3, 2)), numpy.zeros(3), numpy.zeros(2))
    error = rbm.cd_step(numpy.array([[1.0, 0.0, 1.0]]), uniforms=[numpy.array([[0.3, 0.7]], numpy.float32)])
    numpy.testing.assert_allclose(rbm.W.data, [[0.025, 0.025], [-0.025, -0.025], [0.025, 0.025]], rtol=1e-6)
    numpy.testing.assert_allclose(rbm.b.data, [0.05, -0.05, 0.05], rtol=1e-6)
    numpy.testing.assert_allclose(rbm.c.data, [0.0, 0.0], atol=1e-8)
    assert float(error) == pytest.approx(0.75)
    assert rbm.W.grad is None


CD_CASES = {  # name: (RBM kwargs, steps, chains)
    "cd1": (dict(), 1, None),
    "cd1-momentum-decay": (dict(momentum=0.9, weight_decay=0.01), 3, None),
    "cd2-sampled-visible": (dict(k=2, sample_visible=True, momentum=0.5, weight_decay=1e-3), 2, None),
    "pcd2": (dict(k=2, persistent=3, momentum=0.5), 2, 3),
    "gaussian-cd1": (dict(visible="gaussian", lr=0.05), 1, None),
    "gaussian-cd2-sampled": (dict(visible="gaussian", k=2, sample_visible=True, lr=0.05), 1, None),
}


def _cd_inputs(name, rng):
    """(RBM kwargs, initial parameters, data, per-step uniform lists) of a CD_CASES entry, float64 host arrays."""
    kwargs, steps, chains = CD_CASES[name]
    kwargs = {"lr": 0.1, "momentum": 0.0, "weight_decay": 0.0, **kwargs}
    gaussian, k, sampled = kwargs.get("visible") == "gaussian", kwargs.get("k", 1), kwargs.get("sample_visible")
    params = (rng.normal(0, 0.5, (3, 2)), rng.normal(0, 0.5, 3), rng.normal(0, 0.5, 2))
    v = rng.normal(0.5, 1, (2, 3)) if gaussian else (rng.random((2, 3)) < 0.5) * 1.0
    n_chain = chains or 2
    v_shape = (2, n_chain, 3) if gaussian else (n_chain, 3)
    shapes = [(2, 2)] + ([v_shape] if sampled and not chains else [])   # u(h⁰), [u(v¹)]
    for _ in range(k if chains else k - 1):                               # further chain steps
        shapes += [(n_chain, 2)] + ([v_shape] if sampled else [])
    draws = [[rng.random(s) for s in shapes] for _ in range(steps)]
    return kwargs, params, v, draws


@pytest.mark.parametrize("name", list(CD_CASES))
def test_cd_step_matches_reference(name):
    kwargs, params, v, draws = _cd_inputs(name, numpy.random.default_rng(1))
    with dlcore.default_dtype("float64"):
        rbm = RBM(3, 2, **kwargs)
    set_params(rbm, *params)
    chains = CD_CASES[name][2]
    state, chain = host_state(rbm), (v[numpy.arange(chains) % len(v)] if chains else None)
    for us in draws:
        error = rbm.cd_step(v, uniforms=us)
        state, expected_error, last = reference_cd(
            state, v, us, chain=chain, **{n: kwargs[n] for n in kwargs if n != "persistent"})
        for key, value in host_state(rbm).items():
            numpy.testing.assert_allclose(value, state[key], rtol=1e-10, atol=1e-12, err_msg=key)
        assert float(error) == pytest.approx(expected_error, rel=1e-10)
        if chains:
            chain = last
            numpy.testing.assert_allclose(rbm.chains, chain, rtol=1e-10)


def test_supplied_uniforms_are_checked():
    rbm = RBM(3, 2)
    v = numpy.ones((2, 3), numpy.float32)
    with pytest.raises(ValueError, match="shape"):
        rbm.cd_step(v, uniforms=[numpy.zeros((2, 3))])
    with pytest.raises(ValueError, match="ran out"):
        RBM(3, 2, k=2).cd_step(v, uniforms=[numpy.zeros((2, 2))])
    with pytest.raises(ValueError, match="more uniforms"):
        rbm.cd_step(v, uniforms=[numpy.zeros((2, 2))] * 2)
    with pytest.raises(ValueError, match=r"\(N, 3\)"):
        rbm.p_h_given_v(numpy.ones((2, 4)))


def _tiny_rbm(visible, rng):
    with dlcore.default_dtype("float64"):
        rbm = RBM(4, 3, visible=visible)
    set_params(rbm, rng.normal(0, 1, (4, 3)), rng.normal(0, 1, 4), rng.normal(0, 1, 3))
    return rbm


def _energy(rbm, v, h):
    W, b, c = (backends.to_numpy(p.data) for p in (rbm.W, rbm.b, rbm.c))
    visible = -(v @ b) if rbm.visible == "bernoulli" else 0.5 * ((v - b) ** 2).sum(-1)
    return visible - h @ c - ((v @ W) * h).sum(-1)


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_free_energy_and_p_h_given_v_by_brute_force(visible):
    rng = numpy.random.default_rng(2)
    rbm = _tiny_rbm(visible, rng)
    v = (rng.random((5, 4)) < 0.5) * 1.0 if visible == "bernoulli" else rng.normal(0, 1, (5, 4))
    hs = numpy.array(list(itertools.product([0.0, 1.0], repeat=3)))            # all 8 hidden states
    weights = numpy.exp(-_energy(rbm, v[:, None, :], hs[None, :, :]))         # (5, 8) = e^{−E(v,h)}
    numpy.testing.assert_allclose(rbm.free_energy(v), -numpy.log(weights.sum(1)), rtol=1e-12)
    numpy.testing.assert_allclose(rbm.p_h_given_v(v), weights @ hs / weights.sum(1, keepdims=True), rtol=1e-12)


def test_p_v_given_h_by_brute_force():
    rng = numpy.random.default_rng(3)
    rbm = _tiny_rbm("bernoulli", rng)
    h = (rng.random((5, 3)) < 0.5) * 1.0
    vs = numpy.array(list(itertools.product([0.0, 1.0], repeat=4)))
    weights = numpy.exp(-_energy(rbm, vs[None, :, :], h[:, None, :]))
    numpy.testing.assert_allclose(rbm.p_v_given_h(h), weights @ vs / weights.sum(1, keepdims=True), rtol=1e-12)


def test_pseudo_log_likelihood_exact_and_estimates():
    rng = numpy.random.default_rng(4)
    rbm = _tiny_rbm("bernoulli", rng)
    v = (rng.random((6, 4)) < 0.5) * 1.0
    F = rbm.free_energy
    terms = numpy.stack([numpy.log(sig(F(numpy.where(numpy.arange(4) == i, 1 - v, v)) - F(v))) for i in range(4)], 1)
    assert float(rbm.pseudo_log_likelihood(v, "all")) == pytest.approx(terms.sum(1).mean(), rel=1e-12)
    cycle = 4 * terms[numpy.arange(6), numpy.arange(6) % 4]
    assert float(rbm.pseudo_log_likelihood(v)) == pytest.approx(cycle.mean(), rel=1e-12)
    bits = numpy.array([3, 2, 1, 0, 0, 1])
    assert float(rbm.pseudo_log_likelihood(v, bits)) == pytest.approx(4 * terms[numpy.arange(6), bits].mean())
    assert numpy.isfinite(float(rbm.pseudo_log_likelihood(v, "random")))
    with pytest.raises(ValueError, match="Bernoulli"):
        _tiny_rbm("gaussian", rng).pseudo_log_likelihood(v)


def prototypes(n=200, noise=0.05, seed=0):
    """Two 12-bit prototypes (left half on / alternating bits), each bit flipped with probability ``noise``."""
    rng = numpy.random.default_rng(seed)
    protos = numpy.array([[1] * 6 + [0] * 6, [0, 1] * 6], numpy.float32)
    x = protos[rng.integers(0, 2, n)]
    return numpy.abs(x - (rng.random(x.shape) < noise)).astype(numpy.float32)


def test_pseudo_likelihood_improves_on_prototype_data():
    x = prototypes()
    rbm = RBM(12, 4)
    before = float(rbm.pseudo_log_likelihood(x, "all"))
    assert before == pytest.approx(12 * numpy.log(0.5), abs=0.05)  # tiny weights: every bit a coin flip
    errors = rbm.fit(x, epochs=30, batch_size=20)
    after = float(rbm.pseudo_log_likelihood(x, "all"))
    assert after > -3.5 and errors[-1] < 0.5 * errors[0]
    # the model has learned the structure: a prototype is far more likely than a scrambled one
    protos = numpy.array([[1] * 6 + [0] * 6, [0, 1] * 6, [1, 1, 0, 0] * 3], numpy.float32)
    F = rbm.free_energy(protos)
    assert F[0] < F[2] - 5 and F[1] < F[2] - 5


@pytest.fixture(scope="module")
def mnist_1000():
    x, y = mnist_5k()
    (x, _), = split(x, y, ratios=(1.0,), seed=0)
    return x[:1000]


def test_reconstruction_error_falls_on_mnist(mnist_1000):
    rbm = RBM(784, 64, lr=0.05)
    before = float(rbm.reconstruction_error(mnist_1000))
    errors = rbm.fit(mnist_1000, epochs=5, batch_size=50)
    assert all(b < a for a, b in zip(errors, errors[1:])), errors
    assert errors[-1] < 0.6 * errors[0] and errors[0] < before
    assert float(rbm.reconstruction_error(mnist_1000)) < 0.5 * before


def test_pcd_chains_persist_on_the_device():
    x = prototypes(64)
    rbm = RBM(12, 4, persistent=True, k=1)
    assert rbm.chains is None
    rbm.cd_step(x[:16])
    first = rbm.chains.copy()
    assert first.shape == (16, 12) and rbm.chains.dtype == numpy.float32
    rbm.cd_step(x[16:20])  # a short batch: the 16 chains go on, unchanged in number
    assert rbm.chains.shape == (16, 12) and not numpy.array_equal(rbm.chains, first)
    assert "chains" not in rbm.state_dict() and {"dW", "db", "dc"} <= set(rbm.state_dict())
    errors = rbm.fit(x, epochs=20, batch_size=16)
    assert errors[-1] < errors[0] and rbm.chains.shape == (16, 12)


def test_seeded_runs_repeat_and_float32_stays_float32(mnist_1000):
    def run(seed):
        dlcore.manual_seed(seed)
        rbm = RBM(784, 16, persistent=True)
        errors = rbm.fit(mnist_1000[:200].astype(numpy.float64), epochs=2, batch_size=50, seed=seed)
        return rbm, errors

    (a, ea), (b, eb), (_, ec) = run(0), run(0), run(1)
    assert ea == eb and ea != ec
    for key, value in a.state_dict().items():
        assert value.dtype == numpy.float32, key
        numpy.testing.assert_array_equal(value, b.state_dict()[key])
    assert a.chains.dtype == numpy.float32 and a.p_h_given_v(mnist_1000[:2]).dtype == numpy.float32
    assert a.cd_step(mnist_1000[:10].astype(numpy.float64)).dtype == numpy.float32


def test_fit_on_a_loader_matches_fit_on_the_array():
    x = prototypes(100)
    dlcore.manual_seed(5)
    a = RBM(12, 4)
    ea = a.fit(x, epochs=3, batch_size=32, seed=7)
    dlcore.manual_seed(5)
    b = RBM(12, 4)
    eb = b.fit(ArrayLoader(x, numpy.zeros(len(x)), batch_size=32, seed=7), epochs=3)
    assert ea == pytest.approx(eb, rel=1e-6)
    numpy.testing.assert_allclose(a.W.data, b.W.data, rtol=1e-6)


def reference_gibbs(rbm, v, us, steps):
    """``steps`` Gibbs rounds written out in float64 from the RBM docstring; returns (last v, E[v | last h]).

    Per round: h = [u < σ(vW + c)], mean = σ(hWᵀ + b) and v = [u < mean] (Bernoulli), or
    mean = b + hWᵀ and v = mean + √(−2 ln(1 − u₀)) cos(2π u₁) (Gaussian); uniforms taken in order.
    """
    W, b, c = (backends.to_numpy(p.data).astype(numpy.float64) for p in (rbm.W, rbm.b, rbm.c))
    us, v = list(us), numpy.asarray(v, numpy.float64)
    mean = v
    for _ in range(steps):
        h = (us.pop(0) < sig(v @ W + c)) * 1.0
        a = h @ W.T + b
        u = us.pop(0)
        if rbm.visible == "bernoulli":
            mean = sig(a)
            v = (u < mean) * 1.0
        else:
            mean = a
            v = mean + numpy.sqrt(-2 * numpy.log(1 - u[0])) * numpy.cos(2 * numpy.pi * u[1])
    assert not us, "the reference consumed fewer uniforms than supplied"
    return v, mean


@pytest.mark.parametrize("visible", ["bernoulli", "gaussian"])
def test_gibbs_with_supplied_uniforms_matches_reference(visible):
    """gibbs(v, steps=2, uniforms=[u(h), u(v), u(h), u(v)]) equals the float64 chain of ``reference_gibbs``;
    one round from the same v differs from two (the chain moves); steps=0 returns (v, v) and draws nothing."""
    rng = numpy.random.default_rng(6)
    rbm = _tiny_rbm(visible, rng)
    gaussian = visible == "gaussian"
    v0 = rng.normal(0, 1, (5, 4)) if gaussian else (rng.random((5, 4)) < 0.5) * 1.0
    v_shape = (2, 5, 4) if gaussian else (5, 4)
    us = [rng.random(s) for s in ((5, 3), v_shape, (5, 3), v_shape)]
    v, mean = rbm.gibbs(v0, steps=2, uniforms=us)
    expected_v, expected_mean = reference_gibbs(rbm, v0, us, 2)
    assert v.shape == mean.shape == (5, 4) and v.dtype == numpy.float64
    numpy.testing.assert_allclose(v, expected_v, rtol=1e-12, atol=1e-12)
    numpy.testing.assert_allclose(mean, expected_mean, rtol=1e-12, atol=1e-12)
    if not gaussian:
        assert set(numpy.unique(v)) <= {0.0, 1.0}
    v1, mean1 = rbm.gibbs(v0, steps=1, uniforms=us[:2])
    numpy.testing.assert_allclose(mean1, reference_gibbs(rbm, v0, us[:2], 1)[1], rtol=1e-12, atol=1e-12)
    assert not numpy.allclose(mean1, mean) and not numpy.allclose(mean, v0)
    same, same_mean = rbm.gibbs(v0, steps=0, uniforms=[])
    numpy.testing.assert_array_equal(same, v0)
    numpy.testing.assert_array_equal(same_mean, v0)


def test_gibbs_and_samples():
    """Without uniforms, gibbs draws u(h), u(v) per round from the seeded backend generator: re-seeding and
    drawing the same shapes reproduces the chain of ``reference_gibbs``; sample_h/sample_v threshold at u."""
    rbm = RBM(12, 4)
    rbm.fit(prototypes(), epochs=20, batch_size=20)
    x = prototypes(8, seed=1)
    dlcore.manual_seed(11)
    v, mean = rbm.gibbs(x, steps=10)
    assert v.shape == mean.shape == (8, 12) and v.dtype == numpy.float32 and set(numpy.unique(v)) <= {0.0, 1.0}
    assert ((mean >= 0) & (mean <= 1)).all()
    dlcore.manual_seed(11)
    us = [rbm.backend.random(s, numpy.float32) for _ in range(10) for s in ((8, 4), (8, 12))]
    expected_v, expected_mean = reference_gibbs(rbm, x, us, 10)
    numpy.testing.assert_array_equal(v, expected_v)
    numpy.testing.assert_allclose(mean, expected_mean, rtol=1e-5, atol=1e-6)
    dlcore.manual_seed(12)
    assert not numpy.array_equal(rbm.gibbs(x, steps=10)[1], mean)  # other draws, another chain
    h = rbm.sample_h(v, u=numpy.full((8, 4), 0.5, numpy.float32))
    numpy.testing.assert_array_equal(h, (rbm.p_h_given_v(v) > 0.5).astype(numpy.float32))
    assert set(numpy.unique(rbm.sample_v(h))) <= {0.0, 1.0}


# ---- GPU parity ------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("name", ["cd1-momentum-decay", "cd2-sampled-visible", "pcd2", "gaussian-cd2-sampled"])
def test_cd_steps_with_supplied_uniforms_agree_on_gpu(name):
    kwargs, params, v, draws = _cd_inputs(name, numpy.random.default_rng(1))
    results = {}
    for backend in ("numpy", "cupy"):
        backends.use(backend)
        rbm = RBM(3, 2, **kwargs)
        set_params(rbm, *params)
        errors = [rbm.cd_step(backends.to_device(v.astype(numpy.float32), backend),
                              uniforms=[backends.to_device(u.astype(numpy.float32), backend) for u in us])
                  for us in draws]
        assert backends.backend_of(rbm.W.data).name == backend
        results[backend] = rbm.state_dict(), [float(backends.to_numpy(e)) for e in errors]
    for key, value in results["numpy"][0].items():
        numpy.testing.assert_allclose(results["cupy"][0][key], value, rtol=1e-5, atol=1e-6, err_msg=key)
    numpy.testing.assert_allclose(results["cupy"][1], results["numpy"][1], rtol=1e-5)


@pytest.mark.gpu
def test_energies_and_training_agree_on_gpu(mnist_1000):
    x = mnist_1000[:200]
    rng = numpy.random.default_rng(0)
    draws = [[rng.random((50, 32)).astype(numpy.float32)] for _ in range(8)]
    out = {}
    for backend in ("numpy", "cupy"):
        backends.use(backend)
        dlcore.manual_seed(0)
        rbm = RBM(784, 32)
        xb = backends.to_device(x, backend)
        for i, us in enumerate(draws):
            rbm.cd_step(xb[50 * (i % 4):50 * (i % 4 + 1)], uniforms=[backends.to_device(u, backend) for u in us])
        out[backend] = (rbm.state_dict(), backends.to_numpy(rbm.free_energy(xb)),
                        float(backends.to_numpy(rbm.pseudo_log_likelihood(xb))))
    for key, value in out["numpy"][0].items():
        numpy.testing.assert_allclose(out["cupy"][0][key], value, rtol=1e-4, atol=1e-6, err_msg=key)
    numpy.testing.assert_allclose(out["cupy"][1], out["numpy"][1], rtol=1e-5, atol=1e-4)
    assert out["cupy"][2] == pytest.approx(out["numpy"][2], rel=1e-4)
    backends.use("cupy")
    rbm = RBM(784, 16, persistent=True)
    errors = rbm.fit(x, epochs=2, batch_size=50)
    assert backends.backend_of(rbm.chains).name == "cupy" and len(errors) == 2
    rbm.to("numpy")
    assert isinstance(rbm.chains, numpy.ndarray)
