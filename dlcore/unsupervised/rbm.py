"""Restricted Boltzmann machines trained by contrastive divergence, and helpers for RBM stacks.

An RBM with visible units v (n_visible) and binary hidden units h (n_hidden) has

    Bernoulli visible:  E(v, h) = −bᵀv − cᵀh − vᵀWh
    Gaussian visible:   E(v, h) = ½‖v − b‖² − cᵀh − vᵀWh          (unit variance)

    p(h_j = 1 | v) = σ(c_j + vᵀW_{:,j})
    p(v_i = 1 | h) = σ(b_i + W_{i,:} h)         (Bernoulli);  v | h ~ N(b + Wh, I)  (Gaussian)
    F(v) = −log Σ_h e^{−E(v,h)} = −bᵀv − Σ_j softplus(c_j + vᵀW_{:,j})   (Gaussian: ½‖v−b‖² − Σ_j …)

Everything is vectorised on ``xp`` over the mini-batch; random numbers are uniforms from the
backend of the weights (``backend.random``, seeded by ``dlcore.manual_seed``), drawn on the
device, and every sampling method takes the uniforms as an argument instead so that tests can
be exact. Initial weights come from ``dlcore.init`` (the host generator: same seed, same
weights on CPU and GPU). Training is the RBM's own rule, not autograd: ``cd_step`` updates
``W.data``, ``b.data`` and ``c.data`` in place and never touches ``.grad``.

"The guide" below is G. Hinton, "A Practical Guide to Training Restricted Boltzmann Machines"
(UTML TR 2010-003); persistent CD is T. Tieleman (ICML 2008).
"""
from __future__ import annotations

import math

import numpy

import backends
from dlcore import init
from dlcore.checks import ShapeError
from dlcore.core import Tensor
from dlcore.ops.activation import sigmoid_array, softplus_array
from dlcore.models.mlp import MLP
from dlcore.nn.module import Module, Parameter
from dlcore.optim.sgd import momentum_update

VISIBLE = ("bernoulli", "gaussian")


def _array(x):
    return x.data if isinstance(x, Tensor) else x


class _Uniforms:
    """Uniform [0, 1) draws: from the backend's generator, or taken in order from a supplied sequence."""

    def __init__(self, backend, dtype, supplied=None):
        self.backend, self.dtype = backend, dtype
        self.supplied = None if supplied is None else iter(supplied)

    def __call__(self, shape):
        if self.supplied is None:
            return self.backend.random(shape, self.dtype)
        u = next(self.supplied, None)
        if u is None:
            raise ValueError(f"RBM: the supplied uniforms ran out; the next draw needs shape {shape}")
        if tuple(u.shape) != tuple(shape):
            raise ShapeError(f"RBM: a supplied uniform draw has shape {tuple(u.shape)}, expected {tuple(shape)}")
        return u

    def finish(self):
        if self.supplied is not None and next(self.supplied, None) is not None:
            raise ValueError("RBM: more uniforms were supplied than the step draws")


def small_normal(shape, fan_in=None, fan_out=None, dtype=None):
    """w ~ N(0, 0.01²), the RBM's default initial weights (Hinton's practical guide, §8)."""
    return init.normal(shape, 0.01, dtype=dtype)


class RBM(Module):
    """A restricted Boltzmann machine (see the module docstring for E, F and the conditionals).

    Parameters ``W`` (n_visible, n_hidden), ``b`` (n_visible,) visible bias, ``c``
    (n_hidden,) hidden bias; buffers ``dW``, ``db``, ``dc`` hold the previous updates Δθ
    (momentum state, saved by ``state_dict``). ``weight_init`` is a ``dlcore.init`` name or
    callable; the default is N(0, 0.01²) (``small_normal``); biases start at 0. ``persistent``:
    False for CD-k; True for PCD-k with as many chains as the first batch has rows; an int M
    for M chains. ``lr`` ε, ``momentum`` μ and ``weight_decay`` λ enter the update below.

    Training rule of ``cd_step`` (CD-k, or PCD-k with ``persistent``), per mini-batch of N rows:

        positive phase  v⁰ = data,  p⁰ = p(h|v⁰),  h⁰ ~ p⁰,  reconstruction v̂ = E[v|h⁰]
        CD chain        v¹ = v̂;  vᵗ = E[v|hᵗ⁻¹] with hᵗ⁻¹ ~ p(h|vᵗ⁻¹) for t = 2…k
        PCD chain       the same k steps from the persistent chains (M of them, kept on the
                        device, started as copies of the first batch) instead of v⁰; vᵏ is
                        stored back. ``sample_visible=True`` samples each vᵗ instead of
                        taking the mean (Hinton's guide §3.2 recommends the mean).
        statistics      hidden *probabilities*, never samples (guide §3.3), pᵏ = p(h|vᵏ):
                        G_W = v⁰ᵀp⁰/N − vᵏᵀpᵏ/M,  G_b = Σv⁰/N − Σvᵏ/M,  G_c = Σp⁰/N − Σpᵏ/M
        update          Δθ ← μ Δθ + ε (G_θ − λθ),  θ ← θ + Δθ    (λ = weight_decay on W only,
                        multiplied by the learning rate ε as in guide §10; μ = momentum)

    Uniform draws happen in this order (the order of ``uniforms`` when supplied): u(h⁰); then
    for each chain step, u(h) (not for CD's first step, which reuses h⁰) and, with
    ``sample_visible``, u(v). Bernoulli draws have the shape of the probabilities; a Gaussian
    visible draw has shape (2, N, n_visible) (Box–Muller).

    ``scale_up``/``scale_down`` multiply W in p(h|v) / p(v|h): 2 and 1 give the bottom RBM of a
    DBM, 1 and 2 the top one (Salakhutdinov & Hinton 2009, §3.1); ``free_energy`` and
    ``pseudo_log_likelihood`` describe the plain RBM (both 1).
    """

    def __init__(self, n_visible: int, n_hidden: int, visible: str = "bernoulli", k: int = 1,
                 persistent: bool | int = False, lr: float = 0.1, momentum: float = 0.5, weight_decay: float = 1e-4,
                 weight_init=None, sample_visible: bool = False, scale_up: float = 1.0, scale_down: float = 1.0):
        super().__init__()
        if visible not in VISIBLE:
            raise ValueError(f"RBM: visible must be one of {VISIBLE}, got {visible!r}")
        if n_visible < 1 or n_hidden < 1 or k < 1:
            raise ValueError(f"RBM needs positive sizes and k, got n_visible={n_visible}, n_hidden={n_hidden}, k={k}")
        self.n_visible, self.n_hidden, self.visible, self.k = int(n_visible), int(n_hidden), visible, int(k)
        self.persistent, self.sample_visible = persistent, bool(sample_visible)
        self.lr, self.momentum, self.weight_decay = float(lr), float(momentum), float(weight_decay)
        self.scale_up, self.scale_down = float(scale_up), float(scale_down)
        shape = (self.n_visible, self.n_hidden)
        make = small_normal if weight_init is None else init.get(weight_init)
        self.W = Parameter(make(shape, fan_in=self.n_visible, fan_out=self.n_hidden))
        self.b = Parameter(init.zeros((self.n_visible,), dtype=self.W.dtype))
        self.c = Parameter(init.zeros((self.n_hidden,), dtype=self.W.dtype))
        xp = self.W.xp
        for name, p in (("dW", self.W), ("db", self.b), ("dc", self.c)):
            self.register_buffer(name, xp.zeros_like(p.data))
        self.chains = None  # PCD fantasy particles (M, n_visible), created by the first cd_step

    # ---- conditionals and energies -------------------------------------------------
    @property
    def backend(self):
        return backends.backend_of(self.W.data)

    def _input(self, v, n: int | None = None, op: str = "RBM"):
        """``v`` as an array on the weights' device and dtype, with last axis ``n`` (default n_visible)."""
        v = _array(v)
        backends.backend_for([v, self.W.data], op=op)  # raises DeviceMismatchError naming both devices
        n = self.n_visible if n is None else n
        if v.ndim != 2 or v.shape[1] != n:
            raise ShapeError(f"{op} of {self.extra_repr()} expects a (N, {n}) input, got shape {tuple(v.shape)}")
        return v.astype(self.W.dtype, copy=False)

    def p_h_given_v(self, v):
        """p(h = 1 | v) = σ(c + s_up·vW), shape (N, n_hidden)."""
        v = self._input(v, op="RBM.p_h_given_v")
        a = self.backend.gemm(v, self.W.data)
        if self.scale_up != 1:
            a *= self.scale_up
        a += self.c.data
        return sigmoid_array(self.W.xp, a)

    def p_v_given_h(self, h):
        """E[v | h] = σ(b + s_down·hWᵀ) (Bernoulli) or b + s_down·hWᵀ (Gaussian), shape (N, n_visible)."""
        h = self._input(h, self.n_hidden, op="RBM.p_v_given_h")
        a = self.backend.gemm(h, self.W.data, trans_b=True)
        if self.scale_down != 1:
            a *= self.scale_down
        a += self.b.data
        return sigmoid_array(self.W.xp, a) if self.visible == "bernoulli" else a

    @staticmethod
    def _bernoulli(p, u):
        return (u < p).astype(p.dtype)

    def _visible_sample(self, mean, draw):
        if self.visible == "bernoulli":
            return self._bernoulli(mean, draw(mean.shape))
        xp = self.W.xp
        u = draw((2,) + mean.shape)  # Box–Muller: z = √(−2 ln(1−u₁)) cos(2π u₂) ~ N(0, 1)
        return mean + xp.sqrt(-2 * xp.log1p(-u[0])) * xp.cos((2 * math.pi) * u[1])

    def sample_h(self, v, u=None):
        """h ~ p(h|v): h_j = [u_j < p(h_j=1|v)] with u uniform (drawn on the device unless given)."""
        p = self.p_h_given_v(v)
        return self._bernoulli(p, _Uniforms(self.backend, p.dtype, None if u is None else [u])(p.shape))

    def sample_v(self, h, u=None):
        """v ~ p(v|h): Bernoulli as sample_h; Gaussian b + hWᵀ + z, z by Box–Muller from u of shape (2, N, D)."""
        mean = self.p_v_given_h(h)
        return self._visible_sample(mean, _Uniforms(self.backend, mean.dtype, None if u is None else [u]))

    def gibbs(self, v, steps: int = 1, uniforms=None):
        """``steps`` rounds of h ~ p(h|v), v ~ p(v|h) from ``v``: returns (last v sample, E[v | last h]).

        ``uniforms``: optional draws in order u(h), u(v) per round.
        """
        v, draw = self._input(v, op="RBM.gibbs"), _Uniforms(self.backend, self.W.dtype, uniforms)
        mean = v
        for _ in range(steps):
            p = self.p_h_given_v(v)
            mean = self.p_v_given_h(self._bernoulli(p, draw(p.shape)))
            v = self._visible_sample(mean, draw)
        draw.finish()
        return v, mean

    def free_energy(self, v):
        """F(v) per row, shape (N,): −bᵀv − Σⱼ softplus(cⱼ + vᵀW₍:,ⱼ₎)  (Gaussian: ½‖v−b‖² − Σⱼ …)."""
        v = self._input(v, op="RBM.free_energy")
        xp = self.W.xp
        hidden = softplus_array(xp, self.backend.gemm(v, self.W.data) + self.c.data).sum(axis=1)
        if self.visible == "bernoulli":
            return -(v @ self.b.data) - hidden
        return 0.5 * ((v - self.b.data) ** 2).sum(axis=1) - hidden

    def reconstruction_error(self, v):
        """Mean over rows of ‖v − v̂‖², v̂ = E[v | h = p(h|v)] (mean-field, no sampling); a device scalar."""
        v = self._input(v, op="RBM.reconstruction_error")
        return ((v - self.p_v_given_h(self.p_h_given_v(v))) ** 2).sum(axis=1).mean()

    def pseudo_log_likelihood(self, v, bits="cycle"):
        """Mean over rows of the log pseudo-likelihood Σᵢ log p(vᵢ | v₋ᵢ) of binary data (device scalar).

        p(vᵢ | v₋ᵢ) = σ(F(ṽ⁽ⁱ⁾) − F(v)), ṽ⁽ⁱ⁾ = v with bit i flipped. ``bits``:
        "all" — the exact sum over all D bits (memory N·D·n_hidden);
        "cycle" — the estimate D·log σ(F(ṽ⁽ⁱ⁾) − F(v)) with the deterministic bit iₙ = n mod D for row n;
        "random" — the same with one bit per row drawn on the device; or an int array of N bit indices.
        Bernoulli visible units only.
        """
        if self.visible != "bernoulli":
            raise ValueError("RBM.pseudo_log_likelihood is defined for Bernoulli visible units only")
        v = self._input(v, op="RBM.pseudo_log_likelihood")
        xp, (n, d) = self.W.xp, v.shape
        if isinstance(bits, str) and bits == "all":
            a = self.backend.gemm(v, self.W.data) + self.c.data                     # (N, H)
            flip = 1 - 2 * v                                                        # ṽᵢ − vᵢ, (N, D)
            shifted = softplus_array(xp, a[:, None, :] + flip[:, :, None] * self.W.data)  # (N, D, H)
            delta = -flip * self.b.data - (shifted - softplus_array(xp, a)[:, None, :]).sum(axis=2)
            return -softplus_array(xp, -delta).sum(axis=1).mean()
        if isinstance(bits, str):
            if bits == "cycle":
                bits = xp.arange(n) % d
            elif bits == "random":
                bits = xp.minimum((self.backend.random((n,), self.W.dtype) * d).astype(xp.int64), d - 1)
            else:
                raise ValueError(f"pseudo_log_likelihood: bits must be 'all', 'cycle', 'random' or an index array, "
                                 f"got {bits!r}")
        bits = xp.asarray(bits)
        flipped = v.copy()
        rows = xp.arange(n)
        flipped[rows, bits] = 1 - flipped[rows, bits]
        return -d * softplus_array(xp, self.free_energy(v) - self.free_energy(flipped)).mean()

    def forward(self, v):
        """p(h|v) (an array; a Tensor input gives a Tensor without gradient)."""
        p = self.p_h_given_v(v)
        return Tensor(p) if isinstance(v, Tensor) else p

    # ---- training ---------------------------------------------------------------------
    def cd_step(self, v, uniforms=None):
        """One CD-k / PCD-k update on the mini-batch ``v`` (rule in the class docstring).

        Returns the reconstruction error of the batch, mean over rows of ‖v⁰ − E[v|h⁰]‖², as a
        device scalar (no host synchronisation).
        """
        v0 = self._input(v, op="RBM.cd_step")
        xp, backend, draw = self.W.xp, self.backend, _Uniforms(self.backend, self.W.dtype, uniforms)
        p0 = self.p_h_given_v(v0)
        recon = self.p_v_given_h(self._bernoulli(p0, draw(p0.shape)))
        error = ((v0 - recon) ** 2).sum(axis=1).mean()
        if self.persistent:
            if self.chains is None:
                m = len(v0) if self.persistent is True else int(self.persistent)
                self.chains = v0[xp.arange(m) % len(v0)]
            vk, steps = self.chains, range(self.k)
        else:
            vk, steps = (self._visible_sample(recon, draw) if self.sample_visible else recon), range(1, self.k)
        for _ in steps:
            p = self.p_h_given_v(vk)
            mean = self.p_v_given_h(self._bernoulli(p, draw(p.shape)))
            vk = self._visible_sample(mean, draw) if self.sample_visible else mean
        draw.finish()
        pk = self.p_h_given_v(vk)
        if self.persistent:
            self.chains = vk
        n, m = len(v0), len(vk)
        # descent directions g = −G (+ λW) for the shared momentum kernel: Δ ← μΔ − εg, θ ← θ + Δ
        g_W = backend.gemm(vk, pk, trans_a=True) / m - backend.gemm(v0, p0, trans_a=True) / n
        g_W += self.weight_decay * self.W.data
        g_b = backend.column_sums(vk) / m - backend.column_sums(v0) / n
        g_c = backend.column_sums(pk) / m - backend.column_sums(p0) / n
        for g, p, delta in ((g_W, self.W, self.dW), (g_b, self.b, self.db), (g_c, self.c, self.dc)):
            momentum_update(xp, g, self.lr, self.momentum, p.data, delta)
        return error

    def fit(self, data, epochs: int = 10, batch_size: int = 100, seed: int = 0, on_epoch=None) -> list[float]:
        """Train with ``cd_step`` for ``epochs`` and return each epoch's mean reconstruction error
        (``on_epoch(epoch, error)``, when given, is called after each epoch, e.g. to log progress).

        ``data``: an (N, n_visible) array or Tensor (moved to the weights' device once and cut
        into shuffled mini-batches, permutation from ``numpy.random.default_rng(seed)`` as
        ``ArrayLoader`` does), or any re-iterable of batches or (x, y) pairs such as an
        ``ArrayLoader``. Errors accumulate on the device; one host synchronisation per epoch.
        """
        if hasattr(data, "shape"):  # an array or a Tensor
            x = self._input(backends.to_device(_array(data), self.backend.name), op="RBM.fit")
            rng, xp = numpy.random.default_rng(seed), self.W.xp

            def batches():
                order = xp.asarray(rng.permutation(len(x)))
                for start in range(0, len(x), batch_size):
                    yield x[order[start:start + batch_size]]
        else:
            def batches():
                for batch in data:
                    yield batch[0] if isinstance(batch, (tuple, list)) else batch
        history = []
        for _ in range(epochs):
            total, count = 0.0, 0
            for batch in batches():
                total = total + self.cd_step(batch) * len(batch)
                count += len(batch)
            history.append(float(backends.to_numpy(total)) / count)
            if on_epoch is not None:
                on_epoch(len(history), history[-1])
        return history

    def to(self, name: str) -> RBM:
        super().to(name)
        if self.chains is not None:
            self.chains = backends.to_device(self.chains, name)
        return self

    def extra_repr(self) -> str:
        mode = f"PCD-{self.k}" if self.persistent else f"CD-{self.k}"
        return f"n_visible={self.n_visible}, n_hidden={self.n_hidden}, visible={self.visible}, {mode}"


# ---- stacks of RBMs (DBN, DBM) -------------------------------------------------------------
def stack_to_mlp(rbms, n_classes: int, activation: str = "sigmoid", weight_init="xavier"):
    """An MLP [n_visible, n_hidden₁, …, n_classes] whose hidden Linear layers hold copies of
    s_up·W and c of each RBM (so with sigmoid its hidden activations are the stack's p(h|v))
    and whose output layer is freshly initialised; on the RBMs' device."""
    sizes = [rbms[0].n_visible] + [r.n_hidden for r in rbms] + [int(n_classes)]
    mlp = MLP(sizes, activation=activation, weight_init=weight_init).to(rbms[0].backend.name)
    linears = [m for m in mlp if hasattr(m, "weight")]
    for layer, rbm in zip(linears, rbms):
        layer.weight.data = rbm.W.data * rbm.scale_up if rbm.scale_up != 1 else rbm.W.data.copy()
        layer.bias.data = rbm.c.data.copy()
    return mlp
