"""Measures how much the numbers the prose relies on move between machines and seeds.

Every number the book's prose states about a training run goes through
``llmbook.reproducibility.claim(name, value, between=(low, high))``. This script executes
notebooks (without saving them) under several settings that make PyTorch compute
differently on one machine — other CPU kernels (``ATEN_CPU_CAPABILITY``), another MKL code
path (``MKL_ENABLE_INSTRUCTIONS``), shifted seeds (``LLMBOOK_SEED_SHIFT``, read by
``llmbook.env.seed_everything``) — logs every claim, and prints, per claim, the values seen,
their spread and the band in force, flagging bands that a setting broke and bands far
wider than the spread.

    .venv/bin/python scripts/measure_spread.py                     # every notebook with claims
    .venv/bin/python scripts/measure_spread.py chapters/01_background/1_1_counting_to_attention.ipynb
    .venv/bin/python scripts/measure_spread.py --settings native,sse --jobs 2

The raw log goes to ``.cache/spread/claims.jsonl``; ``--report`` re-prints the table from
it without running anything. The measurement behind today's bands is kept in
``scripts/measured_spread.md``.
"""

from __future__ import annotations

import argparse
import collections
import concurrent.futures
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
from notebooks import toc_notebooks  # noqa: E402

# name -> environment; "native" is how the stored outputs are made (scripts/execute.py).
SETTINGS = {
    "native": {},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2"},
    "sse": {"ATEN_CPU_CAPABILITY": "default", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "aten": {"ATEN_CPU_CAPABILITY": "default"},
    "mkl": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "seed1": {"LLMBOOK_SEED_SHIFT": "1"},
    "seed2": {"LLMBOOK_SEED_SHIFT": "2"},
}
LOG = ROOT / ".cache" / "spread" / "claims.jsonl"

_RUNNER = r"""
import os, sys, nbformat
from nbclient import NotebookClient
path = sys.argv[1]
nb = nbformat.read(path, as_version=4)
NotebookClient(nb, timeout=900, kernel_name="python3",
               resources={"metadata": {"path": os.path.dirname(path)}}).execute()
"""


def has_claims(path: pathlib.Path) -> bool:
    return "claim(" in path.read_text(encoding="utf-8")


def run_one(path: pathlib.Path, setting: str) -> tuple[str, str, float, str]:
    env = {**os.environ, "PLOTLY_RENDERER": "notebook_connected", "PYTHONHASHSEED": "0",
           "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1",
           "TRANSFORMERS_OFFLINE": "1", "LLMBOOK_CLAIMS_LOG": str(LOG),
           "LLMBOOK_MEASURE_SPREAD": "1", "LLMBOOK_NOTEBOOK": path.name,
           "LLMBOOK_SETTING": setting, **SETTINGS[setting]}
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUNNER, str(path)], env=env,
                          capture_output=True, text=True)
    status = "ok" if proc.returncode == 0 else "FAILED: " + proc.stderr.strip()[-800:]
    return path.name, setting, time.perf_counter() - start, status


def report(log: pathlib.Path = LOG) -> int:
    by_claim: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    for line in log.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        by_claim[(record["notebook"], record["name"])].append(record)
    broken = 0
    print(f"{'notebook':34s} {'claim':26s} {'n':>2s} {'min':>9s} {'max':>9s} "
          f"{'spread':>8s} {'band':>21s}  note")
    for (notebook, name), records in sorted(by_claim.items()):
        values = [r["value"] for r in records]
        low, high = records[-1]["low"], records[-1]["high"]
        lo, hi = min(values), max(values)
        spread = hi - lo
        outside = [f"{r.get('setting')}={r['value']:.4g}" for r in records
                   if not low <= r["value"] <= high]
        note = ""
        if outside:
            note = "OUTSIDE: " + ", ".join(outside)
            broken += 1
        elif (high - low) > 20 * max(spread, 0.005 * max(abs(lo), abs(hi))):
            # wider than 20 spreads (or, for a value that hardly moves, 10 % of the value):
            # a band that cannot fail checks nothing
            note = "band too wide for the spread"
        print(f"{notebook[:34]:34s} {name[:26]:26s} {len(values):2d} {lo:9.4g} {hi:9.4g} "
              f"{spread:8.2g} [{low:9.4g},{high:9.4g}]  {note}")
    return 1 if broken else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    parser.add_argument("--settings", default=",".join(SETTINGS),
                        help=f"comma-separated, from {', '.join(SETTINGS)}")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks run at once")
    parser.add_argument("--report", action="store_true", help="only print the table")
    parser.add_argument("--keep", action="store_true", help="append to the existing log")
    args = parser.parse_args(argv)
    if args.report:
        return report()
    settings = args.settings.split(",")
    unknown = set(settings) - set(SETTINGS)
    if unknown:
        parser.error(f"unknown settings {sorted(unknown)}; choose from {list(SETTINGS)}")
    paths = [p.resolve() for p in args.notebooks] or [p for p in toc_notebooks()
                                                      if has_claims(p)]
    LOG.parent.mkdir(parents=True, exist_ok=True)
    if not args.keep and LOG.exists():
        LOG.unlink()
    # the log records the setting through the environment: add it to each record
    jobs = [(p, s) for s in settings for p in paths]
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for name, setting, seconds, status in pool.map(lambda a: run_one(*a), jobs):
            print(f"{name:40s} {setting:7s} {seconds:6.1f} s  {status}", flush=True)
            failed += status != "ok"
    code = report()
    return 1 if failed else code


if __name__ == "__main__":
    sys.exit(main())
