"""Variants of a scenario: more demand, other prices, tighter SLOs, more fibre, more pods, other API markets.

Each knob returns a new :class:`~planner.scenario.Scenario` (``dataclasses.replace``
with copied tables); the original is never changed. Internal workloads are left
as they are: the knobs describe the lease market and the plant.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from planner.scenario import Scenario

__all__ = ["pod_groups", "vary", "vary_api_demand"]

_SUFFIX = re.compile(r"-\d{2,}$")


def pod_groups(sc: Scenario) -> pd.Series:
    """The group each pod was expanded from (``OH-H100-A-03`` -> ``OH-H100-A``), indexed by pod.

    Examples
    --------
    >>> from planner import load_scenario
    >>> pod_groups(load_scenario()).loc["OH-H100-A-03"]
    'OH-H100-A'
    """
    return pd.Series([_SUFFIX.sub("", str(p)) for p in sc.pods.index], index=sc.pods.index, name="group")


def _is_lease(sc: Scenario) -> pd.Series:
    return sc.workloads["priority"] != "internal"


def _revenue(sc: Scenario, wl: pd.DataFrame) -> pd.Series:
    return (wl["price_usd_per_gpu_hour"] * wl["gpus"] * wl["replicas"] * wl["weeks"]
            * sc.horizon.hours_per_period)


def _grow_demand(sc: Scenario, wl: pd.DataFrame, growth: float) -> pd.DataFrame:
    """Copies of leases: ``floor(growth) - 1`` of each, plus an evenly spread share for the fraction."""
    leases = wl[wl["priority"] != "internal"].sort_index()
    whole, frac = divmod(growth, 1.0)
    copies = []
    for n in range(1, int(whole)):
        copies.append(leases.rename(index=lambda lid, n=n: f"{lid}+g{n}"))
    if frac > 1e-9:
        i = np.arange(len(leases))
        pick = np.ceil((i + 1) * frac - 1e-9) > np.ceil(i * frac - 1e-9)  # the first, then every 1/frac-th
        copies.append(leases[pick].rename(index=lambda lid: f"{lid}+g{int(whole)}"))
    if not copies:
        return wl
    extra = pd.concat(copies)
    extra["source"] = extra["source"].astype(str) + f" (demand x{growth:g})"
    out = pd.concat([wl, extra])
    out.index.name = wl.index.name
    return out


def _add_pods(sc: Scenario, pods: pd.DataFrame, reserved: pd.DataFrame, group: str,
              n: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    groups = pod_groups(sc)
    members = groups.index[groups == group]
    if not len(members):
        msg = f"unknown pod group {group!r}; use one of {', '.join(sorted(set(groups)))}"
        raise ValueError(msg)
    template = pods.loc[members[0]]
    new_ids = [f"{group}-x{i:02d}" for i in range(1, n + 1)]
    extra = pd.DataFrame([template] * n, index=pd.Index(new_ids, name=pods.index.name))
    extra_res = pd.DataFrame(0, index=extra.index, columns=reserved.columns, dtype=reserved.dtypes.iloc[0])
    return pd.concat([pods, extra]), pd.concat([reserved, extra_res])


def vary_api_demand(demand: pd.DataFrame, *, price_factor: float = 1.0, demand_factor: float = 1.0) -> pd.DataFrame:
    """API demand streams with every price and every rate of tokens scaled (a copy).

    ``price_usd_per_mtok`` x ``price_factor``; ``peak_tokens_per_s`` and
    ``avg_tokens_per_s`` x ``demand_factor`` (so the average stays within the peak).

    Examples
    --------
    >>> d = pd.DataFrame({"peak_tokens_per_s": [100.0], "avg_tokens_per_s": [50.0], "price_usd_per_mtok": [2.0]},
    ...                  index=pd.Index(["S1"], name="stream"))
    >>> vary_api_demand(d, price_factor=0.5, demand_factor=3).loc["S1"].tolist()
    [300.0, 150.0, 1.0]
    """
    out = demand.copy()
    if len(out):
        out["price_usd_per_mtok"] = out["price_usd_per_mtok"].astype(float) * price_factor
        for c in ("peak_tokens_per_s", "avg_tokens_per_s"):
            out[c] = out[c].astype(float) * demand_factor
    return out


def vary(sc: Scenario, *, demand_growth: float = 1.0, price_factor: float = 1.0, slo_factor: float = 1.0,
         span_capacity_factor: float = 1.0, extra_pods: int = 0, extra_pods_group: str | None = None,
         api_price_factor: float = 1.0, api_demand_factor: float = 1.0) -> Scenario:
    """A variant of ``sc``.

    Parameters
    ----------
    demand_growth
        Lease demand x this: 2.0 adds a copy of every lease (ids ``<id>+g1``), 1.5 a copy
        of every other lease (an evenly spread half, by id, from the first); internal
        work is unchanged.
    price_factor
        Lease prices (and revenue) x this.
    slo_factor
        Lease latency SLOs x this (< 1 tightens them).
    span_capacity_factor
        DCI span capacities x this.
    extra_pods
        Pods added to ``extra_pods_group`` (copies of its first pod, ids ``<group>-x01``...).
    extra_pods_group
        The pod group (a pod id without its ``-NN`` suffix) extra pods copy; the
        group with the most GPUs when omitted.
    api_price_factor
        Every API stream's price per million tokens x this (see :func:`vary_api_demand`).
    api_demand_factor
        Every API stream's peak and average tokens/s x this.

    Raises
    ------
    ValueError
        On a negative or non-finite factor, or an unknown pod group.

    Examples
    --------
    >>> from planner import load_scenario
    >>> sc = load_scenario()
    >>> v = vary(sc, demand_growth=2.0, price_factor=1.1)
    >>> n_leases = int((sc.workloads["priority"] != "internal").sum())
    >>> len(v.workloads) == len(sc.workloads) + n_leases
    True
    """
    for name, f in (("demand_growth", demand_growth), ("price_factor", price_factor), ("slo_factor", slo_factor),
                    ("span_capacity_factor", span_capacity_factor), ("api_price_factor", api_price_factor),
                    ("api_demand_factor", api_demand_factor)):
        if not (math.isfinite(f) and f > 0):
            msg = f"{name} must be a positive number, not {f!r}"
            raise ValueError(msg)
    if demand_growth < 1.0:
        msg = f"demand_growth must be >= 1 (copies of leases are added), not {demand_growth:g}"
        raise ValueError(msg)
    if extra_pods < 0 or int(extra_pods) != extra_pods:
        msg = f"extra_pods must be a whole number >= 0, not {extra_pods!r}"
        raise ValueError(msg)
    wl = sc.workloads.copy()
    lease = _is_lease(sc)
    if price_factor != 1.0:
        wl.loc[lease, "price_usd_per_gpu_hour"] = wl.loc[lease, "price_usd_per_gpu_hour"] * price_factor
    if slo_factor != 1.0:
        wl.loc[lease, "latency_slo_ms"] = wl.loc[lease, "latency_slo_ms"] * slo_factor
    wl = _grow_demand(sc, wl, demand_growth)
    wl["revenue_usd"] = _revenue(sc, wl)
    spans = sc.spans.copy()
    spans["capacity_gbps"] = spans["capacity_gbps"] * span_capacity_factor
    pods, reserved = sc.pods.copy(), sc.reserved_gpus.copy()
    if extra_pods:
        group = extra_pods_group
        if group is None:
            group = str(sc.pods["gpus"].groupby(pod_groups(sc)).sum().idxmax())
        pods, reserved = _add_pods(sc, pods, reserved, group, int(extra_pods))
    halls = sc.halls.copy()
    if extra_pods:  # the new pods join their group's hall: its counts grow, its aggregation layer does not
        by_hall = pods.groupby("hall")
        halls["pods"] = by_hall.size().reindex(halls.index).astype(int)
        halls["gpus"] = by_hall["gpus"].sum().reindex(halls.index).astype(int)
        halls["uplink_gbps"] = by_hall["uplink_gbps"].sum().reindex(halls.index)
    api_demand = vary_api_demand(sc.api_demand, price_factor=api_price_factor, demand_factor=api_demand_factor)
    return replace(sc, workloads=wl, spans=spans, pods=pods, halls=halls, reserved_gpus=reserved,
                   api_demand=api_demand)
