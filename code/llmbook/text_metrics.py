"""ROUGE and BLEU, written out: the n-gram overlap scores of summarization and translation.

Both count n-grams (runs of ``n`` consecutive tokens) that a system output shares with a
reference; ROUGE is recall-oriented (how much of the reference the output covers), BLEU is
precision-oriented (how much of the output the references support).

**ROUGE** (Lin 2004) -- :func:`rouge` for one output, :func:`corpus_rouge` for the mean over
many. With :math:`C_n(x)` the multiset of n-grams of ``x`` and :math:`|A \\cap B|` the clipped
overlap :math:`\\sum_g \\min(\\#_A g, \\#_B g)`:

.. math:: P_n = \\frac{|C_n(\\text{pred}) \\cap C_n(\\text{ref})|}{|C_n(\\text{pred})|},\\quad
          R_n = \\frac{|C_n(\\text{pred}) \\cap C_n(\\text{ref})|}{|C_n(\\text{ref})|},\\quad
          F = \\frac{2PR}{P + R}

(``rouge1``, ``rouge2``, ...). ``rougeL`` replaces the overlap by the length of the longest
common subsequence (LCS: tokens in the same order, gaps allowed). ``rougeLsum`` treats each line
as a sentence and counts, for each reference sentence, the union of its LCS with every output
sentence (without counting a token twice). Tokens are those of ``rouge-score``'s default
tokenizer: lower-cased, every character outside ``[a-z0-9]`` replaced by a space, and -- with
``stem=True`` -- words longer than three characters reduced by NLTK's Porter stemmer.
**That tokenizer deletes every non-ASCII character, so Chinese text scores 0**:
``tokenize="zh"`` (the book's option, not rouge-score's) keeps ASCII words as they are and
makes every other letter or digit (each Chinese character) a token of its own; punctuation
is dropped. Several references: the one with the highest F per ROUGE type counts
(``rouge-score``'s ``score_multi``).

**BLEU** (Papineni et al. 2002) -- :func:`corpus_bleu`, :func:`sentence_bleu`. Over the whole
corpus, the modified n-gram precisions :math:`p_n` (each hypothesis n-gram counted at most as
often as in the reference that has it most often), for n = 1..4, and the brevity penalty
(:math:`c` = total hypothesis length, :math:`r` = total length of the references closest in
length to each hypothesis, the shorter on a tie):

.. math:: \\text{BLEU} = 100 \\cdot \\text{BP} \\cdot \\exp\\Big(\\tfrac14 \\sum_{n=1}^4
          \\log p_n\\Big), \\qquad \\text{BP} = \\min\\big(1, e^{1 - r/c}\\big).

Smoothing ``"exp"`` (sacrebleu's default; NIST's mteval-v13a): the k-th order with no match
gets :math:`p_n = 1 / (2^k \\cdot \\text{total}_n)` instead of 0. Tokenization ``"13a"``
(sacrebleu's default: ASCII punctuation and symbols split off; a period or comma only when
it does not stand between two digits, so ``3.5`` and ``1,000`` stay whole), ``"zh"`` (sacrebleu's for Chinese: each CJK character is a token, the rest
as 13a), ``"char"`` (every character) or ``"none"`` (split at spaces). Chinese text scored with
``"13a"`` counts whole unspaced clauses as single words: use ``"zh"``.

The numbers equal ``rouge-score``'s ``RougeScorer`` and ``sacrebleu``'s ``corpus_bleu`` /
``sentence_bleu`` exactly (the tests compare them). Note the argument orders: here the system
output comes first everywhere; ``RougeScorer.score(target, prediction)`` takes the reference
first, and sacrebleu takes references as *streams* (``refs[k][i]`` = k-th reference of
hypothesis i) where :func:`corpus_bleu` takes one entry per hypothesis.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from typing import Callable, NamedTuple, Sequence, Union

__all__ = ["RougeScore", "rouge_tokenize", "rouge", "corpus_rouge", "BleuScore",
           "bleu_tokenize", "corpus_bleu", "sentence_bleu"]

Tokenizer = Union[str, Callable[[str], list]]
_DEFAULT_ROUGE = ("rouge1", "rouge2", "rougeL")


class RougeScore(NamedTuple):
    precision: float
    recall: float
    fmeasure: float


def _check_text(name: str, text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {type(text).__name__}: decode token ids "
                        f"to text first (tokenizer.decode) or join a list of words with ' '")
    return text


def _check_refs(name: str, refs: object) -> list[str]:
    if isinstance(refs, str):
        return [refs]
    if not isinstance(refs, Sequence):
        raise TypeError(f"{name} must be a str or a list of str (several references), got "
                        f"{type(refs).__name__}")
    if not refs:
        raise ValueError(f"{name} is an empty list: each output needs at least one reference")
    return [_check_text(f"{name}[{i}]", r) for i, r in enumerate(refs)]


def _check_corpus(hypotheses: object, references: object, what: str
                  ) -> tuple[list[str], list[list[str]]]:
    for name, value in (("hypotheses", hypotheses), ("references", references)):
        if isinstance(value, str) or not isinstance(value, Sequence):
            raise TypeError(f"{name} must be a list (one entry per {what}), got "
                            f"{type(value).__name__}")
    if not hypotheses:
        raise ValueError("hypotheses is empty: a corpus score needs at least one output")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references: give "
                         f"one reference (or a list of references) per hypothesis. (sacrebleu's "
                         f"stream layout [[ref for each hyp], ...] must be transposed: "
                         f"list(zip(*streams)))")
    hyps = [_check_text(f"hypotheses[{i}]", h) for i, h in enumerate(hypotheses)]
    return hyps, [_check_refs(f"references[{i}]", r) for i, r in enumerate(references)]


# --------------------------------------------------------------------------------------------
# ROUGE
# --------------------------------------------------------------------------------------------

_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_SPACES = re.compile(r"\s+")
_VALID = re.compile(r"^[a-z0-9]+$")
_ZH_TOKEN = re.compile(r"[a-z0-9]+|[^\x00-\x7f]")


@functools.lru_cache(maxsize=1)
def _stemmer():
    try:
        from nltk.stem import porter
    except ImportError as err:  # pragma: no cover - nltk comes with rouge-score
        raise ImportError("stem=True needs NLTK's Porter stemmer (the one rouge-score uses): "
                          "pip install nltk") from err
    return porter.PorterStemmer()


def rouge_tokenize(text: str, *, stem: bool = False, tokenize: Tokenizer = "default"
                   ) -> list[str]:
    """The tokens ROUGE counts (see the module's docstring): ``"default"`` is rouge-score's
    tokenizer, ``"zh"`` also keeps each non-ASCII letter or digit as a token, a callable
    ``text -> list of str`` is used as it is (``stem`` is then ignored)."""
    _check_text("text", text)
    if callable(tokenize):
        return list(tokenize(text))
    if tokenize not in ("default", "zh"):
        raise ValueError(f"tokenize must be 'default', 'zh' or a callable, got {tokenize!r}")
    if not isinstance(stem, bool):
        raise TypeError(f"stem must be True or False, got {stem!r}")
    text = text.lower()
    if tokenize == "default":
        tokens = _SPACES.split(_NON_ALNUM.sub(" ", text))
    else:
        tokens = [t for t in _ZH_TOKEN.findall(text) if t.isascii() or t.isalnum()]
    if stem:
        stemmer = _stemmer()
        tokens = [stemmer.stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]
    if tokenize == "default":
        tokens = [t for t in tokens if _VALID.match(t)]
    return tokens


def _fmeasure(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0


def _ngrams(tokens: list[str], n: int) -> Counter:
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def _rouge_n(pred: list[str], ref: list[str], n: int) -> RougeScore:
    p, r = _ngrams(pred, n), _ngrams(ref, n)
    overlap = sum(min(count, p[g]) for g, count in r.items())
    precision = overlap / max(sum(p.values()), 1)
    recall = overlap / max(sum(r.values()), 1)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _lcs_table(ref: list[str], pred: list[str]) -> list[list[int]]:
    """``t[i][j]`` = the LCS length of ``ref[:i]`` and ``pred[:j]`` (dynamic programming)."""
    t = [[0] * (len(pred) + 1) for _ in range(len(ref) + 1)]
    for i in range(1, len(ref) + 1):
        for j in range(1, len(pred) + 1):
            t[i][j] = (t[i - 1][j - 1] + 1 if ref[i - 1] == pred[j - 1]
                       else max(t[i - 1][j], t[i][j - 1]))
    return t


def _rouge_l(pred: list[str], ref: list[str]) -> RougeScore:
    if not pred or not ref:
        return RougeScore(0.0, 0.0, 0.0)
    lcs = _lcs_table(ref, pred)[-1][-1]
    precision, recall = lcs / len(pred), lcs / len(ref)
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _lcs_positions(ref: list[str], pred: list[str]) -> list[int]:
    """The positions in ``ref`` of one LCS, read back from the table as rouge-score does (the
    choice between equal LCSs changes rougeLsum)."""
    t, i, j, out = _lcs_table(ref, pred), len(ref), len(pred), []
    while i > 0 and j > 0:
        if ref[i - 1] == pred[j - 1]:
            out.append(i - 1)
            i, j = i - 1, j - 1
        elif t[i][j - 1] > t[i - 1][j]:
            j -= 1
        else:
            i -= 1
    return out


def _rouge_lsum(pred_sents: list[list[str]], ref_sents: list[list[str]]) -> RougeScore:
    m, n = sum(map(len, ref_sents)), sum(map(len, pred_sents))
    if not m or not n:
        return RougeScore(0.0, 0.0, 0.0)
    left_ref = Counter(t for s in ref_sents for t in s)
    left_pred = Counter(t for s in pred_sents for t in s)
    hits = 0
    for ref in ref_sents:
        union = sorted(set().union(*(_lcs_positions(ref, p) for p in pred_sents)))
        for token in (ref[k] for k in union):
            if left_pred[token] > 0 and left_ref[token] > 0:
                hits += 1
                left_pred[token] -= 1
                left_ref[token] -= 1
    precision, recall = hits / n, hits / m
    return RougeScore(precision, recall, _fmeasure(precision, recall))


def _check_rouge_types(types: object) -> tuple[str, ...]:
    if isinstance(types, str) or not isinstance(types, Sequence) or not types:
        raise TypeError(f"types must be a non-empty list such as ['rouge1', 'rouge2', "
                        f"'rougeL'], got {types!r}")
    for t in types:
        if not (t in ("rougeL", "rougeLsum") or (isinstance(t, str)
                                                 and re.fullmatch(r"rouge[1-9]", t))):
            raise ValueError(f"unknown ROUGE type {t!r}: use 'rouge1'..'rouge9', 'rougeL' or "
                             f"'rougeLsum'")
    return tuple(types)


def _score_one(pred: str, ref: str, types: tuple[str, ...], stem: bool,
               tokenize: Tokenizer) -> dict[str, RougeScore]:
    def tok(text):
        return rouge_tokenize(text, stem=stem, tokenize=tokenize)

    p, r = tok(pred), tok(ref)
    out = {}
    for t in types:
        if t == "rougeL":
            out[t] = _rouge_l(p, r)
        elif t == "rougeLsum":
            out[t] = _rouge_lsum([tok(s) for s in pred.split("\n") if s],
                                 [tok(s) for s in ref.split("\n") if s])
        else:
            out[t] = _rouge_n(p, r, int(t[5:]))
    return out


def rouge(prediction: str, reference: str | Sequence[str], *,
          types: Sequence[str] = _DEFAULT_ROUGE, stem: bool = False,
          tokenize: Tokenizer = "default") -> dict[str, RougeScore]:
    """ROUGE scores of one ``prediction`` against ``reference`` (a str, or a list of str: the
    best-scoring reference counts for each type). Returns ``{type: RougeScore(precision,
    recall, fmeasure)}``, each in [0, 1]. Equals ``RougeScorer(types, use_stemmer=stem)
    .score(reference, prediction)`` (mind the order) and ``.score_multi`` for several."""
    _check_text("prediction", prediction)
    refs = _check_refs("reference", reference)
    types = _check_rouge_types(types)
    per_ref = [_score_one(prediction, r, types, stem, tokenize) for r in refs]
    best = {}
    for t in types:
        scores = [s[t] for s in per_ref]
        best[t] = scores[max(range(len(scores)), key=lambda i: (scores[i].fmeasure, -i))]
    return best


def corpus_rouge(predictions: Sequence[str], references: Sequence[str | Sequence[str]], *,
                 types: Sequence[str] = _DEFAULT_ROUGE, stem: bool = False,
                 tokenize: Tokenizer = "default") -> dict[str, RougeScore]:
    """The mean, over examples, of each :func:`rouge` precision, recall and F (the usual
    corpus ROUGE; rouge-score's ``BootstrapAggregator`` reports the same mean as ``mid``)."""
    preds, refs = _check_corpus(predictions, references, "prediction")
    types = _check_rouge_types(types)
    scores = [rouge(p, r, types=types, stem=stem, tokenize=tokenize) for p, r in zip(preds, refs)]
    return {t: RougeScore(*(sum(s[t][k] for s in scores) / len(scores) for k in range(3)))
            for t in types}


# --------------------------------------------------------------------------------------------
# BLEU
# --------------------------------------------------------------------------------------------

_13A_RULES = [(re.compile(r"([\{-\~\[-\` -\&\(-\+\:-\@\/])"), r" \1 "),
              (re.compile(r"([^0-9])([\.,])"), r"\1 \2 "),
              (re.compile(r"([\.,])([^0-9])"), r" \1 \2"),
              (re.compile(r"([0-9])(-)"), r"\1 \2 ")]
# sacrebleu's CJK ranges for tokenize="zh", copied as written there. Two entries mean the
# supplementary planes but are written with \u (4 hex digits) plus a 5th digit, i.e. as
# two-character strings; compared with one character they cover U+2001..U+2A6D and
# U+2F81..U+2FA1 instead -- kept, so that scores equal sacrebleu's.
_ZH_RANGES = [("\u3400", "\u4db5"), ("\u4e00", "\u9fa5"), ("\u9fa6", "\u9fbb"),
              ("\uf900", "\ufa2d"), ("\ufa30", "\ufa6a"), ("\ufa70", "\ufad9"),
              ("\u20000", "\u2a6d6"), ("\u2f800", "\u2fa1d"), ("\uff00", "\uffef"),
              ("\u2e80", "\u2eff"), ("\u3000", "\u303f"), ("\u31c0", "\u31ef"),
              ("\u2f00", "\u2fdf"), ("\u2ff0", "\u2fff"), ("\u3100", "\u312f"),
              ("\u31a0", "\u31bf"), ("\ufe10", "\ufe1f"), ("\ufe30", "\ufe4f"),
              ("\u2600", "\u26ff"), ("\u2700", "\u27bf"), ("\u3200", "\u32ff"),
              ("\u3300", "\u33ff")]
_BLEU_TOKENIZERS = ("13a", "zh", "char", "none")
_SMOOTH_DEFAULTS = {"exp": None, "none": None, "floor": 0.1, "add-k": 1}


def _regexp_tokenize(line: str) -> str:
    for pattern, repl in _13A_RULES:
        line = pattern.sub(repl, line)
    return " ".join(line.split())


def bleu_tokenize(text: str, tokenize: str = "13a", *, lowercase: bool = False) -> list[str]:
    """The tokens BLEU counts, as sacrebleu makes them (see the module's docstring)."""
    _check_text("text", text)
    if tokenize not in _BLEU_TOKENIZERS:
        raise ValueError(f"tokenize must be one of {_BLEU_TOKENIZERS}, got {tokenize!r}")
    line = (text.lower() if lowercase else text).rstrip()
    if tokenize == "13a":
        line = line.replace("<skipped>", "").replace("-\n", "").replace("\n", " ")
        if "&" in line:
            line = (line.replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                    .replace("&gt;", ">"))
        line = _regexp_tokenize(f" {line} ")
    elif tokenize == "zh":
        line = _regexp_tokenize("".join(
            f" {c} " if any(a <= c <= b for a, b in _ZH_RANGES) else c for c in line.strip()))
    elif tokenize == "char":
        line = " ".join(line)
    return line.split()


class BleuScore(NamedTuple):
    """``score`` in [0, 100]; ``precisions`` p_1..p_4 in percent; ``bp`` the brevity penalty;
    ``counts`` / ``totals`` matched / hypothesis n-grams per order; lengths in tokens."""
    score: float
    precisions: list
    bp: float
    counts: list
    totals: list
    sys_len: int
    ref_len: int


def _segment_stats(hyp: list[str], refs: list[list[str]], max_order: int) -> list[int]:
    ref_counts: Counter = Counter()
    for ref in refs:                           # clip by the reference that has it most often
        for n in range(1, max_order + 1):
            for g, c in _ngrams(ref, n).items():
                ref_counts[g] = max(ref_counts[g], c)
    ref_len = min((abs(len(hyp) - len(r)), len(r)) for r in refs)[1]
    correct, total = [0] * max_order, [0] * max_order
    for n in range(1, max_order + 1):
        for g, c in _ngrams(hyp, n).items():
            total[n - 1] += c
            correct[n - 1] += min(c, ref_counts.get(g, 0))
    return [len(hyp), ref_len] + correct + total


def _log(p: float) -> float:
    return math.log(p) if p != 0.0 else -9999999999     # sacrebleu's floor for log(0)


def _bleu_from_stats(stats: list, max_order: int, smooth: str, smooth_value, effective_order
                     ) -> BleuScore:
    sys_len, ref_len = int(stats[0]), int(stats[1])
    correct, total = stats[2:2 + max_order], stats[2 + max_order:]
    bp = 1.0
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    precisions = [0.0] * max_order
    if not any(correct):
        return BleuScore(0.0, precisions, bp, correct, total, sys_len, ref_len)
    value = _SMOOTH_DEFAULTS[smooth] if smooth_value is None else smooth_value
    halvings, order = 1.0, max_order
    for n in range(1, max_order + 1):
        if smooth == "add-k" and n > 1:
            correct[n - 1] += value
            total[n - 1] += value
        if total[n - 1] == 0:
            break                                # no n-grams this long: stop (see order)
        if effective_order:
            order = n
        if correct[n - 1] == 0:
            if smooth == "exp":
                halvings *= 2
                precisions[n - 1] = 100. / (halvings * total[n - 1])
            elif smooth == "floor":
                precisions[n - 1] = 100. * value / total[n - 1]
        else:
            precisions[n - 1] = 100. * correct[n - 1] / total[n - 1]
    score = bp * math.exp(sum([_log(p) for p in precisions[:order]]) / order)
    return BleuScore(score, precisions, bp, correct, total, sys_len, ref_len)


def _check_bleu_options(tokenize, lowercase, smooth, smooth_value, effective_order, max_order):
    if tokenize not in _BLEU_TOKENIZERS:
        raise ValueError(f"tokenize must be one of {_BLEU_TOKENIZERS}, got {tokenize!r}")
    if smooth not in _SMOOTH_DEFAULTS:
        raise ValueError(f"smooth must be one of {tuple(_SMOOTH_DEFAULTS)}, got {smooth!r}")
    for name, flag in (("lowercase", lowercase), ("effective_order", effective_order)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    if isinstance(max_order, bool) or not isinstance(max_order, int) or max_order < 1:
        raise ValueError(f"max_order must be a positive int (4 for BLEU-4), got {max_order!r}")
    if smooth_value is not None and (isinstance(smooth_value, bool)
                                     or not isinstance(smooth_value, (int, float))
                                     or smooth_value < 0):
        raise ValueError(f"smooth_value must be a non-negative number or None, got "
                         f"{smooth_value!r}")


def corpus_bleu(hypotheses: Sequence[str], references: Sequence[str | Sequence[str]], *,
                tokenize: str = "13a", lowercase: bool = False, smooth: str = "exp",
                smooth_value: float | None = None, effective_order: bool = False,
                max_order: int = 4) -> BleuScore:
    """Corpus BLEU (see the module's docstring): n-gram matches and lengths are summed over
    all hypotheses before the precisions are taken -- not a mean of sentence BLEUs.
    ``references[i]`` is the reference of ``hypotheses[i]``, or a list of them. Equals
    ``sacrebleu.corpus_bleu(hypotheses, streams)`` with the same options."""
    _check_bleu_options(tokenize, lowercase, smooth, smooth_value, effective_order, max_order)
    hyps, refs = _check_corpus(hypotheses, references, "hypothesis")
    totals = [0] * (2 + 2 * max_order)
    for hyp, hyp_refs in zip(hyps, refs):
        stats = _segment_stats(bleu_tokenize(hyp, tokenize, lowercase=lowercase),
                               [bleu_tokenize(r, tokenize, lowercase=lowercase)
                                for r in hyp_refs], max_order)
        totals = [a + b for a, b in zip(totals, stats)]
    return _bleu_from_stats(totals, max_order, smooth, smooth_value, effective_order)


def sentence_bleu(hypothesis: str, references: str | Sequence[str], *, tokenize: str = "13a",
                  lowercase: bool = False, smooth: str = "exp",
                  smooth_value: float | None = None, effective_order: bool = True,
                  max_order: int = 4) -> BleuScore:
    """BLEU of one hypothesis (a noisy number: BLEU is meant for corpora). With
    ``effective_order=True`` (sacrebleu's default here) orders longer than the hypothesis are
    left out of the mean instead of making the score 0. Equals ``sacrebleu.sentence_bleu``."""
    _check_text("hypothesis", hypothesis)
    return corpus_bleu([hypothesis], [_check_refs("references", references)],
                       tokenize=tokenize, lowercase=lowercase, smooth=smooth,
                       smooth_value=smooth_value, effective_order=effective_order,
                       max_order=max_order)
