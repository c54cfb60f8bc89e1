"""The CP-SAT adapter: one solver set-up, one search loop, parameters passed through, model export.

Every CP-SAT solve of the optimiser -- the focused rounds and the whole model of the
pod-level method, the neighbourhood sub-solves of the site-level one -- gets its
solver from :func:`new_solver`, and every long search runs through :func:`in_worker`
(a worker thread, while the calling thread handles Ctrl-C and stop requests).

A caller's own CP-SAT parameters (:class:`CpSatSettings` ``parameters``: a text-proto
string such as ``"num_workers: 8 linearization_level: 2"``, or a mapping such as
``{"num_workers": 8}``) are applied last, over the optimiser's own, to every solve.
:func:`export_model` writes the model with its hint, for users who want to solve it
elsewhere.

Examples
--------
>>> s = CpSatSettings(workers=2, seed=0, parameters="linearization_level: 2")
>>> s.sat_parameters().linearization_level
2
>>> CpSatSettings(parameters={"no_such_field": 1}).sat_parameters()
Traceback (most recent call last):
...
ValueError: CP-SAT parameters: ...
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from google.protobuf import json_format, text_format
from ortools.sat import sat_parameters_pb2
from ortools.sat.python import cp_model

from planner.optimise.budget import Budget, Clock, StepLimit
from planner.optimise.incumbent import Incumbent
from planner.optimise.model import PlacementModel
from planner.plan import Status

__all__ = ["IDLE_SUBSOLVERS", "STOP_AFTER_SOLUTION_S", "CpSatSettings", "PlanCallback", "export_model", "in_worker",
           "new_solver", "run_search"]

T = TypeVar("T")

STOP_AFTER_SOLUTION_S = 0.5
"""CP-SAT 9.15 can abort the process when stopped while it reports a new solution; a stop
request is passed on only once this long has passed since the latest one."""

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


@dataclass(frozen=True)
class CpSatSettings:
    """What the caller sets of every CP-SAT solve.

    Parameters
    ----------
    workers, seed
        Search workers and random seed.
    relative_gap_limit
        The gap at which a search of the whole model stops.
    parameters
        CP-SAT parameters of the caller's own (``SatParameters`` fields), as a text proto
        or a mapping; applied last, over the optimiser's settings, to every solve. They
        can undo what the optimiser relies on (a ``max_time_in_seconds`` replaces the
        budget's), so they are for users who know CP-SAT.
    """

    workers: int = 2
    seed: int = 0
    relative_gap_limit: float = 1e-4
    parameters: str | Mapping[str, Any] | None = None

    def sat_parameters(self) -> sat_parameters_pb2.SatParameters:
        """The caller's :attr:`parameters` as a ``SatParameters`` message (empty without any), checked.

        Raises
        ------
        ValueError
            Naming the field or the text CP-SAT does not know, when the parameters do not parse.
        """
        out = sat_parameters_pb2.SatParameters()
        if self.parameters is None:
            return out
        try:
            if isinstance(self.parameters, str):
                text_format.Parse(self.parameters, out)
            else:
                json_format.ParseDict(dict(self.parameters), out)
        except (text_format.ParseError, json_format.ParseError) as exc:
            msg = (f"CP-SAT parameters: {exc}; use the field names of CP-SAT's SatParameters "
                   f"(ortools/sat/sat_parameters.proto), e.g. 'num_workers: 8' or {{'num_workers': 8}}")
            raise ValueError(msg) from exc
        return out


def new_solver(settings: CpSatSettings, limit: StepLimit, *, tuned: bool = True, seed_offset: int = 0,
               log: Callable[[str], None] | None = None) -> cp_model.CpSolver:
    """CP-SAT set up for one step: ``limit`` in deterministic seconds (wall clock: safety stop) or wall ones.

    Parameters
    ----------
    settings
        Workers, seed, gap limit and the caller's own parameters (applied last).
    limit
        The step's limit from the :class:`~planner.optimise.budget.Budget`.
    tuned
        The pod-level model's portfolio (see :data:`IDLE_SUBSOLVERS`) and gap limit; off
        for the small neighbourhood sub-solves, which run CP-SAT's defaults.
    seed_offset
        Added to the seed (each neighbourhood sub-solve has its own).
    log
        Called with each line of CP-SAT's search log (``None``: no log).
    """
    solver = cp_model.CpSolver()
    prm = solver.parameters
    prm.num_workers = settings.workers
    prm.random_seed = settings.seed + seed_offset
    if tuned:
        prm.relative_gap_limit = settings.relative_gap_limit
        prm.catch_sigint_signal = False  # Ctrl-C is handled by in_worker, so the best plan is kept
    if limit.clock is Clock.WORK:
        prm.interleave_search = True  # several workers racing would make the answer depend on timing
        prm.max_deterministic_time = limit.seconds or 0.0
        prm.max_time_in_seconds = limit.wall_s  # the safety stop only
        if tuned:
            prm.ignore_subsolvers.extend(IDLE_SUBSOLVERS)
    else:
        prm.max_time_in_seconds = max(limit.seconds or 0.0, 0.0)
        if tuned:
            prm.num_full_subsolvers = settings.workers
            prm.num_workers = settings.workers + 1  # the neighbourhood searches take turns on one more thread
            prm.subsolvers.extend(["max_lp"] * settings.workers)
            prm.ignore_subsolvers.extend(["ls", "feasibility_pump"])
    if log is not None:
        prm.log_search_progress = True
        prm.log_to_stdout = False
        solver.log_callback = log
    own = settings.sat_parameters()
    if own.ListFields() and not prm.merge_text_format(text_format.MessageToString(own)):
        msg = f"CP-SAT did not take the parameters {settings.parameters!r}"
        raise ValueError(msg)
    return solver


class PlanCallback(cp_model.CpSolverSolutionCallback):
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


def in_worker(work: Callable[[], T], *, stop: threading.Event, name: str,
              on_tick: Callable[[], None] | None = None) -> T:
    """Run ``work`` in a worker thread; this thread turns Ctrl-C into ``stop`` and calls ``on_tick`` ten times a second.

    It waits on an event rather than ``Thread.join``: an interrupted ``join`` can mark a
    running thread finished on CPython 3.11. ``work``'s exception, if any, is raised here.
    """
    result: list[T] = []
    error: list[BaseException] = []
    done = threading.Event()

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # handed to the calling thread
            error.append(exc)
        finally:
            done.set()

    worker = threading.Thread(target=run, name=name, daemon=True)
    worker.start()
    while not done.is_set():
        try:
            done.wait(0.1)
        except KeyboardInterrupt:
            stop.set()
        if on_tick is not None:
            on_tick()
    worker.join()
    if error:
        raise error[0]
    return result[0]


def run_search(solver: cp_model.CpSolver, m: PlacementModel, cb: PlanCallback, *, stop: threading.Event,
               budget: Budget, limit: StepLimit) -> tuple[Status, bool]:
    """Search ``m`` with ``solver`` in a worker thread; returns CP-SAT's status and whether it was stopped.

    A stop request (``stop``, or Ctrl-C) is passed on to CP-SAT once it is safe to (see
    :data:`STOP_AFTER_SOLUTION_S`). A search the wall clock ended before its
    deterministic time was spent is recorded in ``budget`` as a safety stop of
    ``limit``'s step.
    """
    sent = False

    def tick() -> None:
        nonlocal sent
        if stop.is_set() and not sent and time.perf_counter() - cb.last_solution >= STOP_AFTER_SOLUTION_S:
            solver.stop_search()
            sent = True

    solver.best_bound_callback = cb.on_bound
    code = in_worker(lambda: solver.solve(m.cp, cb), stop=stop, name="cp-sat", on_tick=tick)
    interrupted = stop.is_set()
    status = Status(solver.status_name(code))
    if not interrupted and status not in (Status.OPTIMAL, Status.INFEASIBLE):
        budget.ended(limit, wall_s=solver.wall_time, work_s=solver.deterministic_time)
    return status, interrupted


def export_model(m: PlacementModel, path: str | Path) -> Path:
    """Write the CP-SAT model (with its hint, if any) to ``path``: text proto for ``.pbtxt``/``.txt``, else binary.

    The file loads into any CP-SAT (``CpModel().Proto().ParseFromString``, the
    ``solve`` binary, or another language's API) for users who want to solve the
    model elsewhere. The objective there is the net value less
    ``m.objective_offset``.

    Raises
    ------
    OSError
        When the file cannot be written.
    """
    path = Path(path)
    if not m.cp.export_to_file(str(path)):
        msg = f"could not write the CP-SAT model to {path}; check that its folder exists and is writable"
        raise OSError(msg)
    return path
