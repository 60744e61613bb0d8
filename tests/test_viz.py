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
