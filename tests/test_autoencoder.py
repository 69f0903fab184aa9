"""Autoencoders: learning on MNIST-5k, tied-weight gradients, denoising corruption, greedy stacking and fine-tuning.

Gradient checks of the tied and untied autoencoder and their CPU-vs-GPU parity come from
``tests/cases/autoencoder_cases.py`` through test_gradcheck.py and test_gpu_parity.py.
"""
import numpy
import pytest

import backends
import dlcore
from dlcore import Tensor, losses, optim
from dlcore.data import ArrayLoader, mnist_5k, split
from dlcore.training import Trainer
from dlcore.unsupervised.autoencoder import Autoencoder, StackedAutoencoder

BACKENDS = ["numpy", pytest.param("cupy", marks=pytest.mark.gpu)]


@pytest.fixture(scope="module")
def mnist():
    """1,000 training and 200 test images of MNIST-5k, shuffled (the file is sorted by label)."""
    x, y = mnist_5k()
    (x_train, y_train), (x_test, y_test), _ = split(x, y, (0.2, 0.04, 0.76), seed=0)
    return x_train, y_train, x_test, y_test


@pytest.fixture(scope="module")
def pretrained(mnist):
    """A 784-128-64 sigmoid SAE pre-trained greedily on the 1,000 training images, and its histories."""
    backends.use("numpy")
    dlcore.manual_seed(0)
    sae = StackedAutoencoder([784, 128, 64], corruption=0.1)
    return sae, sae.pretrain(mnist[0], epochs=8, batch_size=50, lr=3e-3, seed=0)


# ---- learning ---------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs", [{}, {"tied": True}, {"corruption": 0.3},
                                    {"corruption": 0.2, "corruption_kind": "gaussian"}],
                         ids=["untied", "tied", "mask", "gaussian"])
def test_reconstruction_loss_falls_on_mnist(mnist, kwargs):
    x = mnist[0]
    ae = Autoencoder(784, 64, **kwargs)
    history = Trainer(progress=False).fit(ae, losses.BinaryCrossEntropy(), optim.Adam(ae, lr=3e-3),
                                          ArrayLoader(x, x, batch_size=50, seed=0), epochs=4)
    first, last = history["train_loss"][0], history["train_loss"][-1]
    assert last < 0.75 * first, history["train_loss"]
    ae.eval()  # the clean reconstruction error of a denoising autoencoder is low too
    with dlcore.no_grad():
        clean = losses.BinaryCrossEntropy()(ae(Tensor(x)), x).item()
    assert clean < last * 1.05


# ---- tied weights -------------------------------------------------------------------------------
def test_tied_autoencoder_has_one_weight():
    assert [n for n, _ in Autoencoder(6, 4, tied=True).named_parameters()] == ["decoder_bias", "encoder.weight",
                                                                              "encoder.bias"]
    assert [n for n, _ in Autoencoder(6, 4).named_parameters()] == ["encoder.weight", "encoder.bias",
                                                                   "decoder.weight", "decoder.bias"]


def test_tied_gradient_is_encoder_plus_decoder_contribution():
    """∂L/∂W of the tied model = ∂L/∂W_enc + (∂L/∂W_dec)ᵀ of an untied copy with W_dec = Wᵀ."""
    with dlcore.default_dtype("float64"):
        tied, untied = Autoencoder(6, 4, tied=True), Autoencoder(6, 4)
    untied.encoder.load_state_dict(tied.encoder.state_dict())
    untied.decoder.weight.data = tied.encoder.weight.data.T.copy()
    untied.decoder.bias.data = tied.decoder_bias.data.copy()
    x = numpy.random.default_rng(0).random((5, 6))
    for model in (tied, untied):
        losses.BinaryCrossEntropy()(model(Tensor(x)), x).backward()
    numpy.testing.assert_allclose(tied.encoder.weight.grad, untied.encoder.weight.grad + untied.decoder.weight.grad.T,
                                  rtol=1e-12, atol=1e-15)
    assert numpy.abs(untied.decoder.weight.grad).max() > 1e-3  # both contributions matter
    numpy.testing.assert_allclose(tied.decoder_bias.grad, untied.decoder.bias.grad, rtol=1e-12)


# ---- denoising ----------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("nu", [0.1, 0.5])
def test_masking_sets_a_fraction_nu_to_zero(backend, nu):
    backends.use(backend)
    x = Tensor(backends.to_device(numpy.full((200, 500), 0.5, numpy.float32), backend))
    y = Autoencoder(500, 8, corruption=nu).corrupt(x)
    assert y.device == backend and y.dtype == numpy.float32
    y = y.numpy()
    masked = y == 0
    assert abs(masked.mean() - nu) < 5 * numpy.sqrt(nu * (1 - nu) / y.size)  # 5σ of the binomial
    assert (y[~masked] == 0.5).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_gaussian_noise_has_std_nu(backend):
    backends.use(backend)
    nu, x_host = 0.3, numpy.random.default_rng(0).random((200, 500)).astype(numpy.float32)
    ae = Autoencoder(500, 8, corruption=nu, corruption_kind="gaussian")
    y = ae.corrupt(Tensor(backends.to_device(x_host, backend)))
    assert y.device == backend and y.dtype == numpy.float32
    z = (y.numpy() - x_host).astype(numpy.float64) / nu
    n = z.size
    assert abs(z.mean()) < 5 / numpy.sqrt(n)
    assert abs(z.std() - 1) < 5 / numpy.sqrt(2 * n)
    assert abs((numpy.abs(z) < 1).mean() - 0.682689) < 5 * numpy.sqrt(0.2166 / n)  # a normal, not just any std 1


@pytest.mark.parametrize("kind", ["mask", "gaussian"])
def test_eval_mode_has_no_corruption(kind):
    ae = Autoencoder(20, 5, corruption=0.4, corruption_kind=kind)
    x = Tensor(numpy.random.default_rng(0).random((8, 20)).astype(numpy.float32))
    ae.eval()
    y1, y2 = ae(x).numpy(), ae(x).numpy()
    numpy.testing.assert_array_equal(y1, y2)
    numpy.testing.assert_array_equal(y1, ae.decode(ae.encode(x)).numpy())
    ae.train()
    assert not numpy.array_equal(ae(x).numpy(), y1)
    with dlcore.training_mode(False):
        assert ae.corrupt(x) is x


def test_bad_settings_are_rejected():
    with pytest.raises(ValueError, match="mask corruption must be in"):
        Autoencoder(4, 2, corruption=1.0)
    with pytest.raises(ValueError, match="corruption_kind"):
        Autoencoder(4, 2, corruption_kind="salt")
    with pytest.raises(ValueError, match="expects codes with 2 features"):
        Autoencoder(4, 2, tied=True).decode(Tensor(numpy.zeros((3, 4), numpy.float32)))
    x = numpy.zeros((4, 4), numpy.float32)
    with pytest.raises(ValueError, match="use loss='mse'"):
        StackedAutoencoder([4, 3, 2], activation="relu").pretrain(x, epochs=1)
    with pytest.raises(ValueError, match="optim.get: name must be one of 'sgd'.*got 'lbfgs'"):
        StackedAutoencoder([4, 2]).pretrain(x, optimizer="lbfgs")


# ---- stacking -----------------------------------------------------------------------------------
def test_each_layer_of_the_stack_learns(pretrained):
    sae, histories = pretrained
    assert len(histories) == 2
    for k, history in enumerate(histories):
        first, last = history["train_loss"][0], history["train_loss"][-1]
        assert len(history) == 8 and last < 0.8 * first, (k, history["train_loss"])


def test_relu_stack_pretrains_with_mse(mnist):
    sae = StackedAutoencoder([784, 64, 16], activation="relu", tied=True)
    histories = sae.pretrain(mnist[0][:500], epochs=3, batch_size=50, lr=1e-3, loss="mse", optimizer="momentum")
    assert [type(ae.output).__name__ for ae in sae.layers] == ["Sigmoid", "Identity"]
    assert all(h["train_loss"][-1] < h["train_loss"][0] for h in histories)


def test_to_mlp_copies_the_encoders(pretrained, mnist):
    sae, _ = pretrained
    mlp = sae.to_mlp(10)
    assert [n for n, _ in mlp.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    x = Tensor(mnist[2])
    codes = sae.encode(x).numpy()
    assert codes.shape == (200, 64)
    numpy.testing.assert_array_equal(mlp[:-1](x).numpy(), codes)
    numpy.testing.assert_array_equal(sae.encoder()(x).numpy(), codes)
    assert sae.encoder()[0] is sae.layers[0].encoder
    for p in mlp.parameters():
        p.data += 1.0
    numpy.testing.assert_array_equal(sae.encode(x).numpy(), codes)


def test_fine_tuning_the_pretrained_mlp_classifies_mnist(pretrained, mnist):
    sae, _ = pretrained
    x_train, y_train, x_test, y_test = mnist
    mlp = sae.to_mlp(10)
    Trainer(progress=False).fit(mlp, losses.CrossEntropyLoss(), optim.Adam(mlp, lr=5e-3),
                                ArrayLoader(x_train[:800], y_train[:800], batch_size=32, seed=0), epochs=10)
    mlp.eval()
    with dlcore.no_grad():
        accuracy = (mlp(Tensor(x_test)).numpy().argmax(axis=1) == y_test).mean()
    assert accuracy >= 0.8, accuracy  # measured 0.90–0.925 over seeds 0–3; chance is 0.1
