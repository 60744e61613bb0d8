"""Tests of llmbook.quantization: the int8 formula and its error bound, Int8Linear,
quantize_model on a tiny random Llama, equality with torchao's int8 weight-only path,
sizes, safetensors round trip, perplexity and generation timing."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook import quantization as Q


def _weight(seed, shape=(24, 40), zero_row=None):
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(shape, generator=g) * torch.rand(shape[0], 1, generator=g) * 0.1
    if zero_row is not None:
        w[zero_row] = 0
    return w


def _tiny_llama(tie=True, seed=0):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=64, tie_word_embeddings=tie,
                         bos_token_id=1, eos_token_id=2, pad_token_id=0)
    torch.manual_seed(seed)
    return LlamaForCausalLM(config).eval()


def test_formula_on_a_small_matrix():
    w = torch.tensor([[1.0, -2.0, 0.5, 0.0], [0.0, 0.0, 0.0, 0.0], [127.0, 63.4, -127.0, 1.6]])
    q, scale = Q.quantize_int8(w)
    assert q.dtype == torch.int8 and scale.dtype == torch.float32
    assert torch.allclose(scale, torch.tensor([2 / 127, Q.MIN_SCALE, 1.0]))
    assert q.tolist() == [[64, -127, 32, 0], [0, 0, 0, 0], [127, 63, -127, 2]]
    assert torch.equal(Q.dequantize_int8(q, scale)[2], torch.tensor([127.0, 63, -127, 2]))


@pytest.mark.parametrize("qmax", [Q.INT8_QMAX, Q.TORCHAO_QMAX])
@pytest.mark.parametrize("seed", range(4))
def test_error_is_at_most_half_a_step(seed, qmax):
    w = _weight(seed, zero_row=3)
    q, scale = Q.quantize_int8(w, qmax=qmax)
    error = (w - Q.dequantize_int8(q, scale)).abs()
    ulp = torch.finfo(torch.float32).eps * w.abs()             # float32 rounding of w - q s
    assert (error <= scale[:, None] / 2 + 4 * ulp).all()
    assert torch.equal(scale[3], torch.tensor(Q.MIN_SCALE)) and (q[3] == 0).all()
    if qmax == Q.INT8_QMAX:
        assert q.min() >= -127 and q.abs().amax(dim=1)[torch.arange(24) != 3].eq(127).all()
    else:
        assert q.max() <= 127 and q.min() >= -128


def test_equals_torchao_int8_tensor():
    from torchao.quantization import PerRow
    from torchao.quantization.quantize_.workflows.int8.int8_tensor import Int8Tensor

    for seed in range(5):
        w = _weight(seed, zero_row=seed)
        w[(seed + 1) % 24] *= 1e-7                              # a row below MIN_SCALE * 127
        ao = Int8Tensor.from_hp(w, granularity=PerRow())
        q, scale = Q.quantize_int8(w, qmax=Q.TORCHAO_QMAX)
        assert torch.equal(q, ao.qdata) and torch.equal(scale, ao.scale.flatten())
        assert torch.equal(Q.dequantize_int8(q, scale), ao.dequantize())
        q127, _ = Q.quantize_int8(w)          # the book's scheme: a different grid
        assert not torch.equal(q127, ao.qdata) and (q127.int() - ao.qdata.int()).abs().max() <= 1


def test_int8_linear_forward():
    torch.manual_seed(0)
    linear = torch.nn.Linear(40, 24)
    layer = Q.Int8Linear.from_linear(linear)
    x = torch.randn(3, 5, 40)
    expected = F.linear(x, layer.dequantized_weight(), linear.bias)
    assert (layer(x) - expected).abs().max() < 1e-5
    assert (layer(x) - linear(x)).abs().max() < 0.05                  # close to the original
    no_bias = Q.Int8Linear.from_linear(torch.nn.Linear(40, 24, bias=False))
    assert no_bias.bias is None and no_bias(x).shape == (3, 5, 24)
    assert layer(x.bfloat16()).dtype == torch.bfloat16
    assert "int8" in repr(layer)
    with pytest.raises(ValueError, match="last dimension 40"):
        layer(torch.randn(2, 39))
    with pytest.raises(TypeError, match="nn.Linear"):
        Q.Int8Linear.from_linear(torch.nn.Conv1d(2, 2, 1))
    with pytest.raises(ValueError, match="in_features"):
        Q.Int8Linear(0, 3)


def test_quantize_model_replaces_the_linear_layers():
    model = _tiny_llama()
    ids = torch.randint(96, (1, 20), generator=torch.Generator().manual_seed(0))
    before = model(ids).logits
    quantized = Q.quantize_model(model)
    names = Q.int8_layer_names(quantized)
    assert len(names) == 2 * 7 and "lm_head" not in names
    assert {n.rsplit(".", 1)[-1] for n in names} == {"q_proj", "k_proj", "v_proj", "o_proj",
                                                     "gate_proj", "up_proj", "down_proj"}
    assert quantized.lm_head.weight is quantized.model.embed_tokens.weight   # still tied
    assert not Q.int8_layer_names(model)                                     # a copy
    assert torch.equal(model(ids).logits, before)
    assert (quantized(ids).logits - before).abs().max() < 0.05
    untied = _tiny_llama(tie=False)
    assert "lm_head" in Q.int8_layer_names(Q.quantize_model(untied, skip=()))
    assert "lm_head" not in Q.int8_layer_names(Q.quantize_model(untied))
    assert len(Q.int8_layer_names(Q.quantize_model(untied, skip=("q_proj", "lm_head")))) == 12
    same = Q.quantize_model(untied, inplace=True)
    assert same is untied and len(Q.int8_layer_names(untied)) == 14
    with pytest.raises(ValueError, match="no nn.Linear"):
        Q.quantize_model(untied)                                   # nothing left to quantize


def test_logits_equal_torchao_with_its_scheme():
    model = _tiny_llama()
    ids = torch.randint(96, (2, 16), generator=torch.Generator().manual_seed(1))
    ao = Q.torchao_int8_model(model)
    ours = Q.quantize_model(model, qmax=Q.TORCHAO_QMAX)
    book = Q.quantize_model(model)
    with torch.no_grad():
        assert (ours(ids).logits - ao(ids).logits).abs().max() < 1e-6
        assert (book(ids).logits - ao(ids).logits).abs().max() > 0
    same = Q.weight_differences(ours, ao)
    assert same == {"layers": 15, "max_weight_diff": 0.0, "codes": same["codes"],
                    "codes_differ": 0, "max_code_diff": 0}
    differ = Q.weight_differences(book, ao)
    assert 0 < differ["codes_differ"] < differ["codes"] and differ["max_code_diff"] == 1
    error = Q.weight_differences(model, book)
    assert set(error) == {"layers", "max_weight_diff"} and error["layers"] == 15
    assert 0 < error["max_weight_diff"] < 0.01
    assert type(model.lm_head.weight) is torch.nn.Parameter               # model untouched


def test_sizes_in_memory_and_on_disk(tmp_path):
    model = _tiny_llama()
    book, ao = Q.quantize_model(model), Q.torchao_int8_model(model)
    params = sum(p.numel() for p in model.parameters())                  # tied: counted once
    buffers = sum(b.numel() for b in model.buffers())                    # rotary frequencies
    assert Q.model_bytes(model) == 4 * (params + buffers)
    linear = sum(m.weight.numel() for n, m in model.named_modules()
                 if isinstance(m, torch.nn.Linear) and n != "lm_head")
    rows = sum(m.out_features for n, m in model.named_modules()
               if isinstance(m, torch.nn.Linear) and n != "lm_head")
    assert Q.model_bytes(book) == 4 * (params + buffers - linear) + linear + 4 * rows
    assert Q.model_bytes(ao) == Q.model_bytes(book) + rows             # + int8 zero points
    sizes = {name: Q.save_safetensors(m, tmp_path / f"{name}.safetensors")
             for name, m in (("float", model), ("book", book), ("torchao", ao))}
    for name, m in (("float", model), ("book", book)):
        assert 0 < sizes[name] - Q.model_bytes(m) < 20_000                # + the JSON header
    assert sizes["torchao"] > sizes["book"]


def test_safetensors_round_trip(tmp_path):
    model = _tiny_llama()
    book = Q.quantize_model(model)
    path = tmp_path / "int8.safetensors"
    Q.save_safetensors(book, path)
    other = Q.quantize_model(_tiny_llama(seed=5))
    ids = torch.arange(10)[None]
    assert not torch.equal(other(ids).logits, book(ids).logits)
    assert Q.load_safetensors(other, path) is other
    assert torch.equal(other(ids).logits, book(ids).logits)
    assert other.lm_head.weight is other.model.embed_tokens.weight
    with pytest.raises(ValueError, match="quantize the model"):
        Q.load_safetensors(_tiny_llama(), path)                 # float model, int8 file
    with pytest.raises(FileNotFoundError, match="save_safetensors"):
        Q.load_safetensors(book, tmp_path / "missing.safetensors")
    with pytest.raises(FileNotFoundError, match="folder"):
        Q.save_safetensors(book, tmp_path / "no" / "x.safetensors")
    from safetensors.torch import save_file
    save_file({"model.norm.weight": torch.ones(32)}, str(tmp_path / "part.safetensors"))
    with pytest.raises(ValueError, match="lacks"):
        Q.load_safetensors(book, tmp_path / "part.safetensors")
    save_file({"model.norm.weight": torch.ones(31)}, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ValueError, match="shape|holds"):
        Q.load_safetensors(book, tmp_path / "bad.safetensors")


def test_perplexity_matches_the_library_loss():
    model = _tiny_llama()
    ids = torch.randint(96, (50,), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        loss = model(ids[None], labels=ids[None]).loss
    assert math.isclose(Q.perplexity(model, ids, window=64), math.exp(loss), rel_tol=1e-5)
    assert Q.perplexity(model, ids[None], window=64) == Q.perplexity(model, ids, window=64)
    parts = [ids[i:i + 20] for i in range(0, 50, 20)]            # 20, 20, 10
    with torch.no_grad():
        nll = sum(F.cross_entropy(model(c[None]).logits[0, :-1], c[1:], reduction="sum")
                  for c in parts)
    assert math.isclose(Q.perplexity(model, ids, window=20), math.exp(nll / 47), rel_tol=1e-5)
    with pytest.raises(TypeError, match="LongTensor"):
        Q.perplexity(model, ids.float())
    with pytest.raises(ValueError, match="one sequence"):
        Q.perplexity(model, ids.view(2, 25))
    with pytest.raises(ValueError, match="two tokens"):
        Q.perplexity(model, ids[:1])
    with pytest.raises(ValueError, match="window"):
        Q.perplexity(model, ids, window=1)


def test_generation_speed_generates_exactly_n_tokens():
    model = _tiny_llama()
    prompt = torch.tensor([5, 6, 7])
    speed = Q.generation_speed(model, prompt, new_tokens=9, warmup=0)
    assert speed.new_tokens == 9 and speed.output_ids.shape == (9,)
    assert speed.seconds > 0 and math.isclose(speed.tokens_per_second, 9 / speed.seconds)
    greedy = model.generate(prompt[None], attention_mask=torch.ones(1, 3, dtype=torch.long),
                            do_sample=False, max_new_tokens=9, min_new_tokens=9,
                            pad_token_id=0)[0, 3:]
    assert torch.equal(speed.output_ids, greedy)
    assert Q.generation_speed(Q.quantize_model(model), prompt, new_tokens=2).new_tokens == 2
    with pytest.raises(ValueError, match="new_tokens"):
        Q.generation_speed(model, prompt, new_tokens=0)
    with pytest.raises(ValueError, match="warmup"):
        Q.generation_speed(model, prompt, warmup=-1)


@pytest.mark.parametrize("bad,error,match", [
    ([[1.0, 2.0]], TypeError, "torch.Tensor"),
    (torch.ones(3), ValueError, "2-D"),
    (torch.ones(2, 3, dtype=torch.int32), TypeError, "floating"),
    (torch.ones(0, 3), ValueError, "empty"),
    (torch.tensor([[1.0, float("nan")]]), ValueError, "NaN"),
])
def test_quantize_argument_errors(bad, error, match):
    with pytest.raises(error, match=match):
        Q.quantize_int8(bad)


def test_other_argument_errors():
    w = torch.ones(2, 3)
    for qmax, error in ((128, ValueError), (0.5, ValueError), (True, TypeError),
                        ("127", TypeError)):
        with pytest.raises(error, match="qmax"):
            Q.quantize_int8(w, qmax=qmax)
    q, scale = Q.quantize_int8(w)
    with pytest.raises(TypeError, match="int8"):
        Q.dequantize_int8(q.float(), scale)
    with pytest.raises(ValueError, match="one per row"):
        Q.dequantize_int8(q, scale[:1])
    with pytest.raises(TypeError, match="dtype"):
        Q.dequantize_int8(q, scale, torch.int32)
    with pytest.raises(TypeError, match="nn.Module"):
        Q.quantize_model("model")
    with pytest.raises(TypeError, match="skip"):
        Q.quantize_model(_tiny_llama(), skip="lm_head")
    with pytest.raises(TypeError, match="inplace"):
        Q.quantize_model(_tiny_llama(), inplace=1)
    with pytest.raises(ValueError, match="no linear"):
        Q.weight_differences(torch.nn.ReLU(), torch.nn.ReLU())
    with pytest.raises(ValueError, match="shape"):
        Q.weight_differences(torch.nn.Sequential(torch.nn.Linear(2, 3)),
                             torch.nn.Sequential(torch.nn.Linear(3, 3)))
