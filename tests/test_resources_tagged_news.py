"""llmbook.resources.tagged_news: People's Daily words, POS tags and BIO entity tags."""

from __future__ import annotations

import pytest

from llmbook import resources
from llmbook.resources import tagged_news


def test_peoples_daily_words_and_tags(capsys):
    sentences = resources.peoples_daily(100)
    assert "100 sentences" in capsys.readouterr().out
    assert len(sentences) == 100
    for sentence in sentences:
        assert sentence and all(isinstance(w, str) and w and t.isalpha() for w, t in sentence)
    paragraphs = resources.peoples_daily(10, unit="paragraph", verbose=False)
    assert sum(len(p) for p in paragraphs) >= sum(len(s) for s in sentences[:10])


def test_peoples_daily_ner_is_aligned_bio():
    data = resources.peoples_daily_ner(300, verbose=False)
    words = resources.peoples_daily(300, verbose=False)
    kinds = {"O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"}
    seen = set()
    for (chars, tags), sentence in zip(data, words):
        assert len(chars) == len(tags) and "".join(chars) == "".join(w for w, _ in sentence)
        seen |= set(tags)
        for previous, tag in zip(["O"] + tags, tags):
            if tag.startswith("I-"):     # an I- tag continues an entity of the same kind
                assert previous[2:] == tag[2:], (previous, tag)
    assert seen <= kinds and {"B-PER", "B-LOC", "B-ORG"} <= seen


def test_parser_handles_bracketed_compounds():
    tokens = tagged_news._parse_tagged_line("[中国/ns 政府/n]nt 江/nr 泽民/nr 访问/v 北京/ns")
    spans = tagged_news._entities(tokens)
    assert spans == [(0, 4, "ORG"), (4, 7, "PER"), (9, 11, "LOC")]
    with pytest.raises(ValueError, match="expected word/tag"):
        tagged_news._parse_tagged_line("word-without-tag")


@pytest.mark.parametrize("kwargs,error,match", [
    ({"max_sentences": 0}, ValueError, "at least 1"),
    ({"max_sentences": "5"}, TypeError, "positive int or None"),
    ({"unit": "line"}, ValueError, "unit must be"),
])
def test_peoples_daily_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        resources.peoples_daily(**kwargs, verbose=False)
