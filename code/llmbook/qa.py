"""Question answering over the book's own text (section 6.3): the questions, the prompts, a
lexical retriever to compare with the dense one of :mod:`llmbook.retrieval`, and the judge.

* :data:`BOOK_QUESTIONS` -- questions written by reading the chapters, each with the section
  that answers it (``"3.5"``: a section id, not a chunk id, so the questions stay valid when
  a chapter's text and hence its chunks change), a short reference answer and the answer's
  keywords;
* :func:`keyword_match` -- the judge: an answer counts as right when, for every keyword
  group, it contains one of the group's alternatives (case-insensitive, whole words);
* :func:`qa_messages` -- the chat sent to an instruction-tuned model, with or without the
  retrieved passages as context;
* :class:`BM25Index` -- Okapi BM25 over words, the classic lexical retriever, with the
  ``search(queries, k)`` of :class:`llmbook.retrieval.ExactIndex` (queries are strings);
* :func:`book_chapters` -- the chapters folder beside the package, or a clear error.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Hashable, Sequence

__all__ = ["BookQuestion", "BOOK_QUESTIONS", "keyword_match", "qa_messages", "tokenize_words",
           "BM25Index", "book_chapters", "SYSTEM_PROMPT"]


@dataclass(frozen=True)
class BookQuestion:
    """``question``; ``section``: the section whose text answers it; ``answer``: a short
    reference answer; ``keywords``: groups of alternatives, every group must be matched."""

    question: str
    section: str
    answer: str
    keywords: tuple[tuple[str, ...], ...]


def _q(section: str, question: str, answer: str, *groups: tuple[str, ...] | str) -> BookQuestion:
    return BookQuestion(question, section, answer,
                        tuple((g,) if isinstance(g, str) else tuple(g) for g in groups))


#: Questions on the book, one or more per section, each answered by its ``section``.
BOOK_QUESTIONS: tuple[BookQuestion, ...] = (
    _q("1.1", "How many distinct characters are in the vocabulary of the Shakespeare plays "
       "the language models are trained on?", "70 characters.", "70"),
    _q("1.1", "Why is a constant k added to the counts of an n-gram model?",
       "So that a pair never seen in training does not get probability 0.",
       ("probability 0", "zero probability", "probability of 0", "probability zero",
        "probability of zero", "never seen", "unseen")),
    _q("1.2", "What is few-shot prompting?",
       "Giving the model a few examples written into the prompt.", ("example", "examples")),
    _q("1.2", "What does mean pooling do with the token vectors of a sentence?",
       "It averages them (ignoring padding) into one sentence embedding.",
       ("average", "averages", "averaging", "averaged")),
    _q("2.1", "How are bits per character computed from the cross-entropy H in nats?",
       "H divided by ln 2.", ("ln 2", "ln(2)", "log 2", "log(2)")),
    _q("2.1", "What is the perplexity of a model whose cross-entropy is H nats?",
       "e to the power H.", ("e^h", "e^{h}", "exp(h)", "e to the", "exponential")),
    _q("2.2", "Which tokenizer does MiniLM use?", "WordPiece (a lower-cased BERT tokenizer).",
       "wordpiece"),
    _q("2.2", "Which algorithm learns the subword pieces of a vocabulary?",
       "Byte-pair encoding (BPE).", ("byte-pair", "byte pair", "bpe")),
    _q("2.3", "In attention, what does a token's query represent?",
       "What the token is looking for.", ("looking for", "looks for", "searching for")),
    _q("2.3", "How many layers and attention heads does all-MiniLM-L6-v2 have?",
       "6 layers of 12 heads.", ("6", "six"), ("12", "twelve")),
    _q("2.4", "Is BERT an encoder-only, a decoder-only or an encoder-decoder model?",
       "Encoder-only.", ("encoder-only", "encoder only")),
    _q("2.4", "How many parameters does GPT-2 small have?", "124.4 million.", ("124",)),
    _q("2.5", "What fraction of the tokens does BERT's masked language model objective pick?",
       "15 %.", ("15",)),
    _q("2.5", "Of the tokens BERT picks for masking, what share is replaced by [MASK]?",
       "80 %.", ("80",)),
    _q("3.1", "What does a residual connection add the sublayer's output to?",
       "To its input.", ("input",)),
    _q("3.1", "Which layout of layer normalization did the 2017 Transformer use?",
       "Post-LN: the residual sum is normalised after each sublayer.",
       ("post-ln", "post-layer", "post ln", "after")),
    _q("3.2", "What is training a decoder on the true previous tokens called?",
       "Teacher forcing.", ("teacher forcing",)),
    _q("3.2", "What task is the small encoder-decoder of section 3.2 trained on?",
       "Reversing strings of lowercase letters.", ("reverse", "reverses", "reversing",
                                                    "reversed")),
    _q("3.3", "What does T5's span corruption replace each hidden span with?",
       "One sentinel token.", ("sentinel",)),
    _q("3.3", "What share of the positions does masked language modelling hide?",
       "15 %.", ("15",)),
    _q("3.4", "What does a learning-rate warm-up do?",
       "It grows the learning rate linearly from near zero.",
       ("linear", "linearly", "gradually", "increase", "increases", "grows", "raises")),
    _q("3.4", "What does gradient clipping rescale?",
       "The whole gradient, when its norm exceeds a threshold.", ("gradient", "gradients"),
       ("norm", "magnitude", "length", "threshold", "maximum", "max")),
    _q("3.5", "What does LoRA stand for?", "Low-rank adaptation.", ("low-rank", "low rank")),
    _q("3.5", "In LoRA, what is the matrix B initialised to?", "Zero, so that BA = 0.",
       ("zero", "0", "zeros")),
    _q("3.5", "What does prompt tuning learn while every weight of the model stays frozen?",
       "A soft prompt: n extra input vectors.", ("soft prompt", "vectors", "embeddings",
                                                 "tokens")),
    _q("3.6", "What does a KV cache keep?", "Each layer's keys and values.", ("key", "keys")),
    _q("3.6", "What does beam search keep at every step?",
       "The B best partial sequences (beams).", ("best", "most likely", "highest"),
       ("sequence", "sequences", "beam", "beams", "hypotheses", "candidates")),
    _q("3.6", "How many bytes does an int8 code take?", "One byte.", ("1", "one")),
    _q("4.1", "Which score function did Bahdanau et al. use for attention?",
       "Additive attention.", ("additive",)),
    _q("4.2", "Over what does LayerNorm normalise each token vector?",
       "Over its own features.", ("feature", "features", "dimension", "dimensions")),
    _q("4.4", "What is the log-sum-exp trick?",
       "Subtracting the largest logit before exponentiating.",
       ("subtract", "subtracting", "subtracts", "minus"),
       ("largest", "maximum", "max", "biggest")),
    _q("4.4", "In the InfoNCE loss, which items are the negatives?",
       "The other N-1 items of the batch.", ("other",)),
    _q("5.1", "What is a virtual environment?",
       "A private folder of packages for one project.", ("folder", "directory")),
    _q("5.3", "What units does the book's GPT read its text in?", "Characters.",
       ("character", "characters")),
    _q("5.4", "What is the hidden size d_model of SmolLM2-135M?", "576.", ("576",)),
    _q("5.4", "On which side should the prompts of a decoder-only model be padded?",
       "On the left.", ("left",)),
    _q("5.5", "What does macro F1 average?", "The per-class F1 scores, with equal weight.",
       ("class", "classes", "per-class")),
    _q("5.5", "What is grouping examples of similar length into the same batch called?",
       "Length bucketing.", ("bucketing", "bucket", "buckets")),
)


def _pattern(alternative: str) -> re.Pattern:
    alternative = alternative.lower().strip()
    start = r"(?<![a-z0-9])" if alternative[:1].isalnum() else ""
    end = r"(?![a-z0-9])" if alternative[-1:].isalnum() else ""
    return re.compile(start + re.escape(alternative) + end)


def keyword_match(answer: str, keywords: Sequence[Sequence[str]]) -> bool:
    """Whether ``answer`` contains, for every group of ``keywords``, one of its alternatives:
    lower-cased, as whole words (``"0"`` does not match inside ``"10"``). ``keywords`` is a
    list of groups, each a list of alternatives (a bare string is one alternative)."""
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a str, got {type(answer).__name__}")
    if isinstance(keywords, str) or not keywords:
        raise ValueError("keywords must be a non-empty list of groups of alternatives, e.g. "
                         "[('low-rank', 'low rank')]")
    text = " ".join(answer.lower().split())
    for group in keywords:
        group = (group,) if isinstance(group, str) else tuple(group)
        if not group or not all(isinstance(a, str) and a.strip() for a in group):
            raise ValueError(f"every keyword group must hold non-empty strings, got {group!r}")
        if not any(_pattern(a).search(text) for a in group):
            return False
    return True


SYSTEM_PROMPT = "Answer the question in one short sentence."


def qa_messages(question: str, passages: Sequence[str] | None = None, *,
                system: str = SYSTEM_PROMPT) -> list[dict[str, str]]:
    """The chat for one question: ``system``, then the user's turn -- the question alone
    (closed-book), or the ``passages`` followed by the question (retrieval-augmented)."""
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question must be a non-empty str")
    if passages is None:
        user = question
    else:
        if isinstance(passages, str) or not all(isinstance(p, str) for p in passages):
            raise TypeError("passages must be a list of str (for one passage pass [text])")
        context = "\n\n".join(p.strip() for p in passages)
        user = f"Context:\n{context}\n\nUsing the context, answer: {question}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


_WORD = re.compile(r"[a-z0-9]+")


def tokenize_words(text: str) -> list[str]:
    """Lower-cased runs of letters and digits: the 'terms' of :class:`BM25Index`."""
    return _WORD.findall(text.lower())


class BM25Index:
    """Okapi BM25 (Robertson and Zaragoza 2009): a query's score for document ``d`` is

    .. math:: \\sum_{t \\in q} \\mathrm{idf}(t) \\frac{f(t, d) (k_1 + 1)}
              {f(t, d) + k_1 (1 - b + b |d| / \\overline{|d|})},
              \\quad \\mathrm{idf}(t) = \\ln\\left(1 + \\frac{N - n_t + 0.5}{n_t + 0.5}\\right)

    with ``f(t, d)`` the count of term ``t`` in ``d``, ``n_t`` the number of documents that
    contain it and ``N`` the number of documents. ``add(texts, ids)`` indexes texts;
    ``search(queries, k)`` returns ``(scores, ids)`` like :class:`~llmbook.retrieval.
    ExactIndex` (lists of floats; equal scores keep the order of insertion). Exact integer
    counts, so the ranking is the same on every machine up to exact ties."""

    def __init__(self, k1: float = 1.5, b: float = 0.75):
        if not (isinstance(k1, (int, float)) and k1 >= 0) or not (0 <= b <= 1):
            raise ValueError(f"k1 must be >= 0 and b in [0, 1], got k1={k1!r}, b={b!r}")
        self.k1, self.b = float(k1), float(b)
        self.ids: list[Hashable] = []
        self._counts: list[Counter] = []
        self._lengths: list[int] = []
        self._df: Counter = Counter()

    def __len__(self) -> int:
        return len(self.ids)

    def add(self, texts: Sequence[str], ids: Sequence[Hashable] | None = None) -> None:
        if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must be a list of str")
        ids = list(range(len(self), len(self) + len(texts))) if ids is None else list(ids)
        if len(ids) != len(texts) or len(set(ids) | set(self.ids)) != len(ids) + len(self.ids):
            raise ValueError("ids must be unique, one per text")
        for text, i in zip(texts, ids):
            counts = Counter(tokenize_words(text))
            self.ids.append(i)
            self._counts.append(counts)
            self._lengths.append(sum(counts.values()))
            self._df.update(counts.keys())

    def scores(self, query: str) -> list[float]:
        """The BM25 score of every indexed text for ``query``, in insertion order."""
        n, mean = len(self.ids), sum(self._lengths) / max(len(self.ids), 1)
        out = [0.0] * n
        for term in set(tokenize_words(query)):
            df = self._df.get(term, 0)
            if not df:
                continue
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            for j, counts in enumerate(self._counts):
                f = counts.get(term, 0)
                if f:
                    norm = self.k1 * (1 - self.b + self.b * self._lengths[j] / mean)
                    out[j] += idf * f * (self.k1 + 1) / (f + norm)
        return out

    def search(self, queries: Sequence[str] | str, k: int) -> tuple[list[list[float]],
                                                                    list[list[Hashable]]]:
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"k must be a positive int, got {k!r}")
        if not self.ids:
            raise ValueError("the index is empty: add(texts, ids) before searching")
        queries = [queries] if isinstance(queries, str) else list(queries)
        all_scores, all_ids = [], []
        for query in queries:
            s = self.scores(query)
            order = sorted(range(len(s)), key=lambda j: -s[j])[:k]      # stable: ties in order
            all_scores.append([s[j] for j in order])
            all_ids.append([self.ids[j] for j in order])
        return all_scores, all_ids


def _installed_from() -> tuple[str, str | None] | None:
    """``(repository URL, commit)`` that pip installed this package from (a
    ``git+...#subdirectory=code`` install, as the Colab set-up cell does), else ``None``."""
    import importlib.metadata
    import json

    try:
        text = importlib.metadata.distribution("llmbook").read_text("direct_url.json")
        info = json.loads(text) if text else {}
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None
    vcs = info.get("vcs_info") or {}
    if vcs.get("vcs") != "git" or not info.get("url"):
        return None
    return info["url"], vcs.get("commit_id")


def book_chapters(cache_dir: str | Path | None = None) -> Path:
    """The book's ``chapters`` folder: the one beside the package in a clone of the book;
    where pip installed the package from the book's repository (Colab's set-up cell), a
    shallow clone of that repository at the installed commit, made once under
    ``~/.cache/llmbook/book-<commit>``; otherwise a ``FileNotFoundError`` saying what to do."""
    import subprocess

    from .retrieval import _BOOK_CHAPTERS

    if _BOOK_CHAPTERS.is_dir():
        return _BOOK_CHAPTERS
    source = _installed_from()
    if source is None:
        raise FileNotFoundError(
            f"no chapters folder at {_BOOK_CHAPTERS}: this section reads the book's own "
            f"notebooks, which a pip-installed package does not have. Clone the book (git "
            f"clone https://github.com/llm-book/llm-book) and pass its chapters folder to "
            f"retrieval.notebook_chunks(root=...).")
    url, commit = source
    base = Path(cache_dir) if cache_dir is not None else Path.home() / ".cache" / "llmbook"
    folder = base / f"book-{(commit or 'head')[:12]}"
    if not (folder / "chapters").is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        print(f"Cloning the book's chapters from {url} at {commit or 'the default branch'} "
              f"into {folder} (once) ...")
        try:
            subprocess.run(["git", "init", "-q", str(folder)], check=True)
            subprocess.run(["git", "-C", str(folder), "fetch", "-q", "--depth", "1", url,
                            commit or "HEAD"], check=True, timeout=300)
            subprocess.run(["git", "-C", str(folder), "checkout", "-q", "FETCH_HEAD"],
                           check=True)
        except (OSError, subprocess.SubprocessError) as error:
            raise FileNotFoundError(
                f"could not clone {url} ({error}); clone the book yourself and pass its "
                f"chapters folder to retrieval.notebook_chunks(root=...).") from None
    return folder / "chapters"
