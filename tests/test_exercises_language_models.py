"""llmbook.exercises.language_models: bigram and perplexity graders."""

import math

import torch.nn.functional as F

from llmbook import exercises as ex
from llmbook.lm import NGramLM


def _stub(*args):
    raise NotImplementedError


def test_bigram(capsys):
    right = lambda ids, v, k: NGramLM(2, v, k=k).fit(ids).probabilities()  # noqa: E731
    assert ex.check_bigram_probabilities(right)
    transposed = lambda ids, v, k: right(ids, v, k).T  # noqa: E731
    assert not ex.check_bigram_probabilities(transposed)
    assert "transposed" in capsys.readouterr().out
    assert not ex.check_bigram_probabilities(_stub)
    assert not ex.check_bigram_probabilities("fn")


def test_perplexity(capsys):
    assert ex.check_perplexity(lambda lo, t: math.exp(F.cross_entropy(lo, t).item()))
    assert ex.check_perplexity(lambda lo, t: F.cross_entropy(lo, t).exp())
    assert not ex.check_perplexity(lambda lo, t: F.cross_entropy(lo, t).item())
    assert "exp(cross-entropy)" in capsys.readouterr().out
    assert not ex.check_perplexity(_stub)
