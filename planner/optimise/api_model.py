"""The hosted-model APIs' part of the CP-SAT model: variables, rows, objective terms, hint and read-back.

Variables (``d`` a deployment: a model on a pod; ``t`` a stream; ``s`` a site; ``k`` a path; ``w`` a week):

- ``rep[d, w]`` -- replicas of the model running on the pod (integer, only in weeks some
  stream of the model may be served from the pod's site);
- ``served[t, s, k, w]`` -- tokens per second of ``t`` served from ``s`` over path ``k``
  (integer; only paths within the stream's network budget exist, so latency holds by construction);
- ``start[d, w]`` -- replicas started: at least ``rep[d, w] - rep[d, w - 1]`` (only when starting costs).

Rows: demand (served <= peak), throughput per (model, site, week), and one row per (pod,
site or span, week) of each capacity family the APIs load, holding the leases active that
week beside them (GPUs and power in the base case and, as APIs are never pre-empted, in the
worst case of internal demand; pod uplink; DCI in bits per second, exact). The leases' own
rows over time segments stay as they are: a scenario without API demand gets the model it
always had.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ortools.sat.python import cp_model

from planner.optimise.apis import ApiSolution
from planner.optimise.families import CAPACITIES, Family

if TYPE_CHECKING:
    from planner.optimise.instance import LeaseOptions
    from planner.optimise.model import PlacementModel, Term, Terms

__all__ = ["OBJECTIVE_SCALE", "ApiVars", "add_api_rows", "add_api_vars", "hint_api", "read_api"]

OBJECTIVE_SCALE = 1_000_000
"""With API demand the CP-SAT objective counts micro-dollars: a token per second earns about a dollar
a week and its transport a few micro-dollars, so coarser units hide the better route (in dollars or
tenths of a cent CP-SAT's optimum lost up to $0.41 against an exact MIP on a small case). Every
coefficient is rounded up, so CP-SAT's bound stays a bound on the exact value."""

BITS_PER_MBPS = 1_000_000


@dataclass
class ApiVars:
    """The API variables of a placement model."""

    rep: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    served: dict[tuple[int, int, int, int], cp_model.IntVar] = field(default_factory=dict)
    start: dict[tuple[int, int], cp_model.IntVar] = field(default_factory=dict)
    rep_ub: dict[tuple[int, int], int] = field(default_factory=dict)
    loads: list[tuple[cp_model.IntVar, list[tuple[cp_model.IntVar, int, int]]]] = field(default_factory=list)
    """The leases' load on one resource in one time segment, and the terms it equals (for the hint), in order."""


def add_api_vars(m: PlacementModel, obj: list[Term]) -> ApiVars | None:
    """Add the API variables, demand and throughput rows and objective terms; ``None`` without API demand."""
    inst, cp = m.inst, m.cp
    api = inst.api
    if api is None or api.empty:
        return None
    v = ApiVars()
    worst = inst.pod_free_worst if inst.pod_free_worst.size else inst.pod_free
    for d in api.deployments:
        for w in sorted(api.active(d.model, d.site)):
            ub = int(min(inst.pod_free[d.pod, w], worst[d.pod, w])) // d.gpus
            if ub <= 0:
                continue
            r = cp.new_int_var(0, ub, f"rep[{d.pos},{w}]")
            v.rep[(d.pos, w)], v.rep_ub[(d.pos, w)] = r, ub
            obj.append((r, -math.floor(d.power_usd_week), -d.power_usd_week))
    by_msw: dict[tuple[int, int, int], list[tuple[int, cp_model.IntVar]]] = defaultdict(list)
    for (dp, w), r in v.rep.items():
        d = api.deployments[dp]
        by_msw[(d.model, d.site, w)].append((dp, r))
    flows: dict[tuple[int, int, int], list[cp_model.IntVar]] = defaultdict(list)  # (model, site, week)
    for t in api.streams:
        for w in t.weeks:
            mine = []
            for s, paths in t.paths.items():
                reps = by_msw.get((t.model, s, w), [])
                most = sum(v.rep_ub[(dp, w)] * api.deployments[dp].tokens_per_s for dp, _ in reps)
                if most <= 0:
                    continue
                for k, path in enumerate(paths):
                    x = cp.new_int_var(0, min(t.peak, most), f"served[{t.stream},{s},{k},{w}]")
                    v.served[(t.pos, s, k, w)] = x
                    net = api.net_per_tps_week(t, path)
                    obj.append((x, math.ceil(net), net))
                    flows[(t.model, s, w)].append(x)
                    mine.append(x)
            if len(mine) > 1:
                cp.add(sum(mine) <= t.peak)
                m.n_constraints["api_demand"] += 1
    for (mo, s, w), xs in flows.items():
        reps = by_msw[(mo, s, w)]
        cp.add(sum(xs) <= sum(api.deployments[dp].tokens_per_s * r for dp, r in reps))
        m.n_constraints["api_throughput"] += 1
    for (dp, w), r in v.rep.items():
        cost = float(api.start_usd[api.deployments[dp].model])
        if cost <= 0:
            continue
        st = cp.new_int_var(0, v.rep_ub[(dp, w)], f"start[{dp},{w}]")
        before = v.rep.get((dp, w - 1))
        cp.add(st >= r - before if before is not None else st >= r)
        v.start[(dp, w)] = st
        obj.append((st, -math.floor(cost), -cost))
        m.n_constraints["api_start"] += 1
    return v


def _row(m: PlacementModel, family: str, terms: list[tuple[cp_model.IntVar, int, int]], cap: int) -> None:
    """``sum(coef x var) <= cap`` unless the terms can never reach it."""
    if not terms or sum(c * ub for _, c, ub in terms if c > 0) <= cap:
        return
    m.cp.add(cp_model.LinearExpr.weighted_sum([x for x, _, _ in terms], [c for _, c, _ in terms]) <= cap)
    m.n_constraints[family] += 1


def add_api_rows(m: PlacementModel, leases: list[LeaseOptions], terms: dict[Family, dict[int, Terms]],
                 segs: list[tuple[int, int]], active: list[int]) -> None:
    """Per-week capacity rows holding the API replicas and flows beside the leases active that week.

    The leases' load on a resource is constant over a time segment (``segs``, with the
    bitmask ``active`` of the leases in each): it is one integer variable per resource
    and segment, equal to the leases' terms, and each week's row holds that variable
    and the week's API terms -- a few terms a row instead of every lease's again each week.
    """
    v, api, inst = m.api, m.inst.api, m.inst
    if v is None or api is None:
        return
    loads: dict[Family, dict[tuple[int, int], list[tuple[cp_model.IntVar, int, int]]]] = {
        c.family: defaultdict(list) for c in CAPACITIES}
    for (dp, w), r in v.rep.items():
        d, ub = api.deployments[dp], v.rep_ub[(dp, w)]
        loads[Family.GPUS][(d.pod, w)].append((r, d.gpus, ub))
        loads[Family.POWER][(d.site, w)].append((r, d.watts, ub))
        if d.uplink_kbps > 0:
            loads[Family.UPLINK][(d.pod, w)].append((r, d.uplink_kbps, ub))
    for (tp, s, k, w), x in v.served.items():
        t = api.streams[tp]
        bits = math.ceil(t.bits_per_token - 1e-9)
        if bits > 0:
            for e in t.paths[s][k].span_idx.tolist():
                loads[Family.DCI][(int(e), w)].append((x, bits, t.peak))
    seg_of = [k for k, (a, b) in enumerate(segs) for _ in range(a, b)]
    firm_mask = sum(1 << lo.pos for lo in leases if not lo.spot)
    needed: dict[tuple[Family, int, bool], set[int]] = defaultdict(set)
    for c in CAPACITIES:
        for (i, w) in loads.get(c.family, {}):
            needed[(c.family, i, False)].add(seg_of[w])
            needed[(c.family, i, True)].add(seg_of[w])
    made: dict[tuple[Family, int, bool], dict[int, tuple[cp_model.IntVar, int]]] = {}

    def lease_load(family: Family, i: int, k: int, *, only_firm: bool) -> list[tuple[cp_model.IntVar, int, int]]:
        """The leases' load on resource ``i`` in segment ``k``, as one variable in the family's own unit.

        Empty when no lease loads the resource. The variables of one resource form a chain
        over the segments: the first equals the terms of the leases active then, each next
        one the last plus the terms of the leases that start and minus those that end, so a
        lease's terms appear twice whatever its length. Kept in the family's own unit (Mbps on
        a span, not bits/s), so the coefficients of a row stay alike: an LP solver drops a
        coefficient 10^9 times smaller than its row's largest.
        """
        key = (family, i, only_firm)
        if key not in made:
            made[key] = _chain(m, family, i, terms[family].get(i, {}), active, firm_mask if only_firm else -1,
                               sorted(needed[key]), v)
        got = made[key].get(k)
        return [] if got is None else [(got[0], 1, got[1])]

    worst = inst.pod_free_worst.size > 0
    for c in CAPACITIES:
        if c.family not in (Family.GPUS, Family.POWER, Family.UPLINK, Family.DCI):
            continue
        cap = c.weekly(inst)
        scale = BITS_PER_MBPS if c.family is Family.DCI else 1
        for (i, w), api_terms in loads[c.family].items():
            k = seg_of[w]
            base = [(x, coef * scale, ub) for x, coef, ub in lease_load(c.family, i, k, only_firm=False)]
            _row(m, f"{c.family.value}_api", base + api_terms, int(cap[i, w]) * scale)
            if worst and c.family in (Family.GPUS, Family.POWER):
                wc = inst.pod_free_worst if c.family is Family.GPUS else inst.site_power_w_worst
                firm = lease_load(c.family, i, k, only_firm=True)
                _row(m, f"{c.family.value}_worst_case_api", firm + api_terms, int(wc[i, w]))


def _chain(m: PlacementModel, family: Family, i: int, by_lease: dict[int, list[tuple[cp_model.IntVar, int, int]]],
           active: list[int], mask: int, wanted: list[int], v: ApiVars) -> dict[int, tuple[cp_model.IntVar, int]]:
    """Load variables (and their largest values) of one resource for the segments ``wanted`` and those between.

    Chained: see ``lease_load`` in :func:`add_api_rows`.
    """
    out: dict[int, tuple[cp_model.IntVar, int]] = {}
    if not wanted or not by_lease:
        return out
    prev: cp_model.IntVar | None = None
    before = 0
    for k in range(wanted[0], wanted[-1] + 1):
        now = active[k] & mask
        here = [t for pos, ts in by_lease.items() if now >> pos & 1 for t in ts]
        peak = sum(c * ub for _, c, ub in here if c > 0)
        load = m.cp.new_int_var(0, max(peak, 0), f"load[{family.value},{i},{k}{'' if mask == -1 else ',firm'}]")
        if prev is None:
            delta = here
            m.cp.add(cp_model.LinearExpr.weighted_sum([x for x, _, _ in delta], [c for _, c, _ in delta]) == load)
        else:
            starts = [t for pos, ts in by_lease.items() if (now & ~before) >> pos & 1 for t in ts]
            ends = [(x, -c, ub) for pos, ts in by_lease.items() if (before & ~now) >> pos & 1 for x, c, ub in ts]
            delta = [(prev, 1, 0), *starts, *ends]
            m.cp.add(cp_model.LinearExpr.weighted_sum([x for x, _, _ in delta], [c for _, c, _ in delta]) == load)
        m.n_constraints[f"{family.value}_api_load"] += 1
        v.loads.append((load, delta))
        out[k] = (load, max(peak, 0))
        prev, before = load, now
    return out


def hint_api(m: PlacementModel, sol: ApiSolution) -> None:
    """Hint every API variable from ``sol`` (replicas and flows it lacks are hinted 0).

    Called once every lease variable is hinted: the leases' load variables take the sum of their terms' hints.
    """
    v, api = m.api, m.inst.api
    if v is None or api is None:
        return
    for key, r in v.rep.items():
        m.cp.add_hint(r, min(sol.replicas.get(key, 0), v.rep_ub[key]))
    for flow, x in v.served.items():
        m.cp.add_hint(x, sol.served.get(flow, 0))
    started = sol.started(api)
    for key, st in v.start.items():
        m.cp.add_hint(st, started.get(key, 0))
    hinted = dict(zip(m.cp.proto.solution_hint.vars, m.cp.proto.solution_hint.values, strict=True))
    for load, ts in v.loads:  # the leases' load: its equality's other terms, hinted (a chain's earlier links first)
        value = sum(c * hinted.get(x.index, 0) for x, c, _ in ts)
        hinted[load.index] = value
        m.cp.add_hint(load, value)


def read_api(m: PlacementModel, solver: cp_model.CpSolver) -> ApiSolution:
    """The API solution in ``solver``'s solution of ``m`` (empty without API variables)."""
    v = m.api
    if v is None:
        return ApiSolution()
    rep = {k: int(solver.value(r)) for k, r in v.rep.items()}
    served = {k: int(solver.value(x)) for k, x in v.served.items()}
    return ApiSolution({k: n for k, n in rep.items() if n > 0}, {k: x for k, x in served.items() if x > 0})
