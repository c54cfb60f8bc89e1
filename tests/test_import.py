"""Importing real networks: every source format validates, plans and round-trips through export and import.

The sources are small files in ``tests/data/import`` (Topology Zoo GraphML, SNDlib
native and XML, a hand-drawn GeoJSON, a CSV pair) and a network the ``topohub``
package ships (SNDlib's janos-us, 26 US cities and 42 links, node-link JSON).
"""

from __future__ import annotations

import importlib.resources
import json
import math
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import topohub
from typer.testing import CliRunner

from planner import gis
from planner.cli import app
from planner.errors import ScenarioError
from planner.importers import (
    ImportOptions,
    build_topology,
    import_topology,
    read_source,
)
from planner.network import build_network
from planner.optimise.heuristics.greedy import greedy
from planner.routing import candidate_paths
from planner.scenario import Scenario, load_scenario
from tests import tiny
from tests.gis_clients import validate_gpkg_command

DATA = Path(__file__).parent / "data" / "import"
REFERENCE = Path(__file__).parents[1] / "scenarios" / "reference.yaml"
JANOS_US = Path(str(importlib.resources.files(topohub) / "data" / "sndlib" / "janos-us.json"))

#: source file, extra arguments, and the nodes the tiny book's regions P1 and P2 become.
SOURCES = {
    "graphml": ("zoo.graphml", {}, ("Memphis", "Birmingham, AL")),
    "sndlib-native": ("gulf.txt", {}, ("Memphis", "Birmingham")),
    "sndlib-xml": ("gulf.xml", {}, ("Memphis", "Birmingham")),
    "geojson": ("drawn.geojson", {}, ("Tupelo", "Meridian")),
    "csv": ("nodes.csv", {"links": DATA / "links.csv"}, ("New Orleans", "Shreveport")),
    "topohub": (JANOS_US, {}, ("Atlanta", "Dallas")),
}


def _base(tmp: Path) -> Path:
    """The tiny scenario (two campuses in Mississippi and Alabama) with a book sending traffic to P1 and P2."""
    d = tiny.base()
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["leases"] = [tiny.lease("L1", 50, price=4.0, egress_gbps=1, region="P1", latency_slo_ms=100, allowed_sites="SB"),
                   tiny.lease("L2", 80, price=3.0, egress_gbps=0.5, region="P2", latency_slo_ms=100,
                              allowed_sites="SA")]
    return tiny.write(tmp, d)


def _import(tmp: Path, name: str) -> tuple[Scenario, Path]:
    src, extra, (p1, p2) = SOURCES[name]
    source = src if isinstance(src, Path) else DATA / src
    out = tmp / "imported"
    import_topology(source, out, options=ImportOptions(pops=(f"P1={p1}", f"P2={p2}"), attach_k=1),
                    scenario=_base(tmp / "base"), **extra)
    return load_scenario(out / "scenario.yaml"), out


def _spans(sc: Scenario) -> pd.DataFrame:
    return sc.spans[["a", "b", "capacity_gbps", "srlg", "length_km"]].sort_index()


# --------------------------------------------------------------------------- every format
@pytest.mark.parametrize("name", list(SOURCES))
def test_imported_scenario_validates_plans_and_round_trips(tmp_path: Path, name: str) -> None:
    sc, out = _import(tmp_path, name)
    assert {"P1", "P2"} <= set(sc.pops.index)
    access = sc.spans[sc.spans["a"].isin(["SA", "SB"])]
    assert len(access) == 2  # two campuses, each on its nearest node
    plan = greedy(sc)
    assert plan.check(sc) == []
    assert plan.unplaced.empty
    routed = plan.placements.set_index("lease")["spans"]
    assert all(len(routed[lease]) >= 1 for lease in ("L1", "L2"))
    imported = set(sc.spans.index) - set(access.index)
    assert any(set(routed[lease]) & imported for lease in ("L1", "L2")), "no route used an imported span"

    for fmt in ("gpkg", "geojson", "graphml"):
        exported = tmp_path / f"exported.{fmt}"
        {"gpkg": gis.write_gpkg, "geojson": gis.write_geojson, "graphml": gis.write_graphml}[fmt](sc, exported)
        again = tmp_path / f"again-{fmt}"
        import_topology(exported, again, scenario=out / "scenario.yaml")
        back = load_scenario(again / "scenario.yaml")
        pd.testing.assert_frame_equal(_spans(back).drop(columns="length_km"), _spans(sc).drop(columns="length_km"),
                                      check_dtype=False)
        assert back.spans["length_km"].sort_index().to_numpy() == pytest.approx(
            sc.spans["length_km"].sort_index().to_numpy(), abs=2e-3), fmt
        assert set(back.pops.index) == set(sc.pops.index) and set(back.junctions.index) == set(sc.junctions.index)


def test_topology_zoo_graphml_ids_names_capacities_and_parallel_links(tmp_path: Path) -> None:
    t = build_topology(read_source(DATA / "zoo.graphml"))
    names = {p["id"]: p["name"] for p in t.topology["pops"]}
    assert names == {"jackson": "Jackson", "jackson-2": "Jackson", "memphis": "Memphis", "mobile": "Mobile",
                     "birmingham-al": "Birmingham, AL"}
    spans = t.spans
    assert spans.loc["jackson-2-memphis", ["channels", "channel_gbps"]].tolist() == [1, 2.5]  # OC-48 in bit/s
    assert spans.loc["jackson-birmingham-al", "channel_gbps"] == 100
    parallel = spans[(spans["a"] == "mobile") & (spans["b"] == "birmingham-al")]
    assert list(parallel.index) == ["mobile-birmingham-al", "mobile-birmingham-al-2"]
    assert (spans.loc["jackson-2-birmingham-al", ["channels", "channel_gbps"]] == [64, 400]).all()  # defaults
    assert any("conduit sharing is unknown" in p.message for p in t.warnings)


def test_pops_by_name_key_or_id_and_ambiguous_names() -> None:
    net = read_source(DATA / "zoo.graphml")
    t = build_topology(net, ImportOptions(pops=("JXN=jackson-2", "memphis", "Birmingham, AL")))
    assert [p["id"] for p in t.topology["pops"]] == ["JXN", "memphis", "birmingham-al"]
    assert t.topology["pops"][0]["name"] == "Jackson" and t.topology["pops"][0]["lat"] == 35.61452
    assert [j["id"] for j in t.topology["junctions"]] == ["jackson", "mobile"]
    assert "jackson-2-memphis" not in t.spans.index and "JXN-memphis" in t.spans.index
    with pytest.raises(ScenarioError, match=r"2 nodes have this name.*name one by its id: jackson, jackson-2"):
        build_topology(net, ImportOptions(pops=("Jackson",)))


def test_drawn_line_far_from_any_node_is_reported(tmp_path: Path) -> None:
    drawn = tmp_path / "far.geojson"
    drawn.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"name": "A"}, "geometry": {"type": "Point", "coordinates": [-90, 30]}},
        {"type": "Feature", "properties": {"name": "B"}, "geometry": {"type": "Point", "coordinates": [-91, 31]}},
        {"type": "Feature", "properties": {}, "geometry": {"type": "LineString",
                                                           "coordinates": [[-90, 30], [-91.2, 31.0]]}}]}))
    with pytest.raises(ScenarioError) as exc:
        read_source(drawn)
    (p,) = exc.value.problems
    assert (p.where, p.field, p.value) == ("layer far, feature 3", "geometry", "end point")
    assert "19.1 km from the nearest node" in p.message


def test_topology_zoo_gml_reads_as_its_graphml() -> None:
    t = build_topology(read_source(DATA / "zoo.gml"))
    assert [p["id"] for p in t.topology["pops"]] == ["jackson", "memphis", "birmingham-al"]
    spans = t.spans
    assert list(spans.index) == ["jackson-memphis", "jackson-birmingham-al", "jackson-birmingham-al-2"]
    assert spans["channel_gbps"].tolist() == [10, 10, 100]


def test_parallel_spans_are_distinct_routes(tmp_path: Path) -> None:
    sc, _ = _import(tmp_path, "csv")
    pairs = sc.spans[sc.spans["a"].eq("P1") & sc.spans["b"].eq("baton-rouge")]
    assert set(pairs.index) == {"P1-baton-rouge", "P1-baton-rouge-2"}
    g = build_network(sc)
    assert g.is_multigraph() and g.number_of_edges("P1", "baton-rouge") == 2
    paths = candidate_paths(sc, g, k=3)
    first_hops = {p[-1] for p in paths[(paths["site"] == "SA") & (paths["pop"] == "P1")]["spans"]}
    assert first_hops == {"P1-baton-rouge", "P1-baton-rouge-2"}
    nodes = set().union(*paths["nodes"])
    assert not any("~via" in n for n in nodes)
    assert sc.spans.at["lafayette-P2", "length_km"] == 330.0  # the fibre length given, not the great circle
    assert sc.spans.at["lafayette-P2", "route_factor"] > 1.02


def test_csv_top_pops_by_attribute_and_fibre_lengths() -> None:
    net = read_source(DATA / "nodes.csv", links=DATA / "links.csv")
    t = build_topology(net, ImportOptions(top_pops=2, pops_by="population"))
    assert [p["id"] for p in t.topology["pops"]] == ["baton-rouge", "new-orleans"]
    spans = t.spans
    assert spans.loc["lafayette-shreveport", "length_km"] == 330  # the source's fibre length, kept
    assert spans.loc["new-orleans-baton-rouge", "srlg"] == "I-10-east"


def test_straight_line_lengths_get_the_route_factor_with_a_warning() -> None:
    net = read_source(JANOS_US)  # topohub's dist is the haversine distance
    t = build_topology(net, ImportOptions(route_factor=1.25))
    assert (t.spans["route_factor"] == 1.25).all() and "length_km" not in t.spans.columns
    assert any("straight-line distance" in p.message and p.value.count(",") == 4 for p in t.warnings)
    t1 = build_topology(net, ImportOptions(route_factor=1.0))
    assert any("latency is understated" in p.message for p in t1.warnings)


def test_geojson_lines_join_their_nearest_nodes_and_keep_their_route(tmp_path: Path) -> None:
    sc, out = _import(tmp_path, "geojson")
    assert sc.spans.loc["greenville-ms-P1", ["a", "b", "srlg"]].tolist() == ["greenville-ms", "P1", "US-82"]
    assert len(sc.spans.loc["greenville-ms-P1", "geometry"].coords) == 5
    assert (out / "routes.geojson").is_file()
    straight = sc.spans.loc["P2-Hattiesburg"]  # drawn as two points: a straight line, with the route factor
    assert straight["route_factor"] == pytest.approx(1.3)


def test_sndlib_capacities_demands_and_srlg_csv(tmp_path: Path) -> None:
    srlg = tmp_path / "srlg.csv"
    srlg.write_text("span,srlg\nL5,gulf-coast\nL6,gulf-coast\n", encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(app, ["import", "topology", str(DATA / "gulf.txt"), "--out", str(tmp_path / "out"),
                              "--srlg-csv", str(srlg)])
    assert res.exit_code == 0, res.output
    t = build_topology(read_source(DATA / "gulf.xml"))
    assert t.spans.loc["L1", ["channels", "channel_gbps"]].tolist() == [1, 400]  # 400 in GBITPERSEC, its META unit
    assert t.spans.loc["L5", ["channels", "channel_gbps"]].tolist() == [2, 400]
    text = (tmp_path / "out" / "topology.yaml").read_text(encoding="utf-8")
    assert text.count("srlg: gulf-coast") == 2
    demands = pd.read_csv(tmp_path / "out" / "demands.csv")
    assert demands.to_dict("records")[0] == {"source": "JacksonMS", "target": "Memphis", "value": 120.0}


# --------------------------------------------------------------------------- errors
def test_bad_sources_list_every_problem(tmp_path: Path) -> None:
    nodes = tmp_path / "nodes.csv"
    nodes.write_text("id,name,lat,lon\n1,Here,30.1,-90.1\n2,There,north,-91.0\n3,Nowhere,95,-91\n",
                     encoding="utf-8")
    links = tmp_path / "links.csv"
    links.write_text("source,target,capacity_gbps\n1,2,lots\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        read_source(nodes, links=links)
    found = {(p.file.split("/")[-1], p.where, p.field, p.value) for p in exc.value.problems}
    assert found == {("nodes.csv", "line 3", "lat", "'north'"), ("links.csv", "line 2", "capacity_gbps", "'lots'")}

    nodes.write_text("id,name,lat,lon\n1,Here,30.1,-90.1\n3,Nowhere,95,-91\n", encoding="utf-8")
    links.write_text("source,target\n1,3\n1,9\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        build_topology(read_source(nodes, links=links), ImportOptions(pops=("Atlantis",)))
    messages = [(p.where, p.field, p.message) for p in exc.value.problems]
    assert ("node 3 (Nowhere)", "lat/lon", "coordinates out of range") in messages
    assert ("link 2 (1 - 9)", "target", "unknown node") in messages

    nodes.write_text("id,name,lat,lon\n1,Here,30.1,-90.1\n1,Again,30.2,-90.2\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"node 1, field 'id' = '1': two nodes have this key"):
        build_topology(read_source(nodes, links=links))

    nodes.write_text("id,name,lat,lon\n1,Here,30.1,-90.1\n3,There,31,-91\n", encoding="utf-8")
    links.write_text("source,target\n1,3\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"'Atlantis'.*no node has this key, name or id.*Here, There"):
        build_topology(read_source(nodes, links=links), ImportOptions(pops=("Atlantis",)))

    bad = tmp_path / "bad.txt"
    bad.write_text("NODES (\n  A ( -90 30 )\n  B -91 31\n)\nLINKS (\n  L1 A B 10\n)\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as exc:
        read_source(bad)
    assert [(p.where, p.field) for p in exc.value.problems] == [("line 3", "NODES"), ("line 6", "LINKS")]


def test_cli_errors_exit_2_and_write_nothing(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    graphml = tmp_path / "x.graphml"
    graphml.write_text('<graphml xmlns="http://graphml.graphdrawing.org/xmlns"><graph edgedefault="undirected">'
                       '<node id="a"/><node id="b"/><edge source="a" target="b"/></graph></graphml>',
                       encoding="utf-8")
    res = runner.invoke(app, ["import", "topology", str(graphml), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "node a" in res.output and "the node has no coordinates" in res.output and "node b" in res.output
    assert not (tmp_path / "out").exists()
    res = runner.invoke(app, ["import", "topology", str(tmp_path / "x.dat"), "--out", str(tmp_path / "out")])
    assert res.exit_code == 2 and "give --format" in res.output
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine", encoding="utf-8")
    res = runner.invoke(app, ["import", "topology", str(DATA / "gulf.txt"), "--out", str(tmp_path / "full")])
    assert res.exit_code == 2 and "--force" in res.output
    res = runner.invoke(app, ["import", "topology", str(DATA / "gulf.txt"), "--out", str(tmp_path / "full"),
                              "--force"])
    assert res.exit_code == 2 and "not replaced even with --force" in res.output
    assert (tmp_path / "full" / "keep.txt").read_text(encoding="utf-8") == "mine"
    res = runner.invoke(app, ["import", "topology", str(DATA / "gulf.txt"), "--out", str(tmp_path / "x.graphml")])
    assert res.exit_code == 2 and "is a file" in res.output
    done = tmp_path / "done"
    assert runner.invoke(app, ["import", "topology", str(DATA / "gulf.txt"), "--out", str(done)]).exit_code == 0
    res = runner.invoke(app, ["import", "topology", str(DATA / "zoo.graphml"), "--out", str(done), "--force"])
    assert res.exit_code == 0, res.output
    assert "jackson-2" in (done / "topology.yaml").read_text(encoding="utf-8") and not (done / "demands.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temporary left


# --------------------------------------------------------------------------- a public US network, end to end
@pytest.mark.slow
def test_public_us_network_in_one_command_plans_fails_and_exports(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "250"})
    out = tmp_path / "us"
    res = runner.invoke(app, ["import", "topology", str(JANOS_US), "--out", str(out), "--scenario", str(REFERENCE),
                              "--pop", "ASH=WashingtonDC", "--pop", "NYC=NewYork", "--pop", "CHI=Chicago",
                              "--pop", "DFW=Dallas", "--pop", "ATL=Atlanta",
                              "--pop", "CMH=Cleveland"])  # the book's Columbus users enter at Cleveland
    assert res.exit_code == 0, res.output
    assert "26 nodes, 42 links" in res.output and "6 PoPs, 20 junctions, 46 spans" in res.output
    topology = load_scenario(out / "scenario.yaml").spans
    assert sorted(topology.index[topology["a"].isin(["OH-NAL", "LA-RCH"])]) == [
        "LA-RCH-houston", "LA-RCH-neworleans", "OH-NAL-CMH", "OH-NAL-detroit"]  # each campus on its 2 nearest
    scenario = out / "scenario.yaml"
    run = tmp_path / "run"
    res = runner.invoke(app, ["plan", str(scenario), "--greedy", "--out", str(run)])
    assert res.exit_code == 0, res.output
    placed = pd.read_csv(run / "placements.csv")
    assert placed["lease"].nunique() > 150  # the reference book on real fibre: as many as on its own (201 + internal)
    res = runner.invoke(app, ["failures", str(scenario), "--plan", str(run), "--serial"])
    assert res.exit_code == 0, res.output
    failures = pd.read_csv(run / "failures.csv")
    assert len(failures) == 46  # one case per span: each its own shared-risk group
    gpkg = tmp_path / "us.gpkg"
    res = runner.invoke(app, ["export", str(scenario), "--out", str(gpkg)])
    assert res.exit_code == 0, res.output
    check = subprocess.run([*validate_gpkg_command(), "-k", str(gpkg)], capture_output=True, text=True,
                           check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    sc = load_scenario(scenario)
    span = sc.spans.loc["chicago-cleveland" if "chicago-cleveland" in sc.spans.index else sc.spans.index[0]]
    assert span["route_factor"] == pytest.approx(1.3) and math.isfinite(span["latency_ms"])
