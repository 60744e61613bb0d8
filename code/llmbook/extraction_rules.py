"""A rule-based extractor (section 6.5's baseline): capitalised spans as entity candidates,
cue words for their types, trigger phrases for the relations of :mod:`llmbook.extraction`.

The rules were written by reading the book's hand-labelled sentences (``extraction.GOLD``), so
their score there is optimistic: it shows what a few lines of patterns reach on a narrow,
regular kind of sentence, not how they carry to new text.

* :func:`candidate_spans` -- the names in a sentence: runs of capitalised words, joined over
  "of", "for", "the" and a hyphen; an "and" between two names of several words splits them
  ("Bill Gates and Paul Allen"), between one-word names it joins them ("War and Peace");
* :func:`rule_types` -- a type for each span from the words around it (``born in`` → PLACE,
  ``wrote`` → WORK, *University*, *Institute* → ORGANIZATION, ...);
* :func:`rule_extract` -- entities and relations as the JSON-like dict that
  :func:`llmbook.extraction.parse_extraction` returns, always valid against the schema.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

from .extraction import RELATIONS

__all__ = ["Span", "candidate_spans", "rule_types", "rule_extract", "TRIGGERS", "TYPE_CUES"]


class Span(NamedTuple):
    """A candidate name: its text and its character offsets in the sentence."""

    text: str
    start: int
    end: int


_WORD = re.compile(r"[^\W\d_][\w'’-]*|\d[\w-]*|[^\w\s]")
_JOINERS = {"of", "for", "the", "de", "von"}


def _check_sentence(sentence: object) -> str:
    if not isinstance(sentence, str):
        raise TypeError(f"sentence must be a str, got {type(sentence).__name__}.")
    if not sentence.strip():
        raise ValueError("sentence is empty: give the text to extract from.")
    return sentence


def _capitalised(word: str) -> bool:
    return word[:1].isupper()


def candidate_spans(sentence: str) -> list[Span]:
    """The runs of capitalised words of ``sentence`` (see the module docstring), in order.

    A sentence-initial "The" starts no name by itself ("The Louvre" is kept whole and its
    "The" removed by :func:`llmbook.extraction.normalize_name` when scoring)."""
    sentence = _check_sentence(sentence)
    words = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(sentence)]
    runs: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    for i, (word, start, end) in enumerate(words):
        nxt = words[i + 1][0] if i + 1 < len(words) else ""
        if _capitalised(word):
            current.append((word, start, end))
        elif current and (word in _JOINERS or word == "and") and _capitalised(nxt):
            current.append((word, start, end))
        else:
            if current:
                runs.append(current)
            current = []
    if current:
        runs.append(current)
    spans = []
    for run in runs:
        for piece in _split_on_and(run):
            if piece[0][0] == "The" and len(piece) == 1:
                continue
            spans.append(Span(sentence[piece[0][1]:piece[-1][2]], piece[0][1], piece[-1][2]))
    return spans


def _split_on_and(run):
    """Split a run at each "and"; neighbouring one-word pieces are joined back together."""
    pieces, current = [], []
    for item in run:
        if item[0] == "and":
            pieces.append(current)
            current = []
        else:
            current.append(item)
    pieces.append(current)
    merged = [pieces[0]]
    for i, piece in enumerate(pieces[1:], 1):
        if len(piece) == 1 and len(pieces[i - 1]) == 1:
            and_word = next(w for w in run if w[1] > merged[-1][-1][1] and w[0] == "and")
            merged[-1] = merged[-1] + [and_word] + piece
        else:
            merged.append(piece)
    return [p for p in merged if p]


_ORG_WORDS = {"university", "institute", "navy", "company", "corporation", "college",
              "museum", "bank"}
#: Cues for a span's type, tried in order: (type, pattern just before it, pattern just after).
TYPE_CUES: tuple[tuple[str, str | None, str | None], ...] = (
    ("WORK", r"\bwrote\s*$|\bwrote [^,.]* and\s*$", None),
    ("ORGANIZATION", r"\b(?:founded|work(?:ed|s)? (?:at|for)|chief executive of)"
                     r"\s*(?:the\s*)?$", None),
    ("ORGANIZATION", None, r"^,? (?:is|was) (?:a [\w ]*company |)"
                           r"(?:located|based|headquartered) in\b|^, which is\b"),
    ("PLACE", None, r"^ stands in\b"),
    ("PLACE", r"\b(?:in|at|on the island of|district of)\s*(?:the\s*)?$|,\s*$", None),
    ("PERSON", None, r"^(?:,? who\b| was born| wrote| founded| worked| corresponded|"
                     r" played|, the chief| and [^,.]* (?:founded|played))"),
    ("PERSON", r"\b(?:with|and)\s*$", None),
)


def rule_types(sentence: str, spans: list[Span] | None = None) -> list[str | None]:
    """A type (one of ``extraction.ENTITY_TYPES``) or ``None`` for each span: an organisation
    word in the name (*University*, *Institute*, ...), else the first of :data:`TYPE_CUES`
    whose patterns match the text just before and after the span; ``None`` when no cue
    fits (the span is dropped)."""
    sentence = _check_sentence(sentence)
    spans = candidate_spans(sentence) if spans is None else spans
    types: list[str | None] = []
    for span in spans:
        before, after = sentence[:span.start], sentence[span.end:]
        kind = None
        if {w.casefold() for w in span.text.split()} & _ORG_WORDS:
            kind = "ORGANIZATION"
        for cue_type, cue_before, cue_after in TYPE_CUES:
            if kind:
                break
            if (cue_before is None or re.search(cue_before, before)) and \
                    (cue_after is None or re.search(cue_after, after)):
                kind = cue_type
        types.append(kind)
    return types


#: The phrases that signal each relation (a regular expression each).
TRIGGERS: dict[str, str] = {
    "born_in": r"\bborn in\b",
    "works_for": r"\bwork(?:ed|s)? (?:at|for)\b|\bchief executive of\b",
    "founded": r"\bfounded\b",
    "located_in": r"\b(?:located|based|headquartered) in\b|\bstands in\b|\bdistrict of\b",
    "wrote": r"\bwrote\b",
}


def rule_extract(sentence: str) -> dict[str, Any]:
    """``{"entities": [...], "relations": [...]}`` for ``sentence`` by the rules above.

    For each trigger phrase, the head is the nearest entity of a fitting type before it (for
    *founded*, every person before it, and one after "together with"), the tail the first
    fitting entity after it (for *wrote*, every work after it); a place followed by ", place"
    is located in the second."""
    spans = candidate_spans(sentence)
    typed = [(s, t) for s, t in zip(spans, rule_types(sentence, spans)) if t]
    entities = [{"name": s.text, "type": t} for s, t in typed]
    triples: list[tuple[str, str, str]] = []
    for relation, pattern in TRIGGERS.items():
        heads_ok, tails_ok = RELATIONS[relation]
        for m in re.finditer(pattern, sentence):
            before = [(s, t) for s, t in typed if s.end <= m.start() and t in heads_ok]
            after = [(s, t) for s, t in typed if s.start >= m.end() and t in tails_ok]
            if not before or not after:
                continue
            if relation == "founded":
                heads = [s for s, _ in before]
                heads += [s for s, t in typed if t == "PERSON" and s.start >= m.end() and
                          re.search(r"together with\s*$", sentence[:s.start])]
            else:
                heads = [before[-1][0]]
            tails = [s for s, _ in after] if relation == "wrote" else [after[0][0]]
            if relation == "wrote":
                tails = [s for s in tails if not re.search(r"\b(?:while|on|in)\b",
                                                            sentence[m.end():s.start])]
            triples += [(h.text, relation, t.text) for h in heads for t in tails]
    for (a, ta), (b, tb) in zip(typed, typed[1:]):      # "Cupertino, California"
        if ta == tb == "PLACE" and re.fullmatch(r",\s*", sentence[a.end:b.start]):
            triples.append((a.text, "located_in", b.text))
    seen, relations = set(), []
    for h, r, t in triples:
        if (h, r, t) not in seen and h != t:
            seen.add((h, r, t))
            relations.append({"head": h, "relation": r, "tail": t})
    return {"entities": entities, "relations": relations}
