"""Graders of the exercises on Transformer layers: the forward pass of a post-LN encoder
layer (3.1) and a pre-LN layer from its parts (4.2)."""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ._feedback import Case, Feedback, _close, _compare, _run_cases

__all__ = ["check_encoder_layer", "check_pre_ln_layer"]


def check_encoder_layer(fn: Callable) -> Feedback:
    """Grade ``fn(layer, x, mask) -> (B, S, d_model)``: the forward pass of a post-LN
    :class:`~llmbook.transformer.EncoderLayer`, written with its parts
    ``layer.self_attn``, ``layer.feed_forward``, ``layer.norm1``, ``layer.norm2``
    (dropout is off: the layer is in evaluation mode)."""
    from ..attention import padding_mask
    from ..transformer import EncoderLayer

    gen = torch.Generator().manual_seed(0)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(0)
    layer = EncoderLayer(16, 4, 32, dropout=0.0).eval()
    torch.random.set_rng_state(torch_state)
    x = torch.randn(2, 5, 16, generator=gen)
    mask = padding_mask([5, 3])

    def cases():
        yield Case(None, (layer, x, mask), layer(x, mask))

    def judge(case: Case, got) -> str | None:
        expected = case.context
        problem = _compare("encoder layer output", got, expected)
        if problem and isinstance(got, torch.Tensor) and got.shape == expected.shape:
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
        return problem

    with torch.no_grad():
        return _run_cases(fn, cases(), judge,
                          "matches EncoderLayer (post-LN) on a padded batch of 2.")


def check_pre_ln_layer(fn: Callable) -> Feedback:
    """Grade ``fn(x, attention, ffn, norm1, norm2) -> y``, one pre-LN layer, where
    ``attention(z)`` and ``ffn(z)`` are callables and ``norm1``/``norm2`` LayerNorms."""
    gen = torch.Generator().manual_seed(1)
    torch_state = torch.random.get_rng_state()
    torch.manual_seed(1)
    attn, ffn = nn.Linear(8, 8), nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
    norm1, norm2 = nn.LayerNorm(8), nn.LayerNorm(8)
    with torch.no_grad():
        for norm in (norm1, norm2):
            norm.weight.uniform_(0.5, 1.5)
            norm.bias.uniform_(-0.5, 0.5)
    torch.random.set_rng_state(torch_state)
    x = 3 * torch.randn(2, 5, 8, generator=gen) + 1

    def judge(case: Case, got) -> str | None:
        h = x + attn(norm1(x))
        expected = h + ffn(norm2(h))
        problem = _compare("pre-LN layer", got, expected)
        if problem:
            post = norm1(x + attn(x))
            post = norm2(post + ffn(post))
            if _close(got, post):
                problem += (" That is the post-LN layer LN(x + f(x)); pre-LN normalises the "
                            "input of each sub-layer: x + f(LN(x)).")
            elif _close(got, ffn(norm2(h))):
                problem += " The second residual connection is missing: add h back."
            elif _close(got, norm2(h + ffn(norm2(h)))):
                problem += " Pre-LN does not normalise after the residual sum."
        return problem

    with torch.no_grad():
        return _run_cases(fn, [Case(None, (x, attn, ffn, norm1, norm2))], judge,
                          "matches h = x + Attn(LN1(x)), y = h + FFN(LN2(h)).")
