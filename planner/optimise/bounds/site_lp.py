"""The site-level LP relaxation: a true bound and a guide where the pod-level model is too big.

Pods are pooled per (site, SKU): a replica chooses a site (and a route), not a pod.
Each pool's constraint is the sum of its pods' free GPUs, tightened by *counting
rows* -- in a week, a pool holds at most ``sum(free // G)`` span=pod replicas of
``G`` GPUs or more. Power is per site, uplinks are pooled like GPUs, DCI spans are
per span. Every row is implied by the pod-level constraints of a valid plan, so the
LP optimum is an upper bound on any plan's net value.

Halls: pooled per hall, a span=hall replica takes one pool (its hall) as a span=pod
replica does; pooled per site, it spreads over the site's pools as a span=site one.
Aggregation rows (per hall) carry only the traffic a replica cannot avoid: that of a
replica larger than any of its usable pods' free GPUs, which must split (a replica
that one pod could hold may load no aggregation layer). What the LP relaxes besides
integrality: which pod of a pool holds what, the whole-pod case of smaller split
replicas (no aggregation load counted), and hall confinement when pooling per site.

With ``whole_spans`` the same matrix is solved as a MIP: span=hall and span=site leases
placed whole or not at all, each replica in one hall (site). The LP's weakness where such
leases are big against a hall or a campus's power is that it carries a fraction of one in
the weeks its neighbours leave room (on the reference, a quarter of a 32,256-GPU lease);
the MIP does not, and stays a true bound (every plan is one of its solutions).

The matrix is built from arrays, not a modelling loop. Where weekly rows would
give more non-zeros than ``max_nonzeros``, weeks are pooled into blocks and each
row is the block's average of the weekly rows (their sum divided by the block
length; the average capacity is kept as it is, not rounded down to a whole unit as a
week's is): a looser relaxation, still a true bound.
"""

from __future__ import annotations

import functools
import itertools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.sparse as sp
from ortools.linear_solver.python import model_builder_helper as mbh
from scipy.optimize import Bounds, LinearConstraint, milp

from planner.optimise.bounds.api_lp import api_lp_bound
from planner.optimise.bounds.pod_lp import quiet_stdout
from planner.optimise.families import Family
from planner.optimise.instance import MBPS, UNLIMITED, Instance, LeaseOptions, lease_groups, pod_groups, usable_pods
from planner.optimise.residual import Guide

__all__ = ["MAX_NONZEROS", "BuiltRelaxation", "RowMatrix", "SiteRelaxation", "relaxation_columns", "row_matrix",
           "site_relaxation", "solve_lp", "solve_mip", "weekly_nonzeros"]

WHOLE_SPANS_NODES = 2_000
"""With ``whole_spans``: branch-and-bound nodes at most (work counted, not time: the same bound under any load)."""
MAX_NONZEROS = 5_000_000
"""Non-zeros of the weekly rows (the columns' entries over their weeks) at most before weeks are pooled in blocks.

Measured on the generated tiers, seed 2 (HiGHS, one thread): large with hall pools, 3.1 M
non-zeros, 11 s, bound 2.7 % below site pools' (4.1 s); hyperscale with site pools, weekly
4.1 M, 27 s, 1.6 % below two-week blocks (2.3 M, 20 s); hyperscale with hall pools, weekly
18.6 M, unsolved after 6 min.
"""
HALL_LOOK = 2.0
"""Hall pools' columns are built and counted when the quick look (:func:`_hall_nonzeros`) is within this many
times ``max_nonzeros`` (on the generated tiers it over-counts them by a quarter to a third)."""
COUNT_SIZE_SHARE = 4
"""Counting rows for replica sizes ``G`` with ``G * COUNT_SIZE_SHARE >= `` the pool's largest free pod."""


@dataclass(frozen=True)
class SiteRelaxation:
    """The optimum of the site-level LP and what it says about each lease.

    Attributes
    ----------
    status
        ``"OPTIMAL"`` or the LP solver's status; the bound is only set when optimal.
    bound_usd
        The LP optimum: no plan's net value exceeds it (``nan`` unless optimal).
    placed
        Lease id -> share of the lease the LP carries (0 to 1).
    guide
        Site and route weights per lease (replicas the LP puts there), for
        :class:`planner.optimise.residual.Residual`.
    block_weeks
        Weeks pooled per row (1: weekly rows, the tightest).
    rows, cols, nonzeros, wall_s, build_s
        Size of the LP, the time to build and solve it, and the time to build it.
    pooling
        How pods were pooled: ``"hall"`` or ``"site"``.
    integers
        Columns that ``whole_spans`` makes integer (span=hall and span=site placed and replica columns;
        ``whole_leases`` makes every other lease's placed column integer too, not counted here).
    """

    status: str
    bound_usd: float
    placed: dict[str, float]
    guide: Guide
    block_weeks: int
    rows: int
    cols: int
    nonzeros: int
    wall_s: float
    build_s: float = 0.0
    pooling: Pooling = "hall"
    integers: int = 0


Pooling = Literal["hall", "site"]

Flows = dict[tuple[int, str | None, int], list]
"""(site, region, number of SLO-meeting paths) -> [paths, most Mbps it can carry, cost scale]."""


class _Cols:
    """Columns and their per-week resource entries, gathered as flat lists."""

    def __init__(self) -> None:
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.site: list[int] = []  # the site a column belongs to (-1: a lease's placed share)
        self.obj: list[float] = []
        self.t0: list[int] = []
        self.t1: list[int] = []
        # (column, resource, coefficient per week) entries, expanded over the term later
        self.e_col: list[int] = []
        self.e_res: list[int] = []
        self.e_coef: list[float] = []
        # (row, column, coefficient) of the rows that link columns (placed <-> sites <-> pools)
        self.q_row: list[int] = []
        self.q_col: list[int] = []
        self.q_coef: list[float] = []
        self.q_lo: list[float] = []
        self.q_hi: list[float] = []
        self.q_key: list[tuple] = []

    def add(self, lb: float, ub: float, obj: float, t0: int, t1: int, site: int = -1) -> int:
        self.site.append(site)
        self.lb.append(lb)
        self.ub.append(ub)
        self.obj.append(obj)
        self.t0.append(t0)
        self.t1.append(t1)
        return len(self.lb) - 1

    def uses(self, col: int, res: int, coef: float) -> None:
        if coef:
            self.e_col.append(col)
            self.e_res.append(res)
            self.e_coef.append(coef)

    def row(self, terms: list[tuple[int, float]], lo: float, hi: float, key: tuple = ()) -> None:
        """A row ``lo <= sum(coef * col) <= hi``; ``key`` names it where another pooling has the same row."""
        for c, a in terms:
            self.q_row.append(len(self.q_lo))
            self.q_col.append(c)
            self.q_coef.append(a)
        self.q_lo.append(lo)
        self.q_hi.append(hi)
        self.q_key.append(key)


class _Resources:
    """Resource ids and their capacity per week.

    Keyed by (family, thing...): a :class:`~planner.optimise.families.Family` for the rows
    of the constraint-family table (pooled per hall or site where pods are), ``"flow"``
    and ``"count"`` for the LP's own rows (traffic flows, counting rows).
    """

    def __init__(self, weeks: int) -> None:
        self.weeks = weeks
        self.ids: dict[tuple, int] = {}
        self.cap: list[np.ndarray] = []

    def get(self, key: tuple, cap: Callable[[], np.ndarray]) -> int:
        """The id of resource ``key``; ``cap()`` gives its capacity per week when it is new."""
        r = self.ids.get(key)
        if r is None:
            r = self.ids[key] = len(self.cap)
            self.cap.append(np.asarray(cap(), dtype=np.float64))
        return r


PoolKey = tuple[int, str, str]
"""(site, SKU, hall): a pool of pods; the hall is ``""`` when pods are pooled per site."""


def _count_sizes(inst: Instance, pools: dict[PoolKey, np.ndarray], where: dict[str, dict[int, list[int]]]
                 ) -> dict[PoolKey, list[int]]:
    """Per pool -- and per (site, SKU) as a whole, keyed with hall ``""`` -- the span=pod sizes with counting rows.

    Every size of the site and SKU is tried in each of its pools, so that the pools'
    rows add up to the site's; the site's rows are kept as well (a pool skips sizes
    far below its biggest pod).
    """
    sizes: dict[tuple[int, str], set[int]] = {}
    for lo in inst.leases:
        if lo.span == "pod":
            for s in where[lo.lease]:
                sizes.setdefault((s, lo.sku), set()).add(lo.gpus)
    groups: dict[PoolKey, list[np.ndarray]] = {}
    for (s, sku, hall), pods in pools.items():
        groups.setdefault((s, sku, hall), []).append(pods)
        if hall:
            groups.setdefault((s, sku, ""), []).append(pods)
    out = {}
    for (s, sku, hall), parts in groups.items():
        gs = sizes.get((s, sku))
        if gs:
            biggest = int(inst.pod_free[np.concatenate(parts)].max())
            out[(s, sku, hall)] = sorted(g for g in gs if g * COUNT_SIZE_SHARE >= biggest)
    return out


@dataclass
class BuiltRelaxation:
    """A relaxation's columns and resources, and which columns stand for what."""

    cols: _Cols
    res: _Resources
    placed: dict[str, int]
    site: dict[tuple[str, int], list[int]]  # (lease, site) -> its columns there
    pod: dict[tuple[str, int], tuple[list[int], float]]  # column -> (pods it stands for, GPUs per unit)
    watts: dict[PoolKey, tuple[int, float]]  # pool -> least W per GPU (capacity units) and kW per GPU (cost)
    counted: list[int]  # columns that count whole things in any plan: span=hall and span=site placed and replicas


def relaxation_columns(inst: Instance, where: dict[str, dict[int, list[int]]], by: Pooling,
                       site_rows: bool = False) -> BuiltRelaxation:
    """The relaxation's columns and rows, pods pooled ``by`` hall or site.

    ``site_rows`` adds, per lease and site with more than one pool, a row keeping the
    replicas there within the lease's own (implied by its link row, which a split by site
    relaxes: see :mod:`planner.optimise.bounds.site_split`).
    """
    pools = pod_groups(inst, by)
    keys = list(pools)
    pool_of = np.empty(len(inst.pod_ids), dtype=np.int64)
    for k, pods in enumerate(pools.values()):
        pool_of[pods] = k
    watts = {k: (int(inst.pod_w_per_gpu[v].min()), float(inst.pod_kw_per_gpu[v].min())) for k, v in pools.items()}
    out = BuiltRelaxation(_Cols(), _Resources(inst.pod_free.shape[1]), {}, {}, {}, watts, [])
    counts = _count_sizes(inst, pools, where)
    flows: Flows = {}
    for lo in inst.leases:
        sites = where[lo.lease]
        if not sites and not lo.internal:
            continue
        pc = out.cols.add(1.0 if lo.internal else 0.0, 1.0, float(math.ceil(lo.revenue_usd)), lo.t0, lo.t1)
        out.placed[lo.lease] = pc
        if lo.span != "pod":
            out.counted.append(pc)
        link = [(pc, -float(lo.replicas))]
        for s, usable in sites.items():
            of = pool_of[usable] if by == "hall" else None  # pooled per site: the lease's SKU there
            if of is None or (of == of[0]).all():  # one pool
                mine = {(s, lo.sku, "") if of is None else keys[int(of[0])]: usable}
            else:
                mine = {keys[int(k)]: [p for p, q in zip(usable, of.tolist(), strict=True) if q == k]
                        for k in np.unique(of).tolist()}
            here = _site_columns(inst, out, pools, counts, lo, s, mine, flows)
            if site_rows and len(here) > 1 and not lo.anti_affinity:
                out.cols.row([(c, 1.0) for c in here], -np.inf, float(lo.replicas))
            out.site[(lo.lease, s)] = here
            if lo.span != "pod":  # replicas per site (span=site) or per hall (span=hall): whole numbers
                out.counted += here
            link += [(c, 1.0) for c in here]
        out.cols.row(link, 0.0, 0.0, ("link", lo.lease))
    _one_start_rows(inst, out)
    _flow_columns(inst, out.cols, out.res, flows)
    return out


def _one_start_rows(inst: Instance, out: BuiltRelaxation) -> None:
    """A lease with a start window is placed at one of its starts at most: its options' shares sum to one or less."""
    for opts in lease_groups(lo for lo in inst.leases if lo.starts and lo.lease in out.placed).values():
        if len(opts) > 1:
            out.cols.row([(out.placed[lo.lease], 1.0) for lo in opts], 0.0, 1.0)


def _site_columns(inst: Instance, out: BuiltRelaxation, pools: dict[PoolKey, np.ndarray],
                  counts: dict[PoolKey, list[int]], lo: LeaseOptions, s: int, mine: dict[PoolKey, list[int]],
                  flows: Flows) -> list[int]:
    """The columns of ``lo``'s replicas at site ``s`` (one per pool; one for a span=site replica).

    A span=site replica may spread over pools: its column carries what it needs of the
    site (power, traffic); continuous columns share its GPUs out among the pools.
    """
    cols, res = out.cols, out.res
    if len(mine) == 1:  # the pool's least draw per GPU (of several, the least): never more than a plan's
        w_gpu, kw = out.watts[next(iter(mine))]
    else:
        w_gpu, kw = min(out.watts[k][0] for k in mine), min(out.watts[k][1] for k in mine)
    cost = lo.gpus * kw * inst.hours * lo.weeks / 1000.0 * float(inst.site_price[s])  # power_cost_usd, cheapest pod
    ub = 1.0 if lo.anti_affinity else float(lo.replicas)
    site_load = [(res.get((Family.POWER, s), lambda: inst.site_power_w[s]), lo.gpus * w_gpu)]
    paths = lo.paths.get(s, []) if lo.needs_path else []
    if paths and lo.egress_mbps > 0:
        # The replica's traffic joins the flow from s to its region over its SLO-meeting paths
        # (the fastest n of them): one commodity per (site, region, n), routed by flow columns.
        fk = (s, lo.region, len(paths))
        site_load.append((res.get(("flow", *fk), lambda: np.zeros(res.weeks)), lo.egress_mbps))
        flows.setdefault(fk, [paths, 0.0, 1.0])
        flows[fk][1] += lo.egress_mbps * ub
        flows[fk][2] = min(flows[fk][2], lo.egress_gbps * MBPS / lo.egress_mbps)
    must_split = lo.span != "pod" and _must_split(inst, lo, mine)
    if lo.span == "site" or (lo.span == "hall" and not all(k[2] for k in mine)):
        yc = cols.add(0.0, ub, -float(math.floor(cost)), lo.t0, lo.t1, s)
        for r, a in site_load:
            cols.uses(yc, r, a)
        share = [(yc, -float(lo.gpus))]
        for key, ps in mine.items():
            uc = cols.add(0.0, ub * lo.gpus, 0.0, lo.t0, lo.t1, s)  # GPUs of the replicas in this pool
            out.pod[(lo.lease, uc)] = (ps, float(lo.gpus))
            _pool_load(inst, cols, res, pools[key], key, uc, 1.0, lo.egress_kbps_per_gpu)
            if must_split:
                _agg_load(inst, cols, res, key, uc, float(inst.interpod_kbps_per_gpu))
            share.append((uc, 1.0))
        cols.row(share, 0.0, 0.0)
        return [yc]
    here = []
    for key, ps in mine.items():
        yc = cols.add(0.0, ub, -float(math.floor(cost)), lo.t0, lo.t1, s)
        out.pod[(lo.lease, yc)] = (ps, 1.0)
        for r, a in site_load:
            cols.uses(yc, r, a)
        if lo.span == "hall":  # one hall's pods: the replica's GPUs, and its traffic if it cannot be whole
            _pool_load(inst, cols, res, pools[key], key, yc, lo.gpus, lo.egress_kbps_per_gpu * lo.gpus)
            if must_split:
                _agg_load(inst, cols, res, key, yc, float(inst.agg_kbps(lo.gpus, split=True)))
            here.append(yc)
            continue
        _pool_load(inst, cols, res, pools[key], key, yc, lo.gpus, lo.egress_kbps)
        for ck in (key, (s, lo.sku, "")) if key[2] else (key,):
            for g in counts.get(ck, []):
                if g > lo.gpus:
                    break
                cols.uses(yc, res.get(("count", *ck, g), functools.partial(_count_cap, inst, pools, ck, g)), 1.0)
        here.append(yc)
    if lo.anti_affinity and len(here) > 1:
        cols.row([(c, 1.0) for c in here], -np.inf, 1.0)
    return here


def _must_split(inst: Instance, lo: LeaseOptions, mine: dict[PoolKey, list[int]]) -> bool:
    """Whether every replica of ``lo`` here must split over pods (no usable pod keeps its GPUs free all term)."""
    if lo.span == "pod" or inst.interpod_kbps_per_gpu <= 0:
        return False
    pods = [p for ps in mine.values() for p in ps]
    return int(inst.pod_free[pods, lo.t0:lo.t1 + 1].min(axis=1).max()) < lo.gpus


def _agg_load(inst: Instance, cols: _Cols, res: _Resources, key: PoolKey, col: int, kbps: float) -> None:
    """``col`` loads the aggregation layer of the hall of pool ``key`` (pooled per hall) with ``kbps`` per unit."""
    if not key[2]:
        return
    h = inst.hall_ids.index(key[2])
    cap = np.asarray(inst.hall_agg_kbps[h])
    if cap.min() >= UNLIMITED // 2:
        return
    cols.uses(col, res.get((Family.AGGREGATION, h), lambda: np.broadcast_to(cap, (res.weeks,)).astype(float)), kbps)


def _count_cap(inst: Instance, pools: dict[PoolKey, np.ndarray], key: PoolKey, g: int) -> np.ndarray:
    """Per week, how many replicas of ``g`` GPUs or more the pool ``key`` (a whole site when its hall is "") holds."""
    pool = pools.get(key)
    if pool is None:  # the site as a whole, pooled per hall
        pool = np.concatenate([v for k, v in pools.items() if k[:2] == key[:2]])
    return (inst.pod_free[pool] // g).sum(axis=0)


def _pool_load(inst: Instance, cols: _Cols, res: _Resources, pool: np.ndarray, key: PoolKey, col: int,
               gpus: float, uplink_kbps: float) -> None:
    """``col`` takes ``gpus`` GPUs and ``uplink_kbps`` of uplink of ``pool`` per unit."""
    cols.uses(col, res.get((Family.GPUS, *key), lambda: inst.pod_free[pool].sum(axis=0)), gpus)
    cols.uses(col, res.get((Family.UPLINK, *key), lambda: np.full(res.weeks, inst.pod_uplink_kbps[pool].sum())),
              uplink_kbps)


def _flow_columns(inst: Instance, cols: _Cols, res: _Resources, flows: Flows) -> None:
    """Per commodity, path and week, a flow column (Mbps) carrying the commodity over the path's spans.

    Its cost is the path's transport cost per Mbps and week, scaled down by the commodity's
    smallest ratio of exact to rounded-up egress, so that it never exceeds a plan's cost.
    """
    rate = inst.sc.settings.transport_usd_per_gbps_km_week
    for key, (paths, demand, scale) in flows.items():
        r_flow = res.ids[("flow", *key)]
        for p in paths:
            cost = p.length_km * rate / MBPS * scale * (1 - 1e-9)
            spans = [res.get((Family.DCI, int(e)), functools.partial(inst.span_limit_mbps.__getitem__, int(e)))
                     for e in p.span_idx]
            for w in range(res.weeks):
                fc = cols.add(0.0, demand, -cost, w, w, key[0])
                cols.uses(fc, r_flow, -1.0)
                for r in spans:
                    cols.uses(fc, r, 1.0)


def _expand(cols: _Cols, weeks: int, block: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Entries expanded over each column's term: (column, resource, block, coefficient)."""
    col = np.asarray(cols.e_col, dtype=np.int64)
    t0 = np.asarray(cols.t0, dtype=np.int64)[col]
    t1 = np.asarray(cols.t1, dtype=np.int64)[col]
    n = t1 - t0 + 1
    rep = np.repeat(np.arange(col.size), n)
    week = np.repeat(t0, n) + (np.arange(rep.size) - np.repeat(np.cumsum(n) - n, n))
    blk = week // block
    size = np.minimum(block, weeks - blk * block)  # the last block may be shorter
    coef = np.asarray(cols.e_coef)[rep] / size
    return col[rep], np.asarray(cols.e_res, dtype=np.int64)[rep], blk, coef


def _solve_mip(built: BuiltRelaxation, mat: sp.csr_matrix, lo_row: np.ndarray, hi_row: np.ndarray, time_limit_s: float,
               max_nodes: int, *, whole_leases: bool = False) -> tuple[str, float, np.ndarray]:
    """HiGHS on the matrix with ``built.counted`` integer (and, ``whole_leases``, every lease's placed column).

    Returns the status, the proven bound (``nan`` if none) and the values.
    """
    cols = built.cols
    integer = np.zeros(len(cols.lb))
    integer[built.counted] = 1
    if whole_leases:
        integer[list(built.placed.values())] = 1
    return solve_mip(np.asarray(cols.obj), np.asarray(cols.lb), np.asarray(cols.ub), integer, mat, lo_row, hi_row,
                     time_limit_s, max_nodes)


def solve_mip(obj: np.ndarray, lb: np.ndarray, ub: np.ndarray, integer: np.ndarray, mat: sp.csr_matrix,
              lo_row: np.ndarray, hi_row: np.ndarray, time_limit_s: float, max_nodes: int
              ) -> tuple[str, float, np.ndarray]:
    """HiGHS on ``max obj @ x`` (``integer`` marks the integer columns): status, proven bound (``nan`` if none), values.

    Status ``"OPTIMAL"`` (to HiGHS's gap tolerance), ``"NODE_LIMIT"`` (the nodes ran out: the
    dual bound holds all the same) or ``"NOT_SOLVED"`` (stopped by the clock: no bound, as
    it would depend on the machine's load).
    """
    with quiet_stdout():
        res = milp(-obj, integrality=integer, bounds=Bounds(lb, ub),
                   constraints=LinearConstraint(mat, lo_row, hi_row),
                   options={"time_limit": max(time_limit_s, 0.1), "node_limit": max_nodes, "disp": False})
    dual = getattr(res, "mip_dual_bound", None)
    bound = -float(dual) if dual is not None and math.isfinite(dual) else float("nan")
    x = np.asarray(res.x) if res.x is not None else np.zeros(len(lb))
    if res.status == 0:
        return "OPTIMAL", bound, x
    if "time limit" in str(res.message).lower():  # stopped by the clock: a bound that depends on the load
        return "NOT_SOLVED", float("nan"), x
    # HiGHS reports its node limit as "solution limit reached" (scipy: status 4); its dual bound holds
    return ("NODE_LIMIT" if math.isfinite(bound) else "NOT_SOLVED"), bound, x


@dataclass
class RowMatrix:
    """The rows of a built relaxation: ``lo <= mat @ x <= hi``, each row named by ``keys``."""

    mat: sp.csr_matrix
    lo: np.ndarray
    hi: np.ndarray
    keys: list[tuple]  # capacity rows: (resource key, block); the others: their _Cols.row key (or ())


def row_matrix(built: BuiltRelaxation, block: int) -> RowMatrix:
    """The capacity rows per (resource, block of ``block`` weeks) that can bind, then the linking rows."""
    cols, res = built.cols, built.res
    weeks = res.weeks
    n_blocks = -(-weeks // block)
    c, r, b, a = _expand(cols, weeks, block)
    row = r * n_blocks + b
    ub = np.asarray(cols.ub)
    # Capacity per (resource, block): the block's average; rows whose load cannot exceed it are dropped.
    per_block = np.zeros((len(res.cap), n_blocks))
    for k, cw in enumerate(res.cap):
        per_block[k] = np.add.reduceat(cw, np.arange(0, weeks, block)) / np.diff(np.r_[np.arange(0, weeks, block),
                                                                                      weeks])
    cap = per_block.ravel()
    peak = np.bincount(row, weights=np.maximum(a, 0.0) * ub[c], minlength=cap.size)
    keep = peak > cap + 1e-9
    new_id = np.cumsum(keep) - 1
    sel = keep[row]
    n_cap = int(keep.sum())
    a_cap = sp.csr_matrix((a[sel], (new_id[row[sel]], c[sel])), shape=(n_cap, len(cols.lb)))
    a_eq = sp.csr_matrix((cols.q_coef, (cols.q_row, cols.q_col)), shape=(len(cols.q_lo), len(cols.lb)))
    names = list(res.ids)
    keys = [(names[int(k) // n_blocks], int(k) % n_blocks) for k in np.flatnonzero(keep)] + list(cols.q_key)
    # a week's capacity is a whole number of units; a block's average need not be, and rounding it down
    # would cut off plans that fill the block's weeks (loads are averaged too: a fraction of a unit)
    hi = np.floor(cap[keep] + 1e-9) if block == 1 else cap[keep]
    return RowMatrix(sp.vstack([a_cap, a_eq], format="csr"), np.r_[np.full(n_cap, -np.inf), cols.q_lo],
                     np.r_[hi, cols.q_hi], keys)


def solve_lp(obj: np.ndarray, lb: np.ndarray, ub: np.ndarray, m: RowMatrix, time_limit_s: float, start: float
             ) -> tuple[str, float, np.ndarray, float]:
    """HiGHS (through OR-Tools) on ``max obj @ x`` over ``m``'s rows and the bounds: status, optimum
    (``nan`` unless optimal), values and the time from ``start`` to the model built.

    No row duals: OR-Tools' model-builder wrapper does not return HiGHS's (checked against
    ``scipy.optimize.linprog`` on the same LP); :mod:`~planner.optimise.bounds.site_split` asks scipy.
    """
    model = mbh.ModelBuilderHelper()
    model.fill_model_from_sparse_data(lb, ub, obj, m.lo, m.hi, m.mat)  # type: ignore[arg-type]
    model.set_maximize(True)
    build_s = time.perf_counter() - start
    solver = mbh.ModelSolverHelper("highs")
    solver.set_time_limit_in_seconds(max(time_limit_s, 0.1))
    with quiet_stdout():
        solver.solve(model)
    status = str(solver.status()).rsplit(".", 1)[-1]
    if status != "OPTIMAL":
        return status, float("nan"), np.zeros(len(lb)), build_s
    return status, float(solver.objective_value()), np.asarray(solver.variable_values()), build_s


def _hall_nonzeros(inst: Instance, where: dict[str, dict[int, list[int]]], max_nonzeros: int) -> int:
    """A quick first look at how many non-zeros weekly rows with hall pools would have.

    Counts six entries per (lease, pool, week); the columns' own count (:func:`weekly_nonzeros`) is
    three quarters to four fifths of it on the generated tiers. Counting stops once past
    ``max_nonzeros``: the number returned is then over it, not the whole count.
    """
    per_site = sum(len(where[lo.lease]) * lo.weeks * 6 for lo in inst.leases)
    if per_site > max_nonzeros:  # every site has a pool at least: halls cannot have fewer
        return per_site
    of = np.empty(len(inst.pod_ids), dtype=np.int64)
    for k, pods in enumerate(pod_groups(inst, "hall").values()):
        of[pods] = k
    n = 0
    for lo in inst.leases:  # a hall lies within one site: the lease's distinct halls are its pools
        parts = where[lo.lease].values()
        n += len(np.unique(of[list(itertools.chain.from_iterable(parts))])) * lo.weeks * 6 if parts else 0
        if n > max_nonzeros:  # over the limit: the rest need not be counted
            return n
    return n


def weekly_nonzeros(cols: _Cols, block: int) -> int:
    """Non-zeros of the capacity rows when weeks are pooled in blocks of ``block``."""
    n = np.asarray(cols.t1)[cols.e_col] - np.asarray(cols.t0)[cols.e_col] + 1
    return int(np.sum(n // block + 1)) if block > 1 else int(n.sum())


def site_relaxation(inst: Instance, *, time_limit_s: float = 60.0, max_nonzeros: int = MAX_NONZEROS,
                    block_weeks: int | None = None, pooling: Pooling | Literal["auto"] = "auto",
                    where: dict[str, dict[int, list[int]]] | None = None, whole_spans: bool = False,
                    whole_leases: bool = False, max_nodes: int = WHOLE_SPANS_NODES) -> SiteRelaxation:
    """Solve the site-level LP relaxation of ``inst``.

    Parameters
    ----------
    inst
        The instance.
    time_limit_s
        HiGHS's time limit; a relaxation not solved to optimality gives no bound.
    max_nonzeros
        Pool weeks into blocks until the matrix has at most this many non-zeros (before rows
        that cannot bind are dropped); see :data:`MAX_NONZEROS`.
    block_weeks
        Force a block length (1 = weekly rows).
    pooling
        Pool pods per hall (the pods file's ``hall``, else per site and SKU) or per
        site and SKU. Halls are tighter: a hall's pods share a role (training halls
        follow the internal waves), so a pool does not lend one pod's dips to a lease
        that only another kind of pod could hold. ``"auto"``: halls while their weekly rows
        stay within ``max_nonzeros`` (counted on the hall columns), else sites.
    where
        Each lease's usable pods per site (:func:`~planner.optimise.instance.usable_pods`), if
        already worked out.
    whole_spans
        Solve a MIP instead: span=hall and span=site leases placed whole or not at all, each
        replica in one hall or site (integer columns), the rest as in the LP. Still a true
        bound (every plan is a solution of it), and much tighter where such leases are big
        against a site's power or a hall: the LP takes a quarter of a 32,256-GPU lease in the
        weeks its neighbours leave free. Solved by HiGHS (through ``scipy.optimize.milp``)
        for at most ``max_nodes`` branch-and-bound nodes and ``time_limit_s``; the bound is
        HiGHS's proven dual bound (status ``"OPTIMAL"`` when proven to its gap tolerance,
        ``"NODE_LIMIT"`` when the nodes ran out first: a true bound all the same).
    whole_leases
        The MIP of ``whole_spans`` (implied), with every lease -- span=pod ones too -- placed
        whole or not at all: its placed column binary, as a plan's is (a span=pod lease's
        replicas may still share out over pools in fractions). On the generated small tier
        this MIP's optimum is the pod-level model's proven optimum on each of seeds 1-5
        (the LP is 7-38 % above it, the MIP of ``whole_spans`` 2.5-5.6 %); on the reference
        it takes $5 M off that MIP's bound in 2,000 nodes (21 s) and $7.5 M when proven
        (71 s), so the planner's own runs keep the faster one (``BENCHMARKS.md``, "Every
        lease whole in the site MIP").
    max_nodes
        With ``whole_spans`` or ``whole_leases``: the node limit.

    Returns
    -------
    SiteRelaxation
        Its ``bound_usd`` adds the hosted-model APIs' own LP optimum
        (:func:`~planner.optimise.bounds.api_lp.api_lp_bound`) to the leases' bound: true,
        but looser than rows shared by both.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> rel = site_relaxation(build_instance(load_scenario()))
    >>> rel.status, rel.bound_usd > 0
    ('OPTIMAL', True)
    """
    t = time.perf_counter()
    if where is None:
        where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
    built: BuiltRelaxation | None = None
    if pooling == "auto":  # halls when their weekly rows fit: counted on their columns where the first look allows
        pooling = "site"
        look = int(HALL_LOOK * max_nonzeros)
        if _hall_nonzeros(inst, where, look) <= look:
            built = relaxation_columns(inst, where, "hall")
            if weekly_nonzeros(built.cols, 1) <= max_nonzeros:
                pooling = "hall"
            else:
                built = None
    built = built if built is not None else relaxation_columns(inst, where, pooling)
    cols = built.cols
    block = block_weeks or 1
    while block_weeks is None and block < built.res.weeks and weekly_nonzeros(cols, block) > max_nonzeros:
        block += 1
    m = row_matrix(built, block)
    mat, lo_row, hi_row = m.mat, m.lo, m.hi
    if whole_spans or whole_leases:
        build_s = time.perf_counter() - t
        status, bound, x = _solve_mip(built, mat, lo_row, hi_row, time_limit_s, max_nodes, whole_leases=whole_leases)
    else:
        status, bound, x, build_s = solve_lp(np.asarray(cols.obj), np.asarray(cols.lb), np.asarray(cols.ub), m,
                                             time_limit_s, start=t)
    placed = {lid: float(x[k]) for lid, k in built.placed.items()}
    site: dict[str, dict[int, float]] = {}
    for (lid, s), ks in built.site.items():
        site.setdefault(lid, {})[s] = float(x[ks].sum())
    pod: dict[str, dict[int, float]] = {}
    for (lid, k), (pods, unit) in built.pod.items():
        if x[k] > 1e-9:
            weights = pod.setdefault(lid, {})
            for p in pods:
                weights[p] = weights.get(p, 0.0) + float(x[k]) / unit
    path: dict[str, dict[str, float]] = {}  # routes are left to the greedy: the LP routes flows, not leases
    bound += api_lp_bound(inst)  # the APIs alone, as a separate term (see bounds.api_lp): true, looser
    return SiteRelaxation(status, bound, placed,
                          Guide(site, path, pod), block, mat.shape[0], mat.shape[1], int(mat.nnz),
                          time.perf_counter() - t, build_s, pooling, len(built.counted))
