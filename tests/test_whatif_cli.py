"""What-if commands on the command line: sweep verdicts, hostile grids, a refused scheduler, whole folders."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import planner
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.run import RESULT_FILES, write_run
from planner.whatif import GridError, derate, read_grid, write_derate
from planner.whatif.derate_files import DERATE_FILES
from planner.whatif.sweep import MAX_POINTS
from tests.tiny import derate_data, lease, triangle, write

BAD = Path(__file__).parent / "data" / "bad"
WIDE = {"COLUMNS": "200"}
PLANNER = Path(sys.executable).with_name("planner")


@pytest.fixture
def scenario(tmp_path: Path) -> Path:
    """The triangle, with an internal job sending 150 Gbps to P1: a tenth of the fibre leaves it no room."""
    d = triangle()
    d["leases"].append(lease("I1", 10, price=0, priority="internal", egress_gbps=150, region="P1",
                             allowed_sites="SA"))
    return write(tmp_path / "tri", d)


# --------------------------------------------------------------------------- sweep verdicts
def test_sweep_exits_1_naming_each_point_without_a_plan(tmp_path: Path, cli: typer.Typer, scenario: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  span_capacity_factor: [1.0, 0.05]\ntime_limit_s: 5\n")
    res = CliRunner().invoke(cli, ["sweep", str(scenario), "--grid", str(grid), "--serial", "--out",
                                   str(tmp_path / "sw")], env=WIDE)
    assert res.exit_code == 1, res.output
    assert "1 of 2 sweep points have no plan" in res.output
    assert "point 2 (span_capacity_factor=0.05): INFEASIBLE: I1" in res.output
    assert "fix: internal workloads do not fit this variant" in res.output
    table = pd.read_csv(tmp_path / "sw" / "sweep.csv")  # the table is still written, every point in it
    assert table["status"].tolist() == ["OPTIMAL", "INFEASIBLE"]


def test_sweep_folder_is_replaced_only_with_force(tmp_path: Path, cli: typer.Typer, scenario: Path) -> None:
    grid = tmp_path / "grid.yaml"
    grid.write_text("parameters:\n  price_factor: [1.0]\ntime_limit_s: 5\n")
    out = tmp_path / "sw"
    args = ["sweep", str(scenario), "--grid", str(grid), "--serial", "--out", str(out)]
    assert CliRunner().invoke(cli, args).exit_code == 0
    res = CliRunner().invoke(cli, args, env=WIDE)
    assert res.exit_code == 2 and "already exists" in res.output and "--force" in res.output
    assert CliRunner().invoke(cli, [*args, "--force"]).exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.yaml", "sw", "tri"]  # no temporary folder left
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = CliRunner().invoke(cli, [*args[:-1], str(mine), "--force"], env=WIDE)
    assert res.exit_code == 2 and (mine / "notes.txt").read_text() == "keep me"


# --------------------------------------------------------------------------- hostile grids
@pytest.mark.parametrize(("name", "where", "fix"), [
    ("grid_not_utf8.yaml", "line 3, byte", "save it as UTF-8 plain text"),
    ("grid_infinite_time_limit.yaml", "line 4", "give seconds above 0, up to 3,600"),
    ("grid_billion_points.yaml", "line 2", "sweep fewer values"),
    ("grid_extra_pods_1e9.yaml", "line 4", "give whole numbers from 0 to 1,000"),
])
def test_a_hostile_grid_exits_2_naming_file_line_and_fix(name: str, where: str, fix: str, cli: typer.Typer,
                                                         scenario: Path) -> None:
    t = time.perf_counter()
    res = CliRunner().invoke(cli, ["sweep", str(scenario), "--grid", str(BAD / name), "--serial"],
                             env={"COLUMNS": "400"})
    assert time.perf_counter() - t < 5
    assert res.exit_code == 2, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    assert name in res.output and where in res.output and fix in res.output


def test_grid_limits() -> None:
    with pytest.raises(GridError) as err:
        read_grid({"parameters": {"extra_pods": [1e9], "price_factor": [float("inf")],
                                  "time_limit_s": [1e9]}, "seed": 2**40})
    assert [p.field for p in err.value.problems] == ["parameters.extra_pods", "parameters.price_factor",
                                                     "parameters.time_limit_s", "seed"]
    too_many = {"parameters": {"price_factor": [1 + i / 1000 for i in range(40)],
                               "slo_factor": [1 + i / 1000 for i in range(30)]}}
    with pytest.raises(GridError, match=f"1,200 points .*more than {MAX_POINTS:,}"):
        read_grid(too_many)
    assert read_grid({"parameters": {"extra_pods": [1000], "demand_growth": [10]}}).n_points == 1


# --------------------------------------------------------------------------- a refused scheduler
def test_a_refused_scheduler_fails_within_5_seconds(scenario: Path, cli: typer.Typer) -> None:
    for args in (["failures", str(scenario)], ["failures", str(scenario), "--replan"],
                 ["sweep", str(scenario), "--grid", str(BAD / "grid_extra_pods_1e9.yaml")]):
        t = time.perf_counter()  # the command itself, in this process: before any solve or grid
        res = CliRunner().invoke(cli, [*args, "--scheduler", "tcp://127.0.0.1:1"], env=WIDE)
        took = time.perf_counter() - t
        assert res.exit_code == 2, res.output
        assert took < 5, f"{args[0]}: {took:.1f} s"
        assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:1: connection refused" in res.output
    if not PLANNER.exists():
        pytest.fail(f"the planner console script is not installed next to {sys.executable}")
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin", **_pythonpath()}
    proc = subprocess.run([str(PLANNER), "failures", str(scenario), "--scheduler", "tcp://127.0.0.1:1"],
                          check=False, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 2, proc.stderr
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:1: connection refused" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout


def _pythonpath() -> dict[str, str]:
    return {"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {}


# --------------------------------------------------------------------------- derate's results folder
def test_derate_writes_a_results_folder_with_the_comparison(tmp_path: Path, cli: typer.Typer) -> None:
    sc_path = write(tmp_path / "d", derate_data())
    sc = planner.load_scenario(sc_path)
    run = write_run(sc, optimise(sc, time_limit_s=5), tmp_path / "run")
    out = tmp_path / "derate"
    args = ["derate", "--plan", str(run), "--site", "SA", "--percent", "50", "--weeks", "2-3", "--time-limit", "5",
            "--out", str(out)]
    res = CliRunner().invoke(cli, args, env=WIDE)  # no SCENARIO: the one the results folder records
    assert res.exit_code == 0, res.output
    assert set(RESULT_FILES) | set(DERATE_FILES) == {p.name for p in out.iterdir()}
    assert pd.read_csv(out / "curtailed.csv")["lease"].tolist() == ["L3", "L4"]
    power = pd.read_csv(out / "site_power.csv").set_index(["site", "week"])
    assert power.loc[("SA", 2), "available_mw_before"] == pytest.approx(0.2)
    assert power.loc[("SA", 2), "available_mw_after"] == pytest.approx(0.1)
    assert power.loc[("SA", 2), "power_mw_before"] == pytest.approx(0.2)
    assert power.loc[("SA", 2), "power_mw_after"] == pytest.approx(0.1)
    page = (out / "report.html").read_text()
    derate_html = page[page.index('id="derate"'):page.index("</section>", page.index('id="derate"'))]
    assert "SA loses 50 % of its available power in weeks 2-3: 2 leases curtailed" in derate_html
    assert 'id="derate-chart"' in derate_html and 'id="derate-power-table"' in derate_html
    curtailed = derate_html[derate_html.index('id="derate-curtailed-table"'):].split("</table>")[0]
    assert "<td>L3</td>" in curtailed and "<td>L4</td>" in curtailed and "<td>L1</td>" not in curtailed
    doc = json.loads((out / "plan.json").read_text())
    assert doc["meta"]["derate"]["site"] == "SA" and doc["meta"]["derate"]["curtailed"] == ["L3", "L4"]
    assert Plan.read(out).placements["lease"].nunique() == 3  # read back against the recorded scenario
    res = CliRunner().invoke(cli, args, env=WIDE)
    assert res.exit_code == 2 and "already exists" in res.output
    assert CliRunner().invoke(cli, [*args, "--force"], env=WIDE).exit_code == 0  # its own files are the planner's


def test_derate_folder_is_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sc = planner.load_scenario(write(tmp_path / "d", derate_data()))
    r = derate(sc, optimise(sc, time_limit_s=5), "SA", 50, (2, 3), time_limit_s=5)

    def broken(*_: object, **__: object) -> None:
        msg = "disk full"
        raise OSError(28, msg)

    monkeypatch.setattr("planner.run._write_files", broken)
    with pytest.raises(OSError, match="disk full"):
        write_derate(r, tmp_path / "out")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # neither the folder nor a temporary one
