"""A plan's hosted-model API tables, built from its replicas and routes and the scenario.

The optimiser hands over what it decided -- replicas per (model, pod, week) and tokens
per second served per (stream, week, site, path) -- and the reasons for demand left
unserved; every other column (GPUs, capacity, starts and their cost, power, Gbps,
transport, revenue, shares) is derived here from the scenario, so the tables read the
same whichever method made the plan. :func:`api_loads` gives the per-week loads
:func:`planner.plan.usage_tables` adds to its pod, site and span totals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from planner.scenario import Scenario

__all__ = ["API_REPLICA_COLUMNS", "API_ROUTE_COLUMNS", "API_USE_COLUMNS", "api_loads", "api_meta", "api_tables",
           "bits_per_token", "empty_api_tables"]

API_USE_COLUMNS = ["stream", "week", "model", "region", "price_usd_per_mtok", "demand_tokens_per_s",
                   "served_tokens_per_s", "unserved_tokens_per_s", "served_share", "revenue_usd", "reason"]
API_ROUTE_COLUMNS = ["stream", "week", "model", "region", "site", "path_id", "path", "latency_ms", "length_km",
                     "served_tokens_per_s", "gbps", "transport_usd", "spans"]
"""The contract's columns, then ``spans`` (the route's DCI spans, as placements give them) for the checker."""
API_REPLICA_COLUMNS = ["model", "sku", "site", "hall", "pod", "week", "replicas", "gpus", "capacity_tokens_per_s",
                       "started", "start_usd", "power_mw", "power_usd"]
SECONDS_PER_HOUR = 3600.0


def empty_api_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``api_use``, ``api_routes`` and ``api_replicas`` of a plan without APIs: no rows, their columns."""
    return (pd.DataFrame(columns=API_USE_COLUMNS), pd.DataFrame(columns=API_ROUTE_COLUMNS),
            pd.DataFrame(columns=API_REPLICA_COLUMNS))


def bits_per_token(sc: Scenario) -> pd.Series:
    """Per model: 8 x the largest bytes per token (in or out) over its streams (a replica's uplink load per token)."""
    dem = sc.api_demand
    if dem.empty:
        return pd.Series(dtype=float)
    b = 8.0 * np.maximum(dem["bytes_in_per_token"].astype(float), dem["bytes_out_per_token"].astype(float))
    return b.groupby(dem["model"]).max()


def api_tables(sc: Scenario, replicas: list[dict[str, Any]], routes: list[dict[str, Any]],
               reasons: Mapping[tuple[str, int], str]) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The three API tables of a plan.

    Parameters
    ----------
    sc
        The scenario.
    replicas
        One dict per (model, pod, week) with replicas > 0: ``model``, ``pod``, ``week`` (1-based), ``replicas``.
    routes
        One dict per (stream, week, site, path) with served > 0: ``stream``, ``week``, ``site``, ``path_id``,
        ``path``, ``spans``, ``latency_ms``, ``length_km``, ``served_tokens_per_s``.
    reasons
        Why each (stream, week) with demand unserved is unserved.
    """
    use, rt, rep = empty_api_tables()
    dem, cat = sc.api_demand, sc.api_models
    if dem.empty:
        return use, rt, rep
    hours = sc.horizon.hours_per_period
    rate = sc.settings.transport_usd_per_gbps_km_week
    rt = pd.DataFrame(routes, columns=[c for c in API_ROUTE_COLUMNS if c not in ("model", "region", "gbps",
                                                                                "transport_usd")])
    rt["model"] = rt["stream"].map(dem["model"])
    rt["region"] = rt["stream"].map(dem["region"])
    bits = 8.0 * np.maximum(rt["stream"].map(dem["bytes_in_per_token"]).astype(float),
                            rt["stream"].map(dem["bytes_out_per_token"]).astype(float))
    rt["gbps"] = rt["served_tokens_per_s"].astype(float) * bits / 1e9
    rt["transport_usd"] = rt["gbps"] * rt["length_km"].astype(float) * rate
    rt = rt[API_ROUTE_COLUMNS].sort_values(["stream", "week", "site", "path_id"]).reset_index(drop=True)
    rows = []
    served = rt.groupby(["stream", "week"])["served_tokens_per_s"].sum()
    for sid, d in dem.iterrows():
        share = float(d["avg_tokens_per_s"]) / float(d["peak_tokens_per_s"])
        for wk in range(int(d["start_week"]), int(d["end_week"]) + 1):
            peak = float(d["peak_tokens_per_s"])
            got = float(served.get((sid, wk), 0.0))
            rows.append({"stream": sid, "week": wk, "model": d["model"], "region": d["region"],
                         "price_usd_per_mtok": float(d["price_usd_per_mtok"]), "demand_tokens_per_s": peak,
                         "served_tokens_per_s": got, "unserved_tokens_per_s": max(peak - got, 0.0),
                         "served_share": got / peak if peak > 0 else 1.0,
                         "revenue_usd": got * share * hours * SECONDS_PER_HOUR * float(d["price_usd_per_mtok"]) / 1e6,
                         "reason": "" if got >= peak - 1e-9 else reasons.get((str(sid), wk), "")})
    use = pd.DataFrame(rows, columns=API_USE_COLUMNS)
    rep = pd.DataFrame(replicas, columns=["model", "pod", "week", "replicas"])
    pods = sc.pods
    rep["sku"] = rep["pod"].map(pods["sku"])
    rep["site"] = rep["pod"].map(pods["site"])
    rep["hall"] = rep["pod"].map(pods["hall"]).astype(str) if len(rep) else rep["pod"]
    keys = list(zip(rep["model"], rep["sku"], strict=True))
    rep["gpus"] = [int(cat.at[k, "gpus_per_replica"]) for k in keys] * rep["replicas"].astype(int)
    rep["capacity_tokens_per_s"] = [float(cat.at[k, "tokens_per_s"]) for k in keys] * rep["replicas"].astype(float)
    rep = rep.sort_values(["model", "pod", "week"]).reset_index(drop=True)
    before = {(m, p, w): n for m, p, w, n in zip(rep["model"], rep["pod"], rep["week"], rep["replicas"], strict=True)}
    rep["started"] = [max(int(n) - int(before.get((m, p, w - 1), 0)), 0)
                      for m, p, w, n in zip(rep["model"], rep["pod"], rep["week"], rep["replicas"], strict=True)]
    rep["start_usd"] = rep["started"] * np.array([float(cat.at[k, "replica_start_usd"]) for k in
                                                  zip(rep["model"], rep["sku"], strict=True)])
    kw = rep["sku"].map(sc.skus["server_kw_per_gpu"]).astype(float) * rep["site"].map(sc.sites["pue"]).astype(float)
    rep["power_mw"] = rep["gpus"] * kw / 1000.0
    rep["power_usd"] = rep["power_mw"] * hours * rep["site"].map(sc.sites["power_price_usd_per_mwh"]).astype(float)
    return use, rt, rep[API_REPLICA_COLUMNS]


def api_meta(sc: Scenario, use: pd.DataFrame, routes: pd.DataFrame, replicas: pd.DataFrame) -> dict[str, float]:
    """The horizon's API totals for ``Plan.meta["api"]`` (zeros without APIs)."""
    hours = sc.horizon.hours_per_period
    revenue = float(use["revenue_usd"].sum()) if len(use) else 0.0
    power = float(replicas["power_usd"].sum()) if len(replicas) else 0.0
    transport = float(routes["transport_usd"].sum()) if len(routes) else 0.0
    start = float(replicas["start_usd"].sum()) if len(replicas) else 0.0
    tokens = 0.0
    if len(use):
        share = use["stream"].map(sc.api_demand["avg_tokens_per_s"] / sc.api_demand["peak_tokens_per_s"]).astype(float)
        tokens = float((use["served_tokens_per_s"].astype(float) * share).sum() * hours * SECONDS_PER_HOUR)
    return {"revenue_usd": revenue, "power_usd": power, "transport_usd": transport, "start_usd": start,
            "net_usd": revenue - power - transport - start,
            "gpu_hours": float(replicas["gpus"].sum()) * hours if len(replicas) else 0.0, "tokens_served": tokens}


def api_loads(sc: Scenario, replicas: pd.DataFrame, routes: pd.DataFrame
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """API GPUs and uplink Gbps per (pod, week) and Gbps per (span, week), as arrays in the scenario's order."""
    weeks = len(sc.weeks)
    gpus = np.zeros((len(sc.pods), weeks))
    uplink = np.zeros((len(sc.pods), weeks))
    spans = np.zeros((len(sc.spans), weeks))
    if len(replicas):
        rows = pd.Index(sc.pods.index).get_indexer(replicas["pod"])
        cols = replicas["week"].to_numpy(dtype=int) - 1
        np.add.at(gpus, (rows, cols), replicas["gpus"].to_numpy(dtype=float))
        per_replica = replicas["model"].map(bits_per_token(sc)).astype(float) / 1e9
        np.add.at(uplink, (rows, cols), replicas["capacity_tokens_per_s"].to_numpy(dtype=float) * per_replica)
    span_idx = pd.Index(sc.spans.index)
    for route, wk, gbps in zip(routes["spans"], routes["week"], routes["gbps"], strict=True):
        if gbps > 0 and route:
            spans[span_idx.get_indexer(list(route)), int(wk) - 1] += float(gbps)
    return gpus, uplink, spans
