"""The Colab path, tested: runs notebooks the way a Colab reader does (driver of
scripts/colab_test.sh, which makes the environments; run with that environment's python).

    .cache/colab-<version>/venv/bin/python scripts/colab_path.py --env .cache/colab-<version> \\
        [--setup-cell stored|generated] chapters/…/x.ipynb …

For each notebook, as if it were opened in a fresh Colab runtime:

* the environment is put back to what it had before any set-up cell ran (packages a set-up
  cell installed are uninstalled, changed ones reinstalled), and the kernel gets a fresh,
  empty home folder (so SmolLM2 is converted again, as in Colab, and no Hugging Face cache);
* the kernel imports a stub ``google.colab`` at start-up (as Colab's kernel does), from a
  folder on that kernel's ``PYTHONPATH`` only;
* the hub is unreachable: ``HF_HUB_OFFLINE=1`` and every proxy variable points at a dead
  local port (PyPI stays reachable through ``NO_PROXY``, as the set-up cell needs it);
* the notebook's **stored** first cell (the Colab set-up cell) runs as written, with one
  rewrite: its ``git+<repository>@<branch>#subdirectory=code`` becomes a copy of the working
  tree's ``code/`` folder; then every cell runs, top to bottom (nbclient; outputs are not
  compared: this test is about running without error).

Also: every distinct stored set-up cell of the book is executed at least once; People's
Daily and the Chinese reviews, which no notebook loads, are loaded by a small script in the
environment the last set-up cell made; and a fingerprint of each converted SmolLM2 (tensor hash,
chat-template token ids, greedy answer) is recorded so that scripts/colab_test.sh can check
that every environment converts the same model. Prints each notebook's time; writes
``<env>/report.json``; exits 1 if any cell failed.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import time

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError, DeadKernelError

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))

SETUP_TAG = "colab-setup"
GIT_URL = re.compile(r"git\+[^\s\"']+#subdirectory=code")
DEAD_PROXY = "http://127.0.0.1:9"   # the discard port: nothing listens, a request fails at once
PYPI_HOSTS = "pypi.org,.pypi.org,files.pythonhosted.org,.pythonhosted.org,localhost,127.0.0.1"
# Variables of the calling shell that must not leak into the "Colab" kernel.
DROP_PREFIXES = ("LLMBOOK_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_", "JUPYTER", "IPYTHON",
                 "PYTHON", "VIRTUAL_ENV", "PLOTLY_", "CONDA")
DROP_NAMES = {"http_proxy", "https_proxy", "all_proxy", "no_proxy", "ftp_proxy",
              "TOKENIZERS_PARALLELISM", "MPLBACKEND"}

STUB = '''"""A stub of google.colab for scripts/colab_test.sh: Colab's kernel imports google.colab
at start-up, so ``"google.colab" in sys.modules`` is true in a Colab notebook."""
'''
STARTUP = "import google.colab  # noqa: F401  (as Colab's kernel does)\n"

EXTRA_CHECK = '''\
import faiss, rouge_score, sacrebleu, seqeval  # noqa: F401  (the set-up cell's chapter-6 line)
from llmbook import resources

ner = resources.peoples_daily_ner(max_sentences=200)
words = resources.peoples_daily(max_sentences=200)
reviews = resources.chinese_reviews()
assert len(ner) == 200 and len(words) == 200, (len(ner), len(words))
assert all(len(chars) == len(tags) for chars, tags in ner), "characters and BIO tags differ"
tags = {tag for _, sentence_tags in ner for tag in sentence_tags}
assert {"B-PER", "B-LOC", "B-ORG"} <= tags, tags
assert min(reviews.sizes().values()) > 500, reviews.sizes()
print("People's Daily, Chinese reviews: ok", sorted(tags), reviews.sizes())
'''

FINGERPRINT = r'''
import hashlib, json, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer
folder = Path(sys.argv[1])
tensors = load_file(str(folder / "model.safetensors"))
digest = hashlib.sha256()
for name in sorted(tensors):
    digest.update(name.encode())
    digest.update(tensors[name].contiguous().view(torch.uint8).numpy().tobytes())
tok = AutoTokenizer.from_pretrained(folder)
ids = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                              add_generation_prompt=True, return_tensors="pt")
ids = ids["input_ids"] if not isinstance(ids, torch.Tensor) else ids
model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
with torch.no_grad():
    out = model.generate(ids, max_new_tokens=12, do_sample=False)
print(json.dumps({"tensors_sha256": digest.hexdigest()[:16], "prompt_ids": ids[0].tolist(),
                  "greedy": tok.decode(out[0, ids.shape[1]:], skip_special_tokens=True)}))
'''


def dists() -> dict[str, str]:
    """Installed distributions of this environment: normalized name -> version."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            found[re.sub(r"[-_.]+", "-", name).lower()] = dist.version
    return found


def pip(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True)


def reset_environment(env_dir: pathlib.Path) -> list[str]:
    """Back to the packages of ``base-versions.json`` (what the environment had when made)."""
    base = json.loads((env_dir / "base-versions.json").read_text())
    now = dists()
    added = sorted(set(now) - set(base))
    changed = sorted(n for n in base if n in now and now[n] != base[n])
    missing = sorted(set(base) - set(now))
    if added:
        pip("uninstall", "-y", *added)
    if changed or missing:
        pip("install", "--no-deps", *(f"{n}=={base[n]}" for n in changed + missing))
    return added + changed + missing


def fresh_home(env_dir: pathlib.Path) -> pathlib.Path:
    home = env_dir / "home"
    if home.exists():
        shutil.rmtree(home)
    startup = home / ".ipython" / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-google-colab.py").write_text(STARTUP)
    return home


def kernel_env(env_dir: pathlib.Path, home: pathlib.Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(DROP_PREFIXES) and k not in DROP_NAMES and
           not k.upper().endswith("_PROXY")}
    real_home = pathlib.Path(os.environ.get("HOME", "~")).expanduser()
    pip_conf = [p for p in (real_home / ".config/pip/pip.conf", real_home / ".pip/pip.conf")
                if p.is_file()]
    env.update({
        "HOME": str(home),
        "PYTHONPATH": str(env_dir / "colab-stub"),
        "PATH": f"{pathlib.Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}",
        # pip keeps the machine's cache and index settings (they live under the real home)
        "PIP_CACHE_DIR": os.environ.get("PIP_CACHE_DIR", str(real_home / ".cache" / "pip")),
        "HF_HUB_OFFLINE": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",   # ipykernel's debugger note, on every start
        "NO_PROXY": PYPI_HOSTS, "no_proxy": PYPI_HOSTS,
    })
    if pip_conf:
        env["PIP_CONFIG_FILE"] = str(pip_conf[0])
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        env[var] = DEAD_PROXY
    return env


def colab_setup_cell(nb, mode: str) -> str:
    first = nb.cells[0] if nb.cells else None
    if first is None or first.cell_type != "code" or \
            SETUP_TAG not in first.get("metadata", {}).get("tags", []):
        raise ValueError(f"the first cell is not tagged {SETUP_TAG!r}")
    if mode == "generated":
        from execute import setup_cell_source
        return setup_cell_source()
    return first.source


def redirect(source: str, code_copy: pathlib.Path) -> str:
    """The only rewrite: git+<repository>@<branch>#subdirectory=code -> a local copy."""
    new, count = GIT_URL.subn(lambda _: str(code_copy), source)
    if count != 1:
        raise ValueError(f"the set-up cell names git+…#subdirectory=code {count} times, not once")
    return new


def cell_errors(nb) -> list[str]:
    errors = []
    for index, cell in enumerate(nb.cells):
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                errors.append(f"cell {index}: {output.get('ename')}: "
                              f"{str(output.get('evalue', '')).splitlines()[0][:300] if output.get('evalue') else ''}")
    return errors


def cell_seconds(cell) -> float | None:
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    from datetime import datetime
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def run_notebook(nb, name: str, env_dir: pathlib.Path, cwd: pathlib.Path) -> dict:
    reset = reset_environment(env_dir)
    home = fresh_home(env_dir)
    env = kernel_env(env_dir, home)
    client = NotebookClient(nb, timeout=900, kernel_name="python3", allow_errors=True,
                            resources={"metadata": {"path": str(cwd)}}, record_timing=True)
    start = time.perf_counter()
    fatal = None
    try:
        client.execute(env=env)
    except (CellTimeoutError, DeadKernelError, RuntimeError) as exc:
        fatal = f"{type(exc).__name__}: {str(exc)[-500:]}"
    seconds = time.perf_counter() - start
    out = env_dir / "executed" / f"{name}.ipynb"
    out.parent.mkdir(exist_ok=True)
    nbformat.write(nb, out)
    errors = cell_errors(nb) + ([fatal] if fatal else [])
    result = {"notebook": name, "seconds": round(seconds, 1),
              "setup_cell_seconds": cell_seconds(nb.cells[0]), "errors": errors,
              "reset": len(reset)}
    cache = home / ".cache" / "llmbook" / "smollm2-135m-instruct"
    if (cache / "model.safetensors").is_file():
        probe = subprocess.run([sys.executable, "-c", FINGERPRINT, str(cache)], env=env,
                               capture_output=True, text=True)
        if probe.returncode == 0:
            result["smollm2"] = json.loads(probe.stdout.strip().splitlines()[-1])
            result["smollm2"]["cache_files"] = sorted(p.name for p in cache.iterdir())
        else:
            result["errors"].append(f"SmolLM2 fingerprint failed: {probe.stderr[-500:]}")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", type=pathlib.Path, required=True,
                        help="the environment's folder (.cache/colab-<version>)")
    parser.add_argument("--snapshot", action="store_true",
                        help="record the environment's packages as its base, then stop")
    parser.add_argument("--setup-cell", choices=("stored", "generated"), default="stored",
                        help="run each notebook's stored set-up cell (default), or the one "
                             "scripts/execute.py would write now (before re-executing the book)")
    parser.add_argument("notebooks", nargs="*", type=pathlib.Path)
    args = parser.parse_args(argv)
    env_dir = args.env.resolve()
    if args.snapshot:
        (env_dir / "base-versions.json").write_text(json.dumps(dists(), indent=1, sort_keys=True))
        return 0

    from notebooks import toc_notebooks

    # The package as the set-up cell would fetch it: a clean copy of the working tree's code/.
    code_copy = env_dir / "src" / "code"
    if code_copy.parent.exists():
        shutil.rmtree(code_copy.parent)
    shutil.copytree(ROOT / "code", code_copy, ignore=shutil.ignore_patterns(
        "build", "*.egg-info", "__pycache__", ".pytest_cache"))
    stub = env_dir / "colab-stub" / "google" / "colab"
    stub.mkdir(parents=True, exist_ok=True)
    (stub / "__init__.py").write_text(STUB)
    if (env_dir / "executed").exists():
        shutil.rmtree(env_dir / "executed")

    base = json.loads((env_dir / "base-versions.json").read_text())
    print(f"== Colab path, transformers {base.get('transformers')}, torch {base.get('torch')}, "
          f"set-up cell: {args.setup_cell}", flush=True)
    results, executed_cells = [], set()
    for path in [p.resolve() for p in args.notebooks]:
        nb = nbformat.read(path, as_version=4)
        setup = colab_setup_cell(nb, args.setup_cell)
        nb.cells[0].source = redirect(setup, code_copy)
        executed_cells.add(setup)
        name = path.stem
        print(f"-- {path.relative_to(ROOT)} ...", flush=True)
        result = run_notebook(nb, name, env_dir, path.parent)
        results.append(result)
        status = "ok" if not result["errors"] else "FAILED"
        print(f"   {result['seconds']:6.1f} s (set-up cell {result['setup_cell_seconds'] or 0:.1f} s)"
              f"  {status}", flush=True)
        for error in result["errors"]:
            print(f"   {error}", flush=True)

    # Every other distinct stored set-up cell of the book, and the resources no notebook loads.
    extra: list[tuple[str, list[str]]] = []
    cells = []
    for path in toc_notebooks():
        nb = nbformat.read(path, as_version=4)
        cells.append(colab_setup_cell(nb, args.setup_cell))
    for i, setup in enumerate(dict.fromkeys(cells)):
        if setup not in executed_cells:
            extra.append((f"setup-cell-{i}", [setup]))
    for name, sources in extra:
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
        nb.cells[0].source = redirect(nb.cells[0].source, code_copy)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        print(f"-- {name} ...", flush=True)
        result = run_notebook(nb, name, env_dir, ROOT)
        results.append(result)
        print(f"   {result['seconds']:6.1f} s  {'ok' if not result['errors'] else 'FAILED'}",
              flush=True)
        for error in result["errors"]:
            print(f"   {error}", flush=True)
    # People's Daily and the Chinese reviews, in the environment the last set-up cell made.
    if results:
        env = kernel_env(env_dir, env_dir / "home")
        start = time.perf_counter()
        probe = subprocess.run([sys.executable, "-c", EXTRA_CHECK], env=env, cwd=ROOT,
                               capture_output=True, text=True)
        errors = [] if probe.returncode == 0 else [probe.stderr.strip()[-800:]]
        results.append({"notebook": "peoples-daily (script)", "errors": errors,
                        "seconds": round(time.perf_counter() - start, 1)})
        print(f"-- People's Daily, Chinese reviews (a script): {results[-1]['seconds']:.1f} s  "
              f"{probe.stdout.strip() if not errors else 'FAILED'}", flush=True)
        for error in errors:
            print(f"   {error}", flush=True)
    distinct = len(dict.fromkeys(cells))
    print(f"   the {len(cells)} notebooks have {distinct} distinct stored set-up cell(s); "
          f"all were executed")

    after = dists()
    report = {"transformers": base.get("transformers"), "torch": base.get("torch"),
              "setup_cell": args.setup_cell, "base": base,
              "after_setup_cell": {n: v for n, v in sorted(after.items()) if base.get(n) != v},
              "results": results}
    (env_dir / "report.json").write_text(json.dumps(report, indent=1))
    failed = [r["notebook"] for r in results if r["errors"]]
    print(f"   packages the set-up cell added or changed: "
          f"{', '.join(f'{n}=={v}' for n, v in report['after_setup_cell'].items())}")
    if failed:
        print("FAILED:", ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
