"""A tiny decoder-only language model for experiments on the layer equations (Section 4.2).

:class:`TinyLM` stacks causal :class:`~llmbook.transformer.EncoderLayer` s (the Transformer
chapter's layer, without dropout) in post-LN or pre-LN form; :func:`layer_gradient_norms`
measures how much gradient reaches each layer.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import causal_mask
from .transformer import EncoderLayer

__all__ = ["TinyLM", "layer_gradient_norms"]


class TinyLM(nn.Module):
    """A small decoder-only language model: token + learned position embeddings,
    ``depth`` causal :class:`~llmbook.transformer.EncoderLayer` blocks (post-LN or pre-LN,
    dropout 0), a final LayerNorm for pre-LN (post-LN layers already end in one), and a
    linear head."""

    def __init__(self, vocab_size: int, d_model: int = 64, num_heads: int = 4,
                 d_ff: int = 128, depth: int = 2, max_len: int = 128, *,
                 norm_first: bool = True):
        super().__init__()
        for name, v in (("vocab_size", vocab_size), ("depth", depth), ("max_len", max_len)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive int, got {v!r}.")
        self.max_len = max_len
        self.tok = nn.Embedding(vocab_size, d_model)
        self.pos = nn.Embedding(max_len, d_model)
        self.layers = nn.ModuleList(
            EncoderLayer(d_model, num_heads, d_ff, dropout=0.0, norm_first=norm_first)
            for _ in range(depth))
        self.final_norm = nn.LayerNorm(d_model) if norm_first else nn.Identity()
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """``ids (B, T)`` int64 -> logits ``(B, T, vocab_size)``."""
        if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.is_floating_point():
            raise ValueError(f"ids must be an integer tensor (B, T), got "
                             f"{getattr(ids, 'shape', type(ids).__name__)}.")
        if ids.size(1) > self.max_len:
            raise ValueError(f"sequence length {ids.size(1)} exceeds max_len={self.max_len}.")
        x = self.tok(ids) + self.pos(torch.arange(ids.size(1), device=ids.device))
        mask = causal_mask(ids.size(1), device=ids.device)
        for layer in self.layers:
            x = layer(x, mask)
        return self.head(self.final_norm(x))


def layer_gradient_norms(model: TinyLM) -> list[float]:
    """The L2 norm of the gradient of each layer's parameters (call after ``backward``)."""
    if not isinstance(model, TinyLM):
        raise TypeError(f"expected a TinyLM, got {type(model).__name__}.")
    norms = []
    for layer in model.layers:
        grads = [p.grad.flatten() for p in layer.parameters() if p.grad is not None]
        if not grads:
            raise RuntimeError("no gradients: call loss.backward() first.")
        norms.append(float(torch.cat(grads).norm()))
    return norms
