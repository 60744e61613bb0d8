"""Graders of the tokenization exercises: one merge step of byte-pair encoding (2.2)."""

from __future__ import annotations

from typing import Callable

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_bpe_step"]


def check_bpe_step(fn: Callable) -> Feedback:
    """Grade ``fn(words) -> (pair, new_words)``: one BPE merge. ``words`` maps a word, as a
    tuple of symbols, to its count; ``pair`` is the most frequent adjacent pair (ties: the
    pair that sorts first) and ``new_words`` the words with that pair merged."""
    from ..tokenization import _merge_word

    cases = [
        {("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2, ("n", "e", "w", "e", "s", "t"): 6,
         ("w", "i", "d", "e", "s", "t"): 3},
        {("a", "a", "a"): 1, ("b", "c"): 1},
        {("h", "e", "r"): 3, ("a", "b"): 3},
    ]

    def judge(case: Case, got) -> str | None:
        words = case.context
        counts: dict[tuple[str, str], int] = {}
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + n
        best = min(counts, key=lambda p: (-counts[p], p))
        expected = {_merge_word(w, best): n for w, n in words.items()}
        if not isinstance(got, tuple) or len(got) != 2:
            return "return a tuple (pair, new_words)."
        pair, new_words = got
        if tuple(pair) != best:
            hint = (f" {tuple(pair)} occurs {counts.get(tuple(pair), 0)} times, {best} "
                    f"{counts[best]} times." if tuple(pair) in counts else "")
            if tuple(pair) in counts and counts[tuple(pair)] == counts[best]:
                hint += " On a tie, take the pair that sorts first."
            else:
                hint += " Count every adjacent pair, weighted by the word's count."
            return f"words {words}: expected the pair {best}, got {pair!r}.{hint}"
        if new_words != expected:
            return (f"words {words}: merging {best} should give {expected}, got "
                    f"{new_words!r}. Merge left to right; 'a a a' with ('a', 'a') "
                    f"gives ('aa', 'a').")
        return None

    return _run_cases(fn, [Case(f"words {w}", (dict(w),), w) for w in cases], judge,
                      "the pair and the merged words are right in all 3 cases "
                      "(including a tie and an overlapping pair).")
