"""Leases, hosted-model APIs and internal work side by side: what each use of the GPUs earns and draws.

An operator sells surplus GPUs two ways, raw leases and hosted-model APIs (tokens),
while internal training holds the rest. These functions read a plan's tables and
put the uses next to each other -- revenue, net value, GPU-hours and facility MW,
and revenue per MW-year and per GPU-hour -- the comparison an operator decides on.
The results folder (``plan.json``), the report, the CLI summary and ``planner
sweep`` all take their API figures from here.

::

    use_split(sc, plan)        # one row per use: leases, apis, internal
    api_totals(sc, plan)       # the horizon's API totals and the share of token demand served
    gpus_by_use(sc, plan)      # per campus and week: GPUs leased / API / internal / free
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["API_TOTAL_KEYS", "HOURS_PER_YEAR", "USES", "api_by_week", "api_gpus_by_pod", "api_totals",
           "gpus_by_use", "has_apis", "unserved_runs", "use_split"]

HOURS_PER_YEAR = 8760.0
USES = ("leases", "apis", "internal")
"""The uses of a GPU, in the order tables and charts show them."""

API_TOTAL_KEYS = ("revenue_usd", "power_usd", "transport_usd", "start_usd", "net_usd", "gpu_hours",
                  "tokens_served")
"""The keys of ``plan.meta["api"]`` (the horizon's totals of API serving)."""


def has_apis(plan: Plan) -> bool:
    """Whether the plan had API demand to serve (its ``api_use`` has rows, served or not)."""
    return len(plan.api_use) > 0


def _avg_share(sc: Scenario, streams: pd.Series) -> np.ndarray:
    """Each row's stream's ``avg_tokens_per_s / peak_tokens_per_s`` (1 where the scenario does not say)."""
    demand = sc.api_demand
    if not len(demand):
        return np.ones(len(streams))
    ratio = (demand["avg_tokens_per_s"] / demand["peak_tokens_per_s"]).astype(float)
    return streams.map(ratio).fillna(1.0).to_numpy(float)


def _tokens(sc: Scenario, use: pd.DataFrame, column: str) -> float:
    """Tokens over the horizon of a tokens/s column of ``api_use`` (each week at the stream's average share)."""
    if not len(use):
        return 0.0
    seconds = float(sc.horizon.hours_per_period) * 3600.0
    per_s = use[column].to_numpy(float) * _avg_share(sc, use["stream"])
    return float(per_s.sum()) * seconds


def api_totals(sc: Scenario, plan: Plan) -> dict[str, float]:
    """The horizon's API totals: ``plan.meta["api"]`` and the share of token demand served.

    The keys of :data:`API_TOTAL_KEYS` come from ``plan.meta["api"]`` when the
    optimiser recorded them, else from the plan's API tables (revenue from
    ``api_use``, transport from ``api_routes``, power and starts from
    ``api_replicas``). ``tokens_demanded`` and ``served_share`` are added: tokens are
    counted as revenue counts them, each week at the stream's average over peak.

    Returns
    -------
    dict
        ``revenue_usd, power_usd, transport_usd, start_usd, net_usd, gpu_hours, tokens_served,
        tokens_demanded, served_share`` (zeros without APIs; ``served_share`` NaN when nothing is asked).

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> t = api_totals(sc, greedy(sc, explain=False))
    >>> 0 < t["tokens_served"] <= t["tokens_demanded"], t["net_usd"] < t["revenue_usd"]
    (True, True)
    """
    use, rep, routes = plan.api_use, plan.api_replicas, plan.api_routes
    hours = float(sc.horizon.hours_per_period)
    derived = {
        "revenue_usd": float(use["revenue_usd"].sum()) if len(use) else 0.0,
        "power_usd": float(rep["power_usd"].sum()) if len(rep) else 0.0,
        "transport_usd": float(routes["transport_usd"].sum()) if len(routes) else 0.0,
        "start_usd": float(rep["start_usd"].sum()) if len(rep) else 0.0,
        "gpu_hours": float(rep["gpus"].sum()) * hours if len(rep) else 0.0,
        "tokens_served": _tokens(sc, use, "served_tokens_per_s"),
    }
    derived["net_usd"] = (derived["revenue_usd"] - derived["power_usd"] - derived["transport_usd"]
                          - derived["start_usd"])
    recorded = plan.meta.get("api")
    out = {k: float(recorded.get(k, derived[k])) if isinstance(recorded, dict) else derived[k]
           for k in API_TOTAL_KEYS}
    demanded = _tokens(sc, use, "demand_tokens_per_s")
    out["tokens_demanded"] = demanded
    out["served_share"] = out["tokens_served"] / demanded if demanded > 0 else float("nan")
    return out


def _kw_per_gpu(sc: Scenario, pod_use: pd.DataFrame) -> pd.Series:
    """Facility kW per GPU of each ``pod_use`` row: server kW x the campus's PUE."""
    return pod_use["sku"].map(sc.skus["server_kw_per_gpu"]) * pod_use["site"].map(sc.sites["pue"])


def api_gpus_by_pod(plan: Plan) -> pd.Series:
    """API GPUs per (pod, week): ``pod_use["api_gpus"]``, or summed from ``api_replicas`` where it has none."""
    pu = plan.pod_use
    if "api_gpus" in pu:
        return pu.set_index(["pod", "week"])["api_gpus"].astype(float)
    rep = plan.api_replicas
    by = rep.groupby(["pod", "week"])["gpus"].sum() if len(rep) else pd.Series(dtype=float)
    idx = pd.MultiIndex.from_frame(pu[["pod", "week"]])
    return by.reindex(idx, fill_value=0).astype(float)


def gpus_by_use(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """GPUs per campus and week by use: leased, API, internal and free (they add up to the campus's GPUs).

    Returns
    -------
    DataFrame
        One row per (site, week): ``site, week, gpus, leased_gpus, api_gpus, internal_gpus, free_gpus``.
        Free is what the three uses leave (never below 0).
    """
    pu = plan.pod_use
    api = api_gpus_by_pod(plan).to_numpy()
    df = pd.DataFrame({"site": pu["site"].to_numpy(), "week": pu["week"].to_numpy(),
                       "gpus": pu["gpus"].to_numpy(float), "leased_gpus": pu["leased_gpus"].to_numpy(float),
                       "api_gpus": api, "internal_gpus": pu["internal_gpus"].to_numpy(float)})
    out = df.groupby(["site", "week"], sort=True).sum().reset_index()
    out["free_gpus"] = (out["gpus"] - out["leased_gpus"] - out["api_gpus"] - out["internal_gpus"]).clip(lower=0)
    cols = ["gpus", "leased_gpus", "api_gpus", "internal_gpus", "free_gpus"]
    out[cols] = out[cols].round().astype("int64")
    return out


def _weekly_mw(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Facility MW (IT x PUE) per week drawn by each use, summed over the campuses."""
    pu = plan.pod_use
    kw = _kw_per_gpu(sc, pu).to_numpy(float)
    api = api_gpus_by_pod(plan).to_numpy()
    week = pu["week"].to_numpy()
    df = pd.DataFrame({"week": week, "leases": pu["leased_gpus"].to_numpy(float) * kw / 1000.0,
                       "apis": api * kw / 1000.0, "internal": pu["internal_gpus"].to_numpy(float) * kw / 1000.0})
    return df.groupby("week").sum().reindex(sc.weeks, fill_value=0.0)


def use_split(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Revenue, net value, GPU-hours and MW of leases, APIs and internal work, with revenue per MW and GPU-hour.

    Leases: the placed leases' rows (revenue less power and transport); APIs: the
    totals of :func:`api_totals` (revenue less power, transport and replica starts);
    internal work earns nothing: its net value is minus the power and transport of the
    internal workloads the plan places (reservations cost nothing in a plan), so the
    three net values add up to the plan's net value (less a re-plan's move penalties). MW are facility
    MW (GPUs x server kW x PUE), summed over the campuses per week: ``mw_mean`` over
    the horizon's weeks, ``mw_peak`` the busiest week. A MW-year is a MW for 8,760 h.

    Returns
    -------
    DataFrame
        Indexed by ``use`` (:data:`USES`): ``revenue_usd, net_usd, gpu_hours, mw_mean, mw_peak, mw_years,
        usd_per_gpu_hour, usd_per_mw_year, revenue_share, gpu_hours_share``.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> split = use_split(sc, greedy(sc, explain=False))
    >>> list(split.index), bool(split.loc["leases", "gpu_hours"] > split.loc["apis", "gpu_hours"] > 0)
    (['leases', 'apis', 'internal'], True)
    """
    hours = float(sc.horizon.hours_per_period)
    pl = plan.placements
    internal = pl["lease"].map(sc.workloads["priority"]).eq("internal")
    leases = pl[~internal]
    api = api_totals(sc, plan)
    mw = _weekly_mw(sc, plan)
    lease_weeks = leases["end_week"] - leases["start_week"] + 1
    gpu_hours = {"leases": float((leases["gpus"] * lease_weeks).sum()) * hours,
                 "apis": api["gpu_hours"],
                 "internal": float(plan.pod_use["internal_gpus"].sum()) * hours}
    own = pl[internal]  # internal workloads the plan places: their power and transport count in its net value
    revenue = {"leases": float(leases["revenue_usd"].sum()), "apis": api["revenue_usd"], "internal": 0.0}
    net = {"leases": float((leases["revenue_usd"] - leases["power_cost_usd"] - leases["transport_cost_usd"]).sum()),
           "apis": api["net_usd"],
           "internal": -float((own["power_cost_usd"] + own["transport_cost_usd"]).sum())}
    rows: list[dict[str, Any]] = []
    for use in USES:
        mw_years = float(mw[use].sum()) * hours / HOURS_PER_YEAR
        rows.append({"use": use, "revenue_usd": revenue[use], "net_usd": net[use], "gpu_hours": gpu_hours[use],
                     "mw_mean": float(mw[use].mean()) if len(mw) else 0.0,
                     "mw_peak": float(mw[use].max()) if len(mw) else 0.0, "mw_years": mw_years,
                     "usd_per_gpu_hour": revenue[use] / gpu_hours[use] if gpu_hours[use] > 0 else math.nan,
                     "usd_per_mw_year": revenue[use] / mw_years if mw_years > 0 else math.nan})
    out = pd.DataFrame(rows).set_index("use")
    sold = out.loc[["leases", "apis"], "revenue_usd"].sum()
    out["revenue_share"] = out["revenue_usd"] / sold if sold > 0 else math.nan
    total_hours = out["gpu_hours"].sum()
    out["gpu_hours_share"] = out["gpu_hours"] / total_hours if total_hours > 0 else math.nan
    return out


def api_by_week(plan: Plan) -> pd.DataFrame:
    """API demand, served and unserved tokens/s per model, region and week.

    Returns
    -------
    DataFrame
        One row per (model, region, week) of some stream's term: ``model, region, week,
        demand_tokens_per_s, served_tokens_per_s, unserved_tokens_per_s, revenue_usd``.
    """
    cols = ["demand_tokens_per_s", "served_tokens_per_s", "unserved_tokens_per_s", "revenue_usd"]
    use = plan.api_use
    if not len(use):
        return pd.DataFrame(columns=["model", "region", "week", *cols])
    out = use.groupby(["model", "region", "week"], sort=True)[cols].sum().reset_index()
    return out


def unserved_runs(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Unserved API demand, one row per stream and run of consecutive weeks with the same reason.

    Returns
    -------
    DataFrame
        ``stream, model, region, start_week, end_week, weeks, demand_tokens_per_s`` (peak over the run),
        ``unserved_tokens_per_s`` (most in a week of the run), ``unserved_share`` (of the run's demand),
        ``revenue_lost_usd`` (what the unserved tokens would have paid) and ``reason``; most revenue lost first.
    """
    cols = ["stream", "model", "region", "start_week", "end_week", "weeks", "demand_tokens_per_s",
            "unserved_tokens_per_s", "unserved_share", "revenue_lost_usd", "reason"]
    use = plan.api_use
    short = use[use["unserved_tokens_per_s"].astype(float) > 1e-9].sort_values(["stream", "week"])
    if not len(short):
        return pd.DataFrame(columns=cols)
    seconds = float(sc.horizon.hours_per_period) * 3600.0
    short = short.assign(
        reason=short["reason"].fillna("").astype(str),
        lost=short["unserved_tokens_per_s"].to_numpy(float) * _avg_share(sc, short["stream"]) * seconds
        * short["price_usd_per_mtok"].to_numpy(float) / 1e6)
    new_run = ((short["stream"] != short["stream"].shift()) | (short["reason"] != short["reason"].shift())
               | (short["week"] != short["week"].shift() + 1))
    g = short.groupby(new_run.cumsum(), sort=False)
    out = pd.DataFrame({
        "stream": g["stream"].first(), "model": g["model"].first(), "region": g["region"].first(),
        "start_week": g["week"].min().astype("int64"), "end_week": g["week"].max().astype("int64"),
        "weeks": g["week"].size().astype("int64"), "demand_tokens_per_s": g["demand_tokens_per_s"].max(),
        "unserved_tokens_per_s": g["unserved_tokens_per_s"].max(),
        "unserved_share": g["unserved_tokens_per_s"].sum() / g["demand_tokens_per_s"].sum(),
        "revenue_lost_usd": g["lost"].sum(), "reason": g["reason"].first()})
    out = out.sort_values(["revenue_lost_usd", "stream", "start_week"], ascending=[False, True, True])
    return out.reset_index(drop=True)[cols]
