"""GraphML, GML and NetworkX node-link JSON (Internet Topology Zoo, topohub), read by NetworkX.

Topology Zoo files carry ``Latitude``/``Longitude`` and ``label`` on nodes and
``LinkSpeedRaw`` (bit/s) on some links; topohub's node-link JSON carries ``name``
and ``pos`` = [lon, lat] on nodes and ``dist`` (km, straight line) on links.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import networkx as nx

from planner.errors import Problem, ScenarioError
from planner.importers.source import SourceNetwork, from_networkx, source_label

__all__ = ["read_gml", "read_graphml", "read_nodelink"]


def _unreadable(path: Path, what: str, exc: Exception, fix: str) -> ScenarioError:
    return ScenarioError([Problem(source_label(path), "", "", "", f"cannot read the file as {what}: {exc}", fix)])


def read_graphml(path: str | Path, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """Read a GraphML file (parallel links kept) as source tables.

    Raises
    ------
    ScenarioError
        When the file is not GraphML NetworkX can read.
    """
    path = Path(path)
    try:
        g = nx.read_graphml(path, force_multigraph=True)
    except (OSError, ET.ParseError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise _unreadable(path, "GraphML", exc, "export the graph as GraphML (yEd, Gephi, networkx)") from None
    return from_networkx(g, source_label(path), srlg_attr=srlg_attr)


def read_gml(path: str | Path, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """Read a GML file (nodes keyed by their ``id``; ``label`` is the name) as source tables.

    Raises
    ------
    ScenarioError
        When the file is not GML NetworkX can read (a graph with parallel links needs ``multigraph 1``).
    """
    path = Path(path)
    try:
        g = nx.read_gml(path, label="id")
    except (OSError, UnicodeDecodeError, nx.NetworkXError, ValueError, KeyError) as exc:
        raise _unreadable(path, "GML", exc, "check the GML syntax; a graph with parallel links needs "
                          "'multigraph 1'") from None
    return from_networkx(g, source_label(path), srlg_attr=srlg_attr)


def read_nodelink(path: str | Path, *, srlg_attr: str = "srlg") -> SourceNetwork:
    """Read NetworkX node-link JSON (links under ``edges`` or ``links``), as topohub ships its networks.

    Raises
    ------
    ScenarioError
        When the file is not node-link JSON.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        key = "edges" if "edges" in data else "links"
        g = nx.node_link_graph(data, edges=key)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, nx.NetworkXError, TypeError, KeyError,
            AttributeError) as exc:
        raise _unreadable(path, "node-link JSON", exc, "give a JSON object with 'nodes' and 'edges' (or 'links') "
                          "as networkx.node_link_data writes") from None
    net = from_networkx(g, source_label(path), srlg_attr=srlg_attr)
    demands = data.get("graph", {}).get("demands") if isinstance(data.get("graph"), dict) else None
    if isinstance(demands, dict):
        import pandas as pd

        rows = [{"source": str(s), "target": str(t), "value": float(v)} for s, row in demands.items()
                if isinstance(row, dict) for t, v in row.items() if isinstance(v, int | float)]
        net.demands = pd.DataFrame(rows, columns=["source", "target", "value"])
    return net
