"""Tests of llmbook.mathx: attention variants and layer equations vs PyTorch, and errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook import mathx
from llmbook.attention import causal_mask, padding_mask


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_dot_product_attention_scales_match_torch():
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    torch.testing.assert_close(mathx.dot_product_attention(q, k, v, scale=None),
                               F.scaled_dot_product_attention(q, k, v), atol=1e-6, rtol=0)
    torch.testing.assert_close(mathx.dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v, scale=1.0),
                               atol=1e-6, rtol=0)
    pad = padding_mask([5, 2])
    torch.testing.assert_close(mathx.dot_product_attention(q, k, v, pad, scale=None),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=pad),
                               atol=1e-6, rtol=0)


def test_dot_product_attention_errors():
    q = torch.randn(4, 3)
    with pytest.raises(ValueError, match="last dimension"):
        mathx.dot_product_attention(q, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="same length"):
        mathx.dot_product_attention(q, q, torch.randn(5, 2))
    with pytest.raises(ValueError, match="scale"):
        mathx.dot_product_attention(q, q, q, scale=-1.0)
    with pytest.raises(TypeError, match="boolean"):
        mathx.dot_product_attention(q, q, q, torch.ones(4, 4))
    with pytest.raises(ValueError, match="broadcast"):
        mathx.dot_product_attention(q, q, q, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError):
        mathx.dot_product_attention([[1.0]], q, q)


def test_additive_attention_matches_a_loop():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 6), torch.randn(2, 5, 2)
    w_q, w_k, w = torch.randn(4, 7), torch.randn(6, 7), torch.randn(7)
    out, weights = mathx.additive_attention(q, k, v, w_q, w_k, w, return_weights=True)
    for b in range(2):
        for i in range(3):
            e = torch.stack([w @ torch.tanh(q[b, i] @ w_q + k[b, j] @ w_k) for j in range(5)])
            torch.testing.assert_close(weights[b, i], torch.softmax(e, 0))
            torch.testing.assert_close(out[b, i], torch.softmax(e, 0) @ v[b])
    module = mathx.AdditiveAttention(4, 6, 7)
    assert module(q, k, v).shape == (2, 3, 2)
    masked = mathx.additive_attention(q, k, v, w_q, w_k, w, causal_mask(5)[:3],
                                      return_weights=True)[1]
    assert (masked.triu(1) == 0).all()


def test_additive_errors():
    q, k = torch.randn(3, 4), torch.randn(5, 6)
    with pytest.raises(ValueError, match="w_query"):
        mathx.additive_scores(q, k, torch.randn(5, 7), torch.randn(6, 7), torch.randn(7))
    with pytest.raises(ValueError, match="d_a"):
        mathx.additive_scores(q, k, torch.randn(4, 7), torch.randn(6, 8), torch.randn(7))
    with pytest.raises(ValueError, match="dimension"):
        mathx.additive_scores(q, k, torch.randn(4, 7), torch.randn(6, 7), torch.randn(7, 1))
    with pytest.raises(ValueError):
        mathx.AdditiveAttention(0, 3, 3)


def test_multi_head_attention_matches_torch():
    mha = nn.MultiheadAttention(16, 4, bias=False, batch_first=True)
    w_q, w_k, w_v = (w.T for w in mha.in_proj_weight.detach().chunk(3))
    w_o = mha.out_proj.weight.detach().T
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected, _ = mha(x, mem, mem)
    ours = mathx.multi_head_attention(x, mem, mem, w_q, w_k, w_v, w_o, 4)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    expected, _ = mha(x, x, x, attn_mask=~causal_mask(5))
    ours = mathx.multi_head_attention(x, x, x, w_q, w_k, w_v, w_o, 4, causal_mask(5))
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_multi_head_attention_errors():
    x, w = torch.randn(2, 5, 16), torch.randn(16, 16)
    with pytest.raises(ValueError, match="divisible"):
        mathx.multi_head_attention(x, x, x, w, w, w, w, 3)
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        mathx.multi_head_attention(x, x, x, w, w, torch.randn(16, 8), w, 4)
    with pytest.raises(ValueError, match="3 dimensions"):
        mathx.multi_head_attention(x[0], x[0], x[0], w, w, w, w, 4)
    with pytest.raises(ValueError, match="x_key"):
        mathx.multi_head_attention(x, x, torch.randn(2, 6, 16), w, w, w, w, 4)
    with pytest.raises(ValueError, match="num_heads"):
        mathx.multi_head_attention(x, x, x, w, w, w, w, 0)


def test_softmax_saturation():
    r = mathx.softmax_saturation([4, 256], num_keys=8, num_queries=500)
    assert r["d_k"] == [4, 256]
    assert r["var_raw"][1] > 150 and abs(r["var_scaled"][1] - 1) < 0.2
    assert r["max_weight_raw"][1] > 0.9 > r["max_weight_scaled"][1]
    assert r["jacobian_norm_raw"][1] < r["jacobian_norm_scaled"][1]
    with pytest.raises(ValueError):
        mathx.softmax_saturation([])
    with pytest.raises(ValueError):
        mathx.softmax_saturation([4], num_keys=1)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_matches_torch(norm_first):
    torch_layer = nn.TransformerEncoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                             norm_first=norm_first).eval()
    ours = mathx.EncoderLayer(16, 4, 32, norm_first=norm_first).load_from_torch(torch_layer)
    x = torch.randn(2, 6, 16)
    torch.testing.assert_close(ours(x), torch_layer(x), atol=1e-5, rtol=0)
    mask = causal_mask(6)
    torch.testing.assert_close(ours(x, mask), torch_layer(x, src_mask=~mask),
                               atol=1e-5, rtol=0)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    torch_layer = nn.TransformerDecoderLayer(16, 4, 32, dropout=0.0, batch_first=True,
                                             norm_first=norm_first).eval()
    ours = mathx.DecoderLayer(16, 4, 32, norm_first=norm_first).load_from_torch(torch_layer)
    y, memory = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected = torch_layer(y, memory, tgt_mask=~causal_mask(5))
    torch.testing.assert_close(ours(y, memory), expected, atol=1e-5, rtol=0)


def test_layer_errors():
    with pytest.raises(TypeError, match="norm_first"):
        mathx.EncoderLayer(16, 4, 32, norm_first=1)
    with pytest.raises(TypeError, match="norm_first"):
        mathx.DecoderLayer(16, 4, 32, norm_first="yes")
    with pytest.raises(ValueError, match="norm_first differs"):
        mathx.EncoderLayer(16, 4, 32).load_from_torch(
            nn.TransformerEncoderLayer(16, 4, 32, norm_first=True))
    with pytest.raises(ValueError, match="norm_first differs"):
        mathx.DecoderLayer(16, 4, 32).load_from_torch(
            nn.TransformerDecoderLayer(16, 4, 32, norm_first=True))
    with pytest.raises(TypeError):
        mathx.EncoderLayer(16, 4, 32).load_from_torch(nn.Linear(2, 2))
    with pytest.raises(TypeError):
        mathx.DecoderLayer(16, 4, 32).load_from_torch(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="d_ff"):
        mathx.EncoderLayer(16, 4, 32).load_from_torch(nn.TransformerEncoderLayer(16, 4, 64))
    with pytest.raises(ValueError, match="same B"):
        mathx.DecoderLayer(16, 4, 32)(torch.randn(2, 5, 16), torch.randn(3, 5, 16))
    with pytest.raises(ValueError):
        mathx.FeedForward(16, 0)


def test_tiny_lm_and_gradient_norms():
    for norm_first in (False, True):
        model = mathx.TinyLM(20, d_model=16, num_heads=2, d_ff=32, depth=3, max_len=8,
                             norm_first=norm_first)
        ids = torch.randint(0, 20, (2, 8))
        logits = model(ids)
        assert logits.shape == (2, 8, 20)
        with pytest.raises(RuntimeError, match="backward"):
            mathx.layer_gradient_norms(model)
        F.cross_entropy(logits.reshape(-1, 20), ids.reshape(-1)).backward()
        norms = mathx.layer_gradient_norms(model)
        assert len(norms) == 3 and all(n > 0 for n in norms)
    # causal: changing a later token does not change earlier logits
    ids2 = ids.clone()
    ids2[:, -1] = (ids2[:, -1] + 1) % 20
    torch.testing.assert_close(model(ids)[:, :-1], model(ids2)[:, :-1])
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randint(0, 20, (1, 9)))
    with pytest.raises(ValueError, match="integer"):
        model(torch.randn(1, 4))
    with pytest.raises(ValueError, match="depth"):
        mathx.TinyLM(20, depth=0)
    with pytest.raises(TypeError):
        mathx.layer_gradient_norms(nn.Linear(2, 2))


def test_worked_example():
    ex = mathx.worked_example()
    assert ex["X"].shape == (4, 3) and ex["Q"].shape == (4, 4) and ex["V"].shape == (4, 2)
    assert ex["sqrt_dk"] == 2.0
    torch.testing.assert_close(ex["weights"].sum(-1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(
        ex["output"], F.scaled_dot_product_attention(ex["Q"], ex["K"], ex["V"]))
    assert ex["scores"].eq(ex["scores"].round()).all()  # integers, for pen and paper
    assert len(mathx.WORKED_TOKENS) == 4
    assert math.isclose(float(ex["scaled_scores"][0, 2]), 2.0)
