"""Rosenblatt's perceptron: one linear unit with the step activation."""
from __future__ import annotations

from dlcore.modes import no_grad
from dlcore.core import Tensor
from dlcore.ops.activation import step
from dlcore.nn import Linear, Module


class Perceptron(Module):
    """y = step(x @ w + b) = 1 if x·w + b > 0 else 0.

    The step has zero gradient, so it learns with the perceptron rule instead of backprop.
    """

    def __init__(self, in_features: int, weight_init="zeros"):
        super().__init__()
        self.linear = Linear(in_features, 1, weight_init=weight_init)

    def forward(self, x):
        return step(self.linear(x))

    def fit_rule(self, x, t, lr: float = 1.0, max_epochs: int = 100) -> bool:
        """The perceptron rule, one sample at a time: w ← w + η(t − y)x, b ← b + η(t − y).

        ``x`` (n, features) and ``t`` (n,) in {0, 1} are arrays on the model's device.
        Returns True when an epoch makes no mistake (the rule converges on linearly
        separable data), False after ``max_epochs`` epochs with mistakes.
        """
        w, b = self.linear.weight.data, self.linear.bias.data
        with no_grad():
            for _ in range(max_epochs):
                mistakes = 0
                for xi, ti in zip(x, t):
                    error = ti - self.forward(Tensor(xi[None, :])).data[0, 0]
                    if error != 0:  # one host read per sample: this is the course's sequential rule
                        w += lr * error * xi[:, None]
                        b += lr * error
                        mistakes += 1
                if mistakes == 0:
                    return True
        return False
