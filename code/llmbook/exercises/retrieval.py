"""Graders of the exercises on retrieval metrics: recall@k and MRR (6.3)."""

from __future__ import annotations

import math
import random
from typing import Callable

from ._feedback import Case, Feedback, _number, _run_cases

__all__ = ["check_recall_at_k", "check_mrr"]


def _cases():
    yield Case("one query, the answer ranked first, k=1", ([["a", "b", "c"]], ["a"], 1))
    yield Case("three queries, one relevant id each, k=2",
               ([["a", "b", "c"], ["c", "a", "b"], ["b", "c", "d"]], ["a", "a", "x"], 2))
    yield Case("k larger than the rankings", ([["a", "b"], ["b", "a"]], ["b", "c"], 5))
    yield Case("a set of two relevant ids, k=2", ([["c", "a", "b"]], [{"a", "b"}], 2))
    rng = random.Random(0)
    ranked = [rng.sample(range(20), 10) for _ in range(30)]
    relevant = [rng.randrange(20) for _ in range(30)]
    yield Case("30 seeded queries, k=3", (ranked, relevant, 3))



def check_recall_at_k(fn: Callable) -> Feedback:
    """Grade ``fn(ranked_ids, relevant_ids, k) -> float``: the mean over queries of the share
    of a query's relevant ids found among its first ``k`` retrieved, against
    :func:`llmbook.retrieval.recall_at_k`."""
    from ..retrieval import recall_at_k

    def judge(case: Case, got) -> str | None:
        ranked, relevant, k = case.args
        value, problem = _number(case.label, got)
        if problem:
            return problem
        expected = recall_at_k(ranked, relevant, k)
        if math.isclose(value, expected, abs_tol=1e-9):
            return None
        rel = [r if isinstance(r, set) else {r} for r in relevant]
        hits = [len(set(r[:k]) & s) for r, s in zip(ranked, rel)]
        if math.isclose(value, sum(h / k for h in hits) / len(hits), abs_tol=1e-9):
            return (f"{case.label}: expected {expected:.4f}, got {value:.4f} -- that is "
                    f"precision@k (hits / k); recall divides by the number of relevant ids.")
        if math.isclose(value, sum(hits), abs_tol=1e-9):
            return (f"{case.label}: expected {expected:.4f}, got {value:.4f} -- that is the "
                    f"number of hits; divide each query's hits by its relevant ids and "
                    f"average over the queries.")
        return f"{case.label}: expected {expected:.4f}, got {value:.4f}."

    return _run_cases(fn, _cases(), judge,
                      "recall@k matches on all 5 cases, including k beyond the ranking and "
                      "a set of relevant ids.")


def check_mrr(fn: Callable) -> Feedback:
    """Grade ``fn(ranked_ids, relevant_ids) -> float``: the mean reciprocal rank of the first
    relevant id (0 when none is retrieved), against :func:`llmbook.retrieval.mrr`."""
    from ..retrieval import mrr

    def judge(case: Case, got) -> str | None:
        ranked, relevant, _ = case.args
        value, problem = _number(case.label, got)
        if problem:
            return problem
        expected = mrr(ranked, relevant)
        if math.isclose(value, expected, abs_tol=1e-9):
            return None
        rel = [r if isinstance(r, set) else {r} for r in relevant]
        zero_based = [next((1 / i for i, x in enumerate(r) if x in s and i), None)
                      for r, s in zip(ranked, rel)]
        hint = (" Ranks start at 1: the first retrieved id has reciprocal rank 1."
                if any(z is not None for z in zero_based) else "")
        return f"{case.label}: expected {expected:.4f}, got {value:.4f}.{hint}"

    return _run_cases((lambda r, s, k: fn(r, s)) if callable(fn) else fn, _cases(), judge,
                      "MRR matches on all 5 cases, including a query whose answer is never "
                      "retrieved.")
