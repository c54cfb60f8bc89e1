"""The hall bound: a Lagrangian bound that prices one hall at a time, span=hall leases whole.

The pattern relaxation (:mod:`planner.optimise.bounds.patterns`) sees how span=pod
replicas pack into one pod, but keeps span=hall and span=site leases as continuous GPUs
per pod, and a span=hall replica may spread over every pod of its site. On the generated
tiers most of what the planner leaves out is exactly those hall-sized training leases,
which compete with pod-sized ones for a hall's pods. Here each *hall* is priced as one
problem: its pods' span=pod replicas (whole, one pod each), the span=hall replicas that
lie whole in it (their GPUs split over its pods in whole GPUs) and the span=site GPUs
on its pods, all within each pod's free GPUs in every week and its uplink.

The bound is Lagrangian, at any duals ``u`` of the pattern master's rows (its LP
relaxation's, or the centre column generation left): the pods' GPU and convexity rows
move into the hall problems (their duals are dropped), every other row stays relaxed,
and

``bound = sum_rows u_i b_i + sum_{free vars} max(lb_j rc_j, ub_j rc_j) + sum_halls max(0, H_h)``

where the span=site and span=hall GPU columns are no longer free variables but the hall
problems' (``H_h``: CP-SAT's proven upper bound on hall ``h``'s best reduced value, or,
when smaller, the bound that pricing its pods one at a time gives -- where CP-SAT proves
little within its limit, on big halls, the hall bound is then never above the pods'
pricing). In a
hall problem a span=hall lease's GPUs come in whole replicas (``G`` GPUs over the hall's
pods per replica in it); its replicas per site stay the master's column, so a lease's
value is counted once, not once per hall. Every plan is one of the hall problems'
solutions taken together, so this is a true bound at any duals; at the duals of an LP
whose rows it keeps it is at most that LP's optimum. What it leaves out, to stay a
relaxation: span=site and span=hall traffic on the uplinks, the halls' aggregation rows,
and that the replicas a lease has in its halls add up to the master's count.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from ortools.sat.python import cp_model

from planner.optimise.bounds.api_lp import api_lp_bound
from planner.optimise.bounds.patterns import M, PatternMaster, knapsack_solver, price_pattern
from planner.optimise.instance import LeaseOptions

__all__ = ["HallBound", "HallTask", "hall_bound", "price_hall"]


@dataclass(frozen=True)
class HallTask:
    """One hall's pricing problem, as plain data (it pickles to another process).

    Attributes
    ----------
    hall
        The hall's position.
    values
        Each variable's reduced value per unit (a replica, or a GPU), US dollars rounded up.
    upper
        Each variable's upper bound (its lower bound is 0).
    rows
        ``((variable, coefficient), ...), capacity`` per pod GPU or uplink row of a time segment.
    splits
        ``(replicas variable, G, (GPU variables, ...))``: a span=hall lease's GPUs in the hall's
        pods add up to ``G`` per replica placed in it (in :func:`hall_bound`'s tasks the replicas
        variable is worth nothing itself: the lease's value is on its GPUs).
    work
        CP-SAT's deterministic time limit (counted work, not the clock).
    """

    hall: int
    values: tuple[int, ...]
    upper: tuple[int, ...]
    rows: tuple[tuple[tuple[tuple[int, int], ...], int], ...]
    splits: tuple[tuple[int, int, tuple[int, ...]], ...]
    work: float


def price_hall(task: HallTask) -> float:
    """An upper bound (M$) on hall ``task.hall``'s best reduced value (0 if it has nothing to gain).

    CP-SAT on one worker with a fixed seed and a deterministic limit: the result depends
    on the task alone. Its proven bound is used when it stops early.

    Examples
    --------
    Two pods of 100 GPUs; a span=hall replica of 150 GPUs worth $5 M, and a 60-GPU span=pod
    replica worth $2 M per pod: the hall lease takes 150 of the 200 GPUs, leaving room for
    neither pod replica (at most 50 free in one pod), so $5 M beats two pod replicas' $4 M.

    >>> task = HallTask(0, values=(2_000_000, 2_000_000, 5_000_000, 0, 0), upper=(1, 1, 1, 100, 100),
    ...                 rows=((((0, 60), (3, 1)), 100), (((1, 60), (4, 1)), 100)),
    ...                 splits=((2, 150, (3, 4)),), work=1.0)
    >>> price_hall(task)
    5.0
    """
    if not task.values:
        return 0.0
    cp = cp_model.CpModel()
    x = [cp.new_int_var(0, ub, "") for ub in task.upper]
    for terms, cap in task.rows:
        cp.add(cp_model.LinearExpr.weighted_sum([x[j] for j, _ in terms], [c for _, c in terms]) <= cap)
    for y, gpus, zs in task.splits:
        cp.add(sum(x[j] for j in zs) == gpus * x[y])
    cp.maximize(cp_model.LinearExpr.weighted_sum(x, list(task.values)))
    solver = knapsack_solver(task.work)
    status = solver.solve(cp)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return max(0.0, solver.best_objective_bound) * M
    # no proof at all (it always has the empty solution, so this is a stop before the first)
    return sum(max(0, v) * ub for v, ub in zip(task.values, task.upper, strict=True)) * M


@dataclass(frozen=True)
class HallBound:
    """What the hall bound proved at one set of duals.

    Attributes
    ----------
    bound_usd
        A true upper bound on any plan's net value (the APIs' own LP optimum added).
    halls
        Per hall position, the upper bound on its best reduced value (US dollars).
    wall_s
        Seconds spent, building the tasks and solving them.
    pods_usd
        The pods' pricing bound at the same duals.
    """

    bound_usd: float
    halls: dict[int, float]
    wall_s: float
    pods_usd: float = float("nan")
    """The bound that pricing each pod alone gives at the same duals (the pattern bound's pass there,
    APIs included): worked out on the way, never below ``bound_usd``."""


class _Vars:
    """A hall problem's variables (values, upper bounds) and its GPU and uplink rows, gathered as it is built."""

    def __init__(self) -> None:
        self.values: list[int] = []
        self.upper: list[int] = []
        self.gpu: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)  # (pod, segment) -> terms
        self.up: dict[tuple[int, int], list[tuple[int, int]]] = defaultdict(list)

    def add(self, value_musd: float, ub: int) -> int:
        """A variable in ``[0, ub]`` worth ``value_musd`` each (rounded up to whole dollars: still a bound)."""
        self.values.append(math.ceil(value_musd / M))
        self.upper.append(ub)
        return len(self.values) - 1


def _hall_tasks(b: PatternMaster, u: np.ndarray, rc: np.ndarray, cub: np.ndarray, work: float) -> list[HallTask]:
    """Every hall's pricing problem at duals ``u`` (pod GPU and convexity duals already dropped)."""
    inst = b.inst
    zcols: dict[int, list[tuple[str, int, int]]] = defaultdict(list)  # pod -> (lease, column, upper)
    for (lid, p), j in b.cols.gpus.items():
        zcols[p].append((lid, j, math.floor(cub[j] + 1e-9)))
    by_id = {lo.lease: lo for lo in b.leases}
    return [_hall_task(b, h, u, rc, cub, zcols, by_id, work) for h in range(len(inst.hall_ids))]


def _hall_task(b: PatternMaster, h: int, u: np.ndarray, rc: np.ndarray, cub: np.ndarray,
               zcols: dict[int, list[tuple[str, int, int]]], by_id: dict[str, LeaseOptions], work: float) -> HallTask:
    """Hall ``h``'s pricing problem: only what could add value is in it (all else stays at zero)."""
    inst = b.inst
    pods = np.flatnonzero(inst.pod_hall == h).tolist()
    v = _Vars()
    hall_z: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # lease -> (pod, column, upper)
    for p in pods:
        for it, value in b.values(p, u):
            if value <= 1e-9 or it.most <= 0:
                continue
            j = v.add(value, it.most)
            for k in b.active(it.lo):
                v.gpu[(p, k)].append((j, it.lo.gpus))
                if it.lo.egress_kbps > 0:
                    v.up[(p, k)].append((j, it.lo.egress_kbps))
        for lid, col, ub in zcols[p]:
            if ub <= 0:
                continue
            if by_id[lid].span == "hall":
                hall_z[lid].append((p, col, ub))
            elif rc[col] > 1e-12:  # span=site GPUs, continuous in the master, whole here
                j = v.add(float(rc[col]), ub)
                for k in b.active(by_id[lid]):
                    v.gpu[(p, k)].append((j, 1))
    splits = []
    for lid, zs in hall_z.items():
        lo = by_id[lid]
        most = math.floor(cub[b.cols.site[(lid, int(inst.pod_site[zs[0][0]]))]] + 1e-9)
        if most <= 0 or max(float(rc[col]) for _, col, _ in zs) <= 1e-12 or sum(ub for _, _, ub in zs) < lo.gpus:
            continue  # nothing to gain in this hall, or no room for one whole replica
        y = v.add(0.0, most)  # whole replicas in the hall (the site's replica column stays the master's)
        z_vars = []
        for p, col, ub in zs:
            j = v.add(float(rc[col]), ub)
            z_vars.append(j)
            for k in b.active(lo):
                v.gpu[(p, k)].append((j, 1))
        splits.append((y, lo.gpus, tuple(z_vars)))
    rows = [(tuple(terms), int(b.free_low[p, k])) for (p, k), terms in sorted(v.gpu.items())]
    rows += [(tuple(terms), int(np.min(np.atleast_1d(inst.pod_uplink_kbps[p]))))
             for (p, _), terms in sorted(v.up.items())]
    return HallTask(h, tuple(v.values), tuple(v.upper), tuple(rows), tuple(splits), work)


def hall_bound(b: PatternMaster, u: np.ndarray, *, work: float = 5.0,
               map_fn: Callable[[Callable[[Any], Any], list[Any]], list[Any]] | None = None
               ) -> HallBound:
    """The hall bound at duals ``u`` of the pattern master ``b``'s rows.

    Parameters
    ----------
    b
        A built :class:`~planner.optimise.bounds.patterns.PatternMaster`.
    u
        Duals of its rows, signs right for each row's sense (:meth:`PatternMaster.clean`),
        e.g. :meth:`PatternMaster.lp_duals`. Any such duals give a true bound.
    work
        CP-SAT's deterministic time limit per hall (its proven bound is used when it stops).
    map_fn
        Maps :func:`price_hall` over the halls' tasks, and the pattern pricing over the
        pods' (default: the builtin ``map``). The result does not depend on it.

    Returns
    -------
    HallBound

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> from planner.generate import generate
    >>> import tempfile
    >>> inst = build_instance(load_scenario(generate("small", seed=1, out_dir=tempfile.mkdtemp())))
    >>> b = PatternMaster(inst)
    >>> b.build()
    >>> hb = hall_bound(b, b.lp_duals())
    >>> bool(hb.bound_usd > 616_477_153)  # the small tier's proven optimum (seed 1)
    True
    """
    t = time.perf_counter()
    given = np.array(u, dtype=float)
    u = given.copy()
    for i in (*b.pod_cap.values(), *b.conv.values()):
        u[i] = 0.0  # these rows are the hall problems' own
    rc, cub = b.reduced(u), b.upper()
    owned = np.zeros(rc.size, dtype=bool)
    owned[list(b.cols.gpus.values())] = True  # the span=site and span=hall GPUs: the hall problems' own
    value = b.ordinary_bound(u, left_out=owned)
    tasks = _hall_tasks(b, u, rc, cub, work)
    run = map_fn or (lambda f, xs: list(map(f, xs)))
    results = run(price_hall, tasks)
    pods = [r[0] for r in run(price_pattern, [b.task(p, given, work) for p in range(len(b.inst.pod_ids))])]
    relaxed = _relaxed_halls(b, given, pods)
    halls = {task.hall: min(r, relaxed[task.hall]) / M for task, r in zip(tasks, results, strict=True)}
    api = api_lp_bound(b.inst) * M
    value += sum(halls.values()) * M + api
    by_pod = b.ordinary_bound(given) + sum(max(0.0, up - given[b.conv[p]]) for p, up in enumerate(pods)) + api
    return HallBound(value / M, halls, time.perf_counter() - t, by_pod / M)


def _relaxed_halls(b: PatternMaster, u: np.ndarray, pods: list[float]) -> dict[int, float]:
    """Per hall, a second upper bound on its problem (M$): its pod GPU rows relaxed at their duals in ``u``.

    Each pod then holds its best pattern alone (``pods``: each pod's pricing bound at ``u``,
    :func:`~planner.optimise.bounds.patterns.price_pattern`) and each span=site or span=hall
    GPU column takes its best end at its reduced value: what pricing pods gives. Taking the
    smaller of the two bounds per hall keeps the hall bound where CP-SAT proves little
    within its limit (big halls), and never above the pods' pricing at the same duals.
    """
    inst = b.inst
    out = np.zeros(len(inst.hall_ids))
    for p, upper in enumerate(pods):
        out[inst.pod_hall[p]] += max(0.0, upper)
    for (p, _), i in b.pod_cap.items():
        out[inst.pod_hall[p]] += u[i] * b.lp.row_ub[i]
    rc, cub = b.reduced(u), b.upper()
    for (_, p), j in b.cols.gpus.items():
        out[inst.pod_hall[p]] += max(0.0, cub[j] * rc[j])
    return {h: float(v) for h, v in enumerate(out)}
