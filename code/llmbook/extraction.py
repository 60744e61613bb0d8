"""Knowledge extraction by prompting (section 6.5): entities and relations as JSON, validated
against a schema, scored against hand-labelled sentences.

A language model asked for JSON does not always write JSON: it may wrap it in a code fence,
add a sentence before or after it, stop in the middle, use a relation the schema does not
have, or name an entity that is not in the text. Nothing here raises on such output; every
problem becomes a message, and an unusable answer counts as *no* extraction when scoring.

* :data:`SCHEMA` -- the JSON Schema of an answer: ``{"entities": [{"name", "type"}],
  "relations": [{"head", "relation", "tail"}]}`` with the types of :data:`ENTITY_TYPES` and the
  relations of :data:`RELATIONS`;
* :func:`parse_extraction` -- model text -> :class:`Parsed` (the data if usable, the stage
  that failed, and the messages): finds the first JSON object (code fences and surrounding
  prose allowed), validates it with ``jsonschema``, then checks that each relation's head and
  tail are among the entities and that each entity is **grounded** (its name occurs in the
  sentence);
* :func:`normalize_name` -- the comparison key of a name (case, spacing, a leading "the",
  punctuation at its ends);
* :func:`score_extractions` -- micro precision, recall and F1 of entities (name and type) and
  of relation triples over a corpus, an unusable answer counting as an empty one;
* :data:`GOLD` -- the book's hand-labelled sentences (:class:`Labelled`), written for this
  section: facts about people, organisations, places and works, with a few sentences that hold
  entities but none of the five relations.
"""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

__all__ = ["ENTITY_TYPES", "RELATIONS", "SCHEMA", "STAGES", "REPAIR_STAGES", "Parsed", "Labelled", "GOLD",
           "FRESH", "find_json_object", "parse_extraction", "repair_extraction",
           "normalize_name", "entity_keys",
           "relation_keys", "score_extractions", "PRF"]

#: The entity types an answer may use.
ENTITY_TYPES = ("PERSON", "ORGANIZATION", "PLACE", "WORK")

#: Each relation with the entity types of its head and its tail.
RELATIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "born_in": (("PERSON",), ("PLACE",)),
    "works_for": (("PERSON",), ("ORGANIZATION",)),
    "founded": (("PERSON",), ("ORGANIZATION",)),
    "located_in": (("ORGANIZATION", "PLACE"), ("PLACE",)),
    "wrote": (("PERSON",), ("WORK",)),
}

#: The JSON Schema (draft 2020-12) of one answer.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["entities", "relations"],
    "additionalProperties": False,
    "properties": {
        "entities": {"type": "array", "items": {
            "type": "object", "required": ["name", "type"], "additionalProperties": False,
            "properties": {"name": {"type": "string", "minLength": 1},
                           "type": {"enum": list(ENTITY_TYPES)}}}},
        "relations": {"type": "array", "items": {
            "type": "object", "required": ["head", "relation", "tail"],
            "additionalProperties": False,
            "properties": {"head": {"type": "string", "minLength": 1},
                           "relation": {"enum": list(RELATIONS)},
                           "tail": {"type": "string", "minLength": 1}}}},
    },
}

#: The stages of :func:`parse_extraction`, in order; ``"ok"`` means every check passed.
STAGES = ("no_json", "invalid_json", "schema", "ok")
#: With :func:`repair_extraction`: ``"repaired"`` -- rejected by the strict parse, but some
#: entities or relations could be kept.
REPAIR_STAGES = ("no_json", "invalid_json", "schema", "repaired", "ok")


@dataclass
class Parsed:
    """What :func:`parse_extraction` made of one answer. ``data`` is the validated object
    (``None`` unless ``stage`` is ``"ok"``); ``stage`` is the first
    check that failed (``"no_json"``, ``"invalid_json"``, ``"schema"``) or ``"ok"``;
    ``errors`` say why; ``warnings`` list what passed the schema but is doubtful (a relation
    whose head or tail is not among the entities, an entity not found in the sentence, a
    relation between the wrong types)."""

    data: dict[str, Any] | None
    stage: str
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.stage == "ok"

    @property
    def usable(self) -> bool:
        """Whether there is data to score: ``"ok"``, or ``"repaired"`` by
        :func:`repair_extraction`."""
        return self.data is not None


class Labelled(NamedTuple):
    """One hand-labelled sentence: its entities as ``(name, type)`` and its relations as
    ``(head, relation, tail)``."""

    text: str
    entities: tuple[tuple[str, str], ...]
    relations: tuple[tuple[str, str, str], ...]


_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def find_json_object(text: str) -> tuple[Any, str | None]:
    """The first JSON object in ``text`` and ``None``, or ``None`` and why there is none.

    A fenced block (```` ```json ... ``` ````) is tried first; otherwise decoding starts at each
    ``{`` in turn and keeps the first that decodes (``json.JSONDecoder.raw_decode``, so
    anything after the object is ignored) -- except that after a ``{`` that fails to decode,
    only an object with an ``"entities"`` or ``"relations"`` key counts (an answer cut off
    mid-way is an error, not its first inner object)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str (the model's answer), got {type(text).__name__}.")
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    first_error = None
    for candidate in candidates:
        for match in re.finditer(r"\{", candidate):
            try:
                obj, _ = decoder.raw_decode(candidate, match.start())
            except json.JSONDecodeError as err:
                first_error = first_error or f"{err.msg} (line {err.lineno}, column {err.colno})"
                continue
            # after a failed parse, an inner object of the broken one is no answer
            if first_error is None or {"entities", "relations"} & obj.keys():
                return obj, None
    if first_error is None:
        return None, "no '{' in the answer: it holds no JSON object."
    return None, f"the JSON does not parse: {first_error}."


def normalize_name(name: str) -> str:
    """The key two names are compared by: case-folded, inner spaces collapsed, a leading
    "the " and punctuation at either end removed (``"The Louvre."`` -> ``"louvre"``)."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}.")
    key = " ".join(name.casefold().split()).strip(string.punctuation + " ")
    if key.startswith("the "):
        key = key[4:]
    return key


def _schema_errors(obj: Any) -> list[str]:
    import jsonschema
    validator = jsonschema.Draft202012Validator(SCHEMA)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    out = []
    for err in errors[:5]:
        where = "/".join(str(p) for p in err.absolute_path) or "the top level"
        out.append(f"at {where}: {err.message}")
    if len(errors) > 5:
        out.append(f"... and {len(errors) - 5} more")
    return out


def parse_extraction(answer: str, sentence: str | None = None) -> Parsed:
    """Parse and check one model answer (see the module docstring); never raises on a bad
    answer. ``sentence`` (the text the model read) enables the grounding check."""
    obj, problem = find_json_object(answer)
    if obj is None:
        stage = "invalid_json" if "{" in answer else "no_json"
        return Parsed(None, stage, [problem])
    errors = _schema_errors(obj)
    if errors:
        return Parsed(None, "schema", errors)
    warnings = []
    types = {normalize_name(e["name"]): e["type"] for e in obj["entities"]}
    for r in obj["relations"]:
        for role in ("head", "tail"):
            if normalize_name(r[role]) not in types:
                warnings.append(f"relation {r['head']!r} {r['relation']} {r['tail']!r}: its "
                                f"{role} is not among the entities.")
        heads, tails = RELATIONS[r["relation"]]
        h, t = types.get(normalize_name(r["head"])), types.get(normalize_name(r["tail"]))
        if (h and h not in heads) or (t and t not in tails):
            warnings.append(f"relation {r['head']!r} {r['relation']} {r['tail']!r} links a "
                            f"{h} to a {t}; {r['relation']} links {'/'.join(heads)} to "
                            f"{'/'.join(tails)}.")
    if sentence is not None:
        text = " ".join(sentence.casefold().split())
        for e in obj["entities"]:
            if normalize_name(e["name"]) not in text:
                warnings.append(f"entity {e['name']!r} does not occur in the sentence.")
    return Parsed(obj, "ok", [], warnings)


def _close_truncated(text: str) -> Any:
    """The object an answer cut off inside its ``"entities"`` list would have been, closed
    after its last complete entity (``None`` if no such prefix parses)."""
    start = text.find("{")
    if start < 0 or '"entities"' not in text[start:start + 20]:
        return None
    decoder = json.JSONDecoder()
    for end in sorted((m.end() for m in re.finditer(r"\}", text)), reverse=True)[:50]:
        try:
            obj, _ = decoder.raw_decode(text[start:end] + "]}")
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def repair_extraction(answer: str, sentence: str | None = None) -> Parsed:
    """A lenient reading of an answer that :func:`parse_extraction` rejects (never raises).

    Repairs, each noted in ``warnings``: an answer cut off inside its entity list is closed
    after the last complete entity; a missing ``"relations"`` (or ``"entities"``) list is
    taken as empty; entities and relations that break the schema are dropped one by one, as
    are -- when ``sentence`` is given -- entities whose name is not in the sentence and
    relations whose head or tail is not among the entities kept. Returns the parse of
    :func:`parse_extraction` when that succeeds, a :class:`Parsed` with stage ``"repaired"``
    when something could be kept, and the original failure otherwise."""
    strict = parse_extraction(answer, sentence)
    if strict.ok:
        return strict
    obj, _ = find_json_object(answer)
    fixes = []
    if obj is None:
        obj = _close_truncated(answer)
        if obj is None:
            return strict
        fixes.append("closed an answer cut off inside its entity list")
    if not isinstance(obj, dict):
        return strict
    entities, relations = obj.get("entities", []), obj.get("relations", [])
    for key, value in (("entities", entities), ("relations", relations)):
        if key not in obj:
            fixes.append(f"took the missing {key!r} as an empty list")
    entities = entities if isinstance(entities, list) else []
    relations = relations if isinstance(relations, list) else []
    item_schemas = SCHEMA["properties"]
    import jsonschema
    kept_entities, seen = [], set()
    text = " ".join(sentence.casefold().split()) if sentence is not None else None
    for e in entities:
        if not jsonschema.Draft202012Validator(item_schemas["entities"]["items"]).is_valid(e):
            fixes.append(f"dropped the entity {e!r}: it breaks the schema")
        elif text is not None and normalize_name(e["name"]) not in text:
            fixes.append(f"dropped the entity {e['name']!r}: it is not in the sentence")
        elif (normalize_name(e["name"]), e["type"]) not in seen:
            seen.add((normalize_name(e["name"]), e["type"]))
            kept_entities.append(e)
    names = {normalize_name(e["name"]) for e in kept_entities}
    kept_relations = []
    for r in relations:
        if not jsonschema.Draft202012Validator(item_schemas["relations"]["items"]).is_valid(r):
            fixes.append(f"dropped the relation {r!r}: it breaks the schema")
        elif sentence is not None and not {normalize_name(r["head"]),
                                           normalize_name(r["tail"])} <= names:
            fixes.append(f"dropped the relation {r['head']!r} {r['relation']} {r['tail']!r}: "
                         f"its head or tail is not among the entities kept")
        else:
            kept_relations.append(r)
    data = {"entities": kept_entities, "relations": kept_relations}
    if not kept_entities and not kept_relations:
        return Parsed(None, strict.stage, strict.errors + ["nothing usable was left after "
                                                          "repairs"], fixes)
    return Parsed(data, "repaired", strict.errors, fixes)


def entity_keys(data: Mapping[str, Any] | Labelled | None) -> set[tuple[str, str]]:
    """``{(normalized name, type)}`` of an answer's data or a :class:`Labelled` sentence
    (``None``, an unusable answer: the empty set)."""
    if data is None:
        return set()
    if isinstance(data, Labelled):
        return {(normalize_name(n), t) for n, t in data.entities}
    return {(normalize_name(e["name"]), e["type"]) for e in data["entities"]}


def relation_keys(data: Mapping[str, Any] | Labelled | None) -> set[tuple[str, str, str]]:
    """``{(normalized head, relation, normalized tail)}``, as :func:`entity_keys`."""
    if data is None:
        return set()
    if isinstance(data, Labelled):
        return {(normalize_name(h), r, normalize_name(t)) for h, r, t in data.relations}
    return {(normalize_name(r["head"]), r["relation"], normalize_name(r["tail"]))
            for r in data["relations"]}


class PRF(NamedTuple):
    """Micro precision, recall and F1 with their counts (true positives, predicted, gold)."""

    precision: float
    recall: float
    f1: float
    true_positives: int
    predicted: int
    gold: int


def _prf(tp: int, predicted: int, gold: int) -> PRF:
    p = tp / predicted if predicted else 0.0
    r = tp / gold if gold else 0.0
    return PRF(p, r, 2 * p * r / (p + r) if p + r else 0.0, tp, predicted, gold)


def score_extractions(predicted: Sequence[Mapping[str, Any] | Parsed | None],
                      gold: Sequence[Labelled]) -> dict[str, PRF]:
    """``{"entities": PRF, "relations": PRF}`` over a corpus: each prediction (validated data,
    a :class:`Parsed`, or ``None`` for an unusable answer) against its labelled sentence.
    Entities match on normalized name and type, relations on the normalized triple; the
    counts are summed over sentences before dividing (micro averages)."""
    predicted, gold = list(predicted), list(gold)
    if not gold:
        raise ValueError("gold is empty: give at least one labelled sentence.")
    if len(predicted) != len(gold):
        raise ValueError(f"{len(predicted)} predictions for {len(gold)} labelled sentences: "
                         f"give one prediction (None if unusable) per sentence.")
    counts = {"entities": [0, 0, 0], "relations": [0, 0, 0]}
    for pred, ref in zip(predicted, gold):
        if not isinstance(ref, Labelled):
            raise TypeError(f"gold items must be Labelled, got {type(ref).__name__}.")
        data = pred.data if isinstance(pred, Parsed) else pred
        for kind, keys in (("entities", entity_keys), ("relations", relation_keys)):
            p, g = keys(data), keys(ref)
            c = counts[kind]
            c[0] += len(p & g)
            c[1] += len(p)
            c[2] += len(g)
    return {kind: _prf(*c) for kind, c in counts.items()}


def _l(text: str, entities: Iterable[tuple[str, str]],
       relations: Iterable[tuple[str, str, str]] = ()) -> Labelled:
    return Labelled(text, tuple(entities), tuple(relations))


P, O, L, W = "PERSON", "ORGANIZATION", "PLACE", "WORK"

#: The hand-labelled sentences of section 6.5 (written for the book; 30 sentences).
GOLD: tuple[Labelled, ...] = (
    _l("Marie Curie was born in Warsaw and later worked at the University of Paris.",
       [("Marie Curie", P), ("Warsaw", L), ("University of Paris", O)],
       [("Marie Curie", "born_in", "Warsaw"), ("Marie Curie", "works_for", "University of Paris")]),
    _l("Bill Gates and Paul Allen founded Microsoft in 1975.",
       [("Bill Gates", P), ("Paul Allen", P), ("Microsoft", O)],
       [("Bill Gates", "founded", "Microsoft"), ("Paul Allen", "founded", "Microsoft")]),
    _l("Microsoft is headquartered in Redmond.",
       [("Microsoft", O), ("Redmond", L)], [("Microsoft", "located_in", "Redmond")]),
    _l("Jane Austen wrote Pride and Prejudice.",
       [("Jane Austen", P), ("Pride and Prejudice", W)],
       [("Jane Austen", "wrote", "Pride and Prejudice")]),
    _l("Alan Turing was born in London and worked for the University of Manchester after the "
       "war.",
       [("Alan Turing", P), ("London", L), ("University of Manchester", O)],
       [("Alan Turing", "born_in", "London"),
        ("Alan Turing", "works_for", "University of Manchester")]),
    _l("Steve Jobs founded Apple together with Steve Wozniak.",
       [("Steve Jobs", P), ("Apple", O), ("Steve Wozniak", P)],
       [("Steve Jobs", "founded", "Apple"), ("Steve Wozniak", "founded", "Apple")]),
    _l("Apple is based in Cupertino, California.",
       [("Apple", O), ("Cupertino", L), ("California", L)],
       [("Apple", "located_in", "Cupertino"), ("Cupertino", "located_in", "California")]),
    _l("Gabriel García Márquez wrote One Hundred Years of Solitude.",
       [("Gabriel García Márquez", P), ("One Hundred Years of Solitude", W)],
       [("Gabriel García Márquez", "wrote", "One Hundred Years of Solitude")]),
    _l("The Louvre is located in Paris.",
       [("Louvre", O), ("Paris", L)], [("Louvre", "located_in", "Paris")]),
    _l("Albert Einstein was born in Ulm and worked at the Institute for Advanced Study.",
       [("Albert Einstein", P), ("Ulm", L), ("Institute for Advanced Study", O)],
       [("Albert Einstein", "born_in", "Ulm"),
        ("Albert Einstein", "works_for", "Institute for Advanced Study")]),
    _l("The Institute for Advanced Study is located in Princeton.",
       [("Institute for Advanced Study", O), ("Princeton", L)],
       [("Institute for Advanced Study", "located_in", "Princeton")]),
    _l("Larry Page and Sergey Brin founded Google.",
       [("Larry Page", P), ("Sergey Brin", P), ("Google", O)],
       [("Larry Page", "founded", "Google"), ("Sergey Brin", "founded", "Google")]),
    _l("Haruki Murakami, who was born in Kyoto, wrote Norwegian Wood.",
       [("Haruki Murakami", P), ("Kyoto", L), ("Norwegian Wood", W)],
       [("Haruki Murakami", "born_in", "Kyoto"), ("Haruki Murakami", "wrote", "Norwegian Wood")]),
    _l("Ada Lovelace corresponded with Charles Babbage for many years.",
       [("Ada Lovelace", P), ("Charles Babbage", P)]),
    _l("Toyota is headquartered in Toyota City, Japan.",
       [("Toyota", O), ("Toyota City", L), ("Japan", L)],
       [("Toyota", "located_in", "Toyota City"), ("Toyota City", "located_in", "Japan")]),
    _l("George Orwell wrote Nineteen Eighty-Four while he lived on the island of Jura.",
       [("George Orwell", P), ("Nineteen Eighty-Four", W), ("Jura", L)],
       [("George Orwell", "wrote", "Nineteen Eighty-Four")]),
    _l("Tim Berners-Lee worked for CERN, which is located in Geneva.",
       [("Tim Berners-Lee", P), ("CERN", O), ("Geneva", L)],
       [("Tim Berners-Lee", "works_for", "CERN"), ("CERN", "located_in", "Geneva")]),
    _l("Frida Kahlo was born in Coyoacán, a district of Mexico City.",
       [("Frida Kahlo", P), ("Coyoacán", L), ("Mexico City", L)],
       [("Frida Kahlo", "born_in", "Coyoacán"), ("Coyoacán", "located_in", "Mexico City")]),
    _l("Jeff Bezos founded Amazon, which is headquartered in Seattle.",
       [("Jeff Bezos", P), ("Amazon", O), ("Seattle", L)],
       [("Jeff Bezos", "founded", "Amazon"), ("Amazon", "located_in", "Seattle")]),
    _l("Leo Tolstoy wrote War and Peace and Anna Karenina.",
       [("Leo Tolstoy", P), ("War and Peace", W), ("Anna Karenina", W)],
       [("Leo Tolstoy", "wrote", "War and Peace"), ("Leo Tolstoy", "wrote", "Anna Karenina")]),
    _l("Satya Nadella, the chief executive of Microsoft, was born in Hyderabad.",
       [("Satya Nadella", P), ("Microsoft", O), ("Hyderabad", L)],
       [("Satya Nadella", "works_for", "Microsoft"), ("Satya Nadella", "born_in", "Hyderabad")]),
    _l("The Eiffel Tower stands in Paris.",
       [("Eiffel Tower", L), ("Paris", L)], [("Eiffel Tower", "located_in", "Paris")]),
    _l("Nokia is a Finnish company based in Espoo.",
       [("Nokia", O), ("Espoo", L)], [("Nokia", "located_in", "Espoo")]),
    _l("Chinua Achebe wrote Things Fall Apart.",
       [("Chinua Achebe", P), ("Things Fall Apart", W)],
       [("Chinua Achebe", "wrote", "Things Fall Apart")]),
    _l("Samsung is headquartered in Suwon, South Korea.",
       [("Samsung", O), ("Suwon", L), ("South Korea", L)],
       [("Samsung", "located_in", "Suwon"), ("Suwon", "located_in", "South Korea")]),
    _l("Grace Hopper worked for the United States Navy.",
       [("Grace Hopper", P), ("United States Navy", O)],
       [("Grace Hopper", "works_for", "United States Navy")]),
    _l("Wolfgang Amadeus Mozart was born in Salzburg and wrote The Magic Flute.",
       [("Wolfgang Amadeus Mozart", P), ("Salzburg", L), ("Magic Flute", W)],
       [("Wolfgang Amadeus Mozart", "born_in", "Salzburg"),
        ("Wolfgang Amadeus Mozart", "wrote", "Magic Flute")]),
    _l("The University of Cambridge is located in Cambridge, England.",
       [("University of Cambridge", O), ("Cambridge", L), ("England", L)],
       [("University of Cambridge", "located_in", "Cambridge"),
        ("Cambridge", "located_in", "England")]),
    _l("Serena Williams and Venus Williams played a doubles final at Wimbledon.",
       [("Serena Williams", P), ("Venus Williams", P), ("Wimbledon", L)]),
    _l("Toni Morrison, who was born in Lorain, wrote Beloved.",
       [("Toni Morrison", P), ("Lorain", L), ("Beloved", W)],
       [("Toni Morrison", "born_in", "Lorain"), ("Toni Morrison", "wrote", "Beloved")]),
)

#: Twelve more sentences, written *after* the rules of :mod:`llmbook.extraction_rules`, in
#: phrasings those rules were not written for (passive voice, "the author of", "employed
#: by", "the birthplace of", ...): a check of how hand-written patterns carry to new text.
FRESH: tuple[Labelled, ...] = (
    _l("Born in Stratford-upon-Avon, William Shakespeare wrote Hamlet.",
       [("William Shakespeare", P), ("Stratford-upon-Avon", L), ("Hamlet", W)],
       [("William Shakespeare", "born_in", "Stratford-upon-Avon"),
        ("William Shakespeare", "wrote", "Hamlet")]),
    _l("Middlemarch was written by George Eliot.",
       [("Middlemarch", W), ("George Eliot", P)], [("George Eliot", "wrote", "Middlemarch")]),
    _l("Netflix was founded by Reed Hastings and Marc Randolph.",
       [("Netflix", O), ("Reed Hastings", P), ("Marc Randolph", P)],
       [("Reed Hastings", "founded", "Netflix"), ("Marc Randolph", "founded", "Netflix")]),
    _l("The composer Ludwig van Beethoven came into the world in Bonn.",
       [("Ludwig van Beethoven", P), ("Bonn", L)], [("Ludwig van Beethoven", "born_in", "Bonn")]),
    _l("Sundar Pichai leads Google, whose headquarters are in Mountain View.",
       [("Sundar Pichai", P), ("Google", O), ("Mountain View", L)],
       [("Sundar Pichai", "works_for", "Google"), ("Google", "located_in", "Mountain View")]),
    _l("Chimamanda Ngozi Adichie is the author of Half of a Yellow Sun.",
       [("Chimamanda Ngozi Adichie", P), ("Half of a Yellow Sun", W)],
       [("Chimamanda Ngozi Adichie", "wrote", "Half of a Yellow Sun")]),
    _l("Spotify, a company from Stockholm, was started by Daniel Ek.",
       [("Spotify", O), ("Stockholm", L), ("Daniel Ek", P)],
       [("Daniel Ek", "founded", "Spotify"), ("Spotify", "located_in", "Stockholm")]),
    _l("Katherine Johnson was employed by NASA for over thirty years.",
       [("Katherine Johnson", P), ("NASA", O)], [("Katherine Johnson", "works_for", "NASA")]),
    _l("Rome is the birthplace of the physicist Enrico Fermi.",
       [("Rome", L), ("Enrico Fermi", P)], [("Enrico Fermi", "born_in", "Rome")]),
    _l("The Prado Museum, in the centre of Madrid, holds paintings by Goya.",
       [("Prado Museum", O), ("Madrid", L), ("Goya", P)],
       [("Prado Museum", "located_in", "Madrid")]),
    _l("Pablo Picasso was born and raised in Málaga before he moved to Paris.",
       [("Pablo Picasso", P), ("Málaga", L), ("Paris", L)],
       [("Pablo Picasso", "born_in", "Málaga")]),
    _l("Isaac Newton spent most of his career at Trinity College, Cambridge.",
       [("Isaac Newton", P), ("Trinity College", O), ("Cambridge", L)],
       [("Isaac Newton", "works_for", "Trinity College"),
        ("Trinity College", "located_in", "Cambridge")]),
)
