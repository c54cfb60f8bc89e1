"""What-if analysis: fibre cuts (hand-checked), re-plans with minimal moves, derates, sweeps and the CLI."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import planner
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.physics import FIBRE_MS_PER_KM
from planner.plan import Plan
from planner.provenance import source_record
from planner.whatif import (
    GridError,
    compare_plans,
    cut_cases,
    derate,
    evaluate_cut,
    failure_analysis,
    read_grid,
    replan_cut,
    sweep,
    vary,
    write_failures,
)
from tests.tiny import derate_data, single_route, triangle, write

KM_PER_DEGREE_OF_EQUATOR = 6378.137 * math.pi / 180  # WGS84 equatorial radius: 111.3195 km


# --------------------------------------------------------------------------- fixtures
def load(tmp_path: Path, data: dict[str, Any]) -> planner.Scenario:
    return planner.load_scenario(write(tmp_path, data))


def revenue(sc: planner.Scenario, *leases: str) -> float:
    return float(sc.workloads.loc[list(leases), "revenue_usd"].sum())


@pytest.fixture
def tri(tmp_path: Path) -> tuple[planner.Scenario, Plan]:
    sc = load(tmp_path / "tri", triangle())
    plan = greedy(sc)
    assert plan.check(sc) == []
    assert set(plan.placements["lease"]) == {"L1", "L2", "L3", "L4"}
    routed = plan.placements.dropna(subset=["latency_ms"])
    assert set(routed["path"]) == {"SA > P1"}, "the plan sends every lease over the direct span"
    return sc, plan


# --------------------------------------------------------------------------- cases
def test_cut_cases_one_per_conduit_and_per_span_not_already_a_conduit(tri: tuple[planner.Scenario, Plan]) -> None:
    sc, _ = tri
    cases = cut_cases(sc)
    assert [(c.id, c.spans) for c in cases] == [
        ("srlg:east", ("SA-P1",)), ("srlg:west", ("SA-J", "J-P1")),
        ("span:SA-J", ("SA-J",)), ("span:J-P1", ("J-P1",)),  # SA-P1 alone is conduit "east": no second case
    ]


def test_triangle_lengths_and_latencies_are_the_hand_numbers(tri: tuple[planner.Scenario, Plan]) -> None:
    sc, _ = tri
    km = sc.spans["length_km"]
    assert km["SA-P1"] == pytest.approx(9 * KM_PER_DEGREE_OF_EQUATOR, rel=1e-6)  # 1,001.9 km
    assert km["SA-J"] + km["J-P1"] == pytest.approx(27 * KM_PER_DEGREE_OF_EQUATOR, rel=1e-6)  # 3,005.6 km
    assert sc.spans.loc["SA-P1", "latency_ms"] == pytest.approx(4.909, abs=1e-3)
    assert sc.spans.loc[["SA-J", "J-P1"], "latency_ms"].sum() == pytest.approx(14.728, abs=1e-3)


# --------------------------------------------------------------------------- re-routing without moves
def test_cut_forces_a_longer_path_that_breaks_a_10ms_slo(tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    east = next(c for c in cut_cases(sc) if c.id == "srlg:east")
    r = evaluate_cut(sc, plan, east)
    added = 18 * KM_PER_DEGREE_OF_EQUATOR * FIBRE_MS_PER_KM  # the detour is 18 degrees longer: 9.818 ms
    # re-routed by revenue: L1 (no path within 10 ms; carried over the 14.7 ms detour, 100 of 1,000 Gbps),
    # L2 (14.7 ms <= 20 ms, 600 Gbps: 700 of 1,000 used), L3 (600 Gbps > the 300 left): stranded
    assert r["replicas_affected"] == 3 and r["replicas_rerouted"] == 1
    assert r["slo_lost"] == ("L1",)
    assert r["stranded"] == ("L3",)
    assert r["revenue_at_risk_usd"] == pytest.approx(revenue(sc, "L1", "L3"))  # 3 x 10 x 400 h + 1 x 10 x 400 h
    assert r["revenue_at_risk_usd"] == pytest.approx(16_000)
    assert r["worst_added_latency_ms"] == pytest.approx(added, abs=1e-6)
    assert added == pytest.approx(9.818, abs=1e-3)
    # L3's 600 Gbps would push the detour to 1,300 of 1,000 Gbps
    assert r["overloaded_spans"] == ("SA-J", "J-P1")
    assert r["peak_span_utilisation"] == pytest.approx(1.3)
    assert r["survivable"] is False and r["campuses_connected"] is True
    by_lease = {x["lease"]: x for x in r["reroutes"]}
    assert by_lease["L1"]["new_path"] == "SA > J > P1"
    assert by_lease["L1"]["new_latency_ms"] == pytest.approx(14.728, abs=1e-3)
    assert "> SLO 10 ms" in by_lease["L1"]["why"]
    assert by_lease["L2"]["outcome"] == "rerouted" and by_lease["L2"]["new_spans"] == ("SA-J", "J-P1")
    assert by_lease["L3"]["why"] == ("no surviving path has 600 Gbps free in weeks 1-4 "
                                    "(most: 300 Gbps via SA > J > P1, limited by SA-J in week 1)")
    assert by_lease["L3"]["limited_by"] == "SA-J"


def test_cut_off_the_path_nobody_uses_is_survivable(tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    for case in cut_cases(sc)[1:]:
        r = evaluate_cut(sc, plan, case)
        assert (r["replicas_affected"], r["revenue_at_risk_usd"], r["survivable"]) == (0, 0.0, True), case.id


def test_single_route_cut_strands_traffic(tmp_path: Path) -> None:
    sc = load(tmp_path, single_route())
    plan = greedy(sc)
    assert set(plan.placements["lease"]) == {"L1", "L2"}
    cases = cut_cases(sc)
    assert [c.id for c in cases] == ["srlg:north", "srlg:west"]
    for case in cases:
        r = evaluate_cut(sc, plan, case, replan=True, time_limit_s=5)
        assert r["stranded"] == ("L1",) and r["slo_lost"] == ()
        assert r["revenue_at_risk_usd"] == pytest.approx(revenue(sc, "L1"))
        assert r["reroutes"][0]["why"] == "no path from SA to P1 survives the cut"
        assert r["overloaded_spans"] == ()  # nowhere to go, so nothing overloaded
        # the re-plan drops L1 and leaves L2 where it was
        assert r["replan_violations"] == ()
        assert r["dropped"] == ("L1",) and r["moved"] == ()
        assert r["revenue_kept_usd"] == pytest.approx(revenue(sc, "L2"))


# --------------------------------------------------------------------------- re-plans
def test_replan_moves_no_lease_that_still_fits(tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    east = cut_cases(sc)[0]
    sc_cut, new = replan_cut(sc, plan, east, time_limit_s=5, explain=True)
    assert new.check(sc_cut) == []
    assert "SA-P1" not in sc_cut.spans.index and "SA-P1" in sc.spans.index  # the original is untouched
    diff = compare_plans(plan, new)
    # L2 (re-routed within its SLO) and L4 (no traffic) still fit: they stay in their pods
    assert diff.moved == ()
    assert set(diff.kept) == {"L2", "L4"}
    assert diff.dropped == ("L1", "L3")
    before = plan.placements.set_index("lease")["pod"]
    after = new.placements.set_index("lease")["pod"]
    assert all(after[lid] == before[lid] for lid in ("L2", "L4"))
    assert new.placements.set_index("lease").loc["L2", "path"] == "SA > J > P1"
    assert set(new.unplaced.set_index("lease").loc[["L1", "L3"], "family"]) <= {"latency", "dci"}


def test_every_replan_passes_check_and_moves_only_leases_that_no_longer_fit(tmp_path: Path) -> None:
    sc = load(tmp_path, triangle())
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    report = failure_analysis(sc, plan, replan=True, time_limit_s=5, serial=True)
    assert report.failed == []
    cases = report.cases.set_index("case")
    assert cases["replan_violations"].map(len).eq(0).all()
    assert cases["replan_status"].isin(["OPTIMAL", "FEASIBLE"]).all()
    for case, row in cases.iterrows():
        lost = set(row["stranded"]) | set(row["slo_lost"])
        assert set(row["moved"]) | set(row["dropped"]) <= lost, case
    assert cases.loc["srlg:east", "dropped"] == ("L1", "L3")
    assert cases.loc["srlg:east", "revenue_kept_usd"] == pytest.approx(revenue(sc, "L2", "L4"))
    assert cases.index[0] == "srlg:east", "ranked by revenue at risk"


# --------------------------------------------------------------------------- derates
def test_derate_curtails_the_cheapest_leases(tmp_path: Path) -> None:
    sc = load(tmp_path, derate_data())
    plan = optimise(sc, time_limit_s=5)
    assert plan.placements["lease"].nunique() == 5
    r = derate(sc, plan, "SA", 50, (2, 3), time_limit_s=5)  # SA: 0.1 MW in weeks 2-3, room for 2 of its 4 leases
    assert r.scenario.site_power_mw.loc["SA"].tolist() == pytest.approx([0.2, 0.1, 0.1, 0.2])
    assert sc.site_power_mw.loc["SA"].tolist() == pytest.approx([0.2] * 4)  # the original is untouched
    assert r.curtailed["lease"].tolist() == ["L3", "L4"]  # prices 2 and 1: the least revenue lost
    assert r.revenue_lost_usd == pytest.approx(revenue(sc, "L3", "L4"))
    assert r.moved == ()
    assert r.violations == [] and r.plan.check(r.scenario) == []
    assert r.revenue_after_usd == pytest.approx(r.revenue_before_usd - revenue(sc, "L3", "L4"))
    assert set(r.plan.placements["lease"]) == {"L1", "L2", "L5"}
    assert (r.curtailed["family"] == "power").all()


def test_derate_input_errors(tmp_path: Path) -> None:
    sc = load(tmp_path, derate_data())
    plan = greedy(sc)
    with pytest.raises(ValueError, match="unknown site 'XX'"):
        derate(sc, plan, "XX", 10, (1, 2))
    with pytest.raises(ValueError, match=r"percent 120 is outside 0\.\.100"):
        derate(sc, plan, "SA", 120, (1, 2))
    with pytest.raises(ValueError, match="weeks 3-9 are not within 1-4"):
        derate(sc, plan, "SA", 10, (3, 9))


# --------------------------------------------------------------------------- the reference scenario
def test_reference_single_conduit_cuts_keep_campuses_and_inter_campus_traffic() -> None:
    sc = planner.load_scenario()
    plan = greedy(sc, explain=False)
    report = failure_analysis(sc, plan, [c for c in cut_cases(sc) if c.kind == "srlg"], serial=True)
    cases = report.cases.set_index("case")
    assert report.failed == []
    assert len(cases) == sc.spans["srlg"].nunique()
    assert cases["campuses_connected"].all(), "a single conduit cut must not split the campuses"
    assert cases["inter_campus_survivable"].all(), cases.loc[~cases["inter_campus_survivable"].astype(bool)]
    assert cases["inter_campus_replicas"].sum() > 0, "the plan carries traffic between the campuses"
    # both inter-campus routes carry traffic that a cut on the other one re-routes
    inter = report.routes[report.routes["inter_campus"]]
    assert (inter["outcome"].eq("rerouted") | inter["limited_in_tail"]).all()
    assert inter["old_path"].str.contains("MLU|STL").any() or inter["new_path"].str.contains("MLU|STL").any()
    assert inter["old_path"].str.contains("JAN|NSH").any() or inter["new_path"].str.contains("JAN|NSH").any()
    # the GIS layer of cut spans and affected routes
    assert cases["replicas_affected"].sum() == len(report.routes)


# --------------------------------------------------------------------------- variants and sweeps
def test_variants(tmp_path: Path) -> None:
    sc = load(tmp_path, triangle())
    v = vary(sc, demand_growth=1.5, price_factor=2.0, slo_factor=0.5, span_capacity_factor=3.0, extra_pods=2)
    new = [lid for lid in v.workloads.index if lid not in sc.workloads.index]
    assert new == ["L1+g1", "L3+g1"]  # half of the four leases, evenly spread by id
    assert v.workloads.loc["L1", "revenue_usd"] == pytest.approx(2 * sc.workloads.loc["L1", "revenue_usd"])
    assert v.workloads.loc["L1", "latency_slo_ms"] == 5.0
    assert v.spans["capacity_gbps"].tolist() == [6000.0, 3000.0, 3000.0]
    assert v.pods.index[-2:].tolist() == ["A1-x01", "A1-x02"] or v.pods.index[-2:].tolist() == ["A2-x01", "A2-x02"]
    assert v.free_gpus().loc[v.pods.index[-1]].tolist() == [100] * 4
    assert sc.workloads.loc["L1", "latency_slo_ms"] == 10.0 and len(sc.pods) == 2  # untouched
    assert len(vary(sc, demand_growth=2.0).workloads) == 8
    with pytest.raises(ValueError, match="unknown pod group 'ZZ'"):
        vary(sc, extra_pods=1, extra_pods_group="ZZ")


def test_grid_errors_are_gathered() -> None:
    with pytest.raises(GridError) as exc:
        read_grid({"parameters": {"demand_growth": [0.5, 1.0], "colour": [1], "extra_pods": [1.5]},
                   "seed": -1, "tiem_limit_s": 3})
    fields = sorted(p.field for p in exc.value.problems)
    assert fields == ["parameters.colour", "parameters.demand_growth", "parameters.extra_pods", "seed",
                      "tiem_limit_s"]


def test_sweep_table_and_chart(tmp_path: Path) -> None:
    sc = load(tmp_path / "sc", triangle())
    grid = {"parameters": {"price_factor": [1.0, 2.0], "span_capacity_factor": [1.0, 2.0]}, "time_limit_s": 5}
    table = sweep(sc, grid, serial=True)
    assert table[["price_factor", "span_capacity_factor"]].values.tolist() == [[1, 1], [1, 2], [2, 1], [2, 2]]
    assert (table["status"] == "OPTIMAL").all()
    assert table["point"].tolist() == [1, 2, 3, 4]
    # prices x2 keep the same leases and double their revenue
    rev = table.set_index(["price_factor", "span_capacity_factor"])["revenue_usd"]
    assert rev[(2.0, 1.0)] == pytest.approx(2 * rev[(1.0, 1.0)])
    assert table["gpus_leased_peak"].ge(30).all()
    assert table["gpu_utilisation_mean"].between(0, 1).all()
    from planner.whatif import sweep_chart

    files = sweep_chart(table, tmp_path / "out" / "sweep")
    assert [f.name for f in files] == ["sweep.png", "sweep.svg"] and all(f.stat().st_size > 1000 for f in files)


# --------------------------------------------------------------------------- files and CLI
def test_failure_files_and_gis(tmp_path: Path, tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    report = failure_analysis(sc, plan, serial=True)
    paths = write_failures(sc, report, tmp_path / "out")
    csv = pd.read_csv(paths["cases"])
    assert csv["case"].iloc[0] == "srlg:east" and csv.loc[0, "stranded"] == "L3"
    assert csv.loc[1, "spans"] == "SA-J;J-P1"
    doc = json.loads(paths["geojson"].read_text())
    assert doc["type"] == "FeatureCollection"
    layers = pd.Series([f["properties"]["layer"] for f in doc["features"]]).value_counts().to_dict()
    assert layers == {"cut_spans": 5, "affected_routes": 3, "rerouted_routes": 2}
    old = next(f for f in doc["features"] if f["properties"]["id"] == "srlg:east|L2#0"
               and f["properties"]["layer"] == "affected_routes")
    assert old["geometry"]["coordinates"] == [[0.0, 0.0], [9.0, 0.0]]
    new = next(f for f in doc["features"] if f["properties"]["id"] == "srlg:east|L2#0"
               and f["properties"]["layer"] == "rerouted_routes")
    assert new["geometry"]["coordinates"] == [[0.0, 0.0], [-9.0, 0.0], [9.0, 0.0]]
    assert paths["gpkg"].stat().st_size > 0
    assert "report" not in paths  # no plan given: the run's report is left alone


def test_failures_section_in_the_report(tmp_path: Path, tri: tuple[planner.Scenario, Plan]) -> None:
    sc, plan = tri
    report = failure_analysis(sc, plan, serial=True)
    paths = write_failures(sc, report, tmp_path / "out", plan=plan)
    page = paths["report"].read_text()
    assert 'id="failures"' in page and 'id="failures-table"' in page
    worst = report.cases.sort_values("revenue_at_risk_usd", ascending=False)["case"].iloc[0]
    assert page.index(worst) < page.index("</table>", page.index('id="failures-table"'))


def test_cli_failures_derate_sweep(tmp_path: Path, cli: typer.Typer, tri: tuple[planner.Scenario, Plan]) -> None:
    sc = tri[0]
    scenario = str(sc.path)
    run = tmp_path / "run"
    run.mkdir()
    plan = optimise(sc, time_limit_s=5)
    plan.to_json(run / "plan.json", source=source_record(sc.path, run))  # as `planner plan` writes it
    runner = CliRunner()
    res = runner.invoke(cli, ["failures", scenario, "--plan", str(run), "--serial", "--replan",
                              "--replan-time-limit", "5"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "srlg:east" in res.output and "Campuses stay connected in every case." in res.output
    assert (run / "failures.csv").exists() and (run / "failures.geojson").exists()
    assert pd.read_csv(run / "failures.csv")["replan_violations"].isna().all()
    # a results folder as SCENARIO: its plan, and the scenario its plan.json records
    res = runner.invoke(cli, ["failures", str(run), "--serial", "--out", str(tmp_path / "f2")])
    assert res.exit_code == 0, res.output
    assert pd.read_csv(tmp_path / "f2" / "failures.csv")["case"].tolist() == pd.read_csv(run / "failures.csv")[
        "case"].tolist()

    res = runner.invoke(cli, ["derate", scenario, "--site", "SA", "--percent", "50", "--weeks", "2-3",
                              "--plan", str(run), "--time-limit", "5", "--out", str(tmp_path / "derate")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "derate" / "plan.json").exists()

    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  price_factor: [1.0, 1.5]\ntime_limit_s: 5\n")
    res = runner.invoke(cli, ["sweep", scenario, "--grid", str(grid), "--serial", "--out", str(tmp_path / "sw")])
    assert res.exit_code == 0, res.output
    assert {p.name for p in (tmp_path / "sw").iterdir()} == {"sweep.csv", "sweep.png", "sweep.svg"}


def test_cli_bad_input_exits_2(tmp_path: Path, cli: typer.Typer, tri: tuple[planner.Scenario, Plan]) -> None:
    sc = tri[0]
    scenario = str(sc.path)
    runner = CliRunner()
    optimise(sc, time_limit_s=5).to_json(tmp_path / "mine.json")
    wide = {"COLUMNS": "200"}
    res = runner.invoke(cli, ["failures", scenario, "--plan", str(tmp_path / "nowhere.json"), "--serial"], env=wide)
    assert res.exit_code == 2 and "nowhere.json" in res.output and "no plan here" in res.output
    other = load(tmp_path / "other", single_route())
    other_plan = tmp_path / "other.json"
    optimise(other, time_limit_s=5).to_json(other_plan)
    res = runner.invoke(cli, ["failures", scenario, "--plan", str(other_plan), "--serial"], env=wide)
    assert res.exit_code == 2 and "does not fit scenario" in res.output
    res = runner.invoke(cli, ["failures", scenario, "--serial", "--scheduler", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2  # one or the other
    res = runner.invoke(cli, ["failures", scenario, "--plan", str(tmp_path / "mine.json"),
                              "--scheduler", "tcp://127.0.0.1:1"], env=wide)
    assert res.exit_code == 2
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:1: connection refused" in res.output
    res = runner.invoke(cli, ["derate", scenario, "--site", "SA", "--percent", "10", "--weeks", "x"])
    assert res.exit_code == 2
    res = runner.invoke(cli, ["derate", scenario, "--site", "SA", "--percent", "10", "--weeks", "3-9"])
    assert res.exit_code == 2 and "weeks 3-9 are not within 1-4" in res.output
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  colour: [1]\n")
    res = runner.invoke(cli, ["sweep", scenario, "--grid", str(grid), "--serial"])
    assert res.exit_code == 2 and "unknown parameter" in res.output
    res = runner.invoke(cli, ["failures", str(tmp_path / "missing.yaml"), "--serial"])
    assert res.exit_code == 2
