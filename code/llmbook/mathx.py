"""The mathematics of Chapter 4: attention variants and the layer equations.

* :func:`dot_product_attention` -- :math:`\\mathrm{softmax}(s\\,QK^\\top)V` for any scale
  ``s`` (``s = 1`` plain dot product, ``s = 1/\\sqrt{d_k}`` the Transformer's).
* :func:`additive_scores`, :func:`additive_attention`, :class:`AdditiveAttention` --
  Bahdanau's :math:`e_{ij} = w^\\top\\tanh(q_i W_q + k_j W_k)`.
* :func:`multi_head_attention` -- multi-head attention written with explicit weight
  matrices, every shape named.
* :func:`softmax_saturation` -- the numbers behind the :math:`\\sqrt{d_k}` variance
  experiment.
* :class:`FeedForward`, :class:`EncoderLayer`, :class:`DecoderLayer` -- the layer
  equations in **post-LN** (``norm_first=False``, the 2017 paper) or **pre-LN**
  (``norm_first=True``, GPT-2 and later) form; :class:`TinyLM` stacks them.

Shapes follow :mod:`llmbook.attention`: queries ``(..., T, d)``, keys ``(..., S, d)``,
boolean masks ``True`` where attention is allowed.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .attention import MultiHeadAttention, _check_tensor, causal_mask

__all__ = [
    "dot_product_attention",
    "additive_scores",
    "additive_attention",
    "AdditiveAttention",
    "multi_head_attention",
    "softmax_saturation",
    "FeedForward",
    "EncoderLayer",
    "DecoderLayer",
    "TinyLM",
    "layer_gradient_norms",
    "WORKED_TOKENS",
    "worked_example",
]


def _masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a boolean torch.Tensor (True = may attend), got "
                            f"{getattr(mask, 'dtype', type(mask).__name__)}.")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(f"mask of shape {tuple(mask.shape)} does not broadcast to the "
                             f"scores' shape {tuple(scores.shape)} (..., T, S).") from None
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.nan_to_num(torch.softmax(scores, dim=-1), nan=0.0)


def _check_qkv(query, key, value) -> None:
    _check_tensor("query", query, 2)
    _check_tensor("key", key, 2)
    _check_tensor("value", value, 2)
    if key.size(-2) != value.size(-2):
        raise ValueError(f"key and value must have the same length S, got key "
                         f"{tuple(key.shape)} and value {tuple(value.shape)}.")


def dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          mask: torch.Tensor | None = None, *, scale: float | None = 1.0,
                          return_weights: bool = False):
    r"""Dot-product attention :math:`\mathrm{softmax}(s\,QK^\top)\,V`.

    ``scale=1.0`` (default) is plain dot-product attention; ``scale=None`` uses
    :math:`s = 1/\sqrt{d_k}`, the scaled attention of the Transformer.
    Shapes: query ``(..., T, d_k)``, key ``(..., S, d_k)``, value ``(..., S, d_v)``,
    output ``(..., T, d_v)``; weights ``(..., T, S)`` if ``return_weights``.
    """
    _check_qkv(query, key, value)
    if query.size(-1) != key.size(-1):
        raise ValueError(f"query and key must share the last dimension d_k, got query "
                         f"{tuple(query.shape)} and key {tuple(key.shape)}.")
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise ValueError(f"scale must be a positive number or None, got {scale!r}.")
    weights = _masked_softmax(scale * (query @ key.transpose(-2, -1)), mask)
    output = weights @ value
    return (output, weights) if return_weights else output


def additive_scores(query: torch.Tensor, key: torch.Tensor, w_query: torch.Tensor,
                    w_key: torch.Tensor, w_score: torch.Tensor) -> torch.Tensor:
    r"""Additive (Bahdanau) scores :math:`e_{ij} = w^\top \tanh(q_i W_q + k_j W_k)`.

    Shapes: query ``(..., T, d_q)``, key ``(..., S, d_k)``, ``w_query (d_q, d_a)``,
    ``w_key (d_k, d_a)``, ``w_score (d_a,)``; returns ``(..., T, S)``.
    """
    _check_tensor("query", query, 2)
    _check_tensor("key", key, 2)
    for name, w, dim in (("w_query", w_query, 2), ("w_key", w_key, 2),
                         ("w_score", w_score, 1)):
        _check_tensor(name, w, dim)
        if w.dim() != dim:
            raise ValueError(f"{name} must have {dim} dimension(s), got {tuple(w.shape)}.")
    if w_query.size(0) != query.size(-1) or w_key.size(0) != key.size(-1):
        raise ValueError(f"w_query must be (d_q={query.size(-1)}, d_a) and w_key "
                         f"(d_k={key.size(-1)}, d_a), got {tuple(w_query.shape)} and "
                         f"{tuple(w_key.shape)}.")
    if not (w_query.size(1) == w_key.size(1) == w_score.size(0)):
        raise ValueError(f"w_query, w_key and w_score must share the attention width d_a, "
                         f"got {tuple(w_query.shape)}, {tuple(w_key.shape)}, "
                         f"{tuple(w_score.shape)}.")
    projected_q = (query @ w_query).unsqueeze(-2)   # (..., T, 1, d_a)
    projected_k = (key @ w_key).unsqueeze(-3)       # (..., 1, S, d_a)
    return torch.tanh(projected_q + projected_k) @ w_score  # (..., T, S)


def additive_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                       w_query: torch.Tensor, w_key: torch.Tensor, w_score: torch.Tensor,
                       mask: torch.Tensor | None = None, *, return_weights: bool = False):
    r"""Additive attention: :math:`\mathrm{softmax}(e)\,V` with the scores of
    :func:`additive_scores`. Output ``(..., T, d_v)``."""
    _check_qkv(query, key, value)
    weights = _masked_softmax(additive_scores(query, key, w_query, w_key, w_score), mask)
    output = weights @ value
    return (output, weights) if return_weights else output


class AdditiveAttention(nn.Module):
    """Additive attention with learned ``W_q (d_q x d_a)``, ``W_k (d_k x d_a)``, ``w (d_a)``."""

    def __init__(self, d_query: int, d_key: int, d_attention: int):
        super().__init__()
        for name, v in (("d_query", d_query), ("d_key", d_key), ("d_attention", d_attention)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        self.w_query = nn.Parameter(torch.randn(d_query, d_attention) / math.sqrt(d_query))
        self.w_key = nn.Parameter(torch.randn(d_key, d_attention) / math.sqrt(d_key))
        self.w_score = nn.Parameter(torch.randn(d_attention) / math.sqrt(d_attention))

    def forward(self, query, key, value, mask=None, return_weights: bool = False):
        return additive_attention(query, key, value, self.w_query, self.w_key, self.w_score,
                                  mask, return_weights=return_weights)


def multi_head_attention(x_query: torch.Tensor, x_key: torch.Tensor, x_value: torch.Tensor,
                         w_q: torch.Tensor, w_k: torch.Tensor, w_v: torch.Tensor,
                         w_o: torch.Tensor, num_heads: int,
                         mask: torch.Tensor | None = None) -> torch.Tensor:
    r"""Multi-head attention with explicit ``(d_model, d_model)`` matrices (no biases).

    ``x_query (B, T, d_model)``, ``x_key``/``x_value (B, S, d_model)``; the inputs are
    multiplied on the right (``x @ w_q``), so ``w_q[:, i*d_k:(i+1)*d_k]`` is head ``i``'s
    :math:`W_i^Q`. Returns ``(B, T, d_model)``.
    """
    for name, x in (("x_query", x_query), ("x_key", x_key), ("x_value", x_value)):
        _check_tensor(name, x, 3)
        if x.dim() != 3:
            raise ValueError(f"{name} must be (B, length, d_model), got {tuple(x.shape)}.")
    d_model = x_query.size(-1)
    if isinstance(num_heads, bool) or not isinstance(num_heads, int) or num_heads < 1:
        raise ValueError(f"num_heads must be a positive int, got {num_heads!r}.")
    if d_model % num_heads:
        raise ValueError(f"d_model ({d_model}) must be divisible by num_heads ({num_heads}).")
    for name, w in (("w_q", w_q), ("w_k", w_k), ("w_v", w_v), ("w_o", w_o)):
        _check_tensor(name, w, 2)
        if tuple(w.shape) != (d_model, d_model):
            raise ValueError(f"{name} must be ({d_model}, {d_model}), got {tuple(w.shape)}.")
    if x_key.size(-1) != d_model or x_value.size(-1) != d_model or \
            x_key.shape[:2] != x_value.shape[:2]:
        raise ValueError(f"x_key and x_value must be (B, S, {d_model}), got "
                         f"{tuple(x_key.shape)} and {tuple(x_value.shape)}.")
    batch, t_len, s_len, d_k = x_query.size(0), x_query.size(1), x_key.size(1), \
        d_model // num_heads
    # (B, T, d_model) @ (d_model, d_model) -> (B, T, h, d_k) -> (B, h, T, d_k)
    q = (x_query @ w_q).view(batch, t_len, num_heads, d_k).transpose(1, 2)
    k = (x_key @ w_k).view(batch, s_len, num_heads, d_k).transpose(1, 2)
    v = (x_value @ w_v).view(batch, s_len, num_heads, d_k).transpose(1, 2)
    heads = dot_product_attention(q, k, v, mask, scale=None)         # (B, h, T, d_k)
    concat = heads.transpose(1, 2).reshape(batch, t_len, d_model)  # (B, T, h*d_k)
    return concat @ w_o


@torch.no_grad()
def softmax_saturation(d_values, *, num_keys: int = 16, num_queries: int = 2000,
                       seed: int = 0) -> dict[str, list[float]]:
    """The variance experiment behind :math:`\\sqrt{d_k}`.

    For each ``d_k`` in ``d_values`` draws ``num_queries`` queries and ``num_keys``
    keys with independent N(0, 1) entries, and returns, for raw and for scaled scores:
    the variance of the scores, the mean largest softmax weight, and the mean
    Frobenius norm of the softmax Jacobian ``diag(p) - p p^T`` (how much gradient
    the softmax lets through).
    """
    d_values = [int(d) for d in d_values]
    if not d_values or min(d_values) < 1:
        raise ValueError(f"d_values must be positive ints, got {d_values!r}.")
    if num_keys < 2 or num_queries < 2:
        raise ValueError("num_keys and num_queries must be at least 2.")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {k: [] for k in (
        "d_k", "var_raw", "var_scaled", "max_weight_raw", "max_weight_scaled",
        "jacobian_norm_raw", "jacobian_norm_scaled")}
    for d in d_values:
        q = torch.randn(num_queries, 1, d, generator=gen, dtype=torch.float64)
        k = torch.randn(num_queries, num_keys, d, generator=gen, dtype=torch.float64)
        raw = (q * k).sum(-1)                                   # (queries, keys)
        out["d_k"].append(d)
        for tag, scores in (("raw", raw), ("scaled", raw / math.sqrt(d))):
            p = torch.softmax(scores, -1)
            jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
            out[f"var_{tag}"].append(float(scores.var()))
            out[f"max_weight_{tag}"].append(float(p.max(-1).values.mean()))
            out[f"jacobian_norm_{tag}"].append(float(jac.flatten(1).norm(dim=1).mean()))
    return out


# ------------------------------------------------------------------------------------------
# The layer equations: post-LN and pre-LN
# ------------------------------------------------------------------------------------------

class FeedForward(nn.Module):
    r"""Position-wise feed-forward network :math:`\mathrm{FFN}(x) = \max(0, xW_1+b_1)W_2+b_2`."""

    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        for name, v in (("d_model", d_model), ("d_ff", d_ff)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        self.linear1 = nn.Linear(d_model, d_ff)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear2(torch.relu(self.linear1(x)))


def _residual(x: torch.Tensor, sublayer, norm: nn.LayerNorm, norm_first: bool) -> torch.Tensor:
    """One residual step: pre-LN ``x + f(LN(x))`` or post-LN ``LN(x + f(x))``."""
    if norm_first:
        return x + sublayer(norm(x))
    return norm(x + sublayer(x))


class EncoderLayer(nn.Module):
    r"""One encoder layer, post-LN (``norm_first=False``) or pre-LN (``norm_first=True``).

    Post-LN (2017): :math:`h = \mathrm{LN}(x + \mathrm{MHA}(x))`,
    :math:`y = \mathrm{LN}(h + \mathrm{FFN}(h))`.
    Pre-LN (GPT-2 and later): :math:`h = x + \mathrm{MHA}(\mathrm{LN}(x))`,
    :math:`y = h + \mathrm{FFN}(\mathrm{LN}(h))`.
    ``mask`` (boolean, ``True`` = may attend) makes it a decoder-only (GPT) block.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, *, norm_first: bool = False):
        super().__init__()
        if not isinstance(norm_first, bool):
            raise TypeError(f"norm_first must be True or False, got {norm_first!r}.")
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        x = _residual(x, lambda z: self.self_attn(z, mask=mask), self.norm1, self.norm_first)
        return _residual(x, self.ffn, self.norm2, self.norm_first)

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerEncoderLayer) -> "EncoderLayer":
        """Copy the weights of a ``torch.nn.TransformerEncoderLayer`` (ReLU, same sizes)."""
        if not isinstance(layer, nn.TransformerEncoderLayer):
            raise TypeError(f"expected nn.TransformerEncoderLayer, got {type(layer).__name__}.")
        if layer.norm_first != self.norm_first:
            raise ValueError(f"norm_first differs: torch layer {layer.norm_first}, "
                             f"this one {self.norm_first}.")
        self.self_attn.load_from_torch(layer.self_attn)
        _copy_ffn_norms(self, layer, ("norm1", "norm2"))
        return self


class DecoderLayer(nn.Module):
    r"""One encoder-decoder decoder layer: masked self-attention, cross-attention over
    the encoder output ``memory``, feed-forward; each a residual step, post-LN or pre-LN.

    Post-LN: :math:`a = \mathrm{LN}(y + \mathrm{MHA}(y, y, y; \text{causal}))`,
    :math:`c = \mathrm{LN}(a + \mathrm{MHA}(a, m, m))`, :math:`z = \mathrm{LN}(c + \mathrm{FFN}(c))`.
    """

    def __init__(self, d_model: int, num_heads: int, d_ff: int, *, norm_first: bool = False):
        super().__init__()
        if not isinstance(norm_first, bool):
            raise TypeError(f"norm_first must be True or False, got {norm_first!r}.")
        self.norm_first = norm_first
        self.self_attn = MultiHeadAttention(d_model, num_heads)
        self.cross_attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = FeedForward(d_model, d_ff)
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))

    def forward(self, y: torch.Tensor, memory: torch.Tensor,
                memory_mask: torch.Tensor | None = None) -> torch.Tensor:
        if y.dim() != 3 or memory.dim() != 3 or y.size(0) != memory.size(0):
            raise ValueError(f"y must be (B, T, d_model) and memory (B, S, d_model) with the "
                             f"same B, got {tuple(y.shape)} and {tuple(memory.shape)}.")
        causal = causal_mask(y.size(1), device=y.device)
        y = _residual(y, lambda z: self.self_attn(z, mask=causal), self.norm1, self.norm_first)
        y = _residual(y, lambda z: self.cross_attn(z, memory, memory, mask=memory_mask),
                      self.norm2, self.norm_first)
        return _residual(y, self.ffn, self.norm3, self.norm_first)

    @torch.no_grad()
    def load_from_torch(self, layer: nn.TransformerDecoderLayer) -> "DecoderLayer":
        """Copy the weights of a ``torch.nn.TransformerDecoderLayer`` (ReLU, same sizes)."""
        if not isinstance(layer, nn.TransformerDecoderLayer):
            raise TypeError(f"expected nn.TransformerDecoderLayer, got {type(layer).__name__}.")
        if layer.norm_first != self.norm_first:
            raise ValueError(f"norm_first differs: torch layer {layer.norm_first}, "
                             f"this one {self.norm_first}.")
        self.self_attn.load_from_torch(layer.self_attn)
        self.cross_attn.load_from_torch(layer.multihead_attn)
        _copy_ffn_norms(self, layer, ("norm1", "norm2", "norm3"))
        return self


def _copy_ffn_norms(ours: nn.Module, theirs: nn.Module, norms: tuple[str, ...]) -> None:
    if theirs.linear1.out_features != ours.ffn.linear1.out_features or \
            theirs.linear1.in_features != ours.ffn.linear1.in_features:
        raise ValueError("d_model or d_ff differs between the two layers.")
    ours.ffn.linear1.load_state_dict(theirs.linear1.state_dict())
    ours.ffn.linear2.load_state_dict(theirs.linear2.state_dict())
    for name in norms:
        getattr(ours, name).load_state_dict(getattr(theirs, name).state_dict())


class TinyLM(nn.Module):
    """A small decoder-only language model: token + learned position embeddings,
    ``depth`` causal :class:`EncoderLayer` blocks (post-LN or pre-LN), a final LayerNorm
    for pre-LN (post-LN layers already end in one), and a linear head."""

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 d_ff: int = 128, depth: int = 2, max_len: int = 128, *,
                 norm_first: bool = True):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("depth", depth), ("max_len", max_len)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(EncoderLayer(d_model, num_heads, d_ff, norm_first=norm_first)
                                    for _ in range(depth))
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids (B, T)`` int64 -> logits ``(B, T, vocab_size)``."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
            raise ValueError(f"ids must be an integer tensor (B, T), got "
                             f"{getattr(ids, 'shape', type(ids).__name__)}.")
        if ids.size(1) > self.max_len:
            raise ValueError(f"sequence length {ids.size(1)} exceeds max_len={self.max_len}.")
        x = self.tok(ids) + self.pos(torch.arange(ids.size(1), device=ids.device))
        mask = causal_mask(ids.size(1), device=ids.device)
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(self.final_norm(x))


def layer_gradient_norms(model: TinyLM) -> list[float]:
    """The L2 norm of the gradient of each layer's parameters (call after ``backward``)."""
    if not isinstance(model, TinyLM):
        raise TypeError(f"expected a TinyLM, got {type(model).__name__}.")
    norms = []
    for layer in model.layers:
        grads = [p.grad.flatten() for p in layer.parameters() if p.grad is not None]
        if not grads:
            raise RuntimeError("no gradients: call loss.backward() first.")
        norms.append(float(torch.cat(grads).norm()))
    return norms


# ------------------------------------------------------------------------------------------
# The worked example of Section 4.5
# ------------------------------------------------------------------------------------------

#: The four tokens of the worked example and their integer embeddings (one row each).
WORKED_TOKENS = ("[CLS]", "a", "b", "[SEP]")
WORKED_X = ((1, 0, 1), (0, 1, 0), (1, 1, 0), (0, 0, 1))
WORKED_W_Q = ((1, 0, 1, 0), (0, 1, 0, 1), (1, 0, 0, 1))
WORKED_W_K = ((0, 1, 1, 0), (1, 0, 0, 1), (0, 1, 0, 1))
WORKED_W_V = ((1, 0), (0, 2), (1, 1))


def worked_example() -> dict[str, torch.Tensor]:
    r"""Every intermediate of self-attention on ``[CLS] a b [SEP]`` with the small integer
    matrices above (float64): ``X (4x3)``, ``W_q, W_k (3x4)``, ``W_v (3x2)``, ``Q, K (4x4)``,
    ``V (4x2)``, ``scores = QK^T (4x4)``, ``scaled_scores`` (divided by
    :math:`\sqrt{d_k} = 2`), ``weights`` (row-wise softmax) and ``output = weights V (4x2)``.
    """
    as_t = lambda m: torch.tensor(m, dtype=torch.float64)  # noqa: E731
    x, w_q, w_k, w_v = as_t(WORKED_X), as_t(WORKED_W_Q), as_t(WORKED_W_K), as_t(WORKED_W_V)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T
    sqrt_dk = math.sqrt(q.size(-1))
    weights = torch.softmax(scores / sqrt_dk, dim=-1)
    return {"X": x, "W_q": w_q, "W_k": w_k, "W_v": w_v, "Q": q, "K": k, "V": v,
            "scores": scores, "sqrt_dk": sqrt_dk, "scaled_scores": scores / sqrt_dk,
            "weights": weights, "output": weights @ v}
