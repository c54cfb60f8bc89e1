"""Fit one lease into what is left: the residual capacities of pods, halls, sites and spans.

The greedy baseline places leases one by one with :meth:`Residual.fit`; the reason
finder calls it again with one constraint family relaxed at a time to learn which
family keeps a lease out.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from planner.optimise.families import CAPACITIES
from planner.optimise.instance import Instance, LeaseOptions, PathOption

__all__ = ["Guide", "ReplicaFit", "Residual", "fits_from_placements"]


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

    def copy(self) -> Residual:
        """An independent copy."""
        new = Residual.__new__(Residual)
        new.inst, new.guide = self.inst, self.guide
        for c in CAPACITIES:
            setattr(new, c.ledger, getattr(self, c.ledger).copy())
        new.gpu_worst, new.power_worst = self.gpu_worst.copy(), self.power_worst.copy()
        return new

    # ------------------------------------------------------------------ loads
    def apply(self, lo: LeaseOptions, fits: list[ReplicaFit], sign: int = -1) -> None:
        """Take (``sign=-1``) or give back (``sign=+1``) the capacity ``fits`` use."""
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
        sites = lo.sku_sites if "residency" in relax else lo.placement_sites
        if lo.needs_path and "latency" not in relax:
            sites = [s for s in sites if lo.paths.get(s)]
        return list(sites)

    def route(self, lo: LeaseOptions, site: int, relax: Collection[str] = ()) -> PathOption | Literal[False] | None:
        """The fastest route with room for the replica's egress; ``None`` if none needed, ``False`` if none fits."""
        if not lo.needs_path:
            return None
        cands = lo.all_paths.get(site, []) if "latency" in relax else lo.paths.get(site, [])
        if self.guide is not None and cands:
            w = self.guide.path.get(lo.lease, {})
            cands = sorted(cands, key=lambda p: -w.get(p.path_id, 0.0))  # stable: fastest among equals
        if lo.egress_mbps > 0 and "dci" not in relax:
            t = slice(lo.t0, lo.t1 + 1)
            return next((p for p in cands if self.link[p.span_idx, t].min() >= lo.egress_mbps), False)
        return cands[0] if cands else False

    def fit_replica(self, lo: LeaseOptions, site: int, relax: Collection[str] = ()) -> ReplicaFit | None:
        """Fit one replica at ``site``, or ``None``.

        Whole in one pod if one has room (no inter-pod traffic); else, for span=hall, split
        over the pods of the tightest hall that can hold it, and for span=site over the
        roomiest pods, within what each hall's aggregation layer has left.
        """
        t = slice(lo.t0, lo.t1 + 1)
        path = self.route(lo, site, relax)
        if path is False:
            return None
        pods = np.array(lo.pods.get(site, []), dtype=np.int64)
        if pods.size == 0:
            return None
        need_w = lo.gpus * self.inst.pod_w_per_gpu[pods[0]]
        if "power" not in relax and self._power_left(lo, site, t) < need_w:
            return None
        big = np.iinfo(np.int64).max // 4
        ignore_gpus = "gpus" in relax and lo.span == "pod"  # a replica that may split uses the real room first
        free = np.full(pods.size, big) if ignore_gpus else self.gpus_left(lo, pods, t)
        room = np.full(pods.size, big) if "uplink" in relax else self.uplink[pods, t].min(axis=1)
        whole = (free >= lo.gpus) & (room >= self.inst.uplink_kbps(lo, lo.gpus, split=False))
        if whole.any():
            if self.guide is not None and lo.lease in self.guide.pod:
                w = self.guide.pod[lo.lease]
                score = np.array([w.get(int(p), 0.0) for p in pods[whole]])
                best = pods[whole][np.lexsort((free[whole], -score))[0]]  # preferred, then best fit
            elif ignore_gpus:  # GPUs ignored: the pod that lacks fewest, so what it lacks is least
                best = pods[whole][np.argmax(self.gpu[pods[whole], t].min(axis=1))]
            else:
                risk = self.preempt_weeks(lo, pods[whole])
                best = pods[whole][np.lexsort((free[whole], risk))[0]]  # spot: least exposed first; then best fit
            return ReplicaFit(site, ((int(best), lo.gpus),), path)
        if lo.span == "pod":
            return None
        per_gpu = self.inst.uplink_kbps(lo, 1, split=True)
        up_cap = room // per_gpu if per_gpu > 0 else np.full(pods.size, big)
        cap = np.minimum(np.clip(free, 0, None), up_cap)
        hall = self.inst.pod_hall[pods]
        agg_gpus = self._agg_gpus(hall, t, relax)
        if lo.span == "hall":
            real = self._agg_gpus(hall, t, ()) if "aggregation" in relax else agg_gpus
            got = self._pick_hall(lo, pods, hall, up_cap if "gpus" in relax else cap, agg_gpus, real)
            if got is None:
                return None
            keep = hall == got
            cap = np.where(keep, cap, 0)
            up_cap = np.where(keep, up_cap, -1)
        parts: dict[int, int] = {}
        hall_left = dict(agg_gpus)
        left = lo.gpus
        for k in np.lexsort((-cap, self.preempt_weeks(lo, pods))):  # spot: least exposed first; then roomiest
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

    def preempt_weeks(self, lo: LeaseOptions, pods: np.ndarray) -> np.ndarray:
        """Per pod, the expected weeks of ``lo``'s term internal work takes it back (0 unless ``lo`` is spot)."""
        if not lo.spot or self.inst.pod_preempt.size == 0:
            return np.zeros(len(pods))
        return self.inst.pod_preempt[pods, lo.t0 : lo.t1 + 1].sum(axis=1)

    def gpus_left(self, lo: LeaseOptions, pods: np.ndarray | list[int], t: slice) -> np.ndarray:
        """Per pod, the fewest GPUs ``lo`` finds free through ``t``: the base case, and the worst case unless spot."""
        free = self.gpu[pods, t].min(axis=1)
        return free if lo.spot else np.minimum(free, self.gpu_worst[pods, t].min(axis=1))

    def _power_left(self, lo: LeaseOptions, site: int, t: slice) -> int:
        """The least power left at ``site`` through ``t`` for ``lo`` (the worst case too, unless spot)."""
        left = int(self.power[site, t].min())
        return left if lo.spot else min(left, int(self.power_worst[site, t].min()))

    def _agg_gpus(self, hall: np.ndarray, t: slice, relax: Collection[str]) -> dict[int, int]:
        """GPUs of a split replica each of these halls' aggregation layers has room for through ``t``."""
        per_gpu = self.inst.interpod_kbps_per_gpu
        big = np.iinfo(np.int64).max // 4
        out = {}
        for h in np.unique(hall).tolist():
            left = int(self.agg[h, t].min())
            out[int(h)] = big if "aggregation" in relax or per_gpu <= 0 else max(left // per_gpu, 0)
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

    def site_cost(self, lo: LeaseOptions, site: int) -> float:
        """Power and transport cost of one replica at ``site`` (for ordering sites)."""
        pods = lo.pods.get(site)
        if not pods:
            return np.inf
        cost = self.inst.power_cost_usd(lo, pods[0], lo.gpus)
        paths = lo.paths.get(site) or lo.all_paths.get(site) or []
        return cost + (self.inst.transport_cost_usd(lo, paths[0]) if paths else 0.0)

    def fit(self, lo: LeaseOptions, relax: Collection[str] = ()) -> list[ReplicaFit] | None:
        """Fit every replica of a lease (all or none); the residual is left unchanged."""
        w = self.guide.site.get(lo.lease, {}) if self.guide is not None else {}
        sites = sorted(self.candidate_sites(lo, relax), key=lambda s: (-w.get(s, 0.0), self.site_cost(lo, s), s))
        fits: list[ReplicaFit] = []
        try:
            for _ in range(lo.replicas):
                used = {f.site for f in fits}
                got = None
                for s in sites:
                    if lo.anti_affinity and "anti_affinity" not in relax and s in used:
                        continue
                    got = self.fit_replica(lo, s, relax)
                    if got is not None:
                        break
                if got is None:
                    return None
                fits.append(got)
                if lo.replicas > 1:  # later replicas see this one's load, taken back below
                    self.apply(lo, [got])
            return fits
        finally:
            if lo.replicas > 1:
                self.apply(lo, fits, sign=+1)


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
