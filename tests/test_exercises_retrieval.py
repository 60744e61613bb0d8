"""llmbook.exercises.retrieval: the recall@k and MRR graders."""

from llmbook import retrieval
from llmbook.exercises.retrieval import check_mrr, check_recall_at_k


def test_recall_at_k_grader(capsys):
    assert check_recall_at_k(retrieval.recall_at_k)
    assert "all 5 cases" in capsys.readouterr().out

    def precision(ranked, relevant, k):
        rel = [r if isinstance(r, set) else {r} for r in relevant]
        return sum(len(set(r[:k]) & s) / k for r, s in zip(ranked, rel)) / len(ranked)

    assert not check_recall_at_k(precision)
    assert "precision@k" in capsys.readouterr().out

    def hits(ranked, relevant, k):
        return sum(s in r[:k] for r, s in zip(ranked, relevant))

    assert not check_recall_at_k(hits)
    assert "number of hits" in capsys.readouterr().out
    assert not check_recall_at_k(lambda r, s, k: None)
    assert "return" in capsys.readouterr().out
    assert not check_recall_at_k(lambda r, s, k: 1 / 0)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not check_recall_at_k("recall")


def test_mrr_grader(capsys):
    assert check_mrr(retrieval.mrr)
    assert "all 5 cases" in capsys.readouterr().out

    def zero_based(ranked, relevant):
        rel = [r if isinstance(r, set) else {r} for r in relevant]
        return sum(next((1 / max(i, 1) for i, x in enumerate(r) if x in s), 0)
                   for r, s in zip(ranked, rel)) / len(ranked)

    assert not check_mrr(zero_based)
    assert not check_mrr(lambda r, s: "high")
    assert "expected a number" in capsys.readouterr().out
    assert not check_mrr(3)
