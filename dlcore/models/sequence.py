"""A sequence classifier: a recurrent layer read to its last step, then a dense layer."""
from __future__ import annotations

from dlcore import checks
from dlcore.ops.math import getitem, reshape, transpose
from dlcore.nn import GRU, LSTM, RNN, Linear, Module

CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}


class SequenceClassifier(Module):
    """logits = h_T W + b: the ``cell`` ("rnn", "lstm" or "gru") layers of ``hidden_size`` units
    (``num_layers`` stacked, ``dropout`` between them) read the sequence, and a Linear layer maps
    the last layer's state at the last step, h_T, to ``n_out`` outputs.

    Inputs are sequences (N, T, input_size), or images (N, C, H, W) read row by row: T = H steps of
    C·W = ``input_size`` features each (MNIST as 28 steps of 28 pixels).

    >>> import numpy, dlcore
    >>> model = dlcore.models.SequenceClassifier("gru", 28, 16, 10)
    >>> model(dlcore.Tensor(numpy.zeros((4, 1, 28, 28), "float32"))).shape
    (4, 10)
    """

    def __init__(self, cell: str, input_size: int, hidden_size: int, n_out: int, num_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.cell = checks.choice("SequenceClassifier", "cell", cell, CELLS)
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers=num_layers, dropout=dropout)
        self.head = Linear(hidden_size, n_out)

    def forward(self, x):
        if x.ndim == 4:  # images: the rows are the steps
            n, c, h, w = x.shape
            x = reshape(x, (n, h, w)) if c == 1 else reshape(transpose(x, (0, 2, 1, 3)), (n, h, c * w))
        y, _ = self.rnn(x)
        return self.head(getitem(y, (slice(None), -1)))

    def extra_repr(self) -> str:
        return f"cell={self.cell!r}"
