"""The ``planner`` command line: a thin layer over the library.

Each command loads a scenario with :func:`_load_or_exit` (which turns a
:class:`~planner.errors.ScenarioError` into a table of problems and exit code 2),
calls one library function and prints its tables with rich.

Exit codes: 0 success; 2 the input has errors (or the command line is wrong).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from planner import __version__
from planner._console import (
    latency_table,
    make_console,
    problems_table,
    site_pairs,
    site_pairs_lines,
    sites_table,
    spans_table,
)
from planner.errors import Problem, ScenarioError
from planner.network import build_network
from planner.routing import latency_matrix
from planner.scenario import Scenario, load_scenario
from planner.schema import FILE_MODELS

__all__ = ["app", "main"]

EXIT_INPUT_ERROR = 2
"""Exit code when the scenario's files have errors."""

WIDE_CONSOLE = 120
"""Consoles at least this wide keep problem files, places and fields on one line."""

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

app = typer.Typer(
    name="planner",
    help="Plan which leased GPU workloads AI data-center campuses can accept, where they go and what they earn.",
    epilog="Start with [bold]planner validate[/bold], then [bold]planner network[/bold]. "
           "Every command takes --help.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
)

ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="Scenario YAML file. \\[default: scenarios/reference.yaml]", show_default=False,
                   metavar="SCENARIO"),
]


# --------------------------------------------------------------------------- shared helpers
def _examples(*commands: str) -> str:
    """A help epilog listing example command lines (shown under ``--help``)."""
    return "[bold]Examples[/bold]\n" + "\n".join(f"$ {escape(c)}" for c in commands)


def _count(n: int, word: str) -> str:
    """A count and a word, plural when needed.

    Examples
    --------
    >>> _count(1, "site"), _count(1200, "lease")
    ('1 site', '1,200 leases')
    """
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _print_problems(console: Console, problems: list[Problem]) -> None:
    """Print problems as one table, with a count line under it."""
    n_err = sum(p.severity == "error" for p in problems)
    parts = [_count(n, word) for n, word in ((n_err, "error"), (len(problems) - n_err, "warning")) if n]
    console.print(problems_table(problems, narrow=console.width < WIDE_CONSOLE))
    console.print(f"{' and '.join(parts)} in {_count(len({p.file for p in problems}), 'file')}.", highlight=False)


def _load_or_exit(path: Path | None, *, console: Console | None = None, show_warnings: bool = True) -> Scenario:
    """Load a scenario, or print every problem in it as a table and exit with code 2.

    Every command that reads a scenario goes through here, so that input errors
    always look the same and never end in a traceback.

    Parameters
    ----------
    path
        The scenario file; the bundled reference scenario when ``None``.
    console
        Where to print problems (and warnings); stderr by default.
    show_warnings
        After a successful load, say how many warnings the scenario has (``planner
        validate`` lists them).

    Raises
    ------
    typer.Exit
        With code 2 when the scenario has errors.
    """
    console = console or make_console(stderr=True)
    try:
        sc = load_scenario(path)
    except ScenarioError as exc:
        _print_problems(console, exc.problems)
        console.print("Nothing was loaded; fix the errors above and run the command again.", style="red",
                      highlight=False)
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    if show_warnings and sc.warnings:
        console.print(f"{_count(len(sc.warnings), 'warning')} in the scenario; `planner validate` lists them.",
                      style="yellow", highlight=False)
    return sc


def _version(value: bool) -> None:
    if value:
        typer.echo(f"planner {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    """Plan which leased GPU workloads AI data-center campuses can accept, where they go and what they earn."""


# --------------------------------------------------------------------------- commands
@app.command(epilog=_examples("planner validate", "planner validate scenarios/reference.yaml"))
def validate(scenario: ScenarioArg = None) -> None:
    """Check a scenario's files and report every problem at once (file, place, field, value, fix).

    Exits 0 when the scenario loads (warnings are listed), 2 when it has errors.
    """
    out = make_console()
    sc = _load_or_exit(scenario, console=out, show_warnings=False)
    internal = int((sc.workloads["priority"] == "internal").sum())
    leases = len(sc.workloads) - internal
    gpus = int(sc.pods["gpus"].sum())
    out.print(f"OK {sc.name} ({sc.path}): {_count(len(sc.sites), 'site')}, {_count(len(sc.pods), 'pod')}, "
              f"{gpus:,} GPUs, {_count(len(sc.spans), 'span')}, {_count(len(sc.pops), 'PoP')}, "
              f"{_count(leases, 'lease')} (+{internal} internal) over {sc.horizon.periods} weeks",
              highlight=False, soft_wrap=True)
    if sc.warnings:
        _print_problems(out, sc.warnings)


@app.command(epilog=_examples("planner network", "planner network scenarios/reference.yaml"))
def network(scenario: ScenarioArg = None) -> None:
    """Print the campuses, the DCI spans and the site x PoP latency matrix of a scenario."""
    sc = _load_or_exit(scenario)
    g = build_network(sc)
    out = make_console()
    out.print(sites_table(sc))
    out.print(spans_table(sc))
    for line in site_pairs_lines(site_pairs(sc, g)):
        out.print(line, highlight=False, soft_wrap=True)
    out.print(latency_table(latency_matrix(sc, g)))


def _json_schema(kind: str) -> dict[str, Any]:
    """The JSON Schema of one file kind (see :data:`planner.schema.FILE_MODELS`).

    Examples
    --------
    >>> s = _json_schema("lease-row")
    >>> s["title"], "gpus" in s["properties"]
    ('LeaseRow', True)
    """
    return {"$schema": JSON_SCHEMA_DIALECT, **FILE_MODELS[kind].model_json_schema()}


@app.command(epilog=_examples("planner schema                # list the kinds",
                             "planner schema lease-row      # one kind's JSON Schema",
                             "planner schema --out schemas  # every kind, one file each"))
def schema(
    kind: Annotated[str | None, typer.Argument(help=f"File kind: one of {', '.join(FILE_MODELS)}.",
                                               show_default=False, metavar="KIND")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", file_okay=False, help=(
        "Write <kind>.schema.json into this directory (every kind, or just KIND)."))] = None,
) -> None:
    """Print the JSON Schema of an input file kind, for editors and other tools.

    Without KIND, list the kinds. CSV files (leases, reservations) are described row by row.
    """
    if kind is not None and kind not in FILE_MODELS:
        msg = f"unknown kind {kind!r}; use one of: {', '.join(FILE_MODELS)}"
        raise typer.BadParameter(msg, param_hint="KIND")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for k in [kind] if kind else list(FILE_MODELS):
            target = out_dir / f"{k}.schema.json"
            target.write_text(json.dumps(_json_schema(k), indent=2) + "\n", encoding="utf-8")
            typer.echo(f"wrote {target}")
    elif kind is not None:
        typer.echo(json.dumps(_json_schema(kind), indent=2))
    else:
        for k, model in FILE_MODELS.items():
            first = (model.__doc__ or "").strip().splitlines()[0].replace("``", "")
            typer.echo(f"{k:<18} {first}")


def main() -> None:
    """Run the ``planner`` command line (the console script's entry point)."""
    app(prog_name="planner")
