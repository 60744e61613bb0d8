"""How training works, in small reusable pieces (section 3.4, used by 5.3 and 3.3).

* :func:`split_indices` -- a seeded train / validation / test split;
* :func:`warmup_cosine_lr` -- linear warm-up then cosine decay of the learning rate;
* :func:`decay_groups` and :func:`make_optimizer` -- SGD, Adam and AdamW, with weight decay on
  the weight matrices only;
* :func:`train_loop` -- the generic loop: forward, loss, backward, gradient clipping, step,
  schedule, optional bf16/fp16 autocast, a tqdm bar and periodic evaluation;
* :func:`grid_search` and :func:`random_search` -- a hyper-parameter search over a function
  that trains and returns a validation score.
"""

from __future__ import annotations

import itertools
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch
import torch.nn as nn

__all__ = ["split_indices", "warmup_cosine_lr", "decay_groups", "make_optimizer",
           "TrainHistory", "train_loop", "grid_search", "random_search"]


def _check_int(name: str, value: object, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return value


def _check_float(name: str, value: object, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value):
        raise TypeError(f"{name} must be a finite number, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return float(value)


def split_indices(n: int, fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int = 0
                  ) -> tuple[list[int], ...]:
    """Shuffle ``range(n)`` with ``seed`` and cut it into parts of the given ``fractions``
    (which must sum to 1): e.g. train / validation / test index lists."""
    _check_int("n", n, 1)
    _check_int("seed", seed)
    if not fractions or any(not isinstance(f, (int, float)) or f < 0 for f in fractions):
        raise ValueError(f"fractions must be non-negative numbers, got {fractions!r}.")
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ValueError(f"fractions must sum to 1, got {sum(fractions):.4f}.")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    cuts = [round(n * c) for c in itertools.accumulate(fractions)]
    parts, start = [], 0
    for cut in cuts:
        parts.append(order[start:cut])
        start = cut
    return tuple(parts)


def warmup_cosine_lr(step: int, *, max_lr: float, warmup_steps: int, total_steps: int,
                     min_lr: float = 0.0) -> float:
    r"""Learning rate at ``step`` (0-based): linear warm-up from ``max_lr / warmup_steps`` to
    ``max_lr`` over ``warmup_steps`` steps, then a cosine decay to ``min_lr`` at
    ``total_steps``:

    .. math:: \eta_t = \eta_{\min} + \tfrac12(\eta_{\max}-\eta_{\min})
              \left(1+\cos\pi\,\tfrac{t-t_w}{T-t_w}\right).
    """
    _check_int("step", step)
    _check_int("warmup_steps", warmup_steps)
    _check_int("total_steps", total_steps, 1)
    max_lr = _check_float("max_lr", max_lr)
    min_lr = _check_float("min_lr", min_lr)
    if warmup_steps > total_steps:
        raise ValueError(f"warmup_steps ({warmup_steps}) must not exceed total_steps "
                         f"({total_steps}).")
    if min_lr > max_lr:
        raise ValueError(f"min_lr ({min_lr}) must not exceed max_lr ({max_lr}).")
    if step < warmup_steps:
        return max_lr * (step + 1) / warmup_steps
    if step >= total_steps:
        return min_lr
    progress = (step - warmup_steps) / max(1, total_steps - warmup_steps)
    return min_lr + 0.5 * (max_lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def decay_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Two parameter groups: matrices (>= 2-D: linear and embedding weights) get
    ``weight_decay``; biases and LayerNorm gains (1-D) get none."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    weight_decay = _check_float("weight_decay", weight_decay)
    params = [p for p in model.parameters() if p.requires_grad]
    return [{"params": [p for p in params if p.dim() >= 2], "weight_decay": weight_decay},
            {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0}]


def make_optimizer(name: str, model: nn.Module, lr: float, weight_decay: float = 0.0,
                   momentum: float = 0.9) -> torch.optim.Optimizer:
    """``"sgd"`` (with ``momentum``), ``"adam"`` (L2 penalty added to the gradient when
    ``weight_decay > 0``) or ``"adamw"`` (decoupled weight decay, matrices only)."""
    lr = _check_float("lr", lr)
    weight_decay = _check_float("weight_decay", weight_decay)
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    key = name.lower() if isinstance(name, str) else name
    if key == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum,
                               weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(decay_groups(model, weight_decay), lr=lr,
                                 betas=(0.9, 0.95 if weight_decay else 0.999))
    raise ValueError(f"unknown optimizer {name!r}: choose 'sgd', 'adam' or 'adamw'.")


@dataclass
class TrainHistory:
    """What :func:`train_loop` records: per-step training loss, learning rate and gradient
    norm (before clipping), evaluation results by step, seconds and examples seen."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norm: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_loss: list[float] = field(default_factory=list)
    seconds: float = 0.0
    tokens: int = 0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else float("nan")


def train_loop(model: nn.Module, loss_fn: Callable[[nn.Module, int], torch.Tensor],
               optimizer: torch.optim.Optimizer, steps: int, *,
               schedule: Callable[[int], float] | None = None,
               clip_norm: float | None = None,
               eval_fn: Callable[[nn.Module], float] | None = None, eval_every: int = 0,
               autocast_dtype: torch.dtype | None = None, tokens_per_step: int = 0,
               callback: Callable[[int, TrainHistory], None] | None = None,
               progress: bool = True, desc: str = "training") -> TrainHistory:
    """Run ``steps`` optimisation steps and return a :class:`TrainHistory`.

    ``loss_fn(model, step)`` draws a batch and returns the scalar loss. ``schedule(step)``
    gives the learning rate of each step (set on every parameter group); ``clip_norm`` clips
    the global gradient norm; ``eval_fn(model)`` is called every ``eval_every`` steps and
    after the last; ``autocast_dtype`` (e.g. ``torch.bfloat16``) runs the forward pass in
    mixed precision. ``callback(step, history)`` runs after each evaluation (e.g. to redraw
    a live plot or print a sample).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got "
                        f"{type(optimizer).__name__}.")
    _check_int("steps", steps, 1)
    _check_int("eval_every", eval_every)
    _check_int("tokens_per_step", tokens_per_step)
    if clip_norm is not None:
        _check_float("clip_norm", clip_norm)
    if autocast_dtype not in (None, torch.bfloat16, torch.float16):
        raise ValueError(f"autocast_dtype must be None, torch.bfloat16 or torch.float16, got "
                         f"{autocast_dtype!r}.")
    device = next(model.parameters()).device.type
    history = TrainHistory()
    bar = range(steps)
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(bar, desc=desc, mininterval=1.0)  # at most one widget update a second
    model.train()
    start = time.perf_counter()
    for step in bar:
        if schedule is not None:
            lr = float(schedule(step))
            for group in optimizer.param_groups:
                group["lr"] = lr
        if autocast_dtype is not None:
            with torch.autocast(device_type=device, dtype=autocast_dtype):
                loss = loss_fn(model, step)
        else:
            loss = loss_fn(model, step)
        if not torch.isfinite(loss.detach()):
            raise FloatingPointError(f"the loss became {loss.item()} at step {step}; lower "
                                     f"the learning rate or clip the gradients.")
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_norm is not None:
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip_norm)
        else:
            norm = torch.linalg.vector_norm(torch.stack(
                [p.grad.detach().norm() for p in model.parameters() if p.grad is not None]))
        optimizer.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        history.lr.append(optimizer.param_groups[0]["lr"])
        history.grad_norm.append(float(norm))
        history.tokens += tokens_per_step
        last = step == steps - 1
        if eval_fn is not None and ((eval_every and (step + 1) % eval_every == 0) or last):
            history.eval_steps.append(step + 1)
            history.eval_loss.append(float(eval_fn(model)))
            model.train()
            if progress:
                bar.set_postfix(refresh=False, train=f"{history.loss[-1]:.3f}",
                                val=f"{history.eval_loss[-1]:.3f}")
            if callback is not None:
                callback(step + 1, history)
        elif progress and step % 10 == 0:
            bar.set_postfix(refresh=False, train=f"{history.loss[-1]:.3f}")
    history.seconds = time.perf_counter() - start
    return history


def grid_search(fn: Callable[..., float], grid: Mapping[str, Iterable[Any]], *,
                progress: bool = True) -> list[dict[str, Any]]:
    """Call ``fn(**point)`` on every combination of ``grid``'s values; return one dict per
    point with its parameters and ``"score"`` (lower is better), best first."""
    if not isinstance(grid, Mapping) or not grid:
        raise ValueError("grid must be a non-empty dict name -> list of values.")
    names = list(grid)
    values = [list(grid[n]) for n in names]
    if any(not v for v in values):
        raise ValueError("every entry of grid needs at least one value.")
    points = [dict(zip(names, combo)) for combo in itertools.product(*values)]
    return _run_points(fn, points, progress, "grid search")


def random_search(fn: Callable[..., float], space: Mapping[str, Callable[[random.Random], Any]],
                  trials: int, *, seed: int = 0, progress: bool = True
                  ) -> list[dict[str, Any]]:
    """Call ``fn(**point)`` on ``trials`` points drawn by ``space[name](rng)`` (e.g.
    ``lambda r: 10 ** r.uniform(-4, -2)`` for a log-uniform learning rate); best first."""
    if not isinstance(space, Mapping) or not space:
        raise ValueError("space must be a non-empty dict name -> sampler(rng).")
    if not all(callable(s) for s in space.values()):
        raise TypeError("each value of space must be a function of a random.Random.")
    _check_int("trials", trials, 1)
    rng = random.Random(seed)
    points = [{n: s(rng) for n, s in space.items()} for _ in range(trials)]
    return _run_points(fn, points, progress, "random search")


def _run_points(fn: Callable[..., float], points: list[dict[str, Any]], progress: bool,
                desc: str) -> list[dict[str, Any]]:
    if not callable(fn):
        raise TypeError(f"fn must be callable, got {type(fn).__name__}.")
    it = points
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(points, desc=desc, mininterval=1.0)
    results = [{**p, "score": float(fn(**p))} for p in it]
    return sorted(results, key=lambda r: (math.isnan(r["score"]), r["score"]))
