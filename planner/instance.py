"""The planning instance: a scenario turned into arrays and per-lease options.

Shared by the greedy baseline, the CP-SAT model and the reason finder, so that all
three see the same eligible sites, pods and SLO-meeting paths. Weeks are 0-based
array positions here (week ``w`` is column ``w - 1``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from planner.network import build_network
from planner.routing import candidate_paths
from planner.scenario import Scenario

__all__ = ["Instance", "LeaseOptions", "PathOption", "build_instance"]


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

    @property
    def weeks(self) -> int:
        """Weeks in the term."""
        return self.t1 - self.t0 + 1

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
    pod_gpus: np.ndarray
    pod_free: np.ndarray  # pods x weeks: GPUs not reserved
    pod_uplink: np.ndarray  # Gbps
    pod_kw_per_gpu: np.ndarray  # facility kW per GPU (server kW x PUE)
    site_power_kw: np.ndarray  # sites x weeks: available kW less internal reservations' draw
    site_price: np.ndarray  # USD per MWh
    span_limit: np.ndarray  # spans x weeks: Gbps usable (capacity x max utilisation)
    span_length: np.ndarray
    hours: float
    leases: list[LeaseOptions]

    def power_cost_usd(self, lease: LeaseOptions, pod: int, gpus: int) -> float:
        """Cost of the power that ``gpus`` GPUs of ``lease`` draw in ``pod`` over the term."""
        mwh = gpus * self.pod_kw_per_gpu[pod] * self.hours * lease.weeks / 1000.0
        return float(mwh * self.site_price[self.pod_site[pod]])

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
    reserved = sc.reserved_gpus.to_numpy()
    reserved_kw = np.zeros((len(site_ids), reserved.shape[1]))
    np.add.at(reserved_kw, pod_site, reserved * kw[:, None])
    site_kw = sc.site_power_mw.loc[site_ids].to_numpy() * 1000.0 - reserved_kw
    limit = (sc.spans["capacity_gbps"].to_numpy() * sc.settings.max_link_utilisation)[:, None]
    span_limit = np.repeat(limit, sc.horizon.periods, axis=1)

    by_site_pop: dict[tuple[int, str], list[PathOption]] = {}
    for pid, r in cand.iterrows():
        by_site_pop.setdefault((s_pos[r["site"]], r["pop"]), []).append(PathOption(
            str(pid), r["label"], tuple(r["spans"]), np.array([e_pos[e] for e in r["spans"]], dtype=np.int64),
            float(r["latency_ms"]), float(r["length_km"])))

    site_tags = [set(t) for t in sc.sites["residency"]]
    leases = []
    for i, (lid, w) in enumerate(sc.workloads.iterrows()):
        slo = None if pd.isna(w["latency_slo_ms"]) else float(w["latency_slo_ms"])
        region = None if (w["region"] is None or pd.isna(w["region"])) else str(w["region"])
        lo = LeaseOptions(lease=str(lid), pos=i, internal=w["priority"] == "internal", gpus=int(w["gpus"]),
                          replicas=int(w["replicas"]), span=w["span"], anti_affinity=bool(w["anti_affinity"]),
                          egress_gbps=float(w["egress_gbps"]), region=region, slo_ms=slo,
                          t0=int(w["start_week"]) - 1, t1=int(w["end_week"]) - 1,
                          revenue_usd=float(w["revenue_usd"]), sku=str(w["sku"]),
                          allowed=tuple(w["allowed_sites"]), residency=tuple(w["residency"]))
        allowed = set(w["allowed_sites"])
        tags = set(w["residency"])
        for s in range(len(site_ids)):
            ps = [p for p in np.flatnonzero(pod_site == s) if pods["sku"].iat[p] == lo.sku]
            if not ps:
                continue
            lo.sku_sites.append(s)
            lo.pods[s] = [int(p) for p in ps]
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
        leases.append(lo)
    return Instance(sc=sc, graph=g, paths=cand, site_ids=site_ids, pod_ids=pod_ids, span_ids=span_ids,
                    pod_site=pod_site, pod_gpus=pods["gpus"].to_numpy(), pod_free=sc.free_gpus().to_numpy(),
                    pod_uplink=pods["uplink_gbps"].to_numpy(), pod_kw_per_gpu=kw,
                    site_power_kw=site_kw, site_price=sc.sites["power_price_usd_per_mwh"].to_numpy(),
                    span_limit=span_limit, span_length=sc.spans["length_km"].to_numpy(),
                    hours=sc.horizon.hours_per_period, leases=leases)
