"""Write the network graph as GraphML that Gephi, yEd and Cytoscape open.

GraphML holds only scalar, typed attributes: geometries become WKT strings,
tuples become ``;``-joined text, ``None`` and NaN are left out, numpy scalars
become Python numbers, and every attribute keeps one type across the graph
(integers stay ``int``/``long``, other numbers ``double``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
from shapely.geometry.base import BaseGeometry

from planner.gis.layers import joined
from planner.gis.vector import atomic_path
from planner.network import build_network
from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["graphml_graph", "write_graphml"]


def _scalar(value: Any) -> Any:
    """One attribute value as a GraphML scalar, or ``None`` to leave it out."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, BaseGeometry):
        return value.wkt
    if isinstance(value, tuple | list | set | frozenset):
        return joined(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _clean(attrs: dict[str, Any]) -> dict[str, Any]:
    out = {str(k): _scalar(v) for k, v in attrs.items()}
    return {k: v for k, v in out.items() if v is not None}


def _unify_numbers(dicts: Iterable[dict[str, Any]]) -> None:
    """Make an attribute a float everywhere when it is a float anywhere (one GraphML key per name)."""
    dicts = list(dicts)
    floats = {k for d in dicts for k, v in d.items() if isinstance(v, float)}
    for d in dicts:
        for k in floats & d.keys():
            if isinstance(d[k], int) and not isinstance(d[k], bool):
                d[k] = float(d[k])


def _add_plan_use(g: nx.Graph, plan: Plan) -> None:
    """Peak Gbps and utilisation of every span, pod uplink and hall aggregation edge, from the plan's use tables.

    Hall nodes get their aggregation layer's ``peak_interpod_gbps`` and (when it is
    limited) ``peak_utilisation``, from ``plan.hall_use``.
    """
    links = plan.link_use.groupby("span").agg(peak_gbps=("gbps", "max"), peak_utilisation=("utilisation", "max"))
    up = plan.pod_use.assign(u=plan.pod_use["uplink_gbps"] / plan.pod_use["uplink_capacity_gbps"])
    pods = up.groupby("pod").agg(peak_gbps=("uplink_gbps", "max"), peak_utilisation=("u", "max"))
    use = {("span", k): v for k, v in links.to_dict("index").items()}
    use.update({("uplink", f"uplink:{k}"): v for k, v in pods.to_dict("index").items()})
    if len(plan.hall_use):
        halls = plan.hall_use.assign(hall=plan.hall_use["hall"].astype(str)).groupby("hall").agg(
            peak_gbps=("interpod_gbps", "max"), peak_utilisation=("utilisation", "max"))
        use.update({("aggregation", f"aggregation:{k}"): v for k, v in halls.to_dict("index").items()})
    limit = g.graph.get("max_link_utilisation")
    for _, d in g.nodes(data=True):  # a hall node carries its aggregation layer's peak too
        found = use.get(("aggregation", f"aggregation:{d.get('hall')}")) if d.get("kind") == "hall" else None
        if found is not None:
            d["peak_interpod_gbps"] = float(found["peak_gbps"])
            if not d.get("unlimited"):
                d["peak_utilisation"] = float(found["peak_utilisation"])
    for _, _, d in g.edges(data=True):
        found = use.get((d.get("kind"), d.get("id")))
        if found is not None:
            d["peak_gbps"] = float(found["peak_gbps"])
            if not d.get("unlimited"):  # an unlimited aggregation layer has no utilisation
                d["peak_utilisation"] = float(found["peak_utilisation"])
            if d.get("kind") == "span" and limit:
                d["peak_pct_of_limit"] = float(found["peak_utilisation"]) / float(limit) * 100.0


def _add_limits(g: nx.Graph) -> None:
    """The usable limit of every span edge: ``max_utilisation_pct`` of capacity and ``usable_gbps``."""
    limit = g.graph.get("max_link_utilisation")
    if not limit:
        return
    for _, _, d in g.edges(data=True):
        if d.get("kind") == "span":
            d["max_utilisation_pct"] = float(limit) * 100.0
            d["usable_gbps"] = float(d["capacity_gbps"]) * float(limit)


def graphml_graph(sc_or_graph: Scenario | nx.Graph, *, plan: Plan | None = None) -> nx.Graph:
    """A copy of the network with GraphML-safe, consistently typed attributes.

    Parameters
    ----------
    sc_or_graph
        A scenario (its :func:`~planner.network.build_network` graph is used) or a graph.
    plan
        A plan whose peak use to add to span, uplink and aggregation edges
        (``peak_gbps``, ``peak_utilisation``; on spans also ``peak_pct_of_limit``, 100 =
        at the usable limit) and hall nodes (``peak_interpod_gbps``,
        ``peak_utilisation``). An unlimited hall (``unlimited`` True) has no capacity
        and no utilisation attribute: GraphML holds no ``inf``. Span edges always carry
        their limit, ``max_utilisation_pct`` and ``usable_gbps``, when the graph has
        ``max_link_utilisation``.

    Returns
    -------
    networkx.Graph
        Of the same class as the input graph.
    """
    g = build_network(sc_or_graph) if isinstance(sc_or_graph, Scenario) else sc_or_graph.copy()
    _add_limits(g)
    if plan is not None:
        _add_plan_use(g, plan)
    out = g.__class__()
    out.graph.update(_clean(g.graph))
    out.add_nodes_from((str(n), _clean(d)) for n, d in g.nodes(data=True))
    if g.is_multigraph():
        out.add_edges_from((str(u), str(v), k, _clean(d)) for u, v, k, d in g.edges(keys=True, data=True))
    else:
        out.add_edges_from((str(u), str(v), _clean(d)) for u, v, d in g.edges(data=True))
    _unify_numbers(d for _, d in out.nodes(data=True))
    _unify_numbers(d for *_, d in out.edges(data=True))
    return out


def write_graphml(sc_or_graph: Scenario | nx.Graph, path: str | Path, *, plan: Plan | None = None) -> Path:
    """Write the network graph as GraphML with typed attributes.

    Parameters
    ----------
    sc_or_graph
        A scenario or a graph from :func:`~planner.network.build_network`.
    path
        The ``.graphml`` file to write.
    plan
        A plan whose peak use to add to span and uplink edges.

    Returns
    -------
    Path
        ``path``.

    Examples
    --------
    >>> import tempfile, networkx as nx
    >>> from planner import load_scenario
    >>> out = write_graphml(load_scenario(), Path(tempfile.mkdtemp()) / "network.graphml")
    >>> g = nx.read_graphml(out)
    >>> g.nodes["OH-NAL"]["kind"], type(g.nodes["OH-NAL"]["lat"]).__name__
    ('site', 'float')
    """
    g = graphml_graph(sc_or_graph, plan=plan)
    with atomic_path(path) as tmp:
        nx.write_graphml(g, tmp)
    return Path(path)
