"""Independent exact solvers for tiny scenarios, for cross-checking the optimiser.

Both work straight from the Scenario tables and a plain per-week formulation (no
time segments, no integer scaling, no symmetry breaking), sharing no code with
planner.optimise.model. Only span=pod leases are supported (one pod per replica).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp

from planner.scenario import Scenario


@dataclass(frozen=True)
class Option:
    lease: str
    pod: str
    site: str
    spans: tuple[str, ...]
    value: float  # revenue share of one replica minus its power and transport costs


def _paths(sc: Scenario, site: str, pop: str, k: int) -> list[tuple[tuple[str, ...], float, float]]:
    g = nx.Graph()
    for e, s in sc.spans.iterrows():
        g.add_edge(s["a"], s["b"], id=e, lat=s["latency_ms"], km=s["length_km"])
    out = []
    for nodes in itertools.islice(nx.shortest_simple_paths(g, site, pop, weight="lat"), k):
        ids = tuple(g.edges[u, v]["id"] for u, v in itertools.pairwise(nodes))
        out.append((ids, sum(g.edges[u, v]["lat"] for u, v in itertools.pairwise(nodes)),
                    sum(g.edges[u, v]["km"] for u, v in itertools.pairwise(nodes))))
    return out


def options(sc: Scenario) -> dict[str, list[Option]]:
    """Every (pod, path) a replica of each lease may take, with its value."""
    out: dict[str, list[Option]] = {}
    hours = sc.horizon.hours_per_period
    for lid, w in sc.workloads.iterrows():
        assert w["span"] == "pod"
        weeks = w["end_week"] - w["start_week"] + 1
        opts = []
        for pod, p in sc.pods.iterrows():
            site = p["site"]
            if p["sku"] != w["sku"]:
                continue
            if w["allowed_sites"] and site not in w["allowed_sites"]:
                continue
            if w["residency"] and not set(w["residency"]) <= set(sc.sites.at[site, "residency"]):
                continue
            kw = sc.skus.at[p["sku"], "server_kw_per_gpu"] * sc.sites.at[site, "pue"]
            power = w["gpus"] * kw * hours * weeks / 1000 * sc.sites.at[site, "power_price_usd_per_mwh"]
            rev = w["price_usd_per_gpu_hour"] * w["gpus"] * hours * weeks
            has_region = isinstance(w["region"], str) and w["region"] != ""
            routes = _paths(sc, site, w["region"], sc.settings.k_paths) if has_region else [((), 0.0, 0.0)]
            for spans, lat, km in routes:
                if pd.notna(w["latency_slo_ms"]) and lat > w["latency_slo_ms"]:
                    continue
                transport = w["egress_gbps"] * km * weeks * sc.settings.transport_usd_per_gbps_km_week
                opts.append(Option(str(lid), str(pod), site, spans, rev - power - transport))
        out[str(lid)] = opts
    return out


def _loads(sc: Scenario, assign: dict[tuple[str, int], Option]) -> bool:
    """Whether an assignment keeps every capacity in every week."""
    wl = sc.workloads
    for wk in sc.weeks:
        gpu = sc.reserved_gpus[wk].astype(float).copy()
        up = pd.Series(0.0, index=sc.pods.index)
        link = pd.Series(0.0, index=sc.spans.index)
        for (lid, _), o in assign.items():
            w = wl.loc[lid]
            if not (w["start_week"] <= wk <= w["end_week"]):
                continue
            gpu[o.pod] += w["gpus"]
            up[o.pod] += w["egress_gbps"]
            for e in o.spans:
                link[e] += w["egress_gbps"]
        if (gpu > sc.pods["gpus"] + 1e-9).any() or (up > sc.pods["uplink_gbps"] + 1e-9).any():
            return False
        if (link > sc.spans["capacity_gbps"] * sc.settings.max_link_utilisation + 1e-9).any():
            return False
        kw = sc.pods["sku"].map(sc.skus["server_kw_per_gpu"]) * sc.pods["site"].map(sc.sites["pue"])
        mw = (gpu * kw).groupby(sc.pods["site"]).sum() / 1000
        if (mw > sc.site_power_mw[wk] + 1e-9).any():
            return False
    return True


def brute_force(sc: Scenario) -> float:
    """Best plan value by enumerating every choice for every replica of every lease."""
    wl = sc.workloads
    opts = options(sc)
    per_lease = []
    for lid, w in wl.iterrows():
        choices: list[tuple[Option, ...] | None] = [] if w["priority"] == "internal" else [None]
        for combo in itertools.product(opts[str(lid)], repeat=int(w["replicas"])):
            if w["anti_affinity"] and len({o.site for o in combo}) < len(combo):
                continue
            choices.append(combo)
        per_lease.append((str(lid), choices))
    best = -np.inf
    for pick in itertools.product(*(c for _, c in per_lease)):
        assign = {(lid, r): o for (lid, _), combo in zip(per_lease, pick, strict=True) if combo
                  for r, o in enumerate(combo)}
        value = sum(o.value for o in assign.values())
        if value > best + 1e-9 and _loads(sc, assign):
            best = value
    return float(best)


def exact_milp(sc: Scenario) -> float:
    """Best plan value from a plain per-week MIP solved by HiGHS (scipy.optimize.milp)."""
    wl = sc.workloads
    opts = options(sc)
    cols: list[tuple[str, int, Option]] = []
    for lid, w in wl.iterrows():
        for r in range(int(w["replicas"])):
            cols += [(str(lid), r, o) for o in opts[str(lid)]]
    leases = list(wl.index)
    n = len(cols) + len(leases)  # option vars, then placed[l]
    c = np.zeros(n)
    for j, (_, _, o) in enumerate(cols):
        c[j] = -o.value
    rows, lo, hi = [], [], []

    def add(coefs: dict[int, float], lb: float, ub: float) -> None:
        row = np.zeros(n)
        for j, v in coefs.items():
            row[j] += v
        rows.append(row)
        lo.append(lb)
        hi.append(ub)

    for i, lid in enumerate(leases):
        w = wl.loc[lid]
        pl = len(cols) + i
        for r in range(int(w["replicas"])):
            add({j: 1.0 for j, (lj, rj, _) in enumerate(cols) if lj == lid and rj == r} | {pl: -1.0}, 0, 0)
        if w["priority"] == "internal":
            add({pl: 1.0}, 1, 1)
        if w["anti_affinity"]:
            for site in sc.sites.index:
                add({j: 1.0 for j, (lj, _, o) in enumerate(cols) if lj == lid and o.site == site}, 0, 1)
    kw = sc.pods["sku"].map(sc.skus["server_kw_per_gpu"]) * sc.pods["site"].map(sc.sites["pue"])
    for wk in sc.weeks:
        act = {j for j, (lj, _, _) in enumerate(cols) if wl.at[lj, "start_week"] <= wk <= wl.at[lj, "end_week"]}
        for pod in sc.pods.index:
            add({j: float(wl.at[cols[j][0], "gpus"]) for j in act if cols[j][2].pod == pod}, -np.inf,
                float(sc.pods.at[pod, "gpus"] - sc.reserved_gpus.at[pod, wk]))
            add({j: float(wl.at[cols[j][0], "egress_gbps"]) for j in act if cols[j][2].pod == pod}, -np.inf,
                float(sc.pods.at[pod, "uplink_gbps"]))
        for site in sc.sites.index:
            pods = sc.pods.index[sc.pods["site"] == site]
            reserved_kw = float((sc.reserved_gpus.loc[pods, wk] * kw[pods]).sum())
            load = {j: float(wl.at[cols[j][0], "gpus"] * kw[cols[j][2].pod]) for j in act if cols[j][2].site == site}
            add(load, -np.inf, float(sc.site_power_mw.at[site, wk]) * 1000 - reserved_kw)
        for e in sc.spans.index:
            add({j: float(wl.at[cols[j][0], "egress_gbps"]) for j in act if e in cols[j][2].spans}, -np.inf,
                float(sc.spans.at[e, "capacity_gbps"] * sc.settings.max_link_utilisation))
    res = milp(c, constraints=LinearConstraint(np.array(rows), lo, hi), integrality=np.ones(n),
               bounds=Bounds(0, 1))
    assert res.status == 0, res.message
    return float(-res.fun)
