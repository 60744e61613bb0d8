"""The graders of 5.7: a right answer passes, each usual mistake gets its hint."""

import torch

from llmbook.exercises import check_rms_norm, check_rope
from llmbook.modern import apply_rope, rope_cache


def test_rms_norm_grader(capsys):
    def right(x, w, eps):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    assert check_rms_norm(right)
    assert check_rms_norm(lambda x, w, eps: torch.nn.functional.rms_norm(x, x.shape[-1:], w, eps))
    f = check_rms_norm(lambda x, w, eps: torch.nn.functional.layer_norm(x, x.shape[-1:], w,
                                                                        eps=eps))
    assert not f and "does not subtract the mean" in f.message
    f = check_rms_norm(lambda x, w, eps: x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps))
    assert not f and "weight" in f.message
    f = check_rms_norm(lambda x, w, eps: x / (x.pow(2).mean(-1, keepdim=True).sqrt() + eps) * w)
    assert not f and "inside the square root" in f.message
    f = check_rms_norm(lambda x, w, eps: x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) + eps) * w)
    assert not f and "mean of the squares" in f.message
    assert not check_rms_norm(lambda x, w, eps: None)
    assert not check_rms_norm("not a function")


def test_rope_grader():
    def right(x, base):
        return apply_rope(x, *rope_cache(x.shape[0], x.shape[1], base))

    def by_hand(x, base):
        T, d = x.shape
        inv = base ** (-torch.arange(0, d, 2).float() / d)
        a = torch.arange(T).float()[:, None] * inv
        a = torch.cat([a, a], -1)
        x1, x2 = x.chunk(2, -1)
        return x * a.cos() + torch.cat([-x2, x1], -1) * a.sin()

    assert check_rope(right) and check_rope(by_hand)

    def interleaved(x, base):
        T, d = x.shape
        a = torch.arange(T).float()[:, None] * base ** (-torch.arange(0, d, 2).float() / d)
        out = x.clone()
        out[:, 0::2] = x[:, 0::2] * a.cos() - x[:, 1::2] * a.sin()
        out[:, 1::2] = x[:, 1::2] * a.cos() + x[:, 0::2] * a.sin()
        return out

    f = check_rope(interleaved)
    assert not f and "rotate_half" in f.message
    f = check_rope(lambda x, base: x)
    assert not f and "input" in f.message

    def backwards(x, base):
        T, d = x.shape
        a = torch.arange(T).float()[:, None] * base ** (-torch.arange(0, d, 2).float() / d)
        a = torch.cat([a, a], -1)
        x1, x2 = x.chunk(2, -1)
        return x * a.cos() + torch.cat([x2, -x1], -1) * a.sin()

    f = check_rope(backwards)
    assert not f and "wrong way" in f.message
    f = check_rope(lambda x, base: 1 / 0)
    assert not f and "ZeroDivisionError" in f.message
