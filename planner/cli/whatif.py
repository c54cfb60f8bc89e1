"""The what-if commands of the ``planner`` command line: ``failures``, ``derate`` and ``sweep``.

A thin layer over :mod:`planner.whatif`; :func:`register` adds the commands to the
main app. Library modules (OR-Tools, Dask, GIS) are imported inside the commands,
so ``planner --help`` stays fast. Exit codes as in :mod:`planner.cli`: 0 success;
1 no plan in the time limit; 2 bad input (scenario, plan, grid, options, an
unreachable scheduler); 3 internal workloads do not fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Column, Table
from rich.text import Text

from planner.cli.console import (
    EXIT_INFEASIBLE,
    EXIT_INPUT_ERROR,
    EXIT_NO_PLAN,
    ScenarioArg,
    examples,
    fit_table,
    input_errors_exit,
    load_or_exit,
    make_console,
    print_problems,
)

if TYPE_CHECKING:
    import pandas as pd

    from planner.plan import Plan
    from planner.scenario import Scenario

__all__ = ["derate", "failures", "register", "sweep"]

PlanOpt = Annotated[Path | None, typer.Option(
    "--plan", help="A plan.json (or the results folder holding it) to analyse; without it the scenario is "
                   "solved first.", show_default=False)]
SchedulerOpt = Annotated[str | None, typer.Option(
    "--scheduler", metavar="<url>", help="Dask scheduler to use, e.g. tcp://127.0.0.1:8786 "
                                       "\\[default: a local cluster, closed after]", show_default=False)]
SerialOpt = Annotated[bool, typer.Option("--serial", help="Run the tasks in this process, one after another.")]
WorkersOpt = Annotated[int, typer.Option("--workers", min=1, metavar="<int>",
                                         help="Worker processes of the local Dask cluster.")]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, metavar="<int>", help="CP-SAT random seed.")]
ForceOpt = Annotated[bool, typer.Option("--force", help=(
    "Replace the output folder if it exists (only one this command wrote before)."))]
MovePenaltyOpt = Annotated[float | None, typer.Option("--move-penalty", min=0, metavar="<usd>", show_default=False,
                                                     help=(
    "Cost of moving or dropping a lease in re-plans, USD \\[default: the scenario's move_penalty_usd]"))]


def _consoles() -> tuple[Console, Console]:
    return make_console(), make_console(stderr=True)


def _fail(err: Console, problem: str, fix: str = "", details: list[str] | None = None,
          code: int | None = None) -> typer.Exit:
    """Print an error (what, the details, the fix) and return the exit to raise (code 2 by default)."""
    err.print(Text(f"error: {problem}", style="bold red"), soft_wrap=True)
    for line in details or []:
        err.print(Text(f"  - {line}"), soft_wrap=True)
    if fix:
        err.print(Text(f"fix: {fix}", style="green"), soft_wrap=True)
    return typer.Exit(EXIT_INPUT_ERROR if code is None else code)


def _load(scenario: Path | None, err: Console) -> Scenario:
    return load_or_exit(scenario, console=err)


def _inputs(scenario: Path | None, plan_path: Path | None, err: Console) -> tuple[Scenario, Plan | None]:
    """The scenario and, with ``plan_path``, the saved plan (its recorded scenario unless one is given); or exit 2."""
    if plan_path is None:
        return _load(scenario, err), None
    from planner.results import read_results

    with input_errors_exit(err):
        r = read_results(plan_path, scenario)
    return r.scenario, r.plan


def _solve(sc: Scenario, time_limit_s: float, seed: int, err: Console) -> Plan:
    """Solve ``sc`` first (no --plan given), or exit 1 (no plan) or 3 (internal work does not fit)."""
    from planner.errors import InfeasibleError
    from planner.optimise.optimiser import optimise

    with err.status(f"Solving {sc.name} first ({time_limit_s:g} s limit; give --plan to analyse a saved plan)..."):
        try:
            plan = optimise(sc, time_limit_s=time_limit_s, seed=seed)
        except InfeasibleError as exc:
            raise _fail(err, "the scenario has no plan: internal workloads do not fit",
                        "add capacity or lower internal demand", exc.reasons, code=EXIT_INFEASIBLE) from None
        except RuntimeError as exc:
            raise _fail(err, str(exc), "raise --time-limit", code=EXIT_NO_PLAN) from None
    err.print(Text(f"Plan: {plan.status}, revenue ${plan.revenue_usd:,.0f}, "
                   f"{plan.placements['lease'].nunique()} leases placed, gap {plan.gap:.1%}"))
    return plan


def _where(scheduler: str | None, serial: bool, workers: int) -> str:
    if serial:
        return "in-process"
    return f"on {scheduler}" if scheduler else f"on a local Dask cluster ({workers} workers, 127.0.0.1)"


def _check_where(scheduler: str | None, serial: bool, err: Console) -> None:
    """Refuse --scheduler with --serial, and a scheduler that does not answer (before any solve)."""
    if scheduler is not None and serial:
        msg = "give --scheduler or --serial, not both"
        raise typer.BadParameter(msg, param_hint="--serial")
    if scheduler is not None:
        from planner.scheduler import check_scheduler

        with _cluster_errors(err, scheduler):
            check_scheduler(scheduler)


@contextmanager
def _progress(err: Console, what: str, total: int) -> Iterator[Callable[[int, int, str], None]]:
    """A rich progress bar over tasks; yields the library's ``on_progress`` callback."""
    # The last task's key wraps (at its commas) rather than being cut, so the bar fits 80 columns.
    columns = (SpinnerColumn(), TextColumn("{task.description}", table_column=Column(no_wrap=True)),
               BarColumn(bar_width=20), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("{task.fields[last]}", style="dim", table_column=Column(overflow="fold")))
    with Progress(*columns, console=err, transient=False) as bar:
        task = bar.add_task(what, total=total, last="")

        def update(done: int, n: int, key: str) -> None:
            bar.update(task, completed=done, total=n, last=key.replace(",", ", "))

        yield update


@contextmanager
def _exists_errors(err: Console) -> Iterator[None]:
    """An output folder that may not be replaced (or cannot be written): exit 2 with the fix."""
    from planner.run import RunExistsError

    try:
        yield
    except RunExistsError as exc:
        raise _fail(err, exc.problem, exc.fix) from None
    except OSError as exc:
        raise _fail(err, f"cannot write {exc.filename or 'the output folder'}: {exc.strerror or exc}",
                    "choose another folder with --out, or free some space") from None


@contextmanager
def _cluster_errors(err: Console, scheduler: str | None) -> Iterator[None]:
    try:
        yield
    except (OSError, TimeoutError) as exc:
        where = f"the Dask scheduler at {scheduler}" if scheduler else "a local Dask cluster"
        problem = str(exc) if scheduler and scheduler in str(exc) else f"cannot run on {where}: {exc}"
        raise _fail(err, problem,
                    "check the address (start a cluster with `dask scheduler` and `dask worker tcp://HOST:PORT`), "
                    "or run with --serial") from None


def _money(x: Any) -> Text:
    return Text("-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"${x / 1e6:,.1f}M",
                justify="right")


def _num(x: Any, fmt: str = ",.0f") -> Text:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return Text("-", justify="right")
    return Text(format(x, fmt), justify="right")


def _names(values: Any, limit: int = 4) -> Text:
    if not isinstance(values, tuple | list) or not values:
        return Text("")
    shown = ", ".join(map(str, values[:limit]))
    return Text(shown + (f" +{len(values) - limit}" if len(values) > limit else ""))


def _failures_table(cases: pd.DataFrame, top: int | None) -> Table:
    """The cut cases, worst first; every count is of lease replicas."""
    t = Table(title="Cut cases, by revenue at risk (counts are lease replicas)", title_justify="left")
    for name, right in (("#", True), ("case", False), ("spans cut", False), ("replicas affected", True),
                        ("replicas rerouted", True), ("replicas SLO lost", True), ("replicas stranded", True),
                        ("over capacity", False), ("at risk", True), ("+ms", True), ("survivable", False)):
        t.add_column(name, justify="right" if right else "left", no_wrap=name in ("case", "at risk"))
    rows = cases if top is None else cases.head(top)
    for r in rows.itertuples(index=False):
        if r.status != "ok":
            cells = [Text(str(r.rank)), Text(r.case), _names(r.spans), *[Text("")] * 7,
                     Text(f"failed: {r.error}", style="red")]
        else:
            cells = [Text(str(r.rank)), Text(r.case), _names(r.spans), _num(r.replicas_affected),
                     _num(r.replicas_rerouted), _num(r.replicas_slo_lost), _num(r.replicas_stranded),
                     _names(r.overloaded_spans, 3), _money(r.revenue_at_risk_usd),
                     _num(r.worst_added_latency_ms, ".2f"),
                     Text("yes", style="green") if r.survivable else Text("no", style="yellow")]
        t.add_row(*cells)
    return t


def _replan_table(cases: pd.DataFrame, top: int | None) -> Table:
    """Each case's re-plan, in the cases' order; every count is of leases."""
    t = Table(title="Re-plans after each cut (counts are leases)", title_justify="left")
    for name in ("#", "case", "status", "leases moved", "leases dropped", "revenue kept"):
        t.add_column(name, justify="left" if name in ("case", "status") else "right")
    rows = cases if top is None else cases.head(top)
    for r in rows.to_dict("records"):
        status = str(r.get("replan_status") or r.get("status"))
        t.add_row(Text(str(r["rank"])), Text(str(r["case"])), Text(status), _num(r.get("n_moved")),
                  _num(r.get("n_dropped")), _money(r.get("revenue_kept_usd")))
    return t


def failures(
    scenario: ScenarioArg = None,
    *,
    plan: PlanOpt = None,
    replan: Annotated[bool, typer.Option("--replan", help=(
        "Also re-optimise every case from the plan with minimal moves (CP-SAT per case).")) ] = False,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, metavar="<seconds>", help=(
        "Time limit of the first solve when no --plan is given, s."))] = 20.0,
    replan_time_limit: Annotated[float, typer.Option("--replan-time-limit", min=0.1, metavar="<seconds>", help=(
        "Time limit of each re-plan, s."))] = 10.0,
    move_penalty: MovePenaltyOpt = None,
    seed: SeedOpt = 0,
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    workers: WorkersOpt = 2,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, show_default=False, help=(
        "Output folder, written whole with the plan analysed (plan.json) \\[default: add the files to the "
        "--plan's results folder, else output/<scenario>-failures]"))] = None,
    force: ForceOpt = False,
    top: Annotated[int | None, typer.Option("--top", min=1, metavar="<int>", show_default=False,
                                            help="Print only the worst N cases (all are written).")] = None,
) -> None:
    """Cut every fibre conduit and every span in turn: which leases lose their SLO or their path, and what is at risk.

    Each case re-routes the plan's traffic over the fibre that is left, without moving
    any lease; with --replan it is also re-optimised from the plan. Cases run as tasks
    on a local Dask cluster (or --scheduler, or --serial). Writes failures.csv,
    failure_routes.csv and failures.geojson / .gpkg (cut spans, affected and new routes).
    SCENARIO may also be a results folder (output/<run>): its plan.json is analysed,
    against the scenario it records (refused if an input file changed since).

    Exits 0 when the cases are written; 2 on bad input (scenario, plan, options,
    an unreachable scheduler, an output folder that exists); when no --plan is given
    and the first solve fails, 1 if it finds no plan in its time limit, 3 if internal
    workloads do not fit.
    """
    out_con, err = _consoles()
    _check_where(scheduler, serial, err)  # first: a wrong scheduler fails in a moment
    from planner.results import plan_file
    from planner.run import check_out_dir
    from planner.whatif import cut_cases, failure_analysis, failure_summary, write_failures

    if scenario is not None and scenario.is_dir():  # a results folder: its plan, and its scenario if recorded
        if plan is not None:
            msg = "give a results folder or --plan, not both"
            raise typer.BadParameter(msg, param_hint="SCENARIO")
        plan, scenario = scenario, None
    sc, saved = _inputs(scenario, plan, err)
    into_run = plan is not None and out is None  # add the files to the plan's own results folder
    out_dir = plan_file(plan).parent if into_run and plan is not None else out or Path("output") / f"{sc.name}-failures"
    if not into_run:
        with _exists_errors(err):  # refuse the folder before any solve, not after
            check_out_dir(out_dir, force=force)
    the_plan = saved if saved is not None else _solve(sc, time_limit, seed, err)
    cases = cut_cases(sc)
    where = _where(scheduler, serial, workers)
    err.print(Text(f"{len(cases)} cut cases ({sum(c.kind == 'srlg' for c in cases)} conduits, "
                   f"{sum(c.kind == 'span' for c in cases)} single spans), {where}"))
    with _cluster_errors(err, scheduler), _progress(err, "cut cases", len(cases)) as on_progress:
        report = failure_analysis(sc, the_plan, cases, replan=replan, time_limit_s=replan_time_limit, seed=seed,
                                  move_penalty_usd=move_penalty, scheduler=scheduler, serial=serial,
                                  n_workers=workers, on_progress=on_progress)
    with _exists_errors(err):
        paths = write_failures(sc, report, out_dir, plan=the_plan, with_plan=not into_run, force=force)
    out_con.print(fit_table(_failures_table(report.cases, top), out_con))
    if replan:
        out_con.print(fit_table(_replan_table(report.cases, top), out_con))
    s = failure_summary(report)
    out_con.print(Text(f"{s.cases} cases: {s.survivable} survivable, {s.not_survivable} not"
                       + (f", {len(s.failed)} failed ({', '.join(s.failed)})" if s.failed else "")))
    out_con.print(Text("Campuses stay connected in every case." if not s.campuses_cut_apart_by
                       else f"Campuses cut apart by: {', '.join(s.campuses_cut_apart_by)}"))
    out_con.print(Text("The inter-campus routes carry the re-routed inter-campus traffic in every case."
                       if not s.inter_campus_lost_in
                       else f"Inter-campus traffic loses its SLO or path in: {', '.join(s.inter_campus_lost_in)}"))
    if s.tail_cases:
        out_con.print(Text(f"Inter-campus traffic stranded or slowed past the last campus, by full spans on the way "
                           f"to its PoP ({', '.join(s.tail_spans)}), in: {', '.join(s.tail_cases)}"))
    if s.replan_violations_in:
        out_con.print(Text(f"Re-plans with violations: {', '.join(s.replan_violations_in)}", style="red"))
    out_con.print(Text(f"Wrote {', '.join(str(p) for p in paths.values())}"))


def _weeks(text: str) -> tuple[int, int]:
    """``--weeks A-B`` as a pair of weeks (:func:`planner.whatif.derate.parse_weeks`), or a usage error."""
    from planner.whatif.derate import parse_weeks

    try:
        return parse_weeks(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--weeks") from None


def derate(
    scenario: ScenarioArg = None,
    *,
    site: Annotated[str, typer.Option("--site", metavar="<site>", help="The campus derated (site id).",
                                      show_default=False)],
    percent: Annotated[float, typer.Option("--percent", metavar="<percent>", help="Share of its available MW lost, %.",
                                           show_default=False)],
    weeks: Annotated[str, typer.Option("--weeks", metavar="<a-b>", help="First and last week of the derate.",
                                       show_default=False)],
    plan: PlanOpt = None,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, metavar="<seconds>",
                                              help="Time limit of each solve, s.")] = 20.0,
    move_penalty: MovePenaltyOpt = None,
    seed: SeedOpt = 0,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, show_default=False, help=(
        "Write the results folder of the plan after the derate here, with curtailed.csv, moved.csv, "
        "site_power.csv and the before/after comparison in report.html."))] = None,
    force: ForceOpt = False,
) -> None:
    """Cut a campus's power by X % for some weeks: which leases must go (least revenue lost) and the plan after.

    Re-plans from the plan with minimal moves; prints the leases curtailed and moved.
    With --plan RUN the plan is read from a results folder, against the scenario it
    records.

    Exits 0 when the re-plan is found (leases may be curtailed); 2 on bad input
    (scenario, plan, site, percent, weeks, an output folder that exists); 1 when a
    solve finds no plan in its time limit; 3 when internal workloads no longer fit
    the derated campus (derate less, or for fewer weeks).
    """
    from planner.errors import InfeasibleError
    from planner.whatif import derate as derate_fn
    from planner.whatif import derated_scenario, write_derate

    a, b = _weeks(weeks)
    out_con, err = _consoles()
    if out is not None:
        from planner.run import check_out_dir

        with _exists_errors(err):  # refuse the folder before solving, not after
            check_out_dir(out, force=force)
    sc, saved = _inputs(scenario, plan, err)
    try:
        derated_scenario(sc, site, percent, (a, b))
    except ValueError as exc:
        raise _fail(err, f"bad derate: {exc}", "see `planner derate --help`") from None
    the_plan = saved if saved is not None else _solve(sc, time_limit, seed, err)
    with err.status(f"Re-planning with {site} at -{percent:g}% in weeks {a}-{b} ({time_limit:g} s limit)..."):
        try:
            r = derate_fn(sc, the_plan, site, percent, (a, b), time_limit_s=time_limit, seed=seed,
                          move_penalty_usd=move_penalty)
        except InfeasibleError as exc:
            raise _fail(err, "internal workloads no longer fit after the derate", "derate less, or for fewer weeks",
                        exc.reasons, code=EXIT_INFEASIBLE) from None
    t = Table(title=f"Curtailed: {len(r.curtailed)} leases, ${r.revenue_lost_usd:,.0f}", title_justify="left")
    for name in ("lease", "tenant", "priority", "GPUs", "weeks", "sites before", "revenue", "reason"):
        t.add_column(name)
    for c in r.curtailed.to_dict("records"):
        t.add_row(Text(str(c["lease"])), Text(str(c["tenant"])), Text(str(c["priority"])),
                  _num(int(c["gpus"]) * int(c["replicas"])), Text(f"{c['start_week']}-{c['end_week']}"),
                  Text(str(c["sites_before"])), _money(c["revenue_usd"]), Text(str(c["reason"])))
    out_con.print(fit_table(t, out_con))
    out_con.print(Text(f"Moved: {', '.join(r.moved) if r.moved else 'none'}"))
    out_con.print(Text(f"Revenue ${r.revenue_before_usd:,.0f} -> ${r.revenue_after_usd:,.0f}; plan after: "
                       f"{r.plan.status}, gap {r.plan.gap:.1%}, "
                       + ("passes every check" if not r.violations else f"{len(r.violations)} violations")))
    if out is not None:
        with _exists_errors(err):
            written = write_derate(r, out, force=force)
        out_con.print(Text(f"Wrote {written}/ (plan.json, report.html with the before/after comparison, "
                           "curtailed.csv, moved.csv, site_power.csv and the plan's tables)"))


def sweep(
    scenario: ScenarioArg = None,
    *,
    grid: Annotated[Path, typer.Option("--grid", help="Grid YAML: values per parameter (see examples/sweep_grid.yaml).",
                                       show_default=False)],
    scheduler: SchedulerOpt = None,
    serial: SerialOpt = False,
    workers: WorkersOpt = 2,
    out: Annotated[Path | None, typer.Option("--out", file_okay=False, show_default=False, help=(
        "Output folder \\[default: output/<scenario>-sweep]"))] = None,
    force: ForceOpt = False,
) -> None:
    """Solve every combination of a grid of scenario variations and tabulate and chart the results.

    Parameters: demand_growth, price_factor, slo_factor, span_capacity_factor,
    extra_pods, api_price_factor, api_demand_factor, time_limit_s (at most 1,000
    points). Points run as tasks on a local
    Dask cluster (or --scheduler, or --serial). Writes sweep.csv, sweep.png and
    sweep.svg into a new folder (whole or not at all).

    Exits 0 when every point is solved and written; 1 when any point has no plan
    (each is named with its reason); 2 on bad input (scenario, grid, options, an
    unreachable scheduler, an output folder that exists).
    """
    out_con, err = _consoles()
    _check_where(scheduler, serial, err)  # first: a wrong scheduler fails in a moment
    from planner.run import check_out_dir
    from planner.whatif import GridError, failed_points, read_grid, write_sweep
    from planner.whatif import sweep as sweep_fn

    sc = _load(scenario, err)
    try:
        g = read_grid(grid, sc)
    except GridError as exc:
        print_problems(err, exc.problems)
        raise typer.Exit(EXIT_INPUT_ERROR) from None
    out_dir = out or Path("output") / f"{sc.name}-sweep"
    with _exists_errors(err):  # refuse the folder before solving, not after
        check_out_dir(out_dir, force=force, marker="sweep.csv")
    points = g.points()
    where = _where(scheduler, serial, workers)
    err.print(Text(f"{len(points)} sweep points, {where}"))
    with _cluster_errors(err, scheduler), _progress(err, "sweep points", len(points)) as on_progress:
        table = sweep_fn(sc, g, scheduler=scheduler, serial=serial, n_workers=workers, on_progress=on_progress)
    with _exists_errors(err):
        paths = write_sweep(table, out_dir, force=force)
    t = Table(title="Sweep", title_justify="left")
    params = list(g.parameters)
    apis = bool(table["api_revenue_usd"].fillna(0).gt(0).any())  # leases against APIs, when some point serves them
    api_names = ["lease revenue", "API revenue", "API GPUs (peak)"] if apis else []
    for name in [*params, "status", "revenue", "net value", *api_names, "GPUs leased (peak)", "GPU util (mean)",
                 "gap"]:
        t.add_column(name.replace("_", " "), justify="left" if name == "status" else "right")
    for r in table.to_dict("records"):
        api_cells = ([_money(r["lease_revenue_usd"]), _money(r["api_revenue_usd"]), _num(r["api_gpus_peak"])]
                     if apis else [])
        t.add_row(*[_num(r[p], "g") for p in params], Text(str(r["status"])), _money(r["revenue_usd"]),
                  _money(r["net_value_usd"]), *api_cells, _num(r["gpus_leased_peak"]),
                  _num(r["gpu_utilisation_mean"], ".1%"), _num(r["gap"], ".1%"))
    out_con.print(fit_table(t, out_con))
    out_con.print(Text(f"Wrote {', '.join(map(str, paths.values()))}"))
    failed = failed_points(table)
    if len(failed):
        err.print(Text(f"error: {len(failed)} of {len(table)} sweep points have no plan:", style="bold red"))
        for r in failed.to_dict("records"):
            knobs = ", ".join(f"{k}={r[k]:g}" for k in g.parameters)
            err.print(Text(f"  - point {r['point']} ({knobs}): {r['status']}: {r['error'] or 'no reason given'}"),
                      soft_wrap=True)
            err.print(Text(f"    fix: {r['fix']}", style="green"), soft_wrap=True)
        raise typer.Exit(EXIT_NO_PLAN)


def register(app: typer.Typer) -> None:
    """Add ``failures``, ``derate`` and ``sweep`` to a Typer app (the main ``planner`` app)."""
    app.command(epilog=examples(
        "planner plan --greedy             # a plan to cut: output/reference/",
        "planner failures output/reference --serial   # its cases, in this process",
        "planner failures --plan output/reference --top 5   # on a local cluster",
        "planner failures --time-limit 10 --serial --out output/cuts  # solve first"))(failures)
    app.command(epilog=examples(
        "planner plan --greedy             # a plan to derate: output/reference/",
        "planner derate --site OH-NAL --percent 15 --weeks 7-12 \\",
        "    --plan output/reference       # heat wave: which leases go?",
        "planner derate --site LA-RCH --percent 25 --weeks 27-31 --time-limit 10 \\",
        "    --out output/derate           # solve first, then re-plan"))(derate)
    app.command(epilog=examples(
        "planner sweep --grid examples/sweep_grid.yaml  # on a local Dask cluster"))(sweep)
