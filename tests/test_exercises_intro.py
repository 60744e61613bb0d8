"""The checkers of chapters 1-2: right answers pass, wrong ones get a helpful message."""

import math

import torch
import torch.nn.functional as F

from llmbook import exercises_intro as ex
from llmbook.lm import NGramLM
from llmbook.tokenization import _merge_word


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


def test_mean_pooling(capsys):
    def right(h, m):
        m = m[..., None].float()
        return (h * m).sum(1) / m.sum(1)
    assert ex.check_mean_pooling(right)
    assert not ex.check_mean_pooling(lambda h, m: h.mean(1))
    assert "padding" in capsys.readouterr().out
    assert not ex.check_mean_pooling(_stub)


def test_model_memory(capsys):
    right = lambda n, d: n * torch.empty((), dtype=d).element_size()  # noqa: E731
    assert ex.check_model_memory(right)
    assert not ex.check_model_memory(lambda n, d: 8 * right(n, d))
    assert "bits" in capsys.readouterr().out
    assert not ex.check_model_memory(_stub)


def test_perplexity(capsys):
    assert ex.check_perplexity(lambda lo, t: math.exp(F.cross_entropy(lo, t).item()))
    assert ex.check_perplexity(lambda lo, t: F.cross_entropy(lo, t).exp())
    assert not ex.check_perplexity(lambda lo, t: F.cross_entropy(lo, t).item())
    assert "exp(cross-entropy)" in capsys.readouterr().out
    assert not ex.check_perplexity(_stub)


def test_bpe_step(capsys):
    def right(words):
        counts = {}
        for w, n in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + n
        best = min(counts, key=lambda p: (-counts[p], p))
        return best, {_merge_word(w, best): n for w, n in words.items()}
    assert ex.check_bpe_step(right)

    def no_tie_rule(words):
        best, new = right(words)
        return (("h", "e") if best == ("a", "b") else best), new
    assert not ex.check_bpe_step(no_tie_rule)
    assert "tie" in capsys.readouterr().out
    assert not ex.check_bpe_step(_stub)


def test_bert_parameter_count(capsys):
    def right(v, d, layers, d_ff, pos, types):
        embeddings = (v + pos + types) * d + 2 * d
        layer = 4 * (d * d + d) + 2 * d + (d * d_ff + d_ff) + (d_ff * d + d) + 2 * d
        return embeddings + layers * layer + d * d + d
    assert ex.check_bert_parameter_count(right)
    no_pooler = lambda *a: right(*a) - a[1] * a[1] - a[1]  # noqa: E731
    assert not ex.check_bert_parameter_count(no_pooler)
    assert "pooler" in capsys.readouterr().out
    assert not ex.check_bert_parameter_count(_stub)


def test_freeze_body(capsys):
    def right(model):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith("classifier")
        return sum(p.numel() for p in model.parameters() if p.requires_grad)
    assert ex.check_freeze_body(right)
    assert not ex.check_freeze_body(lambda model: 51)
    assert "still trainable" in capsys.readouterr().out
    assert not ex.check_freeze_body(_stub)
