"""llmbook.knowledge_graph: triples merged into a graph, marked against the gold, drawn."""

import networkx as nx
import pytest

from llmbook import extraction as ex
from llmbook import knowledge_graph as kg

ANSWER = {"entities": [{"name": "Jane Austen", "type": "PERSON"},
                       {"name": "Pride and Prejudice", "type": "WORK"},
                       {"name": "Bath", "type": "PLACE"}],
          "relations": [{"head": "Jane Austen", "relation": "wrote",
                         "tail": "Pride and Prejudice"},
                        {"head": "Jane Austen", "relation": "born_in", "tail": "Bath"}]}


def test_nodes_merge_across_sentences_and_edges_are_marked():
    gold = [ex.GOLD[3], ex.GOLD[2]]            # Austen wrote P&P; Microsoft located_in Redmond
    graph = kg.build_graph([ANSWER, None], gold=gold)
    assert graph.nodes["jane austen"] == {"name": "Jane Austen", "type": "PERSON"}
    status = {(h, r, t): d["status"] for h, t, r, d in graph.edges(keys=True, data=True)}
    assert status == {("jane austen", "wrote", "pride and prejudice"): "correct",
                      ("jane austen", "born_in", "bath"): "wrong",
                      ("microsoft", "located_in", "redmond"): "missed"}
    plain = kg.build_graph([ANSWER, ANSWER])          # repeated triples: one edge each
    assert plain.number_of_edges() == 2 and plain.number_of_nodes() == 3
    assert {d["status"] for *_, d in plain.edges(data=True)} == {None}
    whole = kg.build_graph(list(ex.GOLD))             # "Microsoft", "Paris" ... merge
    assert whole.number_of_edges() == sum(len(g.relations) for g in ex.GOLD)
    assert whole.number_of_nodes() == len({ex.normalize_name(n) for g in ex.GOLD
                                           for h, _, t in g.relations for n in (h, t)})
    assert whole.degree("microsoft") == 4


def test_figure_has_a_trace_per_status_and_type():
    fig = kg.graph_figure(kg.build_graph([ANSWER, None], gold=[ex.GOLD[3], ex.GOLD[2]]),
                          title="t")
    names = [t.name for t in fig.data]
    assert names[:3] == ["triple: correct", "triple: missed", "triple: wrong"]
    assert {"PERSON", "WORK", "PLACE", "ORGANIZATION"} <= set(names)
    assert len(fig.layout.annotations) == 2 * 3          # an arrow and a label per edge


def test_bad_input():
    with pytest.raises(TypeError, match="a list"):
        kg.build_graph(ANSWER)
    with pytest.raises(TypeError, match="each answer"):
        kg.build_graph(["text"])
    with pytest.raises(ValueError, match="gold"):
        kg.build_graph([ANSWER], gold=[])
    with pytest.raises(TypeError, match="MultiDiGraph"):
        kg.graph_figure(nx.Graph())
    with pytest.raises(ValueError, match="no nodes"):
        kg.graph_figure(kg.build_graph([None]))
