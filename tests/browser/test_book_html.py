"""Every page of the built book, opened in a real browser with no network.

Playwright drives Debian's Chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) headless. The book
is served from ``_build/html`` on a loopback port; every request for anything else is blocked
and fails the page. For each page: no console errors and no uncaught exceptions; every plotly
figure has drawn its SVG; every bertviz view has drawn its SVG; every embedded widget has
rendered; math has been typeset. A static test also fails if any page references a script or a
stylesheet outside the book.

Run after ``scripts/build.sh``. ``SCREENSHOTS=folder`` saves a full-page PNG of every page.
"""

from __future__ import annotations

import functools
import http.server
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
        chromium = p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run",
                  "--disable-quic", "--disable-dev-shm-usage"])
        yield chromium
        chromium.close()


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


@pytest.mark.parametrize("page", RENDERED_PAGES)
def test_page_renders_offline_without_errors(browser, server, page):
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
        if os.environ.get("SCREENSHOTS"):
            out = Path(os.environ["SCREENSHOTS"]) / (page.replace("/", "__") + ".png")
            out.parent.mkdir(parents=True, exist_ok=True)
            tab.screenshot(path=str(out), full_page=True)
    finally:
        context.close()

    assert not blocked, f"{page} asked for resources outside the book: {sorted(set(blocked))}"
    assert not problems, f"{page}:\n" + "\n".join(problems)
    assert counts["plotlyDrawn"] == counts["plotly"], f"{page}: plotly figures not drawn: {counts}"
    assert counts["bertvizDrawn"] == counts["bertviz"], f"{page}: bertviz views not drawn: {counts}"
    if counts["widgetViews"]:
        assert counts["widgetsDrawn"] >= 1 and not counts["widgetErrors"], \
            f"{page}: embedded widgets not rendered: {counts}"
    if counts["math"]:
        assert counts["mathTypeset"] >= counts["math"] // 2, f"{page}: math not typeset: {counts}"


def test_the_attention_section_draws_what_it_promises(browser, server):
    """Section 2.3 has plotly figures, two bertviz views and a widget: all must be there."""
    page = "chapters/02_core_concepts/2_3_attention.html"
    tab = browser.new_page()
    tab.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    tab.goto(server + page, wait_until="load", timeout=60_000)
    tab.wait_for_function(SETTLED_JS, timeout=30_000, polling=250)
    counts = tab.evaluate(DRAWN_JS)
    tab.close()
    assert counts["plotly"] >= 4 and counts["bertviz"] >= 2, counts
    assert counts["widgetViews"] >= 1 and counts["widgetsDrawn"] >= 1, counts
