"""Turn a source network into the planner's topology: ids, PoPs, campuses, lengths, shared-risk groups.

:func:`build_topology` takes a :class:`~planner.importers.source.SourceNetwork` and
returns an :class:`ImportedTopology`: PoPs, junctions and spans with valid, unique
ids (made from the names where the source's keys are not ids), campuses joined to
their nearest nodes by access spans, each span's length (the source's fibre
length, its drawn route, or the great circle times a route factor), capacity and
shared-risk group, and a warning for every assumption made.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from shapely.geometry import LineString

from planner.errors import Problem, ScenarioError
from planner.geo import geodesic_length_km, great_circle_km
from planner.ids import ID_PATTERN, MAX_ID_LENGTH, is_id
from planner.importers.source import SourceNetwork

__all__ = ["ImportOptions", "ImportedTopology", "build_topology", "make_id", "unique_ids"]

log = logging.getLogger(__name__)

STRAIGHT_TOLERANCE = 0.02
"""A source length within 2 % of the great circle is a straight-line distance, not a fibre length."""

SNAP_WARN_KM = 1.0
"""A line end further than this from its node is snapped onto the node with a warning."""


# --------------------------------------------------------------------------- ids
def make_id(text: str) -> str:
    """A valid planner id from a name: ASCII, lower case, words joined by ``-``.

    Examples
    --------
    >>> make_id("New York"), make_id("St. Louis, MO"), make_id("Zürich (ZH)"), make_id("OH-NAL")
    ('new-york', 'st.-louis-mo', 'zurich-zh', 'oh-nal')
    >>> make_id("  ")
    ''
    """
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^a-z0-9_.]+", "-", ascii_text.lower()).strip("-._")
    slug = re.sub(r"-+", "-", slug)
    return slug[:MAX_ID_LENGTH].rstrip("-._")


def unique_ids(wanted: Iterable[str], taken: Iterable[str] = ()) -> list[str]:
    """``wanted`` made unique (``x``, ``x-2``, ``x-3``...), avoiding ``taken``.

    Examples
    --------
    >>> unique_ids(["a", "b", "a", "a"], taken=["b"])
    ['a', 'b-2', 'a-2', 'a-3']
    """
    used = set(taken)
    out = []
    for w in wanted:
        ident, n = w, 1
        while ident in used:
            n += 1
            ident = f"{w[:MAX_ID_LENGTH - len(str(n)) - 1]}-{n}"
        used.add(ident)
        out.append(ident)
    return out


def _node_id(key: str, name: str) -> str:
    """The planner id of a source node: its key when it is a valid, non-numeric id, else made from its name."""
    if is_id(key) and not key.isdigit():
        return key
    return make_id(name) or make_id(key) or "node"


# --------------------------------------------------------------------------- options and result
@dataclass(frozen=True)
class ImportOptions:
    """How to turn a source network into a planner topology.

    Attributes
    ----------
    pops
        The nodes that are PoPs (users' traffic enters there), by source key, name or
        id; ``"ID=NAME"`` also gives the PoP the id ``ID``. Empty: the nodes the source
        marks as PoPs, else (``top_pops`` unset) every node.
    top_pops, pops_by
        Also make PoPs of the ``top_pops`` nodes with the largest numeric attribute ``pops_by``.
    sites
        Campuses (``id``, ``name``, ``lat``, ``lon``), e.g. ``load_sites(path)``: each is
        joined to its ``attach_k`` nearest nodes by access spans. A node with a
        campus's id is that campus (an exported scenario read back).
    attach_k
        Access spans per campus.
    route_factor
        Fibre length / great circle for spans the source gives as straight lines.
    srlg_attr
        The link attribute holding the shared-risk group (conduit).
    srlg_table
        Shared-risk groups by span: a mapping from span id (or ``"a|b"`` of source keys or ids) to group.
    fibre_pairs, channels, channel_gbps, amplifier_spacing_km
        Defaults for links whose source does not say.
    """

    pops: tuple[str, ...] = ()
    top_pops: int = 0
    pops_by: str = ""
    sites: pd.DataFrame | None = None
    attach_k: int = 2
    route_factor: float = 1.3
    srlg_attr: str = "srlg"
    srlg_table: Mapping[str, str] = field(default_factory=dict)
    fibre_pairs: int = 1
    channels: int = 64
    channel_gbps: float = 400.0
    amplifier_spacing_km: float = 80.0


@dataclass
class ImportedTopology:
    """A topology built from a source: the ``topology.yaml`` mapping, span routes and what was assumed.

    Attributes
    ----------
    topology
        The mapping of a ``topology`` file (:class:`planner.schema.TopologyFile`).
    routes
        Span id -> route LineString (lon/lat, from end a to end b), for spans whose
        source gives a geometry; written as the scenario's ``routes`` GeoJSON.
    ids
        Source node key -> planner id.
    warnings
        What was assumed (severity ``"warning"``).
    demands
        The source's traffic demands, in planner ids.
    """

    topology: dict[str, Any]
    routes: dict[str, LineString]
    ids: dict[str, str]
    warnings: list[Problem]
    demands: pd.DataFrame

    @property
    def spans(self) -> pd.DataFrame:
        """The spans as a table indexed by id (a, b, capacity, srlg, length inputs)."""
        return pd.DataFrame(self.topology["spans"]).set_index("id")


# --------------------------------------------------------------------------- build
def _check_nodes(net: SourceNetwork, out: list[Problem]) -> None:
    for key in net.nodes.index[net.nodes.index.duplicated()].unique():
        out.append(Problem(net.file, f"node {key}", "id", repr(key), "two nodes have this key",
                           "give each node its own id (or leave the id out to make it from the name)"))
    for key, r in net.nodes.iterrows():
        where = f"node {key}" + (f" ({r['name']})" if r["name"] and r["name"] != key else "")
        if not (np.isfinite(r["lat"]) and np.isfinite(r["lon"])):
            out.append(Problem(net.file, where, "lat/lon", "", "the node has no coordinates",
                               "give it Latitude/Longitude (or lat/lon, or pos = [lon, lat]), or remove it and "
                               "its links"))
        elif not (-90 <= r["lat"] <= 90 and -180 <= r["lon"] <= 180):
            out.append(Problem(net.file, where, "lat/lon", f"{r['lat']}, {r['lon']}", "coordinates out of range",
                               "give WGS84 decimal degrees: latitude -90..90, longitude -180..180"))
    for i, r in net.links.iterrows():
        where = f"link {int(str(i)) + 1} ({r['source']} - {r['target']})"
        for end in ("source", "target"):
            if r[end] not in net.nodes.index:
                out.append(Problem(net.file, where, end, repr(r[end]), "unknown node",
                                   "use the key of a node of the file"))
        if r["source"] == r["target"]:
            out.append(Problem(net.file, where, "target", repr(r["target"]), "the link starts and ends at one node",
                               "remove the self-loop"))
        cap = r["capacity_gbps"]
        if not np.isnan(cap) and cap <= 0:
            out.append(Problem(net.file, where, "capacity_gbps", f"{cap:g}", "capacity must be positive",
                               "give the capacity in Gbps, or leave it out to use the defaults"))


def _pop_keys(net: SourceNetwork, opts: ImportOptions, ids: dict[str, str],
              out: list[Problem]) -> dict[str, str | None]:
    """Source keys of the PoPs -> the id asked for (``None``: the generated one)."""
    chosen: dict[str, str | None] = {}
    exact: dict[str, str] = {}
    by_name: dict[str, list[str]] = {}
    for key, r in net.nodes.iterrows():
        exact.setdefault(str(key), str(key))  # keys and ids as written; names in any case
        exact.setdefault(ids[str(key)], str(key))
        by_name.setdefault(str(r["name"]).casefold(), []).append(str(key))
    for spec in opts.pops:
        new_id, _, name = spec.partition("=") if "=" in spec else ("", "", spec)
        named = by_name.get(name.strip().casefold(), [])
        key = exact.get(name.strip()) or (named[0] if len(named) == 1 else None)
        if key is None and len(named) > 1:
            out.append(Problem(net.file, "--pop", "pop", repr(name), f"{len(named)} nodes have this name",
                               f"name one by its id: {', '.join(ids[k] for k in named)}"))
            continue
        if key is None:
            names = ", ".join(sorted(str(n) for n in net.nodes["name"].where(net.nodes["name"] != "",
                                                                           net.nodes.index)))
            out.append(Problem(net.file, "--pop", "pop", repr(name), "no node has this key, name or id",
                               f"use one of: {names}"))
            continue
        if new_id and not re.match(ID_PATTERN, new_id.strip()):
            out.append(Problem("command line", "--pop", "pop", repr(spec), "not a valid id before '='",
                               "use letters, digits, '_', '.' or '-' (no spaces), e.g. NYC=New York"))
            continue
        chosen[key] = new_id.strip() or None
    if opts.top_pops:
        if opts.pops_by not in net.nodes.columns:
            attrs = ", ".join(c for c in net.nodes.columns if c not in ("kind",))
            out.append(Problem(net.file, "--pops-by", "pops_by", repr(opts.pops_by), "no node attribute of that name",
                               f"use a numeric node attribute: {attrs}"))
        else:
            values = pd.to_numeric(net.nodes[opts.pops_by], errors="coerce").dropna()
            for key in values.sort_values(ascending=False, kind="stable").index[: opts.top_pops]:
                chosen.setdefault(str(key), None)
    if not opts.pops and not opts.top_pops:
        marked = net.nodes.index[net.nodes["kind"] == "pop"]
        keys = marked if len(marked) else net.nodes.index[net.nodes["kind"] != "site"]
        chosen = {str(k): None for k in keys}
    return chosen


def _length(r: pd.Series, a_xy: tuple[float, float], b_xy: tuple[float, float], opts: ImportOptions,
            straight: list[str], short: list[str]) -> tuple[LineString | None, dict[str, float]]:
    """A span's route (when the source draws one) and its length fields (``length_km`` or ``route_factor``)."""
    gc = great_circle_km(a_xy[1], a_xy[0], b_xy[1], b_xy[0])
    fibre, distance = float(r["length_km"]), float(r["distance_km"])
    src = fibre if np.isfinite(fibre) else distance
    geom = r["geometry"] if isinstance(r["geometry"], LineString) else None
    if geom is not None and len(geom.coords) > 2:
        line = LineString([a_xy, *list(geom.coords)[1:-1], b_xy])
        if np.isfinite(src) and src > geodesic_length_km(line) * (1 + STRAIGHT_TOLERANCE / 4):
            return line, {"length_km": round(src, 3)}
        return line, {}
    if np.isfinite(fibre) and fibre >= gc * (1 - STRAIGHT_TOLERANCE):
        return None, {"length_km": round(fibre, 3)}
    if np.isfinite(src) and gc > 0:
        if src >= gc * (1 + STRAIGHT_TOLERANCE):
            return None, {"length_km": round(src, 3)}
        (straight if src >= gc * (1 - STRAIGHT_TOLERANCE) else short).append(str(r["id"]))
    return None, {"route_factor": opts.route_factor}


def _capacity(r: pd.Series, opts: ImportOptions) -> dict[str, Any]:
    """Fibre pairs x channels x rate: the source's when it has them, its capacity exactly, else the defaults."""
    pairs = int(r["fibre_pairs"]) if np.isfinite(r["fibre_pairs"]) and r["fibre_pairs"] >= 1 else opts.fibre_pairs
    if np.isfinite(r["channels"]) and np.isfinite(r["channel_gbps"]):
        return {"fibre_pairs": pairs, "channels": int(r["channels"]), "channel_gbps": _num(r["channel_gbps"])}
    cap = float(r["capacity_gbps"])
    if not (np.isfinite(cap) and cap > 0):
        return {"fibre_pairs": pairs, "channels": opts.channels, "channel_gbps": _num(opts.channel_gbps)}
    per_pair = cap / pairs
    n = per_pair / opts.channel_gbps
    if n >= 1 and abs(n - round(n)) < 1e-9:
        return {"fibre_pairs": pairs, "channels": round(n), "channel_gbps": _num(opts.channel_gbps)}
    return {"fibre_pairs": pairs, "channels": 1, "channel_gbps": _num(per_pair)}


def _num(v: float) -> float | int:
    """Whole numbers as int (as a person writes them in YAML)."""
    return int(v) if float(v).is_integer() else round(float(v), 6)


def _srlg(r: pd.Series, span_id: str, a: str, b: str, opts: ImportOptions, keys: tuple[str, str]) -> str:
    for k in (span_id, f"{a}|{b}", f"{b}|{a}", f"{keys[0]}|{keys[1]}", f"{keys[1]}|{keys[0]}"):
        if k in opts.srlg_table:
            return str(opts.srlg_table[k])
    return str(r["srlg"])


def _nearest(sites: pd.DataFrame, nodes: dict[str, tuple[float, float]], k: int) -> list[tuple[str, str, float]]:
    """(site, node, km) for the ``k`` nearest nodes of each campus."""
    out = []
    for sid, s in sites.iterrows():
        dist = sorted((great_circle_km(s["lat"], s["lon"], lat, lon), n) for n, (lon, lat) in nodes.items())
        out += [(str(sid), n, km) for km, n in dist[:k]]
    return out


def build_topology(net: SourceNetwork, opts: ImportOptions | None = None) -> ImportedTopology:  # noqa: C901
    """Turn a source network into a planner topology: PoPs, junctions, spans, routes.

    Parameters
    ----------
    net
        The network read from a source (see the readers of :mod:`planner.importers`).
    opts
        PoPs, campuses, route factor, shared-risk groups, default capacities.

    Returns
    -------
    ImportedTopology
        The topology mapping, routes, id map and the warnings about what was assumed.

    Raises
    ------
    ScenarioError
        Listing every problem of the source (nodes without coordinates, links to
        unknown nodes, unknown PoPs...), with the place and the fix.

    Examples
    --------
    >>> from planner.importers.source import link_table, node_table
    >>> nodes = node_table([{"key": "1", "name": "New York", "lat": 40.71, "lon": -74.01},
    ...                     {"key": "2", "name": "Boston", "lat": 42.36, "lon": -71.06}])
    >>> t = build_topology(SourceNetwork(nodes, link_table([{"source": "1", "target": "2"}]), "x.csv"))
    >>> [p["id"] for p in t.topology["pops"]], t.topology["spans"][0]["id"]
    (['new-york', 'boston'], 'new-york-boston')
    """
    opts = opts or ImportOptions()
    problems: list[Problem] = []
    _check_nodes(net, problems)
    if problems:
        raise ScenarioError(problems)
    sites = opts.sites if opts.sites is not None else pd.DataFrame(columns=["name", "lat", "lon"])
    site_ids = {str(s) for s in sites.index}
    nodes = net.nodes
    # campuses in the source (an exported scenario read back) are the sites, not new nodes
    is_site = [str(k) in site_ids or (r["kind"] == "site" and _node_id(str(k), r["name"]) in site_ids)
               for k, r in nodes.iterrows()]
    wanted = [_node_id(str(k), str(r["name"])) for k, r in nodes.iterrows()]
    ids: dict[str, str] = {}
    free = [(str(k), w) for (k, w, s) in zip(nodes.index, wanted, is_site, strict=True) if not s]
    for (k, w, s) in zip(nodes.index, wanted, is_site, strict=True):
        if s:
            ids[str(k)] = w if w in site_ids else str(k)
    provisional = dict(zip([k for k, _ in free], unique_ids([w for _, w in free], taken=site_ids), strict=True))
    pop_keys = _pop_keys(net, opts, {**ids, **provisional}, problems)
    asked = [v for v in pop_keys.values() if v]
    auto = [(k, w) for k, w in free if not pop_keys.get(k)]
    for (k, _), ident in zip(auto, unique_ids([w for _, w in auto], taken=site_ids | set(asked)), strict=True):
        ids[k] = ident
    for k, _ in free:
        ids[k] = pop_keys.get(k) or ids[k]
    for i in sorted({i for i in asked if asked.count(i) > 1 or i in site_ids}):
        problems.append(Problem("command line", "--pop", "pop", repr(i), "two nodes (or a node and a campus) would "
                                "have this id", "give each PoP its own id"))
    renamed = {k: ids[k] for k, w in free if ids[k] != k}
    if renamed:
        log.info("node ids made from names: %s", ", ".join(f"{k} -> {v}" for k, v in list(renamed.items())[:10]))
    xy = {ids[str(k)]: (float(r["lon"]), float(r["lat"])) for k, r in nodes.iterrows()}
    for sid, s in sites.iterrows():
        xy[str(sid)] = (float(s["lon"]), float(s["lat"]))

    pops: list[dict[str, Any]] = []
    junctions: list[dict[str, Any]] = []
    for k, r in nodes.iterrows():
        key = str(k)
        if ids[key] in site_ids:
            continue
        item = {"id": ids[key], "name": str(r["name"]) or key, "lat": round(float(r["lat"]), 7),
                "lon": round(float(r["lon"]), 7)}
        (pops if key in pop_keys else junctions).append(item)

    warnings: list[Problem] = []
    spans: list[dict[str, Any]] = []
    routes: dict[str, LineString] = {}
    straight: list[str] = []
    short: list[str] = []
    links = net.links.copy()
    wanted_span = [(r["id"] if re.match(ID_PATTERN, r["id"]) and not r["id"].isdigit() else "")
                   or f"{ids[r['source']]}-{ids[r['target']]}" for _, r in links.iterrows()]
    links["id"] = unique_ids(wanted_span)
    no_srlg: list[str] = []
    for _, r in links.iterrows():
        a, b = ids[r["source"]], ids[r["target"]]
        line, length = _length(r, xy[a], xy[b], opts, straight, short)
        if line is not None:
            moved = max(great_circle_km(p[1], p[0], q[1], q[0])
                        for p, q in ((r["geometry"].coords[0], xy[a]), (r["geometry"].coords[-1], xy[b])))
            if moved > SNAP_WARN_KM:
                warnings.append(Problem(net.file, f"link {r['id']}", "geometry", f"{moved:.1f} km",
                                        f"the line's ends were up to {moved:.1f} km from nodes {a} and {b}; "
                                        "snapped onto them",
                                        "check the line joins the right nodes", severity="warning"))
            routes[r["id"]] = line
        srlg = _srlg(r, r["id"], a, b, opts, (r["source"], r["target"]))
        if not srlg:
            srlg = r["id"]
            no_srlg.append(r["id"])
        spacing = r["amplifier_spacing_km"]
        spans.append({"id": r["id"], "a": a, "b": b, "srlg": srlg, **_capacity(r, opts),
                      "amplifier_spacing_km": _num(spacing if np.isfinite(spacing) and spacing > 0
                                                   else opts.amplifier_spacing_km), **length})
    # campuses: access spans to the k nearest nodes
    on_net = {ident for ident in ids.values() if ident in site_ids}
    graph_nodes = {ids[str(k)]: xy[ids[str(k)]] for k in nodes.index if ids[str(k)] not in site_ids}
    access = [] if not opts.attach_k else _nearest(sites.drop(index=list(on_net), errors="ignore"), graph_nodes,
                                                   opts.attach_k)
    access_ids = unique_ids([f"{s}-{n}" for s, n, _ in access], taken=set(links["id"]))
    for (site, node, _km), sid in zip(access, access_ids, strict=True):
        spans.append({"id": sid, "a": site, "b": node, "srlg": sid, "fibre_pairs": opts.fibre_pairs,
                      "channels": opts.channels, "channel_gbps": _num(opts.channel_gbps),
                      "amplifier_spacing_km": _num(opts.amplifier_spacing_km), "route_factor": opts.route_factor})
        no_srlg.append(sid)
    if straight:
        warnings.append(Problem(net.file, f"{len(straight)} links", "length", ", ".join(straight[:5]),
                                "the source's length is the straight-line distance (within 2 % of the great circle), "
                                f"not a fibre length; used {opts.route_factor:g} x the great circle",
                                "give fibre lengths (length_km) or route lines, or set --route-factor",
                                severity="warning"))
    if short:
        warnings.append(Problem(net.file, f"{len(short)} links", "length", ", ".join(short[:5]),
                                "the source's length is shorter than the great circle; used "
                                f"{opts.route_factor:g} x the great circle", "check the source's length unit (km)",
                                severity="warning"))
    if any("route_factor" in s for s in spans) and abs(opts.route_factor - 1.0) < STRAIGHT_TOLERANCE:
        warnings.append(Problem("command line", "--route-factor", "route_factor", f"{opts.route_factor:g}",
                                "spans drawn straight are taken as long as the great circle: latency is understated",
                                "long-haul fibre runs ~1.2-1.5x the great circle (US median ~1.3)",
                                severity="warning"))
    if no_srlg:
        warnings.append(Problem(net.file, f"{len(no_srlg)} spans", "srlg", ", ".join(no_srlg[:5]),
                                "no shared-risk group given: each span is its own conduit, so conduit sharing is "
                                "unknown and failures of shared conduits are not modelled",
                                "give an srlg attribute or --srlg-csv (span,srlg)", severity="warning"))
    if not pops:
        problems.append(Problem(net.file, "", "pops", "", "the topology has no PoP",
                                "name PoPs with --pop or --top-pops N --pops-by ATTR"))
    if problems:
        raise ScenarioError(problems)
    demands = net.demands.copy()
    if len(demands):
        demands["source"] = demands["source"].map(ids)
        demands["target"] = demands["target"].map(ids)
    return ImportedTopology({"amplifier_delay_ms": 0.0001, "terminal_delay_ms": 0.01, "pops": pops,
                             "junctions": junctions, "spans": spans}, routes, ids, warnings, demands)
