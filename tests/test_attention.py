"""Tests of llmbook.attention: equality with PyTorch's built-ins and clear errors."""

import pytest
import torch
import torch.nn.functional as F

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
