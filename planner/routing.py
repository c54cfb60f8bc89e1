"""Routes over the DCI fibre: k lowest-latency paths and the site x PoP latency matrix.

A path is a sequence of spans from a campus to a PoP. The campus fabric (pods,
halls and their edges) never carries transit; campuses, PoPs and junctions may.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations, islice, pairwise

import networkx as nx
import pandas as pd

from planner.geo import great_circle_km
from planner.scenario import Scenario

__all__ = ["Path", "candidate_paths", "fastest_path", "k_shortest_paths", "latency_matrix", "site_pairs", "span_graph",
           "widest_path"]


FABRIC_KINDS = frozenset({"pod", "hall"})
"""Node kinds of the campus fabric: never on a DCI path."""


@dataclass(frozen=True)
class Path:
    """A route: its nodes, its spans, and its one-way latency and length."""

    nodes: tuple[str, ...]
    spans: tuple[str, ...]
    latency_ms: float
    length_km: float

    @property
    def label(self) -> str:
        """The path as text, node by node: ``OH-NAL > CIN > ASH``."""
        return " > ".join(self.nodes)


def span_graph(g: nx.Graph, *, exclude_spans: Iterable[str] = ()) -> nx.Graph:
    """The fibre alone: ``g`` without the campus fabric (pods, halls, their edges), and without ``exclude_spans``.

    Always a simple graph: a span parallel to another between the same two nodes
    runs through a node of kind ``via`` of its own (``<span>~via``), each half
    with half its latency and length and the span's id, so that path searches
    see both routes; :func:`k_shortest_paths` leaves such nodes out of its paths.

    Examples
    --------
    >>> g = nx.MultiGraph()
    >>> g.add_nodes_from(["A", "B"], kind="pop")
    >>> _ = g.add_edge("A", "B", id="east", kind="span", latency_ms=2.0, length_km=400.0)
    >>> _ = g.add_edge("A", "B", id="west", kind="span", latency_ms=3.0, length_km=600.0)
    >>> [(p.spans, p.nodes, p.latency_ms) for p in k_shortest_paths(span_graph(g), "A", "B", 2)]
    [(('east',), ('A', 'B'), 2.0), (('west',), ('A', 'B'), 3.0)]
    """
    gone = set(exclude_spans)
    h = nx.Graph()
    h.add_nodes_from((n, d) for n, d in g.nodes(data=True) if d["kind"] not in FABRIC_KINDS)
    for u, v, d in g.edges(data=True):
        if d["kind"] != "span" or d["id"] in gone:
            continue
        if not h.has_edge(u, v):
            h.add_edge(u, v, **d)
            continue
        via = f"{d['id']}~via"
        half = {**d, "latency_ms": d["latency_ms"] / 2, "length_km": d["length_km"] / 2}
        h.add_node(via, kind="via")
        h.add_edge(u, via, **half)
        h.add_edge(via, v, **half)
    return h


def k_shortest_paths(g: nx.Graph, source: str, target: str, k: int) -> list[Path]:
    """The ``k`` lowest-latency simple paths from ``source`` to ``target`` (Yen's algorithm).

    ``g`` is the fibre graph (see :func:`span_graph`); fewer than ``k`` paths come
    back when fewer exist, none when the two are not connected.

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_edge("A", "B", id="ab", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("B", "C", id="bc", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("A", "C", id="ac", latency_ms=3.0, length_km=600.0)
    >>> [(p.spans, p.latency_ms) for p in k_shortest_paths(g, "A", "C", 3)]
    [(('ab', 'bc'), 2.0), (('ac',), 3.0)]
    """
    if source not in g or target not in g:
        return []
    try:
        gen = nx.shortest_simple_paths(g, source, target, weight="latency_ms")
        node_paths = list(islice(gen, k))
    except nx.NetworkXNoPath:
        return []
    return [_as_path(g, nodes) for nodes in node_paths]


def _as_path(g: nx.Graph, nodes: list[str]) -> Path:
    """A node path of the fibre graph as a :class:`Path`; a parallel span's ``via`` node and halves count once."""
    edges = [g.edges[u, v] for u, v in pairwise(nodes)]
    spans = [e["id"] for e in edges]
    return Path(tuple(n for n in nodes if g.nodes[n].get("kind") != "via"),
                tuple(s for i, s in enumerate(spans) if i == 0 or s != spans[i - 1]),
                sum(e["latency_ms"] for e in edges), sum(e["length_km"] for e in edges))


def fastest_path(g: nx.Graph, source: str, target: str, *,
                 usable: Callable[[str], bool] | None = None) -> Path | None:
    """The lowest-latency path from ``source`` to ``target`` over the spans ``usable`` accepts (by span id).

    Whether a span may carry a flow -- room for its traffic in every week of its
    term, say -- does not depend on the rest of the path, so the fastest path over
    the usable spans is the fastest of *all* usable paths: if it misses a latency
    SLO, every usable path does. ``None`` when no usable path connects the two.

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_edge("A", "B", id="ab", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("B", "C", id="bc", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("A", "C", id="ac", latency_ms=3.0, length_km=600.0)
    >>> fastest_path(g, "A", "C").spans, fastest_path(g, "A", "C", usable=lambda s: s != "bc").spans
    (('ab', 'bc'), ('ac',))
    """
    if source not in g or target not in g:
        return None
    h = g if usable is None else nx.subgraph_view(g, filter_edge=lambda u, v: usable(g.edges[u, v]["id"]))
    try:
        nodes = nx.dijkstra_path(h, source, target, weight="latency_ms")
    except nx.NetworkXNoPath:
        return None
    return _as_path(g, nodes)


def widest_path(g: nx.Graph, source: str, target: str, room: Mapping[str, float]) -> Path | None:
    """A path from ``source`` to ``target`` whose smallest ``room`` (by span id) is largest (maximum bottleneck).

    The path between two nodes in a maximum spanning tree weighted by ``room``
    has the largest bottleneck of all paths (spans missing from ``room`` have none).

    Examples
    --------
    >>> g = nx.Graph()
    >>> g.add_edge("A", "B", id="ab", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("B", "C", id="bc", latency_ms=1.0, length_km=200.0)
    >>> g.add_edge("A", "C", id="ac", latency_ms=3.0, length_km=600.0)
    >>> widest_path(g, "A", "C", {"ab": 5.0, "bc": 1.0, "ac": 2.0}).spans
    ('ac',)
    """
    if source not in g or target not in g:
        return None
    w = nx.Graph()
    w.add_nodes_from(g)
    w.add_edges_from((u, v, {"room": room.get(d["id"], 0.0)}) for u, v, d in g.edges(data=True))
    tree = nx.maximum_spanning_tree(w, weight="room")
    try:
        nodes = nx.shortest_path(tree, source, target)
    except nx.NetworkXNoPath:
        return None
    return _as_path(g, nodes)


def candidate_paths(sc: Scenario, g: nx.Graph, *, k: int | None = None,
                    exclude_spans: Iterable[str] = ()) -> pd.DataFrame:
    """Candidate routes from every campus to every PoP.

    Returns
    -------
    DataFrame
        One row per (site, pop, rank): ``path_id``, ``spans`` (tuple), ``nodes`` (tuple),
        ``label``, ``latency_ms``, ``length_km``, ``bottleneck_gbps``.
    """
    k = k or sc.settings.k_paths
    h = span_graph(g, exclude_spans=exclude_spans)
    rows = []
    for site in sc.sites.index:
        for pop in sc.pops.index:
            for rank, p in enumerate(k_shortest_paths(h, site, pop, k)):
                rows.append({"site": site, "pop": pop, "rank": rank, "path_id": f"{site}~{pop}~{rank}",
                             "spans": p.spans, "nodes": p.nodes, "label": p.label, "latency_ms": p.latency_ms,
                             "length_km": p.length_km,
                             "bottleneck_gbps": min(sc.spans.loc[list(p.spans), "capacity_gbps"])})
    cols = ["site", "pop", "rank", "path_id", "spans", "nodes", "label", "latency_ms", "length_km",
            "bottleneck_gbps"]
    return pd.DataFrame(rows, columns=cols).set_index("path_id")


def latency_matrix(sc: Scenario, g: nx.Graph) -> pd.DataFrame:
    """Lowest one-way latency (ms) from every campus (rows) to every PoP (columns); NaN if unreachable.

    Examples
    --------
    >>> from planner import build_network, load_scenario
    >>> sc = load_scenario()
    >>> m = latency_matrix(sc, build_network(sc))
    >>> bool(m.loc["OH-NAL", "ASH"] < m.loc["LA-RCH", "ASH"])
    True
    """
    h = span_graph(g)
    out = pd.DataFrame(index=sc.sites.index, columns=sc.pops.index, dtype=float)
    for site in sc.sites.index:
        if site not in h:
            continue
        dist = nx.single_source_dijkstra_path_length(h, site, weight="latency_ms")
        for pop in sc.pops.index:
            out.loc[site, pop] = dist.get(pop, float("nan"))
    out.index.name, out.columns.name = "site", "pop"
    return out


def site_pairs(sc: Scenario, g: nx.Graph) -> pd.DataFrame:
    """Every pair of campuses: great-circle distance, shortest fibre route and fastest latency.

    Returns
    -------
    DataFrame
        One row per pair (``a``, ``b``): ``great_circle_km``, ``route_km`` (the
        shortest fibre route), ``route_factor`` (route / great circle) and
        ``latency_ms`` (of the lowest-latency route); NaN when no fibre joins them.

    Examples
    --------
    >>> from planner import build_network, load_scenario
    >>> sc = load_scenario()
    >>> r = site_pairs(sc, build_network(sc)).iloc[0]
    >>> r["a"], r["b"], round(r["great_circle_km"]), bool(r["route_km"] > r["great_circle_km"])
    ('OH-NAL', 'LA-RCH', 1161, True)
    """
    h = span_graph(g)
    rows = []
    for a, b in combinations(sc.sites.index, 2):
        (lat_a, lon_a), (lat_b, lon_b) = (sc.sites.loc[s, ["lat", "lon"]].astype(float) for s in (a, b))
        gc = great_circle_km(lat_a, lon_a, lat_b, lon_b)
        try:
            km = float(nx.shortest_path_length(h, a, b, weight="length_km"))
        except nx.NetworkXException:  # no path, or a site without fibre
            km = math.nan
        fastest = k_shortest_paths(h, a, b, 1)
        rows.append({"a": a, "b": b, "great_circle_km": gc, "route_km": km,
                     "route_factor": km / gc if gc > 0 else math.nan,
                     "latency_ms": fastest[0].latency_ms if fastest else math.nan})
    return pd.DataFrame(rows, columns=["a", "b", "great_circle_km", "route_km", "route_factor", "latency_ms"])
