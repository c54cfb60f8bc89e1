"""Read a source in any supported format and write the imported topology as ordinary scenario files.

The output folder gets ``topology.yaml`` (PoPs, junctions, spans), ``routes.geojson``
when the source draws span lines, ``demands.csv`` when it has traffic demands and,
given a base scenario, a ``scenario.yaml`` that plans the base scenario's campuses,
pods and leases over the imported network. The folder is written whole into a
temporary folder beside it and renamed into place, or not at all.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planner.errors import Problem, ScenarioError
from planner.importers.build import ImportedTopology, ImportOptions, build_topology, make_id
from planner.importers.graph import read_gml, read_graphml, read_nodelink
from planner.importers.sndlib import read_sndlib
from planner.importers.source import SourceNetwork
from planner.importers.tables import read_csv_pair
from planner.importers.vector import read_vector
from planner.readers import read_yaml_model
from planner.schema import ScenarioFile, SitesFile

__all__ = ["FORMATS", "ImportRun", "format_of", "import_topology", "load_sites", "read_source", "write_topology"]

FORMATS: dict[str, str] = {
    "graphml": "GraphML (Internet Topology Zoo, yEd, Gephi, networkx)",
    "gml": "GML (Internet Topology Zoo)",
    "nodelink": "NetworkX node-link JSON (topohub)",
    "sndlib": "SNDlib network, native text or XML",
    "geojson": "GeoJSON: points for nodes, lines for spans",
    "gpkg": "GeoPackage: points for nodes, lines for spans",
    "csv": "CSV node list (SOURCE) and link list (--links)",
}
"""Source formats of :func:`read_source`."""

_SUFFIXES = {".graphml": "graphml", ".gml": "gml", ".json": "nodelink", ".txt": "sndlib", ".geojson": "geojson",
             ".gpkg": "gpkg", ".csv": "csv"}


def format_of(path: str | Path) -> str | None:
    """The source format a file's suffix (or, for ``.xml``, its root element) names; ``None`` when unclear.

    Examples
    --------
    >>> format_of("Abilene.graphml"), format_of("janos-us.json"), format_of("x.dat")
    ('graphml', 'nodelink', None)
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix == ".xml" and p.is_file():
        head = p.read_text(encoding="utf-8", errors="replace")[:2000]
        return "graphml" if "<graphml" in head else "sndlib" if "sndlib" in head else None
    return _SUFFIXES.get(suffix)


def read_source(path: str | Path, fmt: str | None = None, *, links: str | Path | None = None,
                srlg_attr: str = "srlg") -> SourceNetwork:
    """Read a network source as tables (:class:`~planner.importers.source.SourceNetwork`).

    Parameters
    ----------
    path
        The source file (for ``csv``, the node list).
    fmt
        One of :data:`FORMATS`; from the suffix when ``None``.
    links
        The link list, for ``csv``.
    srlg_attr
        The link attribute holding the shared-risk group.

    Raises
    ------
    ScenarioError
        When the format is unknown or the file does not read (every problem listed).
    """
    path = Path(path)
    fmt = fmt or format_of(path)
    if fmt not in FORMATS:
        raise ScenarioError([Problem(str(path), "", "format", repr(fmt or path.suffix),
                                     "the source format is not clear from the file name",
                                     f"give --format, one of: {', '.join(FORMATS)}")])
    if not path.is_file():
        raise ScenarioError([Problem(str(path), "", "", "", "no such file", "check the path")])
    if fmt == "csv":
        if links is None:
            raise ScenarioError([Problem(str(path), "", "links", "", "a CSV source needs its link list",
                                         "give --links FILE (source,target,... per link)")])
        return read_csv_pair(path, links, srlg_attr=srlg_attr)
    readers: dict[str, Callable[..., SourceNetwork]] = {
        "graphml": read_graphml, "gml": read_gml, "nodelink": read_nodelink, "geojson": read_vector,
        "gpkg": read_vector,
    }
    if fmt == "sndlib":
        return read_sndlib(path)
    return readers[fmt](path, srlg_attr=srlg_attr)


def load_sites(path: str | Path) -> pd.DataFrame:
    """The campuses of a sites file (``id`` index; ``name``, ``lat``, ``lon``), checked as ``planner validate`` does.

    Raises
    ------
    ScenarioError
        When the file has errors.
    """
    path = Path(path)
    model, _, problems = read_yaml_model(path, SitesFile, "sites", str(path))
    if model is None:
        raise ScenarioError(problems)
    return pd.DataFrame([{"id": s.id, "name": s.name, "lat": s.lat, "lon": s.lon} for s in model.sites],
                        columns=["id", "name", "lat", "lon"]).set_index("id")


def _topology_yaml(imp: ImportedTopology, source: str) -> str:
    head = (f"# DCI topology imported from {source} by `planner import topology`.\n"
            "# Edit it as any topology file: PoPs, junctions and spans (see `planner schema topology`).\n"
            "# Spans the source gives as straight lines carry route_factor (fibre / great circle); spans with\n"
            "# a fibre length carry length_km; drawn routes are in routes.geojson.\n")
    return head + yaml.safe_dump(imp.topology, sort_keys=False, allow_unicode=True, default_flow_style=False,
                                 width=120)


def _routes_geojson(imp: ImportedTopology) -> str:
    spans = {s["id"]: s for s in imp.topology["spans"]}
    feats = [{"type": "Feature", "properties": {"span": sid, "a": spans[sid]["a"], "b": spans[sid]["b"]},
              "geometry": {"type": "LineString", "coordinates": [[round(x, 7), round(y, 7)] for x, y in line.coords]}}
             for sid, line in imp.routes.items()]
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False) + "\n"


def _scenario_yaml(base: Path, out_dir: Path, name: str, has_routes: bool) -> str:
    """The base scenario with the imported topology; its other files' paths made relative to ``out_dir``."""
    data = yaml.safe_load(base.read_text(encoding="utf-8"))
    files: dict[str, Any] = dict(data.get("files", {}))
    target = out_dir.resolve()

    def rel(p: str) -> str:
        return os.path.relpath((base.parent / p).resolve(), target)

    out_files = {k: ([rel(x) for x in v] if isinstance(v, list) else rel(v)) for k, v in files.items()
                 if k not in ("topology", "routes")}
    out_files["topology"] = "topology.yaml"
    if has_routes:
        out_files["routes"] = "routes.geojson"
    data["files"] = out_files
    data["name"] = name
    data["title"] = f"{data.get('title') or data.get('name', '')} over {name}".strip()
    return (f"# {base.name} planned over an imported network (`planner import topology`).\n"
            + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False, width=120))


def write_topology(imp: ImportedTopology, out_dir: str | Path, *, source: str = "", scenario: str | Path | None = None,
                   name: str = "", force: bool = False) -> list[Path]:
    """Write an imported topology as scenario files into ``out_dir``, whole or not at all.

    Parameters
    ----------
    imp
        From :func:`~planner.importers.build.build_topology`.
    out_dir
        The folder to write; it must not exist, or be empty, or ``force`` be given.
    source
        The source, named in the files' header.
    scenario
        A base scenario: also write ``scenario.yaml`` planning its campuses, pods and
        leases over the imported topology.
    name
        The scenario's name (default: made from the folder's name).
    force
        Replace an existing folder's files, if it is an earlier import (it holds a
        ``topology.yaml``); a folder holding anything else is never replaced.

    Returns
    -------
    list of Path
        The files written.

    Raises
    ------
    FileExistsError
        When ``out_dir`` is a file, or holds files and ``force`` is not given, or holds
        files other than an earlier import's.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        msg = f"{out} is a file, not a folder; choose another --out"
        raise FileExistsError(msg)
    if out.exists() and any(out.iterdir()):
        if not force:
            msg = f"{out} exists and is not empty; pass --force to replace it, or choose another --out"
            raise FileExistsError(msg)
        if not (out / "topology.yaml").is_file():
            msg = (f"{out} holds other files than an imported topology (no topology.yaml); it is not replaced "
                   "even with --force: choose another --out")
            raise FileExistsError(msg)
    files: dict[str, str] = {"topology.yaml": _topology_yaml(imp, source)}
    if imp.routes:
        files["routes.geojson"] = _routes_geojson(imp)
    if len(imp.demands):
        files["demands.csv"] = imp.demands.to_csv(index=False)
    if scenario is not None:
        files["scenario.yaml"] = _scenario_yaml(Path(scenario), out, name or make_id(out.resolve().name) or "imported",
                                                bool(imp.routes))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for fname, text in files.items():
            (tmp / fname).write_text(text, encoding="utf-8")
        if out.exists():
            old = out.with_name(f".{out.name}.old")
            shutil.rmtree(old, ignore_errors=True)
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / f for f in files]


@dataclass
class ImportRun:
    """What :func:`import_topology` read and wrote."""

    source: SourceNetwork
    topology: ImportedTopology
    files: list[Path]


def import_topology(source: str | Path, out_dir: str | Path, *, fmt: str | None = None,
                    links: str | Path | None = None, options: ImportOptions | None = None,
                    scenario: str | Path | None = None, sites: str | Path | None = None,
                    force: bool = False) -> ImportRun:
    """Read a network source and write it as scenario files: what ``planner import topology`` runs.

    Parameters
    ----------
    source, fmt, links
        The source file, its format (from the suffix when ``None``) and, for CSV, the link list.
    out_dir
        The folder to write (see :func:`write_topology`).
    options
        PoPs, attachments, route factor, shared-risk groups, default capacities.
    scenario
        A base scenario: its campuses are attached and a ``scenario.yaml`` is written.
    sites
        A sites file whose campuses to attach (default: the base scenario's).
    force
        Replace an existing folder's files.

    Returns
    -------
    ImportRun
        The source tables, the topology built and the files written.

    Raises
    ------
    ScenarioError
        When the source or the options have errors (all listed).
    FileExistsError
        When ``out_dir`` holds files and ``force`` is not given.
    """
    opts = options or ImportOptions()
    net = read_source(source, fmt, links=links, srlg_attr=opts.srlg_attr)
    sites_path = Path(sites) if sites is not None else None
    if sites_path is None and scenario is not None:
        model, _, problems = read_yaml_model(Path(scenario), ScenarioFile, "scenario", str(scenario))
        if model is None:
            raise ScenarioError(problems)
        sites_path = Path(scenario).parent / model.files.sites
    if sites_path is not None:
        opts = dataclasses.replace(opts, sites=load_sites(sites_path))
    imp = build_topology(net, opts)
    files = write_topology(imp, out_dir, source=str(source), scenario=scenario, force=force)
    return ImportRun(net, imp, files)
