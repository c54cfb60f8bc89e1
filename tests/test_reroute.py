"""Re-routing after a cut searches every surviving path: cross-checked against all simple paths on random graphs."""

from __future__ import annotations

import math
import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import networkx as nx
import pytest

import planner
from planner.optimise.heuristics.greedy import greedy
from planner.routing import fastest_path, span_graph, widest_path
from planner.whatif import cut_cases, evaluate_cut
from planner.whatif.cuts import plan_replicas
from tests.tiny import lease, triangle, write


def random_fibre(rng: random.Random) -> tuple[nx.Graph, dict[str, float]]:
    """A connected random graph of 5-8 nodes with span ids, latencies and room per span."""
    n = rng.randint(5, 8)
    g = nx.gnp_random_graph(n, rng.uniform(0.3, 0.7), seed=rng.randint(0, 10**6))
    g.add_edges_from(pairwise(range(n)))  # connected
    g = nx.relabel_nodes(g, {i: f"n{i}" for i in range(n)})
    room = {}
    for u, v in g.edges:
        g.edges[u, v].update(id=f"s{u}-{v}", latency_ms=rng.uniform(0.5, 5.0), length_km=100.0)
        room[f"s{u}-{v}"] = float(rng.choice([0, 50, 100, 200, 400, 800]))
    return g, room


def simple_paths(g: nx.Graph, s: str, t: str) -> list[tuple[float, list[str]]]:
    """(latency, span ids) of every simple path, enumerated exhaustively."""
    out = []
    for nodes in nx.all_simple_paths(g, s, t):
        edges = [g.edges[u, v] for u, v in pairwise(nodes)]
        out.append((sum(e["latency_ms"] for e in edges), [e["id"] for e in edges]))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_fastest_path_with_room_equals_exhaustive_search(seed: int) -> None:
    rng = random.Random(seed)
    g, room = random_fibre(rng)
    t = f"n{len(g) - 1}"
    paths = simple_paths(g, "n0", t)
    for demand in (0.0, 50.0, 150.0, 300.0, 600.0):
        for slo in (2.0, 5.0, 9.0, math.inf):
            ok = [lat for lat, spans in paths if all(room[e] >= demand for e in spans) and lat <= slo]

            def usable(e: str, d: float = demand) -> bool:
                return room[e] >= d

            p = fastest_path(g, "n0", t, usable=usable)
            found = p if p is not None and p.latency_ms <= slo else None
            assert (found is None) == (not ok), (seed, demand, slo)
            if found is not None:
                assert found.latency_ms == pytest.approx(min(ok))
                assert all(room[e] >= demand for e in found.spans)
                assert nx.is_simple_path(g, list(found.nodes))


@pytest.mark.parametrize("seed", range(40))
def test_widest_path_equals_exhaustive_search(seed: int) -> None:
    rng = random.Random(seed)
    g, room = random_fibre(rng)
    t = f"n{len(g) - 1}"
    best = max(min(room[e] for e in spans) for _, spans in simple_paths(g, "n0", t))
    p = widest_path(g, "n0", t, room)
    assert p is not None and min(room[e] for e in p.spans) == best


def detours() -> dict[str, Any]:
    """SA -> P1 direct (2,000 Gbps, conduit east), and four detours SA > Jn > P1 (conduits d1..d4).

    The detours are slower the further north their junction; the three fastest carry
    100 Gbps, the fourth 1,000 Gbps. With ``k_paths: 3`` the plan's candidates after
    the cut are the three thin detours; only the fourth has room for a 500 Gbps lease.
    """
    d = triangle()
    d["topology"]["junctions"] = [{"id": f"J{i}", "name": f"J{i}", "lat": 0.5 * i, "lon": 4.5} for i in range(1, 5)]
    spans = [{"id": "SA-P1", "a": "SA", "b": "P1", "fibre_pairs": 1, "channels": 20, "channel_gbps": 100,
              "srlg": "east"}]
    for i in range(1, 5):
        ch = 10 if i == 4 else 1
        spans += [{"id": f"SA-J{i}", "a": "SA", "b": f"J{i}", "fibre_pairs": 1, "channels": ch, "channel_gbps": 100,
                   "srlg": f"d{i}"},
                  {"id": f"J{i}-P1", "a": f"J{i}", "b": "P1", "fibre_pairs": 1, "channels": ch, "channel_gbps": 100,
                   "srlg": f"d{i}"}]
    d["topology"]["spans"] = spans
    d["leases"] = [lease("L1", 10, price=3, latency_slo_ms=10, egress_gbps=500, region="P1", allowed_sites="SA")]
    return d


def test_a_cut_reroutes_over_a_path_beyond_the_k_candidates(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, detours()))
    assert sc.settings.k_paths == 3
    plan = greedy(sc)
    assert plan.placements["path"].tolist() == ["SA > P1"]
    east = next(c for c in cut_cases(sc) if c.id == "srlg:east")
    r = evaluate_cut(sc, plan, east)
    [rec] = r["reroutes"]
    assert rec["outcome"] == "rerouted", rec["why"]
    assert rec["new_path"] == "SA > J4 > P1" and rec["new_latency_ms"] < 10
    assert (r["replicas_rerouted"], r["replicas_stranded"], r["survivable"]) == (1, 0, True)
    # with the fourth detour thin too, nothing has room: stranded, and the reason names the widest path
    d = detours()
    for s in d["topology"]["spans"]:
        if s["srlg"] == "d4":
            s["channels"] = 2
    sc2 = planner.load_scenario(write(tmp_path / "thin", d))
    r2 = evaluate_cut(sc2, greedy(sc2), next(c for c in cut_cases(sc2) if c.id == "srlg:east"))
    assert r2["stranded"] == ("L1",) and r2["replicas_stranded"] == 1
    assert "most: 200 Gbps via SA > J4 > P1" in r2["reroutes"][0]["why"]


def test_replica_counts_add_up_and_say_their_unit(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, triangle()))
    r = evaluate_cut(sc, greedy(sc), cut_cases(sc)[0])
    assert r["replicas_affected"] == r["replicas_rerouted"] + r["replicas_slo_lost"] + r["replicas_stranded"]
    assert (r["replicas_rerouted"], r["replicas_slo_lost"], r["replicas_stranded"]) == (1, 1, 1)


def random_scenario(seed: int) -> dict[str, Any]:
    """SA and P1 joined through three junctions by random spans of random capacity; five leases with egress."""
    rng = random.Random(seed)
    d = triangle()
    nodes = ["SA", "P1", "J1", "J2", "J3"]
    d["topology"]["junctions"] = [{"id": f"J{i}", "name": f"J{i}", "lat": rng.uniform(-3, 3), "lon": 2.0 * i + 1}
                                  for i in range(1, 4)]
    pairs = [(a, b) for i, a in enumerate(nodes) for b in nodes[i + 1:]]
    chosen = {("SA", "P1")} | {p for p in pairs if rng.random() < 0.6}
    d["topology"]["spans"] = [{"id": f"{a}-{b}", "a": a, "b": b, "fibre_pairs": 1, "channels": rng.randint(1, 8),
                               "channel_gbps": 100, "srlg": f"c{i}"} for i, (a, b) in enumerate(sorted(chosen))]
    d["topology"]["spans"][0]["channels"] = 20  # the plan fits on the direct span
    d["leases"] = [lease(f"L{i}", 10, price=rng.uniform(1, 3), egress_gbps=rng.choice([50, 100, 200, 300]),
                         latency_slo_ms=rng.choice([6, 10, 20, ""]), region="P1", allowed_sites="SA")
                   for i in range(1, 6)]
    return d


@pytest.mark.parametrize("seed", range(16))
def test_no_replica_is_stranded_while_a_surviving_path_has_room(seed: int, tmp_path: Path) -> None:
    """Exhaustive cross-check: after each cut, no stranded replica has a simple path with room for it.

    Loads only grow as replicas are re-routed, so a path with room at the end had
    room when the replica was tried. Carried traffic stays within every span's limit.
    """
    sc = planner.load_scenario(write(tmp_path, random_scenario(seed)))
    plan = greedy(sc)
    g = planner.build_network(sc)
    for case in cut_cases(sc):
        r = evaluate_cut(sc, plan, case, graph=g)
        h = span_graph(g, exclude_spans=case.spans)
        load = {str(s): 0.0 for s in sc.spans.index}
        kept = plan_replicas(plan)
        cut = set(case.spans)
        for x in kept[~kept["spans"].map(lambda s, c=cut: bool(set(s) & c))].itertuples():
            for e in x.spans:
                load[e] += float(x.egress_gbps)
        for x in r["reroutes"]:
            for e in x["new_spans"]:
                load[e] += x["egress_gbps"]
        limit = (sc.spans["capacity_gbps"] * sc.settings.max_link_utilisation).to_dict()
        assert all(load[e] <= limit[e] + 1e-6 for e in load), case.id  # the tiny leases span every week
        for x in r["reroutes"]:
            if x["outcome"] != "stranded" or "P1" not in h:
                continue
            for nodes in nx.all_simple_paths(h, "SA", "P1"):
                spans = [h.edges[u, v]["id"] for u, v in pairwise(nodes)]
                assert min(limit[e] - load[e] for e in spans) < x["egress_gbps"] - 1e-6, (case.id, x["lease"], nodes)
        for x in r["reroutes"]:  # a replica past its SLO had no path within it that had room, at the end either
            if x["outcome"] != "slo_lost":
                continue
            for nodes in nx.all_simple_paths(h, "SA", "P1"):
                spans = [h.edges[u, v]["id"] for u, v in pairwise(nodes)]
                lat = sum(h.edges[u, v]["latency_ms"] for u, v in pairwise(nodes))
                if lat <= x["slo_ms"]:
                    assert min(limit[e] - load[e] for e in spans) < x["egress_gbps"] - 1e-6, (case.id, x["lease"])


def test_fastest_and_widest_paths_see_a_parallel_span_once() -> None:
    """Two spans between the same cities: the fibre graph routes one through a hidden node, paths name it once."""
    g = nx.MultiGraph()
    g.add_nodes_from(["A", "B"], kind="pop")
    g.add_edge("A", "B", key="east", id="east", kind="span", latency_ms=2.0, length_km=400.0)
    g.add_edge("A", "B", key="west", id="west", kind="span", latency_ms=3.0, length_km=600.0)
    h = span_graph(g)
    slow = fastest_path(h, "A", "B", usable=lambda s: s != "east")
    assert slow is not None and (slow.nodes, slow.spans, slow.latency_ms, slow.length_km) == (
        ("A", "B"), ("west",), 3.0, 600.0)
    wide = widest_path(h, "A", "B", {"east": 10.0, "west": 50.0})
    assert wide is not None and (wide.nodes, wide.spans) == (("A", "B"), ("west",))
