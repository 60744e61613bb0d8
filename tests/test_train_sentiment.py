"""llmbook.train_sentiment: the reference run writes a complete record (on a tiny split here),
and the shipped record is the one section 5.5 describes."""

from __future__ import annotations

import json

import pytest

from llmbook import resources, train_sentiment
from llmbook.resources import LabelledSplits


def test_main_writes_a_complete_record(tmp_path, monkeypatch):
    full = resources.movie_reviews(verbose=False)
    small = LabelledSplits(train=full.train[:48], validation=full.validation[:16],
                           test=full.test[:24])
    monkeypatch.setattr(resources, "movie_reviews", lambda **kw: small)
    out = tmp_path / "record.json"
    record = train_sentiment.main(["--out", str(out), "--epochs", "1", "--batch-size", "16",
                                   "--threads", "1", "--no-progress"])
    assert json.loads(out.read_text()) == record
    assert record["steps"] == 3 and record["train_examples"] == 48
    assert record["test_examples"] == 24
    assert sum(map(sum, record["test_confusion"])) == 24
    assert 0 <= record["test_accuracy"] <= 1 and 0 <= record["test_macro_f1"] <= 1
    assert set(record["baselines"]) == {"majority_class", "frozen_minilm_logreg"}
    assert record["command"].startswith("python -m llmbook.train_sentiment --out")
    assert train_sentiment.load_record(out) == record


def test_load_record_names_the_command_when_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match="python -m llmbook.train_sentiment"):
        train_sentiment.load_record(tmp_path / "none.json")


def test_shipped_record_if_present():
    if not train_sentiment.DEFAULT_RECORD.is_file():
        pytest.skip("the reference record is not written yet")
    record = train_sentiment.load_record()
    assert record["train_examples"] == 10202 and record["test_examples"] == 1275
    assert record["test_accuracy"] > record["baselines"]["frozen_minilm_logreg"]["accuracy"]
    assert record["test_accuracy"] > record["baselines"]["majority_class"]
