"""llmbook.modern: each component against its reference (PyTorch, transformers' Llama), and
each GPTConfig option of section 5.7 in the book's GPT (tiny configs, one thread: fast)."""

import math

import pytest
import torch

from llmbook import modern
from llmbook.gpt import GPT, CausalSelfAttention, GPTConfig, KVCache, load_gpt, save_gpt

TINY = dict(vocab_size=11, block_size=16, n_layer=2, n_head=4, n_embd=32)
#: Every option on at once (the left-padding and cache tests use it).
MODERN = dict(norm="rmsnorm", position="rope", mlp="swiglu", qk_norm=True, n_kv_head=2,
              logit_softcap=10.0)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _ids(shape=(2, 16), seed=0, vocab=11):
    return torch.randint(vocab, shape, generator=torch.Generator().manual_seed(seed))


def _model(seed=0, **options):
    torch.manual_seed(seed)
    return GPT(GPTConfig(**{**TINY, **options})).eval()


# --------------------------------------------------------------------------------------------
# The components against their references
# --------------------------------------------------------------------------------------------

def test_rmsnorm_equals_torch_and_llama():
    from transformers.models.llama.modeling_llama import LlamaRMSNorm
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(4, 7, 32, generator=gen) * 3 + 1
    gain = torch.randn(32, generator=gen)
    ours, theirs, llama = modern.RMSNorm(32, eps=1e-6), torch.nn.RMSNorm(32, eps=1e-6), \
        LlamaRMSNorm(32, eps=1e-6)
    with torch.no_grad():
        for m in (ours, theirs, llama):
            m.weight.copy_(gain)
        y = ours(x)
        assert (y - theirs(x)).abs().max() < 1e-6
        assert torch.equal(y, llama(x))
    assert sum(p.numel() for p in ours.parameters()) == 32            # a gain, no bias
    with pytest.raises(ValueError):
        modern.RMSNorm(0)


def test_rope_equals_transformers_llama():
    from transformers import LlamaConfig
    from transformers.models.llama.modeling_llama import LlamaRotaryEmbedding, \
        apply_rotary_pos_emb
    config = LlamaConfig(hidden_size=64, num_attention_heads=4, max_position_embeddings=32,
                         intermediate_size=8, num_hidden_layers=1, vocab_size=10)
    rotary = LlamaRotaryEmbedding(config)
    gen = torch.Generator().manual_seed(0)
    q, k = torch.randn(2, 4, 10, 16, generator=gen), torch.randn(2, 4, 10, 16, generator=gen)
    cos_all, sin_all = modern.rope_cache(32, 16)
    for positions in (torch.arange(10)[None], torch.arange(5, 15)[None],         # offset
                      torch.stack([torch.arange(10), torch.arange(3, 13)])):    # per row
        cos, sin = rotary(q, positions)
        q_ref, k_ref = apply_rotary_pos_emb(q, k, cos, sin)
        pos = positions[0] if positions.size(0) == 1 else positions
        q_ours = modern.apply_rope(q, cos_all[pos], sin_all[pos])
        k_ours = modern.apply_rope(k, cos_all[pos], sin_all[pos])
        assert (q_ours - q_ref).abs().max() < 1e-6 and (k_ours - k_ref).abs().max() < 1e-6


def test_rope_scores_depend_only_on_the_offset():
    cos, sin = modern.rope_cache(64, 8)
    gen = torch.Generator().manual_seed(1)
    q, k = torch.randn(8, generator=gen), torch.randn(8, generator=gen)

    def score(m, n):
        return float(modern.apply_rope(q, cos[m], sin[m]) @ modern.apply_rope(k, cos[n], sin[n]))
    assert score(10, 7) == pytest.approx(score(40, 37), abs=1e-5)
    assert score(5, 5) == pytest.approx(float(q @ k), abs=1e-5)      # offset 0: no rotation
    assert torch.allclose(modern.apply_rope(q, cos[9], sin[9]).norm(), q.norm())   # a rotation
    with pytest.raises(ValueError, match="even"):
        modern.rope_cache(4, 7)


def test_repeat_kv_equals_transformers():
    from transformers.models.llama.modeling_llama import repeat_kv
    x = torch.randn(2, 3, 5, 4)
    assert torch.equal(modern.repeat_kv(x, 4), repeat_kv(x, 4))
    assert modern.repeat_kv(x, 1) is x


def test_attention_without_options_is_the_gpt2_attention():
    config = GPTConfig(**TINY)
    torch.manual_seed(0)
    old, new = CausalSelfAttention(config).eval(), modern.Attention(config).eval()
    new.load_state_dict(old.state_dict())
    x = torch.randn(2, 16, 32)
    with torch.no_grad():
        assert torch.equal(new(x), old(x))


def test_relu_squared_and_softcap():
    x = torch.tensor([-2.0, -0.5, 0.0, 0.5, 3.0])
    assert torch.equal(modern.relu_squared(x), torch.tensor([0.0, 0.0, 0.0, 0.25, 9.0]))
    layer = modern.SoftCapLinear(4, 3, cap=2.0)
    h = torch.randn(5, 4) * 100
    with torch.no_grad():
        out = layer(h)
        plain = torch.nn.functional.linear(h, layer.weight)
        assert torch.allclose(out, 2.0 * torch.tanh(plain / 2.0))
        assert out.abs().max() <= 2.0
    with pytest.raises(ValueError, match="cap"):
        modern.SoftCapLinear(4, 3, cap=0)


# --------------------------------------------------------------------------------------------
# The options in the GPT
# --------------------------------------------------------------------------------------------

GPT2_KEYS = ["wte.weight", "wpe.weight"] + [
    f"h.{i}.{name}" for i in range(2) for name in (
        "ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias")] + [
    "ln_f.weight", "ln_f.bias", "lm_head.weight"]


def test_the_default_model_is_unchanged():
    """The state-dict layout, the seeded initial weights and the logits are those of the
    5.3 model before the options existed (numbers recorded from that code)."""
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)).eval()
    keys = [k.replace("h.1.", "h.X.").replace("h.0.", "h.X.") for k in model.state_dict()]
    assert keys == [k.replace("h.1.", "h.X.").replace("h.0.", "h.X.") for k in GPT2_KEYS]
    total = sum(p.detach().double().sum() for p in model.parameters())
    assert float(total) == pytest.approx(79.79809956324834, abs=1e-6)
    with torch.no_grad():
        logits = model(_ids((2, 8)))
    assert float(logits.double().sum()) == pytest.approx(3.896459797397256, abs=1e-5)
    assert logits[0, 0, :3].tolist() == pytest.approx(
        [-0.0866670086979866, 0.04974845051765442, -0.04348725825548172], abs=1e-6)
    assert all(isinstance(b.attn, CausalSelfAttention) for b in model.h)
    assert isinstance(model.ln_f, torch.nn.LayerNorm) and model.wpe is not None


def _count(**options):
    return GPT(GPTConfig(**{**TINY, **options})).num_parameters()


def test_each_option_changes_the_parameter_count_by_its_formula():
    d, L, V, T, H = 32, 2, 11, 16, 4
    hd = d // H
    base = _count()
    # RMSNorm: one gain, no bias, in 2 norms per block and the final one
    assert base - _count(norm="rmsnorm") == (2 * L + 1) * d
    # RoPE: no position-embedding table
    assert base - _count(position="rope") == T * d
    assert _count(mlp="relu2") == base
    # SwiGLU: three matrices of d x 8d/3 instead of two of d x 4d (and their biases)
    h = 8 * d // 3
    swiglu, gelu = 3 * d * h + 2 * h + d, 2 * d * 4 * d + 4 * d + d
    assert _count(mlp="swiglu") - base == L * (swiglu - gelu)
    # QK-norm: a gain over head_dim for the queries and one for the keys, per layer
    assert _count(qk_norm=True) - base == L * 2 * hd
    # GQA: the key and value projections shrink by n_kv_head / n_head
    for kv in (1, 2):
        assert base - _count(n_kv_head=kv) == L * 2 * (d + 1) * (d - kv * hd)
    assert _count(n_kv_head=H) == base
    assert _count(tie_embeddings=False) - base == V * d
    assert _count(zero_init_proj=True) == _count(logit_softcap=5.0) == base
    # no biases anywhere: linear layers and LayerNorms
    assert base - _count(bias=False) == L * (3 * d + d + 4 * d + d + 2 * d) + d


def test_zero_init_projections():
    model = _model(zero_init_proj=True)
    for block in model.h:
        assert not block.attn.c_proj.weight.any() and not block.mlp.c_proj.weight.any()
    x = _ids()
    with torch.no_grad():                      # every block starts as the identity
        direct = model.lm_head(model.ln_f(model.wte(x) + model.wpe(torch.arange(16))))
        assert torch.allclose(model(x), direct, atol=1e-6)
    assert _model(zero_init_proj=False).h[0].mlp.c_proj.weight.any()
    swiglu = _model(zero_init_proj=True, mlp="swiglu")
    assert not swiglu.h[0].mlp.c_proj.weight.any() and swiglu.h[0].mlp.c_gate.weight.any()


def test_qk_norm_makes_attention_blind_to_the_scale_of_queries_and_keys():
    for qk_norm in (True, False):
        model = _model(qk_norm=qk_norm, bias=False, n_kv_head=2)
        x = _ids()
        with torch.no_grad():
            before = model(x)
            for block in model.h:               # q and k rows of c_attn, times 30
                block.attn.c_attn.weight[:32 + 16] *= 30.0
            diff = (model(x) - before).abs().max().item()
        assert (diff < 1e-4) if qk_norm else (diff > 1e-3)
    assert isinstance(_model(qk_norm=True).h[0].attn.q_norm, modern.RMSNorm)


def test_logit_softcap_bounds_the_logits():
    model = _model(logit_softcap=3.0)
    with torch.no_grad():
        model.wte.weight.mul_(200.0)            # huge logits without the cap
        logits = model(_ids())
    assert logits.abs().max() <= 3.0 and logits.abs().max() > 2.9
    assert model.lm_head.weight is model.wte.weight


@pytest.mark.parametrize("options", [
    dict(norm="rmsnorm"), dict(position="rope"), dict(mlp="relu2"), dict(mlp="swiglu"),
    dict(qk_norm=True), dict(n_kv_head=1), dict(tie_embeddings=False), MODERN])
def test_each_option_trains_is_causal_and_differs_from_gpt2(options):
    model = _model(**options).train()
    x = _ids()
    logits, loss = model(x, x)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())
    assert abs(loss.item() - math.log(11)) < 1.0
    model.eval()
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 11
    with torch.no_grad():
        assert torch.allclose(model(x)[:, :-1], model(y)[:, :-1], atol=1e-6)
        assert not torch.allclose(model(x), _model()(x))


def test_rope_attention_sees_relative_positions_only():
    """Shifting every position by 5 leaves RoPE attention's output unchanged (up to rounding):
    the scores depend on offsets only. Learned position embeddings have no such property."""
    attn = _model(position="rope").h[0].attn
    x = torch.randn(2, 10, 32, generator=torch.Generator().manual_seed(2))
    causal = torch.ones(10, 10, dtype=torch.bool).tril()
    with torch.no_grad():
        attn.c_attn.weight.normal_(0.0, 0.5)    # scores far from 0, so positions matter
        at_0 = attn(x, torch.arange(10), mask=causal)
        at_5 = attn(x, torch.arange(5, 15), mask=causal)
        assert (at_0 - at_5).abs().max() < 1e-5
        assert torch.allclose(at_0, attn(x), atol=1e-6)     # positions 0.. by default
        assert (at_0 - attn(x, torch.arange(10).flip(0), mask=causal)).abs().max() > 1e-3


@pytest.mark.parametrize("options", [dict(position="rope"), dict(n_kv_head=1),
                                     dict(qk_norm=True), MODERN])
def test_kv_cache_and_left_padding_with_the_options(options):
    model = _model(**options)
    x = _ids((2, 10))
    cache = KVCache()
    with torch.no_grad():
        parts = [model.forward_with_cache(x[:, :6], cache),
                 model.forward_with_cache(x[:, 6:7], cache),
                 model.forward_with_cache(x[:, 7:], cache)]
        assert (torch.cat(parts, dim=1) - model(x)).abs().max() < 1e-5
        one = x[:1, :7]
        padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), one], dim=1)
        mask = torch.tensor([[0, 0, 0] + [1] * 7])
        out = model.forward_with_cache(padded, attention_mask=mask)
        assert (out[:, 3:] - model(one)).abs().max() < 1e-5
    kv = model.config.kv_heads
    assert cache.keys[0].shape == (2, kv, 10, 8)           # GQA caches n_kv_head heads
    assert cache.nbytes() == 2 * 2 * 2 * kv * 8 * 10 * 4
    for kwargs in ({"temperature": 0}, {"temperature": 0.9, "top_k": 4, "seed": 3}):
        assert torch.equal(model.generate(x[:, :3], 12, **kwargs),
                           model.generate(x[:, :3], 12, use_cache=True, **kwargs))


def test_bidirectional_rope_model():
    model = _model(position="rope", causal=False)
    x = _ids()
    y = x.clone()
    y[:, -1] = (y[:, -1] + 1) % 11
    with torch.no_grad():                       # the last token now changes earlier outputs
        assert not torch.allclose(model(x)[:, :-1], model(y)[:, :-1])
        assert model.hidden_states(x).shape == (2, 16, 32)


def test_save_and_load_every_option(tmp_path):
    model = _model(**MODERN, tie_embeddings=False, zero_init_proj=True)
    path = save_gpt(model, tmp_path / "modern.safetensors")
    loaded, _ = load_gpt(path)
    assert loaded.config == model.config
    assert loaded.lm_head.weight is not loaded.wte.weight
    with torch.no_grad():
        assert torch.equal(loaded(_ids()), model(_ids()))
