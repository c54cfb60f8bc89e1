"""Large-neighbourhood search over pod groups: re-pack a few pods at a time with CP-SAT.

The hard part of placement is packing: which leases share which pods, week by week,
as internal waves come and go. A *neighbourhood* is a handful of pods of one site
and SKU. Every lease lying wholly on them is freed, along with left-out leases
that could fit there; everything else stays as the incumbent has it. What the rest
leaves of every capacity becomes a small :class:`~planner.optimise.instance.Instance` (same
pods, sites and spans, residual capacities, only the freed leases), which the
ordinary pod-level model solves exactly or nearly so in a second or two. A better
packing replaces the incumbent's.

Leases too big for one pod are split over many; only a neighbourhood spanning
every pod of their site and SKU can move them (for a big group, together with the
pod-sized leases of one chunk of it). Which kind of neighbourhood to try next --
whole groups, chunks, one SKU across sites, room for a left-out lease -- follows
what has paid most per second of sub-solve lately.

Because the sub-instance is cut out of the residual, a merged plan keeps every
limit; because the incumbent's packing is a solution of the sub-model (and is
given as its hint), a step never makes the plan worse.

Neighbourhoods go in batches cut out of the same incumbent, on disjoint pods, so that
their sub-solves (:mod:`planner.optimise.search.tasks`) can run at once on a Dask
cluster. Their plans are merged in the batch's order; the capacities they share (a
site's power, DCI spans, a hall's aggregation) are checked again at each merge, and a
plan that no longer fits what its batch-mates took is dropped.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from planner.optimise.families import CAPACITIES
from planner.optimise.heuristics.polish import net_value
from planner.optimise.instance import Instance, LeaseOptions, pod_groups
from planner.optimise.residual import Guide, ReplicaFit, Residual
from planner.optimise.search import BATCH
from planner.optimise.search.tasks import Mapper, SubResult, SubTask, solve_sub, thread_map

__all__ = ["BATCH", "LnsStats", "Neighbourhood", "pool_lns"]

Fits = dict[str, list[ReplicaFit]]

MAX_PODS = 16
"""Pods per neighbourhood (a pod group with more is searched a random subset at a time).

Smaller neighbourhoods are quicker to re-pack, and a budget buys more of them.
Deterministic 60 s, 2 workers, generated tiers, 24 -> 16 pods (10 above
:data:`MANY_PODS`): medium seed 1 $5,019.5 M -> $5,040.0 M, seed 2 $5,644.1 M -> $5,679.7 M,
seed 3 $5,291.6 M -> $5,285.7 M; large seed 2 $16,194.3 M -> $16,263.4 M. At 36 pods
medium seed 2 gave $5,668.7 M. Every tier and seed: ``BENCHMARKS.md``, "Neighbourhoods of 16 pods".
"""
WHOLE_PODS = 24
"""At most this many pods, one neighbourhood holds them all (:func:`sub_limit`)."""
MAX_CANDIDATES = 100
"""Left-out leases offered to a neighbourhood, best paying per GPU-week first."""
MANY_PODS = 400
"""Above this many pods, neighbourhoods are two-thirds the size (more, quicker sub-solves pay better there)."""


def _limits(inst: Instance) -> tuple[int, int]:
    """Pods and left-out leases per neighbourhood."""
    n = len(inst.pod_ids)
    if n <= WHOLE_PODS:
        return WHOLE_PODS, MAX_CANDIDATES
    if n > MANY_PODS:
        return MAX_PODS * 2 // 3, MAX_CANDIDATES * 3 // 5
    return MAX_PODS, MAX_CANDIDATES


KINDS = ("spanning", "pods", "sku", "room")
"""Kinds of neighbourhood, in the order they are first tried."""
SUB_TIME_S = 0.5
"""Time limit of one sub-solve (deterministic or wall seconds, as the search's budget).

Most sub-solves run to it, so it sets how many neighbourhoods a budget buys: more,
shorter ones pay better. Deterministic 60 s, seed 2 of the generated tiers (seed 1 at
hyperscale), 2.0 -> 0.5: medium 19 -> 55 neighbourhoods, $5,570.1 M -> $5,593.8 M; large
$16,059.2 M -> $16,133.1 M; hyperscale $67,749.4 M -> $67,952.1 M. At 0.25 the medium plan
rose again ($5,607.7 M) but the run's wall time by a quarter (each sub-model is built
in Python, which the budget does not count).
"""
WHOLE_SUB_TIME_S = 2.0
"""Time limit of one sub-solve when one neighbourhood can hold every pod (:func:`sub_limit`).

There the search is the whole problem in a few sub-solves, which pay when solved to the
end: on the generated small tier (20 pods, deterministic 20 s) sub-solves of 2 s reach the
pod-level model's proven optimum ($616.5 M), of 0.5 s stop at $614.7 M.
"""

SUB_WORKERS = 1
"""CP-SAT workers of one sub-solve: one, with the search's workers solving a batch side by side.

Per deterministic second, one worker's own search on each of two sub-solves pays better
than two interleaved workers on one: deterministic 60 s, 2 workers, generated tiers --
medium seed 2: 55 -> 115 neighbourhoods, $5,593.8 M -> $5,644.1 M (CP-SAT's interleaved
portfolio on one thread: $5,614.6 M); medium seed 1 $5,008.6 M -> $5,019.5 M; large
seed 2 $16,133.1 M -> $16,194.3 M; hyperscale seed 1 $67,952.1 M -> $68,590.6 M. A
sub-solve's result does not depend on where or beside what it runs: one worker's search
stops on its own counted work.
"""


def sub_limit(inst: Instance) -> float:
    """The default limit of one sub-solve: :data:`SUB_TIME_S`, or :data:`WHOLE_SUB_TIME_S` on few pods.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> sub_limit(build_instance(load_scenario())) == SUB_TIME_S  # the reference: 216 pods
    True
    """
    return WHOLE_SUB_TIME_S if len(inst.pod_ids) <= WHOLE_PODS else SUB_TIME_S


@dataclass(frozen=True)
class Neighbourhood:
    """Pods to re-pack (of one SKU, at one site or more), and why they were chosen."""

    pods: tuple[int, ...]
    label: str
    kind: str = "pods"
    """``"spanning"`` (a whole site and SKU), ``"pods"`` (a chunk of one), ``"sku"`` (one SKU
    across sites) or ``"room"`` (pods that could hold a left-out lease)."""
    repack: tuple[int, ...] | None = None
    """Pods whose pod-sized leases are freed (``None``: all of ``pods``); site-spanning
    leases are freed, and offered, across all of ``pods``."""

    def pod_leases_on(self) -> set[int]:
        """Pods whose span=pod leases are freed and offered."""
        return set(self.pods if self.repack is None else self.repack)


@dataclass
class LnsStats:
    """What the search did: neighbourhoods tried and improved, value gained, time spent."""

    tried: int = 0
    improved: int = 0
    gain_usd: float = 0.0
    wall_s: float = 0.0
    deterministic_s: float = 0.0
    safety_stop: bool = False
    """A deterministic search was cut short by its wall-clock safety stop."""
    batches: int = 0
    """Batches of neighbourhoods solved (see ``batch`` in :func:`pool_lns`)."""
    conflicts: int = 0
    """Better packings dropped because an earlier one of their batch took the shared capacity they counted on."""
    build_s: float = 0.0
    """Wall seconds spent building the sub-models (wherever they ran)."""
    task_s: float = 0.0
    """Wall seconds the sub-solves took, model build included (wherever they ran): the part of
    the search that runs in parallel on a cluster; the rest (choosing and cutting out
    neighbourhoods, merging their plans) runs in the calling process."""


def neighbourhoods(inst: Instance, fits: Fits, res: Residual, rng: np.random.Generator,
                   guide: Guide | None = None) -> list[Neighbourhood]:
    """One round of neighbourhoods, in the order to try them (the last first).

    Two kinds, interleaved: every pod group (site and SKU), and every SKU across sites,
    in random chunks of at most :data:`MAX_PODS` pods; and, for each left-out lease
    (best paying last, so tried first), the pods at any site that could hold it,
    emptiest over its term first. With a ``guide`` (an LP relaxation's pod weights)
    chunks holding more of the revenue the LP places but the plan leaves out come first.
    """
    groups = []
    pools = pod_groups(inst)
    size = _limits(inst)[0]
    by_sku: dict[str, list[int]] = defaultdict(list)
    for (s, sku, _), members in sorted(pools.items()):
        by_sku[sku] += members.tolist()
        groups += _chunks(members.tolist(), f"{inst.site_ids[s]} {sku}", rng, size)
    if len(by_sku) > 1 or len(pools) > 1:  # across sites (and, when it all fits in one, across SKUs)
        for sku, members_of_sku in sorted(by_sku.items()):
            groups += _chunks(members_of_sku, f"{sku} at every site", rng, size, "sku")
        if len(inst.pod_ids) <= size:
            groups.append(Neighbourhood(tuple(range(len(inst.pod_ids))), "every pod", "sku"))
    groups = [groups[i] for i in rng.permutation(len(groups))]
    if guide is not None:
        left_out = [(lo.revenue_usd / lo.replicas, w) for lo in inst.leases
                    if lo.lease not in fits and (w := guide.pod.get(lo.lease))]
        groups.sort(key=lambda nb: -_opportunity(nb, left_out))  # stable: random among equals
    held = _held_groups(inst, fits)
    out_leases = sorted((lo for lo in inst.leases if lo.group not in held and not lo.internal and lo.sites),
                        key=lambda lo: lo.revenue_usd)
    targeted = []
    for lo in out_leases[-len(groups):]:
        t = slice(lo.t0, lo.t1 + 1)
        need = lo.gpus if lo.span == "pod" else 1
        pods = [p for s in lo.sites for p in lo.pods[s] if inst.pod_free[p, t].min() >= need]
        pods.sort(key=lambda p: -int(res.gpu[p, t].min()))
        if pods:
            targeted.append(Neighbourhood(tuple(sorted(pods[:size])), f"room for {lo.lease}", "room"))
    out: list[Neighbourhood] = []
    for k in range(max(len(groups), len(targeted))):
        out += groups[k : k + 1] + targeted[k : k + 1]
    return out[::-1] + _spanning(inst, rng, size)


def _spanning(inst: Instance, rng: np.random.Generator, size: int) -> list[Neighbourhood]:
    """Every pod of a site and SKU (and of a hall), in random order, for the leases split over many pods.

    A site- or hall-spanning lease rarely lies wholly on a chunk of pods, so only these
    neighbourhoods move it or bring in a left-out one. A group of up to twice ``size``
    pods is re-packed whole; a bigger one frees its spanning leases and the pod-sized
    leases of one random chunk of ``size`` pods at a time. Where span=hall leases may go,
    each hall of the site is a neighbourhood of its own too (when it is not the whole group).
    """
    where: set[tuple[int, str]] = set()
    by_hall: set[tuple[int, str]] = set()
    for lo in inst.leases:
        if lo.span != "pod" and not lo.internal:
            where.update((s, lo.sku) for s in lo.sites)
            if lo.span == "hall":
                by_hall.update((s, lo.sku) for s in lo.sites)
    groups = [(k, "site-spanning leases", v) for k, v in sorted(pod_groups(inst).items())]
    site_size = {k[:2]: len(v) for k, v in pod_groups(inst).items()}
    groups += [(k, f"hall {k[2]}, hall-spanning leases", v) for k, v in sorted(pod_groups(inst, "hall").items())
               if k[:2] in by_hall and len(v) < site_size[k[:2]]]
    out = []
    for (s, sku, _), what, members in groups:
        if (s, sku) not in where:
            continue
        label = f"{inst.site_ids[s]} {sku}, {what}"
        pods = tuple(members.tolist())
        if len(pods) <= 2 * size:
            out.append(Neighbourhood(pods, label, "spanning"))
        else:
            out += [Neighbourhood(pods, label, "spanning", chunk.pods)
                    for chunk in _chunks(list(pods), label, rng, size)]
    return [out[i] for i in rng.permutation(len(out))]


def _opportunity(nb: Neighbourhood, left_out: list[tuple[float, dict[int, float]]]) -> float:
    """Revenue a guide puts on ``nb``'s pods from left-out leases (revenue per replica, pod weights)."""
    pods = set(nb.pods)
    return sum(rev * sum(v for p, v in w.items() if p in pods) for rev, w in left_out)


def _chunks(pods: list[int], label: str, rng: np.random.Generator, size: int, kind: str = "pods"
            ) -> list[Neighbourhood]:
    """``pods`` in random chunks of at most ``size``."""
    order = [pods[i] for i in rng.permutation(len(pods))]
    n = math.ceil(len(order) / size)
    return [Neighbourhood(tuple(sorted(order[k::n])), label, kind) for k in range(n)]


def _freed(inst: Instance, fits: Fits, res: Residual, nb: Neighbourhood, by_id: dict[str, LeaseOptions],
           placed: dict[str, float] | None = None, offered: set[str] | None = None
           ) -> tuple[list[LeaseOptions], Residual]:
    """Leases wholly on the neighbourhood's pods, plus left-out ones that could fit there; the residual without them.

    Leases of ``offered`` (ids of leases offered elsewhere, a windowed lease's by its
    group) are not offered again.
    """
    pods = {"site": set(nb.pods), "hall": set(nb.pods), "pod": nb.pod_leases_on()}
    freed = [by_id[lid] for lid, fs in fits.items()
             if all(p in pods[by_id[lid].span] for f in fs for p, _ in f.parts)]
    rest = res.copy()
    for lo in freed:
        rest.apply(lo, fits[lo.lease], sign=+1)
    cands = []
    freed_ids = {lo.lease for lo in freed}
    held = _held_groups(inst, {lid: fs for lid, fs in fits.items() if lid not in freed_ids})
    for lo in inst.leases:
        if lo.lease in fits or lo.internal or lo.group in held:  # held: placed at another start, not freed
            continue
        if offered is not None and lo.group in offered:
            continue
        where = _restrict(lo, pods[lo.span])
        if not where:
            continue
        idx = np.array([p for ps in where.values() for p in ps], dtype=np.int64)
        room = rest.gpu[idx, lo.t0 : lo.t1 + 1].min(axis=1)
        if (room.max() if lo.span == "pod" else room.sum()) >= lo.gpus:
            cands.append(lo)
    lean = placed or {}  # leases an LP relaxation carries first, then the best paying per GPU-week
    cands.sort(key=lambda lo: (-round(lean.get(lo.lease, 0.0), 2), -lo.revenue_usd / max(lo.gpus * lo.replicas
                                                                                          * lo.weeks, 1)))
    return freed + cands[: _limits(inst)[1]], rest


def _assemble(inst: Instance, fits: Fits, res: Residual, pick: _Picker, fresh_round: Callable[[], list[Neighbourhood]],
              by_id: dict[str, LeaseOptions], placed: dict[str, float] | None, batch: int
              ) -> tuple[list[tuple[Neighbourhood, list[LeaseOptions], Residual]], int, bool]:
    """Up to ``batch`` neighbourhoods on disjoint pods, each with its freed and offered leases and residual.

    No lease (nor another start of a windowed one) is offered to two of them. A
    neighbourhood overlapping one already taken goes back to its queue, to come first in
    the next batch. Returns the batch, how many neighbourhoods were looked at, and
    whether the queues ran dry (a fresh round gave nothing).
    """
    chosen: list[tuple[Neighbourhood, list[LeaseOptions], Residual]] = []
    used: set[int] = set()
    offered: set[str] = set()
    deferred: list[Neighbourhood] = []
    tried, exhausted = 0, False
    while len(chosen) < batch and len(deferred) < 2 * batch:
        nb = pick.next()
        if nb is None:
            pick.refill(fresh_round())
            nb = pick.next(any_queued=True)
            if nb is None:
                exhausted = True
                break
        if used.intersection(nb.pods):
            deferred.append(nb)
            continue
        tried += 1
        leases, rest = _freed(inst, fits, res, nb, by_id, placed, offered)
        if not leases:
            continue
        used.update(nb.pods)
        offered.update(lo.group for lo in leases)
        chosen.append((nb, leases, rest))
    for nb in reversed(deferred):
        pick.queues.setdefault(nb.kind, []).append(nb)
    return chosen, tried, exhausted


def _merged(res: Residual, old: Fits, new: Fits, by_id: dict[str, LeaseOptions], *, check: bool) -> Residual | None:
    """``res`` with ``old`` given back and ``new`` taken; with ``check``, ``None`` if that overloads a capacity.

    A capacity is overloaded where the swap leaves it below zero and lower than it was
    (a week already short, e.g. by internal demand's worst case, is not the swap's doing).
    """
    out = res.copy()
    for lid, f in old.items():
        out.apply(by_id[lid], f, sign=+1)
    for lid, f in new.items():
        out.apply(by_id[lid], f)
    if check:
        for c in (*(c.ledger for c in CAPACITIES), "gpu_worst", "power_worst"):
            was, now = getattr(res, c), getattr(out, c)
            if ((now < -1e-6) & (now < was - 1e-6)).any():
                return None
    return out


def _held_groups(inst: Instance, fits: Fits) -> set[str]:
    """The leases of the book ``fits`` places (a windowed lease's id, whichever start holds it)."""
    return {lo.group for lo in inst.leases if lo.lease in fits}


def _restrict(lo: LeaseOptions, pods: set[int]) -> dict[int, list[int]]:
    """``lo``'s eligible sites and pods within ``pods``."""
    out = {s: [p for p in lo.pods[s] if p in pods] for s in lo.sites}
    return {s: ps for s, ps in out.items() if ps}


def sub_instance(inst: Instance, leases: list[LeaseOptions], rest: Residual, nb: Neighbourhood) -> Instance:
    """The neighbourhood as an instance of its own: residual capacities, only its pods and ``leases``."""
    free = np.zeros_like(rest.gpu)
    idx = np.array(nb.pods, dtype=np.int64)
    free[idx] = rest.gpu[idx]
    subs = []
    pods = {"site": set(nb.pods), "hall": set(nb.pods), "pod": nb.pod_leases_on()}
    for k, lo in enumerate(leases):
        where = _restrict(lo, pods[lo.span])
        subs.append(dataclasses.replace(lo, pos=k, sites=list(where), pods=where))
    left = {c.field: getattr(rest, c.ledger).copy() for c in CAPACITIES}  # every capacity: what is left of it
    free_worst = np.zeros_like(rest.gpu_worst)
    free_worst[idx] = rest.gpu_worst[idx]
    left |= {"pod_free_worst": free_worst, "site_power_w_worst": rest.power_worst.copy()}  # internal demand's worst
    # GPUs: the neighbourhood's pods; APIs: none (the filler serves them in what the leases leave)
    return dataclasses.replace(inst, **(left | {"pod_free": free}), leases=subs, api=None)


class _Picker:
    """Which kind of neighbourhood to try next: the one gaining most per second of late.

    Each kind keeps a queue (the last of a round first). Kinds not yet tried go first,
    in :data:`KINDS` order; then the kind with the best decayed gain per second of
    sub-solve. When that kind's queue is empty, ``next`` returns ``None``: time for a
    fresh round (:meth:`refill` tops up the empty queues only, so a kind that keeps
    paying is not held back by the others' leftovers).
    """

    DECAY = 0.7

    def __init__(self) -> None:
        self.queues: dict[str, list[Neighbourhood]] = {}
        self.gain: dict[str, float] = {}
        self.cost: dict[str, float] = {}

    def refill(self, fresh: list[Neighbourhood]) -> None:
        """Queue a fresh round's neighbourhoods for the kinds whose queue is empty."""
        by_kind: dict[str, list[Neighbourhood]] = defaultdict(list)
        for nb in fresh:
            by_kind[nb.kind].append(nb)
        for kind in list(self.queues):
            if not self.queues[kind] and kind not in by_kind:
                del self.queues[kind]  # none of this kind left: choose among the others
        for kind, nbs in by_kind.items():
            if not self.queues.get(kind):
                self.queues[kind] = nbs

    def record(self, kind: str, gain: float, cost: float) -> None:
        """Note what one sub-solve of ``kind`` gained (USD) and cost (seconds)."""
        self.gain[kind] = self.DECAY * self.gain.get(kind, 0.0) + gain
        self.cost[kind] = self.DECAY * self.cost.get(kind, 0.0) + max(cost, 1e-3)

    def next(self, *, any_queued: bool = False) -> Neighbourhood | None:
        """The next neighbourhood; with ``any_queued``, the best kind that still has one queued."""
        kinds = [k for k in KINDS if k in self.queues and (self.queues[k] or not any_queued)]
        untried = [k for k in kinds if k not in self.cost and self.queues[k]]
        if untried:
            return self.queues[untried[0]].pop()
        if not kinds:
            return None
        # a kind handed out in this batch but not yet recorded counts as paying nothing so far
        best = max(kinds, key=lambda k: (self.gain.get(k, 0.0) / self.cost.get(k, 1.0), -KINDS.index(k)))
        return self.queues[best].pop() if self.queues[best] else None


def pool_lns(inst: Instance, fits: Fits, res: Residual, *, budget_s: float, seed: int = 0, workers: int = 1,
             sub_time_s: float | None = None, deterministic: bool = True, stop: threading.Event | None = None,
             target_usd: float = float("inf"), idle_rounds: int = 2, guide: Guide | None = None,
             placed: dict[str, float] | None = None, on_improve: Callable[[Fits, float], None] | None = None,
             safety_s: float = float("inf"), parameters: str | Mapping[str, Any] | None = None,
             batch: int = BATCH, map_fn: Mapper | None = None) -> tuple[Fits, Residual, LnsStats]:
    """Improve ``fits`` by re-packing neighbourhoods with CP-SAT until ``budget_s`` is spent.

    Parameters
    ----------
    inst
        The instance.
    fits, res
        The incumbent's replica fits and what they leave of every capacity.
    budget_s
        Search budget: CP-SAT deterministic time when ``deterministic``, else wall seconds.
    seed
        Seed of the neighbourhood order and of CP-SAT.
    workers
        Threads solving a batch's sub-solves side by side in this process (each one
        CP-SAT worker, :data:`SUB_WORKERS`); without ``map_fn`` only. The plan does not
        depend on it.
    sub_time_s
        Limit of one sub-solve (same units as ``budget_s``); default :func:`sub_limit`.
    stop
        Set to end the search after the current sub-solve.
    target_usd, idle_rounds
        Stop once the plan is worth ``target_usd`` (e.g. within the gap limit of a
        bound), or after ``idle_rounds`` rounds' worth of neighbourhoods in a row
        without a gain.
    guide, placed
        An LP relaxation's pod weights and placed shares per lease: neighbourhoods
        where it places revenue the plan lacks go first, and its leases are offered first.
    on_improve
        Called with the new fits and their net value after every improvement.
    safety_s
        ``deterministic`` only: wall seconds after which the search stops anyway, even
        within a sub-solve -- an outer safety stop, noted in :attr:`LnsStats.safety_stop`
        when it fires (the plan then depends on the machine's speed).
    parameters
        The caller's own CP-SAT parameters, applied to every sub-solve
        (see :class:`~planner.optimise.cpsat.CpSatSettings`).
    batch
        Neighbourhoods re-packed at a time, each cut out of the same incumbent (pods
        disjoint, no lease offered to two): the plan depends on ``batch``, never on where
        or in what order the sub-solves run. A result that would overload a capacity the
        batch's earlier results took (a site's power, a DCI span, a hall's aggregation) is
        dropped and counted in :attr:`LnsStats.conflicts`.
    map_fn
        Runs a batch's sub-solves: ``map_fn(solve_sub, tasks)`` (see
        :mod:`planner.optimise.search.tasks`): by default
        :func:`~planner.optimise.search.tasks.thread_map` of ``workers`` threads here,
        :func:`~planner.optimise.search.tasks.dask_map` on a Dask cluster.

    Returns
    -------
    tuple
        The improved fits, their residual, and :class:`LnsStats`.
    """
    t0 = time.perf_counter()
    run = map_fn if map_fn is not None else thread_map(workers)
    wall_cap = safety_s if deterministic else budget_s
    by_id = {lo.lease: lo for lo in inst.leases}
    rng = np.random.default_rng(seed)
    stats = LnsStats()
    fits = dict(fits)
    pick = _Picker()
    value = sum(net_value(inst, by_id[k], f) for k, f in fits.items())
    idle, round_len = 0, 0

    def fresh_round() -> list[Neighbourhood]:
        nonlocal round_len
        fresh = neighbourhoods(inst, fits, res, rng, guide)
        round_len = max(round_len, len(fresh))
        return fresh

    while value < target_usd:
        spent = stats.deterministic_s if deterministic else time.perf_counter() - t0
        left = budget_s - spent
        if left <= 0.05 or (stop is not None and stop.is_set()):
            break
        if time.perf_counter() - t0 >= wall_cap:
            stats.safety_stop = deterministic
            break
        if round_len and idle >= idle_rounds * round_len:
            break
        chosen, tried, exhausted = _assemble(inst, fits, res, pick, fresh_round, by_id, placed, max(1, batch))
        idle += tried
        if not chosen:
            if exhausted:
                break
            continue
        # the batch shares what is left of the budget (CP-SAT checks its limit as it goes, so the last
        # sub-solve may end a little past it: the search's total is then a little over the budget)
        limit = min(sub_limit(inst) if sub_time_s is None else sub_time_s, left / len(chosen))
        deadline = time.time() + max(0.1, wall_cap - (time.perf_counter() - t0))
        tasks = [SubTask(sub_instance(inst, leases, rest, nb),
                         {lo.lease: fits[lo.lease] for lo in leases if lo.lease in fits},
                         SUB_WORKERS, seed + stats.tried + k, parameters, deterministic, limit, deadline)
                 for k, (nb, leases, rest) in enumerate(chosen)]
        results: list[SubResult] = run(solve_sub, tasks)
        stats.batches += 1
        merged_any = False
        for (nb, _, _), task, r in zip(chosen, tasks, results, strict=True):
            stats.tried += 1
            stats.deterministic_s += r.deterministic_s
            stats.build_s += r.build_s
            stats.task_s += r.build_s + r.wall_s
            stats.safety_stop |= r.cut_short
            cost = r.deterministic_s if deterministic else r.wall_s
            if r.fits is None:
                pick.record(nb.kind, 0.0, cost)
                continue
            before = sum(net_value(inst, by_id[k], f) for k, f in task.hint.items())
            after = sum(net_value(inst, by_id[k], f) for k, f in r.fits.items())
            pick.record(nb.kind, max(after - before, 0.0), cost)
            if after <= before + 1.0:
                continue
            new_res = _merged(res, task.hint, r.fits, by_id, check=merged_any)
            if new_res is None:  # an earlier neighbourhood of the batch took the shared capacity it counted on
                stats.conflicts += 1
                continue
            merged_any = True
            idle = 0
            for lid in task.hint:
                fits.pop(lid)
            fits.update(r.fits)
            res = new_res
            value += after - before
            stats.improved += 1
            stats.gain_usd += after - before
            if on_improve is not None:
                on_improve(fits, value)
    stats.wall_s = time.perf_counter() - t0
    return fits, res, stats
