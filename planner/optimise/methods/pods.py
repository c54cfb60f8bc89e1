"""The pod-level method: CP-SAT on the model with one choice per (replica, pod).

The steps, after :meth:`~planner.optimise.optimiser.Optimiser.build` (instance, model,
warm start, LP bound):

1. focused rounds (:func:`~planner.optimise.search.focus.focused_rounds`);
2. the best focused plan becomes the whole model's hint, if it beats the warm start;
3. CP-SAT on the whole model for the rest of the budget;
4. the plan: CP-SAT's, or the best an earlier step found (:class:`~planner.optimise.incumbent.Incumbent`);
5. the bound: the tightest of CP-SAT's, the LP's and the incumbent's;
6. the final polish and the plan's tables (:meth:`~planner.optimise.optimiser.Optimiser.finish`).

Every step takes its limit from the one :class:`~planner.optimise.budget.Budget` and
passes its plans and bounds to the one incumbent.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from planner.errors import InfeasibleError, NoPlanError
from planner.optimise.api_model import read_api
from planner.optimise.apis import ApiSolution
from planner.optimise.cpsat import PlanCallback, new_solver, run_search
from planner.optimise.heuristics.greedy import plan_value
from planner.optimise.incumbent import TOLERANCE_USD
from planner.optimise.model import PlacementModel, add_hint, read_fits
from planner.optimise.residual import ReplicaFit
from planner.optimise.search.focus import focused_rounds
from planner.plan import Plan, Status
from planner.reasons import internal_failure_reasons

if TYPE_CHECKING:
    from planner.optimise.optimiser import Optimiser

__all__ = ["solve_pods"]

log = logging.getLogger(__name__)

Fits = dict[str, list[ReplicaFit]]


def solve_pods(opt: Optimiser, m: PlacementModel) -> Plan:
    """Search the pod-level model ``m`` in the steps above; returns the plan."""
    t0 = time.perf_counter()
    focus = focused_rounds(opt, m)
    _hint_focus(opt, m, focus)
    solver, solver_status, interrupted, fallback = _whole_model(opt, m, t0)
    wall = time.perf_counter() - t0
    found = solver_status.found
    fits, status, api = _best_plan(opt, m, solver, solver_status, fallback, wall)
    bound, bound_source = _tightest_bound(opt, m, solver, found)
    group = {lo.lease: lo.group for lo in m.inst.leases}  # a windowed lease's option -> the lease
    stayed = {group[lid] for lid, st in m.stay.items() if found and solver.value(st)}
    info = {"variables": len(m.cp.proto.variables), "constraints": len(m.cp.proto.constraints),
            "constraints_by_family": dict(m.n_constraints), "solver_status": solver_status,
            "solver_objective_usd": solver.objective_value + m.objective_offset if found else None,
            "focus": opt.focus_info}
    plan = opt.finish(fits, status, wall, interrupted, bound, bound_source,
                      stayable={group[lid] for lid in m.stay}, stayed=stayed, info=info, api=api)
    plan.log = list(opt.log_lines)
    return plan


def _hint_focus(opt: Optimiser, m: PlacementModel, focus: Fits | None) -> None:
    """Hint the whole model with the focused rounds' plan, unless it ended below the warm start (the hint then)."""
    warm = opt.warm
    if focus is not None and warm is not None and opt.focus_rounds[-1].value_usd >= warm.value_usd:
        m.cp.clear_hints()
        add_hint(m, focus, None)


def _whole_model(opt: Optimiser, m: PlacementModel, t0: float
                 ) -> tuple[cp_model.CpSolver, Status, bool, Fits | None]:
    """CP-SAT on the whole model for what the focused rounds left; returns solver, status, stopped, fallback plan."""
    warm = opt.warm
    limit = opt.budget.cp_sat("whole model", 1.0 - opt.focus_share,
                              wall_s=opt.time_limit_s - (time.perf_counter() - t0))
    solver = opt.solver = new_solver(opt.cp_sat, limit, log=opt.log_lines.append)
    cb = PlanCallback(m, opt.incumbent)
    fallback = opt.incumbent.best_fits if opt.previous_plan is None else (
        warm.fits if warm is not None and not warm.fits else None)  # a re-plan falls back on an empty plan only
    if opt.stopping and (fallback is not None or warm is not None):
        return solver, Status.UNKNOWN, True, fallback  # stopped before the whole model: the best plan so far
    status, interrupted = run_search(solver, m, cb, stop=opt.stop_event, budget=opt.budget, limit=limit)
    return solver, status, interrupted, fallback


def _best_plan(opt: Optimiser, m: PlacementModel, solver: cp_model.CpSolver, solver_status: Status,
               fallback: Fits | None, wall: float) -> tuple[Fits, Status, ApiSolution | None]:
    """The plan, its status and API service: CP-SAT's, the best any step found, or the one before CP-SAT's first.

    CP-SAT's plan keeps its own API service unless the greedy API filler serves more on its leases;
    a plan without one (``None``) gets the filler's.

    Raises
    ------
    InfeasibleError
        When CP-SAT proves the internal workloads cannot all be placed.
    NoPlanError
        When no step found a plan.
    """
    if solver_status is Status.INFEASIBLE:
        failed = [lo.lease for lo in m.inst.leases if lo.internal]
        raise InfeasibleError(internal_failure_reasons(m.inst, failed))
    earlier = opt.incumbent.best_fits if opt.previous_plan is None else fallback
    if solver_status.found:
        fits = read_fits(m, solver)
        api = read_api(m, solver) if m.api is not None else None
        if api is not None and plan_value(m.inst, fits) > plan_value(m.inst, fits, api):
            api = None  # the filler serves more on CP-SAT's leases (CP-SAT stopped short of its optimum)
        if opt.previous_plan is None:  # the best plan any step found (CP-SAT's, or one before it)
            opt.incumbent.offer(plan_value(m.inst, fits, api), fits, api=api)
            assert opt.incumbent.best_fits is not None
            fits, api = opt.incumbent.best_fits, opt.incumbent.best_api
        return fits, solver_status, api
    if earlier is not None:
        # CP-SAT stopped before its first plan: the focused search's or the warm start's is valid.
        log.warning("CP-SAT ended %s; returning the best plan found before it", solver_status)
        return earlier, Status.FEASIBLE, None
    msg = f"CP-SAT found no plan ({solver_status}) in {wall:.1f} s; raise the time limit"
    raise NoPlanError(msg)


def _tightest_bound(opt: Optimiser, m: PlacementModel, solver: cp_model.CpSolver, found: bool
                    ) -> tuple[float, str]:
    """The tightest true bound and its source: CP-SAT's (when it searched), the LP's, or the incumbent's."""
    bound, bound_source = (solver.best_objective_bound + m.objective_offset, "cp-sat") if found \
        else (float("inf"), "none")
    if opt.warm is not None and opt.warm.bound is not None:
        lp_bound, lp_source = opt.warm.bound
        lp_bound += m.objective_offset if lp_source == "lp relaxation" else 0.0  # the site LP bounds net value
        if lp_bound < bound:
            bound, bound_source = lp_bound, lp_source
    if opt.incumbent.bound < bound - TOLERANCE_USD:
        bound, bound_source = opt.incumbent.bound, "cp-sat" if found else "sum of revenues"
    return bound, bound_source
