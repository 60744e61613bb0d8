"""llmbook.worked_example: the pen-and-paper numbers of Section 4.5."""

import math

import torch
import torch.nn.functional as F

from llmbook import worked_example


def test_worked_example():
    ex = worked_example.intermediates()
    assert ex["X"].shape == (4, 3) and ex["Q"].shape == (4, 4) and ex["V"].shape == (4, 2)
    assert ex["sqrt_dk"] == 2.0
    torch.testing.assert_close(ex["weights"].sum(-1), torch.ones(4, dtype=torch.float64))
    torch.testing.assert_close(
        ex["output"], F.scaled_dot_product_attention(ex["Q"], ex["K"], ex["V"]))
    assert ex["scores"].eq(ex["scores"].round()).all()  # integers, for pen and paper
    assert len(worked_example.TOKENS) == 4
    assert math.isclose(float(ex["scaled_scores"][0, 2]), 2.0)
