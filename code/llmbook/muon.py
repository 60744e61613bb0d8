r"""The Muon optimizer (Jordan et al. 2024) for the weight matrices of a Transformer's blocks.

Muon -- *MomentUm Orthogonalized by Newton-Schulz* -- keeps SGD's momentum ``M`` of the
gradient of a weight matrix ``W``, and then, instead of stepping along ``M``, steps along the
**orthogonal matrix nearest to it**: with the singular value decomposition
:math:`M = U \Sigma V^\top`, the update is :math:`U V^\top`, every singular value set to 1.
AdamW's step is dominated by the few directions with large gradients; Muon's moves every
direction of the matrix by the same amount, which trains language models in fewer steps
(the modded-nanogpt speedrun; Liu et al. 2025 at scale).

An SVD per matrix per step would be slow, so :func:`newton_schulz` computes
:math:`\approx UV^\top` with five matrix-polynomial steps (no decomposition at all):

.. math:: X_0 = M / \lVert M \rVert_F, \qquad
          X_{k+1} = a X_k + b (X_k X_k^\top) X_k + c (X_k X_k^\top)^2 X_k

with :math:`(a, b, c) = (3.4445, -4.7750, 2.0315)`. Each step maps every singular value
``s`` of ``X`` to :math:`a s + b s^3 + c s^5` (the singular vectors stay), a polynomial
chosen to push small values up fast: after five steps every singular value above about
``0.0015 ||M||_F`` lies in ``[0.68, 1.2]`` -- not exactly 1, which training does not mind
(smaller ones, directions the gradient hardly has, grow at most ``a^5``, about 490 times).
The classical cubic iteration, coefficients ``(1.5, -0.5, 0)``, converges to :math:`UV^\top`
exactly, but needs many more steps.

:class:`Muon` is for 2-D weight matrices inside the network only; the embeddings, the output
layer, and the norms' gains and biases train with AdamW. :func:`make_optimizers` makes that
split for the book's GPT.
"""

from __future__ import annotations

import math
from typing import Callable, Iterable

import torch
import torch.nn as nn

__all__ = ["QUINTIC", "CUBIC", "newton_schulz", "Muon", "split_parameters", "make_optimizers",
           "set_lr_scale"]

#: Coefficients of the quintic Newton-Schulz step of Muon (Jordan et al. 2024).
QUINTIC = (3.4445, -4.7750, 2.0315)
#: The classical cubic Newton-Schulz step, :math:`X \leftarrow 1.5X - 0.5 XX^\top X`: exact
#: in the limit.
CUBIC = (1.5, -0.5, 0.0)


def newton_schulz(G: torch.Tensor, steps: int = 5, coefficients: tuple[float, float, float]
                  = QUINTIC, *, eps: float = 1e-7, dtype: torch.dtype | None = torch.float32
                  ) -> torch.Tensor:
    """Orthogonalise the matrix ``G (rows, cols)``: approximately ``U V^T`` of its SVD.

    ``steps`` iterations of ``X <- a X + (b A + c A^2) X`` with ``A = X X^T`` (see the module
    docstring), starting from ``G / ||G||_F`` (so every singular value is at most 1). A tall
    matrix is transposed first, so ``A`` is the smaller Gram matrix. ``dtype``: the precision
    of the iteration (``torch.bfloat16`` as in the reference implementation, fast on GPUs;
    float32 by default, faster and more exact on most CPUs; ``None``: ``G``'s own). Returns
    a tensor of ``G``'s shape, in ``dtype``.
    """
    if not isinstance(G, torch.Tensor) or G.dim() != 2:
        raise ValueError(f"G must be a 2-D matrix, got "
                         f"{tuple(G.shape) if isinstance(G, torch.Tensor) else type(G).__name__}.")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}.")
    if len(coefficients) != 3:
        raise ValueError(f"coefficients must be three numbers (a, b, c), got {coefficients!r}.")
    a, b, c = coefficients
    X = G.to(dtype) if dtype is not None else G
    tall = G.size(0) > G.size(1)
    if tall:
        X = X.T
    X = X / (X.norm() + eps)
    for _ in range(steps):
        A = X @ X.T
        X = a * X + (b * A + c * A @ A) @ X
    return X.T if tall else X


def _check_number(name: str, value: object, low: float, high: float = math.inf, *,
                  low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value > high or value < low or \
            (low_open and value == low):
        bound = f"{'>' if low_open else '>='} {low}" + (f" and < {high}" if high < math.inf
                                                        else "")
        raise ValueError(f"{name} must be a number {bound}, got {value!r}.")
    return float(value)


class Muon(torch.optim.Optimizer):
    r"""Muon: momentum, orthogonalised by :func:`newton_schulz` (Jordan et al. 2024).

    For each 2-D parameter ``W (rows, cols)`` with gradient ``G``, per step:

    .. math::
        M &\leftarrow \mu M + (1 - \mu) G \\
        U &= (1 - \mu) G + \mu M \ \ \text{(Nesterov; plain momentum: } U = M) \\
        W &\leftarrow (1 - \eta\lambda) W - \eta \sqrt{\max(1, \text{rows}/\text{cols})}\;
             \mathrm{NS}_5(U)

    ``lr`` (``\eta``) is in units of spectral norm per step: an orthogonal update has every
    singular value 1, and the factor ``sqrt(max(1, rows / cols))`` keeps the per-entry size of
    tall matrices' updates the same. ``weight_decay`` (``\lambda``) is decoupled, as in AdamW.
    The defaults are those of the reference implementation (lr 0.02, momentum 0.95,
    Nesterov, 5 steps); ``ns_dtype`` is the precision of the iteration (see
    :func:`newton_schulz`). Only 2-D parameters are accepted.
    """

    def __init__(self, params: Iterable, lr: float = 0.02, momentum: float = 0.95, *,
                 nesterov: bool = True, weight_decay: float = 0.0, ns_steps: int = 5,
                 ns_dtype: torch.dtype | None = torch.float32) -> None:
        _check_number("lr", lr, 0.0, low_open=True)
        _check_number("momentum", momentum, 0.0, 1.0)
        if momentum == 1.0:
            raise ValueError("momentum must be < 1 (1 would never let a new gradient in).")
        _check_number("weight_decay", weight_decay, 0.0)
        if isinstance(ns_steps, bool) or not isinstance(ns_steps, int) or ns_steps < 1:
            raise ValueError(f"ns_steps must be an int >= 1, got {ns_steps!r}.")
        defaults = dict(lr=lr, momentum=momentum, nesterov=bool(nesterov),
                        weight_decay=weight_decay, ns_steps=ns_steps, ns_dtype=ns_dtype)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.dim() != 2:
                    raise ValueError(
                        f"Muon updates 2-D weight matrices only; got a parameter of shape "
                        f"{tuple(p.shape)}. Give embeddings, the output layer, gains and "
                        f"biases to AdamW (llmbook.muon.make_optimizers does the split).")

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            mu, lr = group["momentum"], group["lr"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.lerp_(g, 1 - mu)                            # M <- mu M + (1 - mu) G
                update = g.lerp(buf, mu) if group["nesterov"] else buf
                O = newton_schulz(update, group["ns_steps"], dtype=group["ns_dtype"])
                scale = max(1.0, p.size(0) / p.size(1)) ** 0.5
                p.mul_(1 - lr * group["weight_decay"])
                p.add_(O.to(p.dtype), alpha=-lr * scale)
        return loss


def split_parameters(model: nn.Module, body: nn.Module | None = None
                     ) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """``(hidden matrices, other matrices, vectors)`` of ``model``: the 2-D weights inside
    ``body`` (default ``model.h``, the GPT's blocks) are Muon's; the embeddings and output
    layer (2-D, outside the blocks) and every 1-D gain and bias are AdamW's. A tied weight
    is listed once."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    body = getattr(model, "h", None) if body is None else body
    if not isinstance(body, nn.Module):
        raise ValueError("give body=, the part of the model whose matrices Muon trains (the "
                         "model has no .h of blocks).")
    inside = {id(p) for p in body.parameters()}
    hidden, matrices, vectors = [], [], []
    for p in model.parameters():                    # each tensor once, even if tied
        if not p.requires_grad:
            continue
        if p.dim() < 2:
            vectors.append(p)
        elif p.dim() == 2 and id(p) in inside:
            hidden.append(p)
        else:
            matrices.append(p)
    return hidden, matrices, vectors


def make_optimizers(model: nn.Module, *, lr: float = 0.02, momentum: float = 0.95,
                    adam_lr: float = 3e-3, betas: tuple[float, float] = (0.9, 0.95),
                    weight_decay: float = 0.0, body: nn.Module | None = None,
                    ns_dtype: torch.dtype | None = torch.float32
                    ) -> list[torch.optim.Optimizer]:
    """The usual Muon recipe: ``[Muon(hidden matrices, lr), AdamW(the rest, adam_lr)]``.

    :func:`split_parameters` decides which is which. ``weight_decay`` applies to Muon's
    matrices and AdamW's embedding and output matrices, never to gains and biases. Every
    parameter group remembers its ``base_lr``, so :func:`set_lr_scale` can apply one
    schedule to both optimizers. Step (and zero) both each iteration.
    """
    _check_number("lr", lr, 0.0, low_open=True)
    _check_number("adam_lr", adam_lr, 0.0, low_open=True)
    _check_number("weight_decay", weight_decay, 0.0)
    hidden, matrices, vectors = split_parameters(model, body)
    if not hidden:
        raise ValueError("no 2-D parameters inside the body: nothing for Muon to train.")
    muon = Muon(hidden, lr=lr, momentum=momentum, weight_decay=weight_decay,
                ns_dtype=ns_dtype)
    groups = [{"params": matrices, "weight_decay": weight_decay},
              {"params": vectors, "weight_decay": 0.0}]
    adamw = torch.optim.AdamW([g for g in groups if g["params"]], lr=adam_lr, betas=betas)
    for opt in (muon, adamw):
        for group in opt.param_groups:
            group["base_lr"] = group["lr"]
    return [muon, adamw]


def set_lr_scale(optimizers: Iterable[torch.optim.Optimizer], scale: float) -> None:
    """Set every group's learning rate to ``scale`` times its ``base_lr`` (its own rate when
    it has none yet): one schedule for several optimizers with different rates."""
    _check_number("scale", scale, 0.0)
    for opt in optimizers:
        for group in opt.param_groups:
            group.setdefault("base_lr", group["lr"])
            group["lr"] = group["base_lr"] * scale
