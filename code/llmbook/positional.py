"""Positional encodings (Section 2.3).

Self-attention treats its input as a *set*: permuting the tokens permutes the output
the same way. Position information has to be added to the token embeddings.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["sinusoidal_encoding", "SinusoidalPositionalEncoding", "relative_offset_check"]


def sinusoidal_encoding(length: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    r"""The ``(length, d_model)`` sinusoidal table of Vaswani et al. (2017):

    :math:`PE_{(p, 2i)} = \sin(p / \mathrm{base}^{2i/d})`,
    :math:`PE_{(p, 2i+1)} = \cos(p / \mathrm{base}^{2i/d})`.
    """
    for name, v in (("length", length), ("d_model", d_model)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")
    if d_model % 2:
        raise ValueError(f"d_model must be even (sin and cos come in pairs), got {d_model}.")
    if base <= 1:
        raise ValueError(f"base must be > 1, got {base}.")
    position = torch.arange(length, dtype=torch.float64)[:, None]        # (length, 1)
    two_i = torch.arange(0, d_model, 2, dtype=torch.float64)             # (d_model/2,)
    angle = position / base ** (two_i / d_model)                          # (length, d/2)
    table = torch.empty(length, d_model, dtype=torch.float64)
    table[:, 0::2] = torch.sin(angle)
    table[:, 1::2] = torch.cos(angle)
    return table.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Adds the sinusoidal table to ``(B, T, d_model)`` embeddings, then dropout.

    The table is a buffer (saved with the model, never trained). Embeddings are
    usually multiplied by ``sqrt(d_model)`` before, as in the 2017 paper.
    """

    def __init__(self, d_model: int, max_len: int = 5000, dropout: float = 0.0):
        super().__init__()
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)
        self.d_model, self.max_len = d_model, max_len

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3 or x.size(-1) != self.d_model:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected a (batch, length, d_model={self.d_model}) tensor, "
                             f"got {shape}.")
        if x.size(1) > self.max_len:
            raise ValueError(f"sequence length {x.size(1)} exceeds max_len={self.max_len}; "
                             f"build the module with a larger max_len.")
        return self.dropout(x + self.table[: x.size(1)])


def relative_offset_check(table: torch.Tensor, offset: int) -> float:
    """How well one fixed linear map sends ``PE[p]`` to ``PE[p + offset]`` for every
    ``p``: the maximum error of the best rotation (0 means exactly linear).

    For each frequency pair (sin, cos) the map is a 2x2 rotation by
    ``offset * frequency`` — the property that lets attention read relative
    positions from absolute encodings.
    """
    length, d_model = table.shape
    if not 0 < offset < length:
        raise ValueError(f"offset must be between 1 and {length - 1}, got {offset}.")
    base_rows, shifted = table[:-offset].double(), table[offset:].double()
    # least-squares linear map M with base_rows @ M ≈ shifted
    solution = torch.linalg.lstsq(base_rows, shifted).solution
    return float((base_rows @ solution - shifted).abs().max())
