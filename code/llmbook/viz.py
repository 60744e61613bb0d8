"""Figures used across the book: plotly for the HTML pages, plain SVG for widgets.

Plotly figures work in the static HTML book (their dropdowns and sliders run in the
browser, no kernel needed). Widgets need a kernel; they redraw an SVG string, which
renders the same in Jupyter, Colab and the saved page. :class:`LiveFigure` redraws one
plotly figure in place while a cell runs (a training curve), and leaves that one figure,
in its final state, in the saved notebook and the book.
"""

from __future__ import annotations

import html
import time
import uuid
from typing import Sequence

import numpy as np

__all__ = ["heatmap", "attention_explorer", "attention_svg", "attention_widget", "to_numpy_2d",
           "LiveFigure"]


def to_numpy_2d(matrix, name: str = "matrix") -> np.ndarray:
    """A 2-D float array from a tensor / array / nested list, with a clear error."""
    try:
        import torch
        if isinstance(matrix, torch.Tensor):
            matrix = matrix.detach().cpu().double().numpy()
    except ImportError:  # pragma: no cover - torch is always installed with the book
        pass
    array = np.asarray(matrix, dtype=float)
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (rows x columns), got shape {array.shape}.")
    return array


def _check_labels(labels, size: int, what: str) -> list[str]:
    if labels is None:
        return [str(i) for i in range(size)]
    labels = [str(x) for x in labels]
    if len(labels) != size:
        raise ValueError(f"{what} has {len(labels)} labels but the matrix has {size} {what}.")
    return labels


def _unique(labels: Sequence[str]) -> list[str]:
    """Plotly merges equal category labels; number repeated tokens to keep them apart."""
    seen: dict[str, int] = {}
    out = []
    for label in labels:
        n = seen.get(label, 0)
        seen[label] = n + 1
        out.append(label + "\u200b" * n)  # zero-width spaces: looks the same
    return out


def heatmap(matrix, x_labels=None, y_labels=None, *, title: str = "",
            x_title: str = "", y_title: str = "", colorscale: str = "Blues",
            zmin: float | None = None, zmax: float | None = None, text_format: str | None = None,
            height: int = 420, width: int | None = None):
    """A plotly heatmap of a 2-D matrix, first row at the top (like a printed matrix).

    ``text_format`` (e.g. ``".2f"``) writes each value in its cell.
    """
    import plotly.graph_objects as go

    z = to_numpy_2d(matrix)
    xs = _unique(_check_labels(x_labels, z.shape[1], "columns"))
    ys = _unique(_check_labels(y_labels, z.shape[0], "rows"))
    trace = go.Heatmap(z=np.round(z, 4), x=xs, y=ys, colorscale=colorscale, zmin=zmin,
                       zmax=zmax, hovertemplate="row %{y}<br>column %{x}<br>%{z:.3f}"
                       "<extra></extra>")
    if text_format:
        trace.update(texttemplate="%{z:" + text_format + "}")
    fig = go.Figure(trace)
    fig.update_layout(title=title, height=height, width=width, xaxis_title=x_title,
                      yaxis_title=y_title, margin=dict(l=60, r=20, t=60, b=60))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(tickangle=-45)
    return fig


def attention_explorer(attentions: dict[str, np.ndarray], tokens: dict[str, list[str]], *,
                       title: str = "Attention weights", columns: int = 4,
                       decimals: int = 2):
    """A plotly figure for exploring attention without a kernel.

    Args:
        attentions: for each sentence name, an array ``(layers, heads, T, T)``.
        tokens: for each sentence name, its ``T`` tokens.

    One dropdown picks the sentence and layer; every head of that layer is drawn
    as a small heatmap (queries down, keys across; each row sums to 1). Weights are
    stored rounded to ``decimals`` places, which keeps the page small.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    if not attentions or set(attentions) != set(tokens):
        raise ValueError("attentions and tokens must be non-empty dicts with the same keys "
                         f"(sentence names), got {list(attentions)} and {list(tokens)}.")
    arrays = {}
    for name, att in attentions.items():
        att = att.detach().cpu().numpy() if hasattr(att, "detach") else np.asarray(att)
        if att.ndim != 4 or att.shape[2] != att.shape[3] or att.shape[2] != len(tokens[name]):
            raise ValueError(f"attentions[{name!r}] must have shape (layers, heads, T, T) with "
                             f"T = len(tokens[{name!r}]) = {len(tokens[name])}, "
                             f"got {att.shape}.")
        arrays[name] = att
    first = next(iter(arrays.values()))
    n_layers, n_heads = first.shape[:2]
    if any(a.shape[:2] != (n_layers, n_heads) for a in arrays.values()):
        raise ValueError("every sentence must come from the same model (same layers and heads).")
    rows = -(-n_heads // columns)
    fig = make_subplots(rows=rows, cols=columns, subplot_titles=[f"head {h + 1}"
                        for h in range(n_heads)], horizontal_spacing=0.03,
                        vertical_spacing=0.08)

    def views(name: str, layer: int):
        labels = _unique(tokens[name])
        # Lists of float64 rounded to `decimals`: in the page's JSON each weight then takes
        # about five characters (float32 would print as 0.12300000339746475).
        return ([np.round(arrays[name][layer, h].astype(np.float64), decimals).tolist()
                 for h in range(n_heads)],
                [labels] * n_heads, [labels] * n_heads)

    first_name = next(iter(arrays))
    zs, xs, ys = views(first_name, 0)
    for h in range(n_heads):
        fig.add_trace(go.Heatmap(z=zs[h], x=xs[h], y=ys[h], zmin=0, zmax=1,
                                 colorscale="Blues", showscale=(h == 0),
                                 hovertemplate="query %{y}<br>key %{x}<br>%{z:.3f}"
                                 "<extra></extra>"), row=h // columns + 1,
                      col=h % columns + 1)
    buttons = []
    for name in arrays:
        for layer in range(n_layers):
            zs, xs, ys = views(name, layer)
            buttons.append(dict(label=f"{name} · layer {layer + 1}", method="restyle",
                                args=[{"z": zs, "x": xs, "y": ys}, list(range(n_heads))]))
    fig.update_layout(
        title=title, height=260 * rows + 120, margin=dict(l=40, r=20, t=110, b=40),
        updatemenus=[dict(buttons=buttons, direction="down", x=0, xanchor="left", y=1.12,
                          yanchor="bottom", showactive=True)])
    fig.update_yaxes(autorange="reversed", showticklabels=False)
    fig.update_xaxes(showticklabels=False)
    return fig


def attention_svg(weights, tokens: Sequence[str], *, title: str = "",
                  cell: int = 26) -> str:
    """A self-contained SVG heatmap of a ``(T, T)`` attention matrix, for widgets.

    Rows are queries, columns keys; darker means more weight.
    """
    w = to_numpy_2d(weights, "weights")
    tokens = [str(t) for t in tokens]
    if w.shape != (len(tokens), len(tokens)):
        raise ValueError(f"weights must be (T, T) with T = {len(tokens)} tokens, "
                         f"got {w.shape}.")
    pad = 8 + 7 * max((len(t) for t in tokens), default=1)
    top = pad + (22 if title else 0)
    size = cell * len(tokens)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{pad + size + 10}" '
             f'height="{top + size + 10}" font-family="sans-serif" font-size="12">']
    if title:
        parts.append(f'<text x="{pad}" y="15" font-weight="bold">{html.escape(title)}</text>')
    for i, token in enumerate(tokens):
        y = top + i * cell + cell / 2 + 4
        parts.append(f'<text x="{pad - 4}" y="{y:.0f}" text-anchor="end">'
                     f'{html.escape(token)}</text>')
        x = pad + i * cell + cell / 2 + 4
        parts.append(f'<text transform="translate({x:.0f},{top - 4}) rotate(-90)">'
                     f'{html.escape(token)}</text>')
    for i in range(w.shape[0]):
        for j in range(w.shape[1]):
            shade = int(round(255 * (1 - min(max(w[i, j], 0.0), 1.0))))
            parts.append(f'<rect x="{pad + j * cell}" y="{top + i * cell}" width="{cell - 1}" '
                         f'height="{cell - 1}" fill="rgb({shade},{shade},255)">'
                         f'<title>{html.escape(tokens[i])} → {html.escape(tokens[j])}: '
                         f'{w[i, j]:.3f}</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def attention_widget(attentions: dict[str, np.ndarray], tokens: dict[str, list[str]]):
    """An ipywidgets control (sentence / layer / head) that redraws an attention map.

    Runs in Jupyter and Colab (it needs a kernel); in the static HTML book it shows
    its first view only — use :func:`attention_explorer` there.
    """
    import ipywidgets as widgets

    if not attentions or set(attentions) != set(tokens):
        raise ValueError("attentions and tokens must be non-empty dicts with the same keys.")
    arrays = {k: (v.detach().cpu().numpy() if hasattr(v, "detach") else np.asarray(v))
              for k, v in attentions.items()}
    first = next(iter(arrays.values()))
    # The descriptions are the controls' accessible names too (the book names each slider's
    # handle by its label); the tooltips replace ipywidgets' default, which the saved page
    # shows as "null".
    sentence = widgets.Dropdown(options=list(arrays), description="sentence",
                                tooltip="the sentence whose attention is drawn")
    layer = widgets.IntSlider(value=1, min=1, max=first.shape[0], description="layer",
                              tooltip="the layer (1 = closest to the input)")
    head = widgets.IntSlider(value=1, min=1, max=first.shape[1], description="head",
                             tooltip="the attention head of that layer")
    picture = widgets.HTML()

    def redraw(_change=None):
        name = sentence.value
        picture.value = attention_svg(arrays[name][layer.value - 1, head.value - 1],
                                      tokens[name],
                                      title=f"layer {layer.value}, head {head.value}")

    for control in (sentence, layer, head):
        control.observe(redraw, names="value")
    redraw()
    return widgets.VBox([widgets.HBox([sentence, layer, head]), picture])


class LiveFigure:
    """One plotly figure that redraws in place while a cell runs, e.g. a training curve.

    ::

        curve = go.Figure(...)
        with viz.LiveFigure(curve) as live:       # shows the figure
            def on_eval(step, history, model):
                curve.data[0].update(x=history.steps, y=history.loss)
                live.update()                      # redraws it, in the same place
            train(..., callback=on_eval)
                                                   # leaving the block draws the final state

    Why not ``handle = display(fig, display_id=True)`` and ``handle.update(fig)``? A plotly
    figure displays itself (``_ipython_display_``), which ignores the display id: every
    update *adds* a figure below the last, live and in the saved notebook (nbclient stores
    each one, so the book showed an empty figure and a stack of snapshots). This class sends
    the figure's own mime bundle with a display id and ``update_display_data`` messages, which
    Jupyter, Colab and VS Code apply in place and which nbclient (``scripts/execute.py``)
    applies to the one stored output: the notebook keeps exactly one figure, the last one.

    Args:
        fig: a ``plotly.graph_objects.Figure``; change its traces, then call :meth:`update`.
        min_interval: seconds; :meth:`update` redraws at most this often (calls in between
            are skipped, the latest state is drawn by the next redraw or by :meth:`close`).
            Each redraw sends the whole figure, so a callback that runs every step stays cheap.

    Outside IPython (a plain script) it does nothing, so code that uses it also runs there.
    """

    def __init__(self, fig, *, min_interval: float = 0.5):
        if not hasattr(fig, "to_plotly_json"):
            raise TypeError(f"LiveFigure needs a plotly Figure, got {type(fig).__name__}.")
        self.fig = fig
        self.min_interval = float(min_interval)
        self.display_id = f"llmbook-live-{uuid.uuid4().hex}"
        self.shown = False
        self.closed = False
        self.redraws = 0          # updates sent after the first display
        self._last = float("-inf")
        self._sent: str | None = None  # the figure (JSON) last displayed

    # -- what is sent ---------------------------------------------------------------------
    def _bundle(self) -> dict:
        """The figure's mime bundle for the current plotly renderers (what ``fig.show()`` sends).

        Built the way ``plotly.io.show`` builds it: the figure's own ``_repr_mimebundle_``
        re-activates the renderer on every call, and the ``notebook`` renderers then display
        their plotly.js loader again each time (one more output per redraw).
        """
        import plotly.io as pio

        try:
            from plotly.io._utils import validate_coerce_fig_to_dict

            bundle = pio.renderers._build_mime_bundle(validate_coerce_fig_to_dict(self.fig, True))
        except (ImportError, AttributeError):  # pragma: no cover - another plotly
            bundle = self.fig._repr_mimebundle_()
        if not bundle:  # no renderer set (pio.renderers.default == ""): plain HTML
            bundle = {"text/html": self.fig.to_html(full_html=False, include_plotlyjs="cdn")}
        return dict(bundle)

    @staticmethod
    def _in_ipython() -> bool:
        try:
            from IPython import get_ipython
        except ImportError:  # pragma: no cover - IPython comes with Jupyter
            return False
        return get_ipython() is not None

    def _send(self, update: bool) -> bool:
        """Display (or redraw) the figure; False outside IPython or when nothing changed."""
        if not self._in_ipython():
            return False
        from IPython.display import display, update_display

        state = self.fig.to_json()  # (the HTML differs on every render: a fresh div id)
        if update and state == self._sent:
            return False  # nothing changed since the last redraw
        if update:
            update_display(self._bundle(), raw=True, display_id=self.display_id)
        else:
            display(self._bundle(), raw=True, display_id=self.display_id)
        self._sent = state
        return True

    # -- the interface ----------------------------------------------------------------------
    def show(self) -> "LiveFigure":
        """Display the figure (once; later calls do nothing)."""
        if not self.shown:
            self._send(update=False)
            self.shown = True
            self._last = time.monotonic()
        return self

    def update(self, *, force: bool = False) -> bool:
        """Redraw the figure in place with its current data; True if it was redrawn.

        Skipped (False) when the last redraw is under ``min_interval`` seconds old, unless
        ``force``; :meth:`close` draws the final state in any case.
        """
        if self.closed:
            raise RuntimeError("this LiveFigure is closed: make a new one to draw again.")
        if not self.shown:
            self.show()
            return self._sent is not None
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return False
        if not self._send(update=True):
            return False
        self.redraws += 1
        self._last = now
        return True

    def close(self) -> None:
        """Draw the figure's final state (if it changed since the last redraw) and stop.

        Safe to call twice; called on leaving a ``with`` block, also when it raised.
        """
        if self.closed:
            return
        if not self.shown:
            self.show()
        else:
            self.update(force=True)
        self.closed = True

    def __enter__(self) -> "LiveFigure":
        return self.show()

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else ("shown" if self.shown else "not shown")
        return f"<LiveFigure {state}, {self.redraws} redraws>"
