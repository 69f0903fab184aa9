"""Recurrent layers ``RNN``, ``LSTM`` and ``GRU`` (over ``dlcore.ops.recurrent``): batch-first, stacked,
with state in and out, parameters laid out and named as PyTorch's."""
from __future__ import annotations

from dlcore import checks, init
from dlcore.ops.dropout import dropout
from dlcore.ops.math import concat, getitem, reshape
from dlcore.ops.recurrent import recurrent
from dlcore.nn.module import Module, Parameter, check_input_type


class _RecurrentBase(Module):
    """``num_layers`` recurrent layers, each reading the whole output sequence of the one below.

    Parameters of layer k (PyTorch's names and shapes, so a PyTorch state_dict copies across
    one to one): ``weight_ih_l{k}`` (G·H, D_k), ``weight_hh_l{k}`` (G·H, H), ``bias_ih_l{k}``,
    ``bias_hh_l{k}`` (G·H,), with D_0 = input_size and D_k = H above; every value starts
    U(−1/√H, 1/√H), as in PyTorch. Inputs are batch-first only: x (N, T, D), states
    (num_layers, N, H), zeros when not given. ``dropout`` p drops the outputs of every layer
    but the last in training (inverted dropout). One direction only.
    """

    gates = 1
    mode = ""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0,
                 batch_first: bool = True):
        super().__init__()
        owner = type(self).__name__
        self.input_size = checks.integer(owner, "input_size", input_size, minimum=1)
        self.hidden_size = checks.integer(owner, "hidden_size", hidden_size, minimum=1)
        self.num_layers = checks.integer(owner, "num_layers", num_layers, minimum=1)
        self.dropout = checks.finite_number(owner, "dropout", dropout, within="[0, 1)")
        if not checks.flag(owner, "batch_first", batch_first):
            raise checks.ArgumentValueError(f"{owner}: only batch_first=True (inputs (N, T, D)) is supported; "
                                            f"transpose a time-major input with x.transpose(1, 0, 2)")
        rows, bound = self.gates * self.hidden_size, self.hidden_size ** -0.5
        for k in range(self.num_layers):
            cols = self.input_size if k == 0 else self.hidden_size
            setattr(self, f"weight_ih_l{k}", Parameter(init.uniform((rows, cols), -bound, bound)))
            setattr(self, f"weight_hh_l{k}", Parameter(init.uniform((rows, self.hidden_size), -bound, bound)))
            setattr(self, f"bias_ih_l{k}", Parameter(init.uniform((rows,), -bound, bound)))
            setattr(self, f"bias_hh_l{k}", Parameter(init.uniform((rows,), -bound, bound)))

    def draws_random_numbers(self) -> bool:
        """True when dropout acts between layers (p > 0 and more than one layer)."""
        return self.dropout > 0 and self.num_layers > 1

    def _check(self, x, states):
        check_input_type(self, x, self.weight_ih_l0)
        if x.ndim != 3 or x.shape[2] != self.input_size or x.shape[1] == 0:
            raise checks.ShapeError(f"{self!r} expects a batch-first input (N, T ≥ 1, {self.input_size}), got shape "
                                    f"{tuple(x.shape)}")
        want = (self.num_layers, x.shape[0], self.hidden_size)
        for name, s in states:
            if s is None:
                continue
            checks.array(repr(self), name, s)
            if s.dtype != x.dtype:  # it would turn the layer's outputs and states into its dtype, silently
                raise checks.ArgumentTypeError(f"{self!r}: {name} has dtype {s.dtype} but the input x {x.dtype}; "
                                               f"give the states in the input's dtype")
            if tuple(s.shape) != want:
                raise checks.ShapeError(f"{self!r}: {name} must have shape {want} (num_layers, N, hidden_size) for "
                                        f"an input of shape {tuple(x.shape)}, got {tuple(s.shape)}")

    def _layers(self, x, initial):
        """Run every layer; ``initial`` holds one (num_layers, N, H) tensor or None per state. Returns the
        last layer's output and, per state, the final states stacked (num_layers, N, H)."""
        n, xp = x.shape[0], self.weight_ih_l0.xp
        finals = [[] for _ in initial]
        for k in range(self.num_layers):
            if k > 0 and self.dropout > 0:
                x = dropout(x, self.dropout)
            states = [xp.zeros((n, self.hidden_size), x.dtype) if s is None else getitem(s, k) for s in initial]
            x, *last = recurrent(self.mode, x, getattr(self, f"weight_ih_l{k}"), getattr(self, f"weight_hh_l{k}"),
                                 getattr(self, f"bias_ih_l{k}"), getattr(self, f"bias_hh_l{k}"), *states)
            for kept, s in zip(finals, last):
                kept.append(reshape(s, (1, *s.shape)))
        return x, [f[0] if len(f) == 1 else concat(f, axis=0) for f in finals]

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"
                + (f", dropout={self.dropout}" if self.dropout else ""))


class RNN(_RecurrentBase):
    """Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh), φ = tanh (default) or "relu".

    ``rnn(x, h0=None)`` → (output (N, T, H) = h_t of the last layer at every step, h_n (num_layers, N, H)).

    >>> import numpy, dlcore
    >>> rnn = dlcore.nn.RNN(3, 5, num_layers=2)
    >>> out, h_n = rnn(dlcore.Tensor(numpy.ones((2, 4, 3), "float32")))
    >>> out.shape, h_n.shape
    ((2, 4, 5), (2, 2, 5))
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 dropout: float = 0.0, batch_first: bool = True):
        nonlinearity = checks.choice("RNN", "nonlinearity", nonlinearity, ("tanh", "relu"))
        super().__init__(input_size, hidden_size, num_layers, dropout, batch_first)
        self.nonlinearity, self.mode = nonlinearity, f"rnn_{nonlinearity}"

    def forward(self, x, h0=None):
        self._check(x, [("h0", h0)])
        y, (h_n,) = self._layers(x, [h0])
        return y, h_n

    def extra_repr(self) -> str:
        return super().extra_repr() + (", nonlinearity='relu'" if self.nonlinearity == "relu" else "")


class LSTM(_RecurrentBase):
    """Long short-term memory, per layer and step (gate blocks i, f, g, o of W_ih, W_hh, b_ih, b_hh):

        i = σ(x W_iiᵀ + b_ii + h₋₁ W_hiᵀ + b_hi)      f = σ(x W_ifᵀ + b_if + h₋₁ W_hfᵀ + b_hf)
        g = tanh(x W_igᵀ + b_ig + h₋₁ W_hgᵀ + b_hg)   o = σ(x W_ioᵀ + b_io + h₋₁ W_hoᵀ + b_ho)
        c = f ⊙ c₋₁ + i ⊙ g                           h = o ⊙ tanh c

    ``lstm(x, state=None)`` with state (h0, c0) → (output (N, T, H), (h_n, c_n)), h_n and c_n
    (num_layers, N, H), as PyTorch's ``nn.LSTM(batch_first=True)``.

    >>> import numpy, dlcore
    >>> lstm = dlcore.nn.LSTM(3, 5)
    >>> out, (h_n, c_n) = lstm(dlcore.Tensor(numpy.ones((2, 4, 3), "float32")))
    >>> out.shape, h_n.shape, c_n.shape, lstm.weight_ih_l0.shape
    ((2, 4, 5), (1, 2, 5), (1, 2, 5), (20, 3))
    """

    gates = 4
    mode = "lstm"

    def forward(self, x, state=None):
        if state is not None and not (isinstance(state, (tuple, list)) and len(state) == 2):
            raise checks.ArgumentTypeError(f"{self!r}: state must be a pair (h0, c0) of tensors (num_layers, N, "
                                           f"hidden_size), or None, got {type(state).__name__}"
                                           + (f" of length {len(state)}" if isinstance(state, (tuple, list)) else ""))
        h0, c0 = (None, None) if state is None else state
        self._check(x, [("h0", h0), ("c0", c0)])
        if (h0 is None) != (c0 is None):
            raise checks.ArgumentValueError(f"{self!r}: give both states (h0, c0) or neither")
        y, (h_n, c_n) = self._layers(x, [h0, c0])
        return y, (h_n, c_n)


class GRU(_RecurrentBase):
    """Gated recurrent unit, per layer and step (gate blocks r, z, n of W_ih, W_hh, b_ih, b_hh):

        r = σ(x W_irᵀ + b_ir + h₋₁ W_hrᵀ + b_hr)      z = σ(x W_izᵀ + b_iz + h₋₁ W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h₋₁ W_hnᵀ + b_hn))
        h = (1 − z) ⊙ n + z ⊙ h₋₁

    ``gru(x, h0=None)`` → (output (N, T, H), h_n (num_layers, N, H)).

    >>> import numpy, dlcore
    >>> gru = dlcore.nn.GRU(3, 5)
    >>> out, h_n = gru(dlcore.Tensor(numpy.ones((2, 4, 3), "float32")))
    >>> out.shape, h_n.shape, gru.weight_hh_l0.shape
    ((2, 4, 5), (1, 2, 5), (15, 5))
    """

    gates = 3
    mode = "gru"

    def forward(self, x, h0=None):
        self._check(x, [("h0", h0)])
        y, (h_n,) = self._layers(x, [h0])
        return y, h_n
