"""The report's manager's view: the plan against the greedy baseline, revenue by tenant and kind, the yardsticks.

The yardsticks are the industry's: revenue per GPU-hour sold, and revenue per
MW-year -- of the facility power the leases draw (what a sold MW earns) and of the
power the campuses have (what the campus as built earns from its surplus).

The greedy baseline (:func:`planner.optimise.heuristics.greedy.greedy`, price-ordered first fit) is
run here when the plan records none (``plan.meta["baseline"]``) and the scenario is
small enough for it to take about a second (:data:`MAX_BASELINE_PAIRS`).
"""

from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from planner.errors import InfeasibleError
from planner.plan import Plan
from planner.report.style import COLOURS, fmt_int, fmt_pct, fmt_usd, fmt_usd_full
from planner.report.svg import new_figure, styled, svg_element
from planner.scenario import Scenario

__all__ = ["MAX_BASELINE_PAIRS", "Yardsticks", "baseline_figures", "comparison_figure", "gpu_hours_sold",
           "manager_section", "plan_figures", "revenue_by", "revenue_figure", "whatif_cards", "yardsticks"]

log = logging.getLogger(__name__)

MAX_BASELINE_PAIRS = 2_000_000
"""Leases x pods above which the report does not run the greedy baseline itself (it would take long)."""

HOURS_PER_YEAR = 8760.0
PRIORITY_COLOURS = {"committed": COLOURS["leased"], "spot": "#93c5fd"}
MAX_TENANTS = 15


def _leases(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Placement rows of leases (internal work left out)."""
    pl = plan.placements
    return pl[pl["lease"].map(sc.workloads["priority"]) != "internal"]


def gpu_hours_sold(sc: Scenario, plan: Plan) -> float:
    """GPU-hours the placed leases hold: GPUs x weeks of term x hours per week, summed.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> gpu_hours_sold(sc, greedy(sc, explain=False)) > 0
    True
    """
    pl = _leases(sc, plan)
    weeks = pl["end_week"] - pl["start_week"] + 1
    return float((pl["gpus"] * weeks).sum()) * float(sc.horizon.hours_per_period)


def plan_figures(sc: Scenario, plan: Plan) -> dict[str, float]:
    """Net value, revenue, leases placed and GPU-hours sold of a plan (what the comparison shows)."""
    pl = _leases(sc, plan)
    return {"objective_usd": float(plan.objective_usd), "revenue_usd": float(pl["revenue_usd"].sum()),
            "leases_placed": float(pl["lease"].nunique()), "gpu_hours": gpu_hours_sold(sc, plan)}


@dataclass(frozen=True)
class Yardsticks:
    """Revenue per unit sold.

    Attributes
    ----------
    usd_per_gpu_hour
        Revenue / GPU-hours sold.
    usd_per_mw_year_leased
        Revenue / MW-years of facility power (IT x PUE) the leases draw.
    usd_per_mw_year_campus
        Revenue / MW-years of power the campuses have over the horizon.
    leased_mw_years, campus_mw_years, gpu_hours
        The denominators.
    """

    usd_per_gpu_hour: float
    usd_per_mw_year_leased: float
    usd_per_mw_year_campus: float
    leased_mw_years: float
    campus_mw_years: float
    gpu_hours: float


def yardsticks(sc: Scenario, plan: Plan) -> Yardsticks:
    """Revenue per GPU-hour sold and per MW-year, from the plan's tables.

    Leased MW per pod and week is ``leased_gpus x server kW per GPU x PUE / 1000``
    (``pod_use``); a week is ``hours_per_period / 8760`` of a year.
    """
    revenue = float(_leases(sc, plan)["revenue_usd"].sum())
    hours = float(sc.horizon.hours_per_period)
    pu = plan.pod_use
    kw = pu["sku"].map(sc.skus["server_kw_per_gpu"]) * pu["site"].map(sc.sites["pue"])
    leased = float((pu["leased_gpus"] * kw).sum()) / 1000.0 * hours / HOURS_PER_YEAR
    campus = float(sc.site_power_mw.to_numpy(float).sum()) * hours / HOURS_PER_YEAR
    gh = gpu_hours_sold(sc, plan)

    def per(x: float) -> float:
        return revenue / x if x > 0 else float("nan")

    return Yardsticks(usd_per_gpu_hour=per(gh), usd_per_mw_year_leased=per(leased),
                      usd_per_mw_year_campus=per(campus), leased_mw_years=leased, campus_mw_years=campus,
                      gpu_hours=gh)


def baseline_figures(sc: Scenario, plan: Plan) -> tuple[dict[str, float] | None, str]:
    """The greedy baseline's figures (see :func:`plan_figures`) and where they come from.

    Returns ``(None, why)`` when the plan is the baseline itself, or the baseline is
    not recorded and too large to run here, or cannot place the internal work.
    """
    if plan.method == "greedy":
        return None, "This plan is the greedy baseline itself: run the optimiser to compare against it."
    recorded = plan.meta.get("baseline")
    if isinstance(recorded, dict) and {"objective_usd", "revenue_usd", "leases_placed", "gpu_hours"} <= set(recorded):
        return {k: float(recorded[k]) for k in ("objective_usd", "revenue_usd", "leases_placed", "gpu_hours")}, (
            "recorded with the plan")
    pairs = len(sc.workloads) * len(sc.pods)
    if pairs > MAX_BASELINE_PAIRS:
        return None, (f"The greedy baseline was not run for the report ({fmt_int(len(sc.workloads))} workloads × "
                      f"{fmt_int(len(sc.pods))} pods); plan with --greedy to compare.")
    from planner.optimise.heuristics.greedy import greedy

    t = time.perf_counter()
    try:
        base = greedy(sc, explain=False)
    except InfeasibleError as exc:
        return None, f"The greedy baseline cannot place the internal work ({html.escape(str(exc))})."
    log.info("greedy baseline for the report in %.2f s", time.perf_counter() - t)
    return plan_figures(sc, base), "run for this report"


def revenue_by(sc: Scenario, plan: Plan, key: str) -> pd.DataFrame:
    """Lease revenue by a lease field (``tenant``, ``kind``), split by priority (committed / spot).

    Returns
    -------
    DataFrame
        Indexed by the field's values, one column per priority, richest first.
    """
    pl = _leases(sc, plan)
    wl = sc.workloads
    df = pd.DataFrame({key: pl["lease"].map(wl[key]).astype(str), "priority": pl["lease"].map(wl["priority"]),
                       "revenue_usd": pl["revenue_usd"]})
    out = df.pivot_table(index=key, columns="priority", values="revenue_usd", aggfunc="sum", fill_value=0.0)
    return out.loc[out.sum(axis=1).sort_values(ascending=False).index]


def _usd_axis(x: float, _pos: object = None) -> str:
    return fmt_usd(x).replace("$", r"\$")


@styled
def comparison_figure(mine: dict[str, float], base: dict[str, float]) -> Figure:
    """Four small bar pairs: this plan against the greedy baseline, with the difference in per cent."""
    fig = new_figure(12.0, 2.5)
    axes = fig.subplots(1, 4)
    what = [("objective_usd", "Net value", _usd_axis), ("revenue_usd", "Revenue", _usd_axis),
            ("leases_placed", "Leases placed", lambda x, _p=None: f"{x:,.0f}"),
            ("gpu_hours", "GPU-hours sold", lambda x, _p=None: f"{x / 1e6:,.0f}M" if x >= 1e6 else f"{x:,.0f}")]
    for ax, (key, title, fmt) in zip(axes, what, strict=True):
        vals = [base[key], mine[key]]
        ax.bar([0, 1], vals, color=[COLOURS["internal"], COLOURS["leased"]], width=0.6)
        ax.set_xticks([0, 1], ["greedy", "this plan"])
        ax.yaxis.set_major_formatter(FuncFormatter(fmt))
        ax.grid(axis="x", visible=False)
        diff = (mine[key] - base[key]) / abs(base[key]) if base[key] else float("nan")
        ax.set_title(f"{title}  {'+' if diff >= 0 else '−'}{abs(diff):.1%}" if np.isfinite(diff) else title)
        top = max(vals) if max(vals) > 0 else 1.0
        ax.set_ylim(0, top * 1.12)
    return fig


@styled
def revenue_figure(by_tenant: pd.DataFrame, by_kind: pd.DataFrame) -> Figure:
    """Revenue by tenant (the largest) and by lease kind, stacked committed / spot."""
    tenants = by_tenant.head(MAX_TENANTS)
    rest = by_tenant.iloc[MAX_TENANTS:].sum()
    if len(by_tenant) > MAX_TENANTS:
        tenants = pd.concat([tenants, rest.to_frame(f"{len(by_tenant) - MAX_TENANTS} others").T])
    rows = max(len(tenants), len(by_kind), 1)
    fig = new_figure(12.0, 1.0 + 0.28 * rows)
    ax_t, ax_k = fig.subplots(1, 2, width_ratios=[1.4, 1])
    for ax, df, title in ((ax_t, tenants, "Revenue by tenant"), (ax_k, by_kind, "Revenue by lease kind")):
        ax.set_title(title)
        ax.grid(axis="y", visible=False)
        if df.empty:
            ax.text(0.5, 0.5, "no lease placed", ha="center", va="center", transform=ax.transAxes)
            continue
        left = np.zeros(len(df))
        y = np.arange(len(df))
        for prio in sorted(df.columns):
            vals = df[prio].to_numpy(float)
            ax.barh(y, vals, left=left, color=PRIORITY_COLOURS.get(str(prio), COLOURS["muted"]), label=str(prio),
                    height=0.7)
            left += vals
        ax.set_yticks(y, [str(i) for i in df.index])
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(FuncFormatter(_usd_axis))
    if ax_k.get_legend_handles_labels()[0]:
        ax_k.legend(loc="lower right")
    return fig


def _card(label: str, value: str, sub: str, title: str = "") -> str:
    t = f' title="{html.escape(title)}"' if title else ""
    return (f'<div class="card"{t}><div class="label">{html.escape(label)}</div><div class="value">{value}</div>'
            f'<div class="sub">{sub}</div></div>')


def whatif_cards(plan: Plan, failures: pd.DataFrame | None, *, linked: frozenset[str] = frozenset()) -> list[str]:
    """Cards for the what-if runs the page shows: a derate (``plan.meta["derate"]``) and failure cases.

    Parameters
    ----------
    plan : Plan
    failures : DataFrame, optional
        Failure cases (``case``, ``revenue_at_risk_usd``, ...), as the report's failures section takes them.
    linked : frozenset of str
        Ids of the page's sections; a card links to ``derate`` or ``failures`` when it is there.
    """
    out = []
    d = plan.meta.get("derate")
    if isinstance(d, dict) and {"site", "percent", "weeks", "revenue_before_usd", "revenue_after_usd"} <= set(d):
        lost = float(d["revenue_before_usd"]) - float(d["revenue_after_usd"])
        weeks = list(d["weeks"])
        more = ' · <a href="#derate">details</a>' if "derate" in linked else ""
        out.append(_card(f"Derate {d['site']} −{float(d['percent']):g} % weeks {weeks[0]}–{weeks[-1]}",
                         ("−" if lost > 0 else "") + fmt_usd(abs(lost)),
                         f"revenue {fmt_usd(float(d['revenue_before_usd']))} → "
                         f"{fmt_usd(float(d['revenue_after_usd']))} · {len(d.get('curtailed', []))} curtailed · "
                         f"{len(d.get('moved', []))} moved{more}"))
    if failures is not None and len(failures):
        risk = pd.to_numeric(failures["revenue_at_risk_usd"], errors="coerce")
        at_risk = int((risk > 0).sum())
        more = ' · <a href="#failures">cases</a>' if "failures" in linked else ""
        if risk.notna().any():
            worst = failures.loc[risk.idxmax()]
            out.append(_card("Worst fibre cut", fmt_usd(float(risk.max())),
                             f"revenue at risk if {html.escape(str(worst['case']))} · {at_risk} of "
                             f"{len(failures)} cases put revenue at risk{more}"))
    return out


def manager_section(sc: Scenario, plan: Plan, *, failures: pd.DataFrame | None = None,
                    linked: frozenset[str] = frozenset()) -> str:
    """The manager's view (id ``manager``): against the baseline, the yardsticks, revenue by tenant and kind.

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    failures, linked
        The what-if results the page shows (see :func:`whatif_cards`).

    Returns
    -------
    str
        HTML ``<section>`` with charts ``baseline-chart`` (when there is a baseline) and ``revenue-chart``.
    """
    mine = plan_figures(sc, plan)
    base, source = baseline_figures(sc, plan)
    y = yardsticks(sc, plan)
    cards = [
        _card("Revenue per GPU-hour sold", f"${y.usd_per_gpu_hour:,.2f}" if np.isfinite(y.usd_per_gpu_hour) else "—",
              f"{fmt_int(y.gpu_hours)} GPU-hours sold", title="lease revenue / GPU-hours the placed leases hold"),
        _card("Revenue per MW-year sold", fmt_usd(y.usd_per_mw_year_leased),
              f"{y.leased_mw_years:,.1f} MW-years of facility power leased",
              title="lease revenue / MW-years the leases draw (IT × PUE)"),
        _card("Revenue per MW-year of campus", fmt_usd(y.usd_per_mw_year_campus),
              f"{y.campus_mw_years:,.1f} MW-years available at the campuses",
              title="lease revenue / MW-years the campuses can draw over the horizon"),
    ]
    cards += whatif_cards(plan, failures, linked=linked)
    parts: list[str] = []
    if base is not None:
        gain = mine["objective_usd"] - base["objective_usd"]
        cards.insert(0, _card("Against the greedy baseline", ("+" if gain >= 0 else "−") + fmt_usd(abs(gain)),
                              f"net value {fmt_usd(mine['objective_usd'])} vs {fmt_usd(base['objective_usd'])} "
                              f"({fmt_pct(gain / abs(base['objective_usd']), 1) if base['objective_usd'] else '—'})",
                              title=f"{fmt_usd_full(mine['objective_usd'])} against "
                                    f"{fmt_usd_full(base['objective_usd'])}; baseline {source}"))
        chart = svg_element(comparison_figure(mine, base), "baseline-chart",
                            "This plan against the greedy baseline: net value, revenue, leases, GPU-hours")
        parts.append(f'<figure class="panel" style="margin-bottom:12px">{chart}</figure>')
        note = (f"The greedy baseline (price-ordered first fit, {source}) places "
                f"{fmt_int(base['leases_placed'])} leases for {fmt_usd(base['revenue_usd'])}; this plan "
                f"{fmt_int(mine['leases_placed'])} for {fmt_usd(mine['revenue_usd'])}.")
    else:
        note = source
    revenue = svg_element(revenue_figure(revenue_by(sc, plan, "tenant"), revenue_by(sc, plan, "kind")),
                          "revenue-chart", "Revenue by tenant and by lease kind, committed and spot")
    parts.append(f'<figure class="panel">{revenue}</figure>')
    lede = (f"{html.escape(note)} Revenue per GPU-hour and per MW-year are the yardsticks operators and "
            "neoclouds are compared by.")
    return (f'<section id="manager"><h2>The plan in business terms</h2><p class="lede">{lede}</p>'
            f'<div class="cards" style="margin:0 0 12px">{"".join(cards)}</div>{"".join(parts)}</section>')
