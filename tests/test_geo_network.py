"""Geodesy, span physics, the network graph and routing, against hand-computed numbers.

Hand numbers for the tiny scenario (WGS84; see tests/tiny.py):

- one degree of longitude at 33 N: N(33) cos(33) pi/180 = 6384.48 x 0.83867 x 0.0174533 = 93.45 km
  (SA-J and J-SB; the geodesic is shorter than the parallel by < 1 m here);
- one degree of latitude from 33 to 34 N: the meridian arc M(33.5) pi/180 = 6354.87 x 0.0174533 = 110.91 km
  (SA-P1 and SB-P2);
- J (33, -89) to P2 (34, -88): sqrt(92.92^2 + 110.91^2) = 144.69 km (local flat-earth, good to ~0.1 km).

Latency in fibre is 0.0049 ms/km, so with no amplifier or terminal delay (the tiny
topology sets both to 0) SA-J is 0.4579 ms, SA-P1 0.5435 ms and J-P2 0.7090 ms.
"""

from __future__ import annotations

import math
from itertools import combinations, pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import pytest
from shapely.geometry import LineString

import planner
from planner import physics
from planner.geo import geodesic_length_km, great_circle_km, points_along_km
from planner.routing import k_shortest_paths, span_graph
from tests import tiny

KM = {"SA-J": 93.45, "J-SB": 93.45, "SA-P1": 110.91, "SB-P2": 110.91, "J-P2": 144.69}
MS = {k: v * 0.0049 for k, v in KM.items()}


@pytest.fixture
def tiny_sc(tmp_path: Path) -> planner.Scenario:
    return planner.load_scenario(tiny.write(tmp_path, tiny.base()))


def _load(tmp_path: Path, data: dict[str, Any]) -> planner.Scenario:
    return planner.load_scenario(tiny.write(tmp_path, data))


# --------------------------------------------------------------------------- geodesy
def test_new_albany_to_richland_parish_great_circle() -> None:
    assert great_circle_km(40.07, -82.75, 32.47, -91.65) == pytest.approx(1161, abs=5)
    assert great_circle_km(32.47, -91.65, 40.07, -82.75) == pytest.approx(great_circle_km(40.07, -82.75, 32.47,
                                                                                          -91.65))


def test_one_degree_of_latitude_along_a_meridian() -> None:
    km = geodesic_length_km(LineString([(-90.0, 33.0), (-90.0, 34.0)]))
    assert 110.6 <= km <= 111.7
    assert km == pytest.approx(110.91, abs=0.02)
    # Near the equator a degree is shorter than near the pole (the ellipsoid, not a sphere).
    at_equator = geodesic_length_km(LineString([(0.0, 0.0), (0.0, 1.0)]))
    near_pole = geodesic_length_km(LineString([(0.0, 88.0), (0.0, 89.0)]))
    assert at_equator == pytest.approx(110.57, abs=0.02)
    assert near_pole == pytest.approx(111.69, abs=0.02)


def test_one_degree_of_longitude_at_33_north() -> None:
    assert geodesic_length_km(LineString([(-90.0, 33.0), (-89.0, 33.0)])) == pytest.approx(93.45, abs=0.02)


@pytest.mark.parametrize("waypoints", [
    [],
    [(-87.0, 37.5)],
    [(-84.0, 39.0), (-88.0, 36.0), (-90.5, 33.5)],
    [(-80.0, 41.0), (-95.0, 30.0)],
])
def test_a_route_is_never_shorter_than_the_great_circle(waypoints: list[tuple[float, float]]) -> None:
    a, b = (-82.75, 40.07), (-91.65, 32.47)
    route = geodesic_length_km(LineString([a, *waypoints, b]))
    assert route >= great_circle_km(a[1], a[0], b[1], b[0]) - 1e-6


def test_route_length_is_the_sum_of_its_legs() -> None:
    pts = [(-90.0, 33.0), (-90.0, 34.0), (-89.0, 34.0)]
    legs = sum(great_circle_km(p[1], p[0], q[1], q[0]) for p, q in pairwise(pts))
    assert geodesic_length_km(LineString(pts)) == pytest.approx(legs, rel=1e-9)


# --------------------------------------------------------------------------- span physics
def test_span_latency_by_hand() -> None:
    # 1,000 km at 80 km spacing: ceil(12.5) - 1 = 12 amplifiers.
    assert physics.span_latency_ms(1000.0, 12, 0.0001, 0.01) == pytest.approx(4.9 + 12 * 0.0001 + 2 * 0.01)
    assert physics.FIBRE_MS_PER_KM == 0.0049


def test_spans_table_matches_hand_numbers(tiny_sc: planner.Scenario) -> None:
    spans = tiny_sc.spans
    assert list(spans.index) == list(KM)
    for span, km in KM.items():
        assert spans.at[span, "length_km"] == pytest.approx(km, abs=0.1), span
        assert spans.at[span, "latency_ms"] == pytest.approx(MS[span], abs=0.0005), span
        assert spans.at[span, "n_amplifiers"] == 1  # 93-145 km at 80 km spacing
        assert spans.at[span, "capacity_gbps"] == 1 * 10 * 100
    # Straight spans: route = great circle.
    assert (spans["route_factor"] - 1).abs().max() < 1e-9


def test_latency_amplifiers_and_capacity_with_delays(tmp_path: Path) -> None:
    data = tiny.base()
    topo = data["topology"]
    topo["amplifier_delay_ms"], topo["terminal_delay_ms"] = 0.0001, 0.01
    topo["spans"][0]["amplifier_spacing_km"] = 40.0  # SA-J, 93.45 km: ceil(2.34) - 1 = 2
    topo["spans"][2].update(amplifier_spacing_km=10.0, amplifier_delay_ms=0.002,  # SA-P1, 110.91 km: 11
                            terminal_delay_ms=0.05)
    topo["spans"][4]["amplifier_spacing_km"] = 200.0  # J-P2, 144.69 km: none
    topo["spans"][1].update(fibre_pairs=2, channels=64, channel_gbps=400)  # J-SB
    spans = _load(tmp_path, data).spans

    assert spans.at["SA-J", "n_amplifiers"] == 2
    assert spans.at["SA-J", "latency_ms"] == pytest.approx(93.45 * 0.0049 + 2 * 0.0001 + 2 * 0.01, abs=0.0005)
    assert spans.at["SA-P1", "n_amplifiers"] == 11
    assert spans.at["SA-P1", "latency_ms"] == pytest.approx(110.91 * 0.0049 + 11 * 0.002 + 2 * 0.05, abs=0.0005)
    assert spans.at["J-P2", "n_amplifiers"] == 0
    assert spans.at["J-P2", "latency_ms"] == pytest.approx(144.69 * 0.0049 + 2 * 0.01, abs=0.0005)
    assert spans.at["J-SB", "capacity_gbps"] == 2 * 64 * 400 == 51_200

    for span, s in spans.iterrows():  # the same rules, from the table's own numbers
        n = max(math.ceil(s["length_km"] / s["amplifier_spacing_km"]) - 1, 0)
        assert s["n_amplifiers"] == n, span
        amp = 0.002 if span == "SA-P1" else 0.0001
        term = 0.05 if span == "SA-P1" else 0.01
        assert s["latency_ms"] == pytest.approx(s["length_km"] * 0.0049 + n * amp + 2 * term), span
        assert s["capacity_gbps"] == s["fibre_pairs"] * s["channels"] * s["channel_gbps"], span
        assert len(points_along_km(s["geometry"], s["amplifier_spacing_km"])) == n, span


def test_waypoints_lengthen_a_span(tmp_path: Path) -> None:
    data = tiny.base()
    data["topology"]["spans"][0]["waypoints"] = [[-90.0, 34.0], [-89.0, 34.0]]  # SA -> up 1 deg -> east -> down
    spans = _load(tmp_path, data).spans
    # 1 deg of longitude at 34 N: 6384.82 x cos(34) x pi/180 = 92.39 km
    assert spans.at["SA-J", "length_km"] == pytest.approx(110.91 + 92.39 + 110.91, abs=0.1)
    assert spans.at["SA-J", "great_circle_km"] == pytest.approx(93.45, abs=0.05)
    assert spans.at["SA-J", "route_factor"] == pytest.approx(spans.at["SA-J", "length_km"] / 93.45, rel=1e-3)


# --------------------------------------------------------------------------- the graph
def test_build_network_kinds_and_attributes(tiny_sc: planner.Scenario) -> None:
    g = planner.build_network(tiny_sc)
    assert g.graph["crs"] == "EPSG:4326"
    kinds = {n: d["kind"] for n, d in g.nodes(data=True)}
    assert kinds == {"SA": "site", "SB": "site", "A1": "pod", "A2": "pod", "B1": "pod", "P1": "pop", "P2": "pop",
                     "J": "junction", "hall:A1": "hall", "hall:A2": "hall", "hall:B1": "hall"}
    pod = {"site": "SA", "sku": "T1", "gpus": 100, "fabric": "f", "fabric_kind": "RoCE", "lat": 33.0, "lon": -90.0}
    assert {k: g.nodes["A1"][k] for k in pod} == pod
    assert (g.nodes["P2"]["lat"], g.nodes["P2"]["lon"]) == (34.0, -88.0)

    uplinks = {d["id"]: (u, v, d) for u, v, d in g.edges(data=True) if d["kind"] == "uplink"}
    spans = {d["id"]: (u, v, d) for u, v, d in g.edges(data=True) if d["kind"] == "span"}
    assert set(uplinks) == {"uplink:A1", "uplink:A2", "uplink:B1"}
    assert set(spans) == set(KM)
    assert g.number_of_edges() == 11  # 3 uplinks, 3 hall aggregation layers (undeclared: unlimited), 5 spans
    # uplink = GPUs x port Gbps x planes / oversubscription
    assert uplinks["uplink:A1"][2]["capacity_gbps"] == 100 * 400 * 1 / 4
    assert uplinks["uplink:B1"][2]["capacity_gbps"] == 200 * 400 * 1 / 4
    assert {uplinks["uplink:B1"][0], uplinks["uplink:B1"][1]} == {"B1", "hall:B1"}
    assert uplinks["uplink:A1"][2]["latency_ms"] == 0.0

    u, v, d = spans["J-P2"]
    assert {u, v} == {"J", "P2"} and (d["a"], d["b"]) == ("J", "P2")
    assert d["srlg"] == "c5" and d["capacity_gbps"] == 1000.0 and d["n_amplifiers"] == 1
    assert d["length_km"] == pytest.approx(144.69, abs=0.1)
    assert d["latency_ms"] == pytest.approx(MS["J-P2"], abs=0.0005)
    assert d["geometry"].coords[0] == (-89.0, 33.0) and d["geometry"].coords[-1] == (-88.0, 34.0)


def _halls_data() -> dict[str, Any]:
    """Tiny with declared halls: A1 and A2 in hall HA (building SA-1, 5,000 Gbps), B1 alone in HB."""
    d = tiny.base()
    d["pods"]["halls"] = [{"id": "HA", "site": "SA", "building": "SA-1", "aggregation_gbps": 5000},
                          {"id": "HB", "site": "SB", "building": "SB-1", "name": "Hall B", "aggregation_gbps": 2500}]
    for pod, hall in zip(d["pods"]["pods"], ["HA", "HA", "HB"], strict=True):
        pod["hall"] = hall
    return d


def test_network_puts_halls_between_pods_and_their_campus(tmp_path: Path) -> None:
    sc = _load(tmp_path, _halls_data())
    g = planner.build_network(sc)
    want = {"kind": "hall", "site": "SA", "building": "SA-1", "pods": 2, "gpus": 200, "aggregation_gbps": 5000.0,
            "unlimited": False}
    assert {k: g.nodes["hall:HA"][k] for k in want} == want
    assert g.nodes["hall:HB"]["name"] == "Hall B"
    agg = {d["id"]: (u, v, d) for u, v, d in g.edges(data=True) if d["kind"] == "aggregation"}
    assert set(agg) == {"aggregation:HA", "aggregation:HB"}
    assert {agg["aggregation:HA"][0], agg["aggregation:HA"][1]} == {"hall:HA", "SA"}
    assert agg["aggregation:HB"][2]["capacity_gbps"] == 2500.0
    for pod, hall in [("A1", "hall:HA"), ("A2", "hall:HA"), ("B1", "hall:HB")]:
        assert set(g[pod]) == {hall}, pod  # a pod hangs off its hall alone
        assert g.edges[pod, hall]["capacity_gbps"] == sc.pods.at[pod, "uplink_gbps"]
    assert nx.shortest_path(g, "A1", "SA") == ["A1", "hall:HA", "SA"]


def test_undeclared_halls_are_unlimited(tiny_sc: planner.Scenario) -> None:
    g = planner.build_network(tiny_sc)
    for hall in ("hall:A1", "hall:A2", "hall:B1"):
        assert g.nodes[hall]["unlimited"] is True
        (site,) = set(g[hall]) - {hall.removeprefix("hall:")}
        edge = g.edges[hall, site]
        assert edge["kind"] == "aggregation" and edge["unlimited"] is True and math.isinf(edge["capacity_gbps"])


def test_no_path_runs_through_the_campus_fabric(tmp_path: Path) -> None:
    """Routes leave a campus over spans only, even where a hall or pod joins nodes the fibre does not."""
    d = _halls_data()
    d["topology"]["spans"] = [s for s in d["topology"]["spans"] if s["id"] not in ("SA-J", "J-SB")]
    sc = _load(tmp_path, d)
    g = planner.build_network(sc)
    h = span_graph(g)
    assert not {n for n, k in h.nodes(data="kind") if k in ("pod", "hall")}
    paths = planner.routing.candidate_paths(sc, g, k=10)
    fabric = set(sc.pods.index) | {f"hall:{x}" for x in sc.halls.index}
    assert len(paths) and not any(set(nodes) & fabric for nodes in paths["nodes"])
    assert {d["kind"] for _, _, d in h.edges(data=True)} == {"span"}
    m = planner.routing.latency_matrix(sc, g)
    assert m.loc["SA", "P1"] == pytest.approx(MS["SA-P1"], abs=0.0005)


def test_span_graph_drops_pods_and_excluded_spans(tiny_sc: planner.Scenario) -> None:
    g = planner.build_network(tiny_sc)
    h = span_graph(g)
    assert set(h.nodes) == {"SA", "SB", "P1", "P2", "J"}
    assert {d["id"] for _, _, d in h.edges(data=True)} == set(KM)
    h2 = span_graph(g, exclude_spans=["SA-J", "J-SB"])
    assert {d["id"] for _, _, d in h2.edges(data=True)} == {"SA-P1", "SB-P2", "J-P2"}
    assert set(h2.nodes) == set(h.nodes)  # nodes stay, even when cut off
    assert not nx.has_path(h2, "SA", "SB")


# --------------------------------------------------------------------------- k shortest paths
@pytest.fixture
def diamond() -> nx.Graph:
    """A - B - D, A - C - D, with a B - C rung, a tail D - E and a separate X - Y.

    Simple paths A -> D by latency: ABD 2.0, ACBD 2.7, ABCD 2.8, ACD 2.9 (and no others).
    Each edge is 200 km per ms.
    """
    g = nx.Graph()
    for u, v, ms in [("A", "B", 1.0), ("B", "D", 1.0), ("A", "C", 1.4), ("C", "D", 1.5), ("B", "C", 0.3),
                     ("D", "E", 5.0), ("X", "Y", 1.0)]:
        g.add_edge(u, v, id=f"{u}{v}".lower(), latency_ms=ms, length_km=200.0 * ms)
    return g


def test_k_shortest_paths_order_and_latency(diamond: nx.Graph) -> None:
    paths = k_shortest_paths(diamond, "A", "D", 3)
    assert [p.nodes for p in paths] == [("A", "B", "D"), ("A", "C", "B", "D"), ("A", "B", "C", "D")]
    assert [p.spans for p in paths] == [("ab", "bd"), ("ac", "bc", "bd"), ("ab", "bc", "cd")]
    assert [p.latency_ms for p in paths] == pytest.approx([2.0, 2.7, 2.8])
    assert [p.length_km for p in paths] == pytest.approx([400.0, 540.0, 560.0])
    assert paths[1].label == "A > C > B > D"


def test_k_shortest_paths_fewer_than_k(diamond: nx.Graph) -> None:
    paths = k_shortest_paths(diamond, "A", "D", 10)
    assert [p.latency_ms for p in paths] == pytest.approx([2.0, 2.7, 2.8, 2.9])
    assert k_shortest_paths(diamond, "D", "E", 3)[0].spans == ("de",)
    assert len(k_shortest_paths(diamond, "D", "E", 3)) == 1


def test_k_shortest_paths_unreachable_or_unknown(diamond: nx.Graph) -> None:
    assert k_shortest_paths(diamond, "A", "X", 3) == []
    assert k_shortest_paths(diamond, "A", "nowhere", 3) == []
    assert k_shortest_paths(diamond, "nowhere", "A", 3) == []


# --------------------------------------------------------------------------- tiny routing
def test_tiny_candidate_paths(tiny_sc: planner.Scenario) -> None:
    paths = planner.candidate_paths(tiny_sc, planner.build_network(tiny_sc))
    got = {(r.site, r.pop, r.rank): r.spans for r in paths.itertuples()}
    assert got == {
        ("SA", "P1", 0): ("SA-P1",),  # the only simple path: fewer than k = 3
        ("SA", "P2", 0): ("SA-J", "J-P2"),
        ("SA", "P2", 1): ("SA-J", "J-SB", "SB-P2"),
        ("SB", "P1", 0): ("J-SB", "SA-J", "SA-P1"),
        ("SB", "P1", 1): ("SB-P2", "J-P2", "SA-J", "SA-P1"),
        ("SB", "P2", 0): ("SB-P2",),
        ("SB", "P2", 1): ("J-SB", "J-P2"),
    }
    lat = paths.set_index(["site", "pop", "rank"])["latency_ms"]
    assert lat[("SA", "P2", 0)] == pytest.approx(MS["SA-J"] + MS["J-P2"], abs=0.001)
    assert lat[("SA", "P2", 1)] == pytest.approx(MS["SA-J"] + MS["J-SB"] + MS["SB-P2"], abs=0.001)
    assert lat[("SB", "P1", 1)] == pytest.approx(MS["SB-P2"] + MS["J-P2"] + MS["SA-J"] + MS["SA-P1"], abs=0.001)
    assert paths.loc["SA~P2~0", "nodes"] == ("SA", "J", "P2")
    assert paths.loc["SA~P2~0", "length_km"] == pytest.approx(KM["SA-J"] + KM["J-P2"], abs=0.2)
    assert (paths["bottleneck_gbps"] == 1000.0).all()


def test_tiny_candidate_paths_without_a_span(tiny_sc: planner.Scenario) -> None:
    # Without SA-J, SA keeps only its spur to P1: SA -> P2 and SB -> P1 have no route left.
    paths = planner.candidate_paths(tiny_sc, planner.build_network(tiny_sc), exclude_spans=["SA-J"])
    got = {(r.site, r.pop, r.rank): r.spans for r in paths.itertuples()}
    assert got == {("SA", "P1", 0): ("SA-P1",), ("SB", "P2", 0): ("SB-P2",), ("SB", "P2", 1): ("J-SB", "J-P2")}


def test_tiny_latency_matrix(tiny_sc: planner.Scenario) -> None:
    m = planner.latency_matrix(tiny_sc, planner.build_network(tiny_sc))
    assert list(m.index) == ["SA", "SB"] and list(m.columns) == ["P1", "P2"]
    expected = {("SA", "P1"): MS["SA-P1"], ("SA", "P2"): MS["SA-J"] + MS["J-P2"],
                ("SB", "P1"): MS["J-SB"] + MS["SA-J"] + MS["SA-P1"], ("SB", "P2"): MS["SB-P2"]}
    for (site, pop), ms in expected.items():
        assert m.loc[site, pop] == pytest.approx(ms, abs=0.001), (site, pop)


def test_latency_matrix_unreachable_is_nan(tmp_path: Path) -> None:
    data = tiny.base()
    data["topology"]["spans"] = [s for s in data["topology"]["spans"] if s["id"] != "SA-P1"]
    sc = _load(tmp_path, data)
    m = planner.latency_matrix(sc, planner.build_network(sc))
    assert math.isnan(m.loc["SA", "P1"]) and math.isnan(m.loc["SB", "P1"])
    assert m.loc["SA", "P2"] == pytest.approx(MS["SA-J"] + MS["J-P2"], abs=0.001)


# --------------------------------------------------------------------------- the reference scenario
REFERENCE = planner.default_scenario_path()
needs_reference = pytest.mark.skipif(not REFERENCE.exists(), reason="the reference scenario is not written yet")


@pytest.fixture(scope="module")
def reference() -> tuple[planner.Scenario, nx.Graph]:
    sc = planner.load_scenario(REFERENCE)
    return sc, planner.build_network(sc)


@needs_reference
def test_reference_every_site_reaches_every_pop(reference: tuple[planner.Scenario, nx.Graph]) -> None:
    sc, g = reference
    m = planner.latency_matrix(sc, g)
    assert not m.isna().any().any(), m


@needs_reference
def test_reference_inter_campus_route_factor(reference: tuple[planner.Scenario, nx.Graph]) -> None:
    sc, g = reference
    h = span_graph(g)
    assert len(sc.sites) >= 2
    for a, b in combinations(sc.sites.index, 2):
        gc = great_circle_km(sc.sites.at[a, "lat"], sc.sites.at[a, "lon"], sc.sites.at[b, "lat"],
                             sc.sites.at[b, "lon"])
        route = nx.shortest_path_length(h, a, b, weight="length_km")
        assert 1.2 <= route / gc <= 1.5, (a, b, route, gc)


@needs_reference
def test_reference_campuses_survive_any_single_conduit_cut(reference: tuple[planner.Scenario, nx.Graph]) -> None:
    sc, g = reference
    for srlg, spans in sc.spans.groupby("srlg"):
        h = span_graph(g, exclude_spans=spans.index)
        for a, b in combinations(sc.sites.index, 2):
            assert nx.has_path(h, a, b), f"cutting conduit {srlg} ({', '.join(spans.index)}) separates {a} and {b}"


@needs_reference
def test_reference_campuses_are_new_albany_and_richland(reference: tuple[planner.Scenario, nx.Graph]) -> None:
    sc, _ = reference
    oh, la = sc.sites.loc["OH-NAL"], sc.sites.loc["LA-RCH"]
    assert great_circle_km(oh["lat"], oh["lon"], la["lat"], la["lon"]) == pytest.approx(1161, abs=5)
