"""llmbook.exercises.attention: the attention graders pass right answers and explain wrong ones."""

import math

import torch

from llmbook import exercises as ex
from llmbook import attention, worked_example
from llmbook.attention import causal_mask, scaled_dot_product_attention
from llmbook.transformer import target_mask


def test_attention_checker_accepts_reference(capsys):
    assert ex.check_scaled_dot_product_attention(scaled_dot_product_attention)
    assert capsys.readouterr().out.startswith("✅")


def test_attention_checker_messages():
    def unscaled(q, k, v, mask=None):
        return scaled_dot_product_attention(q * math.sqrt(q.size(-1)), k, v, mask)

    def ignores_mask(q, k, v, mask=None):
        return scaled_dot_product_attention(q, k, v)

    def wrong_shape(q, k, v, mask=None):
        return torch.softmax(q @ k.transpose(-2, -1), -1)

    def stub(q, k, v, mask=None):
        raise NotImplementedError

    cases = {unscaled: "WITHOUT the 1/sqrt", ignores_mask: "NO mask",
             wrong_shape: "expected shape", stub: "NotImplementedError",
             (lambda q, k, v, mask=None: None): "returned None", 42: "function itself"}
    for fn, words in cases.items():
        feedback = ex.check_scaled_dot_product_attention(fn)
        assert not feedback and words in feedback.message, feedback.message


def test_additive(capsys):
    assert ex.check_additive_attention(
        lambda q, k, v, wq, wk, w: attention.additive_attention(q, k, v, wq, wk, w))
    wrong = ex.check_additive_attention(
        lambda q, k, v, wq, wk, w: torch.softmax(torch.tanh((q @ wq)[:, None] + (k @ wk)[None])
                                                 @ w, 0) @ v)
    assert not wrong and "dim=-1" in wrong.message
    assert not ex.check_additive_attention(lambda *a: None)
    assert not ex.check_additive_attention("no")


def test_check_causal_mask_messages(capsys):
    assert ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril())
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).triu())
    assert "transposed" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: ~torch.ones(n, n, dtype=torch.bool).tril())
    assert "opposite" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n, dtype=torch.bool).tril(-1))
    out = capsys.readouterr().out
    assert "diagonal" in out or "size=1" in out
    assert not ex.check_causal_mask(lambda n: torch.ones(n, n).tril())
    assert "boolean" in capsys.readouterr().out
    assert not ex.check_causal_mask(lambda n: None)
    assert not ex.check_causal_mask(42)


def _stub(*args):
    raise NotImplementedError


def test_check_target_mask_messages(capsys):
    assert ex.check_target_mask(lambda t, p: target_mask(t, p))
    assert not ex.check_target_mask(lambda t, p: causal_mask(t.size(1)))
    assert "padding" in capsys.readouterr().out
    assert not ex.check_target_mask(lambda t, p: (t != p)[:, None, None, :])
    assert "future" in capsys.readouterr().out
    assert not ex.check_target_mask(lambda t, p: torch.ones(3, 3, dtype=torch.bool))
    assert "broadcast" in capsys.readouterr().out
    assert not ex.check_target_mask(_stub)
    assert "NotImplementedError" in capsys.readouterr().out


def test_worked_example():
    ref = worked_example.intermediates()
    good = {"scores": ref["scaled_scores"].tolist(), "weights_row0": ref["weights"][0].tolist(),
            "output_row0": ref["output"][0].tolist()}
    assert ex.check_worked_example(good)
    raw = dict(good, scores=ref["scores"].tolist())
    wrong = ex.check_worked_example(raw)
    assert not wrong and "sqrt" in wrong.message
    assert not ex.check_worked_example(dict(good, weights_row0=None))
    assert not ex.check_worked_example([1, 2])
    assert math.isclose(ref["sqrt_dk"], 2.0)
