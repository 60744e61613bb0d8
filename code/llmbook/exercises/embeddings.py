"""Graders of the exercises on vectors for tokens and texts: sinusoidal positional
encodings (2.3) and mean pooling of hidden states into a sentence embedding (1.2)."""

from __future__ import annotations

from typing import Callable

import torch

from ._feedback import Case, Feedback, _compare, _run_cases

__all__ = ["check_positional_encoding", "check_mean_pooling"]


def check_positional_encoding(fn: Callable) -> Feedback:
    """Grade ``fn(length, d_model) -> (length, d_model)`` sinusoidal encodings."""
    from ..positional import sinusoidal_encoding

    def judge(case: Case, got) -> str | None:
        expected = sinusoidal_encoding(*case.args)
        problem = _compare(case.label, got, expected, atol=1e-4)
        if problem and isinstance(got, torch.Tensor) and got.shape == expected.shape:
            swapped = expected.clone()
            swapped[:, 0::2], swapped[:, 1::2] = expected[:, 1::2], expected[:, 0::2]
            if torch.allclose(got.double(), swapped.double(), atol=1e-4):
                problem += " sin and cos are swapped: even columns take sin."
            elif torch.allclose(got[0].double(), expected[0].double(), atol=1e-4):
                problem += " Row 0 is right; check the frequencies 1 / 10000^(2i / d_model)."
        return problem

    cases = [Case(f"length={n}, d_model={d}", (n, d)) for n, d in ((6, 4), (50, 16))]
    return _run_cases(fn, cases, judge, "matches the sinusoidal table for (6, 4) and (50, 16).")


def check_mean_pooling(fn: Callable) -> Feedback:
    """Grade ``fn(hidden (B, T, d), attention_mask (B, T)) -> (B, d)``: the mean of the
    hidden vectors of the real (mask = 1) tokens of each sequence."""
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])

    def judge(case: Case, got) -> str | None:
        m = mask[..., None].float()
        expected = (hidden * m).sum(1) / m.sum(1)
        problem = _compare("3 sequences of lengths 5, 3, 1", got, expected)
        if problem and isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, hidden.mean(1), atol=1e-5):
                problem += " You averaged over padding too: weight by the attention mask."
            elif torch.allclose(got, (hidden * m).sum(1) / 5, atol=1e-5):
                problem += " Divide by the number of real tokens, not by the padded length."
        return problem

    return _run_cases(fn, [Case(None, (hidden.clone(), mask.clone()))], judge,
                      "mean pooling ignores padding and matches for lengths 5, 3 and 1.")
