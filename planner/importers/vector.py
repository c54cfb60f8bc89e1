"""GeoJSON and GeoPackage (points for nodes, lines for spans, geometry kept), read by pyogrio.

Points are nodes and LineStrings are links, in any layer. A layer (or, in one
GeoJSON, a ``layer`` property) named ``pops``, ``junctions`` or ``sites`` says
the kind of its points; ``amplifiers``, ``routes``, ``footprints`` and ``halls`` (what
``planner export`` also writes) are skipped. A node's key is its ``id`` column,
else its ``name``, else its row. A line's ends are its ``a``/``b`` (or
``source``/``target``, ``from``/``to``) columns, else the nodes nearest its first
and last points (within :data:`END_TOLERANCE_KM`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import LineString, MultiLineString

from planner.errors import Problem, ScenarioError
from planner.geo import great_circle_km
from planner.importers.source import SourceNetwork, link_table, node_table, source_label

__all__ = ["END_TOLERANCE_KM", "read_vector"]

END_TOLERANCE_KM = 5.0
"""A line end without named ends joins the nearest node when within this distance."""

SKIPPED_LAYERS = ("amplifiers", "routes", "footprints", "halls")
KINDS = {"pops": "pop", "junctions": "junction", "sites": "site"}
_END_COLUMNS = (("a", "b"), ("source", "target"), ("from", "to"), ("u", "v"))
_LINK_NUMBERS = ("length_km", "capacity_gbps", "fibre_pairs", "channels", "channel_gbps", "amplifier_spacing_km")


def _cell(r: pd.Series, col: str) -> Any:
    v = r.get(col)
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def _frames(path: Path, file: str) -> list[tuple[str, gpd.GeoDataFrame]]:
    try:
        names = [str(n) for n, _ in pyogrio.list_layers(path)]
        frames = [(n, pyogrio.read_dataframe(path, layer=n)) for n in names]
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
        msg = f"cannot read the file as GeoJSON / GeoPackage: {exc}"
        raise ScenarioError([Problem(file, "", "", "", msg, "give a GeoJSON FeatureCollection or a GeoPackage "
                                     "(points for nodes, lines for spans)")]) from None
    out = []
    for name, frame in frames:
        if not isinstance(frame, gpd.GeoDataFrame):  # a table without geometry (QGIS's layer_styles...)
            continue
        gdf = frame.to_crs(4326) if frame.crs is not None and frame.crs.to_epsg() != 4326 else frame
        if "layer" in gdf.columns and len(frames) == 1:
            out += [(str(sub), part) for sub, part in gdf.groupby("layer", sort=False)]
        else:
            out.append((name, gdf))
    return [(n, g) for n, g in out if n not in SKIPPED_LAYERS]


def _nearest(xy: tuple[float, float], nodes: pd.DataFrame) -> tuple[str, float]:
    best = min(((great_circle_km(xy[1], xy[0], r["lat"], r["lon"]), str(k)) for k, r in nodes.iterrows()),
               default=(math.inf, ""))
    return best[1], best[0]


def read_vector(path: str | Path, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """Read a GeoJSON or GeoPackage of node points and span lines as source tables.

    Raises
    ------
    ScenarioError
        When the file cannot be read, or a line's end is near no node (all such lines listed).
    """
    path = Path(path)
    file = source_label(path)
    node_rows: list[dict[str, Any]] = []
    line_rows: list[tuple[str, int, pd.Series, LineString]] = []
    for layer, gdf in _frames(path, file):
        for i, (_, r) in enumerate(gdf.iterrows(), start=1):
            geom = r.geometry
            if geom is None or geom.is_empty:
                continue
            if geom.geom_type == "Point":
                key = _cell(r, "id") or _cell(r, "name") or f"{layer}-{i}"
                extra = {k: v for k, v in r.items() if k not in ("geometry", "layer", "id", "lat", "lon", "kind")
                         and isinstance(v, int | float | str)}
                node_rows.append({**extra, "key": str(key), "name": str(_cell(r, "name") or key),
                                  "lat": geom.y, "lon": geom.x,
                                  "kind": KINDS.get(layer, str(_cell(r, "kind") or ""))})
            elif isinstance(geom, LineString | MultiLineString):
                line = geom if isinstance(geom, LineString) else LineString(
                    [xy for part in geom.geoms for xy in part.coords])
                line_rows.append((layer, i, r, line))
    nodes = node_table(node_rows)
    problems: list[Problem] = []
    links = []
    for layer, i, r, line in line_rows:
        ends = next(((str(r[a]), str(r[b])) for a, b in _END_COLUMNS if _cell(r, a) and _cell(r, b)), None)
        if ends is None:
            (a, da), (b, db) = _nearest(line.coords[0], nodes), _nearest(line.coords[-1], nodes)
            far = [(w, d) for w, d in (("start", da), ("end", db)) if d > END_TOLERANCE_KM]
            for which, d in far:
                problems.append(Problem(file, f"layer {layer}, feature {i}", "geometry", f"{which} point",
                                        f"the line's {which} is {d:.1f} km from the nearest node",
                                        f"draw it to end within {END_TOLERANCE_KM:g} km of a node point, or give "
                                        "its ends in columns a and b"))
            if far:
                continue
            ends = (a, b)
        ident = _cell(r, "id") or _cell(r, "span") or ""
        links.append({"source": ends[0], "target": ends[1], "id": str(ident), "srlg": _cell(r, srlg_attr) or "",
                      "geometry": line, **{c: _cell(r, c) for c in _LINK_NUMBERS}})
    if problems:
        raise ScenarioError(problems)
    return SourceNetwork(nodes, link_table(links), file)
