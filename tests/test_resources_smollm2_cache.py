"""llmbook.resources.smollm2_cache: the converted SmolLM2 is written atomically and rebuilt
when what wrote it (transformers, torch, the GGUF file) changes."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest

from llmbook.resources import smollm2_cache


def test_cache_write_is_atomic(tmp_path):
    folder = tmp_path / "cache"

    def fails(tmp: Path) -> None:
        (tmp / "half-written").write_text("x")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        smollm2_cache._write_cache_atomically(folder, fails)
    assert list(tmp_path.iterdir()) == []                 # nothing half-written is left
    smollm2_cache._write_cache_atomically(folder, lambda tmp: (tmp / "ok").write_text("1"))
    assert (folder / "ok").read_text() == "1"
    assert not smollm2_cache._cache_is_valid(folder, {"format": 1})   # no marker: not valid


def _fake_cache(folder: Path, marker: dict) -> Path:
    """A cache folder with the files a valid cache has (tiny stand-ins) and ``marker``."""
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (folder / name).write_text("{}")
    (folder / smollm2_cache._MARKER).write_text(json.dumps(marker))
    return folder


def _fake_convert(calls: list):
    def convert(tmp: Path, marker: dict) -> None:
        calls.append(marker)
        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            (tmp / name).write_text("new")
        (tmp / smollm2_cache._MARKER).write_text(json.dumps(marker))
    return convert


def test_marker_records_what_wrote_the_cache():
    marker = smollm2_cache._smollm2_marker()
    assert marker["transformers"] == importlib.metadata.version("transformers")
    assert marker["torch"] == importlib.metadata.version("torch")
    assert marker["gguf_fingerprint"].startswith("sha256:") and marker["gguf_bytes"] > 0
    assert marker["format"] == smollm2_cache._CACHE_FORMAT


def test_another_transformers_version_is_stale(tmp_path):
    expected = {"transformers": "4.57.1", "torch": "2.8.0", "format": 2}
    folder = _fake_cache(tmp_path / "cache", dict(expected, transformers="5.23.0"))
    assert smollm2_cache._stale_reason(folder, expected) == \
        "cache written by transformers 5.23.0, this is 4.57.1"
    assert not smollm2_cache._cache_is_valid(folder, expected)
    assert smollm2_cache._stale_reason(folder, dict(expected, transformers="5.23.0")) is None
    older = _fake_cache(tmp_path / "older", {"transformers": "4.57.1", "format": 2})
    assert smollm2_cache._stale_reason(older, expected) == \
        "the cache does not record the torch version that wrote it"
    (folder / "tokenizer.json").unlink()
    assert "tokenizer.json" in smollm2_cache._stale_reason(folder, dict(expected,
                                                                       transformers="5.23.0"))
    assert smollm2_cache._stale_reason(tmp_path / "none", expected) == "no cache yet"


def test_stale_cache_is_rebuilt_with_a_reason(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(smollm2_cache, "_convert_smollm2", _fake_convert(calls))
    current = smollm2_cache._smollm2_marker()
    folder = _fake_cache(tmp_path / "cache", dict(current, transformers="0.0.1"))
    (folder / "left-over").write_text("old")
    assert smollm2_cache.ensure_smollm2_cache(folder) == folder
    out = capsys.readouterr().out
    assert (f"SmolLM2 cache: cache written by transformers 0.0.1, this is "
            f"{current['transformers']}: rebuilding") in out
    assert len(calls) == 1 and not (folder / "left-over").exists()   # replaced as a whole
    assert smollm2_cache._cache_is_valid(folder, current)
    smollm2_cache.ensure_smollm2_cache(folder)                        # now up to date
    assert len(calls) == 1 and "up to date" in capsys.readouterr().out


def test_failed_rebuild_keeps_the_old_cache(tmp_path, monkeypatch):
    from llmbook import resources

    def fails(tmp: Path, marker: dict) -> None:
        (tmp / "config.json").write_text("half")
        raise RuntimeError("conversion failed")

    monkeypatch.setattr(smollm2_cache, "_convert_smollm2", fails)
    current = smollm2_cache._smollm2_marker()
    folder = _fake_cache(tmp_path / "cache", dict(current, torch="1.0"))
    with pytest.raises(RuntimeError, match="conversion failed"):
        resources.load_smollm2(cache_dir=folder, verbose=False)     # load_smollm2 checks too
    assert (folder / "config.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cache"]


def test_gguf_fingerprint_sees_the_ends_of_the_file(tmp_path):
    path = tmp_path / "model.gguf"
    size = 2 * smollm2_cache._FINGERPRINT_BYTES + 10
    path.write_bytes(bytes(size))
    first = smollm2_cache.gguf_fingerprint(path)
    assert first == smollm2_cache.gguf_fingerprint(path)
    with open(path, "r+b") as f:
        f.seek(size - 1)
        f.write(b"\x01")
    assert smollm2_cache.gguf_fingerprint(path) != first
    small = tmp_path / "small.gguf"
    small.write_bytes(b"abc")
    assert smollm2_cache.gguf_fingerprint(small).startswith("sha256:")


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LLMBOOK_CACHE", str(tmp_path))
    assert smollm2_cache.smollm2_cache_dir() == tmp_path / "smollm2-135m-instruct"


def test_cached_tokenizer_has_smollm2s_special_tokens():
    """The same special tokens whatever transformers read from the GGUF file (4.x read
    ``<|im_start|>`` as EOS, no pad token, and prepended a BOS)."""
    from transformers import AutoTokenizer

    folder = smollm2_cache.ensure_smollm2_cache()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.eos_token == "<|im_end|>" == tokenizer.pad_token
    assert tokenizer.bos_token == "<|im_start|>"
    assert tokenizer("hi")["input_ids"] == [6004]        # no BOS in front


class _FakeTokenizer:
    add_bos_token = True

    def add_special_tokens(self, tokens):
        self.special = tokens

    def __call__(self, text):
        return {"input_ids": [1, 6004]}

    def convert_tokens_to_ids(self, token):
        return 1


def test_a_tokenizer_that_keeps_prepending_bos_is_refused():
    with pytest.raises(RuntimeError, match="prepends a BOS"):
        smollm2_cache._set_special_tokens(_FakeTokenizer())
