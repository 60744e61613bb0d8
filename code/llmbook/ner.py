"""Named-entity recognition with BIO tags: from tags to entity spans, and the scores that judge
a tagger at the level of whole entities.

A tagger labels each token (each character, for Chinese) with ``O`` (outside any entity),
``B-T`` (the first token of an entity of type ``T``) or ``I-T`` (a later token of it) -- the
IOB2 scheme that :func:`llmbook.resources.peoples_daily_ner` uses, with types ``PER`` /
``LOC`` / ``ORG``.

* :func:`bio_spans` -- the entities of one tag sequence as ``(type, start, end)``, ``end``
  exclusive (``tags[start:end]`` is the entity), in one of two modes:

  - **lenient** (``strict=False``, the default; seqeval's default mode and the CoNLL
    ``conlleval`` script): an ``I-T`` that does not continue an entity of type ``T`` -- after
    ``O``, at the start, or after a tag of another type -- *starts* a new entity, as if it
    were ``B-T``;
  - **strict** (``strict=True``; seqeval's ``mode="strict", scheme=IOB2``): an entity is a
    ``B-T`` followed by the ``I-T`` tags after it; a stray ``I-T`` belongs to no entity.

  In both, ``B-T`` always starts an entity and an entity ends at ``O``, at any ``B-``, or at a
  tag of another type.
* :func:`entity_scores` -- entity-level precision, recall and F1 for each type, and their
  micro, macro and (support-)weighted averages. An entity counts as correct only if its type,
  start and end all match a gold entity of the same sentence.
* :func:`token_accuracy` -- the fraction of tokens whose tag is right (most tokens are ``O``,
  so this is high even for a poor tagger: the reason entity-level F1 is the measure).
* :func:`spans_to_tags` (the inverse of :func:`bio_spans`) and :func:`to_iob2` (rewrites a
  sequence so that its lenient entities are spelled with well-formed ``B-`` / ``I-`` tags).

The scores equal seqeval's ``classification_report`` / ``f1_score`` / ``precision_score`` /
``recall_score`` exactly (the tests compare them on hundreds of random, often ill-formed,
sequences).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Collection, Sequence

from .classification import accuracy

__all__ = ["parse_tag", "bio_spans", "spans_to_tags", "to_iob2", "EntityScores",
           "entity_scores", "token_accuracy"]

Span = tuple[str, int, int]


def parse_tag(tag: object, types: Collection[str] | None = None) -> tuple[str, str | None]:
    """``'B-PER'`` -> ``('B', 'PER')``, ``'I-LOC'`` -> ``('I', 'LOC')``, ``'O'`` -> ``('O', None)``.

    The type is everything after the first ``-`` (``'B-ORG-GOV'`` has type ``'ORG-GOV'``).
    Raises ``ValueError`` for any other prefix (``'X-PER'``, ``'E-PER'``, a bare ``'B'``), an
    empty type, or -- when ``types`` is given -- a type not in ``types``.
    """
    if not isinstance(tag, str):
        raise TypeError(f"a tag must be a str such as 'O', 'B-PER' or 'I-PER', got "
                        f"{type(tag).__name__} {tag!r}")
    if tag == "O":
        return "O", None
    prefix, dash, kind = tag.partition("-")
    if prefix not in ("B", "I") or not dash:
        raise ValueError(f"unknown tag {tag!r}: a BIO tag is 'O', 'B-<type>' or 'I-<type>' "
                         f"(other schemes such as BIOES or BILOU are not read here)")
    if not kind or kind != kind.strip("-") or kind != kind.strip():
        raise ValueError(f"tag {tag!r} has no usable type after 'B-' / 'I-' (it is empty or "
                         f"starts or ends with '-' or a space)")
    if types is not None and kind not in types:
        raise ValueError(f"tag {tag!r} has type {kind!r}, which is not one of the allowed "
                         f"types {sorted(types)}: fix the tag, or pass types=None")
    return prefix, kind


def _check_types(types: object) -> frozenset[str] | None:
    if types is None:
        return None
    if isinstance(types, str) or not isinstance(types, Collection):
        raise TypeError(f"types must be a collection of type names such as "
                        f"('PER', 'LOC', 'ORG'), or None; got {type(types).__name__}")
    if not types or not all(isinstance(t, str) and t for t in types):
        raise ValueError(f"types must hold at least one non-empty str, got {types!r}")
    return frozenset(types)


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _tag_list(name: str, tags: object) -> list[str]:
    if isinstance(tags, str) or not isinstance(tags, Sequence):
        raise TypeError(f"{name} must be a list of tags such as ['B-PER', 'I-PER', 'O'], "
                        f"got {type(tags).__name__}")
    return list(tags)


def _spans(tags: list[str], strict: bool, types: frozenset[str] | None) -> list[Span]:
    spans: list[Span] = []
    kind, start = None, 0                       # the open entity: its type and first index
    for i, tag in enumerate(tags):
        prefix, tag_kind = parse_tag(tag, types)
        if prefix == "I" and kind is not None and tag_kind == kind:
            continue                            # the open entity goes on
        if kind is not None:                    # O, B-, or an I- of another type: it ends
            spans.append((kind, start, i))
            kind = None
        if prefix == "B" or (prefix == "I" and not strict):
            kind, start = tag_kind, i           # lenient: a stray I-T starts an entity too
    if kind is not None:
        spans.append((kind, start, len(tags)))
    return spans


def bio_spans(tags: Sequence[str], *, strict: bool = False,
              types: Collection[str] | None = None) -> list[Span]:
    """The entities of one tag sequence, as ``(type, start, end)`` with ``end`` exclusive.

    >>> bio_spans(['B-PER', 'I-PER', 'O', 'I-LOC', 'I-LOC', 'B-LOC'])
    [('PER', 0, 2), ('LOC', 3, 5), ('LOC', 5, 6)]
    >>> bio_spans(['B-PER', 'I-PER', 'O', 'I-LOC', 'I-LOC', 'B-LOC'], strict=True)
    [('PER', 0, 2), ('LOC', 5, 6)]

    ``strict=False`` is seqeval's default (conlleval) rule: a stray ``I-T`` starts an entity;
    ``strict=True`` is IOB2 read strictly: it is ignored. seqeval reports the same entities
    with an inclusive end (``end - 1``). ``types`` (e.g. ``('PER', 'LOC', 'ORG')``) makes a tag
    of any other type an error.
    """
    _check_bool("strict", strict)
    return _spans(_tag_list("tags", tags), strict, _check_types(types))


def spans_to_tags(length: int, spans: Sequence[Span]) -> list[str]:
    """The IOB2 tags of ``length`` tokens holding ``spans`` (``(type, start, end)``, end
    exclusive): ``B-type`` at each start, ``I-type`` after it, ``O`` elsewhere."""
    if isinstance(length, bool) or not isinstance(length, int) or length < 0:
        raise ValueError(f"length must be a non-negative int, got {length!r}")
    tags = ["O"] * length
    for span in spans:
        if not (isinstance(span, tuple) and len(span) == 3):
            raise TypeError(f"each span must be a tuple (type, start, end), got {span!r}")
        kind, start, end = span
        if not isinstance(kind, str):
            raise TypeError(f"span {span!r}: its type must be a str such as 'PER'")
        parse_tag(f"B-{kind}")
        if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= length):
            raise ValueError(f"span {span!r} must satisfy 0 <= start < end <= length={length}")
        if any(t != "O" for t in tags[start:end]):
            raise ValueError(f"span {span!r} overlaps another span: BIO tags cannot hold "
                             f"nested or overlapping entities")
        tags[start:end] = [f"B-{kind}"] + [f"I-{kind}"] * (end - start - 1)
    return tags


def to_iob2(tags: Sequence[str], *, strict: bool = False) -> list[str]:
    """The same entities (read with :func:`bio_spans`) written as well-formed IOB2: a stray
    ``I-T`` becomes ``B-T`` (lenient) or ``O`` (``strict=True``)."""
    tags = _tag_list("tags", tags)
    return spans_to_tags(len(tags), bio_spans(tags, strict=strict))


def _sentences(gold: object, pred: object) -> tuple[list[list[str]], list[list[str]]]:
    hint = "a list of sentences, each a list of tags (for one sentence pass [tags])"
    for name, seqs in (("gold", gold), ("pred", pred)):
        if isinstance(seqs, str) or not isinstance(seqs, Sequence):
            raise TypeError(f"{name} must be {hint}; got {type(seqs).__name__}")
        if any(isinstance(s, str) for s in seqs):
            raise TypeError(f"{name} must be {hint}; got a list of str (one sentence?)")
    g = [_tag_list(f"gold[{i}]", s) for i, s in enumerate(gold)]
    p = [_tag_list(f"pred[{i}]", s) for i, s in enumerate(pred)]
    if len(g) != len(p):
        raise ValueError(f"gold has {len(g)} sentences and pred {len(p)}: one predicted tag "
                         f"sequence per gold sentence is needed")
    for i, (a, b) in enumerate(zip(g, p)):
        if len(a) != len(b):
            raise ValueError(f"sentence {i}: gold has {len(a)} tags and pred {len(b)}: one "
                             f"predicted tag per token is needed (check truncation and "
                             f"sub-word alignment)")
    if not any(g):
        raise ValueError("gold holds no tokens: scores need at least one tagged sentence")
    return g, p


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def _f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


@dataclass(frozen=True)
class EntityScores:
    """Entity-level scores. ``per_type[T]`` holds ``precision``, ``recall``, ``f1``,
    ``support`` (gold entities of type ``T``), ``predicted`` and ``correct``; ``micro``,
    ``macro`` and ``weighted`` hold ``precision``, ``recall``, ``f1`` and ``support``.

    * micro: precision = sum of correct / sum of predicted, recall = sum of correct / sum of
      gold, over all types: frequent types weigh more (this is seqeval's ``f1_score``);
    * macro: the unweighted mean over types of each type's score: each type counts the same;
    * weighted: the mean over types weighted by support.

    F1 = 2PR / (P + R) in each; a ratio with a zero denominator is 0 (seqeval's
    ``zero_division``). The types are those that occur in gold or predictions; when none
    does, macro is NaN (a mean over no types), as in seqeval.
    """

    per_type: dict[str, dict[str, float]]
    micro: dict[str, float]
    macro: dict[str, float]
    weighted: dict[str, float]
    strict: bool

    @property
    def f1(self) -> float:
        """Micro-averaged F1, the usual single number for NER."""
        return self.micro["f1"]

    def table(self, digits: int = 3) -> str:
        """A text table like seqeval's ``classification_report``."""
        rows = [(t, s) for t, s in self.per_type.items()] + [("", None)] + [
            (f"{a} avg", getattr(self, a)) for a in ("micro", "macro", "weighted")]
        width = max([len(r[0]) for r in rows] + [12])
        lines = [f"{'':>{width}}  precision  recall      f1  support"]
        for name, s in rows:
            lines.append("" if s is None else
                         f"{name:>{width}}  {s['precision']:9.{digits}f}  {s['recall']:6.{digits}f}"
                         f"  {s['f1']:6.{digits}f}  {s['support']:7d}")
        return "\n".join(lines)


def entity_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *,
                  strict: bool = False, types: Collection[str] | None = None) -> EntityScores:
    """Entity-level precision, recall and F1 of ``pred`` against ``gold`` (each a list of
    sentences, each a list of tags), per type and averaged (see :class:`EntityScores`).

    For type ``T``: precision = correct / predicted entities of type ``T``, recall = correct /
    gold entities of type ``T``, where an entity is correct when a gold entity of the same
    sentence has the same type, start and end. Entities are read by :func:`bio_spans`
    (``strict`` chooses the rule for stray ``I-`` tags); ``types`` restricts the allowed types.
    """
    _check_bool("strict", strict)
    allowed = _check_types(types)
    g, p = _sentences(gold, pred)
    gold_set: set[tuple[int, str, int, int]] = set()
    pred_set: set[tuple[int, str, int, int]] = set()
    for i, (a, b) in enumerate(zip(g, p)):
        gold_set |= {(i, *s) for s in _spans(a, strict, allowed)}
        pred_set |= {(i, *s) for s in _spans(b, strict, allowed)}
    correct = gold_set & pred_set
    per_type = {}
    for kind in sorted({e[1] for e in gold_set | pred_set}):
        n_gold = sum(e[1] == kind for e in gold_set)
        n_pred = sum(e[1] == kind for e in pred_set)
        n_ok = sum(e[1] == kind for e in correct)
        precision, recall = _ratio(n_ok, n_pred), _ratio(n_ok, n_gold)
        per_type[kind] = {"precision": precision, "recall": recall,
                          "f1": _f1(precision, recall), "support": n_gold,
                          "predicted": n_pred, "correct": n_ok}
    precision, recall = _ratio(len(correct), len(pred_set)), _ratio(len(correct), len(gold_set))
    micro = {"precision": precision, "recall": recall, "f1": _f1(precision, recall),
             "support": len(gold_set)}
    stats = list(per_type.values())
    keys = ("precision", "recall", "f1")
    macro = {k: (sum(s[k] for s in stats) / len(stats) if stats else math.nan) for k in keys}
    total = sum(s["support"] for s in stats)
    weighted = {k: _ratio(sum(s[k] * s["support"] for s in stats), total) for k in keys}
    macro["support"] = weighted["support"] = len(gold_set)
    return EntityScores(per_type, micro, macro, weighted, strict)


def token_accuracy(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> float:
    """The fraction of tokens, over all sentences, whose predicted tag equals the gold tag
    (seqeval's ``accuracy_score``). Computed by :func:`llmbook.classification.accuracy`."""
    g, p = _sentences(gold, pred)
    flat_g = [t for s in g for t in s]
    flat_p = [t for s in p for t in s]
    for t in flat_g + flat_p:
        parse_tag(t)
    ids: dict[str, int] = {}
    return accuracy([ids.setdefault(t, len(ids)) for t in flat_g],
                    [ids.setdefault(t, len(ids)) for t in flat_p])
