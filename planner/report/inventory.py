"""The report's "What is left to sell" section: the sellable inventory as heat maps and a table.

Built from :func:`planner.surplus.surplus` and :func:`planner.surplus.surplus_runs`:
one heat map of sellable GPUs per campus and SKU over the weeks (cells where power,
not GPUs, sets the figure are marked), one of the usable fibre headroom from each
campus to each PoP, and the runs a seller quotes from.
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
from matplotlib.colors import LinearSegmentedColormap
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from planner.plan import Plan
from planner.report.style import COLOURS, compact, fmt_gbps, fmt_int
from planner.report.svg import new_figure, styled, svg_element
from planner.report.tables import Column, html_table
from planner.scenario import Scenario
from planner.surplus import surplus, surplus_runs

__all__ = ["MAX_RUNS_SHOWN", "fibre_heatmap_figure", "inventory_section", "sellable_heatmap_figure", "selling_line"]

MAX_RUNS_SHOWN = 300
"""Runs listed in the section's table (the largest by sellable GPU-hours); ``surplus_runs.csv`` has all."""
MAX_HEAT_ROWS = 30
"""Rows of each heat map: the campus x SKU pairs (and campus -> PoP pairs) with most sellable GPU-hours."""

_SELLABLE = LinearSegmentedColormap.from_list("planner_sellable", ["#f3f6f4", COLOURS["free"], "#3f8f55", "#14532d"])
_FIBRE = LinearSegmentedColormap.from_list("planner_fibre", ["#b91c1c", "#f2c14e", "#d5e6f3", "#2f6fdf"])


def _weekly(runs: pd.DataFrame, weeks: pd.Index, value: str) -> pd.DataFrame:
    """Rows ``site · sku``, one column per week, from the runs (0 where nothing is free)."""
    rows: dict[str, np.ndarray] = {}
    w = weeks.to_numpy()
    for r in runs.itertuples():
        key = f"{r.site} · {r.sku}"
        arr = rows.setdefault(key, np.zeros(len(w)))
        arr[(w >= r.start_week) & (w <= r.end_week)] = float(getattr(r, value))
    return pd.DataFrame.from_dict(rows, orient="index", columns=w).sort_index()


@styled
def sellable_heatmap_figure(sc: Scenario, runs: pd.DataFrame) -> Figure:
    """Sellable GPUs per campus and SKU (rows) and week (columns); a dot where power, not GPUs, sets the figure.

    Parameters
    ----------
    sc : Scenario
    runs : DataFrame
        :func:`planner.surplus.surplus_runs`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    sell = _weekly(runs, sc.weeks, "sellable_gpus")
    if len(sell) > MAX_HEAT_ROWS:  # the pairs with most to sell
        sell = sell.loc[sell.sum(axis=1).sort_values(ascending=False).index[:MAX_HEAT_ROWS]].sort_index()
    free = _weekly(runs, sc.weeks, "free_gpus").reindex_like(sell)
    n = max(len(sell), 1)
    fig = new_figure(12.0, 1.1 + 0.42 * n)
    ax = fig.subplots()
    ax.grid(False)
    weeks = sc.weeks.to_numpy(float)
    if sell.empty:
        ax.text(0.5, 0.5, "nothing is left free", ha="center", va="center", transform=ax.transAxes,
                color=COLOURS["muted"])
        ax.set_axis_off()
        return fig
    mesh = ax.pcolormesh(np.append(weeks - 0.5, weeks[-1] + 0.5), np.arange(n + 1), sell.to_numpy(),
                         cmap=_SELLABLE, vmin=0, shading="flat", edgecolors="white", linewidth=0.4)
    limited = (sell.to_numpy() < free.to_numpy()) & (free.to_numpy() > 0)
    yy, xx = np.nonzero(limited)
    if len(xx):
        ax.scatter(weeks[xx], yy + 0.5, s=9, marker="o", color=COLOURS["power"], linewidths=0,
                   label="power limits the sale (fewer sellable than free)", zorder=3)
        fig.legend(loc="outside lower left")
    ax.set_yticks(np.arange(n) + 0.5, sell.index)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set_xlabel("week")
    more = f" (top {len(sell)} by GPUs to sell)" if len(sell) == MAX_HEAT_ROWS else ""
    ax.set_title(f"Sellable GPUs: min(free GPUs, GPUs the power headroom runs){more}")
    bar = fig.colorbar(mesh, ax=ax, fraction=0.03, pad=0.01, format=FuncFormatter(compact))
    bar.set_label("GPUs")
    bar.outline.set_visible(False)
    return fig


@styled
def fibre_heatmap_figure(sc: Scenario, inv: pd.DataFrame) -> Figure:
    """Usable Gbps left on the widest path from each campus (with free GPUs) to each PoP, per week.

    Parameters
    ----------
    sc : Scenario
    inv : DataFrame
        :func:`planner.surplus.surplus`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pops = [str(p) for p in sc.pops.index]
    per = inv.groupby(["site", "week"])[[f"to_{p}_gbps" for p in pops]].first()
    rows, labels = [], []
    w = sc.weeks
    hours = inv.groupby("site")["free_gpus"].sum().sort_values(ascending=False)
    sites = [s for s in sc.sites.index if s in hours.index]
    if len(sites) * max(len(pops), 1) > MAX_HEAT_ROWS:  # the campuses with most free
        keep = set(hours.index[:max(MAX_HEAT_ROWS // max(len(pops), 1), 1)])
        sites = [s for s in sites if s in keep]
    for site in sites:
        part = per.xs(site, level=0).reindex(w)
        for p in pops:
            rows.append(part[f"to_{p}_gbps"].to_numpy(float) / 1000.0)
            labels.append(f"{site} → {p}")
    n = max(len(rows), 1)
    fig = new_figure(12.0, 1.1 + 0.3 * n)
    ax = fig.subplots()
    ax.grid(False)
    if not rows:
        ax.text(0.5, 0.5, "no campus has free GPUs", ha="center", va="center", transform=ax.transAxes,
                color=COLOURS["muted"])
        ax.set_axis_off()
        return fig
    weeks = w.to_numpy(float)
    data = np.ma.masked_invalid(np.vstack(rows))
    mesh = ax.pcolormesh(np.append(weeks - 0.5, weeks[-1] + 0.5), np.arange(n + 1), data, cmap=_FIBRE, vmin=0,
                         shading="flat", edgecolors="white", linewidth=0.3)
    ax.set_yticks(np.arange(n) + 0.5, labels)
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
    ax.set_xlabel("week (blank: no free GPUs at the campus)")
    ax.set_title("Fibre headroom: usable Tb/s left on the widest path to each PoP")
    bar = fig.colorbar(mesh, ax=ax, fraction=0.03, pad=0.01)
    bar.set_label("Tb/s")
    bar.outline.set_visible(False)
    return fig


def selling_line(runs: pd.DataFrame) -> str:
    """One sentence a seller reads first: the largest run, and the PoP it reaches with least room.

    Examples
    --------
    >>> runs = pd.DataFrame([{"site": "LA-RCH", "sku": "B200", "start_week": 14, "end_week": 30, "weeks": 17,
    ...                       "free_gpus": 4096, "power_gpus": 9000, "sellable_gpus": 4096, "gpu_hours": 1e7,
    ...                       "to_DFW_gbps": 1200.0, "to_ATL_gbps": 9000.0}])
    >>> selling_line(runs)
    '4,096 B200 free in LA-RCH weeks 14–30, but only 1.2 Tb/s to DFW.'
    """
    if runs.empty:
        return "Nothing is left to sell: every GPU is used in every week."
    best = runs.sort_values(["gpu_hours", "sellable_gpus"], ascending=False).iloc[0]
    weeks = (f"week {best['start_week']}" if best["start_week"] == best["end_week"]
             else f"weeks {best['start_week']}–{best['end_week']}")
    head = f"{int(best['sellable_gpus']):,} {best['sku']} free in {best['site']} {weeks}"
    if best["sellable_gpus"] < best["free_gpus"]:
        head += f" (of {int(best['free_gpus']):,} free GPUs; power runs no more)"
    gbps = {c.removeprefix("to_").removesuffix("_gbps"): float(best[c]) for c in runs.columns
            if c.startswith("to_") and c.endswith("_gbps")}
    if not gbps:
        return head + "."
    pop = min(gbps, key=lambda p: (gbps[p], p))
    return f"{head}, but only {fmt_gbps(gbps[pop])} to {pop}."


def inventory_section(sc: Scenario, plan: Plan) -> str:
    """The "What is left to sell" section (id ``surplus``): two heat maps and the runs table.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    str
        HTML ``<section>`` with charts ``surplus-heatmap`` and ``surplus-fibre`` and table ``surplus-table``.
    """
    inv = surplus(sc, plan)
    runs = surplus_runs(sc, plan, inventory=inv)
    heat = svg_element(sellable_heatmap_figure(sc, runs), "surplus-heatmap",
                       "Sellable GPUs per campus and SKU, week by week")
    fibre = svg_element(fibre_heatmap_figure(sc, inv), "surplus-fibre",
                        "Usable fibre headroom from each campus to each PoP, week by week")
    hours = float(runs["gpu_hours"].sum()) if len(runs) else 0.0
    shown = runs.sort_values(["gpu_hours", "site", "sku", "start_week"], ascending=[False, True, True, True])
    shown = shown.head(MAX_RUNS_SHOWN).copy()
    shown["weeks_text"] = [f"{a}–{b}" for a, b in zip(shown["start_week"], shown["end_week"], strict=True)]
    shown["limit"] = np.where(shown["sellable_gpus"] < shown["free_gpus"], "power", "GPUs")
    pops = [c for c in runs.columns if c.startswith("to_") and c.endswith("_gbps")]
    cols = [Column("Campus", "site", nowrap=True), Column("SKU", "sku", nowrap=True),
            Column("Weeks", "weeks_text", nowrap=True),
            Column("Free", "free_gpus", fmt_int, numeric=True, title="Free GPUs in each of these weeks"),
            Column("Sellable", "sellable_gpus", fmt_int, numeric=True,
                   title="min(free GPUs, GPUs the campus's power headroom runs)"),
            Column("Set by", "limit", title="What sets the sellable figure: free GPUs or power"),
            Column("GPU-hours", "gpu_hours", fmt_int, numeric=True),
            *(Column(f"to {c[3:-5]}", c, fmt_gbps, numeric=True,
                     title=f"Least usable Gbps to {c[3:-5]} in these weeks (widest path)") for c in pops)]
    table = html_table(shown, cols, "surplus-table")
    more = (f" The table lists the {MAX_RUNS_SHOWN:,} largest of {len(runs):,} runs; surplus_runs.csv has all."
            if len(runs) > MAX_RUNS_SHOWN else "")
    lede = (f"<b>{html.escape(selling_line(runs))}</b> What the plan leaves free, week by week: "
            f"{fmt_int(hours)} sellable GPU-hours in all. A GPU is sellable when the campus also has the power to "
            "run it (its power headroom at its PUE, shared by the campus's SKUs); the fibre map shows how much "
            "egress one more lease could still send to each PoP. Consecutive weeks with the same free and sellable "
            f"GPUs form one run in the table.{more}")
    return (f'<section id="surplus"><h2>What is left to sell</h2><p class="lede">{lede}</p>'
            f'<figure class="panel" style="margin-bottom:12px">{heat}</figure>'
            f'<figure class="panel" style="margin-bottom:12px">{fibre}</figure>'
            f'<div class="toolbar"><span>showing <span id="surplus-table-count">{len(shown):,}</span> runs · '
            'click a column heading to sort</span><input type="search" placeholder="Filter rows…" '
            'aria-label="Filter the runs" data-filter="surplus-table" data-count="surplus-table-count"></div>'
            f'<div class="scroll">{table}</div></section>')
