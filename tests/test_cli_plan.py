"""``planner plan`` and ``planner export``: each exit code, the results folder, Ctrl-C on a real process."""

from __future__ import annotations

import itertools
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import planner
from planner import report
from planner.cli import app
from planner.run import EXPORT_FORMATS, RESULT_FILES
from tests import tiny
from tests.reference_cut import write_cut_reference

# Rich colours output when these are set (as on some CI services), even off a terminal.
NO_FORCED_COLOUR: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
PLANNER = Path(sys.executable).with_name("planner")
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "200", **NO_FORCED_COLOUR})


def _scenario(tmp_path: Path, **edits: Any) -> Path:
    data = tiny.base()
    data["leases"] = [
        tiny.lease("L1", 60, price=4.0, egress_gbps=100, region="P2", latency_slo_ms=50, allowed_sites="SA"),
        tiny.lease("L2", 80, price=3.0, replicas=2, egress_gbps=50, region="P1", latency_slo_ms=50,
                   allowed_sites="SB"),
        tiny.lease("L3", 150, price=1.0, allowed_sites="SB"),  # no room left at SB
    ]
    data.update(edits)
    return tiny.write(tmp_path / "scenario", data)


def _plan(runner: CliRunner, *args: str) -> Any:
    return runner.invoke(app, ["plan", *args, "--time-limit", "10"])


# --------------------------------------------------------------------------- exit 0
def test_plan_writes_the_folder_and_prints_the_result(runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "results"
    result = _plan(runner, str(_scenario(tmp_path)), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    doc = json.loads((out / "plan.json").read_text())
    assert doc["status"] == "OPTIMAL" and doc["interrupted"] is False
    # progress on stderr, plain lines off a terminal, one per stage
    err = result.stderr
    for label in ("load + validate", "network", "routing", "model build", "solve", "write"):
        assert re.search(rf"^\[ +[\d.]+ s\] {re.escape(label)} done in [\d.]+ s", err, re.M), label
    assert "solve started: time limit 10 s of CP-SAT deterministic time" in err
    assert re.search(r"solve: best net value \$[\d,]+, bound \$[\d,]+, gap [\d.]+% \(after [\d.]+ s\)", err)
    assert "\x1b[" not in result.output
    # the result on stdout
    std = result.stdout
    assert re.search(r"status\s+OPTIMAL\b", std)
    assert re.search(r"revenue\s+\$[\d,]+ over 4 weeks", std)
    assert re.search(r"net value\s+\$[\d,]+ \(revenue - power \$[\d,]+ - transport \$[\d,]+\)", std)
    assert re.search(r"GPUs leased\s+T1 220 \(peak week\)", std)
    assert re.search(r"bound\s+\$[\d,]+; gap 0\.00%", std)
    assert re.search(r"leases\s+2 placed, 1 left out", std)
    assert f"results      {out}{os.sep}" in std
    assert re.search(r"Leases left out \(1\)", std)
    assert re.search(r"\bL3\b.*\bT1\b.*\b150\b.*\bgpus\b.*no allowed T1 pod keeps 150 GPUs free", std)
    assert "Traceback" not in result.output


def test_plan_default_folder_and_greedy(runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan", str(_scenario(tmp_path)), "--greedy"])
    assert result.exit_code == 0, result.output
    doc = json.loads((tmp_path / "output" / "tiny" / "plan.json").read_text())
    assert doc["method"] == "greedy" and doc["bound_usd"] is None
    assert re.search(r"bound\s+none \(greedy baseline\)", result.stdout)
    err = " ".join(result.stderr.split())  # the progress says what the greedy run does, not a search's words
    assert "solve started: greedy first fit (no time limit), then the reason each left-out lease is left out; " \
           "Ctrl-C stops the run (nothing is written)" in err, err
    assert "time limit 60" not in err and "writes the best plan so far" not in err and "no plan yet" not in err
    assert re.search(r"solve done in [\d.]+ s: HEURISTIC, net value \$[\d,]+ \(greedy: no bound\)", err), err


def test_plan_lists_at_most_20_left_out(runner: CliRunner, tmp_path: Path) -> None:
    leases = [tiny.lease(f"L{i:02d}", 10, price=1 + i / 100, allowed_sites="SA", region="P1", latency_slo_ms=0.1)
              for i in range(25)]  # SLO below the fastest route: none fits
    result = _plan(runner, str(_scenario(tmp_path, leases=leases)), "--out", str(tmp_path / "r"))
    assert result.exit_code == 0, result.output
    assert "Leases left out: top 20 of 25 by revenue" in result.stdout
    assert "L24" in result.stdout and "L04" not in result.stdout  # most revenue first
    assert f"... and 5 more; {tmp_path / 'r'}/unplaced.csv lists every one" in result.stdout
    assert "latency" in result.stdout


# --------------------------------------------------------------------------- exit 2
def test_plan_bad_input_exits_2_with_every_problem(runner: CliRunner, tmp_path: Path) -> None:
    data = tiny.base()
    data["pods"]["pods"][0]["site"] = "SX"
    data["leases"] = [tiny.lease("L1", 10, kind="trainig")]
    result = _plan(runner, str(tiny.write(tmp_path, data)), "--out", str(tmp_path / "r"))
    assert result.exit_code == 2, result.output
    assert "unknown site" in result.stderr and "'trainig'" in result.stderr
    assert "2 errors in 2 files." in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


def test_plan_refuses_an_existing_folder(runner: CliRunner, tmp_path: Path) -> None:
    scenario, out = str(_scenario(tmp_path)), tmp_path / "results"
    assert _plan(runner, scenario, "--out", str(out)).exit_code == 0
    stamp = (out / "plan.json").stat().st_mtime_ns
    result = _plan(runner, scenario, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert f"error: results folder {out} already exists" in result.stderr
    assert "fix: pass --force to replace it, or --out to write somewhere else" in result.stderr
    assert "solve started" not in result.stderr  # refused before solving
    assert (out / "plan.json").stat().st_mtime_ns == stamp
    result = _plan(runner, scenario, "--out", str(out), "--force")
    assert result.exit_code == 0, result.output
    assert (out / "plan.json").stat().st_mtime_ns != stamp


def test_plan_bad_option_exits_2(runner: CliRunner) -> None:
    result = runner.invoke(app, ["plan", "--time-limit", "soon"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- exit 3
def test_plan_internal_infeasible_exits_3_with_the_reason(runner: CliRunner, tmp_path: Path) -> None:
    scenario = _scenario(tmp_path, reservations=[{"pod": "B1", "start_week": 1, "end_week": 4, "gpus": 150}],
                         leases=[tiny.lease("I1", 90, priority="internal", price=0, allowed_sites="SB")])
    result = _plan(runner, str(scenario), "--out", str(tmp_path / "r"))
    assert result.exit_code == 3, result.output
    assert "internal workloads cannot all be placed" in result.stderr
    assert re.search(r"I1: can never fit: needs 90 GPUs per replica in one pod; .*B1, keeps at most 50 free",
                     result.stderr)
    assert "fix:" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- exit 130
def test_ctrl_c_while_writing_leaves_no_folder(runner: CliRunner, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def second_ctrl_c(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "write_report", second_ctrl_c)
    out = tmp_path / "results"
    result = _plan(runner, str(_scenario(tmp_path)), "--out", str(out))
    assert result.exit_code == 130, result.output
    assert "interrupted during write; nothing was written" in result.stderr
    assert not out.exists() and list(tmp_path.glob(".results*")) == []


def _lines(stream: Any, sink: queue.Queue[str]) -> None:
    for line in stream:
        sink.put(line)


@pytest.mark.slow
def test_sigint_during_the_solve_writes_the_best_plan(tmp_path: Path) -> None:
    """A real ``planner plan`` process on the reference scenario, stopped with SIGINT during the solve.

    The reference with every third lease (:mod:`tests.reference_cut`): its solve at 60 s is still searching when the
    first plan is shown, and the plan written after Ctrl-C is a few seconds' work, not the whole reference's.
    """
    if not PLANNER.exists():
        pytest.fail(f"the planner console script is not installed next to {sys.executable}")
    scenario = write_cut_reference(tmp_path / "cut", 3)
    out = tmp_path / "reference"
    env = {k: v for k, v in os.environ.items() if k not in NO_FORCED_COLOUR}
    proc = subprocess.Popen([str(PLANNER), "plan", str(scenario), "--time-limit", "60", "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    lines: queue.Queue[str] = queue.Queue()
    out_lines: queue.Queue[str] = queue.Queue()
    readers = [threading.Thread(target=_lines, args=(stream, sink), daemon=True)
               for stream, sink in ((proc.stderr, lines), (proc.stdout, out_lines))]
    for reader in readers:
        reader.start()
    seen: list[str] = []
    deadline = time.monotonic() + 240
    try:
        while not any("solve: best net value" in line for line in seen):  # the solver has a plan to write
            assert proc.poll() is None, "planner ended before the solve had a plan:\n" + "".join(seen)
            assert time.monotonic() < deadline, "no plan from the solver in time:\n" + "".join(seen)
            try:
                seen.append(lines.get(timeout=1))
            except queue.Empty:
                continue
        assert not any("solve done" in line for line in seen), "the solve ended before SIGINT; use a larger case"
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    for reader in readers:
        reader.join(timeout=10)
    while not lines.empty():
        seen.append(lines.get())
    stderr = "".join(seen)
    stdout = "".join(out_lines.get() for _ in range(out_lines.qsize()))
    assert proc.returncode == 130, stdout + stderr
    assert "Ctrl-C: stopping the search; the best plan found so far will be written" in stderr
    assert "Traceback" not in stdout + stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    doc = json.loads((out / "plan.json").read_text())
    assert doc["interrupted"] is True
    sc = planner.load_scenario(scenario)
    plan = planner.Plan.from_json(out / "plan.json", sc)
    assert plan.interrupted and plan.check(sc) == []
    # the live display never went backwards, and the plan written is worth at least its last value
    live = [(float(v.replace(",", "")), float(b.replace(",", ""))) for v, b in
            re.findall(r"best net value \$([\d,]+), bound \$([\d,]+)", stderr)]
    assert live, stderr
    assert all(b[0] >= a[0] and b[1] <= a[1] for a, b in itertools.pairwise(live)), live
    assert plan.objective_usd >= live[-1][0] - 1.0  # shown to the dollar
    prog = plan.progress
    assert (prog["objective_usd"].diff().dropna() >= 0).all() and (prog["bound_usd"].diff().dropna() <= 0).all()
    assert plan.objective_usd >= prog["objective_usd"].max() - 0.01
    assert "(interrupted)" in stdout
    assert "Interrupted: this is the best plan found before Ctrl-C" in stderr
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


# --------------------------------------------------------------------------- export
@pytest.mark.parametrize("fmt", list(EXPORT_FORMATS))
def test_export_each_format(runner: CliRunner, tmp_path: Path, fmt: str) -> None:
    suffix = EXPORT_FORMATS[fmt][0]
    target = tmp_path / "out" / f"topology{suffix}"
    result = runner.invoke(app, ["export", str(_scenario(tmp_path)), "--format", fmt, "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {target} ({fmt}:")
    assert target.stat().st_size > 0
    ogrinfo = shutil.which("ogrinfo")
    if fmt == "graphml" or ogrinfo is None:  # GDAL itself is checked in test_gis.py
        return
    if fmt == "layers":  # a folder: one GeoJSON file per layer, each a layer GDAL opens
        files = sorted(target.glob("*.geojson"))
        assert {"sites", "pops", "spans"} <= {f.stem for f in files}
        for f in files:
            subprocess.run([ogrinfo, "-ro", "-al", "-so", str(f)], capture_output=True, text=True, check=True)
        return
    info = subprocess.run([ogrinfo, "-ro", "-al", "-so", str(target)], capture_output=True, text=True, check=True)
    if fmt == "routes":
        assert "Feature Count: 5" in info.stdout
    elif fmt == "gpkg":
        assert {"sites", "pops", "spans"} <= set(re.findall(r"^Layer name: (\w+)", info.stdout, re.M))


def test_export_format_from_suffix_and_default_path(runner: CliRunner, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = str(_scenario(tmp_path))
    result = runner.invoke(app, ["export", scenario, "--out", str(tmp_path / "t.kml")])
    assert result.exit_code == 0, result.output
    assert "(kml:" in result.stdout and (tmp_path / "t.kml").read_text().lstrip().startswith("<?xml")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["export", scenario, "--format", "GPKG"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "output" / "tiny-topology.gpkg").is_file()


def test_export_bad_input_and_bad_format(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "t.geojson")])
    assert result.exit_code == 2 and "scenario file not found" in result.output
    result = runner.invoke(app, ["export", "--format", "shp"])
    assert result.exit_code == 2 and "Traceback" not in result.output


# --------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["plan", "export"])
def test_help_has_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.output and f"$ planner {command}" in result.output


def test_version_of_the_console_script() -> None:
    if not PLANNER.exists():
        if IN_CI:
            pytest.fail(f"the planner console script is not installed next to {sys.executable}")
        pytest.skip("the planner console script is not installed next to this Python")
    proc = subprocess.run([str(PLANNER), "--version"], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == f"planner {planner.__version__}"
