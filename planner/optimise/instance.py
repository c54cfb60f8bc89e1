"""The planning instance: a scenario turned into arrays and per-lease options.

Shared by the greedy baseline, the CP-SAT model and the reason finder, so that all
three see the same eligible sites, pods and SLO-meeting paths. Weeks are 0-based
array positions here (week ``w`` is column ``w - 1``).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import networkx as nx
import numpy as np
import pandas as pd

from planner.network import build_network
from planner.optimise.rangemin import SparseTable
from planner.optimise.units import KBPS, MBPS, UNLIMITED, W_PER_KW
from planner.routing import candidate_paths
from planner.scenario import Scenario

if TYPE_CHECKING:
    from planner.optimise.apis import ApiInstance

__all__ = ["KBPS", "MBPS", "UNLIMITED", "W_PER_KW", "Instance", "LeaseOptions", "PathOption", "build_instance",
           "lease_groups", "option_id", "pod_groups", "start_options", "usable_pods"]



@dataclass(frozen=True)
class PathOption:
    """One candidate route from a site to a lease's region."""

    path_id: str
    label: str
    spans: tuple[str, ...]
    span_idx: np.ndarray
    latency_ms: float
    length_km: float


@dataclass
class LeaseOptions:
    """Where one lease (or internal workload) may go."""

    lease: str
    pos: int
    internal: bool
    gpus: int
    replicas: int
    span: str
    anti_affinity: bool
    egress_gbps: float
    region: str | None
    slo_ms: float | None
    t0: int
    t1: int  # inclusive
    revenue_usd: float
    sku: str
    allowed: tuple[str, ...] = ()
    residency: tuple[str, ...] = ()
    sites: list[int] = field(default_factory=list)  # eligible after SKU / allowed / residency / SLO
    pods: dict[int, list[int]] = field(default_factory=dict)  # site -> pods of the SKU
    paths: dict[int, list[PathOption]] = field(default_factory=dict)  # site -> SLO-meeting paths, fastest first
    all_paths: dict[int, list[PathOption]] = field(default_factory=dict)  # site -> every candidate path
    sku_sites: list[int] = field(default_factory=list)  # sites with pods of the SKU (before allowed/residency)
    placement_sites: list[int] = field(default_factory=list)  # after allowed/residency, before SLO

    egress_mbps: int = 0  # one replica's egress on a DCI span
    egress_kbps: int = 0  # one replica's egress on a pod uplink, whole in one pod
    egress_kbps_per_gpu: int = 0  # a site-spanning replica's egress per GPU on its pods' uplinks
    group: str = ""
    """The lease book's id: ``lease`` itself, or, for one candidate start of a lease with a start
    window, the lease whose options these are (at most one of a group is placed)."""
    starts: tuple[int, ...] = ()
    """A windowed lease's candidate starts (0-based weeks, earliest first); empty for a fixed term."""
    spot: bool = False
    """A spot lease: it may use capacity only the base case of internal demand leaves free, and
    internal work takes it back (pre-empts it) in the weeks an upside reaches its pods."""
    gpu_week_usd: float = 0.0
    """What one GPU of the lease earns in one week (price x hours per week)."""

    def __post_init__(self) -> None:
        if not self.group:
            self.group = self.lease

    @property
    def weeks(self) -> int:
        """Weeks in the term."""
        return self.t1 - self.t0 + 1

    def derive_egress(self) -> None:
        """Set the whole-unit egress fields (Mb/s on spans, kb/s on uplinks) from ``egress_gbps`` and ``gpus``."""
        e = self.egress_gbps
        self.egress_mbps = math.ceil(e * MBPS - 1e-9)
        self.egress_kbps = math.ceil(e * KBPS - 1e-9)
        self.egress_kbps_per_gpu = math.ceil(e * KBPS / self.gpus - 1e-9)

    @property
    def needs_path(self) -> bool:
        """Whether the lease's traffic or SLO needs a route to its region."""
        return self.region is not None


@dataclass
class Instance:
    """Arrays of capacities and the options of every workload."""

    sc: Scenario
    graph: nx.Graph
    paths: pd.DataFrame
    site_ids: list[str]
    pod_ids: list[str]
    span_ids: list[str]
    pod_site: np.ndarray  # pod -> site position
    pod_free: np.ndarray  # pods x weeks: GPUs not reserved
    pod_uplink_kbps: np.ndarray  # per pod (or pods x weeks, in a sub-instance)
    pod_kw_per_gpu: np.ndarray  # facility kW per GPU (server kW x PUE), for costs
    pod_w_per_gpu: np.ndarray  # facility W per GPU, rounded up, for capacity
    site_power_w: np.ndarray  # sites x weeks: available W less internal reservations' draw
    site_price: np.ndarray  # USD per MWh
    span_limit_mbps: np.ndarray  # spans x weeks: usable (capacity x max utilisation)
    interpod_kbps_per_gpu: int
    hours: float
    leases: list[LeaseOptions]
    hall_ids: list[str]
    pod_hall: np.ndarray  # pod -> hall position
    hall_agg_kbps: np.ndarray
    """Per hall (or halls x weeks, in a sub-instance): what its aggregation layer carries, kbps
    (:data:`UNLIMITED` where the scenario models no aggregation layer)."""
    pod_free_worst: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """Pods x weeks: GPUs internal work leaves free if every upside happens; what committed leases
    and internal work fit (``pod_free`` is the base case, which spot leases may use too)."""
    site_power_w_worst: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """Sites x weeks: power left when every upside of internal work happens (committed leases and internal work)."""
    pod_preempt: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    """Pods x weeks: the chance internal work takes back the pod's spot capacity in the week."""
    spot_refund: float = 1.0
    """Share of a pre-empted week's revenue a spot lease refunds (``settings.spot_refund_factor``)."""
    api: ApiInstance | None = None
    """The hosted-model APIs' streams and deployments (:mod:`planner.optimise.apis`); ``None`` without API demand."""
    _term_min: dict[int, SparseTable] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Range-minimum tables of the free-GPU arrays, by the array's ``id``: see :meth:`floor_for`."""

    def uplink_kbps(self, lo: LeaseOptions, gpus: int, *, split: bool) -> int:
        """Uplink load of a part of ``gpus`` GPUs of one replica of ``lo`` on its pod."""
        if lo.span == "pod":
            return lo.egress_kbps
        return (lo.egress_kbps_per_gpu + (self.interpod_kbps_per_gpu if split else 0)) * gpus

    def agg_kbps(self, gpus: int, *, split: bool) -> int:
        """Aggregation load of ``gpus`` GPUs of one replica in one hall (none when the replica is whole in one pod)."""
        return self.interpod_kbps_per_gpu * gpus if split else 0

    def hall_pods(self, lo: LeaseOptions, site: int) -> dict[int, list[int]]:
        """The lease's pods at ``site`` per hall position, in the order of ``lo.pods[site]``."""
        out: dict[int, list[int]] = {}
        for p in lo.pods.get(site, []):
            out.setdefault(int(self.pod_hall[p]), []).append(p)
        return out

    def power_cost_usd(self, lease: LeaseOptions, pod: int, gpus: int) -> float:
        """Cost of the power that ``gpus`` GPUs of ``lease`` draw in ``pod`` over the term."""
        mwh = gpus * self.pod_kw_per_gpu[pod] * self.hours * lease.weeks / 1000.0
        return float(mwh * self.site_price[self.pod_site[pod]])

    def spot_loss_usd(self, lease: LeaseOptions, pod: int, gpus: int) -> float:
        """Expected refund of ``gpus`` GPUs of spot ``lease`` in ``pod`` over its term (0 unless spot).

        Each week internal work may take the pod back, with its chance, the GPUs earn
        nothing and ``spot_refund`` of that week's revenue is refunded.
        """
        if not lease.spot or self.pod_preempt.size == 0:
            return 0.0
        weeks = float(self.pod_preempt[pod, lease.t0 : lease.t1 + 1].sum())
        return self.spot_refund * lease.gpu_week_usd * gpus * weeks

    def free_for(self, lease: LeaseOptions) -> np.ndarray:
        """Pods x weeks free GPUs ``lease`` plans against: the base case for spot, the worst case otherwise."""
        return self.pod_free if lease.spot or self.pod_free_worst.size == 0 else self.pod_free_worst

    def floor_for(self, lease: LeaseOptions, pods: np.ndarray) -> np.ndarray:
        """Per pod of ``pods``, the fewest free GPUs (:meth:`free_for`) in any week of ``lease``'s term.

        Two look-ups in a range-minimum table (built once per array) instead of a scan
        of the term: asked for every lease and usable pod, this is most of a model build.

        Examples
        --------
        >>> from planner import load_scenario
        >>> inst = build_instance(load_scenario())
        >>> lo, pods = inst.leases[0], np.arange(3)
        >>> bool((inst.floor_for(lo, pods) == inst.free_for(lo)[pods, lo.t0 : lo.t1 + 1].min(axis=1)).all())
        True
        """
        free = self.free_for(lease)
        table = self._term_min.get(id(free))
        if table is None or table.array is not free:
            table = self._term_min[id(free)] = SparseTable(free)
        return table.mins(lease.t0, lease.t1, pods)

    def transport_cost_usd(self, lease: LeaseOptions, path: PathOption | None) -> float:
        """Cost of carrying one replica's egress over ``path`` for the term."""
        if path is None or lease.egress_gbps <= 0:
            return 0.0
        rate = self.sc.settings.transport_usd_per_gbps_km_week
        return float(lease.egress_gbps * path.length_km * lease.weeks * rate)


def build_instance(sc: Scenario, *, graph: nx.Graph | None = None, paths: pd.DataFrame | None = None) -> Instance:
    """Turn a scenario into an :class:`Instance` (network, routes, arrays, options)."""
    g = graph if graph is not None else build_network(sc)
    cand = paths if paths is not None else candidate_paths(sc, g)
    site_ids = list(sc.sites.index)
    pod_ids = list(sc.pods.index)
    span_ids = list(sc.spans.index)
    s_pos = {s: i for i, s in enumerate(site_ids)}
    e_pos = {e: i for i, e in enumerate(span_ids)}
    pods = sc.pods
    pod_site = pods["site"].map(s_pos).to_numpy()
    pue = sc.sites["pue"].to_numpy()
    kw = pods["sku"].map(sc.skus["server_kw_per_gpu"]).to_numpy() * pue[pod_site]
    w_per_gpu = np.ceil(kw * W_PER_KW - 1e-9).astype(np.int64)
    reserved = sc.reserved_gpus.to_numpy().astype(np.int64)
    reserved_w = np.zeros((len(site_ids), reserved.shape[1]), dtype=np.int64)
    np.add.at(reserved_w, pod_site, reserved * w_per_gpu[:, None])
    site_w = np.floor(sc.site_power_mw.loc[site_ids].to_numpy() * 1000 * W_PER_KW + 1e-6).astype(np.int64) - reserved_w
    limit = np.floor(sc.spans["capacity_gbps"].to_numpy() * sc.settings.max_link_utilisation * MBPS + 1e-6)
    span_limit = np.repeat(limit.astype(np.int64)[:, None], sc.horizon.periods, axis=1)

    by_site_pop: dict[tuple[int, str], list[PathOption]] = {}
    for pid, r in zip(cand.index, cand.to_dict("records"), strict=True):  # rows as dicts: iterrows is slow
        by_site_pop.setdefault((s_pos[r["site"]], r["pop"]), []).append(PathOption(
            str(pid), r["label"], tuple(r["spans"]), np.array([e_pos[e] for e in r["spans"]], dtype=np.int64),
            float(r["latency_ms"]), float(r["length_km"])))

    site_tags = [set(t) for t in sc.sites["residency"]]
    pods_of: dict[tuple[int, str], list[int]] = {}
    for p, (s_pos_p, sku_p) in enumerate(zip(pod_site.tolist(), pods["sku"].tolist(), strict=True)):
        pods_of.setdefault((s_pos_p, sku_p), []).append(p)
    hall_ids = [str(h) for h in sc.halls.index]
    pod_hall = pods["hall"].astype(str).map({h: i for i, h in enumerate(hall_ids)}).to_numpy().astype(np.int64)
    agg = sc.halls["aggregation_gbps"].to_numpy(dtype=float)
    finite = np.isfinite(agg) & (agg * KBPS < UNLIMITED)
    hall_agg = np.full(len(agg), UNLIMITED, dtype=np.int64)
    hall_agg[finite] = np.floor(agg[finite] * KBPS + 1e-6).astype(np.int64)
    leases: list[LeaseOptions] = []
    book = sc.workloads
    for lid, w in zip(book.index, book.to_dict("records"), strict=True):
        slo = None if pd.isna(w["latency_slo_ms"]) else float(w["latency_slo_ms"])
        region = None if (w["region"] is None or pd.isna(w["region"])) else str(w["region"])
        lo = LeaseOptions(lease=str(lid), pos=len(leases), internal=w["priority"] == "internal", gpus=int(w["gpus"]),
                          replicas=int(w["replicas"]), span=w["span"], anti_affinity=bool(w["anti_affinity"]),
                          egress_gbps=float(w["egress_gbps"]), region=region, slo_ms=slo,
                          t0=int(w["start_week"]) - 1, t1=int(w["end_week"]) - 1,
                          revenue_usd=float(w["revenue_usd"]), sku=str(w["sku"]),
                          allowed=tuple(w["allowed_sites"]), residency=tuple(w["residency"]),
                          spot=w["priority"] == "spot",
                          gpu_week_usd=float(w["price_usd_per_gpu_hour"]) * sc.horizon.hours_per_period)
        lo.derive_egress()
        allowed = set(w["allowed_sites"])
        tags = set(w["residency"])
        for s in range(len(site_ids)):
            ps = pods_of.get((s, lo.sku), [])
            if not ps:
                continue
            lo.sku_sites.append(s)
            lo.pods[s] = ps  # shared by the leases of the SKU: callers narrow a lease's pods by replacing the list
            if region is not None:
                allp = by_site_pop.get((s, region), [])
                lo.all_paths[s] = allp
                lo.paths[s] = [p for p in allp if slo is None or p.latency_ms <= slo + 1e-9]
            if (allowed and site_ids[s] not in allowed) or (tags and not tags <= site_tags[s]):
                continue
            lo.placement_sites.append(s)
            if region is not None and not lo.paths[s]:
                continue
            lo.sites.append(s)
        latest = w.get("latest_start")
        latest_t0 = lo.t0 if latest is None or pd.isna(latest) else int(latest) - 1
        leases += start_options(lo, latest_t0, len(leases))
    worst = sc.worst_free_gpus().to_numpy().astype(np.int64)
    upside_w = np.zeros_like(site_w)
    np.add.at(upside_w, pod_site, (sc.free_gpus().to_numpy().astype(np.int64) - worst) * w_per_gpu[:, None])
    inst = Instance(sc=sc, graph=g, paths=cand, site_ids=site_ids, pod_ids=pod_ids, span_ids=span_ids,
                    pod_site=pod_site,
                    pod_free=sc.free_gpus().to_numpy().astype(np.int64),
                    pod_uplink_kbps=np.floor(pods["uplink_gbps"].to_numpy() * KBPS + 1e-6).astype(np.int64),
                    pod_kw_per_gpu=kw, pod_w_per_gpu=w_per_gpu, site_power_w=site_w,
                    site_price=sc.sites["power_price_usd_per_mwh"].to_numpy(),
                    span_limit_mbps=span_limit,
                    interpod_kbps_per_gpu=round(sc.settings.interpod_gbps_per_gpu * KBPS),
                    hours=sc.horizon.hours_per_period, leases=leases,
                    hall_ids=hall_ids, pod_hall=pod_hall, hall_agg_kbps=hall_agg,
                    pod_free_worst=worst, site_power_w_worst=site_w - upside_w,
                    pod_preempt=sc.preemption_chance().to_numpy(dtype=float),
                    spot_refund=sc.settings.spot_refund_factor)
    from planner.optimise.apis import build_api  # the API module reads the instance's types

    inst.api = build_api(sc, inst, by_site_pop)
    return inst


def option_id(lease: str, start_week: int) -> str:
    """The id of the option of ``lease`` that starts in ``start_week`` (1-based).

    Examples
    --------
    >>> option_id("L-7", 12)
    'L-7@12'
    """
    return f"{lease}@{start_week}"


def start_options(lo: LeaseOptions, latest_t0: int, pos: int) -> list[LeaseOptions]:
    """``lo`` as it stands (a fixed term), or one option per candidate start of its window.

    ``latest_t0`` is the last start (0-based; at or before ``lo.t0`` for a fixed term);
    each option keeps the term's length and the lease's revenue, is named by
    :func:`option_id` and has ``group`` the lease's id; positions count on from ``pos``.
    Internal work keeps its term (the lease book may not give it a window).
    """
    if latest_t0 <= lo.t0 or lo.internal:
        return [lo]
    length = lo.t1 - lo.t0
    starts = tuple(range(lo.t0, latest_t0 + 1))
    return [dataclasses.replace(lo, lease=option_id(lo.lease, t0 + 1), pos=pos + k, t0=t0, t1=t0 + length,
                                group=lo.lease, starts=starts, sites=list(lo.sites), pods=dict(lo.pods),
                                paths=dict(lo.paths), all_paths=dict(lo.all_paths), sku_sites=list(lo.sku_sites),
                                placement_sites=list(lo.placement_sites))
            for k, t0 in enumerate(starts)]


def lease_groups(leases: Iterable[LeaseOptions]) -> dict[str, list[LeaseOptions]]:
    """The options of each lease of the book (one for a fixed term), earliest start first, by its id."""
    out: dict[str, list[LeaseOptions]] = {}
    for lo in leases:
        out.setdefault(lo.group, []).append(lo)
    for opts in out.values():
        opts.sort(key=lambda o: o.t0)
    return out


def usable_pods(inst: Instance, lo: LeaseOptions) -> dict[int, list[int]]:
    """Per eligible site, the pods that could hold ``lo`` with nothing else placed.

    A span=pod replica needs a pod whose free GPUs (after internal reservations) stay
    at or above its size in every week of the term; a span=site replica needs the
    pods with any room, and enough of it in total; a span=hall replica, the pods with
    any room in halls whose pods have enough of it in total. Pods that fail this can
    never take the lease, so the model gives them no variable -- a smaller model with
    a tighter LP relaxation.
    """
    sites = [s for s in lo.sites if lo.pods[s]]
    if not sites:
        return {}
    # every eligible site's pods at once (one array operation per lease, not per site)
    sizes = np.array([len(lo.pods[s]) for s in sites], dtype=np.int64)
    pods = np.fromiter(itertools.chain.from_iterable(lo.pods[s] for s in sites), dtype=np.int64, count=int(sizes.sum()))
    site = np.repeat(np.arange(len(sites)), sizes)  # each pod's position in ``sites``
    floor = inst.floor_for(lo, pods)
    if lo.span == "pod":
        keep = floor >= lo.gpus
    else:
        some = floor >= 1
        room = np.where(some, np.minimum(floor, lo.gpus), 0)  # what each pod could give the lease
        if lo.span == "hall":  # per pod, the room of its hall (a hall lies within one site)
            _, hall = np.unique(inst.pod_hall[pods], return_inverse=True)
            room = np.bincount(hall, weights=room)[hall]
        else:  # per pod, the room of its site
            room = np.bincount(site, weights=room)[site]
        keep = some & (room >= lo.gpus)
    ends = np.cumsum(np.bincount(site[keep], minlength=len(sites)))  # kept pods are in site order
    kept = pods[keep].tolist()
    return {s: kept[a:b] for s, a, b in zip(sites, [0, *ends[:-1].tolist()], ends.tolist(), strict=True) if b > a}


def pod_groups(inst: Instance, by: Literal["site", "hall"] = "site") -> dict[tuple[int, str, str], np.ndarray]:
    """Pod positions grouped by (site, SKU, hall); the hall is ``""`` when grouping per site and SKU.

    Halls come from the pods file's ``hall`` column (pods of one hall share their
    hardware and role); without it, ``by="hall"`` groups per site and SKU.
    """
    pods = inst.sc.pods
    halls = pods["hall"].astype(str).tolist() if by == "hall" and "hall" in pods else [""] * len(pods)
    out: dict[tuple[int, str, str], list[int]] = {}
    for p, key in enumerate(zip(inst.pod_site.tolist(), pods["sku"].astype(str).tolist(), halls, strict=True)):
        out.setdefault(key, []).append(p)
    return {k: np.array(v, dtype=np.int64) for k, v in out.items()}
