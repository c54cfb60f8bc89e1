"""Fibre cuts: every conduit and every span, and what each one does to a plan.

:func:`cut_cases` lists the cases: one per shared-risk group (every span in one
conduit fails together) and one per single span (unless a conduit holds just that
span). :func:`evaluate_cut` re-routes a plan's traffic over the fibre that is left
*without moving any lease*: each replica whose route uses a cut span takes the
lowest-latency surviving path with room for its egress in every week of its term
(searched over every surviving path, not only the ``k_paths`` candidates the plan
chose from), in order of lease revenue (highest first), filling spans up to
``max_link_utilisation`` as it goes. It reports the leases that lose their SLO (a path exists but is too slow),
the leases stranded (no path, or no room on any path), the spans that the stranded
traffic would push past their limit, the revenue at risk and the worst added
latency. With ``replan=True`` it also re-optimises the scenario without the cut
spans from the plan, with minimal moves (:func:`replan_cut`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Literal

import networkx as nx
import numpy as np
import pandas as pd

from planner.errors import InfeasibleError
from planner.network import build_network
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.routing import Path, fastest_path, span_graph, widest_path
from planner.scenario import Scenario
from planner.whatif.compare import compare_plans

__all__ = ["Case", "cut_cases", "cut_scenario", "evaluate_cut", "plan_replicas", "replan_cut", "route_nodes",
           "with_move_penalty"]

EPS = 1e-6

Outcome = Literal["rerouted", "slo_lost", "stranded"]


@dataclass(frozen=True)
class Case:
    """One failure case: the spans that fail together.

    Attributes
    ----------
    id
        ``srlg:<conduit>`` or ``span:<span>``.
    kind
        ``"srlg"`` (a whole conduit) or ``"span"`` (one span).
    spans
        The span ids that fail.
    srlgs
        The conduits those spans run in.
    """

    id: str
    kind: Literal["srlg", "span"]
    spans: tuple[str, ...]
    srlgs: tuple[str, ...]

    @property
    def label(self) -> str:
        """``conduit X (spans a, b)`` or ``span a``."""
        if self.kind == "srlg":
            return f"conduit {self.srlgs[0]} ({', '.join(self.spans)})"
        return f"span {self.spans[0]}"


def cut_cases(sc: Scenario) -> list[Case]:
    """Every conduit cut, then every single-span cut not already a conduit cut.

    Conduits come in id order, their spans in the scenario's order; a span whose
    conduit holds only that span gets no second case.

    Examples
    --------
    >>> from planner import load_scenario
    >>> cases = cut_cases(load_scenario())
    >>> cases[0].kind, len({c.id for c in cases}) == len(cases)
    ('srlg', True)
    """
    cases: list[Case] = []
    seen: set[frozenset[str]] = set()
    for srlg, group in sc.spans.groupby("srlg", sort=True):
        ids = tuple(str(s) for s in group.index)
        cases.append(Case(f"srlg:{srlg}", "srlg", ids, (str(srlg),)))
        seen.add(frozenset(ids))
    for span, srlg in sc.spans["srlg"].items():
        if frozenset({str(span)}) not in seen:
            cases.append(Case(f"span:{span}", "span", (str(span),), (str(srlg),)))
    return cases


def cut_scenario(sc: Scenario, spans: tuple[str, ...] | list[str]) -> Scenario:
    """The scenario with ``spans`` removed (the fibre after a cut).

    Raises
    ------
    ValueError
        When a span is not in the scenario.
    """
    unknown = [s for s in spans if s not in sc.spans.index]
    if unknown:
        known = ", ".join(map(str, sc.spans.index[:5]))
        msg = f"unknown span(s) {', '.join(unknown)}; use span ids from the topology ({known}...)"
        raise ValueError(msg)
    return replace(sc, spans=sc.spans.drop(index=list(spans)).copy())


# --------------------------------------------------------------------------- the plan's routes
def plan_replicas(plan: Plan) -> pd.DataFrame:
    """One row per placed (lease, replica): site, route spans, egress, latency and term."""
    pl = plan.placements
    if pl.empty:
        return pd.DataFrame(columns=["lease", "replica", "site", "spans", "egress_gbps", "latency_ms", "start_week",
                                     "end_week"])
    return pl.groupby(["lease", "replica"], sort=True).agg(
        site=("site", "first"), spans=("spans", lambda s: tuple(str(x) for x in s.iat[0])),
        egress_gbps=("egress_gbps", "sum"), latency_ms=("latency_ms", "first"),
        start_week=("start_week", "first"), end_week=("end_week", "first")).reset_index()


def route_nodes(sc: Scenario, start: str, spans: tuple[str, ...]) -> tuple[str, ...]:
    """The nodes a route visits, ``start`` first (spans missing from ``sc`` are skipped)."""
    nodes = [start]
    for e in spans:
        if e not in sc.spans.index:
            continue
        a, b = str(sc.spans.at[e, "a"]), str(sc.spans.at[e, "b"])
        nodes.append(b if nodes[-1] == a else a)
    return tuple(nodes)


class _Links:
    """Traffic per span and week, against each span's limit (capacity x max utilisation)."""

    def __init__(self, sc: Scenario) -> None:
        self.pos = {str(s): i for i, s in enumerate(sc.spans.index)}
        self.ids = [str(s) for s in sc.spans.index]
        self.capacity = sc.spans["capacity_gbps"].to_numpy(dtype=float)
        self.limit = self.capacity * sc.settings.max_link_utilisation
        shape = (len(self.ids), sc.horizon.periods)
        self.load = np.zeros(shape)  # carried traffic
        self.overflow = np.zeros(shape)  # stranded traffic that wants its preferred path

    def rows(self, spans: tuple[str, ...]) -> list[int]:
        return [self.pos[e] for e in spans if e in self.pos]

    def add(self, spans: tuple[str, ...], gbps: float, t0: int, t1: int, *, overflow: bool = False) -> None:
        target = self.overflow if overflow else self.load
        for i in self.rows(spans):
            target[i, t0 - 1 : t1] += gbps

    def room(self, t0: int, t1: int) -> dict[str, float]:
        """Room (Gbps) on every span in every week of ``t0..t1``: its limit less its highest load."""
        free = self.limit - self.load[:, t0 - 1 : t1].max(axis=1)
        return dict(zip(self.ids, free.tolist(), strict=True))

    def free(self, spans: tuple[str, ...], t0: int, t1: int) -> float:
        """Smallest room (Gbps) on the path over the term."""
        return self.bottleneck(spans, t0, t1)[0]

    def bottleneck(self, spans: tuple[str, ...], t0: int, t1: int) -> tuple[float, str, int]:
        """The smallest room (Gbps) on the path over the term, the span and the week it is in."""
        rows = self.rows(spans)
        if not rows:
            return math.inf, "", 0
        room = self.limit[rows, None] - self.load[rows, t0 - 1 : t1]
        i, w = np.unravel_index(int(np.argmin(room)), room.shape)
        return float(room[i, w]), self.ids[rows[int(i)]], t0 + int(w)


# --------------------------------------------------------------------------- one case
def evaluate_cut(sc: Scenario, plan: Plan, case: Case, *, replan: bool = False,
                 graph: nx.Graph | None = None, time_limit_s: float = 10.0, seed: int = 0, workers: int = 1,
                 explain: bool = False, move_penalty_usd: float | None = None) -> dict[str, Any]:
    """Re-route ``plan``'s traffic around a cut without moving any lease, and report the damage.

    Parameters
    ----------
    sc
        The scenario the plan was made for.
    plan
        The plan (its placements and routes).
    case
        The spans that fail (see :func:`cut_cases`).
    replan
        Also re-optimise without the cut spans, from the plan, with minimal moves
        (adds the ``replan_*``, ``moved``, ``dropped`` and ``revenue_*`` keys).
    graph
        The scenario's network, when already built.
    time_limit_s, seed, workers, explain
        Passed to :func:`~planner.optimise.optimiser.optimise` for the re-plan.
    move_penalty_usd
        Cost of moving or dropping a lease in the re-plan; ``settings.move_penalty_usd``
        by default. Give more than the lease book's total revenue to make the re-plan
        change as few leases as possible before it looks at value.

    Returns
    -------
    dict
        ``case``, ``kind``, ``spans``, ``srlgs``; ``status`` (``"ok"``) and ``error`` (``""``);
        ``campuses_connected`` (every campus still reaches every other);
        ``replicas_affected`` (routes over a cut span), ``replicas_rerouted`` (within
        SLO, with room), ``replicas_slo_lost`` and ``replicas_stranded`` (these three
        add up to the affected); ``slo_lost`` and ``stranded`` (lease ids: a lease
        with a stranded replica is stranded, else one past its SLO is in ``slo_lost``); ``overloaded_spans``
        (spans the stranded traffic would push past their limit on its preferred path);
        ``peak_span_utilisation`` (carried plus stranded demand over capacity, on the
        spans the re-routing touched); ``revenue_at_risk_usd`` (term revenue of the
        leases that lose their SLO or are stranded); ``worst_added_latency_ms``;
        ``survivable`` (nothing lost or stranded); ``inter_campus_replicas`` (routes
        whose cut span lies between two campuses) and ``inter_campus_survivable``
        (each of them re-routed within its SLO, or stranded -- or carried past its SLO --
        only because spans past the last campus on its fastest way to the PoP are full,
        with room on the way between campuses);
        ``reroutes`` (one record per affected replica: old and new route, outcome,
        ``limited_by`` -- the full span that strands it, or that keeps it off the
        fastest path within its SLO -- and why).

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> plan = greedy(sc, explain=False)
    >>> case = next(c for c in cut_cases(sc) if "NAL-CIN" in c.spans)
    >>> r = evaluate_cut(sc, plan, case)
    >>> r["campuses_connected"], r["inter_campus_survivable"]
    (True, True)
    """
    g = graph if graph is not None else build_network(sc)
    cut = set(case.spans)
    missing = cut - set(map(str, sc.spans.index))
    if missing:
        msg = f"case {case.id}: unknown span(s) {', '.join(sorted(missing))}"
        raise ValueError(msg)
    wl = sc.workloads
    reps = plan_replicas(plan)
    links = _Links(sc)
    affected_mask = reps["spans"].map(lambda s: bool(cut.intersection(s))).to_numpy(dtype=bool)
    for r in reps[~affected_mask].itertuples(index=False):
        if r.egress_gbps > 0 and r.spans:
            links.add(r.spans, float(r.egress_gbps), int(r.start_week), int(r.end_week))
    base_load = links.load.copy()
    affected = reps[affected_mask].copy()
    affected["revenue_usd"] = affected["lease"].map(wl["revenue_usd"]).astype(float)
    affected = affected.sort_values(["revenue_usd", "lease", "replica"], ascending=[False, True, True])

    h = span_graph(g, exclude_spans=cut)
    records = [_reroute(sc, links, h, r, wl.loc[r.lease], cut=cut) for r in affected.itertuples(index=False)]

    stranded = sorted({x["lease"] for x in records if x["outcome"] == "stranded"})
    slo_lost = sorted({x["lease"] for x in records if x["outcome"] == "slo_lost"} - set(stranded))
    at_risk = float(wl.loc[stranded + slo_lost, "revenue_usd"].sum()) if stranded or slo_lost else 0.0
    demand = links.load + links.overflow
    over = (demand > links.limit[:, None] * (1 + EPS) + EPS).any(axis=1)
    touched = (np.abs(demand - base_load) > EPS).any(axis=1)
    util = demand[touched] / links.capacity[touched, None] if touched.any() else np.zeros((0, 1))
    added = [x["added_latency_ms"] for x in records if x["outcome"] != "stranded"]
    inter = [x for x in records if x["inter_campus"]]
    sites = [s for s in map(str, sc.sites.index) if s in h]
    connected = len(sites) <= 1 or all(nx.has_path(h, sites[0], s) for s in sites[1:])
    out: dict[str, Any] = {
        "case": case.id, "kind": case.kind, "spans": case.spans, "srlgs": case.srlgs,
        "status": "ok", "error": "", "campuses_connected": bool(connected),
        "replicas_affected": len(records),
        "replicas_rerouted": sum(x["outcome"] == "rerouted" for x in records),
        "replicas_slo_lost": sum(x["outcome"] == "slo_lost" for x in records),
        "replicas_stranded": sum(x["outcome"] == "stranded" for x in records),
        "slo_lost": tuple(slo_lost), "stranded": tuple(stranded),
        "overloaded_spans": tuple(links.ids[i] for i in np.flatnonzero(over)),
        "peak_span_utilisation": float(util.max()) if util.size else 0.0,
        "revenue_at_risk_usd": at_risk,
        "worst_added_latency_ms": float(max(added)) if added else 0.0,
        "survivable": not stranded and not slo_lost,
        "inter_campus_replicas": len(inter),
        "inter_campus_survivable": all(x["outcome"] == "rerouted" or x["limited_in_tail"] for x in inter),
        "reroutes": records,
    }
    if replan:
        out.update(_replan_summary(sc, plan, case, time_limit_s=time_limit_s, seed=seed, workers=workers,
                                   explain=explain, move_penalty_usd=move_penalty_usd))
    return out


def _crosses_campuses(sc: Scenario, nodes: tuple[str, ...], spans: tuple[str, ...], cut: set[str]) -> bool:
    """Whether a cut span lies between two campuses on a route (inter-campus traffic)."""
    sites = set(map(str, sc.sites.index))
    last_site = max((i for i, n in enumerate(nodes) if n in sites), default=0)
    return any(e in cut and i < last_site for i, e in enumerate(spans))


def _only_tail_full(sc: Scenario, links: _Links, site: str, spans: tuple[str, ...], gbps: float, t0: int,
                    t1: int) -> bool:
    """Whether a route has room for ``gbps`` up to its last campus, and is full only after it (the PoP access)."""
    nodes = route_nodes(sc, site, spans)
    sites = set(map(str, sc.sites.index))
    last_site = max(i for i, n in enumerate(nodes) if n in sites)
    return links.free(spans[:last_site], t0, t1) >= gbps - EPS > links.free(spans[last_site:], t0, t1)


def _reroute(sc: Scenario, links: _Links, h: nx.Graph, r: Any, w: pd.Series, *, cut: set[str]) -> dict[str, Any]:
    """Find one affected replica a new route over the fibre left (``h``); take its capacity (or record its overflow).

    The route is the fastest path whose every span has room for the replica's egress
    in every week of its term (:func:`~planner.routing.fastest_path` over those
    spans): within the SLO it is ``rerouted``, past it ``slo_lost``; with no such
    path at all the replica is ``stranded``, its traffic recorded as overflow on the
    fastest path and its reason naming the widest path's bottleneck.
    """
    site, region = str(r.site), str(w["region"])
    slo = float(w["latency_slo_ms"]) if pd.notna(w["latency_slo_ms"]) else math.inf
    egress = float(r.egress_gbps)
    t0, t1 = int(r.start_week), int(r.end_week)
    old_lat = float(r.latency_ms)
    nodes = route_nodes(sc, site, tuple(r.spans))
    rec: dict[str, Any] = {
        "lease": str(r.lease), "replica": int(r.replica), "site": site, "region": region,
        "slo_ms": slo if math.isfinite(slo) else math.nan, "egress_gbps": egress, "start_week": t0, "end_week": t1,
        "revenue_usd": float(w["revenue_usd"]), "old_spans": tuple(r.spans),
        "old_path": " > ".join(nodes), "old_latency_ms": old_lat,
        "inter_campus": _crosses_campuses(sc, nodes, tuple(r.spans), cut),
        "outcome": "stranded", "new_spans": (), "new_path": "", "new_latency_ms": math.nan,
        "added_latency_ms": math.nan, "limited_by": "", "limited_in_tail": False, "why": "",
    }
    fastest = fastest_path(h, site, region)
    if fastest is None:
        rec["why"] = f"no path from {site} to {region} survives the cut"
        return rec
    room = links.room(t0, t1) if egress > 0 else {}
    carry: Path | None = fastest
    if egress > 0:
        carry = fastest_path(h, site, region, usable=lambda e: room[e] >= egress - EPS)
    if carry is None:
        links.add(fastest.spans, egress, t0, t1, overflow=True)
        best = widest_path(h, site, region, room) or fastest
        free, span, week = links.bottleneck(best.spans, t0, t1)
        rec["limited_by"] = span
        rec["limited_in_tail"] = _only_tail_full(sc, links, site, best.spans, egress, t0, t1)
        rec["why"] = (f"no surviving path has {egress:,.0f} Gbps free in weeks {t0}-{t1} "
                      f"(most: {max(free, 0.0):,.0f} Gbps via {best.label}, limited by {span} in week {week})")
        return rec
    outcome: Outcome = "rerouted" if carry.latency_ms <= slo + EPS else "slo_lost"
    if outcome == "slo_lost" and fastest.latency_ms <= slo + EPS:  # the fast path is there, but full
        rec["limited_by"] = links.bottleneck(fastest.spans, t0, t1)[1]
        rec["limited_in_tail"] = _only_tail_full(sc, links, site, fastest.spans, egress, t0, t1)
    links.add(carry.spans, egress, t0, t1)
    rec.update(outcome=outcome, new_spans=carry.spans, new_path=carry.label, new_latency_ms=carry.latency_ms,
               added_latency_ms=carry.latency_ms - old_lat)
    if outcome == "slo_lost":
        rec["why"] = (f"fastest surviving path {fastest.label} takes {fastest.latency_ms:.2f} ms > SLO {slo:g} ms"
                      if fastest.latency_ms > slo + EPS else
                      f"no surviving path within SLO {slo:g} ms has {egress:,.0f} Gbps free in weeks {t0}-{t1} "
                      f"(fastest: {fastest.label}, {fastest.latency_ms:.2f} ms); carried via {carry.label}, "
                      f"{carry.latency_ms:.2f} ms")
    return rec


# --------------------------------------------------------------------------- re-plan
def with_move_penalty(sc: Scenario, move_penalty_usd: float | None) -> Scenario:
    """``sc`` with another ``settings.move_penalty_usd`` (``sc`` itself when ``None``)."""
    if move_penalty_usd is None:
        return sc
    return replace(sc, settings=sc.settings.model_copy(update={"move_penalty_usd": float(move_penalty_usd)}))


def replan_cut(sc: Scenario, plan: Plan, case: Case, *, time_limit_s: float = 10.0, seed: int = 0,
               workers: int = 1, explain: bool = False,
               move_penalty_usd: float | None = None) -> tuple[Scenario, Plan]:
    """Re-optimise without the cut spans, from ``plan``, moving as few leases as possible.

    Each lease moved or dropped costs ``move_penalty_usd`` (``settings.move_penalty_usd``
    by default), so the re-plan keeps every lease that still fits where it is
    unless moving it earns more than that.

    Returns
    -------
    scenario, plan
        The scenario after the cut and the new plan (``plan.check(scenario)`` is empty).

    Raises
    ------
    InfeasibleError
        When internal workloads no longer fit.
    """
    sc_cut = with_move_penalty(cut_scenario(sc, case.spans), move_penalty_usd)
    new = optimise(sc_cut, time_limit_s=time_limit_s, seed=seed, workers=workers, previous_plan=plan,
                   deterministic=True, explain=explain)
    return sc_cut, new


def _replan_summary(sc: Scenario, plan: Plan, case: Case, **kw: Any) -> dict[str, Any]:
    empty: dict[str, Any] = {"replan_status": "", "replan_error": "", "replan_gap": math.nan, "moved": (),
                             "dropped": (), "revenue_before_usd": plan.revenue_usd, "revenue_after_usd": math.nan,
                             "revenue_kept_usd": math.nan, "replan_violations": ()}
    try:
        sc_cut, new = replan_cut(sc, plan, case, **kw)
    except InfeasibleError as exc:
        return {**empty, "replan_status": "INFEASIBLE", "replan_error": "; ".join(exc.reasons)}
    except RuntimeError as exc:  # CP-SAT found no plan in the time limit
        return {**empty, "replan_status": "UNKNOWN", "replan_error": str(exc)}
    diff = compare_plans(plan, new)
    return {**empty, "replan_status": new.status, "replan_gap": new.gap, "moved": diff.moved,
            "dropped": diff.dropped, "revenue_after_usd": new.revenue_usd, "revenue_kept_usd": diff.revenue_kept_usd,
            "replan_violations": tuple(new.check(sc_cut))}
