"""Language models from counting to attention, all on one character vocabulary.

A language model gives a probability to the next token given the tokens before it. This
module holds the models of sections 1.1 and 2.1, each small enough to train on a CPU in
seconds, and the measures used to compare them:

* :class:`CharVocab` -- one character vocabulary shared by every model;
* :class:`NGramLM` -- a counting model (bigram, trigram, ...) with add-k or interpolated
  smoothing;
* :class:`MLPLM` (a fixed window of characters, Bengio et al. 2003), :class:`LSTMLM` (a
  recurrent network) and :class:`TinyTransformerLM` (causal self-attention, built from
  :class:`llmbook.attention.MultiHeadAttention`) -- neural models mapping ids ``(B, T)`` to
  next-token logits ``(B, T, V)``;
* :func:`train_lm` (a short AdamW loop with a visible budget), :func:`evaluate_lm`,
  :func:`generate`;
* :func:`cross_entropy`, :func:`perplexity`, :func:`bits_per_character`.

Every cross-entropy here is in **nats** (natural logarithm) per token, as PyTorch computes it.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .attention import MultiHeadAttention, causal_mask

__all__ = ["CharVocab", "NGramLM", "MLPLM", "LSTMLM", "TinyTransformerLM", "TrainResult",
           "train_lm", "evaluate_lm", "generate", "cross_entropy", "perplexity",
           "bits_per_character", "count_parameters"]


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------

def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {value!r} of type {type(value).__name__}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}.")
    return value


def _check_ids(name: str, ids: object, vocab_size: int | None = None,
               min_length: int = 1) -> torch.Tensor:
    """A 1-D (or 2-D) LongTensor of token ids, with a clear error otherwise."""
    if not isinstance(ids, torch.Tensor):
        raise TypeError(f"{name} must be a torch.LongTensor of token ids (use "
                        f"vocab.encode(text)), got {type(ids).__name__}.")
    if ids.dtype != torch.long:
        raise TypeError(f"{name} must hold integer ids (dtype torch.long), got {ids.dtype}.")
    if ids.numel() < min_length:
        raise ValueError(f"{name} needs at least {min_length} ids, got {ids.numel()}.")
    if vocab_size is not None and ids.numel() and (ids.min() < 0 or ids.max() >= vocab_size):
        raise ValueError(f"{name} holds ids outside 0..{vocab_size - 1} (min {int(ids.min())}, "
                         f"max {int(ids.max())}): was it encoded with another vocabulary?")
    return ids


# --------------------------------------------------------------------------------------------
# Vocabulary
# --------------------------------------------------------------------------------------------

class CharVocab:
    """A character vocabulary: every distinct character of a text gets an id (sorted order).

    >>> vocab = CharVocab("hello")
    >>> vocab.decode(vocab.encode("hole"))
    'hole'
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        if not text:
            raise ValueError("text is empty: a vocabulary needs at least one character.")
        self.chars: list[str] = sorted(set(text))
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars)}

    def __len__(self) -> int:
        return len(self.chars)

    def __repr__(self) -> str:
        return f"CharVocab({len(self)} characters)"

    def encode(self, text: str) -> torch.Tensor:
        """The ids of ``text`` as a 1-D LongTensor; unknown characters raise ValueError."""
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}.")
        unknown = sorted(set(text) - self.index.keys())
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]!r}; build the "
                             f"vocabulary from a text that contains them.")
        return torch.tensor([self.index[c] for c in text], dtype=torch.long)

    def decode(self, ids: Iterable[int] | torch.Tensor) -> str:
        """The text of a sequence of ids."""
        ids = ids.tolist() if isinstance(ids, torch.Tensor) else list(ids)
        bad = [i for i in ids if not isinstance(i, int) or not 0 <= i < len(self)]
        if bad:
            raise ValueError(f"ids outside 0..{len(self) - 1}: {bad[:5]}.")
        return "".join(self.chars[i] for i in ids)


# --------------------------------------------------------------------------------------------
# Measures
# --------------------------------------------------------------------------------------------

def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Mean negative log-likelihood of ``targets`` in nats:
    :math:`-\frac1N\sum_t \log p(x_t \mid x_{<t})`.

    ``logits (..., V)`` are unnormalised scores, ``targets (...)`` the ids that came next.
    Equal to ``torch.nn.functional.cross_entropy`` on the flattened tensors.
    """
    if not isinstance(logits, torch.Tensor) or not isinstance(targets, torch.Tensor):
        raise TypeError("logits and targets must be torch tensors.")
    if logits.shape[:-1] != targets.shape:
        raise ValueError(f"logits must have shape targets.shape + (V,): got logits "
                         f"{tuple(logits.shape)} and targets {tuple(targets.shape)}.")
    _check_ids("targets", targets, logits.size(-1))
    log_probs = torch.log_softmax(logits.float(), dim=-1)
    return -log_probs.gather(-1, targets.unsqueeze(-1)).mean()


def perplexity(cross_entropy_nats: float | torch.Tensor) -> float:
    r"""Perplexity :math:`e^{H}` of a cross-entropy :math:`H` in nats per token: the number of
    equally likely choices that would be as surprising."""
    value = float(cross_entropy_nats)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"cross-entropy must be a finite number >= 0 (in nats), got {value}.")
    return math.exp(value)


def bits_per_character(cross_entropy_nats: float | torch.Tensor, *, tokens: int | None = None,
                       characters: int | None = None) -> float:
    r"""Bits per character of a cross-entropy in nats per token: :math:`H/\ln 2` times
    ``tokens / characters`` (pass both when a token is not one character, e.g. BPE)."""
    value = float(cross_entropy_nats)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"cross-entropy must be a finite number >= 0 (in nats), got {value}.")
    if (tokens is None) != (characters is None):
        raise ValueError("pass both tokens= and characters=, or neither (one token = one "
                         "character).")
    ratio = 1.0
    if tokens is not None:
        _check_int("tokens", tokens)
        _check_int("characters", characters)
        ratio = tokens / characters
    return value / math.log(2) * ratio


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters of a module."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"expected a torch.nn.Module, got {type(model).__name__}.")
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------------------------
# Counting: n-gram models
# --------------------------------------------------------------------------------------------

class NGramLM:
    r"""An n-gram language model over ids ``0..V-1``: :math:`p(x_t \mid x_{t-n+1..t-1})`
    from counts.

    ``smoothing="add_k"``: :math:`(c(h, x) + k) / (c(h) + kV)` -- every unseen n-gram keeps a
    little probability (``k=1`` is Laplace smoothing).
    ``smoothing="interpolation"``: a weighted sum of the add-k estimates of orders
    ``1..n`` with ``lambdas`` (lowest order first, summing to 1) -- a long context is used
    when it has been seen, shorter ones fill in when it has not.
    """

    def __init__(self, order: int, vocab_size: int, *, smoothing: str = "add_k",
                 k: float = 1.0, lambdas: Sequence[float] | None = None) -> None:
        self.order = _check_int("order", order)
        self.vocab_size = _check_int("vocab_size", vocab_size, 2)
        if vocab_size ** order > 50_000_000:
            raise ValueError(f"a table of {vocab_size}^{order} counts is too large; use a "
                             f"smaller order or vocabulary.")
        if smoothing not in ("add_k", "interpolation"):
            raise ValueError(f"smoothing must be 'add_k' or 'interpolation', got {smoothing!r}.")
        if not isinstance(k, (int, float)) or isinstance(k, bool) or not k > 0:
            raise ValueError(f"k must be a number > 0 (add-k smoothing), got {k!r}.")
        if smoothing == "interpolation":
            lambdas = [1.0 / order] * order if lambdas is None else list(lambdas)
            if len(lambdas) != order or min(lambdas) < 0 or abs(sum(lambdas) - 1) > 1e-6:
                raise ValueError(f"lambdas must be {order} weights >= 0 that sum to 1 (lowest "
                                 f"order first), got {lambdas}.")
        elif lambdas is not None:
            raise ValueError("lambdas apply only to smoothing='interpolation'.")
        self.smoothing, self.k, self.lambdas = smoothing, float(k), lambdas
        # counts[m] has m+1 dimensions: counts of (m-character history, next character).
        self.counts: list[torch.Tensor] = []

    def __repr__(self) -> str:
        return f"NGramLM(order={self.order}, vocab_size={self.vocab_size}, {self.smoothing})"

    def fit(self, ids: torch.Tensor) -> "NGramLM":
        """Count every m-gram (m = 1..order) of the id sequence ``ids``."""
        ids = _check_ids("ids", ids, self.vocab_size, self.order)
        ids = ids.flatten()
        self.counts = []
        for m in range(1, self.order + 1):
            windows = ids.unfold(0, m, 1)                    # (N-m+1, m)
            flat = torch.zeros(len(windows), dtype=torch.long)
            for j in range(m):                               # id of the m-gram, base V
                flat = flat * self.vocab_size + windows[:, j]
            table = torch.bincount(flat, minlength=self.vocab_size ** m).double()
            self.counts.append(table.view(*([self.vocab_size] * m)))
        return self

    def _add_k(self, m: int) -> torch.Tensor:
        """Add-k probabilities of order m, shape ``(V,)*m``, the last dimension sums to 1."""
        counts = self.counts[m - 1] + self.k
        return counts / counts.sum(-1, keepdim=True)

    def probabilities(self) -> torch.Tensor:
        """The full table :math:`p(x \\mid h)` of shape ``(V,)*order``: index the history
        first, the next id last."""
        if not self.counts:
            raise RuntimeError("the model has no counts yet: call fit(ids) first.")
        if self.smoothing == "add_k":
            return self._add_k(self.order)
        table = torch.zeros([self.vocab_size] * self.order, dtype=torch.float64)
        for m, weight in zip(range(1, self.order + 1), self.lambdas):
            lower = self._add_k(m)                           # broadcast over older history
            table = table + weight * lower.view(*([1] * (self.order - m)), *lower.shape)
        return table

    def log_probs(self, ids: torch.Tensor) -> torch.Tensor:
        """``log p(x_t | previous n-1 ids)`` for every t >= n-1 of ``ids`` (1-D)."""
        ids = _check_ids("ids", ids, self.vocab_size, self.order).flatten()
        table = self.probabilities().log()
        windows = ids.unfold(0, self.order, 1)
        return table[tuple(windows.T)]

    def cross_entropy(self, ids: torch.Tensor) -> float:
        """Mean negative log-likelihood (nats per character) of ``ids``, each id after the
        first ``order-1`` predicted from the ids before it."""
        return float(-self.log_probs(ids).mean())

    def generate(self, prompt: torch.Tensor, max_new_tokens: int, *,
                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Continue ``prompt`` (at least ``order-1`` ids) by sampling ``max_new_tokens`` ids."""
        prompt = _check_ids("prompt", prompt, self.vocab_size, max(self.order - 1, 1))
        _check_int("max_new_tokens", max_new_tokens)
        table = self.probabilities()
        out = prompt.flatten().tolist()
        for _ in range(max_new_tokens):
            history = tuple(out[len(out) - self.order + 1:]) if self.order > 1 else ()
            probs = table[history] if history else table
            out.append(int(torch.multinomial(probs.float(), 1, generator=generator)))
        return torch.tensor(out, dtype=torch.long)


# --------------------------------------------------------------------------------------------
# Neural language models: ids (B, T) -> logits (B, T, V)
# --------------------------------------------------------------------------------------------

class MLPLM(nn.Module):
    """A fixed-window neural LM (Bengio et al., 2003): embed the last ``context``
    characters, concatenate them and predict the next one with a one-hidden-layer MLP."""

    max_context: int | None = None   # the model sees `context` ids; longer inputs are fine

    def __init__(self, vocab_size: int, context: int = 8, d_embed: int = 16,
                 d_hidden: int = 256) -> None:
        super().__init__()
        self.vocab_size = _check_int("vocab_size", vocab_size, 2)
        self.context = _check_int("context", context)
        self.embed = nn.Embedding(vocab_size, _check_int("d_embed", d_embed))
        self.mlp = nn.Sequential(nn.Linear(context * d_embed, _check_int("d_hidden", d_hidden)),
                                 nn.Tanh(), nn.Linear(d_hidden, vocab_size))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = _check_batch(ids, self.vocab_size)
        x = self.embed(ids)                                          # (B, T, E)
        x = F.pad(x, (0, 0, self.context - 1, 0))                    # zeros before the start
        windows = x.unfold(1, self.context, 1)                       # (B, T, E, context)
        windows = windows.transpose(2, 3).flatten(2)                 # (B, T, context*E)
        return self.mlp(windows)


class LSTMLM(nn.Module):
    """A recurrent LM: an embedding, an LSTM that carries a state along the text, and a
    linear layer to the vocabulary. (Embedding -> LSTM -> Linear is an LSTM, not a
    Transformer.)"""

    max_context: int | None = None

    def __init__(self, vocab_size: int, d_embed: int = 32, d_hidden: int = 128,
                 num_layers: int = 1) -> None:
        super().__init__()
        self.vocab_size = _check_int("vocab_size", vocab_size, 2)
        self.embed = nn.Embedding(vocab_size, _check_int("d_embed", d_embed))
        self.lstm = nn.LSTM(d_embed, _check_int("d_hidden", d_hidden),
                            num_layers=_check_int("num_layers", num_layers), batch_first=True)
        self.head = nn.Linear(d_hidden, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = _check_batch(ids, self.vocab_size)
        hidden, _ = self.lstm(self.embed(ids))                       # (B, T, H)
        return self.head(hidden)


class _Block(nn.Module):
    """A pre-LN Transformer block: x + MHA(LN(x)), then x + FFN(LN(x))."""

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.attn = MultiHeadAttention(d_model, num_heads)
        self.ffn = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(),
                                 nn.Linear(4 * d_model, d_model))

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x), mask=mask)
        return x + self.ffn(self.ln2(x))


class TinyTransformerLM(nn.Module):
    """A small decoder-only Transformer (GPT-style): token + learned position embeddings,
    ``num_layers`` pre-LN blocks with causal multi-head self-attention, a final LayerNorm
    and a linear head. It sees at most ``context`` ids."""

    def __init__(self, vocab_size: int, context: int = 64, d_model: int = 64,
                 num_heads: int = 4, num_layers: int = 2) -> None:
        super().__init__()
        self.vocab_size = _check_int("vocab_size", vocab_size, 2)
        self.max_context = _check_int("context", context)
        self.token = nn.Embedding(vocab_size, _check_int("d_model", d_model))
        self.position = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList(_Block(d_model, num_heads)
                                    for _ in range(_check_int("num_layers", num_layers)))
        self.ln = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = _check_batch(ids, self.vocab_size)
        length = ids.size(1)
        if length > self.max_context:
            raise ValueError(f"input of {length} ids is longer than the model's context "
                             f"({self.max_context}); crop it to the last {self.max_context}.")
        x = self.token(ids) + self.position(torch.arange(length, device=ids.device))
        mask = causal_mask(length, device=ids.device)
        for block in self.blocks:
            x = block(x, mask)
        return self.head(self.ln(x))


def _check_batch(ids: object, vocab_size: int) -> torch.Tensor:
    ids = _check_ids("ids", ids, vocab_size)
    if ids.dim() != 2:
        raise ValueError(f"ids must have shape (batch, length), got {tuple(ids.shape)}; "
                         f"for one sequence use ids[None].")
    return ids


# --------------------------------------------------------------------------------------------
# Training, evaluation, generation
# --------------------------------------------------------------------------------------------

@dataclass
class TrainResult:
    """What :func:`train_lm` did: the budget it was given and what it cost."""

    steps: int
    batch_size: int
    seq_len: int
    tokens_seen: int
    seconds: float
    losses: list[float] = field(default_factory=list)


def _random_batch(ids: torch.Tensor, batch_size: int, seq_len: int,
                  generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    starts = torch.randint(0, len(ids) - seq_len - 1, (batch_size,), generator=generator)
    rows = starts[:, None] + torch.arange(seq_len + 1)
    window = ids[rows]
    return window[:, :-1], window[:, 1:]


def train_lm(model: nn.Module, ids: torch.Tensor, *, steps: int, batch_size: int = 32,
             seq_len: int = 64, lr: float = 3e-3, seed: int = 0,
             progress: bool = True, desc: str | None = None) -> TrainResult:
    """Train a neural LM for ``steps`` AdamW steps on random windows of ``ids``.

    Each step reads ``batch_size`` windows of ``seq_len + 1`` ids and minimises the
    cross-entropy of every next id. The budget -- steps x batch x length ids -- is returned
    with the wall time and the loss of every step.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    vocab_size = getattr(model, "vocab_size", None)
    ids = _check_ids("ids", ids, vocab_size).flatten()
    for name, value in (("steps", steps), ("batch_size", batch_size), ("seq_len", seq_len)):
        _check_int(name, value)
    _check_int("seed", seed, 0)
    if len(ids) < seq_len + 2:
        raise ValueError(f"ids has {len(ids)} ids; training windows need at least "
                         f"seq_len + 2 = {seq_len + 2}.")
    limit = getattr(model, "max_context", None)
    if limit is not None and seq_len > limit:
        raise ValueError(f"seq_len={seq_len} exceeds the model's context of {limit}.")
    from tqdm.auto import tqdm

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses: list[float] = []
    start = time.perf_counter()
    for _ in tqdm(range(steps), desc=desc or type(model).__name__, disable=not progress,
                  mininterval=1.0):
        x, y = _random_batch(ids, batch_size, seq_len, generator)
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    model.eval()
    return TrainResult(steps, batch_size, seq_len, steps * batch_size * seq_len,
                       time.perf_counter() - start, losses)


@torch.no_grad()
def evaluate_lm(model: nn.Module, ids: torch.Tensor, *, seq_len: int = 64,
                batch_size: int = 64) -> float:
    """Mean cross-entropy (nats per id) of a neural LM on ``ids``, cut into consecutive
    windows of ``seq_len + 1`` ids (the first id of each window is context only)."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    ids = _check_ids("ids", ids, getattr(model, "vocab_size", None)).flatten()
    _check_int("seq_len", seq_len)
    _check_int("batch_size", batch_size)
    n_windows = (len(ids) - 1) // seq_len
    if n_windows < 1:
        raise ValueError(f"ids has {len(ids)} ids; evaluation needs at least seq_len + 1 = "
                         f"{seq_len + 1}.")
    model.eval()
    windows = ids[: n_windows * seq_len + 1]
    x = windows[:-1].view(n_windows, seq_len)
    y = windows[1:].view(n_windows, seq_len)
    total = 0.0
    for i in range(0, n_windows, batch_size):
        logits = model(x[i:i + batch_size])
        total += F.cross_entropy(logits.flatten(0, 1), y[i:i + batch_size].flatten(),
                                 reduction="sum").item()
    return total / y.numel()


@torch.no_grad()
def generate(model: nn.Module, prompt: torch.Tensor, max_new_tokens: int, *,
             temperature: float = 1.0, generator: torch.Generator | None = None
             ) -> torch.Tensor:
    """Continue a 1-D ``prompt`` of ids by sampling ``max_new_tokens`` ids from a neural LM
    (``temperature`` < 1 sharpens the distribution). Returns prompt + continuation."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}.")
    prompt = _check_ids("prompt", prompt, getattr(model, "vocab_size", None))
    if prompt.dim() != 1:
        raise ValueError(f"prompt must be 1-D (one sequence), got shape {tuple(prompt.shape)}.")
    _check_int("max_new_tokens", max_new_tokens)
    if not isinstance(temperature, (int, float)) or not temperature > 0:
        raise ValueError(f"temperature must be a number > 0, got {temperature!r}.")
    model.eval()
    out = prompt.clone()
    limit = getattr(model, "max_context", None)
    for _ in range(max_new_tokens):
        window = out if limit is None else out[-limit:]
        logits = model(window[None])[0, -1] / temperature
        next_id = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
        out = torch.cat([out, next_id])
    return out
