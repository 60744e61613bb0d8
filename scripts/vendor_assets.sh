#!/usr/bin/env bash
# Vendor the JavaScript that the built book loads, so that every page renders with no network,
# and the JavaScript that the browser test injects into every page (axe-core).
#
# The notebooks' outputs and the Sphinx extensions point at CDNs (cdnjs, jsdelivr, cdn.plot.ly);
# _ext/book_offline.py rewrites those references to the files this script puts under
# _static/vendor/ (gitignored; Sphinx copies _static into the HTML).
#
# Sources: npm tarballs fetched with `npm pack <name>@<exact version>` (tarball only: no
# dependency install and no lock file, which would record registry hostnames) into .cache/npm/
# (gitignored), checked against the SHA-256 pinned below; axe-core goes to tests/browser/vendor/
# (gitignored; the browser test injects it, the book never loads it); plotly.js is copied from the installed
# plotly Python package, so that it always matches the plotly that wrote the figures.
#
# Idempotent and fast when already done: a stamp file records what was vendored.
# Usage: scripts/vendor_assets.sh        (VENV=path: the venv whose plotly to copy)
set -euo pipefail

# --- Pinned versions: the one place they are set ----------------------------------------------
NAMES=(requirejs d3 jquery mathjax @jupyter-widgets/html-manager axe-core)
declare -A VERSION=(
  # require.js: loaded by myst-nb's widget embedding and by bertviz (which asks for 2.3.6;
  # 2.3.7 has the same API plus the fix for the config prototype-pollution bug).
  [requirejs]=2.3.7
  # d3: bertviz's require.config asks for exactly 5.7.0.
  [d3]=5.7.0
  # jQuery: bertviz asks for 2.0.0, which npm does not carry; 2.1.0 is the closest release.
  [jquery]=2.1.0
  # MathJax 3: Sphinx 7.4's default mathjax_path says mathjax@3; plotly's figures ask for 3.2.2.
  [mathjax]=3.2.2
  # Widget embedding for ipywidgets 8.1.x (ipywidgets asks for html-manager ^1.0.1).
  [@jupyter-widgets/html-manager]=1.0.15
  # axe-core: the accessibility checker of tests/browser (WCAG 2.0/2.1 A and AA rules).
  [axe-core]=4.14.1
)
# SHA-256 of each npm tarball: a changed tarball (or a bumped version) fails loudly.
declare -A SHA256=(
  [requirejs]=31f3330c978fb28684622fe71165dc946432cf0210b2ea8a1ca0233e70f2737d
  [d3]=21f53af012d1c00bc9476fa7c3be902fda809495b001e7f7a9481c744d4fe51e
  [jquery]=b991ccb0af0fded3fb9e8bb463e06bc500d88145058b4f0703cbbddf0100e8a7
  [mathjax]=1b9c0a1c44df864e915690558e72adb9cc5203360daefd385084ced3b6c64c09
  [@jupyter-widgets/html-manager]=2b9d65cb7913e1c7d671757a10008b32c9c2448d4429513371e55c07d6107638
  [axe-core]=e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745
)
# plotly.js is not pinned here: it is copied from the installed plotly package (see below).
# -----------------------------------------------------------------------------------------------

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$ROOT/.cache/npm"
DEST="$ROOT/_static/vendor"
STAMP="$DEST/VERSIONS.txt"
# Files only the browser test uses: kept out of _static, so the built book does not ship them.
TEST_DEST="$ROOT/tests/browser/vendor"
TEST_ONLY=(axe-core)

# The interpreter whose plotly wrote the figures: the book's venv (VENV, as in scripts/setup.sh).
VENV="${VENV:-.venv}"
[[ "$VENV" = /* ]] || VENV="$ROOT/$VENV"
PYTHON=python3
[[ -x "$VENV/bin/python" ]] && PYTHON="$VENV/bin/python"
# find_spec locates the package without importing it (fast).
PLOTLY_JS="$("$PYTHON" -c 'import importlib.util as u, pathlib
print(pathlib.Path(u.find_spec("plotly").submodule_search_locations[0],
                   "package_data", "plotly.min.js"))')"
[[ -f "$PLOTLY_JS" ]] || { echo "error: $PLOTLY_JS not found (is plotly installed?)" >&2; exit 1; }
# The header comment names the version: "* plotly.js v4.1.1".
PLOTLY_VERSION="$(head -c 200 "$PLOTLY_JS" | sed -n 's/.*plotly\.js v\([0-9][^ ]*\).*/\1/p')"

# The stamp lists every pin, so changing a pin (or the plotly package) triggers a refresh.
expected_stamp() {
  printf '%s\n' "# Written by scripts/vendor_assets.sh; do not edit."
  local name
  for name in "${NAMES[@]}"; do printf '%s@%s\n' "$name" "${VERSION[$name]}"; done
  printf 'plotly.js@%s\n' "$PLOTLY_VERSION"
}

if [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$(expected_stamp)" ]] \
   && cmp -s "$PLOTLY_JS" "$DEST/plotly/plotly.min.js" \
   && [[ -f "$TEST_DEST/VERSIONS.txt" ]] && cmp -s "$STAMP" "$TEST_DEST/VERSIONS.txt"; then
  echo "vendor_assets: up to date ($DEST)"
  exit 0
fi

mkdir -p "$CACHE"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# fetch NAME -> prints the path of its verified tarball in the cache
fetch() {
  local name="$1" version="${VERSION[$1]}" sha="${SHA256[$1]}" tgz
  # npm names scoped tarballs "scope-name-version.tgz" (@a/b -> a-b).
  tgz="$CACHE/$(echo "${name#@}" | tr / -)-$version.tgz"
  if [[ ! -f "$tgz" ]]; then
    (cd "$CACHE" && npm pack --silent "$name@$version" >/dev/null)
  fi
  local actual
  actual="$(sha256sum "$tgz" | cut -d' ' -f1)"
  if [[ "$actual" != "$sha" ]]; then
    echo "error: $tgz has sha256 $actual, pinned $sha" >&2
    exit 1
  fi
  echo "$tgz"
}

# unpack TGZ DIR PATH... : extract the named paths (relative to the tarball's package/) to DIR
unpack() {
  local tgz="$1" dir="$2"; shift 2
  mkdir -p "$dir"
  tar -xzf "$tgz" -C "$dir" --strip-components=1 "${@/#/package/}"
}

STAGE="$WORK/vendor"
for name in "${NAMES[@]}"; do
  tgz="$(fetch "$name")"
  case "$name" in
    requirejs) unpack "$tgz" "$STAGE/require" require.js ;;  # its license is in its header
    d3)        unpack "$tgz" "$STAGE/d3" dist/d3.min.js LICENSE
               mv "$STAGE/d3/dist/d3.min.js" "$STAGE/d3/" ;;
    jquery)    unpack "$tgz" "$STAGE/jquery" dist/jquery.min.js MIT-LICENSE.txt
               mv "$STAGE/jquery/dist/jquery.min.js" "$STAGE/jquery/" ;;
    mathjax)
      # The two combined components the pages use (tex-chtml: the book's math; tex-svg: plotly's
      # LaTeX labels) plus everything they load on demand: TeX extensions (autoload), fonts and
      # output data, the context menu and accessibility/speech modules it can switch on.
      unpack "$tgz" "$STAGE/mathjax" LICENSE es5/tex-chtml.js es5/tex-svg.js \
        es5/input es5/output es5/ui es5/a11y es5/sre
      mv "$STAGE/mathjax/es5/"* "$STAGE/mathjax/" ;;
    @jupyter-widgets/html-manager)
      # embed-amd.js bundles the base, controls and output widgets; it loads its Font Awesome
      # fonts from its own folder. Browsers today use woff2/woff/ttf (eot/svg are for IE).
      tar -xzf "$tgz" -C "$WORK" --wildcards 'package/dist/embed-amd.js' \
        'package/dist/*.woff2' 'package/dist/*.woff' 'package/dist/*.ttf' \
        'package/dist/embed.js.LICENSE.txt'
      mkdir -p "$STAGE/html-manager"
      mv "$WORK/package/dist/"* "$STAGE/html-manager/"
      rm -rf "$WORK/package" ;;
    axe-core)  unpack "$tgz" "$STAGE/axe-core" axe.min.js LICENSE ;;
    *) echo "error: no extraction rule for $name" >&2; exit 1 ;;
  esac
  rmdir "$STAGE"/*/dist "$STAGE"/*/es5 2>/dev/null || true
done
mkdir -p "$STAGE/plotly"
cp "$PLOTLY_JS" "$STAGE/plotly/plotly.min.js"
expected_stamp > "$STAGE/VERSIONS.txt"
TEST_STAGE="$WORK/test-vendor"
mkdir -p "$TEST_STAGE"
for name in "${TEST_ONLY[@]}"; do mv "$STAGE/$name" "$TEST_STAGE/"; done
cp "$STAGE/VERSIONS.txt" "$TEST_STAGE/VERSIONS.txt"

# Swap in the new folders only once everything is in place.
rm -rf "$DEST" "$TEST_DEST"
mkdir -p "$(dirname "$DEST")" "$(dirname "$TEST_DEST")"
mv "$STAGE" "$DEST"
mv "$TEST_STAGE" "$TEST_DEST"
echo "vendor_assets: wrote $DEST ($(du -sh "$DEST" | cut -f1)) and $TEST_DEST"
