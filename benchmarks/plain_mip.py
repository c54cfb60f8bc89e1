"""The plain placement MIP, as arrays: the textbook model the planner is measured against.

Built from :func:`planner.optimise.instance.build_instance`, so it sees exactly the planner's
options (eligible sites, pods of the SKU, SLO-meeting paths) and its integer units
(GPUs, W, kbps, Mbps), and solver-independent (numpy only): the benchmark worker
hands it to HiGHS (``highspy``), a test may hand it to ``scipy.optimize.milp``.

Columns (``l`` lease, ``r`` replica, ``s`` site, ``p`` pod, ``k`` path):

- ``placed[l]`` binary (fixed to 1 for internal workloads);
- span=pod: ``x[l,r,p]`` binary, one per pod of every eligible site;
- span=site: ``x[l,r,p]`` integer GPUs in ``0..gpus``, ``site[l,r,s]`` binary, and
  ``whole[l,r,p]`` binary (the replica sits whole in ``p``: no inter-pod traffic);
- span=hall: as span=site, with one binary per hall of the site instead of ``site[l,r,s]``
  (the replica's GPUs all in the chosen hall's pods);
- ``route[l,r,s,k]`` binary per SLO-meeting path when the lease has a region.

Rows: every replica on one site iff placed; anti-affinity; one route per placed
replica; span=site and span=hall splits; and, **per week** (no time compression), pod
GPUs, pod uplink, site power, DCI span capacity and hall aggregation (inter-pod
traffic of split replicas). Rows that cannot bind (their largest possible load
fits) are left out, as the planner's model does. Objective: revenue minus power
minus transport cost, maximised.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit

__all__ = ["PlainMip", "build_plain_mip", "estimate_nonzeros"]

INTEGER = 1  # integrality flag of a column (binaries are integers in [0, 1])


@dataclass
class _Cap:
    """Capacity entries of one family before expansion over weeks."""

    res: list[np.ndarray] = field(default_factory=list)
    col: list[np.ndarray] = field(default_factory=list)
    coef: list[np.ndarray] = field(default_factory=list)
    ub: list[np.ndarray] = field(default_factory=list)
    t0: list[np.ndarray] = field(default_factory=list)
    t1: list[np.ndarray] = field(default_factory=list)

    def add(self, res: np.ndarray, col: np.ndarray, coef: np.ndarray | float, ub: float, t0: int, t1: int) -> None:
        n = len(col)
        if n == 0:
            return
        self.res.append(np.asarray(res, dtype=np.int64))
        self.col.append(np.asarray(col, dtype=np.int64))
        self.coef.append(np.broadcast_to(np.asarray(coef, dtype=np.float64), (n,)).copy())
        self.ub.append(np.full(n, ub, dtype=np.float64))
        self.t0.append(np.full(n, t0, dtype=np.int64))
        self.t1.append(np.full(n, t1, dtype=np.int64))

    def arrays(self) -> tuple[np.ndarray, ...]:
        if not self.col:
            e = np.zeros(0, dtype=np.int64)
            return e, e, np.zeros(0), np.zeros(0), e, e
        return tuple(np.concatenate(x) for x in (self.res, self.col, self.coef, self.ub, self.t0, self.t1))


@dataclass
class PlainMip:
    """The plain MIP in column-wise (CSC) arrays, ready for any LP/MIP solver.

    Maximise ``cost @ x`` subject to ``row_lower <= A x <= row_upper``,
    ``lower <= x <= upper``, ``x[j]`` integer where ``integrality[j] == 1``.
    """

    cost: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    integrality: np.ndarray
    a_start: np.ndarray
    a_index: np.ndarray
    a_value: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    leases: list[LeaseOptions]
    placed: dict[str, int]
    x: dict[tuple[str, int, int], int]  # (lease, replica, pod) -> column
    site: dict[tuple[str, int, int], int]  # (lease, replica, site) -> column (span=site)
    route: dict[tuple[str, int, int, int], int]  # (lease, replica, site, k) -> column
    rows_by_family: dict[str, int]
    build_s: float = 0.0

    @property
    def n_cols(self) -> int:
        """Columns (variables)."""
        return len(self.cost)

    @property
    def n_rows(self) -> int:
        """Rows (constraints)."""
        return len(self.row_lower)

    @property
    def n_nonzeros(self) -> int:
        """Non-zero coefficients."""
        return len(self.a_value)

    def fits(self, values: np.ndarray) -> dict[str, list[ReplicaFit]]:
        """Replica fits of every placed lease in a solution vector (rounded)."""
        v = np.rint(values).astype(np.int64)
        out: dict[str, list[ReplicaFit]] = {}
        for lo in self.leases:
            if v[self.placed[lo.lease]] < 1:
                continue
            fits = []
            for r in range(lo.replicas):
                for s in lo.sites:
                    parts = tuple((p, int(v[self.x[(lo.lease, r, p)]]) * (1 if lo.span != "pod" else lo.gpus))
                                  for p in lo.pods[s] if v[self.x[(lo.lease, r, p)]] > 0)
                    if not parts:
                        continue
                    path = None
                    if lo.needs_path:
                        path = next(pth for k, pth in enumerate(lo.paths[s])
                                    if v[self.route[(lo.lease, r, s, k)]] > 0)
                    fits.append(ReplicaFit(s, parts, path))
            out[lo.lease] = fits
        return out


def estimate_nonzeros(inst: Instance) -> int:
    """Non-zeros of the per-week capacity rows before any row is dropped (the bulk of the model)."""
    n = 0
    for lo in inst.leases:
        if not lo.sites:
            continue
        pods = sum(len(lo.pods[s]) for s in lo.sites)
        per_pod = 3 if lo.span == "pod" else 4  # gpus, power, uplink (+ whole on the uplink)
        paths = sum(len(p.spans) for s in lo.sites for p in lo.paths.get(s, [])) if lo.egress_gbps > 0 else 0
        n += lo.replicas * lo.weeks * (per_pod * pods + paths)
    return n


def _expand(cap: _Cap, limit: np.ndarray, offset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-week rows of one family: (row, col, value) entries and the rows' upper bounds.

    ``limit`` is the family's capacity, resources x weeks; rows get ids from ``offset`` on.
    """
    res, col, coef, ub, t0, t1 = cap.arrays()
    weeks = limit.shape[1]
    if len(col) == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0), np.zeros(0)
    length = t1 - t0 + 1
    idx = np.repeat(np.arange(len(col)), length)
    start = np.repeat(np.cumsum(length) - length, length)
    week = t0[idx] + (np.arange(len(idx)) - start)
    row = res[idx] * weeks + week
    del start, week
    peak = np.bincount(row, weights=np.maximum(coef, 0)[idx] * ub[idx], minlength=limit.size)
    used = np.bincount(row, minlength=limit.size) > 0
    keep_row = used & (peak > limit.ravel() + 1e-9)
    new_id = np.cumsum(keep_row) - 1 + offset
    keep = keep_row[row]
    return new_id[row[keep]], col[idx[keep]], coef[idx[keep]], limit.ravel()[keep_row].astype(np.float64)


class _Builder:
    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self.cost: list[float] = []
        self.lower: list[float] = []
        self.upper: list[float] = []
        self.integ: list[int] = []
        self.rows: list[tuple[list[int], list[float], float, float]] = []  # structural rows
        self.family: dict[str, int] = {}

    def col(self, cost: float, lo: float, hi: float, integer: int = 1) -> int:
        self.cost.append(cost)
        self.lower.append(lo)
        self.upper.append(hi)
        self.integ.append(integer)
        return len(self.cost) - 1

    def cols(self, costs: np.ndarray, hi: float) -> np.ndarray:
        first = len(self.cost)
        self.cost.extend(costs.tolist())
        self.lower.extend([0.0] * len(costs))
        self.upper.extend([hi] * len(costs))
        self.integ.extend([INTEGER] * len(costs))
        return np.arange(first, first + len(costs), dtype=np.int64)

    def row(self, family: str, cols: list[int], vals: list[float], lo: float, hi: float) -> None:
        self.rows.append((cols, vals, lo, hi))
        self.family[family] = self.family.get(family, 0) + 1


def build_plain_mip(inst: Instance) -> PlainMip:
    """Build the plain MIP of an instance (see the module docs)."""
    t = time.perf_counter()
    b = _Builder(inst)
    gpu, power, uplink, dci, agg = _Cap(), _Cap(), _Cap(), _Cap(), _Cap()
    placed: dict[str, int] = {}
    xs: dict[tuple[str, int, int], int] = {}
    sites: dict[tuple[str, int, int], int] = {}
    routes: dict[tuple[str, int, int, int], int] = {}
    interpod = inst.interpod_kbps_per_gpu
    leases = [lo for lo in inst.leases if lo.sites or lo.internal]
    for lo in leases:
        pl = b.col(lo.revenue_usd, 1.0 if lo.internal else 0.0, 1.0)
        placed[lo.lease] = pl
        site_of: dict[tuple[int, int], tuple[list[int], list[float]]] = {}
        for r in range(lo.replicas):
            for s in lo.sites:
                pods = np.asarray(lo.pods[s], dtype=np.int64)
                w = inst.pod_w_per_gpu[pods].astype(np.float64)
                if lo.span == "pod":
                    cost = np.array([inst.power_cost_usd(lo, int(p), lo.gpus) for p in pods])
                    x = b.cols(-cost, 1.0)
                    gpu.add(pods, x, float(lo.gpus), 1.0, lo.t0, lo.t1)
                    power.add(np.full(len(pods), s), x, lo.gpus * w, 1.0, lo.t0, lo.t1)
                    if lo.egress_kbps > 0:
                        uplink.add(pods, x, float(lo.egress_kbps), 1.0, lo.t0, lo.t1)
                    site_of[(r, s)] = (x.tolist(), [1.0] * len(x))
                else:
                    cost = np.array([inst.power_cost_usd(lo, int(p), 1) for p in pods])
                    x = b.cols(-cost, float(lo.gpus))
                    gpu.add(pods, x, 1.0, float(lo.gpus), lo.t0, lo.t1)
                    power.add(np.full(len(pods), s), x, w, float(lo.gpus), lo.t0, lo.t1)
                    per_gpu = lo.egress_kbps_per_gpu + interpod
                    if per_gpu > 0:
                        uplink.add(pods, x, float(per_gpu), float(lo.gpus), lo.t0, lo.t1)
                    halls = inst.pod_hall[pods]
                    if lo.span == "hall":  # one binary per hall; the replica's GPUs all in the chosen hall's pods
                        choice = []
                        for h in dict.fromkeys(halls.tolist()):
                            hv = b.col(0.0, 0.0, 1.0)
                            choice.append(hv)
                            here = x[halls == h].tolist()
                            b.row("split", [*here, hv], [1.0] * len(here) + [-float(lo.gpus)], 0.0, 0.0)
                        site_of[(r, s)] = (choice, [1.0] * len(choice))
                    else:
                        sv = b.col(0.0, 0.0, 1.0)
                        sites[(lo.lease, r, s)] = sv
                        choice = [sv]
                        b.row("split", [*x.tolist(), sv], [1.0] * len(x) + [-float(lo.gpus)], 0.0, 0.0)
                        site_of[(r, s)] = ([sv], [1.0])
                    if interpod > 0:
                        agg.add(halls, x, float(interpod), float(lo.gpus), lo.t0, lo.t1)
                        whole = b.cols(np.zeros(len(pods)), 1.0)
                        uplink.add(pods, whole, -float(interpod * lo.gpus), 1.0, lo.t0, lo.t1)
                        agg.add(halls, whole, -float(interpod * lo.gpus), 1.0, lo.t0, lo.t1)
                        for xc, wc in zip(x.tolist(), whole.tolist(), strict=True):
                            b.row("split", [xc, wc], [1.0, -float(lo.gpus)], 0.0, np.inf)
                        b.row("split", [*whole.tolist(), *choice], [1.0] * len(whole) + [-1.0] * len(choice),
                              -np.inf, 0.0)
                xs.update({(lo.lease, r, int(p)): int(c) for p, c in zip(pods, x, strict=True)})
                if lo.needs_path:
                    ks = []
                    for k, path in enumerate(lo.paths[s]):
                        z = b.col(-inst.transport_cost_usd(lo, path), 0.0, 1.0)
                        routes[(lo.lease, r, s, k)] = z
                        ks.append(z)
                        if lo.egress_mbps > 0:
                            dci.add(path.span_idx, np.full(len(path.span_idx), z), float(lo.egress_mbps), 1.0,
                                    lo.t0, lo.t1)
                    c, v = site_of[(r, s)]
                    b.row("route", ks + c, [1.0] * len(ks) + [-a for a in v], 0.0, 0.0)
            cols = [c for s in lo.sites for c in site_of[(r, s)][0]]
            vals = [v for s in lo.sites for v in site_of[(r, s)][1]]
            b.row("assign", [*cols, pl], [*vals, -1.0], 0.0, 0.0)
        if lo.anti_affinity and lo.replicas > 1:
            for s in lo.sites:
                cols = [c for r in range(lo.replicas) for c in site_of[(r, s)][0]]
                vals = [v for r in range(lo.replicas) for v in site_of[(r, s)][1]]
                b.row("anti_affinity", cols, vals, -np.inf, 1.0)

    # Structural rows, then the per-week capacity rows family by family.
    r_row: list[np.ndarray] = []
    r_col: list[np.ndarray] = []
    r_val: list[np.ndarray] = []
    lo_b: list[float] = []
    hi_b: list[float] = []
    for i, (cols, vals, lo_, hi_) in enumerate(b.rows):
        r_row.append(np.full(len(cols), i, dtype=np.int64))
        r_col.append(np.asarray(cols, dtype=np.int64))
        r_val.append(np.asarray(vals, dtype=np.float64))
        lo_b.append(lo_)
        hi_b.append(hi_)
    all_rows, all_cols, all_vals = [np.concatenate(r_row)], [np.concatenate(r_col)], [np.concatenate(r_val)]
    row_lo, row_hi = [np.asarray(lo_b, dtype=np.float64)], [np.asarray(hi_b, dtype=np.float64)]
    n_rows = len(b.rows)
    weeks = inst.pod_free.shape[1]
    up = np.repeat(inst.pod_uplink_kbps[:, None], weeks, axis=1)
    hall_cap = np.repeat(np.asarray(inst.hall_agg_kbps)[:, None], weeks, axis=1)
    for fam, cap, limit in (("gpus", gpu, inst.pod_free), ("power", power, inst.site_power_w),
                            ("uplink", uplink, up), ("dci", dci, inst.span_limit_mbps),
                            ("aggregation", agg, hall_cap)):
        rr, cc, vv, ub = _expand(cap, np.asarray(limit, dtype=np.float64), n_rows)
        all_rows.append(rr)
        all_cols.append(cc)
        all_vals.append(vv)
        row_lo.append(np.full(len(ub), -np.inf))
        row_hi.append(ub)
        b.family[fam] = len(ub)
        n_rows += len(ub)
    row = np.concatenate(all_rows)
    col = np.concatenate(all_cols)
    val = np.concatenate(all_vals)
    del all_rows, all_cols, all_vals
    order = np.argsort(col, kind="stable")
    n_cols = len(b.cost)
    start = np.concatenate([[0], np.cumsum(np.bincount(col, minlength=n_cols))]).astype(np.int64)
    mip = PlainMip(cost=np.asarray(b.cost), lower=np.asarray(b.lower), upper=np.asarray(b.upper),
                   integrality=np.asarray(b.integ, dtype=np.int8), a_start=start, a_index=row[order].astype(np.int32),
                   a_value=val[order], row_lower=np.concatenate(row_lo), row_upper=np.concatenate(row_hi),
                   leases=leases, placed=placed, x=xs, site=sites, route=routes, rows_by_family=dict(b.family))
    mip.build_s = time.perf_counter() - t
    return mip
