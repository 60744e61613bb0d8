"""Graders of the exercises on the environment: finding the requirements that are not
exact pins (5.1)."""

from __future__ import annotations

import re
from typing import Callable

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_exact_pins"]

_EXACT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!-]+$")


def loose_requirements(lines: list[str]) -> list[str]:
    """The requirement lines (comments and blank lines skipped, a trailing ``# comment``
    removed, spaces stripped) that do not pin one exact version with ``name==version``."""
    out = []
    for line in lines:
        text = line.split("#", 1)[0].strip()
        if text and not _EXACT.match(text.replace(" ", "")):
            out.append(text)
    return out


def check_exact_pins(fn: Callable) -> Feedback:
    """Grade ``fn(lines) -> list[str]``: the requirement lines that are not exact pins, in
    order, stripped of comments and surrounding spaces."""
    cases = [
        ("all exact", ["torch==2.13.0", "numpy==2.4.6"]),
        ("a lower bound and a bare name", ["torch==2.13.0", "transformers>=4.56", "tqdm"]),
        ("comments and blank lines", ["# the book's pins", "", "plotly==7.1.0  # figures",
                                      "peft~=0.21", "   "]),
        ("a wildcard and a range", ["numpy==2.*", "scipy>=1.10,<2", "safetensors==0.8.0"]),
    ]

    def judge(case: Case, got) -> str | None:
        expected = loose_requirements(case.args[0])
        if not isinstance(got, list):
            return f"{case.label}: return a list of strings, got {type(got).__name__}."
        if got == expected:
            return None
        if any("#" in g for g in got) or "" in got:
            return (f"{case.label}: expected {expected}, got {got}. Skip blank lines and "
                    f"comments, and cut a trailing '# ...' before judging a line.")
        if "numpy==2.*" in expected and "numpy==2.*" not in got:
            return (f"{case.label}: expected {expected}, got {got}. '==2.*' matches any 2.x: "
                    f"a wildcard is not one exact version.")
        return f"{case.label}: expected {expected}, got {got}."

    return _run_cases(fn, (Case(label, (lines,)) for label, lines in cases), judge,
                      "every loose requirement found (bounds, bare names, ~=, wildcards).")
