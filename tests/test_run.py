"""The results folder: every file written, whole or not at all, never overwritten by accident."""

from __future__ import annotations

import copy
import csv
import json
import re
import sqlite3
import xml.etree.ElementTree as ET
from contextlib import closing
from pathlib import Path

import networkx as nx
import pandas as pd
import pytest

import planner
from planner import gis, report
from planner.optimise.optimiser import optimise
from planner.plan import PLAN_SCHEMA_VERSION, Plan
from planner.run import RESULT_FILES, STAGES, RunExistsError, plan_scenario, write_run
from planner.scenario import Scenario
from tests import tiny


def _data() -> dict:
    """Tiny scenario: leases with routes (one split over two pods, one with two replicas), one left out."""
    d = tiny.base()
    d["leases"] = [
        tiny.lease("L1", 50, price=4.0, egress_gbps=100, region="P2", latency_slo_ms=50, allowed_sites="SA"),
        tiny.lease("L2", 150, price=3.0, span="site", egress_gbps=50, region="P1", latency_slo_ms=50,
                   allowed_sites="SA", start_week=2),
        tiny.lease("L3", 80, price=2.5, replicas=2, egress_gbps=200, region="P1", latency_slo_ms=50,
                   allowed_sites="SB"),
        tiny.lease("L4", 150, price=1.0, allowed_sites="SB"),  # no room left at SB: left out
    ]
    return d


@pytest.fixture(scope="module")
def sc(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return planner.load_scenario(tiny.write(tmp_path_factory.mktemp("tiny"), _data()))


@pytest.fixture(scope="module")
def plan(sc: Scenario) -> Plan:
    p = optimise(sc, time_limit_s=10)
    assert p.status == "OPTIMAL" and p.check(sc) == []
    assert len(p.placements) and len(p.unplaced)
    return p


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory, sc: Scenario, plan: Plan) -> Path:
    return write_run(sc, plan, tmp_path_factory.mktemp("runs") / "tiny")


def _siblings(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir())


# --------------------------------------------------------------------------- a complete folder
def test_folder_has_every_file(folder: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(RESULT_FILES)
    for name in RESULT_FILES:
        assert (folder / name).stat().st_size > 0, name
    assert _siblings(folder) == ["tiny"]  # no temporary folder left beside it


def test_plan_json_round_trips_and_checks(folder: Path, sc: Scenario, plan: Plan) -> None:
    doc = json.loads((folder / "plan.json").read_text())
    assert doc["schema_version"] == PLAN_SCHEMA_VERSION
    assert doc["interrupted"] is False and doc["status"] == "OPTIMAL"
    assert "stage_s" not in doc["meta"]  # only plan_scenario adds stage times
    back = Plan.from_json(folder / "plan.json", sc)
    assert back.check(sc) == []
    assert back.objective_usd == pytest.approx(plan.objective_usd)
    pd.testing.assert_frame_equal(back.placements, plan.placements, check_dtype=False)
    assert list(back.unplaced["lease"]) == ["L4"]


def test_tables_as_csv(folder: Path, plan: Plan) -> None:
    for name in ("placements", "unplaced", "site_use", "pod_use", "link_use"):
        table = pd.read_csv(folder / f"{name}.csv", keep_default_na=False)
        expected = getattr(plan, name)
        assert list(table.columns) == list(expected.columns), name
        assert len(table) == len(expected), name
    with (folder / "placements.csv").open() as f:
        rows = list(csv.DictReader(f))
    routed = next(r for r in rows if r["lease"] == "L1")
    assert routed["spans"] == ";".join(plan.placements.set_index("lease").loc["L1", "spans"])  # tuples joined
    assert "(" not in routed["spans"] and "'" not in routed["spans"]
    assert pd.read_csv(folder / "unplaced.csv")["family"].tolist() == ["gpus"]


def test_gis_and_graph_files(folder: Path, sc: Scenario) -> None:
    gj = json.loads((folder / "topology.geojson").read_text())
    assert gj["type"] == "FeatureCollection"
    layers = {f["properties"]["layer"] for f in gj["features"]}
    assert {"sites", "pops", "spans", "routes"} <= layers
    import pyogrio

    gpkg_layers = {name for name, _ in pyogrio.list_layers(folder / "topology.gpkg")}
    assert {"sites", "pops", "spans", "routes"} <= gpkg_layers
    assert ET.parse(folder / "topology.kml").getroot().tag.endswith("kml")
    g = nx.read_graphml(folder / "network.graphml")
    assert set(sc.sites.index) <= set(g.nodes)


def test_report_and_log(folder: Path) -> None:
    page = (folder / "report.html").read_text()
    assert page.startswith("<!DOCTYPE html>") and "tiny" in page
    assert "CP-SAT" in (folder / "solver.log").read_text()
    readme = (folder / "README.txt").read_text()
    assert all(name in readme for name in RESULT_FILES)


def test_interrupted_plan_is_marked(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    cut = Plan(**{**plan.__dict__, "interrupted": True})
    out = write_run(sc, cut, tmp_path / "cut")
    doc = json.loads((out / "plan.json").read_text())
    assert doc["interrupted"] is True
    assert Plan.from_json(out / "plan.json", sc).interrupted


def test_greedy_plan_without_bound(tmp_path: Path, sc: Scenario) -> None:
    from planner.optimise.heuristics.greedy import greedy

    out = write_run(sc, greedy(sc), tmp_path / "greedy")
    doc = json.loads((out / "plan.json").read_text())
    assert doc["method"] == "greedy" and doc["bound_usd"] is None and doc["gap"] is None
    assert "greedy" in (out / "solver.log").read_text()


# --------------------------------------------------------------------------- whole or not at all
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("crash", [RuntimeError("disk full"), KeyboardInterrupt()], ids=["error", "ctrl-c"])
def test_crash_mid_write_leaves_nothing(tmp_path: Path, sc: Scenario, plan: Plan, monkeypatch: pytest.MonkeyPatch,
                                        crash: BaseException, workers: int) -> None:
    reached = tmp_path / "reached"  # a file, so that a forked writer's visit is seen here too
    real_kml = gis.write_kml

    def kml_then_crash(*args: object, **kw: object) -> None:
        reached.write_text(str(real_kml(*args, **kw)))  # type: ignore[arg-type]
        raise crash

    monkeypatch.setattr(gis, "write_kml", kml_then_crash)
    target = tmp_path / "out" / "run"
    with pytest.raises(type(crash)):
        write_run(sc, plan, target, workers=workers)
    assert reached.exists(), "the writer was not reached"
    assert not target.exists()
    assert _siblings(target) == []  # the temporary folder is gone too


def test_two_writers_write_the_files_one_does(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    # two processes first, on a fresh copy: what the writers might leave on the plan is not there yet for plan.json
    two = write_run(sc, copy.deepcopy(plan), tmp_path / "two", workers=2)
    one = write_run(sc, copy.deepcopy(plan), tmp_path / "one")
    assert plan.method != "greedy"  # so the report runs the greedy baseline (in its process) to compare against
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())
    stamp = re.compile(rb"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(:\d\d(\.\d+)?)?( UTC|Z|\+00:00)?")  # when each was written

    def content(f: Path) -> bytes:  # a GeoPackage is read as its SQL dump (its pages record when they were written)
        if f.suffix != ".gpkg":
            return f.read_bytes()
        with closing(sqlite3.connect(f)) as con:
            return "\n".join(con.iterdump()).encode()

    for f in one.iterdir():
        assert stamp.sub(b"T", content(f)) == stamp.sub(b"T", content(two / f.name)), f.name


def test_crash_with_force_keeps_the_previous_folder(tmp_path: Path, sc: Scenario, plan: Plan,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_run(sc, plan, tmp_path / "run")
    before = (target / "plan.json").read_text()

    def boom(*args: object, **kw: object) -> None:
        raise OSError("no space left on device")

    monkeypatch.setattr(report, "write_report", boom)
    with pytest.raises(OSError, match="no space"):
        write_run(sc, plan, target, force=True)
    assert (target / "plan.json").read_text() == before
    assert sorted(p.name for p in target.iterdir()) == sorted(RESULT_FILES)
    assert _siblings(target) == ["run"]


def test_rename_failure_puts_the_previous_folder_back(tmp_path: Path, sc: Scenario, plan: Plan,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    target = write_run(sc, plan, tmp_path / "run")
    real_rename = Path.rename

    def rename(self: Path, dest: Path) -> Path:
        if self.name.startswith(".run.tmp-"):
            raise KeyboardInterrupt
        return real_rename(self, dest)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(KeyboardInterrupt):
        write_run(sc, plan, target, force=True)
    assert (target / "plan.json").is_file()
    assert _siblings(target) == ["run"]


# --------------------------------------------------------------------------- overwriting
def test_refuses_an_existing_folder_without_force(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    target = write_run(sc, plan, tmp_path / "run")
    stamp = (target / "plan.json").stat().st_mtime_ns
    with pytest.raises(RunExistsError, match=r"already exists; pass --force to replace it, or --out") as info:
        write_run(sc, plan, target)
    assert info.value.path == target
    assert (target / "plan.json").stat().st_mtime_ns == stamp


def test_force_replaces_a_results_folder(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    target = write_run(sc, plan, tmp_path / "run")
    (target / "plan.json").write_text("{}")
    write_run(sc, plan, target, force=True)
    assert sorted(p.name for p in target.iterdir()) == sorted(RESULT_FILES)
    assert (target / "plan.json").read_text() != "{}"
    assert _siblings(target) == ["run"]


def test_force_keeps_a_file_a_person_left_in_a_results_folder(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    target = write_run(sc, plan, tmp_path / "run")
    (target / "notes.txt").write_text("mine")
    with pytest.raises(RunExistsError, match=r"holds files the planner did not write \(notes\.txt\), so --force "
                                             r"does not replace it; move them out"):
        write_run(sc, plan, target, force=True)
    assert (target / "notes.txt").read_text() == "mine"
    assert _siblings(target) == ["run"]


def test_force_never_replaces_another_folder(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    target = tmp_path / "thesis"
    target.mkdir()
    (target / "chapter1.tex").write_text("precious")
    with pytest.raises(RunExistsError, match="not a planner results folder"):
        write_run(sc, plan, target, force=True)
    assert (target / "chapter1.tex").read_text() == "precious"
    (tmp_path / "empty").mkdir()
    write_run(sc, plan, tmp_path / "empty", force=True)  # an empty folder is fine
    with pytest.raises(RunExistsError, match="is not a folder"):
        write_run(sc, plan, target / "chapter1.tex", force=True)


# --------------------------------------------------------------------------- the whole run
def test_plan_scenario_reports_every_stage(tmp_path: Path, sc: Scenario) -> None:
    events: list[tuple[str, bool]] = []
    run = plan_scenario(sc.path, out_dir=tmp_path / "run", time_limit_s=10,
                        on_stage=lambda r, name, done: events.append((name, done)))
    stages = list(STAGES)
    assert events == [(s, done) for s in stages for done in (False, True)]
    assert list(run.stage_s) == stages
    assert run.plan is not None and run.plan.check(sc) == []
    doc = json.loads((tmp_path / "run" / "plan.json").read_text())
    assert set(doc["meta"]["stage_s"]) == set(stages) - {"solve", "write"}


def test_plan_scenario_refuses_before_solving(tmp_path: Path, sc: Scenario) -> None:
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("")
    events: list[str] = []
    with pytest.raises(RunExistsError):
        plan_scenario(sc.path, out_dir=tmp_path / "run", on_stage=lambda r, name, done: events.append(name))
    assert events == ["load"]


def test_default_out_dir_is_output_scenario_name(tmp_path: Path, sc: Scenario, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    run = plan_scenario(sc, method="greedy")
    assert run.out_dir == Path("output") / "tiny"
    assert (tmp_path / "output" / "tiny" / "plan.json").is_file()
