"""The headline numbers of a plan, computed once for the report's cards."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from planner.plan import Plan
from planner.report.charts import AT_LIMIT
from planner.scenario import Scenario

__all__ = ["Headline", "headline_figures"]


@dataclass(frozen=True)
class Headline:
    """What the report's summary cards show.

    Attributes
    ----------
    revenue_usd, power_cost_usd, transport_cost_usd, objective_usd, bound_usd, gap : float
        From the plan (``bound_usd`` and ``gap`` are NaN for a heuristic plan).
    leases_placed, leases_unplaced : int
        Leases (not internal work) placed and left out.
    revenue_left_out_usd : float
        Revenue of the leases left out.
    leased_gpus_peak : Series
        Peak leased GPUs by SKU (:meth:`Plan.leased_gpus`).
    surplus_sold : float
        Leased GPU-weeks over the GPU-weeks internal work leaves (leased + free).
    power_use_avg, power_use_peak : float
        Facility power drawn over power available: summed over every site and week, and
        the highest single site-week.
    power_peak_site, power_peak_week : str, int
        Where and when that peak is.
    power_peak_mw, power_peak_available_mw : float
        The power drawn and available in that site-week.
    span_peak, span_peak_week : str, int
        The span with the highest utilisation and its week ("" and 0 without spans).
    span_peak_utilisation, limit : float
        That utilisation and the scenario's max-utilisation limit.
    spans_at_limit : int
        Spans that reach the limit (99 % of it) in some week.
    """

    revenue_usd: float
    power_cost_usd: float
    transport_cost_usd: float
    objective_usd: float
    bound_usd: float
    gap: float
    leases_placed: int
    leases_unplaced: int
    revenue_left_out_usd: float
    leased_gpus_peak: pd.Series
    surplus_sold: float
    power_use_avg: float
    power_use_peak: float
    power_peak_site: str
    power_peak_week: int
    power_peak_mw: float
    power_peak_available_mw: float
    span_peak: str
    span_peak_week: int
    span_peak_utilisation: float
    limit: float
    spans_at_limit: int


def headline_figures(sc: Scenario, plan: Plan) -> Headline:
    """Compute the summary numbers of ``plan``.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    Headline
    """
    internal = set(sc.workloads.index[sc.workloads["priority"] == "internal"])
    placed = plan.placements["lease"]
    unplaced = plan.unplaced[plan.unplaced["priority"] != "internal"]
    su = plan.site_use
    if len(su):
        ratio = (su["power_mw"] / su["available_mw"].where(su["available_mw"] > 0)).fillna(0.0).to_numpy(float)
        avg = float(su["power_mw"].sum() / max(float(su["available_mw"].sum()), 1e-12))
        k = int(np.argmax(ratio))
        peak_site, peak_week = str(su["site"].to_numpy()[k]), int(su["week"].to_numpy()[k])
        peak, peak_mw = float(ratio[k]), float(su["power_mw"].to_numpy(float)[k])
        peak_avail = float(su["available_mw"].to_numpy(float)[k])
    else:
        avg, peak, peak_site, peak_week, peak_mw, peak_avail = math.nan, math.nan, "", 0, math.nan, math.nan
    sellable = float((su["leased_gpus"] + su["free_gpus"]).sum()) if len(su) else 0.0
    surplus = float(su["leased_gpus"].sum()) / sellable if sellable > 0 else math.nan
    lu = plan.link_use
    limit = float(sc.settings.max_link_utilisation)
    if len(lu):
        util = lu["utilisation"].to_numpy(float)
        j = int(np.argmax(util))
        span, span_week, span_util = str(lu["span"].to_numpy()[j]), int(lu["week"].to_numpy()[j]), float(util[j])
        at_limit = int((lu.groupby("span")["utilisation"].max() >= AT_LIMIT * limit).sum())
    else:
        span, span_week, span_util, at_limit = "", 0, math.nan, 0
    return Headline(
        revenue_usd=plan.revenue_usd, power_cost_usd=plan.power_cost_usd,
        transport_cost_usd=plan.transport_cost_usd, objective_usd=float(plan.objective_usd),
        bound_usd=float(plan.bound_usd), gap=float(plan.gap),
        leases_placed=int(placed[~placed.isin(internal)].nunique()), leases_unplaced=len(unplaced),
        revenue_left_out_usd=float(unplaced["revenue_usd"].sum()), leased_gpus_peak=plan.leased_gpus(),
        surplus_sold=surplus,
        power_use_avg=avg, power_use_peak=peak, power_peak_site=peak_site, power_peak_week=peak_week,
        power_peak_mw=peak_mw, power_peak_available_mw=peak_avail, span_peak=span, span_peak_week=span_week,
        span_peak_utilisation=span_util, limit=limit, spans_at_limit=at_limit,
    )
