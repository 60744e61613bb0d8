"""Byte-pair encoding (BPE), written from scratch, and the same recipe in Hugging Face
``tokenizers`` for comparison (section 2.2).

BPE (Sennrich et al., 2016) starts from single characters and repeatedly merges the most
frequent pair of adjacent symbols into a new symbol, until the vocabulary has the size asked
for. Encoding a new text replays the learned merges, earliest first.

Both tokenizers here split the text first into *pre-tokens* with the same regular expression
(:data:`PRE_TOKEN_PATTERN`, GPT-2 style: a word keeps the space before it), so merges never
cross a word boundary and ``decode(encode(text)) == text`` exactly.

* :class:`BPETokenizer` -- ``BPETokenizer.train(text, vocab_size)``, ``encode``, ``decode``,
  ``tokenize``;
* :func:`train_hf_bpe` -- a ``tokenizers.Tokenizer`` BPE trained on the same pre-tokens;
* :func:`pre_tokenize`, :func:`vocabulary_overlap`, :func:`tokens_per_word`.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from typing import Callable, Iterable, Sequence

__all__ = ["PRE_TOKEN_PATTERN", "pre_tokenize", "BPETokenizer", "train_hf_bpe",
           "vocabulary_overlap", "tokens_per_word"]

#: A word with the space before it, a run of punctuation with the space before it, or a run of
#: other white space (new lines). ``\w`` includes letters of every script and digits.
PRE_TOKEN_PATTERN = r" ?\w+| ?[^\w\s]+|\s+"

_PRE_TOKEN = re.compile(PRE_TOKEN_PATTERN)


def _check_text(text: object, name: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}.")
    return text


def _check_vocab_size(vocab_size: object) -> int:
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
        raise TypeError(f"vocab_size must be an int, got {vocab_size!r}.")
    if vocab_size < 1:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}.")
    return vocab_size


def pre_tokenize(text: str) -> list[str]:
    """Split ``text`` into pre-tokens; joining them gives ``text`` back.

    >>> pre_tokenize("To be, or not")
    ['To', ' be', ',', ' or', ' not']
    """
    return _PRE_TOKEN.findall(_check_text(text))


def _merge_word(word: tuple[str, ...], pair: tuple[str, str]) -> tuple[str, ...]:
    """Replace every occurrence of ``pair`` in ``word`` (left to right) by the joined symbol."""
    out: list[str] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(word[i] + word[i + 1])
            i += 2
        else:
            out.append(word[i])
            i += 1
    return tuple(out)


class BPETokenizer:
    """A byte-pair-encoding tokenizer over characters.

    Build one with :meth:`train`. ``vocab`` maps each token (a string) to its id: the
    characters of the training text first (sorted), then one new token per merge, in the order
    the merges were learned. ``merges`` is that list of pairs.
    """

    def __init__(self, alphabet: Sequence[str], merges: Sequence[tuple[str, str]]) -> None:
        alphabet = list(alphabet)
        if not alphabet or any(not isinstance(c, str) or len(c) != 1 for c in alphabet):
            raise ValueError("alphabet must be a non-empty sequence of single characters.")
        if len(set(alphabet)) != len(alphabet):
            raise ValueError("alphabet has repeated characters.")
        self.vocab: dict[str, int] = {c: i for i, c in enumerate(alphabet)}
        self.merges: list[tuple[str, str]] = []
        for pair in merges:
            if (not isinstance(pair, tuple) or len(pair) != 2
                    or any(p not in self.vocab for p in pair)):
                raise ValueError(f"merge {pair!r} must be a pair of tokens already in the "
                                 f"vocabulary (merges are applied in order).")
            self.merges.append(pair)
            self.vocab.setdefault(pair[0] + pair[1], len(self.vocab))
        self.rank: dict[tuple[str, str], int] = {p: i for i, p in enumerate(self.merges)}
        self.id_to_token: list[str] = sorted(self.vocab, key=self.vocab.get)
        self._cache: dict[str, tuple[str, ...]] = {}

    def __len__(self) -> int:
        return len(self.vocab)

    def __repr__(self) -> str:
        return f"BPETokenizer({len(self)} tokens, {len(self.merges)} merges)"

    @property
    def vocab_size(self) -> int:
        """The number of tokens: the alphabet plus one per merge."""
        return len(self.vocab)

    @classmethod
    def train(cls, text: str, vocab_size: int, *, min_frequency: int = 2) -> "BPETokenizer":
        """Learn merges from ``text`` until the vocabulary has ``vocab_size`` tokens (or no
        pair occurs ``min_frequency`` times). Ties go to the pair that sorts first.

        Pair counts are kept up to date incrementally: a merge only re-counts the words that
        contain the merged pair, which makes training on a few MB of text take seconds.
        """
        text = _check_text(text)
        if not text:
            raise ValueError("text is empty: BPE needs text to count pairs in.")
        vocab_size = _check_vocab_size(vocab_size)
        if isinstance(min_frequency, bool) or not isinstance(min_frequency, int) \
                or min_frequency < 1:
            raise ValueError(f"min_frequency must be an int >= 1, got {min_frequency!r}.")
        alphabet = sorted(set(text))
        if vocab_size < len(alphabet):
            raise ValueError(f"vocab_size={vocab_size} is smaller than the {len(alphabet)} "
                             f"distinct characters of the text; ask for at least "
                             f"{len(alphabet)}.")
        word_counts = Counter(pre_tokenize(text))
        words = [tuple(w) for w in word_counts]              # each word as its symbols
        freqs = list(word_counts.values())
        pair_counts: Counter[tuple[str, str]] = Counter()
        where: dict[tuple[str, str], set[int]] = defaultdict(set)   # pair -> word indices
        for index, (word, freq) in enumerate(zip(words, freqs)):
            for pair in zip(word, word[1:]):
                pair_counts[pair] += freq
                where[pair].add(index)
        merges: list[tuple[str, str]] = []
        while len(alphabet) + len(merges) < vocab_size and pair_counts:
            best = min(pair_counts, key=lambda p: (-pair_counts[p], p))
            if pair_counts[best] < min_frequency:
                break
            merges.append(best)
            for index in where.pop(best):
                old, freq = words[index], freqs[index]
                new = _merge_word(old, best)
                for pair in zip(old, old[1:]):               # forget the old word's pairs
                    pair_counts[pair] -= freq
                    if pair_counts[pair] <= 0:
                        del pair_counts[pair]
                for pair in zip(new, new[1:]):               # count the new word's pairs
                    pair_counts[pair] += freq
                    where[pair].add(index)
                words[index] = new
            pair_counts.pop(best, None)
        return cls(alphabet, merges)

    def _bpe(self, word: str) -> tuple[str, ...]:
        """The tokens of one pre-token: apply the learned merges, earliest first."""
        if word in self._cache:
            return self._cache[word]
        symbols = tuple(word)
        while len(symbols) > 1:
            pairs = set(zip(symbols, symbols[1:]))
            best = min(pairs, key=lambda p: self.rank.get(p, len(self.rank)))
            if best not in self.rank:
                break
            symbols = _merge_word(symbols, best)
        self._cache[word] = symbols
        return symbols

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` as strings."""
        text = _check_text(text)
        unknown = sorted(set(text) - self.vocab.keys())
        if unknown:
            raise ValueError(f"characters not seen in training: {unknown[:10]!r}. Train on a "
                             f"text that contains them (this tokenizer has no unknown token).")
        return [token for word in pre_tokenize(text) for token in self._bpe(word)]

    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``."""
        return [self.vocab[token] for token in self.tokenize(text)]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of a list of ids: the tokens joined (exact inverse of :meth:`encode`)."""
        ids = list(ids)
        bad = [i for i in ids if isinstance(i, bool) or not isinstance(i, int)
               or not 0 <= i < len(self.id_to_token)]
        if bad:
            raise ValueError(f"ids outside 0..{len(self.id_to_token) - 1} (or not ints): "
                             f"{bad[:5]!r}.")
        return "".join(self.id_to_token[i] for i in ids)


def train_hf_bpe(text: str, vocab_size: int, *, min_frequency: int = 2):
    """A Hugging Face ``tokenizers`` BPE trained on ``text`` with the same pre-tokens as
    :class:`BPETokenizer` (:data:`PRE_TOKEN_PATTERN`, kept whole) and the same alphabet.

    Returns a ``tokenizers.Tokenizer``; ``.encode(text).tokens`` gives its tokens.
    """
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    text = _check_text(text)
    if not text:
        raise ValueError("text is empty: BPE needs text to count pairs in.")
    vocab_size = _check_vocab_size(vocab_size)
    alphabet = sorted(set(text))
    if vocab_size < len(alphabet):
        raise ValueError(f"vocab_size={vocab_size} is smaller than the {len(alphabet)} "
                         f"distinct characters of the text.")
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Split(Regex(PRE_TOKEN_PATTERN), "isolated")
    tokenizer.decoder = decoders.Fuse()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                  initial_alphabet=alphabet, limit_alphabet=len(alphabet),
                                  show_progress=False)
    words = pre_tokenize(text)
    tokenizer.train_from_iterator(
        ("".join(words[i:i + 10_000]) for i in range(0, len(words), 10_000)),
        trainer=trainer)
    return tokenizer


def vocabulary_overlap(first: Iterable[str], second: Iterable[str]) -> float:
    """The share of tokens two vocabularies have in common: |A ∩ B| / |A ∪ B|."""
    a, b = set(first), set(second)
    if not a or not b:
        raise ValueError("both vocabularies must be non-empty.")
    return len(a & b) / len(a | b)


def tokens_per_word(tokenize: Callable[[str], Sequence], text: str) -> float:
    """Tokens per white-space-separated word of ``text`` under ``tokenize``."""
    if not callable(tokenize):
        raise TypeError("tokenize must be a function from a string to a list of tokens.")
    words = _check_text(text).split()
    if not words:
        raise ValueError("text has no words.")
    return len(tokenize(text)) / len(words)
