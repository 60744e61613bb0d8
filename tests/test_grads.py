"""Tests of llmbook.grads: hand-written gradients vs autograd and gradcheck."""

import pytest
import torch

from llmbook import grads
from llmbook.attention import causal_mask


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_softmax_matches_torch_and_is_stable():
    s = torch.randn(3, 7) * 5
    torch.testing.assert_close(grads.softmax(s), torch.softmax(s, -1))
    big = torch.tensor([1000.0, 1001.0])
    assert torch.isfinite(grads.softmax(big)).all()
    torch.testing.assert_close(grads.softmax(s, dim=0), torch.softmax(s, 0))


def test_softmax_jacobian_and_backward_match_autograd():
    s = torch.randn(6, dtype=torch.float64)
    p = torch.softmax(s, -1)
    jac = torch.autograd.functional.jacobian(lambda z: torch.softmax(z, -1), s)
    torch.testing.assert_close(grads.softmax_jacobian(p), jac)
    s = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    p = torch.softmax(s, -1)
    g = torch.randn_like(p)
    (expected,) = torch.autograd.grad(p, s, g)
    torch.testing.assert_close(grads.softmax_backward(p.detach(), g), expected)


def test_softmax_errors():
    with pytest.raises(ValueError, match="same shape"):
        grads.softmax_backward(torch.rand(3), torch.rand(4))
    with pytest.raises(TypeError):
        grads.softmax(torch.tensor([1, 2]))
    with pytest.raises(TypeError):
        grads.softmax_jacobian([0.5, 0.5])


@pytest.mark.parametrize("mask", [None, causal_mask(5)])
def test_attention_backward_matches_autograd_and_gradcheck(mask):
    q, k, v = (torch.randn(2, 5, 4, dtype=torch.float64, requires_grad=True)
               for _ in range(3))
    out, p = grads.attention_forward(q, k, v, mask)
    ref = torch.nn.functional.scaled_dot_product_attention(
        q, k, v, attn_mask=mask)
    torch.testing.assert_close(out, ref)
    g = torch.randn_like(out)
    expected = torch.autograd.grad(ref, (q, k, v), g)
    ours = grads.attention_backward(q.detach(), k.detach(), v.detach(), p.detach(), g)
    for a, b in zip(ours, expected):
        torch.testing.assert_close(a, b)
    assert torch.autograd.gradcheck(lambda a, b, c: grads.hand_attention(a, b, c, mask),
                                    (q, k, v))


def test_attention_errors():
    q = torch.randn(4, 3)
    with pytest.raises(ValueError, match="need q"):
        grads.attention_forward(q, torch.randn(4, 2), torch.randn(4, 2))
    with pytest.raises(TypeError, match="boolean"):
        grads.attention_forward(q, q, q, torch.ones(4, 4))
    out, p = grads.attention_forward(q, q, q)
    with pytest.raises(ValueError, match="grad_out"):
        grads.attention_backward(q, q, q, p, torch.randn(4, 2))


def test_sgd_step():
    w = torch.tensor([1.0, -2.0], requires_grad=True)
    (w ** 2).sum().backward()
    grads.sgd_step([w], lr=0.1)
    torch.testing.assert_close(w.detach(), torch.tensor([0.8, -1.6]))
    assert w.grad is None
    with pytest.raises(RuntimeError, match="backward"):
        grads.sgd_step([w], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        grads.sgd_step([w], lr=0)
    with pytest.raises(TypeError):
        grads.sgd_step([1.0], lr=0.1)
