"""The book's structure: table of contents, notebooks, set-up cells, budgets, exercises."""

from __future__ import annotations

import json
import pathlib
import re
import sys

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from execute import SETUP_TAG, setup_cell_source  # noqa: E402
from notebooks import toc_files, toc_notebooks  # noqa: E402

CHAPTER_NOTEBOOKS = sorted((ROOT / "chapters").rglob("*.ipynb"))
CHAPTER_NOTEBOOKS = [p for p in CHAPTER_NOTEBOOKS if ".ipynb_checkpoints" not in p.parts]
SECTIONS = [p for p in CHAPTER_NOTEBOOKS if not p.parent.name.startswith("00_")]


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


#: The few heavy notebooks the guide allows 3 minutes (a visible smaller setting of a longer
#: run whose record the package ships).
HEAVY = {"5_5_sentiment_finetuning": 180}


def test_every_toc_entry_exists():
    for entry in toc_files():
        matches = [p for p in (ROOT / entry).parent.glob(pathlib.Path(entry).name + ".*")
                   if p.suffix in (".ipynb", ".md")]
        assert matches, f"_toc.yml lists {entry}, but no {entry}.ipynb or .md exists"


def test_every_notebook_is_in_the_toc():
    listed = {p.resolve() for p in toc_notebooks()}
    missing = [str(p.relative_to(ROOT)) for p in CHAPTER_NOTEBOOKS if p.resolve() not in listed]
    assert not missing, f"notebooks not listed in _toc.yml: {missing}"


def test_repository_url_is_a_github_url():
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", config["repository"]["url"])
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"


@pytest.mark.parametrize("path", CHAPTER_NOTEBOOKS, ids=_ids(CHAPTER_NOTEBOOKS))
class TestNotebook:
    def load(self, path):
        return json.loads(path.read_text(encoding="utf-8"))

    def test_starts_with_the_colab_setup_cell(self, path):
        first = self.load(path)["cells"][0]
        assert first["cell_type"] == "code" and SETUP_TAG in first["metadata"].get("tags", []), \
            "the first cell must be the Colab set-up cell: run scripts/execute.sh on it"
        assert "".join(first["source"]) == setup_cell_source(), (
            "the Colab set-up cell is out of date with _config.yml / "
            "requirements-offline.txt: run scripts/execute.sh on this notebook")

    def test_outputs_are_stored_and_clean(self, path):
        nb = self.load(path)
        code = [c for c in nb["cells"] if c["cell_type"] == "code" and "".join(c["source"]).strip()]
        unrun = [i for i, c in enumerate(code) if c.get("execution_count") is None]
        assert not unrun, f"code cells {unrun} have no stored execution: run scripts/execute.sh"
        counts = [c["execution_count"] for c in code]
        assert counts == list(range(1, len(code) + 1)), "cells were not run top to bottom once"
        for c in code:
            for out in c.get("outputs", []):
                assert out["output_type"] != "error", f"stored error in cell {c['source'][:2]}"
                if out["output_type"] == "stream" and out["name"] == "stderr":
                    text = "".join(out["text"])
                    assert "Warning" not in text, f"a warning is stored: {text[:300]}"

    def test_budgets(self, path):
        size = path.stat().st_size
        assert size <= 2_000_000, f"{size / 1e6:.2f} MB with outputs; the budget is 2 MB"
        seconds = self.load(path)["metadata"].get("llmbook", {}).get("execution_seconds")
        assert seconds is not None, "no recorded run time: run scripts/execute.sh"
        budget = HEAVY.get(path.stem, 90)
        assert seconds <= budget, f"executes in {seconds} s; the budget is {budget} s on 2 cores"


@pytest.mark.parametrize("path", SECTIONS, ids=_ids(SECTIONS))
def test_sections_end_with_graded_exercises(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    markdown = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    assert markdown.count("{exercise}") >= 3, "a section needs at least three exercises"
    assert markdown.count("{solution-start}") == markdown.count("{solution-end}")
    assert re.search(r"\bcheck_\w+\(", code), "at least one exercise must be graded by a checker"
