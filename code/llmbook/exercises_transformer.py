"""Checking functions for the exercises of Sections 3.1, 3.2 and 5.2.

Like :mod:`llmbook.exercises`, each ``check_*`` runs the reader's code on small seeded
inputs, prints one helpful message and returns a :class:`~llmbook.exercises.Feedback`;
a wrong answer never raises.
"""

from __future__ import annotations

import warnings
from typing import Callable

import torch

from .exercises import Feedback, _call, _compare, _report

__all__ = ["check_causal_mask", "check_target_mask", "check_encoder_layer",
           "check_transformer_parameter_count"]


def _not_callable(fn) -> Feedback | None:
    if not callable(fn):
        return _report(False, f"pass your function itself, not {type(fn).__name__}.")
    return None


def check_causal_mask(fn: Callable) -> Feedback:
    """Grade ``fn(size) -> (size, size)`` boolean mask, ``True`` where position ``t``
    may attend (positions ``0..t``)."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    for size in (1, 4, 7):
        ok, got = _call(fn, size)
        if not ok:
            return _report(False, f"size={size}: {got}")
        expected = torch.ones(size, size, dtype=torch.bool).tril()
        if not isinstance(got, torch.Tensor):
            return _report(False, f"size={size}: expected a torch.Tensor, got "
                                  f"{type(got).__name__}.")
        if tuple(got.shape) != (size, size):
            return _report(False, f"size={size}: expected shape ({size}, {size}), got "
                                  f"{tuple(got.shape)}.")
        if got.dtype != torch.bool:
            return _report(False, f"size={size}: expected a boolean tensor (True = may "
                                  f"attend), got {got.dtype}. Compare, or call .bool().")
        if not torch.equal(got, expected):
            if torch.equal(got, ~expected):
                hint = (" It is the exact opposite: you marked the BLOCKED positions "
                        "(PyTorch's nn.Transformer convention); here True means allowed.")
            elif torch.equal(got, expected.T):
                hint = (" It is transposed: row t (a query) must allow columns 0..t, "
                        "the past, not the future. Use tril, not triu.")
            elif torch.equal(got, expected.tril(-1)):
                hint = " The diagonal is False: a position must be allowed to see itself."
            else:
                hint = ""
            return _report(False, f"size={size}: wrong mask, expected\n"
                                  f"{expected.int().numpy()}\ngot\n{got.int().numpy()}.{hint}")
    return _report(True, "right for sizes 1, 4 and 7: each row t allows columns 0..t.")


def check_target_mask(fn: Callable) -> Feedback:
    """Grade ``fn(tgt, pad_id) -> mask`` broadcastable to ``(B, 1, T, T)``: causal and
    hiding padding keys of a batch of decoder inputs."""
    from .transformer import target_mask

    if (bad := _not_callable(fn)) is not None:
        return bad
    tgt = torch.tensor([[1, 5, 6, 7, 2], [1, 8, 2, 0, 0]])
    ok, got = _call(fn, tgt, 0)
    if not ok:
        return _report(False, got)
    expected = target_mask(tgt, 0)
    if not isinstance(got, torch.Tensor):
        return _report(False, f"expected a torch.Tensor, got {type(got).__name__}.")
    if got.dtype != torch.bool:
        return _report(False, f"expected a boolean tensor (True = may attend), got {got.dtype}.")
    try:
        got = torch.broadcast_to(got, expected.shape)
    except RuntimeError:
        return _report(False, f"shape {tuple(got.shape)} does not broadcast to (batch, 1, T, T)"
                              f" = {tuple(expected.shape)}: add the singleton head axis, "
                              f"e.g. mask[:, None].")
    if not torch.equal(got, expected):
        causal_only = torch.ones(5, 5, dtype=torch.bool).tril().expand_as(expected)
        padding_only = (tgt != 0)[:, None, None, :].expand_as(expected)
        if torch.equal(got, causal_only):
            hint = " It is causal but lets queries attend to the padding (id 0) of sequence 2."
        elif torch.equal(got, padding_only):
            hint = " It hides padding but lets positions see the future: combine with & causal."
        elif torch.equal(got, ~expected):
            hint = " It is inverted: True must mean 'may attend'."
        else:
            hint = ""
        return _report(False, f"wrong mask for sequence 2 ({tgt[1].tolist()}): expected\n"
                              f"{expected[1, 0].int().numpy()}\ngot\n"
                              f"{got[1, 0].int().numpy()}.{hint}")
    return _report(True, "causal and padding-aware: each position sees the real tokens up to "
                         "itself.")


def check_encoder_layer(fn: Callable) -> Feedback:
    """Grade ``fn(layer, x, mask) -> (B, S, d_model)``: the forward pass of a post-LN
    :class:`~llmbook.transformer.EncoderLayer`, written with its parts
    ``layer.self_attn``, ``layer.feed_forward``, ``layer.norm1``, ``layer.norm2``
    (dropout is off: the layer is in evaluation mode)."""
    from .attention import padding_mask
    from .transformer import EncoderLayer

    if (bad := _not_callable(fn)) is not None:
        return bad
    gen = torch.Generator().manual_seed(0)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.0).eval()
    torch.random.set_rng_state(torch_state)
    x = torch.randn(2, 5, 16, generator=gen)
    mask = padding_mask([5, 3])
    with torch.no_grad():
        expected = layer(x, mask)
        ok, got = _call(fn, layer, x, mask)
    if not ok:
        return _report(False, got)
    problem = _compare("encoder layer output", got, expected)
    if problem:
        if isinstance(got, torch.Tensor) and got.shape == expected.shape:
            with torch.no_grad():
                layer.norm_first = True
                pre_ln = layer(x, mask)
                layer.norm_first = False
                no_mask = layer(x)
            if torch.allclose(got, pre_ln, atol=1e-5):
                problem += (" It equals the PRE-LN layer x + Sublayer(LN(x)); this exercise "
                            "asks for post-LN: LN(x + Sublayer(x)).")
            elif torch.allclose(got, no_mask, atol=1e-5):
                problem += " It equals the layer WITHOUT the mask: pass mask to self_attn."
            elif torch.allclose(got[0], expected[0], atol=1e-5):
                problem += " Sequence 1 (no padding) is right: check how you use the mask."
        return _report(False, problem)
    return _report(True, "matches EncoderLayer (post-LN) on a padded batch of 2.")


def check_transformer_parameter_count(fn: Callable) -> Feedback:
    """Grade ``fn(d_model, num_heads, d_ff, num_encoder_layers, num_decoder_layers)
    -> int``: the parameters of ``torch.nn.Transformer`` with those sizes."""
    if (bad := _not_callable(fn)) is not None:
        return bad
    for sizes in ((8, 2, 16, 1, 1), (64, 4, 128, 2, 3), (512, 8, 2048, 6, 6)):
        ok, got = _call(fn, *sizes)
        if not ok:
            return _report(False, f"sizes {sizes}: {got}")
        d, h, ff, n_enc, n_dec = sizes
        with warnings.catch_warnings():  # PyTorch's note on its nested-tensor shortcut
            warnings.simplefilter("ignore")
            model = torch.nn.Transformer(d, h, n_enc, n_dec, ff, batch_first=True,
                                         device="meta")
        expected = sum(p.numel() for p in model.parameters())
        if got != expected:
            attn, ffn, norm = 4 * d * d + 4 * d, 2 * d * ff + ff + d, 2 * d
            hint = ""
            if isinstance(got, int) and got == expected - 2 * norm:
                hint = " Add the final LayerNorm of the encoder and of the decoder."
            elif isinstance(got, int) and got == expected - n_dec * (attn + norm):
                hint = " Each decoder layer also has cross-attention and a third LayerNorm."
            elif isinstance(got, int) and got < expected and \
                    (expected - got) % (2 * d) == 0:
                hint = " Count the LayerNorms: each has a weight and a bias of size d_model."
            return _report(False, f"sizes (d_model, heads, d_ff, enc, dec) = {sizes}: "
                                  f"expected {expected:,}, got {got!r}.{hint}")
    return _report(True, "right for three sizes, including the 2017 base model "
                         "(44,140,544 parameters without embeddings).")
