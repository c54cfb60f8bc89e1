"""Route-geometry warnings: spans shorter than the roads they follow, spans of different groups side by side.

The tiny topology (tests/tiny.py) draws its spans straight on purpose and says so
with ``min_route_factor: 1.0``; these tests take that out, or bend spans
alongside each other. SA is at (-90, 33), J at (-89, 33): span SA-J runs east
along 33 N; 0.0045 degrees of latitude is 500 m.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from shapely.geometry import LineString
from typer.testing import CliRunner

from planner import load_scenario
from planner.cli import app
from planner.corridors import _grown, _pair_run, parallel_runs
from planner.errors import Problem
from planner.geo import densify_geodesic, great_circle_km
from tests import tiny


def _warnings(tmp_path: Path, data: dict[str, Any], kind: str, path: Path | None = None) -> list[Problem]:
    sc = load_scenario(path or tiny.write(tmp_path, data))
    marker = {"roads": "shorter than the roads it follows", "srlg": "one cut there takes both"}[kind]
    return [w for w in sc.warnings if marker in w.message]


def _alongside(offset_deg: float = 0.0045, srlg: str = "c3") -> dict[str, Any]:
    """SA-P1 first runs east beside SA-J, ``offset_deg`` north of it, for 0.3 degrees (28 km), then turns to P1."""
    d = tiny.base()
    span = next(s for s in d["topology"]["spans"] if s["id"] == "SA-P1")
    span["waypoints"] = [[-90.0, 33.0 + offset_deg], [-89.7, 33.0 + offset_deg]]
    span["srlg"] = srlg
    return d


# --------------------------------------------------------------------------- route factor
def test_spans_drawn_straight_are_shorter_than_the_roads(tmp_path: Path) -> None:
    d = tiny.base()
    del d["scenario"]["settings"]["min_route_factor"]  # the default, 1.05
    found = _warnings(tmp_path, d, "roads")
    assert sorted(w.message.split()[1] for w in found) == sorted(s["id"] for s in d["topology"]["spans"])
    sa_j = next(w for w in found if w.message.startswith("span SA-J "))
    assert sa_j.severity == "warning" and sa_j.field == "waypoints" and Path(sa_j.file).name == "topology.yaml"
    assert "1.000 x the great circle between SA and J" in sa_j.message and "min_route_factor 1.05" in sa_j.message
    assert "route_factor" in sa_j.fix and "length_km" in sa_j.fix and sa_j.where.startswith("line ")


def test_route_factor_given_or_fibre_length_long_enough_is_quiet(tmp_path: Path) -> None:
    d = tiny.base()
    del d["scenario"]["settings"]["min_route_factor"]
    spans = {s["id"]: s for s in d["topology"]["spans"]}
    for s in spans.values():
        s["route_factor"] = 1.3
    spans["SA-J"].pop("route_factor")
    spans["SA-J"]["length_km"] = 95.0  # 93.45 km great circle: 1.017 x
    spans["J-SB"].pop("route_factor")
    spans["J-SB"]["length_km"] = 99.0  # 1.059 x: long enough
    found = _warnings(tmp_path, d, "roads")
    assert [(w.message.split()[1], w.field, w.value) for w in found] == [("SA-J", "length_km", "95")]
    assert "1.017 x" in found[0].message


def test_a_route_from_the_routes_file_is_named_there(tmp_path: Path) -> None:
    d = tiny.base()
    del d["scenario"]["settings"]["min_route_factor"]
    d["scenario"]["files"]["routes"] = "routes.geojson"
    path = tiny.write(tmp_path, d)
    line = {"type": "LineString", "coordinates": [[-90.0, 33.0], [-89.5, 33.001], [-89.0, 33.0]]}
    (tmp_path / "routes.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"span": "SA-J"}, "geometry": line}]}))
    found = {w.message.split()[1]: w for w in _warnings(tmp_path, d, "roads", path=path)}
    assert Path(found["SA-J"].file).name == "routes.geojson" and found["SA-J"].field == "geometry"
    assert Path(found["J-SB"].file).name == "topology.yaml" and found["J-SB"].field == "waypoints"


def test_min_route_factor_is_a_setting(tmp_path: Path) -> None:
    d = tiny.base()
    for s in d["topology"]["spans"]:
        s["route_factor"] = 1.1
    d["scenario"]["settings"]["min_route_factor"] = 1.2
    found = _warnings(tmp_path, d, "roads")
    assert len(found) == 5 and all(w.field == "route_factor" and w.value == "1.1" for w in found)
    d["scenario"]["settings"]["min_route_factor"] = 1.1
    assert _warnings(tmp_path / "again", d, "roads") == []


# --------------------------------------------------------------------------- shared-risk groups side by side
def test_spans_of_different_groups_side_by_side_are_named(tmp_path: Path) -> None:
    (w,) = _warnings(tmp_path, _alongside(), "srlg")
    assert w.severity == "warning" and w.field == "srlg" and w.value == "'c1' and 'c3'"
    assert "spans SA-J (shared-risk group c1) and SA-P1 (group c3) run within 1 km" in w.message
    km = float(w.message.split(" for ")[1].split(" km")[0])
    assert km == pytest.approx(great_circle_km(33.0045, -90.0, 33.0045, -89.7), abs=1.5)  # ~28 km
    lon, lat = (float(w.message.split(f"{k} ")[1].split(",")[0].split(":")[0]) for k in ("lon", "lat"))
    assert lon == pytest.approx(-89.85, abs=0.02) and lat == pytest.approx(33.0, abs=0.01)
    assert "put both spans in one shared-risk group, or route them apart" in w.fix


def test_same_group_far_apart_or_short_runs_are_quiet(tmp_path: Path) -> None:
    assert _warnings(tmp_path / "base", tiny.base(), "srlg") == []  # spans meet at nodes, then part
    assert _warnings(tmp_path / "same", _alongside(srlg="c1"), "srlg") == []  # one conduit: known
    assert _warnings(tmp_path / "far", _alongside(offset_deg=0.02), "srlg") == []  # 2.2 km apart


def test_separation_and_length_are_settings(tmp_path: Path) -> None:
    d = _alongside(offset_deg=0.02)
    d["scenario"]["settings"]["srlg_separation_km"] = 3.0
    assert len(_warnings(tmp_path / "wide", d, "srlg")) == 1
    d = _alongside()
    d["scenario"]["settings"]["srlg_parallel_km"] = 40.0
    assert _warnings(tmp_path / "long", d, "srlg") == []


def test_validate_prints_both_warnings_and_exits_0(tmp_path: Path) -> None:
    d = _alongside()
    del d["scenario"]["settings"]["min_route_factor"]
    result = CliRunner(env={"COLUMNS": "300"}).invoke(app, ["validate", str(tiny.write(tmp_path, d))])
    assert result.exit_code == 0, result.output
    out = " ".join(result.output.split())
    assert "SA-J" in out and "SA-P1" in out and "shorter than the roads it follows" in out
    assert "one cut there takes both" in out and "put both spans in one shared-risk group" in out


def test_strtree_finds_every_pair_brute_force_finds() -> None:
    """The candidate filter misses nothing: all pairs checked one by one give the same runs."""
    rng = np.random.default_rng(7)
    lines: dict[str, LineString] = {}
    for i in range(60):  # random walks in a 1-degree box at 60 N (long degrees of longitude shrink there)
        start = rng.uniform([10.0, 60.0], [11.0, 60.5])
        steps = np.cumsum(rng.normal(0, 0.02, (6, 2)) + rng.choice([-1, 1], 2) * 0.01, axis=0)
        lines[f"s{i}"] = LineString(np.vstack([start, start + steps]))
    srlg = {k: f"g{i % 7}" for i, k in enumerate(lines)}
    fast = {(r.a, r.b): r.length_km for r in parallel_runs(lines, srlg, separation_km=1.0, min_length_km=2.0)}
    slow = {}
    for a, b in combinations(lines, 2):
        if srlg[a] == srlg[b]:
            continue
        area = _grown(lines[a].union(lines[b]), 50.0)  # no envelope filter: all of both lines
        run = _pair_run(densify_geodesic(lines[a], 5.0), densify_geodesic(lines[b], 5.0), area, 1.0)
        if run is not None and run[0] > 2.0:
            slow[(a, b)] = run[0]
    assert fast and fast.keys() == slow.keys()
    assert all(fast[k] == pytest.approx(slow[k], rel=1e-3) for k in fast)
