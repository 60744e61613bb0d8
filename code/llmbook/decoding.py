"""Decoding: turning next-token distributions into text (section 3.6).

A causal LM maps ids ``(B, T)`` to logits ``(B, T, V)``; the decoders use the last
position's, through :class:`CausalLM`: the book's :class:`~llmbook.gpt.GPT`, a Hugging Face
causal LM (e.g. SmolLM2) or any callable ``ids -> logits``, with or without a KV cache.

Filters equal to ``transformers``' logits processors (:func:`temperature_scale`,
:func:`top_k_filter`, :func:`top_p_filter`, :func:`apply_repetition_penalty`, in its order:
:func:`process_logits`); decoders (:func:`generate`: greedy or sampling, left-padded batches,
stop ids / sequences / strings; :func:`beam_search`); measurements (:func:`kv_cache_size`,
:func:`kv_cache_bytes`, :func:`time_kv_cache`, :func:`batch_throughput`).
"""

from __future__ import annotations

import inspect
import math
import time
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from .gpt import GPT, KVCache

__all__ = ["temperature_scale", "top_k_filter", "top_p_filter", "apply_repetition_penalty",
           "process_logits", "CausalLM", "left_pad", "generate", "BeamSearchOutput",
           "beam_search", "kv_cache_size", "kv_cache_bytes", "time_kv_cache",
           "batch_throughput"]


# --- Argument checks -------------------------------------------------------------------------

def _int(name: str, value: object, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
    return value


def _number(name: str, value: object, low: float, high: float = math.inf) -> float:
    """``value`` as a float in ``(low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        upper = "" if high == math.inf else f" and <= {high}"
        raise ValueError(f"{name} must be a number > {low}{upper}, got {value!r}.")
    return float(value)


def _logits(logits: object) -> torch.Tensor:
    if not isinstance(logits, torch.Tensor) or not logits.is_floating_point() \
            or logits.dim() < 1 or logits.size(-1) == 0:
        raise TypeError(f"logits must be a float tensor (..., vocab), got "
                        f"{getattr(logits, 'dtype', type(logits).__name__)} "
                        f"{tuple(getattr(logits, 'shape', ()))}.")
    return logits


def _ids(ids: object, name: str = "ids") -> torch.Tensor:
    if not isinstance(ids, torch.Tensor) or ids.dtype != torch.long:
        raise TypeError(f"{name} must be a torch.LongTensor of token ids (B, T), got "
                        f"{getattr(ids, 'dtype', type(ids).__name__)}.")
    if ids.dim() != 2 or ids.size(1) == 0:
        raise ValueError(f"{name} must have shape (batch, time) with time >= 1, got "
                         f"{tuple(ids.shape)}; add a batch dimension with ids[None].")
    return ids


def _mask(mask: object, ids: torch.Tensor) -> torch.Tensor:
    if mask is None:
        return torch.ones_like(ids)
    if not isinstance(mask, torch.Tensor) or mask.shape != ids.shape:
        raise ValueError(f"attention_mask must be a tensor shaped like ids {tuple(ids.shape)}, "
                         f"got {getattr(mask, 'shape', type(mask).__name__)}.")
    mask = mask.long()
    if ((mask != 0) & (mask != 1)).any() or (mask[:, 1:] < mask[:, :-1]).any() \
            or (mask[:, -1] == 0).any():
        raise ValueError("attention_mask must be 0 (padding) then 1 (tokens) in each row: pad "
                         "on the left, or the new tokens would follow pad tokens (left_pad).")
    return mask


def _eos(eos_token_id: object) -> list[int]:
    values = [] if eos_token_id is None else \
        [eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id)
    return [_int("eos_token_id", v, 0) for v in values]


# --- Filters: each is the transformers logits processor of the same name, written out --------

def temperature_scale(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature``: below 1 sharpens the softmax, above 1 flattens it
    (``TemperatureLogitsWarper``)."""
    return _logits(logits) / _number("temperature", temperature, 0.0)


def top_k_filter(logits: torch.Tensor, k: int, filter_value: float = -math.inf) -> torch.Tensor:
    """Keep the ``k`` largest logits of each row (ties with the k-th kept too), set the
    rest to ``filter_value`` (``TopKLogitsWarper``)."""
    logits = _logits(logits)
    k = min(_int("top_k", k, 1), logits.size(-1))
    kth = torch.topk(logits, k).values[..., -1, None]
    return logits.masked_fill(logits < kth, filter_value)


def top_p_filter(logits: torch.Tensor, p: float, filter_value: float = -math.inf,
                 min_tokens_to_keep: int = 1) -> torch.Tensor:
    """Nucleus filtering (``TopPLogitsWarper``): keep the smallest set of most likely tokens
    whose probability reaches ``p``. Sorted from least to most likely, a token is removed when
    the cumulative probability up to it is ``<= 1 - p``; ``min_tokens_to_keep`` always stay."""
    logits = _logits(logits)
    p = _number("top_p", p, 0.0, 1.0)
    _int("min_tokens_to_keep", min_tokens_to_keep, 1)
    sorted_logits, order = torch.sort(logits, descending=False)
    cumulative = sorted_logits.softmax(dim=-1).cumsum(dim=-1)
    remove = cumulative <= (1 - p)
    remove[..., -min_tokens_to_keep:] = False
    remove = remove.scatter(-1, order, remove)          # back to vocabulary order
    return logits.masked_fill(remove, filter_value)


def apply_repetition_penalty(logits: torch.Tensor, ids: torch.Tensor,
                             penalty: float) -> torch.Tensor:
    """Make every token already in ``ids`` (prompt included) less likely: its logit is
    divided by ``penalty`` if positive, multiplied by it if negative
    (``RepetitionPenaltyLogitsProcessor``; Keskar et al. 2019). ``logits (B, V)``."""
    logits, ids = _logits(logits), _ids(ids)
    penalty = _number("repetition_penalty", penalty, 0.0)
    if logits.dim() != 2 or logits.size(0) != ids.size(0):
        raise ValueError(f"logits must be (B, V) with the B of ids {ids.size(0)}, got "
                         f"{tuple(logits.shape)}.")
    score = torch.gather(logits, 1, ids)
    score = torch.where(score < 0, score * penalty, score / penalty)
    return logits.scatter(1, ids, score)


def process_logits(logits: torch.Tensor, ids: torch.Tensor, *, do_sample: bool,
                   temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0,
                   repetition_penalty: float = 1.0) -> torch.Tensor:
    """The filters in ``transformers``' order: repetition penalty, then (sampling only)
    temperature, top-k, top-p. Values that change nothing are skipped, as there."""
    if repetition_penalty != 1.0:
        logits = apply_repetition_penalty(logits, ids, repetition_penalty)
    if do_sample:
        if temperature != 1.0:
            logits = temperature_scale(logits, temperature)
        if top_k is not None:
            logits = top_k_filter(logits, top_k)
        if top_p < 1.0:
            logits = top_p_filter(logits, top_p)
    return logits


# --- One interface to three kinds of model ---------------------------------------------------

class CausalLM:
    """A causal LM seen by a decoder: :meth:`start` on the prompt, then :meth:`step` with
    each new token; both return the last position's logits ``(B, V)`` in float32.

    ``model``: the book's GPT, a ``transformers`` causal LM, or a callable ``ids -> logits``.
    ``use_cache`` (default: if the model has one) keeps a KV cache (:class:`~llmbook.gpt.KVCache`
    or ``DynamicCache``), so a step feeds only the new token; without it every step runs the
    whole sequence (the GPT's cropped to its ``block_size``)."""

    def __init__(self, model: Any, use_cache: bool | None = None) -> None:
        hf = isinstance(model, torch.nn.Module) and hasattr(model, "config") \
            and hasattr(model, "generate")
        self.kind = "gpt" if isinstance(model, GPT) else "hf" if hf else \
            "callable" if callable(model) else None
        if self.kind is None:
            raise TypeError(f"model must be a llmbook GPT, a transformers causal LM or a "
                            f"callable ids -> logits, got {type(model).__name__}.")
        use_cache = self.kind != "callable" if use_cache is None else use_cache
        if not isinstance(use_cache, bool):
            raise TypeError(f"use_cache must be True, False or None, got {use_cache!r}.")
        if use_cache and self.kind == "callable":
            raise ValueError("a plain callable has no KV cache: pass use_cache=False.")
        self.model, self.use_cache = model, use_cache
        self.block_size = model.config.block_size if self.kind == "gpt" else None
        self.keep_last = self.kind == "hf" and \
            "logits_to_keep" in inspect.signature(model.forward).parameters
        self.cache: Any = None

    def start(self, ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Run the prompt (a new cache); logits of its last position."""
        self.ids, self.mask = ids, attention_mask
        self.padded = not bool(attention_mask.all())
        if self.padded and self.kind == "callable":
            raise ValueError("a plain callable takes no attention mask: give prompts of one "
                             "length (no padding).")
        if self.use_cache and self.kind == "gpt":
            self.cache = KVCache()
        elif self.use_cache:
            from transformers import DynamicCache
            self.cache = DynamicCache()
        return self._run(ids)

    def step(self, new_ids: torch.Tensor) -> torch.Tensor:
        """Append ``new_ids (B, 1)``; logits of the new last position."""
        self.ids = torch.cat([self.ids, new_ids], dim=1)
        self.mask = torch.cat([self.mask, torch.ones_like(new_ids)], dim=1)
        return self._run(new_ids if self.cache is not None else self.ids)

    def select(self, rows: torch.Tensor) -> None:
        """Keep (and reorder) batch rows, cache included: the surviving beams."""
        self.ids, self.mask = self.ids[rows], self.mask[rows]
        if isinstance(self.cache, KVCache):
            self.cache.select(rows)
        elif self.cache is not None:
            self.cache.reorder_cache(rows)

    def _run(self, x: torch.Tensor) -> torch.Tensor:
        mask = self.mask
        if self.kind == "gpt":
            if self.cache is None:
                x, mask = x[:, -self.block_size:], mask[:, -self.block_size:]
                if not self.padded:
                    return self.model(x)[:, -1, :].float()      # exactly GPT.generate's call
            mask = mask if self.padded else None
            return self.model.forward_with_cache(x, self.cache, attention_mask=mask
                                                 )[:, -1, :].float()
        if self.kind == "callable":
            out = self.model(x)
            out = getattr(out, "logits", out[0] if isinstance(out, tuple) else out)
            if not isinstance(out, torch.Tensor) or out.dim() != 3 or \
                    out.shape[:2] != x.shape:
                raise ValueError(f"the model must return logits (B, T, V) for ids "
                                 f"{tuple(x.shape)}, got {getattr(out, 'shape', type(out))}.")
            return out[:, -1, :].float()
        # transformers: positions count real tokens only, as generate() computes them
        pos = (mask.cumsum(-1) - 1).masked_fill(mask == 0, 0)[:, -x.size(1):]
        kwargs = dict(input_ids=x, attention_mask=mask, position_ids=pos,
                      use_cache=self.cache is not None)
        if self.cache is not None:
            kwargs["past_key_values"] = self.cache
        if self.keep_last:
            kwargs["logits_to_keep"] = 1
        return self.model(**kwargs).logits[:, -1, :].float()


def left_pad(sequences: Sequence[Sequence[int] | torch.Tensor], pad_token_id: int
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids, attention_mask)``, both ``(B, longest)``: each sequence right-aligned after
    ``pad_token_id``\\ s, so every row's next token is at the same last position."""
    rows = [torch.as_tensor(s, dtype=torch.long).flatten() for s in sequences]
    if not rows or any(r.numel() == 0 for r in rows):
        raise ValueError("give at least one sequence, none of them empty.")
    width = max(r.numel() for r in rows)
    ids = torch.full((len(rows), width), _int("pad_token_id", pad_token_id, 0))
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, width - r.numel():], mask[i, width - r.numel():] = r, 1
    return ids, mask


# --- Greedy decoding and sampling ------------------------------------------------------------

def _check_length(lm: CausalLM, prompt_len: int, max_new_tokens: int) -> None:
    if lm.kind == "gpt" and lm.use_cache and prompt_len + max_new_tokens > lm.block_size:
        raise ValueError(f"the prompt ({prompt_len}) + max_new_tokens ({max_new_tokens}) exceed "
                         f"block_size ({lm.block_size}) and a KV cache cannot crop: use "
                         f"use_cache=False (steps see the last block_size tokens) or fewer.")


def _stop_here(out: torch.Tensor, prompt_len: int, eos: list[int],
               sequences: list[list[int]], strings: list[str], tokenizer: Any) -> torch.Tensor:
    """Rows ended by their newest token: an EOS id, a stop sequence, a stop string."""
    done = torch.isin(out[:, -1], torch.tensor(eos, dtype=torch.long))
    for seq in sequences:
        if out.size(1) - prompt_len >= len(seq):
            done |= (out[:, -len(seq):] == torch.tensor(seq)).all(dim=1)
    for row in range(out.size(0)) if strings else ():
        done[row] |= any(s in tokenizer.decode(out[row, prompt_len:]) for s in strings)
    return done


@torch.no_grad()
def generate(model: Any, ids: torch.Tensor, max_new_tokens: int, *,
             attention_mask: torch.Tensor | None = None, do_sample: bool = False,
             temperature: float = 1.0, top_k: int | None = None, top_p: float = 1.0,
             repetition_penalty: float = 1.0, eos_token_id: int | Sequence[int] | None = None,
             pad_token_id: int | None = None, stop_sequences: Sequence[Sequence[int]] = (),
             stop_strings: Sequence[str] = (), tokenizer: Any = None,
             use_cache: bool | None = None, generator: torch.Generator | None = None
             ) -> torch.Tensor:
    """Greedy decoding (``do_sample=False``: the most likely token each step) or sampling
    from the filtered distribution; returns ``(B, T + new)`` ids, prompt included.

    As ``transformers``' ``model.generate``: a row stops at an ``eos_token_id``, at the end
    of one of ``stop_sequences`` (lists of ids) or when its new text contains one of
    ``stop_strings`` (needs ``tokenizer``), keeping the stopping token; finished rows get
    ``pad_token_id`` (default: the first EOS id, else 0). ``attention_mask`` for left-padded
    batches; ``generator`` seeds sampling (default: torch's global one, as there)."""
    mask = _mask(attention_mask, _ids(ids))
    _int("max_new_tokens", max_new_tokens, 1), _int("top_k", 1 if top_k is None else top_k, 1)
    _number("temperature", temperature, 0.0), _number("top_p", top_p, 0.0, 1.0)
    _number("repetition_penalty", repetition_penalty, 0.0)
    eos = _eos(eos_token_id)
    pad = eos[0] if pad_token_id is None and eos else _int("pad_token_id", pad_token_id or 0, 0)
    sequences = [[_int("stop_sequences id", t, 0) for t in s] for s in stop_sequences]
    strings = list(stop_strings)
    if any(not s for s in sequences) or (strings and tokenizer is None):
        raise ValueError("a stop sequence needs at least one id; stop_strings need tokenizer=.")
    lm = CausalLM(model, use_cache)
    _check_length(lm, ids.size(1), max_new_tokens)
    unfinished = torch.ones(ids.size(0), dtype=torch.bool)
    out, prompt_len = ids, ids.size(1)
    logits = lm.start(ids, mask)
    for step in range(max_new_tokens):
        scores = process_logits(logits, out, do_sample=do_sample, temperature=temperature,
                                top_k=top_k, top_p=top_p, repetition_penalty=repetition_penalty)
        nxt = torch.multinomial(F.softmax(scores, dim=-1), 1, generator=generator)[:, 0] \
            if do_sample else scores.argmax(dim=-1)
        nxt = torch.where(unfinished, nxt, torch.full_like(nxt, pad))
        out = torch.cat([out, nxt[:, None]], dim=1)
        unfinished &= ~_stop_here(out, prompt_len, eos, sequences, strings, tokenizer)
        if not unfinished.any() or step == max_new_tokens - 1:
            break
        logits = lm.step(nxt[:, None])
    return out


# --- Beam search -----------------------------------------------------------------------------

class BeamSearchOutput(NamedTuple):
    """The best hypothesis ``ids (1, T + n)``, its ``score`` (sum of log-probabilities of
    the new tokens / n ** length_penalty), and all ``finished`` ``(score, ids)``, best first."""

    ids: torch.Tensor
    score: float
    finished: list[tuple[float, torch.Tensor]]


@torch.no_grad()
def beam_search(model: Any, ids: torch.Tensor, max_new_tokens: int, *, num_beams: int,
                length_penalty: float = 1.0, early_stopping: bool | str = False,
                eos_token_id: int | Sequence[int] | None = None,
                use_cache: bool | None = None) -> BeamSearchOutput:
    """Beam search on one prompt ``ids (1, T)``, as ``transformers`` does it.

    Each step extends every beam by every token, scores candidates by summed log-probability
    and keeps the best ``max(2, 1 + #EOS) x num_beams``. Those among the first ``num_beams``
    that end (EOS, or the last step) are *finished*, scored ``sum log p / n ** length_penalty``
    (``n`` new tokens, EOS included; the best ``num_beams`` kept); the ``num_beams`` best
    unfinished go on. It stops when ``num_beams`` are finished and ``early_stopping=True``;
    with ``False``, when then the best running beam, scored at its current length, cannot beat
    the worst finished; ``"never"``: the same at the longest length if ``length_penalty > 0``.
    """
    if _ids(ids).size(0) != 1:
        raise ValueError(f"beam_search takes one prompt (1, T), got {ids.size(0)} rows.")
    _int("max_new_tokens", max_new_tokens, 1)
    _int("num_beams", num_beams, 1)
    length_penalty = _number("length_penalty", length_penalty, -math.inf)
    if early_stopping not in (True, False, "never"):
        raise ValueError(f"early_stopping must be True, False or 'never': {early_stopping!r}")
    eos = _eos(eos_token_id)
    lm = CausalLM(model, use_cache)
    _check_length(lm, ids.size(1), max_new_tokens)
    k = max(2, 1 + len(eos)) * num_beams
    seqs = ids.expand(num_beams, -1).contiguous()
    scores = torch.zeros(num_beams)
    scores[1:] = -1e9                      # all beams start equal: let only the first expand
    finished: list[tuple[torch.Tensor, torch.Tensor]] = []
    logits = lm.start(seqs, torch.ones_like(seqs))
    for step in range(max_new_tokens):
        total = (F.log_softmax(logits, dim=-1) + scores[:, None]).view(-1)
        top_scores, top_index = torch.topk(total, k)
        beam, token = top_index // logits.size(-1), top_index % logits.size(-1)
        candidates = torch.cat([seqs[beam], token[:, None]], dim=1)
        last = step == max_new_tokens - 1
        ends = torch.tensor([last or t in eos for t in token.tolist()])
        penalised = top_scores / ((step + 1) ** length_penalty)
        # only the best num_beams candidates may finish
        finished += [(penalised[j], candidates[j]) for j in range(num_beams) if ends[j]]
        finished = sorted(finished, key=lambda f: -float(f[0]))[:num_beams]
        keep = torch.topk(top_scores.masked_fill(ends, -math.inf), num_beams).indices
        seqs, scores = candidates[keep], top_scores[keep]
        if last:
            break
        if len(finished) == num_beams:
            if early_stopping is True:
                break
            length = max_new_tokens if early_stopping == "never" and length_penalty > 0 \
                else step + 1
            if not bool(scores[0] / (length ** length_penalty) > finished[-1][0]):
                break                        # no running beam can still win
        lm.select(beam[keep])
        logits = lm.step(token[keep][:, None])
    best_score, best = finished[0]
    return BeamSearchOutput(best[None], float(best_score),
                            [(float(s), seq[None]) for s, seq in finished])


# --- What a KV cache costs and saves; what batching buys -------------------------------------

def kv_cache_size(n_layer: int, n_kv_heads: int, head_dim: int, length: int, *,
                  batch: int = 1, bytes_per_element: int = 4) -> int:
    """Bytes of a KV cache: ``2 (K and V) x layers x batch x KV heads x head_dim x length
    x bytes per element``."""
    sizes = dict(n_layer=n_layer, n_kv_heads=n_kv_heads, head_dim=head_dim, batch=batch,
                 bytes_per_element=bytes_per_element, length=length)
    return 2 * math.prod(_int(k, v, 0 if k == "length" else 1) for k, v in sizes.items())


def kv_cache_bytes(cache: Any) -> int:
    """Bytes held by a cache's tensors: a :class:`~llmbook.gpt.KVCache`, a ``transformers``
    ``Cache`` (4.56's or 5.x's layout) or a legacy tuple of ``(key, value)`` pairs."""
    if isinstance(cache, KVCache):
        return cache.nbytes()
    if hasattr(cache, "layers"):              # transformers 5.x (and late 4.x)
        tensors = [getattr(layer, n, None) for layer in cache.layers for n in ("keys", "values")]
    elif hasattr(cache, "key_cache"):         # older 4.x
        tensors = [*cache.key_cache, *cache.value_cache]
    elif not isinstance(cache, (tuple, list)):
        raise TypeError(f"not a KV cache: {type(cache).__name__}.")
    else:                                     # the legacy ((key, value), ...) tuples
        tensors = [t for pair in cache for t in pair]
    return sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))


def _seconds(fn: Callable[[], Any], repeats: int = 1) -> float:
    """The fastest of ``repeats`` runs of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def time_kv_cache(model: Any, ids: torch.Tensor, new_tokens: Sequence[int] = (64, 256, 1024),
                  *, full_runs_up_to: int = 256, probes: int = 9, progress: bool = True
                  ) -> dict[str, Any]:
    """Seconds of greedy generation with and without the KV cache for each of ``new_tokens``:
    ``{"runs": [{new_tokens, cached_s, uncached_s, speedup, timed}], "steps": {length,
    cached_ms, uncached_ms}, "overhead_ms": ...}``. Runs up to ``full_runs_up_to`` tokens are
    timed whole. Longer ones (minutes without a cache on a CPU) sum, over every step, one
    forward pass at that context length (``steps``: ``probes`` timed lengths, interpolated)
    plus the loop's own cost per token, which the longest timed cached run measures."""
    from tqdm.auto import tqdm

    ids = _ids(ids)
    lengths = sorted(_int("new_tokens", n, 1) for n in new_tokens)
    T, longest = ids.size(1), lengths[-1]
    cached, uncached = CausalLM(model, use_cache=True), CausalLM(model, use_cache=False)
    _check_length(cached, T, longest + 4)
    generate(model, ids, 8)                                   # warm up
    bar = tqdm(total=probes + len(lengths), desc="KV cache timings", disable=not progress)
    steps: dict[str, list] = dict(length=[], cached_ms=[], uncached_ms=[])
    ones = torch.ones(1, T + longest, dtype=torch.long)
    context = torch.cat([ids, ids.new_zeros(1, longest + 4)], dim=1)
    for L in torch.linspace(T, T + longest - 1, probes).round().long().tolist():
        uncached_s = _seconds(lambda: uncached.start(context[:, :L], ones[:, :L]), 2)
        cached.start(context[:, :L], ones[:, :L])
        cached_s = min(_seconds(lambda: cached.step(context[:, L + i:L + i + 1]))
                       for i in range(5))              # five steps: the cache grows by five
        for key, value in (("length", L), ("cached_ms", 1000 * cached_s),
                           ("uncached_ms", 1000 * uncached_s)):
            steps[key].append(value)
        bar.update()
    knots, runs, overhead = np.array(steps["length"], dtype=float), [], 0.0
    for n in lengths:
        grid = np.arange(T, T + n, dtype=float)       # the context length of every step
        u = np.interp(grid, knots, steps["uncached_ms"]).sum() / 1000
        c = (steps["uncached_ms"][0] + np.interp(grid[:-1], knots, steps["cached_ms"]).sum()
             ) / 1000                                  # the prompt once, then one token a step
        timed = n <= full_runs_up_to
        if timed:
            c_timed, u = (_seconds(lambda: generate(model, ids, n, use_cache=flag))
                          for flag in (True, False))
            c, overhead = c_timed, max(0.0, (c_timed - c) / n)
        else:
            c, u = c + n * overhead, u + n * overhead
        runs.append(dict(new_tokens=n, cached_s=float(c), uncached_s=float(u), timed=timed,
                         speedup=float(u / c)))
        bar.update()
    bar.close()
    return dict(runs=runs, steps=steps, overhead_ms=1000 * overhead)


def batch_throughput(model: Any, prompts: Sequence[Sequence[int] | torch.Tensor],
                     batch_sizes: Sequence[int] = (1, 2, 4, 8, 16), max_new_tokens: int = 16,
                     *, pad_token_id: int = 0, progress: bool = True) -> list[dict]:
    """Greedy generation of ``max_new_tokens`` for ``b`` prompts (cycled, left-padded, cached):
    ``[{batch_size, seconds, tokens_per_second, ms_per_step}]``; ``seconds`` is also each
    request's latency, as all rows of a batch finish together."""
    from tqdm.auto import tqdm

    sizes = [_int("batch size", b, 1) for b in batch_sizes]
    _int("max_new_tokens", max_new_tokens, 1)
    if not prompts:
        raise ValueError("give at least one prompt.")
    generate(model, left_pad([prompts[0]], pad_token_id)[0], 4)       # warm up
    results = []
    for b in tqdm(sizes, desc="batch sizes", disable=not progress):
        ids, mask = left_pad([prompts[i % len(prompts)] for i in range(b)], pad_token_id)
        s = _seconds(lambda: generate(model, ids, max_new_tokens, attention_mask=mask,
                                      pad_token_id=pad_token_id))
        results.append(dict(batch_size=b, seconds=s, tokens_per_second=b * max_new_tokens / s,
                            ms_per_step=1000 * s / max_new_tokens))
    return results
