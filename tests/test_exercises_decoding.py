"""llmbook.exercises.decoding: the top-p and KV-cache-size graders, with right answers written
three ways and the usual mistakes."""

import torch
from transformers import TopPLogitsWarper

from llmbook.decoding import kv_cache_size, top_p_filter
from llmbook.exercises.decoding import check_kv_cache_size, check_top_p_filter


def _stub(*args):
    raise NotImplementedError


def _descending(logits, p, mistake=None):
    """The textbook version: sort from most likely, keep while the mass before is < p."""
    probs = logits.softmax(-1)
    sorted_probs, order = probs.sort(descending=True, dim=-1)
    before = sorted_probs.cumsum(-1) - sorted_probs
    remove = before >= p
    if mistake == "crossing token dropped":
        remove = sorted_probs.cumsum(-1) > p
    if mistake == "one more":
        remove = torch.roll(remove, 1, dims=-1)
        remove[..., 0] = False
    remove = remove.scatter(-1, order, remove)
    return logits.masked_fill(remove, float("-inf"))


def test_right_answers_pass():
    assert check_top_p_filter(top_p_filter)
    assert check_top_p_filter(lambda x, p: TopPLogitsWarper(p)(None, x.clone()))
    assert check_top_p_filter(_descending)


def test_mistakes_get_their_message(capsys):
    cases = [
        (_stub, "NotImplementedError"),
        (lambda x, p: None, "return"),
        (lambda x, p: x.softmax(-1), "probabilities"),
        (lambda x, p: x[:, :2], "shape"),
        (lambda x, p: _descending(x, p, "crossing token dropped"), "one too few"),
        (lambda x, p: _descending(x, p, "one more"), "one too many"),
        (lambda x, p: x.masked_fill_(x < x.max(-1, keepdim=True).values, float("-inf")),
         "in place"),
        (lambda x, p: x.masked_fill(x == x.max(-1, keepdim=True).values, float("-inf")),
         "less likely"),
        (lambda x, p: top_p_filter(x, p) / 2, "unchanged"),
        (lambda x, p: top_p_filter(x, min(p, 0.9)), "p = 1"),
    ]
    for fn, words in cases:
        assert not check_top_p_filter(fn)
        out = capsys.readouterr().out
        assert words in out, (words, out)


def test_kv_cache_size_grader(capsys):
    assert check_kv_cache_size(lambda L, H, d, T, B, nbytes: kv_cache_size(
        L, H, d, T, batch=B, bytes_per_element=nbytes))
    assert "MiB" in capsys.readouterr().out
    for fn, words in ((lambda L, H, d, T, B, n: L * H * d * T * B * n, "keys only"),
                      (lambda L, H, d, T, B, n: 2 * L * H * d * T * B, "bytes per element"),
                      (lambda L, H, d, T, B, n: 16 * L * H * d * T * B * n, "bits"),
                      (lambda L, H, d, T, B, n: 2 * L * H * d * T * n, "batch"),
                      (lambda *a: "big", "number"), (_stub, "NotImplementedError")):
        assert not check_kv_cache_size(fn)
        assert words in capsys.readouterr().out
