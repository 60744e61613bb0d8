"""Tests of llmbook.losses: each loss vs PyTorch's own, and the errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from llmbook import losses


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_log_softmax_and_cross_entropy_match_torch():
    z = torch.randn(6, 5) * 10
    torch.testing.assert_close(losses.log_softmax(z), F.log_softmax(z, -1))
    y = torch.tensor([0, 4, 2, -100, 1, 3])
    torch.testing.assert_close(losses.cross_entropy(z, y), F.cross_entropy(z, y))
    torch.testing.assert_close(losses.cross_entropy(z, y, reduction="sum"),
                               F.cross_entropy(z, y, reduction="sum"))
    torch.testing.assert_close(losses.cross_entropy(z, y, reduction="none"),
                               F.cross_entropy(z, y, reduction="none"))


def test_cross_entropy_errors():
    z = torch.randn(3, 4)
    with pytest.raises(ValueError, match="targets must be"):
        losses.cross_entropy(z, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="class indices"):
        losses.cross_entropy(z, torch.tensor([0, 1, 4]))
    with pytest.raises(TypeError, match="integer"):
        losses.cross_entropy(z, torch.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="dimensions"):
        losses.cross_entropy(torch.randn(3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="reduction"):
        losses.cross_entropy(z, torch.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(ValueError, match="ignored"):
        losses.cross_entropy(z, torch.full((3,), -100))
    with pytest.raises(TypeError, match="floating"):
        losses.log_softmax(torch.tensor([1, 2]))


def test_binary_cross_entropy():
    z, y = torch.randn(10) * 30, torch.randint(0, 2, (10,)).float()
    torch.testing.assert_close(losses.binary_cross_entropy(z, y),
                               F.binary_cross_entropy_with_logits(z, y))
    with pytest.raises(ValueError, match="shape"):
        losses.binary_cross_entropy(z, y[:3])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        losses.binary_cross_entropy(z, y + 2)


def test_lm_nll_and_chain_rule():
    logits, ids = torch.randn(2, 7, 11), torch.randint(0, 11, (2, 7))
    expected = F.cross_entropy(logits[:, :-1].reshape(-1, 11), ids[:, 1:].reshape(-1))
    torch.testing.assert_close(losses.lm_nll(logits, ids), expected)
    log_p = losses.sequence_log_prob(logits, ids)
    assert log_p.shape == (2,)
    torch.testing.assert_close(-log_p.sum() / 12, expected)
    with pytest.raises(ValueError, match="at least 2"):
        losses.lm_nll(logits[:, :1], ids[:, :1])
    with pytest.raises(ValueError, match="match logits"):
        losses.sequence_log_prob(logits, ids[:, :5])
    with pytest.raises(ValueError, match="dimensions"):
        losses.lm_nll(logits[0], ids)


def test_masking_and_denoising_loss():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(5, 50, (4, 30))
    protected = torch.zeros_like(ids, dtype=torch.bool)
    protected[:, 0] = True
    corrupted, targets = losses.mask_tokens(ids, 1, 0.3, generator=gen, protected=protected)
    chosen = targets != losses.IGNORE_INDEX
    assert (corrupted[chosen] == 1).all() and (corrupted[~chosen] == ids[~chosen]).all()
    assert not chosen[:, 0].any() and 0.1 < chosen.float().mean() < 0.5
    logits = torch.randn(4, 30, 50)
    torch.testing.assert_close(losses.denoising_loss(logits, targets),
                               F.cross_entropy(logits.transpose(1, 2), targets))
    with pytest.raises(ValueError, match="prob"):
        losses.mask_tokens(ids, 1, 1.5)
    with pytest.raises(ValueError, match="protected"):
        losses.mask_tokens(ids, 1, 0.2, protected=protected[:, :3])
    with pytest.raises(ValueError, match="targets must be"):
        losses.denoising_loss(logits, targets[:, :4])


def test_continuous_denoising():
    x = torch.randn(5, 3)
    noisy = losses.gaussian_corrupt(x, 0.5, generator=torch.Generator().manual_seed(1))
    assert noisy.shape == x.shape and not torch.equal(noisy, x)
    torch.testing.assert_close(losses.reconstruction_mse(noisy, x), F.mse_loss(noisy, x))
    with pytest.raises(ValueError, match="sigma"):
        losses.gaussian_corrupt(x, -1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        losses.reconstruction_mse(x, x[:2])


def test_info_nce():
    a, b = torch.randn(8, 16), torch.randn(8, 16)
    sims = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / 0.1
    torch.testing.assert_close(losses.info_nce(a, b, 0.1), F.cross_entropy(sims, torch.arange(8)))
    loop = -sum(math.log(math.exp(sims[i, i]) / sims[i].exp().sum()) for i in range(8)) / 8
    assert abs(float(losses.info_nce(a, b, 0.1)) - loop) < 1e-4
    torch.testing.assert_close(losses.info_nce(a, b, 1.0, normalize=False),
                               F.cross_entropy(a @ b.T, torch.arange(8)))
    with pytest.raises(ValueError, match="at least 2"):
        losses.info_nce(a[:1], b[:1])
    with pytest.raises(ValueError, match="temperature"):
        losses.info_nce(a, b, 0.0)
    with pytest.raises(ValueError, match="both be"):
        losses.info_nce(a, b[:4])
