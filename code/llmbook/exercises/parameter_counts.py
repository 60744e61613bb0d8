"""Graders of the exercises on model size: parameter counts of multi-head attention (2.3),
BERT (2.4), the encoder-decoder Transformer (3.2) and GPT (3.4), and the memory the
weights take (1.3)."""

from __future__ import annotations

import warnings
from typing import Callable

import torch

from ._feedback import Case, Feedback, _run_cases

__all__ = ["check_mha_parameter_count", "check_bert_parameter_count",
           "check_transformer_parameter_count", "check_gpt_parameter_count",
           "check_model_memory"]


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_mha_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(d_model, num_heads) -> int``, the number of parameters of one
    multi-head attention layer with biases (as ``torch.nn.MultiheadAttention``)."""

    def judge(case: Case, got) -> str | None:
        d_model, heads = case.args
        mha = torch.nn.MultiheadAttention(d_model, heads, device="meta")
        expected = sum(p.numel() for p in mha.parameters())
        if got == expected:
            return None
        hint = ""
        if got == 4 * d_model * d_model:
            hint = " You counted the four weight matrices; add their biases."
        elif got == 4 * d_model * (d_model // heads) + 4 * d_model:
            hint = " That is one head's share: the h heads together span d_model."
        return f"d_model={d_model}, heads={heads}: expected {expected:,}, got {got!r}.{hint}"

    return _run_cases(fn, (Case(f"d_model={d}, heads={h}", (d, h))
                           for d, h in ((8, 2), (512, 8), (768, 12))), judge,
                      "right for (8, 2), (512, 8) and (768, 12): 4·d² + 4·d, whatever "
                      "the number of heads.")


def check_bert_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(vocab_size, d_model, num_layers, d_ff, max_positions, type_vocab_size) ->
    int``: the parameters of a ``BertModel`` (embeddings, encoder layers, pooler)."""
    from transformers import BertConfig, BertModel

    def judge(case: Case, got) -> str | None:
        vocab, d, layers, d_ff, positions, types = case.args
        config = BertConfig(vocab_size=vocab, hidden_size=d, num_hidden_layers=layers,
                            num_attention_heads=4, intermediate_size=d_ff,
                            max_position_embeddings=positions, type_vocab_size=types)
        with torch.device("meta"):
            expected = sum(p.numel() for p in BertModel(config).parameters())
        if got == expected:
            return None
        hint = ""
        if _is_int(got):
            if got == expected - (d * d + d):
                hint = " Add the pooler: one d x d layer with bias on [CLS]."
            elif got == expected - 2 * d * (2 * layers + 1):
                hint = " Add the LayerNorms: a weight and a bias of size d each."
            elif got < expected:
                hint = (" Too few: did you count every bias, and the position and "
                        "segment embeddings?")
        return (f"vocab={vocab}, d={d}, layers={layers}, d_ff={d_ff}: expected {expected:,}, "
                f"got {got!r}.{hint}")

    return _run_cases(fn, (Case(f"{args}", args) for args in [
        (100, 16, 2, 64, 32, 2), (30522, 768, 12, 3072, 512, 2), (21128, 312, 4, 1200, 512, 2)]),
        judge, "exact for a tiny BERT, BERT-base (109,482,240) and a 4-layer "
               "Chinese-vocabulary BERT.")


def check_transformer_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(d_model, num_heads, d_ff, num_encoder_layers, num_decoder_layers)
    -> int``: the parameters of ``torch.nn.Transformer`` with those sizes."""

    def judge(case: Case, got) -> str | None:
        d, h, ff, n_enc, n_dec = sizes = case.args
        with warnings.catch_warnings():  # PyTorch's note on its nested-tensor shortcut
            warnings.simplefilter("ignore")
            model = torch.nn.Transformer(d, h, n_enc, n_dec, ff, batch_first=True,
                                         device="meta")
        expected = sum(p.numel() for p in model.parameters())
        if got == expected:
            return None
        attn, norm = 4 * d * d + 4 * d, 2 * d
        hint = ""
        if isinstance(got, int) and got == expected - 2 * norm:
            hint = " Add the final LayerNorm of the encoder and of the decoder."
        elif isinstance(got, int) and got == expected - n_dec * (attn + norm):
            hint = " Each decoder layer also has cross-attention and a third LayerNorm."
        elif isinstance(got, int) and got < expected and (expected - got) % (2 * d) == 0:
            hint = " Count the LayerNorms: each has a weight and a bias of size d_model."
        return (f"sizes (d_model, heads, d_ff, enc, dec) = {sizes}: expected {expected:,}, "
                f"got {got!r}.{hint}")

    return _run_cases(fn, (Case(f"sizes {s}", s) for s in (
        (8, 2, 16, 1, 1), (64, 4, 128, 2, 3), (512, 8, 2048, 6, 6))), judge,
        "right for three sizes, including the 2017 base model "
        "(44,140,544 parameters without embeddings).")


def check_gpt_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(vocab_size, block_size, n_layer, n_embd) -> int``: the number of
    parameters of :class:`llmbook.gpt.GPT` (biases on, tied output layer counted once)."""
    from ..gpt import GPT, GPTConfig

    def cases():
        for vocab, block, layers, embd in ((70, 128, 4, 128), (65, 64, 2, 32),
                                           (50257, 1024, 12, 768)):
            if embd == 768:
                expected = 124_439_808          # GPT-2 small, the published count
            else:
                expected = GPT(GPTConfig(vocab_size=vocab, block_size=block, n_layer=layers,
                                         n_head=4, n_embd=embd)).num_parameters()
            yield Case(f"vocab={vocab}, block={block}, n_layer={layers}, n_embd={embd}",
                       (vocab, block, layers, embd), expected)

    def judge(case: Case, got) -> str | None:
        vocab, _, _, embd = case.args
        expected = case.context
        if not _is_int(got):
            return f"{case.label}: expected an int, got {type(got).__name__}."
        if got == expected:
            return None
        hint = ""
        if got - expected == vocab * embd:
            hint = (" You counted the output layer separately: it is tied to the token "
                    "embedding, so it adds no parameters.")
        elif got < expected:
            hint = (" Too few: remember the biases, both LayerNorms per block (gain and "
                    "bias), the final LayerNorm and the position embeddings.")
        return f"{case.label}: expected {expected:,}, got {got:,}.{hint}"

    return _run_cases(fn, cases(), judge, "right for the book's model, a tiny one and GPT-2 "
                                          "small (124,439,808).")


def check_model_memory(fn: Callable) -> Feedback:
    """Grade ``fn(num_parameters, dtype) -> int``: bytes needed to store the weights."""

    def judge(case: Case, got) -> str | None:
        n, dtype = case.args
        expected = n * torch.empty((), dtype=dtype).element_size()
        if isinstance(got, (int, float)) and not isinstance(got, bool) and got == expected:
            return None
        hint = ""
        if isinstance(got, (int, float)) and got == expected * 8:
            hint = " That is bits: divide by 8 for bytes."
        return f"{n:,} parameters in {dtype}: expected {expected:,} bytes, got {got!r}.{hint}"

    return _run_cases(fn, (Case(f"{n:,} parameters in {dtype}", (n, dtype)) for n, dtype in [
        (1_000, torch.float32), (134_515_008, torch.float16), (124_439_808, torch.bfloat16),
        (7_000_000_000, torch.int8)]), judge,
        "right for float32, float16, bfloat16 and int8 (4, 2, 2 and 1 bytes per parameter).")
