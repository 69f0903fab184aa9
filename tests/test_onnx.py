"""ONNX export: every layer and model the exporter supports runs in onnxruntime and matches dlcore's
eval-mode output to 1e-5 (float32), on the example's batch size and on another one; the onnx
package is never imported by ``import dlcore``."""
import subprocess
import sys

import numpy
import pytest

import dlcore
import dlcore.functional as F
from dlcore import Tensor, nn
from dlcore.models import MLP, AlexNetSmall, LeNet, Perceptron, ResNet, UNet
from dlcore.unsupervised import Autoencoder, StackedAutoencoder

try:
    import onnx
    import onnxruntime
except ImportError:  # the tests that export skip; the import tests below still run
    onnx = onnxruntime = None

needs_onnx = pytest.mark.skipif(onnxruntime is None, reason='onnx and onnxruntime are not installed: '
                                                            'pip install -e ".[onnx]"')
ATOL = 1e-5


def _randomize_statistics(model, rng):
    """BatchNorm running statistics away from (0, 1), so that exporting them wrongly shows."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean = rng.normal(0, 0.5, m.num_features).astype(numpy.float32)
            m.running_var = rng.uniform(0.3, 3.0, m.num_features).astype(numpy.float32)
            if m.affine:
                m.weight.data = rng.uniform(0.5, 1.5, m.num_features).astype(numpy.float32)
                m.bias.data = rng.normal(0, 0.3, m.num_features).astype(numpy.float32)
    return model


def _session(path):
    return onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def export_and_compare(model, shape, tmp_path, scale=1.0, batches=(None, 5)):
    """Export ``model`` on an example of ``shape``, run the file in onnxruntime on that batch and on
    one of another size, and return the largest |onnxruntime − dlcore| (asserted ≤ ATOL)."""
    rng = numpy.random.default_rng(0)
    _randomize_statistics(model, rng)
    example = (scale * rng.standard_normal(shape)).astype(numpy.float32)
    path = dlcore.onnx.export(model, tmp_path / "model.onnx", example=example)
    session = _session(path)
    worst = 0.0
    for n in batches:
        x = example if n is None else (scale * rng.standard_normal((n, *shape[1:]))).astype(numpy.float32)
        model.eval()
        expected = model(Tensor(x)).numpy()
        (got,) = session.run(None, {"input": x})
        assert got.shape == expected.shape and got.dtype == expected.dtype
        worst = max(worst, float(numpy.abs(got - expected).max()))
        numpy.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    return worst


class Concat(nn.Module):
    """y = concat([a(x), b(x)], axis=1): the U-Net's skip join."""

    def __init__(self):
        super().__init__()
        self.a, self.b = nn.Conv2d(2, 3, 3, padding=1), nn.Conv2d(2, 1, 1)

    def forward(self, x):
        return F.concat([self.a(x), self.b(x)], axis=1)


class Arithmetic(nn.Module):
    """The Tensor operators and reductions a hand-written forward uses."""

    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(numpy.random.default_rng(1).standard_normal((4, 3)).astype(numpy.float32))

    def forward(self, x):
        h = (x * 2.0 - 1.0) / 3.0 + (-x).exp() * 0.1 + (x.abs() + 1.0).log() + x ** 2
        h = h @ self.w                                   # (N, 3)
        h = h - h.mean(axis=1, keepdims=True) + h.max(axis=1, keepdims=True) * 0.5
        h = h.reshape(h.shape[0], 3, 1).transpose(0, 2, 1).sum(axis=1)
        return F.log_softmax(h, axis=-1) + F.softmax(h).astype("float32")


LAYERS = {
    "Linear": (lambda: nn.Linear(6, 4), (3, 6), 1.0),
    "Linear without bias": (lambda: nn.Linear(6, 4, bias=False), (3, 6), 1.0),
    "Linear on (N, T, D)": (lambda: nn.Linear(6, 4), (3, 2, 6), 1.0),
    "Step": (lambda: nn.Step(), (3, 7), 1.0),
    "Sigmoid": (lambda: nn.Sigmoid(), (3, 7), 10.0),
    "Tanh": (lambda: nn.Tanh(), (3, 7), 3.0),
    "Softplus, large |x|": (lambda: nn.Softplus(), (3, 7), 40.0),
    "ReLU": (lambda: nn.ReLU(), (3, 7), 1.0),
    "LeakyReLU": (lambda: nn.LeakyReLU(0.2), (3, 7), 1.0),
    "PReLU, one slope": (lambda: nn.PReLU(init=0.3), (3, 7), 1.0),
    "PReLU per channel, NCHW": (lambda: nn.PReLU(3, init=0.1), (2, 3, 4, 4), 1.0),
    "PReLU per feature, (N, C)": (lambda: nn.PReLU(7, init=0.2), (3, 7), 1.0),
    "ELU": (lambda: nn.ELU(0.7), (3, 7), 2.0),
    "Identity": (lambda: nn.Identity(), (3, 7), 1.0),
    "Softmax": (lambda: nn.Softmax(), (3, 7), 3.0),
    "Softmax over channels": (lambda: nn.Softmax(axis=1), (2, 3, 4, 4), 3.0),
    "Swish": (lambda: nn.Swish(), (3, 7), 3.0),
    "Swish beta 0.5": (lambda: nn.Swish(0.5), (3, 7), 3.0),
    "Conv2d": (lambda: nn.Conv2d(2, 3, 3, padding=1), (2, 2, 6, 6), 1.0),
    "Conv2d stride 2, no bias": (lambda: nn.Conv2d(2, 3, 3, stride=2, bias=False), (2, 2, 7, 7), 1.0),
    "Conv2d dilated, rectangular": (lambda: nn.Conv2d(2, 3, (3, 1), padding=(2, 0), dilation=2), (2, 2, 6, 5), 1.0),
    "Conv2d edge padding": (lambda: nn.Conv2d(2, 3, 3, padding=2, padding_mode="edge"), (2, 2, 5, 6), 1.0),
    "ConvTranspose2d k2 s2": (lambda: nn.ConvTranspose2d(3, 2, 2, stride=2), (2, 3, 4, 4), 1.0),
    "ConvTranspose2d output_padding": (lambda: nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
                                       (2, 3, 4, 5), 1.0),
    "ConvTranspose2d dilated, no bias": (lambda: nn.ConvTranspose2d(2, 2, 3, dilation=2, bias=False),
                                         (2, 2, 4, 4), 1.0),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 3, 6, 6), 1.0),
    "MaxPool2d padded": (lambda: nn.MaxPool2d(3, stride=2, padding=1), (2, 3, 7, 6), 1.0),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 3, 6, 6), 1.0),
    "AvgPool2d padded": (lambda: nn.AvgPool2d(3, stride=2, padding=1), (2, 3, 7, 6), 1.0),
    "MaxPool2d ceil_mode": (lambda: nn.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), (2, 3, 6, 7), 1.0),
    "AvgPool2d count_include_pad=False": (lambda: nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False),
                                          (2, 3, 7, 6), 1.0),
    "AvgPool2d ceil_mode": (lambda: nn.AvgPool2d(3, stride=2, ceil_mode=True), (2, 3, 6, 7), 1.0),
    "AvgPool2d ceil_mode, count_include_pad=False": (
        lambda: nn.AvgPool2d(3, stride=2, padding=1, ceil_mode=True, count_include_pad=False), (2, 3, 6, 7), 1.0),
    "GlobalAvgPool2d": (lambda: nn.GlobalAvgPool2d(), (2, 3, 5, 4), 1.0),
    "GlobalMaxPool2d": (lambda: nn.GlobalMaxPool2d(), (2, 3, 5, 4), 1.0),
    "Upsample2d": (lambda: nn.Upsample2d(2), (2, 3, 3, 4), 1.0),
    "Upsample2d (2, 3)": (lambda: nn.Upsample2d((2, 3)), (2, 3, 3, 4), 1.0),
    "BatchNorm1d (N, C)": (lambda: nn.BatchNorm1d(5), (3, 5), 1.0),
    "BatchNorm1d (N, C, L)": (lambda: nn.BatchNorm1d(5, eps=1e-3), (3, 5, 4), 1.0),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 4, 4), 1.0),
    "BatchNorm2d affine=False": (lambda: nn.BatchNorm2d(3, affine=False), (2, 3, 4, 4), 1.0),
    "Flatten": (lambda: nn.Sequential(nn.Flatten(), nn.Linear(48, 2)), (2, 3, 4, 4), 1.0),
    "Dropout (eval)": (lambda: nn.Sequential(nn.Linear(4, 8), nn.Dropout(0.5), nn.Linear(8, 2)), (3, 4), 1.0),
    "Residual, identity shortcut": (lambda: nn.Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.ReLU())),
                                    (2, 3, 4, 4), 1.0),
    "Residual, projection shortcut": (lambda: nn.Residual(nn.Conv2d(3, 4, 3, stride=2, padding=1),
                                                          nn.Conv2d(3, 4, 1, stride=2)), (2, 3, 6, 6), 1.0),
    "concat": (Concat, (2, 2, 4, 4), 1.0),
    "Tensor arithmetic and reductions": (Arithmetic, (3, 4), 1.0),
}

MODELS = {
    "MLP": (lambda: MLP([6, 16, 8, 3]), (4, 6)),
    "MLP tanh, BatchNorm1d, Dropout": (lambda: MLP([6, 16, 3], activation="tanh", batch_norm=True, dropout=0.3),
                                       (4, 6)),
    "MLP swish": (lambda: MLP([6, 16, 3], activation="swish"), (4, 6)),
    "Perceptron": (lambda: Perceptron(6, weight_init="he"), (4, 6)),
    "LeNet": (lambda: LeNet(in_channels=1, num_classes=10, input_size=28), (2, 1, 28, 28)),
    "AlexNetSmall": (lambda: AlexNetSmall(in_channels=3, input_size=16, width=(8, 8, 8, 8, 8), hidden=(16, 16)),
                     (2, 3, 16, 16)),
    "ResNet-8": (lambda: ResNet(depth=8, in_channels=1, base_channels=4), (2, 1, 8, 8)),
    "ResNet-14": (lambda: ResNet(depth=14, in_channels=3, num_classes=5, base_channels=4), (2, 3, 8, 8)),
    "UNet depth 2": (lambda: UNet(depth=2, base_channels=4), (2, 1, 8, 8)),
    "UNet depth 3, 2 classes": (lambda: UNet(depth=3, base_channels=2, in_channels=3, out_channels=2),
                                (2, 3, 16, 8)),
    "Autoencoder, tied weights": (lambda: Autoencoder(6, 3, tied=True), (4, 6)),
    "StackedAutoencoder": (lambda: StackedAutoencoder((6, 4, 2), activation="relu"), (4, 6)),
}


@needs_onnx
@pytest.mark.parametrize("name", list(LAYERS))
def test_each_layer_matches_onnxruntime(name, tmp_path):
    make, shape, scale = LAYERS[name]
    dlcore.manual_seed(1)
    export_and_compare(make(), shape, tmp_path, scale)


@needs_onnx
@pytest.mark.parametrize("name", list(MODELS))
def test_each_model_matches_onnxruntime(name, tmp_path):
    make, shape = MODELS[name]
    dlcore.manual_seed(1)
    export_and_compare(make(), shape, tmp_path)


@needs_onnx
def test_the_graph_names_weights_as_state_dict_and_keeps_the_batch_dynamic(tmp_path):
    model = MLP([5, 4, 2])
    path = dlcore.onnx.export(model, tmp_path / "mlp.onnx", example=numpy.zeros((3, 5), numpy.float32))
    proto = onnx.load(str(path))
    assert proto.opset_import[0].version == dlcore.onnx.OPSET
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for key, value in model.state_dict().items():
        numpy.testing.assert_array_equal(weights[key], value, err_msg=key)  # Linear weight stays (in, out)
    (inp,), (out,) = proto.graph.input, proto.graph.output
    assert [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim] == ["batch", 5]
    assert [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim] == ["batch", 2]
    fixed = onnx.load(str(dlcore.onnx.export(model, tmp_path / "fixed.onnx", numpy.zeros((3, 5), numpy.float32),
                                             input_name="features", output_name="logits", dynamic_batch=False)))
    assert [d.dim_value for d in fixed.graph.input[0].type.tensor_type.shape.dim] == [3, 5]
    assert fixed.graph.input[0].name == "features" and fixed.graph.output[0].name == "logits"


@needs_onnx
def test_export_restores_training_mode_and_forwards(tmp_path):
    model = MLP([4, 8, 2], batch_norm=True, dropout=0.5)
    model.train()
    model[1].eval()  # a mixed state must come back as it was
    before = model.state_dict()
    dlcore.onnx.export(model, tmp_path / "m.onnx", example=numpy.ones((3, 4), numpy.float32))
    assert [m.training for m in model.modules()] == [True, True, False, True, True, True]
    assert not any("forward" in vars(m) for m in model.modules())
    for key, value in model.state_dict().items():  # eval mode: the running statistics did not move
        numpy.testing.assert_array_equal(value, before[key], err_msg=key)


class Slicing(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x)[:, :2]


@needs_onnx
def test_an_operation_without_mapping_names_the_layer_and_the_supported_ones(tmp_path):
    model = nn.Sequential(nn.Linear(3, 4), Slicing())
    with pytest.raises(dlcore.onnx.ExportError) as caught:
        dlcore.onnx.export(model, tmp_path / "s.onnx", example=numpy.ones((2, 3), numpy.float32))
    message = str(caught.value)
    assert "layer '1' (Slicing) computes GetItem, which has no ONNX mapping" in message
    assert "Linear" in message and "ConvTranspose2d" in message and "Concat" in message
    assert not (tmp_path / "s.onnx").exists()
    with pytest.raises(dlcore.onnx.ExportError, match="must be a dlcore.nn.Module"):
        dlcore.onnx.export(lambda x: x, tmp_path / "f.onnx", example=numpy.ones((2, 3), numpy.float32))
    with pytest.raises(dlcore.onnx.ExportError, match="floating batch"):
        dlcore.onnx.export(model, tmp_path / "i.onnx", example=numpy.ones((2, 3), numpy.int64))


@needs_onnx
def test_run_helper_matches_the_session(tmp_path):
    model = LeNet(input_size=12, channels=(2, 3), hidden=(6, 5))
    x = numpy.random.default_rng(2).standard_normal((3, 1, 12, 12)).astype(numpy.float32)
    path = dlcore.onnx.export(model, tmp_path / "l.onnx", example=x)
    numpy.testing.assert_allclose(dlcore.onnx.run(path, x), model.eval()(Tensor(x)).numpy(), rtol=0, atol=ATOL)


@needs_onnx
@pytest.mark.gpu
def test_a_model_on_the_gpu_exports(tmp_path):
    model = _randomize_statistics(ResNet(depth=8, base_channels=4), numpy.random.default_rng(0)).to("cupy")
    x = numpy.random.default_rng(1).standard_normal((2, 1, 8, 8)).astype(numpy.float32)
    path = dlcore.onnx.export(model, tmp_path / "r.onnx", example=x)  # a host example moves to the model
    expected = model.eval()(Tensor(dlcore.tensor(x, device="cupy"))).numpy()
    numpy.testing.assert_allclose(dlcore.onnx.run(path, x), expected, rtol=0, atol=ATOL)


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_import_dlcore_does_not_import_onnx():
    result = _python("import sys, dlcore, dlcore.onnx\n"
                     "print(dlcore.onnx.export.__name__, dlcore.onnx.OPSET)\n"
                     "print(sorted(m for m in sys.modules if m.split('.')[0] in ('onnx', 'onnxruntime')))")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["export 17", "[]"]


def test_exporting_without_onnx_says_how_to_install_it():
    result = _python("import sys, numpy\n"
                     "sys.modules['onnx'] = None  # as if it were not installed\n"
                     "import dlcore\n"
                     "try:\n"
                     "    dlcore.onnx.export(dlcore.nn.Linear(2, 1), 'x.onnx', example=numpy.ones((1, 2), 'float32'))\n"
                     "except dlcore.UserError as e:\n"
                     "    print(e)\n")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().split("\n")
    assert len(lines) == 1 and 'pip install -e ".[onnx]"' in lines[0] and "needs the onnx package" in lines[0]


@needs_onnx
def test_the_examples_of_docs_export_md_run(tmp_path, monkeypatch):
    """Every python block of docs/export.md runs as written (those importing torch only where it is installed)."""
    import importlib.util
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "export.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 4
    monkeypatch.chdir(tmp_path)
    ran = 0
    for block in blocks:
        if re.search(r"^import .*\btorch\b", block, re.M) and importlib.util.find_spec("torch") is None:
            continue
        exec(compile(block, "docs/export.md", "exec"), {})
        ran += 1
    assert ran >= 2 and (tmp_path / "lenet.onnx").exists() and (tmp_path / "mlp.safetensors").exists()


class Detached(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x):
        with dlcore.no_grad():
            return self.fc(x)


class Shared(nn.Module):
    """One Linear registered under two names and applied twice."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = self.a

    def forward(self, x):
        return self.b(F.relu(self.a(x)))


@needs_onnx
def test_a_detached_forward_is_refused_and_a_shared_layer_exports(tmp_path):
    with pytest.raises(dlcore.onnx.ExportError, match="does not depend on the input"):
        dlcore.onnx.export(Detached(), tmp_path / "d.onnx", example=numpy.ones((2, 3), numpy.float32))
    model = Shared()
    export_and_compare(model, (2, 3), tmp_path)
    assert not any("forward" in vars(m) for m in model.modules())
    weights = [i.name for i in onnx.load(str(tmp_path / "model.onnx")).graph.initializer]
    assert sorted(weights) == ["a.bias", "a.weight"]  # one copy of the shared weights


@needs_onnx
def test_a_ceil_mode_pool_that_onnx_would_size_otherwise_is_refused(tmp_path):
    """PyTorch's (and dlcore's) ceil mode drops a last window that would start in the padding (2×2 windows,
    padding 1, width 5: 3 columns); ONNX's ceil_mode keeps it (4): the export says so instead of a wrong file."""
    model = nn.AvgPool2d(2, padding=1, ceil_mode=True, count_include_pad=False)
    with pytest.raises(dlcore.onnx.ExportError, match=r"AvgPool2d\(.*\) with ceil_mode on a 6×5 input drops a "
                                                      r"last window"):
        dlcore.onnx.export(model, tmp_path / "pool.onnx", example=numpy.zeros((1, 1, 6, 5), numpy.float32))
