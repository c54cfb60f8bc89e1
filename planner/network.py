"""The network: one NetworkX graph of campuses, fabric domains, PoPs and DCI fibre.

Nodes carry ``kind`` (``site``, ``pod``, ``pop``, ``junction``) and lat/lon; edges
carry ``kind`` (``uplink`` from a pod to its site's aggregation layer, ``span`` for
DCI fibre) with ``capacity_gbps``, ``length_km``, ``latency_ms`` and, for spans,
``srlg`` and a shapely ``geometry``. A simple :class:`networkx.Graph` holds it all,
unless spans run in parallel between one pair of nodes (two routes between the
same cities): then it is a :class:`networkx.MultiGraph` whose edge keys are the
edge ids.
"""

from __future__ import annotations

import networkx as nx

from planner.scenario import Scenario

__all__ = ["build_network"]


def build_network(sc: Scenario) -> nx.Graph:
    """Build the network graph of a scenario.

    Examples
    --------
    >>> from planner import load_scenario
    >>> g = build_network(load_scenario())
    >>> g.nodes["OH-NAL"]["kind"], g.graph["crs"]
    ('site', 'EPSG:4326')
    """
    ends = sc.spans[["a", "b"]].apply(lambda r: frozenset((r["a"], r["b"])), axis=1)
    g = (nx.MultiGraph if ends.duplicated().any() else nx.Graph)(name=sc.name, crs="EPSG:4326")

    def key(ident: str) -> dict[str, str]:  # a MultiGraph keys its edges by id
        return {"key": ident} if g.is_multigraph() else {}

    for sid, s in sc.sites.iterrows():
        g.add_node(sid, kind="site", name=s["name"], lat=s["lat"], lon=s["lon"], pue=s["pue"])
    for pid, p in sc.pops.iterrows():
        g.add_node(pid, kind="pop", name=p["name"], lat=p["lat"], lon=p["lon"])
    for jid, j in sc.junctions.iterrows():
        g.add_node(jid, kind="junction", name=j["name"], lat=j["lat"], lon=j["lon"])
    for pod, p in sc.pods.iterrows():
        site = sc.sites.loc[p["site"]]
        g.add_node(pod, kind="pod", name=pod, lat=site["lat"], lon=site["lon"], site=p["site"], sku=p["sku"],
                   gpus=int(p["gpus"]), fabric=p["fabric"], fabric_kind=p["fabric_kind"])
        g.add_edge(pod, p["site"], **key(f"uplink:{pod}"), id=f"uplink:{pod}", kind="uplink",
                   capacity_gbps=float(p["uplink_gbps"]), length_km=0.0, latency_ms=0.0)
    for span, s in sc.spans.iterrows():
        g.add_edge(s["a"], s["b"], **key(str(span)), id=span, kind="span", capacity_gbps=float(s["capacity_gbps"]),
                   length_km=float(s["length_km"]), latency_ms=float(s["latency_ms"]), srlg=s["srlg"],
                   n_amplifiers=int(s["n_amplifiers"]), geometry=s["geometry"], a=s["a"], b=s["b"])
    return g
