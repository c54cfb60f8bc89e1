"""The report's charts, one function per chart, each returning a matplotlib ``Figure``.

Weeks are periods, so time series are drawn as steps (one flat step per week).
Every chart uses the colours of :mod:`planner.report.style`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator, PercentFormatter

from planner.plan import Plan
from planner.report.style import COLOURS, FAMILY_COLOURS, compact, fmt_usd, mpl_text, utilisation_cmap
from planner.report.svg import new_figure, styled
from planner.scenario import Scenario

__all__ = ["UsdFormatter", "failures_figure", "family_figure", "progress_figure", "site_figure", "span_heatmap_figure",
           "span_lines_figure", "top_spans"]

MAX_HEATMAP_SPANS = 40
AT_LIMIT = 0.99
"""A span is "at the limit" in a week when it carries at least this share of its limit."""


class UsdFormatter(Formatter):
    r"""Dollar tick labels in one unit for the whole axis, with just enough decimals for its step.

    Labels escape ``$`` for matplotlib (``\$``), which draws it as a plain dollar sign.

    Examples
    --------
    >>> f = UsdFormatter()
    >>> f.set_locs([5.025e9, 5.05e9, 5.075e9])
    >>> [f(x) for x in (5.025e9, 5.05e9)]
    ['\\$5.025 B', '\\$5.050 B']
    >>> f.set_locs([0.0, 5e8, 1e9])
    >>> f(1e9)
    '\\$1,000 M'
    """

    def __init__(self) -> None:
        super().__init__()
        self._ticks: list[float] = []

    def set_locs(self, locs: Any) -> None:
        """Remember the tick positions, to pick one unit and precision for all labels."""
        self._ticks = [float(v) for v in locs]

    def __call__(self, x: float, pos: int | None = None) -> str:
        ticks = self._ticks or [float(x)]
        small = min((abs(v) for v in ticks if v), default=abs(float(x)))  # the unit fits the smallest tick
        step = abs(ticks[1] - ticks[0]) if len(ticks) > 1 else max(abs(float(x)), 1.0)
        unit, suffix = (1e9, " B") if small >= 1e9 else (1e6, " M") if small >= 1e6 else (1.0, "")
        decimals, rel = 0, step / unit
        while decimals < 6 and abs(round(rel, decimals) - rel) > 1e-9 * max(rel, 1.0):
            decimals += 1
        sign = "−" if x < 0 else ""
        return mpl_text(f"{sign}${abs(x) / unit:,.{decimals}f}{suffix}")


def _steps(weeks: np.ndarray, *values: np.ndarray) -> tuple[np.ndarray, ...]:
    """Edges for a step drawing: each week becomes a flat step from w - 0.5 to w + 0.5."""
    xs = np.column_stack([weeks - 0.5, weeks + 0.5]).ravel()
    return (xs, *(np.repeat(v, 2) for v in values))


def _week_axis(ax: Axes, weeks: np.ndarray) -> None:
    ax.set_xlim(weeks.min() - 0.5, weeks.max() + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True, min_n_ticks=2))
    ax.set_xlabel("week")


@styled
def site_figure(sc: Scenario, plan: Plan, site: str) -> Figure:
    """GPUs (internal / leased / API / free, stacked) and facility power (used vs available) of one site, per week.

    The API layer is drawn when the scenario has API demand (or ``site_use`` counts API GPUs).

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    site : str
        Site id.

    Returns
    -------
    matplotlib.figure.Figure
    """
    su = plan.site_use[plan.site_use["site"] == site].sort_values("week")
    if su.empty:
        su = pd.DataFrame({"week": sc.weeks, "internal_gpus": 0, "leased_gpus": 0,
                           "free_gpus": int(sc.pods.loc[sc.pods["site"] == site, "gpus"].sum()), "power_mw": 0.0,
                           "available_mw": sc.site_power_mw.loc[site].to_numpy()})
    weeks = su["week"].to_numpy(float)
    fig = new_figure(12.0, 3.1)
    ax_g, ax_p = fig.subplots(1, 2, width_ratios=[1.1, 1])
    apis = "api_gpus" in su and (len(sc.api_demand) > 0 or bool(su["api_gpus"].any()))
    uses = ("internal", "leased", "api", "free") if apis else ("internal", "leased", "free")
    xs, *stack = _steps(weeks, *(su[f"{k}_gpus"].to_numpy(float) for k in uses))
    base = np.zeros_like(xs)
    for key, values in zip(uses, stack, strict=True):
        edge = COLOURS["free_edge"] if key == "free" else "white"
        ax_g.fill_between(xs, base, base + values, facecolor=COLOURS[key], edgecolor=edge, linewidth=0.4,
                          label={"api": "API"}.get(key, key), zorder=2)
        base = base + values
    ax_g.set_ylim(0, max(float(base.max()), 1.0) * 1.02)
    ax_g.yaxis.set_major_formatter(FuncFormatter(compact))
    ax_g.set_title("GPUs by use")
    ax_g.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncols=len(uses), borderaxespad=0.3, handlelength=1.2,
                columnspacing=1.2)
    _week_axis(ax_g, weeks)

    xs, used, avail = _steps(weeks, su["power_mw"].to_numpy(float), su["available_mw"].to_numpy(float))
    ax_p.fill_between(xs, 0, used, facecolor=COLOURS["power"], alpha=0.25, linewidth=0, zorder=2)
    ax_p.plot(xs, used, color=COLOURS["power"], linewidth=1.8, label="power drawn", zorder=3)
    ax_p.plot(xs, avail, color=COLOURS["available"], linewidth=1.4, linestyle=(0, (4, 2)), label="available",
              zorder=3)
    over = su["power_mw"].to_numpy(float) > su["available_mw"].to_numpy(float) + 1e-6
    if over.any():
        ax_p.scatter(weeks[over], su["power_mw"].to_numpy(float)[over], color="#b91c1c", s=14, zorder=4,
                     label="over the limit")
    ax_p.set_ylim(0, max(float(avail.max()), float(used.max()), 1e-3) * 1.12)
    ax_p.yaxis.set_major_formatter(FuncFormatter(compact))
    ax_p.set_title("Facility power, MW")
    ax_p.legend(loc="lower right", bbox_to_anchor=(1, 1.0), ncols=3, borderaxespad=0.3, handlelength=1.8,
                columnspacing=1.2)
    _week_axis(ax_p, weeks)
    return fig


def top_spans(plan: Plan, n: int, *, busy_only: bool = False) -> list[str]:
    """The ``n`` spans with the highest peak utilisation (ties by id).

    Parameters
    ----------
    plan : Plan
    n : int
    busy_only : bool
        Leave out spans that carry no traffic.

    Returns
    -------
    list of str
    """
    peak = plan.link_use.groupby("span")["utilisation"].max()
    if busy_only:
        peak = peak[peak > 0]
    order = pd.DataFrame({"peak": peak.to_numpy(), "span": peak.index.to_numpy()}).sort_values(
        ["peak", "span"], ascending=[False, True])
    return [str(s) for s in order["span"].head(n)]


@styled
def span_heatmap_figure(sc: Scenario, plan: Plan) -> Figure:
    """Utilisation of the busiest spans (rows) in every week (columns), the limit marked.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    matplotlib.figure.Figure
        At most :data:`MAX_HEATMAP_SPANS` rows, busiest first.
    """
    spans = top_spans(plan, MAX_HEATMAP_SPANS)
    limit = sc.settings.max_link_utilisation
    grid = plan.link_use.pivot_table(index="span", columns="week", values="utilisation").reindex(spans)
    weeks = grid.columns.to_numpy(float)
    fig = new_figure(7.6, max(2.6, 1.3 + 0.19 * len(spans)))
    ax = fig.add_subplot()
    ax.grid(False)
    im = ax.pcolormesh(np.append(weeks - 0.5, weeks[-1] + 0.5), np.arange(len(spans) + 1), grid.to_numpy(),
                       cmap=utilisation_cmap(limit), vmin=0.0, vmax=1.0, edgecolors="white", linewidth=0.3)
    at = np.argwhere(grid.to_numpy() >= AT_LIMIT * limit)
    if len(at):
        ax.scatter(weeks[at[:, 1]], at[:, 0] + 0.5, marker="o", s=3, color="white", linewidths=0, zorder=3)
        ax.scatter([], [], marker="o", s=14, color="white", edgecolors=COLOURS["text"], linewidths=0.8,
                   label=f"at the {100 * limit:.0f} % limit")
        ax.legend(loc="lower right", bbox_to_anchor=(1, 1.0), borderaxespad=0.2, handletextpad=0.2)
    ax.set_yticks(np.arange(len(spans)) + 0.5, [mpl_text(s) for s in spans], fontsize=8)
    ax.set_ylim(len(spans), 0)
    ax.tick_params(axis="y", length=0)
    for s in ax.spines.values():
        s.set_visible(False)
    _week_axis(ax, weeks)
    cb = fig.colorbar(im, ax=ax, location="right", fraction=0.04, pad=0.01, aspect=30)
    cb.ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    cb.ax.axhline(limit, color="black", linewidth=1.8)
    cb.ax.grid(False)
    cb.outline.set_visible(False)
    cb.ax.tick_params(labelsize=8)
    return fig


@styled
def span_lines_figure(sc: Scenario, plan: Plan, n: int = 6) -> Figure:
    """Utilisation per week of the ``n`` busiest spans, with the max-utilisation limit as a line.

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    n : int
        How many spans to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    limit = sc.settings.max_link_utilisation
    fig = new_figure(5.4, 3.2)
    ax = fig.add_subplot()
    palette = ["#1d4ed8", "#c2410c", "#047857", "#7c3aed", "#be185d", "#a16207", "#0e7490", "#4b5563"]
    lu = plan.link_use
    weeks = np.array([], float)
    busy = top_spans(plan, n, busy_only=True)
    for i, span in enumerate(busy):
        rows = lu[lu["span"] == span].sort_values("week")
        weeks = rows["week"].to_numpy(float)
        xs, ys = _steps(weeks, rows["utilisation"].to_numpy(float))
        ax.plot(xs, ys, color=palette[i % len(palette)], linewidth=1.7, label=mpl_text(span), zorder=3)
    ax.axhline(limit, color="#b91c1c", linewidth=1.4, linestyle=(0, (5, 3)), zorder=2)
    ax.annotate(f"limit {100 * limit:.0f} %", (0.0, limit), xycoords=("axes fraction", "data"), xytext=(3, 3),
                textcoords="offset points", color="#b91c1c", fontsize=8, fontweight="bold")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_ylim(0, 1.05)
    if not busy:
        weeks = sc.weeks.to_numpy(float)
        ax.text(0.5, 0.5, "no span carries traffic", transform=ax.transAxes, ha="center", color=COLOURS["muted"])
    _week_axis(ax, weeks)
    ax.set_title(f"Busiest {len(busy)} span{'s' if len(busy) != 1 else ''}" if busy else "Busiest spans")
    if busy:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0, handlelength=1.5, fontsize=8)
    return fig


@styled
def progress_figure(plan: Plan) -> Figure:
    """The solver's incumbent objective and proven bound over wall time: exactly the rows of ``progress``.

    The last row's values are drawn on to the end of the solve (the optimiser's last
    row is the plan written, with its bound).

    Parameters
    ----------
    plan : Plan
        With rows in ``progress``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    pr = plan.progress.sort_values("wall_s", kind="stable")
    t = pr["wall_s"].to_numpy(float)
    obj = pr["objective_usd"].to_numpy(float)
    bound = pr["bound_usd"].to_numpy(float)
    end = max(float(plan.wall_s), float(t.max()) if t.size else 0.0)
    t = np.append(t, end)
    obj = np.append(obj, obj[-1])
    bound = np.append(bound, bound[-1])
    bound = np.where(np.isfinite(bound), bound, np.nan)  # no bound known yet: nothing to draw there
    fig = new_figure(7.6, 3.0)
    ax = fig.add_subplot()
    ax.fill_between(t, obj, bound, step="post", color=COLOURS["bound"], alpha=0.12, linewidth=0, label="gap")
    ax.step(t, bound, where="post", color=COLOURS["bound"], linewidth=1.5, linestyle=(0, (4, 2)), label="bound")
    ax.step(t, obj, where="post", color=COLOURS["objective"], linewidth=2.0, label="objective (net value)")
    ax.scatter(t[:-1], obj[:-1], s=14, color=COLOURS["objective"], zorder=3)
    ax.yaxis.set_major_formatter(UsdFormatter())
    known = bound[np.isfinite(bound)]
    b_max = float(known.max()) if known.size else float(obj.max())
    lo, hi = float(obj.min()), max(float(obj.max()), float(known[-1]) if known.size else float(obj.max()))
    span = max(hi - lo, abs(hi) * 0.01, 1.0)
    top = min(b_max, hi + 1.5 * span)
    ax.set_ylim(lo - 0.15 * span, max(top, hi) + 0.1 * span)
    if b_max > top:  # early bounds are far off: clip them and say where they start
        ax.annotate(mpl_text(f"bound starts at {fmt_usd(float(known[0]))} ↑"), (t[0], max(top, hi) + 0.1 * span),
                    xytext=(4, -12), textcoords="offset points", fontsize=8, color=COLOURS["bound"])
    ax.set_xlabel("wall time, s")
    ax.set_xlim(0, max(end, 1e-3) * 1.02)
    ax.legend(loc="lower right")
    return fig


@styled
def family_figure(plan: Plan) -> Figure:
    """Revenue of left-out leases by the constraint family that keeps them out.

    Parameters
    ----------
    plan : Plan
        With rows in ``unplaced``.

    Returns
    -------
    matplotlib.figure.Figure
    """
    un = plan.unplaced.assign(family=plan.unplaced["family"].replace("", "unexplained").fillna("unexplained"))
    by = un.groupby("family").agg(revenue=("revenue_usd", "sum"), leases=("lease", "size"))
    by = by.sort_values("revenue", ascending=True)
    fig = new_figure(7.6, 1.0 + 0.3 * len(by))
    ax = fig.add_subplot()
    colours = [FAMILY_COLOURS.get(str(f).split("+")[0], "#9ca3af") for f in by.index]
    ax.barh(np.arange(len(by)), by["revenue"], color=colours, height=0.65, zorder=2)
    for i, (rev, n) in enumerate(zip(by["revenue"], by["leases"], strict=True)):
        ax.annotate(mpl_text(f"{fmt_usd(rev)} · {n} lease{'s' if n != 1 else ''}"), (rev, i), xytext=(4, 0),
                    textcoords="offset points", va="center", fontsize=8, color=COLOURS["text"])
    ax.set_yticks(np.arange(len(by)), [mpl_text(f) for f in by.index])
    ax.xaxis.set_major_formatter(UsdFormatter())
    ax.set_xlim(0, max(float(by["revenue"].max()), 1.0) * 1.35)
    ax.grid(axis="y", visible=False)
    ax.set_title("Revenue left out, by what keeps it out")
    return fig


@styled
def failures_figure(failures: pd.DataFrame, n: int = 12) -> Figure:
    """Revenue at risk of the ``n`` worst failure cases.

    Parameters
    ----------
    failures : DataFrame
        Columns ``case`` and ``revenue_at_risk_usd`` at least.
    n : int
        How many cases to draw.

    Returns
    -------
    matplotlib.figure.Figure
    """
    top = failures.sort_values("revenue_at_risk_usd", ascending=False).head(n).iloc[::-1]
    fig = new_figure(7.6, 1.0 + 0.28 * len(top))
    ax = fig.add_subplot()
    ax.barh(np.arange(len(top)), top["revenue_at_risk_usd"], color=COLOURS["risk"], height=0.65, zorder=2)
    ax.set_yticks(np.arange(len(top)), [mpl_text(c) for c in top["case"]])
    for i, rev in enumerate(top["revenue_at_risk_usd"]):
        ax.annotate(mpl_text(fmt_usd(rev)), (rev, i), xytext=(4, 0), textcoords="offset points", va="center",
                    fontsize=8)
    ax.xaxis.set_major_formatter(UsdFormatter())
    ax.set_xlim(0, max(float(top["revenue_at_risk_usd"].max()), 1.0) * 1.25)
    ax.grid(axis="y", visible=False)
    ax.set_title(f"Revenue at risk, worst {len(top)} cases")
    return fig
