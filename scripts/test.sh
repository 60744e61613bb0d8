#!/usr/bin/env bash
# Runs every test of the book, after the same set-up as scripts/build.sh:
#   1. unit tests of the package and the book's consistency checks (tests/),
#   2. nbval: every notebook in _toc.yml re-executed and compared with its stored outputs,
#   3. the HTML build with warnings as errors,
#   4. the real-browser test of every built page (Debian's Chromium, no network).
# Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)
bash scripts/setup.sh
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export PLOTLY_RENDERER=notebook_connected PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

step() { echo; echo "=== $1 ($(( $(date +%s) - t0 )) s so far)"; }

step "1/4 unit and consistency tests"
"$PY" -m pytest tests --ignore=tests/browser -q -p no:cacheprovider

step "2/4 nbval: re-run every notebook of _toc.yml and compare outputs"
mapfile -t notebooks < <("$PY" scripts/notebooks.py)
"$PY" -m pytest --nbval --nbval-sanitize-with scripts/nbval_sanitize.cfg \
  --nbval-cell-timeout=300 --nbval-kernel-name=python3 -p no:cacheprovider -q \
  "${notebooks[@]}"

step "3/4 jupyter-book build -W --keep-going"
bash scripts/build.sh

step "4/4 browser test of every page (headless Chromium)"
if [ ! -x /usr/bin/chromium ]; then
  echo "Chromium is missing: install it with 'apt-get update && apt-get install -y chromium'"
  exit 1
fi
"$PY" -m pytest tests/browser -q -p no:cacheprovider

echo; echo "=== all tests passed in $(( $(date +%s) - t0 )) s"
