"""The worked example of Section 4.5: self-attention on ``[CLS] a b [SEP]``, by hand.

Small integer matrices, so that every intermediate can be checked with pen and paper;
:func:`intermediates` returns all of them.
"""

from __future__ import annotations

import math

import torch

__all__ = ["TOKENS", "X", "W_Q", "W_K", "W_V", "intermediates"]

#: The four tokens of the worked example and their integer embeddings (one row each).
TOKENS = ("[CLS]", "a", "b", "[SEP]")
X = ((1, 0, 1), (0, 1, 0), (1, 1, 0), (0, 0, 1))
W_Q = ((1, 0, 1, 0), (0, 1, 0, 1), (1, 0, 0, 1))
W_K = ((0, 1, 1, 0), (1, 0, 0, 1), (0, 1, 0, 1))
W_V = ((1, 0), (0, 2), (1, 1))


def intermediates() -> dict[str, torch.Tensor]:
    r"""Every intermediate of self-attention on :data:`TOKENS` with the small integer
    matrices above (float64): ``X (4x3)``, ``W_q, W_k (3x4)``, ``W_v (3x2)``, ``Q, K (4x4)``,
    ``V (4x2)``, ``scores = QK^T (4x4)``, ``scaled_scores`` (divided by
    :math:`\sqrt{d_k} = 2`), ``weights`` (row-wise softmax) and ``output = weights V (4x2)``.
    """
    as_t = lambda m: torch.tensor(m, dtype=torch.float64)  # noqa: E731
    x, w_q, w_k, w_v = as_t(X), as_t(W_Q), as_t(W_K), as_t(W_V)
    q, k, v = x @ w_q, x @ w_k, x @ w_v
    scores = q @ k.T
    sqrt_dk = math.sqrt(q.size(-1))
    weights = torch.softmax(scores / sqrt_dk, dim=-1)
    return {"X": x, "W_q": w_q, "W_k": w_k, "W_v": w_v, "Q": q, "K": k, "V": v,
            "scores": scores, "sqrt_dk": sqrt_dk, "scaled_scores": scores / sqrt_dk,
            "weights": weights, "output": weights @ v}
