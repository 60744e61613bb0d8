"""Graders of the exercises on decoding (3.6): nucleus (top-p) filtering, and the size of a
KV cache."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_top_p_filter", "check_kv_cache_size"]

#: A logit at or below this counts as removed (``-inf`` is what the book uses).
_REMOVED = -1e9


def _top_p_cases():
    """``(label, logits, p)``: random rows, a peaked row, p = 1, a tiny p, ties, -inf."""
    g = torch.Generator().manual_seed(0)
    yield "random logits (3 x 20), p = 0.9", torch.randn(3, 20, generator=g) * 2, 0.9
    peaked = torch.randn(2, 30, generator=g)
    peaked[:, 4] += 6.0
    yield "one dominant token (2 x 30), p = 0.5", peaked, 0.5
    yield "p = 1.0 (nothing may go)", torch.randn(2, 12, generator=g), 1.0
    yield "p = 0.01 (only the most likely)", torch.randn(2, 25, generator=g) * 3, 0.01
    ties = torch.full((1, 10), -1.0)
    ties[0, 2:6] = 3.0
    yield "four tied top tokens, p = 0.5", ties, 0.5
    gone = torch.randn(2, 16, generator=g) * 2
    gone[:, [0, 5]] = -math.inf
    yield "logits already -inf somewhere, p = 0.8", gone, 0.8
    yield "a batch of 4 x 50, p = 0.75", torch.randn(4, 50, generator=g) * 1.5, 0.75


def _judge_top_p(case: Case, got) -> str | None:
    logits, p = case.args[0], case.args[1]
    original, expected = case.context
    label = case.label
    if not torch.equal(logits, original):
        return (f"{label}: your function changed its input logits in place; build a new "
                f"tensor (masked_fill, not masked_fill_).")
    if got is None:
        return f"{label}: the function returned None — did you forget `return`?"
    if not isinstance(got, torch.Tensor):
        return f"{label}: expected a torch.Tensor of logits, got {type(got).__name__}."
    if tuple(got.shape) != tuple(logits.shape):
        return (f"{label}: expected shape {tuple(logits.shape)} (the logits, filtered), got "
                f"{tuple(got.shape)}.")
    got = got.detach().double()
    if torch.isnan(got).any():
        return f"{label}: the result contains NaN."
    if (got >= 0).all() and torch.allclose(got.sum(-1), torch.ones(got.size(0),
                                                                    dtype=got.dtype)):
        return (f"{label}: this looks like probabilities; return the logits, with the removed "
                f"tokens set to -inf (sampling applies the softmax afterwards).")
    kept = got > _REMOVED
    want = expected > _REMOVED
    probs = torch.softmax(original.double(), dim=-1)
    for row in range(got.size(0)):
        k, w = kept[row], want[row]
        if not torch.equal(got[row][k], original.double()[row][k]):
            return (f"{label}: row {row}: the tokens you keep must keep their logits "
                    f"unchanged; only the removed ones become -inf.")
        dropped = probs[row][~k & torch.isfinite(original[row])]
        if k.any() and dropped.numel() and probs[row][k].min() < dropped.max() - 1e-9:
            return (f"{label}: row {row}: you keep less likely tokens while removing more "
                    f"likely ones. Sort by probability in descending order (or, like "
                    f"transformers, ascending and remove the low end).")
        n, m = int(k.sum()), int(w.sum())
        if n == m:
            continue
        if p == 1.0:
            return (f"{label}: row {row}: you removed {m - n} token(s); with p = 1 the "
                    f"nucleus is every token that has any probability.")
        if n == m - 1:
            return (f"{label}: row {row}: you keep {n} tokens, one too few. Keep the token "
                    f"whose probability takes the running total to p or past it: the "
                    f"nucleus is the smallest set with probability >= p.")
        if n == m + 1:
            return (f"{label}: row {row}: you keep {n} tokens, one too many: stop at the first "
                    f"token where the running total reaches p.")
        if n == 0:
            return f"{label}: row {row}: you removed every token; keep at least the most likely."
        return (f"{label}: row {row}: you keep {n} tokens, expected {m}. Cumulate the "
                f"*probabilities* (softmax), sorted from most to least likely.")
    return None


def check_top_p_filter(fn: Callable) -> Feedback:
    """Grade ``fn(logits (B, V), p) -> logits (B, V)``, top-p (nucleus) filtering with the
    removed tokens at ``-inf``, against :func:`llmbook.decoding.top_p_filter` (which equals
    ``transformers``' ``TopPLogitsWarper``). Among tied tokens any choice is accepted, as long
    as the number kept is right."""
    from ..decoding import top_p_filter

    def cases():
        for label, logits, p in _top_p_cases():
            yield Case(label, (logits.clone(), p), (logits, top_p_filter(logits, p)))

    return _run_cases(fn, cases(), _judge_top_p,
                      "all 7 cases match transformers' TopPLogitsWarper (ties, p = 1, -inf).")


#: (label, n_layer, n_kv_heads, head_dim, length, batch, bytes per element)
_KV_CASES = (("a Llama-3-8B-like model (32 layers, 8 KV heads of 128), 4,096 tokens, batch 8, "
              "float32", 32, 8, 128, 4096, 8, 4),
             ("the book's GPT (4 layers, 4 heads of 32, 128 positions, float32)",
              4, 4, 32, 128, 1, 4),
             ("SmolLM2-135M (30 layers, 3 KV heads of 64), 2,048 tokens in bfloat16",
              30, 3, 64, 2048, 1, 2),
             ("a Llama-2-7B-like model (32 layers, 32 heads of 128), 4,096 tokens, float16",
              32, 32, 128, 4096, 1, 2))


def check_kv_cache_size(fn: Callable) -> Feedback:
    """Grade ``fn(n_layer, n_kv_heads, head_dim, length, batch, bytes_per_element) -> int``,
    the bytes of a KV cache, against :func:`llmbook.decoding.kv_cache_size`."""
    from ..decoding import kv_cache_size

    def judge(case: Case, got) -> str | None:
        n_layer, heads, head_dim, length, batch, nbytes = case.args
        expected = kv_cache_size(n_layer, heads, head_dim, length, batch=batch,
                                 bytes_per_element=nbytes)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return f"{case.label}: expected a number of bytes, got {type(got).__name__}."
        if value == expected:
            return None
        hints = {expected / 2: "You count the keys only: the values are cached too (x 2).",
                 expected * 8: "That is bits; the answer is in bytes.",
                 expected / nbytes: "Multiply by the bytes per element.",
                 expected / batch: "Every sequence of the batch has its own cache (x batch).",
                 expected / n_layer: "Every layer has its own keys and values (x n_layer)."}
        hint = hints.get(value, "Bytes = 2 (K and V) x layers x batch x KV heads x head_dim "
                                "x length x bytes per element.")
        return (f"{case.label}: expected {expected:,} bytes ({expected / 2**20:,.1f} MiB), "
                f"got {value:,.0f}. {hint}")

    def success() -> str:
        sizes = [kv_cache_size(*c[1:5], batch=c[5], bytes_per_element=c[6]) for c in _KV_CASES]
        return ("right for all four: " + ", ".join(f"{s / 2**20:,.1f} MiB" for s in sizes)
                + ".")

    return _run_cases(fn, (Case(c[0], c[1:]) for c in _KV_CASES), judge, success)
