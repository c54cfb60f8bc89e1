"""Check a plan against every constraint, recomputed from its own tables.

Written independently of the code that builds plans (plain loops over rows,
no shared helpers), so that a bug in the optimiser or in the derived tables
shows up here as a violation rather than being repeated.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from planner.plan import Plan
    from planner.scenario import Scenario

__all__ = ["check_plan"]

TOL = 1e-6


def _route_ok(sc: Scenario, site: str, region: str, spans: tuple[str, ...]) -> str | None:
    """None if ``spans`` is a chain of spans from ``site`` to ``region``, else what is wrong."""
    at = site
    seen = {site}
    for e in spans:
        if e not in sc.spans.index:
            return f"unknown span {e}"
        a, b = sc.spans.at[e, "a"], sc.spans.at[e, "b"]
        if at == a:
            at = b
        elif at == b:
            at = a
        else:
            return f"span {e} does not touch {at}"
        if at in seen:
            return f"route revisits {at}"
        seen.add(at)
    return None if at == region else f"route ends at {at}, not {region}"


def check_plan(plan: Plan, sc: Scenario) -> list[str]:  # noqa: C901 - one check per family
    """Every constraint violated by ``plan`` in scenario ``sc`` (empty list: the plan is valid)."""
    v: list[str] = []
    pl = plan.placements
    wl = sc.workloads
    weeks = list(sc.weeks)
    hours = sc.horizon.hours_per_period
    util = sc.settings.max_link_utilisation

    # ---- coverage: every workload placed or explained, never both; internal placed
    placed = set(pl["lease"])
    unplaced = set(plan.unplaced["lease"])
    for lid in placed - set(wl.index):
        v.append(f"placement of unknown lease {lid}")
    for lid in placed & unplaced:
        v.append(f"lease {lid} is both placed and unplaced")
    for lid in set(wl.index) - placed - unplaced:
        v.append(f"lease {lid} is neither placed nor in the unplaced table")
    for lid, w in wl.iterrows():
        if w["priority"] == "internal" and lid not in placed:
            v.append(f"internal workload {lid} is not placed")
    for _, u in plan.unplaced.iterrows():
        if not str(u["reason"]).strip():
            v.append(f"unplaced lease {u['lease']} has no reason")

    # ---- per lease: replicas, GPUs, span, SKU, sites, term, revenue, route and latency
    gpu_use: dict[tuple[str, int], float] = defaultdict(float)
    up_use: dict[tuple[str, int], float] = defaultdict(float)
    link: dict[tuple[str, int], float] = defaultdict(float)
    agg: dict[tuple[str, int], float] = defaultdict(float)
    pod_site, pod_sku = sc.pods["site"].to_dict(), sc.pods["sku"].to_dict()
    pod_hall = {p: str(h) for p, h in sc.pods["hall"].items()}
    for lid, rows in pl.groupby("lease"):
        if lid not in wl.index:
            continue
        w = wl.loc[lid]
        start, end = _chosen_term(lid, w, rows, v)
        reps = sorted(set(rows["replica"]))
        if reps != list(range(int(w["replicas"]))):
            v.append(f"lease {lid}: replicas {reps}, expected 0..{int(w['replicas']) - 1}")
        rep_sites = []
        for r, rr in rows.groupby("replica"):
            tag = f"lease {lid} replica {r}"
            if int(rr["gpus"].sum()) != int(w["gpus"]):
                v.append(f"{tag}: {int(rr['gpus'].sum())} GPUs placed, lease needs {int(w['gpus'])}")
            if (rr["gpus"] <= 0).any():
                v.append(f"{tag}: a part with no GPUs")
            if rr["pod"].duplicated().any():
                v.append(f"{tag}: a pod listed twice")
            if w["span"] == "pod" and len(rr) != 1:
                v.append(f"{tag}: span=pod but spread over {len(rr)} pods")
            halls_of = sorted({pod_hall[p] for p in rr["pod"] if p in pod_hall})
            if w["span"] == "hall" and len(halls_of) > 1:
                v.append(f"{tag}: span=hall but spread over halls {halls_of}")
            sites = set(rr["site"])
            if len(sites) != 1:
                v.append(f"{tag}: spread over sites {sorted(sites)}")
            site = rr["site"].iat[0]
            rep_sites.append(site)
            parts = list(zip(rr["pod"].tolist(), rr["site"].tolist(), rr["gpus"].astype(float).tolist(), strict=True))
            for pod, at, _ in parts:
                if pod not in pod_site:
                    v.append(f"{tag}: unknown pod {pod}")
                    continue
                if pod_site[pod] != at:
                    v.append(f"{tag}: pod {pod} is not at site {at}")
                if pod_sku[pod] != w["sku"]:
                    v.append(f"{tag}: pod {pod} has {pod_sku[pod]}, lease needs {w['sku']}")
            if w["allowed_sites"] and site not in w["allowed_sites"]:
                v.append(f"{tag}: site {site} not in allowed sites {list(w['allowed_sites'])}")
            if w["residency"] and site in sc.sites.index and not set(w["residency"]) <= set(
                    sc.sites.at[site, "residency"]):
                v.append(f"{tag}: site {site} lacks residency {list(w['residency'])}")
            # route
            egress = float(w["egress_gbps"])
            region = w["region"]
            has_region = isinstance(region, str) and region != ""
            spans = tuple(rr["spans"].iat[0]) if has_region else ()
            if has_region:
                if len({tuple(s) for s in rr["spans"]}) != 1:
                    v.append(f"{tag}: parts of one replica on different routes")
                why = _route_ok(sc, site, region, spans)
                if why:
                    v.append(f"{tag}: route {spans}: {why}")
                else:
                    lat = sum(float(sc.spans.at[e, "latency_ms"]) for e in spans)
                    if abs(lat - float(rr["latency_ms"].iat[0])) > 1e-6:
                        v.append(f"{tag}: latency_ms {rr['latency_ms'].iat[0]:.4f} but the route's is {lat:.4f}")
                    slo = w["latency_slo_ms"]
                    if pd.notna(slo) and lat > float(slo) + TOL:
                        v.append(f"{tag}: latency {lat:.2f} ms > SLO {float(slo):g} ms")
            if abs(float(rr["egress_gbps"].sum()) - egress) > 1e-6 * max(1.0, egress):
                v.append(f"{tag}: egress {rr['egress_gbps'].sum():.3f} Gbps, lease has {egress:g}")
            split = len(rr) > 1
            for wk in range(start, end + 1):
                for pod, _, gpus in parts:
                    gpu_use[(pod, wk)] += gpus
                    extra = sc.settings.interpod_gbps_per_gpu * gpus if split else 0.0
                    up_use[(pod, wk)] += egress * gpus / float(w["gpus"]) + extra
                    if split and pod in pod_hall:  # inter-pod traffic crosses its hall's aggregation
                        agg[(pod_hall[pod], wk)] += extra
                if egress > 0:
                    for e in spans:
                        link[(e, wk)] += egress
        if w["anti_affinity"] and len(set(rep_sites)) != len(rep_sites):
            v.append(f"lease {lid}: anti-affinity broken, replicas share sites {rep_sites}")
        expect = float(w["price_usd_per_gpu_hour"]) * int(w["gpus"]) * int(w["replicas"]) * hours * (end - start + 1)
        refund, worst = _spot_refunds(sc, w, rows, start, end, v, str(lid))
        if abs(float(rows["revenue_usd"].sum()) - (expect - refund)) > 1e-6 * max(1.0, expect):
            v.append(f"lease {lid}: revenue {rows['revenue_usd'].sum():,.2f} but price x GPUs x hours is {expect:,.2f}"
                     f" less expected pre-emption refunds {refund:,.2f}")
        if "worst_case_revenue_usd" in rows and rows["worst_case_revenue_usd"].notna().all():
            got = float(rows["worst_case_revenue_usd"].sum())
            if abs(got - (expect - worst)) > 1e-6 * max(1.0, expect):
                v.append(f"lease {lid}: worst-case revenue {got:,.2f} but every upside leaves {expect - worst:,.2f}")

    api_gpus = _check_apis(plan, sc, v, up_use, link)

    # ---- capacities, week by week
    site_kw: dict[tuple[str, int], float] = defaultdict(float)
    for pod, p in sc.pods.iterrows():
        kw = float(sc.skus.at[p["sku"], "server_kw_per_gpu"]) * float(sc.sites.at[p["site"], "pue"])
        held = sc.reserved_gpus.loc[pod].astype(float).to_dict()
        for wk in weeks:
            reserved = held[wk]
            used = reserved + gpu_use.get((pod, wk), 0.0) + api_gpus.get((pod, wk), 0.0)
            if used > p["gpus"] + TOL:
                v.append(f"pod {pod} week {wk}: {used:,.0f} GPUs in use (internal {reserved:,.0f}, APIs "
                         f"{api_gpus.get((pod, wk), 0.0):,.0f}) > {p['gpus']:,}")
            if up_use.get((pod, wk), 0.0) > p["uplink_gbps"] * (1 + TOL):
                v.append(f"pod {pod} week {wk}: uplink {up_use[(pod, wk)]:,.1f} Gbps > {p['uplink_gbps']:,.1f}")
            site_kw[(p["site"], wk)] += used * kw
    for site in sc.sites.index:
        for wk in weeks:
            mw = site_kw.get((site, wk), 0.0) / 1000.0
            avail = float(sc.site_power_mw.at[site, wk])
            if mw > avail * (1 + TOL):
                v.append(f"site {site} week {wk}: {mw:,.2f} MW drawn > {avail:,.2f} MW available")
    for (hall, wk), gbps in agg.items():
        cap = float(sc.halls.at[hall, "aggregation_gbps"]) if hall in sc.halls.index else float("inf")
        if gbps > cap * (1 + TOL):
            v.append(f"hall {hall} week {wk}: aggregation {gbps:,.1f} Gbps > {cap:,.1f}")
    for (e, wk), gbps in link.items():
        cap = float(sc.spans.at[e, "capacity_gbps"]) * util
        if gbps > cap * (1 + TOL):
            v.append(f"span {e} week {wk}: {gbps:,.1f} Gbps > {cap:,.1f} ({util:.0%} of capacity)")

    _check_worst_case(plan, sc, v, api_gpus)

    # ---- the derived tables agree with the recomputation
    lu = plan.link_use.set_index(["span", "week"])["gbps"]
    for key, val in lu.items():
        if abs(float(val) - link.get(key, 0.0)) > 1e-6 * max(1.0, float(val)):
            v.append(f"link_use {key}: {val} Gbps but placements give {link.get(key, 0.0)}")
    hu = plan.hall_use.set_index(["hall", "week"])["interpod_gbps"]
    for key, val in hu.items():
        if abs(float(val) - agg.get(key, 0.0)) > 1e-6 * max(1.0, float(val)):
            v.append(f"hall_use {key}: {val} Gbps inter-pod but placements give {agg.get(key, 0.0)}")
    su = plan.site_use.set_index(["site", "week"])["power_mw"]
    for key, val in su.items():
        if abs(float(val) - site_kw.get(key, 0.0) / 1000.0) > 1e-6 * max(1.0, float(val)):
            v.append(f"site_use {key}: power {val} MW but placements give {site_kw.get(key, 0.0) / 1000:.6f}")
    return v


def _chosen_term(lid: object, w: pd.Series, rows: pd.DataFrame, v: list[str]) -> tuple[int, int]:
    """The term a lease's placement rows give (one for all of them), checked against the lease book.

    A fixed term must be the book's; a lease with a start window (``latest_start`` after
    ``start_week``) may start in any week of it, for the book's number of weeks.
    """
    terms = sorted({(int(a), int(b)) for a, b in zip(rows["start_week"], rows["end_week"], strict=True)})
    if len(terms) != 1:
        v.append(f"lease {lid}: placement rows give different terms {terms}")
    start, end = terms[0]
    first, last = int(w["start_week"]), int(w["end_week"])
    latest = w.get("latest_start")
    latest = first if latest is None or pd.isna(latest) else int(latest)
    if latest <= first:
        if (start, end) != (first, last):
            v.append(f"lease {lid}: term {start}-{end} differs from the lease's {first}-{last}")
        return start, end
    if not first <= start <= latest:
        v.append(f"lease {lid}: starts in week {start}, outside its start window {first}-{latest}")
    if end - start != last - first:
        v.append(f"lease {lid}: term {start}-{end} runs {end - start + 1} weeks, the lease {last - first + 1}")
    return start, end


def _spot_refunds(sc: Scenario, w: pd.Series, rows: pd.DataFrame, start: int, end: int, v: list[str],
                  lid: str) -> tuple[float, float]:
    """A lease's expected and worst-case pre-emption refunds (0, 0 unless spot); checks its rows' weeks pre-empted.

    Internal work takes a spot lease's GPUs in a pod back in every week an upside reaches
    that pod (``sc.upside_chance`` > 0); each such week refunds ``spot_refund_factor`` of it.
    """
    if w["priority"] != "spot" or sc.upside_chance is None:
        return 0.0, 0.0
    week_usd = float(w["price_usd_per_gpu_hour"]) * sc.horizon.hours_per_period * sc.settings.spot_refund_factor
    expected = worst = 0.0
    for row in rows.to_dict("records"):
        if row["pod"] not in sc.upside_chance.index:
            continue
        chance = sc.upside_chance.loc[row["pod"]].astype(float).to_dict()
        chances = [chance[wk] for wk in range(start, end + 1)]
        expected += week_usd * float(row["gpus"]) * sum(chances)
        worst += week_usd * float(row["gpus"]) * sum(1 for c in chances if c > 0)
        said = row.get("expected_weeks_preempted")
        if said is not None and pd.notna(said) and abs(float(said) - sum(chances)) > 1e-6:
            v.append(f"lease {lid} pod {row['pod']}: {float(said):.4f} weeks pre-empted expected, "
                     f"but the upside's chances give {sum(chances):.4f}")
    return expected, worst


def _check_worst_case(plan: Plan, sc: Scenario, v: list[str], api_gpus: dict[tuple[str, int], float]) -> None:
    """Committed leases, API replicas and internal work fit the worst case of internal demand (every upside happens).

    Spot leases are not counted: internal work pre-empts them (they fit the base case,
    checked with every lease above). API replicas are never pre-empted.
    """
    if sc.upside_gpus is None:
        return
    pl = plan.placements
    firm: dict[tuple[str, int], float] = defaultdict(float, api_gpus)
    priority = sc.workloads["priority"].to_dict()
    for row in pl[["lease", "pod", "gpus", "start_week", "end_week"]].to_dict("records"):
        lid = row["lease"]
        if lid not in priority or priority[lid] == "spot":
            continue
        for wk in range(int(row["start_week"]), int(row["end_week"]) + 1):
            firm[(row["pod"], wk)] += float(row["gpus"])
    site_kw: dict[tuple[str, int], float] = defaultdict(float)
    for pod, p in sc.pods.iterrows():
        kw = float(sc.skus.at[p["sku"], "server_kw_per_gpu"]) * float(sc.sites.at[p["site"], "pue"])
        held = sc.reserved_gpus.loc[pod].astype(float).to_dict()
        upside = sc.upside_gpus.loc[pod].astype(float).to_dict() if pod in sc.upside_gpus.index else {}
        for wk in sc.weeks:
            internal = held[wk] + upside.get(wk, 0.0)
            used = internal + firm.get((pod, wk), 0.0)
            if firm.get((pod, wk), 0.0) > 0 and used > p["gpus"] + TOL:
                v.append(f"pod {pod} week {wk}: committed leases hold {firm[(pod, wk)]:,.0f} GPUs but internal work "
                         f"may take {internal:,.0f} of {p['gpus']:,} (every upside): only spot may use that capacity")
            site_kw[(p["site"], wk)] += used * kw
    for (site, wk), kw_used in site_kw.items():
        avail = float(sc.site_power_mw.at[site, wk])
        if kw_used / 1000.0 > avail * (1 + TOL):
            v.append(f"site {site} week {wk}: {kw_used / 1000:,.2f} MW drawn if every upside of internal work "
                     f"happens > {avail:,.2f} MW available (committed leases plan for the worst case)")


def _check_apis(plan: Plan, sc: Scenario, v: list[str], up_use: dict[tuple[str, int], float],  # noqa: C901
                link: dict[tuple[str, int], float]) -> dict[tuple[str, int], float]:  # one rule at a time
    """Every API rule, from the plan's API tables; adds API uplink and span traffic to ``up_use`` and ``link``.

    Returns the API GPUs per (pod, week), for the GPU and power checks.
    """
    dem, cat = sc.api_demand, sc.api_models
    use, routes, reps = plan.api_use, plan.api_routes, plan.api_replicas
    gpus: dict[tuple[str, int], float] = defaultdict(float)
    if dem.empty:
        for name, table in (("api_use", use), ("api_routes", routes), ("api_replicas", reps)):
            if len(table):
                v.append(f"{name} has {len(table)} rows but the scenario has no API demand")
        return gpus
    hours = sc.horizon.hours_per_period
    rate = sc.settings.transport_usd_per_gbps_km_week
    totals = {"revenue_usd": 0.0, "power_usd": 0.0, "transport_usd": 0.0, "start_usd": 0.0, "tokens_served": 0.0,
              "gpu_hours": 0.0}
    model_bits: dict[str, float] = {}
    for _, d in dem.iterrows():
        b = 8.0 * max(float(d["bytes_in_per_token"]), float(d["bytes_out_per_token"]))
        model_bits[d["model"]] = max(model_bits.get(d["model"], 0.0), b)

    # ---- routes: known stream and week, a real route from the site, within the budget; traffic and cost
    served: dict[tuple[str, int], float] = defaultdict(float)
    served_from: dict[tuple[str, str, int], float] = defaultdict(float)
    for _, r in routes.iterrows():
        sid, wk, site = r["stream"], int(r["week"]), r["site"]
        tag = f"api route {sid} week {wk} from {site}"
        if sid not in dem.index:
            v.append(f"{tag}: unknown stream")
            continue
        d = dem.loc[sid]
        x = float(r["served_tokens_per_s"])
        if x < -TOL:
            v.append(f"{tag}: negative tokens served {x}")
        if not int(d["start_week"]) <= wk <= int(d["end_week"]):
            v.append(f"{tag}: outside the stream's weeks {int(d['start_week'])}-{int(d['end_week'])}")
        if site not in sc.sites.index:
            v.append(f"{tag}: unknown site")
            continue
        spans = tuple(r["spans"])
        why = _route_ok(sc, site, d["region"], spans)
        if why:
            v.append(f"{tag}: route {spans}: {why}")
            continue
        lat = sum(float(sc.spans.at[e, "latency_ms"]) for e in spans)
        km = sum(float(sc.spans.at[e, "length_km"]) for e in spans)
        if abs(lat - float(r["latency_ms"])) > 1e-6:
            v.append(f"{tag}: latency_ms {float(r['latency_ms']):.4f} but the route's is {lat:.4f}")
        if lat > float(d["network_budget_ms"]) + TOL:
            v.append(f"{tag}: latency {lat:.2f} ms > network budget {float(d['network_budget_ms']):g} ms")
        bits = 8.0 * max(float(d["bytes_in_per_token"]), float(d["bytes_out_per_token"]))
        gbps = x * bits / 1e9
        if abs(gbps - float(r["gbps"])) > 1e-9 * max(1.0, gbps):
            v.append(f"{tag}: {float(r['gbps'])} Gbps but {x:,.0f} tokens/s x {bits:g} bits are {gbps} Gbps")
        cost = gbps * km * rate
        if abs(cost - float(r["transport_usd"])) > 1e-6 * max(1.0, cost):
            v.append(f"{tag}: transport ${float(r['transport_usd']):,.4f} but Gbps x km x rate is ${cost:,.4f}")
        totals["transport_usd"] += cost
        for e in spans:
            link[(e, wk)] += gbps
        served[(sid, wk)] += x
        served_from[(d["model"], site, wk)] += x

    # ---- use: one row per (stream, week) of its term; served <= demand; revenue
    seen = set()
    for _, u in use.iterrows():
        sid, wk = u["stream"], int(u["week"])
        tag = f"api use {sid} week {wk}"
        if sid not in dem.index:
            v.append(f"{tag}: unknown stream")
            continue
        seen.add((sid, wk))
        d = dem.loc[sid]
        peak, avg = float(d["peak_tokens_per_s"]), float(d["avg_tokens_per_s"])
        x = float(u["served_tokens_per_s"])
        if abs(x - served.get((sid, wk), 0.0)) > 1e-6 * max(1.0, x):
            v.append(f"{tag}: {x:,.1f} tokens/s served but its routes carry {served.get((sid, wk), 0.0):,.1f}")
        if served.get((sid, wk), 0.0) > peak * (1 + TOL) + TOL:
            v.append(f"{tag}: {served[(sid, wk)]:,.1f} tokens/s served > demand {peak:,.1f}")
        if abs(float(u["demand_tokens_per_s"]) - peak) > TOL:
            v.append(f"{tag}: demand {float(u['demand_tokens_per_s']):,.1f} but the stream's peak is {peak:,.1f}")
        rev = served.get((sid, wk), 0.0) * avg / peak * hours * 3600.0 * float(d["price_usd_per_mtok"]) / 1e6
        if abs(rev - float(u["revenue_usd"])) > 1e-6 * max(1.0, rev):
            v.append(f"{tag}: revenue ${float(u['revenue_usd']):,.2f} but tokens served x price is ${rev:,.2f}")
        if x < peak - 1e-6 and not str(u["reason"]).strip():
            v.append(f"{tag}: {peak - x:,.1f} tokens/s unserved without a reason")
        totals["revenue_usd"] += rev
        totals["tokens_served"] += served.get((sid, wk), 0.0) * avg / peak * hours * 3600.0
    for sid, d in dem.iterrows():
        for wk in range(int(d["start_week"]), int(d["end_week"]) + 1):
            if (sid, wk) not in seen:
                v.append(f"api use: no row for stream {sid} week {wk}")

    # ---- replicas: known pod and deployment, GPUs, throughput, starts, power
    by_key: dict[tuple[str, str, int], int] = {}
    capacity: dict[tuple[str, str, int], float] = defaultdict(float)
    for _, r in reps.iterrows():
        m, pod, wk, n = r["model"], r["pod"], int(r["week"]), int(r["replicas"])
        tag = f"api replicas {m} pod {pod} week {wk}"
        if pod not in sc.pods.index:
            v.append(f"{tag}: unknown pod")
            continue
        sku, site = sc.pods.at[pod, "sku"], sc.pods.at[pod, "site"]
        if (m, sku) not in cat.index:
            v.append(f"{tag}: model {m} does not run on {sku}")
            continue
        if n < 0 or (m, pod, wk) in by_key:
            v.append(f"{tag}: {n} replicas, or a second row")
        by_key[(m, pod, wk)] = n
        g = n * int(cat.at[(m, sku), "gpus_per_replica"])
        if int(r["gpus"]) != g:
            v.append(f"{tag}: {int(r['gpus'])} GPUs but {n} replicas hold {g}")
        tps = n * float(cat.at[(m, sku), "tokens_per_s"])
        capacity[(m, site, wk)] += tps
        gpus[(pod, wk)] += g
        up_use[(pod, wk)] += tps * model_bits.get(m, 0.0) / 1e9
        kw = g * float(sc.skus.at[sku, "server_kw_per_gpu"]) * float(sc.sites.at[site, "pue"])
        usd = kw / 1000.0 * hours * float(sc.sites.at[site, "power_price_usd_per_mwh"])
        if abs(float(r["power_usd"]) - usd) > 1e-6 * max(1.0, usd):
            v.append(f"{tag}: power ${float(r['power_usd']):,.2f} but {g} GPUs draw ${usd:,.2f} a week")
        totals["power_usd"] += usd
        totals["gpu_hours"] += g * hours
    for (m, pod, wk), n in by_key.items():
        started = max(n - by_key.get((m, pod, wk - 1), 0), 0)
        row = reps[(reps["model"] == m) & (reps["pod"] == pod) & (reps["week"] == wk)].iloc[0]
        if int(row["started"]) != started:
            v.append(f"api replicas {m} pod {pod} week {wk}: {int(row['started'])} started but the week before "
                     f"ran {by_key.get((m, pod, wk - 1), 0)} and this one {n}")
        usd = started * float(cat.at[(m, sc.pods.at[pod, "sku"]), "replica_start_usd"])
        if abs(float(row["start_usd"]) - usd) > 1e-6 * max(1.0, usd):
            v.append(f"api replicas {m} pod {pod} week {wk}: start cost ${float(row['start_usd']):,.2f}, "
                     f"{started} starts cost ${usd:,.2f}")
        totals["start_usd"] += usd

    # ---- throughput: served from a site <= its replicas' tokens/s, per model and week
    for (m, site, wk), x in served_from.items():
        if x > capacity.get((m, site, wk), 0.0) * (1 + TOL) + TOL:
            v.append(f"api {m} at {site} week {wk}: {x:,.0f} tokens/s served > its replicas' "
                     f"{capacity.get((m, site, wk), 0.0):,.0f}")

    # ---- the plan's totals
    said = plan.meta.get("api", {})
    totals["net_usd"] = totals["revenue_usd"] - totals["power_usd"] - totals["transport_usd"] - totals["start_usd"]
    for key, val in totals.items():
        got = float(said.get(key, 0.0))
        if abs(got - val) > 1e-6 * max(1.0, abs(val)):
            v.append(f"meta api {key}: {got:,.2f} but the API tables give {val:,.2f}")
    return gpus
