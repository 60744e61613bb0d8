"""llmbook.resources.debates: the 2016 debates' statements by role, clean and reproducibly split."""

from __future__ import annotations

import collections

import pytest

from llmbook import resources
from llmbook.resources import debates


def test_debate_statements_are_clean_stratified_and_reproducible(capsys):
    data = resources.debate_statements()
    out = capsys.readouterr().out
    assert "631 train / 157 validation / 264 test" in out and "3 said by two roles" in out
    assert data.label_names == resources.DEBATE_ROLES == ("moderator", "Democrat", "Republican")
    everything = [t for name in resources.SPLIT_NAMES for t in data.texts(name)]
    assert len(everything) == len(set(everything)) == 1_052
    for name in resources.SPLIT_NAMES:
        for text, label in data[name]:
            assert label in (0, 1, 2) and text and text == " ".join(text.split())
    # 60/15/25 per label: each part has the same mix of roles (within two points).
    for role in range(3):
        shares = [data.labels(n).count(role) / len(data[n]) for n in resources.SPLIT_NAMES]
        assert max(shares) - min(shares) < 0.02
    assert resources.debate_statements(verbose=False).test == data.test
    assert resources.debate_statements(seed=1, verbose=False).test != data.test


def test_statements_said_by_two_roles_are_dropped():
    items, removed, conflicting = debates._read_debates()
    assert conflicting == 3 and removed == 70
    texts = collections.Counter(t for t, _ in items)
    assert max(texts.values()) == 1
    assert not {"Yes.", "OK.", "Right."} & set(texts)   # each said by two roles


@pytest.mark.parametrize("seed", ["0", None, 1.5, True])
def test_bad_seed_is_refused(seed):
    with pytest.raises((TypeError, ValueError), match="seed"):
        resources.debate_statements(seed=seed, verbose=False)
