"""Tests of llmbook.attention: equality with PyTorch's built-ins and clear errors."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook import attention
from llmbook.attention import (MultiHeadAttention, causal_mask, padding_mask,
                               scaled_dot_product_attention)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", [(4, 3), (2, 5, 8), (2, 3, 6, 16)])
def test_matches_torch_sdpa(shape):
    q, k, v = torch.randn(shape), torch.randn(shape), torch.randn(shape)
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v), atol=1e-6, rtol=0)


def test_matches_torch_sdpa_with_causal_and_padding_masks():
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    ours = scaled_dot_product_attention(q, k, v, causal_mask(5))
    torch.testing.assert_close(ours, F.scaled_dot_product_attention(q, k, v, is_causal=True),
                               atol=1e-6, rtol=0)
    pad = padding_mask([5, 3])
    torch.testing.assert_close(scaled_dot_product_attention(q, k, v, pad),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=pad),
                               atol=1e-6, rtol=0)


def test_weights_rows_sum_to_one_and_respect_mask():
    q, k, v = torch.randn(6, 4), torch.randn(6, 4), torch.randn(6, 2)
    _, w = scaled_dot_product_attention(q, k, v, causal_mask(6), return_weights=True)
    torch.testing.assert_close(w.sum(-1), torch.ones(6))
    assert (w.triu(1) == 0).all()


def test_cross_attention_shapes():
    out = scaled_dot_product_attention(torch.randn(2, 4), torch.randn(7, 4), torch.randn(7, 3))
    assert out.shape == (2, 3)


def test_masks():
    assert causal_mask(3).tolist() == [[True, False, False], [True, True, False],
                                       [True, True, True]]
    m = padding_mask([2, 3])
    assert m.shape == (2, 1, 1, 3) and m[0, 0, 0].tolist() == [True, True, False]
    assert padding_mask([2], max_len=4).shape == (1, 1, 1, 4)


@pytest.mark.parametrize("batch_first_inputs", [(1, 5), (3, 9)])
def test_multihead_matches_torch(batch_first_inputs):
    batch, length = batch_first_inputs
    torch_mha = torch.nn.MultiheadAttention(32, 4, batch_first=True)
    ours = MultiHeadAttention(32, 4).load_from_torch(torch_mha)
    x = torch.randn(batch, length, 32)
    expected, expected_w = torch_mha(x, x, x, average_attn_weights=False)
    torch.testing.assert_close(ours(x), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(ours.last_weights, expected_w, atol=1e-6, rtol=0)
    mask = causal_mask(length)
    expected, _ = torch_mha(x, x, x, attn_mask=~mask)  # torch: True = blocked
    torch.testing.assert_close(ours(x, mask=mask), expected, atol=1e-6, rtol=0)


def test_multihead_cross_attention_and_parameter_count():
    mha = MultiHeadAttention(16, 2)
    assert mha(torch.randn(2, 3, 16), torch.randn(2, 5, 16)).shape == (2, 3, 16)
    assert sum(p.numel() for p in mha.parameters()) == 4 * 16 * 16 + 4 * 16


@pytest.mark.parametrize("args, error, words", [
    (("not a tensor", torch.randn(2, 2), torch.randn(2, 2)), TypeError, "torch.Tensor"),
    ((torch.randn(3), torch.randn(3), torch.randn(3)), ValueError, "at least 2"),
    ((torch.randn(4, 3), torch.randn(4, 2), torch.randn(4, 1)), ValueError, "same last"),
    ((torch.randn(4, 3), torch.randn(4, 3), torch.randn(5, 1)), ValueError, "same length"),
    ((torch.ones(2, 2, dtype=torch.long),) * 3, TypeError, "floating-point"),
])
def test_sdpa_errors(args, error, words):
    with pytest.raises(error, match=words):
        scaled_dot_product_attention(*args)


def test_sdpa_mask_errors():
    q = torch.randn(4, 3)
    with pytest.raises(ValueError, match="does not broadcast"):
        scaled_dot_product_attention(q, q, q, causal_mask(5))
    with pytest.raises(TypeError, match="mask must be"):
        scaled_dot_product_attention(q, q, q, [[True]])


def test_module_errors():
    with pytest.raises(ValueError, match="divisible"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="positive int"):
        MultiHeadAttention(0, 1)
    with pytest.raises(ValueError, match=r"\(batch, length, d_model=8\)"):
        MultiHeadAttention(8, 2)(torch.randn(2, 3, 6))
    with pytest.raises(ValueError, match="positive int"):
        causal_mask(0)
    with pytest.raises(ValueError, match="shorter"):
        padding_mask([3, 4], max_len=2)
    with pytest.raises(TypeError, match="MultiheadAttention"):
        MultiHeadAttention(8, 2).load_from_torch(torch.nn.Linear(2, 2))


# ---- dot-product with any scale, additive and functional multi-head attention (Chapter 4)

def test_dot_product_attention_scales_match_torch():
    q, k, v = (torch.randn(2, 3, 5, 8) for _ in range(3))
    torch.testing.assert_close(attention.dot_product_attention(q, k, v, scale=None),
                               F.scaled_dot_product_attention(q, k, v), atol=1e-6, rtol=0)
    torch.testing.assert_close(attention.dot_product_attention(q, k, v),
                               F.scaled_dot_product_attention(q, k, v, scale=1.0),
                               atol=1e-6, rtol=0)
    pad = padding_mask([5, 2])
    torch.testing.assert_close(attention.dot_product_attention(q, k, v, pad, scale=None),
                               F.scaled_dot_product_attention(q, k, v, attn_mask=pad),
                               atol=1e-6, rtol=0)


def test_dot_product_attention_errors():
    q = torch.randn(4, 3)
    with pytest.raises(ValueError, match="last dimension"):
        attention.dot_product_attention(q, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(ValueError, match="same length"):
        attention.dot_product_attention(q, q, torch.randn(5, 2))
    with pytest.raises(ValueError, match="scale"):
        attention.dot_product_attention(q, q, q, scale=-1.0)
    with pytest.raises(TypeError, match="mask must be a torch.Tensor"):
        attention.dot_product_attention(q, q, q, [[True]])
    with pytest.raises(ValueError, match="broadcast"):
        attention.dot_product_attention(q, q, q, torch.ones(3, 3, dtype=torch.bool))
    with pytest.raises(TypeError):
        attention.dot_product_attention([[1.0]], q, q)


def test_additive_attention_matches_a_loop():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 5, 6), torch.randn(2, 5, 2)
    w_q, w_k, w = torch.randn(4, 7), torch.randn(6, 7), torch.randn(7)
    out, weights = attention.additive_attention(q, k, v, w_q, w_k, w, return_weights=True)
    for b in range(2):
        for i in range(3):
            e = torch.stack([w @ torch.tanh(q[b, i] @ w_q + k[b, j] @ w_k) for j in range(5)])
            torch.testing.assert_close(weights[b, i], torch.softmax(e, 0))
            torch.testing.assert_close(out[b, i], torch.softmax(e, 0) @ v[b])
    module = attention.AdditiveAttention(4, 6, 7)
    assert module(q, k, v).shape == (2, 3, 2)
    masked = attention.additive_attention(q, k, v, w_q, w_k, w, causal_mask(5)[:3],
                                      return_weights=True)[1]
    assert (masked.triu(1) == 0).all()


def test_additive_errors():
    q, k = torch.randn(3, 4), torch.randn(5, 6)
    with pytest.raises(ValueError, match="w_query"):
        attention.additive_scores(q, k, torch.randn(5, 7), torch.randn(6, 7), torch.randn(7))
    with pytest.raises(ValueError, match="d_a"):
        attention.additive_scores(q, k, torch.randn(4, 7), torch.randn(6, 8), torch.randn(7))
    with pytest.raises(ValueError, match="dimension"):
        attention.additive_scores(q, k, torch.randn(4, 7), torch.randn(6, 7), torch.randn(7, 1))
    with pytest.raises(ValueError):
        attention.AdditiveAttention(0, 3, 3)


def test_multi_head_attention_matches_torch():
    mha = nn.MultiheadAttention(16, 4, bias=False, batch_first=True)
    w_q, w_k, w_v = (w.T for w in mha.in_proj_weight.detach().chunk(3))
    w_o = mha.out_proj.weight.detach().T
    x, mem = torch.randn(2, 5, 16), torch.randn(2, 7, 16)
    expected, _ = mha(x, mem, mem)
    ours = attention.multi_head_attention(x, mem, mem, w_q, w_k, w_v, w_o, 4)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)
    expected, _ = mha(x, x, x, attn_mask=~causal_mask(5))
    ours = attention.multi_head_attention(x, x, x, w_q, w_k, w_v, w_o, 4, causal_mask(5))
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=0)


def test_multi_head_attention_errors():
    x, w = torch.randn(2, 5, 16), torch.randn(16, 16)
    with pytest.raises(ValueError, match="divisible"):
        attention.multi_head_attention(x, x, x, w, w, w, w, 3)
    with pytest.raises(ValueError, match=r"\(16, 16\)"):
        attention.multi_head_attention(x, x, x, w, w, torch.randn(16, 8), w, 4)
    with pytest.raises(ValueError, match="3 dimensions"):
        attention.multi_head_attention(x[0], x[0], x[0], w, w, w, w, 4)
    with pytest.raises(ValueError, match="x_key"):
        attention.multi_head_attention(x, x, torch.randn(2, 6, 16), w, w, w, w, 4)
    with pytest.raises(ValueError, match="num_heads"):
        attention.multi_head_attention(x, x, x, w, w, w, w, 0)


def test_dot_product_attention_shares_the_scaled_one():
    q, k, v = torch.randn(2, 6, 8), torch.randn(2, 7, 8), torch.randn(2, 7, 3)
    for s in (1.0, 0.3, 1 / math.sqrt(8)):
        torch.testing.assert_close(attention.dot_product_attention(q, k, v, scale=s),
                                   scaled_dot_product_attention(q, k, v, scale=s))
        torch.testing.assert_close(scaled_dot_product_attention(q, k, v, scale=s),
                                   F.scaled_dot_product_attention(q, k, v, scale=s),
                                   atol=1e-6, rtol=0)


def test_masked_softmax_blocks_with_a_boolean_or_an_additive_mask():
    scores = torch.randn(3, 4)
    mask = causal_mask(4)[:3]
    weights = attention.masked_softmax(scores, mask)
    assert torch.equal(weights == 0, ~mask)
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    additive = torch.zeros(3, 4).masked_fill(~mask, float("-inf"))
    torch.testing.assert_close(attention.masked_softmax(scores, additive), weights)
    nowhere = attention.masked_softmax(scores, torch.zeros(3, 4, dtype=torch.bool))
    assert torch.equal(nowhere, torch.zeros(3, 4))     # a query that may attend nowhere
    with pytest.raises(ValueError, match="broadcast"):
        attention.masked_softmax(scores, torch.ones(2, 2, dtype=torch.bool))
