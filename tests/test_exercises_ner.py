"""llmbook.exercises.ner: the entity-level F1 grader."""

from llmbook import ner
from llmbook.exercises.ner import check_entity_f1


def _stub(gold, pred):
    raise NotImplementedError


def test_right_answer_passes(capsys):
    assert check_entity_f1(lambda g, p: ner.entity_scores(g, p).f1)
    assert "7 cases" in capsys.readouterr().out


def test_token_accuracy_is_named(capsys):
    assert not check_entity_f1(ner.token_accuracy)
    assert "token accuracy" in capsys.readouterr().out


def test_strict_reading_gets_the_stray_hint(capsys):
    assert not check_entity_f1(lambda g, p: ner.entity_scores(g, p, strict=True).f1)
    assert "stray" in capsys.readouterr().out


def test_token_level_f1_is_named(capsys):
    def token_f1(gold, pred):
        g = [t for s in gold for t in s]
        p = [t for s in pred for t in s]
        ok = sum(a == b != "O" for a, b in zip(g, p))
        n_p, n_g = sum(t != "O" for t in p), sum(t != "O" for t in g)
        pr, rc = (ok / n_p if n_p else 0.0), (ok / n_g if n_g else 0.0)
        return 2 * pr * rc / (pr + rc) if pr + rc else 0.0

    assert not check_entity_f1(token_f1)
    assert "non-O tokens" in capsys.readouterr().out


def test_bad_functions_give_feedback_not_errors(capsys):
    assert not check_entity_f1(_stub)
    assert "NotImplementedError" in capsys.readouterr().out
    assert not check_entity_f1(lambda g, p: None)
    assert "return" in capsys.readouterr().out
    assert not check_entity_f1(lambda g, p: "high")
    assert not check_entity_f1(lambda g, p: 1 / 0)
    assert not check_entity_f1(3)
