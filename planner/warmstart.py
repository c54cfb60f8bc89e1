"""Warm starts for CP-SAT: greedy plans, plain and guided by the LP relaxation, then polished.

The LP relaxation of the placement model (with its counting cuts) is solved once;
its values say which site, route and pods each lease leans to. Greedy is run in
price order without and with that guidance (in two orders: by the share of each
lease the LP carries, and with every lease it carries a quarter of or more first),
each result is polished by ejection moves, and the best becomes the hint. The LP
optimum is also a true upper bound.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from planner.budget import Budget
from planner.fit import Guide, ReplicaFit, Residual
from planner.instance import Instance, LeaseOptions
from planner.lp import LpResult, lp_relaxation
from planner.model import PlacementModel
from planner.relax import SiteRelaxation, site_relaxation
from planner.search import net_value, polish

__all__ = ["CARRIED_SHARE", "LpKind", "WarmStart", "confined_start", "greedy_pass", "lp_guide", "plan_value",
           "price_order", "warm_start"]

log = logging.getLogger(__name__)


@dataclass
class WarmStart:
    """The best starting plan found, how it was found, and the LP bound."""

    fits: dict[str, list[ReplicaFit]]
    residual: Residual
    value_usd: float
    method: str
    lp: LpResult | None
    wall_s: float
    relaxation: SiteRelaxation | None = None

    @property
    def bound(self) -> tuple[float, str] | None:
        """The relaxation's optimum (a true upper bound, in the model's units) and its name, if solved."""
        return _relaxation_bound(self.lp, self.relaxation)


def _relaxation_bound(lp: LpResult | None, rel: SiteRelaxation | None) -> tuple[float, str] | None:
    if lp is not None and lp.status == "OPTIMAL":
        return lp.objective, "lp relaxation"
    if rel is not None and rel.status == "OPTIMAL":
        return rel.bound_usd, "site lp relaxation"
    return None


def lp_guide(m: PlacementModel, lp: LpResult) -> tuple[Guide, dict[str, float]]:
    """Site, route and pod preferences of every lease from the LP values, and its LP ``placed`` value."""
    inst = m.inst
    v = lp.values
    site: dict[str, dict[int, float]] = {}
    path: dict[str, dict[str, float]] = {}
    pod: dict[str, dict[int, float]] = {}
    placed: dict[str, float] = {}
    for lo in inst.leases:
        if lo.lease not in m.placed:
            continue
        placed[lo.lease] = float(v[m.placed[lo.lease].index])
        unit = 1.0 if lo.span == "pod" else 1.0 / lo.gpus
        pods = {p: float(sum(v[m.x[(lo.lease, r, p)].index] for r in range(lo.replicas))) * unit
                for s in m.sites(lo) for p in m.pods(lo, s)}
        pod[lo.lease] = pods
        site[lo.lease] = {s: sum(pods[p] for p in m.pods(lo, s)) for s in m.sites(lo)}
        if lo.needs_path:
            path[lo.lease] = {pth.path_id: float(sum(v[m.route[(lo.lease, r, s, k)].index]
                                                     for r in range(lo.replicas)))
                              for s in m.sites(lo) for k, pth in enumerate(lo.paths[s])}
    return Guide(site, path, pod), placed


def greedy_pass(inst: Instance, order: list[LeaseOptions], guide: Guide | None = None
                ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str]]:
    """First fit in ``order``; leases that lose money are skipped. Returns fits, residual, failed internal ids."""
    return _fill(inst, order, Residual(inst, guide))


def _fill(inst: Instance, order: list[LeaseOptions], res: Residual
          ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str]]:
    fits: dict[str, list[ReplicaFit]] = {}
    failed: list[str] = []
    for lo in order:
        got = res.fit(lo)
        if got is None:
            if lo.internal:
                failed.append(lo.lease)
            continue
        if not lo.internal and net_value(inst, lo, got) <= 0:
            continue
        res.apply(lo, got)
        fits[lo.lease] = got
    return fits, res, failed


CARRIED_SHARE = 0.25
"""A lease an LP relaxation carries at least this share of counts as carried by it (see :func:`price_order`)."""


def price_order(inst: Instance, lp_placed: dict[str, float] | None = None, *,
                carried_at: float | None = None) -> list[LeaseOptions]:
    """Internal work first (largest first), then leases by price per GPU-hour, those an LP carries first.

    With ``lp_placed`` (the share of each lease an LP relaxation carries) leases come
    by that share, highest first, then by price; with ``carried_at`` too, every lease
    carried at least that much comes first, alike, by price -- which keeps a dear lease
    the LP splits from waiting behind cheap whole ones (on the generated medium and
    large tiers it gives better greedy plans; on hyperscale, worse).
    """
    def key(lo: LeaseOptions) -> tuple[int, float, float, int, str]:
        price = lo.revenue_usd / max(lo.gpus * lo.replicas * lo.weeks, 1)
        share = lp_placed.get(lo.lease, 0.0) if lp_placed is not None else 0.0
        lean = -float(share >= carried_at) if carried_at is not None else -round(share, 3)
        first = -lo.gpus * lo.replicas if lo.internal else -price
        return (0 if lo.internal else 1, lean, first, lo.gpus, lo.lease)
    return sorted(inst.leases, key=key)


def kept_in_place(inst: Instance, keep: dict[str, list[ReplicaFit]]) -> tuple[dict[str, list[ReplicaFit]], Residual]:
    """An earlier plan's placements that still fit, each replica re-routed over today's paths."""
    res = Residual(inst)
    fits: dict[str, list[ReplicaFit]] = {}
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid in sorted(keep, key=lambda k: (not by_id[k].internal, -by_id[k].revenue_usd) if k in by_id else (1, 0)):
        lo = by_id.get(lid)
        if lo is None:
            continue
        routed = []
        for f in keep[lid]:
            same = None if f.path is None else next(
                (p for p in lo.paths.get(f.site, []) if p.spans == f.path.spans), None)
            path = same if same is not None else res.route(lo, f.site)
            if path is False:
                break
            routed.append(ReplicaFit(f.site, f.parts, path))
        if len(routed) == len(keep[lid]) and res.holds(lo, routed):
            res.apply(lo, routed)
            fits[lid] = routed
    return fits, res


def confined_start(inst: Instance, fits: dict[str, list[ReplicaFit]], sites: dict[str, set[int]],
                   lp_placed: dict[str, float] | None = None) -> dict[str, list[ReplicaFit]]:
    """A plan with every lease at its ``sites`` only: ``fits`` less the leases elsewhere, then filled up greedily.

    Leases left out or dropped are tried again in :func:`price_order` (by
    ``lp_placed``), each confined to the pods of its own ``sites`` (a lease without
    an entry has none).
    """
    kept = {lid: fs for lid, fs in fits.items() if all(f.site in sites.get(lid, ()) for f in fs)}
    res = Residual.after(inst, kept)
    rest = [dataclasses.replace(lo, pods={s: ps for s, ps in lo.pods.items() if s in sites.get(lo.lease, ())})
            for lo in price_order(inst, lp_placed) if lo.lease not in kept]
    more, _, _ = _fill(inst, rest, res)
    return kept | more


LpKind = Literal["pods", "sites", "none"]


def warm_start(m: PlacementModel | Instance, *, lp: LpKind = "pods", budget: Budget | None = None,
               keep: dict[str, list[ReplicaFit]] | None = None,
               on_plan: Callable[[float, float | None], None] | None = None,
               stop: threading.Event | None = None,
               where: dict[str, dict[int, list[int]]] | None = None) -> WarmStart:
    """The best of the plain and the LP-guided greedy plans, each polished.

    ``lp`` chooses the relaxation that guides the second pass (and gives a bound):
    the model's own (``"pods"``), the smaller site-level one of :mod:`planner.relax`
    (``"sites"``, the only one available when ``m`` is an instance, not a model), or
    none. With ``keep`` (an earlier plan's placements, when re-planning) the start is
    that plan wherever it still fits, filled up greedily, and not polished: polishing
    moves leases, which re-planning avoids. ``budget`` sets the local search's and the
    LP's limits (a deterministic one by default: moves counted, the wall clock a safety
    stop only, recorded in it when it fires); ``on_plan`` is called with the value of
    each better plan as it is found, and the relaxation's bound once it is known;
    ``stop`` cuts the local search short; ``where`` passes on each lease's usable pods,
    if already worked out.
    """
    t = time.perf_counter()
    budget = budget if budget is not None else Budget(60.0, deterministic=True)
    inst = m if isinstance(m, Instance) else m.inst
    best = -float("inf")
    pod_lp: LpResult | None = None
    rel: SiteRelaxation | None = None

    def found(value: float) -> None:
        nonlocal best
        if value > best + 1e-6:
            best = value
            if on_plan is not None:
                known = _relaxation_bound(pod_lp, rel)
                on_plan(value, None if known is None else known[0])

    if keep:
        fits, res = kept_in_place(inst, keep)
        rest = [lo for lo in price_order(inst) if lo.lease not in fits]
        more, res, _ = _fill(inst, rest, res)
        fits |= more
        found(plan_value(inst, fits))
    else:
        fits, res, _ = greedy_pass(inst, price_order(inst))
        found(plan_value(inst, fits))
    if lp == "pods" and isinstance(m, PlacementModel):
        limit = budget.lp("lp relaxation")
        pod_lp = lp_relaxation(m.cp, time_limit_s=limit.wall_s)
        if pod_lp.status != "OPTIMAL":
            budget.ended(limit, wall_s=pod_lp.wall_s)
    elif lp != "none":
        limit = budget.lp("site lp relaxation")
        rel = site_relaxation(inst, time_limit_s=limit.wall_s, where=where)
        if rel.status != "OPTIMAL":
            budget.ended(limit, wall_s=rel.wall_s - rel.build_s)
    if keep:
        return WarmStart(fits, res, plan_value(inst, fits), "previous plan + greedy", pod_lp,
                         time.perf_counter() - t, rel)
    candidates: list[tuple[float, str, dict[str, list[ReplicaFit]], Residual]] = []
    polish_each = rel is None  # the site-level method polishes only the best of its starts, for longer
    step = _polish_step(budget, "warm start polish" if polish_each else "site-level warm start polish", stop)
    if polish_each:
        fits, res = step(inst, fits, res)
    candidates.append((plan_value(inst, fits), "greedy", fits, res))
    found(candidates[-1][0])
    guided: tuple[Guide, dict[str, float]] | None = None
    if pod_lp is not None and pod_lp.status == "OPTIMAL" and isinstance(m, PlacementModel):
        guided = lp_guide(m, pod_lp)
    elif rel is not None and rel.status == "OPTIMAL":
        guided = rel.guide, rel.placed
    elif lp != "none":
        log.warning("LP relaxation not solved; warm start from plain greedy")
    if guided is not None:
        for carried_at, label in ((None, "lp-guided greedy"), (CARRIED_SHARE, "lp-guided greedy, carried first")):
            fits, res, _ = greedy_pass(inst, price_order(inst, guided[1], carried_at=carried_at), guided[0])
            res.guide = None
            if polish_each:
                fits, res = step(inst, fits, res)
            candidates.append((plan_value(inst, fits), label, fits, res))
            found(candidates[-1][0])
    value, method, fits, res = max(candidates, key=lambda c: c[0])
    res.guide = None
    if not polish_each:
        fits, res = step(inst, fits, res)
        value = plan_value(inst, fits)
        found(value)
    return WarmStart(fits, res, value, method, pod_lp, time.perf_counter() - t, rel)


def _polish_step(budget: Budget, name: str, stop: threading.Event | None
                 ) -> Callable[[Instance, dict[str, list[ReplicaFit]], Residual],
                               tuple[dict[str, list[ReplicaFit]], Residual]]:
    """The eviction polish with ``budget``'s limits for the step ``name``."""
    def run(inst: Instance, fits: dict[str, list[ReplicaFit]], res: Residual
            ) -> tuple[dict[str, list[ReplicaFit]], Residual]:
        limit = budget.polish(name)
        timed_out = (lambda: budget.stop_at(name)) if limit.wall_is_safety_stop else None
        return polish(inst, fits, res, time_limit_s=limit.wall_s, max_tries=limit.moves, stop=stop,
                      on_time_out=timed_out)
    return run


def plan_value(inst: Instance, fits: dict[str, list[ReplicaFit]]) -> float:
    """Net value (revenue less power and transport cost) of a set of placements."""
    by_id = {lo.lease: lo for lo in inst.leases}
    return sum(net_value(inst, by_id[k], f) for k, f in fits.items())

