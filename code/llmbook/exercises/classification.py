"""Graders of the exercises on classification metrics: macro F1 (5.5)."""

from __future__ import annotations

import math
import random
from typing import Callable

from ._feedback import Case, Feedback, _number, _run_cases

__all__ = ["check_macro_f1"]


def check_macro_f1(fn: Callable) -> Feedback:
    """Grade ``fn(y_true, y_pred) -> float``, the macro-averaged F1 over the classes that occur
    in either list, against :func:`llmbook.classification.macro_f1`."""
    from ..classification import accuracy, macro_f1

    def cases():
        yield Case("perfect predictions [0, 1, 1, 0]", ([0, 1, 1, 0], [0, 1, 1, 0]))
        yield Case("always predicting 1 on [1, 1, 1, 0]", ([1, 1, 1, 0], [1, 1, 1, 1]))
        yield Case("three classes, class 2 never predicted", ([0, 1, 2, 2, 1], [0, 1, 1, 0, 1]))
        rng = random.Random(0)
        t = [rng.randrange(3) for _ in range(60)]
        p = [y if rng.random() < 0.6 else rng.randrange(3) for y in t]
        yield Case("60 seeded labels, 3 classes", (t, p))

    def judge(case: Case, got) -> str | None:
        t, p = case.args
        k = max(t + p) + 1
        expected = macro_f1(t, p, k)
        value, problem = _number(case.label, got)
        if problem:
            return problem
        if math.isclose(value, expected, abs_tol=1e-9):
            return None
        if math.isclose(value, accuracy(t, p), abs_tol=1e-9):
            return (f"{case.label}: expected {expected:.4f}, got {value:.4f} -- that is the "
                    f"accuracy; F1 is per class: 2PR/(P+R), then averaged over classes.")
        hint = (" A class that is never predicted has precision 0/0: count it as 0, and "
                "still include the class in the average.") if "never" in case.label or \
            "always" in case.label else ""
        return f"{case.label}: expected {expected:.4f}, got {value:.4f}.{hint}"

    return _run_cases(fn, cases(), judge,
                      "macro F1 matches on all 4 cases, including a class never predicted.")
