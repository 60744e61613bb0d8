"""A toy sequence-to-sequence task and its training loop (Section 3.2).

The task rewrites a short string of letters; by default it **reverses** it
(``"transformer"`` -> ``"remrofsnart"``), a job a reader can judge by eye and that
needs attention: output position ``t`` must find input position ``L - 1 - t``.

Token ids: ``0`` ``<pad>``, ``1`` ``<bos>``, ``2`` ``<eos>``, then the letters.
"""

from __future__ import annotations

import random
import string
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
from torch import nn

__all__ = ["PAD", "BOS", "EOS", "CharTask", "TrainingHistory", "train_seq2seq",
           "exact_match"]

PAD, BOS, EOS = 0, 1, 2
SPECIALS = ["<pad>", "<bos>", "<eos>"]


def _reverse(text: str) -> str:
    return text[::-1]


@dataclass
class CharTask:
    """Strings of ``min_len..max_len`` characters from ``alphabet``, mapped by
    ``transform`` (default: reversal)."""

    alphabet: str = string.ascii_lowercase
    min_len: int = 3
    max_len: int = 10
    transform: Callable[[str], str] = _reverse
    tokens: list[str] = field(init=False)

    def __post_init__(self) -> None:
        if not self.alphabet or len(set(self.alphabet)) != len(self.alphabet):
            raise ValueError(f"alphabet must be non-empty without repeats, got "
                             f"{self.alphabet!r}.")
        if not isinstance(self.min_len, int) or not isinstance(self.max_len, int) or \
                not 1 <= self.min_len <= self.max_len:
            raise ValueError(f"need 1 <= min_len <= max_len, got {self.min_len}, "
                             f"{self.max_len}.")
        self.tokens = SPECIALS + list(self.alphabet)
        self._index = {c: i for i, c in enumerate(self.tokens)}

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def sample(self, n: int, seed: int, exclude: set[str] | frozenset = frozenset()
               ) -> list[str]:
        """``n`` distinct random strings (seeded), none of them in ``exclude``."""
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a positive int, got {n!r}.")
        rng = random.Random(seed)
        out: dict[str, None] = {}
        while len(out) < n:
            length = rng.randint(self.min_len, self.max_len)
            text = "".join(rng.choice(self.alphabet) for _ in range(length))
            if text not in exclude:
                out[text] = None
        return list(out)

    def encode(self, text: str) -> list[int]:
        """Characters -> ids (no specials)."""
        try:
            return [self._index[c] for c in text]
        except KeyError as exc:
            raise ValueError(f"character {exc.args[0]!r} is not in the alphabet "
                             f"{self.alphabet!r}.") from None

    def decode(self, ids) -> str:
        """Ids -> text, stopping at ``<eos>`` and skipping ``<pad>``/``<bos>``."""
        return "".join(tokens_until_eos(ids, self.tokens))

    def batch(self, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(src, tgt_in, tgt_out)`` padded id tensors: the source ends with ``<eos>``;
        the decoder reads ``<bos> y`` and must predict ``y <eos>`` (teacher forcing)."""
        if not texts:
            raise ValueError("texts must be a non-empty list of strings.")
        return teacher_forcing_batch([self.encode(t) for t in texts],
                                     [self.encode(self.transform(t)) for t in texts])


def tokens_until_eos(ids, tokens: Sequence[str]) -> list[str]:
    """The tokens of ``ids`` up to the first ``<eos>``, ``<pad>`` and ``<bos>`` skipped."""
    out = []
    for i in (ids.tolist() if isinstance(ids, torch.Tensor) else ids):
        if i == EOS:
            break
        if i > EOS:
            out.append(tokens[i])
    return out


def teacher_forcing_batch(sources: list[list[int]], targets: list[list[int]]
                          ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(src, tgt_in, tgt_out)`` padded with ``<pad>`` from id lists without specials: each
    source gets ``<eos>``; the decoder reads ``<bos> y`` and must predict ``y <eos>``."""
    srcs = [list(s) + [EOS] for s in sources]
    outs = [list(t) + [EOS] for t in targets]
    src = torch.full((len(srcs), max(map(len, srcs))), PAD)
    tgt_in = torch.full((len(outs), max(map(len, outs))), PAD)
    tgt_out = torch.full_like(tgt_in, PAD)
    for i, (s, o) in enumerate(zip(srcs, outs)):
        src[i, :len(s)] = torch.tensor(s)
        tgt_out[i, :len(o)] = torch.tensor(o)
        tgt_in[i, :len(o)] = torch.tensor([BOS] + o[:-1])
    return src, tgt_in, tgt_out


@dataclass
class TrainingHistory:
    """What :func:`train_seq2seq` records: the loss of every step and the held-out
    exact match every ``eval_every`` steps."""

    steps: list[int] = field(default_factory=list)
    loss: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    exact_match: list[float] = field(default_factory=list)
    seconds: float = 0.0


@torch.no_grad()
def exact_match(model, task: CharTask, texts: list[str], batch_size: int = 500) -> float:
    """Fraction of ``texts`` whose greedy decoding equals the expected output exactly."""
    right = 0
    for i in range(0, len(texts), batch_size):
        chunk = texts[i:i + batch_size]
        src, _, _ = task.batch(chunk)
        out = model.greedy_decode(src, BOS, EOS, max_len=task.max_len + 2)
        right += sum(task.decode(o) == task.transform(t) for o, t in zip(out, chunk))
    return right / len(texts)


def train_seq2seq(model: nn.Module, task: CharTask, train_texts: list[str],
                  valid_texts: list[str], *, steps: int = 1000, batch_size: int = 64,
                  lr: float = 1e-3, warmup: int = 100, eval_every: int = 200,
                  seed: int = 0, progress: bool = True) -> TrainingHistory:
    """Train with teacher forcing, cross-entropy on non-padding targets, AdamW and a
    linear warm-up followed by a linear decay to zero; returns the history."""
    from tqdm.auto import tqdm

    if not isinstance(steps, int) or steps < 1 or not isinstance(batch_size, int) or \
            batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive ints, got {steps!r}, "
                         f"{batch_size!r}.")
    if len(train_texts) < batch_size:
        raise ValueError(f"need at least batch_size={batch_size} training texts, got "
                         f"{len(train_texts)}.")
    rng = random.Random(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    loss_fn = nn.CrossEntropyLoss(ignore_index=PAD)
    history = TrainingHistory()
    start = time.perf_counter()
    bar = tqdm(range(1, steps + 1), desc="training", disable=not progress,
               mininterval=1.0)
    for step in bar:
        model.train()
        src, tgt_in, tgt_out = task.batch(rng.sample(train_texts, batch_size))
        logits = model(src, tgt_in)
        loss = loss_fn(logits.reshape(-1, logits.size(-1)), tgt_out.reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        history.steps.append(step)
        history.loss.append(loss.item())
        if step % eval_every == 0 or step == steps:
            model.eval()
            history.eval_steps.append(step)
            history.exact_match.append(exact_match(model, task, valid_texts))
            bar.set_postfix(refresh=False, loss=f"{history.loss[-1]:.3f}",
                            exact=f"{history.exact_match[-1]:.1%}")
    history.seconds = time.perf_counter() - start
    model.eval()
    return history
