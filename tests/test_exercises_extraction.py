"""llmbook.exercises.extraction: the grader of micro precision, recall and F1 of triples."""

from llmbook import exercises
from llmbook.exercises.extraction import check_triple_scores


def micro(predicted, gold, swap=False, macro=False, mean=False):
    if macro:
        ps = [len(p & g) / len(p) if p else 0.0 for p, g in zip(predicted, gold)]
        rs = [len(p & g) / len(g) if g else 0.0 for p, g in zip(predicted, gold)]
        precision, recall = sum(ps) / len(ps), sum(rs) / len(rs)
    else:
        tp = sum(len(p & g) for p, g in zip(predicted, gold))
        n_pred, n_gold = sum(map(len, predicted)), sum(map(len, gold))
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_gold if n_gold else 0.0
    if swap:
        precision, recall = recall, precision
    if mean:
        return precision, recall, (precision + recall) / 2
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def test_a_right_answer_passes(capsys):
    assert check_triple_scores(micro)
    assert "all 15 cases" in capsys.readouterr().out
    assert exercises.check_triple_scores is check_triple_scores


def test_hints(capsys):
    assert not check_triple_scores(lambda p, g: micro(p, g, swap=True))
    assert "swapped" in capsys.readouterr().out
    assert not check_triple_scores(lambda p, g: micro(p, g, macro=True))
    assert "(micro)" in capsys.readouterr().out
    assert not check_triple_scores(lambda p, g: micro(p, g, mean=True))
    assert "harmonic mean" in capsys.readouterr().out


def test_bad_answers_are_messages(capsys):
    def crashes_on_empty(predicted, gold):
        tp = sum(len(p & g) for p, g in zip(predicted, gold))
        precision = tp / sum(map(len, predicted))
        recall = tp / sum(map(len, gold))
        return precision, recall, 2 * precision * recall / (precision + recall)

    assert not check_triple_scores(crashes_on_empty)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_triple_scores(lambda p, g: None)
    assert "return" in capsys.readouterr().out
    assert not check_triple_scores(lambda p, g: 0.5)
    assert "three numbers" in capsys.readouterr().out
    assert not check_triple_scores("micro")
    assert "not str" in capsys.readouterr().out

    def todo(predicted, gold):
        raise NotImplementedError

    assert not check_triple_scores(todo)
    assert "NotImplementedError" in capsys.readouterr().out
