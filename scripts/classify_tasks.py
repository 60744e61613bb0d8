"""The record of section 6.1: three text-classification tasks, each solved four ways.

Tasks (``llmbook.resources``, seed 0): English film reviews (``movie_reviews``: rotten /
fresh), Chinese product reviews (``chinese_reviews``: negative / positive) and the 2016 US
debates (``debate_statements``: moderator / Democrat / Republican).

Approaches, every one scored on the task's test split:

* ``majority`` -- the most frequent training label, always;
* ``tfidf_lr`` -- the classic baseline: TF-IDF of word uni- and bigrams (character 1-3-grams
  for Chinese) and a logistic regression (scikit-learn), its C chosen on validation;
* ``frozen_lr`` -- frozen all-MiniLM-L6-v2, mean-pooled (``text_classification.
  mean_pooled_embeddings``), and a logistic regression, C chosen on validation;
* ``finetuned`` -- all of MiniLM fine-tuned with a new head (``classification.
  train_classifier``, 5.5's loop). English: 5.5's own record (its confusion matrix), not run
  again; Chinese and debates are trained here;
* ``zero_shot`` / ``few_shot`` (two examples of each class) -- SmolLM2-135M-Instruct prompted,
  the class read from the label words' first-token probabilities (``text_classification.
  PromptClassifier``), each also ``_calibrated`` by a content-free input; on the first
  ``--prompt-examples`` test texts (the test split is shuffled), since each text costs a
  forward pass of a 135M-parameter decoder.

Each part writes its own file next to the record (``--part``), so parts can run at the same
time in separate processes; ``--merge`` joins them into
``code/llmbook/checkpoints/classification_tasks.json``. Predictions are stored as strings of
class digits, one per test text, so the notebook can bootstrap any metric.

    python scripts/classify_tasks.py --part features &
    python scripts/classify_tasks.py --part finetune &
    python scripts/classify_tasks.py --part prompt; wait
    python scripts/classify_tasks.py --merge
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch

from llmbook import classification, resources, seed_everything
from llmbook.bootstrap import bootstrap_ci
from llmbook import text_classification as tc

ROOT = Path(__file__).resolve().parent.parent
RECORD = ROOT / "code" / "llmbook" / "checkpoints" / "classification_tasks.json"
SENTIMENT_RECORD = ROOT / "code" / "llmbook" / "checkpoints" / "minilm_sentiment.json"
TASKS = ("en", "zh", "debates")
C_GRID = (0.1, 1.0, 10.0)

#: What each task's prompt says, and the words that answer it (one per class).
PROMPTS = {
    "en": ("You label film reviews. Say whether the review is positive or negative. "
           "Answer with one word: positive or negative.", ("negative", "positive")),
    "zh": ("You label Chinese product reviews. Say whether the review is positive or "
           "negative. Answer with one word: positive or negative.", ("negative", "positive")),
    "debates": ("You label statements from the 2016 US presidential debates. Say who is "
                "speaking: the moderator, a Democrat (Clinton, Kaine) or a Republican (Trump, "
                "Pence). Answer with one word: moderator, Democrat or Republican.",
                ("moderator", "Democrat", "Republican")),
}
#: Fine-tuning settings (5.5's, with longer inputs; the small debate set gets more epochs).
FINETUNE = {"zh": {"epochs": 1, "batch_size": 32, "lr": 1e-4, "max_length": 128},
            "debates": {"epochs": 4, "batch_size": 16, "lr": 1e-4, "max_length": 128}}
MAX_LENGTH = 128
MAX_CHARS = 400


def load(task: str) -> resources.LabelledSplits:
    return {"en": resources.movie_reviews, "zh": resources.chinese_reviews,
            "debates": resources.debate_statements}[task](verbose=False)


def digits(pred) -> str:
    return "".join(str(int(p)) for p in pred)


def shots_for(data: resources.LabelledSplits, per_class: int = 2) -> list[tuple[str, int]]:
    """The first ``per_class`` short training texts of each class, classes interleaved."""
    k = len(data.label_names)
    chosen = {c: [t for t, y in data.train if y == c and 20 <= len(t) <= 200][:per_class]
              for c in range(k)}
    return [(chosen[c][i], c) for i in range(per_class) for c in range(k)]


def _fit_lr(x_train, y_train, x_val, y_val, seed: int = 0):
    from sklearn.linear_model import LogisticRegression
    best = None
    for c in C_GRID:
        lr = LogisticRegression(C=c, max_iter=3000, random_state=seed).fit(x_train, y_train)
        acc = classification.accuracy(y_val, lr.predict(x_val).tolist())
        if best is None or acc > best[1]:
            best = (c, acc, lr)
    return best


def tfidf(task: str, data) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    kw = ({"analyzer": "char", "ngram_range": (1, 3)} if task == "zh"
          else {"analyzer": "word", "ngram_range": (1, 2)})
    vec = TfidfVectorizer(min_df=2, sublinear_tf=True, **kw)
    x = vec.fit_transform(data.texts("train"))
    c, val, lr = _fit_lr(x, data.labels("train"), vec.transform(data.texts("validation")),
                         data.labels("validation"))
    return {"C": c, "validation_accuracy": round(val, 4), "features": x.shape[1],
            "pred": digits(lr.predict(vec.transform(data.texts("test"))))}


def frozen(task: str, data) -> dict:
    enc, tok = resources.load_minilm(attentions=False, verbose=False)
    t0 = time.perf_counter()
    x = {s: tc.mean_pooled_embeddings(data.texts(s), enc, tok, max_length=MAX_LENGTH).numpy()
         for s in resources.SPLIT_NAMES}
    seconds = time.perf_counter() - t0
    c, val, lr = _fit_lr(x["train"], data.labels("train"), x["validation"],
                         data.labels("validation"))
    return {"C": c, "validation_accuracy": round(val, 4), "embed_seconds": round(seconds, 1),
            "pred": digits(lr.predict(x["test"]))}


def finetune(task: str, data) -> dict:
    if task == "en":
        rec = json.loads(SENTIMENT_RECORD.read_text())
        return {"from": "minilm_sentiment.json (section 5.5)", "settings": rec["settings"],
                "confusion": rec["test_confusion"]}
    settings = FINETUNE[task]
    seed_everything(0)
    model, tok = resources.load_encoder_classifier(num_labels=len(data.label_names),
                                                   verbose=False)
    t0 = time.perf_counter()
    hist = classification.train_classifier(model, tok, data.train, seed=0, progress=False,
                                           **settings)
    seconds = time.perf_counter() - t0
    val = classification.evaluate_classifier(model, tok, data.validation,
                                             max_length=settings["max_length"])
    pred = classification.predict(model, tok, data.texts("test"),
                                  max_length=settings["max_length"])
    return {"settings": settings, "steps": len(hist.losses),
            "train_seconds": round(seconds, 1), "validation_accuracy": round(val.accuracy, 4),
            "pred": digits(pred)}


def prompt(task: str, data, n: int) -> dict:
    model, tok = resources.load_smollm2(attentions=False, verbose=False)
    instruction, words = PROMPTS[task]
    texts = data.texts("test")[:n]
    out = {"instruction": instruction, "label_words": list(words), "n": len(texts),
           "max_chars": MAX_CHARS}
    for name, shots in (("zero_shot", []), ("few_shot", shots_for(data))):
        clf = tc.PromptClassifier(model, tok, instruction, words, shots, max_chars=MAX_CHARS)
        t0 = time.perf_counter()
        scores = clf.scores(texts)
        seconds = time.perf_counter() - t0
        free = clf.scores(["N/A"])[0]
        out[name] = {"shots": [list(s) for s in shots], "seconds": round(seconds, 1),
                     "content_free": [round(v, 4) for v in free.tolist()],
                     "pred": digits(scores.argmax(1).tolist())}
        out[name + "_calibrated"] = {"pred": digits(tc.calibrate(scores, free).argmax(1).tolist())}
        print(task, name, f"{seconds:.0f} s", flush=True)
    return out


def run_part(part: str, n_prompt: int) -> None:
    torch.set_num_threads(1)
    path = RECORD.with_suffix(f".{part}.json")
    result = json.loads(path.read_text()) if path.exists() else {}
    for task in TASKS:
        if task in result:
            continue
        data = load(task)
        t0 = time.perf_counter()
        if part == "features":
            result[task] = {"tfidf_lr": tfidf(task, data), "frozen_lr": frozen(task, data)}
        elif part == "finetune":
            result[task] = {"finetuned": finetune(task, data)}
        else:
            result[task] = {"prompting": prompt(task, data, n_prompt)}
        print(part, task, f"{time.perf_counter() - t0:.0f} s", flush=True)
        path.write_text(json.dumps(result, indent=1, ensure_ascii=False))


def scores(y_true: list[int], y_pred: list[int], k: int) -> dict:
    """Accuracy and macro F1 with 95 % percentile-bootstrap intervals (1,000 resamples)."""
    out = {"n": len(y_true)}
    for name, fn in (("accuracy", classification.accuracy),
                     ("macro_f1", lambda t, p: classification.macro_f1(t, p, k))):
        ci = bootstrap_ci(fn, y_true, y_pred, n=1000, seed=0)
        out[name] = [round(ci.estimate, 4), round(ci.low, 4), round(ci.high, 4)]
    return out


def predictions(entry: dict, k: int) -> dict[str, tuple[list[int], list[int]]]:
    """Each approach's (gold, predicted) lists, on the texts it was scored on."""
    gold = [int(c) for c in entry["test_labels"]]
    out = {"majority": (gold, [entry["majority"]["label"]] * len(gold))}
    for name in ("tfidf_lr", "frozen_lr"):
        out[name] = (gold, [int(c) for c in entry[name]["pred"]])
    ft = entry["finetuned"]
    out["finetuned"] = (tc.pairs_from_confusion(ft["confusion"]) if "confusion" in ft
                        else (gold, [int(c) for c in ft["pred"]]))
    n = entry["prompting"]["n"]
    for name in ("zero_shot", "zero_shot_calibrated", "few_shot", "few_shot_calibrated"):
        out[name] = (gold[:n], [int(c) for c in entry["prompting"][name]["pred"]])
    return out


def merge() -> None:
    record = {"command": "python scripts/classify_tasks.py (--part features|finetune|prompt, "
                         "then --merge)",
              "torch": torch.__version__, "machine": platform.machine(), "threads": 1,
              "tasks": {}}
    parts = {p: json.loads(RECORD.with_suffix(f".{p}.json").read_text())
             for p in ("features", "finetune", "prompt")}
    for task in TASKS:
        data = load(task)
        train = data.labels("train")
        majority = max(set(train), key=train.count)
        entry = {"label_names": list(data.label_names), "sizes": data.sizes(),
                 "test_labels": digits(data.labels("test")),
                 "majority": {"label": majority}}
        for p in parts.values():
            entry.update(p[task])
        k = len(data.label_names)
        entry["scores"] = {name: scores(t, p, k)
                           for name, (t, p) in predictions(entry, k).items()}
        record["tasks"][task] = entry
    RECORD.write_text(json.dumps(record, indent=1, ensure_ascii=False) + "\n")
    print("wrote", RECORD)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--part", choices=("features", "finetune", "prompt"))
    p.add_argument("--merge", action="store_true")
    p.add_argument("--prompt-examples", type=int, default=500)
    args = p.parse_args()
    if args.merge:
        merge()
    elif args.part:
        run_part(args.part, args.prompt_examples)
    else:
        p.error("give --part or --merge")


if __name__ == "__main__":
    main()
