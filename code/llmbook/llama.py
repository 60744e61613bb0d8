"""A Llama model is the book's GPT with the options of section 5.7: :func:`from_hf_llama`.

Llama (Touvron et al. 2023) and most open models since (Mistral, Qwen, SmolLM...) are GPT-2
with RMSNorm, rotary embeddings, a SwiGLU MLP, no biases, and -- from Llama 2 70B on --
grouped-query attention. So a ``transformers`` ``LlamaForCausalLM`` is a
:class:`~llmbook.gpt.GPT` with ``norm="rmsnorm"``, ``position="rope"``, ``mlp="swiglu"``,
``bias=False`` and ``n_kv_head`` set, and its weights copy over one matrix at a time:

=================================================  =============================================
``transformers`` (``model.`` prefix)                the book's GPT
=================================================  =============================================
``embed_tokens.weight``                            ``wte.weight``
``layers.i.input_layernorm.weight``                ``h.i.ln_1.weight``
``layers.i.self_attn.{q,k,v}_proj.weight``         ``h.i.attn.c_attn.weight`` (stacked: q, k, v)
``layers.i.self_attn.o_proj.weight``               ``h.i.attn.c_proj.weight``
``layers.i.post_attention_layernorm.weight``       ``h.i.ln_2.weight``
``layers.i.mlp.{gate,up,down}_proj.weight``        ``h.i.mlp.{c_gate,c_fc,c_proj}.weight``
``norm.weight``                                    ``ln_f.weight``
``lm_head.weight``                                 ``lm_head.weight`` (unless tied)
=================================================  =============================================

Both are ``nn.Linear`` layers, ``(out, in)``: nothing is transposed (GPT-2's ``Conv1D`` was).
"""

from __future__ import annotations

from typing import Any

import torch

from .gpt import GPT
from .gpt_config import GPTConfig

__all__ = ["llama_config", "llama_state_dict", "from_hf_llama"]


def llama_config(hf_config: Any) -> GPTConfig:
    """The :class:`GPTConfig` of a ``transformers`` ``LlamaConfig``; ValueError for the
    variants the book's model does not have (another activation, scaled RoPE, a head size
    other than ``hidden_size / num_attention_heads``, biases in only some layers)."""
    if getattr(hf_config, "model_type", None) != "llama":
        raise TypeError(f"expected a transformers LlamaConfig, got "
                        f"{type(hf_config).__name__}.")
    if hf_config.hidden_act != "silu":
        raise ValueError(f"only SwiGLU (hidden_act='silu') is supported, got "
                         f"{hf_config.hidden_act!r}.")
    rope = getattr(hf_config, "rope_parameters", None) or {}
    if rope.get("rope_type", "default") != "default":
        raise ValueError(f"only plain RoPE is supported, got rope_type "
                         f"{rope.get('rope_type')!r} (scaled variants change the frequencies).")
    head_dim = getattr(hf_config, "head_dim", None)
    if head_dim is not None and head_dim * hf_config.num_attention_heads != \
            hf_config.hidden_size:
        raise ValueError(f"head_dim {head_dim} x {hf_config.num_attention_heads} heads != "
                         f"hidden_size {hf_config.hidden_size}: not supported.")
    if bool(hf_config.attention_bias) != bool(hf_config.mlp_bias):
        raise ValueError("attention_bias and mlp_bias differ; GPTConfig.bias covers both.")
    return GPTConfig(
        vocab_size=hf_config.vocab_size, block_size=hf_config.max_position_embeddings,
        n_layer=hf_config.num_hidden_layers, n_head=hf_config.num_attention_heads,
        n_embd=hf_config.hidden_size, dropout=0.0, bias=bool(hf_config.attention_bias),
        layer_norm_eps=hf_config.rms_norm_eps, norm="rmsnorm", position="rope",
        rope_theta=float(rope.get("rope_theta", getattr(hf_config, "rope_theta", 10000.0))),
        mlp="swiglu", mlp_hidden=hf_config.intermediate_size,
        n_kv_head=hf_config.num_key_value_heads,
        tie_embeddings=bool(hf_config.tie_word_embeddings))


def llama_state_dict(hf_state: dict[str, torch.Tensor], config: GPTConfig
                     ) -> dict[str, torch.Tensor]:
    """Rename (and stack) the tensors of a Llama state dict into the book's GPT's names
    (the table of the module docstring)."""
    sd = {k.removeprefix("model."): v for k, v in hf_state.items()}
    suffixes = ("weight", "bias") if config.bias else ("weight",)
    out = {"wte.weight": sd["embed_tokens.weight"], "ln_f.weight": sd["norm.weight"]}
    if not config.tie_embeddings:
        out["lm_head.weight"] = hf_state["lm_head.weight"]
    for i in range(config.n_layer):
        src, dst = f"layers.{i}.", f"h.{i}."
        out[dst + "ln_1.weight"] = sd[src + "input_layernorm.weight"]
        out[dst + "ln_2.weight"] = sd[src + "post_attention_layernorm.weight"]
        for kind in suffixes:
            out[dst + f"attn.c_attn.{kind}"] = torch.cat(
                [sd[src + f"self_attn.{p}_proj.{kind}"] for p in "qkv"], dim=0)
            out[dst + f"attn.c_proj.{kind}"] = sd[src + f"self_attn.o_proj.{kind}"]
            for ours, theirs in (("c_gate", "gate_proj"), ("c_fc", "up_proj"),
                                 ("c_proj", "down_proj")):
                out[dst + f"mlp.{ours}.{kind}"] = sd[src + f"mlp.{theirs}.{kind}"]
    return out


def from_hf_llama(hf_model: Any) -> GPT:
    """The book's :class:`~llmbook.gpt.GPT` with the weights of a ``transformers``
    ``LlamaForCausalLM`` (any size, or a random ``LlamaConfig``): in eval mode, it gives the
    same logits. The context is ``max_position_embeddings`` long."""
    config = llama_config(getattr(hf_model, "config", None))
    if not hasattr(hf_model, "lm_head"):
        raise TypeError(f"hf_model must be a LlamaForCausalLM (with its lm_head), got "
                        f"{type(hf_model).__name__}.")
    ours = GPT(config)
    new = llama_state_dict(hf_model.state_dict(), config)
    target = ours.state_dict()
    if config.tie_embeddings:
        target.pop("lm_head.weight")
    missing = sorted(set(target) - set(new))
    if missing:
        raise ValueError(f"no Llama weight for {missing[:3]}...")
    with torch.no_grad():
        for name, value in new.items():
            if tuple(value.shape) != tuple(target[name].shape):
                raise ValueError(f"{name}: Llama has shape {tuple(value.shape)}, the book's "
                                 f"model {tuple(target[name].shape)}.")
            target[name].copy_(value)
    return ours.eval()
