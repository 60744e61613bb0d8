"""Tests of llmbook.pretraining (masking, span corruption, InfoNCE) and its grader."""
import pytest
import torch
import torch.nn.functional as F

from llmbook.gpt import GPT, GPTConfig
from llmbook.pretraining import (IGNORE_INDEX, MeanPoolEncoder, info_nce, mask_tokens,
                                 prefix_lm_batch, random_crops, retrieval_accuracy,
                                 span_corrupt)


def test_mask_tokens_rates_and_labels():
    ids = torch.randint(5, 50, (64, 128), generator=torch.Generator().manual_seed(0))
    inputs, labels = mask_tokens(ids, mask_id=0, vocab_size=50,
                                 generator=torch.Generator().manual_seed(1))
    chosen = labels != IGNORE_INDEX
    assert abs(chosen.float().mean().item() - 0.15) < 0.01
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    assert abs((inputs[chosen] == 0).float().mean().item() - 0.8) < 0.03
    with pytest.raises(ValueError):
        mask_tokens(ids, mask_id=0, vocab_size=50, mask_prob=1.5)
    with pytest.raises(TypeError):
        mask_tokens(ids.float(), mask_id=0, vocab_size=50)


def test_span_corrupt_reconstructs():
    ids = torch.arange(100, 160)
    gen = torch.Generator().manual_seed(0)
    sentinels = list(range(10))
    for _ in range(20):
        inputs, targets = span_corrupt(ids, sentinel_ids=sentinels, generator=gen)
        spans, current = {}, None
        for t in targets.tolist():
            if t < 10:
                current = t
                spans[t] = []
            else:
                spans[current].append(t)
        rebuilt = []
        for t in inputs.tolist():
            rebuilt += spans[t] if t < 10 else [t]
        assert rebuilt == ids.tolist()
        assert sum(len(s) for s in spans.values()) == 9
    with pytest.raises(ValueError):
        span_corrupt(ids, sentinel_ids=[0])
    with pytest.raises(ValueError):
        span_corrupt(ids[:3], sentinel_ids=sentinels, noise_density=0.5)


def test_prefix_lm_batch_labels():
    x, y = prefix_lm_batch([(torch.tensor([1, 2, 3]), torch.tensor([7, 8])),
                            (torch.tensor([4]), torch.tensor([9]))], sep_id=5, pad_id=6)
    assert x.tolist() == [[1, 2, 3, 5, 7], [4, 5, 6, 6, 6]]
    assert y[0].tolist() == [-100, -100, -100, 7, 8]
    assert y[1].tolist() == [-100, 9, -100, -100, -100]
    with pytest.raises(ValueError):
        prefix_lm_batch([], sep_id=0, pad_id=0)


def test_info_nce_matches_formula():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(6, 4, generator=gen), torch.randn(6, 4, generator=gen)
    sim = F.cosine_similarity(a[:, None], b[None], dim=-1) / 0.1
    manual = -(sim.diag() - sim.logsumexp(dim=1)).mean()
    assert torch.allclose(info_nce(a, b, 0.1, symmetric=False), manual, atol=1e-5)
    assert info_nce(a, a, 0.05) < info_nce(a, b, 0.05)
    for bad in ((a, b[:3]), (a[:1], b[:1]), (a[0], b[0])):
        with pytest.raises(ValueError):
            info_nce(*bad)
    with pytest.raises(ValueError):
        info_nce(a, b, 0.0)


def test_crops_encoder_and_retrieval():
    data = torch.arange(1000) % 20
    v1, v2 = random_crops(data, 5, 8, generator=torch.Generator().manual_seed(0))
    assert v1.shape == v2.shape == (5, 8)
    body = GPT(GPTConfig(vocab_size=20, block_size=8, n_layer=1, n_head=2, n_embd=16,
                         causal=False))
    enc = MeanPoolEncoder(body, 12)
    assert enc(v1).shape == (5, 12)
    e = torch.eye(4)
    assert retrieval_accuracy(e, e) == 1.0
    with pytest.raises(ValueError):
        random_crops(data[:10], 5, 8)
    with pytest.raises(TypeError):
        MeanPoolEncoder(torch.nn.Linear(2, 2), 4)


def test_bidirectional_body_sees_the_future():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=11, block_size=8, n_layer=1, n_head=2, n_embd=16,
                          causal=False)).eval()
    x = torch.randint(11, (1, 8))
    y = x.clone()
    y[0, -1] = (y[0, -1] + 1) % 11
    with torch.no_grad():
        assert not torch.allclose(model(x)[:, 0], model(y)[:, 0])
