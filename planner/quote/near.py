"""A re-plan around one forced request: only the pods it could use, and the sold leases on them, are re-packed.

Forcing a request into a plan moves only leases where the request goes. Re-planning
the whole scenario to find those few moves builds the pod-level model of every lease
and pod, which takes most of a minute on a campus-scale plan; an answer to a customer
should take seconds. :func:`near_replan` re-packs a *neighbourhood* instead, as the
neighbourhood search (:mod:`planner.optimise.search.lns`) does:

1. :func:`~planner.quote.room.make_room` fits the request in by taking the fewest sold
   leases out and fitting them again (a plan that holds the request: the start);
2. the neighbourhood is the pods that start touches (the request's, and those of the
   leases it moved), then the request's other pods, then pods of the request's SKU at
   any site, emptiest over the request's weeks first, up to :data:`NEAR_PODS` pods
   (whole halls for a span=hall request, so that it can choose among them);
3. every sold lease lying wholly on those pods whose term overlaps the request's is freed
   with the request (a lease in other weeks never competes with it), and so is every lease
   the start moved; everything else keeps its place and what it leaves is the
   sub-instance's capacity;
4. CP-SAT re-packs the sub-instance with the re-plan's costs (dropping a sold lease
   costs its revenue times ``1 + drop_penalty_factor``, relocating one the quote's move
   penalty), hinted with the start, on CP-SAT's deterministic time only.

The plan's hosted-model API service is held where it is (:func:`~planner.quote.standing.holding_apis`).
The answer is the fewest moves *within the neighbourhood*: a plan that moves leases
elsewhere is not searched (the whole re-plan, :func:`~planner.quote.replan.replan_with`,
is used when no start exists). Because the start is a solution of the sub-model, the
answer is never worse than the start.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import pandas as pd
from ortools.sat.python import cp_model

from planner.optimise.budget import Clock, StepLimit
from planner.optimise.cpsat import CpSatSettings, new_solver
from planner.optimise.heuristics.greedy import placement_rows
from planner.optimise.instance import Instance, LeaseOptions, build_instance, usable_pods
from planner.optimise.model import add_hint, build_model, read_fits
from planner.optimise.residual import ReplicaFit, Residual, fits_from_placements
from planner.optimise.search.lns import Neighbourhood, sub_instance
from planner.plan import PLACEMENT_COLUMNS
from planner.quote.replan import keep_routes, replan_settings
from planner.quote.room import make_room
from planner.quote.standing import Standing, holding_apis, with_workloads

__all__ = ["NEAR_PODS", "Near", "near_replan"]

log = logging.getLogger(__name__)

Fits = dict[str, list[ReplicaFit]]

NEAR_PODS = 16
"""Pods in a quote's neighbourhood (besides those its start touches)."""
SAFETY_WALL_S = 3600.0
"""The sub-solve's wall-clock safety stop: far beyond any deterministic limit a quote uses."""


@dataclasses.dataclass(frozen=True)
class Near:
    """A re-plan around a forced request: the instance, every lease's fits and placements, and what was searched.

    Attributes
    ----------
    inst
        The re-plan's instance (the sold leases and the request).
    fits
        Every placed lease's replica fits (the request's among them).
    placements
        The placements of ``fits`` (rows as :data:`~planner.plan.PLACEMENT_COLUMNS`).
    pods
        The neighbourhood's pods (instance positions).
    freed
        The leases the sub-model was free to move (the request first).
    status
        CP-SAT's status on the sub-model (``"START"`` when it found nothing better than the start).
    """

    inst: Instance
    fits: Fits
    placements: pd.DataFrame
    pods: tuple[int, ...]
    freed: tuple[str, ...]
    status: str


def _parts(fits: list[ReplicaFit]) -> set[int]:
    return {p for f in fits for p, _ in f.parts}


def _pods(inst: Instance, lo: LeaseOptions, previous: Fits, start: Fits, res: Residual) -> list[int]:
    """The neighbourhood: the pods ``start`` changes, then the request's, then its SKU's, emptiest first."""
    touched = _parts(start[lo.lease])
    for lid, fits in start.items():
        if lid != lo.lease and fits != previous.get(lid):
            touched |= _parts(fits) | _parts(previous.get(lid, []))
    t = slice(lo.t0, lo.t1 + 1)
    own = [p for ps in usable_pods(inst, lo).values() for p in ps]
    same_sku = [p for p, pod in enumerate(inst.pod_ids) if inst.sc.pods.at[pod, "sku"] == lo.sku]
    room = res.gpu[:, t].min(axis=1)
    def emptiest(pods: set[int]) -> list[int]:
        return sorted(pods, key=lambda p: (-room[p], p))

    ranked = emptiest(set(own)) + emptiest(set(same_sku) - set(own))
    if lo.span == "hall":  # whole halls, so that the request may choose among them
        halls: list[int] = []
        for p in sorted(touched) + ranked:
            h = int(inst.pod_hall[p])
            if h not in halls:
                halls.append(h)
        chosen = set(touched)
        for h in halls:
            if len(chosen) >= len(touched) + NEAR_PODS:
                break
            chosen |= {p for p in same_sku if int(inst.pod_hall[p]) == h}
        return sorted(chosen)
    chosen = set(touched)
    for p in ranked:
        if len(chosen) >= len(touched) + NEAR_PODS:
            break
        chosen.add(p)
    return sorted(chosen)


def near_replan(st: Standing, row: dict[str, object], *, work_limit_s: float, seed: int = 0, workers: int = 1
                ) -> Near | None:
    """Force ``row`` (a workload row, priority internal) into the standing plan by re-packing its neighbourhood.

    Parameters
    ----------
    st
        The standing plan.
    row
        The request as a workload row.
    work_limit_s
        CP-SAT's deterministic time for the sub-model.
    seed, workers
        CP-SAT's seed and workers.

    Returns
    -------
    Near or None
        The re-plan, or ``None`` when no few moves make room for the request (no start).
    """
    lid = str(row["lease"])
    placed = list(dict.fromkeys(map(str, st.plan.placements["lease"])))
    sc = dataclasses.replace(with_workloads(st.sc, [row], keep=placed), settings=replan_settings(st))
    inst = holding_apis(build_instance(sc, graph=st.graph, paths=st.paths), st.plan)
    previous = {k: v for k, v in fits_from_placements(inst, st.plan.placements).items() if v is not None}
    start = make_room(inst, previous, lid)
    if start is None:
        return None
    by_id = {lo.lease: lo for lo in inst.leases}
    lo = by_id[lid]
    pods = _pods(inst, lo, previous, start, Residual.after(inst, previous))
    inside = set(pods)
    overlaps = {k for k in previous if by_id[k].t0 <= lo.t1 and lo.t0 <= by_id[k].t1}  # others never compete
    freed = [lid] + [k for k, fs in previous.items() if not by_id[k].internal
                     and ((k in overlaps and _parts(fs) <= inside) or start.get(k) != fs)]
    rest = Residual.after(inst, {k: v for k, v in previous.items() if k not in freed})
    nb = Neighbourhood(tuple(sorted(inside | {p for k in freed for p in _parts(start.get(k, []))})),
                       f"around {lid}", "room")
    sub = sub_instance(inst, [by_id[k] for k in freed], rest, nb)
    m = build_model(sub, previous={k: previous.get(k) for k in freed if k != lid})
    hint = {k: start[k] for k in freed if k in start}
    add_hint(m, hint, {k: previous[k] for k in freed if k in previous})
    step = StepLimit("quote re-plan", Clock.WORK, work_limit_s, None, SAFETY_WALL_S)
    solver = new_solver(CpSatSettings(workers=workers, seed=seed, relative_gap_limit=0.0), step)
    code = solver.solve(m.cp)
    status = solver.status_name(code)
    log.info("quote re-plan around %s: %d pods, %d leases freed, CP-SAT %s in %.1f s of work (%.1f s wall)",
             lid, len(nb.pods), len(freed), status, solver.deterministic_time, solver.wall_time)
    got = read_fits(m, solver) if code in (cp_model.OPTIMAL, cp_model.FEASIBLE) else hint
    if code not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        status = "START"
    fits = {k: v for k, v in previous.items() if k not in freed} | got
    rows = [r for x in inst.leases if x.lease in fits for r in placement_rows(inst, x, fits[x.lease])]
    placements = keep_routes(inst, st.plan.placements, pd.DataFrame(rows, columns=PLACEMENT_COLUMNS))
    return Near(inst, fits, placements, tuple(int(p) for p in np.asarray(nb.pods)), tuple(freed), status)
