"""Multi-head attention and the Transformer encoder layer (batch-first), composed from dlcore's ops."""
from __future__ import annotations

from dlcore import checks, init
from dlcore.ops.attention import additive_mask, scaled_dot_product_attention
from dlcore.ops.linear import linear
from dlcore.ops.math import getitem, reshape, transpose
from dlcore.nn.activation import ACTIVATIONS
from dlcore.nn.layers import Linear
from dlcore.nn.module import Module, Parameter, check_input_type
from dlcore.nn.normalization import LayerNorm
from dlcore.nn.regularization import Dropout


class MultiheadAttention(Module):
    """Multi-head scaled dot-product attention, batch-first:

        Q = q W_qᵀ + b_q,  K = k W_kᵀ + b_k,  V = v W_vᵀ + b_v   (split into h heads of d = E/h)
        headⱼ = softmax(Qⱼ Kⱼᵀ/√d + M) Vⱼ,   out = concat(head₁ … head_h) W_o + b_o

    Parameters as PyTorch's: ``in_proj_weight`` (3E, E) = [W_q; W_k; W_v], ``in_proj_bias`` (3E,);
    ``out_proj`` is an ``nn.Linear(E, E)``, whose ``weight`` (dlcore's (in, out) layout) is
    PyTorch's ``out_proj.weight`` transposed. ``attn(query, key, value, key_padding_mask=None,
    need_weights=True, attn_mask=None)`` with query (N, L, E), key and value (N, S, E):
    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N·h, L, S) are boolean (True = may not
    attend) or additive floats. Returns (out (N, L, E), the attention weights averaged over the
    heads (N, L, S), or None when ``need_weights`` is False). ``dropout`` drops attention weights
    in training. Only ``batch_first=True`` and kdim = vdim = E.

    >>> import numpy, dlcore
    >>> attn = dlcore.nn.MultiheadAttention(8, num_heads=2)
    >>> x = dlcore.Tensor(numpy.ones((3, 5, 8), "float32"))
    >>> out, weights = attn(x, x, x)
    >>> out.shape, weights.shape, float(weights.data.sum(axis=-1).min()) > 0.999
    ((3, 5, 8), (3, 5, 5), True)
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = True):
        super().__init__()
        self.embed_dim = checks.integer("MultiheadAttention", "embed_dim", embed_dim, minimum=1)
        self.num_heads = checks.integer("MultiheadAttention", "num_heads", num_heads, minimum=1)
        if self.embed_dim % self.num_heads:
            raise checks.ArgumentValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by "
                                            f"num_heads ({num_heads})")
        self.dropout = checks.finite_number("MultiheadAttention", "dropout", dropout, within="[0, 1)")
        if not checks.flag("MultiheadAttention", "batch_first", batch_first):
            raise checks.ArgumentValueError("MultiheadAttention: only batch_first=True (inputs (N, L, E)) is "
                                            "supported")
        e = self.embed_dim
        self.in_proj_weight = Parameter(init.xavier_uniform((3 * e, e), fan_in=e, fan_out=3 * e))
        self.in_proj_bias = Parameter(init.zeros((3 * e,))) if checks.flag("MultiheadAttention", "bias", bias) \
            else None
        self.out_proj = Linear(e, e, bias=bias, weight_init="xavier_uniform")

    def draws_random_numbers(self) -> bool:
        return self.dropout > 0

    def _project(self, x, part: int):
        """x W_partᵀ + b_part for part 0 (query), 1 (key), 2 (value); all three at once for part None."""
        rows = slice(None) if part is None else slice(part * self.embed_dim, (part + 1) * self.embed_dim)
        W = transpose(self.in_proj_weight if part is None else getitem(self.in_proj_weight, rows))
        b = None if self.in_proj_bias is None else (self.in_proj_bias if part is None
                                                    else getitem(self.in_proj_bias, rows))
        return linear(x, W, b)

    def _heads(self, x):
        """(N, L, E) → (N, h, L, E/h)."""
        n, length, _ = x.shape
        return transpose(reshape(x, (n, length, self.num_heads, -1)), (0, 2, 1, 3))

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None):
        check_input_type(self, query, self.in_proj_weight)
        e = self.embed_dim
        if query.ndim != 3 or key.ndim != 3 or value.ndim != 3 or query.shape[2] != e or key.shape[2] != e or \
                tuple(value.shape) != tuple(key.shape) or key.shape[0] != query.shape[0]:
            raise checks.ShapeError(f"{self!r} expects query (N, L, {e}) and key, value (N, S, {e}), got "
                                    f"{tuple(query.shape)}, {tuple(key.shape)}, {tuple(value.shape)}")
        n, length, source = query.shape[0], query.shape[1], key.shape[1]
        if query is key and key is value:  # self-attention: one GEMM for Q, K and V
            qkv = self._project(query, None)
            q, k, v = (getitem(qkv, (Ellipsis, slice(j * e, (j + 1) * e))) for j in range(3))
        else:
            q, k, v = self._project(query, 0), self._project(key, 1), self._project(value, 2)
        mask = self._mask(n, length, source, key_padding_mask, attn_mask, q.dtype)
        heads, weights = scaled_dot_product_attention(self._heads(q), self._heads(k), self._heads(v), mask,
                                                      self.dropout)
        out = self.out_proj(reshape(transpose(heads, (0, 2, 1, 3)), (n, length, e)))
        return out, (weights.mean(axis=1) if need_weights else None)

    def _name(self) -> str:
        """The layer on one line, for the errors about its masks."""
        return f"{type(self).__name__}({self.extra_repr()})"

    def _mask(self, n, length, source, key_padding_mask, attn_mask, dtype):
        """The additive mask (broadcasting to (N, h, L, S)) from the two masks, or None."""
        mask = None
        if attn_mask is not None:
            attn_mask = additive_mask(attn_mask, dtype, self._name(), "attn_mask")
            if tuple(attn_mask.shape) not in ((length, source), (n * self.num_heads, length, source)):
                raise checks.ShapeError(f"{self!r}: attn_mask must have shape ({length}, {source}) or "
                                        f"({n * self.num_heads}, {length}, {source}), got {tuple(attn_mask.shape)}")
            mask = attn_mask
            if mask.ndim == 3:
                mask = mask.reshape(n, self.num_heads, length, source)
        if key_padding_mask is not None:
            key_padding_mask = additive_mask(key_padding_mask, dtype, self._name(), "key_padding_mask")
            if tuple(key_padding_mask.shape) != (n, source):
                raise checks.ShapeError(f"{self!r}: key_padding_mask must have shape ({n}, {source}), got "
                                        f"{tuple(key_padding_mask.shape)}")
            padding = key_padding_mask.reshape(n, 1, 1, source)
            mask = padding if mask is None else mask + padding
        return mask

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}" + (
            f", dropout={self.dropout}" if self.dropout else "")


class TransformerEncoderLayer(Module):
    """One Transformer encoder block (self-attention, then a position-wise feed-forward net), batch-first:

        post-norm (norm_first=False):  x ← LN₁(x + Drop(SA(x))),   x ← LN₂(x + Drop(FF(x)))
        pre-norm (norm_first=True):    x ← x + Drop(SA(LN₁(x))),   x ← x + Drop(FF(LN₂(x)))

    with SA the ``MultiheadAttention(d_model, nhead)`` of x with itself and FF(x) =
    linear2(Drop(act(linear1(x)))), linear1 d_model → dim_feedforward, linear2 back. Submodule
    names follow PyTorch's (self_attn, linear1, linear2, norm1, norm2, dropout, dropout1,
    dropout2); ``activation`` is a name of ``dlcore.nn.activations`` ("relu" by default).
    ``layer(src, src_mask=None, src_key_padding_mask=None)`` → (N, L, d_model).

    >>> import numpy, dlcore
    >>> layer = dlcore.nn.TransformerEncoderLayer(8, nhead=2, dim_feedforward=16, dropout=0.0)
    >>> layer(dlcore.Tensor(numpy.ones((3, 5, 8), "float32"))).shape
    (3, 5, 8)
    """

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation: str = "relu", layer_norm_eps: float = 1e-5, batch_first: bool = True,
                 norm_first: bool = False):
        super().__init__()
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, weight_init="xavier_uniform")
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, weight_init="xavier_uniform")
        self.norm_first = checks.flag("TransformerEncoderLayer", "norm_first", norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = ACTIVATIONS[checks.choice("TransformerEncoderLayer", "activation", activation,
                                                    ACTIVATIONS)]()

    def _sa(self, x, src_mask, src_key_padding_mask):
        out, _ = self.self_attn(x, x, x, key_padding_mask=src_key_padding_mask, need_weights=False,
                                attn_mask=src_mask)
        return self.dropout1(out)

    def _ff(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None):
        x = src
        if self.norm_first:
            x = x + self._sa(self.norm1(x), src_mask, src_key_padding_mask)
            return x + self._ff(self.norm2(x))
        x = self.norm1(x + self._sa(x, src_mask, src_key_padding_mask))
        return self.norm2(x + self._ff(x))
