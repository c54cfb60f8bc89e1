"""A plain map of the fibre on which the lease book draws a lease's route when its row is clicked.

Every span is its own SVG group with the id ``lease-map-span-<span>``
(:func:`span_element_id`); the page's script gives the groups of the clicked
lease's spans the class ``route-on``, which the stylesheet draws in red.
"""

from __future__ import annotations

import re

import numpy as np
import shapely
from matplotlib.figure import Figure

from planner.report.basemap import draw_states, map_frame
from planner.report.planmap import scenario_points
from planner.report.style import COLOURS
from planner.report.svg import new_figure, styled
from planner.scenario import Scenario

__all__ = ["route_map_figure", "span_element_id", "span_key"]


def span_key(span: str) -> str:
    """A span id made safe for an element id (anything but letters, digits, ``_`` and ``-`` becomes ``_``).

    Examples
    --------
    >>> span_key("OH-NAL~CIN"), span_element_id("a b")
    ('OH-NAL_CIN', 'lease-map-span-a_b')
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", span)


def span_element_id(span: str) -> str:
    """Element id of a span's group in the route map."""
    return "lease-map-span-" + span_key(span)


@styled
def route_map_figure(sc: Scenario) -> Figure:
    """State outlines, campuses, PoPs and every span in light grey, one SVG group per span.

    Parameters
    ----------
    sc : Scenario

    Returns
    -------
    matplotlib.figure.Figure
    """
    lon, lat = scenario_points(sc)
    fig = new_figure(9.0, 4.8)
    ax = fig.subplots()
    frame = map_frame(lon, lat, aspect=9.0 / 4.8)
    ax.set_facecolor(COLOURS["water"])
    ax.grid(False)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(True)
        spine.set_color("#d1d5db")
    ax.set_xlim(frame.view[0], frame.view[2])
    ax.set_ylim(frame.view[1], frame.view[3])
    ax.set_aspect("equal")
    draw_states(ax, frame)
    for span, geom in zip(sc.spans.index, sc.spans.get("geometry", []), strict=True):
        xy = np.asarray(frame.project(shapely.segmentize(geom, 0.1)).coords)[:, :2]
        ax.plot(xy[:, 0], xy[:, 1], color="#9ca3af", linewidth=2.2, solid_capstyle="round", zorder=3,
                gid=span_element_id(str(span)))
    if len(sc.pops):
        px, py = frame.xy(sc.pops["lon"], sc.pops["lat"])
        ax.scatter(px, py, s=46, marker="D", color=COLOURS["pop"], edgecolors="white", linewidths=1.0, zorder=6)
        for pop, x, y in zip(sc.pops.index, px, py, strict=True):
            ax.annotate(str(pop), (x, y), xytext=(6, 4), textcoords="offset points", fontsize=8, color="#4c1d95",
                        zorder=7)
    sx, sy = frame.xy(sc.sites["lon"], sc.sites["lat"])
    ax.scatter(sx, sy, s=90, marker="s", color=COLOURS["leased"], edgecolors="white", linewidths=1.2, zorder=6)
    for site, x, y in zip(sc.sites.index, sx, sy, strict=True):
        ax.annotate(str(site), (x, y), xytext=(7, -12), textcoords="offset points", fontsize=9, fontweight="bold",
                    color=COLOURS["text"], zorder=7)
    return fig
