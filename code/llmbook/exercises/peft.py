"""Graders of the exercises on parameter-efficient fine-tuning (3.5): a LoRA layer written by
the reader, and prepending a soft prompt."""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn as nn

from ._feedback import Case, Feedback, _close, _compare, _run_cases

__all__ = ["check_lora_linear", "check_soft_prompt"]

#: (d_in, d_out, r, alpha) of the layers the LoRA grader builds.
_LORA_CASES = ((8, 6, 2, 4.0), (16, 16, 4, 4.0), (5, 3, 1, 1.0))


def _lora_problem(layer: Any, base: nn.Linear, r: int, alpha: float) -> str | None:
    """What is wrong with the reader's LoRA layer, or ``None``."""
    d_out, d_in = base.weight.shape
    where = f"LoRA layer (d_in={d_in}, d_out={d_out}, r={r}, alpha={alpha:g})"
    if not isinstance(layer, nn.Module):
        return f"{where}: the class must be an nn.Module, got {type(layer).__name__}."
    A, B = getattr(layer, "lora_A", None), getattr(layer, "lora_B", None)
    if not isinstance(A, nn.Parameter) or not isinstance(B, nn.Parameter):
        return (f"{where}: store the two factors as nn.Parameter attributes lora_A and "
                f"lora_B (got {type(A).__name__} and {type(B).__name__}).")
    if tuple(A.shape) != (r, d_in) or tuple(B.shape) != (d_out, r):
        swapped = tuple(A.shape) == (d_in, r) or tuple(B.shape) == (r, d_out)
        return (f"{where}: lora_A must be r x d_in = {(r, d_in)} and lora_B d_out x r = "
                f"{(d_out, r)}, got {tuple(A.shape)} and {tuple(B.shape)}."
                + (" They look transposed." if swapped else ""))
    x = torch.randn(4, 3, d_in, generator=torch.Generator().manual_seed(d_in))
    with torch.no_grad():
        expected = base(x)
        got = layer(x)
    if (bad := _compare(f"{where}, output at initialisation", got, expected)) is not None:
        if isinstance(got, torch.Tensor) and got.shape == expected.shape and B.abs().sum() > 0:
            return (f"{where}: at initialisation the layer must compute exactly the base "
                    f"layer: start lora_B at zero (nn.init.zeros_), so that B A x = 0.")
        return bad
    if A.abs().sum() == 0:
        return (f"{where}: lora_A is all zeros. With A = 0 and B = 0 both gradients are "
                f"zero (dL/dA needs B, dL/dB needs A x): draw A at random, e.g. "
                f"nn.init.kaiming_uniform_(A, a=math.sqrt(5)).")
    trainable = {id(p) for p in layer.parameters() if p.requires_grad}
    if trainable != {id(A), id(B)}:
        if base.weight.requires_grad or (base.bias is not None and base.bias.requires_grad):
            return (f"{where}: the base layer must be frozen (requires_grad_(False) on its "
                    f"weight and bias): only A and B train.")
        return f"{where}: only lora_A and lora_B may require gradients."
    count = sum(p.numel() for p in layer.parameters() if p.requires_grad)
    if count != r * (d_in + d_out):
        return f"{where}: expected r (d_in + d_out) = {r * (d_in + d_out)} trainable, got {count}."
    with torch.no_grad():
        B.copy_(torch.randn(B.shape, generator=torch.Generator().manual_seed(r)) * 0.5)
        formula = base(x) + (alpha / r) * (x @ A.T @ B.T)
        got = layer(x)
    if (bad := _compare(f"{where}, output with B != 0", got, formula)) is not None:
        for scale, what in ((1.0, "1"), (alpha, "alpha"), (1 / r, "1/r"), (r / alpha, "r/alpha")):
            if _close(got, base(x).detach() + scale * (x @ A.T @ B.T).detach()):
                return (f"{where}: the update is scaled by {what}; the formula scales it by "
                        f"alpha / r = {alpha / r:g}.")
        return bad + " Compute base(x) + (alpha / r) * x A^T B^T."
    layer.zero_grad(set_to_none=True)
    try:
        layer(x).square().sum().backward()
    except RuntimeError:               # the output does not depend on any parameter
        A.grad = None
    if A.grad is None or B.grad is None:
        return (f"{where}: the loss must reach lora_A and lora_B by backpropagation (no "
                f".detach(), no torch.no_grad() in forward).")
    if base.weight.grad is not None:
        return f"{where}: a gradient reached the frozen base weight."
    merge = getattr(layer, "merge", None)
    if not callable(merge):
        return f"{where}: write a merge() method that adds (alpha / r) B A to base.weight."
    w0 = base.weight.detach().clone()
    with torch.no_grad():
        before = layer(x)
        merge()
        after = layer(x)
    delta = base.weight.detach() - w0
    if delta.abs().max() == 0:
        return f"{where}: merge() must change base.weight (W0 <- W0 + (alpha / r) B A)."
    if _close(after, before + (alpha / r) * (x @ A.T @ B.T)):
        return (f"{where}: after merge() the forward pass adds B A x a second time: once "
                f"merged, return base(x) only.")
    if (bad := _compare(f"{where}, output after merge()", after, before)) is not None:
        return bad + " merge() must add exactly (alpha / r) B A to base.weight."
    return None


def check_lora_linear(cls: Callable) -> Feedback:
    """Grade a LoRA layer class ``cls(base, r, alpha)``: ``base`` an ``nn.Linear`` to wrap,
    parameters ``lora_A`` (``r x d_in``) and ``lora_B`` (``d_out x r``), forward
    ``base(x) + (alpha / r) x A^T B^T``, a ``merge()`` method. Checks that B starts at zero
    (so the output is the base layer's), that A does not, the trainable-parameter count
    ``r (d_in + d_out)``, the formula, that gradients reach only A and B, and that merging
    leaves the output unchanged."""

    def cases():
        for d_in, d_out, r, alpha in _LORA_CASES:
            torch.manual_seed(d_in * 100 + d_out)
            base = nn.Linear(d_in, d_out)
            yield Case(f"{cls.__name__ if hasattr(cls, '__name__') else 'cls'}"
                       f"(nn.Linear({d_in}, {d_out}), r={r}, alpha={alpha:g})",
                       (base, r, alpha), context=(base, r, alpha))

    def judge(case: Case, layer) -> str | None:
        return _lora_problem(layer, *case.context)

    return _run_cases(cls, cases(), judge,
                      "your LoRA layer starts as the base layer, trains r (d_in + d_out) "
                      "parameters, follows base(x) + (alpha / r) B A x, sends gradients only "
                      "to A and B, and merges without changing its output.")


def check_soft_prompt(fn: Callable) -> Feedback:
    """Grade ``fn(embeds, attention_mask, prompt) -> (new_embeds, new_mask)``: the prompt
    ``(n, d)`` in front of every sequence of ``embeds`` ``(B, T, d)``, and ``n`` ones in
    front of every row of the mask ``(B, T)``."""
    from ..prompt_tuning import prepend_prompt

    def cases():
        for batch, length, d, n in ((2, 5, 4, 3), (3, 4, 8, 1), (1, 6, 2, 4)):
            g = torch.Generator().manual_seed(batch * 10 + n)
            embeds = torch.randn(batch, length, d, generator=g)
            mask = torch.ones(batch, length, dtype=torch.long)
            mask[0, length - 2:] = 0                       # the first sequence is padded
            prompt = torch.randn(n, d, generator=g)
            yield Case(f"embeds {tuple(embeds.shape)}, prompt {tuple(prompt.shape)}",
                       (embeds.clone(), mask.clone(), prompt.clone()),
                       context=prepend_prompt(embeds, mask, prompt) + (embeds, mask, prompt))

    def judge(case: Case, got) -> str | None:
        want_embeds, want_mask, embeds, mask, prompt = case.context
        if not isinstance(got, tuple) or len(got) != 2:
            return f"{case.label}: return a pair (new_embeds, new_mask)."
        new_embeds, new_mask = got
        n = prompt.shape[0]
        if isinstance(new_embeds, torch.Tensor) and new_embeds.shape == want_embeds.shape and \
                _close(new_embeds[:, -n:], prompt.expand(len(embeds), -1, -1)):
            return (f"{case.label}: the prompt is at the end; put it in front of the tokens "
                    f"(torch.cat([prompt, embeds], dim=1) after expanding it to the batch).")
        if (bad := _compare(f"{case.label}, new_embeds", new_embeds, want_embeds)) is not None:
            return bad
        if isinstance(new_mask, torch.Tensor) and tuple(new_mask.shape) == tuple(mask.shape):
            return (f"{case.label}: the mask still has {mask.shape[1]} columns; add {n} for "
                    f"the prompt, or the model cannot attend to it.")
        if isinstance(new_mask, torch.Tensor) and new_mask.shape == want_mask.shape and \
                new_mask[:, :n].eq(0).all():
            return (f"{case.label}: the prompt's mask entries are 0, which hides the prompt; "
                    f"they must be 1.")
        return _compare(f"{case.label}, new_mask", new_mask, want_mask)

    return _run_cases(fn, cases(), judge, "the prompt goes in front of every sequence and "
                                          "the mask gains n ones in front: prompt tuning's "
                                          "input, for 3 batch shapes.")
