#!/usr/bin/env bash
# Builds the HTML book into _build/html from the notebooks' stored outputs.
# Warnings are errors (-W --keep-going): a broken reference or a figure myst-nb cannot
# render fails the build. Usage: scripts/build.sh
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
VENV=${VENV:-.venv}
start=$(date +%s)
# A clean build every time: an incremental one keeps pages removed from the book and does not
# re-report the warnings of pages it skips.
rm -rf _build/html _build/.doctrees _build/.jupyter_cache
"$VENV/bin/jupyter-book" build . -W --keep-going \
  || { echo "BUILD FAILED: see the warnings above"; exit 1; }
echo "== built in $(( $(date +%s) - start )) s: open $(pwd)/_build/html/index.html"
