"""Pretraining objectives (section 3.3): what a model is asked to predict from raw text.

* **causal language modelling** -- predict each next token (:class:`llmbook.gpt.GPT`);
* **masked-token denoising** (BERT) -- :func:`mask_tokens` hides 15 % of the tokens
  (80 % replaced by a mask id, 10 % by a random token, 10 % kept) and the model predicts the
  originals from both sides;
* **span corruption** (T5) -- :func:`span_corrupt` replaces random spans by sentinel tokens;
  the target lists each sentinel followed by the span it hides. :func:`prefix_lm_batch`
  turns that into one sequence for a decoder-only model (loss on the target part only);
* **contrastive learning** -- :func:`info_nce` pulls two views of the same text together
  and pushes the other texts of the batch away (SimCSE, CLIP); :func:`random_crops` makes
  the two views, :class:`MeanPoolEncoder` embeds them.

Every function takes an explicit ``torch.Generator`` so results are reproducible.
"""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = ["IGNORE_INDEX", "mask_tokens", "span_corrupt", "prefix_lm_batch", "info_nce",
           "random_crops", "MeanPoolEncoder", "retrieval_accuracy"]

#: Label of positions that carry no target (PyTorch's cross-entropy skips them).
IGNORE_INDEX = -100


def _check_ids(name: str, ids: object, dims: tuple[int, ...] = (1, 2)) -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError(f"{name} must be a torch.LongTensor of token ids, got "
                        f"{getattr(ids, 'dtype', type(ids).__name__)}.")
    if ids.dim() not in dims:
        raise ValueError(f"{name} must have {' or '.join(map(str, dims))} dimensions, got "
                         f"shape {tuple(ids.shape)}.")
    return ids


def _check_prob(name: str, p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 < p < 1.0:
        raise ValueError(f"{name} must be a probability strictly between 0 and 1, got {p!r}.")
    return float(p)


def mask_tokens(ids: torch.Tensor, *, mask_id: int, vocab_size: int, mask_prob: float = 0.15,
                generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's masked-token corruption: ``(inputs, labels)``.

    Each position is chosen with probability ``mask_prob``; a chosen token becomes
    ``mask_id`` 80 % of the time, a random id in ``0..vocab_size-1`` 10 % of the time, and
    stays itself 10 % of the time. ``labels`` hold the original id at chosen positions and
    :data:`IGNORE_INDEX` elsewhere, so the loss counts only the chosen positions.
    """
    ids = _check_ids("ids", ids)
    mask_prob = _check_prob("mask_prob", mask_prob)
    if isinstance(vocab_size, bool) or not isinstance(vocab_size, int) or vocab_size < 1:
        raise ValueError(f"vocab_size must be an int >= 1, got {vocab_size!r}.")
    if not isinstance(mask_id, int) or isinstance(mask_id, bool):
        raise TypeError(f"mask_id must be an int, got {type(mask_id).__name__}.")
    chosen = torch.rand(ids.shape, generator=generator) < mask_prob
    labels = torch.where(chosen, ids, torch.full_like(ids, IGNORE_INDEX))
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    random_pos = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[random_pos] = torch.randint(vocab_size, ids.shape, generator=generator)[random_pos]
    return inputs, labels


def span_corrupt(ids: torch.Tensor, *, sentinel_ids: list[int], noise_density: float = 0.15,
                 mean_span: float = 3.0, generator: torch.Generator | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor]:
    """T5's span corruption of one sequence ``ids (T,)``: ``(inputs, targets)``.

    About ``noise_density * T`` tokens, in spans of mean length ``mean_span``, are removed;
    span ``i`` is replaced in ``inputs`` by ``sentinel_ids[i]``, and ``targets`` is
    ``sentinel_0 span_0 sentinel_1 span_1 ...`` (spans never touch, so a sentinel always
    marks a gap). Example with sentinels ``<0>, <1>``: ``"Thank you for inviting me"`` ->
    inputs ``"Thank <0> inviting <1>"``, targets ``"<0> you for <1> me"``.
    """
    ids = _check_ids("ids", ids, dims=(1,))
    noise_density = _check_prob("noise_density", noise_density)
    if not isinstance(mean_span, (int, float)) or mean_span < 1:
        raise ValueError(f"mean_span must be a number >= 1, got {mean_span!r}.")
    T = ids.numel()
    n_noise = max(1, round(T * noise_density))
    n_spans = max(1, round(n_noise / mean_span))
    if len(sentinel_ids) < n_spans:
        raise ValueError(f"need at least {n_spans} sentinel ids for this length, got "
                         f"{len(sentinel_ids)}.")
    if T < 2 * n_spans + n_noise:
        raise ValueError(f"sequence of {T} tokens is too short for {n_spans} spans of "
                         f"{n_noise} noise tokens; lower noise_density or use longer text.")
    # split n_noise into n_spans positive lengths, and the clean tokens into n_spans + 1 gaps
    # (inner gaps >= 1, so two spans never merge)
    def _partition(total: int, parts: int, minimum: int) -> list[int]:
        cuts = torch.randperm(total - parts * minimum + parts - 1, generator=generator)
        cuts = sorted(cuts[:parts - 1].tolist())
        sizes, prev = [], -1
        for c in cuts + [total - parts * minimum + parts - 1]:
            sizes.append(c - prev - 1 + minimum)
            prev = c
        return sizes

    span_lengths = _partition(n_noise, n_spans, 1)
    inner = _partition(T - n_noise - (n_spans - 1), n_spans + 1, 0)
    gaps = [inner[0]] + [g + 1 for g in inner[1:-1]] + [inner[-1]]
    inputs, targets, pos = [], [], 0
    for i in range(n_spans):
        inputs += ids[pos:pos + gaps[i]].tolist()
        pos += gaps[i]
        inputs.append(sentinel_ids[i])
        targets.append(sentinel_ids[i])
        targets += ids[pos:pos + span_lengths[i]].tolist()
        pos += span_lengths[i]
    inputs += ids[pos:].tolist()
    return torch.tensor(inputs), torch.tensor(targets)


def prefix_lm_batch(pairs: list[tuple[torch.Tensor, torch.Tensor]], *, sep_id: int,
                    pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pack ``(inputs, targets)`` pairs into next-token batches for a decoder-only model:
    each row is ``inputs <sep> targets``, and the labels are the targets only (the model
    reads the corrupted text and learns to write out the missing spans). Returns ``x, y`` of
    shape ``(B, L)``; ``y`` is :data:`IGNORE_INDEX` outside the targets and on padding."""
    if not pairs:
        raise ValueError("pairs is empty.")
    rows, labels = [], []
    for inp, tgt in pairs:
        _check_ids("inputs", inp, dims=(1,))
        _check_ids("targets", tgt, dims=(1,))
        seq = torch.cat([inp, torch.tensor([sep_id]), tgt])
        lab = torch.full_like(seq, IGNORE_INDEX)
        lab[inp.numel():-1] = tgt                 # position of <sep> predicts target[0]...
        rows.append(seq[:-1])
        labels.append(lab[:-1])
    L = max(r.numel() for r in rows)
    x = torch.full((len(rows), L), pad_id, dtype=torch.long)
    y = torch.full((len(rows), L), IGNORE_INDEX, dtype=torch.long)
    for i, (r, lab) in enumerate(zip(rows, labels)):
        x[i, :r.numel()] = r
        y[i, :lab.numel()] = lab
    return x, y


def info_nce(a: torch.Tensor, b: torch.Tensor, temperature: float = 0.05,
             symmetric: bool = True) -> torch.Tensor:
    r"""InfoNCE loss of paired embeddings ``a, b (N, d)``: row ``i`` of ``a`` and row ``i``
    of ``b`` are two views of the same example (the positive pair); the other ``N - 1`` rows
    are negatives. With cosine similarities :math:`s_{ij}` and temperature :math:`\tau`,

    .. math:: \mathcal L = -\frac1N\sum_i \log
              \frac{e^{s_{ii}/\tau}}{\sum_j e^{s_{ij}/\tau}},

    i.e. the cross-entropy of classifying the right partner among the batch; ``symmetric``
    averages it over both directions (``a -> b`` and ``b -> a``), as CLIP does.
    """
    for name, t in (("a", a), ("b", b)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"{name} must be a 2-D tensor (N, d) of embeddings, got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}.")
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape (paired rows), got "
                         f"{tuple(a.shape)} and {tuple(b.shape)}.")
    if a.size(0) < 2:
        raise ValueError("InfoNCE needs at least 2 pairs: the other rows are the negatives.")
    if not isinstance(temperature, (int, float)) or temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature!r}.")
    sim = F.normalize(a, dim=-1) @ F.normalize(b, dim=-1).T / temperature
    labels = torch.arange(a.size(0), device=a.device)
    loss = F.cross_entropy(sim, labels)
    if symmetric:
        loss = 0.5 * (loss + F.cross_entropy(sim.T, labels))
    return loss


def random_crops(data: torch.Tensor, n: int, length: int, *, window: int | None = None,
                 generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Two views of ``n`` random passages of a 1-D id tensor: for each passage of
    ``window`` ids (default ``2 * length``), two independent crops of ``length`` ids.
    Crops of the same passage overlap or sit side by side: a positive pair."""
    data = _check_ids("data", data, dims=(1,))
    window = window or 2 * length
    if isinstance(n, bool) or not isinstance(n, int) or n < 1 or \
            not isinstance(length, int) or length < 1:
        raise ValueError(f"n and length must be ints >= 1, got n={n!r}, length={length!r}.")
    if window < length or data.numel() <= window:
        raise ValueError(f"need length <= window < len(data); got length {length}, window "
                         f"{window}, {data.numel()} ids.")
    starts = torch.randint(data.numel() - window, (n,), generator=generator)
    offsets = torch.arange(length)
    views = []
    for _ in range(2):
        shift = torch.randint(window - length + 1, (n,), generator=generator)
        views.append(data[(starts + shift)[:, None] + offsets])
    return views[0], views[1]


class MeanPoolEncoder(nn.Module):
    """A sentence (passage) embedding: a bidirectional :class:`~llmbook.gpt.GPT` body,
    mean-pooled over positions, then a linear projection."""

    def __init__(self, body: nn.Module, dim: int) -> None:
        super().__init__()
        if not hasattr(body, "hidden_states"):
            raise TypeError("body must have a hidden_states(ids) method (e.g. llmbook.gpt.GPT).")
        self.body = body
        self.proj = nn.Linear(body.config.n_embd, dim)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.proj(self.body.hidden_states(ids).mean(dim=1))


@torch.no_grad()
def retrieval_accuracy(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fraction of rows ``i`` whose most cosine-similar row of ``b`` is ``b[i]`` (chance is
    ``1 / N``)."""
    if a.shape != b.shape or a.dim() != 2:
        raise ValueError(f"a and b must be paired (N, d) tensors, got {tuple(a.shape)} and "
                         f"{tuple(b.shape)}.")
    sim = F.normalize(a.float(), dim=-1) @ F.normalize(b.float(), dim=-1).T
    return float((sim.argmax(dim=1) == torch.arange(a.size(0))).float().mean())
