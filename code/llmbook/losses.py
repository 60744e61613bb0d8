"""The pretraining and fine-tuning losses of Section 4.4, written from their formulas.

* :func:`cross_entropy` -- :math:`-\\log \\mathrm{softmax}(z)_y`, averaged (classification).
* :func:`binary_cross_entropy` -- two classes with one logit.
* :func:`lm_nll` / :func:`sequence_log_prob` -- the language-model negative
  log-likelihood, from the chain rule :math:`\\log p(x) = \\sum_t \\log p(x_t\\mid x_{<t})`.
* :func:`mask_tokens`, :func:`denoising_loss` -- denoising-autoencoder (masked-token)
  corruption and reconstruction loss; :func:`gaussian_corrupt` and
  :func:`reconstruction_mse` for continuous inputs.
* :func:`info_nce` -- the contrastive InfoNCE loss over a batch of pairs.

Each is checked against PyTorch's own loss in ``tests/test_losses.py``.
"""

from __future__ import annotations

import torch

__all__ = ["log_softmax", "cross_entropy", "binary_cross_entropy", "lm_nll",
           "sequence_log_prob", "mask_tokens", "denoising_loss", "gaussian_corrupt",
           "reconstruction_mse", "info_nce", "IGNORE_INDEX"]

#: Targets equal to this are skipped by the losses (PyTorch's default ``ignore_index``).
IGNORE_INDEX = -100


def _float(name: str, x: object, dim: int | None = None) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}.")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {x.dtype}; use {name}.float().")
    if dim is not None and x.dim() != dim:
        raise ValueError(f"{name} must have {dim} dimensions, got shape {tuple(x.shape)}.")
    return x


def _ints(name: str, x: object) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.is_floating_point() or x.dtype == torch.bool:
        raise TypeError(f"{name} must be an integer torch.Tensor (class or token ids), got "
                        f"{getattr(x, 'dtype', type(x).__name__)}.")
    return x


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    r""":math:`z_i - \log\sum_j e^{z_j}` along the last dimension, computed stably
    (the log-sum-exp trick: subtract the largest logit first)."""
    _float("logits", logits)
    top = logits.amax(-1, keepdim=True)
    return logits - top - (logits - top).exp().sum(-1, keepdim=True).log()


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, *,
                  ignore_index: int = IGNORE_INDEX, reduction: str = "mean") -> torch.Tensor:
    r"""Cross-entropy :math:`-\log \mathrm{softmax}(z)_{y}` for ``logits (N, C)`` and
    ``targets (N,)``; targets equal to ``ignore_index`` are skipped.
    ``reduction``: ``"mean"`` over the kept targets, ``"sum"``, or ``"none"`` (``(N,)``,
    0 where ignored)."""
    _float("logits", logits, 2)
    _ints("targets", targets)
    if targets.shape != logits.shape[:1]:
        raise ValueError(f"targets must be (N,) = ({logits.size(0)},) for logits "
                         f"{tuple(logits.shape)}, got {tuple(targets.shape)}.")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'none', got {reduction!r}.")
    keep = targets != ignore_index
    if ((targets[keep] < 0) | (targets[keep] >= logits.size(1))).any():
        raise ValueError(f"targets must be class indices in [0, {logits.size(1)}) or "
                         f"{ignore_index} (ignored), got {targets[keep].unique().tolist()[:10]}.")
    safe = torch.where(keep, targets, torch.zeros_like(targets))
    nll = -log_softmax(logits).gather(1, safe[:, None]).squeeze(1) * keep
    if reduction == "none":
        return nll
    if reduction == "sum":
        return nll.sum()
    if not keep.any():
        raise ValueError("every target is ignored: the mean loss is undefined.")
    return nll.sum() / keep.sum()


def binary_cross_entropy(logit: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    r"""Two-class cross-entropy from one logit :math:`z` (:math:`p = \sigma(z)`):
    :math:`-[y\log\sigma(z) + (1-y)\log(1-\sigma(z))]`, averaged, computed stably as
    :math:`\max(z,0) - zy + \log(1+e^{-|z|})`."""
    _float("logit", logit)
    if not isinstance(label, torch.Tensor) or label.shape != logit.shape:
        raise ValueError(f"label must be a tensor of the logit's shape {tuple(logit.shape)}, "
                         f"got {getattr(label, 'shape', type(label).__name__)}.")
    label = label.to(logit.dtype)
    if ((label < 0) | (label > 1)).any():
        raise ValueError("labels must lie in [0, 1].")
    return (logit.clamp(min=0) - logit * label + torch.log1p((-logit.abs()).exp())).mean()


def _check_lm(logits: torch.Tensor, input_ids: torch.Tensor) -> None:
    _float("logits", logits, 3)
    _ints("input_ids", input_ids)
    if input_ids.shape != logits.shape[:2]:
        raise ValueError(f"input_ids must be (B, T) = {tuple(logits.shape[:2])} to match logits "
                         f"(B, T, V), got {tuple(input_ids.shape)}.")
    if input_ids.size(1) < 2:
        raise ValueError("need at least 2 tokens: the first one is never predicted.")


def sequence_log_prob(logits: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    r"""The chain rule: :math:`\log p(x_2..x_T \mid x_1) = \sum_{t=2}^{T}\log p(x_t\mid x_{<t})`
    for each sequence. ``logits (B, T, V)`` at position ``t`` predict token ``t+1``.
    Returns ``(B,)``."""
    _check_lm(logits, input_ids)
    log_probs = log_softmax(logits[:, :-1])                        # (B, T-1, V)
    picked = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # (B, T-1)
    return picked.sum(-1)


def lm_nll(logits: torch.Tensor, input_ids: torch.Tensor, *,
           ignore_index: int = IGNORE_INDEX) -> torch.Tensor:
    r"""Mean next-token negative log-likelihood: the logits at position ``t`` are scored
    on token ``t+1`` (the shift), averaged over all predicted tokens whose id is not
    ``ignore_index``. Its exponential is the perplexity."""
    _check_lm(logits, input_ids)
    vocab = logits.size(-1)
    return cross_entropy(logits[:, :-1].reshape(-1, vocab), input_ids[:, 1:].reshape(-1),
                         ignore_index=ignore_index)


def mask_tokens(input_ids: torch.Tensor, mask_id: int, prob: float = 0.15, *,
                generator: torch.Generator | None = None,
                protected: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt a batch for a denoising (masked-token) objective.

    Each token that is not ``protected`` is replaced by ``mask_id`` with probability
    ``prob``. Returns ``(corrupted, targets)``: ``targets`` holds the original id where a
    token was masked and :data:`IGNORE_INDEX` elsewhere, so only masked tokens are scored.
    """
    _ints("input_ids", input_ids)
    if not 0.0 < prob < 1.0:
        raise ValueError(f"prob must be strictly between 0 and 1, got {prob!r}.")
    chosen = torch.rand(input_ids.shape, generator=generator) < prob
    if protected is not None:
        if protected.shape != input_ids.shape or protected.dtype != torch.bool:
            raise ValueError("protected must be a boolean tensor of input_ids' shape.")
        chosen &= ~protected
    corrupted = input_ids.masked_fill(chosen, mask_id)
    targets = input_ids.masked_fill(~chosen, IGNORE_INDEX)
    return corrupted, targets


def denoising_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    r"""Reconstruction loss of a denoising autoencoder over tokens: the mean of
    :math:`-\log p(x_i \mid \tilde x)` over the corrupted positions ``i`` only
    (``targets`` from :func:`mask_tokens`). ``logits (B, T, V)``, ``targets (B, T)``."""
    _float("logits", logits, 3)
    _ints("targets", targets)
    if targets.shape != logits.shape[:2]:
        raise ValueError(f"targets must be (B, T) = {tuple(logits.shape[:2])}, got "
                         f"{tuple(targets.shape)}.")
    return cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1))


def gaussian_corrupt(x: torch.Tensor, sigma: float, *,
                     generator: torch.Generator | None = None) -> torch.Tensor:
    r"""Continuous corruption :math:`\tilde x = x + \sigma\varepsilon`,
    :math:`\varepsilon \sim \mathcal N(0, I)`."""
    _float("x", x)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or sigma < 0:
        raise ValueError(f"sigma must be a non-negative number, got {sigma!r}.")
    return x + sigma * torch.randn(x.shape, generator=generator, dtype=x.dtype)


def reconstruction_mse(reconstruction: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
    r"""Mean squared reconstruction error :math:`\frac1{N d}\sum \lVert g(f(\tilde x)) - x\rVert^2`."""
    _float("reconstruction", reconstruction)
    _float("clean", clean)
    if reconstruction.shape != clean.shape:
        raise ValueError(f"shapes differ: reconstruction {tuple(reconstruction.shape)}, "
                         f"clean {tuple(clean.shape)}.")
    return ((reconstruction - clean) ** 2).mean()


def info_nce(anchors: torch.Tensor, positives: torch.Tensor, temperature: float = 0.05, *,
             normalize: bool = True) -> torch.Tensor:
    r"""InfoNCE over a batch of ``N`` pairs: row ``i`` of ``positives`` is the positive of
    anchor ``i`` and the other ``N-1`` rows are its negatives,

    .. math:: L = -\frac1N\sum_i \log\frac{\exp(s_{ii}/\tau)}{\sum_j \exp(s_{ij}/\tau)},

    with :math:`s_{ij}` the cosine similarity (``normalize=True``) or dot product.
    ``anchors``, ``positives``: ``(N, d)``."""
    _float("anchors", anchors, 2)
    _float("positives", positives, 2)
    if anchors.shape != positives.shape:
        raise ValueError(f"anchors and positives must both be (N, d), got "
                         f"{tuple(anchors.shape)} and {tuple(positives.shape)}.")
    if anchors.size(0) < 2:
        raise ValueError("InfoNCE needs at least 2 pairs: the others are the negatives.")
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
            or temperature <= 0:
        raise ValueError(f"temperature must be a positive number, got {temperature!r}.")
    if normalize:
        anchors = anchors / anchors.norm(dim=1, keepdim=True)
        positives = positives / positives.norm(dim=1, keepdim=True)
    similarities = anchors @ positives.T / temperature            # (N, N)
    return cross_entropy(similarities, torch.arange(anchors.size(0)))
