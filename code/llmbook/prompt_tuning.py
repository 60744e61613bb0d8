r"""Prompt tuning from scratch (section 3.5; Lester et al., 2021).

A frozen model is given ``n`` extra input vectors, the **soft prompt**, learned by gradient
descent: they are prepended to the token embeddings of every input,

.. math:: E' = [\,P;\ E\,] \in \mathbb{R}^{(n+T)\times d}, \qquad P \in \mathbb{R}^{n\times d},

and the attention mask gets ``n`` ones in front, so every token can attend to the prompt.
Only ``P`` (``n d`` numbers) and, for classification, the new head are trained.

:class:`PromptTuningClassifier` does what ``peft``'s ``PromptTuningConfig`` with
``task_type="SEQ_CLS"`` does to a BERT-style classifier: the prompt goes *before* ``[CLS]``
(so the pooled first position is the first prompt vector), positions are counted over the
longer sequence, token-type ids of the prompt are 0, and the head (``classifier``) is
trained as peft's ``modules_to_save``. :func:`copy_prompt_to_peft` copies the prompt into a
peft model, to check that the two compute the same logits.
"""

from __future__ import annotations

from typing import Any, Iterable

import torch
import torch.nn as nn

from .lora import _check_model, _check_names, count_parameters, freeze_all_but

__all__ = ["PROMPT_INITS", "prepend_prompt", "PromptTuningClassifier", "copy_prompt_to_peft"]

#: How the prompt vectors start: ``"vocab"`` copies the embeddings of ``n`` token ids drawn
#: at random (peft's ``SAMPLE_VOCAB``; they start at the scale of real embeddings),
#: ``"random"`` draws them from N(0, 1), as ``nn.Embedding`` does (peft's default,
#: ``RANDOM``).
PROMPT_INITS = ("vocab", "random")


def prepend_prompt(embeds: torch.Tensor, attention_mask: torch.Tensor | None,
                   prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``([prompt; embeds], [1...1, attention_mask])``: the prompt ``(n, d)`` put before
    each sequence of ``embeds`` ``(B, T, d)``, and ``n`` ones before each mask ``(B, T)``
    (``None`` stays ``None``: every position is attended anyway)."""
    if not isinstance(embeds, torch.Tensor) or embeds.dim() != 3:
        raise ValueError(f"embeds must be a (batch, length, d) tensor, got "
                         f"{getattr(embeds, 'shape', type(embeds).__name__)}.")
    if not isinstance(prompt, torch.Tensor) or prompt.dim() != 2 or \
            prompt.shape[1] != embeds.shape[2]:
        raise ValueError(f"prompt must be an (n, {embeds.shape[2]}) tensor, got "
                         f"{getattr(prompt, 'shape', type(prompt).__name__)}.")
    batch, length, _ = embeds.shape
    out = torch.cat([prompt.to(embeds.dtype).unsqueeze(0).expand(batch, -1, -1), embeds], 1)
    if attention_mask is None:
        return out, None
    if not isinstance(attention_mask, torch.Tensor) or \
            tuple(attention_mask.shape) != (batch, length):
        raise ValueError(f"attention_mask must have shape {(batch, length)}, got "
                         f"{getattr(attention_mask, 'shape', type(attention_mask).__name__)}.")
    ones = attention_mask.new_ones(batch, prompt.shape[0])
    return out, torch.cat([ones, attention_mask], dim=1)


class PromptTuningClassifier(nn.Module):
    """A frozen Hugging Face sequence classifier with ``n_tokens`` trainable soft-prompt
    vectors in front of every input; ``modules_to_save`` (the head) stays trainable.

    It is called like the model it wraps -- ``input_ids``, ``attention_mask``,
    ``token_type_ids``, ``labels`` -- and returns the model's output (``.logits``,
    ``.loss`` when labels are given). The wrapped model's parameters are frozen in place.
    """

    def __init__(self, model: nn.Module, n_tokens: int = 20, *, init: str = "vocab",
                 modules_to_save: Iterable[str] = ("classifier",), seed: int = 0) -> None:
        super().__init__()
        _check_model(model)
        if isinstance(n_tokens, bool) or not isinstance(n_tokens, int):
            raise TypeError(f"n_tokens must be an int, got {n_tokens!r}.")
        if n_tokens < 1:
            raise ValueError(f"n_tokens (the prompt length) must be at least 1, got "
                             f"{n_tokens}.")
        if init not in PROMPT_INITS:
            raise ValueError(f"init must be one of {PROMPT_INITS}, got {init!r}.")
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {seed!r}.")
        if not hasattr(model, "get_input_embeddings") or \
                not isinstance(model.get_input_embeddings(), nn.Embedding):
            raise TypeError(f"{type(model).__name__} has no input embedding table "
                            f"(get_input_embeddings()): prompt tuning needs one.")
        limit = getattr(getattr(model, "config", None), "max_position_embeddings", None)
        if limit is not None and n_tokens >= limit:
            raise ValueError(f"n_tokens = {n_tokens} leaves no room for the text: the model "
                             f"reads at most {limit} positions.")
        self.model, self.n_tokens, self.init = model, n_tokens, init
        self.max_positions = limit
        save = _check_names("modules_to_save", modules_to_save, allow_empty=True)
        freeze_all_but(model, save)
        table = model.get_input_embeddings().weight
        generator = torch.Generator().manual_seed(seed)
        if init == "vocab":
            ids = torch.randint(0, table.shape[0], (n_tokens,), generator=generator)
            start = table.detach()[ids.to(table.device)].clone()
        else:
            start = torch.randn(n_tokens, table.shape[1], generator=generator)
        self.prompt = nn.Parameter(start.to(dtype=table.dtype, device=table.device))

    @property
    def config(self) -> Any:
        """The wrapped model's configuration."""
        return self.model.config

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None,
                labels: torch.Tensor | None = None, **kwargs: Any) -> Any:
        if not isinstance(input_ids, torch.Tensor) or input_ids.dim() != 2:
            raise ValueError(f"input_ids must be a (batch, length) tensor, got "
                             f"{getattr(input_ids, 'shape', type(input_ids).__name__)}.")
        if "position_ids" in kwargs or "inputs_embeds" in kwargs:
            raise TypeError("PromptTuningClassifier makes inputs_embeds and positions itself; "
                            "pass input_ids only.")
        length = input_ids.shape[1] + self.n_tokens
        if self.max_positions is not None and length > self.max_positions:
            raise ValueError(f"{input_ids.shape[1]} tokens + {self.n_tokens} prompt vectors "
                             f"= {length} positions, more than the model's "
                             f"{self.max_positions}: truncate the text (max_length).")
        embeds = self.model.get_input_embeddings()(input_ids)
        embeds, attention_mask = prepend_prompt(embeds, attention_mask, self.prompt)
        if token_type_ids is not None:       # the prompt's segment is 0, as in peft
            kwargs["token_type_ids"] = torch.cat(
                [token_type_ids.new_zeros(len(input_ids), self.n_tokens), token_type_ids], 1)
        return self.model(inputs_embeds=embeds, attention_mask=attention_mask, labels=labels,
                          **kwargs)

    def parameter_counts(self) -> tuple[int, int]:
        """``(trainable, total)`` parameters: the prompt plus the head, of the whole."""
        return count_parameters(self)

    def extra_repr(self) -> str:
        return f"n_tokens={self.n_tokens}, d={self.prompt.shape[1]}, init={self.init!r}"


@torch.no_grad()
def copy_prompt_to_peft(wrapper: PromptTuningClassifier, peft_model: nn.Module,
                        adapter: str = "default") -> int:
    """Copy the soft prompt (and the head's trained copy) of ``wrapper`` into a peft
    prompt-tuning model of the same base; returns the number of tensors copied."""
    if not isinstance(wrapper, PromptTuningClassifier):
        raise TypeError(f"wrapper must be a PromptTuningClassifier, got "
                        f"{type(wrapper).__name__}.")
    _check_model(peft_model)
    try:
        table = peft_model.prompt_encoder[adapter].embedding.weight
    except (AttributeError, KeyError):
        raise ValueError(f"peft_model has no prompt encoder {adapter!r}: build it with "
                         f"peft.PromptTuningConfig.") from None
    if table.shape != wrapper.prompt.shape:
        raise ValueError(f"peft's prompt has shape {tuple(table.shape)}, ours "
                         f"{tuple(wrapper.prompt.shape)}: use num_virtual_tokens = "
                         f"{wrapper.n_tokens}.")
    table.copy_(wrapper.prompt)
    copied = 1
    ours = dict(wrapper.model.named_parameters())
    marker = f".modules_to_save.{adapter}."
    for name, p in peft_model.get_base_model().named_parameters():
        if marker in name and name.replace(marker, ".") in ours:
            p.copy_(ours[name.replace(marker, ".")])
            copied += 1
    return copied
