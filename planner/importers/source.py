"""What every reader returns: a network's node and link tables in the source's own keys.

Readers (one module per format) fill a :class:`SourceNetwork`; graphs NetworkX reads
go through :func:`from_networkx`, which knows the attribute names of the usual
sources (first match wins):

- node name: ``name``, ``label``, ``Label``, ``city``; else the source key;
- node position: ``lat``/``lon``, ``Latitude``/``Longitude`` (Topology Zoo),
  ``latitude``/``longitude``, ``pos`` = [lon, lat] (topohub), ``x``/``y``;
- link fibre length, km: ``length_km``, ``fibre_km``; a length of unknown kind: ``dist``
  (topohub: the straight line), ``distance``, ``length``;
- link capacity: ``capacity_gbps``, ``LinkSpeedRaw`` (bit/s, Topology Zoo), ``capacity`` (Gbps);
- link conduit: ``srlg`` (or the attribute named by ``srlg_attr``).

Nodes of kind ``pod`` and ``hall`` and their edges (a planner GraphML export) are not fibre and are left out.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from shapely.geometry import LineString

__all__ = ["LINK_COLUMNS", "NODE_COLUMNS", "SourceNetwork", "from_networkx", "link_table", "node_table",
           "source_label"]

NODE_COLUMNS = ["name", "lat", "lon", "kind"]
"""Columns of :attr:`SourceNetwork.nodes` (index: the source's node key); other attributes may follow."""

LINK_COLUMNS = ["source", "target", "id", "length_km", "distance_km", "capacity_gbps", "srlg", "fibre_pairs",
                "channels", "channel_gbps", "amplifier_spacing_km", "geometry"]
"""Columns of :attr:`SourceNetwork.links`; unknown values are NaN (numbers), ``""`` (text) or ``None`` (geometry).

``length_km`` is a fibre length the source names as such; ``distance_km`` a length of
unknown kind (``dist``, ``distance``, ``length``), taken as fibre unless it is within
:data:`STRAIGHT_TOLERANCE` of the great circle.
"""

_NAME_KEYS = ("name", "label", "Label", "city", "City")
_LATLON_KEYS = (("lat", "lon"), ("Latitude", "Longitude"), ("latitude", "longitude"), ("y", "x"))
_FIBRE_KEYS = ("length_km", "fibre_km")
_DISTANCE_KEYS = ("dist", "distance", "length")


# --------------------------------------------------------------------------- tables
@dataclass
class SourceNetwork:
    """A network as read from a source file, in the source's own keys.

    Attributes
    ----------
    nodes
        Indexed by the source's node key (text): ``name``, ``lat``, ``lon``, ``kind``
        (``"pop"``, ``"junction"``, ``"site"`` when the source says, else ``""``) and
        the source's other attributes.
    links
        One row per link (parallel links allowed), the columns of :data:`LINK_COLUMNS`.
    file
        The source file, as named in problems.
    demands
        Traffic demands between nodes when the source has them (SNDlib): ``source``,
        ``target``, ``value``; else empty.
    """

    nodes: pd.DataFrame
    links: pd.DataFrame
    file: str
    demands: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["source", "target", "value"]))


def node_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The node table from rows with ``key`` and the :data:`NODE_COLUMNS` (others kept)."""
    df = pd.DataFrame(rows)
    for c, default in (("name", ""), ("lat", np.nan), ("lon", np.nan), ("kind", "")):
        if c not in df.columns:
            df[c] = default
    if "key" not in df.columns:
        df["key"] = []
    df["key"] = df["key"].astype(str)
    return df.set_index("key")


def link_table(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The link table from rows with (some of) the :data:`LINK_COLUMNS`."""
    df = pd.DataFrame(rows, columns=LINK_COLUMNS)
    for c in ("source", "target", "id", "srlg"):
        df[c] = df[c].map(lambda v: "" if _missing(v) else str(v))
    for c in ("length_km", "distance_km", "capacity_gbps", "fibre_pairs", "channels", "channel_gbps",
              "amplifier_spacing_km"):
        df[c] = pd.to_numeric(df[c], errors="coerce").astype(float)
    df["geometry"] = pd.Series([g if isinstance(g, LineString) else None for g in df["geometry"]], index=df.index,
                               dtype=object)
    return df


def _missing(v: object) -> bool:
    if v is None:
        return True
    if isinstance(v, float):
        return math.isnan(v)
    return isinstance(v, str) and v.strip() == ""


def _number(v: object) -> float:
    """A number from an attribute value, NaN when it is not one."""
    if isinstance(v, bool):
        return math.nan
    try:
        out = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) else math.nan


def _first(d: Mapping[str, Any], keys: Iterable[str]) -> Any:
    return next((d[k] for k in keys if k in d and not _missing(d[k])), None)


def _position(d: Mapping[str, Any]) -> tuple[float, float]:
    """(lat, lon) from a node's attributes, NaN when it has none."""
    if isinstance(d.get("pos"), list | tuple) and len(d["pos"]) == 2:
        return _number(d["pos"][1]), _number(d["pos"][0])
    for lat_key, lon_key in _LATLON_KEYS:
        if lat_key in d and lon_key in d:
            return _number(d[lat_key]), _number(d[lon_key])
    return math.nan, math.nan


def _capacity_gbps(d: Mapping[str, Any]) -> float:
    if "capacity_gbps" in d:
        return _number(d["capacity_gbps"])
    if "LinkSpeedRaw" in d:
        return _number(d["LinkSpeedRaw"]) / 1e9
    return _number(d.get("capacity"))


def from_networkx(g: nx.Graph, file: str, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """A :class:`SourceNetwork` from a NetworkX graph read from ``file`` (see the conventions above).

    Examples
    --------
    >>> g = nx.MultiGraph()
    >>> g.add_node(0, label="New York", Latitude=40.71, Longitude=-74.01)
    >>> g.add_node(1, label="Boston", Latitude=42.36, Longitude=-71.06)
    >>> _ = g.add_edge(0, 1, LinkSpeedRaw=1e10)
    >>> _ = g.add_edge(0, 1)
    >>> net = from_networkx(g, "x.graphml")
    >>> net.nodes["name"].tolist(), net.links["capacity_gbps"].tolist()
    (['New York', 'Boston'], [10.0, nan])
    """
    pods = {n for n, d in g.nodes(data=True) if d.get("kind") in ("pod", "hall")}  # a planner export's fabric
    nodes = []
    for key, d in g.nodes(data=True):
        if key in pods:
            continue
        lat, lon = _position(d)
        name = _first(d, _NAME_KEYS)
        extra = {k: v for k, v in d.items() if isinstance(v, int | float | str) and k not in NODE_COLUMNS}
        nodes.append({**extra, "key": str(key), "name": str(name) if name is not None else "", "lat": lat,
                      "lon": lon, "kind": str(d.get("kind", "")) if d.get("kind") in ("pop", "junction", "site")
                      else ""})
    edges = g.edges(keys=True, data=True) if g.is_multigraph() else ((u, v, None, d) for u, v, d in g.edges(data=True))
    links = []
    for n1, n2, _k, d in edges:
        if n1 in pods or n2 in pods:
            continue
        length, distance = _first(d, _FIBRE_KEYS), _first(d, _DISTANCE_KEYS)
        # an undirected graph keeps no order of the ends: a planner export names them
        u, v = (d["a"], d["b"]) if {str(d.get("a")), str(d.get("b"))} == {str(n1), str(n2)} else (n1, n2)
        links.append({"source": str(u), "target": str(v), "id": d.get("id", ""),
                      "length_km": _number(length) if length is not None else math.nan,
                      "distance_km": _number(distance) if distance is not None else math.nan,
                      "capacity_gbps": _capacity_gbps(d), "srlg": d.get(srlg_attr, ""),
                      **{c: _number(d.get(c)) for c in ("fibre_pairs", "channels", "channel_gbps",
                                                        "amplifier_spacing_km")}})
    return SourceNetwork(node_table(nodes), link_table(links), file)


def source_label(path: Path) -> str:
    """How to name a source file in problems: relative to the working directory where possible."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
