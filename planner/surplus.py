"""The sellable inventory a plan leaves: free GPUs with the power and fibre that go with them.

A sales team sells what the plan leaves free. A GPU is only sellable with power to
run it and fibre to reach its users, so every row of the inventory carries three
figures, week by week:

- ``free_gpus``: GPUs of a pod neither internal work nor a placed lease holds
  (``pod_use``);
- ``power_gpus``: how many more GPUs of that SKU the campus's power headroom
  (``site_use.headroom_mw``) allows at the campus's PUE -- the headroom is shared by
  every SKU of the campus, so it is an upper bound for each SKU alone;
- ``to_<PoP>_gbps``: the usable Gbps left (span limit minus traffic, ``link_use``) on
  the widest path from the campus to each PoP, i.e. the largest egress one more
  replica there could send to that region that week.

::

    inv = planner.surplus(sc, plan)        # one row per pod and week with free GPUs
    runs = planner.surplus_runs(sc, plan)  # campus x SKU, consecutive weeks grouped

:func:`surplus_runs` is what a seller reads ("4,096 B200 free in LA-RCH weeks 14-30,
but only 1,200 Gbps to DFW"): per campus and SKU, consecutive weeks with the same
free and sellable GPUs as one row, ``sellable_gpus = min(free_gpus, power_gpus)``
and the smallest fibre headroom of those weeks.
"""

from __future__ import annotations

import logging
import math
from itertools import pairwise

import networkx as nx
import numpy as np
import pandas as pd

from planner.network import build_network
from planner.plan import Plan
from planner.routing import span_graph
from planner.scenario import Scenario

__all__ = ["fibre_headroom", "surplus", "surplus_runs"]

log = logging.getLogger(__name__)


def fibre_headroom(sc: Scenario, plan: Plan, *, graph: nx.Graph | None = None) -> pd.DataFrame:
    """Usable Gbps left on the widest path from each campus to each PoP, week by week.

    The room of a span in a week is its usable limit minus the plan's traffic on it
    (``link_use.limit_gbps - link_use.gbps``, never below 0); a path's room is its
    smallest span's room, and the widest path is the one with the most room (found on
    a maximum spanning tree of the fibre weighted by room, one tree per week).

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    graph : networkx.Graph, optional
        The scenario's network (:func:`~planner.network.build_network`); built when omitted.

    Returns
    -------
    DataFrame
        One row per (site, week), one column ``to_<pop>_gbps`` per PoP (0 when no
        path reaches the PoP).
    """
    g = span_graph(graph if graph is not None else build_network(sc))
    lu = plan.link_use
    room = (lu["limit_gbps"] - lu["gbps"]).clip(lower=0.0).to_numpy()
    by_week = pd.Series(room, index=pd.MultiIndex.from_arrays([lu["week"], lu["span"]]))
    pops = [str(p) for p in sc.pops.index]
    rows = []
    for week in sc.weeks:
        rooms = by_week.xs(week, level=0).to_dict() if len(by_week) else {}
        w = nx.Graph()
        w.add_nodes_from(g)
        w.add_edges_from((u, v, {"room": float(rooms.get(d["id"], 0.0))}) for u, v, d in g.edges(data=True))
        tree = nx.maximum_spanning_tree(w, weight="room")
        for site in sc.sites.index:
            row: dict[str, object] = {"site": str(site), "week": int(week)}
            paths = nx.single_source_shortest_path(tree, site) if site in tree else {}
            for pop in pops:
                nodes = paths.get(pop)
                row[f"to_{pop}_gbps"] = (0.0 if not nodes else
                                         min((tree.edges[u, v]["room"] for u, v in pairwise(nodes)),
                                             default=math.inf))
            rows.append(row)
    return pd.DataFrame(rows, columns=["site", "week", *(f"to_{p}_gbps" for p in pops)])


def _power_gpus(sc: Scenario, headroom_mw: pd.Series, site: pd.Series, sku: pd.Series) -> np.ndarray:
    """GPUs of ``sku`` that ``headroom_mw`` of facility power runs at ``site``'s PUE (rounded down)."""
    kw = sku.map(sc.skus["server_kw_per_gpu"]).to_numpy(float) * site.map(sc.sites["pue"]).to_numpy(float)
    mw = headroom_mw.clip(lower=0.0).to_numpy(float)
    return np.floor(mw * 1000.0 / kw + 1e-9).astype(np.int64)


def surplus(sc: Scenario, plan: Plan, *, graph: nx.Graph | None = None) -> pd.DataFrame:
    """The sellable inventory after ``plan``: every pod and week with free GPUs, and its power and fibre headroom.

    Parameters
    ----------
    sc : Scenario
        The scenario the plan was made for.
    plan : Plan
        The plan; its ``pod_use``, ``site_use`` and ``link_use`` tables are read.
    graph : networkx.Graph, optional
        The scenario's network; built when omitted.

    Returns
    -------
    DataFrame
        One row per (pod, week) with ``free_gpus > 0``: site, hall, pod, sku, week,
        free_gpus, headroom_mw (the campus's power headroom that week), power_gpus
        (GPUs of the SKU that headroom runs), and ``to_<pop>_gbps`` per PoP (see
        :func:`fibre_headroom`); sorted by site, hall, pod and week. Aggregate by
        ``hall`` or ``site`` for the larger views (sum ``free_gpus``; the headroom
        columns are per campus).

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> inv = surplus(sc, greedy(sc, explain=False))
    >>> bool((inv["free_gpus"] > 0).all()), "to_DFW_gbps" in inv.columns
    (True, True)
    """
    pu = plan.pod_use
    inv = pu.loc[pu["free_gpus"] > 0, ["site", "pod", "sku", "week", "free_gpus"]].copy()
    inv["hall"] = inv["pod"].map(sc.pods["hall"])
    head = plan.site_use.set_index(["site", "week"])["headroom_mw"]
    inv["headroom_mw"] = head.reindex(pd.MultiIndex.from_arrays([inv["site"], inv["week"]])).to_numpy(float)
    inv["power_gpus"] = _power_gpus(sc, inv["headroom_mw"], inv["site"], inv["sku"])
    fibre = fibre_headroom(sc, plan, graph=graph)
    inv = inv.merge(fibre, on=["site", "week"], how="left")
    cols = ["site", "hall", "pod", "sku", "week", "free_gpus", "headroom_mw", "power_gpus",
            *(c for c in fibre.columns if c.startswith("to_"))]
    return inv[cols].sort_values(["site", "hall", "pod", "week"]).reset_index(drop=True)


def surplus_runs(sc: Scenario, plan: Plan, *, graph: nx.Graph | None = None,
                 inventory: pd.DataFrame | None = None) -> pd.DataFrame:
    """The inventory per campus and SKU, consecutive weeks with the same free and sellable GPUs as one row.

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    graph : networkx.Graph, optional
        The scenario's network; built when omitted.
    inventory : DataFrame, optional
        :func:`surplus` of the same plan, when already computed.

    Returns
    -------
    DataFrame
        One row per run: site, sku, start_week, end_week, weeks, free_gpus (the
        campus's free GPUs of the SKU in each of those weeks), power_gpus (the fewest
        GPUs of the SKU the power headroom allows in those weeks), sellable_gpus =
        min(free_gpus, power_gpus), gpu_hours (sellable GPUs x hours of the run) and,
        per PoP, ``to_<pop>_gbps``: the least usable Gbps to it in those weeks. Sorted
        by site, sku and start week.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> runs = surplus_runs(sc, greedy(sc, explain=False))
    >>> bool((runs["sellable_gpus"] <= runs["free_gpus"]).all())
    True
    """
    inv = inventory if inventory is not None else surplus(sc, plan, graph=graph)
    pops = [c for c in inv.columns if c.startswith("to_") and c.endswith("_gbps")]
    cols = ["site", "sku", "start_week", "end_week", "weeks", "free_gpus", "power_gpus", "sellable_gpus",
            "gpu_hours", *pops]
    if inv.empty:
        return pd.DataFrame(columns=cols)
    per = inv.groupby(["site", "sku", "week"]).agg(
        free_gpus=("free_gpus", "sum"), power_gpus=("power_gpus", "first"),
        **{p: (p, "first") for p in pops}).reset_index()
    per["sellable_gpus"] = np.minimum(per["free_gpus"], per["power_gpus"])
    per = per.sort_values(["site", "sku", "week"])
    # a new run starts at a change of campus or SKU, a gap in the weeks, or another free or sellable count
    key = per[["site", "sku", "free_gpus", "sellable_gpus"]]
    new = (key != key.shift()).any(axis=1) | (per["week"].diff() != 1)
    per["run"] = new.cumsum()
    runs = per.groupby("run").agg(
        site=("site", "first"), sku=("sku", "first"), start_week=("week", "min"), end_week=("week", "max"),
        free_gpus=("free_gpus", "first"), power_gpus=("power_gpus", "min"),
        sellable_gpus=("sellable_gpus", "first"), **{p: (p, "min") for p in pops})
    runs["weeks"] = runs["end_week"] - runs["start_week"] + 1
    runs["gpu_hours"] = runs["sellable_gpus"] * runs["weeks"] * float(sc.horizon.hours_per_period)
    return runs[cols].sort_values(["site", "sku", "start_week"]).reset_index(drop=True)
