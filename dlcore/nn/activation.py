"""Activation layers: thin Modules over ``dlcore.ops.activation``."""
from __future__ import annotations

from dlcore import checks
from dlcore import init as initializers
from dlcore.ops import activation as A
from dlcore.nn.module import Module, Parameter


class Step(Module):
    """y = 1 if x > 0 else 0; zero gradient (train it with the perceptron rule, not backprop)."""

    def forward(self, x):
        return A.step(x)


class Sigmoid(Module):
    """y = 1/(1+e⁻ˣ)."""

    def forward(self, x):
        return A.sigmoid(x)


class Tanh(Module):
    """y = tanh x."""

    def forward(self, x):
        return A.tanh(x)


class Softplus(Module):
    """y = ln(1+eˣ)."""

    def forward(self, x):
        return A.softplus(x)


class ReLU(Module):
    """y = max(x, 0)."""

    def forward(self, x):
        return A.relu(x)


class LeakyReLU(Module):
    """y = x if x > 0 else αx (α a finite number)."""

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = checks.finite_number("LeakyReLU", "alpha", alpha)

    def forward(self, x):
        return A.leaky_relu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class PReLU(Module):
    """y = x if x > 0 else a·x with learned slopes ``a`` (one, or one per channel on axis 1), all
    starting at the finite number ``init``."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        n = checks.integer("PReLU", "num_parameters", num_parameters, minimum=1)
        self.weight = Parameter(initializers.ones((n,)) * checks.finite_number("PReLU", "init", init))

    def forward(self, x):
        return A.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.size}"


class ELU(Module):
    """y = x if x > 0 else α(eˣ−1) (α a finite number)."""

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = checks.finite_number("ELU", "alpha", alpha)

    def forward(self, x):
        return A.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Identity(Module):
    """y = x."""

    def forward(self, x):
        return x


class Softmax(Module):
    """yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ) along ``axis`` (an int)."""

    def __init__(self, axis: int = -1):
        super().__init__()
        self.axis = checks.integer("Softmax", "axis", axis)

    def forward(self, x):
        return A.softmax(x, self.axis)


class Swish(Module):
    """y = x·σ(βx) with a fixed, finite β."""

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = checks.finite_number("Swish", "beta", beta)

    def forward(self, x):
        return A.swish(x, self.beta)

    def extra_repr(self):
        return f"beta={self.beta}"


ACTIVATIONS = {
    "step": Step, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "relu": ReLU,
    "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU, "identity": Identity, "softmax": Softmax,
    "swish": Swish,
}


def get(name: str) -> Module:
    """A new activation layer named ``name`` (a key of ACTIVATIONS)."""
    return ACTIVATIONS[checks.choice("activations.get", "name", name, ACTIVATIONS)]()
