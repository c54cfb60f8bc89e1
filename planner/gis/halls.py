"""Halls on the map: one point per hall, laid out inside its campus, with its pods and aggregation use.

A hall has no coordinates of its own in the inputs, so its point is placed, the
same way every time, inside the campus footprint (on a grid of the footprint's
interior, north-west first) or, for a campus without one, on a ring of
:data:`RING_M` metres around the campus point (clockwise from north). Distances
are laid out in a local azimuthal equidistant projection centred on the campus,
so the layout is metric wherever the campus is.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from planner.geo import local_metric
from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["HALL_COLUMNS", "RING_M", "hall_points", "halls_table", "layout_points"]

RING_M = 250.0
"""Radius of the ring of halls around a campus point that has no footprint, metres."""
MAX_GRID = 64
"""Finest grid (cells across the footprint) tried before falling back to a ring."""

HALL_COLUMNS = {"site": "str", "building": "str", "name": "str", "pod_ids": "str", "pods": "int64",
                "gpus": "int64", "uplink_gbps": "float64", "aggregation_gbps": "float64", "unlimited": "bool",
                "lat": "float64", "lon": "float64"}
"""Columns of the ``halls`` layer without a plan (``aggregation_gbps`` is empty where ``unlimited``)."""


def _ring(n: int, radius_m: float) -> list[tuple[float, float]]:
    """``n`` points on a circle of ``radius_m`` around the origin, clockwise from north."""
    return [(radius_m * math.sin(2 * math.pi * i / n), radius_m * math.cos(2 * math.pi * i / n)) for i in range(n)]


def _grid(area: BaseGeometry, n: int) -> list[tuple[float, float]] | None:
    """``n`` cell centres inside ``area`` (metres), spread over the finest grid with enough; else ``None``."""
    minx, miny, maxx, maxy = area.bounds
    side = max(maxx - minx, maxy - miny)
    if not side > 0:
        return None
    for k in range(max(1, math.ceil(math.sqrt(n))), MAX_GRID + 1):
        step = side / k
        xs = minx + step * (np.arange(math.ceil((maxx - minx) / step)) + 0.5)
        ys = maxy - step * (np.arange(math.ceil((maxy - miny) / step)) + 0.5)
        inside = [(float(x), float(y)) for y in ys for x in xs if area.contains(Point(x, y))]
        if len(inside) >= n:
            return [inside[i * len(inside) // n] for i in range(n)]
    return None


def layout_points(lat: float, lon: float, n: int, footprint: BaseGeometry | None = None) -> list[tuple[float, float]]:
    """``n`` (lon, lat) points for the halls of a campus: inside its footprint, else around its point.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> pts = layout_points(33.0, -90.0, 4, box(-90.01, 32.99, -89.99, 33.01))
    >>> len(set(pts)), all(box(-90.01, 32.99, -89.99, 33.01).contains(Point(p)) for p in pts)
    (4, True)
    >>> [(round(x, 4), round(y, 4)) for x, y in layout_points(33.0, -90.0, 2)]
    [(-90.0, 33.0023), (-90.0, 32.9977)]
    """
    if n <= 0:
        return []
    local = local_metric(lat, lon)
    xy = None
    if footprint is not None and not footprint.is_empty:
        xy = _grid(shapely.transform(footprint, local.transform, interleaved=False), n)
    if xy is None:
        xy = _ring(n, RING_M)
    lons, lats = local.transform([x for x, _ in xy], [y for _, y in xy], direction="INVERSE")
    return [(float(a), float(b)) for a, b in zip(lons, lats, strict=True)]


def hall_points(sc: Scenario) -> dict[str, tuple[float, float]]:
    """Each hall's (lon, lat): the halls of a campus in table order, laid out by :func:`layout_points`."""
    out: dict[str, tuple[float, float]] = {}
    for site, halls in sc.halls.groupby("site", sort=False):
        s = sc.sites.loc[site]
        pts = layout_points(float(s["lat"]), float(s["lon"]), len(halls), s["footprint"])
        out.update(zip(map(str, halls.index), pts, strict=True))
    return out


def halls_table(sc: Scenario, plan: Plan | None = None) -> pd.DataFrame:
    """The halls as a table of :data:`HALL_COLUMNS` (and, with a plan, their peak use), indexed by hall id.

    With a plan: ``peak_interpod_gbps`` (the most inter-pod traffic on the hall's
    aggregation layer in any week), ``peak_utilisation`` (of its aggregation capacity;
    empty where unlimited), ``peak_leased_gpus`` and ``min_free_gpus``, from
    ``plan.hall_use``.
    """
    h = sc.halls
    where = hall_points(sc)
    cap = h["aggregation_gbps"].astype(float)
    unlimited = ~np.isfinite(cap)
    pod_ids = sc.pods.reset_index().groupby("hall", sort=False)["pod"].agg(";".join)
    t = pd.DataFrame({
        "site": h["site"].astype(str), "building": h["building"].astype(str), "name": h["name"].astype(str),
        "pod_ids": pod_ids.reindex(h.index).fillna(""), "pods": h["pods"].astype("int64"),
        "gpus": h["gpus"].astype("int64"), "uplink_gbps": h["uplink_gbps"].astype(float),
        "aggregation_gbps": cap.where(~unlimited), "unlimited": unlimited,
        "lat": [where[str(i)][1] for i in h.index], "lon": [where[str(i)][0] for i in h.index],
    }, index=pd.Index(h.index.astype(str), name="hall"))
    if plan is not None:
        use = plan.hall_use.assign(hall=plan.hall_use["hall"].astype(str)).groupby("hall").agg(
            peak_interpod_gbps=("interpod_gbps", "max"), peak_utilisation=("utilisation", "max"),
            peak_leased_gpus=("leased_gpus", "max"), min_free_gpus=("free_gpus", "min"))
        use = use.reindex(t.index)
        use["peak_utilisation"] = use["peak_utilisation"].where(~t["unlimited"])
        t = t.join(use.astype({"peak_interpod_gbps": float, "peak_utilisation": float}))
        t[["peak_leased_gpus", "min_free_gpus"]] = t[["peak_leased_gpus", "min_free_gpus"]].fillna(0).astype("int64")
    return t


def halls_frame(sc: Scenario, plan: Plan | None = None) -> gpd.GeoDataFrame:
    """:func:`halls_table` as a point layer (EPSG:4326) indexed by ``id``."""
    t = halls_table(sc, plan)
    geom = [Point(x, y) for x, y in zip(t["lon"], t["lat"], strict=True)]
    return gpd.GeoDataFrame(t.rename_axis("id"), geometry=geom, crs="EPSG:4326")
