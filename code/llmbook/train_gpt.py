"""Train the book's character-level GPT on Shakespeare (section 5.3).

Run from the repository root, e.g. the reference checkpoint::

    python -m llmbook.train_gpt --out code/llmbook/checkpoints/gpt_shakespeare.safetensors

It trains on the 32 training plays, measures the loss on the three held-out validation plays
in nats per character, and writes the weights (safetensors, with the config and vocabulary in
its metadata) and a JSON record next to them: the exact command, the seed, the number of
steps, the validation loss, the training time and the throughput in tokens per second.
The same function, :func:`train_char_gpt`, trains the short live run of the notebook.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .chardata import CharData, evaluate_loss, get_batch, load_char_data, vocab_to_json
from .env import seed_everything
from .gpt import GPT, GPTConfig, save_gpt
from .training import TrainHistory, make_optimizer, train_loop, warmup_cosine_lr

__all__ = ["TrainConfig", "train_char_gpt", "main", "DEFAULT_CHECKPOINT", "load_reference"]

#: Where the book's reference checkpoint lives (inside the package).
DEFAULT_CHECKPOINT = Path(__file__).parent / "checkpoints" / "gpt_shakespeare.safetensors"


@dataclass
class TrainConfig:
    """Everything a run depends on besides the data (the reference run's values as defaults)."""

    n_layer: int = GPTConfig.n_layer          # the model's sizes: GPTConfig's defaults
    n_head: int = GPTConfig.n_head
    n_embd: int = GPTConfig.n_embd
    block_size: int = GPTConfig.block_size
    dropout: float = GPTConfig.dropout
    batch_size: int = 32
    steps: int = 2450
    lr: float = 2e-3
    min_lr: float = 2e-4
    warmup_steps: int = 100
    weight_decay: float = 0.1
    clip_norm: float = 1.0
    eval_every: int = 250
    eval_windows: int = 200
    seed: int = 1337


def train_char_gpt(cfg: TrainConfig, data: CharData | None = None, *, progress: bool = True,
                   callback: Callable[[int, TrainHistory, GPT], None] | None = None
                   ) -> tuple[GPT, TrainHistory]:
    """Train a :class:`~llmbook.gpt.GPT` on character-level Shakespeare with AdamW, a
    warm-up + cosine schedule and gradient clipping. During training the validation loss is
    estimated on ``eval_windows`` evenly spaced windows of the validation plays;
    ``callback(step, history, model)`` runs after each estimate."""
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, got {type(cfg).__name__}.")
    data = data if data is not None else load_char_data(verbose=progress)
    seed_everything(cfg.seed)        # the initial weights (LLMBOOK_SEED_SHIFT moves them)
    model = GPT(GPTConfig(vocab_size=len(data.vocab), block_size=cfg.block_size,
                          n_layer=cfg.n_layer, n_head=cfg.n_head, n_embd=cfg.n_embd,
                          dropout=cfg.dropout))
    optimizer = make_optimizer("adamw", model, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)

    def loss_fn(m: GPT, step: int) -> torch.Tensor:
        x, y = get_batch(data.train, cfg.batch_size, cfg.block_size, generator=gen)
        return m(x, y)[1]

    def schedule(step: int) -> float:
        return warmup_cosine_lr(step, max_lr=cfg.lr, warmup_steps=cfg.warmup_steps,
                                total_steps=cfg.steps, min_lr=cfg.min_lr)

    def eval_fn(m: GPT) -> float:
        return evaluate_loss(m, data.validation, cfg.block_size, max_windows=cfg.eval_windows)

    history = train_loop(
        model, loss_fn, optimizer, cfg.steps, schedule=schedule, clip_norm=cfg.clip_norm,
        eval_fn=eval_fn, eval_every=cfg.eval_every,
        tokens_per_step=cfg.batch_size * cfg.block_size, progress=progress, desc="GPT",
        callback=(lambda step, h: callback(step, h, model)) if callback else None)
    return model.eval(), history


def load_reference(path: str | Path = DEFAULT_CHECKPOINT):
    """The reference checkpoint: ``(model, vocab, record)``, where ``record`` is the JSON
    written next to it (command, seed, validation loss...). Loaded with safetensors."""
    from .chardata import vocab_from_json
    from .gpt import load_gpt

    path = Path(path)
    model, meta = load_gpt(path)
    vocab = vocab_from_json(meta["vocab"])
    record_path = path.with_suffix(".json")
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    return model, vocab, record


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m llmbook.train_gpt", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_CHECKPOINT,
                   help="where to write the .safetensors file (a .json record goes next to it)")
    defaults = TrainConfig()
    for name, value in vars(defaults).items():
        p.add_argument(f"--{name.replace('_', '-')}", type=type(value), default=value)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> dict:
    """Command-line entry point; returns the JSON record it writes."""
    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    if args.out.suffix != ".safetensors":
        raise SystemExit(f"--out must end in .safetensors, got {args.out}")
    torch.set_num_threads(args.threads)
    cfg = TrainConfig(**{k: getattr(args, k) for k in vars(TrainConfig())})
    data = load_char_data(verbose=not args.no_progress)
    start = time.perf_counter()
    model, history = train_char_gpt(cfg, data, progress=not args.no_progress)
    train_seconds = time.perf_counter() - start
    eval_start = time.perf_counter()
    val = evaluate_loss(model, data.validation, cfg.block_size, progress=not args.no_progress)
    eval_seconds = time.perf_counter() - eval_start
    record = {
        "command": "python -m llmbook.train_gpt " + shlex.join(argv),
        "seed": cfg.seed,
        "steps": cfg.steps,
        "config": vars(cfg),
        "model": model.config.to_dict(),
        "parameters": model.num_parameters(),
        "validation_loss_nats_per_char": round(val, 4),
        "validation_perplexity": round(math.exp(val), 3),
        "validation_bits_per_char": round(val / math.log(2), 4),
        "validation_plays": "Twelfth Night, Richard II, Julius Caesar (whole, every window)",
        "final_train_loss": round(history.loss[-1], 4),
        "train_seconds": round(train_seconds, 1),
        "final_eval_seconds": round(eval_seconds, 1),
        "tokens_seen": history.tokens,
        "tokens_per_second": round(history.tokens / train_seconds, 1),
        "threads": args.threads,
        "eval_history": {"steps": history.eval_steps,
                         "loss": [round(v, 4) for v in history.eval_loss]},
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    save_gpt(model, args.out, metadata={"vocab": vocab_to_json(data.vocab),
                                        "validation_loss": f"{val:.4f}"})
    args.out.with_suffix(".json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"validation loss {val:.4f} nats/char (perplexity {math.exp(val):.2f}) after "
          f"{cfg.steps} steps in {train_seconds:.0f} s "
          f"({record['tokens_per_second']:.0f} tokens/s); wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
