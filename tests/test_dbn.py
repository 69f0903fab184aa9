"""Deep belief nets and the two-layer DBM: greedy pre-training, MLP conversion, sampling, mean field, GPU parity."""
import numpy
import pytest

import backends
import dlcore
from dlcore import Tensor, losses, optim
from dlcore.data import mnist_5k, split
from dlcore.ops.activation import sigmoid_array
from dlcore.models import MLP
from dlcore.unsupervised import DBM, DBN


@pytest.fixture(scope="module")
def mnist_500():
    x, y = mnist_5k()
    (x, y), = split(x, y, ratios=(1.0,), seed=0)
    return x[:500], y[:500]


def sig(x):
    return sigmoid_array(numpy, x)


def test_greedy_pretraining_reduces_each_layers_error(mnist_500):
    dbn = DBN([784, 64, 32], lr=0.05)
    history = dbn.pretrain(mnist_500[0], epochs=4, batch_size=50)
    assert len(history) == 2 and all(len(h) == 4 for h in history)
    for layer, errors in enumerate(history):
        assert errors[-1] < 0.9 * errors[0], (layer, errors)
    assert [name for name, _ in dbn.named_parameters()] == ["rbm0.W", "rbm0.b", "rbm0.c", "rbm1.W", "rbm1.b", "rbm1.c"]


def test_to_mlp_reproduces_the_rbm_stack(mnist_500):
    x = mnist_500[0][:100]
    dbn = DBN([784, 64, 32, 16])
    dbn.pretrain(x, epochs=1, batch_size=50)
    mlp = dbn.to_mlp(10)
    assert isinstance(mlp, MLP) and len(mlp) == 7  # (Linear, Sigmoid) × 3, Linear
    h = x
    for i, rbm in enumerate(dbn.rbms):
        h = rbm.p_h_given_v(h)
        numpy.testing.assert_allclose(mlp[:2 * i + 2](Tensor(x)).data, h, rtol=1e-6, atol=1e-7)
    numpy.testing.assert_array_equal(dbn.transform(x), h)
    assert mlp(Tensor(x)).shape == (100, 10)
    mlp[0].weight.data += 1  # the MLP holds copies: fine-tuning leaves the DBN alone
    assert not numpy.allclose(mlp[0].weight.data, dbn.rbm0.W.data)


def test_fine_tuning_the_converted_mlp_lowers_the_loss(mnist_500):
    x, y = mnist_500
    dbn = DBN([784, 64])
    dbn.pretrain(x, epochs=2, batch_size=50)
    mlp = dbn.to_mlp(10)
    opt, loss_fn = optim.Momentum(mlp.parameters(), lr=0.1), losses.CrossEntropyLoss()
    losses_seen = []
    for _ in range(30):
        loss = loss_fn(mlp(Tensor(x[:100])), y[:100])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses_seen.append(loss.item())
    assert losses_seen[-1] < 0.5 * losses_seen[0]


def reference_sample(dbn, n, gibbs_steps, seed, start=None):
    """DBN.sample written out in float64 from the class docstring, with the uniforms it draws reproduced by
    re-seeding and drawing the same shapes in the same order from the top RBM's backend generator:
    [u < ½] start states (no ``start``), or the data pushed up by p(h|v); then per Gibbs round in the top RBM
    h = [u < σ(vW + c)], v = [u < σ(hWᵀ + b)]; then v = [u < σ(hWᵀ + b)] down through the middle RBMs and
    σ(hW₀ᵀ + b₀) at the bottom."""
    params = [[backends.to_numpy(p.data).astype(numpy.float64) for p in (r.W, r.b, r.c)] for r in dbn.rbms]
    top = dbn.rbms[-1]
    dlcore.manual_seed(seed)

    def draw(width):
        return backends.to_numpy(top.backend.random((n, width), top.W.dtype))

    if start is None:
        v = (draw(top.n_visible) < 0.5) * 1.0
    else:
        v = numpy.asarray(start[:n], numpy.float64)
        for W, _, c in params[:-1]:
            v = sig(v @ W + c)
    W, b, c = params[-1]
    mean = v
    for _ in range(gibbs_steps):
        h = (draw(top.n_hidden) < sig(v @ W + c)) * 1.0
        mean = sig(h @ W.T + b)
        v = (draw(top.n_visible) < mean) * 1.0
    if len(params) == 1:
        return mean
    for rbm, (W, b, _) in zip(reversed(dbn.rbms[1:-1]), reversed(params[1:-1])):
        v = (draw(rbm.n_visible) < sig(v @ W.T + b)) * 1.0
    W, b, _ = params[0]
    return sig(v @ W.T + b)


def test_samples_have_the_visible_shape_and_range(mnist_500):
    """Seeded samples equal ``reference_sample`` (top-RBM Gibbs chain, binary down-pass, bottom means) for
    2-, 3- and 4-layer nets, from random and from data starts; the rows differ from each other and from the
    chain-free σ(b₀); another seed or more Gibbs rounds give other samples."""
    x = mnist_500[0]
    dbn = DBN([784, 32, 16])
    dbn.pretrain(x, epochs=2, batch_size=50)
    deep = DBN([784, 32, 16, 8])
    deep.pretrain(x[:200], epochs=1, batch_size=50)
    for net, n, steps, start in ((dbn, 6, 20, None), (dbn, 4, 5, x), (deep, 5, 3, None), (deep, 4, 2, x),
                                 (DBN([784, 16]), 3, 2, None)):
        dlcore.manual_seed(21)
        samples = net.sample(n, steps, start=start)
        assert samples.dtype == numpy.float32 and samples.shape == (n, 784)
        assert numpy.isfinite(samples).all() and samples.min() >= 0 and samples.max() <= 1
        numpy.testing.assert_allclose(samples, reference_sample(net, n, steps, 21, start), rtol=1e-5, atol=1e-6)
        assert not numpy.allclose(samples, samples[0]), "all rows are the same sample"
    bottom = sig(dbn.rbm0.b.data.astype(numpy.float64))
    dlcore.manual_seed(21)
    samples = dbn.sample(6, 20)
    assert not numpy.allclose(samples, bottom, atol=1e-3)  # the chain's state reaches the bottom layer
    dlcore.manual_seed(22)
    assert not numpy.allclose(dbn.sample(6, 20), samples)
    dlcore.manual_seed(21)
    assert not numpy.allclose(dbn.sample(4, 0, start=x), dbn.sample(4, 5, start=x))


def test_gaussian_visible_dbn_trains():
    rng = numpy.random.default_rng(0)
    x = (rng.normal(0, 1, (200, 8)) + 2 * rng.integers(0, 2, (200, 1))).astype(numpy.float32)
    dbn = DBN([8, 6, 4], visible="gaussian", lr=0.01)
    history = dbn.pretrain(x, epochs=15, batch_size=20)
    assert history[0][-1] < history[0][0] and dbn.transform(x).shape == (200, 4)


def test_dbm_mean_field_reaches_a_fixed_point(mnist_500):
    x = mnist_500[0][:200]
    dbm = DBM([784, 48, 24], lr=0.05)
    history = dbm.pretrain(x, epochs=3, batch_size=50)
    assert all(h[-1] < h[0] for h in history)
    W1, c1, W2, c2 = (p.data for p in (dbm.rbm1.W, dbm.rbm1.c, dbm.rbm2.W, dbm.rbm2.c))
    mu1, mu2 = dbm.mean_field(x, steps=0)  # the doubled recognition pass
    numpy.testing.assert_allclose(mu1, sig(2 * (x @ W1) + c1), rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(mu2, sig(mu1 @ W2 + c2), rtol=1e-5, atol=1e-6)
    mu1, mu2 = dbm.mean_field(x, steps=30)
    numpy.testing.assert_allclose(mu1, sig(x @ W1 + mu2 @ W2.T + c1), atol=1e-5)
    numpy.testing.assert_allclose(mu2, sig(mu1 @ W2 + c2), atol=1e-5)
    assert mu1.shape == (200, 48) and mu2.shape == (200, 24) and mu1.dtype == numpy.float32
    numpy.testing.assert_array_equal(dbm(x), dbm.mean_field(x)[1])


def test_dbm_to_mlp_is_the_recognition_pass(mnist_500):
    x = mnist_500[0][:50]
    dbm = DBM([784, 32, 16])
    dbm.pretrain(x, epochs=1, batch_size=25)
    mlp = dbm.to_mlp(10)
    assert mlp(Tensor(x)).shape == (50, 10)
    mu1, mu2 = dbm.mean_field(x, steps=0)
    numpy.testing.assert_allclose(mlp[:2](Tensor(x)).data, mu1, rtol=1e-6, atol=1e-7)
    numpy.testing.assert_allclose(mlp[:4](Tensor(x)).data, mu2, rtol=1e-6, atol=1e-7)
    with pytest.raises(ValueError, match="n_hidden2"):
        DBM([784, 32])


@pytest.mark.gpu
def test_converted_mlps_and_mean_field_agree_on_gpu(mnist_500):
    x = mnist_500[0][:100]
    out = {}
    for backend in ("numpy", "cupy"):
        backends.use(backend)
        dlcore.manual_seed(0)
        dbn, dbm = DBN([784, 32, 16]), DBM([784, 32, 16])
        xb = backends.to_device(x, backend)
        rng = numpy.random.default_rng(0)
        for rbm in (*dbn.rbms, dbm.rbm1, dbm.rbm2):  # same (host-made) draws on both devices
            for p in (rbm.W, rbm.b, rbm.c):
                p.data[...] = rbm.W.xp.asarray(rng.normal(0, 0.1, p.shape), dtype=p.dtype)
        mlp, mlp2 = dbn.to_mlp(10), dbm.to_mlp(10)
        assert backends.backend_of(mlp[0].weight.data).name == backend
        out[backend] = [backends.to_numpy(a) for a in (
            mlp(Tensor(xb)).data, mlp2(Tensor(xb)).data, dbn.transform(xb), *dbm.mean_field(xb, 10))]
    for gpu, cpu in zip(out["cupy"], out["numpy"]):
        numpy.testing.assert_allclose(gpu, cpu, rtol=1e-5, atol=1e-5)
    backends.use("cupy")
    dbn = DBN([784, 16])
    assert len(dbn.pretrain(x, epochs=1, batch_size=50)[0]) == 1
    assert backends.backend_of(dbn.sample(2, 3)).name == "cupy"
