"""Graders of the exercises on using pretrained models with ``transformers`` (5.4, 5.6).

* :func:`check_new_tokens_only` -- decode only what ``generate`` added after the prompt;
* :func:`check_left_padding` -- pad a batch of prompts on the left, with its attention mask;
* :func:`check_predict_logits` -- logits for a batch, in eval mode and without gradients;
* :func:`check_generate_reply` -- a greedy reply of exactly ``n`` new tokens, prompt left out.

The graders run the reader's function on a tiny word-level tokenizer and tiny random models
built on the spot (seeded, nothing downloaded, a few milliseconds), so they need no
pretrained model. What ``transformers`` warns about during the reader's code is collected,
not printed, so a notebook stores no stray warnings.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from ..text_generation import collect_warnings
from ._feedback import Case, Feedback, _call, _compare, _not_callable, _report, _run_cases

__all__ = ["check_new_tokens_only", "check_left_padding", "check_predict_logits",
           "check_generate_reply"]

_WORDS = ["<pad>", "<eos>", "<unk>"] + ("the a cat dog sat on mat ran to park and big small "
                                        "red blue green house tree river old new").split()
PAD, EOS = 0, 1


def _tiny_tokenizer() -> Any:
    """A word-level tokenizer over :data:`_WORDS` (``<pad>`` 0, ``<eos>`` 1)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(_WORDS)},
                                         unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                   eos_token="<eos>", unk_token="<unk>",
                                   model_input_names=["input_ids", "attention_mask"])


def _quiet_call(fn: Callable, *args: Any) -> tuple[bool, Any]:
    with collect_warnings():
        return _call(fn, *args)


# --- 5.4: only the new tokens ----------------------------------------------------------------

def check_new_tokens_only(fn: Callable) -> Feedback:
    """Grade ``fn(tokenizer, input_ids, output_ids) -> list[str]``: the text of what
    ``generate`` added to each row (``output_ids`` is each prompt followed by its
    continuation; the prompts are left-padded), special tokens left out."""
    tok = _tiny_tokenizer()
    w = {word: i for i, word in enumerate(_WORDS)}
    one = torch.tensor([[w["the"], w["cat"], w["sat"]]])
    two = torch.tensor([[PAD, PAD, w["a"], w["dog"]], [w["the"], w["big"], w["red"], w["cat"]]])
    cases = [
        (one, torch.tensor([[w["on"], w["the"], w["mat"]]])),
        (two, torch.tensor([[w["ran"], EOS, PAD], [w["sat"], w["on"], w["mat"]]])),
    ]

    def judge(case: Case, got: Any) -> str | None:
        input_ids, output_ids = case.args[1], case.args[2]
        width = input_ids.shape[1]
        expected = tok.batch_decode(output_ids[:, width:], skip_special_tokens=True)
        if isinstance(got, str):
            return "return a list with one text per row (tokenizer.batch_decode), not a str."
        if not isinstance(got, (list, tuple)) or not all(isinstance(t, str) for t in got):
            return f"return a list of str, one per row; got {type(got).__name__}."
        got = list(got)
        if len(got) != len(expected):
            return f"{case.label}: expected {len(expected)} texts (one per row), got {len(got)}."
        if got == expected:
            return None
        if got == tok.batch_decode(output_ids, skip_special_tokens=True):
            return (f"{case.label}: your texts repeat the prompt ({got[0]!r}). generate returns "
                    f"prompt + continuation: keep only output_ids[:, input_ids.shape[1]:].")
        if got == tok.batch_decode(output_ids[:, width:]):
            return (f"{case.label}: special tokens are in your text ({got!r}): decode with "
                    f"skip_special_tokens=True.")
        lengths = (input_ids != PAD).sum(1).tolist()
        per_row = [tok.decode(row[n:], skip_special_tokens=True)
                   for row, n in zip(output_ids, lengths)]
        if got == per_row:
            return (f"{case.label}: you cut each row after its own unpadded length. The "
                    f"prompts are left-padded, so every prompt ends at the same column: "
                    f"slice at input_ids.shape[1].")
        return f"{case.label}: expected {expected!r}, got {got!r}."

    def inputs():
        for label, (prompt, new) in zip(("one prompt", "two left-padded prompts"), cases):
            yield Case(label, (tok, prompt, torch.cat([prompt, new], 1)))

    return _run_cases(fn, inputs(), judge,
                      "only the continuation is decoded, for one prompt and for a "
                      "left-padded batch (one row ended early with <eos> and padding).")


def check_left_padding(fn: Callable) -> Feedback:
    """Grade ``fn(sequences, pad_id) -> (input_ids, attention_mask)``: token-id lists padded
    on the **left** to the longest, as two (batch, longest) integer tensors; the mask is 1 on
    real tokens and 0 on padding."""
    cases = [([[5, 6, 7], [8, 9], [4]], 0), ([[3]], 0), ([[11, 12], [13, 14]], 2),
             ([[7, 8, 9, 10], [6]], 1)]

    def reference(sequences, pad_id, left=True):
        longest = max(map(len, sequences))
        ids, mask = [], []
        for s in sequences:
            pad = [pad_id] * (longest - len(s))
            ids.append(pad + list(s) if left else list(s) + pad)
            ones, zeros = [1] * len(s), [0] * (longest - len(s))
            mask.append(zeros + ones if left else ones + zeros)
        return torch.tensor(ids), torch.tensor(mask)

    def judge(case: Case, got: Any) -> str | None:
        sequences, pad_id = case.args
        ids, mask = reference(sequences, pad_id)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            return "return a tuple (input_ids, attention_mask)."
        got_ids, got_mask = got
        for name, t in (("input_ids", got_ids), ("attention_mask", got_mask)):
            if not isinstance(t, torch.Tensor):
                return f"{name} must be a torch.Tensor, got {type(t).__name__}."
            if t.dtype.is_floating_point:
                return (f"{name} must hold integers (torch.long): token ids index the "
                        f"embedding table; got {t.dtype}.")
        right_ids, right_mask = reference(sequences, pad_id, left=False)
        if got_ids.shape == ids.shape and torch.equal(got_ids.long(), right_ids) \
                and not torch.equal(right_ids, ids):
            return (f"sequences {sequences}: you padded on the right. A decoder continues from "
                    f"the last column, so the padding must come first (on the left).")
        if (problem := _compare(f"input_ids of {sequences}", got_ids.long(), ids, atol=0)):
            return problem + f" Expected {ids.tolist()}."
        if got_mask.shape == mask.shape and torch.equal(got_mask.long(), 1 - mask):
            return "the mask is inverted: 1 marks the real tokens, 0 the padding."
        if (problem := _compare(f"attention_mask of {sequences}", got_mask.long(), mask,
                                atol=0)):
            return problem + f" Expected {mask.tolist()}."
        return None

    return _run_cases(fn, [Case(f"sequences {s}", (s, p)) for s, p in cases], judge,
                      "left padding and attention masks are right for 4 batches (one of a "
                      "single token, one with no padding, other pad ids).")


# --- 5.6: eval mode, no gradients; generation length -----------------------------------------

def _tiny_classifier() -> Any:
    from transformers import BertConfig, BertForSequenceClassification

    config = BertConfig(vocab_size=len(_WORDS), hidden_size=16, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=32, num_labels=3,
                        hidden_dropout_prob=0.5, attention_probs_dropout_prob=0.5,
                        max_position_embeddings=32, pad_token_id=PAD)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        return BertForSequenceClassification(config)


def check_predict_logits(fn: Callable) -> Feedback:
    """Grade ``fn(model, batch) -> logits``: the classification logits (batch, labels) of a
    ``...ForSequenceClassification`` model for ``batch`` (a dict of input_ids and
    attention_mask), computed the way predictions should be: in eval mode (dropout off) and
    without tracking gradients. The model is handed over in training mode."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    model = _tiny_classifier()
    tok = _tiny_tokenizer()
    batch = dict(tok(["the cat sat on the mat", "a dog ran"], padding=True, return_tensors="pt"))
    model.eval()
    with torch.no_grad():
        expected = model(**batch).logits
    results = []
    for _ in range(2):
        model.train()
        ok, got = _quiet_call(fn, model, dict(batch))
        if not ok:
            return _report(False, got)
        results.append(got)
    got = results[0]
    if hasattr(got, "logits") and not isinstance(got, torch.Tensor):
        return _report(False, "return the logits tensor (outputs.logits), not the whole "
                              f"{type(got).__name__} object.")
    if not isinstance(got, torch.Tensor):
        return _report(False, f"return a torch.Tensor of logits, got {type(got).__name__}.")
    if tuple(got.shape) != tuple(expected.shape):
        return _report(False, f"expected logits of shape {tuple(expected.shape)} (batch, "
                              f"labels), got {tuple(got.shape)}.")
    if not torch.equal(results[0].detach(), results[1].detach()):
        return _report(False, "two calls on the same batch gave different logits: dropout is "
                              "still active. Call model.eval() before the forward pass.")
    if got.requires_grad:
        return _report(False, "the logits still track gradients (requires_grad=True), which "
                              "keeps every activation in memory: run the forward pass inside "
                              "torch.no_grad() (or torch.inference_mode()).")
    if (problem := _compare("logits", got, expected)):
        return _report(False, problem + " Pass the whole batch: model(**batch).logits.")
    return _report(True, "same logits on every call, no gradients tracked, equal to the "
                         "eval-mode forward pass.")


def _tiny_lm() -> Any:
    from transformers import GPT2Config, GPT2LMHeadModel

    config = GPT2Config(vocab_size=len(_WORDS), n_positions=64, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=None, eos_token_id=None, pad_token_id=PAD)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        model = GPT2LMHeadModel(config).eval()
    model.generation_config.eos_token_id = None   # never stop early: exactly n tokens
    return model


def check_generate_reply(fn: Callable) -> Feedback:
    """Grade ``fn(model, tokenizer, prompt, n) -> str``: the greedy continuation of ``prompt``,
    exactly ``n`` new tokens, decoded without the prompt and without special tokens."""
    model, tok = _tiny_lm(), _tiny_tokenizer()
    cases = [("the cat", 5), ("a big red house and a small", 3)]

    def greedy(prompt, **kwargs):
        enc = tok(prompt, return_tensors="pt")
        with collect_warnings(), torch.no_grad():
            out = model.generate(**enc, do_sample=False, pad_token_id=PAD, **kwargs)
        return out, enc.input_ids.shape[1]

    def judge(case: Case, got: Any) -> str | None:
        _, _, prompt, n = case.args
        out, width = greedy(prompt, max_new_tokens=n)
        expected = tok.decode(out[0, width:], skip_special_tokens=True)
        if not isinstance(got, str):
            return f"{case.label}: return the reply as a str, got {type(got).__name__}."
        ok, again = _quiet_call(case.context, *case.args)
        if ok and again != got:
            return (f"{case.label}: two calls gave different replies ({got!r}, {again!r}): "
                    f"use greedy decoding (do_sample=False) for a reproducible answer.")
        if got == expected:
            return None
        if got == tok.decode(out[0], skip_special_tokens=True):
            return (f"{case.label}: the reply starts with the prompt {prompt!r}: decode only "
                    f"out[0, input_ids.shape[1]:].")
        n_got = len(tok(got).input_ids) if got else 0
        if n > width and got == tok.decode(out[0, width:n], skip_special_tokens=True):
            return (f"{case.label}: {n_got} new tokens instead of {n}: max_length counts the "
                    f"prompt's {width} tokens too. Use max_new_tokens={n}.")
        if n_got != n:
            return f"{case.label}: expected {n} new tokens, got {n_got} ({got!r})."
        return (f"{case.label}: expected the greedy reply {expected!r}, got {got!r}. Use "
                f"do_sample=False (greedy) and pass the attention mask.")

    with collect_warnings():   # what transformers says about the reader's calls stays quiet
        return _run_cases(fn, [Case(f"prompt {p!r}, n={n}", (model, tok, p, n), fn)
                               for p, n in cases],
                          judge, "exactly n greedy tokens, without the prompt, for a short and "
                                 "a long prompt.")
