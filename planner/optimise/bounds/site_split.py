"""The hall-pooled LP split by site: a true bound where the hall LP as a whole is too big.

Pooling pods per hall (:func:`~planner.optimise.bounds.site_lp.site_relaxation`) is the
tighter relaxation, but at hyperscale its weekly rows are too many for one LP. Only a
few of its rows tie sites together: each lease's link row (its placed share against its
replicas at every site) and the DCI spans' rows (the flows of every site share the
spans). Moving those rows into the objective at prices ``lam`` -- a Lagrangian
relaxation -- leaves one LP per site and one for the leases' placed shares:

``L(lam) = sum of the blocks' optima of (obj - lam @ A_link) @ x  +  sum of lam * (the bound each row is priced at)``

Every plan is feasible for every block, and its value is at most ``L(lam)`` for any
prices with the rows' signs (``>= 0`` on a ``<=`` row, free on an equality), so
``L(lam)`` is a true bound whatever the prices. Priced at the site-pooled LP's own row
duals, the site-pooled split gives back that LP's optimum (LP duality). Each site's hall
LP is a restriction of its site LP once it keeps a lease's replicas at the site within
the lease's count (a row the link row implied, added by ``relaxation_columns(site_rows=True)``), so
the hall split at the same prices is no looser than the site LP, and tighter where halls
pool less than sites do. Subgradient steps on the prices move ``L`` towards the hall LP's
optimum (the Lagrangian dual of an LP is the LP); they are slow to get there, and every
step's ``L`` is a bound, so the least is kept. With ``whole_spans`` the sites are MIPs
at the end (span=hall and span=site leases whole), bounded by HiGHS's dual bound.

Measured (BENCHMARKS.md, "The hall LP split by site"): on hyperscale seed 2 each site's
hall LP has 0.8-2.1 M non-zeros and solves in 2-5 s, so one evaluation of ``L`` costs
about 30 s where the hall LP whole did not solve in 6 minutes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from planner.forked import forked_map
from planner.optimise.bounds.api_lp import api_lp_bound
from planner.optimise.bounds.pod_lp import quiet_stdout
from planner.optimise.bounds.site_lp import (
    MAX_NONZEROS,
    WHOLE_SPANS_NODES,
    BuiltRelaxation,
    Pooling,
    RowMatrix,
    relaxation_columns,
    row_matrix,
    solve_lp,
    solve_mip,
    weekly_nonzeros,
)
from planner.optimise.instance import Instance, usable_pods

__all__ = ["SplitBound", "site_split_bound"]

DEFLECTION = 0.5
"""Share of the last step's direction added to the subgradient."""
TARGET_STEP = 2.0
"""The first target is this many times the split's gain on the pricing LP below the split.

On the reference, 10 / 20 / 60 rounds close 56 / 85 / 95 % of the distance from the split at
the site LP's prices to the hall LP. Aiming at a plan's value instead (6 % below the LP):
36 / 69 / 98 % (on hyperscale seed 2, where the plan is 17 % below, the first step overshot
by $33 B); without the rows scaled, 14 % after 60 rounds. On hyperscale seeds 1 and 2 no
round of 15 went below the first prices' ``L`` (nor of 8 with a quarter of this target):
there, the first evaluation is the bound."""


@dataclass(frozen=True)
class SplitBound:
    """The split bound and how it was reached.

    Attributes
    ----------
    status
        ``"OPTIMAL"`` when the pricing LP and every block were solved to optimality (the
        bound is set only then), else the first other status met.
    bound_usd
        ``L(lam)`` plus the hosted-model APIs' own LP bound: no plan's net value exceeds it.
    priced_usd
        The pricing LP's optimum (site pools, the whole campus at once): the split is no looser.
    pooling
        How the split's blocks pool pods.
    block_weeks
        Weeks per capacity row (the pricing LP's choice, kept by the split).
    blocks
        The site LPs and the leases' block solved.
    linking_rows
        Rows moved into the objective.
    nonzeros
        Non-zeros of the split's rows, all blocks together.
    wall_s
        Wall time, pricing LP included.
    trace
        ``L`` (with the APIs' bound) at each round's prices, the first at the pricing LP's.
    whole_usd
        With ``whole_spans``: ``L`` of the sites' MIPs at the best prices (``nan`` otherwise or
        when a MIP was stopped by the clock).
    """

    status: str
    bound_usd: float
    priced_usd: float
    pooling: Pooling
    block_weeks: int
    blocks: int
    linking_rows: int
    nonzeros: int
    wall_s: float
    trace: tuple[float, ...] = ()
    whole_usd: float = float("nan")


def _priced_lp(obj: np.ndarray, lb: np.ndarray, ub: np.ndarray, m: RowMatrix, time_limit_s: float
               ) -> tuple[str, float, dict[tuple, float]]:
    """HiGHS (``scipy.optimize.linprog``) on ``max obj @ x`` over ``m``: status, optimum, and the
    rows' shadow prices by row key (what a unit more of a row's bound would add; for a row
    with both bounds, the upper's minus the lower's)."""
    eq = np.isfinite(m.lo) & (m.lo == m.hi)
    up = np.flatnonzero(~eq & np.isfinite(m.hi))
    down = np.flatnonzero(~eq & np.isfinite(m.lo))
    with quiet_stdout():
        res = linprog(-obj, A_ub=sp.vstack([m.mat[up], -m.mat[down]], format="csr"), b_ub=np.r_[m.hi[up], -m.lo[down]],
                      A_eq=m.mat[np.flatnonzero(eq)], b_eq=m.lo[eq], bounds=np.c_[lb, ub], method="highs",
                      options={"time_limit": max(time_limit_s, 0.1), "disp": False})
    if res.status != 0:
        return ("TIME_LIMIT" if res.status == 1 else f"HIGHS_{res.status}"), float("nan"), {}
    # linprog minimises -obj: its marginals are the minimum's; the maximum's shadow prices are their negation
    price = np.zeros(m.mat.shape[0])
    price[np.flatnonzero(eq)] = -np.asarray(res.eqlin.marginals)
    mu = np.asarray(res.ineqlin.marginals)
    price[up] -= mu[:up.size]
    price[down] += mu[up.size:]
    return "OPTIMAL", -float(res.fun), {k: float(v) for k, v in zip(m.keys, price.tolist(), strict=True) if k}


def _linking(m: RowMatrix, site: np.ndarray) -> np.ndarray:
    """Rows whose columns lie in more than one block (a block: a site, or -1 for the placed shares)."""
    mat = m.mat
    counts = np.diff(mat.indptr)
    blk = site[mat.indices]
    nonempty = counts > 0
    starts = mat.indptr[:-1][nonempty]
    lo = np.full(mat.shape[0], 0)
    hi = np.full(mat.shape[0], 0)
    lo[nonempty] = np.minimum.reduceat(blk, starts)
    hi[nonempty] = np.maximum.reduceat(blk, starts)
    return np.flatnonzero(lo != hi)


class _Split:
    """A relaxation split by site: its blocks' rows built once, valued at any prices of its linking rows."""

    def __init__(self, built: BuiltRelaxation, m: RowMatrix) -> None:
        cols = built.cols
        site = np.asarray(cols.site, dtype=np.int64)
        self.link = _linking(m, site)
        self.keys = [m.keys[i] for i in self.link.tolist()]
        self.lo, self.hi = m.lo[self.link], m.hi[self.link]
        self.a_link = m.mat[self.link].tocsr()
        self.obj, self.lb, self.ub = np.asarray(cols.obj), np.asarray(cols.lb), np.asarray(cols.ub)
        local = np.ones(m.mat.shape[0], dtype=bool)
        local[self.link] = False
        row_block = np.full(m.mat.shape[0], -2)
        has = np.diff(m.mat.indptr) > 0
        row_block[has] = site[m.mat.indices[m.mat.indptr[:-1][has]]]
        csc = m.mat.tocsc()
        self.integer = np.zeros(self.obj.size)
        self.integer[built.counted] = 1
        self.blocks: list[tuple[np.ndarray, RowMatrix]] = []
        for b in sorted(set(site.tolist())):
            j = np.flatnonzero(site == b)
            rows = np.flatnonzero(local & (row_block == b))
            self.blocks.append((j, RowMatrix(sp.csr_matrix(csc[:, j].tocsr()[rows]), m.lo[rows], m.hi[rows], [])))
        self.nonzeros = int(m.mat.nnz)

    def start(self, prices: dict[tuple, float]) -> np.ndarray:
        """The linking rows' prices from ``prices`` by row key (0 where none), clipped to the rows' signs."""
        return self.clip(np.array([prices.get(k, 0.0) for k in self.keys]))

    def clip(self, lam: np.ndarray) -> np.ndarray:
        """``>= 0`` where only a row's upper bound is finite, ``<= 0`` where only its lower."""
        lam = np.where(np.isfinite(self.lo), lam, np.maximum(lam, 0.0))
        return np.where(np.isfinite(self.hi), lam, np.minimum(lam, 0.0))

    def value(self, lam: np.ndarray, time_limit_s: float, max_nodes: int = 0, workers: int = 1
              ) -> tuple[str, float, np.ndarray]:
        """``L(lam)``: status, value (``nan`` unless every block has a bound) and a subgradient in ``lam``.

        With ``max_nodes``, blocks are MIPs (span=hall and span=site leases whole, as
        ``site_relaxation(whole_spans=True)``), each bounded by HiGHS's dual bound after at
        most that many nodes: ``L`` of the MIP split, a true bound as well. Blocks are
        solved in up to ``workers`` forked processes (:func:`planner.forked.forked_map`);
        the result does not depend on how many.
        """
        const = float(np.sum(np.where(lam > 0, lam * np.where(np.isfinite(self.hi), self.hi, 0.0),
                                      lam * np.where(np.isfinite(self.lo), self.lo, 0.0))))
        obj = self.obj - self.a_link.T @ lam

        def solve(a: int, b: int) -> list[tuple[str, float, np.ndarray]]:
            out = []
            for j, part in self.blocks[a:b]:
                if max_nodes and self.integer[j].any():
                    status, v, xj = solve_mip(obj[j], self.lb[j], self.ub[j], self.integer[j], part.mat, part.lo,
                                              part.hi, time_limit_s, max_nodes)
                    status = "OPTIMAL" if status == "NODE_LIMIT" else status
                else:
                    status, v, xj, _ = solve_lp(obj[j], self.lb[j], self.ub[j], part, time_limit_s,
                                                start=time.perf_counter())
                out.append((status, v, xj))
            return out

        x = np.zeros(self.obj.size)
        total = const
        for (j, _), (status, v, xj) in zip(self.blocks, forked_map(solve, len(self.blocks), workers, min_items=2),
                                           strict=True):
            if status != "OPTIMAL":
                return status, float("nan"), x
            total += v
            x[j] = xj
        act = self.a_link @ x
        side = np.where(lam > 0, self.hi, np.where(lam < 0, self.lo, np.clip(act, self.lo, self.hi)))
        return "OPTIMAL", total, side - act


def site_split_bound(inst: Instance, *, pooling: Pooling = "hall", rounds: int = 0, target_usd: float | None = None,
                     patience: int = 3, whole_spans: bool = False, max_nodes: int = WHOLE_SPANS_NODES,
                     time_limit_s: float = 600.0, max_nonzeros: int = MAX_NONZEROS,
                     where: dict[str, dict[int, list[int]]] | None = None, workers: int = 1) -> SplitBound:
    """The relaxation pooled per ``pooling``, split by site, priced from the site-pooled LP.

    Parameters
    ----------
    inst
        The instance.
    pooling
        Pools of the split's site LPs: ``"hall"`` (the point of it) or ``"site"`` (gives the
        pricing LP's optimum back: a check of the prices).
    rounds
        Subgradient steps on the prices after the first (each solves every site's LP once;
        counted, so the bound does not depend on the machine's load). The least value is kept.
    target_usd
        A plan's value (a lower bound on the optimum): no step aims below it.
    patience
        Rounds without a better bound before the step's target is halved.
    whole_spans
        Last, at the best prices, solve each site as a MIP (span=hall and span=site leases
        whole, as ``site_relaxation(whole_spans=True)``) bounded by HiGHS's dual bound after at
        most ``max_nodes`` nodes; kept when lower.
    max_nodes
        With ``whole_spans``: the node limit per site.
    time_limit_s
        HiGHS's time limit per LP or MIP: a safety net, not a stopping rule (an LP not solved
        to optimality, or a MIP stopped by the clock, gives no bound, and the split reports
        its status).
    max_nonzeros
        For the pricing LP: pool weeks into blocks beyond this many non-zeros (the split keeps its blocks).
    where
        Each lease's usable pods per site, if already worked out.
    workers
        Processes solving the sites side by side (forked; the bound is the same for any number).

    Returns
    -------
    SplitBound

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> b = site_split_bound(build_instance(load_scenario()))
    >>> b.status, b.bound_usd < b.priced_usd
    ('OPTIMAL', True)
    """
    t = time.perf_counter()
    if where is None:
        where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
    by_site = relaxation_columns(inst, where, "site")
    block = 1
    while block < by_site.res.weeks and weekly_nonzeros(by_site.cols, block) > max_nonzeros:
        block += 1
    m = row_matrix(by_site, block)
    c = by_site.cols
    status, priced, prices = _priced_lp(np.asarray(c.obj), np.asarray(c.lb), np.asarray(c.ub), m, time_limit_s)
    api = api_lp_bound(inst)
    if status != "OPTIMAL":
        return SplitBound(status, float("nan"), float("nan"), pooling, block, 0, 0, 0, time.perf_counter() - t)
    del m, by_site
    built = relaxation_columns(inst, where, pooling, site_rows=True)
    split = _Split(built, row_matrix(built, block))
    del built
    lam = split.start(prices)
    status, value, g = split.value(lam, time_limit_s, workers=workers)
    if status != "OPTIMAL":
        return SplitBound(status, float("nan"), priced + api, pooling, block, len(split.blocks),
                          int(split.link.size), split.nonzeros, time.perf_counter() - t)
    best, best_lam, trace = value, lam, [value]
    # Polyak's step towards a target `delta` below the best bound so far (halved after
    # `patience` rounds without a better one; first twice what the split gained on the
    # pricing LP), never below a plan's value; in rows scaled to their largest activity (a
    # lease's link row counts replicas, a span's Mbps: unscaled, the spans' subgradients set
    # every step); each direction deflected by the last (Camerini-Fratta-Maffioli).
    floor = target_usd - api if target_usd is not None else -math.inf
    delta = TARGET_STEP * max(priced - value, 1e-3 * abs(value))
    scale = 1.0 / np.maximum(abs(split.a_link).multiply(split.ub).max(axis=1).toarray().ravel(), 1e-9)
    stale, d = 0, np.zeros_like(g)
    for _ in range(rounds):
        d = scale * g + DEFLECTION * d
        norm = float(d @ d)
        goal = max(best - delta, floor)
        if norm <= 0 or value <= goal:
            break
        lam = split.clip(lam - (value - goal) / norm * scale * d)
        status, value, g = split.value(lam, time_limit_s, workers=workers)
        if status != "OPTIMAL":
            break
        trace.append(value)
        if value < best - 1e-9 * abs(best):
            best, best_lam, stale = value, lam, 0
        else:
            stale += 1
            if stale >= patience:
                delta, stale = delta / 2, 0
    whole = float("nan")
    if whole_spans:
        status, whole, _ = split.value(best_lam, time_limit_s, max_nodes=max_nodes, workers=workers)
        best = min(best, whole) if status == "OPTIMAL" else best
    return SplitBound("OPTIMAL", best + api, priced + api, pooling, block, len(split.blocks), int(split.link.size),
                      split.nonzeros, time.perf_counter() - t, tuple(v + api for v in trace), whole + api)
