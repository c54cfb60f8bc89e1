"""Why a lease is left out: test relaxations, name the binding family and its numbers.

For each left-out lease we try to fit it alone:

1. into the campus as internal work alone leaves it -- if it does not fit there,
   the lease cannot be carried at all, and relaxing one constraint family at a
   time shows which one blocks it;
2. into what the plan leaves -- if it fits the empty campus but not this, it was
   crowded out, and we name the placed leases on the resources it needed;
3. if it fits what the plan leaves, it is unprofitable (power and transport cost
   more than it pays) or the solver left it out within its optimality gap.
"""

from __future__ import annotations

import math
from collections.abc import Collection

import numpy as np
import pandas as pd

from planner.fit import FAMILIES, Residual, fits_from_placements
from planner.instance import Instance, LeaseOptions
from planner.plan import UNPLACED_COLUMNS
from planner.validate import _weeks_text

__all__ = ["explain_lease", "explain_unplaced", "internal_failure_reasons"]

# Capacity first: when more room alone would admit the lease, that is the reason; relaxing the
# lease's own requirements (SLO, sites, anti-affinity) is then offered as an alternative fix.
_ORDER = ("gpus", "power", "dci", "uplink", "latency", "residency", "anti_affinity")
assert set(_ORDER) == set(FAMILIES)


def _weeks(lo: LeaseOptions, short: np.ndarray) -> str:
    return _weeks_text([lo.t0 + 1 + int(i) for i in np.flatnonzero(short)]) if short.any() else "no week"


def _detail(inst: Instance, res: Residual, lo: LeaseOptions, family: str) -> tuple[str, str]:  # noqa: C901
    """Reason text and fix for ``family`` blocking ``lo`` against ``res``."""
    sites, t = inst.site_ids, slice(lo.t0, lo.t1 + 1)
    sku, g = lo.sku, lo.gpus
    if family == "latency":
        best = min(((p.latency_ms, s) for s in lo.placement_sites for p in lo.all_paths.get(s, [])),
                   default=None)
        if best is None:
            return f"no route from any allowed site to {lo.region}", f"connect a site to {lo.region}"
        ms, s = best
        return (f"latency {sites[s]}→{lo.region} {ms:.1f} ms > SLO {lo.slo_ms:g} ms",
                f"fits with SLO >= {math.ceil(ms * 10) / 10:.1f} ms")
    if family == "residency":
        inside = [sites[s] for s in lo.placement_sites]
        outside = [sites[s] for s in lo.sku_sites
                   if s not in lo.placement_sites and res.fit_replica(lo, s, relax={"residency"}) is not None]
        where = f"restrict it to {', '.join(inside)}, where it does not fit" if inside else "match no site"
        return (f"its allowed sites/residency ({', '.join([*lo.allowed, *lo.residency]) or '-'}) {where}",
                f"allow {' or '.join(outside) or 'another site'}")
    if family == "anti_affinity":
        ok = [sites[s] for s in res.candidate_sites(lo) if res.fit_replica(lo, s) is not None]
        return (f"{lo.replicas} replicas need {lo.replicas} distinct sites; {len(ok)} can carry one "
                f"({', '.join(ok) or 'none'})", f"fits with replicas <= {len(ok)} or without anti-affinity")
    cand = res.candidate_sites(lo, relax=("gpus", "power", "dci", "uplink"))
    if family == "gpus":
        best_free, best_pod, best_short = -1.0, -1, np.zeros(lo.weeks, dtype=bool)
        for s in cand:
            for p in lo.pods[s]:
                f = res.gpu[p, t]
                if f.min() > best_free:
                    best_free, best_pod, best_short = f.min(), p, f < g
        if best_pod < 0:
            return f"no {sku} pod at an eligible site", f"add {sku} pods"
        if best_free >= g:
            return (f"too few pods with {g:,} free {sku} for {lo.replicas} replicas in weeks {lo.t0 + 1}-{lo.t1 + 1}",
                    f"free {g:,} {sku} GPUs in one more pod at an eligible site")
        site_free = max((res.gpu[lo.pods[s], t].sum(axis=0).min() for s in cand), default=0)
        fix = f"fits with <= {int(best_free):,} GPUs per replica"
        if lo.span == "pod" and site_free >= g:
            fix += " or span=site"
        return (f"no pod with {g:,} free {sku} at allowed sites in {_weeks(lo, best_short)} "
                f"(most: {int(best_free):,} in {inst.pod_ids[best_pod]})", fix)
    if family == "power":
        need_mw = g * inst.pod_w_per_gpu[lo.pods[cand[0]][0]] / 1e6 if cand else 0.0
        roomiest = max(cand, key=lambda s: res.power[s, t].min(), default=None)
        if roomiest is None:
            return "no eligible site", "allow more sites"
        head = res.power[roomiest, t] / 1e6
        short = head < need_mw - 1e-9
        return (f"site {sites[roomiest]} has {head.min():,.1f} MW headroom in {_weeks(lo, short)}, "
                f"needs {need_mw:,.1f} MW", f"needs +{need_mw - head.min():,.1f} MW at {sites[roomiest]} in "
                f"{_weeks(lo, short)}")
    if family == "dci":
        best_room, best_path = -1.0, None
        for s in cand:
            for pth in lo.paths.get(s, []):
                room = res.link[pth.span_idx, t].min()
                if room > best_room:
                    best_room, best_path = room, pth
        if best_path is None:
            return f"no route to {lo.region}", f"connect a site to {lo.region}"
        limits = inst.span_limit_mbps[best_path.span_idx, lo.t0]
        if lo.egress_mbps > limits.min():
            k = int(np.argmin(limits))
            narrow = inst.span_ids[best_path.span_idx[k]]
            return (f"egress {lo.egress_gbps:,.0f} Gbps exceeds the limit of span {narrow} "
                    f"({limits[k] / 1000:,.0f} Gbps at {inst.sc.settings.max_link_utilisation:.0%} utilisation)",
                    f"fits with egress <= {limits[k] / 1000:,.0f} Gbps, or more capacity on that span")
        rooms = res.link[best_path.span_idx, t]
        k = int(np.argmin(rooms.min(axis=1)))
        span = inst.span_ids[best_path.span_idx[k]]
        limit = inst.span_limit_mbps[best_path.span_idx[k], lo.t0]
        used = 1 - rooms[k] / max(limit, 1)
        short = rooms[k] < lo.egress_mbps
        return (f"span {span} at {used[short].max() if short.any() else used.max():.0%} of its limit in "
                f"{_weeks(lo, short)}; needs {lo.egress_gbps:,.0f} Gbps",
                f"fits with egress <= {max(best_room, 0) / 1000:,.0f} Gbps")
    # uplink
    best_room, best_pod = -1.0, -1
    for s in cand:
        for p in lo.pods[s]:
            room = res.uplink[p, t].min()
            if room > best_room:
                best_room, best_pod = room, p
    room_gbps = max(best_room, 0) / 1e6
    return (f"pod uplinks full: best {inst.pod_ids[best_pod] if best_pod >= 0 else '-'} has {room_gbps:,.0f} Gbps "
            f"free, needs {lo.egress_gbps:,.0f} Gbps", f"fits with egress <= {room_gbps:,.0f} Gbps")


def _applicable(lo: LeaseOptions) -> list[str]:
    """The families that can bind ``lo`` at all, in reporting order."""
    skip = set()
    if lo.slo_ms is None:
        skip.add("latency")
    if not lo.allowed and not lo.residency:
        skip.add("residency")
    if not lo.anti_affinity or lo.replicas < 2:
        skip.add("anti_affinity")
    if lo.egress_gbps <= 0:
        skip.add("dci")
    if lo.egress_gbps <= 0 and lo.span == "pod":
        skip.add("uplink")
    return [f for f in _ORDER if f not in skip]


def _blocking(res: Residual, lo: LeaseOptions) -> tuple[list[str], str]:
    """Families blocking ``lo`` in ``res``, and how they combine.

    Returns every single family whose relaxation alone admits the lease (joined by
    ``" or "``: relaxing any one is enough); failing that, an irreducible set found
    by a deletion filter (``"+"``: all of them must give).
    """
    fams = _applicable(lo)
    singles = [f for f in fams if res.fit(lo, relax={f}) is not None]
    if singles:
        return singles, " or "
    relax = set(fams)
    if res.fit(lo, relax=relax) is None:
        return fams, "+"
    for f in fams:
        if res.fit(lo, relax=relax - {f}) is not None:
            relax.discard(f)
    return [f for f in fams if f in relax], "+"


def _describe(inst: Instance, res: Residual, lo: LeaseOptions) -> tuple[list[str], str, str, str]:
    """(families, family label, reason, fix) for a lease that does not fit ``res``."""
    fams, how = _blocking(res, lo)
    texts = [_detail(inst, res, lo, f) for f in fams]
    if how == " or ":  # any one relaxation is enough: report the most specific, offer every fix
        return fams, fams[0], texts[0][0], "; or ".join(f for _, f in texts)
    return fams, "+".join(fams), "; ".join(r for r, _ in texts), "; ".join(f for _, f in texts)


def _crowders(inst: Instance, lo: LeaseOptions, placements: pd.DataFrame, families: Collection[str]) -> list[str]:
    """Placed leases overlapping ``lo`` in time on the resources of ``families``, richest first."""
    if placements.empty:
        return []
    overlap = placements[(placements["start_week"] <= lo.t1 + 1) & (placements["end_week"] >= lo.t0 + 1)]
    cand = [inst.site_ids[s] for s in lo.placement_sites]
    mask = pd.Series(False, index=overlap.index)
    if {"gpus", "uplink"} & set(families):
        pods = {inst.pod_ids[p] for s in lo.placement_sites for p in lo.pods[s]}
        mask |= overlap["pod"].isin(pods)
    if "power" in families:
        mask |= overlap["site"].isin(cand)
    if "dci" in families:
        spans = {e for s in lo.placement_sites for p in lo.paths.get(s, []) for e in p.spans}
        mask |= overlap["spans"].map(lambda sp: bool(spans & set(sp)))
    internal = {x.lease for x in inst.leases if x.internal}
    hit = overlap[mask & (overlap["lease"] != lo.lease) & ~overlap["lease"].isin(internal)]
    rev = hit.groupby("lease")["revenue_usd"].sum().sort_values(ascending=False)
    return [str(x) for x in rev.index[:3]]


def explain_lease(inst: Instance, lo: LeaseOptions, res: Residual, base: Residual,
                  placements: pd.DataFrame) -> dict[str, object]:
    """One ``unplaced`` row: family, reason, fix and who crowded it out."""
    row: dict[str, object] = {"lease": lo.lease, "priority": "internal" if lo.internal else "lease", "sku": lo.sku,
                              "gpus": lo.gpus, "replicas": lo.replicas, "start_week": lo.t0 + 1,
                              "end_week": lo.t1 + 1, "revenue_usd": lo.revenue_usd, "crowded_out_by": ()}
    if base.fit(lo) is None:
        _, label, reason, fix = _describe(inst, base, lo)
        row |= {"family": label, "reason": reason, "fix": fix}
        return row
    fits = res.fit(lo)
    if fits is None:
        fams, label, reason, fix = _describe(inst, res, lo)
        who = _crowders(inst, lo, placements, fams)
        by = f" after higher-value leases took the room ({', '.join(who)})" if who else ""
        row |= {"family": label, "reason": reason + by, "fix": fix + (" (or a higher price)" if who else ""),
                "crowded_out_by": tuple(who)}
        return row
    cost = sum(inst.power_cost_usd(lo, p, g) for f in fits for p, g in f.parts) + sum(
        inst.transport_cost_usd(lo, f.path) for f in fits)
    if cost >= lo.revenue_usd:
        row |= {"family": "price", "reason": f"costs ${cost:,.0f} to carry (power + transport) but pays "
                f"${lo.revenue_usd:,.0f}", "fix": f"fits at a price above ${cost / max(lo.revenue_usd, 1e-9):.2f}x "
                "the current one"}
    else:
        row |= {"family": "optimality", "reason": "fits in what the plan leaves; left out within the solver's gap",
                "fix": "run longer (--time-limit) to close the gap"}
    return row


def explain_unplaced(inst: Instance, placements: pd.DataFrame, res: Residual, *, explain: bool = True,
                     base: Residual | None = None) -> pd.DataFrame:
    """The ``unplaced`` table of a plan: one row per left-out lease, with its reason."""
    placed = set(placements["lease"])
    missing = [lo for lo in inst.leases if lo.lease not in placed]
    if not missing:
        return pd.DataFrame(columns=UNPLACED_COLUMNS)
    if base is None:
        base = Residual(inst)
        internal = placements[placements["lease"].isin([lo.lease for lo in inst.leases if lo.internal])]
        fits_by_lease = fits_from_placements(inst, internal)
        for lo in inst.leases:
            fits = fits_by_lease.get(lo.lease)
            if fits is not None:
                base.apply(lo, fits)
    rows = []
    for lo in missing:
        if explain:
            rows.append(explain_lease(inst, lo, res, base, placements))
        else:
            rows.append({"lease": lo.lease, "priority": "lease", "sku": lo.sku, "gpus": lo.gpus,
                         "replicas": lo.replicas, "start_week": lo.t0 + 1, "end_week": lo.t1 + 1,
                         "revenue_usd": lo.revenue_usd, "family": "", "reason": "not explained (explain=False)",
                         "fix": "", "crowded_out_by": ()})
    return pd.DataFrame(rows, columns=UNPLACED_COLUMNS)


def internal_failure_reasons(inst: Instance, leases: list[str]) -> list[str]:
    """Why internal workloads cannot be placed, against the campus with internal reservations only."""
    base = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    out = []
    for lid in leases:
        lo = by_id[lid]
        if base.fit(lo) is None:
            _, _, reason, fix = _describe(inst, base, lo)
            out.append(f"{lid}: {reason} (fix: {fix})")
        else:
            out.append(f"{lid}: fits alone but not beside the other internal workloads and reservations "
                       "(fix: add capacity or lower internal demand)")
    return out
