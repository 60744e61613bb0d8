"""llmbook.qa: the book's questions are well formed and answered by their sections, the
keyword judge matches whole words, the prompts hold the context, BM25 is right by hand."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from llmbook import qa
from llmbook import retrieval as R


def test_questions_are_well_formed():
    qs = qa.BOOK_QUESTIONS
    assert len(qs) >= 30 and len({q.question for q in qs}) == len(qs)
    assert len({q.section for q in qs}) >= 15
    for q in qs:
        assert q.question.endswith("?") and q.answer and q.keywords
        assert qa.keyword_match(q.answer, q.keywords), q      # the reference answer passes


def test_every_question_is_answered_by_its_section():
    if not R._BOOK_CHAPTERS.is_dir():
        pytest.skip("the book's chapters are not beside the package")
    text = {}
    for c in R.notebook_chunks():
        text[c.section] = text.get(c.section, "") + "\n" + c.text
    for q in qa.BOOK_QUESTIONS:
        assert q.section in text, q.section
        assert qa.keyword_match(text[q.section], q.keywords), q


def test_keyword_match():
    assert qa.keyword_match("It is Low-Rank adaptation.", [("low-rank", "low rank")])
    assert qa.keyword_match("B starts at 0.", [("0", "zero")])
    assert not qa.keyword_match("B starts at 10.", [("0", "zero")])   # whole words only
    assert qa.keyword_match("6 layers and 12 heads", [("6", "six"), ("12",)])
    assert not qa.keyword_match("6 layers", [("6",), ("12",)])          # every group
    assert qa.keyword_match("uses e^h", ["e^h"])
    assert qa.keyword_match("spread\nover  lines", [("over lines",)])
    with pytest.raises(ValueError, match="non-empty list"):
        qa.keyword_match("x", [])
    with pytest.raises(ValueError, match="non-empty strings"):
        qa.keyword_match("x", [("",)])
    with pytest.raises(TypeError, match="must be a str"):
        qa.keyword_match(None, ["x"])


def test_qa_messages():
    closed = qa.qa_messages("What is LoRA?")
    assert closed[0] == {"role": "system", "content": qa.SYSTEM_PROMPT}
    assert closed[1] == {"role": "user", "content": "What is LoRA?"}
    rag = qa.qa_messages("What is LoRA?", ["First passage.", " Second. "])
    assert rag[1]["content"] == ("Context:\nFirst passage.\n\nSecond.\n\n"
                                 "Using the context, answer: What is LoRA?")
    with pytest.raises(TypeError, match="list of str"):
        qa.qa_messages("q?", "one passage")
    with pytest.raises(ValueError, match="non-empty"):
        qa.qa_messages(" ")


def test_bm25_by_hand():
    docs = ["the cat sat", "the dog sat on the dog", "a bird"]
    index = qa.BM25Index(k1=1.5, b=0.75)
    index.add(docs, ids=["c", "d", "b"])
    n, mean = 3, (3 + 6 + 2) / 3
    idf = math.log(1 + (n - 1 + 0.5) / (1 + 0.5))                    # "dog": in one document
    f, length = 2, 6
    expected = idf * f * 2.5 / (f + 1.5 * (1 - 0.75 + 0.75 * length / mean))
    assert math.isclose(index.scores("dog")[1], expected, rel_tol=1e-12)
    assert index.scores("dog")[0] == 0.0
    scores, ids = index.search(["dog", "Cat!", "zebra"], k=2)
    assert ids[0][0] == "d" and ids[1][0] == "c"
    assert ids[2] == ["c", "d"] and scores[2] == [0.0, 0.0]            # ties: insertion order
    assert qa.tokenize_words("Top-k, K=5!") == ["top", "k", "k", "5"]
    with pytest.raises(ValueError, match="unique"):
        index.add(["again"], ids=["c"])
    with pytest.raises(ValueError, match="positive int"):
        index.search("x", 0)
    with pytest.raises(ValueError, match="empty"):
        qa.BM25Index().search("x", 1)


def test_book_chapters():
    if R._BOOK_CHAPTERS.is_dir():
        assert qa.book_chapters() == R._BOOK_CHAPTERS


def test_book_chapters_clones_what_pip_installed(tmp_path, monkeypatch):
    """Installed by pip from the repository (Colab), the chapters come from a shallow clone
    of the installed commit; installed any other way, the error says what to do."""
    import subprocess

    monkeypatch.setattr(R, "_BOOK_CHAPTERS", tmp_path / "absent")
    monkeypatch.setattr(qa, "_installed_from", lambda: None)
    with pytest.raises(FileNotFoundError, match="Clone the book"):
        qa.book_chapters(cache_dir=tmp_path)
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        if args[:2] == ["git", "init"]:
            (Path(args[-1]) / "chapters").mkdir(parents=True)
        return subprocess.CompletedProcess(args, 0)

    monkeypatch.setattr(qa, "_installed_from",
                        lambda: ("https://github.com/llm-book/llm-book", "0123456789abcdef"))
    monkeypatch.setattr(subprocess, "run", fake_run)
    folder = qa.book_chapters(cache_dir=tmp_path)
    assert folder == tmp_path / "book-0123456789ab" / "chapters"
    assert ["--depth", "1", "https://github.com/llm-book/llm-book", "0123456789abcdef"] == \
        calls[1][5:]
    calls.clear()
    assert qa.book_chapters(cache_dir=tmp_path) == folder and not calls    # once
