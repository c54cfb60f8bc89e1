"""Independent exact solvers for tiny scenarios, for cross-checking the optimiser.

Both work straight from the Scenario tables and a plain per-week formulation (no
time segments, no integer scaling, no symmetry breaking), sharing no code with
planner.optimise.model. :func:`brute_force` and :func:`exact_milp` take span=pod leases
only (one pod per replica); :func:`exact_split_milp` takes every span, halls and their
aggregation layers included.
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


def exact_split_milp(sc: Scenario) -> float:
    """Best plan value from a plain per-week MIP that lets replicas split (span=hall and span=site too).

    Per replica: a site choice, a hall choice (span=hall), GPUs per pod (integer), a
    ``whole`` flag per pod (the replica held entirely by that pod: no inter-pod traffic),
    a route. Loads as the README states them, in exact units: a pod's uplink carries the
    replica's egress share plus ``interpod_gbps_per_gpu`` per GPU unless the replica is
    whole; a hall's aggregation layer carries ``interpod_gbps_per_gpu`` per GPU of every
    split replica in its pods.
    """
    wl, pods = sc.workloads, sc.pods
    hours, b = sc.horizon.hours_per_period, sc.settings.interpod_gbps_per_gpu
    kw = pods["sku"].map(sc.skus["server_kw_per_gpu"]) * pods["site"].map(sc.sites["pue"])
    names: list[tuple] = []
    lb: list[float] = []
    ub: list[float] = []
    obj: list[float] = []

    def var(key: tuple, hi: float, value: float = 0.0) -> int:  # value: what one unit adds to the plan
        names.append(key)
        lb.append(0.0)
        ub.append(hi)
        obj.append(-value)
        return len(names) - 1

    rows: list[dict[int, float]] = []
    lo_: list[float] = []
    hi_: list[float] = []

    def add(coefs: dict[int, float], lo: float, hi: float) -> None:
        rows.append(coefs)
        lo_.append(lo)
        hi_.append(hi)

    x: dict[tuple[str, int, str], int] = {}
    whole: dict[tuple[str, int, str], int] = {}
    route: dict[tuple[str, int], list[tuple[int, tuple[str, ...]]]] = {}
    for lid, w in wl.iterrows():
        g, weeks = int(w["gpus"]), int(w["end_week"] - w["start_week"] + 1)
        rev = w["price_usd_per_gpu_hour"] * g * int(w["replicas"]) * hours * weeks
        pl = var(("placed", lid), 1.0, rev)
        if w["priority"] == "internal":
            add({pl: 1.0}, 1, 1)
        has_region = isinstance(w["region"], str) and w["region"] != ""
        for r in range(int(w["replicas"])):
            at_site: dict[int, float] = {pl: -1.0}
            route[(lid, r)] = []
            for site in sc.sites.index:
                mine = pods.index[(pods["site"] == site) & (pods["sku"] == w["sku"])]
                if not len(mine) or (w["allowed_sites"] and site not in w["allowed_sites"]):
                    continue
                if w["residency"] and not set(w["residency"]) <= set(sc.sites.at[site, "residency"]):
                    continue
                routes = _paths(sc, site, w["region"], sc.settings.k_paths) if has_region else [((), 0.0, 0.0)]
                routes = [rt for rt in routes if not pd.notna(w["latency_slo_ms"]) or rt[1] <= w["latency_slo_ms"]]
                if not routes:
                    continue
                y = var(("site", lid, r, site), 1.0)
                at_site[y] = 1.0
                add({var(("route", lid, r, site, k), 1.0, -w["egress_gbps"] * km * weeks
                         * sc.settings.transport_usd_per_gbps_km_week): 1.0 for k, (_, _, km) in enumerate(routes)}
                    | {y: -1.0}, 0, 0)
                route[(lid, r)] += [(len(names) - len(routes) + k, rt[0]) for k, rt in enumerate(routes)]
                share: dict[int, float] = {y: -float(g)}
                n_whole: dict[int, float] = {y: -1.0}
                halls = {h: var(("hall", lid, r, h), 1.0) for h in sorted(set(pods.loc[mine, "hall"]))} \
                    if w["span"] == "hall" else {}
                if halls:
                    add({v: 1.0 for v in halls.values()} | {y: -1.0}, 0, 0)
                for pod in mine:
                    price = kw[pod] * hours * weeks / 1000 * sc.sites.at[site, "power_price_usd_per_mwh"]
                    xv = var(("x", lid, r, pod), float(g), -price)
                    wv = var(("whole", lid, r, pod), 1.0)
                    x[(lid, r, pod)], whole[(lid, r, pod)] = xv, wv
                    share[xv] = 1.0
                    n_whole[wv] = 1.0
                    add({xv: 1.0, wv: -float(g)}, 0, np.inf)  # whole: the pod holds every GPU
                    if w["span"] == "pod":
                        add({xv: 1.0, wv: -float(g)}, 0, 0)  # one pod, all of it
                    if halls:
                        add({xv: 1.0, halls[pods.at[pod, "hall"]]: -float(g)}, -np.inf, 0)
                add(share, 0, 0)
                add(n_whole, -np.inf, 0)
            add(at_site, 0, 0)
        if w["anti_affinity"]:
            for site in sc.sites.index:
                ys = {j: 1.0 for j, k in enumerate(names) if k[0] == "site" and k[1] == lid and k[3] == site}
                if ys:
                    add(ys, -np.inf, 1)
    agg_cap = sc.halls["aggregation_gbps"]
    for wk in sc.weeks:
        act = {lid for lid, w in wl.iterrows() if w["start_week"] <= wk <= w["end_week"]}
        for pod in pods.index:
            gpu: dict[int, float] = {}
            up: dict[int, float] = {}
            for (lid, r, p), xv in x.items():
                if p != pod or lid not in act:
                    continue
                g, egress = float(wl.at[lid, "gpus"]), float(wl.at[lid, "egress_gbps"])
                gpu[xv] = 1.0
                if wl.at[lid, "span"] == "pod":
                    up[whole[(lid, r, p)]] = egress
                else:
                    up[xv] = egress / g + b
                    up[whole[(lid, r, p)]] = -b * g
            add(gpu, -np.inf, float(pods.at[pod, "gpus"] - sc.reserved_gpus.at[pod, wk]))
            add(up, -np.inf, float(pods.at[pod, "uplink_gbps"]))
        for hall in sc.halls.index:
            if not np.isfinite(agg_cap[hall]):
                continue
            load: dict[int, float] = {}
            for (lid, r, p), xv in x.items():
                if lid in act and pods.at[p, "hall"] == hall:
                    load[xv] = b
                    load[whole[(lid, r, p)]] = -b * float(wl.at[lid, "gpus"])
            add(load, -np.inf, float(agg_cap[hall]))
        for site in sc.sites.index:
            here = pods.index[pods["site"] == site]
            reserved_kw = float((sc.reserved_gpus.loc[here, wk] * kw[here]).sum())
            load = {xv: float(kw[p]) for (lid, _, p), xv in x.items() if lid in act and pods.at[p, "site"] == site}
            add(load, -np.inf, float(sc.site_power_mw.at[site, wk]) * 1000 - reserved_kw)
        for e in sc.spans.index:
            load = {j: float(wl.at[lid, "egress_gbps"]) for (lid, _), opts in route.items() if lid in act
                    for j, spans in opts if e in spans}
            add(load, -np.inf, float(sc.spans.at[e, "capacity_gbps"] * sc.settings.max_link_utilisation))
    a = np.zeros((len(rows), len(names)))
    for i, coefs in enumerate(rows):
        for j, v in coefs.items():
            a[i, j] += v
    res = milp(np.array(obj), constraints=LinearConstraint(a, lo_, hi_), integrality=np.ones(len(names)),
               bounds=Bounds(lb, ub))
    assert res.status == 0, res.message
    return float(-res.fun)


def cross_check(sc: Scenario, best: float) -> None:
    """Every method and bound against an exact optimum ``best`` of ``sc``.

    CP-SAT proves ``best`` optimal; greedy and the site-level method stay at or below
    it (with the site method's bound above); every bound the planner has -- CP-SAT's,
    the LP relaxation, the site LP pooled per hall and per site, the site MIP with
    spanning leases whole, the pattern bound (converged, after one round, unsmoothed) --
    stays at or above it. Every plan passes the independent checker.
    """
    import pytest

    from planner.optimise.bounds.patterns import pattern_bound
    from planner.optimise.bounds.pod_lp import lp_relaxation
    from planner.optimise.bounds.site_lp import site_relaxation
    from planner.optimise.heuristics.greedy import greedy
    from planner.optimise.instance import build_instance
    from planner.optimise.model import build_model
    from planner.optimise.optimiser import optimise

    plan = optimise(sc, time_limit_s=10)
    assert plan.check(sc) == [] and plan.status == "OPTIMAL"
    assert plan.objective_usd == pytest.approx(best, rel=1e-9, abs=1e-6)
    g = greedy(sc)
    assert g.check(sc) == [] and g.objective_usd <= best + 1e-6
    inst = build_instance(sc)
    bounds = {"cp-sat": plan.bound_usd, "lp": lp_relaxation(build_model(inst).cp).objective,
              "site lp per hall": site_relaxation(inst, pooling="hall").bound_usd,
              "site lp per site": site_relaxation(inst, pooling="site").bound_usd,
              "site mip, whole spans": site_relaxation(inst, pooling="hall", whole_spans=True).bound_usd,
              "site mip, whole leases": site_relaxation(inst, pooling="hall", whole_leases=True).bound_usd,
              "patterns": pattern_bound(inst, time_limit_s=30).bound_usd,
              "patterns, one round": pattern_bound(inst, max_rounds=1).bound_usd,
              "patterns, unsmoothed": pattern_bound(inst, smoothing=0, time_limit_s=30).bound_usd}
    for mip in ("site mip, whole spans", "site mip, whole leases"):
        if np.isnan(bounds[mip]):  # not solved
            del bounds[mip]
    if "site mip, whole spans" in bounds and "site mip, whole leases" in bounds:  # more whole: never looser
        assert bounds["site mip, whole leases"] <= bounds["site mip, whole spans"] * (1 + 1e-4) + 1e-6, bounds
    assert all(b >= best - 1e-6 for b in bounds.values()), bounds
    sites = optimise(sc, time_limit_s=5, method="sites")  # the site-level method: LP-guided greedy, then LNS
    assert sites.check(sc) == [] and sites.objective_usd <= best + 1e-6 <= sites.bound_usd + 2e-6


def exact_api_milp(sc: Scenario) -> float:
    """Best plan value of span=pod leases and hosted-model APIs, from a plain per-week MIP (HiGHS via scipy).

    Written from the API contract (README), not from the planner's model: replicas per
    (model, pod, week) and starts (integer), tokens per second served per (stream, site,
    path within the network budget, week) -- integer, as the planner counts them --,
    demand and throughput rows, and every capacity per pod, site and span and week with the
    leases: GPUs, power (API GPUs draw like leased ones), pod uplink (a replica at full
    throughput x its model's largest bits per token), DCI (served x the stream's larger
    bits per token on every span of its path). No upside of internal work.
    """
    wl, pods = sc.workloads, sc.pods
    hours, rate = sc.horizon.hours_per_period, sc.settings.transport_usd_per_gbps_km_week
    kw = pods["sku"].map(sc.skus["server_kw_per_gpu"]) * pods["site"].map(sc.sites["pue"])
    cat, dem = sc.api_models, sc.api_demand
    obj: list[float] = []
    ub: list[float] = []
    rows: list[dict[int, float]] = []
    lo_: list[float] = []
    hi_: list[float] = []

    def var(value: float, hi: float) -> int:
        obj.append(-value)
        ub.append(hi)
        return len(obj) - 1

    def add(coefs: dict[int, float], lo: float, hi: float) -> None:
        rows.append(coefs)
        lo_.append(lo)
        hi_.append(hi)

    # leases: one option per (replica, pod, path), as exact_milp
    opts = options(sc)
    lease_cols: list[tuple[str, Option, int]] = []
    for lid, w in wl.iterrows():
        pl = var(0.0, 1.0)
        if w["priority"] == "internal":
            add({pl: 1.0}, 1, 1)
        for _ in range(int(w["replicas"])):
            js = [var(o.value, 1.0) for o in opts[str(lid)]]
            lease_cols += [(str(lid), o, j) for o, j in zip(opts[str(lid)], js, strict=True)]
            add({j: 1.0 for j in js} | {pl: -1.0}, 0, 0)
        if w["anti_affinity"]:
            for site in sc.sites.index:
                add({j: 1.0 for lj, o, j in lease_cols if lj == lid and o.site == site}, -np.inf, 1)
    # APIs
    bits = {s: 8.0 * max(float(d["bytes_in_per_token"]), float(d["bytes_out_per_token"])) for s, d in dem.iterrows()}
    model_bits = {m: max(bits[s] for s in dem.index[dem["model"] == m]) for m in set(dem["model"])}
    rep: dict[tuple[str, str, int], int] = {}
    for (m, sku), c in cat.iterrows():
        if m not in model_bits:
            continue
        for pod in pods.index[pods["sku"] == sku]:
            site = pods.at[pod, "site"]
            g = int(c["gpus_per_replica"])
            power = g * kw[pod] * hours / 1000 * float(sc.sites.at[site, "power_price_usd_per_mwh"])
            for wk in sc.weeks:
                rep[(m, pod, wk)] = var(-power, float(pods.at[pod, "gpus"] // g))
            for wk in sc.weeks:  # start >= rep[w] - rep[w - 1]
                st = var(-float(c["replica_start_usd"]), float(pods.at[pod, "gpus"] // g))
                add({st: 1.0, rep[(m, pod, wk)]: -1.0} | ({rep[(m, pod, wk - 1)]: 1.0} if wk > 1 else {}), 0, np.inf)
    served: list[tuple[str, str, tuple[str, ...], int, int]] = []  # stream, site, spans, week, column
    for sid, d in dem.iterrows():
        unit = float(d["avg_tokens_per_s"]) / float(d["peak_tokens_per_s"]) * hours * 3600 * float(
            d["price_usd_per_mtok"]) / 1e6
        sites = sorted({pods.at[p, "site"] for (m, p, _) in rep if m == d["model"]})
        for wk in range(int(d["start_week"]), int(d["end_week"]) + 1):
            mine = []
            for site in sites:
                for spans, lat, km in _paths(sc, site, d["region"], sc.settings.k_paths):
                    if lat > float(d["network_budget_ms"]):
                        continue
                    j = var(unit - bits[sid] / 1e9 * km * rate, float(d["peak_tokens_per_s"]))
                    served.append((str(sid), site, spans, wk, j))
                    mine.append(j)
            add({j: 1.0 for j in mine}, -np.inf, float(d["peak_tokens_per_s"]))
    throughput: dict[tuple[str, str, int], dict[int, float]] = {}  # per (model, site, week)
    for (m, pod, wk), j in rep.items():
        tps = float(cat.at[(m, pods.at[pod, "sku"]), "tokens_per_s"])
        throughput.setdefault((m, pods.at[pod, "site"], wk), {})[j] = -tps
    for sid, site, _, wk, j in served:
        throughput[(dem.at[sid, "model"], site, wk)][j] = 1.0
    for coefs in throughput.values():
        add(coefs, -np.inf, 0)
    # capacities, week by week
    for wk in sc.weeks:
        act = [(lid, o, j) for lid, o, j in lease_cols if wl.at[lid, "start_week"] <= wk <= wl.at[lid, "end_week"]]
        for pod in pods.index:
            gpu = {j: float(wl.at[lid, "gpus"]) for lid, o, j in act if o.pod == pod}
            up = {j: float(wl.at[lid, "egress_gbps"]) for lid, o, j in act if o.pod == pod}
            for (m, p, w2), j in rep.items():
                if p == pod and w2 == wk:
                    c = cat.loc[(m, pods.at[pod, "sku"])]
                    gpu[j] = float(c["gpus_per_replica"])
                    up[j] = float(c["tokens_per_s"]) * model_bits[m] / 1e9
            add(gpu, -np.inf, float(pods.at[pod, "gpus"] - sc.reserved_gpus.at[pod, wk]))
            add(up, -np.inf, float(pods.at[pod, "uplink_gbps"]))
        for site in sc.sites.index:
            here = pods.index[pods["site"] == site]
            reserved_kw = float((sc.reserved_gpus.loc[here, wk] * kw[here]).sum())
            load = {j: float(wl.at[lid, "gpus"] * kw[o.pod]) for lid, o, j in act if o.site == site}
            for (m, p, w2), j in rep.items():
                if w2 == wk and pods.at[p, "site"] == site:
                    load[j] = float(cat.at[(m, pods.at[p, "sku"]), "gpus_per_replica"] * kw[p])
            add(load, -np.inf, float(sc.site_power_mw.at[site, wk]) * 1000 - reserved_kw)
        for e in sc.spans.index:
            load = {j: float(wl.at[lid, "egress_gbps"]) for lid, o, j in act if e in o.spans}
            load |= {j: bits[s] / 1e9 for s, _, spans, w3, j in served if w3 == wk and e in spans}
            add(load, -np.inf, float(sc.spans.at[e, "capacity_gbps"] * sc.settings.max_link_utilisation))
    a = np.zeros((len(rows), len(obj)))
    for i, coefs in enumerate(rows):
        for j, v in coefs.items():
            a[i, j] += v
    res = milp(np.array(obj), constraints=LinearConstraint(a, lo_, hi_), integrality=np.ones(len(obj)),
               bounds=Bounds(0, ub))
    assert res.status == 0, res.message
    return float(-res.fun)
