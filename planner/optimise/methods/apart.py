"""Leases and hosted-model APIs planned apart: block coordinates for instances the joint model is too big for.

API demand is small next to the leases (on the 2028 reference about 1,700 GPUs at peak
out of 858,624), but the joint CP-SAT model holding both is three times the size of the
leases' own, so its search ends with leases worth less than a plan without APIs. Here
each block is planned with the other held fixed:

1. the API service first: the API part of the greedy start that orders leases and API
   streams together by value per GPU-week
   (:func:`~planner.optimise.heuristics.api_fill.greedy_with_apis`); its loads are taken
   off every capacity (GPUs, power, their worst cases, pod uplinks, DCI spans);
2. the leases on what is left, with the ordinary lease pipeline on an instance without
   API demand (the same method, model and model size as a scenario without APIs), for
   :data:`LEASE_SHARE` of the limit;
3. the APIs again on what the leases leave: the API-only CP-SAT model (no lease
   variables, every capacity what the leases leave), hinted with the step-1 service, on
   :data:`API_SHARE` of the limit in deterministic time, against the greedy filler; the
   better is kept;
4. the plan: step 3's leases and APIs, or the whole-campus warm start if it is worth
   more (its candidates are the leases planned greedily as without APIs with the filler
   in what they leave, and the leases of the joint greedy start with the filler);
5. the bound: the site-level relaxation of the whole campus (its LP, or its MIP with
   span=hall and span=site leases whole where that is tighter:
   :func:`~planner.optimise.heuristics.warmstart.whole_span_bound`), which adds the APIs'
   own LP optimum on every capacity to the leases' bound on every capacity
   (:mod:`planner.optimise.bounds.site_lp`): a true bound of the joint problem. The
   bound of step 2's search is not one (its capacities are reduced by the API service)
   and is not used. It is worked out while building (:func:`campus_relaxation` before the
   whole-campus warm start, :func:`campus_bound` after it), so that the progress shows the
   true gap from the first plan on, not the sum of revenues.

Every step's work is counted (CP-SAT's deterministic time, polish moves), so one seed
gives one plan under any load.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING, Literal

from ortools.sat.python import cp_model

from planner.optimise.api_model import hint_api, read_api
from planner.optimise.apis import ApiSolution, api_value, take
from planner.optimise.bounds.site_lp import SiteRelaxation, site_relaxation
from planner.optimise.cpsat import new_solver
from planner.optimise.heuristics.api_fill import fill_apis, greedy_with_apis
from planner.optimise.heuristics.greedy import plan_value, price_order
from planner.optimise.heuristics.warmstart import whole_span_bound
from planner.optimise.incumbent import Progress
from planner.optimise.instance import Instance
from planner.optimise.model import build_model
from planner.optimise.residual import ReplicaFit, Residual
from planner.plan import Plan, Status, relative_gap

if TYPE_CHECKING:
    from planner.optimise.optimiser import Optimiser

__all__ = ["API_SHARE", "LEASE_SHARE", "RESERVE", "ApartResult", "api_only", "campus_bound", "campus_relaxation",
           "reserved", "solve_apart"]

log = logging.getLogger(__name__)

LEASE_SHARE = 0.9
"""Share of the time limit for the leases' search (step 2)."""
API_SHARE = 0.05
"""Share of the time limit (deterministic seconds) for the API-only CP-SAT model (step 3)."""

RESERVE: Literal["greedy with apis", "filler"] = "greedy with apis"
"""The step-1 API service: the API part of the joint greedy start, or the filler on what internal work leaves."""

Fits = dict[str, list[ReplicaFit]]


@dataclasses.dataclass(frozen=True)
class ApartResult:
    """What the steps found: the plan's leases and API service, and the figures of each step."""

    fits: Fits
    api: ApiSolution
    value_usd: float
    reserve_net_usd: float
    """Net value of the step-1 API service."""
    lease_usd: float
    """Net value of the leases of step 2."""
    api_net_usd: float
    """Net value of the API service kept in step 3."""
    api_source: str
    """Which step-3 service was kept: ``"cp-sat"`` (optimal or not), ``"filler"`` or ``"reserve"``."""
    api_status: str
    lease_meta: dict[str, object]
    """The leases' search facts (model size, CP-SAT's status, the focused or neighbourhood search)."""


def reserved(inst: Instance, sol: ApiSolution, *, keep_leases: bool) -> Instance:
    """``inst`` with the capacities ``sol``'s API service uses taken off, and without API demand.

    With ``keep_leases`` false the instance has no leases either (for the API-only model, see :func:`api_only`).
    """
    res = Residual(inst)
    take(inst.api, sol, res)
    return _on(inst, res, leases=keep_leases, api=False)


def _on(inst: Instance, res: Residual, *, leases: bool, api: bool) -> Instance:
    """``inst`` whose capacities are what ``res`` leaves (its leases and API demand kept or not).

    Hall aggregation stays as it is: API replicas sit whole in one pod and do not load it.
    """
    worst = inst.pod_free_worst.size > 0
    return dataclasses.replace(
        inst, pod_free=res.gpu.copy(), site_power_w=res.power.copy(), pod_uplink_kbps=res.uplink.copy(),
        span_limit_mbps=res.link.copy(),
        pod_free_worst=res.gpu_worst.copy() if worst else inst.pod_free_worst,
        site_power_w_worst=res.power_worst.copy() if worst else inst.site_power_w_worst,
        leases=list(inst.leases) if leases else [], api=inst.api if api else None)


def api_only(inst: Instance, fits: Fits, hint: ApiSolution | None, opt: Optimiser
             ) -> tuple[ApiSolution, str]:
    """The APIs' CP-SAT model on what ``fits`` leave (no lease variables), hinted with ``hint``.

    Solved for :data:`API_SHARE` of the limit (deterministic time when the run is
    deterministic); returns the service and CP-SAT's status. Replicas, streams and paths
    keep their positions in ``inst.api``, so the service reads back against ``inst``.
    """
    sub = _on(inst, Residual.after(inst, fits), leases=False, api=True)
    m = build_model(sub)
    if hint is not None:
        hint_api(m, hint)
    limit = opt.budget.cp_sat("api model", API_SHARE)
    solver = new_solver(opt.cp_sat, limit)
    t0 = time.perf_counter()
    status = solver.solve(m.cp)
    opt.budget.ended(limit, wall_s=time.perf_counter() - t0, work_s=solver.deterministic_time)
    name = solver.status_name(status)
    if status not in (cp_model.FEASIBLE, cp_model.OPTIMAL):
        return ApiSolution(), name
    return read_api(m, solver), name


def _steps(opt: Optimiser) -> ApartResult:
    """Steps 1-3 of the module's recipe."""
    inst = opt.instance
    assert inst is not None
    if RESERVE == "filler":
        reserve = fill_apis(inst, Residual(inst))
    else:
        _, _, _, reserve = greedy_with_apis(inst, price_order(inst))
    lease_inst = reserved(inst, reserve, keep_leases=True)

    reserve_net = api_value(inst.api, reserve).net_usd

    def progress(p: Progress) -> None:
        """The leases' plans with the reserved API service are plans of the whole; the search's bounds are not."""
        opt.incumbent.offer(p.objective_usd + reserve_net)

    child = type(opt)(inst.sc,  # an Optimiser like ``opt`` (its class, not imported: it imports this module)
                       time_limit_s=LEASE_SHARE * opt.time_limit_s, seed=opt.seed, workers=opt.workers,
                      hint=opt.hint, deterministic=opt.deterministic, explain=False,
                      relative_gap_limit=opt.relative_gap_limit, use_lp=opt.use_lp, method=opt.method,
                      instance=lease_inst, cp_sat_parameters=opt.cp_sat.parameters, on_progress=progress,
                      scheduler=opt.scheduler, lns_batch=opt.lns_batch)
    child.stop_event = opt.stop_event
    child.guides = opt.guides  # the same pods and sites: only the capacities differ
    lease_plan = child.solve()
    opt.budget.safety_stops += child.budget.safety_stops
    opt.lease_method = opt.method_used = child.method_used
    fits = child.fits
    lease_usd = plan_value(lease_inst, fits)
    res = Residual.after(inst, fits)
    filler = fill_apis(inst, res)
    solved, status = api_only(inst, fits, reserve, opt) if not opt.stopping else (ApiSolution(), "stopped")
    options = [("cp-sat", solved), ("filler", filler), ("reserve", reserve)]
    source, api = max(options, key=lambda o: api_value(inst.api, o[1]).net_usd)  # ties: the first
    api_net = api_value(inst.api, api).net_usd
    keys = ("variables", "constraints", "constraints_by_family", "solver_status", "solver_objective_usd", "focus",
            "lns")
    return ApartResult(fits, api, lease_usd + api_net, reserve_net, lease_usd, api_net, source, status,
                       {k: lease_plan.meta[k] for k in keys if k in lease_plan.meta})


def campus_relaxation(opt: Optimiser, where: dict[str, dict[int, list[int]]]) -> SiteRelaxation:
    """Step 5's LP: the site-level relaxation of the whole campus, leases and APIs each on every capacity."""
    assert opt.instance is not None
    return site_relaxation(opt.instance, time_limit_s=opt.budget.lp("site lp relaxation").wall_s, where=where)


def campus_bound(opt: Optimiser, rel: SiteRelaxation, where: dict[str, dict[int, list[int]]]
                 ) -> tuple[tuple[float, str], SiteRelaxation | None]:
    """Step 5's bound and its name: ``rel``'s, or its MIP's with whole span=hall/site leases where tighter.

    The sum of revenues when ``rel`` is not solved; the MIP is skipped once a stop is asked for.
    Also returns the MIP when it is solved: its lease choices (training leases whole) guide a
    greedy start of the leases' search.
    """
    inst = opt.instance
    assert inst is not None
    if rel.status != Status.OPTIMAL:
        return (opt.revenue_bound(), "sum of revenues"), None
    bound, source = rel.bound_usd, "site lp relaxation (leases and APIs on every capacity)"
    whole = whole_span_bound(inst, rel, opt.budget, where) if not opt.stopping else None
    if whole is not None and whole.bound_usd < bound:
        bound, source = whole.bound_usd, "site relaxation, whole span=hall/site leases (and APIs' own LP)"
    return (bound, source), whole


def solve_apart(opt: Optimiser) -> Plan:
    """Plan leases and APIs apart in the steps above; returns the plan."""
    inst, warm = opt.instance, opt.warm
    assert inst is not None
    t0 = time.perf_counter()
    found = _steps(opt)
    fits, value = found.fits, found.value_usd
    api: ApiSolution | None = found.api
    method = "leases and APIs apart"
    if warm is not None and warm.value_usd > value + 1e-6:
        fits, api, value, method = warm.fits, None, warm.value_usd, f"warm start ({warm.method})"
    opt.incumbent.offer(value, fits, api=api)
    assert opt.campus_bound is not None  # worked out by build
    bound, source = opt.campus_bound
    wall = time.perf_counter() - t0
    opt.log_lines += [
        f"leases and APIs apart: {opt.pairs:,} (replica, pod) pairs, leases by the {opt.lease_method} method",
        f"API service first: ${found.reserve_net_usd:,.0f}; leases on what it leaves: ${found.lease_usd:,.0f}",
        f"APIs on what the leases leave: ${found.api_net_usd:,.0f} ({found.api_source}; api model "
        f"{found.api_status})",
        f"plan: {method} ${value:,.0f}; bound: {source} ${bound:,.0f}, gap {relative_gap(value, bound):.2%}"]
    status = Status.OPTIMAL if relative_gap(value, bound) <= opt.cp_sat.relative_gap_limit else Status.FEASIBLE
    info = {"variables": None, "constraints": None, **found.lease_meta,
            "apart": {"reserve_net_usd": found.reserve_net_usd, "lease_usd": found.lease_usd,
                      "api_net_usd": found.api_net_usd, "api_source": found.api_source,
                      "api_model_status": found.api_status, "lease_method": opt.lease_method}}
    plan = opt.finish(fits, status, wall, opt.stopping, bound, source, stayable=set(), stayed=set(), info=info,
                      polish_after=False, api=api)
    plan.log = list(opt.log_lines)
    return plan
