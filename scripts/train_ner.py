"""The reference named-entity tagger of section 6.2, and the record it writes.

Trains :class:`llmbook.token_classification.BiLSTMTagger` from scratch on the whole training
split of People's Daily NER (``resources.peoples_daily_ner``, split by
``token_classification.split_sentences``: contiguous 80 / 10 / 10 blocks), scores it on the
validation and test splits with :func:`llmbook.ner.entity_scores` (checked against seqeval),
scores the gazetteer baseline on the same test split, and writes

* ``code/llmbook/checkpoints/ner_bilstm.safetensors`` -- the weights (about 2 MB), and
* ``code/llmbook/checkpoints/ner_bilstm.json`` -- the configuration, the character
  vocabulary, the command, the settings, the losses, the scores and the time.

    python scripts/train_ner.py       # the shipped run: 2 epochs, batch 64, lr 8e-3, 1 thread
                                      # (10 minutes on a machine shared with other jobs)
    python scripts/train_ner.py --epochs 1 --out /tmp/ner   # a shorter try
"""

from __future__ import annotations

import argparse
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

from llmbook import ner, resources, seed_everything
from llmbook import token_classification as tc

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "code" / "llmbook" / "checkpoints" / "ner_bilstm"


def _scores(gold, pred) -> dict:
    s = ner.entity_scores(gold, pred)
    rnd = lambda d: {k: (round(v, 4) if isinstance(v, float) else v) for k, v in d.items()}
    return {"per_type": {k: rnd(v) for k, v in s.per_type.items()}, "micro": rnd(s.micro),
            "macro": rnd(s.macro), "token_accuracy": round(ner.token_accuracy(gold, pred), 4)}


def _seqeval_gap(gold, pred) -> float:
    from seqeval.metrics import f1_score
    return abs(ner.entity_scores(gold, pred).f1 - f1_score(gold, pred))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=8e-3)
    parser.add_argument("--emb-dim", type=int, default=64)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--dropout", type=float, default=0.2)
    parser.add_argument("--max-length", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    seed_everything(args.seed)

    data = resources.peoples_daily_ner()
    train, validation, test = tc.split_sentences(data)
    vocab = tc.CharVocab.build(c for c, _ in train)
    model = tc.BiLSTMTagger(len(vocab), emb_dim=args.emb_dim, hidden=args.hidden,
                            dropout=args.dropout)
    history = tc.train_tagger(model, vocab, train, epochs=args.epochs,
                              batch_size=args.batch_size, lr=args.lr,
                              max_length=args.max_length, seed=args.seed,
                              progress=not args.no_progress)
    print(f"trained {len(history.losses)} steps in {history.seconds:.0f} s")
    start = time.perf_counter()
    gold_test = [t for _, t in test]
    pred_test = tc.predict_tags(model, vocab, [c for c, _ in test])
    predict_seconds = time.perf_counter() - start
    pred_val = tc.predict_tags(model, vocab, [c for c, _ in validation])
    gazetteer = tc.Gazetteer.build(train)
    gaz_test = gazetteer.tag_all([c for c, _ in test])
    every = max(1, len(history.losses) // 300)
    record = {
        "command": "python scripts/train_ner.py " + shlex.join(sys.argv[1:] if argv is None
                                                                else argv),
        "model": f"BiLSTMTagger (character embedding {args.emb_dim}, BiLSTM {args.hidden} "
                 f"per direction, linear to {len(tc.NER_TAGS)} BIO tags), from scratch",
        "data": "People's Daily 1998-01 NER (resources.peoples_daily_ner), contiguous "
                "80/10/10 split (token_classification.split_sentences)",
        "train_sentences": len(train), "test_sentences": len(test),
        "settings": history.settings | {"emb_dim": args.emb_dim, "hidden": args.hidden,
                                        "dropout": args.dropout, "threads": args.threads},
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": len(history.losses), "loss_every": every,
        "losses": [round(x, 4) for x in history.losses[::every]],
        "train_seconds": round(history.seconds, 1),
        "test_predict_seconds": round(predict_seconds, 2),
        "validation": _scores([t for _, t in validation], pred_val),
        "test": _scores(gold_test, pred_test),
        "gazetteer_test": _scores(gold_test, gaz_test) | {"names": len(gazetteer)},
        "seqeval_max_difference": max(_seqeval_gap(gold_test, pred_test),
                                      _seqeval_gap(gold_test, gaz_test)),
        "machine": {"python": platform.python_version(), "torch": torch.__version__,
                    "cpu_capability": torch.backends.cpu.get_cpu_capability(),
                    "note": "2 threads on a machine shared with other jobs"},
    }
    weights, meta = tc.save_tagger(model, vocab, args.out, extra=record)
    print(f"test micro F1 {record['test']['micro']['f1']:.4f} (gazetteer "
          f"{record['gazetteer_test']['micro']['f1']:.4f}); wrote {weights} and {meta}")
    return record


if __name__ == "__main__":
    main()
