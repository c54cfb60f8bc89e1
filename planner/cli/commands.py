"""The ``planner`` app and its core commands: ``validate``, ``network``, ``schema``, ``plan``, ``export``.

Each command maps to one library function: ``validate`` and ``network`` load a
scenario (:func:`~planner.cli.console.load_or_exit` turns a
:class:`~planner.errors.ScenarioError` into a table of problems and exit code 2),
``plan`` runs :func:`~planner.run.plan_scenario` with a live progress display,
``export`` runs :func:`~planner.run.export_topology`.

Exit codes: 0 success; 1 the solver found no plan in its time limit; 2 the input
has errors, an output would be overwritten or cannot be written, or the command
line is wrong; 3
internal workloads cannot all be placed; 130 interrupted (Ctrl-C).

Commands written in other modules of :mod:`planner.cli` import their helpers
(``ScenarioArg``, ``load_or_exit``, ``examples``, exit codes, tables) from
:mod:`planner.cli.console` and are registered at the end of this file with one line each.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from planner.api_feasibility import api_warnings
from planner.cli import generate as generate_commands
from planner.cli import imports as import_commands
from planner.cli import quote as quote_commands
from planner.cli import whatif as whatif_commands
from planner.cli.console import (
    EXIT_INFEASIBLE,
    EXIT_INPUT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NO_PLAN,
    WIDE_CONSOLE,
    HelpGroup,
    PlanProgress,
    ScenarioArg,
    count,
    examples,
    fit_table,
    input_errors_exit,
    latency_table,
    load_or_exit,
    make_console,
    plan_summary,
    print_problems,
    site_pairs_lines,
    sites_table,
    spans_table,
    unplaced_view,
)
from planner.cli.network import NetworkFormat, NetworkTable, network_data
from planner.errors import InfeasibleError, NoPlanError
from planner.feasibility import never_fit_problems
from planner.network import build_network
from planner.optimise.search import BATCH
from planner.plan import Plan
from planner.routing import latency_matrix, site_pairs
from planner.run import (
    EXPORT_FORMATS,
    STAGES,
    OutputError,
    default_export_path,
    export_format,
    export_topology,
    plan_scenario,
)
from planner.scenario import Scenario
from planner.scheduler import check_scheduler
from planner.schema import FILE_MODELS, json_schema
from planner.version import __version__

__all__ = ["app", "main"]

UNPLACED_SHOWN = 20
"""Leases left out listed after a run (the most revenue first); unplaced.csv has them all."""
UNPLACED_SHOWN_NARROW = 10
"""As :data:`UNPLACED_SHOWN`, on a console narrower than :data:`~planner.cli.console.WIDE_CONSOLE` (2+ lines each)."""

app = typer.Typer(
    name="planner",
    help="Plan which leased GPU workloads AI data-center campuses can accept, where they go and what they earn.",
    epilog="Start with [bold]planner validate[/bold], then [bold]planner plan[/bold]. "
           "Every command takes --help.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    cls=HelpGroup,
)


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
@app.command(epilog=examples("planner validate", "planner validate scenarios/reference.yaml"))
def validate(scenario: ScenarioArg = None) -> None:
    """Check a scenario's files and report every problem at once (file, place, field, value, fix).

    Exits 0 when the scenario loads (warnings are listed, among them every lease that can never be
    placed and why), 2 when it has errors.
    """
    out = make_console()
    sc = load_or_exit(scenario, console=out, show_warnings=False)
    sc.warnings = [*sc.warnings, *never_fit_problems(sc), *api_warnings(sc)]
    internal = int((sc.workloads["priority"] == "internal").sum())
    leases = len(sc.workloads) - internal
    gpus = int(sc.pods["gpus"].sum())
    out.print(f"OK {sc.name} ({sc.path}): {count(len(sc.sites), 'site')}, {count(len(sc.pods), 'pod')}, "
              f"{gpus:,} GPUs, {count(len(sc.spans), 'span')}, {count(len(sc.pops), 'PoP')}, "
              f"{count(leases, 'lease')} (+{internal} internal)"
              + (f", {count(len(sc.api_demand), 'API demand stream')} of "
                 f"{count(sc.api_models.index.get_level_values('model').nunique(), 'model')}"
                 if len(sc.api_demand) else "")
              + f" over {sc.horizon.periods} weeks", highlight=False)
    if sc.warnings:
        print_problems(out, sc.warnings)


@app.command(epilog=examples("planner network", "planner network scenarios/reference.yaml",
                             "planner network --format json --out network.json",
                             "planner network --format csv --table latency"))
def network(
    scenario: ScenarioArg = None,
    *,
    fmt: Annotated[NetworkFormat, typer.Option("--format", "-f", case_sensitive=False, metavar="<format>",
                                               help="table (for people), csv or json (for tools).")]
    = NetworkFormat.table,
    table: Annotated[NetworkTable, typer.Option("--table", case_sensitive=False, metavar="<table>", help=(
        "With csv or json: spans, paths (every campus's candidate paths to every PoP), latency (site x PoP, "
        "ms) or all."))] = NetworkTable.all,
    out_file: Annotated[Path | None, typer.Option("--out", dir_okay=False, show_default=False, metavar="<file>", help=(
        "With csv or json: the file to write (csv of every table: <stem>-spans/-paths/-latency.csv). "
        "\\[default: stdout]"))] = None,
) -> None:
    """Print the campuses, the DCI spans and the site x PoP latency matrix of a scenario, or write them as data.

    Exits 0, or 2 when the scenario has errors or the output cannot be written.
    """
    sc = load_or_exit(scenario)
    g = build_network(sc)
    if fmt is not NetworkFormat.table:
        try:
            text, written = network_data(sc, g, fmt, table, out_file)
        except ValueError as exc:
            raise _fail(EXIT_INPUT_ERROR, str(exc)) from None
        typer.echo(text, nl=False)
        for path in written:
            typer.echo(f"wrote {path}", err=True)
        return
    out = make_console()
    out.print(fit_table(sites_table(sc), out))
    out.print(fit_table(spans_table(sc), out))
    for line in site_pairs_lines(site_pairs(sc, g)):
        out.print(line, highlight=False)
    out.print(fit_table(latency_table(latency_matrix(sc, g)), out))


@app.command(epilog=examples("planner schema                # list the kinds",
                             "planner schema lease-row      # one kind's JSON Schema",
                             "planner schema --out schemas  # every kind, one file each"))
def schema(
    kind: Annotated[str | None, typer.Argument(help=f"File kind: one of {', '.join(FILE_MODELS)}.",
                                               show_default=False, metavar="KIND")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", file_okay=False, metavar="<dir>", help=(
        "Write <kind>.schema.json into this directory (every kind, or just KIND)."))] = None,
) -> None:
    """Print the JSON Schema of an input file kind, for editors and other tools.

    Without KIND, list the kinds. CSV files (leases, reservations, API demand) are described row by row.

    Exits 0, or 2 on an unknown KIND.
    """
    if kind is not None and kind not in FILE_MODELS:
        msg = f"unknown kind {kind!r}; use one of: {', '.join(FILE_MODELS)}"
        raise typer.BadParameter(msg, param_hint="KIND")
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            for k in [kind] if kind else list(FILE_MODELS):
                target = out_dir / f"{k}.schema.json"
                target.write_text(json.dumps(json_schema(k), indent=2) + "\n", encoding="utf-8")
                typer.echo(f"wrote {target}")
        except OSError as exc:  # --out under a file, a full disk, no permission
            raise _fail(EXIT_INPUT_ERROR, f"could not write {out_dir} ({exc.strerror or exc})",
                        "choose another folder with --out (or free some disk space) and run again") from None
    elif kind is not None:
        typer.echo(json.dumps(json_schema(kind), indent=2))
    else:  # one line a kind, its description wrapped under itself on a narrow terminal
        kinds = Table.grid(padding=(0, 1))
        kinds.add_column(no_wrap=True)
        kinds.add_column()
        for k, model in FILE_MODELS.items():
            first = (model.__doc__ or "").strip().splitlines()[0].replace("``", "")
            kinds.add_row(Text(f"{k:<18}"), Text(first))
        make_console().print(kinds)


# --------------------------------------------------------------------------- plan
@contextmanager
def _ctrl_c_handled(progress: PlanProgress) -> Iterator[None]:
    """Ctrl-C during the solve stops the search (the best plan so far is written); elsewhere it stops the run.

    During the solve (or the model build, once the warm start has a plan) the handler
    asks the optimiser to stop (:meth:`Optimiser.stop`)
    instead of raising ``KeyboardInterrupt`` into the thread waiting on the search;
    at any other stage it raises ``KeyboardInterrupt`` as Python does.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        progress.interrupted()
        opt = progress.run.optimiser if progress.run is not None else None
        if opt is not None and (progress.current == "solve" or (progress.current == "build" and opt.has_plan)):
            opt.stop()  # passed on to CP-SAT once it is safe to (planner.optimise.cpsat.STOP_AFTER_SOLUTION_S)
            return
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


_SCHEDULER_FIX = ("check the address (start a cluster with `dask scheduler` and `dask worker tcp://HOST:PORT`), "
                  "or plan without --scheduler")


def _fail(code: int, problem: str, fix: str = "", details: list[str] | None = None) -> typer.Exit:
    """Print an error (what, the details, the fix) on stderr and return the exit to raise."""
    err = make_console(stderr=True)
    err.print(Text(f"error: {problem}", style="bold red"))
    for line in details or []:
        err.print(Text(f"  - {line}"))
    if fix:
        err.print(Text(f"fix: {fix}", style="green"))
    return typer.Exit(code)


class ModelChoice(StrEnum):
    """The optimiser's methods (see :class:`planner.optimise.optimiser.Optimiser`)."""

    auto = "auto"
    pods = "pods"
    sites = "sites"


@app.command(epilog=examples(
    "planner plan --greedy                 # fast baseline: output/reference/",
    "planner plan --force --time-limit 20  # CP-SAT; replaces output/reference/",
    "planner plan scenarios/reference.yaml --seed 7 --time-limit 10 --out s7",
    "planner plan --model sites --time-limit 10 --out output/sites",
))
def plan(
    scenario: ScenarioArg = None,
    *,
    out: Annotated[Path | None, typer.Option(
        "--out", file_okay=False, show_default=False,
        help="Results folder to write. \\[default: output/<scenario name>]")] = None,
    time_limit: Annotated[float, typer.Option(
        "--time-limit", min=0.1, metavar="<seconds>",
        help="Solver time limit, in CP-SAT's deterministic seconds (the same seed gives the same plan; "
             "wall time can run longer).")] = 60.0,
    seed: Annotated[int, typer.Option("--seed", metavar="<int>", help="Solver random seed.")] = 0,
    workers: Annotated[int, typer.Option(
        "--workers", min=1, metavar="<int>",
        help="Solver search workers, and processes that explain the left-out leases and write the results "
             "folder side by side.")] = 2,
    force: Annotated[bool, typer.Option("--force", help="Replace the results folder if it exists.")] = False,
    greedy: Annotated[bool, typer.Option(
        "--greedy", help="Use the fast greedy baseline instead of the optimiser (no bound, no gap).")] = False,
    model: Annotated[ModelChoice, typer.Option(
        "--model",
        help="pods: CP-SAT on the pod-level model; sites: site-level LP bound, then neighbourhood search "
             "(for instances too big for the pod-level model); auto: by size.")] = ModelChoice.auto,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", metavar="<url>", show_default=False,
        help="Dask scheduler, e.g. tcp://127.0.0.1:8786: the site-level neighbourhood search solves its "
             "neighbourhoods as tasks there (same plan, less wall time). \\[default: in this process]")] = None,
    batch: Annotated[int, typer.Option(
        "--batch", min=1, metavar="<int>",
        help="Neighbourhoods the site-level search re-packs at a time (at most this many tasks run at once on "
             "--scheduler; the plan depends on it, not on the cluster).")] = BATCH,
    pattern_rounds: Annotated[int, typer.Option(
        "--pattern-rounds", min=0, metavar="<int>",
        help="Site-level method: rounds of column generation on the pattern relaxation after the search (one "
             "knapsack per pod, priced on --scheduler if given); its bound is reported when tighter, and its "
             "master, solved as a MIP, gives a plan kept when better. Adds time beyond --time-limit (10-30 s a "
             "round for 200 pods, and half the limit for the MIP).")] = 0,
) -> None:
    """Plan a scenario and write its results folder: tables, plan.json, GIS layers, report.html.

    Shows each stage as it runs and, during the solve, the best plan's net
    value, the bound and the gap. Ctrl-C stops the search and writes the best
    plan found so far, marked interrupted. The folder is written whole or not
    at all.

    Exits 0 when the plan is written, 2 on input errors, an existing folder
    (use --force or --out) or one that cannot be written (a full disk), 3 when
    internal workloads cannot be placed, 130 after Ctrl-C.
    """
    err = make_console(stderr=True)
    if scheduler is not None:  # a wrong address fails in a moment, before any work
        try:
            check_scheduler(scheduler)
        except ConnectionError as exc:
            raise _fail(EXIT_INPUT_ERROR, str(exc), _SCHEDULER_FIX) from None
    progress = PlanProgress(err, time_limit_s=time_limit)
    t0 = time.perf_counter()
    try:
        with input_errors_exit(err), progress, _ctrl_c_handled(progress):
            run = plan_scenario(scenario, out_dir=out, force=force, time_limit_s=time_limit, seed=seed,
                                workers=workers, method="greedy" if greedy else "cp-sat", on_stage=progress.stage,
                                on_progress=progress.incumbent, model=model.value, scheduler=scheduler,
                                lns_batch=batch, pattern_rounds=pattern_rounds, on_reasons=progress.reasons)
    except OutputError as exc:  # the folder exists, cannot be made, or the disk refused the write
        raise _fail(EXIT_INPUT_ERROR, exc.problem, exc.fix) from None
    except (OSError, TimeoutError) as exc:  # the cluster went away during the search (the write is OutputError)
        if scheduler is None:
            raise
        raise _fail(EXIT_INPUT_ERROR, f"lost the Dask scheduler at {scheduler} during the {progress.current or 'run'}"
                    f": {exc}; nothing was written", _SCHEDULER_FIX) from None
    except InfeasibleError as exc:
        raise _fail(EXIT_INFEASIBLE, "internal workloads cannot all be placed, so there is no plan "
                    "(internal training is never bumped for leases):", "give them room -- more pods, power or "
                    "allowed sites, or fewer internal reservations in those weeks -- and run again",
                    exc.reasons) from None
    except KeyboardInterrupt:
        stage = STAGES.get(progress.current or "", "run")
        raise _fail(EXIT_INTERRUPTED, f"interrupted during {stage}; nothing was written") from None
    except NoPlanError as exc:  # the solver found no plan at all in its time limit
        if progress.current != "solve":
            raise
        if progress.interrupts:
            raise _fail(EXIT_INTERRUPTED, "interrupted before the solver found any plan; nothing was "
                        "written") from None
        raise _fail(EXIT_NO_PLAN, str(exc), "raise --time-limit, or plan with --greedy") from None
    assert run.plan is not None
    _print_result(run.plan, run.out_dir, total_s=time.perf_counter() - t0, sc=run.scenario)
    stops = run.plan.facts.safety_stops if run.plan.facts is not None else []
    if stops:
        err.print(f"Safety stop: the wall clock cut short {', '.join(str(s['step']) for s in stops)}; this plan may "
                  "differ from another run's (plan.json and the report say so).", style="yellow", highlight=False)
    if run.plan.interrupted:
        err.print("Interrupted: this is the best plan found before Ctrl-C (plan.json and the report say so).",
                  style="yellow", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED)


def _print_result(result: Plan, out_dir: Path | None, *, total_s: float, sc: Scenario | None = None) -> None:
    """The leases left out (the most revenue first), then the run's figures last, where they stay in view."""
    out = make_console()
    narrow = out.width < WIDE_CONSOLE
    shown = UNPLACED_SHOWN_NARROW if narrow else UNPLACED_SHOWN
    n = len(result.unplaced)
    if n:
        out.print(unplaced_view(result, limit=shown, narrow=narrow))
    if n > shown:
        out.print(f"... and {n - shown} more; {out_dir}{os.sep}unplaced.csv lists every one with its fix.",
                  highlight=False)
    out.print(plan_summary(result, out_dir=out_dir, total_s=total_s, sc=sc))


# --------------------------------------------------------------------------- export
class ExportFormat(StrEnum):
    """The formats of ``planner export`` (see :data:`planner.run.EXPORT_FORMATS`)."""

    geojson = "geojson"
    gpkg = "gpkg"
    kml = "kml"
    graphml = "graphml"
    routes = "routes"
    layers = "layers"


@app.command(epilog=examples(
    "planner export --format gpkg --out reference.gpkg",
    "planner export scenarios/reference.yaml --out reference.kml",
    "planner export --format graphml --out reference.graphml",
    "planner export --format routes --out routes.geojson",
    "planner export --format layers --out layers",
))
def export(
    scenario: ScenarioArg = None,
    *,
    fmt: Annotated[ExportFormat | None, typer.Option(
        "--format", "-f", case_sensitive=False, show_default=False, metavar="<format>",
        help="geojson, gpkg (GeoPackage, QGIS), kml (Google Earth), graphml (Gephi, yEd), routes (span "
             "routes to edit) or layers (a folder, one GeoJSON file per layer). \\[default: from the --out suffix, "
             "else geojson]")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", show_default=False,
        help="File (layers: folder) to write. \\[default: output/<scenario name>-topology.<suffix>]")] = None,
    force: Annotated[bool, typer.Option(
        "--force", help="Replace --out if it is an existing file (never one of the scenario's input files).")] = False,
) -> None:
    """Write a scenario's topology alone -- campuses, PoPs, DCI spans, amplifiers -- before any plan.

    The format comes from --format, else from the --out suffix. Routes writes
    the spans' route lines as the GeoJSON a scenario reads back as
    files.routes: edit them in a GIS tool, then point the scenario at the file.
    An existing file is replaced only with --force, and never when it is one
    of the scenario's input files or not a regular file.

    Exits 0 when the file is written, 2 when the scenario has errors.
    """
    sc = load_or_exit(scenario)
    name = export_format(out, fmt.value if fmt is not None else None)
    path = out or default_export_path(sc, name)
    try:
        export_topology(sc, path, fmt=name, force=force)
    except OutputError as exc:
        raise _fail(EXIT_INPUT_ERROR, exc.problem, exc.fix) from None
    make_console().print(f"wrote {path} ({name}: {EXPORT_FORMATS[name][1]})", highlight=False, markup=False)


# --------------------------------------------------------------------------- commands from other modules
# A module of commands takes its helpers from planner.cli.console and is registered here, one line each.
whatif_commands.register(app)  # failures, derate, sweep
generate_commands.register(app)  # generate
import_commands.register(app)  # import topology
quote_commands.register(app)  # quote


def main() -> None:
    """Run the ``planner`` command line (the console script's entry point)."""
    app(prog_name="planner")
