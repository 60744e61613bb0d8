"""Classifying texts with pretrained models without training them, as section 6.1 compares:

* :func:`mean_pooled_embeddings` -- a frozen encoder (MiniLM) turns each text into one vector,
  the average of its last hidden states over the real (unpadded) tokens; a logistic
  regression trained on those vectors is the first approach of 6.1 (fine-tuning the whole
  encoder, :mod:`llmbook.classification`, is the second);
* :class:`PromptClassifier` -- the third: an instruction-tuned decoder (SmolLM2) reads an
  instruction, optionally a few labelled examples (**few-shot**), then the text, and the class
  is the label word it finds most likely as the first token of its answer. Nothing is
  generated and nothing can be malformed: each label word's first token is scored, so the
  answer is always one of the classes. The part of the prompt before the text is the same for
  every text, so it is run once and its key/value cache reused (section 3.6);
* :func:`calibrate` -- contextual calibration (Zhao et al., 2021): subtract the label scores
  the model gives a content-free input, which removes its preference for one label word;
* :func:`pairs_from_confusion` -- the (gold, predicted) pairs a confusion matrix stands for,
  to bootstrap a recorded result whose predictions were not kept;
* :func:`load_record` -- the record that ``scripts/classify_tasks.py`` writes: every task,
  approach, prediction and score that section 6.1 shows.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Sequence

import torch

__all__ = ["mean_pooled_embeddings", "PromptClassifier", "calibrate", "pairs_from_confusion",
           "RECORD", "load_record"]

#: The record of section 6.1 (``python scripts/classify_tasks.py``), shipped with the package.
RECORD = Path(__file__).resolve().parent / "checkpoints" / "classification_tasks.json"

_PLACEHOLDER = "\x00TEXT\x00"


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str) or not isinstance(texts, (list, tuple)):
        raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}")
    if not texts:
        raise ValueError("texts is empty: give at least one text to classify")
    for i, t in enumerate(texts):
        if not isinstance(t, str) or not t.strip():
            raise ValueError(f"texts[{i}] must be a non-empty string, got {t!r}")
    return list(texts)


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


@torch.no_grad()
def mean_pooled_embeddings(texts: Sequence[str], encoder: Any, tokenizer: Any, *,
                           batch_size: int = 64, max_length: int = 128) -> torch.Tensor:
    """``(len(texts), hidden)`` float32: each text's last hidden states averaged over its
    tokens (padding excluded by the attention mask), in the order of ``texts``.

    The texts are encoded in batches of similar length (sorted by length; the result is put
    back in order), which wastes little work on padding. A text longer than ``max_length``
    tokens is truncated.
    """
    texts = _check_texts(texts)
    batch_size = _check_int("batch_size", batch_size, 1)
    max_length = _check_int("max_length", max_length, 2)
    if not callable(encoder) or not callable(tokenizer):
        raise TypeError("encoder and tokenizer must be a model and its tokenizer, e.g. "
                        "llmbook.resources.load_minilm()")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = [torch.empty(0)] * len(texts)
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                          max_length=max_length, return_tensors="pt")
        hidden = encoder(input_ids=batch["input_ids"],
                         attention_mask=batch["attention_mask"]).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * mask).sum(1) / mask.sum(1)
        for row, i in enumerate(idx):
            out[i] = pooled[row]
    return torch.stack(out).float()


class PromptClassifier:
    """Zero- or few-shot classification by a chat model's next-token probabilities.

    ``instruction`` is the system message (say what the classes are and that the answer is
    one word); ``label_words[c]`` is the answer that means class ``c``; ``shots`` are
    ``(text, label)`` examples shown as earlier turns of the chat (none: zero-shot). Each text
    is cut to ``max_chars`` characters.

    :meth:`scores` gives, for each text, the log-probability (over the whole vocabulary) of
    each label word's **first token** right after the assistant's turn begins -- the label
    words must therefore start with different tokens (checked).
    """

    def __init__(self, model: Any, tokenizer: Any, instruction: str,
                 label_words: Sequence[str], shots: Sequence[tuple[str, int]] = (), *,
                 max_chars: int = 600):
        if not callable(model) or not getattr(tokenizer, "chat_template", None):
            raise TypeError("model and tokenizer must be a chat model and its tokenizer "
                            "(with a chat template), e.g. llmbook.resources.load_smollm2()")
        if not isinstance(instruction, str) or not instruction.strip():
            raise ValueError("instruction must be a non-empty string (the system message)")
        if isinstance(label_words, str) or len(label_words) < 2 or \
                not all(isinstance(w, str) and w.strip() for w in label_words):
            raise ValueError(f"label_words must list at least two non-empty words, one per "
                             f"class; got {label_words!r}")
        self.model, self.tokenizer = model, tokenizer
        self.instruction, self.label_words = instruction, tuple(label_words)
        self.max_chars = _check_int("max_chars", max_chars, 1)
        self.shots = []
        for i, shot in enumerate(shots):
            if not (isinstance(shot, (tuple, list)) and len(shot) == 2 and isinstance(shot[0], str)
                    and shot[0].strip() and isinstance(shot[1], int)
                    and 0 <= shot[1] < len(label_words)):
                raise ValueError(f"shots[{i}] must be a (text, label) pair with a label in "
                                 f"0..{len(label_words) - 1}, got {shot!r}")
            self.shots.append((shot[0], shot[1]))
        first = [tokenizer(w, add_special_tokens=False)["input_ids"][0] for w in label_words]
        if len(set(first)) != len(first):
            names = [tokenizer.convert_ids_to_tokens(i) for i in first]
            raise ValueError(f"the label words must begin with different tokens, but their "
                             f"first tokens are {names}: choose words that differ at the start")
        self.label_token_ids = first
        prefix, suffix = self._template(self._messages(_PLACEHOLDER)).split(_PLACEHOLDER)
        self._prefix_ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]
        self._suffix = suffix

    @property
    def prefix_length(self) -> int:
        """The tokens of the shared prefix (instruction and shots), computed once per call."""
        return len(self._prefix_ids)

    def messages(self, text: str) -> list[dict[str, str]]:
        """The chat that classifies ``text``: instruction, shots, then the text (cut)."""
        return self._messages(text[:self.max_chars])

    def _messages(self, text: str) -> list[dict[str, str]]:
        chat = [{"role": "system", "content": self.instruction}]
        for shot_text, label in self.shots:
            chat += [{"role": "user", "content": shot_text[:self.max_chars]},
                     {"role": "assistant", "content": self.label_words[label]}]
        return chat + [{"role": "user", "content": text}]

    def prompt(self, text: str) -> str:
        """The exact string the model reads for ``text`` (its chat template applied)."""
        return self._template(self.messages(text))

    def _template(self, chat: list[dict[str, str]]) -> str:
        return self.tokenizer.apply_chat_template(chat, tokenize=False,
                                                  add_generation_prompt=True)

    def token_ids(self, text: str) -> list[int]:
        """The prompt's token ids: the shared prefix's, then those of the text and the rest."""
        tail = self.tokenizer(text[:self.max_chars] + self._suffix,
                              add_special_tokens=False)["input_ids"]
        return self._prefix_ids + tail

    @torch.no_grad()
    def scores(self, texts: Sequence[str], *, batch_size: int = 8,
               reuse_prefix: bool = True) -> torch.Tensor:
        """``(len(texts), len(label_words))`` log-probabilities of the label words' first
        tokens. ``reuse_prefix=False`` runs every prompt whole (the slow way, for checking)."""
        texts = _check_texts(texts)
        batch_size = _check_int("batch_size", batch_size, 1)
        p = len(self._prefix_ids)
        tails = [self.token_ids(t)[p:] for t in texts]
        cache = None
        if reuse_prefix:
            out = self.model(input_ids=torch.tensor([self._prefix_ids]), use_cache=True)
            cache = out.past_key_values
        # Batches of similar length waste little on padding; the rows go back in order.
        order = sorted(range(len(tails)), key=lambda i: len(tails[i]))
        out = torch.empty(len(tails), len(self.label_token_ids))
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            chunk = [tails[i] for i in idx]
            if reuse_prefix:
                out[idx] = self._cached_batch(chunk, cache, p)
            else:
                out[idx] = self._cached_batch([self._prefix_ids + t for t in chunk], None, 0)
        return out

    def _cached_batch(self, chunk: list[list[int]], cache: Any, p: int) -> torch.Tensor:
        # Right padding: a row's real tokens never attend to its padding (that comes later),
        # and the prediction is read at the row's own last real position.
        b, s = len(chunk), max(len(t) for t in chunk)
        ids = torch.zeros(b, s, dtype=torch.long)
        mask = torch.zeros(b, s, dtype=torch.long)
        for i, t in enumerate(chunk):
            ids[i, :len(t)] = torch.tensor(t)
            mask[i, :len(t)] = 1
        kwargs: dict[str, Any] = {}
        if cache is not None:
            past = copy.deepcopy(cache)
            past.batch_repeat_interleave(b)
            kwargs["past_key_values"] = past
            mask = torch.cat([torch.ones(b, p, dtype=torch.long), mask], dim=1)
        positions = torch.arange(p, p + s).expand(b, s)
        logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                            use_cache=cache is not None, **kwargs).logits
        last = torch.tensor([len(t) - 1 for t in chunk])
        logp = torch.log_softmax(logits[torch.arange(b), last].float(), dim=-1)
        return logp[:, self.label_token_ids]

    def predict(self, texts: Sequence[str], *, batch_size: int = 8,
                calibration: torch.Tensor | None = None) -> list[int]:
        """The class of each text: its best-scoring label word (after :func:`calibrate` with
        ``calibration``, the scores of a content-free input, when given)."""
        s = self.scores(texts, batch_size=batch_size)
        if calibration is not None:
            s = calibrate(s, calibration)
        return s.argmax(dim=1).tolist()


def calibrate(scores: torch.Tensor, content_free: torch.Tensor) -> torch.Tensor:
    """Label log-probabilities renormalised over the labels, minus those of a content-free
    input (e.g. ``"N/A"``), also renormalised: the model's prior for each label word is
    divided out (Zhao et al., 2021, "Calibrate before use")."""
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2:
        raise TypeError("scores must be a 2-D tensor (texts x labels), from PromptClassifier.scores")
    content_free = torch.as_tensor(content_free, dtype=scores.dtype).reshape(-1)
    if content_free.numel() != scores.shape[1]:
        raise ValueError(f"content_free has {content_free.numel()} scores but there are "
                         f"{scores.shape[1]} labels")
    return torch.log_softmax(scores, dim=1) - torch.log_softmax(content_free, dim=0)


def pairs_from_confusion(matrix: Sequence[Sequence[int]]) -> tuple[list[int], list[int]]:
    """``(y_true, y_pred)`` with ``matrix[t][p]`` pairs of gold ``t`` and prediction ``p``:
    everything a bootstrap of accuracy or F1 needs, since those ignore the order."""
    if not isinstance(matrix, (list, tuple)) or not matrix or \
            any(not isinstance(r, (list, tuple)) or len(r) != len(matrix) for r in matrix):
        raise ValueError("matrix must be a square list of lists (rows: gold, columns: predicted)")
    y_true, y_pred = [], []
    for t, row in enumerate(matrix):
        for p, count in enumerate(row):
            if isinstance(count, bool) or not isinstance(count, int) or count < 0:
                raise ValueError(f"matrix[{t}][{p}] must be a count >= 0, got {count!r}")
            y_true += [t] * count
            y_pred += [p] * count
    return y_true, y_pred


def _decode(node: Any) -> Any:
    """The record with every ``"pred"`` and ``"test_labels"`` string of digits as a list."""
    if isinstance(node, dict):
        return {k: [int(c) for c in v] if k in ("pred", "test_labels") and isinstance(v, str)
                else _decode(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_decode(v) for v in node]
    return node


def load_record(path: str | Path = RECORD) -> dict:
    """The record of ``scripts/classify_tasks.py``: ``record["tasks"][task]`` holds the
    task's label names, split sizes, test labels, each approach's settings and predictions
    (lists of class ids) and ``"scores"`` (accuracy and macro F1, each ``[estimate, low,
    high]`` with a 95 % bootstrap interval)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no classification record at {path}: it ships with the "
                                f"package; re-create it with scripts/classify_tasks.py "
                                f"(see its docstring)")
    return _decode(json.loads(path.read_text(encoding="utf-8")))
