"""Checking functions that grade the chapters' code exercises.

Each ``check_*`` function runs the reader's function on small, seeded inputs,
compares it with the book's reference, prints one helpful message and returns a
:class:`Feedback` (truthy when the answer is right). It never raises because of a
wrong answer — a wrong answer is a message, not a crash — so a student can keep
trying in the same cell.
"""

from __future__ import annotations

import math
import traceback
from dataclasses import dataclass
from typing import Callable

import torch

__all__ = ["Feedback", "check_scaled_dot_product_attention", "check_positional_encoding",
           "check_mha_parameter_count"]


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


def check_scaled_dot_product_attention(fn: Callable) -> Feedback:
    """Grade ``fn(Q, K, V, mask=None) -> output`` against the reference.

    Tries a single sequence, a batch with several heads, a cross-attention shape
    (``T != S``) and a causal mask (``True`` = may attend).
    """
    from .attention import causal_mask, scaled_dot_product_attention as reference

    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    gen = torch.Generator().manual_seed(0)
    cases = [
        ("one sequence (T=4, d_k=3)", (4, 3), (4, 3), (4, 2), None),
        ("batch of 2 x 3 heads", (2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None),
        ("cross-attention (T=2 queries, S=6 keys)", (2, 4), (6, 4), (6, 5), None),
        ("causal mask", (5, 4), (5, 4), (5, 4), causal_mask(5)),
    ]
    for label, sq, sk, sv, mask in cases:
        q, k, v = (torch.randn(s, generator=gen) for s in (sq, sk, sv))
        ok, got = _call(fn, q, k, v, mask) if mask is not None else _call(fn, q, k, v)
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = reference(q, k, v, mask)
        problem = _compare(label, got, expected)
        if problem:
            unscaled = reference(q * math.sqrt(q.size(-1)), k, v, mask)
            if isinstance(got, torch.Tensor) and got.shape == expected.shape \
                    and torch.allclose(got, unscaled, atol=1e-5):
                problem += " It matches attention WITHOUT the 1/sqrt(d_k) scaling."
            elif mask is not None and isinstance(got, torch.Tensor) and \
                    got.shape == expected.shape and torch.allclose(got, reference(q, k, v),
                                                                   atol=1e-5):
                problem += (" It matches attention with NO mask: set the scores of "
                            "masked positions to -inf before the softmax.")
            return _report(False, problem)
    return _report(True, "all 4 cases match the reference (single, batched heads, "
                         "cross-attention, causal mask).")


def check_positional_encoding(fn: Callable) -> Feedback:
    """Grade ``fn(length, d_model) -> (length, d_model)`` sinusoidal encodings."""
    from .positional import sinusoidal_encoding

    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    for length, d_model in ((6, 4), (50, 16)):
        ok, got = _call(fn, length, d_model)
        if not ok:
            return _report(False, f"length={length}, d_model={d_model}: {got}")
        expected = sinusoidal_encoding(length, d_model)
        problem = _compare(f"length={length}, d_model={d_model}", got, expected, atol=1e-4)
        if problem:
            if isinstance(got, torch.Tensor) and got.shape == expected.shape:
                swapped = expected.clone()
                swapped[:, 0::2], swapped[:, 1::2] = expected[:, 1::2], expected[:, 0::2]
                if torch.allclose(got.double(), swapped.double(), atol=1e-4):
                    problem += " sin and cos are swapped: even columns take sin."
                elif torch.allclose(got[0].double(), expected[0].double(), atol=1e-4):
                    problem += (" Row 0 is right; check the frequencies "
                                "1 / 10000^(2i / d_model).")
            return _report(False, problem)
    return _report(True, "matches the sinusoidal table for (6, 4) and (50, 16).")


def check_mha_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(d_model, num_heads) -> int``, the number of parameters of one
    multi-head attention layer with biases (as ``torch.nn.MultiheadAttention``)."""
    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    for d_model, heads in ((8, 2), (512, 8), (768, 12)):
        ok, got = _call(fn, d_model, heads)
        if not ok:
            return _report(False, f"d_model={d_model}, heads={heads}: {got}")
        mha = torch.nn.MultiheadAttention(d_model, heads, device="meta")
        expected = sum(p.numel() for p in mha.parameters())
        if got != expected:
            hint = ""
            if got == 4 * d_model * d_model:
                hint = " You counted the four weight matrices; add their biases."
            elif got == 4 * d_model * (d_model // heads) + 4 * d_model:
                hint = " That is one head's share: the h heads together span d_model."
            return _report(False, f"d_model={d_model}, heads={heads}: expected {expected:,}, "
                                  f"got {got!r}.{hint}")
    return _report(True, "right for (8, 2), (512, 8) and (768, 12): 4·d² + 4·d, whatever "
                         "the number of heads.")
