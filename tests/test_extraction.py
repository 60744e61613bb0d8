"""llmbook.extraction: parsing whatever a model writes, the schema, grounding, and scoring."""

import json

import jsonschema
import pytest

from llmbook import extraction as ex

GOOD = {"entities": [{"name": "Jane Austen", "type": "PERSON"},
                     {"name": "Pride and Prejudice", "type": "WORK"}],
        "relations": [{"head": "Jane Austen", "relation": "wrote",
                       "tail": "Pride and Prejudice"}]}
SENTENCE = "Jane Austen wrote Pride and Prejudice."


def test_the_schema_is_valid_and_accepts_the_gold():
    jsonschema.Draft202012Validator.check_schema(ex.SCHEMA)
    for g in ex.GOLD + ex.FRESH:
        data = {"entities": [{"name": n, "type": t} for n, t in g.entities],
                "relations": [{"head": h, "relation": r, "tail": t} for h, r, t in g.relations]}
        parsed = ex.parse_extraction(json.dumps(data), g.text)
        assert parsed.ok and parsed.warnings == [], (g.text, parsed.warnings)


def test_gold_is_consistent():
    assert len(ex.GOLD) >= 20 and len({g.text for g in ex.GOLD}) == len(ex.GOLD)
    assert len(ex.FRESH) >= 10 and not {g.text for g in ex.FRESH} & {g.text for g in ex.GOLD}
    for g in ex.GOLD + ex.FRESH:
        names = {ex.normalize_name(n): t for n, t in g.entities}
        for h, r, t in g.relations:
            heads, tails = ex.RELATIONS[r]
            assert names[ex.normalize_name(h)] in heads and names[ex.normalize_name(t)] in tails
    assert sum(1 for g in ex.GOLD if not g.relations) >= 2      # sentences with no relation


@pytest.mark.parametrize("answer", [
    json.dumps(GOOD),
    "Here is the JSON:\n```json\n" + json.dumps(GOOD, indent=2) + "\n```\nHope this helps!",
    "Sure! " + json.dumps(GOOD) + " That is all.",
    "{not json} " + json.dumps(GOOD),                  # a broken brace first, then the object
])
def test_usable_answers(answer):
    parsed = ex.parse_extraction(answer, SENTENCE)
    assert parsed.ok and parsed.data == GOOD and parsed.errors == [] and parsed.warnings == []


@pytest.mark.parametrize("answer, stage, words", [
    ("I cannot find any entities.", "no_json", "no '{'"),
    ('{"entities": [{"name": "Jane Austen", "type": "PERSON"}', "invalid_json", "does not parse"),
    ('{"entities": [], "relations": [], "notes": "x"}', "schema", "Additional properties"),
    ('{"entities": [{"name": "Jane Austen", "type": "AUTHOR"}], "relations": []}', "schema",
     "entities/0/type"),
    ('{"entities": [], "relations": [{"head": "A", "relation": "married", "tail": "B"}]}',
     "schema", "relations/0/relation"),
    ('{"entities": []}', "schema", "'relations' is a required property"),
    ('[1, 2]', "no_json", "no '{'"),
])
def test_unusable_answers_are_messages_not_crashes(answer, stage, words):
    parsed = ex.parse_extraction(answer, SENTENCE)
    assert not parsed.ok and parsed.data is None and parsed.stage == stage
    assert any(words in e for e in parsed.errors), parsed.errors


def test_warnings_for_doubtful_but_valid_answers():
    data = {"entities": [{"name": "Jane Austen", "type": "PERSON"},
                         {"name": "Emma", "type": "WORK"}],
            "relations": [{"head": "Jane Austen", "relation": "born_in", "tail": "Emma"},
                          {"head": "Jane Austen", "relation": "wrote", "tail": "Persuasion"}]}
    parsed = ex.parse_extraction(json.dumps(data), SENTENCE)
    assert parsed.ok
    text = " | ".join(parsed.warnings)
    assert "links a PERSON to a WORK" in text
    assert "'Persuasion': its tail is not among the entities" in text
    assert "'Emma' does not occur in the sentence" in text


def test_normalize_name():
    assert ex.normalize_name("  The  Louvre. ") == "louvre"
    assert ex.normalize_name("CERN") == ex.normalize_name("cern")
    assert ex.normalize_name("Theo") == "theo"                  # "the" only as a word
    with pytest.raises(TypeError):
        ex.normalize_name(None)
    with pytest.raises(TypeError):
        ex.find_json_object(b"{}")


def test_scores():
    gold = [ex.GOLD[3], ex.GOLD[2]]          # Austen (2 entities, 1 relation); Microsoft (2, 1)
    perfect = ex.parse_extraction(json.dumps(GOOD), SENTENCE)
    half = {"entities": [{"name": "microsoft", "type": "ORGANIZATION"},
                         {"name": "Redmond", "type": "ORGANIZATION"}],       # wrong type
            "relations": [{"head": "Microsoft", "relation": "located_in", "tail": "Redmond"}]}
    s = ex.score_extractions([perfect, half], gold)
    assert s["entities"][3:] == (3, 4, 4) and s["entities"].precision == 0.75
    assert s["relations"][3:] == (2, 2, 2) and s["relations"].f1 == 1.0
    s = ex.score_extractions([None, None], gold)                  # nothing usable
    assert s["entities"] == (0.0, 0.0, 0.0, 0, 0, 4) and s["relations"].recall == 0.0
    with pytest.raises(ValueError, match="2 labelled"):
        ex.score_extractions([None], gold)
    with pytest.raises(ValueError, match="empty"):
        ex.score_extractions([], [])
    with pytest.raises(TypeError, match="Labelled"):
        ex.score_extractions([None], [{"text": "x"}])


@pytest.mark.parametrize("answer, fix, kept", [
    ('{"entities": [{"name": "Jane Austen", "type": "PERSON"}]}', "missing 'relations'",
     {"entities": [{"name": "Jane Austen", "type": "PERSON"}], "relations": []}),
    ('{"entities": [{"name": "Jane Austen", "type": "PERSON"}, {"name": "Emma", "type": "WO',
     "cut off", {"entities": [{"name": "Jane Austen", "type": "PERSON"}], "relations": []}),
    ('{"entities": [{"name": "Jane Austen", "type": "PERSON"}, {"name": "Oak Park", '
     '"type": "PLACE"}], "relations": [{"head": "Jane Austen", "relation": "born_in", '
     '"tail": "Oak Park"}], "notes": 1}', "not in the sentence",
     {"entities": [{"name": "Jane Austen", "type": "PERSON"}], "relations": []}),
    ('{"entities": [{"name": "Jane Austen", "type": "AUTHOR"}, {"name": "Pride and '
     'Prejudice", "type": "WORK"}], "relations": [{"head": "Jane Austen", "relation": '
     '"wrote", "tail": "Pride and Prejudice"}]}', "breaks the schema",
     {"entities": [{"name": "Pride and Prejudice", "type": "WORK"}], "relations": []}),
])
def test_repair_keeps_what_it_can_and_says_what_it_did(answer, fix, kept):
    strict = ex.parse_extraction(answer, SENTENCE)
    repaired = ex.repair_extraction(answer, SENTENCE)
    assert not strict.ok and strict.data is None
    assert repaired.stage == "repaired" and repaired.usable and not repaired.ok
    assert repaired.data == kept
    assert any(fix in w for w in repaired.warnings), repaired.warnings
    assert repaired.errors == strict.errors         # why the strict parse failed, kept


def test_repair_leaves_good_and_hopeless_answers_alone():
    good = ex.repair_extraction(json.dumps(GOOD), SENTENCE)
    assert good.ok and good.data == GOOD
    for answer in ("no JSON here", "{broken", '{"entities": [{"name": "Emma", "type": "WORK"}]}'):
        parsed = ex.repair_extraction(answer, SENTENCE)
        assert parsed.data is None and not parsed.usable
        assert parsed.stage in ("no_json", "invalid_json", "schema")
    assert ex.REPAIR_STAGES[-2:] == ("repaired", "ok")
    with pytest.raises(TypeError):
        ex.repair_extraction(None)
