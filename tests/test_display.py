"""llmbook.display: showing the package's code on the page, and comparing tensors."""

import pytest
import torch

from llmbook import attention
from llmbook.display import max_abs_diff, show_source


def test_show_source_names_the_object_and_can_start_later():
    shown = show_source(attention.causal_mask).data
    assert shown.startswith("```python\n# llmbook.attention.causal_mask\ndef causal_mask(")
    tail = show_source(attention.causal_mask, start="return torch.ones").data
    assert "def causal_mask" not in tail and "return torch.ones" in tail
    with pytest.raises(ValueError, match="does not occur"):
        show_source(attention.causal_mask, start="no such line")
    with pytest.raises(TypeError, match="cannot show the source"):
        show_source(42)


def test_max_abs_diff():
    assert max_abs_diff(torch.tensor([1.0, 2.0]), torch.tensor([1.5, 2.0])) == 0.5
    assert max_abs_diff([1, 2], [1, 2]) == 0.0
    with pytest.raises(ValueError, match="shapes differ"):
        max_abs_diff(torch.ones(2), torch.ones(3))
