"""Checking functions for the code exercises of chapters 1 and 2 (except section 2.3, whose
checkers are in :mod:`llmbook.exercises`).

Like every checker of the book, each ``check_*`` runs the reader's function on small, seeded
inputs, prints one message that says what is right or wrong, and returns a
:class:`~llmbook.exercises.Feedback`; a wrong answer never raises.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F

from .exercises import Feedback, _call, _compare, _report

__all__ = ["check_bigram_probabilities", "check_mean_pooling", "check_model_memory",
           "check_perplexity", "check_bpe_step", "check_bert_parameter_count",
           "check_freeze_body"]


def _not_callable(fn: object) -> Feedback | None:
    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    return None


# -- 1.1 ---------------------------------------------------------------------------------------

def check_bigram_probabilities(fn: Callable) -> Feedback:
    """Grade ``fn(ids, vocab_size, k) -> (V, V)`` add-k smoothed bigram probabilities,
    row = previous id, column = next id."""
    from .lm import NGramLM

    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(0)
    cases = [("ids [0, 1, 1, 2, 0, 1], V=3, k=1", torch.tensor([0, 1, 1, 2, 0, 1]), 3, 1.0),
             ("200 random ids, V=5, k=0.5", torch.randint(0, 5, (200,), generator=gen), 5, 0.5),
             ("ids [3, 3, 3], V=4, k=0.1 (most rows never seen)", torch.tensor([3, 3, 3]), 4, 0.1)]
    for label, ids, vocab_size, k in cases:
        ok, got = _call(fn, ids.clone(), vocab_size, k)
        if not ok:
            return _report(False, f"{label}: {got}")
        expected = NGramLM(2, vocab_size, k=k).fit(ids).probabilities().float()
        if isinstance(got, torch.Tensor):
            got = got.float()
        problem = _compare(label, got, expected, atol=1e-5)
        if problem:
            if isinstance(got, torch.Tensor) and got.shape == expected.shape:
                if torch.allclose(got.T, expected, atol=1e-5):
                    problem += " Your table is transposed: rows are the previous id."
                elif not torch.allclose(got.sum(1), torch.ones(vocab_size), atol=1e-4):
                    problem += (" Each row must sum to 1: divide by count(previous) + k·V, "
                                "not by the total count.")
            return _report(False, problem)
    return _report(True, "add-k bigram tables match for all 3 cases; every row sums to 1.")


# -- 1.2 ---------------------------------------------------------------------------------------

def check_mean_pooling(fn: Callable) -> Feedback:
    """Grade ``fn(hidden (B, T, d), attention_mask (B, T)) -> (B, d)``: the mean of the
    hidden vectors of the real (mask = 1) tokens of each sequence."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(0)
    hidden = torch.randn(3, 5, 4, generator=gen)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]])
    ok, got = _call(fn, hidden.clone(), mask.clone())
    if not ok:
        return _report(False, got)
    m = mask[..., None].float()
    expected = (hidden * m).sum(1) / m.sum(1)
    problem = _compare("3 sequences of lengths 5, 3, 1", got, expected)
    if problem:
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            if torch.allclose(got, hidden.mean(1), atol=1e-5):
                problem += " You averaged over padding too: weight by the attention mask."
            elif torch.allclose(got, (hidden * m).sum(1) / 5, atol=1e-5):
                problem += " Divide by the number of real tokens, not by the padded length."
        return _report(False, problem)
    return _report(True, "mean pooling ignores padding and matches for lengths 5, 3 and 1.")


# -- 1.3 ---------------------------------------------------------------------------------------

def check_model_memory(fn: Callable) -> Feedback:
    """Grade ``fn(num_parameters, dtype) -> int``: bytes needed to store the weights."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    for n, dtype in [(1_000, torch.float32), (134_515_008, torch.float16),
                     (124_439_808, torch.bfloat16), (7_000_000_000, torch.int8)]:
        ok, got = _call(fn, n, dtype)
        if not ok:
            return _report(False, f"{n:,} parameters in {dtype}: {got}")
        expected = n * torch.empty((), dtype=dtype).element_size()
        if not isinstance(got, (int, float)) or isinstance(got, bool) or got != expected:
            hint = ""
            if isinstance(got, (int, float)) and got == expected * 8:
                hint = " That is bits: divide by 8 for bytes."
            return _report(False, f"{n:,} parameters in {dtype}: expected {expected:,} bytes, "
                                  f"got {got!r}.{hint}")
    return _report(True, "right for float32, float16, bfloat16 and int8 "
                         "(4, 2, 2 and 1 bytes per parameter).")


# -- 2.1 ---------------------------------------------------------------------------------------

def check_perplexity(fn: Callable) -> Feedback:
    """Grade ``fn(logits (N, V), targets (N,)) -> float``: the perplexity of the targets."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(0)
    cases = [("uniform logits, V=10", torch.zeros(6, 10), torch.arange(6)),
             ("random logits, N=50, V=7", 3 * torch.randn(50, 7, generator=gen),
              torch.randint(0, 7, (50,), generator=gen))]
    for label, logits, targets in cases:
        ok, got = _call(fn, logits.clone(), targets.clone())
        if not ok:
            return _report(False, f"{label}: {got}")
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        nll = F.cross_entropy(logits, targets).item()
        expected = math.exp(nll)
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return _report(False, f"{label}: expected a number, got {type(got).__name__}.")
        if not math.isclose(got, expected, rel_tol=1e-4):
            hint = ""
            if math.isclose(got, nll, rel_tol=1e-4):
                hint = " That is the cross-entropy: perplexity is exp(cross-entropy)."
            elif math.isclose(got, 2 ** nll, rel_tol=1e-4):
                hint = " Use e**H with H in nats (or 2**H with H in bits), not 2**nats."
            return _report(False, f"{label}: expected {expected:.4f}, got {got:.4f}.{hint}")
    return _report(True, "perplexity matches exp(cross-entropy); uniform over 10 gives 10.")


# -- 2.2 ---------------------------------------------------------------------------------------

def check_bpe_step(fn: Callable) -> Feedback:
    """Grade ``fn(words) -> (pair, new_words)``: one BPE merge. ``words`` maps a word, as a
    tuple of symbols, to its count; ``pair`` is the most frequent adjacent pair (ties: the
    pair that sorts first) and ``new_words`` the words with that pair merged."""
    from .tokenization import _merge_word

    if (bad := _not_callable(fn)) is not None:
        return bad
    cases = [
        {("l", "o", "w"): 5, ("l", "o", "w", "e", "r"): 2, ("n", "e", "w", "e", "s", "t"): 6,
         ("w", "i", "d", "e", "s", "t"): 3},
        {("a", "a", "a"): 1, ("b", "c"): 1},
        {("h", "e", "r"): 3, ("a", "b"): 3},
    ]
    for words in cases:
        ok, got = _call(fn, dict(words))
        if not ok:
            return _report(False, f"words {words}: {got}")
        counts: dict[tuple[str, str], int] = {}
        for word, n in words.items():
            for pair in zip(word, word[1:]):
                counts[pair] = counts.get(pair, 0) + n
        best = min(counts, key=lambda p: (-counts[p], p))
        expected = {_merge_word(w, best): n for w, n in words.items()}
        if not isinstance(got, tuple) or len(got) != 2:
            return _report(False, "return a tuple (pair, new_words).")
        pair, new_words = got
        if tuple(pair) != best:
            hint = (f" {tuple(pair)} occurs {counts.get(tuple(pair), 0)} times, {best} "
                    f"{counts[best]} times." if tuple(pair) in counts else "")
            if tuple(pair) in counts and counts[tuple(pair)] == counts[best]:
                hint += " On a tie, take the pair that sorts first."
            else:
                hint += " Count every adjacent pair, weighted by the word's count."
            return _report(False, f"words {words}: expected the pair {best}, got "
                                  f"{pair!r}.{hint}")
        if new_words != expected:
            return _report(False, f"words {words}: merging {best} should give {expected}, got "
                                  f"{new_words!r}. Merge left to right; 'a a a' with ('a', 'a') "
                                  f"gives ('aa', 'a').")
    return _report(True, "the pair and the merged words are right in all 3 cases "
                         "(including a tie and an overlapping pair).")


# -- 2.4 ---------------------------------------------------------------------------------------

def check_bert_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(vocab_size, d_model, num_layers, d_ff, max_positions, type_vocab_size) ->
    int``: the parameters of a ``BertModel`` (embeddings, encoder layers, pooler)."""
    from transformers import BertConfig, BertModel

    if (bad := _not_callable(fn)) is not None:
        return bad
    for args in [(100, 16, 2, 64, 32, 2), (30522, 768, 12, 3072, 512, 2),
                 (21128, 312, 4, 1200, 512, 2)]:
        vocab, d, layers, d_ff, positions, types = args
        ok, got = _call(fn, *args)
        if not ok:
            return _report(False, f"{args}: {got}")
        config = BertConfig(vocab_size=vocab, hidden_size=d, num_hidden_layers=layers,
                            num_attention_heads=4, intermediate_size=d_ff,
                            max_position_embeddings=positions, type_vocab_size=types)
        with torch.device("meta"):
            expected = sum(p.numel() for p in BertModel(config).parameters())
        if got != expected:
            hint = ""
            if isinstance(got, int) and not isinstance(got, bool):
                if got == expected - (d * d + d):
                    hint = " Add the pooler: one d x d layer with bias on [CLS]."
                elif got == expected - 2 * d * (2 * layers + 1):
                    hint = " Add the LayerNorms: a weight and a bias of size d each."
                elif got < expected:
                    hint = (" Too few: did you count every bias, and the position and "
                            "segment embeddings?")
            return _report(False, f"vocab={vocab}, d={d}, layers={layers}, d_ff={d_ff}: "
                                  f"expected {expected:,}, got {got!r}.{hint}")
    return _report(True, "exact for a tiny BERT, BERT-base (109,482,240) and a 4-layer "
                         "Chinese-vocabulary BERT.")


# -- 2.5 ---------------------------------------------------------------------------------------

def check_freeze_body(fn: Callable) -> Feedback:
    """Grade ``fn(model) -> int``: freeze every parameter of a sequence classifier except its
    ``classifier`` head, and return the number of trainable parameters left."""
    from transformers import BertConfig, BertForSequenceClassification

    if (bad := _not_callable(fn)) is not None:
        return bad
    torch.manual_seed(0)
    config = BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, num_labels=3)
    model = BertForSequenceClassification(config)
    ok, got = _call(fn, model)
    if not ok:
        return _report(False, got)
    head = {n for n, _ in model.named_parameters() if n.startswith("classifier")}
    wrong_frozen = [n for n, p in model.named_parameters() if n in head and not p.requires_grad]
    wrong_trainable = [n for n, p in model.named_parameters()
                       if n not in head and p.requires_grad]
    expected = sum(p.numel() for n, p in model.named_parameters() if n in head)
    if wrong_frozen:
        return _report(False, f"the head must stay trainable, but {wrong_frozen} are frozen.")
    if wrong_trainable:
        return _report(False, f"{len(wrong_trainable)} body parameters are still trainable, "
                              f"e.g. {wrong_trainable[0]!r}: set requires_grad = False.")
    if got != expected:
        return _report(False, f"the parameters are frozen correctly, but return the number of "
                              f"trainable parameters ({expected}), got {got!r}.")
    return _report(True, f"only the classifier head ({expected} parameters: 16 x 3 weights "
                         f"+ 3 biases) is trainable.")
