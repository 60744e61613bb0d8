"""Tests of llmbook.exercises.quantization: the int8 grader accepts right answers (the
book's own among them) and explains the usual mistakes."""

import torch

from llmbook.exercises.quantization import check_int8_quantize
from llmbook.quantization import quantize_int8


def _right(w):
    scale = w.abs().amax(dim=1) / 127
    scale = torch.where(scale == 0, torch.ones_like(scale), scale)
    return torch.round(w / scale[:, None]).to(torch.int8), scale


def _message(fn, capsys):
    feedback = check_int8_quantize(fn)
    out = capsys.readouterr().out
    assert out.strip() == repr(feedback)
    return feedback, out


def test_right_answers_pass(capsys):
    for fn in (_right, quantize_int8,
               lambda w: (_right(w)[0], _right(w)[1][:, None])):       # (out, 1) scales
        feedback, out = _message(fn, capsys)
        assert feedback and out.startswith("✅") and "all-zero row" in out


def _fails_with(fn, capsys, *words):
    feedback, out = _message(fn, capsys)
    assert not feedback and out.startswith("❌"), out
    for word in words:
        assert word in out, out


def test_the_usual_mistakes_are_explained(capsys):
    def no_zero_guard(w):
        scale = w.abs().amax(dim=1) / 127
        return torch.round(w / scale[:, None]).to(torch.int8), scale

    def columns(w):
        scale = w.abs().amax(dim=0) / 127
        return torch.round(w / scale).to(torch.int8), scale

    def per_tensor(w):
        scale = (w.abs().max() / 127).expand(w.shape[0]).clone()
        return torch.round(w / scale[:, None]).to(torch.int8), scale

    def signed_max(w):
        scale = w.amax(dim=1).clamp(min=1e-8) / 127
        return torch.round(w / scale[:, None]).clamp(-128, 127).to(torch.int8), scale

    def by_255(w):
        q, scale = _right(w)
        return torch.round(w / (scale * 127 / 255)[:, None]).clamp(-128, 127).to(
            torch.int8), scale * 127 / 255

    def truncates(w):
        q, scale = _right(w)
        return (w / scale[:, None]).to(torch.int8), scale

    def float_codes(w):
        q, scale = _right(w)
        return q.float(), scale

    def nan_scale(w):
        q, scale = _right(w)
        return q, torch.where(w.abs().amax(dim=1) == 0, float("nan"), scale)

    _fails_with(no_zero_guard, capsys, "all-zero row", "0 / 0")
    _fails_with(nan_scale, capsys, "NaN or inf")
    _fails_with(columns, capsys, "one value per output row")
    _fails_with(per_tensor, capsys, "whole matrix")
    _fails_with(signed_max, capsys, "max(|w|)")
    _fails_with(by_255, capsys, "255")
    _fails_with(truncates, capsys, "truncated")
    _fails_with(float_codes, capsys, "torch.int8")
    _fails_with(lambda w: _right(w)[0], capsys, "pair")
    _fails_with(lambda w: (_right(w)[0][:, :2], _right(w)[1]), capsys, "shape")
    _fails_with(lambda w: (_right(w)[0], _right(w)[1].long()), capsys, "float")
    _fails_with(lambda w: (_right(w)[0], _right(w)[1].tolist()), capsys, "tensors")


def test_a_stub_and_a_crash_are_messages(capsys):
    def stub(w):
        raise NotImplementedError

    _fails_with(stub, capsys, "NotImplementedError")
    _fails_with(lambda w: w.nonexistent(), capsys, "AttributeError")
    _fails_with(None, capsys, "function")


def test_zero_row_codes_must_be_zero(capsys):
    def nonzero_codes(w):
        q, scale = _right(w)
        q[w.abs().amax(dim=1) == 0] = 1
        return q, scale

    _fails_with(nonzero_codes, capsys, "codes of an all-zero row")
