"""Checking functions for the code exercises of Chapter 4 (the mathematics of LLMs).

Like :mod:`llmbook.exercises`, each ``check_*`` runs the reader's function on small,
seeded inputs, prints one helpful message and returns a :class:`~llmbook.exercises.Feedback`;
it never raises because of a wrong answer.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from .exercises import Feedback, _call, _compare, _report

__all__ = ["check_additive_attention", "check_pre_ln_layer", "check_softmax_backward",
           "check_info_nce", "check_lm_nll", "check_worked_example"]


def _not_callable(fn) -> Feedback | None:
    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    return None


def _close(a, b, atol=1e-5) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and \
        torch.allclose(a.double(), b.double(), atol=atol)


def check_additive_attention(fn: Callable) -> Feedback:
    """Grade ``fn(Q, K, V, W_q, W_k, w) -> output`` (additive attention, no mask)."""
    from .mathx import additive_attention, dot_product_attention as dot_product

    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(0)
    for label, (t, s, d_q, d_k, d_a, d_v) in (("T=3, S=3", (3, 3, 4, 4, 5, 2)),
                                               ("T=2 queries, S=5 keys", (2, 5, 3, 6, 4, 3))):
        q, k, v = (torch.randn(n, d, generator=gen) for n, d in ((t, d_q), (s, d_k), (s, d_v)))
        w_q, w_k = torch.randn(d_q, d_a, generator=gen), torch.randn(d_k, d_a, generator=gen)
        w = torch.randn(d_a, generator=gen)
        ok, got = _call(fn, q, k, v, w_q, w_k, w)
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = additive_attention(q, k, v, w_q, w_k, w)
        problem = _compare(label, got, expected)
        if problem:
            scores = torch.tanh((q @ w_q)[:, None] + (k @ w_k)[None]) @ w   # (T, S)
            if t == s and _close(got, torch.softmax(scores, dim=0) @ v):
                problem += " The softmax must run over the keys (dim=-1), not the queries."
            elif _close(got, dot_product(q @ w_q, k @ w_k, v)):
                problem += (" That is dot-product attention of the projections; additive "
                            "scores are w . tanh(q W_q + k W_k), one per (query, key) pair.")
            elif isinstance(got, torch.Tensor) and tuple(got.shape) == (t, s):
                problem += " You returned the weights; multiply them by V."
            return _report(False, problem)
    return _report(True, "matches additive attention for self- and cross-attention shapes.")


def check_pre_ln_layer(fn: Callable) -> Feedback:
    """Grade ``fn(x, attention, ffn, norm1, norm2) -> y``, one pre-LN layer, where
    ``attention(z)`` and ``ffn(z)`` are callables and ``norm1``/``norm2`` LayerNorms."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(1)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(1)
    attn, ffn = nn.Linear(8, 8), nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
    norm1, norm2 = nn.LayerNorm(8), nn.LayerNorm(8)
    with torch.no_grad():
        for norm in (norm1, norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    torch.random.set_rng_state(torch_state)
    x = 3 * torch.randn(2, 5, 8, generator=gen) + 1
    with torch.no_grad():
        ok, got = _call(fn, x, attn, ffn, norm1, norm2)
        if not ok:
            return _report(False, got)
        h = x + attn(norm1(x))
        expected = h + ffn(norm2(h))
        problem = _compare("pre-LN layer", got, expected)
        if problem:
            post = norm1(x + attn(x))
            post = norm2(post + ffn(post))
            if _close(got, post):
                problem += (" That is the post-LN layer LN(x + f(x)); pre-LN normalises the "
                            "input of each sub-layer: x + f(LN(x)).")
            elif _close(got, ffn(norm2(h))):
                problem += " The second residual connection is missing: add h back."
            elif _close(got, norm2(h + ffn(norm2(h)))):
                problem += " Pre-LN does not normalise after the residual sum."
            return _report(False, problem)
    return _report(True, "matches h = x + Attn(LN1(x)), y = h + FFN(LN2(h)).")


def check_softmax_backward(fn: Callable) -> Feedback:
    """Grade ``fn(p, grad_p) -> grad_scores``: the softmax's backward pass along the last
    dimension (``p`` = softmax outputs, ``grad_p`` = dL/dp)."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(2)
    for shape in ((5,), (3, 4), (2, 3, 6)):
        scores = torch.randn(shape, generator=gen, dtype=torch.float64, requires_grad=True)
        p = torch.softmax(scores, -1)
        grad_p = torch.randn(shape, generator=gen, dtype=torch.float64)
        (expected,) = torch.autograd.grad(p, scores, grad_p)
        p = p.detach()
        ok, got = _call(fn, p.clone(), grad_p.clone())
        if not ok:
            return _report(False, f"shape {shape}: {got}")
        problem = _compare(f"shape {shape}", got, expected, atol=1e-8)
        if problem:
            if _close(got, p * grad_p, 1e-8):
                problem += (" You kept the diagonal term p*g only; subtract p * sum(g*p) "
                            "(the off-diagonal part -p p^T of the Jacobian).")
            elif _close(got, grad_p - (grad_p * p).sum(-1, keepdim=True), 1e-8):
                problem += " Multiply by p: dL/ds = p * (g - sum(g * p))."
            elif _close(got, p * (grad_p - grad_p.sum(-1, keepdim=True)), 1e-8):
                problem += " The sum must be weighted by p: sum(g * p), not sum(g)."
            return _report(False, problem)
    return _report(True, "matches autograd for a vector, a matrix and a batch of matrices.")


def check_info_nce(fn: Callable) -> Feedback:
    """Grade ``fn(anchors, positives, temperature) -> scalar`` (cosine InfoNCE)."""
    from .losses import info_nce

    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(3)
    for n, d, tau in ((4, 3, 0.5), (8, 16, 0.07)):
        a = torch.randn(n, d, generator=gen) * 2
        b = a + torch.randn(n, d, generator=gen)
        label = f"N={n}, d={d}, temperature={tau}"
        ok, got = _call(fn, a, b, tau)
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = info_nce(a, b, tau)
        if isinstance(got, torch.Tensor) and got.dim() != 0:
            return _report(False, f"{label}: return one number (a 0-d tensor), the mean over "
                                  f"the batch; got shape {tuple(got.shape)}.")
        problem = _compare(label, got, expected, atol=1e-4)
        if problem:
            if _close(got, info_nce(a, b, tau, normalize=False), 1e-4):
                problem += " Normalise the rows first: s_ij is a cosine similarity."
            elif _close(got, info_nce(a, b, 1.0), 1e-4):
                problem += " Divide the similarities by the temperature."
            elif _close(got, -expected, 1e-4):
                problem += " Sign: the loss is minus the log-probability of the positive."
            return _report(False, problem)
    return _report(True, "matches InfoNCE for two batch sizes and temperatures.")


def check_lm_nll(fn: Callable) -> Feedback:
    """Grade ``fn(logits (B, T, V), ids (B, T)) -> mean next-token NLL``."""
    from .losses import lm_nll

    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(4)
    logits = torch.randn(2, 6, 11, generator=gen) * 2
    ids = torch.randint(0, 11, (2, 6), generator=gen)
    ok, got = _call(fn, logits, ids)
    if not ok:
        return _report(False, got)
    expected = lm_nll(logits, ids)
    problem = _compare("mean NLL", got, expected, atol=1e-4)
    if problem:
        unshifted = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), ids.reshape(-1))
        if _close(got, unshifted, 1e-4):
            problem += (" You scored position t on token t: the logits at t predict token "
                        "t+1, so drop the last logits and the first token.")
        elif _close(got, -expected, 1e-4):
            problem += " Sign: NLL is minus the log-probability."
        elif _close(got, expected * ids[:, 1:].numel(), 1e-3):
            problem += " That is the sum; return the mean over predicted tokens."
        return _report(False, problem)
    return _report(True, f"matches the shifted next-token NLL ({float(expected):.4f}).")


def check_worked_example(answer: dict) -> Feedback:
    """Grade the pen-and-paper answers of Section 4.5: a dict with ``"scores"`` (the
    4x4 scaled score matrix), ``"weights_row0"`` (the [CLS] row of the attention weights,
    4 numbers) and ``"output_row0"`` (the [CLS] output row), rounded to 2 decimals."""
    from .mathx import worked_example

    if not isinstance(answer, dict):
        return _report(False, f"pass a dict with keys 'scores', 'weights_row0', "
                              f"'output_row0', got {type(answer).__name__}.")
    ref = worked_example()
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
