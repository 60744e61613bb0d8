"""Text generation with a pretrained causal LM through Hugging Face ``transformers``, done right.

The book's own decoding loops (greedy, beam, top-k, top-p written out) are in
:mod:`llmbook.decoding`; this module wraps ``transformers``' ``model.generate`` and keeps the
details that are easy to get wrong in one place:

* :func:`chat_prompt` -- the exact string an instruction-tuned model sees (its chat template);
* :func:`encode_prompt` -- a string or a chat, tokenised, with its attention mask;
* :func:`new_tokens`, :func:`decode_new_tokens` -- ``generate`` returns the prompt *and* the
  continuation: keep only the ids after the prompt;
* :func:`generate_text` -- one prompt in, only the new text out (greedy, or sampled with a seed);
* :func:`generate_batch` -- several prompts at once, left-padded, with attention masks;
* :func:`stream_text` -- the new text piece by piece as it is generated
  (``TextIteratorStreamer`` fed by ``generate`` in a thread);
* :func:`pair_mismatches` -- signs that a tokenizer and a model come from different checkpoints;
* :func:`collect_warnings` -- what ``transformers`` warns about, as a list instead of stderr.

Every function checks its arguments and says what is wrong and how to fix it: a model without a
language-modelling head (``AutoModel``, ``GPT2Model``) is refused with the class to load instead,
``max_length`` is refused in favour of ``max_new_tokens``, and sampling options without
``do_sample=True`` are refused rather than silently ignored. Works with ``transformers`` 4.56
to 5.x.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import warnings
from typing import Any, Iterator, Sequence

import torch

__all__ = ["chat_prompt", "encode_prompt", "new_tokens", "decode_new_tokens", "generate_text",
           "generate_batch", "stream_text", "pair_mismatches", "collect_warnings"]

_ROLES = ("system", "user", "assistant", "tool")
_CAUSAL_LM = ("AutoModelForCausalLM.from_pretrained(...) (or llmbook.resources."
              "load_causal_lm())")


# --- argument checks -------------------------------------------------------------------------

def _check_model(model: object) -> None:
    """A decoder-only model with a language-modelling head, or a clear error."""
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a transformers model (a torch.nn.Module), got "
                        f"{type(model).__name__}; did you pass the tokenizer first? The order "
                        f"is (model, tokenizer, prompt).")
    name = type(model).__name__
    can_generate = getattr(model, "can_generate", None)
    if not callable(getattr(model, "generate", None)) or not callable(can_generate) \
            or not can_generate():
        raise TypeError(
            f"{name} has no language-modelling head, so it cannot generate text: it returns "
            f"hidden states (batch, tokens, d_model), not logits over the vocabulary. Load the "
            f"model with {_CAUSAL_LM}.")
    if getattr(getattr(model, "config", None), "is_encoder_decoder", False):
        raise TypeError(f"{name} is an encoder-decoder model; these functions serve decoder-only "
                        f"causal LMs, whose output repeats the prompt. Call model.generate(...) "
                        f"and decode its whole output instead.")


def _check_tokenizer(tokenizer: object) -> None:
    if not (callable(tokenizer) and callable(getattr(tokenizer, "decode", None))
            and hasattr(tokenizer, "convert_ids_to_tokens")):
        raise TypeError(f"tokenizer must be a transformers tokenizer (AutoTokenizer."
                        f"from_pretrained(...)), got {type(tokenizer).__name__}.")


def _check_messages(messages: object) -> list[dict[str, str]]:
    if not isinstance(messages, (list, tuple)) or not messages:
        raise TypeError(f"messages must be a non-empty list of {{'role': ..., 'content': ...}} "
                        f"dicts, got {type(messages).__name__}.")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or set(message) - {"role", "content"} \
                or not {"role", "content"} <= set(message):
            raise ValueError(f"messages[{i}] must be a dict with exactly the keys 'role' and "
                             f"'content', got {message!r}.")
        if message["role"] not in _ROLES:
            raise ValueError(f"messages[{i}]['role'] must be one of {', '.join(_ROLES)}, got "
                             f"{message['role']!r}.")
        if not isinstance(message["content"], str):
            raise TypeError(f"messages[{i}]['content'] must be a str, got "
                            f"{type(message['content']).__name__}.")
    return list(messages)


def _check_positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


def _sampling_kwargs(do_sample: object, temperature: object, top_p: object, top_k: object,
                     seed: object) -> dict[str, Any]:
    """The keyword arguments of ``generate`` that choose greedy decoding or sampling."""
    if not isinstance(do_sample, bool):
        raise TypeError(f"do_sample must be True or False, got {do_sample!r}.")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise TypeError(f"seed must be an int or None, got {seed!r}.")
    options = {"temperature": temperature, "top_p": top_p, "top_k": top_k}
    given = [name for name, value in options.items() if value is not None]
    if not do_sample:
        if given or seed is not None:
            extra = given + (["seed"] if seed is not None else [])
            verb = "applies" if len(extra) == 1 else "apply"
            raise ValueError(f"{', '.join(extra)} only {verb} when sampling: pass "
                             f"do_sample=True, or drop {'it' if len(extra) == 1 else 'them'} "
                             f"for greedy decoding.")
        return {"do_sample": False}
    kwargs: dict[str, Any] = {"do_sample": True}
    if temperature is not None:
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) \
                or not temperature > 0:
            raise ValueError(f"temperature must be a number > 0 (1.0 leaves the distribution "
                             f"as it is; use do_sample=False for greedy), got {temperature!r}.")
        kwargs["temperature"] = float(temperature)
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)) \
                or not 0 < top_p <= 1:
            raise ValueError(f"top_p must be in (0, 1], got {top_p!r}.")
        kwargs["top_p"] = float(top_p)
    if top_k is not None:
        kwargs["top_k"] = _check_positive_int("top_k", top_k)
    else:
        kwargs["top_k"] = 0      # no top-k cut unless asked (transformers' default is 50)
    return kwargs


def _check_generate_kwargs(generate_kwargs: dict[str, Any]) -> None:
    if "max_length" in generate_kwargs:
        raise ValueError("max_length counts the prompt's tokens too, so a long prompt leaves "
                         "little or nothing to generate; pass max_new_tokens (the number of "
                         "tokens to add) instead.")
    for key in ("input_ids", "attention_mask", "streamer", "do_sample", "max_new_tokens"):
        if key in generate_kwargs:
            raise ValueError(f"{key} is set by this function; do not pass it in "
                             f"generate_kwargs.")


def _pad_token_id(tokenizer: Any) -> int | None:
    """The id generate pads finished rows with: the pad token, else end-of-sequence."""
    pad = getattr(tokenizer, "pad_token_id", None)
    return pad if pad is not None else getattr(tokenizer, "eos_token_id", None)


def _check_vocabulary(model: Any, ids: torch.Tensor) -> None:
    rows = model.get_input_embeddings().num_embeddings
    if ids.numel() and int(ids.max()) >= rows:
        raise ValueError(
            f"token id {int(ids.max())} is out of range for {type(model).__name__}, whose "
            f"embedding has {rows:,} rows: the tokenizer and the model come from different "
            f"checkpoints. Load both from the same name or folder.")


# --- prompts ---------------------------------------------------------------------------------

def chat_prompt(tokenizer: Any, messages: Sequence[dict[str, str]], *,
                add_generation_prompt: bool = True) -> str:
    """The exact string the model sees for ``messages``: its chat template, applied.

    ``add_generation_prompt=True`` ends the string with the header of the assistant's turn, so
    the model's continuation is the answer (without it the model may continue the user's turn).
    """
    _check_tokenizer(tokenizer)
    messages = _check_messages(messages)
    if not isinstance(add_generation_prompt, bool):
        raise TypeError(f"add_generation_prompt must be True or False, got "
                        f"{add_generation_prompt!r}.")
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"{type(tokenizer).__name__} has no chat template (a base model's "
                         f"tokenizer?): pass a plain string prompt instead of messages.")
    return tokenizer.apply_chat_template(messages, tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def encode_prompt(tokenizer: Any, prompt_or_messages: str | Sequence[dict[str, str]]
                  ) -> dict[str, torch.Tensor]:
    """``{'input_ids': (1, T), 'attention_mask': (1, T)}`` for a string or a chat.

    A chat goes through the chat template with ``return_dict=True`` (under ``transformers``
    4.x ``apply_chat_template(..., return_tensors="pt")`` alone returns a bare tensor, under
    5.x a dict); a string is tokenised as it is.
    """
    _check_tokenizer(tokenizer)
    if isinstance(prompt_or_messages, str):
        if not prompt_or_messages:
            raise ValueError("the prompt is empty: give the model some text to continue.")
        encoded = tokenizer(prompt_or_messages, return_tensors="pt")
    else:
        chat_prompt(tokenizer, prompt_or_messages)            # checks the messages
        encoded = tokenizer.apply_chat_template(list(prompt_or_messages),
                                                add_generation_prompt=True,
                                                return_tensors="pt", return_dict=True)
    ids = encoded["input_ids"]
    if ids.shape[-1] == 0:
        raise ValueError("the prompt encodes to no tokens: give the model some text.")
    mask = encoded.get("attention_mask")
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids) if mask is None else mask}


# --- only the new tokens ---------------------------------------------------------------------

def new_tokens(output_ids: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """``output_ids[:, T:]`` with ``T = input_ids.shape[1]``: the continuation alone.

    A decoder-only model's ``generate`` returns each prompt followed by its continuation; with
    left padding every row's prompt ends at column ``T``, so one slice serves the whole batch.
    """
    for name, t in (("output_ids", output_ids), ("input_ids", input_ids)):
        if not isinstance(t, torch.Tensor) or t.dim() != 2:
            raise ValueError(f"{name} must be a 2-D tensor (batch, tokens), got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}.")
    if output_ids.shape[0] != input_ids.shape[0] or output_ids.shape[1] < input_ids.shape[1]:
        raise ValueError(f"output_ids {tuple(output_ids.shape)} cannot continue input_ids "
                         f"{tuple(input_ids.shape)}: same batch size and at least as many "
                         f"tokens expected.")
    width = input_ids.shape[1]
    if not torch.equal(output_ids[:, :width], input_ids.to(output_ids.device)):
        raise ValueError("output_ids does not start with input_ids: pass the ids that went "
                         "into generate (an encoder-decoder's output holds no prompt to cut).")
    return output_ids[:, width:]


def decode_new_tokens(tokenizer: Any, output_ids: torch.Tensor, input_ids: torch.Tensor, *,
                      skip_special_tokens: bool = True) -> list[str]:
    """The text of each row's continuation (special tokens such as end-of-turn dropped)."""
    _check_tokenizer(tokenizer)
    return tokenizer.batch_decode(new_tokens(output_ids, input_ids),
                                  skip_special_tokens=skip_special_tokens)


# --- generation ------------------------------------------------------------------------------

@contextlib.contextmanager
def _seeded(seed: int | None, device: torch.device) -> Iterator[None]:
    """Seed torch's generator for one call and put its state back afterwards."""
    if seed is None:
        yield
        return
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


def _prepare(model: Any, tokenizer: Any, max_new_tokens: object, do_sample: object,
             temperature: object, top_p: object, top_k: object, seed: object,
             generate_kwargs: dict[str, Any]) -> dict[str, Any]:
    _check_model(model)
    _check_tokenizer(tokenizer)
    _check_positive_int("max_new_tokens", max_new_tokens)
    _check_generate_kwargs(generate_kwargs)
    kwargs = {"max_new_tokens": max_new_tokens,
              **_sampling_kwargs(do_sample, temperature, top_p, top_k, seed), **generate_kwargs}
    kwargs.setdefault("pad_token_id", _pad_token_id(tokenizer))
    return kwargs


def _device(model: Any) -> torch.device:
    return next(model.parameters()).device


def generate_text(model: Any, tokenizer: Any, prompt_or_messages: str | Sequence[dict[str, str]],
                  max_new_tokens: int = 32, *, do_sample: bool = False,
                  temperature: float | None = None, top_p: float | None = None,
                  top_k: int | None = None, seed: int | None = None,
                  skip_special_tokens: bool = True, **generate_kwargs: Any) -> str:
    """Generate up to ``max_new_tokens`` tokens after one prompt; return only the new text.

    ``prompt_or_messages`` is a string (continued as it is) or a chat, a list of
    ``{'role', 'content'}`` dicts (put through the chat template). Greedy by default
    (reproducible on one machine); ``do_sample=True`` samples, shaped by ``temperature``,
    ``top_p`` (nucleus) and ``top_k`` (no top-k cut unless given), and ``seed`` makes a sample
    repeatable without touching the global random state. Other keyword arguments go to
    ``model.generate`` (``max_length`` is refused: it counts the prompt).
    """
    kwargs = _prepare(model, tokenizer, max_new_tokens, do_sample, temperature, top_p, top_k,
                      seed, generate_kwargs)
    inputs = encode_prompt(tokenizer, prompt_or_messages)
    _check_vocabulary(model, inputs["input_ids"])
    device = _device(model)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    with _seeded(seed, device), torch.no_grad():
        output = model.generate(**inputs, **kwargs)
    return decode_new_tokens(tokenizer, output, inputs["input_ids"],
                             skip_special_tokens=skip_special_tokens)[0]


@contextlib.contextmanager
def _left_padding(tokenizer: Any) -> Iterator[None]:
    """Pad on the left (with end-of-sequence when there is no pad token) for one call."""
    side, pad = tokenizer.padding_side, tokenizer.pad_token
    tokenizer.padding_side = "left"
    if pad is None:
        if tokenizer.eos_token is None:
            raise ValueError(f"{type(tokenizer).__name__} has neither a pad nor an "
                             f"end-of-sequence token to pad a batch with: set "
                             f"tokenizer.pad_token first.")
        tokenizer.pad_token = tokenizer.eos_token
    try:
        yield
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = None


def generate_batch(model: Any, tokenizer: Any,
                   prompts: Sequence[str] | Sequence[Sequence[dict[str, str]]],
                   max_new_tokens: int = 32, *, do_sample: bool = False,
                   temperature: float | None = None, top_p: float | None = None,
                   top_k: int | None = None, seed: int | None = None,
                   skip_special_tokens: bool = True, **generate_kwargs: Any) -> list[str]:
    """:func:`generate_text` for several prompts (strings, or chats) in one batch.

    The prompts are padded **on the left** with an attention mask, so each one ends at the
    last column, where a decoder continues; the tokenizer's own ``padding_side`` and pad token
    are put back afterwards. Returns one new text per prompt.
    """
    kwargs = _prepare(model, tokenizer, max_new_tokens, do_sample, temperature, top_p, top_k,
                      seed, generate_kwargs)
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)) or not prompts:
        raise TypeError("prompts must be a non-empty list of strings (or of chats); for one "
                        "prompt use generate_text.")
    if all(isinstance(p, str) for p in prompts):
        if not all(prompts):
            raise ValueError("one of the prompts is empty: give each some text to continue.")
        texts, special = list(prompts), True
    else:   # chats: templated strings, which already hold their special tokens
        texts, special = [chat_prompt(tokenizer, p) for p in prompts], False
    with _left_padding(tokenizer):
        inputs = tokenizer(texts, return_tensors="pt", padding=True,
                           add_special_tokens=special)
        kwargs["pad_token_id"] = generate_kwargs.get("pad_token_id", tokenizer.pad_token_id)
    _check_vocabulary(model, inputs["input_ids"])
    device = _device(model)
    inputs = {k: v.to(device) for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
    with _seeded(seed, device), torch.no_grad():
        output = model.generate(**inputs, **kwargs)
    return decode_new_tokens(tokenizer, output, inputs["input_ids"],
                             skip_special_tokens=skip_special_tokens)


def stream_text(model: Any, tokenizer: Any, prompt_or_messages: str | Sequence[dict[str, str]],
                max_new_tokens: int = 32, *, do_sample: bool = False,
                temperature: float | None = None, top_p: float | None = None,
                top_k: int | None = None, seed: int | None = None,
                timeout: float | None = None, **generate_kwargs: Any) -> Iterator[str]:
    """Yield the new text piece by piece while :func:`generate_text` would be computing it.

    ``model.generate`` runs in a thread and feeds a ``TextIteratorStreamer``, which hands over
    each piece of text as soon as it decodes to whole words; joined, the pieces are the text
    :func:`generate_text` returns. An error in the thread is raised here; ``timeout`` (seconds
    to wait for the next piece, ``None``: no limit) guards against a stalled model.
    """
    from transformers import TextIteratorStreamer

    kwargs = _prepare(model, tokenizer, max_new_tokens, do_sample, temperature, top_p, top_k,
                      seed, generate_kwargs)
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))
                                or timeout <= 0):
        raise ValueError(f"timeout must be a number of seconds > 0 or None, got {timeout!r}.")
    inputs = encode_prompt(tokenizer, prompt_or_messages)
    _check_vocabulary(model, inputs["input_ids"])
    device = _device(model)
    inputs = {k: v.to(device) for k, v in inputs.items()}
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                    timeout=timeout)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with _seeded(seed, device), torch.no_grad():
                model.generate(**inputs, **kwargs, streamer=streamer)
        except BaseException as error:  # noqa: BLE001 - re-raised in the reading thread
            errors.append(error)
            streamer.end()                 # unblock the reader

    thread = threading.Thread(target=work, name="llmbook-generate", daemon=True)
    thread.start()
    try:
        for piece in streamer:
            if piece:
                yield piece
    finally:
        thread.join()
    if errors:
        raise errors[0]


# --- diagnostics -----------------------------------------------------------------------------

def pair_mismatches(model: Any, tokenizer: Any) -> list[str]:
    """What suggests that ``tokenizer`` was not made for ``model`` (empty: nothing found).

    Checks that every token id fits the model's embedding table, and that the ids the model's
    configuration gives to its special tokens (beginning, end, padding) are special tokens of
    this tokenizer. A tokenizer from another checkpoint usually fails one of the two; one that
    passes may still be wrong, so load both from the same name or folder.
    """
    if not isinstance(model, torch.nn.Module) or not hasattr(model, "get_input_embeddings"):
        raise TypeError(f"model must be a transformers model, got {type(model).__name__}.")
    _check_tokenizer(tokenizer)
    problems = []
    rows = model.get_input_embeddings().num_embeddings
    size = len(tokenizer)
    if size > rows:
        problems.append(f"the tokenizer has {size:,} tokens but the model's embedding only "
                        f"{rows:,} rows: ids from {rows:,} on crash the model (IndexError)")
    special = set(getattr(tokenizer, "all_special_ids", []))
    special |= {i for i, t in getattr(tokenizer, "added_tokens_decoder", {}).items()
                if getattr(t, "special", False)}
    roles: dict[int, list[str]] = {}          # id -> the special roles the model gives it
    for role in ("bos", "eos", "pad"):
        token_id = getattr(model.config, f"{role}_token_id", None)
        for i in token_id if isinstance(token_id, list) else [token_id]:
            if isinstance(i, int) and not isinstance(i, bool):
                roles.setdefault(i, []).append(f"{role}_token_id")
    for i, names in roles.items():
        if i not in special:
            token = tokenizer.convert_ids_to_tokens(i) if 0 <= i < size else None
            problems.append(f"the model's {' = '.join(names)} {i} is "
                            + (repr(token) if token is not None else "no token")
                            + " in this tokenizer, not one of its special tokens")
    return problems


@contextlib.contextmanager
def collect_warnings() -> Iterator[list[str]]:
    """Collect what ``transformers`` warns about inside the block, keeping it off stderr.

    Yields a list that fills with the messages of the ``transformers`` loggers (level WARNING
    and above) and of Python's ``warnings``, so a cell can show a warning as a result (and a
    stored notebook holds no stray stderr). Warnings that ``transformers`` issues only once per
    process (``warning_once``) appear only the first time.
    """
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("transformers")
    saved = logger.handlers[:], logger.level, logger.propagate
    logger.handlers = [_Collect(logging.WARNING)]
    logger.propagate = False
    if logger.level == logging.NOTSET or logger.level > logging.WARNING:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                yield messages
            finally:
                messages.extend(str(w.message) for w in caught)
    finally:
        logger.handlers, level, logger.propagate = saved[0], saved[1], saved[2]
        logger.setLevel(level)
