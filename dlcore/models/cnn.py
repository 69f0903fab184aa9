"""Plain convolutional classifiers: LeNet-5 and the course's AlexNet pattern, scaled for 28×28 / 32×32 input."""
from __future__ import annotations

from dlcore.checks import ShapeError
from dlcore.models.common import Chain, check_sizes
from dlcore.nn import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential


class _Classifier(Chain):
    """A Chain for a fixed S×S input size: other sizes get an error naming the model and both shapes."""

    def forward(self, x):
        s = self.input_size
        if x.ndim != 4 or tuple(x.shape[2:]) != (s, s):
            raise ShapeError(f"{type(self).__name__}(input_size={s}) expects input of shape (N, C, {s}, {s}), "
                             f"got {tuple(x.shape)}; build it with input_size matching the images")
        return super().forward(x)


def _classifier(n_in, hidden, num_classes):
    """Linear(n_in, h₁)-ReLU-…-Linear(hₖ, num_classes): He init before ReLU, Xavier for the logits."""
    layers = []
    for h in hidden:
        layers += [Linear(n_in, h, weight_init="he"), ReLU()]
        n_in = h
    return Sequential(*layers, Linear(n_in, num_classes))


class LeNet(_Classifier):
    """LeNet-5 with ReLU and max-pooling on (N, in_channels, S, S) input, S = ``input_size``:

    features:   Conv5×5(c₁, pad 2)-ReLU-MaxPool2 → Conv5×5(c₂)-ReLU-MaxPool2 → Flatten
    classifier: Linear(c₂·s², h₁)-ReLU → Linear(h₁, h₂)-ReLU → Linear(h₂, num_classes) (logits)

    with (c₁, c₂) = ``channels`` = (6, 16), (h₁, h₂) = ``hidden`` = (120, 84) and s = (S/2 − 4)/2
    rounded down: S = 28 gives 16·5·5 = 400 features (the padding of 2 makes 28×28 behave like
    LeNet's 32×32), S = 32 gives 16·6·6. Needs S ≥ 12.
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=28, channels=(6, 16), hidden=(120, 84)):
        super().__init__()
        if not isinstance(channels, (tuple, list)) or len(channels) != 2:
            raise ValueError(f"LeNet: channels must be 2 conv widths (c1, c2), got {channels!r}")
        check_sizes("LeNet", in_channels=in_channels, num_classes=num_classes, channels=channels, hidden=hidden)
        check_sizes("LeNet", 12, input_size=input_size)
        c1, c2 = channels
        self.input_size = input_size
        s = (input_size // 2 - 4) // 2
        self.features = Sequential(Conv2d(in_channels, c1, 5, padding=2), ReLU(), MaxPool2d(2),
                                   Conv2d(c1, c2, 5), ReLU(), MaxPool2d(2), Flatten())
        self.classifier = _classifier(c2 * s * s, hidden, num_classes)


class AlexNetSmall(_Classifier):
    """The AlexNet pattern (5 conv layers, 3 max-pools, 3 fully connected layers with Dropout), scaled down.

    features:   Conv5×5(w₁, pad 2)-ReLU-MaxPool2 → Conv3×3(w₂, pad 1)-ReLU-MaxPool2 →
                Conv3×3(w₃, pad 1)-ReLU → Conv3×3(w₄, pad 1)-ReLU → Conv3×3(w₅, pad 1)-ReLU-MaxPool2
                → Flatten
    classifier: Dropout(p) → Linear(w₅·s², h₁)-ReLU → Dropout(p) → Linear(h₁, h₂)-ReLU →
                Linear(h₂, num_classes) (logits)

    with ``width`` = (w₁…w₅) = (32, 64, 96, 96, 64), ``hidden`` = (h₁, h₂) = (256, 128),
    ``dropout`` = p = 0.5 and s = ⌊S/8⌋ for S = ``input_size`` (28 → 3, 32 → 4; needs S ≥ 8).
    """

    def __init__(self, in_channels=1, num_classes=10, input_size=28, dropout=0.5, width=(32, 64, 96, 96, 64),
                 hidden=(256, 128)):
        super().__init__()
        if not all(isinstance(v, (tuple, list)) for v in (width, hidden)) or (len(width), len(hidden)) != (5, 2):
            raise ValueError(f"AlexNetSmall: width must give 5 conv widths and hidden 2 layer sizes, "
                             f"got width={width!r}, hidden={hidden!r}")
        check_sizes("AlexNetSmall", in_channels=in_channels, num_classes=num_classes, width=width, hidden=hidden)
        check_sizes("AlexNetSmall", 8, input_size=input_size)
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"AlexNetSmall: dropout must be in [0, 1), got {dropout!r}")
        self.input_size, layers, c_in = input_size, [], in_channels
        for i, w in enumerate(width):
            layers += [Conv2d(c_in, w, 5 if i == 0 else 3, padding=2 if i == 0 else 1), ReLU()]
            layers += [MaxPool2d(2)] if i in (0, 1, 4) else []
            c_in = w
        self.features = Sequential(*layers, Flatten())
        (h1, h2), s = hidden, input_size // 8
        self.classifier = Sequential(Dropout(dropout), Linear(width[-1] * s * s, h1, weight_init="he"), ReLU(),
                                     Dropout(dropout), Linear(h1, h2, weight_init="he"), ReLU(),
                                     Linear(h2, num_classes))


lenet = LeNet
alexnet_small = AlexNetSmall
