"""GIS layers of a scenario (and optionally a plan) as GeoDataFrames in EPSG:4326.

Every layer is indexed by a stable string ``id`` (the domain id, or a composite
such as ``SA-J:amp1`` or ``L1#0``), keeps units in its column names and holds no
tuple or list columns (lists are joined with ``;``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import LineString, Point

from planner.geo import densify_geodesic, points_along_km
from planner.gis.halls import halls_frame
from planner.plan import Plan
from planner.scenario import Scenario

__all__ = ["CRS", "LAYER_GEOMETRY", "LIST_SEP", "Layers", "joined", "layers_of", "route_line", "route_lines",
           "to_geodataframes", "topology_layers"]

CRS = "EPSG:4326"

#: The geometry type of each layer, in drawing order (areas, lines, points).
LAYER_GEOMETRY: dict[str, str] = {
    "footprints": "Polygon", "spans": "LineString", "routes": "LineString", "api_routes": "LineString",
    "amplifiers": "Point",
    "junctions": "Point", "pops": "Point", "halls": "Point", "sites": "Point",
}

LIST_SEP = ";"

Layers = dict[str, gpd.GeoDataFrame]


def _frame(rows: list[dict[str, Any]], schema: dict[str, str]) -> gpd.GeoDataFrame:
    """A layer from rows with ``id``, ``geometry`` and the ``schema`` columns (name -> dtype)."""
    df = pd.DataFrame(rows, columns=["id", *schema, "geometry"]).astype({"id": str, **schema})
    gdf = gpd.GeoDataFrame(df, geometry="geometry", crs=CRS)
    return gdf.set_index("id")


def joined(values: Any) -> str:
    """Tuples, lists and sets as ``a;b`` text; other values as ``str``."""
    if isinstance(values, tuple | list | set | frozenset):
        return LIST_SEP.join(str(v) for v in values)
    return "" if values is None else str(values)


# --------------------------------------------------------------------------- points
def _sites(sc: Scenario, plan: Plan | None) -> gpd.GeoDataFrame:
    """Campuses as points, with GPUs by SKU, power and (with a plan) peak use."""
    s = sc.sites
    summary = sc.summary()
    counts = ["pods", "gpus", *[c for c in summary.columns if c.startswith("gpus_")]]
    table = pd.DataFrame({"name": s["name"], "state": s["state"], "region": s["region"].fillna("").astype(str),
                          "residency": s["residency"].map(joined), "lat": s["lat"], "lon": s["lon"],
                          "pue": s["pue"], "grid_mw": s["grid_mw"], "onsite_mw": s["onsite_mw"],
                          "power_price_usd_per_mwh": s["power_price_usd_per_mwh"]})
    table = table.join(summary[[*counts, "it_mw", "facility_mw", "available_mw_min", "available_mw_max"]])
    table[counts] = table[counts].fillna(0).astype("int64")
    if plan is not None:
        table = table.join(_site_plan_columns(sc, plan))
    rows = [{"id": sid, **r, "geometry": Point(r["lon"], r["lat"])} for sid, r in table.iterrows()]
    return _frame(rows, {str(c): str(t) for c, t in table.dtypes.items()})


def _site_plan_columns(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Per site: peak leased GPUs, peak power, least headroom, revenue and leases placed."""
    use = plan.site_use.groupby("site").agg(peak_leased_gpus=("leased_gpus", "max"),
                                            peak_power_mw=("power_mw", "max"),
                                            min_headroom_mw=("headroom_mw", "min"))
    p = plan.placements
    leases = p[p["lease"].map(sc.workloads["priority"]).ne("internal")]
    out = use.reindex(sc.sites.index)
    out["leases_placed"] = leases.groupby("site")["lease"].nunique().reindex(sc.sites.index).fillna(0)
    out["revenue_usd"] = p.groupby("site")["revenue_usd"].sum().reindex(sc.sites.index).fillna(0.0)
    return out.astype({"peak_leased_gpus": "int64", "leases_placed": "int64"})


def _points(table: pd.DataFrame, extra: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """PoPs or junctions (name, lat, lon) as points."""
    t = table[["name", "lat", "lon"]] if extra is None else table[["name", "lat", "lon"]].join(extra)
    rows = [{"id": i, **r, "geometry": Point(r["lon"], r["lat"])} for i, r in t.iterrows()]
    return _frame(rows, {"name": "str", "lat": "float64", "lon": "float64",
                         **{str(c): str(d) for c, d in t.dtypes.items() if c not in ("name", "lat", "lon")}})


def _footprints(sc: Scenario) -> gpd.GeoDataFrame:
    """Campus outlines as polygons (only the sites that have one)."""
    rows = [{"id": sid, "site": sid, "name": r["name"], "geometry": r["footprint"]}
            for sid, r in sc.sites.iterrows() if r["footprint"] is not None]
    return _frame(rows, {"site": "str", "name": "str"})


def _amplifier_points(line: LineString, length_km: float, n: int) -> list[tuple[float, float]]:
    """``n`` in-line amplifier huts evenly along ``line``.

    :func:`~planner.geo.points_along_km` places ``ceil(L / S) - 1`` points; a
    spacing of ``L / (n + 0.5)`` asks for exactly ``n``, immune to float ties.
    """
    if n <= 0 or length_km <= 0:
        return []
    return points_along_km(line, length_km / (n + 0.5))


def _amplifiers(sc: Scenario) -> gpd.GeoDataFrame:
    """In-line amplifier huts of every span, numbered 1..n from end ``a``."""
    rows = []
    for span, s in sc.spans.iterrows():
        n = int(s["n_amplifiers"])
        for i, (lon, lat) in enumerate(_amplifier_points(s["geometry"], float(s["length_km"]), n), start=1):
            rows.append({"id": f"{span}:amp{i}", "span": span, "index": i,
                         "km_from_a": float(s["length_km"]) * i / (n + 1), "lat": lat, "lon": lon,
                         "geometry": Point(lon, lat)})
    return _frame(rows, {"span": "str", "index": "int64", "km_from_a": "float64", "lat": "float64",
                         "lon": "float64"})


# --------------------------------------------------------------------------- lines
SPAN_COLUMNS = ["a", "b", "length_km", "great_circle_km", "route_factor", "latency_ms", "capacity_gbps",
                "fibre_pairs", "channels", "channel_gbps", "srlg", "n_amplifiers", "amplifier_spacing_km"]


DENSIFY_KM = 20.0
"""Span and route lines get a point at least every this many km along the geodesic (see
:func:`~planner.geo.densify_geodesic`), so that GIS tools draw them where lengths and
amplifiers are measured."""


def _spans(sc: Scenario, plan: Plan | None) -> gpd.GeoDataFrame:
    """DCI spans as their route LineStrings, with their usable limit and (given a plan) peak and mean use."""
    table = sc.spans[SPAN_COLUMNS].copy()
    limit = float(sc.settings.max_link_utilisation)
    table["max_utilisation_pct"] = limit * 100.0
    table["usable_gbps"] = table["capacity_gbps"] * limit
    if plan is not None:
        use = plan.link_use.groupby("span").agg(peak_gbps=("gbps", "max"), peak_utilisation=("utilisation", "max"),
                                                mean_utilisation=("utilisation", "mean"))
        table = table.join(use)
        table["peak_pct_of_limit"] = table["peak_utilisation"] / limit * 100.0
        table["mean_pct_of_limit"] = table["mean_utilisation"] / limit * 100.0
    rows = [{"id": span, **r, "geometry": densify_geodesic(sc.spans.at[span, "geometry"], DENSIFY_KM)}
            for span, r in table.iterrows()]
    return _frame(rows, {str(c): str(t) for c, t in table.dtypes.items()})


def route_line(sc: Scenario, start: str, spans: Sequence[str]) -> tuple[LineString, list[str]]:
    """The polyline of a path: its spans' geometries in order, each oriented from the current node.

    Parameters
    ----------
    sc
        The scenario (its ``spans`` table gives ends and geometries).
    start
        The node the path leaves from (a site).
    spans
        Span ids in path order.

    Returns
    -------
    line, nodes
        The concatenated LineString (lon/lat) and the nodes visited, ``start`` first.

    Raises
    ------
    ValueError
        When a span does not touch the node the path has reached.
    """
    node, nodes = start, [start]
    coords: list[tuple[float, ...]] = []
    for span in spans:
        row = sc.spans.loc[span]
        a, b, geom = str(row["a"]), str(row["b"]), row["geometry"]
        pts = [tuple(xy) for xy in geom.coords]
        if node == b and node != a:
            pts.reverse()
        elif node != a:
            msg = f"span {span} ({a}-{b}) does not touch {node}, where the path from {start} has reached"
            raise ValueError(msg)
        node = b if node == a else a
        nodes.append(node)
        coords += pts[1:] if coords and coords[-1] == pts[0] else pts
    return LineString(coords), nodes


ROUTE_SCHEMA = {"lease": "str", "replica": "int64", "tenant": "str", "priority": "str", "site": "str",
                "pods": "str", "gpus": "int64", "region": "str", "path": "str", "spans": "str",
                "n_spans": "int64", "length_km": "float64", "latency_ms": "float64", "latency_slo_ms": "float64",
                "egress_gbps": "float64", "start_week": "int64", "end_week": "int64", "revenue_usd": "float64"}


def _replicas(plan: Plan) -> pd.DataFrame:
    """Placements summed per (lease, replica): one site, one path, total GPUs, egress and revenue."""
    return plan.placements.groupby(["lease", "replica"], sort=True).agg(
        site=("site", "first"), pods=("pod", lambda pods: LIST_SEP.join(map(str, pods))), gpus=("gpus", "sum"),
        spans=("spans", "first"), latency_ms=("latency_ms", "first"), egress_gbps=("egress_gbps", "sum"),
        start_week=("start_week", "first"), end_week=("end_week", "first"), revenue_usd=("revenue_usd", "sum"),
    ).reset_index()


def _span_ids(value: object) -> tuple[str, ...]:
    """A placement's ``spans`` cell (a tuple, or a list after JSON) as span ids."""
    return tuple(str(s) for s in value) if isinstance(value, tuple | list) else ()


def route_lines(sc: Scenario) -> Callable[[str, tuple[str, ...]], tuple[LineString, tuple[str, ...]]]:
    """A function giving a path's drawn line, computed once per distinct path.

    Thousands of replicas share a few hundred (site, spans) paths; the function
    returned builds each path's :func:`route_line`, densified along the geodesic
    (:data:`DENSIFY_KM`), the first time it is asked for and hands the same
    (immutable) line and node tuple back after that.

    Parameters
    ----------
    sc
        The scenario whose spans the paths run over.

    Returns
    -------
    callable
        ``(start, spans) -> (line, nodes)``: the densified LineString from ``start``
        along ``spans`` (a tuple, in path order) and the nodes visited, ``start``
        first. Raises ValueError as :func:`route_line` does.

    Examples
    --------
    >>> from planner import load_scenario
    >>> sc = load_scenario()
    >>> line_of = route_lines(sc)
    >>> span = sc.spans.index[0]
    >>> line, nodes = line_of(str(sc.spans.at[span, "a"]), (span,))
    >>> line_of(str(sc.spans.at[span, "a"]), (span,))[0] is line
    True
    """
    cache: dict[tuple[str, tuple[str, ...]], tuple[LineString, tuple[str, ...]]] = {}

    def line_of(start: str, spans: tuple[str, ...]) -> tuple[LineString, tuple[str, ...]]:
        key = (start, spans)
        if key not in cache:
            line, nodes = route_line(sc, start, spans)
            cache[key] = (densify_geodesic(line, DENSIFY_KM), tuple(nodes))
        return cache[key]

    return line_of


def _routes(sc: Scenario, plan: Plan) -> gpd.GeoDataFrame:
    """One LineString per placed (lease, replica) with a routed path, site to PoP."""
    rows = []
    wl = sc.workloads
    tenant, priority, slo = (wl[c].to_dict() for c in ("tenant", "priority", "latency_slo_ms"))
    span_km = sc.spans["length_km"].to_dict()
    line_of = route_lines(sc)
    for r in _replicas(plan).itertuples(index=False):
        spans = _span_ids(r.spans)
        if not spans:
            continue
        line, nodes = line_of(str(r.site), spans)
        rows.append({"id": f"{r.lease}#{r.replica}", "lease": r.lease, "replica": r.replica,
                     "tenant": tenant[r.lease], "priority": priority[r.lease], "site": r.site,
                     "pods": r.pods, "gpus": r.gpus, "region": nodes[-1], "path": " > ".join(nodes),
                     "spans": joined(spans), "n_spans": len(spans),
                     "length_km": float(sum(span_km[s] for s in spans)), "latency_ms": r.latency_ms,
                     "latency_slo_ms": slo[r.lease], "egress_gbps": r.egress_gbps,
                     "start_week": r.start_week, "end_week": r.end_week, "revenue_usd": r.revenue_usd,
                     "geometry": line})
    routes = _frame(rows, ROUTE_SCHEMA)
    start = pd.to_datetime(sc.horizon.start_date or None, errors="coerce")
    if not pd.isna(start):  # dates for time-aware tools (QGIS's temporal controller, Google Earth's slider)
        period = pd.Timedelta(hours=float(sc.horizon.hours_per_period))
        routes["start_date"] = (start + (routes["start_week"] - 1) * period).astype("datetime64[ms]")
        routes["end_date"] = (start + routes["end_week"] * period).astype("datetime64[ms]")
    return routes


API_ROUTE_SCHEMA = {"stream": "str", "model": "str", "site": "str", "region": "str", "path_id": "str",
                    "path": "str", "spans": "str", "n_spans": "int64", "length_km": "float64",
                    "latency_ms": "float64", "start_week": "int64", "end_week": "int64", "weeks_served": "int64",
                    "peak_tokens_per_s": "float64", "mean_tokens_per_s": "float64", "peak_gbps": "float64",
                    "transport_usd": "float64"}


def _api_route_spans(sc: Scenario, routes: pd.DataFrame) -> dict[str, tuple[str, ...]]:
    """The DCI spans of each API route's path: the route's own ``spans`` when it has them, else the candidate path's."""
    if "spans" in routes:
        return {str(pid): _span_ids(v) for pid, v in zip(routes["path_id"], routes["spans"], strict=True)}
    from planner.network import build_network
    from planner.routing import candidate_paths

    paths = candidate_paths(sc, build_network(sc))
    return {str(pid): tuple(paths.at[pid, "spans"]) for pid in routes["path_id"].unique() if pid in paths.index}


def _api_routes(sc: Scenario, plan: Plan) -> gpd.GeoDataFrame:
    """One LineString per (API stream, campus, path) that serves tokens in some week, campus to PoP."""
    rt = plan.api_routes
    rows: list[dict[str, Any]] = []
    if len(rt):
        spans_of = _api_route_spans(sc, rt)
        g = rt.groupby(["stream", "site", "path_id"], sort=True)
        line_of = route_lines(sc)
        for (stream, site, pid), df in g:
            spans = spans_of.get(str(pid), ())
            if not spans:
                continue
            line, _ = line_of(str(site), spans)
            weeks = df["week"].astype(int)
            first = df.iloc[0]
            rows.append({"id": f"{stream}@{pid}", "stream": stream, "model": first["model"], "site": site,
                         "region": first["region"], "path_id": pid, "path": first["path"], "spans": joined(spans),
                         "n_spans": len(spans), "length_km": float(first["length_km"]),
                         "latency_ms": float(first["latency_ms"]), "start_week": int(weeks.min()),
                         "end_week": int(weeks.max()), "weeks_served": int(weeks.nunique()),
                         "peak_tokens_per_s": float(df["served_tokens_per_s"].max()),
                         "mean_tokens_per_s": float(df["served_tokens_per_s"].sum()) / int(weeks.nunique()),
                         "peak_gbps": float(df["gbps"].max()), "transport_usd": float(df["transport_usd"].sum()),
                         "geometry": line})
    return _frame(rows, API_ROUTE_SCHEMA)


def _pop_plan_columns(sc: Scenario, routes: gpd.GeoDataFrame) -> pd.DataFrame:
    """Per PoP: how many replica routes end there and their peak weekly egress."""
    weeks = sc.weeks.to_numpy()
    at = sc.pops.index.get_indexer(routes["region"])
    if (at < 0).any():
        msg = f"routes end at regions that are not PoPs: {sorted(set(routes['region'][at < 0]))}"
        raise KeyError(msg)
    active = ((weeks >= routes["start_week"].to_numpy()[:, None])
              & (weeks <= routes["end_week"].to_numpy()[:, None]))
    egress = np.zeros((len(sc.pops), len(weeks)))
    np.add.at(egress, at, active * routes["egress_gbps"].to_numpy(dtype=float)[:, None])  # in route order
    counts = routes.groupby("region").size().reindex(sc.pops.index).fillna(0).astype("int64")
    peak = pd.DataFrame(egress, index=sc.pops.index, columns=weeks).max(axis=1)
    return pd.DataFrame({"routes": counts, "peak_egress_gbps": peak})


# --------------------------------------------------------------------------- public
def topology_layers(sc: Scenario, plan: Plan | None = None) -> Layers:
    """The scenario's topology (and a plan's routes and use) as GIS layers.

    Parameters
    ----------
    sc
        The scenario.
    plan
        A plan for ``sc``; adds use columns to ``sites``, ``pops`` and ``spans`` and a
        ``routes`` layer.

    Returns
    -------
    dict of str to GeoDataFrame
        In EPSG:4326, indexed by ``id``: ``footprints`` (polygons, only when a site
        has one), ``spans`` (LineStrings), ``routes`` and ``api_routes`` (LineStrings, only with a plan),
        ``amplifiers``, ``junctions``, ``pops``, ``halls`` and ``sites`` (points), in that order.

        - ``sites``: name, region, residency, power, pods, ``gpus`` and ``gpus_<SKU>``;
          with a plan ``peak_leased_gpus``, ``peak_power_mw``, ``min_headroom_mw``,
          ``leases_placed``, ``revenue_usd``.
        - ``spans``: a, b, length_km, great_circle_km, route_factor, latency_ms,
          capacity_gbps, srlg, n_amplifiers..., the usable limit
          ``max_utilisation_pct`` (the scenario's ``max_link_utilisation``, in %) and
          ``usable_gbps``; with a plan ``peak_gbps``, ``peak_utilisation`` and
          ``mean_utilisation`` (fractions of capacity, from ``plan.link_use``) and
          ``peak_pct_of_limit``, ``mean_pct_of_limit`` (100 = at the usable limit).
          Lines are densified along the geodesic (:data:`DENSIFY_KM`).
        - ``amplifiers``: span, index (1..n from end a), km_from_a.
        - ``routes``: one per placed (lease, replica) with a routed path (id
          ``<lease>#<replica>``): site, pods, region (the PoP reached), path, spans,
          length_km, latency_ms, egress_gbps (replica total), start_week, end_week,
          revenue_usd; the line runs from the site to the PoP. When the horizon has a
          ``start_date``, also ``start_date`` (start of ``start_week``) and ``end_date``
          (end of ``end_week``, exclusive), for time-aware tools.
        - ``api_routes`` (only with a plan that serves API demand): one per (stream,
          campus, path) that serves tokens in some week (id ``<stream>@<path_id>``):
          model, site, region, path, spans, length_km, latency_ms, the weeks served
          (``start_week``..``end_week``, ``weeks_served``), ``peak_tokens_per_s`` and
          ``mean_tokens_per_s`` (over the weeks served), ``peak_gbps``, ``transport_usd``;
          the line runs from the campus to the PoP.
        - ``pops``: with a plan ``routes`` ending there and ``peak_egress_gbps``.
        - ``halls``: one point per hall (aggregation domain), laid out inside its
          campus footprint or around the campus point (:mod:`planner.gis.halls`):
          site, building, name, pod_ids, pods, gpus, uplink_gbps, aggregation_gbps
          (empty where ``unlimited``: no aggregation layer modelled); with a plan
          ``peak_interpod_gbps``, ``peak_utilisation`` (of aggregation capacity, from
          ``plan.hall_use``), ``peak_leased_gpus``, ``min_free_gpus``.

    Examples
    --------
    >>> from planner import load_scenario
    >>> layers = topology_layers(load_scenario())
    >>> layers["sites"].crs.to_epsg(), layers["spans"].geom_type.unique().tolist()
    (4326, ['LineString'])
    """
    routes = _routes(sc, plan) if plan is not None else None
    layers: Layers = {}
    footprints = _footprints(sc)
    if len(footprints):
        layers["footprints"] = footprints
    layers["spans"] = _spans(sc, plan)
    if routes is not None:
        layers["routes"] = routes
    if plan is not None and len(plan.api_routes):
        layers["api_routes"] = _api_routes(sc, plan)
    layers["amplifiers"] = _amplifiers(sc)
    layers["junctions"] = _points(sc.junctions)
    layers["pops"] = _points(sc.pops, None if routes is None else _pop_plan_columns(sc, routes))
    layers["halls"] = halls_frame(sc, plan)
    layers["sites"] = _sites(sc, plan)
    return layers


def to_geodataframes(sc: Scenario, plan: Plan | None = None) -> Layers:
    """Same as :func:`topology_layers`: the layers as GeoDataFrames, for notebooks."""
    return topology_layers(sc, plan)


def layers_of(layers_or_sc: Mapping[str, gpd.GeoDataFrame] | Scenario, plan: Plan | None = None) -> Layers:
    """Layers as given, or built from a scenario (and plan) by :func:`topology_layers`.

    Raises
    ------
    ValueError
        When a plan comes with ready-made layers (it is only used to build them).
    """
    if isinstance(layers_or_sc, Scenario):
        return topology_layers(layers_or_sc, plan)
    if plan is not None:
        msg = "plan is only used with a Scenario; pass topology_layers(sc, plan) or the scenario and the plan"
        raise ValueError(msg)
    return dict(layers_or_sc)
