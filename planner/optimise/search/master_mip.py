"""Plans from the pattern relaxation: its restricted master solved as a MIP, then made real.

Column generation (:mod:`planner.optimise.bounds.patterns`) leaves a restricted master
whose columns are whole pods' packings ("patterns") of span=pod replicas, beside the
ordinary columns of the other leases: GPUs per pod of span=site/hall leases, replicas per
site and per route, and each lease's ``placed``. Solving that master with every column
integer (price-and-branch) chooses, in one model, which packing each pod takes, which
giant spanning leases go where, and which leases are left out -- the choice the
neighbourhood search can only make a few pods at a time.

The master leaves out rows the real model has (the uplink load of spanning leases, the
halls' aggregation, span=hall leases confined to one hall), so its answer is made real by
:func:`~planner.optimise.heuristics.greedy.kept_in_place` (each replica kept where every
capacity still holds it, re-routed where its route is full) and the leases it drops or
leaves out are offered to the greedy fill. The result is a plan like any other: its value
is recomputed from its fits, never taken from the master.

The MIP runs in CP-SAT on integer rows: rows with fractional coefficients (power in MW,
DCI in Gbps) are scaled by 10^6 with each coefficient rounded up and the limit down, a
restriction of the row, never a relaxation. The solve stops on CP-SAT's deterministic time.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass

from ortools.sat.python import cp_model

from planner.optimise.bounds.patterns import PatternMaster
from planner.optimise.heuristics.greedy import fill, kept_in_place, plan_value, price_order
from planner.optimise.instance import Instance, PathOption
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["MasterPlan", "master_plan", "solve_master_mip"]

log = logging.getLogger(__name__)

Fits = dict[str, list[ReplicaFit]]

SCALE = 10**6
"""Rows with fractional coefficients are multiplied by this before rounding (MW -> W, Gbps -> kbps)."""


@dataclass(frozen=True)
class MasterPlan:
    """A plan read from the restricted master's MIP.

    Attributes
    ----------
    fits, residual
        The plan made real (kept where it holds, then filled greedily) and what it leaves.
    value_usd
        The plan's net value, recomputed from ``fits``.
    master_usd
        The MIP's objective (the master's own accounting; ``nan`` when no solution was found).
    status
        CP-SAT's status name.
    kept, dropped
        Leases the master's answer places that hold where it puts them in the real model,
        and those that do not (offered to the fill with the rest).
    work_s
        CP-SAT's deterministic time spent.
    """

    fits: Fits
    residual: Residual
    value_usd: float
    master_usd: float
    status: str
    kept: int
    dropped: int
    work_s: float


def _integer_rows(master: PatternMaster) -> list[tuple[list[tuple[int, int]], float, float]]:
    """Every row of the master as integer ``(terms, lb, ub)``, fractional rows scaled and restricted."""
    lp = master.lp
    terms: list[list[tuple[int, float]]] = [[] for _ in lp.rows]
    for i, j, a in lp.entries:
        terms[i].append((j, a))
    for j, (p, counts) in zip(master.pattern_col, master.patterns, strict=True):
        col, _ = master.pattern_terms(p, counts)
        for i, a in col.items():
            terms[i].append((j, a))
    out = []
    for row, lb, ub in zip(terms, lp.row_lb, lp.row_ub, strict=True):
        if all(float(a).is_integer() for _, a in row):
            out.append(([(j, int(a)) for j, a in row], lb, ub))
            continue
        if math.isfinite(lb):
            msg = "a fractional row of the pattern master has a lower side"
            raise ValueError(msg)
        # a <= row over non-negative columns: coefficients up, limit down -- a restriction
        out.append(([(j, math.ceil(a * SCALE - 1e-6)) for j, a in row], -math.inf, math.floor(ub * SCALE + 1e-6)))
    return out


def _hint(master: PatternMaster, fits: Fits) -> dict[int, int]:
    """The columns' values for the plan ``fits`` (where the master has them)."""
    hint: dict[int, int] = {}
    by_id = {lo.lease: lo for lo in master.leases}
    key_col = {key: j for key, j in zip(master.patterns, master.pattern_col, strict=True)}
    per_pod: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for lid, fs in fits.items():
        lo = by_id.get(lid)
        if lo is None or lid not in master.cols.placed:
            continue
        hint[master.cols.placed[lid]] = 1
        ys: dict[int, int] = defaultdict(int)
        for f in fs:
            ys[f.site] += 1
            if f.path is not None and (lid, f.site, f.path.path_id) in master.cols.route:
                j = master.cols.route[(lid, f.site, f.path.path_id)]
                hint[j] = hint.get(j, 0) + 1
            if lo.span == "pod":
                per_pod[f.parts[0][0]][lid] += 1
            else:
                for p, g in f.parts:
                    if (lid, p) in master.cols.gpus:
                        j = master.cols.gpus[(lid, p)]
                        hint[j] = hint.get(j, 0) + g
        for s, n in ys.items():
            if (lid, s) in master.cols.site:
                hint[master.cols.site[(lid, s)]] = n
    for p, counts in per_pod.items():
        key = (p, tuple(sorted((k, v) for k, v in counts.items() if v > 0)))
        if key in key_col:
            hint[key_col[key]] = 1
    return hint


def _whole_halls(master: PatternMaster, cp: cp_model.CpModel, xs: list[cp_model.IntVar]) -> None:
    """Each span=hall replica in one hall: its lease's GPUs in a hall are whole replicas (rows the master relaxes).

    For a span=hall lease at a site, ``w[h]`` replicas in each hall ``h`` with
    ``sum_h w[h] = y`` and the lease's GPUs in the hall's pods ``= gpus * w[h]``.
    """
    by_id = {lo.lease: lo for lo in master.leases}
    halls: dict[tuple[str, int], dict[int, list[int]]] = defaultdict(lambda: defaultdict(list))
    for (lid, p), j in master.cols.gpus.items():
        if by_id[lid].span == "hall":
            site = int(master.inst.pod_site[p])
            halls[(lid, site)][int(master.inst.pod_hall[p])].append(j)
    for (lid, site), per_hall in halls.items():
        lo = by_id[lid]
        y = xs[master.cols.site[(lid, site)]]
        ws = []
        for cols in per_hall.values():
            w = cp.new_int_var(0, lo.replicas, "")
            cp.add(sum(xs[j] for j in cols) == lo.gpus * w)
            ws.append(w)
        cp.add(sum(ws) == y)


def solve_master_mip(master: PatternMaster, solver: cp_model.CpSolver, *,
                     hint: Fits | None = None) -> tuple[str, float, dict[int, int], float]:
    """The restricted master with every column integer, by ``solver`` (CP-SAT, its limits set by the caller).

    Returns CP-SAT's status name, the objective (US dollars, ``nan`` without a
    solution), each column's value (empty without one) and the deterministic time spent.
    """
    lp = master.lp
    cp = cp_model.CpModel()
    pattern = set(master.pattern_col)
    hinted = _hint(master, hint) if hint else {}
    xs = []
    for j, (lb, ub) in enumerate(zip(lp.col_lb, lp.col_ub, strict=True)):
        hi = 1 if j in pattern else math.floor(ub + 1e-9)
        xs.append(cp.new_int_var(math.ceil(lb - 1e-9), hi, ""))
    for row, lb, ub in _integer_rows(master):
        if not row:
            continue
        expr = cp_model.LinearExpr.weighted_sum([xs[j] for j, _ in row], [a for _, a in row])
        if math.isfinite(lb) and math.isfinite(ub) and lb == ub:
            cp.add(expr == round(lb))
            continue
        if math.isfinite(lb):
            cp.add(expr >= math.ceil(lb - 1e-9))
        if math.isfinite(ub):
            cp.add(expr <= math.floor(ub + 1e-9))
    _whole_halls(master, cp, xs)
    obj = [round(c * SCALE) for c in lp.col_obj]
    cp.maximize(cp_model.LinearExpr.weighted_sum(xs, obj))
    for j, v in hinted.items():
        cp.add_hint(xs[j], v)
    status = solver.solve(cp)
    name = solver.status_name(status)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return name, math.nan, {}, solver.deterministic_time
    values = {j: int(solver.value(x)) for j, x in enumerate(xs)}
    return name, solver.objective_value, values, solver.deterministic_time


def master_fits(master: PatternMaster, values: dict[int, int]) -> Fits:
    """The master's integer answer as replica fits (routes as the master chose them).

    The GPUs a span=site/hall lease has in each pod are cut into replicas in pod order,
    a span=hall replica from one hall's pods (the master lets it spread over its site's);
    a lease not wholly cut out is left out.
    """
    by_id = {lo.lease: lo for lo in master.leases}
    routes: dict[tuple[str, int], list[PathOption]] = defaultdict(list)  # (lease, site) -> a path per replica
    zs: dict[tuple[str, int], list[tuple[int, int]]] = defaultdict(list)  # (lease, site) -> (pod, GPUs)
    for (lid, s, path_id), j in master.cols.route.items():
        if values.get(j, 0) > 0:
            path = next(p for p in by_id[lid].paths[s] if p.path_id == path_id)
            routes[(lid, s)] += [path] * values[j]
    ys = {key: values.get(j, 0) for key, j in master.cols.site.items()}
    for (lid, p), j in master.cols.gpus.items():
        if values.get(j, 0) > 0:
            site = int(master.inst.pod_site[p])
            zs[(lid, site)].append((p, values[j]))
    fits: Fits = defaultdict(list)
    for j, (p, counts) in zip(master.pattern_col, master.patterns, strict=True):
        if values.get(j, 0) <= 0:
            continue
        for lid, n in counts:
            lo = by_id[lid]
            s = int(master.inst.pod_site[p])
            for _ in range(n):
                route = routes[(lid, s)].pop(0) if routes[(lid, s)] else None
                fits[lid].append(ReplicaFit(s, ((p, lo.gpus),), route))
    hall = master.inst.pod_hall
    for (lid, s), parts in zs.items():
        lo = by_id[lid]
        pools: dict[int, list[tuple[int, int]]] = defaultdict(list)  # a span=hall replica takes one hall's GPUs
        for p, g in sorted(parts):
            pools[int(hall[p]) if lo.span == "hall" else 0].append((p, g))
        for _ in range(ys.get((lid, s), 0)):
            pool = next((q for _, q in sorted(pools.items()) if sum(g for _, g in q) >= lo.gpus), None)
            if pool is None:
                break  # spread over halls (values without the MIP's hall rows): left to the fill
            need, mine = lo.gpus, []
            while need > 0:
                p, g = pool[0]
                take = min(g, need)
                mine.append((p, take))
                need -= take
                pool[0] = (p, g - take)
                if pool[0][1] == 0:
                    pool.pop(0)
            route = routes[(lid, s)].pop(0) if routes[(lid, s)] else None
            fits[lid].append(ReplicaFit(s, tuple(mine), route))
    return {lid: fs for lid, fs in fits.items() if len(fs) == by_id[lid].replicas}


def master_plan(inst: Instance, master: PatternMaster, *, work_s: float = 10.0, workers: int = 1, seed: int = 0,
                hint: Fits | None = None, solver: cp_model.CpSolver | None = None) -> MasterPlan:
    """Solve the restricted master as a MIP and make its answer a real plan (kept where it holds, then filled).

    Parameters
    ----------
    inst
        The instance the master was built from.
    master
        The restricted master after column generation
        (:attr:`~planner.optimise.bounds.patterns.PatternBound.master`).
    work_s
        CP-SAT's deterministic time for the MIP (counted work: the same answer under any load).
    workers, seed
        CP-SAT's workers (interleaved when more than one) and seed.
    hint
        A plan to start the MIP from (e.g. the incumbent, whose patterns the master holds).
    solver
        A CP-SAT solver with its limits already set (e.g. a budget's step), instead of
        ``work_s``, ``workers`` and ``seed``.

    Returns
    -------
    MasterPlan
        The plan, its recomputed value, and what became of the master's answer.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.generate import generate
    >>> from planner.optimise.bounds.patterns import pattern_bound
    >>> from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario(generate("small", seed=1, out_dir=tempfile.mkdtemp())))
    >>> start, _, _ = greedy_pass(inst, price_order(inst))
    >>> pb = pattern_bound(inst, fits=[start], max_rounds=2)
    >>> mp = master_plan(inst, pb.master, work_s=5, hint=start)
    >>> bool(plan_value(inst, start) <= mp.value_usd <= pb.bound_usd), mp.dropped
    (True, 0)
    """
    if solver is None:
        solver = cp_model.CpSolver()
        prm = solver.parameters
        prm.num_workers = max(1, workers)
        prm.random_seed = seed
        prm.max_deterministic_time = work_s
        prm.interleave_search = True  # racing workers would make the answer depend on timing
    status, objective, values, work = solve_master_mip(master, solver, hint=hint)
    chosen = {lid for lid, j in master.cols.placed.items() if values.get(j, 0) > 0}
    wanted = master_fits(master, values) if values else {}
    kept, res = kept_in_place(inst, wanted)
    fits = dict(kept)
    order = [lo for lo in price_order(inst) if lo.lease not in fits]
    rest = [lo for lo in order if lo.lease in chosen] + [lo for lo in order if lo.lease not in chosen]
    more, res, _ = fill(inst, rest, res, held=fits)  # what the master chose and did not hold, first
    fits |= more
    value = plan_value(inst, fits)
    held = chosen & set(wanted) & set(kept)
    log.info("pattern master MIP: %s, $%.1f M in the master; %d of its %d leases hold, plan $%.1f M",
             status, objective / 1e6, len(held), len(chosen), value / 1e6)
    return MasterPlan(fits, res, value, objective, status, len(held), len(chosen - held), work)
