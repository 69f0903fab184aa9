"""Recurrent layers (Elman RNN, LSTM, GRU): one Function per layer that runs the whole time loop.

Forward makes one GEMM for the input projection of every time step at once
(X W_ihᵀ over all N·T rows) and one GEMM per step for the recurrent part (h W_hhᵀ); the
gates of every step are saved, and backward runs back through time inside the same
Function: one GEMM per step for ∂L/∂h_{t−1}, then one GEMM each for ∂L/∂X, ∂L/∂W_ih and
∂L/∂W_hh over all steps. The loop works on time-major buffers (T, N, ·) so every step
reads and writes contiguous rows. The elementwise gate math of an LSTM or GRU step is one
fused kernel on CuPy (``@fused``; the same formula in ``xp`` elsewhere) whose backward writes
the gate gradients straight into the all-steps buffer: an LSTM step costs three launches each way
(the recurrent GEMM, one add, the gate kernel) whatever the hidden size.

Parameters follow PyTorch's layout, so weights copy across one to one: W_ih (G·H, D),
W_hh (G·H, H), b_ih and b_hh (G·H,), the G gate blocks stacked along the first axis —
LSTM: i, f, g, o (G = 4); GRU: r, z, n (G = 3); RNN: one block (G = 1). Inputs are
batch-first: x (N, T, D), states (N, H).
"""
from __future__ import annotations

import backends
from backends.fused import fused
from dlcore.core import Function
from dlcore.ops.activation import _relu_grad, _tanh_grad, sigmoid_array


@fused("T ai, T af, T ag, T ao, T c_prev", "T gi, T gf, T gg, T go, T c, T tc, T h",
       "gi = 1 / (1 + exp(-ai)); gf = 1 / (1 + exp(-af)); gg = tanh(ag); go = 1 / (1 + exp(-ao)); "
       "c = gf * c_prev + gi * gg; tc = tanh(c); h = go * tc",
       "dlcore_lstm_step")
def _lstm_step(xp, ai, af, ag, ao, c_prev):
    """i, f, o = σ(aᵢ, a_f, a_o); g = tanh a_g; c = f⊙c₋₁ + i⊙g; h = o⊙tanh c → (i, f, g, o, c, tanh c, h)."""
    i, f, o = sigmoid_array(xp, ai), sigmoid_array(xp, af), sigmoid_array(xp, ao)
    g = xp.tanh(ag)
    c = f * c_prev + i * g
    tc = xp.tanh(c)
    return i, f, g, o, c, tc, o * tc


@fused("T dh, T dc_next, T gi, T gf, T gg, T go, T tc, T c_prev", "T dai, T daf, T dag, T dao, T dc",
       "T dct = dc_next + dh * go * (1 - tc * tc); dai = dct * gg * gi * (1 - gi); "
       "daf = dct * c_prev * gf * (1 - gf); dag = dct * gi * (1 - gg * gg); dao = dh * tc * go * (1 - go); "
       "dc = dct * gf",
       "dlcore_lstm_step_grad")
def _lstm_step_grad(xp, dh, dc_next, i, f, g, o, tc, c_prev, dai, daf, dag, dao, dc):
    """∂c = ∂c₊₁ + ∂h⊙o⊙(1 − tanh²c); ∂aᵢ = ∂c⊙g⊙i(1−i), ∂a_f = ∂c⊙c₋₁⊙f(1−f), ∂a_g = ∂c⊙i⊙(1−g²),
    ∂a_o = ∂h⊙tanh c⊙o(1−o); ∂c₋₁ = ∂c⊙f; written into the given outputs (the gate blocks of ∂a)."""
    dct = dc_next + dh * o * (1 - tc * tc)
    dai[...] = dct * g * i * (1 - i)
    daf[...] = dct * c_prev * f * (1 - f)
    dag[...] = dct * i * (1 - g * g)
    dao[...] = dh * tc * o * (1 - o)
    dc[...] = dct * f


@fused("T xr, T xz, T xn, T hr, T hz, T hn, T h_prev", "T r, T z, T n, T h",
       "r = 1 / (1 + exp(-(xr + hr))); z = 1 / (1 + exp(-(xz + hz))); n = tanh(xn + r * hn); "
       "h = (1 - z) * n + z * h_prev",
       "dlcore_gru_step")
def _gru_step(xp, xr, xz, xn, hr, hz, hn, h_prev):
    """r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n), h = (1 − z)⊙n + z⊙h₋₁ → (r, z, n, h)."""
    r, z = sigmoid_array(xp, xr + hr), sigmoid_array(xp, xz + hz)
    n = xp.tanh(xn + r * hn)
    return r, z, n, (1 - z) * n + z * h_prev


@fused("T dh, T r, T z, T n, T hn, T h_prev", "T dxr, T dxz, T dxn, T dhr, T dhz, T dhn, T dh_prev",
       "T dan = dh * (1 - z) * (1 - n * n); T dar = dan * hn * r * (1 - r); "
       "T daz = dh * (h_prev - n) * z * (1 - z); dxr = dar; dxz = daz; dxn = dan; dhr = dar; dhz = daz; "
       "dhn = dan * r; dh_prev = dh * z",
       "dlcore_gru_step_grad")
def _gru_step_grad(xp, dh, r, z, n, hn, h_prev, dxr, dxz, dxn, dhr, dhz, dhn, dh_prev):
    """∂aₙ = ∂h⊙(1−z)⊙(1−n²), ∂a_r = ∂aₙ⊙h_n⊙r(1−r), ∂a_z = ∂h⊙(h₋₁ − n)⊙z(1−z): the input side gets
    (∂a_r, ∂a_z, ∂aₙ), the hidden side (∂a_r, ∂a_z, ∂aₙ⊙r), and the direct part of ∂h₋₁ is ∂h⊙z;
    written into the given outputs (the gate blocks of both sides)."""
    dan = dh * (1 - z) * (1 - n * n)
    dxr[...] = dhr[...] = dan * hn * r * (1 - r)
    dxz[...] = dhz[...] = dh * (h_prev - n) * z * (1 - z)
    dxn[...] = dan
    dhn[...] = dan * r
    dh_prev[...] = dh * z


class _Recurrent(Function):
    """The shared time loop: inputs (x, W_ih, W_hh, b_ih, b_hh, *initial states); outputs (y, *final states).

    y (N, T, H) holds h_t of every step; the final states are h_T (and c_T for the LSTM).
    Subclasses give ``step(xp, xw_t, hw_t, b_hh, h₋₁, state)`` → (h_t, state_t, what backward keeps)
    and ``step_back(xp, kept, h₋₁, ∂h_t, carried, ∂xw_t out, ∂hw_t out)`` → (direct part of ∂h₋₁ or
    None, carried to t − 1), where xw_t = x_t W_ihᵀ + ``input_bias``, hw_t = h₋₁ W_hhᵀ (a fresh array
    the step may overwrite) and ``state`` holds the states besides h (the LSTM's c).
    """

    def forward(self, xp, x, W_ih, W_hh, b_ih, b_hh, *states):
        self.backend = backend = backends.backend_of(W_ih)
        n, t, d = x.shape
        self.shape, self.W_ih, self.W_hh = x.shape, W_ih, W_hh
        self.xt = xp.ascontiguousarray(x.transpose(1, 0, 2)).reshape(t * n, d)  # time-major rows
        xw = backend.gemm(self.xt, W_ih, trans_b=True).reshape(t, n, -1)       # every step's X W_ihᵀ at once
        xw += self.input_bias(b_ih, b_hh)
        self.hs = [states[0]]                                                  # h_0 … h_T
        self.saved = []                                                        # what each step's backward reads
        state = states[1:]
        for step in range(t):
            hw = backend.gemm(self.hs[step], W_hh, trans_b=True)
            h, state, kept = self.step(xp, xw[step], hw, b_hh, self.hs[step], state)
            self.hs.append(h)
            self.saved.append(kept)
        return (xp.stack(self.hs[1:], axis=1), self.hs[t].copy(), *(s.copy() for s in state))

    def backward(self, xp, gy, gh_last, *g_last):
        backend, (n, t, d) = self.backend, self.shape
        dxw = xp.empty((t, n, self.W_hh.shape[0]), gy.dtype)
        dhw = self.hidden_grad_buffer(xp, dxw)
        dh = gh_last.copy()
        carry = tuple(g.copy() for g in g_last)  # the LSTM's ∂L/∂c
        for step in reversed(range(t)):
            dh += gy[:, step]
            dh_direct, carry = self.step_back(xp, self.saved[step], self.hs[step], dh, carry, dxw[step], dhw[step])
            dh = backend.gemm(dhw[step], self.W_hh)
            if dh_direct is not None:
                dh += dh_direct
        gx = gW_ih = gW_hh = gb_ih = gb_hh = None
        needs = self.needs_input_grad
        dxw2, dhw2 = dxw.reshape(t * n, -1), dhw.reshape(t * n, -1)
        if needs[0]:
            gx = xp.ascontiguousarray(backend.gemm(dxw2, self.W_ih).reshape(t, n, d).transpose(1, 0, 2))
        if needs[1]:
            gW_ih = backend.gemm(dxw2, self.xt, trans_a=True)
        if needs[2]:
            gW_hh = backend.gemm(dhw2, xp.stack(self.hs[:t]).reshape(t * n, -1), trans_a=True)
        if needs[3]:
            gb_ih = backend.column_sums(dxw2)
        if needs[4]:
            gb_hh = backend.column_sums(dhw2)
        return (gx, gW_ih, gW_hh, gb_ih, gb_hh, dh, *carry)

    # ---- the parts a cell fills in ----------------------------------------------------------------
    def input_bias(self, b_ih, b_hh):
        """What is added to every step's X W_ihᵀ: both biases, unless the cell needs b_hh apart."""
        return b_ih + b_hh

    def hidden_grad_buffer(self, xp, dxw):
        """Where ∂L/∂(h W_hhᵀ) of each step goes: the same array as ∂L/∂(x W_ihᵀ) when the two enter the
        gates as one sum (RNN, LSTM)."""
        return dxw


class RNNFunction(_Recurrent):
    """Elman RNN: h_t = φ(x_t W_ihᵀ + b_ih + h_{t−1} W_hhᵀ + b_hh) with φ = tanh or ReLU.

    ∂a_t = ∂h_t ⊙ φ'(a_t) (1 − h_t² for tanh, [h_t > 0] for ReLU); ∂h_{t−1} = ∂a_t W_hh.
    Inputs (x, W_ih, W_hh, b_ih, b_hh, h0), outputs (y, h_T).
    """

    def __init__(self, nonlinearity: str = "tanh"):
        self.nonlinearity = nonlinearity

    def step(self, xp, xw, hw, b_hh, h_prev, state):
        hw += xw
        h = xp.tanh(hw) if self.nonlinearity == "tanh" else xp.maximum(hw, 0)
        return h, state, h

    def step_back(self, xp, h, h_prev, dh, carry, dxw, dhw):
        dxw[...] = _tanh_grad(xp, dh, h) if self.nonlinearity == "tanh" else _relu_grad(xp, dh, h)
        return None, carry


class LSTMFunction(_Recurrent):
    """LSTM (PyTorch's formulation, gate blocks i, f, g, o):

        i = σ(x W_iiᵀ + b_ii + h₋₁ W_hiᵀ + b_hi)      f = σ(x W_ifᵀ + b_if + h₋₁ W_hfᵀ + b_hf)
        g = tanh(x W_igᵀ + b_ig + h₋₁ W_hgᵀ + b_hg)   o = σ(x W_ioᵀ + b_io + h₋₁ W_hoᵀ + b_ho)
        c = f ⊙ c₋₁ + i ⊙ g                           h = o ⊙ tanh c

    Backward per step: ∂c ← ∂c + ∂h⊙o⊙(1 − tanh²c); ∂aᵢ = ∂c⊙g⊙i(1−i), ∂a_f = ∂c⊙c₋₁⊙f(1−f),
    ∂a_g = ∂c⊙i⊙(1−g²), ∂a_o = ∂h⊙tanh c⊙o(1−o); ∂c₋₁ = ∂c⊙f, ∂h₋₁ = ∂a W_hh.
    Inputs (x, W_ih, W_hh, b_ih, b_hh, h0, c0), outputs (y, h_T, c_T).
    """

    def step(self, xp, xw, hw, b_hh, h_prev, state):
        hw += xw
        hidden = hw.shape[1] // 4
        c_prev = state[0]
        i, f, g, o, c, tc, h = _lstm_step(xp, *(hw[:, k * hidden:(k + 1) * hidden] for k in range(4)), c_prev)
        return h, (c,), (i, f, g, o, tc, c_prev)

    def step_back(self, xp, kept, h_prev, dh, carry, dxw, dhw):
        hidden, dc = dh.shape[1], xp.empty_like(dh)
        _lstm_step_grad(xp, dh, carry[0], *kept, *(dxw[:, k * hidden:(k + 1) * hidden] for k in range(4)), dc)
        return None, (dc,)


class GRUFunction(_Recurrent):
    """GRU (PyTorch's formulation, gate blocks r, z, n):

        r = σ(x W_irᵀ + b_ir + h₋₁ W_hrᵀ + b_hr)      z = σ(x W_izᵀ + b_iz + h₋₁ W_hzᵀ + b_hz)
        n = tanh(x W_inᵀ + b_in + r ⊙ (h₋₁ W_hnᵀ + b_hn))
        h = (1 − z) ⊙ n + z ⊙ h₋₁

    Backward per step: ∂aₙ = ∂h⊙(1−z)⊙(1−n²), ∂a_r = ∂aₙ⊙(h₋₁W_hnᵀ + b_hn)⊙r(1−r),
    ∂a_z = ∂h⊙(h₋₁ − n)⊙z(1−z); the input side gets (∂a_r, ∂a_z, ∂aₙ), the hidden side
    (∂a_r, ∂a_z, ∂aₙ⊙r); ∂h₋₁ = ∂h⊙z + (hidden side) W_hh.
    Inputs (x, W_ih, W_hh, b_ih, b_hh, h0), outputs (y, h_T).
    """

    def input_bias(self, b_ih, b_hh):
        return b_ih  # b_hn sits inside r ⊙ (…): b_hh is added to each step's h W_hhᵀ

    def hidden_grad_buffer(self, xp, dxw):
        return xp.empty_like(dxw)

    def step(self, xp, xw, hw, b_hh, h_prev, state):
        hw += b_hh
        hidden = hw.shape[1] // 3
        blocks = [slice(k * hidden, (k + 1) * hidden) for k in range(3)]
        r, z, n, h = _gru_step(xp, *(xw[:, s] for s in blocks), *(hw[:, s] for s in blocks), h_prev)
        return h, state, (r, z, n, hw[:, blocks[2]])

    def step_back(self, xp, kept, h_prev, dh, carry, dxw, dhw):
        hidden, dh_direct = dh.shape[1], xp.empty_like(dh)
        blocks = [slice(k * hidden, (k + 1) * hidden) for k in range(3)]
        _gru_step_grad(xp, dh, *kept, h_prev, *(dxw[:, s] for s in blocks), *(dhw[:, s] for s in blocks), dh_direct)
        return dh_direct, carry


FUNCTIONS = {"rnn_tanh": lambda: RNNFunction("tanh"), "rnn_relu": lambda: RNNFunction("relu"),
             "lstm": LSTMFunction, "gru": GRUFunction}


def recurrent(mode: str, x, W_ih, W_hh, b_ih, b_hh, *states):
    """One recurrent layer over the whole sequence: ``mode`` "rnn_tanh", "rnn_relu", "lstm" or "gru";
    x (N, T, D), W_ih (G·H, D), W_hh (G·H, H), b_ih, b_hh (G·H,), states h0 (and c0 for "lstm") (N, H).
    Returns (y (N, T, H), h_T) or, for "lstm", (y, h_T, c_T). The formulas are on each Function."""
    return FUNCTIONS[mode]()(x, W_ih, W_hh, b_ih, b_hh, *states)
