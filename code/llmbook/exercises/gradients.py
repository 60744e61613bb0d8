"""Graders of the exercises on gradients written by hand: the softmax's backward pass
(4.3)."""

from __future__ import annotations

from typing import Callable

import torch

from ._feedback import Case, Feedback, _close, _compare, _run_cases

__all__ = ["check_softmax_backward"]


def check_softmax_backward(fn: Callable) -> Feedback:
    """Grade ``fn(p, grad_p) -> grad_scores``: the softmax's backward pass along the last
    dimension (``p`` = softmax outputs, ``grad_p`` = dL/dp)."""

    def cases():
        gen = torch.Generator().manual_seed(2)
        for shape in ((5,), (3, 4), (2, 3, 6)):
            scores = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
            p = torch.softmax(scores, -1)
            grad_p = torch.randn(shape, generator=gen, dtype=torch.float64)
            (expected,) = torch.autograd.grad(p, scores, grad_p)
            p = p.detach()
            yield Case(f"shape {shape}", (p.clone(), grad_p.clone()), (p, grad_p, expected))

    def judge(case: Case, got) -> str | None:
        p, grad_p, expected = case.context
        problem = _compare(case.label, got, expected, atol=1e-8)
        if problem:
            if _close(got, p * grad_p, 1e-8):
                problem += (" You kept the diagonal term p*g only; subtract p * sum(g*p) "
                            "(the off-diagonal part -p p^T of the Jacobian).")
            elif _close(got, grad_p - (grad_p * p).sum(-1, keepdim=True), 1e-8):
                problem += " Multiply by p: dL/ds = p * (g - sum(g * p))."
            elif _close(got, p * (grad_p - grad_p.sum(-1, keepdim=True)), 1e-8):
                problem += " The sum must be weighted by p: sum(g * p), not sum(g)."
        return problem

    return _run_cases(fn, cases(), judge,
                      "matches autograd for a vector, a matrix and a batch of matrices.")
