"""Graders of the exercises on knowledge extraction (6.5): micro precision, recall and F1 of
extracted triples."""

from __future__ import annotations

import math
import random
from typing import Callable

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_triple_scores"]

_NAMES = ["ada", "bob", "paris", "acme", "oslo", "hamlet"]
_RELATIONS = ["born_in", "works_for", "wrote"]


def _micro(predicted: list[set], gold: list[set]) -> tuple[float, float, float]:
    tp = sum(len(p & g) for p, g in zip(predicted, gold))
    n_pred, n_gold = sum(map(len, predicted)), sum(map(len, gold))
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def _macro(predicted: list[set], gold: list[set]) -> tuple[float, float]:
    ps = [len(p & g) / len(p) if p else 0.0 for p, g in zip(predicted, gold)]
    rs = [len(p & g) / len(g) if g else 0.0 for p, g in zip(predicted, gold)]
    return sum(ps) / len(ps), sum(rs) / len(rs)


def _triple(rng: random.Random) -> tuple[str, str, str]:
    return rng.choice(_NAMES), rng.choice(_RELATIONS), rng.choice(_NAMES)


def _cases():
    a, b, c = ("ada", "born_in", "oslo"), ("ada", "works_for", "acme"), ("bob", "wrote", "hamlet")
    yield Case("one sentence, one right and one wrong triple", ([{a, ("bob", "born_in", "paris")}],
                                                              [{a, c}]))
    yield Case("sentences of different sizes (micro, not macro)",
               ([{a}, {b, c, ("bob", "born_in", "oslo")}], [{a}, {b, c, a, ("x", "wrote", "y")}]))
    yield Case("a sentence with nothing predicted", ([set(), {b}], [{a}, {b}]))
    yield Case("nothing predicted at all", ([set(), set()], [{a}, {c}]))
    yield Case("nothing to find and nothing predicted", ([set()], [set()]))
    rng = random.Random(0)
    for i in range(10):
        n = rng.randrange(1, 6)
        gold = [{_triple(rng) for _ in range(rng.randrange(0, 4))} for _ in range(n)]
        pred = [{t for t in g if rng.random() < 0.6} | {_triple(rng) for _ in
                range(rng.randrange(0, 3))} for g in gold]
        yield Case(f"seeded corpus {i + 1} of 10", (pred, gold))


def check_triple_scores(fn: Callable) -> Feedback:
    """Grade ``fn(predicted, gold) -> (precision, recall, f1)``: micro-averaged scores of
    per-sentence sets of triples (a triple counts when it is in the same sentence's gold
    set; all three are 0 when there is nothing to divide by)."""

    def judge(case: Case, got) -> str | None:
        predicted, gold = case.args
        if got is None:
            return f"{case.label}: the function returned None -- did you forget `return`?"
        try:
            value = tuple(float(v) for v in got)
        except (TypeError, ValueError):
            return (f"{case.label}: expected three numbers (precision, recall, f1), got "
                    f"{type(got).__name__}.")
        if len(value) != 3:
            return f"{case.label}: expected three numbers (precision, recall, f1), got {len(value)}."
        expected = _micro(predicted, gold)
        if all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(value, expected)):
            return None
        shown = (f"{case.label}: expected (P, R, F1) = ({expected[0]:.4f}, {expected[1]:.4f}, "
                 f"{expected[2]:.4f}), got ({value[0]:.4f}, {value[1]:.4f}, {value[2]:.4f})")
        if all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(value[:2], expected[1::-1])):
            return (f"{shown} -- precision and recall are swapped: precision divides the "
                    f"correct triples by those *predicted*, recall by those in the gold.")
        macro = _macro(predicted, gold)
        if all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(value[:2], macro)) and \
                not all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(macro, expected[:2])):
            return (f"{shown} -- these are averages of per-sentence scores (macro); sum the "
                    f"correct, predicted and gold counts over all sentences first, then divide "
                    f"(micro).")
        if all(math.isclose(x, y, abs_tol=1e-9) for x, y in zip(value[:2], expected[:2])):
            if math.isclose(value[2], (value[0] + value[1]) / 2, abs_tol=1e-9):
                return f"{shown} -- F1 is the harmonic mean 2PR / (P + R), not the arithmetic mean."
            return f"{shown} -- precision and recall are right; check F1 = 2PR / (P + R)."
        return shown + "."

    return _run_cases(fn, _cases(), judge,
                      "micro precision, recall and F1 match on all 15 cases, including empty "
                      "predictions and sentences of different sizes.")
