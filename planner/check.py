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
            known = [p for p in rr["pod"] if p in sc.pods.index]
            halls_of = sorted({str(sc.pods.at[p, "hall"]) for p in known})
            if w["span"] == "hall" and len(halls_of) > 1:
                v.append(f"{tag}: span=hall but spread over halls {halls_of}")
            sites = set(rr["site"])
            if len(sites) != 1:
                v.append(f"{tag}: spread over sites {sorted(sites)}")
            site = rr["site"].iat[0]
            rep_sites.append(site)
            for _, row in rr.iterrows():
                pod = row["pod"]
                if pod not in sc.pods.index:
                    v.append(f"{tag}: unknown pod {pod}")
                    continue
                if sc.pods.at[pod, "site"] != row["site"]:
                    v.append(f"{tag}: pod {pod} is not at site {row['site']}")
                if sc.pods.at[pod, "sku"] != w["sku"]:
                    v.append(f"{tag}: pod {pod} has {sc.pods.at[pod, 'sku']}, lease needs {w['sku']}")
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
                for _, row in rr.iterrows():
                    gpu_use[(row["pod"], wk)] += float(row["gpus"])
                    extra = sc.settings.interpod_gbps_per_gpu * float(row["gpus"]) if split else 0.0
                    up_use[(row["pod"], wk)] += egress * float(row["gpus"]) / float(w["gpus"]) + extra
                    if split and row["pod"] in sc.pods.index:  # inter-pod traffic crosses its hall's aggregation
                        agg[(str(sc.pods.at[row["pod"], "hall"]), wk)] += extra
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

    # ---- capacities, week by week
    site_kw: dict[tuple[str, int], float] = defaultdict(float)
    for pod, p in sc.pods.iterrows():
        kw = float(sc.skus.at[p["sku"], "server_kw_per_gpu"]) * float(sc.sites.at[p["site"], "pue"])
        for wk in weeks:
            reserved = float(sc.reserved_gpus.at[pod, wk])
            used = reserved + gpu_use.get((pod, wk), 0.0)
            if used > p["gpus"] + TOL:
                v.append(f"pod {pod} week {wk}: {used:,.0f} GPUs in use (internal {reserved:,.0f}) > {p['gpus']:,}")
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

    _check_worst_case(plan, sc, v)

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
    for _, row in rows.iterrows():
        if row["pod"] not in sc.upside_chance.index:
            continue
        chances = [float(sc.upside_chance.at[row["pod"], wk]) for wk in range(start, end + 1)]
        expected += week_usd * float(row["gpus"]) * sum(chances)
        worst += week_usd * float(row["gpus"]) * sum(1 for c in chances if c > 0)
        said = row.get("expected_weeks_preempted")
        if said is not None and pd.notna(said) and abs(float(said) - sum(chances)) > 1e-6:
            v.append(f"lease {lid} pod {row['pod']}: {float(said):.4f} weeks pre-empted expected, "
                     f"but the upside's chances give {sum(chances):.4f}")
    return expected, worst


def _check_worst_case(plan: Plan, sc: Scenario, v: list[str]) -> None:
    """Committed leases and internal work fit the worst case of internal demand (every upside happens).

    Spot leases are not counted: internal work pre-empts them (they fit the base case,
    checked with every lease above).
    """
    if sc.upside_gpus is None:
        return
    pl = plan.placements
    firm: dict[tuple[str, int], float] = defaultdict(float)
    for _, row in pl.iterrows():
        lid = row["lease"]
        if lid not in sc.workloads.index or sc.workloads.at[lid, "priority"] == "spot":
            continue
        for wk in range(int(row["start_week"]), int(row["end_week"]) + 1):
            firm[(row["pod"], wk)] += float(row["gpus"])
    site_kw: dict[tuple[str, int], float] = defaultdict(float)
    for pod, p in sc.pods.iterrows():
        kw = float(sc.skus.at[p["sku"], "server_kw_per_gpu"]) * float(sc.sites.at[p["site"], "pue"])
        for wk in sc.weeks:
            internal = float(sc.reserved_gpus.at[pod, wk])
            if pod in sc.upside_gpus.index:
                internal += float(sc.upside_gpus.at[pod, wk])
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
