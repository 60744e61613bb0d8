"""Graders of the exercises on generation metrics: ROUGE-N and BLEU's brevity penalty (6.4)."""

from __future__ import annotations

import math
import random
from collections import Counter
from typing import Callable

from ._feedback import Case, Feedback, _number, _run_cases

__all__ = ["check_rouge_n", "check_brevity_penalty"]

_WORDS = "the a cat dog sat on mat under bed was found ran".split()


def _rouge_cases():
    by_hand = ("the cat was found under the bed".split(), "the cat was under the bed".split())
    yield Case("the example of the text, n=1", (*by_hand, 1))
    yield Case("the example of the text, n=2", (*by_hand, 2))
    yield Case("a prediction that repeats 'the', n=1",
               ("the the the the".split(), "the cat sat on the mat".split(), 1))
    yield Case("an empty prediction, n=1", ([], "the cat".split(), 1))
    yield Case("a prediction shorter than n, n=3", (["cat"], "the cat sat".split(), 3))
    rng = random.Random(0)
    for i in range(12):
        pred = [rng.choice(_WORDS) for _ in range(rng.randrange(1, 12))]
        ref = [rng.choice(_WORDS) for _ in range(rng.randrange(1, 12))]
        yield Case(f"seeded pair {i + 1} of 12, n={1 + i % 3}", (pred, ref, 1 + i % 3))


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _three_numbers(label: str, got) -> tuple[tuple[float, float, float] | None, str | None]:
    if got is None:
        return None, f"{label}: the function returned None -- did you forget `return`?"
    try:
        values = tuple(float(v) for v in got)
    except (TypeError, ValueError):
        return None, (f"{label}: expected three numbers (precision, recall, F), got "
                      f"{type(got).__name__}.")
    if len(values) != 3:
        return None, f"{label}: expected three numbers (precision, recall, F), got {len(values)}."
    return values, None


def _same(a, b) -> bool:
    return all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(a, b))


def check_rouge_n(fn: Callable) -> Feedback:
    """Grade ``fn(prediction_tokens, reference_tokens, n) -> (precision, recall, F)``: ROUGE-N
    on lists of tokens, against :mod:`llmbook.text_metrics` (which equals ``rouge-score``)."""
    from ..text_metrics import _rouge_n

    def judge(case: Case, got) -> str | None:
        pred, ref, n = case.args
        value, problem = _three_numbers(case.label, got)
        if problem:
            return problem
        expected = tuple(_rouge_n(pred, ref, n))
        if _same(value, expected):
            return None
        shown = (f"{case.label}: expected (P, R, F) = ({expected[0]:.4f}, {expected[1]:.4f}, "
                 f"{expected[2]:.4f}), got ({value[0]:.4f}, {value[1]:.4f}, {value[2]:.4f})")
        if _same(value[:2], expected[1::-1]):
            return (f"{shown} -- precision and recall are swapped: precision divides the "
                    f"overlap by the prediction's n-grams, recall by the reference's.")
        p, r = _ngrams(pred, n), _ngrams(ref, n)
        unclipped = sum(c for g, c in p.items() if g in r)
        if unclipped != sum(min(c, r[g]) for g, c in p.items()) and sum(p.values()) and \
                math.isclose(value[0], unclipped / sum(p.values()), abs_tol=1e-9):
            return (f"{shown} -- a repeated n-gram must be counted at most as often as it "
                    f"occurs in the reference: the overlap is sum over n-grams g of "
                    f"min(count in prediction, count in reference).")
        if _same(value[:2], expected[:2]):
            if math.isclose(value[2], (value[0] + value[1]) / 2, abs_tol=1e-9):
                return (f"{shown} -- F is the harmonic mean 2PR / (P + R), not the "
                        f"arithmetic mean.")
            return f"{shown} -- precision and recall are right; check F = 2PR / (P + R)."
        return shown + "."

    return _run_cases(fn, _rouge_cases(), judge,
                      "ROUGE-N matches on all 17 cases, including repeated words, an empty "
                      "prediction and one shorter than n.")


def _bp_cases():
    for c, r in ((10, 10), (12, 10), (5, 10), (9, 10), (1, 4), (30, 7)):
        yield Case(f"c={c}, r={r}", (c, r))
    yield Case("an empty hypothesis, c=0, r=5", (0, 5))


def _brevity_penalty(c: int, r: int) -> float:
    if c >= r:
        return 1.0
    return math.exp(1 - r / c) if c > 0 else 0.0


def check_brevity_penalty(fn: Callable) -> Feedback:
    """Grade ``fn(c, r) -> BP``: BLEU's brevity penalty for a hypothesis (corpus) of ``c``
    tokens against references of ``r`` tokens, as sacrebleu computes it."""

    def judge(case: Case, got) -> str | None:
        c, r = case.args
        value, problem = _number(case.label, got)
        if problem:
            return problem
        expected = _brevity_penalty(c, r)
        if math.isclose(value, expected, abs_tol=1e-12):
            return None
        shown = f"{case.label}: expected {expected:.6f}, got {value:.6f}"
        if value > 1:
            return (f"{shown} -- the penalty never rewards: BP = 1 when the hypothesis is at "
                    f"least as long as the reference (c >= r).")
        if c > 0 and math.isclose(value, math.exp(1 - c / r), abs_tol=1e-12):
            return f"{shown} -- the exponent is 1 - r/c (reference over hypothesis), not 1 - c/r."
        if c > 0 and c < r and math.isclose(value, c / r, abs_tol=1e-12):
            return f"{shown} -- the penalty is exponential: exp(1 - r/c), not the ratio c/r."
        return shown + "."

    return _run_cases(fn, _bp_cases(), judge,
                      "the brevity penalty matches on all 7 cases, including a hypothesis "
                      "longer than the reference and an empty one.")
