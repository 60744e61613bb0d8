#!/usr/bin/env bash
# The Colab-path test: runs chapters the way a Colab reader does, under the lowest and the
# newest transformers the book supports (scripts/colab_path.py says what "the way" means).
#
# Two environments, each a fresh virtual environment in .cache/colab-<transformers>/ (reused
# while its inputs are unchanged; a stamp records them), holding only what a Colab runtime
# brings that the book uses:
#   lowest: torch==2.13.0, then every `name>=X` of code/pyproject.toml at exactly X
#           (transformers, gguf, accelerate, safetensors, numpy, plotly, ipywidgets, tqdm),
#           Colab's kernel (ipython 7.34.0, ipykernel 6.17.1) and nbclient/nbformat to run it;
#   newest: torch==2.13.0, then transformers numpy plotly ipywidgets tqdm ipykernel nbclient
#           nbformat at the exact pins of requirements.txt (transformers 5.23.0); gguf and
#           accelerate come from the set-up cell (the package declares them).
# Then, per notebook, a fresh "runtime": the stored set-up cell runs as written (its
# git+<repository> URL redirected to a copy of code/), then every cell, with no hub.
# Finally the SmolLM2 converted in every environment must be the same model.
#
# Usage: scripts/colab_test.sh [lowest|newest ...]      (default: both)
#   COLAB_SETUP_CELL=generated  runs the set-up cell scripts/execute.py would write now instead
#                               of the stored one (before the notebooks are re-executed)
#   COLAB_NOTEBOOKS="a.ipynb b.ipynb"  other notebooks
#   COLAB_CACHE=folder          where the environments live (default .cache)
#   COLAB_RECORD=file.json      also write the measured times (set-up cell and whole notebook,
#                               per environment) there; section 5.1 reads
#                               code/llmbook/checkpoints/colab_times.json, written this way
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
start_all=$(date +%s)
kinds=("$@"); [ ${#kinds[@]} -gt 0 ] || kinds=(lowest newest)
# One notebook per resource family: SmolLM2 + MiniLM (1.2), MiniLM + movie reviews (2.5),
# Shakespeare + the hub-guarded gpt2 cell (5.3), and a chapter-6 comparison with the reference
# libraries the set-up cell installs (6.4: rouge-score, sacrebleu). People's Daily / Chinese
# reviews: no notebook loads them; colab_path.py checks them, and imports seqeval and faiss,
# with a script.
NOTEBOOKS=${COLAB_NOTEBOOKS:-"chapters/01_background/1_2_pretrained.ipynb chapters/02_core_concepts/2_5_pretraining_finetuning.ipynb chapters/05_practice/5_3_gpt.ipynb chapters/06_applications/6_4_generation_metrics.ipynb"}
COLAB_KERNEL="ipython==7.34.0 ipykernel==6.17.1"   # what Colab's own kernel runs on
export PIP_CACHE_DIR=${PIP_CACHE_DIR:-$("$PYTHON" -m pip cache dir 2>/dev/null || echo "$HOME/.cache/pip")}
pin() { grep -E "^$1==" requirements.txt; }
torch_pin=$(pin torch)

packages_for() {  # the packages of one environment (after torch), one string
  case "$1" in
    lowest)
      "$PYTHON" - <<'EOF'
import re, tomllib
deps = tomllib.load(open("code/pyproject.toml", "rb"))["project"]["dependencies"]
pins = []
for dep in deps:
    m = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)\s*", dep.split(";")[0])
    if m and m[1] != "torch":
        version = m[2] + ".0" * max(0, 2 - m[2].count("."))  # 4.56 -> 4.56.0
        pins.append(f"{m[1]}=={version}")
print(" ".join(pins))
EOF
      ;;
    newest)
      echo "$(for p in transformers numpy plotly ipywidgets tqdm; do pin $p; done | tr '\n' ' ')";;
    *) echo "unknown environment $1 (lowest or newest)" >&2; return 2;;
  esac
}

status=0
dirs=()
for kind in "${kinds[@]}"; do
  pkgs=$(packages_for "$kind")
  if [ "$kind" = lowest ]; then
    kernel="$COLAB_KERNEL $(pin nbclient) $(pin nbformat)"
  else
    kernel="$(pin ipykernel) $(pin nbclient) $(pin nbformat)"
  fi
  version=$(echo "$pkgs" | tr ' ' '\n' | sed -n 's/^transformers==//p')
  dir=${COLAB_CACHE:-.cache}/colab-$version
  dirs+=("$dir")
  want=$(echo "$("$PYTHON" --version) $torch_pin $pkgs $kernel" | sha256sum | cut -c1-16)
  t0=$(date +%s)
  if [ "$(cat "$dir/.colab-installed" 2>/dev/null)" != "$want" ]; then
    echo "== [$kind] creating $dir: $torch_pin $pkgs $kernel"
    rm -rf "$dir"
    mkdir -p "$dir"
    "$PYTHON" -m venv "$dir/venv"
    pip() {  # quiet, without this machine's warnings about absent local index folders
      "$dir/venv/bin/python" -m pip install --disable-pip-version-check -q "$@" 2>&1 |
        { grep -v "^WARNING: Location 'file:" || true; }
    }
    pip "$torch_pin"
    # shellcheck disable=SC2086
    pip $pkgs $kernel "$torch_pin"
    "$dir/venv/bin/python" scripts/colab_path.py --env "$dir" --snapshot
    echo "$want" > "$dir/.colab-installed"
    echo "   installed in $(( $(date +%s) - t0 )) s"
  else
    echo "== [$kind] reusing $dir"
  fi
  # shellcheck disable=SC2086
  "$dir/venv/bin/python" scripts/colab_path.py --env "$dir" \
      --setup-cell "${COLAB_SETUP_CELL:-stored}" $NOTEBOOKS || status=1
  echo "== [$kind] transformers $version: $(( $(date +%s) - t0 )) s in all"
done

# The same model everywhere: every converted SmolLM2 (and the book's own, if there is one).
"$PYTHON" - "${COLAB_NOTEBOOKS:+custom}" "${dirs[@]}" <<'EOF' || status=1
import json, pathlib, sys
seen = {}
custom, dirs = sys.argv[1] == "custom", sys.argv[2:]
for d in dirs:
    report = json.loads((pathlib.Path(d) / "report.json").read_text())
    for r in report["results"]:
        if "smollm2" in r:
            s = r["smollm2"]
            seen[f"transformers {report['transformers']} ({r['notebook']})"] = (
                s["tensors_sha256"], tuple(s["prompt_ids"]), s["greedy"])
for where, (sha, ids, greedy) in seen.items():
    print(f"   SmolLM2 under {where}: tensors {sha}, {len(ids)} prompt ids, greedy {greedy!r}")
if len(set(seen.values())) > 1:
    print("FAILED: the environments converted different SmolLM2 models"); sys.exit(1)
if not seen:
    print("   no notebook loaded SmolLM2" if custom else "FAILED: no environment converted SmolLM2")
    sys.exit(0 if custom else 1)
print("   the same SmolLM2 in every environment")
EOF
if [ -n "${COLAB_RECORD:-}" ]; then
  "$PYTHON" - "$COLAB_RECORD" "${dirs[@]}" <<'EOF' || status=1
import datetime, json, pathlib, sys
out, dirs = sys.argv[1], sys.argv[2:]
record = {"written_by": "COLAB_RECORD=... scripts/colab_test.sh",
          "date": datetime.date.today().isoformat(), "environments": {}}
for d in dirs:
    report = json.loads((pathlib.Path(d) / "report.json").read_text())
    record["environments"][report["transformers"]] = [
        {"notebook": r["notebook"], "seconds": r["seconds"],
         "setup_cell_seconds": r.get("setup_cell_seconds")} for r in report["results"]]
pathlib.Path(out).write_text(json.dumps(record, indent=2) + "\n")
print(f"   wrote {out}")
EOF
fi
echo "== Colab-path test: $(( $(date +%s) - start_all )) s in all, $([ $status = 0 ] && echo passed || echo FAILED)"
# One closing line that counts the notebooks and scripts run in every environment.
"$PYTHON" - "${dirs[@]}" <<'EOF' || true
import json, pathlib, sys
results = [r for d in sys.argv[1:] if (pathlib.Path(d) / "report.json").exists()
           for r in json.loads((pathlib.Path(d) / "report.json").read_text())["results"]]
failed = sum(bool(r["errors"]) for r in results)
print(f"colab: {len(results) - failed} passed, {failed} failed")
EOF
exit $status
