"""The ``planner`` command line: validate, network, schema, --version, --help."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.schema import FILE_MODELS
from tests import tiny

BAD = Path(__file__).parent / "data" / "bad"


# Rich colours output when these are set (as on some CI services), even off a terminal.
NO_FORCED_COLOUR: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner(env={"COLUMNS": "250", **NO_FORCED_COLOUR})  # wide enough that no table cell wraps


def _tiny(tmp_path: Path, **edits: Any) -> Path:
    data = tiny.base()
    for key, rows in edits.items():
        data[key] = rows
    return tiny.write(tmp_path, data)


def _bad_pod_site(tmp_path: Path) -> Path:
    data = tiny.base()
    data["pods"]["pods"][0]["site"] = "SX"
    return tiny.write(tmp_path, data)


def _line_of(path: Path, text: str) -> int:
    return next(n for n, ln in enumerate(path.read_text().splitlines(), 1) if ln.strip() == text)


# --------------------------------------------------------------------------- validate
def test_validate_bad_scenario_exits_2_with_the_problem_table(runner: CliRunner, tmp_path: Path) -> None:
    scenario = _bad_pod_site(tmp_path)
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 2, result.output
    out = result.output
    assert str(tmp_path / "pods.yaml") in out
    assert f"line {_line_of(tmp_path / 'pods.yaml', 'site: SX')}" in out
    assert re.search(r"\bsite\b.*'SX'.*unknown site.*use one of the sites in", out)
    assert "1 error in 1 file." in out
    assert "Traceback" not in out
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_validate_several_problems_at_once(runner: CliRunner) -> None:
    result = runner.invoke(app, ["validate", str(BAD / "several" / "scenario.yaml")])
    assert result.exit_code == 2
    for text in ("sites.yaml", "pods.yaml", "topology.yaml", "reservations.csv", "leases.csv", "line 2 (lease L1)",
                 "end_week", "'trainig'", "warning", "7 errors and 1 warning in 5 files."):
        assert text in result.output, text
    assert "Traceback" not in result.output


def test_validate_malformed_yaml_names_the_line(runner: CliRunner, tmp_path: Path) -> None:
    scenario = _tiny(tmp_path)
    (tmp_path / "sites.yaml").write_text((BAD / "sites_malformed.yaml").read_text())
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 2
    assert "line 6, column" in result.output and "malformed YAML" in result.output
    assert "fix the YAML syntax" in result.output


def test_validate_on_a_narrow_console(tmp_path: Path) -> None:
    narrow = CliRunner(env={"COLUMNS": "80", **NO_FORCED_COLOUR})
    result = narrow.invoke(app, ["validate", str(_bad_pod_site(tmp_path))])
    assert result.exit_code == 2
    assert "field site = 'SX'" in result.output
    assert "fix: use one of the sites" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_validate_missing_scenario(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nothing.yaml")])
    assert result.exit_code == 2
    assert "scenario file not found" in result.output
    assert "Traceback" not in result.output


def test_validate_tiny_scenario_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(_tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    assert re.search(r"OK tiny .*: 2 sites, 3 pods, 400 GPUs, 5 spans, 2 PoPs, 0 leases \(\+0 internal\) over 4 "
                     r"weeks", result.output)
    assert "warning" not in result.output


def test_validate_prints_warnings_and_exits_0(runner: CliRunner, tmp_path: Path) -> None:
    scenario = _tiny(tmp_path, leases=[tiny.lease("L1", 250, span="site")])
    result = runner.invoke(app, ["validate", str(scenario)])
    assert result.exit_code == 0, result.output
    assert "1 lease (+0 internal)" in result.output
    assert "warning" in result.output and "larger than the T1 GPUs of any site" in result.output
    assert "1 warning in 1 file." in result.output


# --------------------------------------------------------------------------- network
def test_network_tiny_prints_sites_spans_and_latency_matrix(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["network", str(_tiny(tmp_path))])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Campuses" in out and "Site A" in out
    assert "DCI spans" in out
    for span, srlg in [("SA-J", "c1"), ("J-SB", "c2"), ("SA-P1", "c3"), ("SB-P2", "c4"), ("J-P2", "c5")]:
        assert re.search(rf"\b{span}\b.*\b{srlg}\b", out), span
    assert re.search(r"J-P2 .*\b145\b.*\b145\b.*1\.00.*\b1\b.*0\.71.*1\.0", out)  # km, great circle, x, amps, ms, Tb/s
    assert "SA <-> SB great circle 187 km; shortest fibre route 187 km (1.00x); fastest 0.92 ms" in out
    assert "Lowest one-way latency, ms (site -> PoP)" in out
    assert re.search(r"\bSA\b\W+0\.54\W+1\.17\b", out)
    assert re.search(r"\bSB\b\W+1\.46\W+0\.54\b", out)


def test_network_with_campuses_cut_apart(runner: CliRunner, tmp_path: Path) -> None:
    data = tiny.base()
    data["topology"]["spans"] = [s for s in data["topology"]["spans"] if s["id"] not in {"SA-J", "SB-P2"}]
    result = runner.invoke(app, ["network", str(tiny.write(tmp_path, data))])
    assert result.exit_code == 0, result.output
    assert "SA <-> SB great circle 187 km; no fibre route" in result.stdout
    assert re.search(r"\bSA\b\W+0\.54\W+-\W", result.stdout)  # SA reaches P1 only


def test_network_counts_warnings_on_stderr(runner: CliRunner, tmp_path: Path) -> None:
    scenario = _tiny(tmp_path, leases=[tiny.lease("L1", 250, span="site")])
    result = runner.invoke(app, ["network", str(scenario)])
    assert result.exit_code == 0, result.output
    assert result.stderr.strip() == "1 warning in the scenario; `planner validate` lists them."
    assert "DCI spans" in result.stdout


def test_network_bad_scenario_exits_2_without_traceback(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["network", str(_bad_pod_site(tmp_path))])
    assert result.exit_code == 2
    assert "unknown site" in result.stderr and result.stdout == ""
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- schema, version, help
def test_schema_lease_row_is_json_schema(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema", "lease-row"])
    assert result.exit_code == 0, result.output
    schema = json.loads(result.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert schema["title"] == "LeaseRow"
    assert {"id", "gpus", "sku", "start_week", "end_week"} <= set(schema["properties"])
    assert "id" in schema["required"]


def test_schema_lists_kinds(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(FILE_MODELS)


def test_schema_out_writes_one_file_per_kind(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path / "schemas")])
    assert result.exit_code == 0, result.output
    written = sorted(p.name for p in (tmp_path / "schemas").iterdir())
    assert written == sorted(f"{k}.schema.json" for k in FILE_MODELS)
    for p in (tmp_path / "schemas").iterdir():
        assert "properties" in json.loads(p.read_text())


def test_schema_unknown_kind(runner: CliRunner) -> None:
    result = runner.invoke(app, ["schema", "leases"])
    assert result.exit_code == 2
    assert "unknown kind 'leases'" in result.output and "lease-row" in result.output


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"planner {planner.__version__}"


@pytest.mark.parametrize("command", ["validate", "network", "schema"])
def test_help_has_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Examples" in result.output and f"$ planner {command}" in result.output


# --------------------------------------------------------------------------- the console script
def test_console_script_without_a_terminal(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("planner")
    if not exe.exists():
        if "CI" in os.environ:
            pytest.fail(f"the planner console script is not installed next to {sys.executable}")
        pytest.skip("the planner console script is not installed next to this Python")
    env = {k: v for k, v in os.environ.items() if k not in NO_FORCED_COLOUR and k != "COLUMNS"}
    proc = subprocess.run([str(exe), "validate", str(_bad_pod_site(tmp_path))], capture_output=True, text=True,
                          timeout=120, check=False, env=env)
    assert proc.returncode == 2
    assert "unknown site" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "\x1b[" not in proc.stdout  # no colour codes in a pipe
