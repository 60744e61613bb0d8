"""Tests of llmbook.gpt (fast: tiny configs): equality with Hugging Face GPT-2, shapes,
generation, saving and loading."""

import pytest
import torch

from llmbook.gpt import (GPT, GPTConfig, KVCache, from_hf_gpt2, load_gpt, load_gpt2_state_dict,
                         save_gpt)

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


@pytest.fixture(autouse=True)
def _one_thread():
    # tiny models: one thread is as fast, and far faster when other processes share the CPU
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _hf(seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel
    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=32, n_layer=2, n_head=4,
                        bos_token_id=0, eos_token_id=0)
    torch.manual_seed(seed)
    return GPT2LMHeadModel(config).eval()


def test_logits_equal_hf_gpt2():
    hf = _hf()
    ours = from_hf_gpt2(hf)
    x = torch.randint(50, (3, 16), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        diff = (ours(x) - hf(x).logits).abs().max().item()
    assert diff < 1e-5
    assert ours.lm_head.weight is ours.wte.weight


def test_load_gpt2_state_dict_errors():
    hf = _hf()
    with pytest.raises(ValueError, match="lacks"):
        load_gpt2_state_dict(GPT(GPTConfig(vocab_size=50, block_size=16, n_layer=3, n_head=4,
                                           n_embd=32)), hf.state_dict())
    with pytest.raises(ValueError, match="shape"):
        load_gpt2_state_dict(GPT(GPTConfig(vocab_size=50, block_size=8, n_layer=2, n_head=4,
                                           n_embd=32)), hf.state_dict())
    with pytest.raises(TypeError):
        load_gpt2_state_dict(torch.nn.Linear(2, 2), hf.state_dict())
    with pytest.raises(TypeError):
        from_hf_gpt2(torch.nn.Linear(2, 2))


def test_forward_shapes_loss_and_causality():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    x = torch.randint(11, (2, 8))
    logits, loss = model(x, x)
    assert logits.shape == (2, 8, 11) and loss.ndim == 0
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 11            # changing the last token leaves earlier logits
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :-1], model(y)[:, :-1], atol=1e-6)
    assert abs(loss.item() - torch.log(torch.tensor(11.0)).item()) < 0.5


def test_generate_shapes_seeded_and_greedy():
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY))
    start = torch.zeros(2, 3, dtype=torch.long)
    out = model.generate(start, 12, temperature=0.8, top_k=3, seed=5)
    assert out.shape == (2, 15) and torch.equal(out[:, :3], start)
    assert torch.equal(out, model.generate(start, 12, temperature=0.8, top_k=3, seed=5))
    greedy = model.generate(start, 4, temperature=0)
    assert torch.equal(greedy, model.generate(start, 4, temperature=0))
    assert model.generate(start, 0).shape == (2, 3)
    assert model.training                      # generate restores the mode


@pytest.mark.parametrize("bad, error", [
    ([[1, 2]], TypeError), (torch.zeros(2, 3), TypeError),
    (torch.zeros(3, dtype=torch.long), ValueError),
    (torch.zeros(1, 9, dtype=torch.long), ValueError),
    (torch.full((1, 3), 11, dtype=torch.long), ValueError),
    (torch.zeros(1, 0, dtype=torch.long), ValueError),
])
def test_bad_inputs(bad, error):
    model = GPT(GPTConfig(**TINY))
    with pytest.raises(error):
        model(bad)


def test_bad_config_and_generate_args():
    with pytest.raises(ValueError, match="divisible"):
        GPTConfig(n_embd=10, n_head=3)
    with pytest.raises(TypeError):
        GPTConfig(n_layer=2.0)
    with pytest.raises(ValueError):
        GPTConfig(dropout=1.5)
    with pytest.raises(TypeError):
        GPT({"n_layer": 2})
    model = GPT(GPTConfig(**TINY))
    x = torch.zeros(1, 2, dtype=torch.long)
    for kwargs in ({"temperature": -1.0}, {"top_k": 0}):
        with pytest.raises(ValueError):
            model.generate(x, 3, **kwargs)
    with pytest.raises(ValueError):
        model.generate(x, -1)


def test_save_and_load_roundtrip(tmp_path):
    torch.manual_seed(0)
    model = GPT(GPTConfig(**TINY)).eval()
    path = save_gpt(model, tmp_path / "m.safetensors", metadata={"note": "hi"})
    loaded, meta = load_gpt(path)
    x = torch.randint(11, (1, 8))
    with torch.no_grad():
        assert torch.equal(model(x), loaded(x))
    assert meta["note"] == "hi" and loaded.lm_head.weight is loaded.wte.weight
    with pytest.raises(ValueError, match="safetensors"):
        save_gpt(model, tmp_path / "m.pt")
    with pytest.raises(FileNotFoundError):
        load_gpt(tmp_path / "missing.safetensors")


def test_kv_cache_gives_the_same_logits_and_tokens():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=32, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(11, (2, 10), generator=torch.Generator().manual_seed(0))
    cache = KVCache()
    with torch.no_grad():
        parts = [model.forward_with_cache(x[:, :6], cache),       # prompt, then one by one
                 model.forward_with_cache(x[:, 6:7], cache),
                 model.forward_with_cache(x[:, 7:], cache)]       # and several at once
        assert (torch.cat(parts, dim=1) - model(x)).abs().max() < 1e-5
    assert cache.length == 10 and len(cache.keys) == 2
    # 2 (K, V) x layers x batch x heads x head_dim x length x 4 bytes
    assert cache.nbytes() == 2 * 2 * 2 * 2 * 8 * 10 * 4
    cache.select(torch.tensor([1]))
    assert cache.keys[0].shape == (1, 2, 10, 8)
    for kwargs in ({"temperature": 0}, {"temperature": 0.9, "top_k": 4, "seed": 3}):
        assert torch.equal(model.generate(x[:, :3], 25, **kwargs),
                           model.generate(x[:, :3], 25, use_cache=True, **kwargs))


def test_attention_mask_left_padding_and_cache_errors():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=2, n_head=2, n_embd=16)).eval()
    x = torch.randint(11, (1, 7), generator=torch.Generator().manual_seed(1))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), x], dim=1)
    mask = torch.tensor([[0, 0, 0] + [1] * 7])
    with torch.no_grad():
        out = model.forward_with_cache(padded, attention_mask=mask)
        assert not out.isnan().any()
        assert (out[:, 3:] - model(x)).abs().max() < 1e-5      # as if it were alone
    with pytest.raises(ValueError, match="block_size"):
        model.forward_with_cache(torch.zeros(1, 17, dtype=torch.long))
    cache = KVCache()
    model.forward_with_cache(torch.zeros(1, 10, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="exceed block_size"):
        model.forward_with_cache(torch.zeros(1, 7, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="rows"):
        model.forward_with_cache(torch.zeros(2, 1, dtype=torch.long), cache)
    with pytest.raises(ValueError, match="attention_mask"):
        model.forward_with_cache(x, attention_mask=torch.ones(1, 3))
    with pytest.raises(TypeError):
        model.forward_with_cache(x, cache={})
    with pytest.raises(ValueError, match="use_cache=False"):
        model.generate(x, 10, use_cache=True)
    assert model.generate(x, 10).shape == (1, 17)               # without a cache it crops
    with pytest.raises(ValueError, match="causal"):
        GPT(GPTConfig(vocab_size=11, block_size=16, n_layer=1, n_head=2, n_embd=16,
                      causal=False)).forward_with_cache(x)
