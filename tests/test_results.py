"""A results folder is self-describing: plan.json records its scenario and input hashes, and is read back by them."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import planner
from planner.errors import ScenarioError
from planner.generate import generate
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan
from planner.provenance import sha256_file
from planner.results import read_results
from planner.run import check_out_dir, write_run
from tests.tiny import single_route, triangle, write

WIDE = {"COLUMNS": "200"}


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """The triangle scenario planned (greedy) into tmp/run, from tmp/tri/scenario.yaml."""
    sc = planner.load_scenario(write(tmp_path / "tri", triangle()))
    return write_run(sc, greedy(sc), tmp_path / "run")


def test_plan_json_records_the_scenario_and_a_hash_of_every_input(run: Path) -> None:
    source = json.loads((run / "plan.json").read_text())["source"]
    assert source["scenario"] == "../tri/scenario.yaml"  # relative to the results folder
    assert source["scenario_as_written"].endswith("tri/scenario.yaml")
    roles = [r["role"] for r in source["inputs"]]
    assert roles == ["scenario", "skus", "sites", "pods", "topology", "reservations", "leases[0]"]
    for r in source["inputs"]:
        assert r["sha256"] == sha256_file(run / r["file"]), r["role"]


def test_plan_read_round_trips_the_folder(run: Path) -> None:
    sc = planner.load_scenario(run.parent / "tri" / "scenario.yaml")
    plan = Plan.read(run)
    pd.testing.assert_frame_equal(plan.placements, greedy(sc).placements)
    assert plan.method == "greedy" and plan.check(sc) == []
    r = read_results(run / "plan.json")
    assert r.scenario.name == "tiny" and r.scenario.path == run / "../tri/scenario.yaml"


def test_a_changed_input_file_is_refused_naming_it(run: Path, cli: typer.Typer) -> None:
    leases = run.parent / "tri" / "leases.csv"
    leases.write_text(leases.read_text() + "\n")
    with pytest.raises(ScenarioError) as err:
        read_results(run)
    [p] = err.value.problems
    assert p.file.endswith("tri/leases.csv") and "leases[0] file changed since the plan" in p.message
    assert "re-run `planner plan`" in p.fix
    for args in (["failures", str(run), "--serial"], ["failures", "--plan", str(run), "--serial"],
                 ["derate", "--plan", str(run), "--site", "SA", "--percent", "10", "--weeks", "1-2"]):
        res = CliRunner().invoke(cli, args, env=WIDE)
        assert res.exit_code == 2, (args, res.output)
        assert "leases[0] file changed since the plan" in res.output and "Traceback" not in res.output


def test_another_scenario_given_for_a_recorded_plan_is_refused(run: Path, tmp_path: Path) -> None:
    other = write(tmp_path / "other", single_route())  # also named "tiny": only the hashes tell them apart
    with pytest.raises(ScenarioError, match="topology file changed since the plan"):
        read_results(run, other)


def test_a_moved_folder_finds_its_scenario_as_written(tmp_path: Path) -> None:
    sc = planner.load_scenario((write(tmp_path / "tri", triangle())).resolve())  # written as an absolute path
    out = write_run(sc, greedy(sc), tmp_path / "a" / "run")
    moved = shutil.move(out, tmp_path / "run")  # "../tri/scenario.yaml" from here does not exist
    assert read_results(moved).scenario.name == "tiny"
    shutil.move(tmp_path / "tri", tmp_path / "gone")
    with pytest.raises(ScenarioError, match="the scenario this plan was made from is not found"):
        read_results(moved)


def test_failures_on_a_generated_tier_analyse_its_own_network(tmp_path: Path, cli: typer.Typer) -> None:
    sc = planner.load_scenario(generate("small", 3, tmp_path / "gen"))
    out = write_run(sc, greedy(sc, explain=False), tmp_path / "run")
    res = CliRunner().invoke(cli, ["failures", str(out), "--serial"], env=WIDE)
    assert res.exit_code == 0, res.output
    cases = pd.read_csv(out / "failures.csv")
    assert set(cases["spans"].str.split(";").explode()) == set(sc.spans.index)


def test_failures_folders_are_written_whole(run: Path, tmp_path: Path, cli: typer.Typer,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = str(run.parent / "tri" / "scenario.yaml")
    out = tmp_path / "cuts"
    args = ["failures", scenario, "--serial", "--time-limit", "5", "--out", str(out)]
    res = CliRunner().invoke(cli, args, env=WIDE)
    assert res.exit_code == 0, res.output
    assert {"failures.csv", "failure_routes.csv", "report.html", "plan.json"} <= {p.name for p in out.iterdir()}
    assert read_results(out).plan.check(read_results(out).scenario) == []  # self-describing, like a results folder
    res = CliRunner().invoke(cli, args, env=WIDE)
    assert res.exit_code == 2 and "already exists" in res.output
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0
    # into the plan's own results folder: the files are replaced together, or not at all
    before = (run / "report.html").read_bytes()

    def broken(*_: object, **__: object) -> None:
        msg = "disk full"
        raise OSError(28, msg)

    monkeypatch.setattr("planner.whatif.failures.write_gpkg", broken)
    res = CliRunner().invoke(cli, ["failures", str(run), "--serial"], env=WIDE)
    assert res.exit_code == 2 and "disk full" in res.output
    assert not (run / "failures.csv").exists() and (run / "report.html").read_bytes() == before
    assert not [p for p in run.iterdir() if p.name.startswith(".")]


def test_force_still_replaces_a_results_folder_the_failures_added_to(run: Path, tmp_path: Path,
                                                                     cli: typer.Typer) -> None:
    res = CliRunner().invoke(cli, ["failures", str(run), "--serial"], env=WIDE)
    assert res.exit_code == 0, res.output
    assert "failures.csv" in (run / "README.txt").read_text()  # listed as the planner's own
    check_out_dir(run, force=True)  # `planner plan --force` may replace it
    out = tmp_path / "cuts"
    args = ["failures", str(run.parent / "tri" / "scenario.yaml"), "--serial", "--time-limit", "5", "--out", str(out)]
    assert CliRunner().invoke(cli, args, env=WIDE).exit_code == 0
    (out / "notes.txt").write_text("mine")
    res = CliRunner().invoke(cli, [*args, "--force"], env=WIDE)
    assert res.exit_code == 2 and "notes.txt" in res.output and (out / "notes.txt").exists()


def test_a_plan_without_a_finite_bound_round_trips(run: Path) -> None:
    from dataclasses import replace

    plan = Plan.read(run)
    for bound in (float("inf"), float("nan")):
        doc = json.loads(replace(plan, bound_usd=bound, gap=float("nan")).to_json())
        assert doc["bound_usd"] is None and doc["gap"] is None
    (run / "plan.json").write_text(replace(plan, bound_usd=float("inf")).to_json(
        source=json.loads((run / "plan.json").read_text())["source"]))
    back = Plan.read(run)
    assert math.isnan(back.bound_usd) and math.isnan(back.gap)
