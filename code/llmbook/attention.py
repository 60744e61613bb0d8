"""Attention, as the book teaches it (Section 2.3, Chapter 4).

* :func:`scaled_dot_product_attention` -- :math:`\\mathrm{softmax}(QK^\\top/\\sqrt{d_k})V`;
  :func:`dot_product_attention` is the same with any scale ``s`` in place of
  :math:`1/\\sqrt{d_k}`; :func:`masked_softmax` is the softmax both use.
* :class:`MultiHeadAttention` (a module) and :func:`multi_head_attention` (the same with
  explicit weight matrices, every shape named).
* :func:`additive_scores`, :func:`additive_attention`, :class:`AdditiveAttention` --
  Bahdanau's :math:`e_{ij} = w^\\top\\tanh(q_i W_q + k_j W_k)`.
* :func:`causal_mask`, :func:`padding_mask`; :func:`attention_maps` of a Hugging Face model.

Shapes follow one convention everywhere in the book:

* ``B`` batch size, ``T`` query length, ``S`` key/value length (``S == T`` for
  self-attention), ``d_model`` model width, ``h`` heads, ``d_k = d_model / h``.
* Queries ``(..., T, d_k)``, keys ``(..., S, d_k)``, values ``(..., S, d_v)``.
* A boolean mask is ``True`` where attention is **allowed** (the convention of
  :func:`torch.nn.functional.scaled_dot_product_attention`).

Every function checks its inputs and says what is wrong, and how to fix it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = [
    "masked_softmax",
    "scaled_dot_product_attention",
    "dot_product_attention",
    "additive_scores",
    "additive_attention",
    "AdditiveAttention",
    "multi_head_attention",
    "causal_mask",
    "padding_mask",
    "MultiHeadAttention",
    "attention_maps",
]


def _check_tensor(name: str, x: object, min_dim: int) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}. "
                        f"Convert it first, e.g. torch.as_tensor({name}).")
    if x.dim() < min_dim:
        raise ValueError(f"{name} must have at least {min_dim} dimensions "
                         f"(..., length, features), got shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}. "
                        f"Use {name}.float().")
    return x


def masked_softmax(scores: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The softmax over the keys (last dimension) of attention ``scores (..., T, S)``.

    A boolean ``mask`` (broadcastable to the scores) is ``True`` where a query may attend:
    the other scores become ``-inf``, so their weights are 0. A float mask is added to
    the scores instead (use ``-inf`` to block).
    """
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}.")
        try:
            torch.broadcast_shapes(mask.shape, scores.shape)
        except RuntimeError:
            raise ValueError(
                f"mask of shape {tuple(mask.shape)} does not broadcast to the scores' "
                f"shape {tuple(scores.shape)} (..., T, S). Build it with "
                f"causal_mask(T) or padding_mask(lengths, S).") from None
        if mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, float("-inf"))
        else:
            scores = scores + mask
    weights = torch.softmax(scores, dim=-1)
    # A row whose every position is masked gives NaN; such a query attends nowhere.
    return torch.nan_to_num(weights, nan=0.0)


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dropout: nn.Module | None = None,
    return_weights: bool = False,
    scale: float | None = None,
):
    r"""Scaled dot-product attention,
    :math:`\mathrm{softmax}(QK^\top/\sqrt{d_k})\,V`.

    Args:
        query: ``(..., T, d_k)``.
        key: ``(..., S, d_k)``.
        value: ``(..., S, d_v)``.
        mask: optional boolean tensor broadcastable to ``(..., T, S)``; ``True``
            marks the positions a query may attend to. A float mask is added to
            the scores instead (use ``-inf`` to block).
        dropout: optional module applied to the attention weights (training).
        return_weights: also return the ``(..., T, S)`` attention weights.
        scale: multiply the scores by this instead of dividing them by
            :math:`\sqrt{d_k}` (as ``torch.nn.functional.scaled_dot_product_attention``).

    Returns:
        The output ``(..., T, d_v)``, and the weights if ``return_weights``.
    """
    query = _check_tensor("query", query, 2)
    key = _check_tensor("key", key, 2)
    value = _check_tensor("value", value, 2)
    d_k = query.size(-1)
    if key.size(-1) != d_k:
        raise ValueError(
            f"query and key must have the same last dimension d_k, got query "
            f"{tuple(query.shape)} and key {tuple(key.shape)}: Q K^T multiplies "
            f"(T x d_k) by (d_k x S).")
    if key.size(-2) != value.size(-2):
        raise ValueError(
            f"key and value must have the same length S (second-to-last dimension), "
            f"got key {tuple(key.shape)} and value {tuple(value.shape)}: the weights "
            f"(T x S) multiply values (S x d_v).")

    scores = query @ key.transpose(-2, -1)  # (..., T, S)
    scores = scores / math.sqrt(d_k) if scale is None else scale * scores
    weights = masked_softmax(scores, mask)
    if dropout is not None:
        weights = dropout(weights)
    output = weights @ value
    return (output, weights) if return_weights else output


def dot_product_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                          mask: torch.Tensor | None = None, *, scale: float | None = 1.0,
                          return_weights: bool = False):
    r"""Dot-product attention :math:`\mathrm{softmax}(s\,QK^\top)\,V` for any scale ``s``.

    ``scale=1.0`` (default) is plain dot-product attention; ``scale=None`` uses
    :math:`s = 1/\sqrt{d_k}`, the scaled attention of the Transformer. Shapes and mask as
    in :func:`scaled_dot_product_attention`, which computes it.
    """
    query = _check_tensor("query", query, 2)
    if scale is None:
        scale = 1.0 / math.sqrt(query.size(-1))
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or scale <= 0:
        raise ValueError(f"scale must be a positive number or None, got {scale!r}.")
    return scaled_dot_product_attention(query, key, value, mask, scale=scale,
                                        return_weights=return_weights)


def _check_positive_ints(**values: object) -> None:
    for name, v in values.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")


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
    scores = additive_scores(query, key, w_query, w_key, w_score)
    _check_tensor("value", value, 2)
    if key.size(-2) != value.size(-2):
        raise ValueError(f"key and value must have the same length S, got key "
                         f"{tuple(key.shape)} and value {tuple(value.shape)}.")
    weights = masked_softmax(scores, mask)
    output = weights @ value
    return (output, weights) if return_weights else output


class AdditiveAttention(nn.Module):
    """Additive attention with learned ``W_q (d_q x d_a)``, ``W_k (d_k x d_a)``, ``w (d_a)``."""

    def __init__(self, d_query: int, d_key: int, d_attention: int):
        super().__init__()
        _check_positive_ints(d_query=d_query, d_key=d_key, d_attention=d_attention)
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
    r"""Multi-head attention with explicit ``(d_model, d_model)`` matrices (no biases):
    what :class:`MultiHeadAttention` computes, every shape named.

    ``x_query (B, T, d_model)``, ``x_key``/``x_value (B, S, d_model)``; the inputs are
    multiplied on the right (``x @ w_q``), so ``w_q[:, i*d_k:(i+1)*d_k]`` is head ``i``'s
    :math:`W_i^Q`. Returns ``(B, T, d_model)``.
    """
    for name, x in (("x_query", x_query), ("x_key", x_key), ("x_value", x_value)):
        _check_tensor(name, x, 3)
        if x.dim() != 3:
            raise ValueError(f"{name} must be (B, length, d_model), got {tuple(x.shape)}.")
    d_model = x_query.size(-1)
    _check_positive_ints(num_heads=num_heads)
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


def causal_mask(size: int, *, device: torch.device | str | None = None) -> torch.Tensor:
    """A ``(size, size)`` boolean mask, ``True`` on and below the diagonal:
    position ``t`` may attend to positions ``0..t`` only (decoder, GPT)."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise ValueError(f"size must be a positive int (the sequence length), got {size!r}.")
    return torch.ones(size, size, dtype=torch.bool, device=device).tril()


def padding_mask(lengths, max_len: int | None = None) -> torch.Tensor:
    """A ``(B, 1, 1, S)`` boolean mask, ``True`` at real tokens and ``False`` at
    padding, for a batch whose sequences have the given ``lengths``.

    The two singleton dimensions let it broadcast over heads and queries.
    """
    lengths = torch.as_tensor(lengths)
    if lengths.dim() != 1 or lengths.is_floating_point():
        raise ValueError(f"lengths must be a 1-D sequence of ints, one per sequence, "
                         f"got {lengths.tolist()!r}.")
    if (lengths < 1).any():
        raise ValueError(f"every length must be at least 1, got {lengths.tolist()}.")
    longest = int(lengths.max())
    max_len = longest if max_len is None else max_len
    if max_len < longest:
        raise ValueError(f"max_len={max_len} is shorter than the longest sequence "
                         f"({longest}).")
    positions = torch.arange(max_len)
    return (positions[None, :] < lengths[:, None])[:, None, None, :]


class MultiHeadAttention(nn.Module):
    r"""Multi-head attention (Vaswani et al., 2017).

    :math:`\mathrm{MultiHead}(Q,K,V) = \mathrm{Concat}(\mathrm{head}_1..\mathrm{head}_h) W^O`,
    :math:`\mathrm{head}_i = \mathrm{Attention}(QW_i^Q, KW_i^K, VW_i^V)`.

    The ``h`` projections ``W_i^Q`` (each ``d_model x d_k``) are stored side by
    side as one ``nn.Linear(d_model, d_model)``; reshaping its output to
    ``(B, h, T, d_k)`` splits the heads.
    """

    def __init__(self, d_model: int, num_heads: int, dropout: float = 0.0, bias: bool = True):
        super().__init__()
        _check_positive_ints(d_model=d_model, num_heads=num_heads)
        if d_model % num_heads:
            raise ValueError(
                f"d_model ({d_model}) must be divisible by num_heads ({num_heads}): each "
                f"head gets d_k = d_model / num_heads features. Try num_heads in "
                f"{[k for k in range(1, d_model + 1) if d_model % k == 0][:8]}.")
        self.d_model, self.num_heads = d_model, num_heads
        self.d_k = d_model // num_heads
        self.w_q = nn.Linear(d_model, d_model, bias=bias)
        self.w_k = nn.Linear(d_model, d_model, bias=bias)
        self.w_v = nn.Linear(d_model, d_model, bias=bias)
        self.w_o = nn.Linear(d_model, d_model, bias=bias)
        self.dropout = nn.Dropout(dropout)
        self.last_weights: torch.Tensor | None = None  # (B, h, T, S), for inspection

    def _split_heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape  # (B, T, d_model) -> (B, h, T, d_k)
        return x.view(batch, length, self.num_heads, self.d_k).transpose(1, 2)

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, mask: torch.Tensor | None = None
                ) -> torch.Tensor:
        """``query (B, T, d_model)``, ``key``/``value (B, S, d_model)`` (default:
        ``query``, i.e. self-attention) -> ``(B, T, d_model)``."""
        key = query if key is None else key
        value = key if value is None else value
        for name, x in (("query", query), ("key", key), ("value", value)):
            _check_tensor(name, x, 3)
            if x.dim() != 3 or x.size(-1) != self.d_model:
                raise ValueError(f"{name} must have shape (batch, length, d_model="
                                 f"{self.d_model}), got {tuple(x.shape)}.")
        if key.shape[:2] != value.shape[:2] or key.size(0) != query.size(0):
            raise ValueError(f"batch sizes and key/value lengths must agree, got query "
                             f"{tuple(query.shape)}, key {tuple(key.shape)}, "
                             f"value {tuple(value.shape)}.")
        q = self._split_heads(self.w_q(query))
        k = self._split_heads(self.w_k(key))
        v = self._split_heads(self.w_v(value))
        out, weights = scaled_dot_product_attention(
            q, k, v, mask, dropout=self.dropout, return_weights=True)
        self.last_weights = weights.detach()
        batch, _, length, _ = out.shape  # (B, h, T, d_k) -> (B, T, d_model)
        out = out.transpose(1, 2).reshape(batch, length, self.d_model)
        return self.w_o(out)

    @torch.no_grad()
    def load_from_torch(self, mha: nn.MultiheadAttention) -> "MultiHeadAttention":
        """Copy the weights of a ``torch.nn.MultiheadAttention`` (same ``d_model``,
        heads, bias) into this module, so the two can be compared."""
        if not isinstance(mha, nn.MultiheadAttention):
            raise TypeError(f"expected torch.nn.MultiheadAttention, got {type(mha).__name__}.")
        if (mha.embed_dim, mha.num_heads) != (self.d_model, self.num_heads):
            raise ValueError(f"shape mismatch: torch module has embed_dim={mha.embed_dim}, "
                             f"num_heads={mha.num_heads}; this one d_model={self.d_model}, "
                             f"num_heads={self.num_heads}.")
        if mha.in_proj_weight is None:
            raise ValueError("kdim/vdim different from embed_dim are not supported.")
        w_q, w_k, w_v = mha.in_proj_weight.chunk(3)
        for lin, w in ((self.w_q, w_q), (self.w_k, w_k), (self.w_v, w_v)):
            lin.weight.copy_(w)
        self.w_o.weight.copy_(mha.out_proj.weight)
        if mha.in_proj_bias is not None and self.w_q.bias is not None:
            b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
            for lin, b in ((self.w_q, b_q), (self.w_k, b_k), (self.w_v, b_v)):
                lin.bias.copy_(b)
            self.w_o.bias.copy_(mha.out_proj.bias)
        return self


@torch.no_grad()
def attention_maps(model, tokenizer, text: str):
    """Run a Hugging Face model on ``text`` and return ``(tokens, weights)``.

    ``weights`` has shape ``(layers, heads, T, T)``. The model must have been
    loaded with ``attn_implementation="eager"``: the default ``sdpa`` kernel of
    transformers 5 computes attention without returning the weights.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"text must be a non-empty string, got {text!r}.")
    inputs = tokenizer(text, return_tensors="pt")
    outputs = model(**inputs, output_attentions=True)
    if not outputs.attentions or outputs.attentions[0] is None:
        raise RuntimeError("the model returned no attention weights: load it with "
                           "attn_implementation='eager' (llmbook.resources loaders do).")
    weights = torch.stack([a[0] for a in outputs.attentions])  # (L, H, T, T)
    tokens = tokenizer.convert_ids_to_tokens(inputs["input_ids"][0])
    return tokens, weights
