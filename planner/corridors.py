"""Checks on the spans' route geometry: fibre shorter than the roads it follows, and conduits that are not diverse.

Two warnings, both about routes that cannot be as given:

- a span whose fibre length is below ``settings.min_route_factor`` x the great
  circle between its ends (long-haul fibre follows roads and rail, ~1.2-1.5x);
- two spans of *different* shared-risk groups that run within
  ``settings.srlg_separation_km`` of each other for more than
  ``settings.srlg_parallel_km``: one backhoe cuts both, so they share a risk the
  groups do not say.

Candidate pairs come from an STRtree of the route lines queried with each line's
envelope grown by the separation, so the exact test (in a local azimuthal
equidistant projection centred on the pair's common area, with the lines
densified along the geodesic) runs only for spans that come near each other.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import linemerge

from planner.errors import Problem
from planner.geo import WGS84, densify_geodesic, geodesic_length_km, great_circle_km, local_metric

if TYPE_CHECKING:
    from planner.validate import Inputs

__all__ = ["ParallelRun", "corridor_problems", "parallel_runs", "span_lines"]

DENSIFY_KM = 5.0
"""Lines are densified along the geodesic to this step before the exact test (a 5 km chord is metres off it)."""
KM_PER_DEG_LAT = 110.57
"""The shortest degree of latitude, km: envelopes grown by separation / this never miss a pair."""
CLIP_MARGIN = 0.9
"""A pair is measured when both lines have at least this share of the minimum length in their common area
(a margin for the lon/lat cut against the metric one)."""
FACTOR_TOLERANCE = 1e-9
"""A route factor counts as below the minimum only by more than this (a span drawn straight is exactly 1)."""


@dataclass(frozen=True)
class ParallelRun:
    """Two spans of different shared-risk groups side by side: the longest stretch, and its middle."""

    a: str
    b: str
    srlg_a: str
    srlg_b: str
    length_km: float
    lon: float
    lat: float


def span_lines(inp: Inputs) -> dict[str, LineString]:
    """Each span's route line (lon/lat): from the routes file, else its ends and waypoints.

    Spans whose ends are unknown or the same node are left out (the topology checks
    report them).
    """
    xy = {s.id: (s.lon, s.lat) for s in inp.sites.sites}
    xy |= {p.id: (p.lon, p.lat) for p in inp.topology.pops}
    xy |= {j.id: (j.lon, j.lat) for j in inp.topology.junctions}
    out: dict[str, LineString] = {}
    for span in inp.topology.spans:
        if span.a in xy and span.b in xy and span.a != span.b:
            out[span.id] = (inp.routes[span.id][0] if span.id in inp.routes
                            else LineString([xy[span.a], *span.waypoints, xy[span.b]]))
    return out


def _grown(line: BaseGeometry, km: float) -> BaseGeometry:
    """The line's lon/lat envelope grown by at least ``km`` on every side."""
    minx, miny, maxx, maxy = line.bounds
    dlat = km / KM_PER_DEG_LAT
    cos = max(math.cos(math.radians(min(max(abs(miny), abs(maxy)) + dlat, 89.9))), 1e-3)
    dlon = dlat / cos
    return box(minx - dlon, miny - dlat, maxx + dlon, maxy + dlat)


def _parts(geom: BaseGeometry) -> list[LineString]:
    """The contiguous stretches of a (multi)line, joined where they touch."""
    if geom.is_empty:
        return []
    merged = linemerge(geom) if isinstance(geom, MultiLineString) else geom
    if isinstance(merged, LineString):
        return [merged]
    return [g for g in getattr(merged, "geoms", []) if isinstance(g, LineString)]


def _longest(near: BaseGeometry) -> LineString | None:
    parts = _parts(near)
    return max(parts, key=lambda p: p.length) if parts else None


def _pair_run(la: BaseGeometry, lb: BaseGeometry, area: BaseGeometry, separation_km: float,
              min_length_km: float = 0.0) -> tuple[float, tuple[float, float]] | None:
    """The longest stretch along which ``la`` and ``lb`` run within ``separation_km``: (km, its middle lon/lat).

    Both lines are cut to the rectangle ``area`` (where they can be near each other)
    and projected into an azimuthal equidistant projection centred on it. The stretch
    is the shorter of the longest part of each line within the separation of the
    other. ``None`` when there is none, or when either line has less than
    ``min_length_km`` in ``area`` (then no stretch is that long either).
    """
    a, b = shapely.clip_by_rect(la, *area.bounds), shapely.clip_by_rect(lb, *area.bounds)
    if a.is_empty or b.is_empty:
        return None
    if min(WGS84.geometry_length(a), WGS84.geometry_length(b)) < min_length_km * 1000.0 * CLIP_MARGIN:
        return None  # not that much of either line in the common area: no stretch that long
    c = area.centroid
    local = local_metric(c.y, c.x)
    a_m = shapely.transform(a, local.transform, interleaved=False)
    b_m = shapely.transform(b, local.transform, interleaved=False)
    sep_m = separation_km * 1000.0
    run_a = _longest(a_m.intersection(b_m.buffer(sep_m)))
    run_b = _longest(b_m.intersection(a_m.buffer(sep_m)))
    if run_a is None or run_b is None:
        return None
    mid = run_a.interpolate(0.5, normalized=True)
    lon, lat = local.transform(mid.x, mid.y, direction="INVERSE")
    return min(run_a.length, run_b.length) / 1000.0, (float(lon), float(lat))


def parallel_runs(lines: Mapping[str, LineString], srlg: Mapping[str, str], *, separation_km: float = 1.0,
                  min_length_km: float = 5.0) -> list[ParallelRun]:
    """Pairs of spans in different shared-risk groups that run within ``separation_km`` for over ``min_length_km``.

    Parameters
    ----------
    lines
        Span id -> route line (lon/lat).
    srlg
        Span id -> shared-risk group.
    separation_km, min_length_km
        How close, for how long.

    Returns
    -------
    list of ParallelRun
        One per pair (ids in ``lines`` order), with the longest stretch's length and middle.

    Examples
    --------
    Two routes 500 m apart for 20 km (0.0045 degrees of latitude is 500 m), and a third far away:

    >>> lines = {"east": LineString([(-90.0, 33.0), (-89.8, 33.0)]),
    ...          "west": LineString([(-90.0, 33.0045), (-89.8, 33.0045)]),
    ...          "far": LineString([(-90.0, 34.0), (-89.8, 34.0)])}
    >>> [(r.a, r.b, round(r.length_km)) for r in parallel_runs(lines, {"east": "c1", "west": "c2", "far": "c3"})]
    [('east', 'west', 19)]
    >>> parallel_runs(lines, {"east": "c1", "west": "c1", "far": "c3"})  # one conduit: known to share the risk
    []
    """
    ids = list(lines)
    if len(ids) < 2:
        return []
    geoms = np.array([lines[i] for i in ids], dtype=object)
    grown = np.array([_grown(g, separation_km) for g in geoms], dtype=object)
    tree = shapely.STRtree(geoms)
    qi, ti = tree.query(grown, predicate="intersects")
    keep = qi < ti
    dense: dict[int, BaseGeometry] = {}
    out: list[ParallelRun] = []
    for i, j in sorted(zip(qi[keep].tolist(), ti[keep].tolist(), strict=True)):
        if srlg.get(ids[i], "") == srlg.get(ids[j], ""):
            continue
        area = grown[i].intersection(grown[j])
        for k in (i, j):
            if k not in dense:
                dense[k] = densify_geodesic(geoms[k], DENSIFY_KM)
        run = _pair_run(dense[i], dense[j], area, separation_km, min_length_km)
        if run is not None and run[0] > min_length_km:
            km, (lon, lat) = run
            out.append(ParallelRun(ids[i], ids[j], srlg.get(ids[i], ""), srlg.get(ids[j], ""), km, lon, lat))
    return out


def corridor_problems(inp: Inputs) -> list[Problem]:
    """Warnings for spans shorter than the roads they follow and for spans of different groups side by side."""
    settings = inp.scenario.settings
    tf, tp = inp.topology_pos.file, inp.topology_pos
    lines = span_lines(inp)
    index = {s.id: i for i, s in enumerate(inp.topology.spans)}
    spans = {s.id: s for s in inp.topology.spans}
    out: list[Problem] = []
    for sid, line in lines.items():
        s = spans[sid]
        (lon_a, lat_a), (lon_b, lat_b) = line.coords[0][:2], line.coords[-1][:2]
        gc = great_circle_km(lat_a, lon_a, lat_b, lon_b)
        if gc <= 0:
            continue
        km = s.length_km if s.length_km is not None else geodesic_length_km(line) * (s.route_factor or 1.0)
        factor = km / gc
        if factor < settings.min_route_factor * (1 - FACTOR_TOLERANCE):
            file, where = tf, tp.where(("spans", index[sid]))
            if s.length_km is not None:
                field, value = "length_km", f"{s.length_km:g}"
            elif s.route_factor is not None:
                field, value = "route_factor", f"{s.route_factor:g}"
            elif sid in inp.routes:  # the routes file draws it
                file, where = inp.routes_file, inp.routes[sid][1]
                field, value = "geometry", f"{len(line.coords)} points"
            else:
                field, value = "waypoints", f"{len(s.waypoints)} waypoint(s)"
            out.append(Problem(
                file, where, field, value,
                f"span {sid} is shorter than the roads it follows: {km:,.1f} km of fibre is {factor:.3f} x the "
                f"great circle between {s.a} and {s.b} ({gc:,.1f} km), below min_route_factor "
                f"{settings.min_route_factor:g} (long-haul fibre runs ~1.2-1.5 x)",
                "give the fibre length (length_km), a route_factor (e.g. 1.3), or waypoints along the road or "
                "rail it follows",
                severity="warning"))
    runs = parallel_runs(lines, {sid: spans[sid].srlg for sid in lines},
                         separation_km=settings.srlg_separation_km, min_length_km=settings.srlg_parallel_km)
    for r in runs:
        out.append(Problem(
            tf, tp.where(("spans", index[r.a], "srlg")), "srlg", f"{r.srlg_a!r} and {r.srlg_b!r}",
            f"spans {r.a} (shared-risk group {r.srlg_a}) and {r.b} (group {r.srlg_b}) run within "
            f"{settings.srlg_separation_km:g} km of each other for {r.length_km:,.1f} km, around lon {r.lon:.4f}, "
            f"lat {r.lat:.4f}: one cut there takes both, yet their groups say they are diverse",
            f"put both spans in one shared-risk group, or route them apart (waypoints of {r.a} or {r.b} more than "
            f"{settings.srlg_separation_km:g} km from the other)",
            severity="warning"))
    return out
