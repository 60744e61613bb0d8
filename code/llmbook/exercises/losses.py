"""Graders of the exercises on training losses: the shifted next-token NLL (4.4) and the
contrastive InfoNCE loss, from its formula (4.4) and as a pretraining objective (3.3)."""

from __future__ import annotations

from typing import Callable

import torch

from ._feedback import Case, Feedback, _close, _compare, _run_cases

__all__ = ["check_lm_nll", "check_info_nce_formula", "check_contrastive_info_nce"]


def check_lm_nll(fn: Callable) -> Feedback:
    """Grade ``fn(logits (B, T, V), ids (B, T)) -> mean next-token NLL``."""
    from ..losses import lm_nll

    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 6, 11, generator=gen) * 2
    ids = torch.randint(0, 11, (2, 6), generator=gen)

    def judge(case: Case, got) -> str | None:
        expected = lm_nll(logits, ids)
        problem = _compare("mean NLL", got, expected, atol=1e-4)
        if problem:
            unshifted = torch.nn.functional.cross_entropy(logits.reshape(-1, 11),
                                                          ids.reshape(-1))
            if _close(got, unshifted, 1e-4):
                problem += (" You scored position t on token t: the logits at t predict token "
                            "t+1, so drop the last logits and the first token.")
            elif _close(got, -expected, 1e-4):
                problem += " Sign: NLL is minus the log-probability."
            elif _close(got, expected * ids[:, 1:].numel(), 1e-3):
                problem += " That is the sum; return the mean over predicted tokens."
        return problem

    return _run_cases(fn, [Case(None, (logits, ids))], judge, lambda: (
        f"matches the shifted next-token NLL ({float(lm_nll(logits, ids)):.4f})."))


def check_info_nce_formula(fn: Callable) -> Feedback:
    """Grade ``fn(anchors, positives, temperature) -> scalar``: InfoNCE written from its
    formula (cosine similarities over the temperature; Section 4.4)."""
    from ..losses import info_nce

    def cases():
        gen = torch.Generator().manual_seed(3)
        for n, d, tau in ((4, 3, 0.5), (8, 16, 0.07)):
            a = torch.randn(n, d, generator=gen) * 2
            b = a + torch.randn(n, d, generator=gen)
            yield Case(f"N={n}, d={d}, temperature={tau}", (a, b, tau))

    def judge(case: Case, got) -> str | None:
        a, b, tau = case.args
        expected = info_nce(a, b, tau)
        if isinstance(got, torch.Tensor) and got.dim() != 0:
            return (f"{case.label}: return one number (a 0-d tensor), the mean over "
                    f"the batch; got shape {tuple(got.shape)}.")
        problem = _compare(case.label, got, expected, atol=1e-4)
        if problem:
            if _close(got, info_nce(a, b, tau, normalize=False), 1e-4):
                problem += " Normalise the rows first: s_ij is a cosine similarity."
            elif _close(got, info_nce(a, b, 1.0), 1e-4):
                problem += " Divide the similarities by the temperature."
            elif _close(got, -expected, 1e-4):
                problem += " Sign: the loss is minus the log-probability of the positive."
        return problem

    return _run_cases(fn, cases(), judge,
                      "matches InfoNCE for two batch sizes and temperatures.")


def check_contrastive_info_nce(fn: Callable) -> Feedback:
    """Grade ``fn(a, b, temperature) -> scalar``: the one-directional InfoNCE loss of
    contrastive pretraining (cosine similarities of rows of ``a`` against rows of ``b``,
    positives on the diagonal; Section 3.3)."""
    from ..pretraining import info_nce

    def cases():
        gen = torch.Generator().manual_seed(0)
        for n, d, tau in ((4, 3, 1.0), (8, 16, 0.05), (16, 5, 0.2)):
            a, b = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen) * 3
            yield Case(f"N={n}, d={d}, temperature={tau}", (a, b, tau))

    def judge(case: Case, got) -> str | None:
        a, b, tau = case.args
        expected = info_nce(a, b, tau, symmetric=False)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.reshape(())
        problem = _compare(case.label, got, expected, atol=1e-4)
        if problem and isinstance(got, torch.Tensor) and got.shape == expected.shape:
            raw = torch.nn.functional.cross_entropy(a @ b.T / tau, torch.arange(a.size(0)))
            if torch.allclose(got.double(), raw.double(), atol=1e-4):
                problem += (" It matches dot products WITHOUT normalising the rows: use "
                            "cosine similarity (F.normalize each row first).")
            elif torch.allclose(got.double(), info_nce(a, b, 1.0, symmetric=False)
                                .double(), atol=1e-4):
                problem += " It matches temperature 1: divide the similarities by it."
        return problem

    return _run_cases(fn, cases(), judge,
                      "matches InfoNCE for three batch sizes and temperatures.")
