"""Graders of the exercises on the modern GPT (5.7): RMSNorm and rotary position embeddings."""

from __future__ import annotations

from typing import Callable

import torch

from ._feedback import Case, Feedback, _close, _compare, _run_cases

__all__ = ["check_rms_norm", "check_rope"]


def check_rms_norm(fn: Callable) -> Feedback:
    """Grade ``fn(x (..., d), weight (d,), eps) -> (..., d)``, RMSNorm
    ``x / sqrt(mean(x**2) + eps) * weight`` over the last axis, against ``torch.nn.RMSNorm``
    (and :class:`llmbook.modern.RMSNorm`, which equals it)."""
    g = torch.Generator().manual_seed(0)

    def cases():
        for label, shape, eps, scale in (("x of shape (2, 5, 8), eps = 1e-6", (2, 5, 8), 1e-6, 1),
                                         ("a single vector (16,)", (16,), 1e-6, 1),
                                         ("tiny inputs (3, 4) where eps matters, eps = 1e-2",
                                          (3, 4), 1e-2, 1e-2),
                                         ("large inputs (4, 32), eps = 1e-5", (4, 32), 1e-5,
                                          100)):
            x = torch.randn(*shape, generator=g) * scale
            weight = 1 + 0.5 * torch.randn(shape[-1], generator=g)
            norm = torch.nn.RMSNorm(shape[-1], eps=eps)
            with torch.no_grad():
                norm.weight.copy_(weight)
                expected = norm(x)
            yield Case(label, (x.clone(), weight.clone(), eps), (x, weight, eps, expected))

    def judge(case: Case, got) -> str | None:
        x, weight, eps, expected = case.context
        problem = _compare(case.label, got, expected, atol=1e-5)
        if problem is None:
            return None
        hints = [(torch.nn.functional.layer_norm(x, x.shape[-1:], weight, eps=eps),
                  "That is LayerNorm: RMSNorm does not subtract the mean."),
                 (x / torch.sqrt((x ** 2).mean(-1, keepdim=True) + eps),
                  "Multiply by the learned weight (the gain) at the end."),
                 (x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * weight,
                  "eps goes inside the square root: sqrt(mean(x**2) + eps)."),
                 (x / torch.sqrt((x ** 2).sum(-1, keepdim=True) + eps) * weight,
                  "Take the mean of the squares over the last axis, not their sum."),
                 (x / torch.sqrt((x ** 2).mean(0, keepdim=True) + eps) * weight,
                  "Normalise over the last axis (dim=-1): each vector by its own RMS.")]
        for wrong, hint in hints:
            if _close(got, wrong, atol=1e-5):
                return f"{problem} {hint}"
        return problem

    return _run_cases(fn, cases(), judge, "RMSNorm matches torch.nn.RMSNorm on all 4 cases.")


def check_rope(fn: Callable) -> Feedback:
    """Grade ``fn(x (T, d), base) -> (T, d)``: rotary embeddings in the "rotate half" layout
    of Llama and ``transformers`` -- the vector at position ``m`` has its pairs
    ``(x_i, x_{i+d/2})`` turned by the angle ``m * base**(-2i/d)`` -- against
    :func:`llmbook.modern.apply_rope` with :func:`llmbook.modern.rope_cache` (equal to
    ``transformers``' Llama rotary embedding)."""
    from ..modern import apply_rope, rope_cache
    g = torch.Generator().manual_seed(1)

    def cases():
        for label, T, d, base in (("8 positions, head_dim 4, base 10000", 8, 4, 10000.0),
                                  ("16 positions, head_dim 32, base 10000", 16, 32, 10000.0),
                                  ("5 positions, head_dim 8, base 100", 5, 8, 100.0)):
            x = torch.randn(T, d, generator=g)
            cos, sin = rope_cache(T, d, base)
            yield Case(label, (x.clone(), base), (x, base, apply_rope(x, cos, sin)))

    def judge(case: Case, got) -> str | None:
        x, base, expected = case.context
        problem = _compare(case.label, got, expected, atol=1e-4)
        if problem is None:
            return None
        T, d = x.shape
        if _close(got, x, atol=1e-5):
            return f"{problem} Your output is the input: rotate position m by m * theta_i."
        inv = 1.0 / base ** (torch.arange(0, d, 2).float() / d)
        angles = torch.arange(T).float()[:, None] * inv
        inter = x.clone()                           # the interleaved layout (pairs 2i, 2i+1)
        inter[:, 0::2] = x[:, 0::2] * angles.cos() - x[:, 1::2] * angles.sin()
        inter[:, 1::2] = x[:, 1::2] * angles.cos() + x[:, 0::2] * angles.sin()
        if _close(got, inter, atol=1e-4):
            return (f"{problem} You rotate neighbouring pairs (x_2i, x_2i+1), the layout of "
                    f"the RoPE paper; Llama and transformers pair x_i with x_(i + d/2) "
                    f"(rotate_half). Both are rotations; this exercise asks for the second.")
        cos, sin = torch.cat([angles, angles], -1).cos(), torch.cat([angles, angles], -1).sin()
        x1, x2 = x.chunk(2, -1)
        if _close(got, x * cos + torch.cat([x2, -x1], -1) * sin, atol=1e-4):
            return f"{problem} The rotation turns the wrong way: rotate_half(x) is [-x2, x1]."
        return problem

    return _run_cases(fn, cases(), judge,
                      "rotary embeddings match the Llama layout of transformers on all 3 cases.")
