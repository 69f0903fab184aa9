"""Cases for the sequence layers: recurrent layers, attention, layer norm and embedding."""
import numpy

from dlcore import models, nn
import dlcore.functional as F
from dlcore.nn import Module
from dlcore.ops.attention import scaled_dot_product_attention
from dlcore.ops.embedding import embedding
from dlcore.ops.layer_norm import layer_norm
from dlcore.ops.recurrent import recurrent
from tests.cases import Case, ModuleCase

N, T, D, H = 2, 3, 4, 3
# Sums over time steps and over the LSTM's gates run through GEMMs whose summation order differs
# between NumPy and cuBLAS; LayerNorm reduces over features in another order on CuPy.
TOLERANCE = dict(rtol=1e-4, atol=1e-5)  # for layers (ModuleCase states no reason)
RECURRENT = dict(TOLERANCE, why_looser="the recurrence feeds each step's rounding into the next; GEMMs over "
                                       "time sum in another order on cuBLAS")
REDUCE = dict(TOLERANCE, why_looser="per-row reductions (mean, variance) summed in another order on CuPy")


def _recurrent_inputs(gates: int, states: int):
    def make(rng):
        return (rng.standard_normal((N, T, D)), 0.5 * rng.standard_normal((gates * H, D)),
                0.5 * rng.standard_normal((gates * H, H)), 0.3 * rng.standard_normal(gates * H),
                0.3 * rng.standard_normal(gates * H), *(rng.standard_normal((N, H)) for _ in range(states)))
    return make


def _lstm_states(*inputs):
    _, h, c = recurrent("lstm", *inputs)
    return F.concat([h, c], axis=1)


def _attention_inputs(rng):
    mask = numpy.zeros((2, 1, 3, 4), bool)
    mask[0, :, :, 3] = True  # the first sample's last key is padding
    return (rng.standard_normal((2, 2, 3, 5)), rng.standard_normal((2, 2, 4, 5)), rng.standard_normal((2, 2, 4, 5)),
            mask)


class Outputs(Module):
    """The first output of a layer that returns several (a recurrent layer's sequence, attention's values)."""

    def __init__(self, layer, self_attention: bool = False):
        super().__init__()
        self.layer, self.self_attention = layer, self_attention

    def forward(self, x):
        return (self.layer(x, x, x) if self.self_attention else self.layer(x))[0]


class LearnedPositions(Module):
    """x + E[0 … T−1]: an Embedding of the positions added to a (N, T, dim) input (a Transformer's learned
    positional encoding)."""

    def __init__(self, length: int, dim: int):
        super().__init__()
        self.positions = nn.Embedding(length, dim)

    def forward(self, x):
        return x + self.positions(x.xp.arange(x.shape[1]))


CASES = [
    Case("rnn_tanh", lambda *a: recurrent("rnn_tanh", *a)[0], _recurrent_inputs(1, 1), **RECURRENT),
    Case("rnn_relu_last_state", lambda *a: recurrent("rnn_relu", *a)[1], _recurrent_inputs(1, 1), **RECURRENT),
    Case("lstm", lambda *a: recurrent("lstm", *a)[0], _recurrent_inputs(4, 2), **RECURRENT),
    Case("lstm_final_states", _lstm_states, _recurrent_inputs(4, 2), **RECURRENT),
    Case("gru", lambda *a: recurrent("gru", *a)[0], _recurrent_inputs(3, 1), **RECURRENT),
    Case("gru_last_state", lambda *a: recurrent("gru", *a)[1], _recurrent_inputs(3, 1), **RECURRENT),
    Case("attention_masked", lambda q, k, v, m: scaled_dot_product_attention(q, k, v, m)[0], _attention_inputs),
    Case("layer_norm", lambda x, g, b: layer_norm(x, g, b),
         lambda rng: (rng.standard_normal((3, 2, 5)) * 2 + 1, rng.uniform(0.5, 1.5, 5), rng.standard_normal(5)),
         **REDUCE),
    Case("embedding", embedding, lambda rng: (numpy.array([[1, 3, 1], [0, 4, 1]]), rng.standard_normal((5, 3)))),
]

MODULE_CASES = [
    ModuleCase("RNN_2_layers", lambda: Outputs(nn.RNN(4, 3, num_layers=2)), (2, 5, 4), **TOLERANCE),
    ModuleCase("LSTM_2_layers", lambda: Outputs(nn.LSTM(4, 3, num_layers=2)), (2, 5, 4), **TOLERANCE),
    ModuleCase("GRU", lambda: Outputs(nn.GRU(4, 3)), (2, 5, 4), **TOLERANCE),
    ModuleCase("MultiheadAttention", lambda: Outputs(nn.MultiheadAttention(6, 2), self_attention=True), (2, 4, 6),
               **TOLERANCE),
    ModuleCase("Embedding_positions", lambda: LearnedPositions(5, 4), (2, 5, 4)),
    ModuleCase("LayerNorm", lambda: nn.LayerNorm(4), (3, 5, 4), **TOLERANCE),
    ModuleCase("TransformerEncoderLayer", lambda: nn.TransformerEncoderLayer(6, 2, 8, dropout=0.0), (2, 4, 6),
               **TOLERANCE),
    ModuleCase("TransformerEncoderLayer_norm_first",
               lambda: nn.TransformerEncoderLayer(6, 2, 8, dropout=0.0, norm_first=True), (2, 4, 6), **TOLERANCE),
    ModuleCase("models.SequenceClassifier_lstm_rows", lambda: models.SequenceClassifier("lstm", 6, 5, 3),
               (2, 1, 4, 6), **TOLERANCE),
]
