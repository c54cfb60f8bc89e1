"""The site-level method: for instances too big for the pod-level model.

The steps, after :meth:`~planner.optimise.optimiser.Optimiser.build` (instance, the
site-level LP relaxation for the bound, LP-guided greedy plans, the best polished by local
search, room made at sites for the leases the LP carries, big leases traded for the left-out
ones that fit in their place, and its pods refilled, for the first plan;
:mod:`planner.optimise.heuristics.warmstart`):

1. large-neighbourhood search re-packing a few pods at a time with CP-SAT
   (:func:`~planner.optimise.search.lns.pool_lns`), skipped when re-planning (an
   earlier plan's placements are kept where they still fit);
2. with ``pattern_rounds``, that many rounds of column generation on the pattern
   relaxation from the plan's pods (:mod:`planner.optimise.bounds.patterns`; its bound
   replaces the LP's when tighter), then its restricted master solved as a MIP from the
   plan (:mod:`planner.optimise.search.master_mip`, for :data:`~planner.optimise.budget.MASTER_SHARE`
   of the limit): the plan it gives is kept when worth more;
3. the log lines and the plan (:meth:`~planner.optimise.optimiser.Optimiser.finish`,
   without a final polish: each step only ever improves its plan).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING

from planner.optimise.bounds.patterns import PatternBound, pattern_bound
from planner.optimise.bounds.site_lp import SiteRelaxation
from planner.optimise.budget import MASTER_SHARE
from planner.optimise.cpsat import in_worker, new_solver
from planner.optimise.heuristics.greedy import plan_value
from planner.optimise.residual import ReplicaFit, Residual
from planner.optimise.search.lns import LnsStats, pool_lns
from planner.optimise.search.master_mip import MasterPlan, master_plan
from planner.optimise.search.tasks import Mapper, cluster_map
from planner.plan import Plan, Status, relative_gap

if TYPE_CHECKING:
    from planner.optimise.optimiser import Optimiser

__all__ = ["solve_sites"]

Fits = dict[str, list[ReplicaFit]]


def solve_sites(opt: Optimiser) -> Plan:
    """Re-pack neighbourhoods of pods from the warm start on, within the budget; returns the plan."""
    inst, warm = opt.instance, opt.warm
    assert inst is not None and warm is not None
    t0 = time.perf_counter()
    bound, source = warm.bound if warm.bound is not None else (opt.revenue_bound(), "sum of revenues")
    fits, res = warm.fits, warm.residual
    rel = warm.relaxation if warm.relaxation is not None and warm.relaxation.status == Status.OPTIMAL else None
    if opt.previous_plan is None:  # re-plans keep the earlier placements where they still fit
        # the search stops at the LP's bound, not the site MIP's (which a wall-clock limit may cut short)
        fits, res = _neighbourhood_search(opt, fits, res, rel, rel.bound_usd if rel is not None else bound)
    pattern: PatternBound | None = None
    from_master: MasterPlan | None = None
    if opt.pattern_rounds and not opt.stopping:
        pattern = _pattern_bound(opt, fits)
        if pattern.bound_usd < bound:
            bound, source = pattern.bound_usd, f"pattern bound ({pattern.iterations} rounds of column generation)"
            opt.incumbent.tighten(bound)
        if pattern.master is not None and not opt.stopping:
            from_master = _master_plan(opt, pattern, fits)
            if from_master.value_usd > plan_value(inst, fits) + 1e-6:
                fits, res = from_master.fits, from_master.residual
                opt.incumbent.offer(from_master.value_usd, fits)
    interrupted = opt.stopping
    wall = time.perf_counter() - t0
    value = plan_value(inst, fits)
    opt.log_lines += [
        f"site-level method: {opt.pairs:,} (replica, pod) pairs",
        f"bound: {source} ${bound:,.0f}" + ("" if rel is None else
                                            f" ({rel.rows:,} rows, {rel.cols:,} columns, {rel.nonzeros:,} "
                                            f"non-zeros, weeks per row {rel.block_weeks}, {rel.wall_s:.1f} s)"),
        f"warm start: {warm.method} ${warm.value_usd:,.0f} in {warm.wall_s:.1f} s",
        *([] if opt.lns is None else [
            f"neighbourhood search: {opt.lns.improved} of {opt.lns.tried} neighbourhoods improved, "
            f"+${opt.lns.gain_usd:,.0f} in {opt.lns.wall_s:.1f} s ({opt.lns.batches} batches of up to "
            f"{opt.lns_batch}, {opt.lns.conflicts} better packings dropped for a batch-mate's capacity; sub-solves "
            f"{opt.lns.task_s:.1f} s {'on ' + _where(opt.scheduler) if opt.scheduler is not None else 'here'})"]),
        *([] if pattern is None else [
            f"pattern bound: ${pattern.bound_usd:,.0f} after {pattern.iterations} rounds ({pattern.status}, "
            f"{pattern.columns:,} patterns, {pattern.wall_s:.1f} s, pricing "
            f"{'on ' + _where(opt.scheduler) if opt.scheduler is not None else 'here'})"]),
        *([] if from_master is None else [
            f"plan from the patterns: the master's MIP ({from_master.status}, {from_master.work_s:.1f} "
            f"deterministic s) ${from_master.master_usd:,.0f}; {from_master.kept:,} of its leases hold, "
            f"{from_master.dropped:,} do not; filled up ${from_master.value_usd:,.0f} "
            f"({'kept' if fits is from_master.fits else 'not better than the search'})"]),
        f"plan: ${value:,.0f}, gap {relative_gap(value, bound):.2%}"]
    status = Status.OPTIMAL if relative_gap(value, bound) <= opt.cp_sat.relative_gap_limit else Status.FEASIBLE
    info = {"variables": None, "constraints": None, "solver_status": "SITE_SEARCH",
            "lns": None if opt.lns is None else dataclasses.asdict(opt.lns),
            "pattern_bound": None if pattern is None else {
                "status": pattern.status, "bound_usd": pattern.bound_usd, "master_usd": pattern.master_usd,
                "rounds": pattern.iterations, "columns": pattern.columns, "wall_s": pattern.wall_s,
                "master_plan": None if from_master is None else {
                    "status": from_master.status, "master_usd": from_master.master_usd,
                    "value_usd": from_master.value_usd, "kept": from_master.kept, "dropped": from_master.dropped,
                    "work_s": from_master.work_s, "used": fits is from_master.fits}}}
    plan = opt.finish(fits, status, wall, interrupted, bound, source, stayable=set(), stayed=set(),
                      info=info, polish_after=False)
    plan.log = list(opt.log_lines)
    return plan


def _where(scheduler: object) -> str:
    """A scheduler address as given, or a client's."""
    if isinstance(scheduler, str):
        return scheduler
    address = getattr(getattr(scheduler, "scheduler", None), "address", None)
    return str(address) if address else "a Dask cluster"


def _pattern_bound(opt: Optimiser, fits: Fits) -> PatternBound:
    """``opt.pattern_rounds`` rounds of the pattern relaxation from the plan's patterns, pricing where the search ran.

    Rounds and each pod's pricing stop on counted work; the wall clock is only the
    safety stop (recorded as one when it fires).
    """
    assert opt.instance is not None
    limit = opt.budget.lp("pattern bound")
    with cluster_map(opt.scheduler) as map_fn:
        out = pattern_bound(opt.instance, time_limit_s=limit.wall_s, fits=[fits], max_rounds=opt.pattern_rounds,
                            map_fn=map_fn)
    if out.status == "TIME_LIMIT":
        opt.budget.stop_at(limit.step)
    return out


def _master_plan(opt: Optimiser, pattern: PatternBound, fits: Fits) -> MasterPlan:
    """A plan from the pattern master's MIP, started from ``fits``, for the budget's ``MASTER_SHARE``."""
    assert opt.instance is not None and pattern.master is not None
    limit = opt.budget.cp_sat("pattern master MIP", MASTER_SHARE)
    solver = new_solver(opt.cp_sat, limit, tuned=False)
    out = master_plan(opt.instance, pattern.master, solver=solver, hint=fits)
    opt.budget.ended(limit, wall_s=solver.wall_time, work_s=solver.deterministic_time)
    return out


def _neighbourhood_search(opt: Optimiser, fits: Fits, res: Residual, rel: SiteRelaxation | None, bound: float
                          ) -> tuple[Fits, Residual]:
    """Large-neighbourhood search for the budget's share, in a worker thread (Ctrl-C stops it with its plan)."""
    inst = opt.instance
    assert inst is not None
    limit = opt.budget.lns()

    def improved(_fits: Fits, value: float) -> None:
        opt.incumbent.offer(value)  # the search only ever improves its plan: the last one is the best

    def search(map_fn: Mapper | None) -> tuple[Fits, Residual, LnsStats]:
        return pool_lns(inst, fits, res, budget_s=limit.seconds or 0.0, seed=opt.cp_sat.seed,
                        workers=opt.cp_sat.workers, deterministic=opt.deterministic, stop=opt.stop_event,
                        on_improve=improved, target_usd=bound * (1 - opt.cp_sat.relative_gap_limit),
                        guide=rel.guide if rel is not None else None,
                        placed=rel.placed if rel is not None else None, safety_s=limit.wall_s,
                        parameters=opt.cp_sat.parameters, batch=opt.lns_batch, map_fn=map_fn)

    with cluster_map(opt.scheduler) as map_fn:  # the client is opened here, not in the search's thread
        fits, res, opt.lns = in_worker(lambda: search(map_fn), stop=opt.stop_event, name="lns")
    if opt.lns.safety_stop:
        opt.budget.stop_at(limit.step)
    opt.incumbent.offer(plan_value(inst, fits), fits)
    return fits, res
