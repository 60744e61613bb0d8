"""Character-level Shakespeare for the GPT of section 5.3: vocabulary, batches, evaluation.

The text is :func:`llmbook.resources.shakespeare_split` -- 32 plays to train on, three
held-out plays for validation and three for test -- so validation loss measures how well the
model predicts plays it has never seen. The vocabulary is the set of characters of the
*training* plays (every character of the held-out plays occurs in them).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .lm import CharVocab

__all__ = ["CharData", "load_char_data", "get_batch", "evaluate_loss", "vocab_to_json",
           "vocab_from_json"]


@dataclass
class CharData:
    """Encoded splits: ``train``, ``validation``, ``test`` are 1-D LongTensors of ids."""

    vocab: CharVocab
    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor

    def __repr__(self) -> str:
        return (f"CharData({len(self.vocab)} characters; train {self.train.numel():,}, "
                f"validation {self.validation.numel():,}, test {self.test.numel():,} ids)")


def load_char_data(verbose: bool = True) -> CharData:
    """Shakespeare split by play, encoded with a character vocabulary of the training plays."""
    from . import resources

    splits = resources.shakespeare_split(verbose=verbose)
    vocab = CharVocab(splits.train)
    return CharData(vocab, vocab.encode(splits.train), vocab.encode(splits.validation),
                    vocab.encode(splits.test))


def _check_ids_1d(data: object) -> torch.Tensor:
    if not isinstance(data, torch.Tensor) or data.dtype != torch.long or data.dim() != 1:
        raise TypeError("data must be a 1-D torch.LongTensor of token ids (e.g. "
                        "load_char_data().train).")
    return data


def _check_pos_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    return value


def get_batch(data: torch.Tensor, batch_size: int, block_size: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` random windows of ``block_size`` ids and the same windows shifted by
    one (the next character at every position): ``x, y`` of shape ``(batch_size,
    block_size)``."""
    data = _check_ids_1d(data)
    _check_pos_int("batch_size", batch_size)
    _check_pos_int("block_size", block_size)
    if data.numel() <= block_size:
        raise ValueError(f"data has {data.numel()} ids; it needs more than block_size "
                         f"({block_size}) to cut a window and its next-token targets.")
    starts = torch.randint(data.numel() - block_size, (batch_size,), generator=generator)
    offsets = torch.arange(block_size)
    x = data[starts[:, None] + offsets]
    y = data[starts[:, None] + offsets + 1]
    return x, y


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, data: torch.Tensor, block_size: int, *,
                  batch_size: int = 64, max_windows: int | None = None,
                  progress: bool = False) -> float:
    """Mean cross-entropy in nats per character of ``model`` on ``data``.

    ``data`` is cut into consecutive, non-overlapping windows of ``block_size`` characters
    (``max_windows`` evenly spaced ones if given); every character after the first of a
    window is predicted once. Deterministic: no sampling.
    """
    data = _check_ids_1d(data)
    _check_pos_int("block_size", block_size)
    _check_pos_int("batch_size", batch_size)
    n = (data.numel() - 1) // block_size
    if n < 1:
        raise ValueError(f"data has {data.numel()} ids, fewer than block_size + 1.")
    starts = torch.arange(n) * block_size
    if max_windows is not None:
        _check_pos_int("max_windows", max_windows)
        if max_windows < n:
            starts = starts[torch.linspace(0, n - 1, max_windows).long()]
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    chunks = range(0, starts.numel(), batch_size)
    if progress:
        from tqdm.auto import tqdm
        chunks = tqdm(chunks, desc="evaluating", leave=False, mininterval=1.0)
    offsets = torch.arange(block_size)
    for i in chunks:
        s = starts[i:i + batch_size]
        x, y = data[s[:, None] + offsets], data[s[:, None] + offsets + 1]
        logits = model(x)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1),
                               reduction="sum")
        total += float(loss)
        count += y.numel()
    model.train(was_training)
    return total / count


def vocab_to_json(vocab: CharVocab) -> str:
    """The vocabulary as a JSON string (stored in a checkpoint's metadata)."""
    return json.dumps(vocab.chars)


def vocab_from_json(text: str) -> CharVocab:
    """A :class:`~llmbook.lm.CharVocab` from :func:`vocab_to_json`'s string."""
    chars = json.loads(text)
    if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1
                                              for c in chars):
        raise ValueError("expected a JSON list of single characters.")
    vocab = CharVocab("".join(chars))
    if vocab.chars != chars:
        raise ValueError("the characters must be distinct and sorted.")
    return vocab


def nats_to_perplexity(nats: float) -> float:
    """Perplexity ``exp(nats)`` of a loss in nats per character."""
    return math.exp(nats)
