"""Knowledge extraction with a chat model (section 6.5), two ways.

**Generating JSON.** :func:`json_prompt` asks for the answer of :data:`extraction.SCHEMA`
with one worked example and *prefills* the assistant's turn with :data:`PREFILL`
(``{"entities": [``), so the model's first token already continues the JSON;
:func:`generate_json` runs a batch and returns each answer with its prefill, ready for
:func:`llmbook.extraction.parse_extraction`.

**Scoring choices.** The model never writes free text: it only ranks continuations that are
valid by construction (the simplest form of *constrained decoding*). The names are the
capitalised spans of :func:`llmbook.extraction_rules.candidate_spans`;

* :func:`type_prompt` shows two labelled sentences and ends with ``"<name>:"``; the type is
  the one of :data:`TYPE_WORDS` whose first token is most probable next;
* :func:`relation_questions` asks, for each entity and each relation its type can head,
  a question (:data:`QUESTIONS`, "Where was X born?") whose candidate answers are the
  entities of the fitting type, or ``unknown``; :func:`relation_prompt` shows five answered
  examples (two of them ``unknown``);
* :func:`option_logprobs` scores the first token of each option after each prompt, in
  left-padded batches; :func:`entities_from_scores` and :func:`relations_from_scores` turn
  the scores into the answer dict (a relation is kept when its best tail beats ``unknown``
  by more than ``margin``).

The prompts are plain text, not chat turns: a small model follows a pattern of labelled
examples more reliably than an instruction.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple, Sequence

import torch

from .extraction import ENTITY_TYPES, RELATIONS
from .extraction_rules import Span, candidate_spans
from .text_generation import chat_prompt, generate_batch

__all__ = ["SYSTEM", "EXAMPLE", "PREFILL", "json_messages", "json_prompt", "generate_json",
           "TYPE_WORDS", "TYPE_SHOTS", "type_prompt", "QUESTIONS", "RELATION_SHOTS",
           "UNKNOWN", "Question", "relation_questions", "relation_prompt", "option_logprobs",
           "entities_from_scores", "relations_from_scores", "score_sentences", "RECORD",
           "load_record", "answers_from_record"]

#: The reference run of ``scripts/extract_knowledge.py`` (raw answers and scores).
RECORD = Path(__file__).resolve().parent / "checkpoints" / "extraction_smollm2.json"

#: The instruction of the JSON prompt: the types, the relations and the shape of the answer.
SYSTEM = (
    "You extract facts from one sentence as JSON. Entity types: PERSON, ORGANIZATION, PLACE, "
    "WORK. Relations: born_in (PERSON->PLACE), works_for (PERSON->ORGANIZATION), founded "
    "(PERSON->ORGANIZATION), located_in (ORGANIZATION or PLACE->PLACE), wrote (PERSON->WORK). "
    'Answer with one JSON object {"entities": [{"name": ..., "type": ...}], "relations": '
    '[{"head": ..., "relation": ..., "tail": ...}]} and nothing else.')

#: The worked example, shown as an earlier exchange of the chat: (sentence, answer).
EXAMPLE = (
    "Ernest Hemingway, who was born in Oak Park, wrote The Old Man and the Sea.",
    json.dumps({"entities": [{"name": "Ernest Hemingway", "type": "PERSON"},
                             {"name": "Oak Park", "type": "PLACE"},
                             {"name": "The Old Man and the Sea", "type": "WORK"}],
                "relations": [{"head": "Ernest Hemingway", "relation": "born_in",
                               "tail": "Oak Park"},
                              {"head": "Ernest Hemingway", "relation": "wrote",
                               "tail": "The Old Man and the Sea"}]}))

#: The start of the assistant's answer, written for the model.
PREFILL = '{"entities": ['


def _check_sentence(sentence: object) -> str:
    if not isinstance(sentence, str) or not sentence.strip():
        raise ValueError(f"sentence must be a non-empty str, got {sentence!r}.")
    return sentence


def json_messages(sentence: str, *, example: bool = True) -> list[dict[str, str]]:
    """The chat that asks for ``sentence``'s entities and relations as JSON (with the
    worked example as an earlier exchange unless ``example=False``)."""
    messages = [{"role": "system", "content": SYSTEM}]
    if example:
        messages += [{"role": "user", "content": EXAMPLE[0]},
                     {"role": "assistant", "content": EXAMPLE[1]}]
    return messages + [{"role": "user", "content": _check_sentence(sentence)}]


def json_prompt(tokenizer: Any, sentence: str, *, prefill: str = PREFILL,
                example: bool = True) -> str:
    """The exact text the model continues: the chat template of :func:`json_messages`, the
    assistant's header, then ``prefill`` (``""`` for none)."""
    if not isinstance(prefill, str):
        raise TypeError(f"prefill must be a str ('' for none), got {type(prefill).__name__}.")
    return chat_prompt(tokenizer, json_messages(sentence, example=example)) + prefill


def generate_json(model: Any, tokenizer: Any, sentences: Sequence[str], *,
                  max_new_tokens: int = 100, prefill: str = PREFILL,
                  example: bool = True) -> list[str]:
    """Greedy answers for ``sentences`` in one left-padded batch, each starting with
    ``prefill`` (the model wrote the rest)."""
    if isinstance(sentences, str) or not sentences:
        raise TypeError("sentences must be a non-empty list of str.")
    prompts = [json_prompt(tokenizer, s, prefill=prefill, example=example) for s in sentences]
    return [prefill + text for text in generate_batch(model, tokenizer, prompts,
                                                      max_new_tokens=max_new_tokens)]


#: The word (its first token, after a space) that stands for each entity type.
TYPE_WORDS = {"PERSON": " person", "ORGANIZATION": " organization", "PLACE": " place",
              "WORK": " work"}

#: Two labelled sentences in the pattern the type prompt continues.
TYPE_SHOTS = (
    "Sentence: Charles Dickens, who lived in London, wrote Oliver Twist for a publisher.\n"
    "Charles Dickens: person\nLondon: place\nOliver Twist: work\n\n"
    "Sentence: Siemens is based in Munich and employs Anna Weber.\n"
    "Siemens: organization\nMunich: place\nAnna Weber: person\n\n")


def type_prompt(sentence: str, name: str) -> str:
    """The text after which the next word is ``name``'s type in ``sentence``."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"name must be a non-empty str, got {name!r}.")
    return TYPE_SHOTS + f"Sentence: {_check_sentence(sentence)}\n{name}:"


#: The question asked of a head entity for each relation.
QUESTIONS = {"born_in": "Where was {head} born?", "works_for": "Whom did {head} work for?",
             "founded": "What did {head} found?", "located_in": "Where is {head}?",
             "wrote": "What did {head} write?"}

#: The answer that means "the sentence does not say".
UNKNOWN = "unknown"

_EX1 = "Sentence: Charles Dickens, who lived in London, wrote Oliver Twist.\n"
_EX2 = "Sentence: Anna Weber works for Siemens, which is based in Munich.\n"
#: Five answered questions, two of them answered ``unknown``.
RELATION_SHOTS = (
    _EX1 + "Question: What did Charles Dickens write?\nAnswer: Oliver Twist\n\n"
    + _EX2 + "Question: Where was Anna Weber born?\nAnswer: unknown\n\n"
    + _EX2 + "Question: Where is Siemens?\nAnswer: Munich\n\n"
    + _EX1 + "Question: Where was Charles Dickens born?\nAnswer: unknown\n\n"
    + _EX2 + "Question: Whom did Anna Weber work for?\nAnswer: Siemens\n\n")


class Question(NamedTuple):
    """One question of :func:`relation_questions`: a head, a relation and the candidate
    tails (the sentence's other entities of a type the relation allows)."""

    head: str
    relation: str
    tails: tuple[str, ...]


def relation_questions(entities: Sequence[tuple[str, str]]) -> list[Question]:
    """The questions to ask about a sentence whose entities are ``(name, type)`` pairs: one
    for each entity and each relation whose head type it has, when some other entity has a
    type the relation's tail allows."""
    questions = []
    for name, kind in entities:
        if kind not in ENTITY_TYPES:
            raise ValueError(f"entity {name!r} has type {kind!r}; expected one of "
                             f"{', '.join(ENTITY_TYPES)}.")
        for relation, (heads, tails) in RELATIONS.items():
            if kind not in heads:
                continue
            options = tuple(n for n, k in entities if k in tails and n != name)
            if options:
                questions.append(Question(name, relation, options))
    return questions


def relation_prompt(sentence: str, question: Question) -> str:
    """The text after which the answer to ``question`` about ``sentence`` comes."""
    if question.relation not in QUESTIONS:
        raise ValueError(f"unknown relation {question.relation!r}; expected one of "
                         f"{', '.join(QUESTIONS)}.")
    asked = QUESTIONS[question.relation].format(head=question.head)
    return RELATION_SHOTS + f"Sentence: {_check_sentence(sentence)}\nQuestion: {asked}\nAnswer:"


def option_logprobs(model: Any, tokenizer: Any, prompts: Sequence[str],
                    options: Sequence[Sequence[str]], *, batch_size: int = 16
                    ) -> list[list[float]]:
    """``log p(first token of option | prompt)`` for each prompt and each of its options.

    ``options[i]`` lists the texts that may follow ``prompts[i]`` (give them with their
    leading space, as they follow "Answer:" or "name:"); only their first tokens are
    scored, so options that share a first token share a score. One forward pass per
    prompt, in left-padded batches: the last position of every row is the prompt's end,
    and the positions count from each row's first real token, so a row scores as it would
    alone (up to float rounding)."""
    if isinstance(prompts, str) or not prompts:
        raise TypeError("prompts must be a non-empty list of str.")
    if len(options) != len(prompts):
        raise ValueError(f"{len(options)} option lists for {len(prompts)} prompts: give one "
                         f"list of options per prompt.")
    if any(isinstance(o, str) or not o for o in options):
        raise ValueError("each entry of options must be a non-empty list of str.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    first = [[tokenizer(o, add_special_tokens=False).input_ids[0] for o in opts]
             for opts in options]
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if pad is None:
        tokenizer.pad_token = tokenizer.eos_token
    scores: list[list[float]] = []
    try:
        for i in range(0, len(prompts), batch_size):
            batch = tokenizer(list(prompts[i:i + batch_size]), return_tensors="pt",
                              padding=True, add_special_tokens=False)
            mask = batch["attention_mask"]
            positions = (mask.cumsum(-1) - 1).clamp(min=0)   # as generate does: pads first
            with torch.no_grad():
                logits = model(input_ids=batch["input_ids"], attention_mask=mask,
                               position_ids=positions, use_cache=False).logits
            logprobs = logits[:, -1].float().log_softmax(-1)
            for row, ids in zip(logprobs, first[i:i + batch_size]):
                scores.append([float(row[j]) for j in ids])
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = None
    return scores


def entities_from_scores(spans: Sequence[Span | str],
                         scores: Sequence[Sequence[float]]) -> list[tuple[str, str]]:
    """``(name, type)`` for each span: the type of :data:`TYPE_WORDS` scored highest
    (``scores[i]`` in the order of ``TYPE_WORDS``)."""
    if len(spans) != len(scores):
        raise ValueError(f"{len(spans)} spans but {len(scores)} score rows.")
    types = list(TYPE_WORDS)
    out = []
    for span, row in zip(spans, scores):
        if len(row) != len(types):
            raise ValueError(f"each score row needs {len(types)} numbers (one per type), "
                             f"got {len(row)}.")
        out.append((span.text if isinstance(span, Span) else span,
                    types[max(range(len(types)), key=lambda k: row[k])]))
    return out


def relations_from_scores(questions: Sequence[Question], scores: Sequence[Sequence[float]],
                          *, margin: float = 0.0) -> list[dict[str, str]]:
    """The relations answered: for each question, its best-scored tail when that beats the
    ``unknown`` answer (the last score of each row) by more than ``margin``."""
    if len(questions) != len(scores):
        raise ValueError(f"{len(questions)} questions but {len(scores)} score rows.")
    out = []
    for q, row in zip(questions, scores):
        if len(row) != len(q.tails) + 1:
            raise ValueError(f"the question about {q.head!r} has {len(q.tails)} tails, so its "
                             f"row needs {len(q.tails) + 1} scores (the tails, then "
                             f"{UNKNOWN!r}); got {len(row)}.")
        best = max(range(len(q.tails)), key=lambda k: row[k])
        if row[best] - row[-1] > margin:
            out.append({"head": q.head, "relation": q.relation, "tail": q.tails[best]})
    return out


def score_sentences(model: Any, tokenizer: Any, sentences: Sequence[str], *,
                    batch_size: int = 16) -> list[dict[str, Any]]:
    """The whole scoring pipeline for ``sentences``: candidate spans, their type scores,
    the relation questions and their scores. Returns one dict per sentence with the raw
    scores (``"spans"``, ``"type_scores"``, ``"questions"``, ``"question_scores"``) and the
    answer (``"data"``, valid against the schema)."""
    spans = [candidate_spans(s) for s in sentences]
    flat = [(i, sp) for i, ss in enumerate(spans) for sp in ss]
    type_rows = option_logprobs(model, tokenizer, [type_prompt(sentences[i], sp.text)
                                                   for i, sp in flat],
                                [list(TYPE_WORDS.values())] * len(flat),
                                batch_size=batch_size) if flat else []
    results = [{"sentence": s, "spans": [sp.text for sp in ss], "type_scores": []}
               for s, ss in zip(sentences, spans)]
    for (i, _), row in zip(flat, type_rows):
        results[i]["type_scores"].append(row)
    asked = []
    for i, r in enumerate(results):
        r["entities"] = entities_from_scores(r["spans"], r["type_scores"])
        r["questions"] = relation_questions(r["entities"])
        asked += [(i, q) for q in r["questions"]]
        r["question_scores"] = []
    if asked:
        rows = option_logprobs(model, tokenizer,
                               [relation_prompt(sentences[i], q) for i, q in asked],
                               [[" " + t for t in q.tails] + [" " + UNKNOWN] for _, q in asked],
                               batch_size=batch_size)
        for (i, _), row in zip(asked, rows):
            results[i]["question_scores"].append(row)
    for r in results:
        r["data"] = {"entities": [{"name": n, "type": t} for n, t in r["entities"]],
                     "relations": relations_from_scores(r["questions"], r["question_scores"])}
    return results


def load_record(path: str | Path = RECORD) -> dict[str, Any]:
    """The record written by ``scripts/extract_knowledge.py``: the command, the versions,
    and for each corpus (``"gold"``, ``"fresh"``) one row per sentence with the raw JSON
    answer and the scores of the scoring pipeline."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no record at {path}: run python scripts/extract_knowledge.py")
    return json.loads(path.read_text(encoding="utf-8"))


def answers_from_record(rows: Sequence[dict[str, Any]], *, margin: float = 0.0
                        ) -> list[dict[str, Any]]:
    """The scored answers (valid against the schema) of a corpus of the record: the types
    from the stored type scores, the relations from the stored question scores."""
    answers = []
    for row in rows:
        entities = entities_from_scores(row["spans"], row["type_scores"])
        questions = [Question(h, r, tuple(t)) for h, r, t in row["questions"]]
        if questions != relation_questions(entities):
            raise ValueError(f"the record's questions for {row['sentence']!r} do not follow "
                             f"from its type scores: re-run scripts/extract_knowledge.py.")
        answers.append({"entities": [{"name": n, "type": t} for n, t in entities],
                        "relations": relations_from_scores(questions, row["question_scores"],
                                                           margin=margin)})
    return answers
