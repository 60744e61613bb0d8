"""Prints the notebooks that _toc.yml lists, one path a line, in book order.

Used by scripts/test.sh (nbval) and scripts/execute.py; the consistency test checks
that this list and the files under chapters/ agree.
"""

from __future__ import annotations

import pathlib
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent


def toc_files(toc_path: pathlib.Path = ROOT / "_toc.yml") -> list[str]:
    """Every ``file`` / ``root`` entry of the table of contents, in order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    files = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                files.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc.get("parts", toc.get("chapters", [])))
    return files


def toc_notebooks() -> list[pathlib.Path]:
    """The ``.ipynb`` files the table of contents lists."""
    return [ROOT / f"{entry}.ipynb" for entry in toc_files()
            if (ROOT / f"{entry}.ipynb").exists()]


if __name__ == "__main__":
    for path in toc_notebooks():
        print(path.relative_to(ROOT))
    sys.exit(0)
