"""llmbook.gpt_config: the options of section 5.7 default to GPT-2, and bad values say what
is allowed."""

import json

import pytest
import torch

from llmbook import gpt
from llmbook.gpt_config import MLPS, NORMS, POSITIONS, GPTConfig

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def test_gpt_reexports_the_config_and_defaults_are_gpt2():
    assert gpt.GPTConfig is GPTConfig
    config = GPTConfig()
    assert config.is_gpt2 and config.norm == "layernorm" and config.position == "learned"
    assert config.mlp == "gelu" and config.kv_heads == config.n_head and config.tie_embeddings
    assert config.hidden_size == 4 * config.n_embd and config.head_dim == 32
    assert not GPTConfig(norm="rmsnorm").is_gpt2
    assert GPTConfig(mlp="swiglu", n_embd=96, n_head=4).hidden_size == 8 * 96 // 3
    assert GPTConfig(mlp="swiglu", mlp_hidden=100).hidden_size == 100
    assert json.loads(json.dumps(config.to_dict())) == config.to_dict()
    assert GPTConfig(**config.to_dict()) == config


@pytest.mark.parametrize("field, value, allowed", [
    ("norm", "batchnorm", NORMS), ("position", "alibi", POSITIONS), ("mlp", "geglu", MLPS)])
def test_a_bad_choice_names_the_allowed_values(field, value, allowed):
    with pytest.raises(ValueError, match=field) as info:
        GPTConfig(**{field: value})
    assert all(repr(a) in str(info.value) for a in allowed)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_kv_head=3), "must divide n_head"),
    (dict(n_kv_head=0), "at least 1"),
    (dict(position="rope", n_embd=12, n_head=4), "even"),
    (dict(logit_softcap=0.0), "logit_softcap"),
    (dict(logit_softcap=-3), "logit_softcap"),
    (dict(logit_softcap=float("inf")), "logit_softcap"),
    (dict(rope_theta=1.0), "rope_theta"),
    (dict(mlp_hidden=0), "at least 1"),
])
def test_bad_option_values_raise_value_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GPTConfig(**kwargs)


def test_option_types_are_checked():
    with pytest.raises(TypeError, match="qk_norm"):
        GPTConfig(qk_norm="yes")
    with pytest.raises(TypeError, match="n_kv_head"):
        GPTConfig(n_kv_head=2.0)
    with pytest.raises(TypeError, match="mlp_hidden"):
        GPTConfig(mlp_hidden=True)


def test_an_old_checkpoint_without_the_new_fields_loads(tmp_path):
    from safetensors.torch import save_file
    torch.manual_seed(0)
    model = gpt.GPT(GPTConfig(**TINY)).eval()
    old_fields = ("vocab_size", "block_size", "n_layer", "n_head", "n_embd", "dropout", "bias",
                  "layer_norm_eps", "activation", "causal")         # what 5.3 stored
    meta = {"gpt_config": json.dumps({k: getattr(model.config, k) for k in old_fields})}
    tensors = {k: v for k, v in model.state_dict().items() if k != "lm_head.weight"}
    save_file(tensors, str(tmp_path / "old.safetensors"), metadata=meta)
    loaded, _ = gpt.load_gpt(tmp_path / "old.safetensors")
    assert loaded.config == model.config and loaded.config.is_gpt2
    x = torch.randint(11, (2, 8), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_the_shipped_checkpoint_still_loads_and_gives_the_same_logits():
    """The 5.3 checkpoint's logits on a fixed input, as the code before section 5.7's
    options computed them (recorded; rounding-level tolerance for other CPUs' kernels)."""
    from llmbook.train_gpt import DEFAULT_CHECKPOINT
    model, meta = gpt.load_gpt(DEFAULT_CHECKPOINT)
    assert model.config.is_gpt2 and "vocab" in meta
    assert model.lm_head.weight is model.wte.weight
    x = torch.arange(64).remainder(model.config.vocab_size)[None]
    with torch.no_grad():
        logits = model(x).double()
    assert float(logits.sum()) == pytest.approx(-6036.433013801463, rel=1e-6)
    assert float(logits.abs().sum()) == pytest.approx(12694.531281133182, rel=1e-6)
    assert logits[0, -1, :3].tolist() == pytest.approx(
        [1.6013274192810059, 1.8241373300552368, 1.6231188774108887], abs=1e-5)
