"""Graders of the exercises on classification: macro F1 (5.5), calibrated prompt scores (6.1)."""

from __future__ import annotations

import math
import random
from typing import Callable

from ._feedback import Case, Feedback, _number, _run_cases

__all__ = ["check_macro_f1", "check_calibrated_predictions"]


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


def check_calibrated_predictions(fn: Callable) -> Feedback:
    """Grade ``fn(scores, content_free) -> list[int]``: the class of each row of ``scores``
    (texts x labels, log-probabilities of the label words) after contextual calibration by
    the scores of a content-free input (one per label), against
    :func:`llmbook.text_classification.calibrate`."""
    import torch

    from ..text_classification import calibrate

    def cases():
        g = torch.Generator().manual_seed(0)
        yield Case("two labels, a prior of 3:1 for label 0",
                   (torch.log(torch.tensor([[0.7, 0.2], [0.5, 0.3], [0.1, 0.6], [0.4, 0.25],
                                              [0.3, 0.35]])),
                    torch.log(torch.tensor([0.6, 0.2]))))
        yield Case("three labels, no preference (calibration changes nothing)",
                   (torch.log(torch.tensor([[0.2, 0.5, 0.1], [0.3, 0.1, 0.4]])),
                    torch.log(torch.tensor([0.1, 0.1, 0.1]))))
        scores = torch.log_softmax(torch.randn(20, 3, generator=g) * 2, dim=1) - 1.0
        free = torch.log_softmax(torch.tensor([2.0, 0.0, -1.0]), dim=0) - 1.0
        yield Case("20 seeded texts, 3 labels", (scores, free))

    def judge(case: Case, got) -> str | None:
        scores, free = case.args
        expected = calibrate(scores, free).argmax(1).tolist()
        if isinstance(got, torch.Tensor):
            got = got.tolist()
        if not isinstance(got, (list, tuple)) or len(got) != len(expected) or \
                not all(isinstance(x, int) and not isinstance(x, bool) for x in got):
            return (f"{case.label}: return one int class per text ({len(expected)} of "
                    f"them), got {got!r}")
        if list(got) == expected:
            return None
        if list(got) != scores.argmax(1).tolist() and list(got) == (scores + free).argmax(1).tolist():
            return (f"{case.label}: you added the content-free scores; calibration "
                    f"removes the prior, so subtract them.")
        if list(got) == scores.argmax(1).tolist():
            return (f"{case.label}: these are the uncalibrated classes; subtract the "
                    f"content-free scores (log-probabilities: subtracting divides the "
                    f"probabilities by the prior) before taking the best label.")
        wrong = sum(a != b for a, b in zip(got, expected))
        return f"{case.label}: {wrong} of {len(expected)} classes differ from {expected}."

    return _run_cases(fn, cases(), judge,
                      "calibrated classes match on all 3 cases, including one where "
                      "calibration changes nothing.")
