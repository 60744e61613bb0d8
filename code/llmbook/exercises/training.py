"""Graders of the exercises on training: the warm-up + cosine learning-rate schedule (3.4)
and freezing a pretrained body for fine-tuning (2.5)."""

from __future__ import annotations

import math
from typing import Callable

import torch

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_warmup_cosine", "check_freeze_body"]


def check_warmup_cosine(fn: Callable) -> Feedback:
    """Grade ``fn(step, max_lr, warmup_steps, total_steps, min_lr) -> float`` against
    :func:`llmbook.training.warmup_cosine_lr`."""
    from ..training import warmup_cosine_lr

    cases = [(s, 1e-3, 10, 100, 1e-4) for s in (0, 4, 9, 10, 30, 55, 99, 100, 150)]
    cases += [(s, 0.5, 0, 20, 0.0) for s in (0, 10, 19)]

    def judge(case: Case, got) -> str | None:
        step, max_lr, warm, total, min_lr = case.args
        expected = warmup_cosine_lr(step, max_lr=max_lr, warmup_steps=warm,
                                    total_steps=total, min_lr=min_lr)
        try:
            value = float(got)
        except (TypeError, ValueError):
            return f"{case.label}: expected a number, got {type(got).__name__}."
        if math.isclose(value, expected, rel_tol=1e-6, abs_tol=1e-12):
            return None
        if step < warm:
            hint = " During warm-up the rate grows linearly: max_lr * (step + 1) / warmup."
        elif step >= total:
            hint = " After total_steps the rate stays at min_lr."
        else:
            hint = (" After warm-up: min_lr + 0.5 (max_lr - min_lr) (1 + cos(pi p)), with "
                    "p = (step - warmup) / (total - warmup).")
        return f"{case.label}: expected {expected:.6g}, got {value:.6g}.{hint}"

    return _run_cases(fn, (Case(f"step={s} (max_lr={m}, warmup={w}, total={t}, min_lr={lo})",
                                (s, m, w, t, lo)) for s, m, w, t, lo in cases), judge,
                      f"all {len(cases)} steps match (warm-up, cosine decay, the floor).")


def check_freeze_body(fn: Callable) -> Feedback:
    """Grade ``fn(model) -> int``: freeze every parameter of a sequence classifier except its
    ``classifier`` head, and return the number of trainable parameters left."""
    from transformers import BertConfig, BertForSequenceClassification

    def cases():
        torch.manual_seed(0)
        config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                            num_attention_heads=2, intermediate_size=32, num_labels=3)
        yield Case(None, (BertForSequenceClassification(config),))

    def judge(case: Case, got) -> str | None:
        (model,) = case.args
        head = {n for n, _ in model.named_parameters() if n.startswith("classifier")}
        wrong_frozen = [n for n, p in model.named_parameters()
                        if n in head and not p.requires_grad]
        wrong_trainable = [n for n, p in model.named_parameters()
                           if n not in head and p.requires_grad]
        expected = sum(p.numel() for n, p in model.named_parameters() if n in head)
        if wrong_frozen:
            return f"the head must stay trainable, but {wrong_frozen} are frozen."
        if wrong_trainable:
            return (f"{len(wrong_trainable)} body parameters are still trainable, "
                    f"e.g. {wrong_trainable[0]!r}: set requires_grad = False.")
        if got != expected:
            return (f"the parameters are frozen correctly, but return the number of "
                    f"trainable parameters ({expected}), got {got!r}.")
        return None

    # The head of this config: 16 x 3 weights + 3 biases = 51 parameters.
    return _run_cases(fn, cases(), judge, "only the classifier head (51 parameters: 16 x 3 "
                                          "weights + 3 biases) is trainable.")
