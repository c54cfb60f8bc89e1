"""Pods filled one at a time, each with the leases worth most that it holds week by week.

A first fit places leases one after another, each where it fits as the plan stands,
and the holes it leaves between terms are the ones no later lease fits: on campuses
whose free GPU-weeks leases can fill exactly, the planner's 60 s plans were 3.9-7.7 %
short of the optimum (``BENCHMARKS.md``, "A known optimum: planted campuses"). Filling
one pod at a time instead -- the pod's *multi-week knapsack*: of the leases left, the
set worth most that fits its GPUs, uplink, its site's power and the routes' spans in
every week of their terms -- packs each pod as tightly as its leases allow while leases
are many. CP-SAT solves each knapsack (one worker, a counted limit, from a first-fit
hint), so the result does not depend on the machine.

Only span=pod leases are filled this way (an anti-affine lease's replicas at distinct
sites); leases that span pods are placed before or after by the caller.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from ortools.sat.python import cp_model

from planner.optimise.heuristics.polish import net_value
from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.rangemin import SparseTable
from planner.optimise.residual import Load, ReplicaFit, Residual

__all__ = ["FILL_WORK_S", "MAX_ITEMS", "pod_fill"]

FILL_WORK_S = 0.1
"""CP-SAT's deterministic limit per pod at most."""
MAX_ITEMS = 300
"""Leases offered to one pod at most: those paying most per GPU-week that fit it alone."""

Fits = dict[str, list[ReplicaFit]]


def _fillable(lo: LeaseOptions) -> bool:
    return not lo.internal and lo.span == "pod" and bool(lo.sites)


def pod_fill(inst: Instance, res: Residual, fits: Fits, leases: Iterable[LeaseOptions], *, work_s: float,
             per_pod_s: float = FILL_WORK_S, max_items: int = MAX_ITEMS, seed: int = 0) -> float:
    """Fill every pod, the fullest first, from ``leases`` not yet in ``fits``; ``res`` and ``fits`` change in place.

    A lease's replicas may go to several pods (an anti-affine lease's to several sites); a
    lease some of whose replicas a pod took is offered to the next pods first, and one
    still short of replicas when every pod is filled is taken out again. The fullest pods
    (fewest free GPU-weeks) go first, while the leases that fit their odd shapes are many.

    Parameters
    ----------
    inst
        The instance.
    res, fits
        What the plan so far leaves, and its fits: both take the pods' new leases.
    leases
        The leases to fill from (those that span pods, and internal work, are skipped).
    work_s
        CP-SAT's deterministic seconds, all pods together: each pod gets its share of what is
        left, at most ``per_pod_s`` (the hint, a first fit, stands where CP-SAT has no time).
    per_pod_s
        CP-SAT's deterministic seconds per pod at most.
    max_items
        Leases offered to a pod at most.
    seed
        CP-SAT's seed.

    Returns
    -------
    float
        CP-SAT's deterministic seconds, all pods together.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.generate import generate
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario(generate("small", seed=1, out_dir=tempfile.mkdtemp())))
    >>> res, fits = Residual(inst), {}
    >>> _ = pod_fill(inst, res, fits, inst.leases, work_s=5.0)
    >>> len(fits) > 0 and bool((res.gpu >= 0).all())
    True
    """
    held = {lo.group for lo in inst.leases if lo.lease in fits}
    todo = [lo for lo in leases if _fillable(lo) and lo.lease not in fits and lo.group not in held]
    if not todo:
        return 0.0
    by_pod: dict[int, list[int]] = {}
    last_pod: list[list[int]] = []
    for k, lo in enumerate(todo):  # the pods of its SKU at the sites it may use (allowed, residency, SLO)
        mine = [p for s in lo.sites for p in lo.pods.get(s, [])]
        for p in mine:
            by_pod.setdefault(p, []).append(k)
        last_pod.append(mine)
    order = sorted(by_pod, key=lambda p: (int(res.gpu[p].sum()), p))
    pos = {p: i for i, p in enumerate(order)}
    last = np.array([max((pos[p] for p in mine), default=-1) for mine in last_pod])
    t0 = np.array([lo.t0 for lo in todo])
    t1 = np.array([lo.t1 for lo in todo])
    gpus = np.array([lo.gpus for lo in todo])
    rank = np.argsort(np.argsort([-lo.revenue_usd / (lo.gpus * lo.replicas * lo.weeks) for lo in todo], kind="stable"))
    group: dict[str, list[int]] = {}  # a lease with a start window: its options
    for k, lo in enumerate(todo):
        if lo.starts:
            group.setdefault(lo.group, []).append(k)
    alive = np.ones(len(todo), dtype=bool)  # not placed, nor another start of a placed one
    index = {lo.lease: k for k, lo in enumerate(todo)}
    sites = _guided_sites(inst, res, todo)
    open_: dict[str, list[ReplicaFit]] = {}
    work = 0.0
    for i, p in enumerate(order):
        site = int(inst.pod_site[p])
        ks = np.array(by_pod[p])
        ks = ks[alive[ks] & sites[ks, site]]
        ks = ks[SparseTable(res.gpu[p : p + 1]).terms(0, t0[ks], t1[ks]) >= gpus[ks]]
        ks = ks[np.lexsort((rank[ks], [todo[k].lease not in open_ for k in ks.tolist()]))]
        items = _items(inst, res, p, [todo[k] for k in ks.tolist()], open_, max_items,
                       {todo[k].lease for k in ks.tolist() if last[k] == i})
        if not items:
            continue
        chosen, spent = _knapsack(res, items, min(per_pod_s, max(work_s - work, 0.0) / (len(order) - i)), seed)
        work += spent
        for (lo, fit, load, _, _, _), n in chosen:
            if lo.group in held and lo.lease not in open_:  # another start of it is placed
                continue
            for _ in range(n):
                if not _room(res, load):
                    break
                res.apply(lo, [fit])
                got = open_.setdefault(lo.lease, [])
                got.append(fit)
                for k in group.get(lo.group, []):
                    alive[k] = todo[k].lease == lo.lease
                held.add(lo.group)
                if len(got) == lo.replicas:
                    fits[lo.lease] = open_.pop(lo.lease)
                    alive[index[lo.lease]] = False
    by_id = {lo.lease: lo for lo in todo}
    for lid, got in open_.items():  # short of replicas: out again
        res.apply(by_id[lid], got, sign=+1)
        held.discard(by_id[lid].group)
    return work


def _guided_sites(inst: Instance, res: Residual, leases: list[LeaseOptions]) -> np.ndarray:
    """Leases x sites: where each may go (with a guide, the sites it gives a lease weight at, if any)."""
    out = np.ones((len(leases), len(inst.site_ids)), dtype=bool)
    if res.guide is None:
        return out
    for k, lo in enumerate(leases):
        w = res.guide.site.get(lo.lease)
        if w:
            out[k] = False
            out[k, [s for s, v in w.items() if v > 1e-6]] = True
    return out


Item = tuple[LeaseOptions, ReplicaFit, Load, float, int, bool]
"""A lease offered to a pod: one replica's fit and load, its value in the knapsack, how many replicas at most,
and whether the pod is the last it may use (then all of its replicas left or none)."""


def _room(res: Residual, load: Load, n: int = 1) -> bool:
    """Whether what ``res`` has left holds ``n`` times ``load`` in every week of its term."""
    t = slice(load.t0, load.t1 + 1)
    return all(int(getattr(res, ledger)[thing, t].min()) >= n * amount
               for ledger, row in load.rows.items() for thing, amount in row.items())


def _items(inst: Instance, res: Residual, p: int, leases: list[LeaseOptions], open_: dict[str, list[ReplicaFit]],
           max_items: int, final: set[str]) -> list[Item]:
    """Of ``leases`` (unfinished first, then the best paying per GPU-week), the first ``max_items`` pod ``p``
    takes a replica of or more (with a route) that pay, unfinished first, then by value density."""
    site = int(inst.pod_site[p])
    out: list[tuple[tuple[bool, float], Item]] = []
    for lo in leases:
        if len(out) >= max_items:
            break
        got = open_.get(lo.lease, [])
        if lo.anti_affinity and any(f.site == site for f in got):
            continue
        path = res.route(lo, site)
        if path is False:
            continue
        fit = ReplicaFit(site, ((p, lo.gpus),), path)
        load = Load.of(inst, lo, [fit])
        most = 1 if lo.anti_affinity else lo.replicas - len(got)
        t = slice(lo.t0, lo.t1 + 1)
        for ledger, row in load.rows.items():
            for thing, amount in row.items():
                if amount > 0:
                    most = min(most, int(getattr(res, ledger)[thing, t].min()) // amount)
        if most < 1 or (lo.lease in final and most < lo.replicas - len(got)):  # its last pod: all or none
            continue
        value = net_value(inst, lo, [fit]) - lo.revenue_usd * (1 - 1 / lo.replicas)
        if value <= 0:
            continue
        density = value / (lo.gpus * lo.weeks)
        out.append(((not got, -density), (lo, fit, load, value, most, lo.lease in final)))
    out.sort(key=lambda x: x[0])
    return [item for _, item in out]


def _knapsack(res: Residual, items: list[Item], work_s: float, seed: int) -> tuple[list[tuple[Item, int]], float]:
    """How many replicas of each item, worth most together, ``res`` holds week by week (CP-SAT, ``work_s`` counted)."""
    m = cp_model.CpModel()
    x = [m.new_int_var_from_domain(cp_model.Domain.from_values([0, it[4]]) if it[5] else cp_model.Domain(0, it[4]),
                                   f"n{k}") for k, it in enumerate(items)]
    weeks = res.gpu.shape[1]
    rows: dict[tuple[str, int], list[tuple[int, int]]] = {}
    for k, (_, _, load, _, _, _) in enumerate(items):
        for ledger, row in load.rows.items():
            for thing, amount in row.items():
                rows.setdefault((ledger, thing), []).append((k, amount))
    for (ledger, thing), entries in rows.items():
        ks = np.array([k for k, _ in entries])
        amounts = np.array([a for _, a in entries], dtype=np.int64)
        most = np.array([items[k][4] for k in ks.tolist()], dtype=np.int64)
        on = np.zeros((len(entries), weeks), dtype=bool)
        for j, k in enumerate(ks.tolist()):
            on[j, items[k][2].t0:items[k][2].t1 + 1] = True
        room = getattr(res, ledger)[thing]
        for w in np.flatnonzero((amounts * most) @ on > room).tolist():
            act = np.flatnonzero(on[:, w])
            m.add(cp_model.LinearExpr.weighted_sum([x[int(ks[j])] for j in act], amounts[act].tolist())
                  <= int(room[w]))
    options: dict[str, list[int]] = {}  # a lease with a start window: one start at most
    for k, it in enumerate(items):
        options.setdefault(it[0].group, []).append(k)
    for starts in options.values():
        if len(starts) > 1:
            chosen_start = [m.new_bool_var("") for _ in starts]
            for k, b in zip(starts, chosen_start, strict=True):
                m.add(x[k] <= items[k][4] * b)
            m.add_at_most_one(chosen_start)
    hint = _first_fit(res, items)
    for k, n in enumerate(hint):
        m.add_hint(x[k], n)
    m.maximize(cp_model.LinearExpr.weighted_sum(x, [round(it[3]) for it in items]))
    solver = cp_model.CpSolver()
    solver.parameters.num_workers = 1
    solver.parameters.max_deterministic_time = work_s
    solver.parameters.random_seed = seed
    status = solver.solve(m)
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        counts = [int(solver.value(x[k])) for k in range(len(items))]
    else:  # no time to find one: the first fit stands
        counts = hint
    chosen = [(it, n) for it, n in zip(items, counts, strict=True) if n]
    return sorted(chosen, key=lambda c: -c[0][3]), solver.deterministic_time


def _first_fit(res: Residual, items: list[Item]) -> list[int]:
    """The knapsack's start: in the items' order, as many replicas of each as what is left holds."""
    left: dict[tuple[str, int], np.ndarray] = {}
    out = []
    taken: set[str] = set()  # a lease with a start window: one start
    for lo, _, load, _, most, whole in items:
        t = slice(load.t0, load.t1 + 1)
        n = 0 if lo.group in taken else most
        for ledger, row in load.rows.items():
            for thing, amount in row.items():
                room = left.setdefault((ledger, thing), getattr(res, ledger)[thing].copy())
                if amount > 0:
                    n = min(n, int(room[t].min()) // amount)
        n = max(n, 0) if not whole or n >= most else 0
        if n:
            taken.add(lo.group)
        for ledger, row in load.rows.items():
            for thing, amount in row.items():
                left[(ledger, thing)][t] -= n * amount
        out.append(n)
    return out
