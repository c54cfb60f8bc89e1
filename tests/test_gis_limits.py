"""Every export as its tool reads it: a span filled to its usable limit reads 100 % of limit everywhere.

The scenario's usable limit is 80 % of capacity and one lease fills span SA-P1 to
exactly that (800 of 1,000 Gbps). GDAL (ogrinfo, LIBKML, validate_gpkg.py), pyogrio,
networkx and python-igraph read the files back; the GeoPackage carries layer
descriptions and QGIS's ``layer_styles`` table, the KML typed fields.
"""

from __future__ import annotations

import itertools
import json
import re
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import igraph
import networkx as nx
import numpy as np
import pyogrio
import pytest
import shapely

from planner import gis
from planner.geo import great_circle_km
from planner.gis.vector import write_geojson_layers
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan
from planner.scenario import Scenario, load_scenario
from tests import tiny
from tests.gis_clients import KML, ogrinfo, validate_gpkg_command

AT_LIMIT = "SA-P1"


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    d = tiny.base()
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["scenario"]["horizon"]["start_date"] = "2027-01-04"  # weeks of 100 hours in the tiny scenario
    d["leases"] = [tiny.lease("L1", 50, price=4.0, egress_gbps=800, region="P1", latency_slo_ms=50,
                              allowed_sites="SA"),
                   tiny.lease("L2", 20, price=2.0, egress_gbps=100, region="P2", latency_slo_ms=50,
                              allowed_sites="SB")]
    return load_scenario(tiny.write(tmp_path_factory.mktemp("limit"), d))


@pytest.fixture(scope="module")
def plan(sc: Scenario) -> Plan:
    p = greedy(sc)
    assert p.check(sc) == [] and p.unplaced.empty
    use = p.link_use[p.link_use["span"] == AT_LIMIT]
    assert use["gbps"].max() == pytest.approx(800.0) and use["utilisation"].max() == pytest.approx(0.8)
    return p


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory, sc: Scenario, plan: Plan) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("files")
    return {"gpkg": gis.write_gpkg(sc, d / "t.gpkg", plan=plan),
            "geojson": gis.write_geojson(sc, d / "t.geojson", plan=plan),
            "kml": gis.write_kml(sc, d / "t.kml", plan=plan),
            "graphml": gis.write_graphml(sc, d / "t.graphml", plan=plan),
            "layers": d / "layers"}


def test_layers_carry_the_limit_and_use_of_limit(sc: Scenario, plan: Plan) -> None:
    spans = gis.topology_layers(sc, plan)["spans"]
    assert (spans["max_utilisation_pct"] == 80.0).all()
    assert spans["usable_gbps"].to_numpy() == pytest.approx(spans["capacity_gbps"].to_numpy() * 0.8)
    assert spans.at[AT_LIMIT, "peak_pct_of_limit"] == pytest.approx(100.0)
    assert spans["peak_pct_of_limit"].to_numpy() == pytest.approx(spans["peak_utilisation"].to_numpy() / 0.8 * 100)
    bare = gis.topology_layers(sc)["spans"]
    assert "max_utilisation_pct" in bare.columns and "peak_pct_of_limit" not in bare.columns


def test_gpkg_at_limit_descriptions_and_qgis_styles(out: dict[str, Path]) -> None:
    spans = pyogrio.read_dataframe(out["gpkg"], layer="spans").set_index("id")
    assert spans.at[AT_LIMIT, "peak_pct_of_limit"] == pytest.approx(100.0)
    assert spans.at[AT_LIMIT, "max_utilisation_pct"] == 80.0
    with sqlite3.connect(out["gpkg"]) as con:
        described = dict(con.execute("SELECT table_name, description FROM gpkg_contents"))
        styles = con.execute("SELECT f_table_name, f_geometry_column, styleQML, useAsDefault FROM layer_styles "
                             "ORDER BY id").fetchall()
        geometry_columns = dict(con.execute("SELECT table_name, column_name FROM gpkg_geometry_columns"))
    assert "usable limit" in described["spans"] and described["layer_styles"]
    assert all(described[name] for name in geometry_columns)
    by_layer = {name: (column, qml, default) for name, column, qml, default in styles}
    assert {"spans", "sites"} <= set(by_layer)
    for name, (column, qml, default) in by_layer.items():
        assert default == 1 and column == geometry_columns[name], name
        ET.fromstring(qml.split("\n", 1)[1])  # well-formed QML after its DOCTYPE line
    spans_qml = ET.fromstring(by_layer["spans"][1].split("\n", 1)[1])
    renderer = spans_qml.find("renderer-v2")
    assert renderer is not None and renderer.get("attr") == "peak_pct_of_limit"
    ranges = [(float(r.get("lower", "nan")), float(r.get("upper", "nan")), r.get("label"))
              for r in renderer.iter("range")]
    red = next(r for r in ranges if r[0] <= 100.0 <= r[1])
    assert "at the usable limit" in str(red[2])
    sites_qml = ET.fromstring(by_layer["sites"][1].split("\n", 1)[1])
    assert sites_qml.find("renderer-v2").get("attr") == "gpus"  # type: ignore[union-attr]
    run = subprocess.run([*validate_gpkg_command(), "-k", str(out["gpkg"])], capture_output=True, text=True,
                         check=False, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    info = ogrinfo("-ro", "-so", out["gpkg"], "spans")
    assert "DESCRIPTION=DCI fibre spans" in info and re.search(r"^peak_pct_of_limit: Real", info, re.M)


def test_geojson_at_limit_ids_and_one_file_per_layer(out: dict[str, Path], sc: Scenario, plan: Plan) -> None:
    doc = json.loads(out["geojson"].read_text(encoding="utf-8"))
    span = next(f for f in doc["features"] if f["id"] == f"spans:{AT_LIMIT}")
    assert span["properties"]["peak_pct_of_limit"] == pytest.approx(100.0)
    assert span["properties"]["max_utilisation_pct"] == 80.0
    files = write_geojson_layers(sc, out["layers"], plan=plan)
    assert sorted(p.stem for p in files) == sorted(gis.topology_layers(sc, plan))
    for path in files:
        info = ogrinfo("-ro", "-so", path, path.stem)
        kind = re.search(r"^Geometry: (.+)$", info, re.M)
        assert kind and kind.group(1) != "Unknown (any)", path.name  # one geometry type per file
        layer = json.loads(path.read_text(encoding="utf-8"))
        assert all(f["id"] == f["properties"]["id"] for f in layer["features"])
        assert "layer" not in layer["features"][0]["properties"]
    spans = pyogrio.read_dataframe(out["layers"] / "spans.geojson").set_index("id")
    assert spans.at[AT_LIMIT, "peak_pct_of_limit"] == pytest.approx(100.0)


def test_kml_at_limit_is_red_with_a_legend_and_typed_fields(out: dict[str, Path]) -> None:
    root = ET.parse(out["kml"]).getroot()
    doc = root.find(f"{KML}Document")
    assert doc is not None
    legend = doc.findtext(f"{KML}description") or ""
    assert "80 % of capacity" in legend and "at the usable limit" in legend
    pm = next(p for p in doc.iter(f"{KML}Placemark") if p.get("id") == f"spans.{AT_LIMIT}")
    assert (pm.findtext(f"{KML}styleUrl") or "").startswith("#span-red-")
    fields = {s.get("name"): {f.get("name"): f.get("type") for f in s.iter(f"{KML}SimpleField")}
              for s in doc.iter(f"{KML}Schema")}
    assert fields["spans"]["peak_pct_of_limit"] == "double" and fields["spans"]["n_amplifiers"] == "int"
    assert fields["sites"]["gpus"] == "int" and fields["sites"]["id"] == "string"
    info = ogrinfo("-ro", "-al", out["kml"], "spans")  # GDAL's LIBKML driver reads the Schema's types
    assert re.search(r"^n_amplifiers: Integer", info, re.M) and re.search(r"^peak_pct_of_limit: Real", info, re.M)
    block = info.split(f"id (String) = {AT_LIMIT}\n", 1)[1]
    assert re.search(r"peak_pct_of_limit \(Real\) = 100(\.0*)?\n", block)
    sites = ogrinfo("-ro", "-al", out["kml"], "sites")
    assert "id (String) = SA" in sites and re.search(r"gpus \(Integer\) = 200", sites)


def test_halls_layer_as_gdal_reads_it(out: dict[str, Path], sc: Scenario) -> None:
    """The halls (undeclared here: no aggregation limit) open typed in GDAL, styled in QGIS, without ``inf``."""
    info = ogrinfo("-ro", "-al", out["gpkg"], "halls")
    assert "DESCRIPTION=Halls (aggregation domains)" in info and "Feature Count: 3" in info
    assert re.search(r"^gpus: Integer", info, re.M) and re.search(r"^aggregation_gbps: Real", info, re.M)
    assert re.search(r"^unlimited: Integer\(Boolean\)", info, re.M)
    assert re.search(r"aggregation_gbps \(Real\) = \(null\)", info) and "inf" not in info.lower().replace("info", "")
    with sqlite3.connect(out["gpkg"]) as con:
        assert con.execute("SELECT count(*) FROM layer_styles WHERE f_table_name = 'halls'").fetchone()[0] == 1
    kml = ogrinfo("-ro", "-al", out["kml"], "halls")
    assert "Feature Count: 3" in kml and re.search(r"gpus \(Integer\) = 100", kml)
    assert re.search(r"peak_interpod_gbps \(Real\) = 0", kml) and "aggregation_gbps (Real) =" not in kml
    for pod in sc.pods.index:  # every pod's hall is there, named by the pod group here
        assert f"pod_ids (String) = {pod}" in kml


def test_graphml_at_limit_ids_and_integers_in_igraph_and_networkx(out: dict[str, Path], sc: Scenario) -> None:
    g = nx.read_graphml(out["graphml"])
    edge = g.edges["SA", "P1"]
    assert edge["peak_pct_of_limit"] == pytest.approx(100.0) and edge["max_utilisation_pct"] == 80.0
    assert edge["usable_gbps"] == pytest.approx(800.0)
    ig = igraph.Graph.Read_GraphML(str(out["graphml"]))
    ids = set(ig.vs["id"])
    assert set(sc.sites.index) | set(sc.pops.index) | set(sc.pods.index) <= ids  # planner ids, not names
    pods = ig.vs.select(kind="pod")
    assert all(float(v).is_integer() for v in pods["gpus"])
    keys = {(k.get("for"), k.get("attr.name")): k.get("attr.type")
            for k in ET.parse(out["graphml"]).getroot().iter("{http://graphml.graphdrawing.org/xmlns}key")}
    assert keys[("node", "gpus")] in ("int", "long") and keys[("edge", "n_amplifiers")] in ("int", "long")
    text = out["graphml"].read_text(encoding="utf-8")
    assert ">nan<" not in text.lower() and "></data>" not in text  # missing values left out
    e = ig.es.find(id=AT_LIMIT)
    assert e["peak_pct_of_limit"] == pytest.approx(100.0)


def test_span_lines_follow_the_geodesic(sc: Scenario) -> None:
    spans = gis.topology_layers(sc)["spans"]
    for span, line in spans.geometry.items():
        coords = np.asarray(line.coords)
        steps = [great_circle_km(a[1], a[0], b[1], b[0]) for a, b in itertools.pairwise(coords)]
        assert max(steps) <= 20.0 + 1e-6, span
        assert shapely.Point(coords[0]).equals(shapely.Point(sc.spans.at[span, "geometry"].coords[0]))
    # a long straight line drawn in lon/lat runs off the geodesic; the densified one stays on it
    from planner.geo import WGS84, densify_geodesic

    straight = shapely.LineString([(-122.3, 47.45), (-73.78, 40.65)])
    mid = WGS84.npts(-122.3, 47.45, -73.78, 40.65, 1)[0]
    dense = densify_geodesic(straight, 20.0)
    off_straight = great_circle_km(mid[1], mid[0], *reversed(straight.interpolate(0.5, normalized=True).coords[0]))
    nearest = min(great_circle_km(mid[1], mid[0], y, x) for x, y in dense.coords)
    assert off_straight > 100 and nearest < 15


def test_routes_carry_dates_for_time_aware_tools(out: dict[str, Path], plan: Plan) -> None:
    routes = pyogrio.read_dataframe(out["gpkg"], layer="routes").set_index("id")
    l2 = routes.loc["L2#0"]
    assert (l2["start_week"], l2["end_week"]) == (1, 4)
    assert str(l2["start_date"]) == "2027-01-04 00:00:00" and str(l2["end_date"]) == "2027-01-20 16:00:00"
    assert re.search(r"^start_date: DateTime", ogrinfo("-ro", "-so", out["gpkg"], "routes"), re.M)
    doc = json.loads(out["geojson"].read_text(encoding="utf-8"))
    feat = next(f for f in doc["features"] if f["id"] == "routes:L2#0")
    assert feat["properties"]["start_date"] == "2027-01-04T00:00:00"
    kml = ogrinfo("-ro", "-al", out["kml"], "routes")  # LIBKML reads the TimeSpan as begin / end
    assert re.search(r"begin \(DateTime\) = 2027/01/04", kml) and re.search(r"end \(DateTime\) = 2027/01/20", kml)
