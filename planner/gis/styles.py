"""How layers are drawn: utilisation-of-limit classes, layer descriptions, and QGIS styles (QML).

The same classes colour spans in KML and in the default QGIS style stored in a
GeoPackage's ``layer_styles`` table (the table QGIS reads and writes: a layer
with a default style there opens styled). A span's class is its peak use as a
share of its *usable limit* (``settings.max_link_utilisation`` of capacity), so a
span the plan fills to the limit reads 100 % and is red, whatever the limit is.
"""

from __future__ import annotations

import itertools
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass

import geopandas as gpd
import numpy as np

__all__ = ["LAYER_DESCRIPTIONS", "LIMIT_CLASSES", "LimitClass", "layer_qml", "limit_class"]


@dataclass(frozen=True)
class LimitClass:
    """A class of span use: ``lower <= % of limit < upper``, its colour and legend text."""

    name: str
    lower_pct: float
    upper_pct: float
    colour: str
    label: str


AT_LIMIT_PCT = 99.99
"""Use from this share of the limit on counts as at the limit (absorbs rounding of a span filled exactly)."""

LIMIT_CLASSES = (
    LimitClass("green", 0.0, 50.0, "#2ca02c", "below 50 % of the usable limit"),
    LimitClass("amber", 50.0, AT_LIMIT_PCT, "#ffbf00", "50-100 % of the usable limit"),
    LimitClass("red", AT_LIMIT_PCT, math.inf, "#d62728", "at the usable limit (100 %)"),
)
"""Span classes by peak use as a share of the usable limit; ``grey`` is for spans without a plan."""

NO_PLAN_COLOUR = "#808080"

LAYER_DESCRIPTIONS = {
    "footprints": "Campus outlines (polygons), one per site that has one.",
    "spans": "DCI fibre spans along their route: length, latency, capacity, shared-risk group, usable limit "
             "(max_utilisation_pct of capacity, usable_gbps) and, with a plan, peak and mean use as a fraction of "
             "capacity (peak_utilisation) and as % of the usable limit (peak_pct_of_limit: 100 = at the limit).",
    "routes": "One line per placed lease replica, from its campus over its DCI path to its users' PoP, with its "
              "traffic, latency and term (start_week, end_week).",
    "api_routes": "One line per hosted-model API stream, campus and path serving its tokens, from the campus to the "
                  "stream's PoP: model, latency, the weeks served, peak and mean tokens/s, peak Gbps, transport cost.",
    "amplifiers": "In-line amplifier huts along each span, numbered from end a.",
    "junctions": "Fibre junctions and regeneration sites.",
    "pops": "Metro PoPs where users' traffic enters; with a plan, the routes ending there and their peak egress.",
    "halls": "Halls (aggregation domains) inside each campus, placed for display: building, pods, GPUs, "
             "aggregation capacity (empty where unlimited) and, with a plan, peak inter-pod traffic and its "
             "utilisation of the aggregation capacity.",
    "sites": "AI campuses: power, PUE, pods and GPUs by SKU; with a plan, peak leased GPUs, power and revenue.",
}
"""What each layer holds, stored as the GeoPackage's layer descriptions."""


def limit_class(pct_of_limit: float | None) -> str:
    """The class name of a span's peak use in % of its usable limit; ``grey`` when unknown.

    Examples
    --------
    >>> [limit_class(p) for p in (10.0, 80.0, 99.999, 100.0, None)]
    ['green', 'amber', 'red', 'red', 'grey']
    """
    if pct_of_limit is None or not math.isfinite(pct_of_limit):
        return "grey"
    return next(c.name for c in LIMIT_CLASSES if pct_of_limit < c.upper_pct)


# --------------------------------------------------------------------------- QML
def _rgba(hex_colour: str, alpha: int = 255) -> str:
    return f"{int(hex_colour[1:3], 16)},{int(hex_colour[3:5], 16)},{int(hex_colour[5:7], 16)},{alpha}"


def _symbol(parent: ET.Element, name: str, kind: str, props: dict[str, str]) -> None:
    """A QGIS symbol with one symbol layer; properties as both ``Option`` (QGIS >= 3.26) and ``prop`` (older)."""
    sym = ET.SubElement(parent, "symbol", {"type": kind, "name": name, "alpha": "1", "clip_to_extent": "1",
                                           "force_rhr": "0"})
    cls = {"line": "SimpleLine", "marker": "SimpleMarker", "fill": "SimpleFill"}[kind]
    layer = ET.SubElement(sym, "layer", {"class": cls, "enabled": "1", "locked": "0", "pass": "0"})
    opts = ET.SubElement(layer, "Option", {"type": "Map"})
    for k, v in props.items():
        ET.SubElement(opts, "Option", {"name": k, "type": "QString", "value": v})
    for k, v in props.items():
        ET.SubElement(layer, "prop", {"k": k, "v": v})


def _line(colour: str, width_mm: float) -> dict[str, str]:
    return {"line_color": _rgba(colour), "line_width": f"{width_mm:g}", "line_width_unit": "MM",
            "capstyle": "round", "joinstyle": "round"}


def _marker(colour: str, size_mm: float) -> dict[str, str]:
    return {"name": "circle", "color": _rgba(colour, 220), "outline_color": "35,35,35,255",
            "outline_width": "0.3", "size": f"{size_mm:g}", "size_unit": "MM"}


def _graduated(root: ET.Element, attr: str, kind: str,
               ranges: list[tuple[float, float, str, dict[str, str]]]) -> None:
    renderer = ET.SubElement(root, "renderer-v2", {"type": "graduatedSymbol", "attr": attr,
                                                   "graduatedMethod": "GraduatedColor", "symbollevels": "0",
                                                   "enableorderby": "0", "forceraster": "0"})
    xml_ranges = ET.SubElement(renderer, "ranges")
    symbols = ET.SubElement(renderer, "symbols")
    for i, (lo, hi, label, props) in enumerate(ranges):
        ET.SubElement(xml_ranges, "range", {"lower": f"{lo:.6f}", "upper": f"{hi:.6f}", "symbol": str(i),
                                            "label": label, "render": "true"})
        _symbol(symbols, str(i), kind, props)


def _single(root: ET.Element, kind: str, props: dict[str, str]) -> None:
    renderer = ET.SubElement(root, "renderer-v2", {"type": "singleSymbol", "symbollevels": "0",
                                                   "enableorderby": "0", "forceraster": "0"})
    _symbol(ET.SubElement(renderer, "symbols"), "0", kind, props)


def _labels(root: ET.Element, field: str) -> None:
    labeling = ET.SubElement(root, "labeling", {"type": "simple"})
    settings = ET.SubElement(labeling, "settings", {"calloutType": "simple"})
    ET.SubElement(settings, "text-style", {"fieldName": field, "fontSize": "8", "textColor": "30,30,30,255",
                                           "isExpression": "0"})
    ET.SubElement(settings, "placement", {"placement": "1", "dist": "1.5"})


def _spans_qml(root: ET.Element, gdf: gpd.GeoDataFrame) -> None:
    if "peak_pct_of_limit" in gdf.columns:
        top = max(float(np.nanmax(gdf["peak_pct_of_limit"].to_numpy(dtype=float), initial=0.0)), 1000.0)
        _graduated(root, "peak_pct_of_limit", "line",
                   [(c.lower_pct, min(c.upper_pct, top), c.label, _line(c.colour, 0.9)) for c in LIMIT_CLASSES])
    else:
        _single(root, "line", _line(NO_PLAN_COLOUR, 0.7))


def _sites_qml(root: ET.Element, gdf: gpd.GeoDataFrame) -> None:
    gpus = gdf["gpus"].to_numpy(dtype=float) if "gpus" in gdf.columns else np.zeros(0)
    hi = float(gpus.max()) if gpus.size else 0.0
    if hi <= 0:
        _single(root, "marker", _marker("#d62728", 4.0))
    else:
        edges = [0.0, hi / 4, hi / 2, hi]
        _graduated(root, "gpus", "marker",
                   [(lo, up, f"{lo:,.0f}-{up:,.0f} GPUs", _marker("#d62728", 3.0 + 2.5 * i))
                    for i, (lo, up) in enumerate(itertools.pairwise(edges))])
    _labels(root, "name")


_SIMPLE = {
    "routes": ("line", _line("#1f77b4", 0.4)),
    "api_routes": ("line", _line("#d97706", 0.5)),
    "pops": ("marker", _marker("#1f77b4", 3.0)),
    "halls": ("marker", _marker("#7c3aed", 2.2)),
    "junctions": ("marker", _marker("#ffffff", 1.6)),
    "amplifiers": ("marker", _marker("#ffbf00", 1.2)),
    "footprints": ("fill", {"color": "214,39,40,64", "outline_color": "214,39,40,255", "outline_width": "0.4",
                            "outline_width_unit": "MM", "style": "solid"}),
}


def layer_qml(name: str, gdf: gpd.GeoDataFrame) -> str | None:
    """The default QGIS style (QML) of a layer: spans by use of limit, sites sized by GPUs; ``None`` if unknown.

    Examples
    --------
    >>> import geopandas as gpd
    >>> qml = layer_qml("spans", gpd.GeoDataFrame({"peak_pct_of_limit": [100.0]}, geometry=[None]))
    >>> 'attr="peak_pct_of_limit"' in qml and 'label="at the usable limit (100 %)"' in qml
    True
    """
    root = ET.Element("qgis", {"version": "3.28.0", "styleCategories": "Symbology|Labeling"})
    if name == "spans":
        _spans_qml(root, gdf)
    elif name == "sites":
        _sites_qml(root, gdf)
    elif name in _SIMPLE:
        kind, props = _SIMPLE[name]
        _single(root, kind, props)
        if name in ("pops", "halls"):
            _labels(root, "name")
    else:
        return None
    ET.indent(root)
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + ET.tostring(root, encoding="unicode")
