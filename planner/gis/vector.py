"""Write GIS layers as one GeoJSON FeatureCollection or a GeoPackage, and span routes as GeoJSON.

Files are written next to their destination under a temporary name and then
renamed over it, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from planner.gis.layers import LAYER_GEOMETRY, joined, layers_of
from planner.gis.styles import LAYER_DESCRIPTIONS, layer_qml
from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["GEOJSON_PRECISION", "GPKG_VERSION", "export_routes_geojson", "features", "write_geojson",
           "write_geojson_layers", "write_gpkg"]

#: GeoPackage version written: 1.3, which every GDAL reads and validates (GDAL 3.6 only partly knows 1.4).
GPKG_VERSION = "1.3"
#: The geometry column of every GeoPackage layer.
GPKG_GEOMETRY = "geom"
#: Columns of QGIS's ``layer_styles`` table (its ``id`` is the table's FID).
STYLE_COLUMNS = ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                 "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]
#: ``update_time`` of the styles: fixed, so the same scenario and plan give the same file.
STYLE_TIME = "2000-01-01T00:00:00"


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it when the block succeeds (and is removed if not)."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.stem}.{os.getpid()}.tmp{dest.suffix}")
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        tmp.replace(dest)
    finally:
        tmp.unlink(missing_ok=True)


def json_value(value: Any) -> Any:
    """A table value as plain JSON: numpy scalars unwrapped, NaN/NA as ``None``, lists joined with ``;``."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, tuple | list | set | frozenset):
        return joined(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, pd.Timestamp) and not pd.isna(value):
        return value.isoformat()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return None if pd.isna(value) else str(value)


def geometry_json(geom: BaseGeometry | None, precision: int | None) -> dict[str, Any] | None:
    """A shapely geometry as a GeoJSON geometry, coordinates rounded to ``precision`` decimals."""
    if geom is None or geom.is_empty:
        return None
    if precision is not None:
        geom = shapely.transform(geom, lambda xy: np.round(xy, precision))
    return dict(mapping(geom))


GEOJSON_PRECISION = 7
"""Decimals of GeoJSON coordinates: 7 (~1 cm), as RFC 7946 suggests no more than needed."""


def _column_values(column: pd.Series) -> list[Any]:
    """A column's values as plain JSON (:func:`json_value` of each), numpy numbers converted in one pass."""
    if isinstance(column.dtype, pd.StringDtype):  # text as it is, missing as None
        return column.to_numpy(dtype=object, na_value=None).tolist()
    if not isinstance(column.dtype, np.dtype):  # nullable and other extension types: value by value
        return [json_value(v) for v in column]
    if column.dtype.kind in "iub":
        return column.to_numpy().tolist()
    if column.dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in column.to_numpy().tolist()]
    return [json_value(v) for v in column]


def _feature_rows(layers: Mapping[str, gpd.GeoDataFrame], *,
                  layer_property: bool) -> Iterator[tuple[str, dict[str, Any], BaseGeometry | None]]:
    """Each feature of every layer as (top-level id, properties, geometry), layer by layer, row by row."""
    for name, gdf in layers.items():
        cols = [c for c in gdf.columns if c != gdf.geometry.name]
        keys = ["layer", "id", *cols] if layer_property else ["id", *cols]
        ids = [json_value(fid) for fid in gdf.index]
        columns = [[name] * len(gdf), ids] if layer_property else [ids]
        columns += [_column_values(gdf[c]) for c in cols]
        for fid, geom, *values in zip(gdf.index, gdf.geometry, *columns, strict=True):
            yield (f"{name}:{fid}" if layer_property else str(fid)), dict(zip(keys, values, strict=True)), geom


def features(layers: Mapping[str, gpd.GeoDataFrame], *, precision: int | None = GEOJSON_PRECISION,
             layer_property: bool = True) -> list[dict[str, Any]]:
    """GeoJSON features of every layer: a top-level ``id`` (``<layer>:<id>`` with ``layer_property``,
    unique across layers) and ``layer`` and ``id`` properties."""
    return [{"type": "Feature", "id": fid, "properties": props, "geometry": geometry_json(geom, precision)}
            for fid, props, geom in _feature_rows(layers, layer_property=layer_property)]


def _dumps(value: Any) -> str:
    """``value`` as compact JSON, as the files are written (UTF-8 text, no NaN)."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def _feature_lines(layers: Mapping[str, gpd.GeoDataFrame], *, precision: int | None,
                   layer_property: bool = True) -> list[str]:
    """Each of :func:`features` as one line of compact JSON; a geometry shared by many features
    (replica routes over one path) is encoded once."""
    geometry_text: dict[int, tuple[BaseGeometry | None, str]] = {}  # keyed by id(); the geometry kept alive
    lines = []
    for fid, props, geom in _feature_rows(layers, layer_property=layer_property):
        cached = geometry_text.get(id(geom))
        if cached is None or cached[0] is not geom:
            cached = geometry_text[id(geom)] = (geom, _dumps(geometry_json(geom, precision)))
        lines.append(f'{{"type":"Feature","id":{_dumps(fid)},"properties":{_dumps(props)},"geometry":{cached[1]}}}')
    return lines


def _write_collection(feats: list[dict[str, Any]] | list[str], path: str | Path) -> Path:
    """An RFC 7946 FeatureCollection, one feature per line (features as dicts, or as their JSON lines)."""
    body = ",\n".join(f if isinstance(f, str) else _dumps(f) for f in feats)
    text = '{"type":"FeatureCollection","features":[\n' + body + ("\n" if body else "") + "]}\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_geojson(layers_or_sc: Mapping[str, gpd.GeoDataFrame] | Scenario, path: str | Path, *,
                  plan: Plan | None = None, precision: int = GEOJSON_PRECISION) -> Path:
    """Write every layer into ONE GeoJSON FeatureCollection (RFC 7946).

    Coordinates are lon/lat (WGS84) rounded to ``precision`` decimals (7: ~1 cm);
    there is no ``crs`` member. Each feature's ``layer`` property names its layer, and
    its top-level ``id`` is ``<layer>:<id>``. QGIS splits such a mixed file into one
    sublayer per geometry type; :func:`write_geojson_layers` writes a file per layer.

    Parameters
    ----------
    layers_or_sc
        Layers from :func:`~planner.gis.topology_layers`, or a scenario to build them from.
    path
        The ``.geojson`` file to write.
    plan
        With a scenario: the plan whose routes and use to include.
    precision
        Decimals kept in coordinates.

    Returns
    -------
    Path
        ``path``.
    """
    return _write_collection(_feature_lines(layers_of(layers_or_sc, plan), precision=precision), path)


def write_geojson_layers(layers_or_sc: Mapping[str, gpd.GeoDataFrame] | Scenario, folder: str | Path, *,
                         plan: Plan | None = None, precision: int = GEOJSON_PRECISION) -> list[Path]:
    """Write each layer as its own GeoJSON FeatureCollection, ``<folder>/<layer>.geojson``.

    One geometry type and one set of fields per file, as QGIS and kepler.gl expect of
    a layer; each feature's top-level ``id`` is its id in the layer.

    Returns
    -------
    list of Path
        The files written, one per layer.
    """
    layers = layers_of(layers_or_sc, plan)
    out = Path(folder)
    return [_write_collection(_feature_lines({name: gdf}, precision=precision, layer_property=False),
                              out / f"{name}.geojson") for name, gdf in layers.items()]


def _geometry_type(name: str, gdf: gpd.GeoDataFrame) -> str:
    """The layer's declared geometry type (known layers), else the single type it holds, else Unknown."""
    if name in LAYER_GEOMETRY:
        return LAYER_GEOMETRY[name]
    kinds = gdf.geom_type.dropna().unique()
    return str(kinds[0]) if len(kinds) == 1 else "Unknown"


def write_gpkg(layers_or_sc: Mapping[str, gpd.GeoDataFrame] | Scenario, path: str | Path, *,
               plan: Plan | None = None) -> Path:
    """Write every layer as a named layer of one GeoPackage (version 1.3), through pyogrio.

    Each layer carries its description (``gpkg_contents``); the ``layer_styles``
    table (QGIS's own) holds each layer's default style, so QGIS opens spans
    coloured by use of their usable limit and campuses sized by GPUs.

    Parameters
    ----------
    layers_or_sc
        Layers from :func:`~planner.gis.topology_layers`, or a scenario to build them from.
    path
        The ``.gpkg`` file to write (replaced when it exists).
    plan
        With a scenario: the plan whose routes and use to include.

    Returns
    -------
    Path
        ``path``.
    """
    layers = layers_of(layers_or_sc, plan)
    with atomic_path(path) as tmp:
        for i, (name, gdf) in enumerate(layers.items()):
            options = {} if i else {"dataset_options": {"VERSION": GPKG_VERSION}}
            pyogrio.write_dataframe(gdf.reset_index(), tmp, layer=name, driver="GPKG", append=i > 0,
                                    geometry_type=_geometry_type(name, gdf), promote_to_multi=False,
                                    layer_options={"GEOMETRY_NAME": GPKG_GEOMETRY,
                                                   "DESCRIPTION": LAYER_DESCRIPTIONS.get(name, "")}, **options)
        styles = _layer_styles(layers)
        if len(styles):
            pyogrio.write_dataframe(styles, tmp, layer="layer_styles", driver="GPKG", append=True,
                                    layer_options={"FID": "id", "DESCRIPTION": "Default QGIS styles of the layers"})
    return Path(path)


def _layer_styles(layers: Mapping[str, gpd.GeoDataFrame]) -> pd.DataFrame:
    """QGIS's ``layer_styles`` table: the default style (QML) of each layer that has one."""
    rows = []
    for name, gdf in layers.items():
        qml = layer_qml(name, gdf)
        if qml is None:
            continue
        rows.append({"f_table_catalog": "", "f_table_schema": "", "f_table_name": name,
                     "f_geometry_column": GPKG_GEOMETRY, "styleName": name, "styleQML": qml, "styleSLD": "",
                     "useAsDefault": True, "description": LAYER_DESCRIPTIONS.get(name, ""), "owner": "",
                     "ui": "", "update_time": pd.Timestamp(STYLE_TIME)})
    return pd.DataFrame(rows, columns=STYLE_COLUMNS)


def export_routes_geojson(sc: Scenario, path: str | Path, *, precision: int | None = None) -> Path:
    """Write the spans' route LineStrings as the GeoJSON a scenario reads back as ``files.routes``.

    Each feature has properties ``span`` (its id), ``a`` and ``b``; edit the lines in
    a GIS tool, keep the ends on their nodes, and point ``files.routes`` at the file.

    Parameters
    ----------
    sc
        The scenario.
    path
        The ``.geojson`` file to write.
    precision
        Decimals kept in coordinates; all of them when ``None`` (lengths then read back exactly).

    Returns
    -------
    Path
        ``path``.
    """
    feats = [{"type": "Feature", "properties": {"span": str(span), "a": s["a"], "b": s["b"]},
              "geometry": geometry_json(s["geometry"], precision)} for span, s in sc.spans.iterrows()]
    return _write_collection(feats, path)
