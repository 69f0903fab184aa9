"""Activation layers: thin Modules over ``dlcore.ops.activation``.

Example::

    >>> from dlcore.nn import activations
    >>> activations.get("leaky_relu")
    LeakyReLU(alpha=0.01)
    >>> sorted(activations.ACTIVATIONS)[:4]
    ['elu', 'gelu', 'identity', 'leaky_relu']
"""
from __future__ import annotations

from dlcore import checks
from dlcore import init as initializers
from dlcore.ops import activation as A
from dlcore.nn.module import Module, Parameter


class Step(Module):
    """y = 1 if x > 0 else 0; zero gradient (train it with the perceptron rule, not backprop).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Step()(x).numpy())
        [0. 0. 1.]
    """

    def forward(self, x):
        return A.step(x)


class Sigmoid(Module):
    """y = 1/(1+e⁻ˣ).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Sigmoid()(x).numpy())    # σ(0) = ½
        [0.1192 0.5    0.9526]
    """

    def forward(self, x):
        return A.sigmoid(x)


class Tanh(Module):
    """y = tanh x.

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Tanh()(x).numpy())
        [-0.964   0.      0.9951]
    """

    def forward(self, x):
        return A.tanh(x)


class Softplus(Module):
    """y = ln(1+eˣ).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Softplus()(x).numpy())    # ln 2 at 0, ≈ x for large x
        [0.1269 0.6931 3.0486]
    """

    def forward(self, x):
        return A.softplus(x)


class ReLU(Module):
    """y = max(x, 0).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.ReLU()(x).numpy())
        [0. 0. 3.]
    """

    def forward(self, x):
        return A.relu(x)


class LeakyReLU(Module):
    """y = x if x > 0 else αx (α a finite number).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.LeakyReLU(alpha=0.1)(x).numpy())
        [-0.2  0.   3. ]
    """

    def __init__(self, alpha: float = 0.01):
        super().__init__()
        self.alpha = checks.finite_number("LeakyReLU", "alpha", alpha)

    def forward(self, x):
        return A.leaky_relu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class PReLU(Module):
    """y = x if x > 0 else a·x with learned slopes ``a`` (one, or one per channel on axis 1), all
    starting at the finite number ``init``.

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> prelu = nn.PReLU()                 # one learned slope a, starting at 0.25
        >>> print(prelu(x).numpy())
        [-0.5  0.   3. ]
        >>> nn.PReLU(num_parameters=16).weight.shape    # one slope per channel
        (16,)
    """

    def __init__(self, num_parameters: int = 1, init: float = 0.25):
        super().__init__()
        n = checks.integer("PReLU", "num_parameters", num_parameters, minimum=1)
        self.weight = Parameter(initializers.ones((n,)) * checks.finite_number("PReLU", "init", init))

    def forward(self, x):
        return A.prelu(x, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.weight.size}"


class ELU(Module):
    """y = x if x > 0 else α(eˣ−1) (α a finite number).

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.ELU(alpha=1.0)(x).numpy())    # e⁻² − 1 = −0.8647
        [-0.8647  0.      3.    ]
    """

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = checks.finite_number("ELU", "alpha", alpha)

    def forward(self, x):
        return A.elu(x, self.alpha)

    def extra_repr(self):
        return f"alpha={self.alpha}"


class Identity(Module):
    """y = x.

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Identity()(x).numpy())
        [-2.  0.  3.]
    """

    def forward(self, x):
        return x


class Softmax(Module):
    """yᵢ = e^(xᵢ) / Σⱼ e^(xⱼ) along ``axis`` (an int; ``dim``, PyTorch's name, is the same).

    Example::

        >>> x = dlcore.Tensor(np.array([[1.0, 2.0, 3.0]], "float32"))
        >>> y = nn.Softmax()(x).numpy()
        >>> print(y, y.sum().round(4))    # each row sums to 1
        [[0.09   0.2447 0.6652]] 1.0
        >>> print(nn.Softmax(dim=0)(x).numpy())    # over a single row: all 1
        [[1. 1. 1.]]
    """

    def __init__(self, axis: int | None = None, *, dim: int | None = None):
        super().__init__()
        if axis is not None and dim is not None:
            raise checks.ArgumentValueError(f"Softmax: got axis={axis} and dim={dim}; give one of them")
        self.axis = checks.integer("Softmax", "axis", -1 if axis is None and dim is None else
                                   (axis if axis is not None else dim))

    def forward(self, x):
        return A.softmax(x, self.axis)


class Swish(Module):
    """y = x·σ(βx) with a fixed, finite β.

    Example::

        >>> x = dlcore.Tensor(np.array([-2.0, 0.0, 3.0], "float32"))
        >>> print(nn.Swish()(x).numpy())    # x·σ(x)
        [-0.2384  0.      2.8577]
    """

    def __init__(self, beta: float = 1.0):
        super().__init__()
        self.beta = checks.finite_number("Swish", "beta", beta)

    def forward(self, x):
        return A.swish(x, self.beta)

    def extra_repr(self):
        return f"beta={self.beta}"


class GELU(Module):
    """y = x·Φ(x) = ½x(1 + erf(x/√2)) (Φ the standard normal CDF), PyTorch's GELU; ``approximate="tanh"``:
    ½x(1 + tanh(√(2/π)(x + 0.044715x³))). Formulas and gradients: ``dlcore.ops.activation.GELUFunction``.

    Example::

        >>> x = dlcore.Tensor(np.array([-1.0, 0.0, 1.0, 3.0], "float32"))
        >>> print(nn.GELU()(x).numpy())    # x·Φ(x): Φ(1) = 0.8413
        [-0.1587  0.      0.8413  2.996 ]
        >>> print(nn.GELU(approximate="tanh")(x).numpy())
        [-0.1588  0.      0.8412  2.9964]
    """

    def __init__(self, approximate: str = "none"):
        super().__init__()
        self.approximate = checks.choice("GELU", "approximate", approximate, ("none", "tanh"))

    def forward(self, x):
        return A.gelu(x, self.approximate)

    def extra_repr(self) -> str:
        return "" if self.approximate == "none" else f"approximate={self.approximate!r}"


ACTIVATIONS = {
    "step": Step, "sigmoid": Sigmoid, "tanh": Tanh, "softplus": Softplus, "relu": ReLU,
    "leaky_relu": LeakyReLU, "prelu": PReLU, "elu": ELU, "identity": Identity, "softmax": Softmax,
    "swish": Swish, "gelu": GELU,
}


def get(name: str) -> Module:
    """A new activation layer named ``name`` (a key of ACTIVATIONS)."""
    return ACTIVATIONS[checks.choice("activations.get", "name", name, ACTIVATIONS)]()
