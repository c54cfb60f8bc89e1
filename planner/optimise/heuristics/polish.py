"""Local search on a set of placements: make room for a left-out lease, re-place what moved.

Used to polish the warm start handed to CP-SAT. A move takes a left-out lease and a
pod that could hold it (free enough after internal reservations, see
:func:`planner.optimise.model.usable_pods`) -- or, for a lease that spans pods and is
too big for any one pod, a whole hall that could -- evicts the leases there that overlap
its term, places it, then re-places the evicted leases wherever they still fit. The move
is kept only if the plan's net value rises.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from planner.optimise.instance import Instance, LeaseOptions, lease_groups, usable_pods
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["Changes", "Halt", "net_value", "polish", "re_place"]

Fits = dict[str, list[ReplicaFit]]
MAX_PODS_TRIED = 12
MAX_HALLS_TRIED = 4


def net_value(inst: Instance, lo: LeaseOptions, fits: list[ReplicaFit]) -> float:
    """Revenue (expected, after pre-emption, for a spot lease) less power and transport cost of one placed lease."""
    power = sum(inst.power_cost_usd(lo, p, g) + inst.spot_loss_usd(lo, p, g) for f in fits for p, g in f.parts)
    return lo.revenue_usd - power - sum(inst.transport_cost_usd(lo, f.path) for f in fits)


def _on_pod(fits: Fits) -> dict[int, set[str]]:
    out: dict[int, set[str]] = defaultdict(set)
    for lid, fs in fits.items():
        for f in fs:
            for p, _ in f.parts:
                out[p].add(lid)
    return out


def _targets(inst: Instance, lo: LeaseOptions, res: Residual, *, halls: bool = True) -> list[list[int]]:
    """Where to make room for ``lo``: single pods, the emptiest over its term first, then whole halls.

    A lease that spans pods (span=hall or span=site) and whose replicas no one pod could
    hold also gets the halls whose pods could hold one with nothing else placed, the
    emptiest first: one pod's leases rarely make room for a training lease of a hall's
    size, a hall's do.
    """
    t = slice(lo.t0, lo.t1 + 1)
    usable = usable_pods(inst, lo)
    pods = [p for ps in usable.values() for p in ps]
    pods.sort(key=lambda p: -int(res.gpu[p, t].min()))
    out = [[p] for p in pods[:MAX_PODS_TRIED]]
    if halls and lo.span != "pod" and int(inst.pod_free[pods, t].min(axis=1).max(initial=0)) < lo.gpus:
        groups: list[list[int]] = []
        for ps in usable.values():
            by_hall: dict[int, list[int]] = defaultdict(list)
            for p in ps:
                by_hall[int(inst.pod_hall[p])].append(p)
            groups += [h for h in by_hall.values()
                       if len(h) > 1 and int(inst.pod_free[h, t].sum(axis=0).min()) >= lo.gpus]
        groups.sort(key=lambda h: (-int(res.gpu[h, t].sum(axis=0).min()), h[0]))
        out += groups[:MAX_HALLS_TRIED]
    return out


Changes = dict[str, list[ReplicaFit] | None]
"""Placements a move changes: new fits, or ``None`` for a lease it leaves out."""


@dataclass
class Halt:
    """When a move search stops: its move cap (counted work), a stop event, or the wall-clock safety stop.

    Examples
    --------
    >>> halt = Halt(max_moves=2)
    >>> halt.now(1), halt.now(2)
    (False, True)
    """

    max_moves: int
    time_limit_s: float = float("inf")
    stop: threading.Event | None = None
    on_time_out: Callable[[], None] | None = None
    """Called when the wall clock stops the search."""
    t_end: float = field(init=False)

    def __post_init__(self) -> None:
        self.t_end = time.perf_counter() + self.time_limit_s

    def now(self, moves: int) -> bool:
        """Whether to stop before the next move, ``moves`` having been tried."""
        if moves >= self.max_moves or (self.stop is not None and self.stop.is_set()):
            return True
        if time.perf_counter() > self.t_end:
            if self.on_time_out is not None:
                self.on_time_out()
            return True
        return False


def re_place(inst: Instance, evicted: list[str], res: Residual, by_id: dict[str, LeaseOptions], changes: Changes,
             gain: float, groups: dict[str, list[LeaseOptions]] | None = None) -> float:
    """Put the ``evicted`` leases back, in their order, where each first fits in ``res`` and pays.

    ``res`` takes each one placed back; ``changes`` records it (``None`` for one left out,
    so that the caller can take every change back). With ``groups`` a lease with a start
    window may come back at any of its starts, its own first. Returns ``gain`` (the move's
    gain so far) plus the net value placed back, added one lease at a time (moves are
    compared on these sums: the same order of additions gives the same choices).
    """
    for v in evicted:
        changes[v] = None
        own = by_id[v]
        for opt in [own] + [o for o in (groups or {}).get(own.group, []) if o is not own]:
            again = res.fit(opt)
            if again is not None and net_value(inst, opt, again) > 0:
                res.apply(opt, again)
                changes[opt.lease] = again
                gain += net_value(inst, opt, again)
                break
    return gain


def _try(inst: Instance, lo: LeaseOptions, pods: list[int], fits: Fits, res: Residual, value: dict[str, float],
         on_pod: dict[int, set[str]], by_id: dict[str, LeaseOptions],
         groups: dict[str, list[LeaseOptions]] | None = None) -> tuple[float, Changes] | None:
    """Evict the leases on ``pods`` overlapping ``lo``, place ``lo``, re-place the evicted.

    An evicted lease with a start window may come back at any of its starts, its own first,
    then the others earliest first (``groups``: every lease's options, see
    :func:`~planner.optimise.instance.lease_groups`).

    Returns the net gain and the changed placements. ``res`` is worked on in place and
    left as it was (integer loads, so taking back is exact): no copy per move.
    """
    victims = sorted({v for pod in pods for v in on_pod.get(pod, ()) if not by_id[v].internal
                      and by_id[v].t0 <= lo.t1 and by_id[v].t1 >= lo.t0}, key=lambda v: (-value[v], v))
    for v in victims:
        res.apply(by_id[v], fits[v], sign=+1)
    changes: Changes = {}
    try:
        got = res.fit(lo)
        if got is None:
            return None
        res.apply(lo, got)
        changes[lo.lease] = got
        gain = net_value(inst, lo, got) - sum(value[v] for v in victims)
        return re_place(inst, victims, res, by_id, changes, gain, groups), changes
    finally:
        for lid, fs in changes.items():
            if fs is not None:
                res.apply(by_id[lid], fs, sign=+1)
        for v in victims:
            res.apply(by_id[v], fits[v])


def polish(inst: Instance, fits: Fits, res: Residual, *, time_limit_s: float = 5.0,
           rounds: int = 3, max_tries: int | None = None, stop: threading.Event | None = None,
           on_time_out: Callable[[], None] | None = None, halls: bool = True) -> tuple[Fits, Residual]:
    """Improve ``fits`` (with ``res`` what they leave) by eviction moves; returns new fits and residual.

    Stops after ``rounds`` passes over the left-out leases, ``time_limit_s`` or
    ``max_tries`` tried moves, whichever comes first, or when ``stop`` is set. Only the
    move count gives the same result on any machine: a deterministic caller gives
    ``max_tries`` and, as ``time_limit_s``, a safety stop, which calls ``on_time_out``
    when it fires. ``halls``: whole halls are tried for spanning leases too big for one
    pod (else single pods only).
    """
    halt = Halt(max_tries if max_tries is not None else sys.maxsize, time_limit_s, stop, on_time_out)
    tries = 0
    by_id = {lo.lease: lo for lo in inst.leases}
    groups = lease_groups(inst.leases)
    windowed = {g: opts for g, opts in groups.items() if len(opts) > 1}
    fits, res = dict(fits), res.copy()
    for _ in range(rounds):
        improved = False
        value = {lid: net_value(inst, by_id[lid], fs) for lid, fs in fits.items()}
        on_pod = _on_pod(fits)
        out = sorted((lo for lo in inst.leases if lo.lease not in fits and not lo.internal),
                     key=lambda lo: -lo.revenue_usd)
        for lo in out:
            if halt.now(tries):
                return fits, res
            if lo.lease in fits or (lo.group in windowed and any(o.lease in fits for o in windowed[lo.group])):
                continue  # placed, or placed at another of its starts
            best: tuple[float, Changes] | None = None
            for pods in _targets(inst, lo, res, halls=halls):
                tries += 1
                got = _try(inst, lo, pods, fits, res, value, on_pod, by_id, windowed)
                if got is not None and got[0] > 1e-6 and (best is None or got[0] > best[0]):
                    best = got
            if best is not None:
                _, changes = best
                for lid, fs in changes.items():  # update the residual, plan, values and pod index in place
                    if lid in fits:
                        res.apply(by_id[lid], fits[lid], sign=+1)
                    if fs is not None:
                        res.apply(by_id[lid], fs)
                    for f in fits.pop(lid, []):
                        for p, _ in f.parts:
                            on_pod[p].discard(lid)
                    value.pop(lid, None)
                    if fs is not None:
                        fits[lid] = fs
                        value[lid] = net_value(inst, by_id[lid], fs)
                        for f in fs:
                            for p, _ in f.parts:
                                on_pod[p].add(lid)
                improved = True
        if not improved:
            break
    return fits, res
