"""llmbook.chardata: the batches of the character-level GPT and its held-out loss."""

import pytest
import torch

from llmbook.chardata import evaluate_loss, get_batch, nats_to_perplexity, vocab_from_json, \
    vocab_to_json
from llmbook.gpt import GPT, GPTConfig
from llmbook.lm import CharVocab

TINY = dict(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=16)


def test_chardata_batches_and_evaluation():
    vocab = CharVocab("abcdefghijk")
    assert vocab_from_json(vocab_to_json(vocab)).chars == vocab.chars
    data = torch.arange(11).repeat(20)
    x, y = get_batch(data, 4, 8, generator=torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 8) and torch.equal(y[:, :-1], x[:, 1:])
    with pytest.raises(ValueError):
        get_batch(data[:5], 4, 8)
    with pytest.raises(TypeError):
        get_batch(data.float(), 4, 8)
    model = GPT(GPTConfig(**TINY))
    loss = evaluate_loss(model, data, 8, max_windows=5)
    assert 1.0 < loss < 4.0

def test_nats_to_perplexity():
    assert nats_to_perplexity(0.0) == pytest.approx(1.0)
    assert nats_to_perplexity(1.0) == pytest.approx(2.718281828)
