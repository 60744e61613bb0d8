"""llmbook.ner: spans as seqeval reads them (lenient and strict IOB2), scores identical to
seqeval's on random, often ill-formed, tag sequences, and clear errors for bad input."""

from __future__ import annotations

import importlib.util
import math
import random
import warnings

import pytest

from llmbook import ner

TYPES = ("PER", "LOC", "ORG")


def _random_tags(rng: random.Random, n: int, types=TYPES) -> list[str]:
    tags = []
    for _ in range(n):
        r = rng.random()
        if r < 0.4:
            tags.append("O")
        else:
            tags.append(f"{'B' if r < 0.65 else 'I'}-{rng.choice(types)}")
    return tags


def _random_corpus(seed: int, types=TYPES):
    rng = random.Random(seed)
    lengths = [rng.randrange(0, 12) for _ in range(rng.randrange(1, 7))]
    if not any(lengths):
        lengths[0] = 1
    gold = [_random_tags(rng, n, types) for n in lengths]
    # predictions: a noisy copy of gold (so that many entities match), or fully random
    noise = rng.random()
    pred = [[t if rng.random() > noise else _random_tags(rng, 1, types)[0] for t in s]
            for s in gold]
    return gold, pred


# --- spans -----------------------------------------------------------------------------------

def test_spans_by_hand():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC", "I-ORG", "B-ORG", "B-ORG"]
    assert ner.bio_spans(tags) == [("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6),
                                   ("ORG", 6, 7), ("ORG", 7, 8), ("ORG", 8, 9)]
    assert ner.bio_spans(tags, strict=True) == [("PER", 0, 2), ("LOC", 5, 6), ("ORG", 7, 8),
                                                ("ORG", 8, 9)]
    assert ner.bio_spans(["I-PER", "I-PER"]) == [("PER", 0, 2)]
    assert ner.bio_spans(["I-PER", "I-PER"], strict=True) == []
    assert ner.bio_spans(["B-PER", "I-LOC", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 3)]
    assert ner.bio_spans(["B-PER", "I-LOC", "I-LOC"], strict=True) == [("PER", 0, 1)]
    assert ner.bio_spans([]) == [] and ner.bio_spans(["O", "O"]) == []
    assert ner.bio_spans(["B-ORG-GOV", "I-ORG-GOV"]) == [("ORG-GOV", 0, 2)]


@pytest.mark.parametrize("seed", range(300))
def test_spans_equal_seqeval(seed):
    pytest.importorskip("seqeval")
    from seqeval.metrics.sequence_labeling import get_entities
    from seqeval.scheme import IOB2, Tokens

    rng = random.Random(seed)
    tags = _random_tags(rng, rng.randrange(0, 15))
    assert ner.bio_spans(tags) == [(t, s, e + 1) for t, s, e in get_entities(tags)]
    strict = [(e.tag, e.start, e.end) for e in Tokens(tags, IOB2).entities]
    assert ner.bio_spans(tags, strict=True) == strict


def test_spans_to_tags_round_trip_and_to_iob2():
    rng = random.Random(0)
    for _ in range(200):
        tags = _random_tags(rng, rng.randrange(0, 12))
        for strict in (False, True):
            spans = ner.bio_spans(tags, strict=strict)
            fixed = ner.to_iob2(tags, strict=strict)
            assert ner.spans_to_tags(len(tags), spans) == fixed
            # well-formed: both readings agree, and nothing changes a second time
            assert ner.bio_spans(fixed) == ner.bio_spans(fixed, strict=True) == spans
            assert ner.to_iob2(fixed) == fixed
    assert ner.to_iob2(["I-PER", "O", "I-LOC"]) == ["B-PER", "O", "B-LOC"]
    assert ner.to_iob2(["I-PER", "O", "I-LOC"], strict=True) == ["O", "O", "O"]


# --- scores ----------------------------------------------------------------------------------

def _seqeval_report(gold, pred, strict):
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    kw = {"mode": "strict", "scheme": IOB2} if strict else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = classification_report(gold, pred, output_dict=True, zero_division=0, **kw)
        micro = (precision_score(gold, pred, **kw), recall_score(gold, pred, **kw),
                 f1_score(gold, pred, **kw))
        macro_f1 = f1_score(gold, pred, average="macro", **kw) if report.get("macro avg") \
            else None
    return report, micro, macro_f1


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("seed", range(250))
def test_scores_identical_to_seqeval(seed, strict):
    pytest.importorskip("seqeval")
    gold, pred = _random_corpus(seed)
    ours = ner.entity_scores(gold, pred, strict=strict)
    report, micro, macro_f1 = _seqeval_report(gold, pred, strict)
    kinds = [k for k in report if not k.endswith(" avg")]
    assert list(ours.per_type) == kinds
    for kind in kinds:
        row = report[kind]
        mine = ours.per_type[kind]
        assert (mine["precision"], mine["recall"], mine["f1"], mine["support"]) == \
            (row["precision"], row["recall"], row["f1-score"], row["support"])
    for name in ("micro", "macro", "weighted"):
        row, mine = report[f"{name} avg"], getattr(ours, name)
        assert all(_same(mine[a], row[b]) for a, b in
                   (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")))
        assert mine["support"] == row["support"]
    assert (ours.micro["precision"], ours.micro["recall"], ours.f1) == micro
    if macro_f1 is not None:
        assert _same(ours.macro["f1"], macro_f1)


def test_many_types_agree_to_rounding():
    pytest.importorskip("seqeval")
    types = tuple(f"T{i}" for i in range(12))
    for seed in range(20):   # with 8+ types numpy sums pairwise: equal to the last bit or so
        gold, pred = _random_corpus(1000 + seed, types)
        ours = ner.entity_scores(gold, pred)
        report, _, _ = _seqeval_report(gold, pred, False)
        assert ours.macro["f1"] == pytest.approx(report["macro avg"]["f1-score"], abs=1e-15)


def test_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "I-ORG", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-ORG", "O", "B-LOC"]]
    s = ner.entity_scores(gold, pred)
    assert s.per_type["PER"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1,
                                 "predicted": 1, "correct": 1}
    assert s.per_type["LOC"]["precision"] == 0.0 and s.per_type["LOC"]["recall"] == 0.0
    assert s.per_type["ORG"]["correct"] == 0          # ORG predicted one token too short
    assert s.micro == {"precision": 1 / 3, "recall": 1 / 3, "f1": pytest.approx(1 / 3),
                       "support": 3}
    assert s.macro["f1"] == pytest.approx(1 / 3)
    assert "micro avg" in s.table() and "PER" in s.table()
    assert ner.token_accuracy(gold, pred) == 4 / 7


def test_no_entities_anywhere():
    s = ner.entity_scores([["O", "O"]], [["O", "O"]])
    assert s.per_type == {} and s.micro["f1"] == 0.0 and s.weighted["f1"] == 0.0
    assert math.isnan(s.macro["f1"])
    if importlib.util.find_spec("seqeval"):        # seqeval says the same
        report, micro, _ = _seqeval_report([["O", "O"]], [["O", "O"]], False)
        assert math.isnan(report["macro avg"]["f1-score"]) and micro == (0.0, 0.0, 0.0)


def test_token_accuracy_equals_seqeval():
    seqeval_metrics = pytest.importorskip("seqeval.metrics")
    for seed in range(50):
        gold, pred = _random_corpus(seed)
        assert ner.token_accuracy(gold, pred) == seqeval_metrics.accuracy_score(gold, pred)


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("tag, error, match", [
    ("X-PER", ValueError, "unknown tag"),
    ("E-PER", ValueError, "unknown tag"),
    ("B", ValueError, "unknown tag"),
    ("B-", ValueError, "no usable type"),
    ("B-PER-", ValueError, "no usable type"),
    ("o", ValueError, "unknown tag"),
    (3, TypeError, "must be a str"),
])
def test_bad_tags(tag, error, match):
    with pytest.raises(error, match=match):
        ner.bio_spans(["O", tag])


def test_types_restrict_the_tags():
    assert ner.bio_spans(["B-PER"], types=TYPES) == [("PER", 0, 1)]
    with pytest.raises(ValueError, match="not one of the allowed types"):
        ner.bio_spans(["B-MISC"], types=TYPES)
    with pytest.raises(ValueError, match="not one of the allowed"):
        ner.entity_scores([["B-PER"]], [["B-PERSON"]], types=TYPES)
    with pytest.raises(TypeError, match="collection of type names"):
        ner.bio_spans(["O"], types="PER")


@pytest.mark.parametrize("gold, pred, error, match", [
    ([["O", "B-PER"]], [["O"]], ValueError, "sentence 0: gold has 2 tags and pred 1"),
    ([["O"], ["O"]], [["O"]], ValueError, "gold has 2 sentences and pred 1"),
    ([], [], ValueError, "no tokens"),
    ([[]], [[]], ValueError, "no tokens"),
    (["O", "B-PER"], ["O", "B-PER"], TypeError, "one sentence"),
    ("O B-PER", "O B-PER", TypeError, "list of sentences"),
    ([["O"]], [["Z"]], ValueError, "unknown tag"),
])
def test_bad_corpora(gold, pred, error, match):
    with pytest.raises(error, match=match):
        ner.entity_scores(gold, pred)
    with pytest.raises(error, match=match):
        ner.token_accuracy(gold, pred)


def test_bad_arguments():
    with pytest.raises(TypeError, match="strict must be True or False"):
        ner.bio_spans(["O"], strict="yes")
    with pytest.raises(TypeError, match="list of tags"):
        ner.bio_spans("B-PER I-PER")
    with pytest.raises(ValueError, match="overlaps"):
        ner.spans_to_tags(4, [("PER", 0, 2), ("LOC", 1, 3)])
    with pytest.raises(ValueError, match="0 <= start < end <= length=4"):
        ner.spans_to_tags(4, [("PER", 2, 5)])
    with pytest.raises(ValueError, match="non-negative int"):
        ner.spans_to_tags(-1, [])
