"""The exercise checkers: right answers pass, wrong ones get a helpful message."""

import math

import torch

from llmbook import exercises
from llmbook.attention import scaled_dot_product_attention
from llmbook.positional import sinusoidal_encoding


def test_attention_checker_accepts_reference(capsys):
    assert exercises.check_scaled_dot_product_attention(scaled_dot_product_attention)
    assert capsys.readouterr().out.startswith("✅")


def test_attention_checker_messages():
    def unscaled(q, k, v, mask=None):
        return scaled_dot_product_attention(q * math.sqrt(q.size(-1)), k, v, mask)

    def ignores_mask(q, k, v, mask=None):
        return scaled_dot_product_attention(q, k, v)

    def wrong_shape(q, k, v, mask=None):
        return torch.softmax(q @ k.transpose(-2, -1), -1)

    def stub(q, k, v, mask=None):
        raise NotImplementedError

    cases = {unscaled: "WITHOUT the 1/sqrt", ignores_mask: "NO mask",
             wrong_shape: "expected shape", stub: "NotImplementedError",
             (lambda q, k, v, mask=None: None): "returned None", 42: "function itself"}
    for fn, words in cases.items():
        feedback = exercises.check_scaled_dot_product_attention(fn)
        assert not feedback and words in feedback.message, feedback.message


def test_positional_checker():
    assert exercises.check_positional_encoding(sinusoidal_encoding)

    def swapped(length, d_model):
        pe = sinusoidal_encoding(length, d_model)
        return torch.stack([pe[:, 1::2], pe[:, 0::2]], -1).reshape(length, d_model)

    assert "swapped" in exercises.check_positional_encoding(swapped).message
    assert "expected shape" in exercises.check_positional_encoding(
        lambda n, d: torch.zeros(d, n)).message


def test_parameter_count_checker():
    assert exercises.check_mha_parameter_count(lambda d, h: 4 * d * d + 4 * d)
    assert "biases" in exercises.check_mha_parameter_count(lambda d, h: 4 * d * d).message
    assert "one head" in exercises.check_mha_parameter_count(
        lambda d, h: 4 * d * (d // h) + 4 * d).message
