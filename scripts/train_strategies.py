"""Fine-tuning strategies compared on one task (section 3.5): the record the book shows.

Every strategy starts from the same all-MiniLM-L6-v2 with the same seeded two-class head
(``resources.load_encoder_classifier``), trains on the same Rotten Tomatoes reviews in the
same length-bucketed batches for the same number of steps (``classification.
train_classifier``: AdamW, linear schedule with 10 % warm-up, clipping at 1), and is scored
on the whole test split. What differs is which parameters train -- and the learning rate,
chosen for each kind of method on the validation split, in two stages:

1. a short sweep: three rates, each trained on the first ``--sweep-examples`` reviews;
2. the two best of them, each trained on the whole training split; the one with the better
   validation accuracy is chosen (a short run favours large rates, so stage 2 is needed).

The partial fine-tunings use full fine-tuning's rate. LoRA on every linear layer has its
own sweep, with rates three times smaller: at LoRA-on-query-and-value's rate it collapsed to
predicting one class (the record keeps that run too). ``--timing`` then times one training step of every strategy in
interleaved rounds (ratios that a shared machine does not distort).

    python scripts/train_strategies.py --timing             # everything, seed 0
    python scripts/train_strategies.py --seeds 1 --only full lora_qv --resume

It writes ``code/llmbook/checkpoints/finetuning_strategies.json`` (``--out``) after every
run, so an interrupted run can go on with ``--resume``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch

from llmbook import classification, lora, prompt_tuning, resources, seed_everything

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "code" / "llmbook" / "checkpoints" / "finetuning_strategies.json"

#: name -> (what the table calls it, what is trained, how it is set up, whose learning
#: rate it uses: the partial fine-tunings take full fine-tuning's).
STRATEGIES = {
    "full": ("full fine-tuning", "every parameter", None, "full"),
    "bottom2": ("layers 0-1 frozen", "layers 2-5, pooler, head",
                "lora.freeze_bottom_layers(model, 2)", "full"),
    "bottom4": ("layers 0-3 frozen", "layers 4-5, pooler, head",
                "lora.freeze_bottom_layers(model, 4)", "full"),
    "head": ("head only", "the classifier (384 x 2 + 2)",
             "lora.freeze_all_but(model, ['classifier'])", "head"),
    "lora_qv": ("LoRA r=8, query+value", "A, B of 12 layers, head",
                "lora.apply_lora(model, ('query', 'value'), r=8, alpha=16)", "lora_qv"),
    "lora_all": ("LoRA r=8, every linear", "A, B of 37 layers, head",
                 "lora.apply_lora(model, ('query', 'key', 'value', 'dense'), r=8, alpha=16)",
                 "lora_all"),
    "prompt": ("prompt tuning, 20 vectors", "20 x 384 prompt, head",
               "prompt_tuning.PromptTuningClassifier(model, 20)", "prompt"),
}
#: The learning rates tried, for each kind of method, in the short sweep (stage 1).
LEARNING_RATES = {"full": (5e-5, 1e-4, 2e-4), "head": (1e-2, 3e-2, 1e-1),
                  "lora_qv": (1e-3, 3e-3, 1e-2), "lora_all": (3e-4, 1e-3, 3e-3), "prompt": (1e-2, 3e-2, 1e-1)}


def prepare(name: str, model: torch.nn.Module, seed: int) -> torch.nn.Module:
    """The model to train under strategy ``name`` (parameters frozen in place)."""
    torch.manual_seed(seed)                  # LoRA's A is drawn from the global generator
    if name == "full":
        return model
    if name == "bottom2":
        lora.freeze_bottom_layers(model, 2)
    elif name == "bottom4":
        lora.freeze_bottom_layers(model, 4)
    elif name == "head":
        lora.freeze_all_but(model, ["classifier"])
    elif name == "lora_qv":
        lora.apply_lora(model, ("query", "value"), r=8, alpha=16)
    elif name == "lora_all":
        lora.apply_lora(model, ("query", "key", "value", "dense"), r=8, alpha=16)
    elif name == "prompt":
        return prompt_tuning.PromptTuningClassifier(model, 20, seed=seed)
    else:
        raise ValueError(f"unknown strategy {name!r}; choose from {list(STRATEGIES)}")
    return model


def _train(name: str, seed: int, lr: float, args: argparse.Namespace, train, evaluate):
    seed_everything(seed)
    model, tokenizer = resources.load_encoder_classifier(num_labels=2, seed=seed,
                                                         verbose=False)
    model = prepare(name, model, seed)
    history = classification.train_classifier(
        model, tokenizer, train, epochs=args.epochs, batch_size=args.batch_size, lr=lr,
        max_length=args.max_length, seed=seed, progress=not args.no_progress)
    start = time.perf_counter()
    report = classification.evaluate_classifier(model, tokenizer, evaluate,
                                                max_length=args.max_length)
    return model, tokenizer, history, report, time.perf_counter() - start


def sweep_one(group: str, lr: float, args: argparse.Namespace, data) -> dict:
    """One candidate learning rate of ``group``, trained on the first ``--sweep-examples``
    training reviews and scored on the validation split."""
    _, _, history, report, _ = _train(group, 0, lr, args, data.train[:args.sweep_examples],
                                      data.validation)
    print(f"  sweep {group} lr {lr:g}: validation accuracy {report.accuracy:.4f}", flush=True)
    return {"strategy": group, "lr": lr, "steps": len(history.losses),
            "validation_accuracy": round(report.accuracy, 4),
            "train_seconds": round(history.seconds, 1)}


def run(name: str, seed: int, lr: float, args: argparse.Namespace, data) -> dict:
    label, trained, setup, group = STRATEGIES[name]
    model, tokenizer, history, report, eval_seconds = _train(
        name, seed, lr, args, data.train[:args.max_examples], data.test)
    validation = classification.evaluate_classifier(model, tokenizer, data.validation,
                                                    max_length=args.max_length)
    trainable, total = lora.count_parameters(model)
    steps = len(history.losses)
    every = max(1, steps // 40)
    return {"strategy": name, "label": label, "setup": setup or "nothing frozen",
            "trained": trained, "seed": seed, "lr": lr, "lr_group": group,
            "validation_accuracy": round(validation.accuracy, 4),
            "trainable_parameters": trainable, "total_parameters": total,
            "test_accuracy": round(report.accuracy, 4),
            "test_macro_f1": round(report.macro_f1, 4),
            "test_confusion": report.confusion,
            "test_predictions": "".join(str(p) for p in report.predictions),
            "steps": steps, "train_seconds": round(history.seconds, 1),
            "seconds_per_step": round(history.seconds / steps, 3),
            "eval_seconds": round(eval_seconds, 1),
            "final_train_loss": round(sum(history.losses[-20:]) / min(20, steps), 4),
            "loss_curve": {"steps": list(range(every, steps + 1, every)),
                           "loss": [round(sum(history.losses[i - every:i]) / every, 4)
                                    for i in range(every, steps + 1, every)]}}


def time_steps(args: argparse.Namespace, data, rounds: int = 6, steps: int = 3) -> dict:
    """Seconds per training step of every strategy, measured in interleaved rounds on the
    same batches (a machine shared with other work then slows every strategy alike), the
    fastest round of each reported."""
    import statistics

    models, optimizers = {}, {}
    for name in STRATEGIES:
        seed_everything(0)
        model, tokenizer = resources.load_encoder_classifier(num_labels=2, seed=0,
                                                             verbose=False)
        models[name] = prepare(name, model, 0).train()
        params = [p for p in models[name].parameters() if p.requires_grad]
        optimizers[name] = torch.optim.AdamW(params, lr=1e-6)
    encoded = classification.encode(tokenizer, data.train, max_length=args.max_length)
    order = classification.length_batches([len(x) for x in encoded.input_ids],
                                          args.batch_size, seed=0)[:steps]
    batches = []
    for batch in order:
        texts = [data.train[i][0] for i in batch]
        enc = tokenizer(texts, padding=True, truncation=True, max_length=args.max_length,
                        return_tensors="pt")
        batches.append((enc["input_ids"], enc["attention_mask"],
                        torch.tensor([data.train[i][1] for i in batch])))

    def step(name: str) -> None:
        model, optimizer = models[name], optimizers[name]
        for ids, mask, labels in batches:
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_([p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()

    names = list(STRATEGIES)
    for name in names:                          # warm-up: first calls allocate memory
        step(name)
    seconds = {name: [] for name in names}
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            start = time.perf_counter()
            step(name)
            seconds[name].append((time.perf_counter() - start) / steps)
    # Other work on the machine only ever slows a step down, so the fastest round is the
    # best estimate of a step's own time (as timeit reports the minimum); the median is kept.
    fastest = {name: min(v) for name, v in seconds.items()}
    median = {name: statistics.median(v) for name, v in seconds.items()}
    return {"rounds": rounds, "steps_per_round": steps, "batch_size": args.batch_size,
            "statistic": "fastest of the rounds",
            "seconds_per_step": {n: round(v, 4) for n, v in fastest.items()},
            "relative_to_full": {n: round(v / fastest["full"], 3) for n, v in fastest.items()},
            "median_seconds_per_step": {n: round(v, 4) for n, v in median.items()}}


def _save(record: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1) + "\n")


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p.add_argument("--only", nargs="+", choices=list(STRATEGIES), default=list(STRATEGIES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None,
                   help="train on the first N training reviews only (default: all)")
    p.add_argument("--sweep-examples", type=int, default=2048,
                   help="training reviews of each run of the learning-rate sweep")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--resume", action="store_true",
                   help="keep the runs already in --out and skip them")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--timing", action="store_true",
                   help="also time a training step of every strategy, in interleaved rounds")
    p.add_argument("--timing-rounds", type=int, default=12,
                   help="interleaved rounds of the timing (each times 3 steps of each)")
    args = p.parse_args(sys.argv[1:] if argv is None else argv)
    torch.set_num_threads(args.threads)
    data = resources.movie_reviews(verbose=False)
    settings = {"epochs": args.epochs, "batch_size": args.batch_size,
                "max_length": args.max_length,
                "train_examples": min(len(data.train), args.max_examples or len(data.train)),
                "test_examples": len(data.test), "threads": args.threads,
                "sweep_examples": args.sweep_examples,
                "sweep_validation_examples": len(data.validation)}
    record = {"command": "python scripts/train_strategies.py " + " ".join(
                  sys.argv[1:] if argv is None else argv),
              "model": "all-MiniLM-L6-v2 + a new 2-class head (BertForSequenceClassification)",
              "data": "Rotten Tomatoes reviews (resources.movie_reviews, seed 0 split)",
              "settings": settings, "torch": torch.__version__,
              "transformers": __import__("transformers").__version__,
              "cpu": platform.processor() or platform.machine(),
              "cpu_capability": torch.backends.cpu.get_cpu_capability(),
              "sweep": [], "learning_rates": {}, "runs": []}
    if args.resume and args.out.is_file():
        old = json.loads(args.out.read_text())
        if old.get("settings") != settings:
            raise SystemExit(f"--resume: {args.out} was made with other settings "
                             f"({old.get('settings')}); remove --resume or the file.")
        record["runs"], record["sweep"] = old["runs"], old.get("sweep", [])
        record["learning_rates"] = old.get("learning_rates", {})
        if "timing" in old:
            record["timing"] = old["timing"]
        record["command"] = old["command"] + " ; " + record["command"]
    groups = list(dict.fromkeys(STRATEGIES[name][3] for name in args.only))

    def ensure(name: str, seed: int, lr: float) -> dict:
        for r in record["runs"]:
            if (r["strategy"], r["seed"], r["lr"]) == (name, seed, lr):
                return r
        print(f"{name} (seed {seed}, lr {lr:g}) ...", flush=True)
        result = run(name, seed, lr, args, data)
        print(f"  validation {result['validation_accuracy']:.4f}, test "
              f"{result['test_accuracy']:.4f}, trainable {result['trainable_parameters']:,}, "
              f"{result['train_seconds']} s", flush=True)
        record["runs"].append(result)
        _save(record, args.out)
        return result

    for group in groups:                      # stage 1: the short sweep
        for lr in LEARNING_RATES[group]:
            if not any(r["strategy"] == group and r["lr"] == lr for r in record["sweep"]):
                record["sweep"].append(sweep_one(group, lr, args, data))
                _save(record, args.out)
    for group in groups:                      # stage 2: the two best, on all the data
        if group not in record["learning_rates"]:
            tried = sorted((r for r in record["sweep"] if r["strategy"] == group),
                           key=lambda r: -r["validation_accuracy"])[:2]
            finalists = [ensure(group, 0, r["lr"]) for r in tried]
            best = max(finalists, key=lambda r: r["validation_accuracy"])
            record["learning_rates"][group] = best["lr"]
            _save(record, args.out)
    for seed in args.seeds:                   # every strategy at its group's rate
        for name in args.only:
            ensure(name, seed, record["learning_rates"][STRATEGIES[name][3]])
    if args.timing:
        print("timing a step of every strategy ...", flush=True)
        record["timing"] = time_steps(args, data, rounds=args.timing_rounds)
        print("  relative to full fine-tuning:", record["timing"]["relative_to_full"], flush=True)
        _save(record, args.out)
    return record


if __name__ == "__main__":
    main()
