"""Ready-made supervised models (``dlcore.models``): MLP, perceptron, LeNet, small AlexNet, ResNet,
U-Net, and ``build(kind, ...)`` by name. The energy models and autoencoders are in ``dlcore.unsupervised``."""
from dlcore.models.cnn import AlexNetSmall, LeNet, alexnet_small, lenet
from dlcore.models.mlp import MLP
from dlcore.models.perceptron import Perceptron
from dlcore.models.resnet import BasicBlock, ResNet, resnet
from dlcore.models.sequence import SequenceClassifier
from dlcore.models.unet import UNet, unet

#: the kinds that take images (N, C, H, W); "mlp" takes feature vectors (N, D)
IMAGE_MODELS = ("lenet", "alexnet_small", "resnet", "unet")
#: the recurrent kinds (SequenceClassifier): sequences (N, T, D), or images (N, C, H, W) read row by row
SEQUENCE_MODELS = ("rnn", "lstm", "gru")
#: model kind → the options ``build`` passes on to its constructor
OPTIONS = {"mlp": ("hidden", "activation", "weight_init", "dropout", "batch_norm"), "lenet": (),
           "alexnet_small": ("dropout",), "resnet": ("depth", "base_channels"), "unet": ("depth", "base_channels"),
           **{kind: ("hidden", "dropout") for kind in SEQUENCE_MODELS}}


def build(kind: str, sample_shape, n_out: int, **options):
    """The model ``kind`` for inputs of ``sample_shape`` (one sample: (D,) or (C, H, W)) and ``n_out``
    outputs (classes, regression targets or mask channels), with the ``options`` its kind takes
    (``OPTIONS[kind]``; a missing one keeps the constructor's default), e.g.
    ``build("mlp", (784,), 10, hidden=[256], activation="relu")``. The sequence kinds take one
    sample as (T, D) or an image (C, H, W) read row by row, and ``hidden`` = [H] * layers (every
    layer of a stacked RNN has the same size H): ``build("lstm", (1, 28, 28), 10, hidden=[128])``."""
    from dlcore import checks

    checks.choice("models.build", "kind", kind, OPTIONS)
    unknown = sorted(set(options) - set(OPTIONS[kind]))
    if unknown:
        raise TypeError(f"models.build: kind {kind!r} takes the options {', '.join(OPTIONS[kind]) or 'none'}, "
                        f"got {', '.join(unknown)}")
    if kind == "mlp":
        hidden = options.pop("hidden", ())
        return MLP([sample_shape[0], *hidden, n_out], **options)
    if kind in SEQUENCE_MODELS:
        return _sequence_classifier(kind, sample_shape, n_out, **options)
    channels, size = sample_shape[0], sample_shape[-1]
    if kind == "lenet":
        return lenet(channels, n_out, input_size=size)
    if kind == "alexnet_small":
        return alexnet_small(channels, n_out, input_size=size, **options)
    if kind == "resnet":
        return resnet(in_channels=channels, num_classes=n_out, **options)
    return unet(in_channels=channels, out_channels=n_out, **options)


def _sequence_classifier(kind: str, sample_shape, n_out: int, hidden=(64,), dropout: float = 0.0):
    sizes = list(hidden)
    if not sizes or len(set(sizes)) != 1:
        raise ValueError(f"models.build: kind {kind!r} stacks layers of one size; give hidden = [H] or [H, H, …], "
                         f"got {sizes}")
    features = sample_shape[-1] * (sample_shape[0] if len(sample_shape) == 3 else 1)
    return SequenceClassifier(kind, features, sizes[0], n_out, num_layers=len(sizes), dropout=dropout)


__all__ = ["MLP", "Perceptron", "LeNet", "lenet", "AlexNetSmall", "alexnet_small", "BasicBlock", "ResNet", "resnet",
           "UNet", "unet", "SequenceClassifier", "IMAGE_MODELS", "SEQUENCE_MODELS", "OPTIONS", "build"]


def __getattr__(name):
    """Names that moved: an error that says where they are now (without importing the layer above)."""
    if name == "DBN":
        raise AttributeError("dlcore.models.DBN is now dlcore.unsupervised.DBN (with the RBM, DBM and autoencoders)")
    raise AttributeError(f"module 'dlcore.models' has no attribute {name!r}")
