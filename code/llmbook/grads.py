"""Gradients by hand (Section 4.3): softmax and scaled dot-product attention.

With :math:`S = QK^\\top/\\sqrt{d_k}`, :math:`P = \\mathrm{softmax}(S)` (row-wise) and
:math:`O = PV`, an upstream gradient :math:`G = \\partial L/\\partial O` gives

* :math:`\\partial L/\\partial V = P^\\top G`,
* :math:`\\partial L/\\partial P = G V^\\top`,
* :math:`\\partial L/\\partial S = P \\odot (\\partial L/\\partial P - \\mathrm{rowsum}(P \\odot \\partial L/\\partial P))`,
* :math:`\\partial L/\\partial Q = (\\partial L/\\partial S)\\,K/\\sqrt{d_k}`,
  :math:`\\partial L/\\partial K = (\\partial L/\\partial S)^\\top Q/\\sqrt{d_k}`.

:class:`HandAttention` wires these into autograd, so ``torch.autograd.gradcheck`` can
test them against finite differences.
"""

from __future__ import annotations

import math
from typing import Iterable

import torch

from .attention import _check_tensor

__all__ = ["softmax", "softmax_jacobian", "softmax_backward", "attention_forward",
           "attention_backward", "HandAttention", "hand_attention", "sgd_step"]


def softmax(scores: torch.Tensor, dim: int = -1) -> torch.Tensor:
    r"""Numerically stable softmax, :math:`e^{s_i - \max s} / \sum_j e^{s_j - \max s}`."""
    _check_tensor("scores", scores, 1)
    shifted = scores - scores.amax(dim=dim, keepdim=True)
    exp = shifted.exp()
    return exp / exp.sum(dim=dim, keepdim=True)


def softmax_jacobian(p: torch.Tensor) -> torch.Tensor:
    r"""The Jacobian :math:`\partial p_i/\partial s_j = p_i(\delta_{ij} - p_j)`, i.e.
    :math:`\mathrm{diag}(p) - pp^\top`, for softmax outputs ``p (..., n)`` -> ``(..., n, n)``."""
    _check_tensor("p", p, 1)
    return torch.diag_embed(p) - p.unsqueeze(-1) * p.unsqueeze(-2)


def softmax_backward(p: torch.Tensor, grad_p: torch.Tensor) -> torch.Tensor:
    r"""The vector-Jacobian product of the softmax along the last dimension:
    :math:`\partial L/\partial s = p \odot (g - \langle g, p\rangle)` with ``g = grad_p``."""
    _check_tensor("p", p, 1)
    _check_tensor("grad_p", grad_p, 1)
    if p.shape != grad_p.shape:
        raise ValueError(f"p and grad_p must have the same shape, got {tuple(p.shape)} and "
                         f"{tuple(grad_p.shape)}.")
    return p * (grad_p - (grad_p * p).sum(-1, keepdim=True))


def attention_forward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                      mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Scaled dot-product attention that also returns ``P`` (needed by the backward pass).

    Shapes: ``q (..., T, d_k)``, ``k (..., S, d_k)``, ``v (..., S, d_v)``; returns
    ``(O (..., T, d_v), P (..., T, S))``. ``mask`` is boolean, ``True`` = may attend.
    """
    for name, x in (("q", q), ("k", k), ("v", v)):
        _check_tensor(name, x, 2)
    if q.size(-1) != k.size(-1) or k.size(-2) != v.size(-2):
        raise ValueError(f"need q (..., T, d_k), k (..., S, d_k), v (..., S, d_v); got "
                         f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}.")
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.size(-1))
    if mask is not None:
        if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
            raise TypeError("mask must be a boolean tensor (True = may attend).")
        scores = scores.masked_fill(~mask, float("-inf"))
    p = softmax(scores)
    return p @ v, p


def attention_backward(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, p: torch.Tensor,
                       grad_out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The gradients ``(dQ, dK, dV)`` of scaled dot-product attention, by hand.

    ``p`` is the weight matrix of :func:`attention_forward`; ``grad_out`` has the
    output's shape ``(..., T, d_v)``. Masked positions have ``p = 0`` and so get no
    gradient, with no special case.
    """
    if grad_out.shape != p.shape[:-1] + v.shape[-1:]:
        raise ValueError(f"grad_out must have the output's shape "
                         f"{tuple(p.shape[:-1] + v.shape[-1:])}, got {tuple(grad_out.shape)}.")
    scale = 1.0 / math.sqrt(q.size(-1))
    grad_v = p.transpose(-2, -1) @ grad_out            # (..., S, d_v)
    grad_p = grad_out @ v.transpose(-2, -1)            # (..., T, S)
    grad_s = softmax_backward(p, grad_p)               # (..., T, S)
    grad_q = grad_s @ k * scale                        # (..., T, d_k)
    grad_k = grad_s.transpose(-2, -1) @ q * scale      # (..., S, d_k)
    return grad_q, grad_k, grad_v


class HandAttention(torch.autograd.Function):
    """Scaled dot-product attention whose backward pass is :func:`attention_backward`."""

    @staticmethod
    def forward(ctx, q, k, v, mask=None):  # noqa: D102
        out, p = attention_forward(q, k, v, mask)
        ctx.save_for_backward(q, k, v, p)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: D102
        q, k, v, p = ctx.saved_tensors
        grad_q, grad_k, grad_v = attention_backward(q, k, v, p, grad_out)
        return grad_q, grad_k, grad_v, None


def hand_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                   mask: torch.Tensor | None = None) -> torch.Tensor:
    """Scaled dot-product attention with the hand-written backward pass."""
    return HandAttention.apply(q, k, v, mask)


@torch.no_grad()
def sgd_step(params: Iterable[torch.Tensor], lr: float) -> None:
    r"""One step of gradient descent, :math:`\theta \leftarrow \theta - \alpha\nabla_\theta L`,
    in place; then clears the gradients."""
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or lr <= 0:
        raise ValueError(f"lr (the learning rate alpha) must be a positive number, got {lr!r}.")
    params = list(params)
    for p in params:
        if not isinstance(p, torch.Tensor):
            raise TypeError(f"params must be tensors, got {type(p).__name__}.")
        if p.grad is None:
            raise RuntimeError("a parameter has no gradient: call loss.backward() first.")
    for p in params:
        p -= lr * p.grad
        p.grad = None
