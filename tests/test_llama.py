"""llmbook.llama: a random transformers Llama (GQA, RMSNorm, RoPE, SwiGLU, no biases) and the
book's GPT with its weights give the same logits, with and without the KV cache."""

import pytest
import torch

from llmbook.gpt import KVCache
from llmbook.llama import from_hf_llama, llama_config


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _hf_config(**overrides):
    from transformers import LlamaConfig
    kwargs = dict(vocab_size=50, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                  num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=16,
                  rms_norm_eps=1e-6, tie_word_embeddings=False, bos_token_id=0,
                  eos_token_id=0)
    return LlamaConfig(**{**kwargs, **overrides})


def _hf(seed=0, **overrides):
    from transformers import LlamaForCausalLM
    torch.manual_seed(seed)
    return LlamaForCausalLM(_hf_config(**overrides)).eval()


@pytest.mark.parametrize("overrides", [{}, {"tie_word_embeddings": True},
                                       {"num_key_value_heads": 1, "rope_theta": 500.0},
                                       {"num_key_value_heads": 4}])
def test_logits_equal_hf_llama(overrides):
    if "rope_theta" in overrides:
        overrides = {**overrides, "rope_parameters": {"rope_type": "default",
                                                      "rope_theta": overrides.pop("rope_theta")}}
    hf = _hf(**overrides)
    ours = from_hf_llama(hf)
    c = ours.config
    assert (c.norm, c.position, c.mlp, c.bias) == ("rmsnorm", "rope", "swiglu", False)
    assert c.kv_heads == hf.config.num_key_value_heads
    assert c.rope_theta == hf.config.rope_parameters["rope_theta"]
    assert (ours.lm_head.weight is ours.wte.weight) == hf.config.tie_word_embeddings
    assert ours.num_parameters() == sum(p.numel() for p in hf.parameters())
    x = torch.randint(50, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = hf(x).logits
        assert (ours(x) - ref).abs().max() <= 1e-5
        cache = KVCache()                       # and one token at a time, with the cache
        steps = [ours.forward_with_cache(x[:, :9], cache)] + \
            [ours.forward_with_cache(x[:, t:t + 1], cache) for t in range(9, 16)]
        assert (torch.cat(steps, dim=1) - ref).abs().max() <= 1e-5
    assert cache.keys[0].shape == (3, hf.config.num_key_value_heads, 16, 8)


def test_greedy_generation_equals_hf_generate():
    hf = _hf(seed=3)
    ours = from_hf_llama(hf)
    prompt = torch.randint(50, (1, 4), generator=torch.Generator().manual_seed(2))
    theirs = hf.generate(prompt, max_new_tokens=10, do_sample=False, min_new_tokens=10,
                         pad_token_id=0)
    assert torch.equal(ours.generate(prompt, 10, temperature=0, use_cache=True), theirs)


def test_unsupported_llamas_are_refused():
    with pytest.raises(TypeError):
        from_hf_llama(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="silu"):
        llama_config(_hf_config(hidden_act="gelu"))
    with pytest.raises(ValueError, match="rope_type"):
        llama_config(_hf_config(rope_parameters={"rope_type": "linear", "factor": 2.0,
                                                 "rope_theta": 10000.0}))
    with pytest.raises(ValueError, match="bias"):
        llama_config(_hf_config(attention_bias=True, mlp_bias=False))
    config = llama_config(_hf_config(attention_bias=True, mlp_bias=True))
    assert config.bias and config.mlp_hidden == 64 and config.block_size == 16


def test_biased_llama_also_matches():
    hf = _hf(attention_bias=True, mlp_bias=True)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            if name.endswith(".bias"):
                p.normal_(0.0, 0.1)             # transformers initialises biases to 0
    ours = from_hf_llama(hf)
    x = torch.randint(50, (2, 12), generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert (ours(x) - hf(x).logits).abs().max() <= 1e-5
