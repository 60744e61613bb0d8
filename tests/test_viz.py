"""Tests of llmbook.viz and llmbook.display."""

import numpy as np
import pytest
import torch

from llmbook import viz
from llmbook.display import max_abs_diff, show_source


def test_heatmap_labels_and_errors():
    fig = viz.heatmap(np.eye(3), ["a", "a", "b"], ["x", "y", "z"], text_format=".1f")
    assert len(set(fig.data[0].x)) == 3  # repeated tokens kept apart
    with pytest.raises(ValueError, match="2-D"):
        viz.heatmap(np.zeros(3))
    with pytest.raises(ValueError, match="labels"):
        viz.heatmap(np.eye(2), ["a"])


def test_attention_explorer_has_a_button_per_sentence_and_layer():
    att = {"s1": np.full((2, 3, 4, 4), 0.25), "s2": np.full((2, 3, 2, 2), 0.5)}
    toks = {"s1": list("abcd"), "s2": list("xy")}
    fig = viz.attention_explorer(att, toks, columns=2)
    assert len(fig.data) == 3
    assert len(fig.layout.updatemenus[0].buttons) == 4
    with pytest.raises(ValueError, match="T = len"):
        viz.attention_explorer({"s": np.zeros((1, 1, 3, 3))}, {"s": ["a"]})
    with pytest.raises(ValueError, match="same keys"):
        viz.attention_explorer({"s": np.zeros((1, 1, 1, 1))}, {"t": ["a"]})


def test_attention_svg_and_widget():
    svg = viz.attention_svg(torch.eye(2), ["<a>", "b"], title="t")
    assert svg.startswith("<svg") and "&lt;a&gt;" in svg and svg.count("<rect") == 4
    with pytest.raises(ValueError, match="T = 3"):
        viz.attention_svg(np.eye(2), ["a", "b", "c"])
    box = viz.attention_widget({"s": np.full((2, 2, 2, 2), 0.5)}, {"s": ["a", "b"]})
    sentence, layer, head = box.children[0].children
    picture = box.children[1]
    layer.value = 2
    assert "layer 2, head 1" in picture.value


def test_show_source_and_diff():
    md = show_source(viz.heatmap)
    assert md.data.startswith("```python\n# llmbook.viz.heatmap")
    assert "def heatmap" in show_source(viz.heatmap, start="def heatmap").data
    with pytest.raises(ValueError, match="does not occur"):
        show_source(viz.heatmap, start="no such text")
    with pytest.raises(TypeError, match="cannot show"):
        show_source(3)
    assert max_abs_diff(torch.ones(2), torch.zeros(2)) == 1.0
    with pytest.raises(ValueError, match="shapes differ"):
        max_abs_diff(torch.ones(2), torch.ones(3))


# --- LiveFigure -----------------------------------------------------------------------------

def _curve():
    import plotly.graph_objects as go

    fig = go.Figure(layout=dict(title="loss"))
    fig.add_scatter(name="train")
    return fig


@pytest.fixture
def frontend(monkeypatch):
    """A fake IPython front end: records what LiveFigure displays and updates."""
    import IPython.display

    sent = []
    monkeypatch.setattr(viz.LiveFigure, "_in_ipython", staticmethod(lambda: True))
    monkeypatch.setattr(IPython.display, "display",
                        lambda bundle, raw, display_id: sent.append(("display", display_id,
                                                                     bundle)))
    monkeypatch.setattr(IPython.display, "update_display",
                        lambda bundle, raw, display_id: sent.append(("update", display_id,
                                                                     bundle)))
    return sent


def test_live_figure_displays_once_and_redraws_in_place(frontend):
    fig = _curve()
    with viz.LiveFigure(fig, min_interval=0) as live:
        for step in range(3):
            fig.data[0].update(x=list(range(step + 1)), y=[1.0] * (step + 1))
            assert live.update()
        assert not live.update()  # nothing changed: nothing sent
    kinds = [kind for kind, _, _ in frontend]
    assert kinds == ["display", "update", "update", "update"]
    assert {display_id for _, display_id, _ in frontend} == {live.display_id}
    assert all(bundle for _, _, bundle in frontend)
    assert live.closed and live.redraws == 3 and "closed" in repr(live)
    with pytest.raises(RuntimeError, match="closed"):
        live.update()
    live.close()  # twice is fine


def test_live_figure_throttles_and_close_draws_the_final_state(frontend):
    fig = _curve()
    live = viz.LiveFigure(fig, min_interval=3600)
    assert live.update()  # the first call shows the figure
    fig.data[0].update(x=[0, 1], y=[2.0, 1.0])
    assert not live.update()  # within min_interval: skipped
    assert live.update(force=True)
    fig.data[0].update(x=[0, 1, 2], y=[2.0, 1.0, 0.5])
    assert not live.update()
    live.close()  # draws what the skipped update would have
    assert [kind for kind, _, _ in frontend] == ["display", "update", "update"]
    assert "0.5" in str(frontend[-1][2])


def test_live_figure_needs_a_figure_and_is_silent_outside_ipython(monkeypatch):
    with pytest.raises(TypeError, match="plotly Figure"):
        viz.LiveFigure({"data": []})
    monkeypatch.setattr(viz.LiveFigure, "_in_ipython", staticmethod(lambda: False))
    with viz.LiveFigure(_curve()) as live:  # a plain script: no output, no error
        assert not live.update(force=True)
    assert live.closed


LIVE_CELL = """\
import time
import plotly.graph_objects as go
from tqdm.auto import tqdm
from llmbook import viz

curve = go.Figure(layout=dict(title="live"))
curve.add_scatter(name="train")
xs, ys = [], []
with viz.LiveFigure(curve, min_interval=0) as live:
    for step in tqdm(range(4), desc="training", mininterval=1.0):
        xs.append(step)
        ys.append(step * step)
        curve.data[0].update(x=xs, y=ys)
        live.update()
        time.sleep(0.05)
"""


def test_live_figure_leaves_one_final_figure_in_an_executed_notebook(monkeypatch):
    """Executed like scripts/execute.py: one figure, in its final state, and the progress bar."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("PLOTLY_RENDERER", "notebook_connected")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(LIVE_CELL)]
    nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                            store_widget_state=True, record_timing=False).execute()
    outputs = nb.cells[0].outputs
    figures = [o for o in outputs if "plotly-graph-div" in o.get("data", {}).get("text/html", "")]
    assert len(figures) == 1, [o.get("data", {}).keys() for o in outputs]
    assert '"x":[0,1,2,3]' in figures[0]["data"]["text/html"].replace(" ", "")
    views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len(views) == 1  # the tqdm bar
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert views[0]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] in state
