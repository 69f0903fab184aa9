"""Layer normalization as one coarse Function."""
from __future__ import annotations

from dlcore import checks
from dlcore.core import Function


class LayerNormFunction(Function):
    """y = γ ⊙ (x − μ)/√(σ² + ε) + β, μ and σ² (biased) over the last k axes of x, the shape of γ and β.

    With x̂ = (x − μ)/s, s = √(σ² + ε), m the number of normalized values and ĝ = g ⊙ γ:
    ∂L/∂x = (ĝ − mean ĝ − x̂ ⊙ mean(ĝ ⊙ x̂)) / s (means over the normalized axes),
    ∂L/∂γ = Σ g ⊙ x̂ and ∂L/∂β = Σ g over the leading axes.
    """

    def __init__(self, eps: float):
        self.eps = eps

    def forward(self, xp, x, gamma, beta):
        self.axes = tuple(range(x.ndim - gamma.ndim, x.ndim))
        self.lead = tuple(range(x.ndim - gamma.ndim))
        mu = x.mean(axis=self.axes, keepdims=True)
        centered = x - mu
        self.inv_s = 1 / xp.sqrt((centered * centered).mean(axis=self.axes, keepdims=True) + self.eps)
        self.x_hat, self.gamma = centered * self.inv_s, gamma
        return self.x_hat * gamma + beta

    def backward(self, xp, gy):
        x_hat, needs = self.x_hat, self.needs_input_grad
        gx = gg = gb = None
        if needs[0]:
            g_hat = gy * self.gamma
            gx = (g_hat - g_hat.mean(axis=self.axes, keepdims=True)
                  - x_hat * (g_hat * x_hat).mean(axis=self.axes, keepdims=True)) * self.inv_s
        if needs[1]:
            gg = (gy * x_hat).sum(axis=self.lead)
        if needs[2]:
            gb = gy.sum(axis=self.lead)
        return gx, gg, gb


def layer_norm(x, weight, bias, eps: float = 1e-5):
    """y = γ ⊙ (x − μ)/√(σ² + ε) + β over the last ``weight.ndim`` axes of x (μ, σ² per sample and
    position; σ² biased), γ = ``weight`` and β = ``bias`` of the normalized shape."""
    x_shape, w_shape = checks.array("layer_norm", "x", x).shape, checks.array("layer_norm", "weight", weight).shape
    if tuple(checks.array("layer_norm", "bias", bias).shape) != tuple(w_shape) or w_shape == () or \
            tuple(x_shape[len(x_shape) - len(w_shape):]) != tuple(w_shape):
        raise checks.ShapeError(f"layer_norm normalizes the trailing axes of x that weight and bias have, got x "
                                f"{tuple(x_shape)}, weight {tuple(w_shape)}, bias {tuple(bias.shape)}")
    return LayerNormFunction(checks.finite_number("layer_norm", "eps", eps, within="(0, inf)"))(x, weight, bias)
