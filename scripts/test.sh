#!/usr/bin/env bash
# Runs every test of the book, after the same set-up as scripts/build.sh:
#   1. unit tests of the package and the book's consistency checks (tests/),
#   2. nbval: every notebook in _toc.yml re-executed and compared with its stored outputs,
#   3. the HTML build with warnings as errors,
#   4. the real-browser test of every built page (Debian's Chromium, no network).
# nbval runs twice: with this CPU's own kernels, and again with PyTorch's and MKL's portable
# kernels (ATEN_CPU_CAPABILITY=default, MKL_ENABLE_INSTRUCTIONS=SSE4_2), which compute the
# last bits differently — a stored output that only the author's CPU reproduces fails here.
# Usage: scripts/test.sh            (NBVAL_SETTINGS="native" to run only the first pass,
#                                    NBVAL_PARALLEL=0 to run the passes one after the other)
set -euo pipefail
cd "$(dirname "$0")/.."
t0=$(date +%s)

# Prerequisites first, so a missing one fails now rather than after ten minutes.
if [ ! -x /usr/bin/chromium ]; then
  echo "scripts/test.sh: Debian's Chromium is needed for the browser test; install it with" >&2
  echo "  apt-get update && apt-get install -y chromium" >&2
  exit 1
fi
bash scripts/setup.sh
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
export PLOTLY_RENDERER=notebook_connected PYTHONHASHSEED=0 TOKENIZERS_PARALLELISM=false
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1

step() { echo; echo "=== $1 ($(( $(date +%s) - t0 )) s so far)"; }

step "1/4 unit and consistency tests"
"$PY" -m pytest tests --ignore=tests/browser -q -p no:cacheprovider

mapfile -t notebooks < <("$PY" scripts/notebooks.py)
nbval() {
  "$PY" -m pytest --nbval --nbval-sanitize-with scripts/nbval_sanitize.cfg \
    --nbval-cell-timeout=600 --nbval-kernel-name=python3 -p no:cacheprovider -q \
    "${notebooks[@]}"
}
# The two passes run at the same time (NBVAL_PARALLEL=0: one after the other): most notebooks
# compute on one thread, so one pass alone leaves the second core idle much of the time.
run_pass() {   # in a subshell: the exports stay there
  case $1 in
    native) ;;
    portable) export ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ;;
  esac
  nbval
}
settings=(${NBVAL_SETTINGS:-native portable})
for setting in "${settings[@]}"; do
  case $setting in native|portable) ;; *)
    echo "unknown NBVAL_SETTINGS entry: $setting (native, portable)" >&2; exit 2 ;; esac
done
step "2/4 nbval, ${settings[*]} kernels (native: $("$PY" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())'); portable: ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2): re-run every notebook of _toc.yml and compare outputs"
logs=$(mktemp -d)
pids=()
for setting in "${settings[@]}"; do
  ( start=$(date +%s)
    if run_pass "$setting" >"$logs/$setting.log" 2>&1; then rc=0; else rc=$?; fi
    echo "$rc $(( $(date +%s) - start ))" >"$logs/$setting.rc" ) &
  pids+=($!)
  if [ "${NBVAL_PARALLEL:-1}" = 0 ]; then wait "${pids[-1]}"; fi
done
wait "${pids[@]}"
failed=0
for setting in "${settings[@]}"; do
  read -r rc seconds <"$logs/$setting.rc"
  echo; echo "--- nbval with $setting kernels: exit $rc after $seconds s"
  cat "$logs/$setting.log"
  [ "$rc" = 0 ] || failed=1
done
rm -rf "$logs"
[ "$failed" = 0 ] || { echo "scripts/test.sh: nbval failed (see above)" >&2; exit 1; }

step "3/4 jupyter-book build -W --keep-going"
bash scripts/build.sh

step "4/4 browser test of every page (headless Chromium)"
"$PY" -m pytest tests/browser -q -p no:cacheprovider

echo; echo "=== all tests passed in $(( $(date +%s) - t0 )) s"
