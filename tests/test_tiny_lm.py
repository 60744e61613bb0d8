"""llmbook.tiny_lm: the small post-/pre-LN language model of Section 4.2."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from llmbook import tiny_lm


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def test_tiny_lm_and_gradient_norms():
    for norm_first in (False, True):
        model = tiny_lm.TinyLM(20, d_model=16, num_heads=2, d_ff=32, depth=3, max_len=8,
                             norm_first=norm_first)
        ids = torch.randint(0, 20, (2, 8))
        logits = model(ids)
        assert logits.shape == (2, 8, 20)
        with pytest.raises(RuntimeError, match="backward"):
            tiny_lm.layer_gradient_norms(model)
        F.cross_entropy(logits.reshape(-1, 20), ids.reshape(-1)).backward()
        norms = tiny_lm.layer_gradient_norms(model)
        assert len(norms) == 3 and all(n > 0 for n in norms)
    # causal: changing a later token does not change earlier logits
    ids2 = ids.clone()
    ids2[:, -1] = (ids2[:, -1] + 1) % 20
    torch.testing.assert_close(model(ids)[:, :-1], model(ids2)[:, :-1])
    with pytest.raises(ValueError, match="max_len"):
        model(torch.randint(0, 20, (1, 9)))
    with pytest.raises(ValueError, match="integer"):
        model(torch.randn(1, 4))
    with pytest.raises(ValueError, match="depth"):
        tiny_lm.TinyLM(20, depth=0)
    with pytest.raises(TypeError):
        tiny_lm.layer_gradient_norms(nn.Linear(2, 2))
