"""llmbook.exercises.embeddings: positional-encoding and mean-pooling graders."""

import torch

from llmbook import exercises as ex
from llmbook.positional import sinusoidal_encoding


def _stub(*args):
    raise NotImplementedError


def test_positional_checker():
    assert ex.check_positional_encoding(sinusoidal_encoding)

    def swapped(length, d_model):
        pe = sinusoidal_encoding(length, d_model)
        return torch.stack([pe[:, 1::2], pe[:, 0::2]], -1).reshape(length, d_model)

    assert "swapped" in ex.check_positional_encoding(swapped).message
    assert "expected shape" in ex.check_positional_encoding(
        lambda n, d: torch.zeros(d, n)).message


def test_mean_pooling(capsys):
    def right(h, m):
        m = m[..., None].float()
        return (h * m).sum(1) / m.sum(1)
    assert ex.check_mean_pooling(right)
    assert not ex.check_mean_pooling(lambda h, m: h.mean(1))
    assert "padding" in capsys.readouterr().out
    assert not ex.check_mean_pooling(_stub)
