"""llmbook.exercises.parameter_counts: parameter-count and memory graders."""

import torch

from llmbook import exercises as ex


def _stub(*args):
    raise NotImplementedError


def test_mha_parameter_count():
    assert ex.check_mha_parameter_count(lambda d, h: 4 * d * d + 4 * d)
    assert "biases" in ex.check_mha_parameter_count(lambda d, h: 4 * d * d).message
    assert "one head" in ex.check_mha_parameter_count(
        lambda d, h: 4 * d * (d // h) + 4 * d).message


def test_bert_parameter_count(capsys):
    def right(v, d, layers, d_ff, pos, types):
        embeddings = (v + pos + types) * d + 2 * d
        layer = 4 * (d * d + d) + 2 * d + (d * d_ff + d_ff) + (d_ff * d + d) + 2 * d
        return embeddings + layers * layer + d * d + d
    assert ex.check_bert_parameter_count(right)
    no_pooler = lambda *a: right(*a) - a[1] * a[1] - a[1]  # noqa: E731
    assert not ex.check_bert_parameter_count(no_pooler)
    assert "pooler" in capsys.readouterr().out
    assert not ex.check_bert_parameter_count(_stub)


def test_check_transformer_parameter_count_messages(capsys):
    def right(d, h, ff, n_enc, n_dec):
        attn, ffn, norm = 4 * d * d + 4 * d, 2 * d * ff + ff + d, 2 * d
        return n_enc * (attn + ffn + 2 * norm) + n_dec * (2 * attn + ffn + 3 * norm) + 2 * norm

    assert ex.check_transformer_parameter_count(right)
    assert "44,140,544" in capsys.readouterr().out
    assert not ex.check_transformer_parameter_count(lambda *s: right(*s) - 4 * s[0])
    assert "final LayerNorm" in capsys.readouterr().out
    assert not ex.check_transformer_parameter_count(lambda *s: "many")
    assert not ex.check_transformer_parameter_count(None)


def test_gpt_parameter_count_grader_never_raises():
    assert not ex.check_gpt_parameter_count(lambda *a: 0)
    assert not ex.check_gpt_parameter_count(lambda *a: 1 / 0)
    assert not ex.check_gpt_parameter_count(3)


def test_model_memory(capsys):
    right = lambda n, d: n * torch.empty((), dtype=d).element_size()  # noqa: E731
    assert ex.check_model_memory(right)
    assert not ex.check_model_memory(lambda n, d: 8 * right(n, d))
    assert "bits" in capsys.readouterr().out
    assert not ex.check_model_memory(_stub)
