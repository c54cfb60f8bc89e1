"""The optimiser's entry points: :func:`optimise` and :class:`Optimiser`.

``optimise(scenario)`` is the one call a notebook needs; :class:`Optimiser` gives a
caller (the CLI) the model build and solve as separate steps, live progress, a way to
stop the search early with the best plan found so far, CP-SAT parameters of its own
and the model's export. :meth:`Optimiser.build` makes the instance, the model and the
warm start; :meth:`Optimiser.solve` runs the method's steps
(:mod:`planner.optimise.methods`) over the one :class:`~planner.optimise.budget.Budget`
and the one :class:`~planner.optimise.incumbent.Incumbent`; :meth:`Optimiser.finish`
turns the best plan into a :class:`~planner.plan.Plan`.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd
from ortools.sat.python import cp_model

from planner.errors import InfeasibleError
from planner.optimise.apis import ApiSolution, api_value, take
from planner.optimise.bounds.api_lp import api_revenue_bound
from planner.optimise.budget import Budget
from planner.optimise.cpsat import CpSatSettings, export_model
from planner.optimise.heuristics.api_fill import fill_apis
from planner.optimise.heuristics.greedy import placement_rows, plan_api_tables, plan_value
from planner.optimise.heuristics.polish import polish as eviction_polish
from planner.optimise.heuristics.warmstart import ExtraGuide, LpKind, WarmStart, warm_start
from planner.optimise.incumbent import Incumbent, Progress
from planner.optimise.instance import Instance, build_instance, lease_groups, usable_pods
from planner.optimise.methods.apart import campus_bound, campus_relaxation, solve_apart
from planner.optimise.methods.pods import solve_pods
from planner.optimise.methods.sites import solve_sites
from planner.optimise.model import PlacementModel, add_hint, build_model
from planner.optimise.residual import ReplicaFit, Residual, fits_from_placements
from planner.optimise.search.focus import FocusRound
from planner.optimise.search.lns import BATCH, LnsStats
from planner.plan import PLACEMENT_COLUMNS, Plan, SolverFacts, Status, make_plan
from planner.reasons import explain_unplaced, internal_failure_reasons
from planner.scenario import Scenario

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["API_JOINT_MAX_PAIRS", "POD_LP_MAX_PAIRS", "POD_MODEL_MAX_PAIRS", "Method", "Optimiser", "Progress",
           "optimise"]

log = logging.getLogger(__name__)


Method = Literal["auto", "pods", "sites"]

POD_MODEL_MAX_PAIRS = 25_000
"""(replica, pod) pairs above which ``method="auto"`` leaves the pod-level CP-SAT model for the site-level method."""
POD_LP_MAX_PAIRS = 20_000
"""(replica, pod) pairs above which the warm start is guided by the site-level LP instead of the model's own."""
API_JOINT_MAX_PAIRS = 5_000
"""With API demand: (replica, pod) pairs above which leases and APIs are planned apart
(:mod:`planner.optimise.methods.apart`) instead of in one joint model; the 2028 reference has 21,995."""
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
        :data:`~planner.optimise.budget.SAFETY_FACTOR` times the limit plus
        :data:`~planner.optimise.budget.SAFETY_EXTRA_S` from the start of :meth:`build`; when it
        fires, the plan's ``meta["safety_stop"]`` is true and ``meta["safety_stops"]``
        names the steps it cut short (see :mod:`planner.optimise.budget`). Without
        ``deterministic`` the limit is wall seconds, and the pod-level model's
        neighbourhood searches run on one thread more than ``workers`` (see
        :data:`~planner.optimise.cpsat.IDLE_SUBSOLVERS`). The site-level method's
        neighbourhood search solves ``workers`` sub-solves side by side instead, one
        CP-SAT worker each (the same plan for any number; see
        :data:`~planner.optimise.search.lns.SUB_WORKERS`). ``workers`` processes also
        explain the left-out leases side by side (the same reasons for any number).
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
        :mod:`planner.optimise.bounds.site_lp`.
    method
        ``"pods"``: CP-SAT on the pod-level model; ``"sites"``: for instances too
        big for it -- the site-level LP relaxation (the bound), LP-guided greedy and
        local search (the first plans), then large-neighbourhood search re-packing
        a few pods at a time with CP-SAT (:mod:`planner.optimise.search.lns`); ``"auto"`` (default):
        ``"pods"`` up to :data:`POD_MODEL_MAX_PAIRS` (replica, pod) pairs. With
        ``"sites"`` the time limit counts from the start of :meth:`build`.
    deterministic
        Make the search reproducible for a seed and worker count (CP-SAT's
        interleaved search with a deterministic time limit, counted moves elsewhere).
    explain
        Work out why each left-out lease is left out.
    on_reasons
        Called as ``on_reasons(explained, left_out)`` while the final plan's left-out
        leases are explained (after the search).
    on_progress
        Called with a :class:`Progress` at every better plan and every tighter bound
        (through :class:`~planner.optimise.incumbent.Incumbent`: the value reported never falls,
        the bound never rises, and the plan returned is worth at least the last value).
    instance
        A prebuilt instance (built from ``sc`` when omitted).
    scheduler
        A Dask scheduler address (``"tcp://HOST:PORT"``) or a ``distributed.Client``: the
        site-level method's neighbourhood sub-solves (model build and CP-SAT) run as tasks
        on that cluster, a batch at a time. The plan is the same as without it (for a
        deterministic run): only the wall time changes. The pod-level method solves one
        model and does not use it.
    lns_batch
        Neighbourhoods the site-level method re-packs at a time from the same plan (see
        :func:`~planner.optimise.search.lns.pool_lns`): up to this many sub-solves run at
        once on a cluster. The plan depends on it, not on the cluster's size.
    pattern_rounds
        The site-level method: after the search, this many rounds of column generation on
        the pattern relaxation (:func:`~planner.optimise.bounds.patterns.pattern_bound`, one
        multi-week knapsack per pod, priced on ``scheduler`` when given), whose bound is
        reported when tighter than the site-level one. Counted work (rounds, CP-SAT's
        deterministic time per pod), on top of the time limit: on the generated medium tier
        one round takes about 20 s and gives nearly all of what more rounds do. ``0``: none.
    api_joint_max_pairs
        With API demand and no earlier plan, the (replica, pod) pairs above which leases
        and APIs are planned apart, each block with the other held fixed
        (:mod:`planner.optimise.methods.apart`), instead of in one joint model.
    cp_sat_parameters
        CP-SAT parameters of the caller's own, as a text proto (``"linearization_level: 2"``)
        or a mapping (``{"linearization_level": 2}``), applied last to every CP-SAT solve
        (see :class:`~planner.optimise.cpsat.CpSatSettings`). :meth:`export_model` writes the
        model for solving elsewhere.
    """

    def __init__(self, sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
                 previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
                 deterministic: bool = True, explain: bool = True, relative_gap_limit: float = 1e-4,
                 use_lp: bool = True, method: Method = "auto",
                 on_progress: Callable[[Progress], None] | None = None, instance: Instance | None = None,
                 cp_sat_parameters: str | Mapping[str, Any] | None = None,
                 api_joint_max_pairs: int = API_JOINT_MAX_PAIRS, scheduler: str | Client | None = None,
                 lns_batch: int = BATCH, pattern_rounds: int = 0,
                 on_reasons: Callable[[int, int], None] | None = None) -> None:
        self.sc = sc
        self.on_reasons = on_reasons
        self.cp_sat = CpSatSettings(workers=workers, seed=seed, relative_gap_limit=relative_gap_limit,
                                    parameters=cp_sat_parameters)
        """Workers, seed, gap limit and the caller's own CP-SAT parameters, for every CP-SAT solve."""
        self.cp_sat.sat_parameters()  # bad parameters fail here, before any work
        self.time_limit_s, self.seed, self.workers = time_limit_s, seed, workers
        self.previous_plan, self.hint, self.deterministic, self.explain = previous_plan, hint, deterministic, explain
        self.relative_gap_limit = relative_gap_limit
        self.use_lp = use_lp
        self.method: Method = method
        self.method_used: Literal["pods", "sites"] | None = None
        self.api_joint_max_pairs = api_joint_max_pairs
        self.scheduler = scheduler
        """Where the neighbourhood search's sub-solves run: a Dask scheduler address or client (``None``: here)."""
        if lns_batch < 1:
            msg = f"lns_batch must be at least 1, not {lns_batch}"
            raise ValueError(msg)
        self.lns_batch = lns_batch
        if pattern_rounds < 0:
            msg = f"pattern_rounds must be 0 or more, not {pattern_rounds}"
            raise ValueError(msg)
        self.pattern_rounds = pattern_rounds
        self.apart = False
        """Whether leases and APIs are planned apart (set by :meth:`build`)."""
        self.guides: tuple[ExtraGuide, ...] = ()
        """More guides for the warm start's greedy (the apart method gives its leases' search the whole campus's)."""
        self.campus_bound: tuple[float, str] | None = None
        """When planned apart: the whole campus's bound and its name (from
        :func:`~planner.optimise.methods.apart.campus_bound`, set by :meth:`build`)."""
        self.lease_method: Literal["pods", "sites"] | None = None
        """The method that planned the leases when planned apart from the APIs."""
        self.fits: dict[str, list[ReplicaFit]] = {}
        """The plan's replica fits, once :meth:`finish` has made it."""
        self.pairs = 0
        self.lns: LnsStats | None = None
        self.warm: WarmStart | None = None
        self._t_build = 0.0
        self.built = False
        """Whether :meth:`build` has run (:meth:`solve` builds only when it has not)."""
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
        self.focus_share = 0.0  # share of the limit the focused rounds' searches took
        self.stop_event = threading.Event()
        """Set by :meth:`stop` (or Ctrl-C in a search): every step ends early with its plan."""

    # ------------------------------------------------------------------ stages
    def build(self) -> PlacementModel | None:
        """Build the instance, then the CP-SAT model with its warm start (``"pods"``) or the first plans (``"sites"``).

        Returns the CP-SAT model, or ``None`` for the site-level method (and when leases and
        APIs are planned apart). :meth:`solve` calls it unless it has run.
        """
        m = self._build()
        self.built = True
        return m

    def _build(self) -> PlacementModel | None:
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
            previous |= {k: fs for k, fs in rebuilt.items() if k not in previous}  # windowed: by option id
        keep = {k: v for k, v in (previous or {}).items() if v is not None}
        lp: LpKind = "none" if not self.use_lp else "pods" if self.pairs <= POD_LP_MAX_PAIRS else "sites"
        self.apart = (inst.api is not None and not inst.api.empty and self.previous_plan is None
                      and self.pairs > self.api_joint_max_pairs)
        if self.apart:  # the whole-campus greedy start and bound; the blocks' models and searches: solve_apart
            instance_s = time.perf_counter() - t
            campus = campus_relaxation(self, where)
            if campus.status == Status.OPTIMAL:
                self.incumbent.tighten(campus.bound_usd)  # shown with the first plan
            self.warm = warm_start(inst, lp="none", budget=self.budget, on_plan=self._first_plans,
                                   stop=self.stop_event, where=where)
            self._offer_warm_start()
            self.campus_bound, whole = campus_bound(self, campus, where)
            self.incumbent.tighten(self.campus_bound[0])
            if whole is not None:  # its whole training leases guide the leases' search's warm start
                self.guides = (ExtraGuide("site-level MIP", whole.guide, whole.placed),)
            self.build_s = instance_s  # the instance: each block's model is built within the solve
            self.warm_s = time.perf_counter() - t - instance_s
            return None
        if method == "sites":
            instance_s = time.perf_counter() - t
            self.warm = warm_start(inst, lp="sites" if self.use_lp else "none", keep=keep, budget=self.budget,
                                   on_plan=self._first_plans, stop=self.stop_event, where=where,
                                   guides=self.guides, halls=True, trades=True)
            self._offer_warm_start()
            rel = self.warm.relaxation
            self.build_s = instance_s + (rel.build_s if rel is not None else 0.0)
            self.warm_s = time.perf_counter() - t - self.build_s
            return None
        m = build_model(inst, previous=previous)
        self.build_s = time.perf_counter() - t
        if self.hint == "greedy":
            early = self._first_plans if self.previous_plan is None else None  # a re-plan's value has penalties
            self.warm = warm_start(m, lp=lp, keep=keep, budget=self.budget, on_plan=early, stop=self.stop_event,
                                   guides=self.guides)
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
            bound = self.revenue_bound()
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
        self.stop_event.set()

    @property
    def stopping(self) -> bool:
        """Whether a stop was asked for (:meth:`stop`, or Ctrl-C during a search)."""
        return self.stop_event.is_set()

    def revenue_bound(self) -> float:
        """A plan earns at most every lease's revenue (costs are not negative): the bound without a relaxation.

        A lease with a start window counts once (its options earn the same); every API token demanded counts sold.
        """
        assert self.instance is not None
        return float(sum(math.ceil(opts[0].revenue_usd) for opts in lease_groups(self.instance.leases).values()
                         if not opts[0].internal)) + math.ceil(api_revenue_bound(self.instance))

    def export_model(self, path: str | Path) -> Path:
        """Write the pod-level CP-SAT model, with its warm-start hint, for solving elsewhere (building it first).

        See :func:`~planner.optimise.cpsat.export_model` for the format.

        Raises
        ------
        ValueError
            For the site-level method, which has no single CP-SAT model (``method="pods"`` makes one).
        """
        m = self.model if self.built else self.build()
        if m is None:
            msg = (f"the site-level method has no single CP-SAT model to export ({self.pairs:,} (replica, pod) "
                   f"pairs); pass method='pods' to build the pod-level model")
            raise ValueError(msg)
        return export_model(m, path)

    def solve(self) -> Plan:
        """Solve (building first if needed) and return the plan.

        The steps of each method are in :mod:`planner.optimise.methods.pods` and
        :mod:`planner.optimise.methods.sites`. The plan returned is the best any step
        found.

        A ``KeyboardInterrupt`` during the search stops it and returns the best plan
        so far with ``interrupted=True``.
        """
        m = self.model if self.built else self.build()  # sites, apart: built, no model
        if self.apart:
            return solve_apart(self)
        if self.method_used == "sites":
            return solve_sites(self)
        assert m is not None
        return solve_pods(self, m)

    def polish(self, step: str, fits: dict[str, list[ReplicaFit]], res: Residual
               ) -> tuple[dict[str, list[ReplicaFit]], Residual]:
        """The eviction polish within the budget's limit for ``step`` (stopped by :meth:`stop`).

        Whole halls are cleared for big spanning leases in the site-level method only: there the
        polish and the neighbourhoods are the only moves, while on the pod-level model CP-SAT moves
        those leases itself, and a start narrowed to fewer, bigger leases left it lower (the
        reference, seeds 0 and 1: $11-42 M after the same 60 s).
        """
        assert self.instance is not None
        limit = self.budget.polish(step)
        timed_out = (lambda: self.budget.stop_at(step)) if limit.wall_is_safety_stop else None
        return eviction_polish(self.instance, fits, res, time_limit_s=limit.wall_s, max_tries=limit.moves,
                               stop=self.stop_event, on_time_out=timed_out, halls=self.method_used == "sites")

    @property
    def focus_info(self) -> dict[str, object] | None:
        """The focused search in short: site choices left out in its first round, rounds, last plan, time."""
        r = self.focus_rounds
        if not r:
            return None
        return {"fixed_site_choices": r[0].fixed_site_choices, "rounds": len(r), "status": r[-1].status,
                "value_usd": r[-1].value_usd, "wall_s": sum(x.wall_s for x in r)}

    def finish(self, fits: dict[str, list[ReplicaFit]], status: Status, wall: float, interrupted: bool,
               bound: float, bound_source: str, *, stayable: set[str], stayed: set[str],
               info: Mapping[str, Any], polish_after: bool = True, api: ApiSolution | None = None) -> Plan:
        """The last step of every method: the final polish (unless re-planning), the plan's tables and facts.

        ``info`` holds the method's own :class:`~planner.plan.SolverFacts` (model size,
        CP-SAT's status and objective, the focused or neighbourhood search in short).
        ``api`` is the plan's API service (CP-SAT's); the polish then works around it. Without
        one, the greedy API filler serves what the final leases leave.
        """
        inst = self.instance
        assert inst is not None
        res = Residual.after(inst, fits)
        take(inst.api, api, res)
        polished = False
        if self.previous_plan is None and polish_after:  # re-plans keep CP-SAT's minimal-move answer as it is
            better, better_res = self.polish("final polish", fits, res)
            if plan_value(inst, better, api) > plan_value(inst, fits, api) + 1e-6:
                fits, res, polished = better, better_res, True
        if api is None:
            api = fill_apis(inst, res)
            take(inst.api, api, res)
        self.fits = fits
        rows = [row for lo in inst.leases if lo.lease in fits for row in placement_rows(inst, lo, fits[lo.lease])]
        placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
        unplaced = explain_unplaced(inst, placements, res, explain=self.explain, workers=self.workers,
                                    on_done=self.on_reasons)
        api_net = api_value(inst.api, api).net_usd
        before = set() if self.previous_plan is None else set(self.previous_plan.placements["lease"])
        net = float((placements["revenue_usd"] - placements["power_cost_usd"]
                     - placements["transport_cost_usd"]).sum())
        placed_now = set(placements["lease"])
        relocated = (stayable & placed_now) - stayed  # could have stayed, but moved
        settings = self.sc.settings
        dropped_revenue = float(self.sc.workloads.loc[sorted(before - placed_now), "revenue_usd"].sum()) if before \
            else 0.0
        objective = (net + api_net - settings.move_penalty_usd * len(relocated)
                     - settings.drop_penalty_factor * dropped_revenue)
        self.incumbent.offer(objective, bound=bound)  # the last row of the progress: this plan, this bound
        bound = min(bound, self.incumbent.bound)
        warm = None if self.warm is None else {
            "method": self.warm.method, "value_usd": self.warm.value_usd, "wall_s": self.warm.wall_s,
            "lp_bound_usd": None if self.warm.bound is None else self.warm.bound[0],
            "lp": None if self.warm.bound is None else self.warm.bound[1]}
        assert self.method_used is not None
        facts = SolverFacts(seed=self.seed, workers=self.workers, time_limit_s=self.time_limit_s,
                            deterministic=self.deterministic, build_s=self.build_s, warm_start_s=self.warm_s,
                            method=self.method_used, replica_pod_pairs=self.pairs,
                            moved_leases=sorted((before & placed_now) - stayed),
                            dropped_leases=sorted(before - placed_now), relocated_by_choice=sorted(relocated),
                            bound_source=bound_source, polished=polished, warm_start=warm,
                            safety_stop=self.budget.stopped,
                            safety_stops=[dataclasses.asdict(s) for s in self.budget.safety_stops],
                            safety_limit_s=self.budget.safety_s if self.deterministic else None, **info)
        progress = pd.DataFrame([dataclasses.asdict(p) for p in self.incumbent.history],
                                columns=["wall_s", "objective_usd", "bound_usd", "gap"])
        return make_plan(self.sc, placements, unplaced, status=status, objective_usd=objective,
                         bound_usd=max(bound, objective), wall_s=wall,
                         method="cp-sat" if self.method_used == "pods" else "site-lp + lns", interrupted=interrupted,
                         meta=facts.to_meta(), progress=progress, api=plan_api_tables(inst, api, res))


def optimise(sc: Scenario, *, time_limit_s: float = 60.0, seed: int = 0, workers: int = 2,
             previous_plan: Plan | None = None, hint: Literal["greedy", "none"] = "greedy",
             deterministic: bool = True, explain: bool = True, method: Method = "auto",
             on_progress: Callable[[Progress], None] | None = None,
             cp_sat_parameters: str | Mapping[str, Any] | None = None, scheduler: str | Client | None = None,
             lns_batch: int = BATCH, pattern_rounds: int = 0) -> Plan:
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
    deterministic, explain, method, on_progress, cp_sat_parameters, scheduler, lns_batch, pattern_rounds
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
                     on_progress=on_progress, cp_sat_parameters=cp_sat_parameters, scheduler=scheduler,
                     lns_batch=lns_batch, pattern_rounds=pattern_rounds).solve()
