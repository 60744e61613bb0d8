"""llmbook.exercises.text_metrics: the ROUGE-N and brevity-penalty graders."""

import math
from collections import Counter

from llmbook import text_metrics
from llmbook.exercises.text_metrics import check_brevity_penalty, check_rouge_n


def _ngrams(tokens, n):
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def rouge_n(pred, ref, n, clip=True, swap=False, mean=False):
    p, r = _ngrams(pred, n), _ngrams(ref, n)
    overlap = sum(min(c, r[g]) if clip else c for g, c in p.items() if g in r)
    precision = overlap / max(sum(p.values()), 1)
    recall = overlap / max(sum(r.values()), 1)
    if swap:
        precision, recall = recall, precision
    if mean:
        f = (precision + recall) / 2
    else:
        f = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f


def test_rouge_n_right_answers_pass(capsys):
    assert check_rouge_n(rouge_n)
    assert "all 17 cases" in capsys.readouterr().out

    def via_library(pred, ref, n):   # the book's own function, through its public API
        return text_metrics.rouge(" ".join(pred), " ".join(ref), types=[f"rouge{n}"],
                                  tokenize=str.split)[f"rouge{n}"]

    assert check_rouge_n(via_library)


def test_rouge_n_hints(capsys):
    assert not check_rouge_n(lambda p, r, n: rouge_n(p, r, n, swap=True))
    assert "swapped" in capsys.readouterr().out
    assert not check_rouge_n(lambda p, r, n: rouge_n(p, r, n, clip=False))
    assert "at most as often" in capsys.readouterr().out
    assert not check_rouge_n(lambda p, r, n: rouge_n(p, r, n, mean=True))
    assert "harmonic mean" in capsys.readouterr().out


def test_rouge_n_bad_answers(capsys):
    def crashes_on_empty(pred, ref, n):
        p, r = _ngrams(pred, n), _ngrams(ref, n)
        overlap = sum(min(c, r[g]) for g, c in p.items())
        precision, recall = overlap / sum(p.values()), overlap / sum(r.values())
        return precision, recall, 2 * precision * recall / (precision + recall)

    assert not check_rouge_n(crashes_on_empty)
    out = capsys.readouterr().out
    assert "an empty prediction" in out and "ZeroDivisionError" in out
    assert not check_rouge_n(lambda p, r, n: None)
    assert "return" in capsys.readouterr().out
    assert not check_rouge_n(lambda p, r, n: 0.5)
    assert "three numbers" in capsys.readouterr().out
    assert not check_rouge_n("rouge")


def test_brevity_penalty(capsys):
    def bp(c, r):
        return 1.0 if c >= r else (math.exp(1 - r / c) if c else 0.0)

    assert check_brevity_penalty(bp)
    assert "all 7 cases" in capsys.readouterr().out
    assert not check_brevity_penalty(lambda c, r: math.exp(1 - r / c) if c else 0.0)
    assert "never rewards" in capsys.readouterr().out
    assert not check_brevity_penalty(lambda c, r: min(1.0, math.exp(1 - c / r)))
    assert "1 - r/c" in capsys.readouterr().out
    assert not check_brevity_penalty(lambda c, r: min(1.0, c / r))
    assert "exponential" in capsys.readouterr().out
    assert not check_brevity_penalty(lambda c, r: 1.0 if c >= r else math.exp(1 - r / c))
    out = capsys.readouterr().out
    assert "c=0" in out and "ZeroDivisionError" in out
