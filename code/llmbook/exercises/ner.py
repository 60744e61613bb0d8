"""Graders of the exercises on named-entity recognition: entity-level F1 from BIO tags (6.2)."""

from __future__ import annotations

import math
import random
from typing import Callable

from ._feedback import Case, Feedback, _number, _run_cases

__all__ = ["check_entity_f1"]

_TYPES = ("PER", "LOC", "ORG")


def _random_sentences(rng: random.Random, n: int) -> tuple[list[list[str]], list[list[str]]]:
    """Seeded gold sentences with well-formed entities, and noisy predictions of them."""
    from ..ner import spans_to_tags

    gold, pred = [], []
    for _ in range(n):
        length = rng.randrange(4, 15)
        spans, i = [], 0
        while i < length:
            if rng.random() < 0.3:
                size = min(rng.randrange(1, 4), length - i)
                spans.append((rng.choice(_TYPES), i, i + size))
                i += size
            i += 1
        tags = spans_to_tags(length, spans)
        noisy = [t if rng.random() < 0.85 else
                 rng.choice(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"])
                 for t in tags]
        gold.append(tags)
        pred.append(noisy)
    return gold, pred


def _token_f1(gold: list[list[str]], pred: list[list[str]]) -> float:
    """Micro F1 over tokens that are not ``O`` (a common wrong answer)."""
    g = [t for s in gold for t in s]
    p = [t for s in pred for t in s]
    ok = sum(a == b != "O" for a, b in zip(g, p))
    n_pred, n_gold = sum(t != "O" for t in p), sum(t != "O" for t in g)
    precision = ok / n_pred if n_pred else 0.0
    recall = ok / n_gold if n_gold else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def check_entity_f1(fn: Callable) -> Feedback:
    """Grade ``fn(gold, pred) -> float``: the micro-averaged entity-level F1 of ``pred``
    against ``gold`` (each a list of sentences, each a list of BIO tags), entities read the
    lenient (conlleval / seqeval default) way, against :func:`llmbook.ner.entity_scores`."""
    from ..ner import entity_scores, token_accuracy

    def cases():
        yield Case("a perfect prediction", (
            [["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]]))
        yield Case("a person one character too short (a boundary error)", (
            [["B-PER", "I-PER", "I-PER", "O", "B-LOC"]],
            [["B-PER", "I-PER", "O", "O", "B-LOC"]]))
        yield Case("the right span with the wrong type", (
            [["B-ORG", "I-ORG", "O", "B-PER", "I-PER"]],
            [["B-LOC", "I-LOC", "O", "B-PER", "I-PER"]]))
        yield Case("a stray I-LOC after O, which starts an entity", (
            [["O", "B-LOC", "I-LOC", "O"], ["B-PER", "O"]],
            [["O", "I-LOC", "I-LOC", "O"], ["B-PER", "O"]]))
        yield Case("two adjacent entities of one type, B- starts the second", (
            [["B-LOC", "I-LOC", "B-LOC", "I-LOC"]], [["B-LOC", "I-LOC", "I-LOC", "I-LOC"]]))
        yield Case("no entity predicted at all", (
            [["B-PER", "I-PER", "O"], ["O", "B-ORG"]], [["O", "O", "O"], ["O", "O"]]))
        gold, pred = _random_sentences(random.Random(0), 40)
        yield Case("40 seeded sentences with noisy predictions", (gold, pred))

    def judge(case: Case, got) -> str | None:
        gold, pred = case.args
        expected = entity_scores(gold, pred).f1
        value, problem = _number(case.label, got)
        if problem:
            return problem
        if math.isclose(value, expected, abs_tol=1e-9):
            return None
        message = f"{case.label}: expected {expected:.4f}, got {value:.4f}."
        if math.isclose(value, token_accuracy(gold, pred), abs_tol=1e-9):
            return (f"{message} That is the token accuracy; count whole entities: "
                    f"(type, start, end) triples.")
        if math.isclose(value, _token_f1(gold, pred), abs_tol=1e-9) and value != expected:
            return (f"{message} That is F1 over non-O tokens; an entity is right only if its "
                    f"type, its start and its end all match.")
        if "stray" in case.label:
            return (f"{message} Read an I-T that does not continue an entity of type T as "
                    f"the start of a new one (the lenient, conlleval rule).")
        if "adjacent" in case.label:
            return f"{message} A B- tag ends the open entity and starts a new one."
        if "boundary" in case.label or "type" in case.label:
            return (f"{message} A partly overlapping span, or one of the wrong type, counts "
                    f"as one false positive and one false negative.")
        if "no entity" in case.label:
            return f"{message} With no predicted entity, precision is 0/0: count it as 0."
        return message

    return _run_cases(fn, cases(), judge,
                      "entity-level F1 matches on all 7 cases, including boundary and type "
                      "errors and a stray I- tag.")
