"""Graders of the attention exercises: scaled dot-product (2.3), additive attention (4.1),
causal and target masks (3.2), and the pen-and-paper worked example (4.5)."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ._feedback import Case, Feedback, _close, _compare, _report, _run_cases

__all__ = ["check_scaled_dot_product_attention", "check_additive_attention",
           "check_causal_mask", "check_target_mask", "check_worked_example"]


def check_scaled_dot_product_attention(fn: Callable) -> Feedback:
    """Grade ``fn(Q, K, V, mask=None) -> output`` against the reference.

    Tries a single sequence, a batch with several heads, a cross-attention shape
    (``T != S``) and a causal mask (``True`` = may attend).
    """
    from ..attention import causal_mask, scaled_dot_product_attention as reference

    def cases():
        gen = torch.Generator().manual_seed(0)
        for label, sq, sk, sv, mask in [
            ("one sequence (T=4, d_k=3)", (4, 3), (4, 3), (4, 2), None),
            ("batch of 2 x 3 heads", (2, 3, 5, 8), (2, 3, 5, 8), (2, 3, 5, 8), None),
            ("cross-attention (T=2 queries, S=6 keys)", (2, 4), (6, 4), (6, 5), None),
            ("causal mask", (5, 4), (5, 4), (5, 4), causal_mask(5)),
        ]:
            q, k, v = (torch.randn(s, generator=gen) for s in (sq, sk, sv))
            yield Case(label, (q, k, v) if mask is None else (q, k, v, mask))

    def judge(case: Case, got) -> str | None:
        q, k, v, mask = (*case.args, None)[:4]
        expected = reference(q, k, v, mask)
        problem = _compare(case.label, got, expected)
        if problem:
            unscaled = reference(q * math.sqrt(q.size(-1)), k, v, mask)
            same_shape = isinstance(got, torch.Tensor) and got.shape == expected.shape
            if same_shape and torch.allclose(got, unscaled, atol=1e-5):
                problem += " It matches attention WITHOUT the 1/sqrt(d_k) scaling."
            elif same_shape and mask is not None and \
                    torch.allclose(got, reference(q, k, v), atol=1e-5):
                problem += (" It matches attention with NO mask: set the scores of "
                            "masked positions to -inf before the softmax.")
        return problem

    return _run_cases(fn, cases(), judge, "all 4 cases match the reference (single, batched "
                                          "heads, cross-attention, causal mask).")


def check_additive_attention(fn: Callable) -> Feedback:
    """Grade ``fn(Q, K, V, W_q, W_k, w) -> output`` (additive attention, no mask)."""
    from ..attention import additive_attention, dot_product_attention as dot_product

    def cases():
        gen = torch.Generator().manual_seed(0)
        for label, (t, s, d_q, d_k, d_a, d_v) in (("T=3, S=3", (3, 3, 4, 4, 5, 2)),
                                                   ("T=2 queries, S=5 keys",
                                                    (2, 5, 3, 6, 4, 3))):
            q, k, v = (torch.randn(n, d, generator=gen)
                       for n, d in ((t, d_q), (s, d_k), (s, d_v)))
            w_q, w_k = torch.randn(d_q, d_a, generator=gen), torch.randn(d_k, d_a, generator=gen)
            w = torch.randn(d_a, generator=gen)
            yield Case(label, (q, k, v, w_q, w_k, w))

    def judge(case: Case, got) -> str | None:
        q, k, v, w_q, w_k, w = case.args
        t, s = q.size(0), k.size(0)
        problem = _compare(case.label, got, additive_attention(q, k, v, w_q, w_k, w))
        if problem:
            scores = torch.tanh((q @ w_q)[:, None] + (k @ w_k)[None]) @ w   # (T, S)
            if t == s and _close(got, torch.softmax(scores, dim=0) @ v):
                problem += " The softmax must run over the keys (dim=-1), not the queries."
            elif _close(got, dot_product(q @ w_q, k @ w_k, v)):
                problem += (" That is dot-product attention of the projections; additive "
                            "scores are w . tanh(q W_q + k W_k), one per (query, key) pair.")
            elif isinstance(got, torch.Tensor) and tuple(got.shape) == (t, s):
                problem += " You returned the weights; multiply them by V."
        return problem

    return _run_cases(fn, cases(), judge,
                      "matches additive attention for self- and cross-attention shapes.")


def check_causal_mask(fn: Callable) -> Feedback:
    """Grade ``fn(size) -> (size, size)`` boolean mask, ``True`` where position ``t``
    may attend (positions ``0..t``)."""

    def judge(case: Case, got) -> str | None:
        (size,) = case.args
        expected = torch.ones(size, size, dtype=torch.bool).tril()
        if not isinstance(got, torch.Tensor):
            return f"size={size}: expected a torch.Tensor, got {type(got).__name__}."
        if tuple(got.shape) != (size, size):
            return f"size={size}: expected shape ({size}, {size}), got {tuple(got.shape)}."
        if got.dtype != torch.bool:
            return (f"size={size}: expected a boolean tensor (True = may attend), got "
                    f"{got.dtype}. Compare, or call .bool().")
        if torch.equal(got, expected):
            return None
        if torch.equal(got, ~expected):
            hint = (" It is the exact opposite: you marked the BLOCKED positions "
                    "(PyTorch's nn.Transformer convention); here True means allowed.")
        elif torch.equal(got, expected.T):
            hint = (" It is transposed: row t (a query) must allow columns 0..t, "
                    "the past, not the future. Use tril, not triu.")
        elif torch.equal(got, expected.tril(-1)):
            hint = " The diagonal is False: a position must be allowed to see itself."
        else:
            hint = ""
        return (f"size={size}: wrong mask, expected\n{expected.int().numpy()}\ngot\n"
                f"{got.int().numpy()}.{hint}")

    return _run_cases(fn, (Case(f"size={size}", (size,)) for size in (1, 4, 7)), judge,
                      "right for sizes 1, 4 and 7: each row t allows columns 0..t.")


def check_target_mask(fn: Callable) -> Feedback:
    """Grade ``fn(tgt, pad_id) -> mask`` broadcastable to ``(B, 1, T, T)``: causal and
    hiding padding keys of a batch of decoder inputs."""
    from ..transformer import target_mask

    tgt = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]])

    def judge(case: Case, got) -> str | None:
        expected = target_mask(tgt, 0)
        if not isinstance(got, torch.Tensor):
            return f"expected a torch.Tensor, got {type(got).__name__}."
        if got.dtype != torch.bool:
            return f"expected a boolean tensor (True = may attend), got {got.dtype}."
        try:
            got = torch.broadcast_to(got, expected.shape)
        except RuntimeError:
            return (f"shape {tuple(got.shape)} does not broadcast to (batch, 1, T, T) = "
                    f"{tuple(expected.shape)}: add the singleton head axis, e.g. mask[:, None].")
        if torch.equal(got, expected):
            return None
        causal_only = torch.ones(5, 5, dtype=torch.bool).tril().expand_as(expected)
        padding_only = (tgt != 0)[:, None, None, :].expand_as(expected)
        if torch.equal(got, causal_only):
            hint = " It is causal but lets queries attend to the padding (id 0) of sequence 2."
        elif torch.equal(got, padding_only):
            hint = " It hides padding but lets positions see the future: combine with & causal."
        elif torch.equal(got, ~expected):
            hint = " It is inverted: True must mean 'may attend'."
        else:
            hint = ""
        return (f"wrong mask for sequence 2 ({tgt[1].tolist()}): expected\n"
                f"{expected[1, 0].int().numpy()}\ngot\n{got[1, 0].int().numpy()}.{hint}")

    return _run_cases(fn, [Case(None, (tgt, 0))], judge,
                      "causal and padding-aware: each position sees the real tokens up to "
                      "itself.")


def check_worked_example(answer: dict) -> Feedback:
    """Grade the pen-and-paper answers of Section 4.5: a dict with ``"scores"`` (the
    4x4 scaled score matrix), ``"weights_row0"`` (the [CLS] row of the attention weights,
    4 numbers) and ``"output_row0"`` (the [CLS] output row), rounded to 2 decimals."""
    from ..worked_example import intermediates

    if not isinstance(answer, dict):
        return _report(False, f"pass a dict with keys 'scores', 'weights_row0', "
                              f"'output_row0', got {type(answer).__name__}.")
    ref = intermediates()
    wanted = {"scores": ref["scaled_scores"], "weights_row0": ref["weights"][0],
              "output_row0": ref["output"][0]}
    for key, expected in wanted.items():
        if key not in answer or answer[key] is None:
            return _report(False, f"fill in answer[{key!r}].")
        try:
            got = torch.as_tensor(answer[key], dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError):
            return _report(False, f"answer[{key!r}] must be numbers (a list or a tensor).")
        problem = _compare(key, got, expected, atol=0.011)
        if problem:
            if key == "scores" and _close(got, ref["scores"], 0.011):
                problem += f" These are the raw scores: divide by sqrt(d_k) = {ref['sqrt_dk']:g}."
            elif key == "scores" and _close(got, ref["scores"].T / ref["sqrt_dk"], 0.011):
                problem += " Transposed: row i is query i, column j is key j (Q K^T)."
            return _report(False, problem + " (2 decimals are enough.)")
    return _report(True, "your scaled scores, [CLS] weights and [CLS] output are right.")
