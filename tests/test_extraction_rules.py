"""llmbook.extraction_rules: candidate spans, cue-word types, trigger-phrase relations."""

import json

import pytest

from llmbook import extraction as ex
from llmbook import extraction_rules as er


def test_candidate_spans_join_and_split_as_documented():
    spans = er.candidate_spans("Bill Gates and Paul Allen founded Microsoft in 1975.")
    assert [s.text for s in spans] == ["Bill Gates", "Paul Allen", "Microsoft"]
    spans = er.candidate_spans("Leo Tolstoy wrote War and Peace and Anna Karenina.")
    assert [s.text for s in spans] == ["Leo Tolstoy", "War and Peace", "Anna Karenina"]
    spans = er.candidate_spans("He worked for the University of Manchester after the war.")
    assert [s.text for s in spans] == ["He", "University of Manchester"]
    text = "Gabriel García Márquez wrote One Hundred Years of Solitude."
    assert [text[s.start:s.end] for s in er.candidate_spans(text)] == [
        "Gabriel García Márquez", "One Hundred Years of Solitude"]


def test_rules_are_perfect_on_the_sentences_they_were_written_for():
    preds = [er.rule_extract(g.text) for g in ex.GOLD]
    for g, p in zip(ex.GOLD, preds):
        assert ex.parse_extraction(json.dumps(p), g.text).ok
    scores = ex.score_extractions(preds, ex.GOLD)
    assert scores["entities"].f1 == 1.0 and scores["relations"].f1 == 1.0


def test_rules_carry_badly_to_new_phrasings():
    scores = ex.score_extractions([er.rule_extract(g.text) for g in ex.FRESH], ex.FRESH)
    assert scores["entities"].recall < 0.5 and scores["relations"].recall < 0.2


def test_types_without_a_cue_are_none_and_such_spans_are_dropped():
    sentence = "Katherine Johnson was employed by NASA."
    assert er.rule_types(sentence) == [None, None]
    assert er.rule_extract(sentence) == {"entities": [], "relations": []}


@pytest.mark.parametrize("bad, error", [(None, TypeError), (3, TypeError), ("  ", ValueError)])
def test_bad_input(bad, error):
    for fn in (er.candidate_spans, er.rule_types, er.rule_extract):
        with pytest.raises(error):
            fn(bad)
