"""The CP-SAT placement model.

Variables (``l`` lease, ``r`` replica, ``s`` site, ``p`` pod, ``k`` path):

- ``placed[l]`` -- the lease is carried (fixed to 1 for internal workloads);
- ``site[l, r, s]`` -- the replica is at site ``s``;
- ``x[l, r, p]`` -- span=pod: the replica sits in pod ``p`` (bool); span=site and span=hall:
  GPUs of the replica in pod ``p`` (integer), with ``whole[l, r, p]`` marking a replica held
  entirely by one pod (no inter-pod traffic);
- ``hall[l, r, h]`` -- span=hall: the replica's GPUs lie in the pods of hall ``h``;
- ``route[l, r, s, k]`` -- the replica's egress uses path ``k`` from site ``s``; only paths
  meeting the SLO exist, so latency holds by construction.

Committed leases and internal work also fit the worst case of internal demand (every upside of
the reservations happens: worst-case GPU and power rows without spot leases), and a spot lease's
objective carries its expected pre-emption refund per pod (:mod:`planner.optimise.spot`).

Capacity constraints are written per *time segment* -- a maximal run of weeks in
which the set of active leases is constant -- against the segment's smallest
capacity, and dropped where another segment dominates them. Coefficients are
scaled to integers conservatively (loads rounded up, capacities down), and the
objective's revenue up and costs down, so that CP-SAT's bound is a true bound on
the plan's value.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from ortools.sat.python import cp_model

from planner.optimise.api_model import OBJECTIVE_SCALE, ApiVars, add_api_rows, add_api_vars, hint_api
from planner.optimise.apis import ApiSolution
from planner.optimise.families import CAPACITIES, Family
from planner.optimise.heuristics.api_fill import fill_apis
from planner.optimise.instance import UNLIMITED, Instance, LeaseOptions, lease_groups, usable_pods
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["PlacementModel", "add_hint", "build_model", "canonical", "canonical_equal", "read_fits", "segments"]

Term = tuple[cp_model.IntVar, int, float]
"""An objective term: the variable, its coefficient in CP-SAT's (rounded) objective, and its exact one."""



@dataclass
class PlacementModel:
    """A built CP-SAT model and the variables needed to read a plan back."""

    cp: cp_model.CpModel
    inst: Instance
    placed: dict[str, cp_model.IntVar] = field(default_factory=dict)
    x: dict[tuple[str, int, int], cp_model.IntVar] = field(default_factory=dict)
    site: dict[tuple[str, int, int], cp_model.IntVar] = field(default_factory=dict)
    whole: dict[tuple[str, int, int], cp_model.IntVar] = field(default_factory=dict)
    hall: dict[tuple[str, int, int], cp_model.IntVar] = field(default_factory=dict)
    route: dict[tuple[str, int, int, int], cp_model.IntVar] = field(default_factory=dict)
    stay: dict[str, cp_model.IntVar] = field(default_factory=dict)
    where: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # lease -> site -> usable pods
    objective_offset: float = 0.0
    value_vars: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """Indices of the objective's variables (see :meth:`value_of`)."""
    value_coefs: np.ndarray = field(default_factory=lambda: np.zeros(0))
    """The objective's exact coefficients (CP-SAT's are rounded to whole dollars, in the plan's favour)."""
    n_constraints: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    api: ApiVars | None = None
    """The hosted-model APIs' variables (:mod:`planner.optimise.api_model`); ``None`` without API demand."""
    objective_scale: int = 1
    """CP-SAT's objective counts USD / this (1 without APIs; :data:`~planner.optimise.api_model.OBJECTIVE_SCALE`)."""

    def value_of(self, solution: Sequence[int] | np.ndarray) -> float:
        """The exact objective of a solution (every variable's value, by index), not CP-SAT's rounded one."""
        values = np.asarray(solution, dtype=float)
        return float(self.value_coefs @ values[self.value_vars]) + self.objective_offset

    def sites(self, lo: LeaseOptions) -> list[int]:
        """Sites the model lets ``lo`` use."""
        return list(self.where.get(lo.lease, {}))

    def pods(self, lo: LeaseOptions, s: int) -> list[int]:
        """Pods at site ``s`` the model lets ``lo`` use."""
        return self.where[lo.lease][s]

    def site_expr(self, lo: LeaseOptions, r: int, s: int) -> cp_model.IntVar:
        """1 when replica ``r`` of ``lo`` is at site ``s``."""
        return self.site[(lo.lease, r, s)]

    def gpus_expr(self, lo: LeaseOptions, r: int, p: int) -> cp_model.LinearExprT:
        """GPUs replica ``r`` of ``lo`` holds in pod ``p``."""
        v = self.x[(lo.lease, r, p)]
        return lo.gpus * v if lo.span == "pod" else v

    def halls(self, lo: LeaseOptions, s: int) -> dict[int, list[int]]:
        """The usable pods of ``lo`` at site ``s`` per hall position."""
        out: dict[int, list[int]] = {}
        for p in self.pods(lo, s):
            out.setdefault(int(self.inst.pod_hall[p]), []).append(p)
        return out


def canonical(lo: LeaseOptions, fits: list[ReplicaFit], inst: Instance) -> list[ReplicaFit]:
    """Replica fits in the order the model's symmetry breaking expects (by site, hall or pod)."""
    if lo.span == "site":
        return sorted(fits, key=lambda f: f.site)
    if lo.span == "hall":
        return sorted(fits, key=lambda f: int(inst.pod_hall[f.parts[0][0]]))
    return sorted(fits, key=lambda f: f.parts[0][0])


def segments(starts: np.ndarray, ends: np.ndarray, periods: int) -> list[tuple[int, int]]:
    """Maximal runs of weeks (0-based, end exclusive) in which no term starts or ends.

    Examples
    --------
    >>> segments(np.array([0, 2]), np.array([3, 5]), 6)
    [(0, 2), (2, 4), (4, 6)]
    """
    cuts = {0, periods}
    cuts.update(int(s) for s in starts)
    cuts.update(int(e) + 1 for e in ends if e + 1 < periods)
    b = sorted(c for c in cuts if 0 <= c <= periods)
    return list(itertools.pairwise(b))


def _undominated(items: list[tuple[int, float]]) -> list[int]:
    """Indices of (active-set bitmask, capacity) pairs that no other pair dominates.

    Pair j dominates k when j's active set contains k's and j's capacity is no larger.
    """
    keep = []
    for k, (mk, ck) in enumerate(items):
        if mk == 0:
            continue
        dominated = False
        for j, (mj, cj) in enumerate(items):
            if j != k and (mk & ~mj) == 0 and cj <= ck and (mj != mk or cj < ck or j < k):
                dominated = True
                break
        if not dominated:
            keep.append(k)
    return keep


def build_model(inst: Instance, *, previous: dict[str, list[ReplicaFit] | None] | None = None,
                move_penalty_usd: float | None = None) -> PlacementModel:
    """Build the placement model of an instance.

    Parameters
    ----------
    inst
        The instance.
    previous
        Replica fits of leases placed by an earlier plan (``None`` where its pods are
        gone); keeping one where it was avoids ``move_penalty_usd``.
    move_penalty_usd
        Cost of relocating a previously placed lease that could have stayed (dropping
        one costs its revenue); defaults to the scenario's ``settings.move_penalty_usd``.
    """
    cp = cp_model.CpModel()
    m = PlacementModel(cp, inst)
    periods = inst.pod_free.shape[1]
    for lo in inst.leases:
        m.where[lo.lease] = usable_pods(inst, lo)
    leases = [lo for lo in inst.leases if m.where[lo.lease] or lo.internal]
    obj: list[Term] = []

    for lo in leases:
        pl = cp.new_bool_var(f"placed[{lo.lease}]")
        m.placed[lo.lease] = pl
        if lo.internal:
            cp.add(pl == 1)
        obj.append((pl, math.ceil(lo.revenue_usd), lo.revenue_usd))
        for r in range(lo.replicas):
            _replica_vars(m, lo, r, pl, obj)
            _spot_terms(m, lo, r, obj)
        if lo.anti_affinity:
            for s in m.sites(lo):
                cp.add(sum(m.site_expr(lo, r, s) for r in range(lo.replicas)) <= 1)
        _break_replica_symmetry(m, lo)
    _one_start(m, leases)
    m.api = add_api_vars(m, obj)

    _capacity_constraints(m, leases, periods)
    if previous:
        penalty = inst.sc.settings.move_penalty_usd if move_penalty_usd is None else move_penalty_usd
        _stay_constraints(m, previous, obj, penalty)
        _keep_sold(m, previous, obj, inst.sc.settings.drop_penalty_factor)
    if m.api is not None:  # finer units, every coefficient rounded up (costs down), so the bound stays a bound
        m.objective_scale = OBJECTIVE_SCALE
        obj = [(v, math.ceil(exact * OBJECTIVE_SCALE), exact) for v, _, exact in obj]
    cp.maximize(sum(c * v for v, c, _ in obj if c != 0))
    if m.objective_scale != 1:  # CP-SAT reports its objective and bound in USD
        cp.proto.objective.scaling_factor = -1.0 / m.objective_scale
    m.value_vars = np.array([v.index for v, _, _ in obj], dtype=np.int64)
    m.value_coefs = np.array([exact for _, _, exact in obj], dtype=float)
    return m


def _one_start(m: PlacementModel, leases: list[LeaseOptions]) -> None:
    """A lease with a start window is placed at one of its starts at most (its options share a ``group``).

    Each option is a lease of the model with its own term, so :func:`segments` cuts the
    horizon at every candidate term's boundaries.
    """
    for opts in lease_groups(lo for lo in leases if lo.starts).values():
        if len(opts) > 1:
            m.cp.add(sum(m.placed[lo.lease] for lo in opts) <= 1)  # linear: the pod-level LP reads it too
            m.n_constraints["start_window"] += 1


def _replica_vars(m: PlacementModel, lo: LeaseOptions, r: int, pl: cp_model.IntVar,
                  obj: list[Term]) -> None:
    cp, inst = m.cp, m.inst
    site_of: dict[int, cp_model.LinearExprT] = {}
    for s in m.sites(lo):
        if lo.span != "pod":
            sv = cp.new_bool_var(f"site[{lo.lease},{r},{s}]")
            m.site[(lo.lease, r, s)] = sv
            one_cost = _site_power_cost(inst, lo, m.pods(lo, s), 1)
            if one_cost is not None:  # every pod of the site costs the same: one term for the replica
                obj.append((sv, -math.floor(one_cost) * lo.gpus, -one_cost * lo.gpus))
            # span=site: the site's pods are one domain; span=hall: each hall is one, chosen once
            domains = m.halls(lo, s) if lo.span == "hall" else {-1: m.pods(lo, s)}
            chosen = []
            for h, pods in domains.items():
                if lo.span == "hall":
                    dv = cp.new_bool_var(f"hall[{lo.lease},{r},{h}]")
                    m.hall[(lo.lease, r, h)] = dv
                else:
                    dv = sv
                chosen.append(dv)
                parts = []
                floor = inst.free_for(lo)[pods, lo.t0 : lo.t1 + 1].min(axis=1)
                for p, room in zip(pods, floor, strict=True):
                    xv = cp.new_int_var(0, int(min(lo.gpus, room)), f"x[{lo.lease},{r},{p}]")
                    wv = cp.new_bool_var(f"whole[{lo.lease},{r},{p}]")
                    m.x[(lo.lease, r, p)], m.whole[(lo.lease, r, p)] = xv, wv
                    cp.add(xv <= lo.gpus * dv)
                    cp.add(xv >= lo.gpus * wv)
                    parts.append(xv)
                    if one_cost is None:
                        cost = inst.power_cost_usd(lo, p, 1)
                        obj.append((xv, -math.floor(cost), -cost))
                cp.add(sum(parts) == lo.gpus * dv)
            if lo.span == "hall":
                cp.add(sum(chosen) == sv)
            cp.add(sum(m.whole[(lo.lease, r, p)] for p in m.pods(lo, s)) <= sv)
            site_of[s] = sv
        else:
            sv = cp.new_bool_var(f"site[{lo.lease},{r},{s}]")
            m.site[(lo.lease, r, s)] = sv
            one_cost = _site_power_cost(inst, lo, m.pods(lo, s), lo.gpus)
            if one_cost is not None:
                obj.append((sv, -math.floor(one_cost), -one_cost))
            for p in m.pods(lo, s):
                xv = cp.new_bool_var(f"x[{lo.lease},{r},{p}]")
                m.x[(lo.lease, r, p)] = xv
                if one_cost is None:
                    cost = inst.power_cost_usd(lo, p, lo.gpus)
                    obj.append((xv, -math.floor(cost), -cost))
            cp.add(sum(m.x[(lo.lease, r, p)] for p in m.pods(lo, s)) == sv)
            site_of[s] = sv
    cp.add(sum(site_of.values()) == pl)
    if lo.needs_path:
        for s, here in site_of.items():
            routes = []
            for k, path in enumerate(lo.paths[s]):
                zv = cp.new_bool_var(f"route[{lo.lease},{r},{s},{k}]")
                m.route[(lo.lease, r, s, k)] = zv
                routes.append(zv)
                cost = inst.transport_cost_usd(lo, path)
                obj.append((zv, -math.floor(cost), -cost))
            cp.add(sum(routes) == here)


def _site_power_cost(inst: Instance, lo: LeaseOptions, pods: list[int], gpus: int) -> float | None:
    """The power cost of ``gpus`` GPUs of ``lo`` in any of ``pods``, or ``None`` if the pods' costs differ.

    Pods of one SKU at one site draw the same power at the same price, so the cost
    can sit on the replica's site variable: one objective term instead of one per pod.
    """
    costs = {inst.power_cost_usd(lo, p, gpus) for p in pods}
    return costs.pop() if len(costs) == 1 else None


def _break_replica_symmetry(m: PlacementModel, lo: LeaseOptions) -> None:
    """Replicas are interchangeable: order them by site (span=site), hall (span=hall) or pod position."""
    if lo.replicas < 2:
        return
    def key(r: int) -> cp_model.LinearExprT:
        if lo.span == "site":
            return sum(s * m.site[(lo.lease, r, s)] for s in m.sites(lo))
        if lo.span == "hall":
            return sum(h * m.hall[(lo.lease, r, h)] for s in m.sites(lo) for h in m.halls(lo, s))
        return sum(p * m.x[(lo.lease, r, p)] for s in m.sites(lo) for p in m.pods(lo, s))
    for r in range(lo.replicas - 1):
        m.cp.add(key(r) <= key(r + 1))


Terms = dict[int, list[tuple[cp_model.IntVar, int, int]]]


def _add_capacity(m: PlacementModel, family: str, terms_by_lease: Terms, cap: np.ndarray,
                  segs: list[tuple[int, int]], active: list[int]) -> None:
    """Add one resource's constraints over the undominated time segments.

    ``terms_by_lease`` maps a lease position to its (variable, coefficient, upper bound) terms on the
    resource; ``active[k]`` is the bitmask of leases active in segment ``k``; ``cap``
    is the resource's capacity per week (already in integer units).
    """
    if not terms_by_lease:
        return
    mask_all = 0
    for pos in terms_by_lease:
        mask_all |= 1 << pos
    lows = np.minimum.reduceat(cap, [a for a, _ in segs]).tolist()  # the least capacity in each segment
    items = [(active[k] & mask_all, float(lows[k])) for k in range(len(segs))]
    for k in _undominated(items):
        mk, ck = items[k]
        terms = [t for pos, ts in terms_by_lease.items() if mk >> pos & 1 for t in ts]
        peak = sum(c * ub for _, c, ub in terms if c > 0)  # the most the load can reach
        if terms and peak > ck:
            expr = cp_model.LinearExpr.weighted_sum([e for e, _, _ in terms], [c for _, c, _ in terms])
            m.cp.add(expr <= math.floor(ck))
            m.n_constraints[family] += 1


def _capacity_constraints(m: PlacementModel, leases: list[LeaseOptions], periods: int) -> None:
    inst = m.inst
    segs = segments(np.array([lo.t0 for lo in leases]), np.array([lo.t1 for lo in leases]), periods)
    active = []
    for a, b in segs:
        mask = 0
        for lo in leases:
            if lo.t0 < b and lo.t1 >= a:
                mask |= 1 << lo.pos
        active.append(mask)
    terms = _terms(m, leases)
    for c in CAPACITIES:  # one row set per family, in the table's order
        cap = c.weekly(inst)
        for i, by_lease in terms[c.family].items():
            _add_capacity(m, c.family.value, by_lease, cap[i], segs, active)
        if c.family is Family.GPUS:
            _counting_cuts(m, leases, segs, active)  # valid inequalities on GPUs, right after their rows
    _worst_case_rows(m, leases, segs, active, terms)
    add_api_rows(m, leases, terms, segs, active)


def _spot_terms(m: PlacementModel, lo: LeaseOptions, r: int, obj: list[Term]) -> None:
    """A spot replica's expected pre-emption refund, per pod it may use (its revenue is counted on ``placed``)."""
    if not lo.spot:
        return
    unit = lo.gpus if lo.span == "pod" else 1
    for s in m.sites(lo):
        for p in m.pods(lo, s):
            loss = m.inst.spot_loss_usd(lo, p, unit)
            if loss > 0:  # a cost: rounded down, so CP-SAT's bound stays a bound on the exact value
                obj.append((m.x[(lo.lease, r, p)], -math.floor(loss), -loss))


def _worst_case_rows(m: PlacementModel, leases: list[LeaseOptions], segs: list[tuple[int, int]],
                     active: list[int], terms: dict[Family, dict[int, Terms]]) -> None:
    """Committed leases and internal work fit the worst case of internal demand (every upside happens).

    Spot leases are left out of these rows: internal work pre-empts them. The base-case
    rows (every lease) are added with the other families.
    """
    inst = m.inst
    if inst.pod_free_worst.size == 0 or (np.array_equal(inst.pod_free_worst, inst.pod_free)
                                         and np.array_equal(inst.site_power_w_worst, inst.site_power_w)):
        return  # no upside (here): the base-case rows say it all
    firm = {lo.pos for lo in leases if not lo.spot}
    worst = {Family.GPUS: inst.pod_free_worst, Family.POWER: inst.site_power_w_worst}
    for family, cap in worst.items():
        for i, by_lease in terms[family].items():
            kept = {pos: ts for pos, ts in by_lease.items() if pos in firm}
            _add_capacity(m, f"{family.value}_worst_case", kept, cap[i], segs, active)


def _terms(m: PlacementModel, leases: list[LeaseOptions]) -> dict[Family, dict[int, Terms]]:
    """Every lease's terms on each :data:`~planner.optimise.families.CAPACITIES` family, per pod, site or span."""
    inst = m.inst
    pod_gpu: dict[int, Terms] = defaultdict(lambda: defaultdict(list))
    pod_up: dict[int, Terms] = defaultdict(lambda: defaultdict(list))
    site_w: dict[int, Terms] = defaultdict(lambda: defaultdict(list))
    span_mb: dict[int, Terms] = defaultdict(lambda: defaultdict(list))
    hall_agg: dict[int, Terms] = defaultdict(lambda: defaultdict(list))
    b_kbps = inst.interpod_kbps_per_gpu
    limited = inst.hall_agg_kbps.reshape(len(inst.hall_ids), -1).min(axis=1) < UNLIMITED // 2  # else no row
    for lo in leases:
        for r in range(lo.replicas):
            for s in m.sites(lo):
                watts = {int(inst.pod_w_per_gpu[p]) for p in m.pods(lo, s)}
                if len(watts) == 1:  # the same SKU at one site: one term for the replica's power
                    site_w[s][lo.pos].append((m.site[(lo.lease, r, s)], lo.gpus * watts.pop(), 1))
                for p in m.pods(lo, s):
                    xv = m.x[(lo.lease, r, p)]
                    unit, ub = (lo.gpus, 1) if lo.span == "pod" else (1, lo.gpus)
                    pod_gpu[p][lo.pos].append((xv, unit, ub))
                    if watts:
                        site_w[s][lo.pos].append((xv, unit * int(inst.pod_w_per_gpu[p]), ub))
                    if lo.span != "pod":
                        wv = m.whole[(lo.lease, r, p)]
                        if lo.egress_kbps_per_gpu + b_kbps > 0:
                            pod_up[p][lo.pos].append((xv, lo.egress_kbps_per_gpu + b_kbps, ub))
                        if b_kbps > 0:
                            pod_up[p][lo.pos].append((wv, -b_kbps * lo.gpus, 1))
                            h = int(inst.pod_hall[p])
                            if limited[h]:  # the one load rule: inter-pod traffic per GPU in the hall, unless whole
                                hall_agg[h][lo.pos] += [(xv, b_kbps, ub), (wv, -b_kbps * lo.gpus, 1)]
                    elif lo.egress_kbps > 0:
                        pod_up[p][lo.pos].append((xv, lo.egress_kbps, 1))
                if lo.needs_path and lo.egress_mbps > 0:
                    for k, path in enumerate(lo.paths[s]):
                        for e in path.span_idx:
                            span_mb[int(e)][lo.pos].append((m.route[(lo.lease, r, s, k)], lo.egress_mbps, 1))
    return {Family.GPUS: pod_gpu, Family.UPLINK: pod_up, Family.POWER: site_w, Family.DCI: span_mb,
            Family.AGGREGATION: hall_agg}


def _counting_cuts(m: PlacementModel, leases: list[LeaseOptions], segs: list[tuple[int, int]],
                   active: list[int]) -> None:
    """Valid inequalities on how many big replicas a site's pods can hold at once.

    A pod with ``f`` free GPUs holds at most ``f // G`` replicas of ``G`` GPUs or more, so
    in each time segment the replicas of size >= G at a site (of one SKU) number at most
    the sum over its pods of ``free // G``. Implied by the per-pod constraints for
    integer solutions, but much tighter than them in the LP relaxation.
    """
    inst = m.inst
    groups: dict[tuple[int, str], list[LeaseOptions]] = defaultdict(list)
    for lo in leases:
        if lo.span == "pod":
            for s in m.sites(lo):
                groups[(s, lo.sku)].append(lo)
    for (s, _sku), los in groups.items():
        pods = los[0].pods[s]
        sizes = sorted({lo.gpus for lo in los})
        for k, (a, b) in enumerate(segs):
            free = inst.pod_free[pods, a:b].min(axis=1)
            here = [lo for lo in los if active[k] >> lo.pos & 1]
            if not here:
                continue
            for g in sizes:
                if g * 4 < free.max():  # small replicas: the GPU constraints already say enough
                    continue
                big = [lo for lo in here if lo.gpus >= g]
                slots = int((free // g).sum())
                if len(big) * max(lo.replicas for lo in big) <= slots if big else True:
                    continue
                m.cp.add(sum(m.site_expr(lo, r, s) for lo in big for r in range(lo.replicas)) <= slots)
                m.n_constraints["gpus_count"] += 1


def _keep_sold(m: PlacementModel, previous: dict[str, list[ReplicaFit] | None],
               obj: list[Term], factor: float) -> None:
    """Dropping a lease an earlier plan placed costs ``factor`` times its revenue (besides the revenue).

    A lease with a start window counts as kept at any of its starts (its options' ``placed``
    sum to at most one): the penalty's term sits on each of them.
    """
    sold = {lo.group for lo in m.inst.leases if lo.lease in previous or lo.group in previous}
    for group, opts in lease_groups(m.inst.leases).items():
        if group not in sold or opts[0].internal:
            continue
        cost = factor * opts[0].revenue_usd
        m.objective_offset -= cost
        for lo in opts:
            if lo.lease in m.placed:
                obj.append((m.placed[lo.lease], math.ceil(cost), cost))


def _stay_constraints(m: PlacementModel, previous: dict[str, list[ReplicaFit] | None],
                      obj: list[Term], penalty: float) -> None:
    """Relocating a lease that could stay where an earlier plan put it costs ``penalty``.

    ``stay[l]`` may be 1 only if every replica keeps its earlier pods and GPUs; the
    objective charges ``penalty * (placed[l] - stay[l])``. Dropping a lease costs its
    revenue only, and a lease whose pods are gone moves at no extra cost.
    """
    by_id = {lo.lease: lo for lo in m.inst.leases}
    for lid, prev_fits in previous.items():
        lo = by_id.get(lid)
        if lo is None or prev_fits is None or lid not in m.placed or len(prev_fits) != lo.replicas:
            continue  # gone or reshaped: it cannot stay
        fits = canonical(lo, prev_fits, m.inst)
        if not all((lo.lease, r, p) in m.x for r, f in enumerate(fits) for p, _ in f.parts):
            continue
        st = m.cp.new_bool_var(f"stay[{lid}]")
        m.stay[lid] = st
        m.cp.add(st <= m.placed[lid])  # implied by the pins below; stated so the LP relaxation sees it
        for r, f in enumerate(fits):
            for p, g in f.parts:
                target = 1 if lo.span == "pod" else g
                m.cp.add(m.x[(lo.lease, r, p)] == target).only_enforce_if(st)
        obj.append((st, math.ceil(penalty), penalty))
        obj.append((m.placed[lid], -math.ceil(penalty), -penalty))


def add_hint(m: PlacementModel, fits: dict[str, list[ReplicaFit]],
             previous: dict[str, list[ReplicaFit] | None] | None, api: ApiSolution | None = None) -> None:
    """Hint every variable of ``m`` from a set of replica fits (a complete hint).

    The API variables take ``api``, or, when omitted, what the greedy API filler serves
    with the capacity ``fits`` leave.
    """
    inst = m.inst
    for lo in inst.leases:
        if lo.lease not in m.placed:
            continue
        f = canonical(lo, fits[lo.lease], inst) if lo.lease in fits else None
        m.cp.add_hint(m.placed[lo.lease], f is not None)
        for r in range(lo.replicas):
            rf = f[r] if f else None
            parts = dict(rf.parts) if rf else {}
            for s in m.sites(lo):
                m.cp.add_hint(m.site[(lo.lease, r, s)], bool(rf and rf.site == s))
                if lo.span == "hall":
                    for h, pods in m.halls(lo, s).items():
                        m.cp.add_hint(m.hall[(lo.lease, r, h)], any(p in parts for p in pods))
                for p in m.pods(lo, s):
                    g = parts.get(p, 0)
                    m.cp.add_hint(m.x[(lo.lease, r, p)], int(g > 0) if lo.span == "pod" else g)
                    if lo.span != "pod":
                        m.cp.add_hint(m.whole[(lo.lease, r, p)], g == lo.gpus)
                for k, path in enumerate(lo.paths.get(s, []) if lo.needs_path else []):
                    on = bool(rf and rf.site == s and rf.path is not None and rf.path.path_id == path.path_id)
                    m.cp.add_hint(m.route[(lo.lease, r, s, k)], on)
    for lid, st in m.stay.items():
        prev = previous.get(lid) if previous else None
        m.cp.add_hint(st, bool(prev is not None and lid in fits and canonical_equal(fits[lid], prev)))
    if m.api is not None:  # last: the leases' load variables read the leases' hints
        hint_api(m, api if api is not None else fill_apis(inst, Residual.after(inst, fits)))


def canonical_equal(a: list[ReplicaFit], b: list[ReplicaFit]) -> bool:
    """Whether two sets of replica fits hold the same pods with the same GPUs."""
    return sorted(tuple(sorted(f.parts)) for f in a) == sorted(tuple(sorted(f.parts)) for f in b)


def read_fits(m: PlacementModel, solver: cp_model.CpSolver) -> dict[str, list[ReplicaFit]]:
    """The replica fits of the leases placed in ``solver``'s solution of ``m``."""
    out: dict[str, list[ReplicaFit]] = {}
    for lo in m.inst.leases:
        pl = m.placed.get(lo.lease)
        if pl is None or not solver.value(pl):
            continue
        fits = []
        for r in range(lo.replicas):
            for s in m.sites(lo):
                parts = []
                for p in m.pods(lo, s):
                    v = int(solver.value(m.x[(lo.lease, r, p)]))
                    if v:
                        parts.append((p, lo.gpus if lo.span == "pod" else v))
                if not parts:
                    continue
                path = None
                if lo.needs_path:
                    path = next(pth for k, pth in enumerate(lo.paths[s]) if solver.value(m.route[(lo.lease, r, s, k)]))
                fits.append(ReplicaFit(s, tuple(parts), path))
        out[lo.lease] = fits
    return out
