"""Graders of the exercises on counting language models and their evaluation: add-k bigram
probabilities (1.1) and perplexity (2.1)."""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from ._feedback import Case, Feedback, _compare, _run_cases

__all__ = ["check_bigram_probabilities", "check_perplexity"]


def check_bigram_probabilities(fn: Callable) -> Feedback:
    """Grade ``fn(ids, vocab_size, k) -> (V, V)`` add-k smoothed bigram probabilities,
    row = previous id, column = next id."""
    from ..lm import NGramLM

    def cases():
        gen = torch.Generator().manual_seed(0)
        for label, ids, vocab_size, k in [
                ("ids [0, 1, 1, 2, 0, 1], V=3, k=1", torch.tensor([0, 1, 1, 2, 0, 1]), 3, 1.0),
                ("200 random ids, V=5, k=0.5", torch.randint(0, 5, (200,), generator=gen), 5,
                 0.5),
                ("ids [3, 3, 3], V=4, k=0.1 (most rows never seen)", torch.tensor([3, 3, 3]),
                 4, 0.1)]:
            yield Case(label, (ids.clone(), vocab_size, k), ids)

    def judge(case: Case, got) -> str | None:
        _, vocab_size, k = case.args
        expected = NGramLM(2, vocab_size, k=k).fit(case.context).probabilities().float()
        if isinstance(got, torch.Tensor):
            got = got.float()
        problem = _compare(case.label, got, expected, atol=1e-5)
        if problem and isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got.T, expected, atol=1e-5):
                problem += " Your table is transposed: rows are the previous id."
            elif not torch.allclose(got.sum(1), torch.ones(vocab_size), atol=1e-4):
                problem += (" Each row must sum to 1: divide by count(previous) + k·V, "
                            "not by the total count.")
        return problem

    return _run_cases(fn, cases(), judge,
                      "add-k bigram tables match for all 3 cases; every row sums to 1.")


def check_perplexity(fn: Callable) -> Feedback:
    """Grade ``fn(logits (N, V), targets (N,)) -> float``: the perplexity of the targets."""
    gen = torch.Generator().manual_seed(0)
    cases = [("uniform logits, V=10", torch.zeros(6, 10), torch.arange(6)),
             ("random logits, N=50, V=7", 3 * torch.randn(50, 7, generator=gen),
              torch.randint(0, 7, (50,), generator=gen))]

    def judge(case: Case, got) -> str | None:
        logits, targets = case.context
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        nll = F.cross_entropy(logits, targets).item()
        expected = math.exp(nll)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"{case.label}: expected a number, got {type(got).__name__}."
        if math.isclose(got, expected, rel_tol=1e-4):
            return None
        hint = ""
        if math.isclose(got, nll, rel_tol=1e-4):
            hint = " That is the cross-entropy: perplexity is exp(cross-entropy)."
        elif math.isclose(got, 2 ** nll, rel_tol=1e-4):
            hint = " Use e**H with H in nats (or 2**H with H in bits), not 2**nats."
        return f"{case.label}: expected {expected:.4f}, got {got:.4f}.{hint}"

    return _run_cases(fn, (Case(label, (logits.clone(), targets.clone()), (logits, targets))
                           for label, logits, targets in cases), judge,
                      "perplexity matches exp(cross-entropy); uniform over 10 gives 10.")
