"""Every page of the built book, opened in a real browser with no network.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) headless. The book
is served from ``_build/html`` on a loopback port; every request for anything else is blocked
and fails the page. Each page is loaded once (``visit``) and then checked by several tests:

* it renders: no console errors and no uncaught exceptions; every plotly figure has drawn its
  SVG; every bertviz view has drawn its SVG; every embedded widget has rendered; math has
  been typeset;
* it is accessible: axe-core (``tests/browser/vendor/``, put there by
  ``scripts/vendor_assets.sh``; injected into the page, no network) finds no serious or
  critical violation of the WCAG 2.0/2.1 A and AA rules;
* its figures are whole: every plotly figure has data, and the page shows no more figures
  than the notebook's cells made (see ``FIGURES_TAG``).

Static tests fail if any page references a script or a stylesheet outside the book, and if a
notebook cell stores more than one plotly figure (the snapshots of a "live" figure).

Run after ``scripts/build.sh``. ``SCREENSHOTS=folder`` saves a full-page PNG of every page.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import re
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = ROOT / "_build" / "html"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
sys.path.insert(0, str(ROOT / "_ext"))
from book_offline import external_assets  # noqa: E402

PAGES = sorted(p.relative_to(HTML).as_posix() for p in HTML.rglob("*.html")
               if "_static" not in p.relative_to(HTML).parts and "_sources" not in
               p.relative_to(HTML).parts) if HTML.is_dir() else []
CHAPTER_PAGES = [p for p in PAGES if p.startswith("chapters/")]
# index.html is only a redirect to the first page (Jupyter Book writes it); tested apart.
RENDERED_PAGES = [p for p in PAGES if p != "index.html"]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
# What the accessibility test enforces: WCAG 2.0 and 2.1, levels A and AA; serious/critical.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_IMPACTS = ("serious", "critical")

# A cell tagged so may store several plotly figures (a loop that draws one per setting, say);
# any other cell may store one. A cell that redraws one figure while it runs uses
# llmbook.viz.LiveFigure, which stores only its final state.
FIGURES_TAG = "several-figures"
PLOTLY_JSON = "application/vnd.plotly.v1+json"


def test_the_book_is_built():
    assert PAGES, f"no HTML under {HTML}: run scripts/build.sh first"
    assert CHAPTER_PAGES, "no chapter pages were built"


@pytest.mark.parametrize("page", PAGES)
def test_no_page_loads_anything_from_outside_the_book(page):
    html = (HTML / page).read_text(encoding="utf-8")
    assert external_assets(html) == [], f"{page} loads resources from outside the book"
    # Module imports and require.js paths are not <script src>: look for CDN hosts anywhere
    # in script bodies too.
    for body in re.findall(r"<script\b[^>]*>(.*?)</script>", html, flags=re.S):
        hosts = re.findall(r"https?://(?:cdn\.|cdnjs\.|unpkg\.)[\w.-]+", body)
        assert not hosts, f"{page}: a script body points at {sorted(set(hosts))}"


# --- figures stored in the notebooks -------------------------------------------------------------

def _figures_in(output: dict) -> int:
    """How many plotly figures one stored output shows (myst-nb renders its text/html)."""
    data = output.get("data") or {}
    html = data.get("text/html", "")
    html = "".join(html) if isinstance(html, list) else html
    return max(html.count('class="plotly-graph-div"'), 1 if PLOTLY_JSON in data else 0)


def notebook_figures(notebook: Path) -> list[tuple[int, int, list[str], str]]:
    """(cell index, figures stored, tags, first source line) of each shown cell with figures."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(nb["cells"]):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] != "code" or {"remove-cell", "remove-output"} & set(tags):
            continue  # not on the page
        count = sum(_figures_in(out) for out in cell.get("outputs", []))
        if count:
            source = "".join(cell["source"]).strip().splitlines()
            found.append((index, count, tags, source[0] if source else ""))
    return found


def page_notebook(page: str) -> Path | None:
    notebook = ROOT / Path(page).with_suffix(".ipynb")
    return notebook if notebook.is_file() else None


def allowed_figures(page: str) -> int:
    """The most plotly figures the page may show: one per figure-making cell, or all that a
    cell tagged FIGURES_TAG stores; none on a page that is not a notebook."""
    notebook = page_notebook(page)
    if notebook is None:
        return 0
    return sum(count if FIGURES_TAG in tags else 1
               for _, count, tags, _ in notebook_figures(notebook))


NOTEBOOK_PAGES = [p for p in CHAPTER_PAGES if page_notebook(p)]


@pytest.mark.parametrize("page", NOTEBOOK_PAGES)
def test_no_cell_stores_more_than_one_figure(page):
    notebook = page_notebook(page)
    extra = [f"cell {index} ({first!r}...) stores {count} plotly figures"
             for index, count, tags, first in notebook_figures(notebook)
             if count > 1 and FIGURES_TAG not in tags]
    assert not extra, (
        f"{notebook.relative_to(ROOT)}: " + "; ".join(extra) + ". A figure redrawn while the "
        "cell runs (display(fig, display_id=True) + handle.update(fig)) is stored once per "
        "redraw: use llmbook.viz.LiveFigure, which keeps its final state only; a cell that "
        f"really makes several figures gets the tag {FIGURES_TAG!r}.")


# --- the browser --------------------------------------------------------------------------------

class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest's output readable
        pass


@pytest.fixture(scope="module")
def server():
    handler = functools.partial(_Quiet, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} not found: apt-get install -y chromium (or set $CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browsers = _Browsers(p)
        yield browsers
        browsers.close()


class _Browsers:
    """Chromium, relaunched if it died: a crashed browser process is the machine's problem,
    not the page's (a page that crashes it again still fails, on the retry)."""

    ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run",
            "--disable-quic", "--disable-dev-shm-usage"]

    def __init__(self, playwright):
        self.playwright, self.current, self.relaunches = playwright, None, 0

    def get(self):
        if self.current is None or not self.current.is_connected():
            if self.current is not None:
                self.relaunches += 1
                print(f"Chromium had closed; relaunching it ({self.relaunches})")
            self.current = self.playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=self.ARGS)
        return self.current

    def close(self):
        if self.current is not None and self.current.is_connected():
            self.current.close()


# Figures, views and widgets drawn: counted in the page once it has settled.
DRAWN_JS = """() => {
  const plotly = [...document.querySelectorAll('div.plotly-graph-div')];
  const bertviz = [...document.querySelectorAll('[id^="bertviz-"]')]
      .filter(el => el.querySelector('#vis') || el.id.match(/^bertviz-[0-9a-f]+$/));
  const views = document.querySelectorAll('script[type="%s"]').length;
  return {
    plotly: plotly.length,
    plotlyDrawn: plotly.filter(d => d.classList.contains('js-plotly-plot')
        && d.querySelector('svg.main-svg')).length,
    bertviz: bertviz.length,
    bertvizDrawn: bertviz.filter(el => el.querySelectorAll('svg rect, svg text').length > 10)
        .length,
    widgetViews: views,
    widgetsDrawn: document.querySelectorAll('.jupyter-widgets.widget-container,'
        + ' .jupyter-widgets.widget-inline-hbox, .jupyter-widgets.widget-inline-vbox,'
        + ' .jupyter-widgets.widget-box, .widget-output.jupyter-widgets, .jupyter-widgets.widget-html,'
        + ' .jupyter-widgets.widget-image').length,
    widgetErrors: document.querySelectorAll('.jupyter-widgets-error-widget, .widget-error').length,
    math: document.querySelectorAll('div.math, span.math').length,
    mathTypeset: document.querySelectorAll('mjx-container').length,
  };
}""" % WIDGET_VIEW

# Plotly figures that show nothing: no trace with a data point, and no drawing of their own
# (shapes, annotations, images: a diagram). Points are counted over the arrays a trace can hold
# its data in, in plotly.js's own copy of the data (_fullData: typed arrays decoded).
EMPTY_FIGURES_JS = """() => {
  const keys = ['x', 'y', 'z', 'values', 'labels', 'r', 'theta', 'lat', 'lon', 'a', 'b', 'c',
                'open', 'close', 'ids', 'dimensions', 'cells', 'header', 'locations'];
  const size = (v) => {
    if (!v || typeof v !== 'object') return 0;
    if (Array.isArray(v) || ArrayBuffer.isView(v)) return v.length;
    if (v._inputArray) return size(v._inputArray);                   // {dtype, bdata, ...}
    if (Array.isArray(v.values) || ArrayBuffer.isView(v.values)) return v.values.length;
    return 0;
  };
  const points = (trace) => Math.max(trace._length || 0, ...keys.map(k => size(trace[k])));
  return [...document.querySelectorAll('.js-plotly-plot')].map((gd, index) => {
      const data = gd._fullData || gd.data || [];
      const layout = gd.layout || {};
      const drawn = ['shapes', 'annotations', 'images']
          .reduce((n, k) => n + ((layout[k] || []).length), 0);
      const title = layout.title;
      return {index: index, traces: data.length, points: data.map(points), drawn: drawn,
              title: (title && (title.text || (typeof title === 'string' && title))) || ''};
    }).filter(f => !f.points.some(n => n > 0) && !f.drawn);
}"""

AXE_JS = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags},
                                          resultTypes: ['violations']});
  return {version: axe.version, violations: result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
      nodes: v.nodes.map(n => ({target: n.target.map(t => [].concat(t).join(' >>> ')).join(' >>> '),
                                impact: n.impact}))}))};
}"""

SETTLED_JS = """(c) => {
  const s = (%s)();
  return s.plotlyDrawn === s.plotly && s.bertvizDrawn === s.bertviz
      && (s.widgetViews === 0 || s.widgetsDrawn > 0)
      && (s.math === 0 || s.mathTypeset > 0);
}""" % DRAWN_JS


def test_index_redirects_to_the_first_page():
    html = (HTML / "index.html").read_text(encoding="utf-8")
    target = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)"', html)
    assert target and (HTML / target.group(1)).is_file(), "index.html must redirect to a page"


@pytest.fixture(scope="module")
def visit(browser, server):
    """visit(page): what the browser saw on the page; each page is loaded once per run."""
    seen: dict[str, dict] = {}

    def load(page: str) -> dict:
        if page not in seen:
            from playwright.sync_api import Error as PlaywrightError
            try:
                seen[page] = _load(browser.get(), server, page)
            except PlaywrightError as error:
                if "has been closed" not in str(error):
                    raise
                seen[page] = _load(browser.get(), server, page)   # once, in a new browser
        return seen[page]

    return load


def _load(browser, server, page: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    problems: list[str] = []
    blocked: list[str] = []

    def route(r):
        if r.request.url.startswith(server) or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    tab = context.new_page()
    tab.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
           if m.type in ("error", "assert") else None)
    tab.on("pageerror", lambda e: problems.append(f"uncaught exception: {e}"))
    tab.on("response", lambda r: problems.append(f"HTTP {r.status}: {r.url}")
           if r.status >= 400 else None)
    try:
        tab.goto(server + page, wait_until="load", timeout=60_000)
        try:
            tab.wait_for_function(SETTLED_JS, timeout=30_000, polling=250)
        except Exception:  # noqa: BLE001 - the counts below say what did not draw
            pass
        tab.wait_for_timeout(300)           # late console errors
        counts = tab.evaluate(DRAWN_JS)
        empty_figures = tab.evaluate(EMPTY_FIGURES_JS)
        # After the checks above, so that its own work cannot hide a late error.
        axe = None
        if AXE.is_file():
            tab.add_script_tag(path=str(AXE))  # inlined into the page: nothing is fetched
            axe = tab.evaluate(AXE_JS, AXE_TAGS)
        if os.environ.get("SCREENSHOTS"):
            out = Path(os.environ["SCREENSHOTS"]) / (page.replace("/", "__") + ".png")
            out.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(out), full_page=True)
    finally:
        context.close()
    return {"problems": problems, "blocked": blocked, "counts": counts,
            "empty_figures": empty_figures, "axe": axe}


@pytest.mark.parametrize("page", RENDERED_PAGES)
def test_page_renders_offline_without_errors(visit, page):
    seen = visit(page)
    counts = seen["counts"]
    assert not seen["blocked"], \
        f"{page} asked for resources outside the book: {sorted(set(seen['blocked']))}"
    assert not seen["problems"], f"{page}:\n" + "\n".join(seen["problems"])
    assert counts["plotlyDrawn"] == counts["plotly"], f"{page}: plotly figures not drawn: {counts}"
    assert counts["bertvizDrawn"] == counts["bertviz"], f"{page}: bertviz views not drawn: {counts}"
    if counts["widgetViews"]:
        assert counts["widgetsDrawn"] >= 1 and not counts["widgetErrors"], \
            f"{page}: embedded widgets not rendered: {counts}"
    if counts["math"]:
        assert counts["mathTypeset"] >= counts["math"] // 2, f"{page}: math not typeset: {counts}"


def format_axe(page: str, axe: dict) -> str:
    """A violation report a developer can act on: rule, impact, help, and every element."""
    lines = [f"{page}: axe-core {axe['version']} finds WCAG 2 A/AA violations "
             f"({'/'.join(AXE_IMPACTS)}):"]
    for v in axe["violations"]:
        lines.append(f"  {v['id']} ({v['impact']}): {v['help']} <{v['helpUrl']}>")
        lines.extend(f"      {node['target']}" for node in v["nodes"])
    lines.append("  Fix them where the HTML is made (_ext/book_offline.py, _static/book_a11y.*, "
                 "the package's figures and widgets), not by excluding rules or elements.")
    return "\n".join(lines)


@pytest.mark.parametrize("page", RENDERED_PAGES)
def test_page_is_accessible(visit, page):
    assert AXE.is_file(), f"{AXE} is missing: run scripts/vendor_assets.sh"
    axe = visit(page)["axe"]
    serious = [v for v in axe["violations"] if v["impact"] in AXE_IMPACTS]
    if serious:
        pytest.fail(format_axe(page, {**axe, "violations": serious}))


@pytest.mark.parametrize("page", RENDERED_PAGES)
def test_page_figures_have_data_and_are_not_repeated(visit, page):
    seen = visit(page)
    faults = [f"figure {f['index'] + 1} ({f['title'] or 'untitled'}, {f['traces']} traces) "
              "has no data points" for f in seen["empty_figures"]]
    shown, allowed = seen["counts"]["plotly"], allowed_figures(page)
    if shown > allowed:
        faults.append(
            f"it shows {shown} plotly figures, but its notebook's cells make {allowed} (one "
            f"per cell, or all of a cell tagged {FIGURES_TAG!r}): see "
            "test_no_cell_stores_more_than_one_figure")
    if faults:
        pytest.fail(f"{page}: " + "; ".join(faults))


def test_the_attention_section_draws_what_it_promises(visit):
    """Section 2.3 has plotly figures, two bertviz views and a widget: all must be there."""
    counts = visit("chapters/02_core_concepts/2_3_attention.html")["counts"]
    assert counts["plotly"] >= 4 and counts["bertviz"] >= 2, counts
    assert counts["widgetViews"] >= 1 and counts["widgetsDrawn"] >= 1, counts
