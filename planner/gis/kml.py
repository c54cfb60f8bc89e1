"""Write GIS layers as Google Earth KML 2.2 (``xml.etree`` only; opens offline).

One Folder per layer; spans are coloured by peak use as a share of their usable
limit (``settings.max_link_utilisation`` of capacity; see
:data:`~planner.gis.styles.LIMIT_CLASSES`: green below 50 % of the limit, amber
below it, red at it, grey without a plan), with the legend in the document's
description, and drawn wider for more capacity; sites, PoPs, junctions and
amplifier huts get distinct paddle icons (referenced by URL, as KML styles do;
Google Earth draws a default pin offline). Each layer's fields are declared in a
``Schema`` with their types (``int``, ``double``, ``bool``, ``string``) and every
placemark's values are ``SimpleData`` of it, its id first, so GDAL and Google
Earth read numbers as numbers.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry, BaseMultipartGeometry

from planner.gis.layers import layers_of
from planner.gis.styles import LIMIT_CLASSES, NO_PLAN_COLOUR, limit_class
from planner.gis.vector import atomic_path, json_value
from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["KML_NS", "kml_colour", "write_kml"]

KML_NS = "http://www.opengis.net/kml/2.2"
ICON_URL = "https://maps.google.com/mapfiles/kml/paddle/{}.png"
#: Point layers: (paddle icon, icon scale, label scale).
POINT_STYLES: dict[str, tuple[str, float, float]] = {
    "sites": ("red-stars", 1.3, 1.0), "pops": ("blu-circle", 1.0, 0.9),
    "junctions": ("wht-blank", 0.6, 0.0), "amplifiers": ("ylw-blank", 0.4, 0.0),
    "halls": ("purple-square", 0.7, 0.7),
}
#: Classes of spans by use of their usable limit, RGB.
SPAN_COLOURS = {**{c.name: c.colour for c in LIMIT_CLASSES}, "grey": NO_PLAN_COLOUR}
#: KML Schema types of table dtypes (by kind: integer, float, bool); everything else is ``string``.
SCHEMA_TYPES = {"i": "int", "u": "int", "f": "double", "b": "bool"}
ROUTE_COLOUR = "#1f77b4"
API_ROUTE_COLOUR = "#d97706"
FOOTPRINT_COLOUR = "#d62728"
MIN_WIDTH, MAX_WIDTH = 2, 7


def kml_colour(rgb: str, alpha: int = 255) -> str:
    """``#rrggbb`` as KML's ``aabbggrr``.

    Examples
    --------
    >>> kml_colour("#ffbf00")
    'ff00bfff'
    """
    r, g, b = rgb[1:3], rgb[3:5], rgb[5:7]
    return f"{alpha:02x}{b}{g}{r}".lower()


def _width(capacity_gbps: float, max_gbps: float) -> int:
    """Line width growing with the square root of capacity, MIN_WIDTH..MAX_WIDTH."""
    if not (max_gbps > 0 and math.isfinite(capacity_gbps)):
        return MIN_WIDTH
    return round(MIN_WIDTH + (MAX_WIDTH - MIN_WIDTH) * math.sqrt(max(capacity_gbps, 0.0) / max_gbps))


def _sub(parent: ET.Element, tag: str, text: Any = None) -> ET.Element:
    el = ET.SubElement(parent, tag)
    if text is not None:
        el.text = str(text)
    return el


# --------------------------------------------------------------------------- styles
def _icon_style(doc: ET.Element, sid: str, icon: str, scale: float, label_scale: float) -> None:
    style = _sub(doc, "Style")
    style.set("id", sid)
    ist = _sub(style, "IconStyle")
    _sub(ist, "scale", scale)
    _sub(_sub(ist, "Icon"), "href", ICON_URL.format(icon))
    _sub(_sub(style, "LabelStyle"), "scale", label_scale)


def _line_style(doc: ET.Element, sid: str, colour: str, width: float, fill: str | None = None) -> None:
    style = _sub(doc, "Style")
    style.set("id", sid)
    ls = _sub(style, "LineStyle")
    _sub(ls, "color", colour)
    _sub(ls, "width", width)
    if fill is not None:
        _sub(_sub(style, "PolyStyle"), "color", fill)


def _span_style_id(row: Mapping[str, Any], max_gbps: float) -> str:
    pct = json_value(row.get("peak_pct_of_limit"))
    width = _width(float(row.get("capacity_gbps", math.nan)), max_gbps)
    return f"span-{limit_class(pct)}-w{width}"


def _styles(doc: ET.Element, span_styles: set[str]) -> None:
    for name, (icon, scale, label) in POINT_STYLES.items():
        _icon_style(doc, name, icon, scale, label)
    for sid in sorted(span_styles):
        _, cls, w = sid.split("-")
        _line_style(doc, sid, kml_colour(SPAN_COLOURS[cls]), int(w[1:]))
    _line_style(doc, "routes", kml_colour(ROUTE_COLOUR, 0xB0), 3)
    _line_style(doc, "api_routes", kml_colour(API_ROUTE_COLOUR, 0xB0), 3)
    _line_style(doc, "footprints", kml_colour(FOOTPRINT_COLOUR), 2, fill=kml_colour(FOOTPRINT_COLOUR, 0x40))


# --------------------------------------------------------------------------- geometry
def _coords(coords: Any) -> str:
    return " ".join(f"{x:.6f},{y:.6f}" for x, y, *_ in coords)


#: Coordinate text of lines already written, by ``id()`` (the line kept alive beside its text).
LineTexts = dict[int, tuple[LineString, str]]


def _line_coords(line: LineString, texts: LineTexts) -> str:
    """A line's coordinate text, formatted once per line object (replica routes share their path's line)."""
    known = texts.get(id(line))
    if known is None or known[0] is not line:
        known = texts[id(line)] = (line, _coords(line.coords))
    return known[1]


# --------------------------------------------------------------------------- XML text
# Placemarks (tens of thousands in a large plan) are written as text, laid out exactly as
# xml.etree writes an indented tree (ET.indent, two spaces a level; empty elements as
# ``<tag />``), which builds the rest of the document.
INDENT = "  "


def _escape_text(text: str) -> str:
    """Character data escaped as xml.etree escapes it."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    """An attribute value escaped as xml.etree escapes it."""
    return (_escape_text(text).replace('"', "&quot;").replace("\r", "&#13;").replace("\n", "&#10;")
            .replace("\t", "&#09;"))


def _attributes(**attributes: str) -> str:
    return "".join(f' {k}="{_escape_attribute(v)}"' for k, v in attributes.items())


def _leaf(tag: str, text: str, attributes: str = "") -> str:
    """An element without children: ``<tag a="v">text</tag>``, or ``<tag a="v" />`` without text."""
    return f"<{tag}{attributes}>{_escape_text(text)}</{tag}>" if text else f"<{tag}{attributes} />"


def _element(tag: str, children: list[str], depth: int, attributes: str = "") -> str:
    """An element at ``depth`` whose children (already laid out at ``depth + 1``) go one per line."""
    if not children:
        return f"<{tag}{attributes} />"
    inner = "\n" + INDENT * (depth + 1)
    return f"<{tag}{attributes}>{inner}{inner.join(children)}\n{INDENT * depth}</{tag}>"


def _geometry(geom: BaseGeometry, depth: int, texts: LineTexts) -> list[str]:
    """The KML geometry of a Point, LineString, Polygon or multi-part geometry, at ``depth``."""
    if isinstance(geom, Point):
        return [_element("Point", [_leaf("coordinates", _coords(geom.coords))], depth)]
    if isinstance(geom, LineString):
        return [_element("LineString", [_leaf("tessellate", "1"), _leaf("coordinates", _line_coords(geom, texts))],
                         depth)]
    if isinstance(geom, Polygon):
        def ring(boundary: str, coords: Any) -> str:
            return _element(boundary, [_element("LinearRing", [_leaf("coordinates", _coords(coords))], depth + 2)],
                            depth + 1)
        rings = [ring("outerBoundaryIs", geom.exterior.coords),
                 *(ring("innerBoundaryIs", r.coords) for r in geom.interiors)]
        return [_element("Polygon", rings, depth)]
    if isinstance(geom, BaseMultipartGeometry):
        return [_element("MultiGeometry", [g for part in geom.geoms for g in _geometry(part, depth + 1, texts)],
                         depth)]
    return []


# --------------------------------------------------------------------------- placemarks
def _xml_id(text: str) -> str:
    """``text`` as an XML ID (an NCName): characters other than letters, digits, ``_.-`` become ``_``."""
    return re.sub(r"[^A-Za-z0-9_.\-]", "_", text)


def _label(layer: str, fid: str, row: Mapping[str, Any]) -> str:
    if layer in ("sites", "pops", "junctions", "halls") and row.get("name"):
        return f"{row['name']} ({fid})"
    return fid


def _schema(doc: ET.Element, layer: str, gdf: gpd.GeoDataFrame) -> None:
    """The layer's fields and their types, as a KML ``Schema`` (``id`` first)."""
    schema = _sub(doc, "Schema")
    schema.set("name", layer)
    schema.set("id", f"schema-{layer}")
    fields = [("id", "string")] + [(str(c), SCHEMA_TYPES.get(gdf[c].dtype.kind, "string"))
                                   for c in gdf.columns if c != gdf.geometry.name]
    for name, kind in fields:
        field = _sub(schema, "SimpleField")
        field.set("name", name)
        field.set("type", kind)


def _simple_value(value: Any) -> str | None:
    v = json_value(value)
    if v is None:
        return None
    if isinstance(v, bool):
        return "1" if v else "0"
    return repr(v) if isinstance(v, float) else str(v)


def _simple_values(column: pd.Series) -> list[str | None]:
    """:func:`_simple_value` of each value of a column, numpy numbers converted in one pass."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "iu":
        return [str(v) for v in column.to_numpy().tolist()]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "f":
        return [repr(v) if math.isfinite(v) else None for v in column.to_numpy().tolist()]
    if isinstance(column.dtype, np.dtype) and column.dtype.kind == "b":
        return ["1" if v else "0" for v in column.to_numpy().tolist()]
    if isinstance(column.dtype, pd.StringDtype):  # text as it is, missing left out
        return column.to_numpy(dtype=object, na_value=None).tolist()
    return [_simple_value(v) for v in column]


PLACEMARK_DEPTH = 3
"""Placemarks sit at kml > Document > Folder > Placemark."""
#: The element standing in a Folder for its placemarks until the tree is laid out (text escapes ``<``, so its
#: serialised form only occurs as that element).
SLOT = "planner-placemarks-"
SLOT_TEXT = re.compile(f"<{SLOT}(\\d+) />")


def _placemark(layer: str, fid: str, row: Mapping[str, Any], *, geom: BaseGeometry | None, style: str,
               data: Iterable[tuple[str, str | None]], texts: LineTexts) -> str:
    """A placemark of ``row`` as indented XML text; ``data`` are its fields' SimpleData (`` name="..."``
    attribute text, value text or ``None``: left out), id first."""
    d = PLACEMARK_DEPTH
    simple = [f"<SimpleData{key}>{_escape_text(v)}</SimpleData>" if v else f"<SimpleData{key} />"
              for key, v in data if v is not None]
    children = [_leaf("name", _label(layer, fid, row)), _leaf("styleUrl", f"#{style}"),
                _element("ExtendedData", [_element("SchemaData", simple, d + 2,
                                                   _attributes(schemaUrl=f"#schema-{layer}"))], d + 1)]
    begin, end = row.get("start_date"), row.get("end_date")
    if isinstance(begin, pd.Timestamp) and isinstance(end, pd.Timestamp):  # the term, for the time slider
        children.append(_element("TimeSpan", [_leaf("begin", _kml_time(begin)), _leaf("end", _kml_time(end))], d + 1))
    if geom is not None and not geom.is_empty:
        children += _geometry(geom, d + 1, texts)
    return _element("Placemark", children, d, _attributes(id=_xml_id(f"{layer}.{fid}")))


def _kml_time(t: pd.Timestamp) -> str:
    """A KML time: the date at midnight, else date and time (UTC).

    Examples
    --------
    >>> _kml_time(pd.Timestamp("2027-01-04")), _kml_time(pd.Timestamp("2027-01-20 16:00"))
    ('2027-01-04', '2027-01-20T16:00:00Z')
    """
    return t.date().isoformat() if t == t.normalize() else t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _legend(limit_pct: float | None) -> str:
    """The document's description: what the span colours mean, with the scenario's limit."""
    limit = f"{limit_pct:g} % of capacity" if limit_pct is not None else "the scenario's max_link_utilisation"
    items = "".join(f'<li><span style="color:{c.colour}">&#9644;</span> {c.label}</li>' for c in LIMIT_CLASSES)
    return (f"<p>Spans are coloured by their peak use as a share of their usable limit ({limit}):</p>"
            f'<ul>{items}<li><span style="color:{NO_PLAN_COLOUR}">&#9644;</span> no plan</li></ul>'
            "<p>Wider lines carry more capacity. Each placemark holds its fields (typed) and its id.</p>")


def _placemarks(layer: str, gdf: gpd.GeoDataFrame, max_gbps: float, span_styles: set[str]) -> list[str]:
    """The layer's placemarks as XML text, one per row; adds the span styles used to ``span_styles``."""
    cols = [c for c in gdf.columns if c != gdf.geometry.name]
    id_at = next((i for i, c in enumerate(cols) if str(c) == "id"), None)  # a column "id" stands for the feature id
    rest = [i for i in range(len(cols)) if i != id_at]
    names = [_attributes(name=name) for name in ["id", *(str(cols[i]) for i in rest)]]
    texts: LineTexts = {}
    rows = list(zip(*(gdf[c] for c in cols), strict=True)) if cols else [()] * len(gdf)
    simple = list(zip(*(_simple_values(gdf[c]) for c in cols), strict=True)) if cols else [()] * len(gdf)
    out = []
    for fid, geom, values, data in zip(gdf.index, gdf.geometry, rows, simple, strict=True):
        row = dict(zip(cols, values, strict=True))
        if layer == "spans":
            style = _span_style_id(row, max_gbps)
            span_styles.add(style)
        else:
            style = layer if layer in POINT_STYLES or layer in ("routes", "api_routes", "footprints") else "routes"
        first = _simple_value(str(fid)) if id_at is None else data[id_at]
        out.append(_placemark(layer, str(fid), row, geom=geom, style=style, texts=texts,
                              data=zip(names, (first, *(data[i] for i in rest)), strict=True)))
    return out


def write_kml(layers_or_sc: Mapping[str, gpd.GeoDataFrame] | Scenario, path: str | Path, *,
              plan: Plan | None = None, name: str = "planner") -> Path:
    """Write the layers as a Google Earth KML 2.2 document, one Folder per layer.

    Parameters
    ----------
    layers_or_sc
        Layers from :func:`~planner.gis.topology_layers`, or a scenario to build them from.
    path
        The ``.kml`` file to write.
    plan
        With a scenario: the plan whose routes and use to include (colours spans).
    name
        The document's name in Google Earth's Places panel.

    Returns
    -------
    Path
        ``path``.
    """
    layers = layers_of(layers_or_sc, plan)
    if isinstance(layers_or_sc, Scenario) and name == "planner":
        name = f"planner: {layers_or_sc.name}"
    root = ET.Element("kml", xmlns=KML_NS)
    doc = _sub(root, "Document")
    _sub(doc, "name", name)
    spans = layers.get("spans")
    max_gbps = float(spans["capacity_gbps"].max()) if spans is not None and len(spans) else 0.0
    limit = (float(spans["max_utilisation_pct"].iloc[0]) if spans is not None and len(spans)
             and "max_utilisation_pct" in spans.columns else None)
    _sub(doc, "description", _legend(limit))
    for layer, gdf in layers.items():
        _schema(doc, layer, gdf)
    span_styles: set[str] = set()
    placemarks = {layer: _placemarks(layer, gdf, max_gbps, span_styles) for layer, gdf in layers.items()}
    _styles(doc, span_styles)
    layer_names = list(placemarks)
    for i, (layer, texts) in enumerate(placemarks.items()):
        folder = _sub(doc, "Folder")
        _sub(folder, "name", layer)
        if texts:  # a slot for the placemarks' text, filled in after the tree is laid out
            _sub(folder, f"{SLOT}{i}")
    ET.indent(root, space=INDENT)
    parts = SLOT_TEXT.split(ET.tostring(root, encoding="unicode"))  # text, slot number, text, ...
    parts[1::2] = [("\n" + INDENT * PLACEMARK_DEPTH).join(placemarks[layer_names[int(i)]]) for i in parts[1::2]]
    with atomic_path(path) as tmp:
        tmp.write_bytes("".join(["<?xml version='1.0' encoding='UTF-8'?>\n", *parts]).encode("utf-8",
                                                                                             "xmlcharrefreplace"))
    return Path(path)
