"""The report's "Leases and APIs" section: what raw leases and hosted-model APIs each earn from the GPUs.

Shown when the plan had API demand (:func:`planner.usesplit.has_apis`). From the
plan's tables (:mod:`planner.usesplit`): the split of revenue, net value, GPU-hours
and facility MW between leases, APIs and internal work, revenue per MW-year and per
GPU-hour of leases and APIs side by side (the comparison an operator decides on), a
weekly chart of GPUs by use per campus, API demand served and unserved per model and
region and week, and the unserved demand with its reasons in a sortable table.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from planner.plan import Plan
from planner.report.style import COLOURS, compact, fmt_int, fmt_mw, fmt_pct, fmt_usd, fmt_usd_full, mpl_text
from planner.report.svg import new_figure, styled, svg_element
from planner.report.tables import Column, html_table
from planner.scenario import Scenario
from planner.usesplit import api_by_week, api_totals, gpus_by_use, unserved_runs, use_split

__all__ = ["API_COLOURS", "MAX_DEMAND_PANELS", "apis_section", "demand_figure", "gpus_by_use_figure",
           "yardstick_figure"]

API_COLOURS: dict[str, str] = {"leases": COLOURS["leased"], "apis": COLOURS["api"], "internal": COLOURS["internal"],
                               "free": COLOURS["free"], "served": COLOURS["api"], "unserved": "#f4c7c3"}
"""Colours of the uses (leased blue, API amber, internal slate, free pale green) and of served / unserved demand."""
USE_LABELS = {"leases": "Leases", "apis": "APIs", "internal": "Internal work"}
MAX_DEMAND_PANELS = 12
"""Model x region panels of the demand chart: the most demand first (the table and ``api_use.csv`` have all)."""
MAX_UNSERVED_ROWS = 300
"""Rows of the unserved-demand table: the most revenue lost first (``api_use.csv`` has every week)."""

e = html.escape


def _steps(weeks: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each week a flat step from w - 0.5 to w + 0.5."""
    return np.column_stack([weeks - 0.5, weeks + 0.5]).ravel(), np.repeat(values, 2)


@styled
def yardstick_figure(split: pd.DataFrame) -> Figure:
    """Revenue per GPU-hour and per MW-year, leases against APIs: two small bar pairs."""
    fig = new_figure(12.0, 2.3)
    axes = fig.subplots(1, 2)
    for ax, (key, title, fmt) in zip(axes, (
            ("usd_per_gpu_hour", "Revenue per GPU-hour", lambda v: f"${v:,.2f}"),
            ("usd_per_mw_year", "Revenue per MW-year (facility power)", fmt_usd)), strict=True):
        vals = [float(split.loc[u, key]) for u in ("leases", "apis")]
        shown = [v if math.isfinite(v) else 0.0 for v in vals]
        bars = ax.barh([1, 0], shown, color=[API_COLOURS["leases"], API_COLOURS["apis"]], height=0.6)
        ax.set_yticks([1, 0], ["leases", "APIs"])
        ax.grid(axis="y", visible=False)
        ax.set_title(title)
        top = max(*shown, 1e-9)
        ax.set_xlim(0, top * 1.3)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _p, f=fmt: mpl_text(f(x))))
        ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
        for bar, v in zip(bars, vals, strict=True):
            ax.text(bar.get_width() + top * 0.02, bar.get_y() + bar.get_height() / 2,
                    mpl_text(fmt(v)) if math.isfinite(v) else "none sold", va="center", fontsize=9)
    return fig


@styled
def gpus_by_use_figure(sc: Scenario, plan: Plan) -> Figure:
    """GPUs by use per campus and week, stacked: leased, API, internal and free (one panel per campus)."""
    use = gpus_by_use(sc, plan)
    sites = [str(s) for s in sc.sites.index]
    cols = min(len(sites), 2) or 1
    rows = max(math.ceil(len(sites) / cols), 1)
    fig = new_figure(12.0, 0.6 + 2.6 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    weeks = sc.weeks.to_numpy(float)
    for ax, site in zip(axes, sites, strict=False):
        df = use[use["site"] == site].set_index("week")[
            ["leased_gpus", "api_gpus", "internal_gpus", "free_gpus"]].reindex(sc.weeks, fill_value=0)
        base = np.zeros(2 * len(weeks))
        for key, col in (("leases", "leased_gpus"), ("apis", "api_gpus"), ("internal", "internal_gpus"),
                         ("free", "free_gpus")):
            xs, ys = _steps(weeks, df[col].to_numpy(float))
            edge = COLOURS["free_edge"] if key == "free" else "white"
            label = {"leases": "leased", "apis": "API", "internal": "internal", "free": "free"}[key]
            ax.fill_between(xs, base, base + ys, facecolor=API_COLOURS[key], edgecolor=edge, linewidth=0.4,
                            label=label, zorder=2)
            base = base + ys
        ax.set_ylim(0, max(float(base.max()), 1.0) * 1.02)
        ax.set_xlim(weeks.min() - 0.5, weeks.max() + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=2))
        ax.yaxis.set_major_formatter(FuncFormatter(compact))
        ax.set_title(mpl_text(f"{sc.sites.loc[site, 'name']} ({site}): GPUs by use"))
        ax.set_xlabel("week")
    for ax in axes[len(sites):]:
        ax.set_visible(False)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=4, handlelength=1.2)
    return fig


def _demand_panels(plan: Plan) -> tuple[pd.DataFrame, list[tuple[str, str]]]:
    """Demand per (model, region, week) and the panels shown: the most tokens asked first."""
    by = api_by_week(plan)
    order = by.groupby(["model", "region"])["demand_tokens_per_s"].sum().sort_values(ascending=False)
    return by, [(str(m), str(r)) for m, r in order.index[:MAX_DEMAND_PANELS]]


@styled
def demand_figure(sc: Scenario, plan: Plan) -> Figure:
    """API demand served (solid) and unserved (pale red) in tokens/s per week, one panel per model and region."""
    by, panels = _demand_panels(plan)
    cols = min(len(panels), 3) or 1
    rows = max(math.ceil(len(panels) / cols), 1)
    fig = new_figure(12.0, 0.6 + 2.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    weeks = sc.weeks.to_numpy(float)
    for ax, (model, region) in zip(axes, panels, strict=False):
        df = by[(by["model"] == model) & (by["region"] == region)].set_index("week")[
            ["demand_tokens_per_s", "served_tokens_per_s", "unserved_tokens_per_s"]].reindex(sc.weeks, fill_value=0)
        xs, served = _steps(weeks, df["served_tokens_per_s"].to_numpy(float))
        _, unserved = _steps(weeks, df["unserved_tokens_per_s"].to_numpy(float))
        ax.fill_between(xs, 0, served, facecolor=API_COLOURS["served"], edgecolor="white", linewidth=0.4,
                        label="served", zorder=2)
        ax.fill_between(xs, served, served + unserved, facecolor=API_COLOURS["unserved"], edgecolor="none",
                        label="unserved", zorder=2)
        asked = float(df["demand_tokens_per_s"].sum())
        share = float(df["served_tokens_per_s"].sum()) / asked if asked > 0 else math.nan
        ax.set_title(mpl_text(f"{model} → {region}: {fmt_pct(share, 0)} served"), fontsize=9.5)
        ax.set_ylim(0, max(float((served + unserved).max()), 1.0) * 1.1)
        ax.set_xlim(weeks.min() - 0.5, weeks.max() + 0.5)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, integer=True, min_n_ticks=2))
        ax.yaxis.set_major_formatter(FuncFormatter(compact))
        ax.set_ylabel("tokens/s")
    for ax in axes[len(panels):]:
        ax.set_visible(False)
    if panels:
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper right", ncols=2, handlelength=1.2)
    return fig


def _split_table(split: pd.DataFrame) -> str:
    df = split.reset_index()
    df["label"] = df["use"].map(USE_LABELS)
    usd = lambda v: fmt_usd_full(float(v))  # noqa: E731
    return html_table(df, [
        Column("Use", "label", nowrap=True),
        Column("Revenue", "revenue_usd", usd, numeric=True),
        Column("Net value", "net_usd", usd, numeric=True,
               title="Leases: revenue − power − transport; APIs: revenue − power − transport − replica starts"),
        Column("Share of revenue", "revenue_share", lambda v: fmt_pct(float(v), 1), numeric=True),
        Column("GPU-hours", "gpu_hours", fmt_int, numeric=True),
        Column("Share of GPU-hours", "gpu_hours_share", lambda v: fmt_pct(float(v), 1), numeric=True),
        Column("MW (mean)", "mw_mean", lambda v: fmt_mw(float(v)), numeric=True,
               title="Facility power (IT × PUE) drawn, mean over the horizon's weeks, all campuses"),
        Column("MW (peak)", "mw_peak", lambda v: fmt_mw(float(v)), numeric=True,
               title="Facility power drawn in the busiest week, all campuses"),
        Column("Revenue per MW-year", "usd_per_mw_year", lambda v: fmt_usd(float(v)), numeric=True),
        Column("Revenue per GPU-hour", "usd_per_gpu_hour", lambda v: f"${float(v):,.2f}", numeric=True),
    ], "api-split-table")


def _unserved_table(sc: Scenario, plan: Plan) -> tuple[str, int]:
    runs = unserved_runs(sc, plan)
    shown = runs.head(MAX_UNSERVED_ROWS).copy()
    shown["weeks_shown"] = [f"{a}–{b}" if a != b else str(a)
                            for a, b in zip(shown["start_week"], shown["end_week"], strict=True)]
    table = html_table(shown, [
        Column("Stream", "stream", nowrap=True), Column("Model", "model", nowrap=True),
        Column("Region", "region", nowrap=True),
        Column("Weeks", "weeks_shown", nowrap=True),
        Column("Demand", "demand_tokens_per_s", lambda v: f"{float(v):,.0f} tok/s", numeric=True,
               title="Peak tokens/s asked in the run of weeks"),
        Column("Unserved", "unserved_tokens_per_s", lambda v: f"{float(v):,.0f} tok/s", numeric=True,
               title="Most tokens/s left unserved in a week of the run"),
        Column("Share unserved", "unserved_share", lambda v: fmt_pct(float(v), 0), numeric=True),
        Column("Revenue lost", "revenue_lost_usd", lambda v: fmt_usd_full(float(v)), numeric=True,
               title="What the unserved tokens would have paid at the stream's price"),
        Column("Why", "reason", lambda v: str(v) or "—"),
    ], "api-unserved-table")
    return table, len(runs)


def _card(label: str, value: str, sub: str, title: str = "") -> str:
    t = f' title="{e(title)}"' if title else ""
    return (f'<div class="card"{t}><div class="label">{e(label)}</div><div class="value">{value}</div>'
            f'<div class="sub">{sub}</div></div>')


def _ratio(a: float, b: float) -> str:
    """How many times ``a`` is ``b``, in words."""
    if not (math.isfinite(a) and math.isfinite(b)) or b <= 0:
        return ""
    return f"{a / b:,.2f}× leases"


def apis_section(sc: Scenario, plan: Plan) -> str:
    """The section (id ``apis``): the split of uses, the yardsticks side by side, GPUs by use, API demand.

    Returns
    -------
    str
        HTML ``<section>`` with table ``api-split-table``, charts ``api-yardstick-chart``,
        ``api-gpus-chart`` and ``api-demand-chart``, and table ``api-unserved-table``.
    """
    split = use_split(sc, plan)
    totals = api_totals(sc, plan)
    lease, api = split.loc["leases"], split.loc["apis"]
    cards = [
        _card("APIs net value", fmt_usd(totals["net_usd"]),
              f"revenue {fmt_usd(totals['revenue_usd'])} − power {fmt_usd(totals['power_usd'])} − transport "
              f"{fmt_usd(totals['transport_usd'])} − starts {fmt_usd(totals['start_usd'])}",
              title=f"{fmt_usd_full(totals['net_usd'])}"),
        _card("Tokens served", f"{totals['tokens_served'] / 1e9:,.1f} B",
              f"{fmt_pct(totals['served_share'], 1)} of {totals['tokens_demanded'] / 1e9:,.1f} B asked"),
        _card("Revenue per GPU-hour", f"${api['usd_per_gpu_hour']:,.2f}" if math.isfinite(api["usd_per_gpu_hour"])
              else "—", f"APIs {_ratio(api['usd_per_gpu_hour'], lease['usd_per_gpu_hour'])} · leases "
              + (f"${lease['usd_per_gpu_hour']:,.2f}" if math.isfinite(lease["usd_per_gpu_hour"]) else "—"),
              title="API revenue / GPU-hours of API replicas, against lease revenue / GPU-hours leased"),
        _card("Revenue per MW-year", fmt_usd(api["usd_per_mw_year"]),
              f"APIs {_ratio(api['usd_per_mw_year'], lease['usd_per_mw_year'])} · leases "
              f"{fmt_usd(lease['usd_per_mw_year'])}",
              title="Revenue / MW-years of facility power (IT × PUE) each use draws"),
    ]
    yard = svg_element(yardstick_figure(split), "api-yardstick-chart",
                       "Revenue per GPU-hour and per MW-year, leases against APIs")
    gpus = svg_element(gpus_by_use_figure(sc, plan), "api-gpus-chart",
                       "GPUs by use per campus and week: leased, API, internal and free")
    demand = svg_element(demand_figure(sc, plan), "api-demand-chart",
                         "API demand served and unserved per model, region and week")
    unserved, n_runs = _unserved_table(sc, plan)
    panels = _demand_panels(plan)[1]
    n_pairs = api_by_week(plan).groupby(["model", "region"]).ngroups
    more = (f" The {len(panels)} model × region pairs with the most demand of {n_pairs} are drawn; "
            "api_use.csv has every stream and week." if n_pairs > len(panels) else "")
    shown = min(n_runs, MAX_UNSERVED_ROWS)
    filt = (f'<div class="toolbar"><span>showing <span id="api-unserved-count">{shown:,}</span> of {n_runs:,} · '
            'click a column heading to sort</span><input type="search" placeholder="Filter rows…" '
            'aria-label="Filter the unserved demand" data-filter="api-unserved-table" '
            'data-count="api-unserved-count"></div>')
    lede = ("The surplus is sold two ways: raw GPU leases and hosted-model APIs (tokens). Side by side, what each "
            "earns for the GPUs and the facility power it takes — the comparison that decides how surplus is sold. "
            "Internal work earns nothing; it is shown for the GPU-hours and MW it holds, and its net value is the "
            "power and transport of the internal workloads the plan places.")
    runs = f"{fmt_int(n_runs)} run{'' if n_runs == 1 else 's'} of weeks"
    unserved_part = (f'<h3>Unserved API demand ({runs}, the most revenue lost first)</h3>{filt}'
                     f'<div class="scroll">{unserved}</div>' if n_runs else
                     '<h3>Unserved API demand</h3><p class="lede">Every stream is served in full in every week.</p>')
    return (f'<section id="apis"><h2>Leases and APIs</h2><p class="lede">{e(lede)}</p>'
            f'<div class="cards" style="margin:0 0 12px">{"".join(cards)}</div>'
            f'<div class="scroll">{_split_table(split)}</div>'
            f'<figure class="panel" style="margin:12px 0">{yard}</figure>'
            f'<h3>GPUs by use, per campus</h3><figure class="panel" style="margin-bottom:12px">{gpus}</figure>'
            f'<h3>API demand served and unserved</h3><p class="lede">Tokens/s asked per week, served '
            f'(<span class="swatch" style="background:{API_COLOURS["served"]}"></span>) and left unserved '
            f'(<span class="swatch" style="background:{API_COLOURS["unserved"]}"></span>).{e(more)}</p>'
            f'<figure class="panel" style="margin-bottom:12px">{demand}</figure>{unserved_part}</section>')
