"""The ablation of section 5.7: from GPT-2 to a modern GPT, one change at a time, against the
clock.

Every recipe of :data:`RECIPES` is the previous one plus one change (RMSNorm, rotary
embeddings, ReLU², QK-norm, zero-initialised projections, the Muon optimizer, a trapezoidal
learning-rate schedule). All train the same-sized character-level GPT on the same batches of
the 32 training plays, from the same seed, for the same **budget of 2-core seconds** each.

The clock is measured, then kept apart from training, so that a busy machine cannot change a
result. **Timing** (:func:`measure_step_seconds`): a few steps of every recipe in turn, the
order rotating, on the idle machine; a recipe's *step time* is its fastest round (a disturbed
round is slower, never faster). **Training** (:func:`train_recipe`): a budget of ``B``
seconds buys ``B / step time`` steps, the schedule fitted to that many, and the clock reads
``steps x step time``; every ``eval_every`` seconds of it the validation loss (nats per
character on the held-out plays) is measured. Nothing in training reads a clock, so recipes
can train in parallel processes (:func:`train_recipes`, ``jobs``).

The record also reports each recipe's model FLOPs utilisation (MFU): its useful FLOPs per
second (at its step time) over a measured float32 matrix-multiply peak.

    python scripts/train_modern.py        # timing, the 5-minute ladder, the 20-minute pair

writes ``code/llmbook/checkpoints/modern_gpt.json`` (``--out``).
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
from .hardware import matmul_gflops, measure_peak_flops
from .muon import make_optimizers, set_lr_scale
from .training import make_optimizer

__all__ = ["Recipe", "RECIPES", "AblationSettings", "flops_per_token", "lr_scale",
           "measure_step_seconds", "train_recipe", "train_recipes",
           "load_record", "seconds_to_reach", "main", "DEFAULT_RECORD"]

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
    muon_lr: float = 0.01                       # from a 150-s sweep of 0.01, 0.02, 0.05

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


@dataclass
class _Run:
    recipe: Recipe
    model: GPT
    optimizers: list[torch.optim.Optimizer]
    generator: torch.Generator
    steps: int = 0
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


class _OnDevice(nn.Module):
    """The model, fed ids moved to its device and returning logits on the CPU."""

    def __init__(self, model: GPT, device: str) -> None:
        super().__init__()
        self.model, self.device = model, device

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.model(ids.to(self.device)).cpu()


def _step(run: _Run, data: CharData, settings: AblationSettings, device: str,
          progress: float) -> None:
    """One training step of ``run`` at ``progress`` (0..1) through its schedule."""
    run.model.train()
    set_lr_scale(run.optimizers, lr_scale(run.recipe.schedule, progress, settings))
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


def _check_recipes(recipes: list[Recipe]) -> None:
    if not recipes or len({r.name for r in recipes}) != len(recipes):
        raise ValueError("give at least one recipe, with distinct names.")


def measure_step_seconds(recipes: list[Recipe], data: CharData, settings: AblationSettings,
                         *, rounds: int = 8, device: str = "cpu", progress: bool = True
                         ) -> dict[str, float]:
    """Seconds per training step of each recipe: ``rounds`` turns of ``steps_per_turn``
    steps each, the recipes in turn and the order rotating every round, after
    ``warmup_turns`` untimed turns (a fresh process's first steps are several times slower);
    a recipe's step time is its fastest turn divided by ``steps_per_turn``. Run it on an
    idle machine, with the threads the clock is to mean."""
    _check_recipes(recipes)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be an int >= 1, got {rounds!r}.")
    runs = [_build(r, settings, len(data.vocab), device) for r in recipes]
    for run in runs:
        for _ in range(settings.warmup_turns * settings.steps_per_turn):
            _step(run, data, settings, device, 0.5)
    best = {r.name: math.inf for r in recipes}
    turns = range(rounds)
    if progress:
        from tqdm.auto import tqdm
        turns = tqdm(turns, desc="timing rounds")
    for i in turns:
        shift = i % len(runs)
        for run in runs[shift:] + runs[:shift]:
            start = time.perf_counter()
            for _ in range(settings.steps_per_turn):
                _step(run, data, settings, device, 0.5)
            seconds = (time.perf_counter() - start) / settings.steps_per_turn
            best[run.recipe.name] = min(best[run.recipe.name], seconds)
    return {name: round(s, 5) for name, s in best.items()}


def _evaluate(run: _Run, data: CharData, settings: AblationSettings, device: str,
              history: dict[str, list], step_seconds: float) -> None:
    loss = evaluate_loss(_OnDevice(run.model, device), data.validation, settings.block_size,
                         max_windows=settings.eval_windows)
    history["seconds"].append(round(run.steps * step_seconds, 2))
    history["steps"].append(run.steps)
    history["val_loss"].append(round(loss, 4))
    history["train_loss"].append(None if math.isnan(run.last_loss)    # before any step
                                 else round(run.last_loss, 4))


def train_recipe(recipe: Recipe, data: CharData, settings: AblationSettings,
                 step_seconds: float, *, device: str = "cpu", peak_flops: float = 1.0,
                 progress: bool = True, save_dir: str | Path | None = None,
                 max_steps: int | None = None) -> dict[str, Any]:
    """Train ``recipe`` for ``settings.budget_seconds / step_seconds`` steps (or
    ``max_steps``, if smaller: the schedule still spans the whole budget, so a run cut short
    matches the start of the full one) and return its entry of the record: the history of
    validation losses against the clock (``steps x step_seconds``), the final loss on
    ``final_eval_windows`` windows, tokens per second and MFU at the step time."""
    if not step_seconds > 0:
        raise ValueError(f"step_seconds must be > 0, got {step_seconds!r}.")
    total = max(1, int(settings.budget_seconds / step_seconds + 1e-9))
    steps = total if max_steps is None else min(total, max_steps)
    every = max(1, round(settings.eval_every_seconds / step_seconds))
    run = _build(recipe, settings, len(data.vocab), device)
    history: dict[str, list] = {"seconds": [], "steps": [], "val_loss": [], "train_loss": []}
    bar = range(steps)
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(bar, desc=recipe.name, mininterval=2.0)
    start = time.perf_counter()
    for step in bar:
        if step % every == 0:
            _evaluate(run, data, settings, device, history, step_seconds)
        _step(run, data, settings, device, step / total)
    wall = time.perf_counter() - start
    _evaluate(run, data, settings, device, history, step_seconds)
    final = evaluate_loss(_OnDevice(run.model, device), data.validation, settings.block_size,
                          max_windows=settings.final_eval_windows)
    tokens = run.steps * settings.batch_size * settings.block_size
    fpt = flops_per_token(run.model)
    tokens_per_second = settings.batch_size * settings.block_size / step_seconds
    if save_dir is not None:
        save_gpt(run.model, Path(save_dir) / f"modern_{recipe.name}.safetensors",
                 metadata={"vocab": vocab_to_json(data.vocab)})
    return {**asdict(recipe), "config": run.model.config.to_dict(),
            "parameters": run.model.num_parameters(), "steps": run.steps,
            "budget_steps": total, "tokens": tokens, "step_seconds": step_seconds,
            "train_seconds": round(run.steps * step_seconds, 2),
            "process_seconds": round(wall, 1),
            "tokens_per_second": round(tokens_per_second, 1), "flops_per_token": fpt,
            "mfu": round(fpt * tokens_per_second / peak_flops, 4),
            "final_validation_loss": round(final, 4), "history": history}


def _train_in_worker(recipe: Recipe, settings: AblationSettings, step_seconds: float,
                     device: str, peak_flops: float, threads: int,
                     save_dir: str | Path | None) -> dict[str, Any]:
    torch.set_num_threads(threads)
    data = load_char_data(verbose=False)
    entry = train_recipe(recipe, data, settings, step_seconds, device=device,
                         peak_flops=peak_flops, progress=False, save_dir=save_dir)
    print(f"  {recipe.name:<10} {entry['final_validation_loss']:.4f} nats/char after "
          f"{entry['steps']} steps ({entry['process_seconds']:.0f} s in its process)",
          flush=True)
    return entry


def train_recipes(recipes: list[Recipe], data: CharData, settings: AblationSettings,
                  step_seconds: dict[str, float], *, device: str = "cpu",
                  peak_flops: float = 1.0, jobs: int = 1, threads_per_job: int = 1,
                  progress: bool = True, save_dir: str | Path | None = None
                  ) -> list[dict[str, Any]]:
    """:func:`train_recipe` for every recipe (each at its ``step_seconds[name]``), in this
    process (``jobs=1``) or in ``jobs`` fresh processes of ``threads_per_job`` threads each,
    which load the data themselves; the entries come back in the order of ``recipes``."""
    _check_recipes(recipes)
    missing = [r.name for r in recipes if r.name not in step_seconds]
    if missing:
        raise ValueError(f"no step time for {missing}: run measure_step_seconds first.")
    if jobs <= 1:
        return [train_recipe(r, data, settings, step_seconds[r.name], device=device,
                             peak_flops=peak_flops, progress=progress, save_dir=save_dir)
                for r in recipes]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
        futures = [pool.submit(_train_in_worker, r, settings, step_seconds[r.name], device,
                               peak_flops, threads_per_job, save_dir) for r in recipes]
        return [f.result() for f in futures]


def load_record(path: str | Path | None = None) -> dict[str, Any]:
    """The record written by ``scripts/train_modern.py`` (default: the one the package ships,
    :data:`DEFAULT_RECORD`), with a clear error when it is missing."""
    path = Path(DEFAULT_RECORD if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(f"no ablation record at {path}: run `python "
                                f"scripts/train_modern.py` (about an hour on 2 cores) or "
                                f"reinstall the book's package, which ships it.")
    return json.loads(path.read_text(encoding="utf-8"))


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
    names = [r.name for r in RECIPES]
    p.add_argument("--out", type=Path, default=DEFAULT_RECORD, help="the JSON record")
    p.add_argument("--ladder", nargs="*", default=names, choices=names,
                   help="the recipes of the ablation ladder (none: skip it)")
    p.add_argument("--ladder-budget", type=float, default=300.0,
                   help="2-core seconds per recipe of the ladder")
    p.add_argument("--headline", nargs="*", default=["baseline", names[-1]], choices=names,
                   help="the recipes of the long side-by-side run (none: skip it)")
    p.add_argument("--headline-budget", type=float, default=1200.0, help="its seconds")
    p.add_argument("--eval-every", type=float, default=30.0,
                   help="seconds of each recipe's clock between validation losses")
    for name in _INT_SETTINGS:
        p.add_argument(f"--{name.replace('_', '-')}", type=int,
                       default=getattr(AblationSettings, name))
    p.add_argument("--final-eval-windows", type=int, default=None)
    p.add_argument("--timing-rounds", type=int, default=8)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=2,
                   help="torch threads of the timing: what a clock second means")
    p.add_argument("--jobs", type=int, default=2, help="training processes in parallel")
    p.add_argument("--threads-per-job", type=int, default=1)
    p.add_argument("--save-dir", type=Path, default=None,
                   help="also save the models of the long run here")
    p.add_argument("--note", default=None, help="a remark kept in the record")
    p.add_argument("--add-to", type=Path, default=None, metavar="RECORD",
                   help="train the --headline recipes for --headline-budget seconds with the "
                        "settings and step times of RECORD, and add the runs to it as part "
                        "--part (no new timing: the same clock)")
    p.add_argument("--part", default="extra", help="the part's name, with --add-to")
    p.add_argument("--no-progress", action="store_true")
    return p


def _add_part(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """``--add-to``: more runs on the clock of an existing record, added to it."""
    record = load_record(args.add_to)
    if args.part in record or args.part in ("settings", "step_seconds"):
        raise SystemExit(f"the record already has a part {args.part!r}: choose another --part.")
    if not args.headline:
        raise SystemExit("give the recipes to train with --headline.")
    settings = replace(AblationSettings(**record["settings"]),
                       budget_seconds=args.headline_budget)
    data = load_char_data(verbose=not args.no_progress)
    start = time.perf_counter()
    entries = train_recipes([r for r in RECIPES if r.name in args.headline], data, settings,
                            record["step_seconds"], device=args.device,
                            peak_flops=record["peak_gflops"] * 1e9, jobs=args.jobs,
                            threads_per_job=args.threads_per_job,
                            progress=not args.no_progress, save_dir=args.save_dir)
    record[args.part] = {"budget_seconds": args.headline_budget, "recipes": entries,
                         "command": "python scripts/train_modern.py " + shlex.join(argv),
                         "wall_seconds": round(time.perf_counter() - start, 1),
                         "threads": args.threads if args.jobs <= 1 else args.threads_per_job}
    args.add_to.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    print(f"added part {args.part!r} to {args.add_to}:", ", ".join(
        f"{e['name']} {e['final_validation_loss']:.4f} nats/char" for e in entries))
    return record


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; writes and returns the record."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.add_to is not None:
        return _add_part(args, argv)
    settings = replace(AblationSettings(), eval_every_seconds=args.eval_every,
                       final_eval_windows=args.final_eval_windows,
                       **{k: getattr(args, k) for k in _INT_SETTINGS})
    chosen = set(args.ladder) | set(args.headline)
    if not chosen:
        raise SystemExit("nothing to train: give --ladder or --headline recipes.")
    recipes = [r for r in RECIPES if r.name in chosen]
    data = load_char_data(verbose=not args.no_progress)
    start = time.perf_counter()
    peaks = [measure_peak_flops(args.device)]
    step_seconds = measure_step_seconds(recipes, data, settings, rounds=args.timing_rounds,
                                        device=args.device, progress=not args.no_progress)
    peaks.append(measure_peak_flops(args.device))
    peak = max(peaks)
    bf16 = matmul_gflops(torch.bfloat16, n=1024, repeats=10) if args.device == "cpu" else None
    timing_seconds = time.perf_counter() - start
    print("step seconds:", step_seconds, flush=True)
    parts = {}
    for part, names, budget in (("ladder", args.ladder, args.ladder_budget),
                                ("headline", args.headline, args.headline_budget)):
        if not names:
            continue
        part_settings = replace(settings, budget_seconds=budget)
        print(f"{part}: {len(names)} recipes x {budget:.0f} s", flush=True)
        parts[part] = {"budget_seconds": budget, "recipes": train_recipes(
            [r for r in RECIPES if r.name in names], data, part_settings, step_seconds,
            device=args.device, peak_flops=peak, jobs=args.jobs,
            threads_per_job=args.threads_per_job, progress=not args.no_progress,
            save_dir=args.save_dir if part == "headline" else None)}
    record = {"command": "python scripts/train_modern.py " + shlex.join(argv),
              "wall_seconds": round(time.perf_counter() - start, 1),
              "timing_seconds": round(timing_seconds, 1),
              "validation_plays": "Twelfth Night, Richard II, Julius Caesar",
              "settings": asdict(settings), "device": args.device,
              "timing": {"threads": args.threads, "rounds": args.timing_rounds,
                         "steps_per_turn": settings.steps_per_turn},
              "training": {"jobs": args.jobs, "threads_per_job": args.threads_per_job},
              "step_seconds": step_seconds, "peak_gflops": round(peak / 1e9, 1),
              "peak_gflops_measured": [round(p / 1e9, 1) for p in peaks],
              "bf16_matmul_gflops": None if bf16 is None else round(bf16, 1),
              **parts, "note": args.note, "torch": torch.__version__,
              "machine": f"{platform.machine()} {platform.processor() or ''}".strip()}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    for part in parts.values():
        for entry in part["recipes"]:
            print(f"{part['budget_seconds']:>5.0f} s  {entry['label']:<28} "
                  f"{entry['final_validation_loss']:.4f} nats/char, {entry['steps']} steps, "
                  f"MFU {entry['mfu']:.1%}")
    print(f"wrote {args.out}")
    return record
