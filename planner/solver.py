"""Solve the placement model with CP-SAT and read the plan back.

``optimise(scenario)`` is the one call a notebook needs; :class:`Optimiser` gives a
caller (the CLI) the model build and solve as separate steps, live progress and a
way to stop the search early with the best plan found so far.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from ortools.sat.python import cp_model

from planner.baseline import placement_rows
from planner.errors import InfeasibleError, NoPlanError
from planner.fit import ReplicaFit, Residual, fits_from_placements
from planner.instance import Instance, build_instance, usable_pods
from planner.model import PlacementModel, build_model, canonical
from planner.plan import PLACEMENT_COLUMNS, Plan, make_plan, relative_gap
from planner.reasons import explain_unplaced, internal_failure_reasons
from planner.scenario import Scenario
from planner.search import polish
from planner.warmstart import WarmStart, plan_value, warm_start

__all__ = ["STOP_AFTER_SOLUTION_S", "NoPlanError", "Optimiser", "Progress", "optimise"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    """A new incumbent: when, its value, the proven bound and the gap."""

    wall_s: float
    objective_usd: float
    bound_usd: float
    gap: float


class _Callback(cp_model.CpSolverSolutionCallback):
    def __init__(self, offset: float, t0: float, sink: Callable[[Progress], None] | None) -> None:
        super().__init__()
        self.offset, self.t0, self.sink = offset, t0, sink
        self.history: list[Progress] = []
        self.last_solution = -1e9  # perf_counter of the latest incumbent
        self.bound = float("inf")

    def on_solution_callback(self) -> None:
        self.last_solution = time.perf_counter()
        obj = self.objective_value + self.offset
        self.bound = min(self.bound, self.best_objective_bound + self.offset)
        self._report(obj)

    def on_bound(self, bound: float) -> None:
        """CP-SAT proved a better bound (called from the solver's thread)."""
        self.bound = min(self.bound, bound + self.offset)
        if self.history:
            self._report(self.history[-1].objective_usd)

    def _report(self, obj: float) -> None:
        bound = max(self.bound, obj)
        p = Progress(time.perf_counter() - self.t0, obj, bound, relative_gap(obj, bound))
        self.history.append(p)
        if self.sink is not None:
            self.sink(p)


STOP_AFTER_SOLUTION_S = 0.5
"""CP-SAT 9.15 can abort the process when stopped while it reports a new solution; a stop
request is passed on only once this long has passed since the latest one."""


class Optimiser:
    """Build, then solve, the placement model of a scenario.

    Parameters
    ----------
    sc
        The scenario.
    time_limit_s, seed, workers
        CP-SAT's time limit, random seed and number of search workers. With
        ``deterministic`` the limit is CP-SAT's deterministic time (its measure of work,
        about a second per unit on an idle core), so a run stops at the same point
        whatever the machine's load; wall time is then capped at twice the limit.
    previous_plan
        An earlier plan: leases it placed are kept where they were unless moving
        them pays more than ``settings.move_penalty_usd`` each.
    hint
        ``"greedy"`` to warm-start from the best of the plain and the LP-guided greedy
        plans (polished by local search), or ``"none"``.
    use_lp
        Solve the LP relaxation (HiGHS through OR-Tools) to guide the warm start; its
        optimum is also a true bound, reported when tighter than CP-SAT's.
    deterministic
        Make the search reproducible for a seed and worker count (CP-SAT's
        interleaved search with a deterministic time limit).
    explain
        Work out why each left-out lease is left out.
    on_progress
        Called with a :class:`Progress` at every new incumbent.
    """

    def __init__(self, sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
                 previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
                 deterministic: bool = True, explain: bool = True, relative_gap_limit: float = 1e-4,
                 use_lp: bool = True,
                 on_progress: Callable[[Progress], None] | None = None, instance: Instance | None = None) -> None:
        self.sc = sc
        self.time_limit_s, self.seed, self.workers = time_limit_s, seed, workers
        self.previous_plan, self.hint, self.deterministic, self.explain = previous_plan, hint, deterministic, explain
        self.relative_gap_limit = relative_gap_limit
        self.use_lp = use_lp
        self.warm: WarmStart | None = None
        self.on_progress = on_progress
        self.instance = instance
        self.model: PlacementModel | None = None
        self.solver: cp_model.CpSolver | None = None
        self.log_lines: list[str] = []
        self.build_s = 0.0
        self._stop = threading.Event()

    # ------------------------------------------------------------------ stages
    def build(self) -> PlacementModel:
        """Build the instance and the CP-SAT model (with the greedy hint)."""
        t = time.perf_counter()
        inst = self.instance or build_instance(self.sc)
        self.instance = inst
        stuck = [lo.lease for lo in inst.leases if lo.internal and not usable_pods(inst, lo)]
        if stuck:
            raise InfeasibleError(internal_failure_reasons(inst, stuck))
        previous = None
        if self.previous_plan is not None:
            rebuilt = fits_from_placements(inst, self.previous_plan.placements)
            previous = {str(lid): rebuilt.get(str(lid)) for lid in set(self.previous_plan.placements["lease"])}
        m = build_model(inst, previous=previous)
        if self.hint == "greedy":
            keep = {k: v for k, v in (previous or {}).items() if v is not None}
            self.warm = warm_start(m, use_lp=self.use_lp, keep=keep)
            _add_hint(m, self.warm.fits, previous)
        self.model = m
        self.build_s = time.perf_counter() - t
        return m

    def stop(self) -> None:
        """Ask the search to stop; :meth:`solve` returns the best plan found so far, marked interrupted.

        Safe to call from any thread or a signal handler: the solving thread passes the
        request on to CP-SAT once it is safe to (see :data:`STOP_AFTER_SOLUTION_S`).
        """
        self._stop.set()

    def solve(self) -> Plan:
        """Solve (building first if needed) and return the plan.

        A ``KeyboardInterrupt`` during the search stops it and returns the best plan
        so far with ``interrupted=True``.
        """
        m = self.model or self.build()
        solver = self._solver()
        t0 = time.perf_counter()
        cb = _Callback(m.objective_offset, t0, self.on_progress)
        solver_status, interrupted = self._run(solver, m, cb)
        status = solver_status
        wall = time.perf_counter() - t0
        if status == "INFEASIBLE":
            failed = [lo.lease for lo in m.inst.leases if lo.internal]
            raise InfeasibleError(internal_failure_reasons(m.inst, failed))
        if status in ("OPTIMAL", "FEASIBLE"):
            fits = _read_fits(m, solver)
        elif self.warm is not None and (self.previous_plan is None or not self.warm.fits):
            # CP-SAT ran out of time before its first plan: the warm start is a valid plan.
            log.warning("CP-SAT ended %s; returning the warm-start plan", status)
            fits, status = self.warm.fits, "FEASIBLE"
        else:
            msg = f"CP-SAT found no plan ({status}) in {wall:.1f} s; raise the time limit"
            raise NoPlanError(msg)
        plan = self._plan(m, solver, solver_status, fits, status, wall, interrupted, cb.history)
        plan.log = list(self.log_lines)
        return plan

    def _solver(self) -> cp_model.CpSolver:
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = self.workers
        prm.random_seed = self.seed
        prm.relative_gap_limit = self.relative_gap_limit
        prm.catch_sigint_signal = False  # Ctrl-C is handled here, so the best plan is kept
        prm.log_search_progress = True
        prm.log_to_stdout = False
        if self.deterministic:
            prm.interleave_search = True
            prm.max_deterministic_time = self.time_limit_s
            prm.max_time_in_seconds = self.time_limit_s * 2
        else:
            prm.max_time_in_seconds = self.time_limit_s
        solver.log_callback = self.log_lines.append
        self.solver = solver
        return solver

    def _run(self, solver: cp_model.CpSolver, m: PlacementModel, cb: _Callback) -> tuple[str, bool]:
        """Search in a worker thread; this (main) thread handles Ctrl-C and stop requests.

        It waits on an event rather than ``Thread.join``: an interrupted ``join`` can mark a
        running thread finished on CPython 3.11.
        """
        result: dict[str, cp_model.CpSolverStatus] = {}
        done = threading.Event()

        def run() -> None:
            try:
                result["status"] = solver.solve(m.cp, cb)
            finally:
                done.set()

        solver.best_bound_callback = cb.on_bound
        worker = threading.Thread(target=run, name="cp-sat", daemon=True)
        worker.start()
        interrupted, sent = False, False
        while not done.is_set():
            try:
                done.wait(0.1)
            except KeyboardInterrupt:
                self._stop.set()
            if self._stop.is_set():
                interrupted = True
                if not sent and time.perf_counter() - cb.last_solution >= STOP_AFTER_SOLUTION_S:
                    solver.stop_search()
                    sent = True
        worker.join()
        return solver.status_name(result["status"]), interrupted

    def _plan(self, m: PlacementModel, solver: cp_model.CpSolver, solver_status: str,
              fits: dict[str, list[ReplicaFit]], status: str, wall: float, interrupted: bool,
              history: list[Progress]) -> Plan:
        inst = m.inst
        found = solver_status in ("OPTIMAL", "FEASIBLE")
        res = Residual(inst)
        for lo in inst.leases:
            if lo.lease in fits:
                res.apply(lo, fits[lo.lease])
        polished = False
        if self.previous_plan is None:  # re-plans keep CP-SAT's minimal-move answer as it is
            better, better_res = polish(inst, fits, res, time_limit_s=2.0)
            if plan_value(inst, better) > plan_value(inst, fits) + 1e-6:
                fits, res, polished = better, better_res, True
        rows = [row for lo in inst.leases if lo.lease in fits for row in placement_rows(inst, lo, fits[lo.lease])]
        placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
        unplaced = explain_unplaced(inst, placements, res, explain=self.explain)
        stayed = {lid for lid, st in m.stay.items() if found and solver.value(st)}
        before = set() if self.previous_plan is None else set(self.previous_plan.placements["lease"])
        net = float((placements["revenue_usd"] - placements["power_cost_usd"]
                     - placements["transport_cost_usd"]).sum())
        placed_now = set(placements["lease"])
        relocated = (set(m.stay) & placed_now) - stayed  # could have stayed, but moved
        settings = self.sc.settings
        dropped_revenue = float(self.sc.workloads.loc[sorted(before - placed_now), "revenue_usd"].sum()) if before \
            else 0.0
        objective = net - settings.move_penalty_usd * len(relocated) - settings.drop_penalty_factor * dropped_revenue
        bound, bound_source = solver.best_objective_bound + m.objective_offset, "cp-sat"
        if not found:
            bound = float("inf")
        if self.warm is not None and self.warm.lp is not None and self.warm.lp.status == "OPTIMAL":
            lp_bound = self.warm.lp.objective + m.objective_offset
            if lp_bound < bound:
                bound, bound_source = lp_bound, "lp relaxation"
        warm = None if self.warm is None else {
            "method": self.warm.method, "value_usd": self.warm.value_usd, "wall_s": self.warm.wall_s,
            "lp_bound_usd": None if self.warm.lp is None else self.warm.lp.objective}
        meta = {"seed": self.seed, "workers": self.workers, "time_limit_s": self.time_limit_s,
                "deterministic": self.deterministic, "build_s": self.build_s,
                "variables": len(m.cp.proto.variables), "constraints": len(m.cp.proto.constraints),
                "constraints_by_family": dict(m.n_constraints), "moved_leases": sorted((before & placed_now) - stayed),
                "dropped_leases": sorted(before - placed_now), "relocated_by_choice": sorted(relocated),
                "solver_status": solver_status,
                "solver_objective_usd": solver.objective_value + m.objective_offset if found else None,
                "bound_source": bound_source,
                "polished": polished,
                "warm_start": warm}
        progress = pd.DataFrame([p.__dict__ for p in history], columns=["wall_s", "objective_usd", "bound_usd", "gap"])
        return make_plan(self.sc, placements, unplaced, status=status, objective_usd=objective,
                         bound_usd=max(bound, objective), wall_s=wall, method="cp-sat", interrupted=interrupted,
                         meta=meta, progress=progress)


def _add_hint(m: PlacementModel, fits: dict[str, list[ReplicaFit]],
              previous: dict[str, list[ReplicaFit] | None] | None) -> None:
    """Hint every variable from a set of replica fits (a complete hint)."""
    inst = m.inst
    for lo in inst.leases:
        if lo.lease not in m.placed:
            continue
        f = canonical(lo, fits[lo.lease]) if lo.lease in fits else None
        m.cp.add_hint(m.placed[lo.lease], f is not None)
        for r in range(lo.replicas):
            rf = f[r] if f else None
            parts = dict(rf.parts) if rf else {}
            for s in m.sites(lo):
                if lo.span == "site":
                    m.cp.add_hint(m.site[(lo.lease, r, s)], bool(rf and rf.site == s))
                for p in m.pods(lo, s):
                    g = parts.get(p, 0)
                    m.cp.add_hint(m.x[(lo.lease, r, p)], g if lo.span == "site" else int(g > 0))
                    if lo.span == "site":
                        m.cp.add_hint(m.whole[(lo.lease, r, p)], g == lo.gpus)
                for k, path in enumerate(lo.paths.get(s, []) if lo.needs_path else []):
                    on = bool(rf and rf.site == s and rf.path is not None and rf.path.path_id == path.path_id)
                    m.cp.add_hint(m.route[(lo.lease, r, s, k)], on)
    for lid, st in m.stay.items():
        prev = previous.get(lid) if previous else None
        m.cp.add_hint(st, bool(prev is not None and lid in fits and canonical_equal(fits[lid], prev)))


def canonical_equal(a: list[ReplicaFit], b: list[ReplicaFit]) -> bool:
    """Whether two sets of replica fits hold the same pods with the same GPUs."""
    return sorted(tuple(sorted(f.parts)) for f in a) == sorted(tuple(sorted(f.parts)) for f in b)


def _read_fits(m: PlacementModel, solver: cp_model.CpSolver) -> dict[str, list[ReplicaFit]]:
    out: dict[str, list[ReplicaFit]] = {}
    for lo in m.inst.leases:
        pl = m.placed.get(lo.lease)
        if pl is None or not solver.value(pl):
            continue
        fits = []
        for r in range(lo.replicas):
            for s in m.sites(lo):
                parts = []
                for p in m.pods(lo, s):
                    v = int(solver.value(m.x[(lo.lease, r, p)]))
                    if v:
                        parts.append((p, v if lo.span == "site" else lo.gpus))
                if not parts:
                    continue
                path = None
                if lo.needs_path:
                    path = next(pth for k, pth in enumerate(lo.paths[s]) if solver.value(m.route[(lo.lease, r, s, k)]))
                fits.append(ReplicaFit(s, tuple(parts), path))
        out[lo.lease] = fits
    return out


def optimise(sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
             previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
             deterministic: bool = True, explain: bool = True,
             on_progress: Callable[[Progress], None] | None = None) -> Plan:
    """Place leases with CP-SAT: the most valuable plan that keeps every limit, every week.

    Parameters
    ----------
    sc
        The scenario.
    time_limit_s
        Search time limit (deterministic time units ~ seconds when ``deterministic``).
    seed, workers
        CP-SAT's random seed and search workers; with ``deterministic`` the same
        seed, workers and inputs give the same plan.
    previous_plan
        Re-plan against this plan, moving as few of its leases as possible.
    hint
        Warm start: ``"greedy"`` (default) or ``"none"``.
    deterministic, explain, on_progress
        See :class:`Optimiser`.

    Returns
    -------
    Plan
        With status, objective, bound and gap, and its tables.

    Raises
    ------
    InfeasibleError
        If internal workloads cannot all be placed.

    Examples
    --------
    >>> from planner import load_scenario
    >>> sc = load_scenario()
    >>> plan = optimise(sc, time_limit_s=5)
    >>> plan.check(sc)
    []
    """
    return Optimiser(sc, time_limit_s=time_limit_s, seed=seed, workers=workers, previous_plan=previous_plan,
                     hint=hint, deterministic=deterministic, explain=explain, on_progress=on_progress).solve()
