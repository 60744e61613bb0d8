"""The reference fine-tuning run of section 5.5, and the JSON record it writes.

``python -m llmbook.train_sentiment`` fine-tunes all-MiniLM-L6-v2 (offline) on every training
review of :func:`llmbook.resources.movie_reviews` with :func:`llmbook.classification.train_classifier`,
scores it on the validation and test splits at the end, and
writes ``code/llmbook/checkpoints/minilm_sentiment.json``: the command, the settings, the
losses, the scores, the confusion matrix, the baselines on the same split (majority class;
frozen mean-pooled MiniLM + logistic regression on all training reviews) and the time.
The fine-tuned weights (87 MB) are not kept: the book ships the record, and the run is
repeatable with the command in it (about 15 minutes on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from . import classification
from .env import seed_everything

__all__ = ["DEFAULT_RECORD", "frozen_probe_accuracy", "load_record", "main"]

DEFAULT_RECORD = Path(__file__).resolve().parent / "checkpoints" / "minilm_sentiment.json"


def load_record(path: str | Path = DEFAULT_RECORD) -> dict:
    """The record of the reference run (a dict), read from its JSON file."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no record at {path}; write it with "
                                f"python -m llmbook.train_sentiment --out {path}")
    return json.loads(path.read_text())


@torch.no_grad()
def _mean_pooled(encoder, tokenizer, texts, batch_size: int = 128, max_length: int = 64):
    out = []
    for start in range(0, len(texts), batch_size):
        batch = tokenizer(texts[start:start + batch_size], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        hidden = encoder(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        out.append((hidden * mask).sum(1) / mask.sum(1))
    return torch.cat(out).numpy()


def frozen_probe_accuracy(train, test, *, max_length: int = 64, seed: int = 0) -> dict:
    """Frozen MiniLM mean-pooled embeddings + scikit-learn logistic regression: the baseline
    of section 2.5, here with every training review. Returns accuracy and macro F1."""
    from sklearn.linear_model import LogisticRegression

    from .resources import load_minilm

    encoder, tokenizer = load_minilm(attentions=False, verbose=False)
    x_train = _mean_pooled(encoder, tokenizer, [t for t, _ in train], max_length=max_length)
    x_test = _mean_pooled(encoder, tokenizer, [t for t, _ in test], max_length=max_length)
    probe = LogisticRegression(max_iter=2000, random_state=seed)
    probe.fit(x_train, [y for _, y in train])
    pred = probe.predict(x_test).tolist()
    labels = [y for _, y in test]
    return {"accuracy": round(classification.accuracy(labels, pred), 4),
            "macro_f1": round(classification.macro_f1(labels, pred, 2), 4)}


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m llmbook.train_sentiment", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=DEFAULT_RECORD, help="the JSON record to write")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--warmup", type=float, default=0.1)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--max-examples", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> dict:
    """Command-line entry point; returns the record it writes."""
    from .resources import load_encoder_classifier, movie_reviews

    argv = sys.argv[1:] if argv is None else argv
    args = _parser().parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)
    data = movie_reviews(verbose=False)
    model, tokenizer = load_encoder_classifier(num_labels=2, seed=args.seed, verbose=False)
    settings = dict(batch_size=args.batch_size, lr=args.lr, warmup=args.warmup,
                    weight_decay=args.weight_decay, max_length=args.max_length,
                    max_examples=args.max_examples, progress=not args.no_progress)
    history = classification.train_classifier(model, tokenizer, data.train,
                                              epochs=args.epochs, seed=args.seed, **settings)
    losses, seconds = history.losses, history.seconds
    val = classification.evaluate_classifier(model, tokenizer, data.validation,
                                             max_length=args.max_length)
    start = time.perf_counter()
    test = classification.evaluate_classifier(model, tokenizer, data.test,
                                              max_length=args.max_length)
    eval_seconds = time.perf_counter() - start
    labels = test.labels
    majority = max(labels.count(0), labels.count(1)) / len(labels)
    probe = frozen_probe_accuracy(data.train[:args.max_examples], data.test,
                                  max_length=args.max_length, seed=args.seed)
    steps = len(losses)
    every = max(1, steps // 200)
    record = {
        "command": "python -m llmbook.train_sentiment " + shlex.join(argv),
        "model": "all-MiniLM-L6-v2 + a new 2-class head (BertForSequenceClassification)",
        "data": "Rotten Tomatoes snippets (llmbook.resources.movie_reviews, seed 0)",
        "train_examples": history.examples // args.epochs,
        "test_examples": len(labels),
        "settings": {k: v for k, v in vars(args).items() if k not in ("out", "no_progress")},
        "trainable_parameters": history.trainable_parameters,
        "steps": steps,
        "loss_every": every,
        "losses": [round(v, 4) for v in losses[::every]],
        "validation_accuracy": round(val.accuracy, 4),
        "test_accuracy": round(test.accuracy, 4),
        "test_macro_f1": round(test.macro_f1, 4),
        "test_confusion": test.confusion,
        "baselines": {"majority_class": round(majority, 4), "frozen_minilm_logreg": probe},
        "train_seconds": round(seconds, 1),
        "test_eval_seconds": round(eval_seconds, 1),
        "threads": args.threads,
        "torch": torch.__version__,
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    print(f"test accuracy {test.accuracy:.4f}, macro F1 {test.macro_f1:.4f} after {steps} steps "
          f"in {seconds:.0f} s (frozen probe {probe['accuracy']:.4f}, majority {majority:.4f}); "
          f"wrote {args.out}")
    return record


if __name__ == "__main__":
    main()
