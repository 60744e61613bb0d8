"""Attention, as the book teaches it (Section 2.3, Chapter 4).

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
    "scaled_dot_product_attention",
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


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    dropout: nn.Module | None = None,
    return_weights: bool = False,
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

    scores = query @ key.transpose(-2, -1) / math.sqrt(d_k)  # (..., T, S)
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
    weights = torch.nan_to_num(weights, nan=0.0)
    if dropout is not None:
        weights = dropout(weights)
    output = weights @ value
    return (output, weights) if return_weights else output


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
        for name, v in (("d_model", d_model), ("num_heads", num_heads)):
            if not isinstance(v, int) or isinstance(v, bool) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
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
