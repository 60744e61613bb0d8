"""The ablation of section 5.7: from GPT-2 to a modern GPT, one change at a time, against the
clock.

Every recipe of :data:`RECIPES` is the previous one plus one change (RMSNorm, rotary
embeddings, ReLU², QK-norm, zero-initialised projections, the Muon optimizer, a trapezoidal
learning-rate schedule). All train the same-sized character-level GPT on the same batches of
the 32 training plays, from the same seed, for the same **wall-clock budget** each -- and in
one process, their steps **interleaved** (a few steps of each in turn), so a busy machine
slows all of them alike. Each recipe's clock counts its own training steps only; every
``eval_every`` of its seconds the validation loss (nats per character on the held-out
plays) is measured, off the clock. The record also reports each recipe's model FLOPs
utilisation (MFU): its useful FLOPs per second over a measured matrix-multiply peak.

    python scripts/train_modern.py --budget 1200 --threads 2      # 20 minutes per recipe

writes ``code/llmbook/checkpoints/modern_gpt.json`` (``--out``). The learning-rate
schedules run on each recipe's elapsed fraction of the budget, not on step counts.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .chardata import CharData, evaluate_loss, get_batch, load_char_data, vocab_to_json
from .env import seed_everything
from .gpt import GPT, GPTConfig, save_gpt
from .hardware import matmul_gflops
from .muon import make_optimizers, set_lr_scale
from .training import make_optimizer

__all__ = ["Recipe", "RECIPES", "AblationSettings", "flops_per_token", "lr_scale",
           "measure_peak_flops", "train_recipes", "seconds_to_reach", "main", "DEFAULT_RECORD"]

#: Where the record of the full run goes (next to the 5.3 checkpoint).
DEFAULT_RECORD = Path(__file__).parent / "checkpoints" / "modern_gpt.json"


@dataclass(frozen=True)
class Recipe:
    """One training recipe: ``model`` holds :class:`~llmbook.gpt.GPTConfig` options,
    ``optimizer`` is ``"adamw"`` (every parameter, at ``lr``) or ``"muon"`` (Muon at
    ``muon_lr`` for the blocks' matrices, AdamW at ``lr`` for the rest), ``schedule`` is
    ``"cosine"`` (warm-up then cosine decay, as in 5.3) or ``"trapezoid"`` (warm-up,
    constant, then a linear cool-down to 0: the speedrun's)."""

    name: str
    label: str
    model: dict[str, Any] = field(default_factory=dict)
    optimizer: str = "adamw"
    schedule: str = "cosine"
    lr: float = 2e-3
    muon_lr: float = 0.02

    def __post_init__(self) -> None:
        if self.optimizer not in ("adamw", "muon"):
            raise ValueError(f"optimizer must be 'adamw' or 'muon', got {self.optimizer!r}.")
        if self.schedule not in ("cosine", "trapezoid"):
            raise ValueError(f"schedule must be 'cosine' or 'trapezoid', got "
                             f"{self.schedule!r}.")
        GPTConfig(**self.model)                 # unknown or bad options fail now


def _ladder() -> list[Recipe]:
    steps = [("baseline", "GPT-2 style (section 5.3)", {}, {}),
             ("rmsnorm", "+ RMSNorm", {"norm": "rmsnorm"}, {}),
             ("rope", "+ rotary embeddings", {"position": "rope"}, {}),
             ("relu2", "+ ReLU²", {"mlp": "relu2"}, {}),
             ("qk_norm", "+ QK-norm", {"qk_norm": True}, {}),
             ("zero_init", "+ zero-init projections", {"zero_init_proj": True}, {}),
             ("muon", "+ Muon", {}, {"optimizer": "muon"}),
             ("schedule", "+ trapezoidal schedule", {}, {"schedule": "trapezoid"})]
    recipes, model, training = [], {}, {}
    for name, label, model_change, training_change in steps:
        model, training = {**model, **model_change}, {**training, **training_change}
        recipes.append(Recipe(name, label, dict(model), **training))
    return recipes


#: The ladder: the baseline, then each change added to everything before it.
RECIPES: list[Recipe] = _ladder()


@dataclass
class AblationSettings:
    """What every recipe shares: the model's size (5.3's reference model by default), the
    batches, the budget per recipe in seconds, and the evaluation."""

    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    block_size: int = 128
    batch_size: int = 32
    budget_seconds: float = 1200.0
    eval_every_seconds: float = 60.0
    eval_windows: int = 200
    final_eval_windows: int | None = None     # None: every window of the validation plays
    steps_per_turn: int = 5
    warmup_turns: int = 2                     # untimed turns of a scratch copy, first
    warmup_frac: float = 0.04
    min_lr_frac: float = 0.1
    cooldown_frac: float = 0.4
    weight_decay: float = 0.1
    clip_norm: float = 1.0
    seed: int = 1337

    def __post_init__(self) -> None:
        for name in ("budget_seconds", "eval_every_seconds"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}.")
        for name in ("warmup_frac", "min_lr_frac", "cooldown_frac"):
            if not 0 <= getattr(self, name) <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)!r}.")
        if self.steps_per_turn < 1 or self.warmup_turns < 0:
            raise ValueError(f"steps_per_turn must be >= 1 and warmup_turns >= 0, got "
                             f"{self.steps_per_turn} and {self.warmup_turns}.")


def lr_scale(schedule: str, progress: float, settings: AblationSettings) -> float:
    """The learning rate as a fraction of the recipe's peak, at ``progress`` (elapsed
    fraction of the budget, 0..1): linear warm-up over ``warmup_frac``, then ``"cosine"``
    decays to ``min_lr_frac``, ``"trapezoid"`` stays at 1 until the last ``cooldown_frac``
    and falls linearly to 0."""
    p = min(max(progress, 0.0), 1.0)
    if p < settings.warmup_frac:                # never exactly 0: a step at lr 0 is wasted
        return max(p / settings.warmup_frac, 0.01)
    if schedule == "cosine":
        q = (p - settings.warmup_frac) / max(1e-9, 1 - settings.warmup_frac)
        low = settings.min_lr_frac
        return low + 0.5 * (1 - low) * (1 + math.cos(math.pi * q))
    if schedule == "trapezoid":
        return min(1.0, (1 - p) / settings.cooldown_frac) if settings.cooldown_frac else 1.0
    raise ValueError(f"unknown schedule {schedule!r}: 'cosine' or 'trapezoid'.")


def flops_per_token(model: GPT) -> int:
    """Training FLOPs per token (forward and backward) by the usual count (Kaplan et al. 2020;
    Chowdhery et al. 2022, appendix B): ``6 N + 12 n_layer n_embd block_size``, where ``N``
    is the weights of the matrix products (every linear layer, the output layer included,
    not the embedding lookups) and the second term the attention scores and their weighted
    sums over a full context."""
    config = model.config
    matmul = sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Linear))
    return 6 * matmul + 12 * config.n_layer * config.n_embd * config.block_size


def measure_peak_flops(device: str = "cpu") -> float:
    """A measured float32 matrix-multiply peak in FLOP/s: the best of several ``n x n``
    products (:func:`llmbook.hardware.matmul_gflops` on the CPU)."""
    if device == "cpu":
        return matmul_gflops(torch.float32, n=1024, repeats=10) * 1e9
    a = torch.randn(4096, 4096, device=device)
    best = math.inf
    for i in range(12):
        torch.cuda.synchronize()
        start = time.perf_counter()
        a @ a
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start) if i >= 2 else best
    return 2 * 4096 ** 3 / best


@dataclass
class _Run:
    recipe: Recipe
    model: GPT
    optimizers: list[torch.optim.Optimizer]
    generator: torch.Generator
    seconds: float = 0.0
    steps: int = 0
    next_eval: float = 0.0
    history: dict[str, list[float]] = field(default_factory=lambda: {
        "seconds": [], "steps": [], "val_loss": [], "train_loss": []})
    last_loss: float = float("nan")


def _build(recipe: Recipe, settings: AblationSettings, vocab_size: int, device: str) -> _Run:
    seed_everything(settings.seed)              # the same initial weights where shapes agree
    config = GPTConfig(vocab_size=vocab_size, block_size=settings.block_size,
                       n_layer=settings.n_layer, n_head=settings.n_head,
                       n_embd=settings.n_embd, **recipe.model)
    model = GPT(config).to(device)
    if recipe.optimizer == "muon":
        optimizers = make_optimizers(model, lr=recipe.muon_lr, adam_lr=recipe.lr,
                                     weight_decay=settings.weight_decay)
    else:
        optimizers = [make_optimizer("adamw", model, lr=recipe.lr,
                                     weight_decay=settings.weight_decay)]
    return _Run(recipe, model, optimizers, torch.Generator().manual_seed(settings.seed))


def _evaluate(run: _Run, data: CharData, settings: AblationSettings, device: str) -> None:
    loss = evaluate_loss(_OnDevice(run.model, device), data.validation, settings.block_size,
                         max_windows=settings.eval_windows)
    for key, value in (("seconds", run.seconds), ("steps", run.steps), ("val_loss", loss),
                       ("train_loss", run.last_loss)):
        run.history[key].append(round(value, 4) if isinstance(value, float) else value)
    run.next_eval += settings.eval_every_seconds


class _OnDevice(nn.Module):
    """The model, fed ids moved to its device and returning logits on the CPU."""

    def __init__(self, model: GPT, device: str) -> None:
        super().__init__()
        self.model, self.device = model, device

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(ids.to(self.device)).cpu()


def _turn(run: _Run, data: CharData, settings: AblationSettings, device: str) -> float:
    """``steps_per_turn`` training steps of ``run``; returns the seconds they took."""
    run.model.train()
    start = time.perf_counter()
    for _ in range(settings.steps_per_turn):
        set_lr_scale(run.optimizers, lr_scale(run.recipe.schedule,
                                              run.seconds / settings.budget_seconds, settings))
        x, y = get_batch(data.train, settings.batch_size, settings.block_size,
                         generator=run.generator)
        _, loss = run.model(x.to(device), y.to(device))
        for opt in run.optimizers:
            opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(run.model.parameters(), settings.clip_norm)
        for opt in run.optimizers:
            opt.step()
        run.last_loss = loss.item()                 # waits for the device: honest timing
        if not math.isfinite(run.last_loss):
            raise FloatingPointError(f"recipe {run.recipe.name}: the loss became "
                                     f"{run.last_loss} at step {run.steps}.")
        run.steps += 1
    return time.perf_counter() - start


def train_recipes(recipes: list[Recipe], data: CharData, settings: AblationSettings, *,
                  device: str = "cpu", peak_flops: float | None = None,
                  progress: bool = True, save_dir: str | Path | None = None
                  ) -> dict[str, Any]:
    """Train every recipe for ``settings.budget_seconds`` of its own training time, their
    steps interleaved (the order rotates each round); return the record (a JSON-able dict,
    one entry per recipe under ``"recipes"``).

    First, ``warmup_turns`` untimed turns of a scratch copy of each recipe warm up the
    kernels and the allocator for its shapes (in a fresh process the first steps are
    several times slower, which would penalise whichever recipe goes first). ``peak_flops``
    is the denominator of the MFU: when ``None``, the larger of two measurements, before and
    after training. ``save_dir`` also saves each trained model (safetensors)."""
    if not recipes or len({r.name for r in recipes}) != len(recipes):
        raise ValueError("give at least one recipe, with distinct names.")
    for recipe in recipes:
        scratch = _build(recipe, settings, len(data.vocab), device)
        for _ in range(settings.warmup_turns):
            _turn(scratch, data, settings, device)
    peaks = [measure_peak_flops(device)] if peak_flops is None else [float(peak_flops)]
    runs = [_build(r, settings, len(data.vocab), device) for r in recipes]
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=round(settings.budget_seconds * len(runs)), unit="s",
                   desc="recipes", mininterval=1.0)
    rounds = 0
    while True:
        active = [r for r in runs if r.seconds < settings.budget_seconds]
        if not active:
            break
        shift = rounds % len(active)
        for run in active[shift:] + active[:shift]:
            if run.seconds >= run.next_eval:
                _evaluate(run, data, settings, device)
            spent = _turn(run, data, settings, device)
            run.seconds += spent
            if bar is not None:
                bar.update(round(min(run.seconds, settings.budget_seconds)
                                 - (run.seconds - spent), 3))
                bar.set_postfix(refresh=False, **{r.recipe.name: f"{r.last_loss:.3f}"
                                                  for r in runs if r.steps})
        rounds += 1
    if bar is not None:
        bar.close()
    if peak_flops is None:
        peaks.append(measure_peak_flops(device))
    peak = max(peaks)
    entries = []
    for run in runs:
        _evaluate(run, data, settings, device)      # the loss at the end of the budget
        final = evaluate_loss(_OnDevice(run.model, device), data.validation,
                              settings.block_size, max_windows=settings.final_eval_windows)
        config = run.model.config
        tokens = run.steps * settings.batch_size * settings.block_size
        fpt = flops_per_token(run.model)
        entries.append({
            **asdict(run.recipe), "config": config.to_dict(),
            "parameters": run.model.num_parameters(), "steps": run.steps, "tokens": tokens,
            "train_seconds": round(run.seconds, 2),
            "tokens_per_second": round(tokens / run.seconds, 1),
            "flops_per_token": fpt, "mfu": round(fpt * tokens / run.seconds / peak, 4),
            "final_validation_loss": round(final, 4), "history": run.history})
        if save_dir is not None:
            save_gpt(run.model, Path(save_dir) / f"modern_{run.recipe.name}.safetensors",
                     metadata={"vocab": vocab_to_json(data.vocab)})
    return {"settings": asdict(settings), "device": device,
            "peak_gflops": round(peak / 1e9, 1),
            "peak_gflops_measured": [round(p / 1e9, 1) for p in peaks], "recipes": entries,
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}


def seconds_to_reach(entry: dict[str, Any], target: float) -> float | None:
    """The training seconds at which a recipe's validation loss first reached ``target``,
    interpolated linearly between evaluations; ``None`` if it never did."""
    seconds, losses = entry["history"]["seconds"], entry["history"]["val_loss"]
    for i, (t, loss) in enumerate(zip(seconds, losses)):
        if loss <= target:
            if i == 0:
                return float(t)
            t0, l0 = seconds[i - 1], losses[i - 1]
            return float(t0 + (t - t0) * (l0 - target) / (l0 - loss))
    return None


#: The integer settings that the command line can change.
_INT_SETTINGS = ("n_layer", "n_head", "n_embd", "block_size", "batch_size", "eval_windows",
                 "steps_per_turn", "warmup_turns", "seed")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python scripts/train_modern.py", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_RECORD, help="the JSON record")
    p.add_argument("--recipes", nargs="+", default=[r.name for r in RECIPES],
                   choices=[r.name for r in RECIPES])
    p.add_argument("--budget", type=float, default=AblationSettings.budget_seconds,
                   help="training seconds per recipe")
    p.add_argument("--eval-every", type=float, default=AblationSettings.eval_every_seconds)
    for name in _INT_SETTINGS:
        p.add_argument(f"--{name.replace('_', '-')}", type=int,
                       default=getattr(AblationSettings, name))
    p.add_argument("--final-eval-windows", type=int, default=None)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--save-dir", type=Path, default=None, help="also save the models here")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; writes and returns the record."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    settings = replace(AblationSettings(), budget_seconds=args.budget,
                       eval_every_seconds=args.eval_every,
                       final_eval_windows=args.final_eval_windows,
                       **{k: getattr(args, k) for k in _INT_SETTINGS})
    recipes = [r for r in RECIPES if r.name in args.recipes]
    data = load_char_data(verbose=not args.no_progress)
    start = time.perf_counter()
    record = train_recipes(recipes, data, settings, device=args.device,
                           progress=not args.no_progress, save_dir=args.save_dir)
    record = {"command": "python scripts/train_modern.py " + shlex.join(argv),
              "wall_seconds": round(time.perf_counter() - start, 1),
              "validation_plays": "Twelfth Night, Richard II, Julius Caesar", **record}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    for entry in record["recipes"]:
        print(f"{entry['label']:<28} {entry['final_validation_loss']:.4f} nats/char, "
              f"{entry['steps']} steps, MFU {entry['mfu']:.1%}")
    print(f"wrote {args.out}")
    return record
