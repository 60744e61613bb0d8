"""llmbook.exercises.tokenization: the BPE-merge grader."""

from llmbook import exercises as ex
from llmbook.tokenization import _merge_word


def _stub(*args):
    raise NotImplementedError


def test_bpe_step(capsys):
    def right(words):
        counts = {}
        for w, n in words.items():
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + n
        best = min(counts, key=lambda p: (-counts[p], p))
        return best, {_merge_word(w, best): n for w, n in words.items()}
    assert ex.check_bpe_step(right)

    def no_tie_rule(words):
        best, new = right(words)
        return (("h", "e") if best == ("a", "b") else best), new
    assert not ex.check_bpe_step(no_tie_rule)
    assert "tie" in capsys.readouterr().out
    assert not ex.check_bpe_step(_stub)
