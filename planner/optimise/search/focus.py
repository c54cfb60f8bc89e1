"""Focused search: rounds of CP-SAT on the pod-level model with each lease confined to a few sites.

The pod-level model is searched in steps when its LP relaxation was solved for the
warm start (and this is not a re-plan): rounds of *focused* search, for the shares of
the time limit in :data:`~planner.optimise.budget.FOCUS_SHARES`, each lease confined
to the sites where the LP puts some of it (in later rounds, or where the plan so far
has it) -- a much smaller search that finds good packings fast, each round's plan
polished by eviction moves that may use any site. Only the whole model's search
(:mod:`planner.optimise.methods.pods`) proves a bound.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from planner.optimise.budget import FOCUS_SHARES
from planner.optimise.cpsat import PlanCallback, new_solver, run_search
from planner.optimise.heuristics.greedy import confined_start, plan_value
from planner.optimise.heuristics.warmstart import lp_guide
from planner.optimise.model import PlacementModel, add_hint, read_fits
from planner.optimise.residual import ReplicaFit, Residual
from planner.plan import Status

if TYPE_CHECKING:
    from planner.optimise.optimiser import Optimiser

__all__ = ["FocusRound", "focused_rounds"]

Fits = dict[str, list[ReplicaFit]]


@dataclass(frozen=True)
class FocusRound:
    """One round of focused search: site choices left out, CP-SAT's status, the polished plan's value, time."""

    fixed_site_choices: int
    status: Status
    value_usd: float
    wall_s: float


def focused_rounds(opt: Optimiser, m: PlacementModel) -> Fits | None:
    """Run the rounds of :data:`~planner.optimise.budget.FOCUS_SHARES`; returns the last round's plan, if any.

    Runs only when an LP relaxation was solved (the pod-level model's, or the site-level
    one where the model is too big for it) and this is not a re-plan; a
    round that has no site choice to leave out, or finds no plan, ends the rounds, and
    so does a stop request.
    """
    warm = opt.warm
    if warm is None or opt.previous_plan is not None:
        return None
    if warm.lp is not None and warm.lp.status == Status.OPTIMAL:
        guide, placed = lp_guide(m, warm.lp)
    elif warm.relaxation is not None and warm.relaxation.status == Status.OPTIMAL:
        guide, placed = warm.relaxation.guide, warm.relaxation.placed  # the site-level LP's, for bigger models
    else:
        return None
    lp_sites = {lid: {s for s, w in ws.items() if w >= 1e-6} for lid, ws in guide.site.items()}
    focus: Fits | None = None
    for k, share in enumerate(FOCUS_SHARES):
        got = _round(opt, m, k, share, lp_sites, placed, focus)
        if got is None:
            break
        focus = got
        if opt.stopping:
            break
    return focus


def _round(opt: Optimiser, m: PlacementModel, k: int, share: float, lp_sites: dict[str, set[int]],
           lp_placed: dict[str, float], incumbent: Fits | None) -> Fits | None:
    """Round ``k`` of focused search: CP-SAT for ``share`` of the time limit, each lease confined to some sites.

    A lease keeps the sites where the LP relaxation places some of it
    (``lp_sites``; a lease the LP leaves out has none) and those where the
    ``incumbent`` (the last round's plan, if any) has it. The hint is the incumbent,
    or the warm start, less the leases at other sites, filled up again greedily
    within the sites kept (:func:`~planner.optimise.heuristics.greedy.confined_start`):
    a plan of the focused model, so the search starts from a valid one. Returns the
    plan found, polished by eviction moves (which may use any site), or ``None`` when
    no site choice is left out or the focused model has no plan. Its plans reach the
    incumbent (reported only when better than every plan so far); its bounds hold for
    its part of the model only and are not passed on.
    """
    assert opt.warm is not None
    sites = {lid: set(ss) for lid, ss in lp_sites.items()}
    for lid, fs in (incumbent or {}).items():
        sites.setdefault(lid, set()).update(f.site for f in fs)
    sub = m.cp.clone()
    fixed = 0
    for (lid, _r, s), var in m.site.items():
        if s not in sites.get(lid, ()):
            domain = sub.proto.variables[var.index].domain
            domain.clear()
            domain.extend([0, 0])
            fixed += 1
    if not fixed:
        return None
    focused = dataclasses.replace(m, cp=sub)
    start = confined_start(m.inst, incumbent if incumbent is not None else opt.warm.fits, sites, lp_placed)
    sub.clear_hints()
    add_hint(focused, start, None)
    t0 = time.perf_counter()
    name = f"focused search, round {k + 1}"
    limit = opt.budget.cp_sat(name, share)
    solver = opt.solver = new_solver(opt.cp_sat, limit, log=opt.log_lines.append)
    where = "neither the LP relaxation nor the plan so far places anything" if incumbent \
        else "the LP relaxation places nothing"
    opt.log_lines.append(f"{name}: {fixed:,} of {len(m.site):,} (replica, site) choices left out, where "
                         f"{where}; hint ${plan_value(m.inst, start):,.0f}")
    status, _ = run_search(solver, focused, PlanCallback(focused, opt.incumbent, proves_bound=False),
                           stop=opt.stop_event, budget=opt.budget, limit=limit)
    opt.focus_share += share
    if not status.found:
        return None
    fits = read_fits(m, solver)
    value = plan_value(m.inst, fits)
    opt.incumbent.offer(value, fits)
    better, _ = opt.polish("focused search polish", fits, Residual.after(m.inst, fits))
    polished = plan_value(m.inst, better)
    if polished > value + 1e-6:
        fits, value = better, polished
        opt.incumbent.offer(value, fits)
    opt.focus_rounds.append(FocusRound(fixed, status, value, time.perf_counter() - t0))
    return fits
