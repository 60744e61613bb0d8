"""Fine-tuning a pretrained encoder for text classification, and the metrics to judge it.

The loop that sections 3.5, 5.5 and 6.1 share, written out once:

* :func:`encode` tokenizes ``(text, label)`` pairs once; :func:`length_batches` groups them
  into batches of similar length (little padding, so a CPU step is about twice as fast as
  with random batches), shuffled by a seed;
* :func:`train_classifier` -- AdamW over the parameters that require gradients, a linear
  schedule with warm-up, gradient clipping, a ``tqdm`` progress bar; returns a
  :class:`ClassifierHistory`;
* :func:`predict` and :func:`evaluate_classifier` (a :class:`ClassificationReport`: accuracy,
  macro F1, per-class precision / recall / F1, confusion matrix);
* the metrics themselves -- :func:`accuracy`, :func:`precision_recall_f1`, :func:`macro_f1`,
  :func:`confusion_matrix` -- in plain Python, checked against scikit-learn in the tests.

Any model works that takes ``input_ids`` and ``attention_mask`` keyword arguments (and
``labels``) and returns an object with ``.logits`` (and ``.loss``): a Hugging Face
``...ForSequenceClassification``, or a wrapper such as prompt tuning's.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import nn

__all__ = ["accuracy", "precision_recall_f1", "macro_f1", "confusion_matrix",
           "Encoded", "encode", "length_batches", "pad_batch", "linear_warmup_lr",
           "ClassifierHistory", "train_classifier", "predict", "ClassificationReport",
           "evaluate_classifier"]


# --------------------------------------------------------------------------------------------
# Metrics
# --------------------------------------------------------------------------------------------

def _labels(name: str, values: object) -> list[int]:
    if isinstance(values, torch.Tensor):
        if values.dim() != 1:
            raise ValueError(f"{name} must be 1-D (one label per example), got shape "
                             f"{tuple(values.shape)}")
        values = values.tolist()
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise TypeError(f"{name} must be a list or 1-D tensor of int class ids, "
                        f"got {type(values).__name__}")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise TypeError(f"{name} must hold non-negative int class ids, got {v!r}")
        out.append(v)
    return out


def _pair(y_true: object, y_pred: object) -> tuple[list[int], list[int]]:
    t, p = _labels("y_true", y_true), _labels("y_pred", y_pred)
    if len(t) != len(p):
        raise ValueError(f"y_true and y_pred differ in length ({len(t)} vs {len(p)}): one "
                         f"prediction per example is needed")
    if not t:
        raise ValueError("y_true is empty: a metric needs at least one example")
    return t, p


def _num_classes(t: list[int], p: list[int], num_classes: int | None) -> int:
    seen = max(max(t), max(p)) + 1
    if num_classes is None:
        return seen
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"num_classes must be a positive int, got {num_classes!r}")
    if seen > num_classes:
        raise ValueError(f"a label {seen - 1} is out of range for num_classes={num_classes}")
    return num_classes


def accuracy(y_true: Sequence[int], y_pred: Sequence[int]) -> float:
    """The fraction of examples whose predicted class is the true one."""
    t, p = _pair(y_true, y_pred)
    return sum(a == b for a, b in zip(t, p)) / len(t)


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int],
                     num_classes: int | None = None) -> list[list[int]]:
    """``m[i][j]`` = the number of examples of true class ``i`` predicted as ``j``."""
    t, p = _pair(y_true, y_pred)
    k = _num_classes(t, p, num_classes)
    m = [[0] * k for _ in range(k)]
    for a, b in zip(t, p):
        m[a][b] += 1
    return m


def precision_recall_f1(y_true: Sequence[int], y_pred: Sequence[int],
                        num_classes: int | None = None) -> list[dict[str, float]]:
    """Per class ``c``: precision = TP/(TP+FP), recall = TP/(TP+FN), F1 their harmonic mean,
    and the support (examples of class ``c``). A ratio with a zero denominator is 0, as in
    scikit-learn's ``zero_division=0``."""
    m = confusion_matrix(y_true, y_pred, num_classes)
    out = []
    for c in range(len(m)):
        tp = m[c][c]
        predicted = sum(m[r][c] for r in range(len(m)))
        support = sum(m[c])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out.append({"precision": precision, "recall": recall, "f1": f1, "support": support})
    return out


def macro_f1(y_true: Sequence[int], y_pred: Sequence[int],
             num_classes: int | None = None) -> float:
    """The unweighted mean of the per-class F1 scores: each class counts the same however
    rare it is (a majority-class predictor scores at most 1/k·(2·share/(1+share)))."""
    per_class = precision_recall_f1(y_true, y_pred, num_classes)
    return sum(c["f1"] for c in per_class) / len(per_class)


# --------------------------------------------------------------------------------------------
# Data: tokenize once, batch by length
# --------------------------------------------------------------------------------------------

@dataclass
class Encoded:
    """Token ids (unpadded, one list per example) and labels of a tokenized data set."""
    input_ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.labels)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _check_data(data: object) -> list[tuple[str, int]]:
    if isinstance(data, (str, bytes)) or not isinstance(data, Sequence):
        raise TypeError(f"data must be a list of (text, label) pairs, such as "
                        f"resources.movie_reviews().train; got {type(data).__name__}")
    if len(data) == 0:
        raise ValueError("data is empty: the split has no examples to train or evaluate on")
    for i, item in enumerate(data[:1] if len(data) > 1000 else data):
        if (not isinstance(item, (tuple, list)) or len(item) != 2 or not isinstance(item[0], str)
                or isinstance(item[1], bool) or not isinstance(item[1], int)):
            raise TypeError(f"data[{i}] must be a (text, int label) pair, got {item!r:.80}")
    return list(data)


def encode(tokenizer: Any, data: Sequence[tuple[str, int]], *, max_length: int = 64,
           max_examples: int | None = None) -> Encoded:
    """Tokenize ``(text, label)`` pairs once (truncated to ``max_length`` tokens, special
    tokens included); ``max_examples`` keeps only the first ones."""
    data = _check_data(data)
    _check_int("max_length", max_length, 2)
    if max_examples is not None:
        data = data[:_check_int("max_examples", max_examples, 1)]
    texts = [t for t, _ in data]
    ids = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    return Encoded(input_ids=[list(x) for x in ids], labels=[y for _, y in data])


def length_batches(lengths: Sequence[int], batch_size: int, *, seed: int | None = 0,
                   pool: int = 16) -> list[list[int]]:
    """Indices in batches of similar length: shuffle (``seed``; ``None`` keeps the order),
    sort each pool of ``pool`` batches by length, cut it into batches, shuffle the batches."""
    _check_int("batch_size", batch_size, 1)
    _check_int("pool", pool, 1)
    order = list(range(len(lengths)))
    rng = random.Random(seed)
    if seed is not None:
        rng.shuffle(order)
    batches = []
    size = batch_size * pool
    for start in range(0, len(order), size):
        chunk = sorted(order[start:start + size], key=lambda i: lengths[i])
        batches += [chunk[j:j + batch_size] for j in range(0, len(chunk), batch_size)]
    if seed is not None:
        rng.shuffle(batches)
    return batches


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad token-id lists to one width: ``(input_ids, attention_mask)``, both (B, T)
    long tensors, the mask 1 on real tokens and 0 on padding (an encoder reads the whole
    sequence, so the side does not matter; a decoder that generates needs left padding)."""
    if not ids or any(len(x) == 0 for x in ids):
        raise ValueError("pad_batch needs a non-empty list of non-empty token-id lists")
    width = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), width), dtype=torch.long)
    for r, x in enumerate(ids):
        input_ids[r, :len(x)] = torch.tensor(x, dtype=torch.long)
        mask[r, :len(x)] = 1
    return input_ids, mask


def _pad_id(tokenizer: Any) -> int:
    pad = getattr(tokenizer, "pad_token_id", None)
    if pad is None:
        raise ValueError("the tokenizer has no pad token; set tokenizer.pad_token "
                         "(e.g. to its eos_token) before batching")
    return pad


# --------------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------------

def linear_warmup_lr(step: int, *, max_lr: float, warmup_steps: int, total_steps: int) -> float:
    """The learning rate of step ``step`` (0-based): a linear rise over ``warmup_steps`` to
    ``max_lr``, then a linear decay to 0 at ``total_steps`` -- the schedule of BERT, and of
    ``transformers.get_linear_schedule_with_warmup``."""
    _check_int("total_steps", total_steps, 1)
    _check_int("warmup_steps", warmup_steps, 0)
    if step < warmup_steps:
        return max_lr * step / warmup_steps
    return max_lr * max(0.0, (total_steps - step) / max(1, total_steps - warmup_steps))


@dataclass
class ClassifierHistory:
    """What :func:`train_classifier` measured: the loss of every step, its learning rate,
    the training time in seconds (evaluation excluded) and the examples seen."""
    losses: list[float] = field(default_factory=list)
    lrs: list[float] = field(default_factory=list)
    seconds: float = 0.0
    examples: int = 0
    trainable_parameters: int = 0


def _check_model(model: object) -> nn.Module:
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch nn.Module, got {type(model).__name__}")
    if type(model).__name__.endswith("Model") and not hasattr(model, "classifier") \
            and not hasattr(model, "score"):
        raise TypeError(
            f"{type(model).__name__} has no classification head (it returns hidden states, "
            f"not .logits). Load AutoModelForSequenceClassification instead, e.g. "
            f"llmbook.resources.load_encoder_classifier(num_labels=2).")
    return model


def _logits(model: nn.Module, input_ids: torch.Tensor, mask: torch.Tensor,
            labels: torch.Tensor | None = None) -> Any:
    out = model(input_ids=input_ids, attention_mask=mask, labels=labels)
    if not hasattr(out, "logits"):
        raise TypeError(f"{type(model).__name__} returned {type(out).__name__} without "
                        f".logits; use a model with a classification head "
                        f"(AutoModelForSequenceClassification)")
    return out


def _check_label_count(model: nn.Module, labels: list[int]) -> None:
    k = getattr(getattr(model, "config", None), "num_labels", None)
    if isinstance(k, int) and max(labels) >= k:
        raise ValueError(f"the data has label {max(labels)} but the model predicts {k} "
                         f"classes (num_labels={k}); load it with num_labels={max(labels) + 1}")


def train_classifier(model: nn.Module, tokenizer: Any, data: Sequence[tuple[str, int]], *,
                     epochs: int = 1, batch_size: int = 32, lr: float = 5e-5,
                     warmup: float = 0.1, weight_decay: float = 0.01, max_length: int = 64,
                     max_examples: int | None = None, clip: float | None = 1.0, seed: int = 0,
                     progress: bool = True,
                     on_step: Callable[[int, float], None] | None = None) -> ClassifierHistory:
    """Fine-tune ``model`` on ``(text, label)`` pairs with cross-entropy.

    AdamW (``torch.optim.AdamW``; weight decay on matrices only, not on biases and
    LayerNorm) over the parameters with ``requires_grad=True`` -- freeze some first to
    fine-tune only part of the model; a linear schedule that warms up over the first
    ``warmup`` fraction of the steps; gradients clipped to norm ``clip``. Batches are grouped
    by length (:func:`length_batches`) and shuffled by ``seed`` each epoch. ``on_step(step,
    loss)`` is called after every step (e.g. to redraw a live figure). Leaves the model in
    eval mode.
    """
    model = _check_model(model)
    _check_int("epochs", epochs, 1)
    _check_int("batch_size", batch_size, 1)
    for name, value in (("lr", lr), ("warmup", warmup), ("weight_decay", weight_decay)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
                or math.isnan(value):
            raise ValueError(f"{name} must be a non-negative number, got {value!r}")
    if warmup >= 1:
        raise ValueError(f"warmup is a fraction of the steps, in [0, 1); got {warmup!r}")
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not params:
        raise ValueError("no parameter of the model requires gradients: nothing to train "
                         "(unfreeze the head at least)")
    encoded = encode(tokenizer, data, max_length=max_length, max_examples=max_examples)
    _check_label_count(model, encoded.labels)
    pad_id = _pad_id(tokenizer)
    groups = [{"params": [p for n, p in params if p.dim() >= 2], "weight_decay": weight_decay},
              {"params": [p for n, p in params if p.dim() < 2], "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)
    lengths = [len(x) for x in encoded.input_ids]
    steps_per_epoch = math.ceil(len(encoded) / batch_size)
    total = steps_per_epoch * epochs
    warmup_steps = int(warmup * total)
    history = ClassifierHistory(trainable_parameters=sum(p.numel() for _, p in params))
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="fine-tuning", disable=not progress, leave=True)
    model.train()
    start = time.perf_counter()
    step = 0
    try:
        for epoch in range(epochs):
            for batch in length_batches(lengths, batch_size, seed=seed + epoch):
                rate = linear_warmup_lr(step, max_lr=lr, warmup_steps=warmup_steps,
                                        total_steps=total)
                for g in optimizer.param_groups:
                    g["lr"] = rate
                ids, mask = pad_batch([encoded.input_ids[i] for i in batch], pad_id)
                labels = torch.tensor([encoded.labels[i] for i in batch])
                out = _logits(model, ids, mask, labels)
                optimizer.zero_grad(set_to_none=True)
                out.loss.backward()
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_([p for _, p in params], clip)
                optimizer.step()
                loss = out.loss.item()
                history.losses.append(loss)
                history.lrs.append(rate)
                history.examples += len(batch)
                step += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.3f}", refresh=False)
                if on_step is not None:
                    on_step(step, loss)
    finally:
        history.seconds = time.perf_counter() - start
        bar.close()
        model.eval()
    return history


# --------------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------------

@torch.no_grad()
def predict(model: nn.Module, tokenizer: Any, texts: Sequence[str], *, batch_size: int = 128,
            max_length: int = 64) -> list[int]:
    """The predicted class of each text (argmax of the logits), in eval mode, no gradients."""
    model = _check_model(model)
    if isinstance(texts, str) or not isinstance(texts, Sequence) or not texts:
        raise TypeError("texts must be a non-empty list of strings")
    _check_int("batch_size", batch_size, 1)
    pad_id = _pad_id(tokenizer)
    ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
    was_training = model.training
    model.eval()
    preds = [0] * len(ids)
    for batch in length_batches([len(x) for x in ids], batch_size, seed=None):
        x, mask = pad_batch([list(ids[i]) for i in batch], pad_id)
        for i, p in zip(batch, _logits(model, x, mask).logits.argmax(-1).tolist()):
            preds[i] = p
    model.train(was_training)
    return preds


@dataclass
class ClassificationReport:
    """Accuracy, macro F1, per-class scores and the confusion matrix (rows: true class)."""
    accuracy: float
    macro_f1: float
    per_class: list[dict[str, float]]
    confusion: list[list[int]]
    predictions: list[int]
    labels: list[int]

    def __repr__(self) -> str:
        return (f"ClassificationReport(accuracy={self.accuracy:.4f}, "
                f"macro_f1={self.macro_f1:.4f}, n={len(self.labels)})")


def evaluate_classifier(model: nn.Module, tokenizer: Any, data: Sequence[tuple[str, int]], *,
                        batch_size: int = 128, max_length: int = 64,
                        num_classes: int | None = None) -> ClassificationReport:
    """Predict every example of ``data`` and score the predictions."""
    data = _check_data(data)
    labels = [y for _, y in data]
    k = num_classes
    if k is None:
        k = getattr(getattr(model, "config", None), "num_labels", None)
    _check_label_count(model, labels)
    preds = predict(model, tokenizer, [t for t, _ in data], batch_size=batch_size,
                    max_length=max_length)
    per_class = precision_recall_f1(labels, preds, k)
    return ClassificationReport(accuracy=accuracy(labels, preds),
                                macro_f1=sum(c["f1"] for c in per_class) / len(per_class),
                                per_class=per_class,
                                confusion=confusion_matrix(labels, preds, k),
                                predictions=preds, labels=labels)
