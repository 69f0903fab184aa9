"""The perceptron's limits: AND, OR, NAND are learnable, XOR is not representable."""
import itertools

import numpy
import pytest

from dlcore import Tensor
from dlcore.models import Perceptron

X = numpy.array([[0, 0], [0, 1], [1, 0], [1, 1]], numpy.float32)
TRUTH = {
    "AND": [0, 0, 0, 1],
    "OR": [0, 1, 1, 1],
    "NAND": [1, 1, 1, 0],
    "XOR": [0, 1, 1, 0],
}


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND"])
def test_perceptron_rule_learns_separable_gates(gate):
    t = numpy.array(TRUTH[gate], numpy.float32)
    p = Perceptron(2)
    assert p.fit_rule(X, t, lr=0.5, max_epochs=50)
    numpy.testing.assert_array_equal(p(Tensor(X)).numpy()[:, 0], t)


def test_perceptron_rule_never_converges_on_xor():
    p = Perceptron(2)
    assert not p.fit_rule(X, numpy.array(TRUTH["XOR"], numpy.float32), lr=0.5, max_epochs=200)
    assert (p(Tensor(X)).numpy()[:, 0] != TRUTH["XOR"]).any()


def test_no_weight_setting_represents_xor():
    # XOR needs b ≤ 0, w₂+b > 0, w₁+b > 0, w₁+w₂+b ≤ 0; the middle two give w₁+w₂+b > −b ≥ 0.
    # Check the argument numerically over a grid of settings, through the real layer.
    grid = numpy.linspace(-2, 2, 21, dtype=numpy.float32)
    p = Perceptron(2)
    represented = {name: False for name in TRUTH}
    for w1, w2, b in itertools.product(grid, grid, grid):
        p.linear.weight.data[:, 0] = (w1, w2)
        p.linear.bias.data[0] = b
        out = p(Tensor(X)).numpy()[:, 0].tolist()
        for name, table in TRUTH.items():
            represented[name] |= out == table
    assert represented == {"AND": True, "OR": True, "NAND": True, "XOR": False}
