#!/usr/bin/env bash
# Re-executes notebooks (all of _toc.yml, or those named) and stores their outputs.
# Usage: scripts/execute.sh [NOTEBOOK ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec "${VENV:-.venv}/bin/python" scripts/execute.py "$@"
