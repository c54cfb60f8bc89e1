"""Fit one lease into what is left: the residual capacities of pods, halls, sites and spans.

The greedy baseline places leases one by one with :meth:`Residual.fit`; the reason
finder calls it again with one constraint family relaxed at a time to learn which
family keeps a lease out.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from typing import Literal

import numpy as np
import pandas as pd

from planner.optimise.families import CAPACITIES
from planner.optimise.instance import Instance, LeaseOptions, PathOption
from planner.optimise.rangemin import SparseTable

__all__ = ["BIG", "LEDGER_ORDER", "N_POD_LEDGERS", "POD_LEDGERS", "Guide", "Load", "RangeMin", "ReplicaFit",
           "Residual", "Rooms", "Term", "fits_from_placements"]


@dataclass(frozen=True)
class ReplicaFit:
    """Where one replica goes: a site, its pods with GPUs each, and its route."""

    site: int
    parts: tuple[tuple[int, int], ...]  # (pod, gpus)
    path: PathOption | None


@dataclass
class Guide:
    """Preferences (e.g. from an LP relaxation) for where each lease's replicas should go.

    Weights are keyed by lease id, then by site position, path id or pod position;
    higher means preferred. Sites and paths without a weight come after those with one.
    """

    site: dict[str, dict[int, float]]
    path: dict[str, dict[str, float]]
    pod: dict[str, dict[int, float]]


class Residual:
    """What is left of every capacity, week by week, as plans take their share.

    One array (things x weeks) per :data:`~planner.optimise.families.CAPACITIES` row,
    named by its ``ledger``: ``gpu`` (GPUs per pod), ``uplink`` (kbps per pod),
    ``power`` (W per site), ``link`` (Mbps per DCI span), ``agg`` (kbps per hall); and two for
    the worst case of internal demand, which committed leases and internal work must fit and
    spot leases do not load (internal work pre-empts them): ``gpu_worst`` and ``power_worst``.
    """

    gpu: np.ndarray
    uplink: np.ndarray
    power: np.ndarray
    link: np.ndarray
    agg: np.ndarray

    def __init__(self, inst: Instance, guide: Guide | None = None) -> None:
        self.inst = inst
        self.guide = guide
        self._terms: dict[tuple[int, int, int], Term] | None = None
        self._fits: dict[tuple[int, frozenset[str]], tuple[LeaseOptions, list[ReplicaFit] | None]] = {}
        self._table: RangeMin | None = None
        for c in CAPACITIES:
            setattr(self, c.ledger, c.weekly(inst))
        worst = inst.pod_free_worst.size > 0
        self.gpu_worst = inst.pod_free_worst.copy() if worst else self.gpu.copy()
        self.power_worst = inst.site_power_w_worst.copy() if worst else self.power.copy()

    @classmethod
    def after(cls, inst: Instance, fits: Mapping[str, list[ReplicaFit]]) -> Residual:
        """What is left of every capacity once each lease in ``fits`` holds its share."""
        res = cls(inst)
        for lo in inst.leases:
            if lo.lease in fits:
                res.apply(lo, fits[lo.lease])
        return res

    def copy(self, ledgers: Collection[str] | None = None) -> Residual:
        """An independent copy; with ``ledgers``, only those arrays are copied and the others shared.

        A copy that shares arrays may be fitted against and changed only in ``ledgers``
        (e.g. capacity added to check a fix), never applied to.
        """
        new = Residual.__new__(Residual)
        new.inst, new.guide, new._terms, new._fits, new._table = self.inst, self.guide, None, {}, None
        for name in (*(c.ledger for c in CAPACITIES), "gpu_worst", "power_worst"):
            arr = getattr(self, name)
            setattr(new, name, arr.copy() if ledgers is None or name in ledgers else arr)
        return new

    # ------------------------------------------------------------------ loads
    def apply(self, lo: LeaseOptions, fits: list[ReplicaFit], sign: int = -1) -> None:
        """Take (``sign=-1``) or give back (``sign=+1``) the capacity ``fits`` use."""
        if self._terms:
            self._terms.clear()
        self._fits.clear()
        self._table = None
        t = slice(lo.t0, lo.t1 + 1)
        for f in fits:
            split = len(f.parts) > 1
            for pod, g in f.parts:
                self.gpu[pod, t] += sign * g
                if not lo.spot:
                    self.gpu_worst[pod, t] += sign * g
                    self.power_worst[f.site, t] += sign * g * self.inst.pod_w_per_gpu[pod]
                self.uplink[pod, t] += sign * self.inst.uplink_kbps(lo, g, split=split)
                self.power[f.site, t] += sign * g * self.inst.pod_w_per_gpu[pod]
                if split:
                    self.agg[self.inst.pod_hall[pod], t] += sign * self.inst.agg_kbps(g, split=split)
            if f.path is not None and lo.egress_mbps > 0:
                self.link[f.path.span_idx, t] += sign * lo.egress_mbps

    def holds(self, lo: LeaseOptions, fits: list[ReplicaFit]) -> bool:
        """Whether ``fits`` (given pods, GPUs and routes) still fit what is left."""
        trial = self.copy()
        trial.apply(lo, fits)
        t = slice(lo.t0, lo.t1 + 1)
        used = {"pod": [p for f in fits for p, _ in f.parts],
                "span": [int(e) for f in fits if f.path is not None for e in f.path.span_idx],
                "site": [f.site for f in fits],
                "hall": [int(self.inst.pod_hall[p]) for f in fits for p, _ in f.parts]}
        worst_ok = lo.spot or (bool((trial.gpu_worst[used["pod"], t] >= 0).all())
                               and bool((trial.power_worst[used["site"], t] >= 0).all()))
        return worst_ok and all(bool((getattr(trial, c.ledger)[used[c.per], t] >= 0).all()) for c in CAPACITIES)

    # ------------------------------------------------------------------ fitting
    def candidate_sites(self, lo: LeaseOptions, relax: Collection[str] = ()) -> list[int]:
        """Sites a replica may use, before capacity checks."""
        return _candidate_sites(lo, relax)

    def term(self, lo: LeaseOptions) -> Term:
        """What is left through ``lo``'s term, at its lowest, for every capacity ``lo`` may use (see :class:`Term`).

        Inside :meth:`reusing_terms`, one term per lease term and pods, made once.
        """
        if self._terms is None:
            return Term(self, lo)
        key = (lo.t0, lo.t1, id(lo.pods))
        term = self._terms.get(key)
        if term is None or not term.covers(lo):
            term = self._terms[key] = Term(self, lo)
        return term

    @contextmanager
    def reusing_terms(self) -> Iterator[Residual]:
        """A block in which fits reuse their :class:`Term` (one per lease term and pods) instead of making it anew.

        Many fits of one lease (its variants, relaxations and fixes) then read the
        residual once, and a lease (the same object, which must not change meanwhile)
        fitted again with the same relaxations gets the answer it had. Inside the block
        the residual may change only through :meth:`apply` (which drops the terms and the
        answers); a copy does not reuse them.

        Examples
        --------
        >>> from planner import load_scenario
        >>> from planner.optimise.instance import build_instance
        >>> inst = build_instance(load_scenario())
        >>> res, lo = Residual(inst), inst.leases[0]
        >>> with res.reusing_terms():
        ...     res.fit(lo) == res.fit(lo) and res.term(lo) is res.term(lo)
        True
        """
        outer = self._terms
        if outer is None:
            self._terms = {}
        try:
            yield self
        finally:
            if outer is None:
                self._terms = None
                self._fits.clear()

    @contextmanager
    def fixed(self) -> Iterator[Residual]:
        """A block in which the residual does not change: terms read each thing's least room over their weeks
        from a table made once per ledger (:class:`RangeMin`) instead of from every week.

        For many terms of one residual (the reasons of every left-out lease). :meth:`apply`
        drops the table; nothing else may change the residual inside the block.
        """
        self._table = RangeMin(self)
        try:
            yield self
        finally:
            self._table = None

    def route(self, lo: LeaseOptions, site: int, relax: Collection[str] = ()) -> PathOption | Literal[False] | None:
        """The fastest route with room for the replica's egress; ``None`` if none needed, ``False`` if none fits."""
        t = slice(lo.t0, lo.t1 + 1)
        return _route(lo, site, relax, self.guide, lambda p: self.link[p.span_idx, t].min())

    def fit_replica(self, lo: LeaseOptions, site: int, relax: Collection[str] = ()) -> ReplicaFit | None:
        """Fit one replica at ``site``, or ``None`` (see :meth:`Term.fit_replica`)."""
        return self.term(lo).fit_replica(lo, site, relax)

    def preempt_weeks(self, lo: LeaseOptions, pods: np.ndarray) -> np.ndarray:
        """Per pod, the expected weeks of ``lo``'s term internal work takes it back (0 unless ``lo`` is spot)."""
        if not lo.spot or self.inst.pod_preempt.size == 0:
            return np.zeros(len(pods))
        return self.inst.pod_preempt[pods, lo.t0 : lo.t1 + 1].sum(axis=1)

    def gpus_left(self, lo: LeaseOptions, pods: np.ndarray | list[int], t: slice) -> np.ndarray:
        """Per pod, the fewest GPUs ``lo`` finds free through ``t``: the base case, and the worst case unless spot."""
        free = self.gpu[pods, t].min(axis=1)
        return free if lo.spot else np.minimum(free, self.gpu_worst[pods, t].min(axis=1))

    def site_cost(self, lo: LeaseOptions, site: int) -> float:
        """Power and transport cost of one replica at ``site`` (for ordering sites)."""
        return _site_cost(self.inst, lo, site)

    def site_order(self, lo: LeaseOptions, relax: Collection[str] = ()) -> list[int]:
        """The sites a replica of ``lo`` is tried at, in order (see :meth:`Term.site_order`)."""
        return _site_order(self.inst, self.guide, lo, _candidate_sites(lo, relax))

    def fit(self, lo: LeaseOptions, relax: Collection[str] = (), *, order: list[int] | None = None
            ) -> list[ReplicaFit] | None:
        """Fit every replica of a lease (all or none); the residual is left unchanged.

        ``order``: :meth:`site_order`, when known (for a caller that fits one lease many
        times with the same guide); the answer is the same. Inside :meth:`reusing_terms`
        it is not needed (the lease's term keeps its answers) and is not read.
        """
        if self._terms is None:  # one fit: the pods of the sites it may use are enough
            order = order if order is not None else self.site_order(lo, relax)
            return Term(self, lo, order).fit(lo, relax, scratch=True, sites=order)
        key = (id(lo), frozenset(relax))  # the same lease (object) fitted again: the answer it had
        seen = self._fits.get(key)
        if seen is not None and seen[0] is lo:
            return None if seen[1] is None else list(seen[1])
        got = self.term(lo).fit(lo, relax)
        self._fits[key] = (lo, got)
        return None if got is None else list(got)


class RangeMin:
    """The least room of every thing of a residual over any run of weeks, from a sparse table per ledger.

    Made per ledger when first read (:class:`~planner.optimise.rangemin.SparseTable`);
    the residual must not change meanwhile (:meth:`Residual.fixed`).
    """

    def __init__(self, res: Residual) -> None:
        self.res = res
        self.tables: dict[str, SparseTable] = {}

    def mins(self, ledger: str, t0: int, t1: int, rows: np.ndarray | None = None) -> np.ndarray:
        """Per thing (``rows`` of the ledger, or all), its least room in weeks ``t0`` to ``t1`` (inclusive)."""
        table = self.tables.get(ledger)
        if table is None:
            table = self.tables[ledger] = SparseTable(getattr(self.res, ledger))
        return table.mins(t0, t1, rows)


BIG = np.iinfo(np.int64).max // 4
"""Room that never binds (a relaxed family)."""


@dataclass(frozen=True)
class Load:
    """What one placed lease takes from each capacity through its term: per ledger, the things and amounts.

    The amounts are those :meth:`Residual.apply` takes, summed per thing (a thing once per
    ledger), so a term can give a placed lease's room back without the residual being
    changed (:meth:`Term.without`).
    """

    t0: int
    t1: int
    rows: dict[str, dict[int, int]]
    """Ledger name -> thing -> amount; ledgers the lease does not load are absent."""

    @classmethod
    def of(cls, inst: Instance, lo: LeaseOptions, fits: list[ReplicaFit]) -> Load:
        """The load of ``fits`` of ``lo``."""
        acc: dict[str, dict[int, int]] = {}

        def add(ledger: str, thing: int, amount: int) -> None:
            d = acc.setdefault(ledger, {})
            d[thing] = d.get(thing, 0) + int(amount)

        for f in fits:
            split = len(f.parts) > 1
            for pod, g in f.parts:
                w = g * int(inst.pod_w_per_gpu[pod])
                add("gpu", pod, g)
                if not lo.spot:
                    add("gpu_worst", pod, g)
                    add("power_worst", f.site, w)
                add("uplink", pod, inst.uplink_kbps(lo, g, split=split))
                add("power", f.site, w)
                if split:
                    add("agg", int(inst.pod_hall[pod]), inst.agg_kbps(g, split=split))
            if f.path is not None and lo.egress_mbps > 0:
                for e in dict.fromkeys(f.path.span_idx.tolist()):  # a span once per route, as fancy indexing adds
                    add("link", int(e), lo.egress_mbps)
        return cls(lo.t0, lo.t1, acc)

    @cached_property
    def _flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        codes = [LEDGER_ORDER.index(ledger) for ledger, d in self.rows.items() for _ in d]
        things = [x for d in self.rows.values() for x in d]
        amounts = [v for d in self.rows.values() for v in d.values()]
        return (np.array(codes, dtype=np.int64), np.array(things, dtype=np.int64), np.array(amounts, dtype=np.int64))

    def flat(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The rows as arrays: each entry's ledger (position in the ledgers' list), thing and amount."""
        return self._flat


@dataclass(frozen=True)
class Rooms:
    """Per pod of a :class:`Term`, what one replica may use: free GPUs, uplink room, whether it fits whole.

    For a replica that may split over pods, also the GPUs each pod can take of it
    (``cap``, within its uplink: ``up_cap``); ``whole_upto`` and ``cap_upto`` count
    the pods that fit it whole and the GPUs they can take, over the pods before each
    position (so a site's pods ``a:b`` have ``whole_upto[b] - whole_upto[a]``).
    """

    free: np.ndarray
    room: np.ndarray
    whole: np.ndarray
    whole_upto: np.ndarray
    up_cap: np.ndarray | None = None
    cap: np.ndarray | None = None
    cap_upto: np.ndarray | None = None


class Term:
    """What a residual has left through one lease's term, at its lowest, per pod, site, span and hall.

    A first fit reads nothing else: a replica fits a pod if the pod's fewest free GPUs
    through the term are enough, a route if its spans' least room is, and so on. A
    lease's own load is the same in every week of its term, so taking it from these
    minima (:meth:`take`) gives the minima of what is left: the replicas of one lease
    are fitted one after another without touching the residual.

    The pods are ``lo.pods``' (every site's, in their order); sites, spans and halls are
    all of the instance's. A term stays true only while its residual is not changed.

    Parameters
    ----------
    res
        The residual.
    lo
        The lease whose term (``lo.t0`` to ``lo.t1``) and pods it covers; another lease
        with the same term and the same ``pods`` (e.g. a variant of it) may use it too.
    sites
        Only the pods of these sites (a term for one fit at the sites it may use);
        every site's when omitted.
    """

    def __init__(self, res: Residual, lo: LeaseOptions, sites: Collection[int] | None = None) -> None:
        self.inst, self.guide = res.inst, res.guide
        self.t0, self.t1, self.pods = lo.t0, lo.t1, lo.pods
        self.only = None if sites is None else frozenset(sites)
        self.seg: dict[int, tuple[int, int]] = {}
        rows: list[int] = []
        for s, ps in lo.pods.items():
            if self.only is None or s in self.only:
                self.seg[s] = (len(rows), len(rows) + len(ps))
                rows += ps
        self.rows = np.array(rows, dtype=np.int64)
        t = slice(lo.t0, lo.t1 + 1)
        table = res._table
        if table is not None:  # the residual is fixed: two reads of a range-minimum table per thing
            self.gpu = table.mins("gpu", lo.t0, lo.t1, self.rows)
            self.gpu_worst = table.mins("gpu_worst", lo.t0, lo.t1, self.rows)
            self.uplink = table.mins("uplink", lo.t0, lo.t1, self.rows)
            self.power = table.mins("power", lo.t0, lo.t1)
            self.power_worst = table.mins("power_worst", lo.t0, lo.t1)
            self.link = table.mins("link", lo.t0, lo.t1)
            self.agg = table.mins("agg", lo.t0, lo.t1)
        else:
            self.gpu = res.gpu[self.rows, t].min(axis=1)
            self.gpu_worst = res.gpu_worst[self.rows, t].min(axis=1)
            self.uplink = res.uplink[self.rows, t].min(axis=1)
            self.power = res.power[:, t].min(axis=1)
            self.power_worst = res.power_worst[:, t].min(axis=1)
            self.link = res.link[:, t].min(axis=1)
            self.agg = res.agg[:, t].min(axis=1)
        self.hall = self.inst.pod_hall[self.rows]
        self._preempt: np.ndarray | None = None
        self._local: np.ndarray | None = None
        self._site_rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, int]] | None = None

    def copy(self) -> Term:
        """An independent copy (the minima copied, the rest shared)."""
        new = Term.__new__(Term)
        new.__dict__.update(self.__dict__)
        for k in ("gpu", "gpu_worst", "uplink", "power", "power_worst", "link", "agg"):
            setattr(new, k, getattr(self, k).copy())
        return new

    def covers(self, lo: LeaseOptions) -> bool:
        """Whether this term is ``lo``'s: the same weeks and the same pods."""
        return (lo.t0, lo.t1) == (self.t0, self.t1) and lo.pods is self.pods

    def local(self, pod: int) -> int:
        """The position of ``pod`` among the term's pods."""
        return int(self.positions()[pod])

    def positions(self) -> np.ndarray:
        """Per pod of the instance, its position among the term's pods (-1 if not one of them)."""
        if self._local is None:
            self._local = np.full(self.inst.pod_site.size, -1, dtype=np.int64)
            self._local[self.rows] = np.arange(self.rows.size)
        return self._local

    def preempt(self, a: int, b: int, lo: LeaseOptions) -> np.ndarray:
        """Expected weeks internal work takes back each of the pods ``a:b`` in the term (0 unless ``lo`` is spot)."""
        if not lo.spot or self.inst.pod_preempt.size == 0:
            return np.zeros(b - a)
        if self._preempt is None:
            self._preempt = self.inst.pod_preempt[self.rows, self.t0 : self.t1 + 1].sum(axis=1)
        return self._preempt[a:b]

    # ------------------------------------------------------------------ loads
    def take(self, lo: LeaseOptions, fits: list[ReplicaFit], sign: int = -1) -> None:
        """Take (``sign=-1``) or give back (``sign=+1``) what ``fits`` of ``lo`` use, as :meth:`Residual.apply` does."""
        inst = self.inst
        for f in fits:
            split = len(f.parts) > 1
            for pod, g in f.parts:
                k = self.local(pod)
                w = g * inst.pod_w_per_gpu[pod]
                self.gpu[k] += sign * g
                if not lo.spot:
                    self.gpu_worst[k] += sign * g
                    self.power_worst[f.site] += sign * w
                self.uplink[k] += sign * inst.uplink_kbps(lo, g, split=split)
                self.power[f.site] += sign * w
                if split:
                    self.agg[inst.pod_hall[pod]] += sign * inst.agg_kbps(g, split=split)
            if f.path is not None and lo.egress_mbps > 0:
                self.link[f.path.span_idx] += sign * lo.egress_mbps

    # ------------------------------------------------------------------ fitting
    def route(self, lo: LeaseOptions, site: int, relax: Collection[str] = ()) -> PathOption | Literal[False] | None:
        """The fastest route with room for the replica's egress; ``None`` if none needed, ``False`` if none fits."""
        return _route(lo, site, relax, self.guide, lambda p: self.link[p.span_idx].min())

    def gpus_left(self, lo: LeaseOptions, a: int, b: int) -> np.ndarray:
        """Per pod ``a:b``, the fewest GPUs ``lo`` finds free: the base case, and the worst case unless spot."""
        return self.gpu[a:b] if lo.spot else np.minimum(self.gpu[a:b], self.gpu_worst[a:b])

    def rooms(self, lo: LeaseOptions, relax: Collection[str] = ()) -> Rooms:
        """Per pod of the term, the GPUs and uplink room one replica of ``lo`` may use, and whether it fits whole."""
        n = self.rows.size
        ignore_gpus = "gpus" in relax and lo.span == "pod"  # a replica that may split uses the real room first
        free = np.full(n, BIG) if ignore_gpus else self.gpus_left(lo, 0, n)
        room = np.full(n, BIG) if "uplink" in relax else self.uplink
        whole = (free >= lo.gpus) & (room >= self.inst.uplink_kbps(lo, lo.gpus, split=False))
        whole_upto = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(whole, out=whole_upto[1:])
        if lo.span == "pod":
            return Rooms(free, room, whole, whole_upto)
        per_gpu = self.inst.uplink_kbps(lo, 1, split=True)
        up_cap = room // per_gpu if per_gpu > 0 else np.full(n, BIG)
        cap = np.minimum(np.clip(free, 0, None), up_cap)
        cap_upto = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.clip(cap, 0, None), out=cap_upto[1:])
        return Rooms(free, room, whole, whole_upto, up_cap, cap, cap_upto)

    def _rooms_after(self, lo: LeaseOptions, relax: Collection[str], rooms: Rooms, took: ReplicaFit) -> Rooms:
        """:meth:`rooms` once ``took`` was taken (:meth:`take`) from the term ``rooms`` was made of.

        A replica whole in one pod of a span=pod lease changes that pod's entries only;
        anything else is made anew.
        """
        if lo.span != "pod" or len(took.parts) != 1:
            return self.rooms(lo, relax)
        k = self.local(took.parts[0][0])
        if "gpus" not in relax:
            rooms.free[k] = self.gpu[k] if lo.spot else min(self.gpu[k], self.gpu_worst[k])
        if "uplink" not in relax:
            rooms.room[k] = self.uplink[k]
        if rooms.whole[k] and not (rooms.free[k] >= lo.gpus and rooms.room[k] >= self.inst.uplink_kbps(
                lo, lo.gpus, split=False)):
            rooms.whole[k] = False
            rooms.whole_upto[k + 1 :] -= 1
        return rooms

    def fit_replica(self, lo: LeaseOptions, site: int, relax: Collection[str] = (), rooms: Rooms | None = None
                    ) -> ReplicaFit | None:
        """Fit one replica at ``site``, or ``None``.

        Whole in one pod if one has room (no inter-pod traffic); else, for span=hall, split
        over the pods of the tightest hall that can hold it, and for span=site over the
        roomiest pods, within what each hall's aggregation layer has left. ``rooms`` is
        :meth:`rooms` of this term as it stands (made here when omitted).

        Each test is necessary, so the cheapest come first: the answer does not depend on the order.
        """
        assert self.covers(lo), "a term fits only the lease (or a variant of it) it was made for"
        a, b = self.seg.get(site, (0, 0))
        if a == b:
            return None
        r = rooms if rooms is not None else self.rooms(lo, relax)
        any_whole = r.whole_upto[b] > r.whole_upto[a]
        if not any_whole and (lo.span == "pod" or (  # nor can it split: no hall, nor the site, has room for it
                "gpus" not in relax and r.cap_upto is not None and r.cap_upto[b] - r.cap_upto[a] < lo.gpus)):
            return None
        inst = self.inst
        pods = self.rows[a:b]
        if "power" not in relax:
            left = int(self.power[site]) if lo.spot else min(int(self.power[site]), int(self.power_worst[site]))
            if left < lo.gpus * inst.pod_w_per_gpu[pods[0]]:
                return None
        path = self.route(lo, site, relax)
        if path is False:
            return None
        free, whole = r.free[a:b], r.whole[a:b]
        if any_whole:
            if self.guide is not None and lo.lease in self.guide.pod:
                w = self.guide.pod[lo.lease]
                score = np.array([w.get(int(p), 0.0) for p in pods[whole]])
                best = pods[whole][np.lexsort((free[whole], -score))[0]]  # preferred, then best fit
            elif "gpus" in relax and lo.span == "pod":  # GPUs ignored: the pod that lacks fewest, so it lacks least
                best = pods[whole][np.argmax(self.gpu[a:b][whole])]
            else:
                risk = self.preempt(a, b, lo)[whole]
                best = pods[whole][np.lexsort((free[whole], risk))[0]]  # spot: least exposed first; then best fit
            return ReplicaFit(site, ((int(best), lo.gpus),), path)
        assert r.up_cap is not None and r.cap is not None
        return self._split(lo, site, a, b, relax, r.up_cap[a:b], r.cap[a:b], path)

    def _split(self, lo: LeaseOptions, site: int, a: int, b: int, relax: Collection[str], up_cap: np.ndarray,
               cap: np.ndarray, path: PathOption | None) -> ReplicaFit | None:
        """A replica split over the pods ``a:b`` of ``site`` (span=hall: of one hall), or ``None``."""
        pods = self.rows[a:b]
        hall = self.hall[a:b]
        agg_gpus = self._agg_gpus(hall, relax)
        if lo.span == "hall":
            real = self._agg_gpus(hall, ()) if "aggregation" in relax else agg_gpus
            got = self._pick_hall(lo, pods, hall, up_cap if "gpus" in relax else cap, agg_gpus, real)
            if got is None:
                return None
            keep = hall == got
            cap = np.where(keep, cap, 0)
            up_cap = np.where(keep, up_cap, -1)
        parts: dict[int, int] = {}
        hall_left = dict(agg_gpus)
        left = lo.gpus
        for k in np.lexsort((-cap, self.preempt(a, b, lo))):  # spot: least exposed first; then roomiest
            if left == 0 or cap[k] < 1:
                break
            g = int(min(cap[k], left, hall_left[int(hall[k])]))
            if g < 1:
                continue
            parts[int(k)] = g
            hall_left[int(hall[k])] -= g
            left -= g
        if left > 0 and "gpus" in relax:  # GPUs ignored: the rest on the pod whose uplink has room for it
            spare = up_cap - np.array([parts.get(k, 0) for k in range(pods.size)])
            spare = np.minimum(spare, np.array([hall_left[int(h)] for h in hall]))
            k = int(np.argmax(spare))
            if spare[k] >= left:
                parts[k] = parts.get(k, 0) + left
                left = 0
        if left > 0:
            return None
        return ReplicaFit(site, tuple((int(pods[k]), g) for k, g in parts.items()), path)

    def _agg_gpus(self, hall: np.ndarray, relax: Collection[str]) -> dict[int, int]:
        """GPUs of a split replica each of these halls' aggregation layers has room for through the term."""
        per_gpu = self.inst.interpod_kbps_per_gpu
        out = {}
        for h in np.unique(hall).tolist():
            left = int(self.agg[h])
            out[int(h)] = BIG if "aggregation" in relax or per_gpu <= 0 else max(left // per_gpu, 0)
        return out

    def _pick_hall(self, lo: LeaseOptions, pods: np.ndarray, hall: np.ndarray, cap: np.ndarray,
                   agg_gpus: dict[int, int], real_agg_gpus: dict[int, int]) -> int | None:
        """The hall a split span=hall replica goes to: preferred by the guide, then the tightest that holds it.

        With aggregation relaxed (``agg_gpus`` unlimited), the hall whose real aggregation
        layer (``real_agg_gpus``) lacks least comes first: the smallest capacity to add.
        """
        w = self.guide.pod.get(lo.lease, {}) if self.guide is not None else {}
        best: tuple[float, int, int, int] | None = None
        for h in sorted(agg_gpus):
            mine = hall == h
            room = int(np.minimum(cap[mine], lo.gpus).sum())
            if room < lo.gpus or agg_gpus[h] < lo.gpus:
                continue
            lacks = max(lo.gpus - real_agg_gpus[h], 0)
            key = (-sum(w.get(int(p), 0.0) for p in pods[mine]), lacks, room, h)
            if best is None or key < best:
                best = key
        return None if best is None else best[3]

    def fit(self, lo: LeaseOptions, relax: Collection[str] = (), *, scratch: bool = False,
            sites: list[int] | None = None) -> list[ReplicaFit] | None:
        """Fit every replica of a lease (all or none), as :meth:`Residual.fit` does.

        Later replicas see the earlier ones' load; the term is left as it was unless
        ``scratch`` (it is then thrown away). ``sites`` is :meth:`site_order`, when known.
        """
        if lo.replicas > 1 and self.most_replicas(lo, relax, sites) < lo.replicas:  # the first fit cannot beat it
            return None
        fits = self.place(lo, relax, scratch=scratch, sites=sites)
        return fits if len(fits) == lo.replicas else None

    def most_replicas(self, lo: LeaseOptions, relax: Collection[str] = (), sites: Collection[int] | None = None
                      ) -> int:
        """An upper bound on the replicas of ``lo`` that fit this term at once (:meth:`place` never places more).

        Per site a replica may use: the GPUs (and uplink) its pods have for whole
        replicas (span=pod) or for a replica's GPUs (a replica that may split), the site's
        power headroom over one replica's draw, none without a route with room, and at most
        one with anti-affinity; summed over the sites. Each holds because every replica
        placed takes at least that much of what is counted, and a constraint relaxed in
        ``relax`` is not counted.
        """
        order = sites if sites is not None else _candidate_sites(lo, relax)
        g = lo.gpus
        site_ids, a, b, draw_w, at = self._sites()
        if "gpus" in relax:
            most = np.full(site_ids.size, lo.replicas, dtype=np.int64)
        else:
            per_pod = np.maximum(self.gpu if lo.spot else np.minimum(self.gpu, self.gpu_worst), 0)
            if lo.span == "pod":  # whole replicas: GPUs and the uplink each takes
                per_pod //= g
            kbps = lo.egress_kbps if lo.span == "pod" else lo.egress_kbps_per_gpu
            if "uplink" not in relax and kbps > 0:  # per replica whole, or per GPU of a replica that may split
                per_pod = np.minimum(per_pod, np.maximum(self.uplink, 0) // kbps)
            upto = np.concatenate(([0], np.cumsum(per_pod)))
            most = upto[b] - upto[a]
            if lo.span != "pod":
                most //= g
        if "power" not in relax:
            left = self.power[site_ids] if lo.spot else np.minimum(self.power[site_ids], self.power_worst[site_ids])
            most = np.where(draw_w > 0, np.minimum(most, np.maximum(left, 0) // np.maximum(g * draw_w, 1)), most)
        if lo.anti_affinity and "anti_affinity" not in relax:
            most = np.minimum(most, 1)
        cand = [(s, int(most[at[s]])) for s in order if s in at]
        if sum(m for _, m in cand) < lo.replicas:
            return sum(m for _, m in cand)
        total = 0
        for s, m in cand:  # then only sites with a route with room count
            if m > 0 and self.route(lo, s, relax) is not False:
                total += m
                if total >= lo.replicas:
                    break
        return total

    def _sites(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict[int, int]]:
        """The term's sites, where their pods start and end among its pods, their least draw per GPU (W), and
        each site with pods by its position among them."""
        if self._site_rows is None:
            ids = np.fromiter(self.seg, dtype=np.int64, count=len(self.seg))
            a = np.array([self.seg[s][0] for s in self.seg], dtype=np.int64)
            b = np.array([self.seg[s][1] for s in self.seg], dtype=np.int64)
            w = np.array([int(self.inst.pod_w_per_gpu[self.rows[x:y]].min()) if y > x else 0
                          for x, y in zip(a.tolist(), b.tolist(), strict=True)], dtype=np.int64)
            at = {s: k for k, s in enumerate(self.seg) if self.seg[s][1] > self.seg[s][0]}
            self._site_rows = (ids, a, b, w, at)
        return self._site_rows


    def site_order(self, lo: LeaseOptions, relax: Collection[str] = ()) -> list[int]:
        """The sites a replica of ``lo`` is tried at, in order: preferred by the guide, then cheapest, then first."""
        return _site_order(self.inst, self.guide, lo, _candidate_sites(lo, relax))

    def place(self, lo: LeaseOptions, relax: Collection[str] = (), *, scratch: bool = False,
              sites: list[int] | None = None) -> list[ReplicaFit]:
        """The replicas of ``lo`` the first fit places, one after another, up to the first that does not fit.

        A replica's place depends only on the ones before it, so the first ``n`` of these
        are what a fit of the lease with ``n`` replicas finds: it fits with ``n`` replicas
        exactly when ``n`` is at most how many come back. ``sites`` is :meth:`site_order`
        (for a caller that fits one lease many times).
        """
        order = sites if sites is not None else self.site_order(lo, relax)
        assert self.only is None or self.only.issuperset(order), "a term of some sites fits only at those"
        work = self if scratch or lo.replicas == 1 else self.copy()
        fits: list[ReplicaFit] = []
        rooms = work.rooms(lo, relax)
        one = lo.anti_affinity and "anti_affinity" not in relax
        while len(fits) < lo.replicas:
            used = {f.site for f in fits}
            if fits:  # what the last replica took: whole in one pod, only that pod's room changes
                rooms = work._rooms_after(lo, relax, rooms, fits[-1])
            got = None
            for s in order:
                if one and s in used:
                    continue
                got = work.fit_replica(lo, s, relax, rooms)
                if got is not None:
                    break
            if got is None:
                break
            if lo.replicas == 1:
                return [got]
            same = 1 if one else work._repeats(lo, relax, rooms, got, lo.replicas - len(fits))
            fits += [got] * same
            work.take(lo, [got] * same)  # later replicas see these ones' load
        return fits

    def _repeats(self, lo: LeaseOptions, relax: Collection[str], rooms: Rooms, got: ReplicaFit, most: int) -> int:
        """How many replicas in a row, up to ``most``, the first fit places just as ``got`` (``got`` itself counted).

        Only for a whole replica of a span=pod lease, which the first fit keeps putting in
        the same pod over the same route while they have room: a site tried before ``got``'s
        had no room and has no more after it, the pod stays the one chosen (its free GPUs
        only fall), and the route the fastest with room while it has room. Otherwise 1.
        """
        if lo.span != "pod" or len(got.parts) != 1 or "gpus" in relax or most <= 1:
            return 1 if most >= 1 else 0
        pod, g = got.parts[0]
        k = self.local(pod)
        n = int(rooms.free[k]) // g
        need = self.inst.uplink_kbps(lo, g, split=False)
        if "uplink" not in relax and need > 0:
            n = min(n, int(rooms.room[k]) // need)
        if "power" not in relax:
            left = int(self.power[got.site]) if lo.spot else min(int(self.power[got.site]),
                                                                 int(self.power_worst[got.site]))
            first = self.rows[self.seg[got.site][0]]  # the check reads the site's first pod's draw
            step, check = g * int(self.inst.pod_w_per_gpu[pod]), g * int(self.inst.pod_w_per_gpu[first])
            n = min(n, (left - check) // step + 1 if step > 0 else n)
        if got.path is not None and lo.egress_mbps > 0 and "dci" not in relax:
            n = min(n, int(self.link[got.path.span_idx].min()) // lo.egress_mbps)
        return max(1, min(n, most))

LEDGER_ORDER = ("gpu", "gpu_worst", "uplink", "power", "power_worst", "link", "agg")
"""The ledgers of a :class:`Residual`, the pod ledgers first."""
POD_LEDGERS = frozenset({"gpu", "gpu_worst", "uplink"})
"""Ledgers kept per pod."""
N_POD_LEDGERS = len(POD_LEDGERS)
assert set(LEDGER_ORDER[:N_POD_LEDGERS]) == POD_LEDGERS, "the pod ledgers come first"


def _route(lo: LeaseOptions, site: int, relax: Collection[str], guide: Guide | None,
           room: Callable[[PathOption], float]) -> PathOption | Literal[False] | None:
    """The fastest of ``lo``'s routes from ``site`` (the guide's first) whose spans' least ``room`` holds its egress.

    ``None`` when the lease needs no route, ``False`` when none has room.
    """
    if not lo.needs_path:
        return None
    cands = lo.all_paths.get(site, []) if "latency" in relax else lo.paths.get(site, [])
    if guide is not None and cands:
        w = guide.path.get(lo.lease, {})
        cands = sorted(cands, key=lambda p: -w.get(p.path_id, 0.0))  # stable: fastest among equals
    if lo.egress_mbps > 0 and "dci" not in relax:
        return next((p for p in cands if room(p) >= lo.egress_mbps), False)
    return cands[0] if cands else False


def _candidate_sites(lo: LeaseOptions, relax: Collection[str]) -> list[int]:
    """Sites a replica of ``lo`` may use, before capacity checks."""
    sites = lo.sku_sites if "residency" in relax else lo.placement_sites
    if lo.needs_path and "latency" not in relax:
        sites = [s for s in sites if lo.paths.get(s)]
    return list(sites)


def _site_order(inst: Instance, guide: Guide | None, lo: LeaseOptions, sites: list[int]) -> list[int]:
    """``sites`` in the order a replica of ``lo`` tries them: preferred by the guide, then cheapest, then first."""
    w = guide.site.get(lo.lease, {}) if guide is not None else {}
    return sorted(sites, key=lambda s: (-w.get(s, 0.0), _site_cost(inst, lo, s), s))


def _site_cost(inst: Instance, lo: LeaseOptions, site: int) -> float:
    """Power and transport cost of one replica of ``lo`` at ``site`` (for ordering sites)."""
    pods = lo.pods.get(site)
    if not pods:
        return np.inf
    cost = inst.power_cost_usd(lo, pods[0], lo.gpus)
    paths = lo.paths.get(site) or lo.all_paths.get(site) or []
    return cost + (inst.transport_cost_usd(lo, paths[0]) if paths else 0.0)


def fits_from_placements(inst: Instance, placements: pd.DataFrame) -> dict[str, list[ReplicaFit] | None]:
    """Each placed lease's replica fits, rebuilt from a plan's placement rows.

    ``None`` for a lease whose site or pods are not in ``inst`` (gone since the plan
    was made). A lease with a start window comes back as the option of its plan's start
    (keyed by its option id), and not at all when that start is no longer one of its options.
    A replica's route is matched by its spans (path ids are ranks, which shift when spans
    go); a route no longer among the candidates comes back as ``None``.
    """
    pod_pos = {p: i for i, p in enumerate(inst.pod_ids)}
    site_pos = {s: i for i, s in enumerate(inst.site_ids)}
    by_id = {lo.lease: lo for lo in inst.leases}

    Rows = list[tuple[str, str, int, tuple[str, ...]]]  # site, pod, GPUs, spans

    def replicas(lo: LeaseOptions, reps: dict[int, Rows]) -> list[ReplicaFit] | None:
        fits = []
        for rows in reps.values():
            site = rows[0][0]
            if site not in site_pos or any(pod not in pod_pos for _, pod, _, _ in rows):
                return None
            s = site_pos[site]
            spans = tuple(rows[0][3])
            path = next((p for p in lo.all_paths.get(s, []) if p.spans == spans), None)
            fits.append(ReplicaFit(s, tuple((pod_pos[pod], int(g)) for _, pod, g, _ in rows), path))
        return fits

    by_start = {(lo.group, lo.t0 + 1): lo for lo in inst.leases if lo.starts}
    grouped: dict[str, tuple[int, dict[int, Rows]]] = {}
    cols = (placements[c].tolist() for c in ("lease", "replica", "site", "pod", "gpus", "spans", "start_week"))
    for lid, r, site, pod, g, spans, start in zip(*cols, strict=True):
        entry = grouped.setdefault(str(lid), (int(start), {}))
        entry[1].setdefault(int(r), []).append((str(site), str(pod), int(g), tuple(spans)))
    out: dict[str, list[ReplicaFit] | None] = {}
    for lid, (start, reps) in grouped.items():
        lo = by_start.get((lid, start)) or by_id.get(lid)
        if lo is not None:
            out[lo.lease] = replicas(lo, dict(sorted(reps.items())))
    return out
