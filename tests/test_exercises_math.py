"""Tests of llmbook.exercises_math: right answers pass, typical mistakes get a hint."""

import math

import torch

from llmbook import exercises_math as ex
from llmbook import grads, losses, mathx


def test_additive(capsys):
    assert ex.check_additive_attention(
        lambda q, k, v, wq, wk, w: mathx.additive_attention(q, k, v, wq, wk, w))
    wrong = ex.check_additive_attention(
        lambda q, k, v, wq, wk, w: torch.softmax(torch.tanh((q @ wq)[:, None] + (k @ wk)[None])
                                                 @ w, 0) @ v)
    assert not wrong and "dim=-1" in wrong.message
    assert not ex.check_additive_attention(lambda *a: None)
    assert not ex.check_additive_attention("no")


def test_pre_ln():
    assert ex.check_pre_ln_layer(lambda x, a, f, n1, n2: (lambda h: h + f(n2(h)))(x + a(n1(x))))
    post = ex.check_pre_ln_layer(lambda x, a, f, n1, n2: (lambda h: n2(h + f(h)))(n1(x + a(x))))
    assert not post and "post-LN" in post.message


def test_softmax_backward():
    assert ex.check_softmax_backward(grads.softmax_backward)
    wrong = ex.check_softmax_backward(lambda p, g: p * g)
    assert not wrong and "diagonal" in wrong.message
    assert not ex.check_softmax_backward(lambda p, g: 1 / 0)


def test_info_nce():
    assert ex.check_info_nce(losses.info_nce)
    wrong = ex.check_info_nce(lambda a, b, t: losses.info_nce(a, b, t, normalize=False))
    assert not wrong and "Normalise" in wrong.message
    assert not ex.check_info_nce(lambda a, b, t: torch.zeros(3))


def test_lm_nll():
    assert ex.check_lm_nll(losses.lm_nll)
    wrong = ex.check_lm_nll(lambda z, y: torch.nn.functional.cross_entropy(
        z.reshape(-1, z.size(-1)), y.reshape(-1)))
    assert not wrong and "t+1" in wrong.message


def test_worked_example():
    ref = mathx.worked_example()
    good = {"scores": ref["scaled_scores"].tolist(), "weights_row0": ref["weights"][0].tolist(),
            "output_row0": ref["output"][0].tolist()}
    assert ex.check_worked_example(good)
    raw = dict(good, scores=ref["scores"].tolist())
    wrong = ex.check_worked_example(raw)
    assert not wrong and "sqrt" in wrong.message
    assert not ex.check_worked_example(dict(good, weights_row0=None))
    assert not ex.check_worked_example([1, 2])
    assert math.isclose(ref["sqrt_dk"], 2.0)
