"""One neighbourhood's sub-solve as a task that can run anywhere: in this process or on a Dask worker.

The neighbourhood search (:mod:`planner.optimise.search.lns`) re-packs a batch of
neighbourhoods at a time, each cut out of the same incumbent. A :class:`SubTask`
holds everything one of them needs -- its sub-instance, the incumbent's packing as the
hint, CP-SAT's settings and limits -- and :func:`solve_sub` builds the model, solves
it and reads the plan back, returning a :class:`SubResult`. Both are plain picklable
objects and :func:`solve_sub` is a top-level function, so a batch runs through any
``map``: the builtin one (:func:`local_map`, in this process, one after another), a pool
of threads in this process (:func:`thread_map`: CP-SAT solves side by side, the models
are built in turn) or a Dask cluster's (:func:`dask_map`), where model building and
solving run in parallel.
In a deterministic run a sub-solve stops on CP-SAT's deterministic time, so its result
is the same wherever it runs; the wall clock is then only its safety stop, given as an
absolute deadline (:func:`time.time`, so that it means the same on another machine
whose clock is set right).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from ortools.sat.python import cp_model

from planner.optimise.budget import Clock, StepLimit
from planner.optimise.cpsat import CpSatSettings, new_solver
from planner.optimise.instance import Instance
from planner.optimise.model import add_hint, build_model, read_fits
from planner.optimise.residual import ReplicaFit

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["Mapper", "SubResult", "SubTask", "cluster_map", "dask_map", "local_map", "solve_sub", "sub_solver",
           "thread_map"]

T = TypeVar("T")
R = TypeVar("R")

Mapper = Callable[[Callable[[Any], Any], list[Any]], list[Any]]
"""``map_fn(f, items) -> [f(item) for item in items]``, in order, wherever it runs."""

Fits = dict[str, list[ReplicaFit]]


@dataclass(frozen=True)
class SubTask:
    """One neighbourhood's sub-solve.

    Attributes
    ----------
    sub
        The neighbourhood as an instance of its own (its pods, the freed and offered
        leases, what the rest of the plan leaves of every capacity).
    hint
        The incumbent's fits of the freed leases (a solution of ``sub``).
    workers, seed, parameters
        CP-SAT's workers, seed (the search's own plus this sub-solve's offset) and the
        caller's own parameters.
    deterministic
        Stop on CP-SAT's deterministic time (``limit_s``) rather than the wall clock.
    limit_s
        The sub-solve's limit, deterministic or wall seconds.
    deadline
        The wall-clock safety stop, as :func:`time.time` (seconds since the epoch).
    """

    sub: Instance
    hint: Fits
    workers: int
    seed: int
    parameters: str | Mapping[str, Any] | None
    deterministic: bool
    limit_s: float
    deadline: float


@dataclass(frozen=True)
class SubResult:
    """What one sub-solve found.

    Attributes
    ----------
    fits
        The fits of the leases the sub-solve placed (``None`` when it found no plan).
    optimal
        CP-SAT proved the neighbourhood optimal.
    deterministic_s, wall_s, build_s
        CP-SAT's deterministic and wall time, and the wall seconds spent building the model.
    cut_short
        The wall-clock safety stop ended a deterministic sub-solve before its limit
        (its result then depends on the machine's load).
    """

    fits: Fits | None
    optimal: bool
    deterministic_s: float
    wall_s: float
    build_s: float
    cut_short: bool


def solve_sub(task: SubTask) -> SubResult:
    """Build the neighbourhood's model, solve it with its hint and read the plan back.

    Examples
    --------
    >>> import tempfile, time
    >>> from planner import load_scenario
    >>> from planner.generate import generate
    >>> from planner.optimise.heuristics.greedy import greedy_pass, price_order
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario(generate("small", seed=1, out_dir=tempfile.mkdtemp())))
    >>> fits = greedy_pass(inst, price_order(inst))[0]
    >>> task = SubTask(inst, fits, workers=1, seed=0, parameters=None, deterministic=True, limit_s=2.0,
    ...                deadline=time.time() + 600)
    >>> out = solve_sub(task)  # the whole small tier as one neighbourhood, from the greedy plan
    >>> out.fits is not None and out.deterministic_s <= 2.0 + 0.1
    True
    """
    t0 = time.perf_counter()
    m = build_model(task.sub)
    add_hint(m, task.hint, None)
    build_s = time.perf_counter() - t0
    wall_left = max(0.1, task.deadline - time.time())
    solver = sub_solver(task, wall_left)
    status = solver.solve(m.cp)
    optimal = status == cp_model.OPTIMAL
    cut_short = (task.deterministic and solver.wall_time >= 0.99 * wall_left
                 and solver.deterministic_time < 0.99 * task.limit_s and not optimal)
    found = read_fits(m, solver) if status in (cp_model.OPTIMAL, cp_model.FEASIBLE) else None
    return SubResult(found, optimal, solver.deterministic_time, solver.wall_time, build_s, cut_short)


def sub_solver(task: SubTask, wall_left: float) -> cp_model.CpSolver:
    """The CP-SAT solver of one sub-solve: the task's settings and limit, ``wall_left`` seconds as its safety stop.

    One worker runs its own search (no interleaved portfolio), and CP-SAT's presolve does
    not look for big overlaps of rows (``find_big_linear_overlap``), each unless the task's
    own parameters say otherwise.

    That presolve step (``FindBigAtMostOneAndLinearOverlap``) charges far more
    deterministic time than it runs: on a sub-model of 130-180 leases, 0.39 deterministic
    s in 0.08 s of wall time, so a 0.5 s sub-solve stopped after its presolve with no
    solution, not even the (complete, feasible) hint. Without it, medium seed 2
    (deterministic 60 s, 2 workers): sub-solves with no solution 24 of 179 -> 8 of 203,
    plan $5,679.7 M -> $5,722.1 M (every tier and seed: ``BENCHMARKS.md``, "Sub-solves
    that stopped in their presolve").

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> task = SubTask(build_instance(load_scenario()), {}, workers=1, seed=0, parameters=None,
    ...                deterministic=True, limit_s=0.5, deadline=0.0)
    >>> p = sub_solver(task, 60.0).parameters
    >>> p.max_deterministic_time, p.interleave_search, p.find_big_linear_overlap
    (0.5, False, False)
    """
    clock = Clock.WORK if task.deterministic else Clock.WALL
    step = StepLimit("neighbourhood search", clock, task.limit_s, None,
                     wall_left if task.deterministic else min(task.limit_s, wall_left))
    settings = CpSatSettings(workers=task.workers, seed=task.seed, parameters=task.parameters)
    solver = new_solver(settings, step, tuned=False)
    own = settings.sat_parameters()
    if task.workers == 1 and not own.HasField("interleave_search"):
        # one worker's own search: deterministic as it is, and it pays better here than CP-SAT's
        # interleaved portfolio run on one thread (see planner.optimise.search.lns.SUB_WORKERS)
        solver.parameters.interleave_search = False
    if not own.HasField("find_big_linear_overlap"):
        solver.parameters.find_big_linear_overlap = False
    return solver


def local_map(f: Callable[[T], R], items: Iterable[T]) -> list[R]:
    """The builtin ``map``, as a list: the batch runs in this process, one task after another."""
    return [f(x) for x in items]


def thread_map(threads: int) -> Mapper:
    """A :data:`Mapper` that runs a batch on up to ``threads`` threads of this process, results in order.

    CP-SAT lets go of the interpreter while it solves, so the sub-solves of a batch run
    side by side, one core each; building their models is Python and takes turns. With
    one thread this is :func:`local_map`. The results are the same as :func:`local_map`'s:
    each task is solved alone, on its own counted work, and they come back in order.

    Examples
    --------
    >>> thread_map(2)(abs, [-3, 1, -2])
    [3, 1, 2]
    """
    if threads <= 1:
        return local_map

    def run(f: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        if len(items) <= 1:
            return local_map(f, items)
        with ThreadPoolExecutor(max_workers=min(threads, len(items)), thread_name_prefix="sub-solve") as pool:
            return list(pool.map(f, items))
    return run


def dask_map(client: Client, *, retries: int = 1) -> Mapper:
    """A :data:`Mapper` that runs each item as a task on ``client``'s cluster and gathers them in order.

    Tasks are submitted with ``pure=False`` (two equal neighbourhoods are still two
    solves) and gathered in the order given, so the batch's results line up with its
    neighbourhoods whichever worker finished first. A task whose worker dies is run
    again elsewhere by the scheduler; one that still fails after ``retries`` more
    attempts, or a cluster that stops answering, raises :class:`ConnectionError` naming
    the scheduler (the search cannot go on without the batch's results).
    """
    from distributed import KilledWorker

    def run(f: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        try:
            return list(client.gather(client.map(f, items, pure=False, retries=retries)))
        except (KilledWorker, OSError, TimeoutError) as exc:
            where = getattr(client.scheduler, "address", None) or "the Dask cluster"
            msg = f"neighbourhood sub-solves failed on {where}: {type(exc).__name__}: {exc}"
            raise ConnectionError(msg) from exc

    return run


@contextmanager
def cluster_map(scheduler: str | Client | None) -> Iterator[Mapper | None]:
    """The :data:`Mapper` of a Dask cluster for the length of a ``with`` block (``None`` without one).

    ``scheduler`` is a scheduler address (``tcp://HOST:PORT``: a client is opened on
    it here and closed on leaving the block) or a :class:`distributed.Client` of the
    caller's (used as it is, left open).
    """
    if scheduler is None:
        yield None
        return
    if not isinstance(scheduler, str):
        yield dask_map(scheduler)
        return
    from distributed import Client

    with Client(scheduler, set_as_default=False) as client:
        yield dask_map(client)
