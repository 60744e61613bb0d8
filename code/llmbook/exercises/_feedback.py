"""The machinery every grader shares: the :class:`Feedback` it returns and the loop over
test cases that calls the reader's function.

A grader runs the reader's function on small, seeded inputs (:func:`_run_cases`), compares
the result with the book's reference (:func:`_compare`), prints one helpful message and
returns a :class:`Feedback` (truthy when the answer is right). It never raises because of a
wrong answer -- a wrong answer is a message, not a crash -- so a student can keep trying in
the same cell.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from typing import Any, Callable, Iterable, NamedTuple

import torch

__all__ = ["Feedback"]


@dataclass
class Feedback:
    """The result of a check: ``passed`` and the message shown to the reader."""

    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def __repr__(self) -> str:
        return ("✅ " if self.passed else "❌ ") + self.message

    def _ipython_display_(self) -> None:
        """Show nothing more in a notebook: the checker has printed the message already.

        (Without this, a check as the last line of a cell would print its message twice,
        and whether a trailing ``;`` hides the second copy differs between Jupyter front
        ends, which made stored outputs unreproducible.)
        """


def _report(passed: bool, message: str) -> Feedback:
    feedback = Feedback(passed, message)
    print(repr(feedback))
    return feedback


def _not_callable(fn: object) -> Feedback | None:
    """The failed :class:`Feedback` if ``fn`` is not a function, else ``None``."""
    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    return None


def _call(fn: Callable, *args):
    """Call the reader's function; turn its exception into a message."""
    try:
        return True, fn(*args)
    except NotImplementedError:
        return False, "the function still raises NotImplementedError — write its body."
    except Exception as exc:  # noqa: BLE001 - any error of the reader's code is feedback
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return False, (f"the function raised {type(exc).__name__}: {exc} "
                       f"(line {where.lineno}: {where.line!r}).")


def _number(label: str, got) -> tuple[float | None, str | None]:
    """``(value, None)`` if the reader's result is a number, else ``(None, what is wrong)``:
    the first check of every grader whose answer is one number."""
    if got is None:
        return None, f"{label}: the function returned None — did you forget `return`?"
    try:
        return float(got), None
    except (TypeError, ValueError):
        return None, f"{label}: expected a number, got {type(got).__name__}."


def _compare(name: str, got, expected: torch.Tensor, atol: float = 1e-5) -> str | None:
    """``None`` if ``got`` matches ``expected``, else what is wrong."""
    if got is None:
        return f"{name}: the function returned None — did you forget `return`?"
    if not isinstance(got, torch.Tensor):
        return f"{name}: expected a torch.Tensor, got {type(got).__name__}."
    if tuple(got.shape) != tuple(expected.shape):
        return (f"{name}: expected shape {tuple(expected.shape)}, got {tuple(got.shape)}. "
                f"Check which dimensions you multiply and transpose.")
    if not torch.isfinite(got).all():
        return f"{name}: the result contains NaN or inf."
    diff = float((got.double() - expected.double()).abs().max())
    if diff > atol:
        return f"{name}: values differ from the reference by up to {diff:.3g}."
    return None


def _close(a, b, atol: float = 1e-5) -> bool:
    """Whether ``a`` is a tensor of ``b``'s shape and values (for the hints)."""
    return isinstance(a, torch.Tensor) and a.shape == b.shape and \
        torch.allclose(a.double(), b.double(), atol=atol)


class Case(NamedTuple):
    """One test case: ``fn(*args)`` is judged; ``label`` prefixes a failure of the call
    (``None``: no prefix); ``context`` is whatever the judge needs besides ``args``."""

    label: str | None
    args: tuple
    context: Any = None


def _run_cases(fn: object, cases: Iterable[Case], judge: Callable[[Case, Any], str | None],
               success: str | Callable[[], str]) -> Feedback:
    """Call ``fn`` on each case in turn (``cases`` may be a generator, so inputs are drawn
    just before their call) and report the first problem ``judge(case, result)`` finds, or
    ``success`` (a message, or a function that makes it). A function that raises is
    reported as the problem of its case."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    for case in cases:
        ok, got = _call(fn, *case.args)
        if not ok:
            return _report(False, got if case.label is None else f"{case.label}: {got}")
        problem = judge(case, got)
        if problem:
            return _report(False, problem)
    return _report(True, success() if callable(success) else success)
