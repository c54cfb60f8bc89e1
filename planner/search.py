"""Local search on a set of placements: eject cheaper leases to make room for better ones.

Used to polish the warm start handed to CP-SAT. A move takes a left-out lease,
picks a pod where evicting leases worth less would make room for it, places it,
re-places the evicted leases anywhere they still fit, and is kept only if the
plan's net value rises.
"""

from __future__ import annotations

import time
from collections import defaultdict

from planner.fit import ReplicaFit, Residual
from planner.instance import Instance, LeaseOptions

__all__ = ["net_value", "polish"]

Fits = dict[str, list[ReplicaFit]]


def net_value(inst: Instance, lo: LeaseOptions, fits: list[ReplicaFit]) -> float:
    """Revenue less power and transport cost of one placed lease."""
    power = sum(inst.power_cost_usd(lo, p, g) for f in fits for p, g in f.parts)
    return lo.revenue_usd - power - sum(inst.transport_cost_usd(lo, f.path) for f in fits)


def _on_pod(fits: Fits) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for lid, fs in fits.items():
        for f in fs:
            for p, _ in f.parts:
                out[p].add(lid)
    return out


def polish(inst: Instance, fits: Fits, res: Residual, *, time_limit_s: float = 5.0,
           rounds: int = 3) -> tuple[Fits, Residual]:
    """Improve ``fits`` (with ``res`` what they leave) by ejection moves; returns new fits and residual."""
    t_end = time.perf_counter() + time_limit_s
    by_id = {lo.lease: lo for lo in inst.leases}
    fits = dict(fits)
    value = {lid: net_value(inst, by_id[lid], fs) for lid, fs in fits.items()}
    for _ in range(rounds):
        improved = False
        out = sorted((lo for lo in inst.leases if lo.lease not in fits and not lo.internal and lo.replicas == 1
                      and lo.span == "pod"), key=lambda lo: -lo.revenue_usd)
        on_pod = _on_pod(fits)
        for lo in out:
            if time.perf_counter() > t_end:
                return fits, res
            gain, best = _best_ejection(inst, lo, fits, res, value, on_pod, by_id)
            if best is None or gain <= 0:
                continue
            trial = res.copy()
            new_fits = dict(fits)
            for v in best:
                trial.apply(by_id[v], new_fits.pop(v), sign=+1)
            got = trial.fit(lo)
            if got is None:
                continue
            trial.apply(lo, got)
            new_fits[lo.lease] = got
            total = net_value(inst, lo, got) - sum(value[v] for v in best)
            for v in sorted(best, key=lambda v: -value[v]):
                again = trial.fit(by_id[v])
                if again is not None and net_value(inst, by_id[v], again) > 0:
                    trial.apply(by_id[v], again)
                    new_fits[v] = again
                    total += net_value(inst, by_id[v], again)
            if total > 1e-6:
                fits, res = new_fits, trial
                value = {lid: net_value(inst, by_id[lid], fs) for lid, fs in fits.items()}
                on_pod = _on_pod(fits)
                improved = True
        if not improved:
            break
    return fits, res


def _best_ejection(inst: Instance, lo: LeaseOptions, fits: Fits, res: Residual, value: dict[str, float],
                   on_pod: dict[int, set[str]], by_id: dict[str, LeaseOptions]) -> tuple[float, list[str] | None]:
    """The cheapest set of leases on one pod whose eviction frees room for ``lo``."""
    t = slice(lo.t0, lo.t1 + 1)
    mine = net_value(inst, lo, [ReplicaFit(lo.sites[0], ((lo.pods[lo.sites[0]][0], lo.gpus),), None)]) \
        if lo.sites else 0.0
    best: list[str] | None = None
    best_gain = 0.0
    for s in res.candidate_sites(lo):
        for p in lo.pods[s]:
            free = res.gpu[p, t].copy()
            if free.min() >= lo.gpus:
                continue  # fits on GPUs already: something else blocks it here
            victims = [v for v in on_pod.get(p, ()) if not by_id[v].internal
                       and by_id[v].t0 <= lo.t1 and by_id[v].t1 >= lo.t0]
            victims.sort(key=lambda v: value[v] / max(by_id[v].gpus * by_id[v].weeks, 1))
            chosen, cost = [], 0.0
            for v in victims:
                vl = by_id[v]
                g = sum(gg for f in fits[v] for pp, gg in f.parts if pp == p)
                a, b = max(vl.t0, lo.t0) - lo.t0, min(vl.t1, lo.t1) - lo.t0 + 1
                free[a:b] += g
                chosen.append(v)
                cost += value[v]
                if cost >= mine - best_gain:
                    break
                if free.min() >= lo.gpus:
                    break
            if free.min() >= lo.gpus and mine - cost > best_gain:
                best, best_gain = chosen, mine - cost
    return best_gain, best
