"""Tests of llmbook.models_info: parameter counts from real configurations, on meta."""

import pytest
import torch
from transformers import BertConfig

from llmbook import models_info as mi


def test_exact_counts_of_the_published_configs():
    counts = {row["model"]: row["counted"] for row in mi.parameter_table()}
    assert counts == {"BERT-base": 109_482_240, "GPT-2 small": 124_439_808,
                      "T5-small": 60_506_624, "RoBERTa-base": 124_645_632,
                      "XLNet-base": 116_718_336}


def test_meta_models_have_no_storage_and_tied_weights_count_once():
    model = mi.build_on_meta("T5-small")
    assert all(p.device.type == "meta" for p in model.parameters())
    parts = mi.parameter_breakdown(model)
    assert sum(parts.values()) == mi.count_parameters(model) == 60_506_624
    assert parts["shared"] == 32128 * 512


def test_tiny_override_and_config_input():
    config = mi.build_config("BERT-base", num_hidden_layers=1, hidden_size=32,
                             num_attention_heads=2, intermediate_size=64, vocab_size=100)
    assert isinstance(config, BertConfig)
    small = mi.count_parameters(mi.build_on_meta(config))
    real = sum(p.numel() for p in __import__("transformers").BertModel(config).parameters())
    assert small == real


def test_bad_inputs():
    with pytest.raises(ValueError, match="unknown model"):
        mi.build_config("GPT-5")
    with pytest.raises(TypeError):
        mi.build_config(3)
    with pytest.raises(TypeError):
        mi.build_on_meta(torch.nn.Linear(2, 2))
    with pytest.raises(TypeError):
        mi.count_parameters("bert")
    with pytest.raises(TypeError):
        mi.parameter_breakdown(None)
    with pytest.raises(ValueError, match="non-empty"):
        mi.parameter_table([])
