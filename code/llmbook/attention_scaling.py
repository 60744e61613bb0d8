r"""Why attention divides by :math:`\sqrt{d_k}`: the variance experiment of Section 4.1.

:func:`softmax_saturation` measures, for raw and for scaled scores of random queries and
keys, the variance of the scores, how peaked the softmax is, and how much gradient it lets
through.
"""

from __future__ import annotations

import math

import torch

__all__ = ["softmax_saturation"]


@torch.no_grad()
def softmax_saturation(d_values, *, num_keys: int = 16, num_queries: int = 2000,
                       seed: int = 0) -> dict[str, list[float]]:
    """The variance experiment behind :math:`\\sqrt{d_k}`.

    For each ``d_k`` in ``d_values`` draws ``num_queries`` queries and ``num_keys``
    keys with independent N(0, 1) entries, and returns, for raw and for scaled scores:
    the variance of the scores, the mean largest softmax weight, and the mean
    Frobenius norm of the softmax Jacobian ``diag(p) - p p^T`` (how much gradient
    the softmax lets through).
    """
    d_values = [int(d) for d in d_values]
    if not d_values or min(d_values) < 1:
        raise ValueError(f"d_values must be positive ints, got {d_values!r}.")
    if num_keys < 2 or num_queries < 2:
        raise ValueError("num_keys and num_queries must be at least 2.")
    gen = torch.Generator().manual_seed(seed)
    out: dict[str, list[float]] = {k: [] for k in (
        "d_k", "var_raw", "var_scaled", "max_weight_raw", "max_weight_scaled",
        "jacobian_norm_raw", "jacobian_norm_scaled")}
    for d in d_values:
        q = torch.randn(num_queries, 1, d, generator=gen, dtype=torch.float64)
        k = torch.randn(num_queries, num_keys, d, generator=gen, dtype=torch.float64)
        raw = (q * k).sum(-1)                                   # (queries, keys)
        out["d_k"].append(d)
        for tag, scores in (("raw", raw), ("scaled", raw / math.sqrt(d))):
            p = torch.softmax(scores, -1)
            jac = torch.diag_embed(p) - p[:, :, None] * p[:, None, :]
            out[f"var_{tag}"].append(float(scores.var()))
            out[f"max_weight_{tag}"].append(float(p.max(-1).values.mean()))
            out[f"jacobian_norm_{tag}"].append(float(jac.flatten(1).norm(dim=1).mean()))
    return out
