"""The plan on a map: campuses, PoPs, junctions and DCI spans coloured by peak use.

Each campus is a pie of its GPUs at its busiest week (internal / leased / free,
the report's colours), sized by GPU count; each span follows its route geometry,
coloured by its peak utilisation and as wide as its capacity allows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.collections import LineCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Wedge
from matplotlib.ticker import PercentFormatter

from planner.plan import Plan
from planner.report.basemap import MapFrame, draw_states, map_frame, scale_bar_m
from planner.report.style import COLOURS, fmt_gbps, fmt_int, mpl_text, utilisation_cmap
from planner.report.svg import new_figure, styled
from planner.scenario import Scenario

__all__ = ["map_figure", "site_peaks", "span_peaks"]

_BOX = {"boxstyle": "round,pad=0.12", "facecolor": "white", "edgecolor": "none", "alpha": 0.72}
"""Label background (a stroked halo would turn the SVG's text into paths)."""
_FIG_W, _FIG_H, _MAP_SHARE = 11.0, 6.6, 0.8


def span_peaks(plan: Plan) -> pd.DataFrame:
    """Per span: peak utilisation and Gbps, the week of the peak, and capacity.

    Parameters
    ----------
    plan : Plan

    Returns
    -------
    DataFrame indexed by ``span``
        utilisation, gbps, week, capacity_gbps, limit_gbps.
    """
    lu = plan.link_use
    if lu.empty:
        return pd.DataFrame(columns=["utilisation", "gbps", "week", "capacity_gbps", "limit_gbps"])
    top = lu.loc[lu.groupby("span", sort=False)["utilisation"].idxmax()].set_index("span")
    return top[["utilisation", "gbps", "week", "capacity_gbps", "limit_gbps"]]


def site_peaks(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Per site: GPUs, and internal / leased / free GPUs in its busiest week.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    DataFrame indexed by ``site``
        gpus, week, internal_gpus, leased_gpus, free_gpus.
    """
    su = plan.site_use
    gpus = sc.pods.groupby("site")["gpus"].sum().reindex(sc.sites.index, fill_value=0)
    out = pd.DataFrame({"gpus": gpus})
    if su.empty:
        return out.assign(week=1, internal_gpus=0, leased_gpus=0, free_gpus=out["gpus"])
    busy = su.assign(used=su["internal_gpus"] + su["leased_gpus"])
    top = busy.loc[busy.groupby("site", sort=False)["used"].idxmax()].set_index("site")
    out = out.join(top[["week", "internal_gpus", "leased_gpus", "free_gpus"]])
    out["free_gpus"] = out["free_gpus"].fillna(out["gpus"])
    return out.fillna(0)


# --------------------------------------------------------------------------- labels
@dataclass
class _Labeller:
    """Greedy label placement in points, avoiding glyphs and earlier labels."""

    frame: MapFrame
    width_pt: float
    height_pt: float

    def __post_init__(self) -> None:
        self.boxes: list[tuple[float, float, float, float]] = []

    def to_pt(self, x: float, y: float) -> tuple[float, float]:
        x0, y0, x1, y1 = self.frame.view
        return (x - x0) / (x1 - x0) * self.width_pt, (y - y0) / (y1 - y0) * self.height_pt

    def block(self, x: float, y: float, r_pt: float) -> None:
        px, py = self.to_pt(x, y)
        self.boxes.append((px - r_pt, py - r_pt, px + r_pt, py + r_pt))

    def _cost(self, b: tuple[float, float, float, float]) -> float:
        cost = 0.0
        for o in self.boxes:
            w = min(b[2], o[2]) - max(b[0], o[0])
            h = min(b[3], o[3]) - max(b[1], o[1])
            if w > 0 and h > 0:
                cost += w * h
        outside = max(0.0, -b[0]) + max(0.0, b[2] - self.width_pt) + max(0.0, -b[1]) + max(0.0, b[3] - self.height_pt)
        return cost + 50 * outside

    def place(self, ax: Axes, task: _Label) -> None:
        """Place a label block next to its anchor, where it overlaps least."""
        w = max((0.66 if weight == "bold" else 0.6) * fs * len(t) for t, fs, weight in task.lines) + 3
        h = sum(1.25 * fs for _, fs, _ in task.lines) + 2
        px, py = self.to_pt(task.x, task.y)
        gap = task.r_pt + 3
        options = [(gap, -h / 2), (-gap - w, -h / 2), (-w / 2, gap), (-w / 2, -gap - h),
                   (gap * 0.7, gap * 0.7), (-gap * 0.7 - w, gap * 0.7), (gap * 0.7, -gap * 0.7 - h),
                   (-gap * 0.7 - w, -gap * 0.7 - h)]
        boxes = [(px + dx, py + dy, px + dx + w, py + dy + h) for dx, dy in options]
        b = boxes[min(range(len(boxes)), key=lambda i: (self._cost(boxes[i]), i))]
        self.boxes.append(b)
        top = b[3] - py
        for text, fs, weight in task.lines:
            top -= 1.25 * fs
            ax.annotate(mpl_text(text), (task.x, task.y), xytext=(b[0] - px, top + 0.2 * fs),
                        textcoords="offset points", ha="left", va="bottom", fontsize=fs, fontweight=weight,
                        color=task.colour, zorder=9, annotation_clip=False, bbox=_BOX)


@dataclass
class _Label:
    """A label to place: anchor (map metres), lines of (text, size, weight), anchor radius."""

    x: float
    y: float
    lines: list[tuple[str, float, str]]
    r_pt: float
    colour: str = COLOURS["text"]


def _short(name: str) -> str:
    """``Ashburn, VA (Equinix DC campus)`` → ``Ashburn, VA``."""
    return name.split(" (", maxsplit=1)[0]


# --------------------------------------------------------------------------- layers
def _draw_spans(ax: Axes, sc: Scenario, plan: Plan, frame: MapFrame, norm: Normalize) -> list[_Label]:
    """Draw the spans; return labels for the busiest ones (at least half the limit)."""
    spans = sc.spans
    if spans.empty:
        return []
    peaks = span_peaks(plan).reindex(spans.index)
    util = peaks["utilisation"].fillna(0.0).to_numpy(float)
    cap = spans["capacity_gbps"].to_numpy(float)
    widths = 1.2 + 4.8 * np.sqrt(cap / max(float(cap.max()), 1.0))
    lines = [np.asarray(frame.project(shapely.segmentize(g, 0.1)).coords)[:, :2] for g in spans["geometry"]]
    order = np.argsort(util, kind="stable")
    casing = LineCollection([lines[i] for i in order], colors="white", linewidths=widths[order] + 2.2,
                            capstyle="round", joinstyle="round", zorder=3)
    body = LineCollection([lines[i] for i in order], cmap=utilisation_cmap(sc.settings.max_link_utilisation), norm=norm,
                          linewidths=widths[order],
                          capstyle="round", joinstyle="round", zorder=4)
    body.set_array(util[order])
    ax.add_collection(casing)
    ax.add_collection(body)
    limit = sc.settings.max_link_utilisation
    out = []
    for i in [i for i in np.argsort(-util, kind="stable")[:6] if util[i] >= 0.5 * limit]:
        mid = spans["geometry"].to_numpy()[i].interpolate(0.5, normalized=True)
        mx, my = frame.xy([mid.x], [mid.y])
        out.append(_Label(float(mx[0]), float(my[0]), [(f"{spans.index[i]} {100 * util[i]:.0f} %", 7.5, "bold")],
                          2.0, "#7f1d1d"))
    return out


def _draw_points(ax: Axes, sc: Scenario, plan: Plan, frame: MapFrame, lab: _Labeller) -> list[_Label]:
    """Draw junctions, PoPs and campus pies; block their areas; return their labels, most important first."""
    labels: list[_Label] = []
    peaks = site_peaks(sc, plan)
    sx, sy = frame.xy(sc.sites["lon"], sc.sites["lat"])
    biggest = max(float(peaks["gpus"].max()), 1.0) if len(peaks) else 1.0
    pt_per_m = lab.width_pt / frame.width
    for (site, row), x, y in zip(peaks.iterrows(), sx, sy, strict=True):
        r = frame.width * (0.012 + 0.026 * math.sqrt(float(row["gpus"]) / biggest))
        total = max(float(row["gpus"]), 1.0)
        start = 90.0
        for key in ("internal", "leased", "free"):
            share = float(row[f"{key}_gpus"]) / total
            if share > 0:
                ax.add_patch(Wedge((x, y), r, start - 360 * share, start, facecolor=COLOURS[key],
                                   edgecolor="white", linewidth=0.6, zorder=8))
                start -= 360 * share
        ax.add_patch(Circle((x, y), r, facecolor="none", edgecolor=COLOURS["text"], linewidth=1.1, zorder=8))
        lab.block(float(x), float(y), r * pt_per_m)
        leased = float(row["leased_gpus"]) / total
        labels.append(_Label(float(x), float(y), [
            (str(sc.sites.at[site, "name"]), 9.5, "bold"),
            (f"{fmt_int(row['gpus'], 'GPUs')} · {100 * leased:.0f} % leased in wk {int(row['week'])}", 8.0,
             "normal")], r * pt_per_m))
    if len(sc.pops):
        px, py = frame.xy(sc.pops["lon"], sc.pops["lat"])
        ax.scatter(px, py, s=60, marker="D", color=COLOURS["pop"], edgecolors="white", linewidths=1.2, zorder=7)
        for (pop, prow), x, y in zip(sc.pops.iterrows(), px, py, strict=True):
            lab.block(float(x), float(y), 5)
            labels.append(_Label(float(x), float(y), [(_short(str(prow["name"])) or str(pop), 8.0, "normal")], 5,
                                 "#4c1d95"))
    if len(sc.junctions):
        jx, jy = frame.xy(sc.junctions["lon"], sc.junctions["lat"])
        ax.scatter(jx, jy, s=12, color="white", edgecolors=COLOURS["junction"], linewidths=0.9, zorder=5)
        for (_, jrow), x, y in zip(sc.junctions.iterrows(), jx, jy, strict=True):
            lab.block(float(x), float(y), 3)
            if len(sc.junctions) <= 40:
                labels.append(_Label(float(x), float(y), [(str(jrow["name"]).split(",")[0], 6.5, "normal")], 3,
                                     COLOURS["muted"]))
    return labels


def _draw_legend(fig: Figure, ax_side: Axes, sc: Scenario, norm: Normalize) -> None:
    ax_side.set_axis_off()
    handles: list[Patch | Line2D] = [
        Patch(facecolor=COLOURS["internal"], label="internal GPUs"),
        Patch(facecolor=COLOURS["leased"], label="leased GPUs"),
        Patch(facecolor=COLOURS["free"], edgecolor=COLOURS["free_edge"], label="free GPUs"),
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="none", markeredgecolor=COLOURS["text"],
               markersize=11, label="campus (area ∝ GPUs,\nbusiest week)"),
        Line2D([], [], marker="D", linestyle="none", color=COLOURS["pop"], markersize=7, label="PoP (users)"),
        Line2D([], [], marker="o", linestyle="none", markerfacecolor="white", markeredgecolor=COLOURS["junction"],
               markersize=5, label="junction"),
    ]
    if len(sc.spans):
        cap = sc.spans["capacity_gbps"]
        biggest = max(float(cap.max()), 1.0)
        for c in sorted({float(cap.min()), float(cap.max())}):
            handles.append(Line2D([], [], color="#9aa3af", linewidth=1.2 + 4.8 * math.sqrt(c / biggest),
                                  label=f"span {fmt_gbps(c)}"))
    ax_side.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.0, 1.0), borderaxespad=0, labelspacing=0.9,
                   handlelength=2.2, fontsize=8.5)
    if len(sc.spans):
        limit = sc.settings.max_link_utilisation
        cax = ax_side.inset_axes((0.02, 0.5, 0.9, 0.045))
        cb = fig.colorbar(ScalarMappable(norm=norm, cmap=utilisation_cmap(limit)), cax=cax, orientation="horizontal")
        cb.ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
        cb.set_ticks([0.0, 0.5, 1.0])
        cb.ax.tick_params(labelsize=8)
        cb.outline.set_visible(False)
        cb.ax.grid(False)
        cb.ax.axvline(limit, color="black", linewidth=1.8)
        cb.ax.annotate(f"limit {100 * limit:.0f} %", (limit, 1.0), xycoords=("data", "axes fraction"),
                       xytext=(0, 3), textcoords="offset points", ha="center", va="bottom", fontsize=8,
                       fontweight="bold")
        ax_side.text(0.02, 0.5 + 0.045 + 0.075, "peak span utilisation", transform=ax_side.transAxes, fontsize=8.5,
                     va="bottom", color=COLOURS["text"])


def _scale_bar(ax: Axes, frame: MapFrame) -> None:
    x0, y0, x1, y1 = frame.view
    length = scale_bar_m(frame)
    bx, by = x0 + 0.03 * (x1 - x0), y0 + 0.04 * (y1 - y0)
    ax.plot([bx, bx + length], [by, by], color=COLOURS["text"], linewidth=2.5, solid_capstyle="butt", zorder=9)
    ax.text(bx + length / 2, by + 0.012 * (y1 - y0), f"{length / 1000:,.0f} km", ha="center", va="bottom",
            fontsize=8, color=COLOURS["text"], zorder=9)


def scenario_points(sc: Scenario) -> tuple[list[float], list[float]]:
    """Longitudes and latitudes of every campus, PoP, junction and span route point: what a map must show.

    Examples
    --------
    >>> from planner import load_scenario
    >>> lon, lat = scenario_points(load_scenario())
    >>> len(lon) == len(lat) and min(lat) > 25 and max(lon) < -70
    True
    """
    lon = [*sc.sites["lon"], *sc.pops["lon"], *sc.junctions["lon"]]
    lat = [*sc.sites["lat"], *sc.pops["lat"], *sc.junctions["lat"]]
    for g in sc.spans.get("geometry", []):
        xs, ys = g.xy
        lon += list(xs)
        lat += list(ys)
    return lon, lat


@styled
def map_figure(sc: Scenario, plan: Plan) -> Figure:
    """The plan's map: state outlines, campuses, PoPs, junctions and DCI spans.

    Parameters
    ----------
    sc : Scenario
        Positions of sites, PoPs and junctions, span routes and capacities.
    plan : Plan
        Peak span utilisation (``link_use``) and GPU use (``site_use``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    lon, lat = scenario_points(sc)
    aspect = _FIG_W * _MAP_SHARE / _FIG_H
    frame = map_frame(lon, lat, aspect=aspect)
    fig = new_figure(_FIG_W, _FIG_H)
    gs = fig.add_gridspec(1, 2, width_ratios=[_MAP_SHARE, 1 - _MAP_SHARE])
    ax = fig.add_subplot(gs[0, 0])
    side = fig.add_subplot(gs[0, 1])
    ax.set_facecolor(COLOURS["water"])
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    for s in ax.spines.values():
        s.set_visible(True)
        s.set_color("#d1d5db")
    ax.set_xlim(frame.view[0], frame.view[2])
    ax.set_ylim(frame.view[1], frame.view[3])
    ax.set_aspect("equal")
    lab = _Labeller(frame, _FIG_W * _MAP_SHARE * 72 * 0.97, _FIG_H * 72 * 0.97)
    for x, y in draw_states(ax, frame):
        lab.block(x, y, 7)
    norm = Normalize(0.0, 1.0)
    span_labels = _draw_spans(ax, sc, plan, frame, norm)
    point_labels = _draw_points(ax, sc, plan, frame, lab)
    n_sites, n_pops = len(sc.sites), len(sc.pops)
    for task in [*point_labels[:n_sites + n_pops], *span_labels, *point_labels[n_sites + n_pops:]]:
        lab.place(ax, task)
    _scale_bar(ax, frame)
    _draw_legend(fig, side, sc, norm)
    return fig
