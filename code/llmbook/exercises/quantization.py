"""Graders of the exercises on quantization (3.6): per-row symmetric int8 quantization."""

from __future__ import annotations

from typing import Callable

import torch

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_int8_quantize"]


def _weights():
    """Seeded weights with the cases a careless answer gets wrong."""
    g = torch.Generator().manual_seed(0)
    plain = torch.randn(4, 8, generator=g) * 0.1
    rows = torch.randn(6, 16, generator=g) * torch.tensor([[0.01], [0.1], [1.0], [3.0],
                                                           [0.05], [0.5]])
    negative = torch.randn(5, 12, generator=g) * 0.1
    negative[:, 3] = -1.0                      # the largest |w| of every row is negative
    zeros = torch.randn(5, 7, generator=g)
    zeros[2] = 0.0                             # an all-zero row: max |w| = 0
    single = torch.zeros(3, 9)
    single[0, 4], single[1, 0], single[2, 8] = 2.0, -0.5, 1e-3
    wide = torch.randn(16, 64, generator=g) * 0.02
    return [("a 4 x 8 weight", plain), ("rows of very different sizes", rows),
            ("rows whose largest |w| is negative", negative),
            ("a weight with an all-zero row (row 2)", zeros),
            ("one non-zero weight per row", single), ("a 16 x 64 weight", wide)]


def _reference(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = w.abs().amax(dim=1) / 127
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    return torch.round(w / safe[:, None]).to(torch.int8), scale


def _scale_hint(got: torch.Tensor, w: torch.Tensor) -> str:
    amax = w.abs().amax(dim=1)
    guesses = {
        "the maximum over columns (dim=0) instead of over each row": w.abs().amax(dim=0) / 127,
        "one scale for the whole matrix instead of one per row": w.abs().max() / 127
        * torch.ones_like(amax),
        "max(w) instead of max(|w|)": w.amax(dim=1) / 127,
        "127.5 instead of 127": amax / 127.5, "128 instead of 127": amax / 128,
        "255 instead of 127 (that is the asymmetric range)": amax / 255,
    }
    for mistake, guess in guesses.items():
        if guess.shape == got.shape and torch.allclose(got, guess, rtol=1e-5, atol=1e-12):
            return f" It looks like you used {mistake}."
    return " The scale of row i is max_j |W[i, j]| / 127."


def check_int8_quantize(fn: Callable) -> Feedback:
    """Grade ``fn(weight) -> (q, scale)``: per-output-channel (per-row) symmetric int8
    quantization, ``scale[i] = max_j |weight[i, j]| / 127`` and
    ``q = round(weight / scale[:, None])`` as ``torch.int8``. An all-zero row may have any
    positive finite scale (its codes must be 0)."""

    def judge(case: Case, got) -> str | None:
        (w,) = case.args
        label = case.label
        if not (isinstance(got, (tuple, list)) and len(got) == 2):
            return (f"{label}: return a pair (q, scale), got {type(got).__name__}"
                    f"{f' of length {len(got)}' if isinstance(got, (tuple, list)) else ''}.")
        q, scale = got
        if not isinstance(q, torch.Tensor) or not isinstance(scale, torch.Tensor):
            return f"{label}: q and scale must both be torch tensors."
        if q.dtype != torch.int8:
            return (f"{label}: q must have dtype torch.int8 (one byte per weight), got "
                    f"{q.dtype}: convert the rounded codes with .to(torch.int8).")
        if tuple(q.shape) != tuple(w.shape):
            return (f"{label}: q must have the weight's shape {tuple(w.shape)}, got "
                    f"{tuple(q.shape)}.")
        if scale.dim() == 2 and scale.shape[1] == 1:
            scale = scale[:, 0]                 # (out, 1) is fine too
        if not scale.is_floating_point():
            return f"{label}: scale must be a float tensor, got {scale.dtype}."
        if tuple(scale.shape) != (w.shape[0],):
            return (f"{label}: scale needs one value per output row, shape ({w.shape[0]},), got "
                    f"{tuple(scale.shape)}.{_scale_hint(scale, w)}")
        zero = w.abs().amax(dim=1) == 0
        if not torch.isfinite(scale).all():
            rows = torch.nonzero(~torch.isfinite(scale)).flatten().tolist()
            return (f"{label}: scale of rows {rows} is NaN or inf. An all-zero row has "
                    f"max |w| = 0; give it a positive scale (e.g. torch.finfo(torch.float32)"
                    f".eps, or 1) so that w / scale is not 0 / 0.")
        if (scale[zero] <= 0).any():
            return (f"{label}: the all-zero row got scale {float(scale[zero][0]):g}, so "
                    f"w / scale is 0 / 0 = NaN (whose int8 value is undefined). Give such a "
                    f"row a positive scale, e.g. torch.finfo(torch.float32).eps, or 1.")
        expected_q, expected_scale = _reference(w)
        if not torch.allclose(scale[~zero].double(), expected_scale[~zero].double(),
                              rtol=1e-5, atol=0):
            return f"{label}: the scales are wrong.{_scale_hint(scale, w)}"
        if (q[zero] != 0).any():
            return f"{label}: the codes of an all-zero row must be 0."
        if not torch.equal(q[~zero], expected_q[~zero]):
            truncated = torch.trunc(w / torch.where(zero, 1.0, expected_scale)[:, None])
            if torch.equal(q[~zero], truncated.to(torch.int8)[~zero]):
                return (f"{label}: the codes were truncated towards 0, not rounded: call "
                        f"torch.round before .to(torch.int8) (which truncates).")
            gap = int((q.int() - expected_q.int()).abs().max())
            return (f"{label}: {int((q != expected_q).sum())} codes differ from "
                    f"round(w / scale) (by up to {gap}). Divide each row by its own scale: "
                    f"w / scale[:, None].")
        error = (w - q.float() * scale[:, None]).abs()
        bound = scale[:, None] / 2 + 4 * torch.finfo(torch.float32).eps * w.abs()
        if not (error <= bound).all():  # pragma: no cover - implied by the checks above
            return f"{label}: some weights moved by more than half a step (scale / 2)."
        return None

    return _run_cases(fn, (Case(label, (w.clone(),)) for label, w in _weights()), judge,
                      "per-row scales, int8 codes and the all-zero row are all right; every "
                      "weight is within scale / 2 of its code times the scale.")
