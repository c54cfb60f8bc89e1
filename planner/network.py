"""The network: one NetworkX graph of campuses, fabric domains, PoPs and DCI fibre.

Nodes carry ``kind`` (``site``, ``hall``, ``pod``, ``pop``, ``junction``) and lat/lon;
edges carry ``kind`` (``uplink`` from a pod to its hall, ``aggregation`` from a hall's
aggregation layer to its campus, ``span`` for DCI fibre) with ``capacity_gbps``,
``length_km``, ``latency_ms`` and, for spans, ``srlg`` and a shapely ``geometry``.
The campus fabric is a tree below each site (pod -> hall -> site): it carries no
transit, and routes run over spans only (:func:`~planner.routing.span_graph`).
Hall nodes are named :func:`hall_node` (``hall:<id>``), as hall labels may repeat pod ids.
A hall without a modelled aggregation layer has ``unlimited`` True and an
``aggregation`` edge of capacity ``inf`` (exports that cannot hold ``inf`` leave it out).
A simple :class:`networkx.Graph` holds it all, unless spans run in parallel between
one pair of nodes (two routes between the same cities): then it is a
:class:`networkx.MultiGraph` whose edge keys are the edge ids.
"""

from __future__ import annotations

import json
import math
from typing import Any

import networkx as nx
import pandas as pd

from planner.scenario import Scenario

__all__ = ["NETWORK_TABLES", "build_network", "hall_node", "network_json", "network_tables"]


def hall_node(hall: str) -> str:
    """The node id of a hall in :func:`build_network`'s graph.

    Examples
    --------
    >>> hall_node("OH-H1")
    'hall:OH-H1'
    """
    return f"hall:{hall}"


def build_network(sc: Scenario) -> nx.Graph:
    """Build the network graph of a scenario.

    Examples
    --------
    >>> from planner import load_scenario
    >>> g = build_network(load_scenario())
    >>> g.nodes["OH-NAL"]["kind"], g.graph["crs"]
    ('site', 'EPSG:4326')
    >>> pod = next(n for n, d in g.nodes(data=True) if d["kind"] == "pod")
    >>> [g.nodes[n]["kind"] for n in nx.shortest_path(g, pod, "OH-NAL")] if g.nodes[pod]["site"] == "OH-NAL" else []
    ['pod', 'hall', 'site']
    """
    ends = sc.spans[["a", "b"]].apply(lambda r: frozenset((r["a"], r["b"])), axis=1)
    g = (nx.MultiGraph if ends.duplicated().any() else nx.Graph)(
        name=sc.name, crs="EPSG:4326", max_link_utilisation=float(sc.settings.max_link_utilisation))

    def key(ident: str) -> dict[str, str]:  # a MultiGraph keys its edges by id
        return {"key": ident} if g.is_multigraph() else {}

    for sid, s in sc.sites.iterrows():
        g.add_node(sid, kind="site", name=s["name"], lat=s["lat"], lon=s["lon"], pue=s["pue"])
    for pid, p in sc.pops.iterrows():
        g.add_node(pid, kind="pop", name=p["name"], lat=p["lat"], lon=p["lon"])
    for jid, j in sc.junctions.iterrows():
        g.add_node(jid, kind="junction", name=j["name"], lat=j["lat"], lon=j["lon"])
    for hall, h in sc.halls.iterrows():
        site, node = sc.sites.loc[h["site"]], hall_node(str(hall))
        cap = float(h["aggregation_gbps"])
        g.add_node(node, kind="hall", name=h["name"], hall=hall, lat=site["lat"], lon=site["lon"], site=h["site"],
                   building=h["building"], pods=int(h["pods"]), gpus=int(h["gpus"]), aggregation_gbps=cap,
                   unlimited=not math.isfinite(cap))
        g.add_edge(node, h["site"], **key(f"aggregation:{hall}"), id=f"aggregation:{hall}", kind="aggregation",
                   capacity_gbps=cap, unlimited=not math.isfinite(cap), length_km=0.0, latency_ms=0.0)
    for pod, p in sc.pods.iterrows():
        site = sc.sites.loc[p["site"]]
        g.add_node(pod, kind="pod", name=pod, lat=site["lat"], lon=site["lon"], site=p["site"], sku=p["sku"],
                   gpus=int(p["gpus"]), fabric=p["fabric"], fabric_kind=p["fabric_kind"], hall=p["hall"])
        g.add_edge(pod, hall_node(str(p["hall"])), **key(f"uplink:{pod}"), id=f"uplink:{pod}", kind="uplink",
                   capacity_gbps=float(p["uplink_gbps"]), length_km=0.0, latency_ms=0.0)
    for span, s in sc.spans.iterrows():
        g.add_edge(s["a"], s["b"], **key(str(span)), id=span, kind="span", capacity_gbps=float(s["capacity_gbps"]),
                   length_km=float(s["length_km"]), latency_ms=float(s["latency_ms"]), srlg=s["srlg"],
                   n_amplifiers=int(s["n_amplifiers"]), geometry=s["geometry"], a=s["a"], b=s["b"])
    return g


NETWORK_TABLES = ("spans", "paths", "latency")
"""The tables of :func:`network_tables`, in order."""


def network_tables(sc: Scenario, g: nx.Graph | None = None) -> dict[str, pd.DataFrame]:
    """The network as data: its spans, every campus's candidate paths to every PoP, the latency matrix.

    Returns
    -------
    dict of str to DataFrame
        ``spans`` (one row per span: ends, lengths, route factor, amplifiers, latency,
        capacity, shared-risk group), ``paths`` (one row per site, PoP and rank of the
        ``settings.k_paths`` lowest-latency paths: spans joined with ``;``, nodes with
        `` > ``, latency, length, bottleneck capacity) and ``latency`` (site x PoP,
        lowest one-way latency in ms; NaN where no path exists).

    Examples
    --------
    >>> from planner import load_scenario
    >>> t = network_tables(load_scenario())
    >>> list(t), t["latency"].index.name, t["paths"].columns[:3].tolist()
    (['spans', 'paths', 'latency'], 'site', ['site', 'pop', 'rank'])
    """
    from planner.routing import candidate_paths, latency_matrix

    g = g if g is not None else build_network(sc)
    spans = sc.spans[["a", "b", "length_km", "great_circle_km", "route_factor", "n_amplifiers", "latency_ms",
                      "capacity_gbps", "fibre_pairs", "channels", "channel_gbps", "srlg"]].copy()
    paths = candidate_paths(sc, g).reset_index()
    paths["spans"] = paths["spans"].map(";".join)
    paths["nodes"] = paths["nodes"].map(" > ".join)
    paths = paths[["site", "pop", "rank", "path_id", "latency_ms", "length_km", "bottleneck_gbps", "spans", "nodes"]]
    return {"spans": spans, "paths": paths, "latency": latency_matrix(sc, g)}


def network_json(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """The tables of :func:`network_tables` as one JSON document (NaN as ``null``).

    ``spans`` and ``paths`` are lists of records (spans with their ``id``), ``latency_ms``
    a mapping site -> PoP -> ms.
    """
    def records(df: pd.DataFrame) -> list[dict[str, Any]]:
        return json.loads(df.to_json(orient="records"))

    latency = tables["latency"]
    return {"spans": records(tables["spans"].reset_index().rename(columns={"span": "id"})),
            "paths": records(tables["paths"]),
            "latency_ms": {str(s): {str(p): (None if math.isnan(v) else float(v)) for p, v in row.items()}
                           for s, row in latency.iterrows()}}
