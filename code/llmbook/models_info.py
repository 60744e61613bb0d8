"""Parameter counts of well-known Transformers from their real ``transformers`` configurations.

Each model is built from its configuration class with the published hyper-parameters written
here in code, on PyTorch's ``meta`` device: the tensors have shapes but no storage, so
BERT-base (110M parameters) is "built" in a fraction of a second with no memory and no
download. Counting its parameters then gives the model's exact size.

* :data:`MODEL_SPECS` -- the five models of section 2.4, their architecture family and the size
  published with them;
* :func:`build_config`, :func:`build_on_meta`, :func:`count_parameters`,
  :func:`parameter_table`, :func:`parameter_breakdown`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ModelSpec", "MODEL_SPECS", "build_config", "build_on_meta", "count_parameters",
           "parameter_table", "parameter_breakdown"]


@dataclass(frozen=True)
class ModelSpec:
    """One published model: its ``transformers`` config class and model class, the
    hyper-parameters that differ from the class defaults, its family and published size."""

    name: str
    hub_name: str
    family: str
    config_class: str
    model_class: str
    hyper_parameters: dict
    published_millions: float
    published_source: str


#: The published hyper-parameters of each model (those of its hub ``config.json``), and the
#: size the paper or model card states.
MODEL_SPECS: dict[str, ModelSpec] = {spec.name: spec for spec in [
    ModelSpec("BERT-base", "bert-base-uncased", "encoder-only", "BertConfig", "BertModel",
              dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12,
                   num_attention_heads=12, intermediate_size=3072,
                   max_position_embeddings=512, type_vocab_size=2),
              110, "Devlin et al. 2019, section 3"),
    ModelSpec("GPT-2 small", "gpt2", "decoder-only", "GPT2Config", "GPT2Model",
              dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12),
              117, "Radford et al. 2019, table 2"),
    ModelSpec("T5-small", "t5-small", "encoder-decoder", "T5Config", "T5Model",
              dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=2048, num_layers=6,
                   num_decoder_layers=6, num_heads=8, feed_forward_proj="relu",
                   tie_word_embeddings=True),
              60, "Raffel et al. 2020, section 3.7"),
    ModelSpec("RoBERTa-base", "roberta-base", "encoder-only", "RobertaConfig", "RobertaModel",
              dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12,
                   num_attention_heads=12, intermediate_size=3072,
                   max_position_embeddings=514, type_vocab_size=1, pad_token_id=1),
              125, "Liu et al. 2019, model card (125M)"),
    ModelSpec("XLNet-base", "xlnet-base-cased", "autoregressive, permuted order", "XLNetConfig",
              "XLNetModel",
              dict(vocab_size=32000, d_model=768, n_layer=12, n_head=12, d_inner=3072),
              110, "Yang et al. 2019: same size as BERT-base (Hugging Face: 110M)"),
]}


def _spec(name: object) -> ModelSpec:
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    if name not in MODEL_SPECS:
        raise ValueError(f"unknown model {name!r}; known: {', '.join(MODEL_SPECS)}.")
    return MODEL_SPECS[name]


def build_config(name: str, **overrides: Any):
    """The ``transformers`` configuration of a model of :data:`MODEL_SPECS`, built from its
    config class and published hyper-parameters (``overrides`` change any of them, e.g. a
    tiny version for a test)."""
    import transformers

    spec = _spec(name)
    config_class = getattr(transformers, spec.config_class)
    return config_class(**{**spec.hyper_parameters, **overrides})


def build_on_meta(name_or_config: Any):
    """The model (no task head) built on the ``meta`` device: real shapes, no memory, no
    download. Accepts a name of :data:`MODEL_SPECS` or a ``transformers`` configuration."""
    import torch
    import transformers
    from transformers import PretrainedConfig

    if isinstance(name_or_config, str):
        config = build_config(name_or_config)
        model_class = getattr(transformers, _spec(name_or_config).model_class)
    elif isinstance(name_or_config, PretrainedConfig):
        config = name_or_config
        model_class = transformers.AutoModel
    else:
        raise TypeError(f"expected a model name or a transformers config, got "
                        f"{type(name_or_config).__name__}.")
    with torch.device("meta"):
        if model_class is transformers.AutoModel:
            return transformers.AutoModel.from_config(config)
        return model_class(config)


def count_parameters(model: Any) -> int:
    """The number of distinct parameters of a ``torch.nn.Module`` (tied weights, such as a
    shared embedding, count once)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}.")
    return sum(p.numel() for p in model.parameters())


def parameter_breakdown(model: Any) -> dict[str, int]:
    """Parameters per top-level child module (embeddings, encoder, decoder, pooler ...)."""
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}.")
    seen: set[int] = set()
    result: dict[str, int] = {}
    for child_name, child in model.named_children():
        total = 0
        for p in child.parameters():
            if id(p) not in seen:
                seen.add(id(p))
                total += p.numel()
        if total:
            result[child_name] = total
    rest = sum(p.numel() for p in model.parameters() if id(p) not in seen)
    if rest:
        result["(other)"] = rest
    return result


def parameter_table(names: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per model: family, layers, width, heads, vocabulary, the counted parameters,
    the published size and their relative difference."""
    names = list(MODEL_SPECS) if names is None else names
    if not isinstance(names, list) or not names:
        raise ValueError("names must be a non-empty list of model names (or None for all).")
    rows = []
    for name in names:
        spec = _spec(name)
        config = build_config(name)
        counted = count_parameters(build_on_meta(name))
        layers = getattr(config, "num_hidden_layers", None)
        if spec.family == "encoder-decoder":
            layers = f"{config.num_layers}+{config.num_decoder_layers}"
        rows.append({
            "model": name, "family": spec.family, "layers": layers,
            "d_model": getattr(config, "hidden_size", None) or config.d_model,
            "heads": config.num_attention_heads if hasattr(config, "num_attention_heads")
            else config.num_heads, "vocab": config.vocab_size, "counted": counted,
            "published_millions": spec.published_millions,
            "relative_difference": counted / (spec.published_millions * 1e6) - 1,
        })
    return rows
