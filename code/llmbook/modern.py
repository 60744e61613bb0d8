r"""The components of a modern GPT (section 5.7), each an option of :class:`~llmbook.gpt.GPT`.

GPT-2 (2019) is the model of section 5.3. The language models since then keep its shape --
embeddings, pre-norm blocks of attention and MLP, a final norm, a linear output layer -- and
change a few parts. Each part here is switched on by a field of
:class:`~llmbook.gpt_config.GPTConfig`, and checked in ``tests/test_modern.py`` against a
reference implementation (PyTorch's or Hugging Face Llama's):

* :class:`RMSNorm` (``norm="rmsnorm"``) -- LayerNorm without the mean and the bias
  (Zhang & Sennrich 2019);
* :func:`rope_cache` and :func:`apply_rope` (``position="rope"``) -- rotary position
  embeddings: no position vectors are added, queries and keys are *rotated* by an angle
  proportional to their position (Su et al. 2021, RoFormer);
* :func:`relu_squared` (``mlp="relu2"``, So et al. 2021, Primer) and :class:`SwiGLU`
  (``mlp="swiglu"``, Shazeer 2020) -- other MLP non-linearities;
* :class:`Attention` -- the causal self-attention of section 5.3 with three options:
  grouped-query attention (``n_kv_head``, Ainslie et al. 2023, with :func:`repeat_kv`),
  rotary embeddings, and QK-norm (``qk_norm``: RMSNorm on each head's queries and keys,
  after Henry et al. 2020 and Dehghani et al. 2023);
* :class:`SoftCapLinear` (``logit_softcap``) -- an output layer whose logits are bounded by
  ``c tanh(z / c)`` (Gemma 2, 2024; the modded-nanogpt speedrun).

:func:`upgrade_block` swaps a GPT-2 block's parts for the ones a config asks for. The Muon
optimizer is in :mod:`llmbook.muon`, the weights of a Hugging Face Llama in
:mod:`llmbook.llama`.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gpt_config import GPTConfig

__all__ = ["RMSNorm", "make_norm", "rope_cache", "rotate_half", "apply_rope", "relu_squared",
           "SwiGLU", "repeat_kv", "Attention", "SoftCapLinear", "upgrade_block"]


# --------------------------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------------------------

class RMSNorm(nn.Module):
    r"""Root-mean-square normalisation (Zhang & Sennrich 2019):

    .. math:: \mathrm{RMSNorm}(x) = \frac{x}{\sqrt{\tfrac1d \sum_i x_i^2 + \varepsilon}}
              \odot g

    LayerNorm also subtracts the mean and adds a bias; RMSNorm only rescales, with one
    learned gain ``g`` (``weight``, ones at the start) per dimension: ``d`` parameters
    instead of ``2d``, and one reduction instead of two. Computed in float32 and cast back,
    as Llama does, so it equals ``transformers``' ``LlamaRMSNorm`` and ``torch.nn.RMSNorm``.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
            raise ValueError(f"dim must be an int >= 1, got {dim!r}.")
        if not isinstance(eps, (int, float)) or eps <= 0:
            raise ValueError(f"eps must be a positive number, got {eps!r}.")
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * y.to(x.dtype)

    def extra_repr(self) -> str:
        return f"{self.weight.numel()}, eps={self.eps}"


def make_norm(config: GPTConfig, dim: int | None = None) -> nn.Module:
    """The norm ``config.norm`` names, over ``dim`` (default ``n_embd``) features:
    :class:`torch.nn.LayerNorm` (with a bias if ``config.bias``) or :class:`RMSNorm`."""
    dim = config.n_embd if dim is None else dim
    if config.norm == "rmsnorm":
        return RMSNorm(dim, eps=config.layer_norm_eps)
    return nn.LayerNorm(dim, eps=config.layer_norm_eps, bias=config.bias)


# --------------------------------------------------------------------------------------------
# Rotary position embeddings
# --------------------------------------------------------------------------------------------

def rope_cache(length: int, head_dim: int, base: float = 10000.0,
               device: torch.device | str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""The cosines and sines of rotary embeddings for positions ``0..length-1``: two
    ``(length, head_dim)`` tensors.

    Dimension pair ``i`` (of ``head_dim / 2``) turns at frequency
    :math:`\theta_i = \text{base}^{-2i/d}`, so position ``m`` rotates it by :math:`m\theta_i`.
    The layout is "rotate half" (GPT-NeoX, Llama, ``transformers``): pair ``i`` is made of
    dimensions ``i`` and ``i + head_dim/2``, so the angles are repeated twice along the last
    axis, ``[m theta_0 .. m theta_{d/2-1}, m theta_0 .. m theta_{d/2-1}]``.
    """
    for name, value in (("length", length), ("head_dim", head_dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    if head_dim % 2:
        raise ValueError(f"head_dim must be even (dimensions rotate in pairs), got {head_dim}.")
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float,
                                            device=device) / head_dim))
    angles = torch.arange(length, device=device).float()[:, None] * inv_freq   # (length, d/2)
    angles = torch.cat([angles, angles], dim=-1)                             # (length, d)
    return angles.cos(), angles.sin()


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x1, x2] -> [-x2, x1]`` on the last axis: each pair ``(x1_i, x2_i)`` turned by 90
    degrees."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    r"""Rotate queries or keys ``x (B, heads, T, head_dim)`` by their positions' angles:

    .. math:: x' = x \odot \cos(m\theta) + \mathrm{rotate\_half}(x) \odot \sin(m\theta)

    -- a 2-D rotation of every pair. ``cos, sin`` are rows of :func:`rope_cache` for the
    positions of ``x``: ``(T, head_dim)``, or ``(B, T, head_dim)`` when each row of the batch
    has its own positions (left padding). Since a rotation by ``m`` then the inverse of ``n``
    is a rotation by ``m - n``, the score :math:`q_m \cdot k_n` depends only on the offset.
    """
    if cos.dim() == 3:                      # (B, T, d) -> (B, 1, T, d): same for every head
        cos, sin = cos[:, None], sin[:, None]
    return x * cos + rotate_half(x) * sin


# --------------------------------------------------------------------------------------------
# MLPs
# --------------------------------------------------------------------------------------------

def relu_squared(x: torch.Tensor) -> torch.Tensor:
    r""":math:`\mathrm{ReLU}(x)^2` -- Primer's activation (So et al. 2021), found by a search
    over Transformer variants and used by the modded-nanogpt speedrun: as cheap as ReLU,
    smooth at 0 (derivative ``2 max(x, 0)``), and it trains faster than GELU."""
    return F.relu(x).square()


class SwiGLU(nn.Module):
    r"""A gated MLP (Shazeer 2020, *GLU Variants Improve Transformer*), as in Llama:

    .. math:: \mathrm{SwiGLU}(x) = W_\text{proj}\,\big(\mathrm{SiLU}(W_\text{gate}x)
              \odot W_\text{fc}\,x\big), \qquad \mathrm{SiLU}(z) = z\,\sigma(z)

    Three matrices instead of two: ``c_gate`` and ``c_fc`` (``n_embd -> hidden``) and
    ``c_proj`` (``hidden -> n_embd``); one branch decides, per hidden unit, how much of the
    other passes. With ``hidden = 8 n_embd / 3`` (the default) the weights number
    ``3 * n_embd * hidden``, as many as a GELU MLP's ``2 * n_embd * 4 n_embd``.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        hidden = config.hidden_size
        self.c_gate = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_fc = nn.Linear(config.n_embd, hidden, bias=config.bias)
        self.c_proj = nn.Linear(hidden, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.c_proj(F.silu(self.c_gate(x)) * self.c_fc(x)))


# --------------------------------------------------------------------------------------------
# Attention with GQA, RoPE and QK-norm
# --------------------------------------------------------------------------------------------

def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """Repeat each key/value head ``n_rep`` times: ``(B, n_kv_head, T, d) -> (B, n_kv_head *
    n_rep, T, d)``, so query heads ``j * n_rep .. (j+1) * n_rep - 1`` share key/value head
    ``j`` (grouped-query attention; the same order as ``transformers``' ``repeat_kv``)."""
    if n_rep == 1:
        return x
    B, H, T, D = x.shape
    return x[:, :, None].expand(B, H, n_rep, T, D).reshape(B, H * n_rep, T, D)


class Attention(nn.Module):
    r"""The causal self-attention of :class:`llmbook.gpt.CausalSelfAttention`, with the
    options of section 5.7 (the same names: ``c_attn`` makes queries, keys and values,
    ``c_proj`` mixes the heads):

    * **grouped-query attention** (``n_kv_head``; Ainslie et al. 2023): only
      ``n_kv_head`` key and value heads, each shared by ``n_head / n_kv_head`` query heads.
      ``c_attn`` then has ``(n_head + 2 n_kv_head) * head_dim`` outputs instead of
      ``3 n_embd``, and a KV cache (:class:`llmbook.gpt.KVCache`) holds ``n_kv_head /
      n_head`` of the keys and values. ``n_kv_head = 1`` is multi-query attention
      (Shazeer 2019);
    * **rotary embeddings** (``position="rope"``; Su et al. 2021): queries and keys are
      rotated by :func:`apply_rope` before the dot product;
    * **QK-norm** (``qk_norm``): an :class:`RMSNorm` over each head's query and key
      (``head_dim`` gains each, shared by the heads), before the rotation, so the logits
      :math:`q \cdot k / \sqrt{d}` no longer grow with the scale of the query and key
      projections -- a fix for attention-logit growth in large models (Dehghani et al.
      2023, who use LayerNorm; Henry et al. 2020 L2-normalise with a learned scale; OLMo 2,
      Qwen3 and the speedrun use RMSNorm).

    With none of the options it computes exactly what ``CausalSelfAttention`` does.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head, self.n_kv_head, self.head_dim = config.n_head, config.kv_heads, \
            config.head_dim
        kv_dim = self.n_kv_head * self.head_dim
        self.split = (config.n_embd, kv_dim, kv_dim)
        self.c_attn = nn.Linear(config.n_embd, sum(self.split), bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.causal = config.causal
        self.resid_dropout = nn.Dropout(config.dropout)
        self.q_norm = RMSNorm(self.head_dim, config.layer_norm_eps) if config.qk_norm else None
        self.k_norm = RMSNorm(self.head_dim, config.layer_norm_eps) if config.qk_norm else None
        self.rope = config.position == "rope"
        if self.rope:               # buffers, not parameters: not trained, not saved
            cos, sin = rope_cache(config.block_size, self.head_dim, config.rope_theta)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, x: torch.Tensor, pos: torch.Tensor | None = None, cache=None,
                layer: int = 0, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``x (B, T, C)`` -> ``(B, T, C)``. Called as ``attn(x)`` it is a whole sequence
        from position 0 (causal if ``config.causal``). :meth:`llmbook.gpt.GPT.forward_with_cache`
        also passes the new tokens' positions ``pos`` (``(T,)`` or ``(B, T)``), the
        :class:`~llmbook.gpt.KVCache` and ``layer`` to append to, and the boolean ``mask``
        (or ``None``: every new query sees every key), as for
        :func:`llmbook.gpt.cached_attention`."""
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(self.split, dim=2)
        q = q.view(B, T, self.n_head, self.head_dim).transpose(1, 2)     # (B, n_head, T, d)
        k = k.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)  # (B, n_kv_head, T, d)
        v = v.view(B, T, self.n_kv_head, self.head_dim).transpose(1, 2)
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope:
            where = torch.arange(T, device=x.device) if pos is None else pos
            cos, sin = self.rope_cos[where], self.rope_sin[where]
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.append(layer, k, v)            # cached with n_kv_head heads
        k = repeat_kv(k, self.n_head // self.n_kv_head)
        v = repeat_kv(v, self.n_head // self.n_kv_head)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=self.causal and pos is None,
            dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.resid_dropout(self.c_proj(y))


# --------------------------------------------------------------------------------------------
# Output layer with soft-capped logits, and the swap of a block's parts
# --------------------------------------------------------------------------------------------

class SoftCapLinear(nn.Linear):
    r"""A linear output layer whose logits are soft-capped:
    :math:`z \mapsto c \tanh(z / c)`.

    Nearly the identity for :math:`|z| \ll c`, and never beyond :math:`\pm c`: the model
    cannot make itself over-confident by growing its logits (Gemma 2 caps its final logits
    at 30; the modded-nanogpt speedrun and Karpathy's nanochat use 15 to 30). ``weight``
    can still be tied to the token embedding."""

    def __init__(self, in_features: int, out_features: int, cap: float,
                 bias: bool = False) -> None:
        super().__init__(in_features, out_features, bias=bias)
        if isinstance(cap, bool) or not isinstance(cap, (int, float)) or cap <= 0:
            raise ValueError(f"cap must be a positive number, got {cap!r}.")
        self.cap = float(cap)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cap * torch.tanh(super().forward(x) / self.cap)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, cap={self.cap}"


def upgrade_block(block: nn.Module, config: GPTConfig) -> nn.Module:
    """Swap the parts of a GPT-2 :class:`~llmbook.gpt.Block` (``ln_1``, ``attn``, ``ln_2``,
    ``mlp``) for the ones ``config`` asks for; with GPT-2's defaults nothing changes. The
    block's ``forward`` -- ``x + attn(ln_1(x))``, then ``x + mlp(ln_2(x))`` -- is the same
    for every option."""
    if config.norm != "layernorm":
        block.ln_1, block.ln_2 = make_norm(config), make_norm(config)
    if config.position != "learned" or config.qk_norm or config.kv_heads != config.n_head:
        block.attn = Attention(config)
    if config.mlp == "swiglu":
        block.mlp = SwiGLU(config)
    return block
