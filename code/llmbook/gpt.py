"""A decoder-only GPT in one readable file (section 5.3).

The model is GPT-2's architecture, small enough to train on a CPU:

* token embeddings plus learned position embeddings;
* ``n_layer`` pre-LN blocks: ``x + attn(ln_1(x))`` then ``x + mlp(ln_2(x))``, where the
  attention is causal multi-head self-attention and the MLP is ``Linear -> GELU -> Linear``
  with a 4x wider hidden layer;
* a final LayerNorm and an output projection that shares its weight with the token embedding
  (**weight tying**).

Parameter names follow GPT-2's (``c_attn``, ``c_proj``, ``c_fc``, ``ln_1``...), so the weights
of a ``transformers`` ``GPT2LMHeadModel`` load into :class:`GPT` with :func:`from_hf_gpt2`:
the only difference is that GPT-2 stores its linear layers as ``Conv1D`` with the weight as
``(in, out)``, where :class:`torch.nn.Linear` keeps ``(out, in)``, so those are transposed.

For generation (section 3.6) a :class:`KVCache` keeps every layer's keys and values, so
:meth:`GPT.forward_with_cache` feeds only the new tokens; it also takes an ``attention_mask``
for left-padded batches. The plain :meth:`GPT.forward` is unchanged by either.

The hyper-parameters are a :class:`GPTConfig` (defined in :mod:`llmbook.gpt_config`). Its
options of section 5.7 (RMSNorm, rotary embeddings, ReLU² or SwiGLU, QK-norm, grouped-query
attention, zero-initialised projections, soft-capped logits) swap parts of the model for those
of :mod:`llmbook.modern`; their defaults build GPT-2. The character data and the training
script live in :mod:`llmbook.chardata` and :mod:`llmbook.train_gpt`.
"""

from __future__ import annotations

import json
import math
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from .gpt_config import GPTConfig
from .modern import Attention, SoftCapLinear, make_norm, relu_squared, upgrade_block

__all__ = ["GPTConfig", "CausalSelfAttention", "MLP", "Block", "KVCache", "cached_attention",
           "GPT", "from_hf_gpt2", "load_gpt2_state_dict", "save_gpt", "load_gpt"]


class CausalSelfAttention(nn.Module):
    """Multi-head self-attention where position ``t`` sees positions ``0..t`` only.

    One linear layer ``c_attn`` makes queries, keys and values at once (``3 * n_embd``
    outputs), ``c_proj`` mixes the heads' outputs back into the residual stream.
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.c_attn = nn.Linear(config.n_embd, 3 * config.n_embd, bias=config.bias)
        self.c_proj = nn.Linear(config.n_embd, config.n_embd, bias=config.bias)
        self.dropout = config.dropout
        self.causal = config.causal
        self.resid_dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        # (B, T, C) -> (B, n_head, T, head_dim): every head attends on its own slice
        q, k, v = (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2)
                   for t in (q, k, v))
        # softmax(q k^T / sqrt(head_dim) + causal mask) v, with PyTorch's fused kernel
        y = F.scaled_dot_product_attention(
            q, k, v, is_causal=self.causal, dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).contiguous().view(B, T, C)   # concatenate the heads
        return self.resid_dropout(self.c_proj(y))


class MLP(nn.Module):
    """The position-wise feed-forward network: ``n_embd -> 4 n_embd -> GELU -> n_embd``
    (``mlp="relu2"``: ReLU² instead of GELU; ``mlp_hidden``: another hidden width)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.c_fc = nn.Linear(config.n_embd, config.hidden_size, bias=config.bias)
        self.approximate = "tanh" if config.activation == "gelu_tanh" else "none"
        self.relu2 = config.mlp == "relu2"
        self.c_proj = nn.Linear(config.hidden_size, config.n_embd, bias=config.bias)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = relu_squared(self.c_fc(x)) if self.relu2 else \
            F.gelu(self.c_fc(x), approximate=self.approximate)
        return self.dropout(self.c_proj(x))


class Block(nn.Module):
    """One pre-LN Transformer block: LayerNorm *before* each sub-layer, residual around it."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = CausalSelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.n_embd, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        x = x + self.mlp(self.ln_2(x))
        return x


class KVCache:
    """The keys and values of every layer for the tokens seen so far: a **KV cache**.

    ``keys[i]`` and ``values[i]`` are layer ``i``'s, each ``(B, n_head, length, head_dim)``.
    A new token's query attends to all of them, so generation feeds only the new token
    instead of recomputing the whole prefix; :meth:`nbytes` is what that costs in memory,
    ``2 x n_layer x B x n_head x head_dim x length x bytes per element``.
    """

    def __init__(self) -> None:
        self.keys: list[torch.Tensor] = []
        self.values: list[torch.Tensor] = []

    @property
    def length(self) -> int:
        """How many positions are cached (0 when empty)."""
        return self.keys[0].size(2) if self.keys else 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """Add the new positions' ``k, v`` of ``layer``; return all of that layer's."""
        if layer == len(self.keys):
            self.keys.append(k)
            self.values.append(v)
        else:
            self.keys[layer] = torch.cat([self.keys[layer], k], dim=2)
            self.values[layer] = torch.cat([self.values[layer], v], dim=2)
        return self.keys[layer], self.values[layer]

    def select(self, rows: torch.Tensor) -> "KVCache":
        """Keep (and reorder) the batch rows ``rows``, e.g. the surviving beams."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]
        return self

    def nbytes(self) -> int:
        """Bytes held by the cached tensors."""
        return sum(t.numel() * t.element_size() for t in (*self.keys, *self.values))


def cached_attention(attn: CausalSelfAttention, x: torch.Tensor, cache: KVCache | None,
                     layer: int, mask: torch.Tensor | None) -> torch.Tensor:
    """:class:`CausalSelfAttention` for new positions ``x (B, T, C)`` that also attend to
    the cached ones: the new keys and values are appended to ``cache`` first. ``mask``
    (boolean, True = may attend, broadcast to ``(B, n_head, T, length)``) or ``None``
    (every new query sees every key: right for one new token)."""
    B, T, C = x.shape
    q, k, v = attn.c_attn(x).split(C, dim=2)
    q, k, v = (t.view(B, T, attn.n_head, C // attn.n_head).transpose(1, 2) for t in (q, k, v))
    if cache is not None:
        k, v = cache.append(layer, k, v)            # (B, n_head, past + T, head_dim)
    y = F.scaled_dot_product_attention(
        q, k, v, attn_mask=mask, dropout_p=attn.dropout if attn.training else 0.0)
    y = y.transpose(1, 2).contiguous().view(B, T, C)
    return attn.resid_dropout(attn.c_proj(y))


class GPT(nn.Module):
    """A decoder-only language model: ids ``(B, T)`` -> next-token logits ``(B, T, vocab)``.

    >>> model = GPT(GPTConfig(vocab_size=10, block_size=8, n_layer=1, n_head=2, n_embd=16))
    >>> model(torch.zeros(2, 5, dtype=torch.long)).shape
    torch.Size([2, 5, 10])
    """

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {type(config).__name__}.")
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.n_embd)   # token embeddings
        self.wpe = nn.Embedding(config.block_size, config.n_embd) \
            if config.position == "learned" else None               # position embeddings
        self.drop = nn.Dropout(config.dropout)
        # GPT-2 blocks, with the parts the 5.7 options ask for swapped in
        self.h = nn.ModuleList(upgrade_block(Block(config), config)
                               for _ in range(config.n_layer))
        self.ln_f = make_norm(config)
        self.lm_head = nn.Linear(config.n_embd, config.vocab_size, bias=False) \
            if config.logit_softcap is None else \
            SoftCapLinear(config.n_embd, config.vocab_size, config.logit_softcap)
        if config.tie_embeddings:
            self.lm_head.weight = self.wte.weight   # weight tying: one matrix, two uses
        self.apply(self._init_weights)
        # GPT-2: scale the init of the layers that write into the residual stream by
        # 1/sqrt(2 n_layer), so the stream's variance does not grow with depth
        for name, p in self.named_parameters():
            if name.endswith("c_proj.weight"):
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))
                if config.zero_init_proj:           # 5.7: every block starts as the identity
                    nn.init.zeros_(p)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_parameters(self) -> int:
        """Number of distinct parameters (a tied embedding counted once)."""
        return sum(p.numel() for p in self.parameters())

    def _check_ids(self, idx: object) -> torch.Tensor:
        if not isinstance(idx, torch.Tensor):
            raise TypeError(f"idx must be a torch.LongTensor of token ids of shape (B, T), "
                            f"got {type(idx).__name__}.")
        if idx.dtype != torch.long:
            raise TypeError(f"idx must hold integer ids (dtype torch.long), got {idx.dtype}; "
                            f"use ids.long().")
        if idx.dim() != 2:
            raise ValueError(f"idx must have shape (batch, time), got {tuple(idx.shape)}; "
                             f"add a batch dimension with idx[None] (or idx.unsqueeze(0)).")
        if idx.size(1) == 0:
            raise ValueError("idx is empty along time: give at least one token.")
        if idx.size(1) > self.config.block_size:
            raise ValueError(f"sequence length {idx.size(1)} exceeds block_size "
                             f"{self.config.block_size}; crop to the last block_size tokens.")
        if idx.numel() and (idx.min() < 0 or idx.max() >= self.config.vocab_size):
            raise ValueError(f"token ids must lie in 0..{self.config.vocab_size - 1}, got "
                             f"min {int(idx.min())}, max {int(idx.max())}.")
        return idx

    def hidden_states(self, idx: torch.Tensor) -> torch.Tensor:
        """The final (layer-normed) hidden states ``(B, T, n_embd)``, before the output layer."""
        idx = self._check_ids(idx)
        x = self.wte(idx)
        if self.wpe is not None:                    # rotary embeddings act in attention
            x = x + self.wpe(torch.arange(idx.size(1), device=idx.device))
        x = self.drop(x)
        for block in self.h:
            x = block(x)
        return self.ln_f(x)

    def forward(self, idx: torch.Tensor, targets: torch.Tensor | None = None
                ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, T, vocab)``; with ``targets (B, T)`` also the mean cross-entropy
        in nats: ``(logits, loss)``."""
        logits = self.lm_head(self.hidden_states(idx))
        if targets is None:
            return logits
        if not isinstance(targets, torch.Tensor) or targets.shape != idx.shape:
            raise ValueError(f"targets must be a LongTensor with the shape of idx "
                             f"{tuple(idx.shape)}, got "
                             f"{tuple(targets.shape) if isinstance(targets, torch.Tensor) else type(targets).__name__}.")
        # ignore_index=-100: positions without a target (used by the denoising objectives)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), targets.reshape(-1),
                               ignore_index=-100)
        return logits, loss

    def forward_with_cache(self, idx: torch.Tensor, cache: KVCache | None = None, *,
                           attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``(B, T, vocab)`` of the new tokens ``idx``, after those in ``cache``.

        ``cache`` (a :class:`KVCache`, filled as it goes) holds the keys and values of the
        tokens before ``idx``; ``None`` means there are none. ``attention_mask (B, past + T)``
        marks real tokens 1 and left padding 0: padded keys are never attended to, and
        positions count real tokens only, so a padded row computes what it would alone.
        """
        idx = self._check_ids(idx)
        if not self.config.causal:
            raise ValueError("a KV cache needs a causal model (GPTConfig(causal=True)).")
        if cache is not None and not isinstance(cache, KVCache):
            raise TypeError(f"cache must be a KVCache or None, got {type(cache).__name__}.")
        B, T = idx.shape
        past = cache.length if cache is not None else 0
        total = past + T
        if total > self.config.block_size:
            raise ValueError(f"{past} cached + {T} new tokens exceed block_size "
                             f"{self.config.block_size}: the position embeddings stop there. "
                             f"Generate fewer tokens, or without a cache (which crops).")
        if cache is not None and cache.keys and cache.keys[0].size(0) != B:
            raise ValueError(f"the cache holds {cache.keys[0].size(0)} rows, idx {B}.")
        rows = torch.arange(past, total, device=idx.device)[:, None]
        mask = torch.arange(total, device=idx.device)[None, :] <= rows      # causal (T, total)
        if attention_mask is None:
            pos = torch.arange(past, total, device=idx.device)
            mask = None if T == 1 else mask
        else:
            if not isinstance(attention_mask, torch.Tensor) or \
                    tuple(attention_mask.shape) != (B, total):
                raise ValueError(f"attention_mask must be a tensor of shape (B, cached + new) "
                                 f"= {(B, total)}, got "
                                 f"{getattr(attention_mask, 'shape', type(attention_mask))}.")
            real = attention_mask.bool()
            pos = (real.long().cumsum(-1) - 1).clamp(min=0)[:, past:]        # (B, T)
            # a padded query sees itself only, so no row of the softmax is empty (NaN)
            own = torch.arange(total, device=idx.device)[None, :] == rows
            mask = ((mask & real[:, None, :]) | own)[:, None]                # (B, 1, T, total)
        x = self.drop(self.wte(idx) + self.wpe(pos) if self.wpe is not None else self.wte(idx))
        for i, block in enumerate(self.h):
            if isinstance(block.attn, Attention):   # RoPE needs the positions
                x = x + block.attn(block.ln_1(x), pos, cache, i, mask)
            else:
                x = x + cached_attention(block.attn, block.ln_1(x), cache, i, mask)
            x = x + block.mlp(block.ln_2(x))
        return self.lm_head(self.ln_f(x))

    @torch.no_grad()
    def generate(self, idx: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
                 top_k: int | None = None, seed: int | None = None,
                 use_cache: bool = False) -> torch.Tensor:
        """Sample ``max_new_tokens`` tokens after ``idx (B, T)``; returns ``(B, T + new)``.

        ``temperature`` divides the logits (``0`` means greedy: always the most likely token),
        ``top_k`` keeps only the ``k`` most likely tokens, ``seed`` makes the sampling
        reproducible without touching the global generator. The context is cropped to the
        last ``block_size`` tokens; with ``use_cache=True`` a :class:`KVCache` feeds only the
        new token each step (same tokens, far less work), and the prompt plus
        ``max_new_tokens`` must fit in ``block_size``.
        """
        idx = self._check_ids(idx[:, -self.config.block_size:]
                              if isinstance(idx, torch.Tensor) and idx.dim() == 2 else idx)
        if isinstance(max_new_tokens, bool) or not isinstance(max_new_tokens, int) \
                or max_new_tokens < 0:
            raise ValueError(f"max_new_tokens must be an int >= 0, got {max_new_tokens!r}.")
        if not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}.")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int)
                                  or top_k < 1):
            raise ValueError(f"top_k must be None or an int >= 1, got {top_k!r}.")
        cache = KVCache() if use_cache else None
        if use_cache and idx.size(1) + max_new_tokens > self.config.block_size:
            raise ValueError(f"with use_cache=True the prompt ({idx.size(1)}) plus max_new_tokens "
                             f"({max_new_tokens}) must fit in block_size "
                             f"({self.config.block_size}); use use_cache=False, which crops.")
        gen = None
        if seed is not None:
            gen = torch.Generator(device=idx.device).manual_seed(int(seed))
        was_training = self.training
        self.eval()
        out = idx
        for step in range(max_new_tokens):
            if cache is None:
                logits = self(out[:, -self.config.block_size:])[:, -1, :].float()
            else:               # the whole prompt once, then only the newest token
                logits = self.forward_with_cache(out if step == 0 else out[:, -1:],
                                                 cache)[:, -1, :].float()
            if temperature == 0:
                nxt = logits.argmax(dim=-1, keepdim=True)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, [-1]]
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = torch.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, 1, generator=gen)
            out = torch.cat([out, nxt], dim=1)
        self.train(was_training)
        return out


# --------------------------------------------------------------------------------------------
# GPT-2 weights from transformers
# --------------------------------------------------------------------------------------------

_CONV1D = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")


def load_gpt2_state_dict(model: GPT, state_dict: Mapping[str, torch.Tensor]) -> GPT:
    """Copy a GPT-2 state dict (``transformers`` names, with or without the
    ``transformer.`` prefix) into ``model``; Conv1D weights ``(in, out)`` are transposed to
    ``nn.Linear``'s ``(out, in)``. Raises ValueError on missing keys or wrong shapes."""
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a llmbook.gpt.GPT, got {type(model).__name__}.")
    if not model.config.is_gpt2:
        raise ValueError("GPT-2 weights need GPT-2's architecture: leave the GPTConfig "
                         "options of section 5.7 (norm, position, mlp...) at their defaults.")
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping name -> tensor, got "
                        f"{type(state_dict).__name__}.")
    source = {k.removeprefix("transformer."): v for k, v in state_dict.items()
              if not k.endswith((".attn.bias", ".attn.masked_bias"))}   # old causal buffers
    source.pop("lm_head.weight", None)            # tied to wte: nothing separate to load
    target = model.state_dict()
    target.pop("lm_head.weight")
    missing = sorted(set(target) - set(source))
    if missing:
        raise ValueError(f"the GPT-2 state dict lacks {len(missing)} weights, e.g. "
                         f"{missing[:3]}; does the GPTConfig (n_layer, bias) match?")
    new = {}
    for name, tensor in target.items():
        value = source[name]
        if name.endswith(_CONV1D):
            value = value.t()
        if tuple(value.shape) != tuple(tensor.shape):
            raise ValueError(f"{name}: GPT-2 has shape {tuple(value.shape)}, the book's model "
                             f"{tuple(tensor.shape)}; build GPTConfig from the GPT-2 config.")
        new[name] = value
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name in new:
                p.copy_(new[name])
    return model


def from_hf_gpt2(hf_model: Any) -> GPT:
    """The book's :class:`GPT` with the weights of a ``transformers`` ``GPT2LMHeadModel``.

    Works with any GPT-2 size (``gpt2``, ``gpt2-medium``...) or a random ``GPT2Config``;
    the returned model is in eval mode and gives the same logits as ``hf_model``.
    """
    config = getattr(hf_model, "config", None)
    if config is None or getattr(config, "model_type", None) != "gpt2":
        raise TypeError(f"hf_model must be a transformers GPT2LMHeadModel, got "
                        f"{type(hf_model).__name__}.")
    act = {"gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
    if config.activation_function not in act:
        raise ValueError(f"unsupported activation {config.activation_function!r}.")
    if getattr(config, "scale_attn_by_inverse_layer_idx", False) or \
            not getattr(config, "scale_attn_weights", True):
        raise ValueError("only standard GPT-2 attention scaling (1/sqrt(head_dim)) is "
                         "supported.")
    ours = GPT(GPTConfig(vocab_size=config.vocab_size, block_size=config.n_positions,
                         n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
                         dropout=0.0, bias=True, layer_norm_eps=config.layer_norm_epsilon,
                         activation=act[config.activation_function]))
    load_gpt2_state_dict(ours, hf_model.state_dict())
    return ours.eval()


# --------------------------------------------------------------------------------------------
# Saving and loading with safetensors (never pickle)
# --------------------------------------------------------------------------------------------

def save_gpt(model: GPT, path: str | Path, metadata: Mapping[str, str] | None = None) -> Path:
    """Write ``model``'s weights and config to a ``.safetensors`` file.

    The config is stored as JSON in the file's metadata (key ``"gpt_config"``), with any
    extra string ``metadata`` (e.g. the vocabulary).
    """
    from safetensors.torch import save_file

    if not isinstance(model, GPT):
        raise TypeError(f"model must be a llmbook.gpt.GPT, got {type(model).__name__}.")
    path = Path(path)
    if path.suffix != ".safetensors":
        raise ValueError(f"path must end in .safetensors, got {path.name!r}.")
    meta = {"gpt_config": json.dumps(model.config.to_dict())}
    for key, value in (metadata or {}).items():
        if not isinstance(value, str):
            raise TypeError(f"metadata values must be str, got {type(value).__name__} "
                            f"for {key!r}; json.dumps it first.")
        meta[key] = value
    tied = model.config.tie_embeddings              # tied: stored once, as wte.weight
    tensors = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()
               if not (tied and k == "lm_head.weight")}
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(path), metadata=meta)
    return path


def load_gpt(path: str | Path) -> tuple[GPT, dict[str, str]]:
    """Read a model written by :func:`save_gpt`: ``(model in eval mode, metadata)``."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {path}; train one with "
                                f"`python -m llmbook.train_gpt --out {path}`.")
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
    if "gpt_config" not in meta:
        raise ValueError(f"{path} has no 'gpt_config' metadata: was it written by save_gpt?")
    raw = json.loads(meta["gpt_config"])
    known = {f.name for f in fields(GPTConfig)}
    model = GPT(GPTConfig(**{k: v for k, v in raw.items() if k in known}))
    state = load_file(str(path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or set(missing) - ({"lm_head.weight"} if model.config.tie_embeddings else set()):
        raise ValueError(f"{path} does not match its config: missing {missing}, "
                         f"unexpected {unexpected}.")
    return model.eval(), meta
