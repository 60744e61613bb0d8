"""Extracted triples as a knowledge graph (section 6.5): a ``networkx`` graph and its plotly
drawing.

* :func:`build_graph` -- one node per entity (merged across sentences by
  :func:`llmbook.extraction.normalize_name`), one edge per distinct triple; with ``gold``,
  each edge is marked ``correct`` or ``wrong`` and the gold triples that were not extracted
  are added as ``missed`` edges;
* :func:`graph_figure` -- a seeded spring layout drawn with plotly: nodes coloured by type,
  edges coloured by status, each labelled with its relation at its middle, arrows from head
  to tail.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

from .extraction import ENTITY_TYPES, Labelled, normalize_name

__all__ = ["build_graph", "graph_figure", "TYPE_COLORS", "STATUS_COLORS"]

TYPE_COLORS = {"PERSON": "#1f77b4", "ORGANIZATION": "#ff7f0e", "PLACE": "#2ca02c",
               "WORK": "#9467bd", None: "#7f7f7f"}
STATUS_COLORS = {"correct": "#2ca02c", "wrong": "#d62728", "missed": "#bbbbbb", None: "#555555"}


def _answers(answers: object, what: str) -> list:
    if isinstance(answers, (str, bytes, Mapping)) or not isinstance(answers, Iterable):
        raise TypeError(f"{what} must be a list (one answer per sentence), got "
                        f"{type(answers).__name__}.")
    return list(answers)


def _entities_relations(answer: Any) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    if answer is None:
        return [], []
    if isinstance(answer, Labelled):
        return list(answer.entities), list(answer.relations)
    if isinstance(answer, Mapping) and {"entities", "relations"} <= set(answer):
        return ([(e["name"], e["type"]) for e in answer["entities"]],
                [(r["head"], r["relation"], r["tail"]) for r in answer["relations"]])
    raise TypeError(f"each answer must be a dict with 'entities' and 'relations', a Labelled "
                    f"sentence or None; got {type(answer).__name__}.")


def build_graph(answers: Sequence[Mapping[str, Any] | Labelled | None], *,
                gold: Sequence[Labelled] | None = None):
    """A ``networkx.MultiDiGraph`` of the triples in ``answers`` (validated answer dicts,
    :class:`~llmbook.extraction.Labelled` sentences, or ``None`` for an unusable answer).

    Node keys are normalized names, with attributes ``name`` (as first written) and
    ``type``; an edge's key is its relation, with attribute ``status`` (``None`` without
    ``gold``). Only entities that take part in a triple become nodes."""
    import networkx as nx

    answers = _answers(answers, "answers")
    if gold is not None:
        gold = _answers(gold, "gold")
        if len(gold) != len(answers):
            raise ValueError(f"{len(answers)} answers for {len(gold)} gold sentences.")
    graph = nx.MultiDiGraph()

    def add(entities, relations, status_of):
        types = {normalize_name(n): t for n, t in entities}
        names = {normalize_name(n): n for n, _ in entities}
        for h, r, t in relations:
            for name in (h, t):
                key = normalize_name(name)
                if key not in graph:
                    graph.add_node(key, name=names.get(key, name), type=types.get(key))
            hk, tk = normalize_name(h), normalize_name(t)
            if not graph.has_edge(hk, tk, key=r):
                graph.add_edge(hk, tk, key=r, status=status_of((hk, r, tk)))

    for i, answer in enumerate(answers):
        entities, relations = _entities_relations(answer)
        truth = None
        if gold is not None:
            truth = {(normalize_name(h), r, normalize_name(t)) for h, r, t in gold[i].relations}
        add(entities, relations, lambda k: None if truth is None else
            ("correct" if k in truth else "wrong"))
    if gold is not None:
        for g in gold:
            add(list(g.entities), list(g.relations), lambda k: "missed")
    for _, data in graph.nodes(data=True):
        if data["type"] not in ENTITY_TYPES:
            data["type"] = None
    return graph


def _component_layout(graph, seed: int) -> dict:
    """Each connected component laid out by a seeded spring layout in its own cell of a
    grid, the largest first (one spring layout of everything scatters small components
    over each other)."""
    import math

    import networkx as nx

    parts = sorted(nx.connected_components(nx.Graph(graph)), key=lambda c: (-len(c), min(c)))
    columns = math.ceil(math.sqrt(len(parts)))
    largest = len(parts[0])
    pos = {}
    for i, part in enumerate(parts):
        row, col = divmod(i, columns)
        sub = nx.Graph(graph.subgraph(part))
        scale = 0.42 * math.sqrt(len(part) / largest) if len(part) > 1 else 0.0
        local = nx.spring_layout(sub, seed=seed, scale=scale) if len(part) > 1 else \
            {next(iter(part)): (0.0, 0.0)}
        for node, (x, y) in local.items():
            pos[node] = (col + float(x), -row + float(y))
    return pos


def graph_figure(graph, *, title: str = "", seed: int = 0, height: int = 640):
    """A plotly figure of ``graph`` (from :func:`build_graph`): each connected component
    laid out by ``networkx.spring_layout`` (with ``seed``) in its own cell of a grid."""
    import networkx as nx
    import plotly.graph_objects as go

    if not isinstance(graph, nx.MultiDiGraph):
        raise TypeError(f"graph must be the networkx.MultiDiGraph of build_graph, got "
                        f"{type(graph).__name__}.")
    if graph.number_of_nodes() == 0:
        raise ValueError("the graph has no nodes: no triple was extracted.")
    pos = _component_layout(graph, seed)
    fig = go.Figure()
    statuses = sorted({d["status"] for *_, d in graph.edges(data=True)}, key=str)
    for status in statuses:
        xs, ys = [], []
        for h, t, d in graph.edges(data=True):
            if d["status"] == status:
                xs += [pos[h][0], pos[t][0], None]
                ys += [pos[h][1], pos[t][1], None]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip",
                                 name=f"triple: {status}" if status else "triple",
                                 line={"color": STATUS_COLORS[status], "width": 2,
                                       "dash": "dot" if status == "missed" else "solid"}))
    for h, t, r, d in graph.edges(keys=True, data=True):
        (x0, y0), (x1, y1) = pos[h], pos[t]
        fig.add_annotation(x=x0 + 0.8 * (x1 - x0), y=y0 + 0.8 * (y1 - y0), ax=x0, ay=y0,
                           xref="x", yref="y", axref="x", ayref="y", text="", showarrow=True,
                           arrowhead=2, arrowsize=1.2, arrowwidth=1.5, opacity=0.7,
                           arrowcolor=STATUS_COLORS[d["status"]])
        fig.add_annotation(x=(x0 + x1) / 2, y=(y0 + y1) / 2, text=r, showarrow=False,
                           font={"size": 9, "color": STATUS_COLORS[d["status"]]},
                           bgcolor="rgba(255,255,255,0.7)")
    for kind in list(ENTITY_TYPES) + [None]:
        nodes = [(k, d) for k, d in graph.nodes(data=True) if d["type"] == kind]
        if not nodes:
            continue
        fig.add_trace(go.Scatter(
            x=[pos[k][0] for k, _ in nodes], y=[pos[k][1] for k, _ in nodes],
            mode="markers+text", text=[d["name"] for _, d in nodes], textposition="top center",
            textfont={"size": 10}, name=kind or "no type", hovertext=[
                f"{d['name']} ({kind or 'no type'}): {graph.degree(k)} triple(s)"
                for k, d in nodes], hoverinfo="text",
            marker={"size": 12, "color": TYPE_COLORS[kind], "line": {"width": 1,
                                                                    "color": "white"}}))
    fig.update_layout(title=title, height=height, showlegend=True, plot_bgcolor="white",
                      xaxis={"visible": False}, yaxis={"visible": False},
                      margin={"l": 10, "r": 10, "t": 50, "b": 10},
                      legend={"orientation": "h", "y": -0.02})
    return fig
