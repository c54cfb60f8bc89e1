"""GIS output: layers checked against the plan's own tables, files opened by real GDAL clients.

``ogrinfo`` and GDAL's ``validate_gpkg.py`` (Debian: gdal-bin, python3-gdal) must be
present in CI (``CI`` set): a missing tool fails there, and is skipped only on a
machine without ``CI`` in its environment.
"""

from __future__ import annotations

import itertools
import json
import math
import re
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from planner import gis
from planner.geo import densify_geodesic, geodesic_length_km, great_circle_km
from planner.network import build_network
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan
from planner.scenario import Scenario, load_scenario
from tests import tiny
from tests.gis_clients import KML, ogrinfo, validate_gpkg_command

OGR_TYPES = {"Point": "POINT", "LineString": "LINESTRING", "Polygon": "POLYGON"}
GPKG_TYPES = {"Point": "Point", "LineString": "Line String", "Polygon": "Polygon"}
FOOTPRINT = [[-90.01, 32.99], [-89.99, 32.99], [-89.99, 33.01], [-90.01, 33.01], [-90.01, 32.99]]


# --------------------------------------------------------------------------- fixtures
def _data() -> dict:
    """Tiny scenario with a footprint, a bent span, split and multi-span replicas, and a lease without egress."""
    d = tiny.base()
    d["sites"]["sites"][0]["footprint"] = FOOTPRINT
    d["scenario"]["settings"]["interpod_gbps_per_gpu"] = 2.0  # L2, split over A1 and A2, loads HA1 and HA2
    d["pods"]["halls"] = [{"id": "HA1", "site": "SA", "building": "SA-1", "aggregation_gbps": 1000},
                          {"id": "HA2", "site": "SA", "building": "SA-1", "name": "Hall A2", "aggregation_gbps": 400},
                          {"id": "HB", "site": "SB", "building": "SB-1", "aggregation_gbps": 500}]
    for pod, hall in zip(d["pods"]["pods"], ["HA1", "HA2", "HB"], strict=True):
        pod["hall"] = hall
    d["topology"]["spans"][2]["waypoints"] = [[-90.3, 33.5]]
    d["leases"] = [
        tiny.lease("L1", 50, price=4.0, egress_gbps=100, region="P2", latency_slo_ms=50, allowed_sites="SA"),
        tiny.lease("L2", 150, price=3.0, span="site", egress_gbps=300, region="P2", latency_slo_ms=50,
                   allowed_sites="SA", start_week=2),
        tiny.lease("L3", 80, price=2.5, replicas=2, egress_gbps=200, region="P1", latency_slo_ms=50,
                   allowed_sites="SB"),
        tiny.lease("L4", 10, price=2.0),
    ]
    return d


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(tiny.write(tmp_path_factory.mktemp("tiny"), _data()))


@pytest.fixture(scope="module")
def plan(sc: Scenario) -> Plan:
    p = greedy(sc)
    assert p.check(sc) == []
    return p


@pytest.fixture(scope="module")
def layers(sc: Scenario, plan: Plan) -> dict:
    return gis.topology_layers(sc, plan)


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, sc: Scenario, plan: Plan) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("gis")
    return {"geojson": gis.write_geojson(sc, d / "topology.geojson", plan=plan),
            "gpkg": gis.write_gpkg(sc, d / "topology.gpkg", plan=plan),
            "kml": gis.write_kml(sc, d / "topology.kml", plan=plan),
            "graphml": gis.write_graphml(sc, d / "network.graphml", plan=plan)}


# --------------------------------------------------------------------------- real clients
def _summary(path: Path) -> dict[str, tuple[str, int]]:
    """Layer name -> (geometry type, feature count) from ``ogrinfo -ro -al -so``; also checks the CRS."""
    text = ogrinfo("-ro", "-al", "-so", path)
    blocks = re.split(r"^Layer name: ", text, flags=re.M)[1:]
    out = {}
    for block in blocks:
        name = block.splitlines()[0].strip()
        if name == "layer_styles":  # QGIS's table of default styles: no geometry
            assert re.search(r"^Geometry: None$", block, re.M), block
            continue
        geom = re.search(r"^Geometry: (.+)$", block, re.M)
        count = re.search(r"^Feature Count: (\d+)$", block, re.M)
        assert geom and count, block
        assert 'GEOGCRS["WGS 84"' in block and 'ID["EPSG",4326]' in block, block
        out[name] = (geom.group(1), int(count.group(1)))
    return out


def _count(path: Path, sql: str) -> int:
    """Feature count of an OGR SQL query run by ogrinfo."""
    text = ogrinfo("-ro", "-so", path, "-sql", sql)
    found = re.search(r"^Feature Count: (\d+)$", text, re.M)
    assert found, text
    return int(found.group(1))


# --------------------------------------------------------------------------- layers
def test_layer_names_crs_and_ids(layers: dict) -> None:
    assert list(layers) == ["footprints", "spans", "routes", "amplifiers", "junctions", "pops", "halls", "sites"]
    for name, gdf in layers.items():
        assert gdf.crs.to_epsg() == 4326, name
        assert gdf.index.name == "id" and gdf.index.is_unique, name
        assert set(gdf.geom_type) == {gis.LAYER_GEOMETRY[name]}, name
        for col in gdf.columns.drop(gdf.geometry.name):
            assert not gdf[col].map(lambda v: isinstance(v, tuple | list | set)).any(), (name, col)


def test_layers_without_plan(sc: Scenario) -> None:
    layers = gis.to_geodataframes(sc)
    assert "routes" not in layers
    assert "peak_utilisation" not in layers["spans"].columns
    assert "peak_leased_gpus" not in layers["sites"].columns


def test_sites_and_points(sc: Scenario, layers: dict) -> None:
    sites = layers["sites"]
    assert sites.loc["SA", "gpus_T1"] == 200 and sites.loc["SB", "gpus"] == 200
    assert sites.loc["SA", "residency"] == "US"
    assert sites.loc["SA", "geometry"].equals(Point(-90.0, 33.0))
    assert list(layers["footprints"].index) == ["SA"]
    assert list(layers["pops"].index) == ["P1", "P2"] and list(layers["junctions"].index) == ["J"]


def test_halls_layer_inside_campus_with_peak_aggregation_use(sc: Scenario, plan: Plan, layers: dict) -> None:
    from planner.gis.halls import RING_M

    halls = layers["halls"]
    assert list(halls.index) == ["HA1", "HA2", "HB"]
    assert halls.loc["HA2", ["site", "building", "name", "pod_ids", "pods", "gpus"]].tolist() == [
        "SA", "SA-1", "Hall A2", "A2", 1, 100]
    assert halls.loc["HA1", "aggregation_gbps"] == 1000.0 and not halls["unlimited"].any()
    footprint = shapely.Polygon(FOOTPRINT)
    assert all(footprint.contains(p) for p in halls.loc[["HA1", "HA2"], "geometry"])
    assert halls.geometry.map(lambda p: (p.x, p.y)).is_unique
    hb = halls.at["HB", "geometry"]  # SB has no footprint: on a ring around its point
    assert great_circle_km(33.0, -88.0, hb.y, hb.x) * 1000 == pytest.approx(RING_M, rel=1e-6)
    use = plan.hall_use.groupby("hall")
    pd.testing.assert_series_equal(halls["peak_utilisation"], use["utilisation"].max().reindex(halls.index),
                                   check_names=False)
    pd.testing.assert_series_equal(halls["peak_interpod_gbps"], use["interpod_gbps"].max().reindex(halls.index),
                                   check_names=False)
    assert halls.loc["HA1", "peak_utilisation"] > 0, "L2 should span pods of SA"
    again = gis.topology_layers(sc, plan)["halls"]  # laid out the same way every time
    assert again.geometry.geom_equals_exact(halls.geometry, 0.0).all()


@pytest.mark.parametrize("n", [1, 7, 40])
def test_hall_layout_fits_an_l_shaped_footprint(n: int) -> None:
    from planner.gis.halls import layout_points

    ell = shapely.Polygon([(-90.02, 33.0), (-89.98, 33.0), (-89.98, 33.005), (-90.015, 33.005), (-90.015, 33.03),
                           (-90.02, 33.03)])
    pts = layout_points(33.0, -90.0, n, ell)
    assert len(set(pts)) == n and all(ell.contains(Point(p)) for p in pts)
    assert pts == layout_points(33.0, -90.0, n, ell)


def test_undeclared_halls_are_unlimited_in_every_export(tmp_path: Path) -> None:
    import pyogrio

    sc = load_scenario(tiny.write(tmp_path / "sc", tiny.base()))
    plan = greedy(sc)
    halls = gis.topology_layers(sc, plan)["halls"]
    assert halls["unlimited"].all() and halls["aggregation_gbps"].isna().all()
    assert halls["peak_utilisation"].isna().all() and (halls["peak_interpod_gbps"] == 0).all()
    doc = json.loads(gis.write_geojson(sc, tmp_path / "t.geojson", plan=plan).read_text(encoding="utf-8"))
    feats = [f for f in doc["features"] if f["properties"]["layer"] == "halls"]
    assert len(feats) == 3 and all(f["properties"]["aggregation_gbps"] is None for f in feats)
    back = pyogrio.read_dataframe(gis.write_gpkg(sc, tmp_path / "t.gpkg", plan=plan), layer="halls")
    assert back["aggregation_gbps"].isna().all() and back["unlimited"].all()
    g = nx.read_graphml(gis.write_graphml(sc, tmp_path / "n.graphml", plan=plan))
    edge = g.edges["hall:A1", "SA"]
    assert edge["kind"] == "aggregation" and edge["unlimited"] is True and "capacity_gbps" not in edge
    assert "peak_utilisation" not in edge and edge["peak_gbps"] == 0.0
    assert "inf" not in (tmp_path / "n.graphml").read_text(encoding="utf-8").lower().replace("info", "")


def test_amplifiers_follow_spans(sc: Scenario, layers: dict) -> None:
    amps = layers["amplifiers"]
    assert amps.groupby("span").size().reindex(sc.spans.index, fill_value=0).eq(sc.spans["n_amplifiers"]).all()
    for fid, a in amps.iterrows():
        pts = list(sc.spans["geometry"].to_dict()[a["span"]].coords)
        done = 0.0  # km along the span to the start of the segment
        for (x0, y0), (x1, y1) in itertools.pairwise(pts):
            seg, to_amp = great_circle_km(y0, x0, y1, x1), great_circle_km(y0, x0, a["lat"], a["lon"])
            if to_amp + great_circle_km(a["lat"], a["lon"], y1, x1) - seg < 1e-6:  # on this geodesic segment
                assert done + to_amp == pytest.approx(a["km_from_a"], rel=1e-6), fid
                break
            done += seg
        else:
            pytest.fail(f"{fid} is not on its span")


def _replicas_with_routes(plan: Plan) -> set[tuple[str, int]]:
    p = plan.placements
    return {(str(lease), int(r)) for lease, r, spans in zip(p["lease"], p["replica"], p["spans"], strict=True)
            if spans}


def test_routes_one_per_routed_replica(plan: Plan, layers: dict) -> None:
    routes = layers["routes"]
    expected = _replicas_with_routes(plan)
    assert set(zip(routes["lease"], routes["replica"], strict=True)) == expected
    assert len(routes) == len(expected)
    assert "L4" not in set(routes["lease"])  # no egress, no route
    assert routes["pods"].str.contains(";").any(), "the fixture should split one replica over pods"
    assert routes["n_spans"].max() >= 2, "the fixture should route one replica over several spans"


def test_routes_run_from_site_to_pop(sc: Scenario, plan: Plan, layers: dict) -> None:
    wl = sc.workloads
    for fid, r in layers["routes"].iterrows():
        coords = list(r["geometry"].coords)
        site, pop = sc.sites.loc[r["site"]], sc.pops.loc[r["region"]]
        assert coords[0] == pytest.approx((site["lon"], site["lat"])), fid
        assert coords[-1] == pytest.approx((pop["lon"], pop["lat"])), fid
        assert r["region"] == wl.at[r["lease"], "region"]
        rows = plan.placements[(plan.placements["lease"] == r["lease"]) & (plan.placements["replica"] == r["replica"])]
        assert r["egress_gbps"] == pytest.approx(rows["egress_gbps"].sum())
        assert r["revenue_usd"] == pytest.approx(rows["revenue_usd"].sum())
        assert r["latency_ms"] == pytest.approx(rows["latency_ms"].iloc[0])
        assert r["spans"] == ";".join(rows["spans"].iloc[0])
        # the polyline is the spans' routes end to end: its geodesic length is their sum
        assert geodesic_length_km(r["geometry"]) == pytest.approx(r["length_km"], rel=1e-9)


def test_span_utilisation_is_link_use_maxima(plan: Plan, layers: dict) -> None:
    spans = layers["spans"]
    by = plan.link_use.groupby("span")
    pd.testing.assert_series_equal(spans["peak_utilisation"], by["utilisation"].max().reindex(spans.index),
                                   check_names=False)
    pd.testing.assert_series_equal(spans["peak_gbps"], by["gbps"].max().reindex(spans.index), check_names=False)
    pd.testing.assert_series_equal(spans["mean_utilisation"], by["utilisation"].mean().reindex(spans.index),
                                   check_names=False)
    assert spans["peak_utilisation"].gt(0).any()


def test_route_line_orients_and_rejects_gaps(sc: Scenario) -> None:
    line, nodes = gis.route_line(sc, "SB", ["J-SB", "SA-J", "SA-P1"])
    assert nodes == ["SB", "J", "SA", "P1"]
    assert line.coords[0] == (-88.0, 33.0) and line.coords[-1] == (-90.0, 34.0)
    assert len(line.coords) == 5  # no repeated junction points; SA-P1 has one waypoint
    with pytest.raises(ValueError, match="does not touch SB"):
        gis.route_line(sc, "SB", ["SA-P1"])


def test_route_lines_match_route_line_once_per_path(sc: Scenario) -> None:
    line_of = gis.route_lines(sc)
    spans = ("J-SB", "SA-J", "SA-P1")  # J-SB and SA-J run against their a -> b orientation from SB
    line, nodes = line_of("SB", spans)
    plain, plain_nodes = gis.route_line(sc, "SB", list(spans))
    assert list(nodes) == plain_nodes == ["SB", "J", "SA", "P1"] and isinstance(nodes, tuple)
    assert line.equals_exact(densify_geodesic(plain, gis.layers.DENSIFY_KM), 0.0)
    assert line_of("SB", spans)[0] is line  # built once per path
    with pytest.raises(ValueError, match="does not touch SB"):
        line_of("SB", ("SA-P1",))


def test_pop_peak_egress_sums_routes_week_by_week(sc: Scenario, layers: dict) -> None:
    routes, pops = layers["routes"], layers["pops"]
    for pop, row in pops.iterrows():
        mine = routes[routes["region"] == pop]
        weekly = [mine.loc[(mine["start_week"] <= w) & (mine["end_week"] >= w), "egress_gbps"].sum() for w in sc.weeks]
        assert row["routes"] == len(mine)
        assert row["peak_egress_gbps"] == pytest.approx(max(weekly, default=0.0))
    assert pops["peak_egress_gbps"].gt(0).any()


def test_writers_refuse_plan_with_ready_layers(tmp_path: Path, plan: Plan, layers: dict) -> None:
    with pytest.raises(ValueError, match="only used with a Scenario"):
        gis.write_geojson(layers, tmp_path / "x.geojson", plan=plan)


# --------------------------------------------------------------------------- GeoJSON
def test_geojson_is_one_rfc7946_collection(out: dict[str, Path], layers: dict) -> None:
    doc = json.loads(out["geojson"].read_text(encoding="utf-8"))
    assert doc["type"] == "FeatureCollection" and "crs" not in doc
    feats = doc["features"]
    assert len(feats) == sum(len(g) for g in layers.values())
    assert {f["properties"]["layer"] for f in feats} == set(layers)
    coords = np.concatenate([shapely.get_coordinates(shapely.from_geojson(json.dumps(f["geometry"])))
                             for f in feats])
    assert np.allclose(coords, coords.round(7), atol=0, rtol=0)
    assert not np.allclose(coords, coords.round(6), atol=0, rtol=0)  # the 7th decimal is kept (~1 cm)
    ids = [f["id"] for f in feats]
    assert len(set(ids)) == len(ids) and ids[0] == f"{feats[0]['properties']['layer']}:{feats[0]['properties']['id']}"
    assert (np.abs(coords[:, 0]) <= 180).all() and (np.abs(coords[:, 1]) <= 90).all()


def test_geojson_opens_inogrinfo(out: dict[str, Path], layers: dict) -> None:
    path = out["geojson"]
    summary = _summary(path)
    assert summary == {path.stem: ("Unknown (any)", sum(len(g) for g in layers.values()))}
    for name, gdf in layers.items():
        kind = OGR_TYPES[gis.LAYER_GEOMETRY[name]]
        sql = f"SELECT * FROM \"{path.stem}\" WHERE layer = '{name}' AND OGR_GEOMETRY = '{kind}'"
        assert _count(path, sql) == len(gdf), name


# --------------------------------------------------------------------------- GeoPackage
def test_gpkg_opens_inogrinfo(out: dict[str, Path], layers: dict) -> None:
    summary = _summary(out["gpkg"])
    assert list(summary) == list(layers)
    for name, gdf in layers.items():
        assert summary[name] == (GPKG_TYPES[gis.LAYER_GEOMETRY[name]], len(gdf)), name


def test_gpkg_is_version_1_3_and_validates(out: dict[str, Path]) -> None:
    with sqlite3.connect(out["gpkg"]) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == 10300
    run = subprocess.run([*validate_gpkg_command(), "-k", str(out["gpkg"])], capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Req " not in run.stdout and "Error" not in run.stderr, run.stdout + run.stderr


def test_gpkg_round_trips_through_pyogrio(out: dict[str, Path], layers: dict) -> None:
    import pyogrio

    back = pyogrio.read_dataframe(out["gpkg"], layer="spans").set_index("id")
    assert back.crs.to_epsg() == 4326
    pd.testing.assert_series_equal(back["peak_utilisation"], layers["spans"]["peak_utilisation"])
    assert back.geometry.geom_equals_exact(layers["spans"].geometry, 1e-12).all()


def test_gpkg_without_plan_and_replaces_file(tmp_path: Path, sc: Scenario) -> None:
    path = tmp_path / "t.gpkg"
    path.write_text("not a geopackage")
    gis.write_gpkg(sc, path)
    assert [p.name for p in tmp_path.iterdir()] == ["t.gpkg"]
    assert "routes" not in _summary(path)


# --------------------------------------------------------------------------- KML
def test_kml_opens_inogrinfo(out: dict[str, Path], layers: dict) -> None:
    path = out["kml"]
    summary = _summary(path)
    assert list(summary) == list(layers)
    for name, gdf in layers.items():
        assert summary[name][1] == len(gdf), name
        kind = OGR_TYPES[gis.LAYER_GEOMETRY[name]]
        assert _count(path, f"SELECT * FROM \"{name}\" WHERE OGR_GEOMETRY = '{kind}'") == len(gdf), name


def test_kml_styles_spans_by_utilisation(out: dict[str, Path], layers: dict) -> None:
    root = ET.parse(out["kml"]).getroot()
    doc = root.find(f"{KML}Document")
    assert doc is not None
    styles = {s.get("id"): s for s in doc.iter(f"{KML}Style")}
    assert {"sites", "pops", "routes"} <= set(styles)
    assert styles["sites"].findtext(f".//{KML}href") != styles["pops"].findtext(f".//{KML}href")
    folder = next(f for f in doc.iter(f"{KML}Folder") if f.findtext(f"{KML}name") == "spans")
    limit = layers["spans"]["max_utilisation_pct"].iloc[0] / 100
    for pm in folder.iter(f"{KML}Placemark"):
        span = pm.findtext(f"{KML}name")
        u = layers["spans"].at[span, "peak_utilisation"]
        colour = "green" if u < 0.5 * limit else "amber" if u < 0.9999 * limit else "red"
        style = (pm.findtext(f"{KML}styleUrl") or "").lstrip("#")
        assert style.startswith(f"span-{colour}-w"), (span, style)
        assert style in styles
        data = {d.get("name"): d.text for d in pm.iter(f"{KML}SimpleData")}
        assert data["id"] == span
        assert float(data["peak_utilisation"] or "nan") == pytest.approx(u)


def test_kml_without_plan_is_grey(tmp_path: Path, sc: Scenario) -> None:
    text = gis.write_kml(sc, tmp_path / "t.kml").read_text(encoding="utf-8")
    assert "span-grey-w" in text and "span-green" not in text
    assert "<Folder>" in text and "routes</name>" not in text


def test_kml_placemark_text_is_laid_out_as_xml_etree_writes_it() -> None:
    from planner.gis.kml import _placemark

    row = {"name": 'Tom & "Jerry" <x>', "note": "tab\tand\nline", "empty": "", "start_date": pd.Timestamp("2027-01-04"),
           "end_date": pd.Timestamp("2027-01-20 16:00")}
    data = [(' name="id"', "S&1"), (' name="note"', "tab\tand\nline"), (' name="empty"', ""), (' name="na"', None)]
    geoms = [Point(1.5, 2.0), LineString([(0, 0), (1, 1)]), MultiLineString([[(0, 0), (1, 1)], [(2, 2), (3, 3)]]),
             Polygon([(0, 0), (1, 0), (1, 1)], [[(0.2, 0.1), (0.8, 0.1), (0.8, 0.7)]]), None]
    for geom in geoms:
        text = _placemark("sites", "S&1", row, geom=geom, style="sites", data=data, texts={})
        pm = ET.Element("Placemark", id="sites.S_1")
        ET.SubElement(pm, "name").text = 'Tom & "Jerry" <x> (S&1)'
        ET.SubElement(pm, "styleUrl").text = "#sites"
        sd = ET.SubElement(ET.SubElement(pm, "ExtendedData"), "SchemaData", schemaUrl="#schema-sites")
        for key, value in (("id", "S&1"), ("note", "tab\tand\nline"), ("empty", "")):
            ET.SubElement(sd, "SimpleData", name=key).text = value
        span = ET.SubElement(pm, "TimeSpan")
        ET.SubElement(span, "begin").text = "2027-01-04"
        ET.SubElement(span, "end").text = "2027-01-20T16:00:00Z"
        if geom is not None:
            kml_ref = ET.fromstring(f"<x>{_reference_geometry(geom)}</x>")
            pm.extend(list(kml_ref))
        ET.indent(pm, level=3)
        assert text == ET.tostring(pm, encoding="unicode")


def _reference_geometry(geom: BaseGeometry) -> str:
    """A geometry's KML as plain nested tags, for the layout test above."""
    def coords(cs: Iterable[tuple[float, ...]]) -> str:
        return " ".join(f"{x:.6f},{y:.6f}" for x, y, *_ in cs)

    if isinstance(geom, Point):
        return f"<Point><coordinates>{coords(geom.coords)}</coordinates></Point>"
    if isinstance(geom, LineString):
        return f"<LineString><tessellate>1</tessellate><coordinates>{coords(geom.coords)}</coordinates></LineString>"
    if isinstance(geom, Polygon):
        rings = [("outerBoundaryIs", geom.exterior), *(("innerBoundaryIs", r) for r in geom.interiors)]
        return "<Polygon>" + "".join(f"<{b}><LinearRing><coordinates>{coords(r.coords)}</coordinates></LinearRing>"
                                     f"</{b}>" for b, r in rings) + "</Polygon>"
    assert isinstance(geom, MultiLineString)
    return "<MultiGeometry>" + "".join(_reference_geometry(g) for g in geom.geoms) + "</MultiGeometry>"


def test_kml_widths_grow_with_capacity() -> None:
    from planner.gis.kml import MAX_WIDTH, MIN_WIDTH, _width

    assert _width(0.0, 1000.0) == MIN_WIDTH and _width(1000.0, 1000.0) == MAX_WIDTH
    assert _width(100.0, 1000.0) < _width(500.0, 1000.0) and _width(math.nan, 0.0) == MIN_WIDTH


# --------------------------------------------------------------------------- GraphML
def test_graphml_reads_back_typed(out: dict[str, Path], sc: Scenario, plan: Plan) -> None:
    g0 = build_network(sc)
    g = nx.read_graphml(out["graphml"])
    assert g.number_of_nodes() == g0.number_of_nodes() and g.number_of_edges() == g0.number_of_edges()
    assert {frozenset(e) for e in g.edges} == {frozenset(e) for e in g0.edges}
    keys = {(k.get("for"), k.get("attr.name")): k.get("attr.type")
            for k in ET.parse(out["graphml"]).getroot().iter("{http://graphml.graphdrawing.org/xmlns}key")}
    assert keys[("edge", "capacity_gbps")] == "double" and keys[("edge", "latency_ms")] == "double"
    assert keys[("node", "lat")] == "double" and keys[("node", "gpus")] in ("int", "long")
    assert keys[("edge", "n_amplifiers")] in ("int", "long") and keys[("edge", "geometry")] == "string"
    assert len({k.get("id") for k in ET.parse(out["graphml"]).getroot().iter(
        "{http://graphml.graphdrawing.org/xmlns}key")}) == len(keys)  # unique key ids
    edge = g.edges["SA", "J"]
    assert isinstance(edge["capacity_gbps"], float) and isinstance(edge["n_amplifiers"], int)
    assert shapely.from_wkt(edge["geometry"]).equals(sc.spans.at["SA-J", "geometry"])
    assert edge["peak_utilisation"] == pytest.approx(
        plan.link_use.loc[plan.link_use["span"] == "SA-J", "utilisation"].max())
    assert isinstance(g.nodes["A1"]["gpus"], int) and g.graph["crs"] == "EPSG:4326"
    hall = g.nodes["hall:HA1"]
    assert (hall["kind"], hall["building"], hall["pods"], hall["unlimited"]) == ("hall", "SA-1", 1, False)
    agg = g.edges["hall:HA1", "SA"]
    assert agg["kind"] == "aggregation" and agg["capacity_gbps"] == 1000.0
    peak = plan.hall_use.loc[plan.hall_use["hall"] == "HA1", "utilisation"].max()
    assert peak > 0 and agg["peak_utilisation"] == pytest.approx(peak)
    assert hall["peak_utilisation"] == pytest.approx(peak)
    assert g.edges["A1", "hall:HA1"]["kind"] == "uplink"
    assert keys[("node", "unlimited")] == "boolean" and keys[("node", "aggregation_gbps")] == "double"


def test_graphml_cleans_awkward_attributes(tmp_path: Path) -> None:
    g = nx.Graph(tags=("a", "b"))
    g.add_node("x", w=np.int64(3), v=1, note=None, where=Point(1, 2))
    g.add_node("y", v=2.5, bad=float("nan"))
    g.add_edge("x", "y", t=(1, 2))
    back = nx.read_graphml(gis.write_graphml(g, tmp_path / "g.graphml"))
    assert back.graph["tags"] == "a;b"
    assert back.nodes["x"] == {"w": 3, "v": 1.0, "where": "POINT (1 2)"}
    assert back.nodes["y"] == {"v": 2.5}
    assert back.edges["x", "y"]["t"] == "1;2"


# --------------------------------------------------------------------------- routes round trip
def test_export_routes_round_trip(tmp_path: Path, sc: Scenario) -> None:
    routes = gis.export_routes_geojson(sc, tmp_path / "routes.geojson")
    data = _data()
    data["scenario"]["files"]["routes"] = "routes.geojson"
    for span in data["topology"]["spans"]:
        span.pop("waypoints", None)  # the routes file alone must carry the bent span
    again_dir = tmp_path / "again"
    path = tiny.write(again_dir, data)
    shutil.copy(routes, again_dir / "routes.geojson")
    again = load_scenario(path)
    cols = ["a", "b", "length_km", "latency_ms", "capacity_gbps", "n_amplifiers", "great_circle_km"]
    pd.testing.assert_frame_equal(again.spans[cols], sc.spans[cols], rtol=1e-6)
    assert again.spans["geometry"].map(shapely.to_wkb).equals(sc.spans["geometry"].map(shapely.to_wkb))
    g0, g1 = build_network(sc), build_network(again)
    assert {frozenset(e) for e in g1.edges} == {frozenset(e) for e in g0.edges}
    for u, v, d0 in g0.edges(data=True):
        d1 = g1.edges[u, v]
        assert d1.keys() == d0.keys(), (u, v)
        for key, value in d0.items():
            if isinstance(value, float):
                assert d1[key] == pytest.approx(value, rel=1e-6), (u, v, key)
            elif key == "geometry":
                assert d1[key].equals_exact(value, 0.0), (u, v)
            else:
                assert d1[key] == value, (u, v, key)
    doc = json.loads(routes.read_text(encoding="utf-8"))
    assert {f["properties"]["span"] for f in doc["features"]} == set(sc.spans.index)


def test_empty_layers_are_written_with_their_type(tmp_path: Path) -> None:
    data = tiny.base()
    for span in data["topology"]["spans"]:
        span["amplifier_spacing_km"] = 1000.0
    data["leases"] = [tiny.lease("L1", 10)]  # placed, but no egress: no routes
    sc = load_scenario(tiny.write(tmp_path / "sc", data))
    layers = gis.topology_layers(sc, greedy(sc))
    assert len(layers["amplifiers"]) == 0 and len(layers["routes"]) == 0 and "footprints" not in layers
    summary = _summary(gis.write_gpkg(layers, tmp_path / "t.gpkg"))
    assert summary["amplifiers"] == ("Point", 0) and summary["routes"] == ("Line String", 0)
    doc = json.loads(gis.write_geojson(layers, tmp_path / "t.geojson").read_text(encoding="utf-8"))
    assert {f["properties"]["layer"] for f in doc["features"]} == {"spans", "junctions", "pops", "halls", "sites"}


def test_export_layers_writes_one_geojson_per_layer_whole(tmp_path: Path) -> None:
    import pyogrio
    from typer.testing import CliRunner

    from planner.cli import app

    out = tmp_path / "layers"
    args = ["export", "--format", "layers", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    files = sorted(p.name for p in out.glob("*.geojson"))
    assert {"sites.geojson", "pops.geojson", "spans.geojson", "halls.geojson"} <= set(files)
    for name in files:
        info = pyogrio.read_info(out / name)
        assert info["geometry_type"] in ("Point", "LineString", "Polygon", "MultiPolygon"), (name, info)
        doc = json.loads((out / name).read_text())
        assert all("layer" not in f["properties"] for f in doc["features"])  # one layer per file: no mixed fields
    assert all(f"  {name}" in (out / "README.txt").read_text() for name in files)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 2 and "already exists" in again.output
    assert CliRunner().invoke(app, [*args, "--force"]).exit_code == 0


# --------------------------------------------------------------------------- column converters
_COLUMNS = {
    "int64": pd.Series([0, -3, 2**40], dtype="int64"),
    "uint8": pd.Series([0, 7, 255], dtype="uint8"),
    "float64": pd.Series([0.1, -0.0, math.nan, math.inf, -math.inf, 1e300]),
    "float32": pd.Series([0.1, math.nan, 3.5], dtype="float32"),
    "bool": pd.Series([True, False]),
    "str": pd.Series(["a", "", None, "x & <y>"], dtype="str"),
    "string": pd.Series(["a", pd.NA, "b"], dtype="string"),
    "Int64": pd.Series([1, None, -2], dtype="Int64"),
    "boolean": pd.Series([True, None, False], dtype="boolean"),
    "datetime64": pd.Series(pd.to_datetime(["2027-01-04", None])).astype("datetime64[ms]"),
    "object": pd.Series([("S1", "S2"), None, 3, 2.5, "t", np.int64(4), np.float64(math.nan)], dtype=object),
}


@pytest.mark.parametrize("name", list(_COLUMNS))
def test_column_converters_give_each_value_as_one_at_a_time(name: str) -> None:
    from planner.gis.kml import _simple_value, _simple_values
    from planner.gis.vector import _column_values, json_value

    column = _COLUMNS[name]
    assert _column_values(column) == [json_value(v) for v in column]
    assert _simple_values(column) == [_simple_value(v) for v in column]


def test_kml_a_layer_with_an_id_column_gives_one_id_field(tmp_path: Path) -> None:
    layer = gpd.GeoDataFrame({"id": ["own-1", "own-2"], "gpus": [8, 16]}, index=["f1", "f2"],
                             geometry=[Point(-82.8, 40.1), Point(-91.7, 32.4)], crs="EPSG:4326")
    path = gis.write_kml({"sites": layer}, tmp_path / "x.kml")
    root = ET.parse(path).getroot()
    marks = root.findall(f".//{KML}Placemark")
    assert len(marks) == 2
    for mark, own in zip(marks, ["own-1", "own-2"], strict=True):
        data = mark.findall(f".//{KML}SimpleData")
        assert [d.get("name") for d in data] == ["id", "gpus"]  # the column's id stands in the feature id's place
        assert data[0].text == own
