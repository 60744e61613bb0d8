"""Tests of llmbook.lm: vocabularies, n-gram counts, neural LMs, training and measures."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook import lm

TEXT = "to be or not to be, that is the question.\n" * 20


@pytest.fixture(autouse=True)
def _seed_and_one_thread():
    # tiny models: one thread is faster than two, and not slowed by a busy machine
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def vocab():
    return lm.CharVocab(TEXT)


def test_vocab_round_trip_and_errors(vocab):
    ids = vocab.encode("to be")
    assert ids.dtype == torch.long and vocab.decode(ids) == "to be"
    assert len(vocab) == len(set(TEXT)) and "characters" in repr(vocab)
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocab.encode("Z")
    with pytest.raises(TypeError):
        vocab.encode(3)
    with pytest.raises(ValueError, match="ids outside"):
        vocab.decode([999])
    with pytest.raises(ValueError, match="empty"):
        lm.CharVocab("")
    with pytest.raises(TypeError):
        lm.CharVocab(["a"])


def test_measures_match_torch():
    logits, targets = torch.randn(3, 5, 7), torch.randint(0, 7, (3, 5))
    ours = lm.cross_entropy(logits, targets)
    torch.testing.assert_close(ours, F.cross_entropy(logits.flatten(0, 1), targets.flatten()))
    assert lm.perplexity(math.log(10)) == pytest.approx(10)
    assert lm.bits_per_character(math.log(2)) == pytest.approx(1)
    assert lm.bits_per_character(math.log(2), tokens=1, characters=4) == pytest.approx(0.25)
    with pytest.raises(ValueError, match="shape"):
        lm.cross_entropy(logits, targets[:, :2])
    with pytest.raises(ValueError, match="ids outside"):
        lm.cross_entropy(logits, targets + 7)
    with pytest.raises(ValueError, match="finite"):
        lm.perplexity(-1.0)
    with pytest.raises(ValueError, match="both"):
        lm.bits_per_character(1.0, tokens=3)
    with pytest.raises(TypeError):
        lm.count_parameters("model")


def test_ngram_add_k_is_counts_plus_k():
    ids = torch.tensor([0, 1, 1, 2, 0, 1])
    model = lm.NGramLM(2, 3, k=1).fit(ids)
    table = model.probabilities()
    torch.testing.assert_close(table.sum(-1), torch.ones(3, dtype=torch.float64))
    # after 0 come 1, 1: (2 + 1) / (2 + 3)
    assert table[0, 1].item() == pytest.approx(3 / 5)
    assert model.log_probs(ids).shape == (5,)
    assert model.cross_entropy(ids) == pytest.approx(float(-model.log_probs(ids).mean()))


def test_ngram_interpolation_and_generation(vocab):
    ids = vocab.encode(TEXT)
    tri = lm.NGramLM(3, len(vocab), smoothing="interpolation", lambdas=[0.1, 0.3, 0.6]).fit(ids)
    torch.testing.assert_close(tri.probabilities().sum(-1),
                               torch.ones(len(vocab), len(vocab), dtype=torch.float64))
    uni = lm.NGramLM(1, len(vocab)).fit(ids)
    assert tri.cross_entropy(ids) < uni.cross_entropy(ids)
    out = tri.generate(vocab.encode("to"), 10, generator=torch.Generator().manual_seed(0))
    assert out.shape == (12,) and vocab.decode(out).startswith("to")


@pytest.mark.parametrize("kwargs, error", [
    (dict(order=0, vocab_size=3), ValueError), (dict(order=2, vocab_size=1), ValueError),
    (dict(order=2, vocab_size=3, smoothing="kneser"), ValueError),
    (dict(order=2, vocab_size=3, k=0), ValueError),
    (dict(order=2, vocab_size=3, smoothing="interpolation", lambdas=[0.5, 0.6]), ValueError),
    (dict(order=2, vocab_size=3, lambdas=[0.5, 0.5]), ValueError),
    (dict(order=9, vocab_size=100), ValueError), (dict(order=2.0, vocab_size=3), TypeError),
])
def test_ngram_bad_arguments(kwargs, error):
    with pytest.raises(error):
        lm.NGramLM(**kwargs)


def test_ngram_bad_inputs():
    model = lm.NGramLM(2, 3)
    with pytest.raises(RuntimeError, match="fit"):
        model.probabilities()
    with pytest.raises(TypeError, match="LongTensor"):
        model.fit([0, 1, 2])
    with pytest.raises(ValueError, match="outside"):
        model.fit(torch.tensor([0, 5]))
    with pytest.raises(ValueError, match="at least"):
        model.fit(torch.tensor([0]))


@pytest.mark.parametrize("make", [
    lambda v: lm.MLPLM(v, context=4, d_embed=8, d_hidden=16),
    lambda v: lm.LSTMLM(v, d_embed=8, d_hidden=16),
    lambda v: lm.TinyTransformerLM(v, context=16, d_model=16, num_heads=2, num_layers=1),
])
def test_neural_models_shapes_causality_and_training(make, vocab):
    model = make(len(vocab))
    ids = torch.randint(0, len(vocab), (2, 12))
    logits = model(ids)
    assert logits.shape == (2, 12, len(vocab))
    changed = ids.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % len(vocab)       # the future must not matter
    torch.testing.assert_close(model(changed)[:, :8], logits[:, :8])
    data = vocab.encode(TEXT)
    before = lm.evaluate_lm(model, data, seq_len=16)
    result = lm.train_lm(model, data, steps=30, batch_size=8, seq_len=16, lr=1e-2,
                         progress=False)
    assert result.tokens_seen == 30 * 8 * 16 and len(result.losses) == 30
    assert lm.evaluate_lm(model, data, seq_len=16) < before
    out = lm.generate(model, vocab.encode("to be"), 5, generator=torch.Generator().manual_seed(0))
    assert out.shape == (10,)
    with pytest.raises(ValueError, match="batch, length"):
        model(ids[0])


def test_neural_bad_inputs(vocab):
    model = lm.TinyTransformerLM(len(vocab), context=8, d_model=16, num_heads=2, num_layers=1)
    data = vocab.encode(TEXT)
    with pytest.raises(ValueError, match="context"):
        model(torch.zeros(1, 9, dtype=torch.long))
    with pytest.raises(ValueError, match="context"):
        lm.train_lm(model, data, steps=1, seq_len=16)
    with pytest.raises(ValueError, match="at least"):
        lm.train_lm(model, data[:5], steps=1, seq_len=8)
    with pytest.raises(TypeError):
        lm.train_lm("model", data, steps=1)
    with pytest.raises(ValueError, match="steps"):
        lm.train_lm(model, data, steps=0, seq_len=8)
    with pytest.raises(ValueError, match="at least"):
        lm.evaluate_lm(model, data[:5], seq_len=8)
    with pytest.raises(ValueError, match="temperature"):
        lm.generate(model, data[:3], 2, temperature=0)
    with pytest.raises(ValueError, match="1-D"):
        lm.generate(model, data[:4].view(2, 2), 2)
    with pytest.raises(ValueError, match="num_heads"):
        lm.TinyTransformerLM(10, d_model=10, num_heads=3)
    with pytest.raises(ValueError):
        lm.MLPLM(10, context=0)
