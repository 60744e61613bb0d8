"""Graders for the exercises of sections 3.3, 3.4 and 5.3.

Like :mod:`llmbook.exercises`, each ``check_*`` runs the reader's function on small inputs,
prints one helpful message and returns a :class:`~llmbook.exercises.Feedback`; a wrong answer
never raises.
"""

from __future__ import annotations

import math
from typing import Callable

import torch

from .exercises import Feedback, _call, _compare, _report

__all__ = ["check_gpt_parameter_count", "check_info_nce", "check_warmup_cosine"]


def check_gpt_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(vocab_size, block_size, n_layer, n_embd) -> int``: the number of
    parameters of :class:`llmbook.gpt.GPT` (biases on, tied output layer counted once)."""
    from .gpt import GPT, GPTConfig

    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    for vocab, block, layers, embd in ((70, 128, 4, 128), (65, 64, 2, 32), (50257, 1024, 12, 768)):
        if embd == 768:
            expected = 124_439_808          # GPT-2 small, the published count
        else:
            expected = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=layers,
                                     n_head=4, n_embd=embd)).num_parameters()
        ok, got = _call(fn, vocab, block, layers, embd)
        label = f"vocab={vocab}, block={block}, n_layer={layers}, n_embd={embd}"
        if not ok:
            return _report(False, f"{label}: {got}")
        if not isinstance(got, int) or isinstance(got, bool):
            return _report(False, f"{label}: expected an int, got {type(got).__name__}.")
        if got != expected:
            hint = ""
            if got - expected == vocab * embd:
                hint = (" You counted the output layer separately: it is tied to the token "
                        "embedding, so it adds no parameters.")
            elif got < expected:
                hint = (" Too few: remember the biases, both LayerNorms per block (gain and "
                        "bias), the final LayerNorm and the position embeddings.")
            return _report(False, f"{label}: expected {expected:,}, got {got:,}.{hint}")
    return _report(True, "right for the book's model, a tiny one and GPT-2 small "
                         "(124,439,808).")


def check_info_nce(fn: Callable) -> Feedback:
    """Grade ``fn(a, b, temperature) -> scalar``: the one-directional InfoNCE loss
    (cosine similarities of rows of ``a`` against rows of ``b``, positives on the
    diagonal)."""
    from .pretraining import info_nce

    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    gen = torch.Generator().manual_seed(0)
    for n, d, tau in ((4, 3, 1.0), (8, 16, 0.05), (16, 5, 0.2)):
        a, b = torch.randn(n, d, generator=gen), torch.randn(n, d, generator=gen) * 3
        ok, got = _call(fn, a, b, tau)
        label = f"N={n}, d={d}, temperature={tau}"
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = info_nce(a, b, tau, symmetric=False)
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.reshape(())
        problem = _compare(label, got, expected, atol=1e-4)
        if problem:
            if isinstance(got, torch.Tensor) and got.shape == expected.shape:
                raw = torch.nn.functional.cross_entropy(a @ b.T / tau, torch.arange(n))
                if torch.allclose(got.double(), raw.double(), atol=1e-4):
                    problem += (" It matches dot products WITHOUT normalising the rows: use "
                                "cosine similarity (F.normalize each row first).")
                elif torch.allclose(got.double(), info_nce(a, b, 1.0, symmetric=False)
                                    .double(), atol=1e-4):
                    problem += " It matches temperature 1: divide the similarities by it."
            return _report(False, problem)
    return _report(True, "matches InfoNCE for three batch sizes and temperatures.")


def check_warmup_cosine(fn: Callable) -> Feedback:
    """Grade ``fn(step, max_lr, warmup_steps, total_steps, min_lr) -> float`` against
    :func:`llmbook.training.warmup_cosine_lr`."""
    from .training import warmup_cosine_lr

    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    cases = [(s, 1e-3, 10, 100, 1e-4) for s in (0, 4, 9, 10, 30, 55, 99, 100, 150)]
    cases += [(s, 0.5, 0, 20, 0.0) for s in (0, 10, 19)]
    for step, max_lr, warm, total, min_lr in cases:
        ok, got = _call(fn, step, max_lr, warm, total, min_lr)
        label = f"step={step} (max_lr={max_lr}, warmup={warm}, total={total}, min_lr={min_lr})"
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = warmup_cosine_lr(step, max_lr=max_lr, warmup_steps=warm,
                                    total_steps=total, min_lr=min_lr)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return _report(False, f"{label}: expected a number, got {type(got).__name__}.")
        if not math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-12):
            hint = ""
            if step < warm:
                hint = " During warm-up the rate grows linearly: max_lr * (step + 1) / warmup."
            elif step >= total:
                hint = " After total_steps the rate stays at min_lr."
            else:
                hint = (" After warm-up: min_lr + 0.5 (max_lr - min_lr) (1 + cos(pi p)), with "
                        "p = (step - warmup) / (total - warmup).")
            return _report(False, f"{label}: expected {expected:.6g}, got {value:.6g}.{hint}")
    return _report(True, f"all {len(cases)} steps match (warm-up, cosine decay, the floor).")
