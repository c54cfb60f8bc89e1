"""The command line at a fixed terminal width: help, plan output and wide tables at 80 and 120 columns."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperOption
from typer.testing import CliRunner

from planner.cli import app
from planner.cli.console import EXAMPLE_WIDTH, fit_table
from tests.reference_cut import write_cut_leases

NO_FORCED_COLOUR: dict[str, str | None] = {"FORCE_COLOR": None, "TTY_COMPATIBLE": None, "TTY_INTERACTIVE": None}
REFERENCE = Path(__file__).resolve().parents[1] / "scenarios" / "reference.yaml"


def _commands(group: Any, prefix: str = "") -> list[str]:
    """Every command's path ("plan", "import topology"): groups are followed down to their commands."""
    out: list[str] = []
    for name, cmd in group.commands.items():
        path = f"{prefix}{name}"
        out += _commands(cmd, f"{path} ") if hasattr(cmd, "commands") else [path]
    return sorted(out)


def _command(path: str) -> Any:
    cmd = typer.main.get_command(app)
    for name in path.split():
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return cmd


COMMANDS = _commands(typer.main.get_command(app))
MONEY = re.compile(r"\$[\d,.]*\d[MB]?")
EXITS_3 = {"plan", "failures", "derate"}
"""Commands that exit 3 when internal workloads cannot be placed."""


def runner(width: int) -> CliRunner:
    return CliRunner(env={"COLUMNS": str(width), "LINES": "50", **NO_FORCED_COLOUR})


def too_long(text: str, width: int) -> list[str]:
    return [line for line in text.splitlines() if len(line) > width]


def help_text(command: str, width: int = 80) -> str:
    result = runner(width).invoke(app, [*command.split(), "--help"])
    assert result.exit_code == 0, result.output
    return result.output


def help_examples(command: str) -> list[str]:
    """The example command lines of a command's help at 80 columns, continuation lines joined."""
    lines = help_text(command).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip() == "Examples")
    commands: list[str] = []
    joined = ""
    for line in lines[start + 1:]:
        text = line.strip()
        if not text:
            break
        joined = f"{joined} {text}".strip()
        if joined.endswith("\\"):
            joined = joined[:-1]
            continue
        commands.append(joined.removeprefix("$ "))
        joined = ""
    return commands


# --------------------------------------------------------------------------- help
@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_help_fits_80_columns_and_shows_types_one_way(command: str) -> None:
    text = help_text(command) if command else runner(80).invoke(app, ["--help"]).output
    assert not too_long(text, 80)
    assert "…" not in text, [line for line in text.splitlines() if "…" in line]
    assert "<bool>" not in text
    cmd = _command(command)
    ctx = typer.Context(cmd, info_name=command or "planner")
    options = [p for p in [*cmd.params, cmd.get_help_option(ctx)] if isinstance(p, TyperOption)]
    assert options  # --help at least
    for param in options:
        shown = param.display_type_rich(ctx)
        if param.is_flag:
            assert not shown, (command, param.name, shown)
        else:
            assert re.fullmatch(r"<[^<>]+>", shown or ""), (command, param.name, shown)


@pytest.mark.parametrize("command", COMMANDS)
def test_help_documents_the_exit_codes(command: str) -> None:
    text = " ".join(help_text(command, width=250).split())
    assert "Exits 0" in text
    if command in EXITS_3:
        assert re.search(r"\b3 (when|if) internal workloads", text), text


@pytest.mark.parametrize("command", COMMANDS)
def test_help_examples_are_whole_at_80_columns(command: str) -> None:
    epilog = _command(command).epilog or ""
    source = epilog.splitlines()[1:]
    assert source, f"planner {command} --help shows no examples"
    for line in source:
        assert len(line) <= EXAMPLE_WIDTH, line
    shown = [line.strip() for line in help_text(command).splitlines()]
    for line in source:
        assert line.strip() in shown, line
    assert all(c.startswith("planner ") for c in help_examples(command))


# --------------------------------------------------------------------------- plan output
def _plan_greedy(tmp_path: Path, width: int) -> tuple[str, str]:
    result = CliRunner(env={"COLUMNS": str(width), **NO_FORCED_COLOUR}).invoke(
        app, ["plan", str(REFERENCE), "--greedy", "--out", str(tmp_path / "g")])
    assert result.exit_code == 0, result.output
    return result.stdout, result.stderr


def _money_whole(text: str) -> None:
    assert "…" not in text, [line for line in text.splitlines() if "…" in line]
    for m in MONEY.finditer(text):
        assert re.fullmatch(r"\$\d{1,3}(,\d{3})*(\.\d+[MB])?", m.group()), m.group()


def test_plan_at_80_columns_lists_reasons_under_their_leases_and_ends_with_the_summary(tmp_path: Path) -> None:
    out, err = _plan_greedy(tmp_path, 80)
    assert not too_long(out + err, 80), too_long(out + err, 80)
    _money_whole(out + err)
    lines = out.splitlines()
    assert len(lines) <= 80, len(lines)  # the wide table took 339 lines here; reasons name both campuses
    assert lines[0].startswith("Leases left out: top 10 of ")
    assert "unplaced.csv lists every one with its fix" in " ".join(out.split())
    facts = next(i for i, line in enumerate(lines) if line.startswith("L-0058 "))
    lease = r"L-0058\s+lease\s+GB200\s+64,512\s+4-23\s+\$\d{3},\d{3},\d{3}\s+[a-z]+$"  # ... revenue, family
    assert re.search(lease, lines[facts]), lines[facts]
    assert re.match(r" {4}\S", lines[facts + 1])  # the reason, under its lease
    status = max(i for i, line in enumerate(lines) if line.startswith("status "))
    assert len(lines) - status <= 14  # the run's figures come last, where they stay in view
    tail = "\n".join(lines[status:])
    for label in ("status", "revenue", "net value", "GPUs leased", "bound", "leases", "time", "results"):
        assert re.search(rf"^{label}\s", tail, re.M), label
    assert re.search(r"^net value\s+\$\d{1,3}(,\d{3})+ \(revenue - power \$", tail, re.M)


def test_plan_at_120_columns_keeps_the_table(tmp_path: Path) -> None:
    out, err = _plan_greedy(tmp_path, 120)
    assert not too_long(out + err, 120)
    _money_whole(out + err)
    lines = out.splitlines()
    assert lines[0].startswith("Leases left out: top 20 of ")
    header = next(line for line in lines if "lease" in line and "reason" in line)
    assert re.findall(r"\w+", header) == ["lease", "priority", "SKU", "GPUs", "weeks", "revenue", "family", "reason"]
    assert re.search(r"│ L-0058 │ lease\s+│ GB200\s+│\s+64,512 │ 4-23\s+│\s+\$\d{3},\d{3},\d{3} │", out)
    assert len(lines) <= 180  # 20 leases, each reason (both campuses) wrapped within its column
    assert re.search(r"^results\s", lines[-1])


def test_network_and_validate_fit_80_columns() -> None:
    for args in (["network", str(REFERENCE)], ["validate", str(REFERENCE)]):
        result = runner(80).invoke(app, args)
        assert result.exit_code == 0, result.output
        assert not too_long(result.output, 80), too_long(result.output, 80)
        assert "…" not in result.output
    net = runner(80).invoke(app, ["network", str(REFERENCE)]).output
    assert re.search(r"^NAL-CIN\n  a: OH-NAL; b: CIN; length km: 224;", net, re.M), net[:2000]
    assert "1,000.0" in net and "400.0-850.0" in net  # the campuses' available MW, whole


def _wide_table() -> Table:
    t = Table(title="Cut cases")
    for name in ("#", "case", "spans cut", "affected", "rerouted", "stranded", "over capacity", "at risk",
                 "survivable"):
        t.add_column(name)
    t.add_row("1", "srlg:I80-PIT-NYC", "PIT-NYC", "36", "18", "15", "PIT-ASH, ASH-NYC, BHM-ATL", "$618.3M", "no")
    t.add_row("2", "span:MLU-RCH", "MLU-RCH", "51", "35", "16", "", "$199.1M", "yes")
    return t


@pytest.mark.parametrize("width", [80, 120])
def test_fit_table_shows_every_value_whole(width: int) -> None:
    con = Console(width=width, file=io.StringIO())
    con.print(fit_table(_wide_table(), con))
    text = con.file.getvalue()  # type: ignore[attr-defined]
    assert not too_long(text, width)
    assert "…" not in text
    for value in ("srlg:I80-PIT-NYC", "PIT-ASH, ASH-NYC, BHM-ATL", "$618.3M", "$199.1M"):
        assert value in text, value
    if width == 80:
        assert "1. srlg:I80-PIT-NYC" in text and "at risk: $618.3M" in text
        assert "over capacity" not in text.split("2. span:MLU-RCH")[1]  # empty cells are left out
    else:
        assert "┃ # ┃ case" in text.replace("  ", " ")


# --------------------------------------------------------------------------- every help example runs
PROJECT = Path(__file__).resolve().parents[1]
PROJECT_INPUTS = ("scenarios", "sites", "topologies", "leases", "examples")


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_example_runs_as_shown(command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each command's help examples, in order, from a fresh copy of the project's inputs: exit 0, 80 columns.

    The copy's reference lease book is cut to every 10th lease (:mod:`tests.reference_cut`): the examples run as
    shown, on the reference's campuses, pods, spans and internal work, without solving its 400 leases each time.
    """
    import shlex
    import shutil

    for name in PROJECT_INPUTS:
        shutil.copytree(PROJECT / name, tmp_path / name, ignore=shutil.ignore_patterns("generated", "*.ipynb"))
    write_cut_leases(tmp_path, 10)
    monkeypatch.chdir(tmp_path)
    for example in help_examples(command):
        args = shlex.split(example, comments=True)
        assert args[0] == "planner", example
        result = runner(80).invoke(app, args[1:])
        assert result.exit_code == 0, f"{example}\nexit {result.exit_code}\n{result.output}"
        assert "Traceback" not in result.output, example
        if result.output.startswith("{"):  # JSON for tools (planner schema KIND): whole, never wrapped
            json.loads(result.output)
            continue
        if "--format csv" in example and "--out" not in example:  # CSV for tools on stdout: whole, never wrapped
            table = pd.read_csv(io.StringIO(result.stdout))
            assert len(table) and not too_long(result.stderr, 80), example
            continue
        assert not too_long(result.output, 80), (example, too_long(result.output, 80))
        _money_whole(result.output)


@pytest.mark.parametrize("live", [True, False])
def test_progress_fits_80_columns(live: bool) -> None:
    """The live table (a terminal) and the plain lines (a pipe) wrap long stage details under themselves."""
    from planner import load_scenario
    from planner.cli.console import PlanProgress
    from planner.run import PlanRun

    con = Console(width=80, file=io.StringIO())
    progress = PlanProgress(con, time_limit_s=5, live=False)  # no Live thread: render the live table by hand
    progress.live = live
    run = PlanRun(scenario=load_scenario(REFERENCE))
    progress.stage(run, "load", False)
    progress.stage(run, "load", True)
    if live:
        con.print(progress._render())
    text = con.file.getvalue()  # type: ignore[attr-defined]
    assert not too_long(text, 80), too_long(text, 80)
    words = " ".join(text.split())
    assert re.search(r"reference: 2 sites, .*, \d+ leases \(\+\d+ internal\), 52 weeks", words), words
    first = text.splitlines()
    assert len(first) >= 2 and first[1].startswith(" " * 11 if not live else " " * 20)  # indented under itself
