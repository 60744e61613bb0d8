"""Make the built book render with no network: serve its JavaScript from ``_static/vendor/``.

Notebook outputs and extensions point at CDNs: bertviz loads require.js, d3 and jQuery from
cdnjs; plotly figures load plotly.js from cdn.plot.ly and MathJax from cdnjs; myst-nb embeds
widgets with require.js and ``@jupyter-widgets/html-manager`` from cdnjs and jsdelivr; Sphinx
loads MathJax from jsdelivr. ``scripts/vendor_assets.sh`` copies pinned versions of those files
into ``_static/vendor/``; this extension

* points myst-nb's widget scripts at them (``nb_ipywidgets_js``) and checks ``mathjax_path``;
* rewrites the CDN URLs in every page's body to paths relative to that page
  (``html-page-context``), loading plotly.js and plotly's MathJax once per page;
* fails the build when a vendored file is missing, and warns (an error under ``-W``) about any
  ``<script src>`` / ``<link href>`` left pointing outside the book (``build-finished``);
* fixes two console errors that every page of a default build shows (see the functions);
* fixes the accessibility faults (WCAG 2 A/AA, found by axe-core in the browser test) that the
  theme, docutils and the notebooks' outputs bring, in the written pages (``fix_accessibility``)
  and with a small script and style sheet of its own (``_static/book_a11y.{js,css}``).
"""

from __future__ import annotations

import functools
import json
import posixpath
import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

# The vendored files, relative to _static/; scripts/vendor_assets.sh writes them.
VENDOR = {
    "require": "vendor/require/require.js",
    "d3": "vendor/d3/d3.min.js",
    "jquery": "vendor/jquery/jquery.min.js",
    "html-manager": "vendor/html-manager/embed-amd.js",
    "plotly": "vendor/plotly/plotly.min.js",
    "mathjax/tex-chtml": "vendor/mathjax/tex-chtml.js",
    "mathjax/tex-svg": "vendor/mathjax/tex-svg.js",
}
# The book's own fixes for what the page's HTML cannot say (see fix_accessibility).
A11Y_JS = "book_a11y.js"
A11Y_CSS = "book_a11y.css"
FIX_HINT = "run scripts/vendor_assets.sh (it vendors the JavaScript the book serves itself)"

# myst-nb's default (a dict of URL -> <script> attributes), replaced by the vendored copies.
# No `crossorigin` (it breaks loading from file://) and no `data-jupyter-widgets-cdn`: widgets
# that embed-amd.js does not bundle would still be fetched from jsdelivr, which the browser test
# reports as a request leaving the book.
IPYWIDGETS_JS = {VENDOR["require"]: {}, VENDOR["html-manager"]: {}}

# --- CDN URL rewriting ------------------------------------------------------------------------
# Each rule: a regex for a CDN URL -> the vendored file (key of VENDOR). A URL that ends in ".js"
# keeps the suffix; one without (a require.js module path, e.g. bertviz's 'd3.min') drops it,
# because require.js appends ".js" to such paths itself.
_V = r"[0-9][0-9A-Za-z.+-]*"  # a version number
URL_RULES = [
    (rf"https?://cdnjs\.cloudflare\.com/ajax/libs/require\.js/{_V}/require(?:\.min)?", "require"),
    (rf"https?://cdnjs\.cloudflare\.com/ajax/libs/d3/{_V}/d3(?:\.min)?", "d3"),
    (rf"https?://cdnjs\.cloudflare\.com/ajax/libs/jquery/{_V}/jquery(?:\.min)?", "jquery"),
    (rf"https?://cdn\.jsdelivr\.net/npm/@jupyter-widgets/html-manager@{_V}/dist/embed-amd",
     "html-manager"),
    (rf"https?://cdn\.plot\.ly/plotly-(?:{_V}|latest)(?:\.min)?", "plotly"),
    (rf"https?://cdnjs\.cloudflare\.com/ajax/libs/mathjax/{_V}/es5/tex-svg(?:\.min)?",
     "mathjax/tex-svg"),
    (rf"https?://cdnjs\.cloudflare\.com/ajax/libs/mathjax/{_V}/es5/tex-chtml(?:\.min)?",
     "mathjax/tex-chtml"),
    (rf"https?://cdn\.jsdelivr\.net/npm/mathjax@{_V}/es5/tex-svg", "mathjax/tex-svg"),
    (rf"https?://cdn\.jsdelivr\.net/npm/mathjax@{_V}/es5/tex-chtml", "mathjax/tex-chtml"),
]
_URL_RE = re.compile(
    "|".join(f"(?P<r{i}>{pattern})" for i, (pattern, _) in enumerate(URL_RULES))
    + r"(?P<js>\.js)?"
)
# A <script> element whose only job is to load plotly.js or MathJax (after rewriting): plotly
# repeats both in every figure, so only the first of each on a page is kept. The module import
# in plotly's notebook_connected init cell counts too (and a module import fails on file://).
_PLOTLY_VERSION_RE = re.compile(r"https?://cdn\.plot\.ly/plotly-(" + _V + r")\.min")
_HEADER_VERSION_RE = re.compile(rb"plotly\.js v(" + _V.encode() + rb")")


def _vendor_dir(app: Sphinx) -> Path:
    """The folder holding vendor/: the first html_static_path entry that has it."""
    for entry in app.config.html_static_path:
        path = Path(app.confdir, entry)
        if (path / "vendor").is_dir():
            return path
    return Path(app.confdir, "_static")


def configure(app: Sphinx, config: Any) -> None:
    """Point myst-nb's widget scripts at the vendored copies; refuse a CDN mathjax_path."""
    from myst_nb.core.config import ipywidgets_js_factory

    if config.nb_ipywidgets_js == ipywidgets_js_factory():  # only when not set by the user
        config.nb_ipywidgets_js = dict(IPYWIDGETS_JS)
    # Jupyter Book adds every .js/.css file under the static paths to every page
    # (jupyter_book/config.py); the vendored files must load only where a page asks for them.
    for name in ("html_js_files", "html_css_files"):
        entries = getattr(config, name)
        setattr(config, name, [e for e in entries if not _is_vendored(e)])
    _add_own_files(config)
    # Jupyter Book appends "_static" to html_static_path even when _config.yml names it:
    # without this, the 20 MB of vendored files are copied twice per build.
    config.html_static_path = list(dict.fromkeys(config.html_static_path))
    if "://" in (config.mathjax_path or ""):
        logger.warning(
            "mathjax_path %r loads MathJax from the network; use %r",
            config.mathjax_path, VENDOR["mathjax/tex-chtml"],
            type="book_offline", subtype="cdn",
        )


def _add_own_files(config: Any) -> None:
    """Load the book's accessibility script and style sheet on every page, once.

    Jupyter Book adds every .js/.css file under _static itself; this does not rely on it.
    """
    for name, filename in (("html_js_files", A11Y_JS), ("html_css_files", A11Y_CSS)):
        entries = list(getattr(config, name))
        names = [e[0] if isinstance(e, (tuple, list)) else e for e in entries]
        if filename not in names:
            entries.append(filename)
        setattr(config, name, entries)


def _is_vendored(entry: str | tuple[str, dict]) -> bool:
    """Whether an html_js_files / html_css_files entry is one of the vendored files."""
    filename = entry[0] if isinstance(entry, (tuple, list)) else entry
    return (filename or "").startswith("vendor/")


def check_vendored(app: Sphinx) -> None:
    """Fail an HTML build early when a vendored file is missing."""
    if app.builder.format != "html":
        return
    static = _vendor_dir(app)
    missing = [rel for rel in VENDOR.values() if not (static / rel).is_file()]
    if missing:
        raise ExtensionError(
            f"book_offline: missing vendored files under {static}: {', '.join(missing)}; "
            + FIX_HINT
        )


@functools.lru_cache(maxsize=None)
def _plotly_version(path: Path) -> str | None:
    """The version in the vendored plotly.min.js header ("plotly.js v4.1.1")."""
    with path.open("rb") as stream:
        match = _HEADER_VERSION_RE.search(stream.read(300))
    return match.group(1).decode() if match else None


def dedupe_inline_scripts(context: dict[str, Any]) -> None:
    """Drop repeated <script> entries, which make every page throw a SyntaxError.

    Sphinx 7.4 stores an inline script added with ``app.add_js_file(None, body=...)`` after
    the builder started under the filename ``None``, and ``prepare_writing()`` re-adds every
    registered script with ``filename or ''``. ``None != ''``, so the script appears twice.
    sphinx-thebe adds ``const THEBE_JS_URL = ...`` that way (at env-before-read-docs), and a
    second ``const`` throws "Identifier 'THEBE_JS_URL' has already been declared";
    sphinx-togglebutton's ``var togglebuttonSelector`` is doubled too, harmlessly.
    """
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    seen = set()
    unique = []
    for js in files:
        key = (
            js.filename or "",
            getattr(js, "priority", None),
            tuple(sorted(getattr(js, "attributes", {}).items())),
        )
        if key not in seen:
            seen.add(key)
            unique.append(js)
    # In place: the builder restores its own list before the next page.
    files[:] = unique


def blank_thebe_url(context: dict[str, Any]) -> None:
    """Empty the thebe URL that sphinx-thebe writes into every page, when thebe is off.

    Jupyter Book always loads sphinx-thebe, which defines
    ``const THEBE_JS_URL = "https://unpkg.com/thebe@.../index.js"`` on every page. With the
    launch button for thebe off (``_config.yml``) nothing ever reads it, but a book that serves
    itself should name no CDN: the browser test checks that no page does.
    """
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    for index, js in enumerate(files):
        attributes = getattr(js, "attributes", None) or {}
        body = attributes.get("body") or ""
        if "THEBE_JS_URL" in body:
            body = re.sub(r'(THEBE_JS_URL\s*=\s*)"[^"]*"', r'\1""', body)
            files[index] = type(js)(js.filename, priority=js.priority,
                                    **{**attributes, "body": body})


def rewrite_page(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Fix the page's script list and point the CDN URLs in its body at _static/vendor/."""
    if app.builder.format != "html":
        return
    dedupe_inline_scripts(context)
    launch = (app.config.html_theme_options or {}).get("launch_buttons", {}) or {}
    if not launch.get("thebe"):
        blank_thebe_url(context)
    base = context["pathto"]("_static/", resource=True)
    body = context.get("body")
    if body and "://" in body:
        body = context["body"] = rewrite_html(
            body,
            base=base,
            vendored_plotly=_plotly_version(_vendor_dir(app) / VENDOR["plotly"]),
            pagename=pagename,
        )
    files = context.get("script_files")
    if not isinstance(files, list):
        return
    if body and _MATHJAX_TAG_RE.search(body):
        drop_page_mathjax(files, app.config.mathjax_path)
    add_widget_support(app, files, base)


# The <script> a plotly figure loads MathJax with (after rewriting).
_MATHJAX_TAG_RE = re.compile(r"<script\b[^>]*\bsrc=\"[^\"]*/vendor/mathjax/[^\"]*\"")


def drop_page_mathjax(files: list, mathjax_path: str) -> None:
    """Leave MathJax to the copy that the page's plotly figures load.

    Two MathJax 3 bundles on one page break ("Cannot set property Package of #<Object> which
    has only a getter"), and plotly.js needs the SVG output that tex-svg.js brings *when the
    figure is drawn*. So the figure's copy stays (a synchronous script in the body: it runs
    before Sphinx's deferred one would) and Sphinx's goes; the figure's copy reads the
    ``window.MathJax`` configuration set in the head and typesets the page's math as well.
    """
    target = "_static/" + mathjax_path
    files[:] = [js for js in files if (js.filename or "") != target]


# Runs on pages with embedded widgets, between require.js and embed-amd.js (see below).
WIDGET_SUPPORT_JS = """\
requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": %(folder)s}});
window.addEventListener("load", function () {
  var mj = window.MathJax;
  if (mj && mj.version && mj.typesetPromise && !mj.Hub) {
    mj.Hub = {Queue: function (job) { mj.typesetPromise([job[2]]); }};
  }
});"""


def add_widget_support(app: Sphinx, files: list, base: str) -> None:
    """Add a small script that embedded widgets need, after require.js and before embed-amd.js.

    * embed-amd.js loads its Font Awesome fonts from the folder of the require.js *module*
      ``@jupyter-widgets/html-manager/dist/libembed-amd``, which require.js places under the
      page's own folder unless a path says otherwise (a 404 for every font otherwise).
    * ipywidgets' base typesets every widget label with the MathJax 2 API
      (``MathJax.Hub.Queue``), which MathJax 3 lacks: "Cannot read properties of undefined
      (reading 'Queue')" on every page with both widgets and MathJax. The shim maps it to
      MathJax 3's ``typesetPromise``; widgets render on the load event, after MathJax (a
      synchronous or deferred script) has started, and after this listener.
    """
    names = [js.filename or "" for js in files]
    require = "_static/" + VENDOR["require"]
    if require not in names or "_static/" + VENDOR["html-manager"] not in names:
        return
    folder = posixpath.dirname(base + VENDOR["html-manager"])
    body = WIDGET_SUPPORT_JS % {"folder": json.dumps(folder)}
    # The builder's own method adds to this page only (sphinx.ext.mathjax does the same).
    app.builder.add_js_file("", body=body, priority=files[names.index(require)].priority)
    # Move it from the end of the list to just after require.js; the later (stable) sort by
    # priority keeps that order.
    files.insert(names.index(require) + 1, files.pop())


def rewrite_html(body: str, base: str, vendored_plotly: str | None, pagename: str) -> str:
    """Rewrite CDN URLs in ``body`` to ``base`` + vendored path (``base`` ends in '/')."""
    if not base.startswith((".", "/")):
        base = "./" + base  # a bare "_static/..." would be a module specifier, not a path

    def replace(match: re.Match) -> str:
        for index, (_, key) in enumerate(URL_RULES):
            if match.group(f"r{index}"):
                break
        if key == "plotly":
            version = _PLOTLY_VERSION_RE.match(match.group(0))
            if version and vendored_plotly and version.group(1) != vendored_plotly:
                logger.warning(
                    "%s: a figure asks for plotly.js %s but %s is vendored; re-execute the "
                    "notebook or re-run scripts/vendor_assets.sh with the same plotly",
                    pagename, version.group(1), vendored_plotly,
                    type="book_offline", subtype="version",
                )
        path = base + VENDOR[key]
        return path if match.group("js") else path[: -len(".js")]

    body = _URL_RE.sub(replace, body)
    return _load_once(body, base)


def _load_once(body: str, base: str) -> str:
    """Keep the first <script> that loads plotly.js / plotly's MathJax; drop the repeats."""
    for key in ("plotly", "mathjax/tex-svg"):
        src = re.escape(base + VENDOR[key][: -len(".js")]) + r"(?:\.js)?"
        tag = re.compile(
            # a classic <script src=...></script> (any attributes) ...
            rf"<script\b[^>]*\bsrc=\"{src}\"[^>]*>\s*</script>"
            # ... or plotly's init cell: <script type="module">import "..."</script>
            rf"|<script type=\"module\">\s*import \"{src}\"\s*;?\s*</script>"
        )
        first = True

        def keep_first(match: re.Match, key: str = key) -> str:
            nonlocal first
            if not first:
                return ""
            first = False
            # A plain, synchronous classic script: no integrity/crossorigin (a same-origin
            # copy needs neither, and crossorigin fails on file://).
            return f'<script charset="utf-8" src="{base + VENDOR[key]}"></script>'

        body = tag.sub(keep_first, body)
    return body


# --- Accessibility of the written pages --------------------------------------------------------
# Each rule: (what it fixes, regex, replacement). They run on the whole written page (the theme's
# header as well as the body) at build-finished, and are idempotent.
_A11Y_RULES = [
    # docutils' HTML5 writer puts citations (sphinxcontrib-bibtex's reference lists) in
    # <div role="list"> whose entries have role="doc-biblioentry", a role that DPUB-ARIA 1.1
    # deprecated and that is no list item: axe's aria-required-children (critical). Plain list
    # items keep the list a list for screen readers.
    ("citation list items",
     re.compile(r'(<div class="citation"[^>]*?\brole=")doc-biblioentry(")'),
     r"\1listitem\2"),
    # bertviz writes "Layer: <select id="layer">" with no <label>: axe's select-name
    # (critical). The visible text before the <select> becomes its accessible name.
    ("unlabelled <select> after a visible label",
     re.compile(r'(?P<text>\b[A-Z][A-Za-z ]{0,30}):(?P<space>\s*)<select(?P<attrs>'
                r'(?![^>]*\baria-label)(?![^>]*\btitle=)[^>]*)>'),
     lambda m: (f'{m["text"]}:{m["space"]}<select{m["attrs"]} '
                f'aria-label="{m["text"].strip()}">')),
    # pydata-sphinx-theme's search field button shows "Search Ctrl+K" but is named "Search"
    # by aria-label: axe's label-content-name-mismatch (WCAG 2.5.3 label in name, serious).
    # Without the aria-label its name is its visible text; aria-keyshortcuts says what Ctrl+K is.
    ("search button named by its visible text",
     re.compile(r'(<button class="btn search-button-field[^"]*"[^>]*?)\s+aria-label="Search"'
                r'([^>]*>)'),
     r'\1 aria-keyshortcuts="Control+K"\2'),
    # The theme's colour-mode button (aria-label "Color mode") holds three icons whose titles
    # ("Light", "Dark", "System Settings") Font Awesome turns into visible-text names: the
    # same rule. The icons are decoration; the button's name and tooltip say what it does.
    ("colour-mode icons are decoration",
     re.compile(r'(<i class="theme-switch [^"]*"[^>]*?)\s+title="[^"]*"([^>]*>)'),
     r'\1 aria-hidden="true"\2'),
    # myst-nb's folded code cells (hide-input: the Colab set-up cell) are a <summary> named
    # "Toggle hidden content" that shows "Show code cell source": the same rule. Its name is
    # then its visible text ("Show code cell source" / "Hide code cell source").
    ("folded cell summary named by its visible text",
     re.compile(r'<summary aria-label="Toggle hidden content">'),
     "<summary>"),
]


def fix_accessibility(html: str) -> str:
    """Apply ``_A11Y_RULES`` to a written page (idempotent)."""
    for _, pattern, replacement in _A11Y_RULES:
        html = pattern.sub(replacement, html)
    return html


def _written_pages(app: Sphinx, exception: Exception | None) -> list[Path]:
    """The HTML pages a successful build wrote (not the copied static files)."""
    if exception is not None or app.builder.format != "html":
        return []
    outdir = Path(app.builder.outdir)
    return [page for page in sorted(outdir.rglob("*.html"))
            if not {"_static", "_sources"} & set(page.relative_to(outdir).parts)]


def fix_written_pages(app: Sphinx, exception: Exception | None) -> None:
    """Rewrite every written page with ``fix_accessibility``."""
    for page in _written_pages(app, exception):
        html = page.read_text(encoding="utf-8")
        fixed = fix_accessibility(html)
        if fixed != html:
            page.write_text(fixed, encoding="utf-8")


# --- Catch-all check of the written pages ------------------------------------------------------
# Elements that fetch their src/href while the page loads; <a href> only navigates.
_FETCHING_RE = re.compile(
    r"<(?:script|img|iframe|source|video|audio|embed|input)\b[^>]*?\bsrc=[\"'](?P<src>[^\"']*)"
    r"|<link\b(?P<link>[^>]*)>",
    re.IGNORECASE,
)
_HREF_RE = re.compile(r"\bhref=[\"']([^\"']*)", re.IGNORECASE)
_REL_RE = re.compile(r"\brel=[\"']([^\"']*)", re.IGNORECASE)
# <link rel=...> values that do not make the browser fetch anything.
_NAVIGATION_RELS = {"canonical", "alternate", "author", "license", "help", "search", "next",
                    "prev", "index", "top", "up", "first", "last", "me"}


def external_assets(html: str) -> list[str]:
    """URLs of resources that ``html`` loads from outside the book (``//host`` or ``scheme:``)."""
    found = []
    for match in _FETCHING_RE.finditer(html):
        url = match.group("src")
        if url is None:
            attrs = match.group("link")
            rel = _REL_RE.search(attrs)
            rels = set(rel.group(1).lower().split()) if rel else set()
            href = _HREF_RE.search(attrs)
            if not href or (rels and rels <= _NAVIGATION_RELS):
                continue
            url = href.group(1)
        if re.match(r"^(?:[a-z][a-z0-9+.-]*:|//)", url, re.IGNORECASE) and not url.startswith(
            ("data:", "blob:")
        ):
            found.append(url)
    return found


def check_written_pages(app: Sphinx, exception: Exception | None) -> None:
    """Warn about any page that still loads something from outside the book."""
    for page in _written_pages(app, exception):
        urls = external_assets(page.read_text(encoding="utf-8"))
        if urls:
            logger.warning(
                "%s loads %s from outside the book; add it to _ext/book_offline.py and %s",
                page.relative_to(app.builder.outdir).as_posix(), ", ".join(sorted(set(urls))),
                FIX_HINT,
                type="book_offline", subtype="external",
            )


def setup(app: Sphinx) -> dict[str, Any]:
    app.connect("config-inited", configure)
    app.connect("builder-inited", check_vendored)
    # After myst-nb (500) has added the page's widget scripts.
    app.connect("html-page-context", rewrite_page, priority=900)
    app.connect("build-finished", fix_written_pages, priority=400)
    app.connect("build-finished", check_written_pages)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
