"""Warm starts for CP-SAT: greedy plans, plain and guided by the LP relaxation, then polished.

The LP relaxation of the placement model (with its counting cuts) is solved once;
its values say which site, route and pods each lease leans to. Greedy is run in
price order without and with that guidance (in two orders: by the share of each
lease the LP carries, and with every lease it carries a quarter of or more first; when
the site-level LP guides, also the leases it carries half or more of, biggest first),
and with any guide the caller brings (:class:`ExtraGuide`: the whole campus's site-level
MIP when leases and APIs are planned apart; in two orders too: by share, and the leases it
chooses biggest first); each result is polished by ejection moves,
and the best becomes the hint (the site-level method polishes only the best, makes room at
sites for the leases the LP carries, trades big leases for the left-out ones that fit in
their place, then keeps its spanning leases and fills its pods again one at a time,
keeping that, traded again, when it is worth more). The LP optimum is also a true upper bound.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from planner.optimise.bounds.pod_lp import LpResult, lp_relaxation
from planner.optimise.bounds.site_lp import SiteRelaxation, site_relaxation
from planner.optimise.budget import POLISH_MOVES, Budget
from planner.optimise.heuristics.api_fill import greedy_with_apis
from planner.optimise.heuristics.greedy import CARRIED_SHARE, fill, greedy_pass, kept_in_place, plan_value, price_order
from planner.optimise.heuristics.make_room import make_room
from planner.optimise.heuristics.pod_fill import pod_fill
from planner.optimise.heuristics.polish import polish
from planner.optimise.heuristics.trade import trade_big
from planner.optimise.instance import Instance
from planner.optimise.model import PlacementModel
from planner.optimise.residual import Guide, ReplicaFit, Residual
from planner.plan import Status

__all__ = ["CHOSEN_SHARE", "WHOLE_SPANS_MAX_INTEGERS", "WHOLE_SPANS_WALL_S", "ExtraGuide", "LpKind", "WarmStart",
           "lp_guide", "warm_start", "whole_span_bound"]

log = logging.getLogger(__name__)

WHOLE_SPANS_WALL_S = 60.0
"""Wall seconds at most for the site-level MIP bound (:func:`whole_span_bound`; 10-25 s on the reference)."""
WHOLE_SPANS_MAX_INTEGERS = 400
"""Integer columns at most for the site-level MIP bound: the reference has 207 (proven in 10-25 s);
the generated medium tier (seed 5) 563, unproven after 120 s."""


TRADE_PASSES = 2
"""Passes of big-lease trades (:func:`~planner.optimise.heuristics.trade.trade_big`) in the site-level warm start."""

CHOSEN_SHARE = 0.5
"""A lease a guide's MIP places at least this share of counts as chosen by it (its biggest-first start)."""


@dataclass(frozen=True)
class ExtraGuide:
    """A relaxation's say on each lease, for one more guided greedy start (see :func:`warm_start`)."""

    label: str
    """How the start is named in the log (``"<label>-guided greedy"``)."""
    guide: Guide
    placed: dict[str, float]
    """Lease id -> share of it the relaxation carries (the greedy's order: highest first, then by price)."""


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
    whole: SiteRelaxation | None = None
    """The site-level relaxation with span=hall and span=site leases whole (a MIP), when solved."""

    @property
    def bound(self) -> tuple[float, str] | None:
        """The tightest relaxation's optimum (a true upper bound, in the model's units) and its name, if solved."""
        return _relaxation_bound(self.lp, self.relaxation, self.whole)


def _relaxation_bound(lp: LpResult | None, rel: SiteRelaxation | None,
                      whole: SiteRelaxation | None = None) -> tuple[float, str] | None:
    if lp is not None and lp.status == Status.OPTIMAL:
        out: tuple[float, str] | None = (lp.objective, "lp relaxation")
    elif rel is not None and rel.status == Status.OPTIMAL:
        out = (rel.bound_usd, "site lp relaxation")
    else:
        out = None
    if whole is not None and math.isfinite(whole.bound_usd) and (out is None or whole.bound_usd < out[0]):
        out = (whole.bound_usd, "site relaxation, whole span=hall/site leases")
    return out


def whole_span_bound(inst: Instance, rel: SiteRelaxation, budget: Budget,
                     where: dict[str, dict[int, list[int]]] | None = None) -> SiteRelaxation | None:
    """The site-level relaxation with span=hall and span=site leases whole, where the LP splits one; else ``None``.

    The LP takes fractions of big training leases (a quarter of a 32,256-GPU lease in
    the weeks its neighbours leave room); the MIP of
    :func:`~planner.optimise.bounds.site_lp.site_relaxation` with ``whole_spans`` places
    them whole or not at all, a tighter true bound (HiGHS's dual bound after at most
    :data:`~planner.optimise.bounds.site_lp.WHOLE_SPANS_NODES` nodes, proven or not). Only
    a bound: the plans stay guided by the LP. Its work is counted in nodes, so a
    deterministic run gives the same bound under any load; the wall clock only stops it
    at :data:`WHOLE_SPANS_WALL_S` (recorded as a safety stop: the bound is then the LP's).
    Skipped where the LP splits no such lease, where more than
    :data:`WHOLE_SPANS_MAX_INTEGERS` of its columns would be integer, and when
    re-planning (:func:`warm_start` with ``keep``).
    """
    split = [lid for lid, x in rel.placed.items() if 1e-6 < x < 1 - 1e-6]
    spans = {lo.lease: lo.span for lo in inst.leases}
    if not any(spans[lid] != "pod" for lid in split):
        return None
    if rel.integers > WHOLE_SPANS_MAX_INTEGERS:
        return None
    limit = budget.lp("site relaxation, whole span=hall/site leases")
    wall = min(limit.wall_s, WHOLE_SPANS_WALL_S)
    whole = site_relaxation(inst, time_limit_s=wall, where=where, whole_spans=True, block_weeks=rel.block_weeks,
                            pooling=rel.pooling)
    if not math.isfinite(whole.bound_usd):
        if limit.wall_is_safety_stop:
            budget.stop_at(limit.step)
        log.info("site relaxation with whole span=hall/site leases not solved (%s); the LP's bound stands",
                 whole.status)
        return None
    return whole


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


LpKind = Literal["pods", "sites", "none"]


def warm_start(m: PlacementModel | Instance, *, lp: LpKind = "pods", budget: Budget | None = None,
               keep: dict[str, list[ReplicaFit]] | None = None,
               on_plan: Callable[[float, float | None], None] | None = None,
               stop: threading.Event | None = None,
               where: dict[str, dict[int, list[int]]] | None = None,
               guides: tuple[ExtraGuide, ...] = (), halls: bool = False, trades: bool = False) -> WarmStart:
    """The best of the plain and the LP-guided greedy plans, each polished.

    ``lp`` chooses the relaxation that guides the second pass (and gives a bound):
    the model's own (``"pods"``), the smaller site-level one of :mod:`planner.optimise.bounds.site_lp`
    (``"sites"``, the only one available when ``m`` is an instance, not a model), or
    none. With ``keep`` (an earlier plan's placements, when re-planning) the start is
    that plan wherever it still fits, filled up greedily, and not polished: polishing
    moves leases, which re-planning avoids. ``budget`` sets the local search's and the
    LP's limits (a deterministic one by default: moves counted, the wall clock a safety
    stop only, recorded in it when it fires); ``on_plan`` is called with the value of
    each better plan as it is found, and the relaxation's bound once it is known;
    ``stop`` cuts the local search short; ``where`` passes on each lease's usable pods,
    if already worked out; each of ``guides`` gives one more guided greedy start (not
    when re-planning). The guides' pods and sites must be ``m``'s (the same campus).
    ``halls``: the polish may clear whole halls for big spanning leases (see
    :func:`~planner.optimise.heuristics.polish.polish`; the site-level method's choice).
    ``trades``: when only the best start is polished, big leases are traded for left-out ones
    after it (:func:`~planner.optimise.heuristics.trade.trade_big`; the site-level method's
    choice: on the reference, whose pod-level search starts from it, the plan came out
    $5.4 M lower, $3,186.1 M against $3,191.5 M).
    """
    t = time.perf_counter()
    budget = budget if budget is not None else Budget(60.0, deterministic=True)
    inst = m if isinstance(m, Instance) else m.inst
    best = -float("inf")
    pod_lp: LpResult | None = None
    rel: SiteRelaxation | None = None
    whole: SiteRelaxation | None = None

    def found(value: float) -> None:
        nonlocal best
        if value > best + 1e-6:
            best = value
            if on_plan is not None:
                known = _relaxation_bound(pod_lp, rel, whole)
                on_plan(value, None if known is None else known[0])

    if keep:
        fits, res = kept_in_place(inst, keep)
        rest = [lo for lo in price_order(inst) if lo.lease not in fits]
        more, res, _ = fill(inst, rest, res, held=fits)
        fits |= more
        found(plan_value(inst, fits))
    else:
        fits, res, _ = greedy_pass(inst, price_order(inst))
        found(plan_value(inst, fits))
    if lp == "pods" and isinstance(m, PlacementModel):
        limit = budget.lp("lp relaxation")
        pod_lp = lp_relaxation(m.cp, time_limit_s=limit.wall_s)
        if pod_lp.status != Status.OPTIMAL:
            budget.ended(limit, wall_s=pod_lp.wall_s)
    elif lp != "none":
        limit = budget.lp("site lp relaxation")
        rel = site_relaxation(inst, time_limit_s=limit.wall_s, where=where)
        if rel.status != Status.OPTIMAL:
            budget.ended(limit, wall_s=rel.wall_s - rel.build_s)
        elif not keep:  # a re-plan (a quote's) keeps the LP's bound: the MIP would add its seconds to every answer
            whole = whole_span_bound(inst, rel, budget, where)
    if keep:
        return WarmStart(fits, res, plan_value(inst, fits), "previous plan + greedy", pod_lp,
                         time.perf_counter() - t, rel, whole)
    candidates: list[tuple[float, str, dict[str, list[ReplicaFit]], Residual]] = []
    polish_each = rel is None  # the site-level method polishes only the best of its starts, for longer
    step = _polish_step(budget, "warm start polish" if polish_each else "site-level warm start polish", stop,
                        halls=halls)
    if polish_each:
        fits, res = step(inst, fits, res)
    candidates.append((plan_value(inst, fits), "greedy", fits, res))
    found(candidates[-1][0])
    if inst.api is not None:
        candidates.append(_with_apis(inst, step if polish_each else None))
        found(candidates[-1][0])
    guided: tuple[Guide, dict[str, float]] | None = None
    if pod_lp is not None and pod_lp.status == Status.OPTIMAL and isinstance(m, PlacementModel):
        guided = lp_guide(m, pod_lp)
    elif rel is not None and rel.status == Status.OPTIMAL:
        guided = rel.guide, rel.placed
    elif lp != "none":
        log.warning("LP relaxation not solved; warm start from plain greedy")
    for label, guide, placed, carried_at, biggest in _guided_starts(guided, guides, lp_biggest=not polish_each):
        fits, res, _ = greedy_pass(inst, price_order(inst, placed, carried_at=carried_at, biggest_first=biggest), guide)
        res.guide = None
        if polish_each:
            fits, res = step(inst, fits, res)
        candidates.append((plan_value(inst, fits), label, fits, res))
        found(candidates[-1][0])
    value, method, fits, res = max(candidates, key=lambda c: c[0])
    res.guide = None
    if not polish_each:
        value, method, fits, res = _polish_best(inst, (value, method, fits, res), step, guided, budget, found,
                                                trades=trades)
    return WarmStart(fits, res, value, method, pod_lp, time.perf_counter() - t, rel, whole)


def _guided_starts(guided: tuple[Guide, dict[str, float]] | None, guides: tuple[ExtraGuide, ...], *,
                   lp_biggest: bool = False) -> list[tuple[str, Guide, dict[str, float], float | None, bool]]:
    """The guided greedy starts: label, guide, placed shares, carried-first share and biggest-first.

    The LP's guide in two orders (by share; every lease carried a quarter or more first, by
    price), with ``lp_biggest`` in a third: the leases it carries half or more of, biggest
    first (when the site-level LP guides -- the site-level method, and the pod-level one
    above :data:`~planner.optimise.optimiser.POD_LP_MAX_PAIRS` pairs -- only the best start
    is polished, so a start costs one greedy pass: 1.4 s at hyperscale); each extra guide (a
    MIP's lease choices) in two: by share, and its chosen leases biggest first (GPU-weeks), as a
    bin packer would place them.

    On the generated hyperscale tier (seed 2) the LP's leases biggest first fill 125.9 M
    GPU-weeks where the by-share orders fill 116.2-116.5 M (the LP: 150.2 M): $78,685.3 M
    before the polish against $76,076.3-76,333.6 M, $79,707.5 M after it against $79,515.4 M.
    Final plans (deterministic 60 s, 2 workers, medium / large / hyperscale seeds 1-3): eight
    of nine as good or better (-0.58 to +1.55 %; ``BENCHMARKS.md``, "The LP's leases biggest first").
    On the 2028 reference
    (deterministic 60 s, seeds 0-3) the biggest-first start of the site MIP's choices took
    the leases' warm start from $3,046.3 M to $3,118.7 M and the plans from $3,159.5 /
    3,181.1 / 3,150.6 / 3,180.6 M to $3,191.0 / 3,170.4 / 3,192.9 / 3,173.3 M
    (``BENCHMARKS.md``, "Every lease whole in the site MIP").
    """
    starts: list[tuple[str, Guide, dict[str, float], float | None, bool]] = []
    if guided is not None:
        starts += [("lp-guided greedy", *guided, None, False),
                   ("lp-guided greedy, carried first", *guided, CARRIED_SHARE, False)]
        if lp_biggest:
            starts.append(("lp-guided greedy, carried biggest first", *guided, CHOSEN_SHARE, True))
    for g in guides:
        starts += [(f"{g.label}-guided greedy", g.guide, g.placed, None, False),
                   (f"{g.label}-guided greedy, chosen biggest first", g.guide, g.placed, CHOSEN_SHARE, True)]
    return starts


Start = tuple[float, str, dict[str, list[ReplicaFit]], Residual]


def _polish_best(inst: Instance, best: Start, step: Callable[[Instance, dict[str, list[ReplicaFit]], Residual],
                                                             tuple[dict[str, list[ReplicaFit]], Residual]],
                 guided: tuple[Guide, dict[str, float]] | None, budget: Budget, found: Callable[[float], None],
                 *, trades: bool = False) -> Start:
    """The site-level method's best start polished, room made at a site for the leases the LP carries
    (:func:`~planner.optimise.heuristics.make_room.make_room`), with ``trades`` big leases traded for
    left-out ones (:func:`~planner.optimise.heuristics.trade.trade_big`), then its pods refilled
    (:func:`_pod_fill_start`) if that pays, and with ``trades`` traded again."""
    _, method, fits, res = best
    fits, res = step(inst, fits, res)
    value = plan_value(inst, fits)
    if guided is not None:
        limit = budget.polish("make room")
        timed_out = (lambda: budget.stop_at("make room")) if limit.wall_is_safety_stop else None
        fits, res, _ = make_room(inst, fits, res, guided[1], max_moves=limit.moves or POLISH_MOVES,
                                 time_limit_s=limit.wall_s, on_time_out=timed_out)
        value, method = _better(inst, fits, value, method, "room made at sites")
        if trades:
            fits, res = _trade(inst, fits, res, guided[1], budget, TRADE_PASSES)
            value, method = _better(inst, fits, value, method, "big leases traded")
    found(value)
    if guided is not None:
        refilled = _pod_fill_start(inst, fits, guided[0], budget)
        if refilled[0] > value:
            value, fits, res = refilled[0], refilled[2], refilled[3]
            method += ", " + refilled[1]
            found(value)
            if trades:
                fits, res = _trade(inst, fits, res, guided[1], budget, 1)
                value, method = _better(inst, fits, value, method, "traded again")
                found(value)
    return value, method, fits, res


def _better(inst: Instance, fits: dict[str, list[ReplicaFit]], before: float, method: str, step: str
            ) -> tuple[float, str]:
    """The plan's value, and ``method`` with ``step`` added when ``fits`` are worth more than ``before``."""
    value = plan_value(inst, fits)
    return value, method + f", {step}" if value > before + 1e-6 else method


def _trade(inst: Instance, fits: dict[str, list[ReplicaFit]], res: Residual, placed: dict[str, float],
           budget: Budget, passes: int) -> tuple[dict[str, list[ReplicaFit]], Residual]:
    """``passes`` passes of big-lease trades within ``budget``'s polish limits (moves counted)."""
    limit = budget.polish("trade big leases")
    timed_out = (lambda: budget.stop_at("trade big leases")) if limit.wall_is_safety_stop else None
    fits, res, _ = trade_big(inst, fits, res, placed, max_moves=limit.moves or POLISH_MOVES, passes=passes,
                             time_limit_s=limit.wall_s, on_time_out=timed_out)
    return fits, res


def _pod_fill_start(inst: Instance, base: dict[str, list[ReplicaFit]], guide: Guide, budget: Budget) -> Start:
    """The polished start's spanning leases kept, its pods filled again one at a time, then the greedy.

    Each pod takes the leases worth most that it holds week by week
    (:func:`~planner.optimise.heuristics.pod_fill.pod_fill`): first at the sites and on the
    routes the LP gives each lease, then anywhere; what is left goes to the price-ordered
    greedy. Its CP-SAT work is :data:`~planner.optimise.budget.FILL_SHARE` of the limit.
    The site-level warm start keeps it when it is worth more than the polished start.

    Where leases must pack tightly it is: on a campus that leases can fill exactly
    (``benchmarks/planted.py``, medium seed 2) it took the polished start from $15,911.3 M
    to $16,361.5 M of the $17,013.9 M optimum. Where the choice of leases matters more
    than their packing it is not, and the plan is the same as without it: on the
    generated medium tier (seed 1) it gave $4,966.8 M against the polished $5,002.3 M.
    Filling the pods before the polish instead was worse there ($4,898.2 M polished,
    against $5,002.3 M): the eviction moves find less to improve in tightly filled pods.
    """
    by_id = {lo.lease: lo for lo in inst.leases}
    fits = {lid: fs for lid, fs in base.items() if by_id[lid].span != "pod" or by_id[lid].internal}
    res = Residual.after(inst, fits)
    limit = budget.fill("pod fill")
    res.guide = guide
    total = float(limit.seconds or 0.0)
    work = pod_fill(inst, res, fits, inst.leases, work_s=total / 2)
    res.guide = None
    work += pod_fill(inst, res, fits, inst.leases, work_s=total - work)
    more, res, _ = fill(inst, [lo for lo in price_order(inst) if lo.lease not in fits], res, held=fits)
    fits |= more
    log.debug("pod fill: %.1f deterministic s", work)
    return plan_value(inst, fits), "pods refilled one at a time", fits, res


def _with_apis(inst: Instance, step: Callable[[Instance, dict[str, list[ReplicaFit]], Residual],
                                               tuple[dict[str, list[ReplicaFit]], Residual]] | None
               ) -> tuple[float, str, dict[str, list[ReplicaFit]], Residual]:
    """The greedy start that orders leases and API streams together by value per GPU-week (polished by ``step``).

    Only its leases are kept (with their residual): the plan's value serves the APIs again
    in what they leave, as every plan without CP-SAT's own API service does.
    """
    fits, _, _, _ = greedy_with_apis(inst, price_order(inst))
    res = Residual.after(inst, fits)
    if step is not None:
        fits, res = step(inst, fits, res)
    return plan_value(inst, fits), "greedy with APIs", fits, res


def _polish_step(budget: Budget, name: str, stop: threading.Event | None, *, halls: bool = False
                 ) -> Callable[[Instance, dict[str, list[ReplicaFit]], Residual],
                               tuple[dict[str, list[ReplicaFit]], Residual]]:
    """The eviction polish with ``budget``'s limits for the step ``name`` (``halls``: see :func:`polish`)."""
    def run(inst: Instance, fits: dict[str, list[ReplicaFit]], res: Residual
            ) -> tuple[dict[str, list[ReplicaFit]], Residual]:
        limit = budget.polish(name)
        timed_out = (lambda: budget.stop_at(name)) if limit.wall_is_safety_stop else None
        return polish(inst, fits, res, time_limit_s=limit.wall_s, max_tries=limit.moves, stop=stop,
                      on_time_out=timed_out, halls=halls)
    return run
