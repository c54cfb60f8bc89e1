"""The report's fabric view: per campus, its halls (by building), their pods, and aggregation use week by week.

Per campus one chart -- a hall x week heat map of the inter-pod traffic on each
hall's aggregation layer as a share of its capacity (from ``plan.hall_use``), and
the pods and halls that stand idle each week (no GPU in use: surplus that can be
sold whole) -- and one table of its halls. A hall without a modelled aggregation
layer (a pods file that declares no halls) has no capacity: its row is hatched.
"""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from planner.plan import Plan, hall_use_table
from planner.report.style import fmt_gbps, fmt_int, fmt_pct, mpl_text, utilisation_cmap
from planner.report.svg import new_figure, styled, svg_element
from planner.report.tables import Column, html_table
from planner.scenario import Scenario

__all__ = ["MAX_HALL_ROWS", "fabric_chart_id", "fabric_figure", "fabric_section", "hall_summary", "idle_by_week"]

MAX_HALL_ROWS = 40
"""At most this many halls of a campus in its heat map, busiest first (the table lists them all)."""
IDLE_COLOURS = {"pods": "#0f9d9a", "halls": "#7c3aed"}

e = html.escape


def fabric_chart_id(site: str) -> str:
    """Element id of a campus's fabric chart: ``fabric-`` and the id with anything unsafe replaced.

    Examples
    --------
    >>> fabric_chart_id("OH-NAL"), fabric_chart_id("a b/c")
    ('fabric-OH-NAL', 'fabric-a_b_c')
    """
    return "fabric-" + re.sub(r"[^A-Za-z0-9_-]", "_", site)


def _hall_use(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """``plan.hall_use``, or derived from the placements for a plan that does not carry it."""
    if len(plan.hall_use):
        return plan.hall_use
    return hall_use_table(sc, plan.placements, plan.pod_use)


def idle_by_week(sc: Scenario, plan: Plan, site: str) -> pd.DataFrame:
    """Pods and halls of ``site`` with no GPU in use (internal or leased), per week.

    Returns
    -------
    DataFrame
        Indexed by week: ``idle_pods``, ``idle_halls``, ``idle_gpus`` (the GPUs of the idle pods).
    """
    pu = plan.pod_use[plan.pod_use["site"] == site]
    idle = (pu["internal_gpus"] + pu["leased_gpus"]) == 0
    pods = pu.assign(idle=idle, hall=pu["pod"].map(sc.pods["hall"]))
    halls = pods.groupby(["hall", "week"])["idle"].all().groupby("week").sum()
    out = pd.DataFrame({"idle_pods": pods.groupby("week")["idle"].sum(),
                        "idle_halls": halls,
                        "idle_gpus": pods["gpus"].where(pods["idle"], 0).groupby(pods["week"]).sum()})
    return out.reindex(sc.weeks, fill_value=0).astype("int64").rename_axis("week")


def hall_summary(sc: Scenario, plan: Plan, site: str) -> pd.DataFrame:
    """The halls of ``site``: building, pods, GPUs, aggregation capacity, peak use and weeks idle.

    Returns
    -------
    DataFrame
        One row per hall (table order): ``hall``, ``building``, ``name``, ``pod_ids``,
        ``pods``, ``gpus``, ``aggregation_gbps`` (``inf`` where unlimited), ``modelled``,
        ``peak_interpod_gbps``, ``peak_utilisation`` (NaN where unlimited), ``peak_week``
        and ``weeks_idle``.
    """
    halls = sc.halls[sc.halls["site"] == site]
    hu = _hall_use(sc, plan)
    hu = hu[hu["hall"].isin(halls.index)]
    g = hu.groupby("hall")
    peak = g["interpod_gbps"].max()
    util = g["utilisation"].max()
    peak_week = hu.loc[hu.groupby("hall")["utilisation"].idxmax(), ["hall", "week"]].set_index("hall")["week"] \
        if len(hu) else pd.Series(dtype="int64")
    idle = (hu["internal_gpus"] + hu["leased_gpus"] == 0).groupby(hu["hall"]).sum()
    pod_ids = sc.pods.reset_index().groupby("hall", sort=False)["pod"].agg(list)
    out = pd.DataFrame({
        "hall": halls.index.astype(str), "building": halls["building"].astype(str).to_numpy(),
        "name": halls["name"].astype(str).to_numpy(),
        "pod_ids": pod_ids.reindex(halls.index).to_numpy(), "pods": halls["pods"].to_numpy(),
        "gpus": halls["gpus"].to_numpy(), "aggregation_gbps": halls["aggregation_gbps"].to_numpy(float),
        "modelled": halls["modelled"].to_numpy(bool),
        "peak_interpod_gbps": peak.reindex(halls.index).fillna(0.0).to_numpy(float),
        "peak_utilisation": util.reindex(halls.index).to_numpy(float),
        "peak_week": peak_week.reindex(halls.index).to_numpy(),
        "weeks_idle": idle.reindex(halls.index).fillna(0).astype("int64").to_numpy(),
    })
    out.loc[~out["modelled"], ["peak_utilisation", "peak_week"]] = np.nan
    return out


@styled
def fabric_figure(sc: Scenario, plan: Plan, site: str) -> Figure:
    """Aggregation use of each hall of ``site`` per week (heat map), and its idle pods and halls per week.

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    site : str
        Site id.

    Returns
    -------
    matplotlib.figure.Figure
        At most :data:`MAX_HALL_ROWS` halls, busiest first, labelled ``hall · building``;
        halls without an aggregation limit hatched.
    """
    summary = hall_summary(sc, plan, site)
    order = summary.assign(p=summary["peak_utilisation"].fillna(-1.0)).sort_values(
        ["p", "hall"], ascending=[False, True]).head(MAX_HALL_ROWS)
    # halls in building order within the busiest shown
    order = order.sort_values(["building", "hall"], kind="stable")
    halls = order["hall"].tolist()
    hu = _hall_use(sc, plan)
    grid = hu[hu["hall"].isin(halls)].pivot_table(index="hall", columns="week", values="utilisation")
    grid = grid.reindex(index=halls, columns=sc.weeks)
    grid.loc[~order.set_index("hall")["modelled"].reindex(halls).to_numpy(bool)] = np.nan
    weeks = sc.weeks.to_numpy(float)
    fig = new_figure(12.0, max(2.8, 1.4 + 0.22 * len(halls)))
    ax, ax_idle = fig.subplots(1, 2, width_ratios=[1.5, 1])
    ax.grid(False)
    xs = np.append(weeks - 0.5, weeks[-1] + 0.5)
    ys = np.arange(len(halls) + 1)
    ax.set_facecolor("#f3f4f6")
    im = ax.pcolormesh(xs, ys, np.ma.masked_invalid(grid.to_numpy(float)), cmap=utilisation_cmap(1.0), vmin=0.0,
                       vmax=1.0, edgecolors="white", linewidth=0.3)
    unlimited = [i for i, m in enumerate(order["modelled"]) if not m]
    for i in unlimited:
        ax.fill_between([xs[0], xs[-1]], i, i + 1, facecolor="none", edgecolor="#c0c6cf", hatch="///", linewidth=0)
    if unlimited:
        ax.fill_between([], [], facecolor="#f3f4f6", edgecolor="#c0c6cf", hatch="///", label="no aggregation limit")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), borderaxespad=0.2, fontsize=8)
    labels = [mpl_text(f"{h} · {b}" if b else h) for h, b in zip(order["hall"], order["building"], strict=True)]
    ax.set_yticks(np.arange(len(halls)) + 0.5, labels, fontsize=8)
    ax.set_ylim(len(halls), 0)
    ax.tick_params(axis="y", length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    ax.set_xlim(xs[0], xs[-1])
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=2))
    ax.set_xlabel("week")
    ax.set_title("Aggregation layer use, per hall (inter-pod traffic / capacity)")
    cb = fig.colorbar(im, ax=ax, location="right", fraction=0.04, pad=0.01, aspect=30)
    cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    cb.ax.grid(False)
    cb.outline.set_visible(False)
    cb.ax.tick_params(labelsize=8)

    idle = idle_by_week(sc, plan, site)
    steps = np.column_stack([weeks - 0.5, weeks + 0.5]).ravel()
    for key, label, width, alpha in (("idle_halls", "idle halls", 4.0, 0.45), ("idle_pods", "idle pods", 1.6, 1.0)):
        ax_idle.plot(steps, np.repeat(idle[key].to_numpy(float), 2), color=IDLE_COLOURS[key.split("_")[1]],
                     linewidth=width, alpha=alpha, label=label)  # halls wide beneath: visible where the two agree
    ax_idle.set_xlim(xs[0], xs[-1])
    ax_idle.set_ylim(0, max(int(idle[["idle_pods", "idle_halls"]].to_numpy().max()), 1) * 1.15)
    ax_idle.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax_idle.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=2))
    ax_idle.set_xlabel("week")
    ax_idle.set_title("Idle pods and halls (no GPU in use)")
    ax_idle.legend(loc="upper right", fontsize=8)
    return fig


def _hall_table(sc: Scenario, plan: Plan, site: str) -> str:
    df = hall_summary(sc, plan, site).sort_values(["building", "hall"], kind="stable")
    # the sort script reads data-v with parseFloat: "Infinity" sorts an unlimited layer above every capacity
    df["aggregation_gbps"] = [v if np.isfinite(v) else "Infinity" for v in df["aggregation_gbps"]]
    df["pods_shown"] = df["pod_ids"].map(lambda ids: ", ".join(ids[:4]) + (f" +{len(ids) - 4} more"
                                                                          if len(ids) > 4 else ""))
    cols = [
        Column("Hall", "hall", nowrap=True), Column("Building", "building", lambda v: v or "—", nowrap=True),
        Column("Pods", "pods_shown", title="The pods the hall's aggregation layer joins"),
        Column("GPUs", "gpus", fmt_int, numeric=True),
        Column("Aggregation", "aggregation_gbps", lambda v: "no limit" if v == "Infinity" else fmt_gbps(v),
               numeric=True, title="Inter-pod traffic the aggregation layer carries (after oversubscription)"),
        Column("Peak inter-pod", "peak_interpod_gbps", fmt_gbps, numeric=True,
               title="Most inter-pod traffic of pod-spanning replicas on the layer in any week"),
        Column("Peak use", "peak_utilisation", lambda v: fmt_pct(v, 0), numeric=True,
               title="Peak inter-pod traffic over aggregation capacity"),
        Column("Idle", "weeks_idle", lambda v: f"{int(v)} wk", numeric=True,
               title="Weeks in which no GPU of the hall is in use"),
    ]
    return html_table(df, cols, f"{fabric_chart_id(site)}-table")


def fabric_section(sc: Scenario, plan: Plan) -> str:
    """Per campus: its halls and buildings, aggregation use per hall and week, idle pods and halls, a hall table."""
    blocks = []
    for site, row in sc.sites.iterrows():
        halls = sc.halls[sc.halls["site"] == site]
        if halls.empty:
            continue
        summary = hall_summary(sc, plan, str(site))
        buildings = sorted({b for b in halls["building"].astype(str) if b})
        modelled = summary[summary["modelled"]]
        if len(modelled) and modelled["peak_utilisation"].fillna(0).gt(0).any():
            top = modelled.loc[modelled["peak_utilisation"].idxmax()]
            peak = (f"<span>peak aggregation use <b>{fmt_pct(top['peak_utilisation'], 0)}</b> "
                    f"({e(str(top['hall']))}, week {int(top['peak_week'])})</span>")
        elif len(modelled):
            peak = "<span>aggregation <b>unused</b> (no replica spans pods)</span>"
        else:
            peak = "<span>aggregation <b>not modelled</b> (the pods file declares no halls)</span>"
        idle = idle_by_week(sc, plan, str(site))
        facts = (f"<span>halls <b>{len(halls):,}</b></span>"
                 + (f"<span>buildings <b>{e(', '.join(buildings))}</b></span>" if buildings else "")
                 + f"<span>pods <b>{int(halls['pods'].sum()):,}</b></span>"
                 + f"<span>GPUs <b>{fmt_int(halls['gpus'].sum())}</b></span>" + peak
                 + f"<span>idle pods <b>{int(idle['idle_pods'].min()):,}–{int(idle['idle_pods'].max()):,}</b>"
                 f" per week</span>")
        svg = svg_element(fabric_figure(sc, plan, str(site)), fabric_chart_id(str(site)),
                          f"Aggregation use per hall and week, and idle pods and halls, of {row['name']}")
        blocks.append(
            f'<article class="panel site"><h3>{e(str(row["name"]))}<small>{e(str(site))}</small></h3>'
            f'<div class="facts">{facts}</div>{svg}'
            f'<div class="scroll">{_hall_table(sc, plan, str(site))}</div></article>')
    lede = ("Inside each campus: pods hang off a hall's aggregation layer, which carries the traffic between the "
            "pods of replicas that span pods (oversubscribed; a replica in one pod loads none). Per hall and week, "
            "that traffic as a share of the layer's capacity; and the pods and halls with no GPU in use "
            f'(<span class="swatch" style="background:{IDLE_COLOURS["pods"]}"></span>idle pods, '
            f'<span class="swatch" style="background:{IDLE_COLOURS["halls"]}"></span>idle halls): surplus that '
            "can be sold whole.")
    return (f'<section id="fabric"><h2>Campus fabric: halls and aggregation</h2><p class="lede">{lede}</p>'
            f'<div class="sites">{"".join(blocks)}</div></section>')
