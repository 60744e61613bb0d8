"""llmbook.exercises.losses: the NLL and the two InfoNCE graders."""

import torch

from llmbook import exercises as ex
from llmbook import losses
from llmbook.pretraining import info_nce


def test_lm_nll():
    assert ex.check_lm_nll(losses.lm_nll)
    wrong = ex.check_lm_nll(lambda z, y: torch.nn.functional.cross_entropy(
        z.reshape(-1, z.size(-1)), y.reshape(-1)))
    assert not wrong and "t+1" in wrong.message


def test_info_nce_formula():
    assert ex.check_info_nce_formula(losses.info_nce)
    wrong = ex.check_info_nce_formula(lambda a, b, t: losses.info_nce(a, b, t, normalize=False))
    assert not wrong and "Normalise" in wrong.message
    assert not ex.check_info_nce_formula(lambda a, b, t: torch.zeros(3))


def test_contrastive_info_nce():
    assert ex.check_contrastive_info_nce(lambda a, b, t: info_nce(a, b, t, symmetric=False))
    assert not ex.check_contrastive_info_nce(lambda a, b, t: (a @ b.T).mean())
    assert not ex.check_contrastive_info_nce(None)
