"""Solve the placement model with CP-SAT and read the plan back.

``optimise(scenario)`` is the one call a notebook needs; :class:`Optimiser` gives a
caller (the CLI) the model build and solve as separate steps, live progress and a
way to stop the search early with the best plan found so far.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

import pandas as pd
from ortools.sat.python import cp_model

from planner.baseline import placement_rows
from planner.budget import FOCUS_SHARES, Budget, Clock, StepLimit
from planner.errors import InfeasibleError, NoPlanError
from planner.fit import ReplicaFit, Residual, fits_from_placements
from planner.incumbent import TOLERANCE_USD, Incumbent, Progress
from planner.instance import Instance, build_instance, usable_pods
from planner.lns import LnsStats, pool_lns
from planner.model import PlacementModel, add_hint, build_model, read_fits
from planner.plan import PLACEMENT_COLUMNS, Plan, make_plan, relative_gap
from planner.reasons import explain_unplaced, internal_failure_reasons
from planner.scenario import Scenario
from planner.search import polish
from planner.warmstart import LpKind, WarmStart, confined_start, lp_guide, plan_value, warm_start

__all__ = ["FOCUS_SHARES", "POD_LP_MAX_PAIRS", "POD_MODEL_MAX_PAIRS", "STOP_AFTER_SOLUTION_S", "FocusRound", "Method",
           "NoPlanError", "Optimiser", "Progress", "optimise"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FocusRound:
    """One round of focused search: site choices left out, CP-SAT's status, the polished plan's value, time."""

    fixed_site_choices: int
    status: str
    value_usd: float
    wall_s: float


class _Callback(cp_model.CpSolverSolutionCallback):
    """Passes each CP-SAT plan (at its exact value, not CP-SAT's rounded one) and bound to the incumbent.

    With ``proves_bound=False`` (a search confined to part of the model, whose bound
    holds only there) no bound is passed on.
    """

    def __init__(self, m: PlacementModel, incumbent: Incumbent, *, proves_bound: bool = True) -> None:
        super().__init__()
        self.m, self.incumbent, self.proves_bound = m, incumbent, proves_bound
        self.last_solution = -1e9  # perf_counter of the latest plan

    def on_solution_callback(self) -> None:
        self.last_solution = time.perf_counter()
        bound = self.best_objective_bound + self.m.objective_offset if self.proves_bound else None
        self.incumbent.offer(self.m.value_of(self.response_proto.solution), bound=bound)

    def on_bound(self, bound: float) -> None:
        """CP-SAT proved a better bound (called from the solver's thread)."""
        if self.proves_bound:
            self.incumbent.offer(bound=bound + self.m.objective_offset)


STOP_AFTER_SOLUTION_S = 0.5
"""CP-SAT 9.15 can abort the process when stopped while it reports a new solution; a stop
request is passed on only once this long has passed since the latest one."""


Method = Literal["auto", "pods", "sites"]

POD_MODEL_MAX_PAIRS = 25_000
"""(replica, pod) pairs above which ``method="auto"`` leaves the pod-level CP-SAT model for the site-level method."""
POD_LP_MAX_PAIRS = 20_000
"""(replica, pod) pairs above which the warm start is guided by the site-level LP instead of the model's own."""
IDLE_SUBSOLVERS = ("core", "no_lp", "pseudo_costs", "reduced_costs", "max_lp_sym", "quick_restart")
"""Full-problem CP-SAT searches left out of a deterministic (interleaved) solve of the pod-level model.

Interleaved, every search gets an equal share of the deterministic time; on the
reference scenario these found no better plan in 60 s while the LP-guided searches
and the neighbourhood searches found them all, so their share goes to the others
(60 s, 2 workers, seed 0: $5,703 M and $5,709 M in two runs with them left out vs
$5,666 M with them; after the power cost moved to the site variables, the CLI's run
gives $5,669 M: one seed's deterministic run moves by 1 % with any change to the
model or its warm start). In a wall-clock solve each of the ``workers`` threads runs
CP-SAT's ``max_lp`` search and one more thread the neighbourhood searches (``ls``
and the feasibility pump left out): $5,689 M / $5,693 M at 60 s vs $5,630 M /
$5,657 M by default, and a benchmark median of $5,694 M over three seeds.
"""


def _revenue_bound(inst: Instance) -> float:
    """A plan earns at most every lease's revenue (costs are not negative): the bound without a relaxation."""
    return float(sum(math.ceil(lo.revenue_usd) for lo in inst.leases if not lo.internal))


class Optimiser:
    """Build, then solve, the placement model of a scenario.

    Parameters
    ----------
    sc
        The scenario.
    time_limit_s, seed, workers
        CP-SAT's time limit, random seed and number of search workers. With
        ``deterministic`` the limit is CP-SAT's deterministic time (its measure of work,
        about a second per unit on an idle core) and every other step counts work too
        (local-search moves), so a run stops at the same point whatever the machine's
        load; the wall clock is then only an outer safety stop, at
        :data:`~planner.budget.SAFETY_FACTOR` times the limit plus
        :data:`~planner.budget.SAFETY_EXTRA_S` from the start of :meth:`build`; when it
        fires, the plan's ``meta["safety_stop"]`` is true and ``meta["safety_stops"]``
        names the steps it cut short (see :mod:`planner.budget`). Without
        ``deterministic`` the limit is wall seconds, and the pod-level model's
        neighbourhood searches run on one thread more than ``workers`` (see
        :data:`IDLE_SUBSOLVERS`).
    previous_plan
        An earlier plan: leases it placed are kept where they were unless moving
        them pays more than ``settings.move_penalty_usd`` each.
    hint
        ``"greedy"`` to warm-start from the best of the plain and the LP-guided greedy
        plans (polished by local search), or ``"none"``.
    use_lp
        Solve an LP relaxation (HiGHS through OR-Tools) to guide the warm start; its
        optimum is also a true bound, reported when tighter than CP-SAT's. The
        pod-level model's own relaxation where it has at most
        :data:`POD_LP_MAX_PAIRS` (replica, pod) pairs, else the site-level one of
        :mod:`planner.relax`.
    method
        ``"pods"``: CP-SAT on the pod-level model; ``"sites"``: for instances too
        big for it -- the site-level LP relaxation (the bound), LP-guided greedy and
        local search (the first plans), then large-neighbourhood search re-packing
        a few pods at a time with CP-SAT (:mod:`planner.lns`); ``"auto"`` (default):
        ``"pods"`` up to :data:`POD_MODEL_MAX_PAIRS` (replica, pod) pairs. With
        ``"sites"`` the time limit counts from the start of :meth:`build`.
    deterministic
        Make the search reproducible for a seed and worker count (CP-SAT's
        interleaved search with a deterministic time limit, counted moves elsewhere).
    explain
        Work out why each left-out lease is left out.
    on_progress
        Called with a :class:`Progress` at every better plan and every tighter bound
        (through :class:`~planner.incumbent.Incumbent`: the value reported never falls,
        the bound never rises, and the plan returned is worth at least the last value).
    """

    def __init__(self, sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
                 previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
                 deterministic: bool = True, explain: bool = True, relative_gap_limit: float = 1e-4,
                 use_lp: bool = True, method: Method = "auto",
                 on_progress: Callable[[Progress], None] | None = None, instance: Instance | None = None) -> None:
        self.sc = sc
        self.time_limit_s, self.seed, self.workers = time_limit_s, seed, workers
        self.previous_plan, self.hint, self.deterministic, self.explain = previous_plan, hint, deterministic, explain
        self.relative_gap_limit = relative_gap_limit
        self.use_lp = use_lp
        self.method: Method = method
        self.method_used: Literal["pods", "sites"] | None = None
        self.pairs = 0
        self.lns: LnsStats | None = None
        self.warm: WarmStart | None = None
        self._t_build = 0.0
        self.budget = Budget(time_limit_s, deterministic=deterministic)
        """Every step's share of the limit, and the safety stops (made again by :meth:`build`)."""
        self.incumbent = Incumbent(sink=self._emit)
        """The best plan and bound so far: the one channel of :attr:`on_progress` (made again by :meth:`build`)."""
        self._first_plan = False
        self.on_progress = on_progress
        self.instance = instance
        self.model: PlacementModel | None = None
        self.solver: cp_model.CpSolver | None = None
        self.log_lines: list[str] = []
        self.build_s = 0.0  # the instance and the model (CP-SAT's, or the site-level LP's matrix)
        self.warm_s = 0.0  # the warm start: greedy plans, the LP solve, local search
        self.focus_rounds: list[FocusRound] = []  # the rounds of focused search of the pod-level model
        self._focus_share = 0.0  # share of the limit the focused rounds' searches took
        self.bound_log_start: int | None = 0
        """Where in :attr:`log_lines` the bounds CP-SAT logs start to hold for the whole model (``None``: not yet)."""
        self._stop = threading.Event()

    # ------------------------------------------------------------------ stages
    def build(self) -> PlacementModel | None:
        """Build the instance, then the CP-SAT model with its warm start (``"pods"``) or the first plans (``"sites"``).

        Returns the CP-SAT model, or ``None`` for the site-level method.
        """
        t = self._t_build = time.perf_counter()
        self.budget = Budget(self.time_limit_s, deterministic=self.deterministic, start=t)
        self.incumbent = Incumbent(sink=self._emit, start=t)
        inst = self.instance or build_instance(self.sc)
        self.instance = inst
        where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
        stuck = [lo.lease for lo in inst.leases if lo.internal and not where[lo.lease]]
        if stuck:
            raise InfeasibleError(internal_failure_reasons(inst, stuck))
        self.pairs = sum(lo.replicas * sum(len(ps) for ps in where[lo.lease].values()) for lo in inst.leases)
        method = self.method if self.method != "auto" else ("pods" if self.pairs <= POD_MODEL_MAX_PAIRS else "sites")
        self.method_used = method
        previous = None
        if self.previous_plan is not None:
            rebuilt = fits_from_placements(inst, self.previous_plan.placements)
            previous = {str(lid): rebuilt.get(str(lid)) for lid in set(self.previous_plan.placements["lease"])}
        keep = {k: v for k, v in (previous or {}).items() if v is not None}
        lp: LpKind = "none" if not self.use_lp else "pods" if self.pairs <= POD_LP_MAX_PAIRS else "sites"
        if method == "sites":
            instance_s = time.perf_counter() - t
            self.warm = warm_start(inst, lp="sites" if self.use_lp else "none", keep=keep, budget=self.budget,
                                   on_plan=self._first_plans, stop=self._stop, where=where)
            self._offer_warm_start()
            rel = self.warm.relaxation
            self.build_s = instance_s + (rel.build_s if rel is not None else 0.0)
            self.warm_s = time.perf_counter() - t - self.build_s
            return None
        m = build_model(inst, previous=previous)
        self.build_s = time.perf_counter() - t
        if self.hint == "greedy":
            early = self._first_plans if self.previous_plan is None else None  # a re-plan's value has penalties
            self.warm = warm_start(m, lp=lp, keep=keep, budget=self.budget, on_plan=early, stop=self._stop)
            self._offer_warm_start()
            add_hint(m, self.warm.fits, previous)
        self.model = m
        self.warm_s = time.perf_counter() - t - self.build_s
        return m

    @property
    def has_plan(self) -> bool:
        """Whether a plan exists yet (from the warm start or the search)."""
        return self._first_plan or self.incumbent.has_plan

    def _emit(self, p: Progress) -> None:
        if self.on_progress is not None:
            self.on_progress(p)

    def _first_plans(self, value: float, bound: float | None) -> None:
        """A plan found while building (the warm start's): report it (a re-plan's only marks that one exists)."""
        self._first_plan = True
        if self.previous_plan is not None:
            return  # its value lacks the move and drop penalties: the search reports the re-plan's values
        if bound is None:  # no relaxation solved yet: every lease's revenue bounds the plan
            assert self.instance is not None
            bound = _revenue_bound(self.instance)
        self.incumbent.offer(value, bound=bound)

    def _offer_warm_start(self) -> None:
        """Hand the warm start's plan, with its placements, to the incumbent (not a re-plan's: see above)."""
        if self.warm is not None and self.previous_plan is None:
            self.incumbent.offer(self.warm.value_usd, self.warm.fits)

    def stop(self) -> None:
        """Ask the search to stop; :meth:`solve` returns the best plan found so far, marked interrupted.

        Also during :meth:`build`, once it has a first plan (:attr:`has_plan`): the warm
        start ends early and :meth:`solve` returns at once.

        Safe to call from any thread or a signal handler: the solving thread passes the
        request on to CP-SAT once it is safe to (see :data:`STOP_AFTER_SOLUTION_S`).
        """
        self._stop.set()

    def solve(self) -> Plan:
        """Solve (building first if needed) and return the plan.

        The pod-level model is searched in steps when its LP relaxation was solved for
        the warm start (and this is not a re-plan): rounds of *focused* search, for the
        shares of the time limit in :data:`~planner.budget.FOCUS_SHARES`, each lease
        confined to the sites where the LP puts some of it (in later rounds, or where
        the plan so far has it) -- a much smaller search that finds good packings fast,
        each round's plan polished by eviction moves that may use any site -- then the
        whole model, from the last plan, for the rest. Only the whole model's search
        proves a bound. The plan returned is the best any step found (then polished).

        A ``KeyboardInterrupt`` during the search stops it and returns the best plan
        so far with ``interrupted=True``.
        """
        m = self.model or self.build()
        if self.method_used == "sites":
            return self._solve_sites()
        assert m is not None
        t0 = time.perf_counter()
        warm = self.warm
        focus = None
        if warm is not None and warm.lp is not None and warm.lp.status == "OPTIMAL" and self.previous_plan is None:
            self.bound_log_start = None
            guide, placed = lp_guide(m, warm.lp)
            lp_sites = {lid: {s for s, w in ws.items() if w >= 1e-6} for lid, ws in guide.site.items()}
            for k, share in enumerate(FOCUS_SHARES):
                got = self._focus(m, k, share, lp_sites, placed, focus)
                if got is None:
                    break
                focus = got
                if self._stop.is_set():
                    break
        if focus is not None and warm is not None and self.focus_rounds[-1].value_usd >= warm.value_usd:
            m.cp.clear_hints()  # else the focus ended below the warm start, which stays the hint
            add_hint(m, focus, None)
        self.bound_log_start = len(self.log_lines)  # the whole model's bound holds; a focused search's does not
        limit = self.budget.cp_sat("whole model", 1.0 - self._focus_share,
                                   wall_s=self.time_limit_s - (time.perf_counter() - t0))
        solver = self._solver(limit)
        cb = _Callback(m, self.incumbent)
        fallback = self.incumbent.best_fits if self.previous_plan is None else (
            warm.fits if warm is not None and not warm.fits else None)  # a re-plan falls back on an empty plan only
        if self._stop.is_set() and (fallback is not None or warm is not None):
            solver_status, interrupted = "UNKNOWN", True  # stopped before the whole model: the best plan so far
        else:
            solver_status, interrupted = self._run(solver, m, cb, limit)
        status = solver_status
        wall = time.perf_counter() - t0
        if status == "INFEASIBLE":
            failed = [lo.lease for lo in m.inst.leases if lo.internal]
            raise InfeasibleError(internal_failure_reasons(m.inst, failed))
        found = solver_status in ("OPTIMAL", "FEASIBLE")
        earlier = self.incumbent.best_fits if self.previous_plan is None else fallback
        if found:
            fits = read_fits(m, solver)
            if self.previous_plan is None:  # the best plan any step found (CP-SAT's, or one before it)
                self.incumbent.offer(plan_value(m.inst, fits), fits)
                assert self.incumbent.best_fits is not None
                fits = self.incumbent.best_fits
        elif earlier is not None:
            # CP-SAT stopped before its first plan: the focused search's or the warm start's is valid.
            log.warning("CP-SAT ended %s; returning the best plan found before it", status)
            fits, status = earlier, "FEASIBLE"
        else:
            msg = f"CP-SAT found no plan ({status}) in {wall:.1f} s; raise the time limit"
            raise NoPlanError(msg)
        bound, bound_source = (solver.best_objective_bound + m.objective_offset, "cp-sat") if found \
            else (float("inf"), "none")
        if self.warm is not None and self.warm.bound is not None:
            lp_bound, lp_source = self.warm.bound
            lp_bound += m.objective_offset if lp_source == "lp relaxation" else 0.0  # the site LP bounds net value
            if lp_bound < bound:
                bound, bound_source = lp_bound, lp_source
        if self.incumbent.bound < bound - TOLERANCE_USD:
            bound, bound_source = self.incumbent.bound, "cp-sat" if found else "sum of revenues"
        stayed = {lid for lid, st in m.stay.items() if found and solver.value(st)}
        info = {"variables": len(m.cp.proto.variables), "constraints": len(m.cp.proto.constraints),
                "constraints_by_family": dict(m.n_constraints), "solver_status": solver_status,
                "solver_objective_usd": solver.objective_value + m.objective_offset if found else None,
                "focus": self.focus_info}
        plan = self._plan(fits, status, wall, interrupted, bound, bound_source,
                          stayable=set(m.stay), stayed=stayed, info=info)
        plan.log = list(self.log_lines)
        return plan

    def _focus(self, m: PlacementModel, k: int, share: float, lp_sites: dict[str, set[int]],
               lp_placed: dict[str, float], incumbent: dict[str, list[ReplicaFit]] | None
               ) -> dict[str, list[ReplicaFit]] | None:
        """Round ``k`` of focused search: CP-SAT for ``share`` of the time limit, each lease confined to some sites.

        A lease keeps the sites where the LP relaxation places some of it
        (``lp_sites``; a lease the LP leaves out has none) and those where the
        ``incumbent`` (the last round's plan, if any) has it. The hint is the incumbent,
        or the warm start, less the leases at other sites, filled up again greedily
        within the sites kept (:func:`~planner.warmstart.confined_start`): a plan of the
        focused model, so the search starts from a valid one. Returns the plan found,
        polished by eviction moves (which may use any site), or ``None`` when no site
        choice is left out or the focused model has no plan. Its plans reach
        :attr:`incumbent` (reported only when better than every plan so far); its bounds
        hold for its part of the model only and are not passed on.
        """
        assert self.warm is not None
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
        start = confined_start(m.inst, incumbent if incumbent is not None else self.warm.fits, sites, lp_placed)
        sub.clear_hints()
        add_hint(focused, start, None)
        t0 = time.perf_counter()
        name = f"focused search, round {k + 1}"
        limit = self.budget.cp_sat(name, share)
        solver = self._solver(limit)
        where = "neither the LP relaxation nor the plan so far places anything" if incumbent \
            else "the LP relaxation places nothing"
        self.log_lines.append(f"{name}: {fixed:,} of {len(m.site):,} (replica, site) choices left out, where "
                              f"{where}; hint ${plan_value(m.inst, start):,.0f}")
        status, _ = self._run(solver, focused, _Callback(focused, self.incumbent, proves_bound=False), limit)
        self._focus_share += share
        if status not in ("OPTIMAL", "FEASIBLE"):
            return None
        fits = read_fits(m, solver)
        value = plan_value(m.inst, fits)
        self.incumbent.offer(value, fits)
        better, _ = self._polish("focused search polish", fits, Residual.after(m.inst, fits))
        polished = plan_value(m.inst, better)
        if polished > value + 1e-6:
            fits, value = better, polished
            self.incumbent.offer(value, fits)
        self.focus_rounds.append(FocusRound(fixed, status, value, time.perf_counter() - t0))
        return fits

    def _polish(self, step: str, fits: dict[str, list[ReplicaFit]], res: Residual
                ) -> tuple[dict[str, list[ReplicaFit]], Residual]:
        """The eviction polish within the budget's limit for ``step`` (stopped by :meth:`stop`)."""
        assert self.instance is not None
        limit = self.budget.polish(step)
        timed_out = (lambda: self.budget.stop_at(step)) if limit.wall_is_safety_stop else None
        return polish(self.instance, fits, res, time_limit_s=limit.wall_s, max_tries=limit.moves, stop=self._stop,
                      on_time_out=timed_out)

    @property
    def focus_info(self) -> dict[str, object] | None:
        """The focused search in short: site choices left out in its first round, rounds, last plan, time."""
        r = self.focus_rounds
        if not r:
            return None
        return {"fixed_site_choices": r[0].fixed_site_choices, "rounds": len(r), "status": r[-1].status,
                "value_usd": r[-1].value_usd, "wall_s": sum(x.wall_s for x in r)}

    def _solve_sites(self) -> Plan:
        """The site-level method's search: re-pack neighbourhoods of pods from the warm start on."""
        inst, warm = self.instance, self.warm
        assert inst is not None and warm is not None
        t0 = time.perf_counter()
        bound, source = warm.bound if warm.bound is not None else (_revenue_bound(inst), "sum of revenues")

        def improved(_fits: dict[str, list[ReplicaFit]], value: float) -> None:
            self.incumbent.offer(value)  # the search only ever improves its plan: the last one is the best

        fits, res = warm.fits, warm.residual
        rel = warm.relaxation if warm.relaxation is not None and warm.relaxation.status == "OPTIMAL" else None
        if self.previous_plan is None:  # re-plans keep the earlier placements where they still fit
            limit = self.budget.lns()
            result: list[tuple[dict[str, list[ReplicaFit]], Residual, LnsStats]] = []
            done = threading.Event()

            def run() -> None:
                try:
                    out = pool_lns(inst, fits, res, budget_s=limit.seconds or 0.0, seed=self.seed,
                                   workers=self.workers, deterministic=self.deterministic, stop=self._stop,
                                   on_improve=improved, target_usd=bound * (1 - self.relative_gap_limit),
                                   guide=rel.guide if rel is not None else None,
                                   placed=rel.placed if rel is not None else None, safety_s=limit.wall_s)
                    result.append(out)
                finally:
                    done.set()

            worker = threading.Thread(target=run, name="lns", daemon=True)
            worker.start()
            while not done.is_set():
                try:
                    done.wait(0.1)
                except KeyboardInterrupt:
                    self._stop.set()
            worker.join()
            fits, res, self.lns = result[0]
            if self.lns.safety_stop:
                self.budget.stop_at(limit.step)
            self.incumbent.offer(plan_value(inst, fits), fits)
        interrupted = self._stop.is_set()
        wall = time.perf_counter() - t0
        value = plan_value(inst, fits)
        self.log_lines += [
            f"site-level method: {self.pairs:,} (replica, pod) pairs",
            f"bound: {source} ${bound:,.0f}" + ("" if rel is None else
                                                f" ({rel.rows:,} rows, {rel.cols:,} columns, {rel.nonzeros:,} "
                                                f"non-zeros, weeks per row {rel.block_weeks}, {rel.wall_s:.1f} s)"),
            f"warm start: {warm.method} ${warm.value_usd:,.0f} in {warm.wall_s:.1f} s",
            *([] if self.lns is None else [
                f"neighbourhood search: {self.lns.improved} of {self.lns.tried} neighbourhoods improved, "
                f"+${self.lns.gain_usd:,.0f} in {self.lns.wall_s:.1f} s"]),
            f"plan: ${value:,.0f}, gap {relative_gap(value, bound):.2%}"]
        status = "OPTIMAL" if relative_gap(value, bound) <= self.relative_gap_limit else "FEASIBLE"
        info = {"variables": None, "constraints": None, "solver_status": "SITE_SEARCH",
                "lns": None if self.lns is None else dataclasses.asdict(self.lns)}
        plan = self._plan(fits, status, wall, interrupted, bound, source, stayable=set(), stayed=set(),
                          info=info, polish_after=False)
        plan.log = list(self.log_lines)
        return plan

    def _solver(self, limit: StepLimit) -> cp_model.CpSolver:
        """CP-SAT set up for one step: ``limit`` in deterministic seconds (wall clock: safety stop) or wall ones."""
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = self.workers
        prm.random_seed = self.seed
        prm.relative_gap_limit = self.relative_gap_limit
        prm.catch_sigint_signal = False  # Ctrl-C is handled here, so the best plan is kept
        prm.log_search_progress = True
        prm.log_to_stdout = False
        if limit.clock is Clock.WORK:
            prm.interleave_search = True
            prm.max_deterministic_time = limit.seconds or 0.0
            prm.max_time_in_seconds = limit.wall_s  # the safety stop only
            prm.ignore_subsolvers.extend(IDLE_SUBSOLVERS)
        else:
            prm.max_time_in_seconds = max(limit.seconds or 0.0, 0.0)
            prm.num_full_subsolvers = self.workers
            prm.num_workers = self.workers + 1  # the neighbourhood searches take turns on one more thread
            prm.subsolvers.extend(["max_lp"] * self.workers)
            prm.ignore_subsolvers.extend(["ls", "feasibility_pump"])
        solver.log_callback = self.log_lines.append
        self.solver = solver
        return solver

    def _run(self, solver: cp_model.CpSolver, m: PlacementModel, cb: _Callback, limit: StepLimit
             ) -> tuple[str, bool]:
        """Search in a worker thread; this (main) thread handles Ctrl-C and stop requests.

        It waits on an event rather than ``Thread.join``: an interrupted ``join`` can mark a
        running thread finished on CPython 3.11. A search the wall clock ended before its
        deterministic time was spent is recorded as a safety stop of ``limit``'s step.
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
        status = solver.status_name(result["status"])
        if not interrupted and status not in ("OPTIMAL", "INFEASIBLE"):
            self.budget.ended(limit, wall_s=solver.wall_time, work_s=solver.deterministic_time)
        return status, interrupted

    def _plan(self, fits: dict[str, list[ReplicaFit]], status: str, wall: float, interrupted: bool,
              bound: float, bound_source: str, *, stayable: set[str], stayed: set[str],
              info: Mapping[str, object], polish_after: bool = True) -> Plan:
        inst = self.instance
        assert inst is not None
        res = Residual.after(inst, fits)
        polished = False
        if self.previous_plan is None and polish_after:  # re-plans keep CP-SAT's minimal-move answer as it is
            better, better_res = self._polish("final polish", fits, res)
            if plan_value(inst, better) > plan_value(inst, fits) + 1e-6:
                fits, res, polished = better, better_res, True
        rows = [row for lo in inst.leases if lo.lease in fits for row in placement_rows(inst, lo, fits[lo.lease])]
        placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
        unplaced = explain_unplaced(inst, placements, res, explain=self.explain)
        before = set() if self.previous_plan is None else set(self.previous_plan.placements["lease"])
        net = float((placements["revenue_usd"] - placements["power_cost_usd"]
                     - placements["transport_cost_usd"]).sum())
        placed_now = set(placements["lease"])
        relocated = (stayable & placed_now) - stayed  # could have stayed, but moved
        settings = self.sc.settings
        dropped_revenue = float(self.sc.workloads.loc[sorted(before - placed_now), "revenue_usd"].sum()) if before \
            else 0.0
        objective = net - settings.move_penalty_usd * len(relocated) - settings.drop_penalty_factor * dropped_revenue
        self.incumbent.offer(objective, bound=bound)  # the last row of the progress: this plan, this bound
        bound = min(bound, self.incumbent.bound)
        warm = None if self.warm is None else {
            "method": self.warm.method, "value_usd": self.warm.value_usd, "wall_s": self.warm.wall_s,
            "lp_bound_usd": None if self.warm.bound is None else self.warm.bound[0],
            "lp": None if self.warm.bound is None else self.warm.bound[1]}
        meta = {"seed": self.seed, "workers": self.workers, "time_limit_s": self.time_limit_s,
                "deterministic": self.deterministic, "build_s": self.build_s, "warm_start_s": self.warm_s,
                "method": self.method_used,
                "replica_pod_pairs": self.pairs, **info,
                "moved_leases": sorted((before & placed_now) - stayed),
                "dropped_leases": sorted(before - placed_now), "relocated_by_choice": sorted(relocated),
                "bound_source": bound_source,
                "polished": polished,
                "warm_start": warm,
                "safety_stop": self.budget.stopped,
                "safety_stops": [dataclasses.asdict(s) for s in self.budget.safety_stops],
                "safety_limit_s": self.budget.safety_s if self.deterministic else None}
        progress = pd.DataFrame([dataclasses.asdict(p) for p in self.incumbent.history],
                                columns=["wall_s", "objective_usd", "bound_usd", "gap"])
        return make_plan(self.sc, placements, unplaced, status=status, objective_usd=objective,
                         bound_usd=max(bound, objective), wall_s=wall,
                         method="cp-sat" if self.method_used == "pods" else "site-lp + lns", interrupted=interrupted,
                         meta=meta, progress=progress)


def optimise(sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
             previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
             deterministic: bool = True, explain: bool = True, method: Method = "auto",
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
    deterministic, explain, method, on_progress
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
                     hint=hint, deterministic=deterministic, explain=explain, method=method,
                     on_progress=on_progress).solve()
