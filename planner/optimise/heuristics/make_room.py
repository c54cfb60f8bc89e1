"""Room made at a site for a lease the LP carries: the cheapest leases there evicted until it fits.

The eviction polish (:mod:`~planner.optimise.heuristics.polish`) frees one pod, or one
hall, for a left-out lease. A fleet of many small replicas that must stay near its users
needs room across a site's pods, and its power, in the weeks a training wave leaves little
of either: no one pod's leases make that room. This move takes a lease the site LP carries
(:data:`CARRIED`, or more) but the plan leaves out and, at each site it may use, evicts the
placed leases that overlap its term there -- first those on pods of its SKU, then the
site's others (they draw its power), each group cheapest per GPU-week it holds there
first -- until the lease fits (at most :data:`MAX_EVICTED`); it places the lease, then
re-places the evicted ones wherever they fit, dearest first. The site whose move gains
most is kept, if any gains.

On the generated hyperscale tier (seed 3), after the site-level warm start's polish, the
LP carried whole 1,630 inference fleets of up to 34 NVL72 racks that the plan left out
($10.7 B of revenue; 1,135 of them for want of GPUs at the one to three sites their
latency allows, in weeks where a site had no power left either). From that polished start
($72,690.3 M) one pass of this move (8,176 site moves, 93 s) brings in 155 leases and leaves
out 36 it had: $73,241.6 M (+0.76 %).
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping

from planner.optimise.heuristics.polish import Changes, Halt, net_value, re_place
from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["CARRIED", "MAX_EVICTED", "make_room"]

Fits = dict[str, list[ReplicaFit]]

CARRIED = 0.5
"""A left-out lease the LP carries at least this share of is offered a site's room."""
MAX_EVICTED = 60
"""Leases one move may evict at a site before it gives the site up."""


def make_room(inst: Instance, fits: Fits, res: Residual, placed: Mapping[str, float], *, max_moves: int,
              time_limit_s: float = float("inf"), stop: threading.Event | None = None,
              on_time_out: Callable[[], None] | None = None) -> tuple[Fits, Residual, int]:
    """One pass of site moves over the left-out leases the LP carries, dearest first.

    Parameters
    ----------
    inst
        The instance.
    fits, res
        The plan and what it leaves (neither is changed: new ones are returned).
    placed
        The LP's share of each lease (:attr:`~planner.optimise.bounds.site_lp.SiteRelaxation.placed`).
    max_moves
        Site moves to try at most (the work counted in a deterministic run).
    time_limit_s, stop, on_time_out
        The wall-clock safety stop (``on_time_out`` is called when it fires) and a stop event.

    Returns
    -------
    tuple
        The new plan, its residual and the moves tried.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> from planner.optimise.bounds.site_lp import site_relaxation
    >>> from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
    >>> inst = build_instance(load_scenario())
    >>> fits, res, _ = greedy_pass(inst, price_order(inst))
    >>> better, _, moves = make_room(inst, fits, res, site_relaxation(inst).placed, max_moves=200)
    >>> plan_value(inst, better) >= plan_value(inst, fits), moves <= 200
    (True, True)
    """
    halt = Halt(max_moves, time_limit_s, stop, on_time_out)
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res = dict(fits), res.copy()
    value = {lid: net_value(inst, by_id[lid], fs) for lid, fs in fits.items()}
    on_site: dict[int, set[str]] = defaultdict(set)
    for lid, fs in fits.items():
        if not by_id[lid].internal:
            for f in fs:
                on_site[f.site].add(lid)
    held = {by_id[lid].group for lid in fits}
    out = sorted((lo for lo in inst.leases if not lo.internal and lo.group not in held
                  and placed.get(lo.lease, 0.0) >= CARRIED), key=lambda lo: (-lo.revenue_usd, lo.lease))
    moves = 0
    for lo in out:
        if lo.group in held:
            continue
        best: tuple[float, list[str], list[ReplicaFit], Fits] | None = None
        for s in lo.sites:
            if halt.now(moves):
                return fits, res, moves
            moves += 1
            got = _try_site(inst, lo, s, fits, res, value, on_site, by_id)
            if got is not None and got[0] > 1e-6 and (best is None or got[0] > best[0]):
                best = got
        if best is not None:
            _, evicted, mine, back = best
            for v in evicted:
                res.apply(by_id[v], fits[v], sign=+1)
                _index(on_site, v, fits.pop(v), remove=True)
                value.pop(v)
                held.discard(by_id[v].group)
            for lid, fs in [(lo.lease, mine), *back.items()]:
                res.apply(by_id[lid], fs)
                fits[lid] = fs
                value[lid] = net_value(inst, by_id[lid], fs)
                _index(on_site, lid, fs)
                held.add(by_id[lid].group)
    return fits, res, moves


def _index(on_site: dict[int, set[str]], lid: str, fs: list[ReplicaFit], *, remove: bool = False) -> None:
    for f in fs:
        if remove:
            on_site[f.site].discard(lid)
        else:
            on_site[f.site].add(lid)


def _try_site(inst: Instance, lo: LeaseOptions, site: int, fits: Fits, res: Residual, value: dict[str, float],
              on_site: dict[int, set[str]], by_id: dict[str, LeaseOptions]
              ) -> tuple[float, list[str], list[ReplicaFit], Fits] | None:
    """Evict at ``site`` until ``lo`` fits, place it, re-place the evicted: the gain and the changes, or ``None``.

    ``res`` is worked on in place and left as it was (integer loads: taking back is exact).
    """
    pods = set(lo.pods.get(site, []))

    def overlap(v: str) -> tuple[bool, float, str]:
        o = by_id[v]
        weeks = min(o.t1, lo.t1) - max(o.t0, lo.t0) + 1
        parts = [(p, g) for f in fits[v] if f.site == site for p, g in f.parts]
        gpus = sum(g for _, g in parts)
        return not any(p in pods for p, _ in parts), value[v] / max(gpus * weeks, 1), v

    victims = sorted((v for v in on_site.get(site, ()) if by_id[v].t0 <= lo.t1 and by_id[v].t1 >= lo.t0),
                     key=overlap)[:MAX_EVICTED]
    evicted: list[str] = []
    got = None
    try:
        for v in victims:
            res.apply(by_id[v], fits[v], sign=+1)
            evicted.append(v)
            got = res.fit(lo)
            if got is not None:
                break
        if got is None:
            return None
        res.apply(lo, got)
        gain = net_value(inst, lo, got) - sum(value[v] for v in evicted)
        changes: Changes = {}
        try:
            gain = re_place(inst, sorted(evicted, key=lambda v: (-value[v], v)), res, by_id, changes, gain)
        finally:
            for v, fs in changes.items():
                if fs is not None:
                    res.apply(by_id[v], fs, sign=+1)
            res.apply(lo, got, sign=+1)
        return gain, evicted, got, {v: fs for v, fs in changes.items() if fs is not None}
    finally:
        for v in evicted:
            res.apply(by_id[v], fits[v])
