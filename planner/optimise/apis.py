"""Hosted-model APIs in the instance: streams, deployments, a solution's value and its loads.

A *stream* is one model's token demand from one region over a run of weeks; a
*deployment* is one (model, pod) pair whose pod has a SKU the model runs on. The
decisions (see the contract in ``README``) are integer replicas per deployment and
week, and the tokens per second each stream is served from each site over each
path within its network budget. Served tokens are counted in whole tokens per
second, replica throughput rounded down to a whole token per second, and each
replica's uplink load rounded up to a whole kbps: a plan that fits in these units
fits in the exact ones too.

Every method reads the same arrays (:class:`ApiInstance`), values a solution with
:func:`api_value` and charges its loads on the residual ledger with :func:`take`.
Weeks are 0-based array positions here.

Examples
--------
>>> s = ApiSolution()
>>> s.empty
True
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from planner.optimise.units import KBPS

if TYPE_CHECKING:
    import pandas as pd

    from planner.optimise.instance import Instance, PathOption
    from planner.optimise.residual import Residual
    from planner.scenario import Scenario

__all__ = ["ApiDeployment", "ApiInstance", "ApiSolution", "ApiStream", "ApiValue", "api_value", "build_api",
           "take"]

SECONDS_PER_HOUR = 3600.0
TOKENS_PER_MTOK = 1e6


@dataclass(frozen=True)
class ApiStream:
    """One demand stream: a model's tokens from a region over a run of weeks, and where it may be served from."""

    stream: str
    pos: int
    model: int
    region: str
    t0: int
    t1: int  # inclusive
    peak: int
    """Peak tokens per second (rounded down: served is counted in whole tokens/s)."""
    avg_share: float
    """Average over peak: the share of the peak a served token per second is busy on average."""
    price_usd_per_mtok: float
    budget_ms: float
    bits_per_token: float
    """Bits on the wire per token, the larger direction: 8 x max(bytes in, bytes out)."""
    usd_per_tps_week: float
    """Revenue of one token per second of peak served for one week."""
    paths: dict[int, list[PathOption]] = field(default_factory=dict)
    """Site -> candidate paths within the network budget, fastest first (sites with a deployment of the model)."""
    all_paths: dict[int, list[PathOption]] = field(default_factory=dict)
    """Site -> every candidate path to the region (for the reasons)."""

    @property
    def weeks(self) -> range:
        """The stream's weeks (0-based)."""
        return range(self.t0, self.t1 + 1)


@dataclass(frozen=True)
class ApiDeployment:
    """One model on one pod: GPUs per replica, throughput, and what one replica costs and loads."""

    pos: int
    model: int
    pod: int
    site: int
    gpus: int
    tokens_per_s: int
    """One replica's throughput, rounded down to a whole token per second."""
    uplink_kbps: int
    """One replica's uplink load at full throughput (its model's largest bits per token), rounded up."""
    watts: int
    """Facility W one replica draws (GPUs x the pod's W per GPU)."""
    power_usd_week: float
    """Power cost of one replica for one week."""


@dataclass
class ApiInstance:
    """The API part of an instance: models, streams and deployments, as the model, greedy and bounds read them."""

    models: list[str]
    start_usd: np.ndarray
    """Per model: cost of starting one replica."""
    streams: list[ApiStream]
    deployments: list[ApiDeployment]
    transport_rate: float
    """USD per Gbps per km per week (``settings.transport_usd_per_gbps_km_week``)."""

    @property
    def empty(self) -> bool:
        """Whether there is any stream to serve."""
        return not self.streams

    def active(self, model: int, site: int) -> set[int]:
        """Weeks in which some stream of ``model`` may be served from ``site``."""
        return {w for t in self.streams if t.model == model and t.paths.get(site) for w in t.weeks}

    def gbps_per_tps(self, t: ApiStream) -> float:
        """Gbps on the wire per token per second of stream ``t``."""
        return t.bits_per_token / 1e9

    def transport_usd(self, t: ApiStream, path: PathOption) -> float:
        """Transport cost of one token per second of ``t`` over ``path`` for one week."""
        return self.gbps_per_tps(t) * path.length_km * self.transport_rate

    def net_per_tps_week(self, t: ApiStream, path: PathOption) -> float:
        """Revenue less transport of one token per second of ``t`` over ``path`` for one week."""
        return t.usd_per_tps_week - self.transport_usd(t, path)


@dataclass
class ApiSolution:
    """Replicas per (deployment, week) and tokens per second served per (stream, site, path, week), positive only."""

    replicas: dict[tuple[int, int], int] = field(default_factory=dict)
    served: dict[tuple[int, int, int, int], int] = field(default_factory=dict)
    """(stream, site, path position in the stream's ``paths[site]``, week) -> tokens per second."""

    @property
    def empty(self) -> bool:
        """Whether the solution runs no replica and serves nothing."""
        return not self.replicas and not self.served

    def started(self, api: ApiInstance) -> dict[tuple[int, int], int]:
        """Replicas started per (deployment, week): the rise over the week before (0 before the horizon)."""
        out = {}
        for (d, w), n in self.replicas.items():
            up = n - self.replicas.get((d, w - 1), 0)
            if up > 0:
                out[(d, w)] = up
        return out


@dataclass(frozen=True)
class ApiValue:
    """A solution's totals over the horizon, in USD (and what it served)."""

    revenue_usd: float = 0.0
    power_usd: float = 0.0
    transport_usd: float = 0.0
    start_usd: float = 0.0

    @property
    def net_usd(self) -> float:
        """Revenue less power, transport and start costs."""
        return self.revenue_usd - self.power_usd - self.transport_usd - self.start_usd


def api_value(api: ApiInstance | None, sol: ApiSolution | None) -> ApiValue:
    """Revenue and costs of ``sol`` (zeros without APIs)."""
    if api is None or sol is None or sol.empty:
        return ApiValue()
    rev = transport = power = start = 0.0
    for (t, s, k, _w), x in sol.served.items():
        st = api.streams[t]
        rev += x * st.usd_per_tps_week
        transport += x * api.transport_usd(st, st.paths[s][k])
    for (d, _w), n in sol.replicas.items():
        power += n * api.deployments[d].power_usd_week
    for (d, _w), n in sol.started(api).items():
        start += n * float(api.start_usd[api.deployments[d].model])
    return ApiValue(rev, power, transport, start)


def span_mbps(api: ApiInstance, sol: ApiSolution) -> dict[tuple[int, int], float]:
    """Mbps the served tokens put on each (span, week) (exact, not rounded)."""
    out: dict[tuple[int, int], float] = defaultdict(float)
    for (t, s, k, w), x in sol.served.items():
        st = api.streams[t]
        for e in st.paths[s][k].span_idx.tolist():
            out[(int(e), w)] += x * st.bits_per_token / 1e6
    return dict(out)


def take(api: ApiInstance | None, sol: ApiSolution | None, res: Residual, sign: int = -1) -> None:
    """Charge (``sign=-1``) or give back (``+1``) the capacity ``sol`` uses on the residual ledger.

    API replicas are never pre-empted: they load the worst case of internal demand as
    committed leases do. A span's load is the served tokens' Mbps, rounded up per span and week.
    """
    if api is None or sol is None or sol.empty:
        return
    for (d, w), n in sol.replicas.items():
        dep = api.deployments[d]
        res.gpu[dep.pod, w] += sign * n * dep.gpus
        res.gpu_worst[dep.pod, w] += sign * n * dep.gpus
        res.power[dep.site, w] += sign * n * dep.watts
        res.power_worst[dep.site, w] += sign * n * dep.watts
        res.uplink[dep.pod, w] += sign * n * dep.uplink_kbps
    for (e, w), mbps in span_mbps(api, sol).items():
        res.link[e, w] += sign * math.ceil(mbps - 1e-9)


def build_api(sc: Scenario, inst: Instance, by_site_pop: dict[tuple[int, str], list[PathOption]]
              ) -> ApiInstance | None:
    """The API arrays of ``inst`` (``None`` when the scenario has no API demand)."""
    dem: pd.DataFrame = sc.api_demand
    cat: pd.DataFrame = sc.api_models
    if dem.empty:
        return None
    models = sorted({str(m) for m in dem["model"]})
    m_pos = {m: i for i, m in enumerate(models)}
    hours = sc.horizon.hours_per_period
    streams: list[ApiStream] = []
    bits = np.zeros(len(models))
    sites_of: dict[int, set[int]] = defaultdict(set)
    sku_of_pod = sc.pods["sku"].astype(str).tolist()
    for mi, m in enumerate(models):
        for p, sku in enumerate(sku_of_pod):
            if (m, sku) in cat.index:
                sites_of[mi].add(int(inst.pod_site[p]))
    for sid, r in dem.iterrows():
        mi = m_pos[str(r["model"])]
        peak = float(r["peak_tokens_per_s"])
        avg = float(r["avg_tokens_per_s"]) if r["avg_tokens_per_s"] == r["avg_tokens_per_s"] else peak
        b = 8.0 * max(float(r["bytes_in_per_token"]), float(r["bytes_out_per_token"]))
        bits[mi] = max(bits[mi], b)
        budget = float(r["network_budget_ms"])
        region = str(r["region"])
        allp = {s: by_site_pop.get((s, region), []) for s in sorted(sites_of[mi])}
        paths = {s: [p for p in ps if p.latency_ms <= budget + 1e-9] for s, ps in allp.items()}
        price = float(r["price_usd_per_mtok"])
        streams.append(ApiStream(
            stream=str(sid), pos=len(streams), model=mi, region=region, t0=int(r["start_week"]) - 1,
            t1=int(r["end_week"]) - 1, peak=math.floor(peak + 1e-9), avg_share=avg / peak if peak > 0 else 0.0,
            price_usd_per_mtok=price, budget_ms=budget, bits_per_token=b,
            usd_per_tps_week=(avg / peak if peak > 0 else 0.0) * hours * SECONDS_PER_HOUR * price / TOKENS_PER_MTOK,
            paths={s: ps for s, ps in paths.items() if ps}, all_paths=allp))
    deployments: list[ApiDeployment] = []
    start = np.zeros(len(models))
    for mi, m in enumerate(models):
        for p, sku in enumerate(sku_of_pod):
            if (m, sku) not in cat.index:
                continue
            row = cat.loc[(m, sku)]
            start[mi] = float(row["replica_start_usd"])
            g = int(row["gpus_per_replica"])
            tps = float(row["tokens_per_s"])
            s = int(inst.pod_site[p])
            kw = float(inst.pod_kw_per_gpu[p]) * g
            deployments.append(ApiDeployment(
                pos=len(deployments), model=mi, pod=p, site=s, gpus=g, tokens_per_s=math.floor(tps + 1e-9),
                uplink_kbps=math.ceil(tps * bits[mi] / 1e9 * KBPS - 1e-9), watts=g * int(inst.pod_w_per_gpu[p]),
                power_usd_week=kw * hours * float(inst.site_price[s]) / 1000.0))
    return ApiInstance(models=models, start_usd=start, streams=streams, deployments=deployments,
                       transport_rate=float(sc.settings.transport_usd_per_gbps_km_week))


def solution_rows(inst: Instance, sol: ApiSolution) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """The replica rows and route rows of ``sol`` that :func:`planner.api_plan.api_tables` takes (weeks 1-based)."""
    api = inst.api
    if api is None:
        return [], []
    reps = [{"model": api.models[api.deployments[d].model], "pod": inst.pod_ids[api.deployments[d].pod],
             "week": w + 1, "replicas": n} for (d, w), n in sorted(sol.replicas.items())]
    routes = []
    for (t, s, k, w), x in sorted(sol.served.items()):
        st = api.streams[t]
        p = st.paths[s][k]
        routes.append({"stream": st.stream, "week": w + 1, "site": inst.site_ids[s], "path_id": p.path_id,
                       "path": p.label, "spans": p.spans, "latency_ms": p.latency_ms, "length_km": p.length_km,
                       "served_tokens_per_s": float(x)})
    return reps, routes
