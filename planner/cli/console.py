"""The command line's shared parts: exit codes, loading with a problem table, rich tables, live progress.

Only the command line uses this module (the modules of :mod:`planner.cli`, which
import their helpers from here); the library itself never prints. Every
cell is a :class:`rich.text.Text`, so brackets in ids or fixes (``sites[0].lat``,
``[lon, lat]``) are shown as written, never read as rich markup. Output stays
ASCII apart from the table borders, which rich draws in ASCII when the output
stream cannot encode box characters.
"""

from __future__ import annotations

import contextlib
import inspect
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markup import escape
from rich.measure import Measurement
from rich.padding import Padding
from rich.spinner import Spinner
from rich.table import Table
from rich.text import Text
from typer.core import TyperCommand, TyperGroup, TyperOption

from planner.errors import Problem, ScenarioError
from planner.plan import Plan, relative_gap
from planner.run import STAGES, PlanRun
from planner.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from planner.optimise.optimiser import Progress

__all__ = [
    "EXAMPLE_WIDTH",
    "EXIT_INFEASIBLE",
    "EXIT_INPUT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_NO_PLAN",
    "HelpGroup",
    "PlanProgress",
    "ScenarioArg",
    "api_line",
    "count",
    "examples",
    "fit_table",
    "input_errors_exit",
    "latency_table",
    "load_or_exit",
    "make_console",
    "plain_help",
    "plan_summary",
    "print_problems",
    "problems_table",
    "site_pairs_lines",
    "sites_table",
    "spans_table",
    "stacked",
    "stage_detail",
    "unplaced_table",
    "unplaced_view",
    "usd",
]

EXIT_NO_PLAN = 1
"""Exit code when the solver found no plan in its time limit."""
EXIT_INPUT_ERROR = 2
"""Exit code when the scenario's files have errors, or an output would be overwritten."""
EXIT_INFEASIBLE = 3
"""Exit code when internal workloads cannot all be placed."""
EXIT_INTERRUPTED = 130
"""Exit code after Ctrl-C (128 + SIGINT), as shells use."""

WIDE_CONSOLE = 120
"""Consoles at least this wide keep problem files, places and fields on one line."""

ScenarioArg = Annotated[
    Path | None,
    typer.Argument(help="Scenario YAML file. \\[default: scenarios/reference.yaml]", show_default=False,
                   metavar="SCENARIO"),
]
"""The optional SCENARIO argument every command that reads a scenario takes."""

NON_TERMINAL_WIDTH = 160
"""Width of the output when it is not a terminal (a file, a pipe, CI) and ``COLUMNS`` is unset."""

_SEVERITY_STYLE = {"error": "bold red", "warning": "yellow"}


def make_console(*, stderr: bool = False) -> Console:
    """A console on stdout (or stderr) that also reads well when redirected.

    When the stream is not a terminal, rich would assume 80 columns and wrap
    every table cell; this console takes ``COLUMNS`` when set, else
    :data:`NON_TERMINAL_WIDTH`. Colours are dropped automatically off a terminal.

    Examples
    --------
    >>> make_console(stderr=True).stderr
    True
    """
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = NON_TERMINAL_WIDTH
    return console


def examples(*commands: str) -> str:
    r"""A help epilog listing example command lines (shown under ``--help``).

    The examples of a command run as shown, in the order given, from a fresh
    copy of the project folder (with the bundled reference scenario), each with
    exit code 0 (tests/test_terminal.py runs them). A line ending in ``\``
    goes on in the next one, which starts with spaces. Keep lines within
    :data:`EXAMPLE_WIDTH` characters, so that each stays whole on an 80-column terminal.

    Examples
    --------
    >>> print(examples("planner plan --time-limit 10 \\", "    --out output/ten"))
    [bold]Examples[/bold]
    $ planner plan --time-limit 10 \
        --out output/ten
    """
    def line(c: str) -> str:
        text = escape(c.removesuffix("\\")) + ("\\" if c.endswith("\\") else "")  # a lone "\" needs no escape
        return text if c.startswith(" ") else f"$ {text}"

    return "[bold]Examples[/bold]\n" + "\n".join(line(c) for c in commands)


EXAMPLE_WIDTH = 76
"""The longest example line, ``$ `` included, that an 80-column help shows on one line (rich pads 1 each side)."""


def _reflow(text: str) -> str:
    r"""Docstring paragraphs as one line each, so that help wraps them to the terminal.

    Examples
    --------
    >>> _reflow("First line.\n\n    Second paragraph,\n    two lines.")
    'First line.\n\nSecond paragraph, two lines.'
    """
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(" ".join(line.strip() for line in p.splitlines()) for p in paragraphs)


def plain_help(command: TyperCommand | TyperGroup) -> None:
    """Show a command's option types one way, and let its help prose wrap to the terminal.

    Typer shows an option's value in angle brackets (``<dir>``, ``<int range>``,
    ``<seconds>`` where the option names it); a flag takes no value, so it shows
    none (Typer would print ``<bool>``). Rich help keeps a docstring's line breaks,
    which at 80 columns leave half-empty lines; each paragraph is joined into one line.
    """
    if command.help:
        command.help = _reflow(command.help)
    ctx = typer.Context(command, info_name=command.name)
    for param in [*command.params, command.get_help_option(ctx)]:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""


class HelpGroup(TyperGroup):
    """The ``planner`` command group: :func:`plain_help` applied to it and to every command below it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        stack: list[Any] = [self]
        while stack:
            command = stack.pop()
            if isinstance(command, TyperCommand | TyperGroup):
                plain_help(command)
            if isinstance(command, TyperGroup):
                stack += command.commands.values()


def count(n: int, word: str) -> str:
    """A count and a word, plural when needed.

    Examples
    --------
    >>> count(1, "site"), count(1200, "lease")
    ('1 site', '1,200 leases')
    """
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def print_problems(console: Console, problems: list[Problem]) -> None:
    """Print problems as one table, with a count line under it."""
    n_err = sum(p.severity == "error" for p in problems)
    parts = [count(n, word) for n, word in ((n_err, "error"), (len(problems) - n_err, "warning")) if n]
    console.print(problems_table(problems, narrow=console.width < WIDE_CONSOLE))
    console.print(f"{' and '.join(parts)} in {count(len({p.file for p in problems}), 'file')}.", highlight=False)


@contextlib.contextmanager
def input_errors_exit(console: Console) -> Iterator[None]:
    """Turn a :class:`~planner.errors.ScenarioError` inside the block into a table of problems and exit 2.

    Raises
    ------
    typer.Exit
        With code :data:`EXIT_INPUT_ERROR` when the scenario has errors.
    """
    try:
        yield
    except ScenarioError as exc:
        print_problems(console, exc.problems)
        console.print("Nothing was loaded; fix the errors above and run the command again.", style="red",
                      highlight=False)
        raise typer.Exit(EXIT_INPUT_ERROR) from None


def load_or_exit(path: Path | None, *, console: Console | None = None, show_warnings: bool = True) -> Scenario:
    """Load a scenario, or print every problem in it as a table and exit with code 2.

    Every command that reads a scenario goes through here (or :func:`input_errors_exit`),
    so that input errors always look the same and never end in a traceback.

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
    with input_errors_exit(console):
        sc = load_scenario(path)
    if show_warnings and sc.warnings:
        console.print(f"{count(len(sc.warnings), 'warning')} in the scenario; `planner validate` lists them.",
                      style="yellow", highlight=False)
    return sc


def _num(x: object, fmt: str = ",.0f", *, nan: str = "-") -> Text:
    """A right-aligned number cell; ``nan`` for missing values."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return Text(nan, justify="right")
    return Text(format(x, fmt), justify="right")


def problems_table(problems: Iterable[Problem], *, title: str = "", narrow: bool = False) -> Table:
    """Every problem as one row: severity, file, place, field, value, problem, fix.

    On a ``narrow`` console (under ~120 columns) each row holds the same facts
    in two columns: the place on one line, the problem and the fix under it.

    Examples
    --------
    >>> p = Problem("sites.yaml", "line 4", "sites[0].lat", "95.0", "latitude out of range",
    ...             "use decimal degrees between -90 and 90")
    >>> import io
    >>> con = Console(width=120, file=io.StringIO())
    >>> con.print(problems_table([p]))
    >>> row = next(line for line in con.file.getvalue().splitlines() if "line 4" in line)
    >>> [cell.strip() for cell in row.split("│")[1:-1]][:5]
    ['error', 'sites.yaml', 'line 4', 'sites[0].lat', '95.0']
    """
    table = Table(title=title or None, title_justify="left", show_lines=True)
    table.add_column("", no_wrap=True)
    if narrow:
        table.add_column("file, place, field = value / problem / fix", overflow="fold")
        for p in problems:
            head = ", ".join(x for x in (p.file, p.where, p.field and f"field {p.field}") if x)
            cell = Text(head + (f" = {p.value}" if p.value else ""), style="bold")
            cell.append(f"\n{p.message}", style="")
            cell.append(f"\nfix: {p.fix}", style="green")
            table.add_row(Text(p.severity, style=_SEVERITY_STYLE[p.severity]), cell)
        return table
    for name in ("file", "place", "field"):  # kept on one line, so that they can be searched for
        table.add_column(name, no_wrap=True, overflow="fold")
    for name in ("value", "problem", "fix"):
        table.add_column(name, overflow="fold")
    for p in problems:
        table.add_row(Text(p.severity, style=_SEVERITY_STYLE[p.severity]), Text(p.file), Text(p.where),
                      Text(p.field), Text(p.value), Text(p.message), Text(p.fix, style="green"))
    return table


def _plain(cell: object) -> str:
    """A table cell's text on one line."""
    text = cell.plain if isinstance(cell, Text) else str(cell)
    return " ".join(text.split())


LONG_VALUE = 32
"""In :func:`stacked`, values longer than this get a line of their own."""


def stacked(table: Table) -> Group:
    """A table as one block per row, for a console too narrow for its columns.

    The first cell (with a ``#`` rank before it) heads the block; the other
    cells follow as ``header: value`` pairs that wrap under it, and long values
    (reasons, lists of names) each take a line of their own. Nothing is cut:
    every value is shown whole.

    Examples
    --------
    >>> import io
    >>> t = Table(title="Cut cases")
    >>> for h in ("#", "case", "at risk", "survivable"):
    ...     t.add_column(h)
    >>> t.add_row("1", "srlg:I80-PIT-NYC", "$618.3M", "no")
    >>> con = Console(width=40, file=io.StringIO())
    >>> con.print(stacked(t))
    >>> print(con.file.getvalue().rstrip())
    Cut cases
    1. srlg:I80-PIT-NYC
      at risk: $618.3M; survivable: no
    """
    columns = table.columns
    cells = [list(c.cells) for c in columns]
    headers = [_plain(c.header) for c in columns]
    parts: list[RenderableType] = []
    if table.title:
        parts.append(Text(_plain(table.title), style="bold"))
    first = 2 if headers[0] == "#" and len(columns) > 1 else 1
    for i in range(table.row_count):
        head = _plain(cells[0][i]) + (f". {_plain(cells[1][i])}" if first == 2 else "")
        parts.append(Text(head, style="bold"))
        pairs, long = Text(), []
        for header, column in zip(headers[first:], cells[first:], strict=True):
            cell = column[i]
            value = cell.copy() if isinstance(cell, Text) else Text(_plain(cell))
            value.plain = _plain(value)
            if not value.plain:
                continue
            if len(value.plain) > LONG_VALUE:
                long.append(Text.assemble((f"{header}: " if header else ""), value))
                continue
            if pairs:
                pairs.append("; ")
            pairs.append_text(Text.assemble((f"{header}: " if header else ""), value))
        parts.extend(Padding(line, (0, 0, 0, 2)) for line in ([pairs] if pairs else []) + long)
    return Group(*parts)


def fit_table(table: Table, console: Console) -> RenderableType:
    """The table itself when it fits the console (or the console is wide), else :func:`stacked`.

    A table wider than an 80-column terminal would squeeze its columns to a word
    a line and cut numbers short ("$115,05..."); from :data:`WIDE_CONSOLE` columns
    on, the table is kept and its text columns wrap.
    """
    unbounded = console.options.update_width(10 * console.width)  # a measure is capped at the width given
    if console.width >= WIDE_CONSOLE or Measurement.get(console, unbounded, table).maximum <= console.width:
        return table
    return stacked(table)


def _table(title: str, index: str, columns: list[tuple[str, bool]]) -> Table:
    """A table with an index column, then ``columns`` as (header, numeric)."""
    table = Table(title=title, title_justify="left", min_width=len(title))
    table.add_column(index, no_wrap=True, style="bold")
    for header, numeric in columns:
        table.add_column(header, justify="right" if numeric else "left")
    return table


def sites_table(sc: Scenario) -> Table:
    """Campuses: pods, GPUs by SKU, facility power at full load against available power, PUE.

    A facility MW above the least available MW is shown in red: the campus cannot
    run everything it has built in its worst week.
    """
    summary = sc.summary().reindex(sc.sites.index)  # in the order of the sites file
    skus = [c.removeprefix("gpus_") for c in summary.columns if c.startswith("gpus_")]
    cols = [("name", False), ("pods", True), ("GPUs", True), *((s, True) for s in skus),
            ("IT MW", True), ("facility MW", True), ("available MW min-max", True), ("PUE", True)]
    table = _table("Campuses", "site", cols)
    for site, r in summary.iterrows():
        lo, hi = float(r["available_mw_min"]), float(r["available_mw_max"])
        avail = f"{lo:,.1f}" if lo == hi else f"{lo:,.1f}-{hi:,.1f}"
        facility = _num(float(r["facility_mw"]), ",.1f")
        if float(r["facility_mw"]) > lo:
            facility.stylize("red")
        table.add_row(Text(str(site)), Text(str(r["name"])), _num(int(r["pods"])), _num(int(r["gpus"])),
                      *(_num(int(r[f"gpus_{s}"])) for s in skus), _num(float(r["it_mw"]), ",.1f"), facility,
                      Text(avail, justify="right"), _num(float(r["pue"]), ".2f"))
    return table


def spans_table(sc: Scenario) -> Table:
    """DCI spans: ends, route and great-circle length, amplifiers, latency, capacity, conduit."""
    cols = [("a", False), ("b", False), ("length km", True), ("great circle km", True), ("route x", True),
            ("amplifiers", True), ("latency ms", True), ("capacity Tb/s", True), ("srlg", False)]
    table = _table("DCI spans", "span", cols)
    for span, s in sc.spans.iterrows():
        table.add_row(Text(str(span)), Text(str(s["a"])), Text(str(s["b"])), _num(float(s["length_km"])),
                      _num(float(s["great_circle_km"])), _num(float(s["route_factor"]), ".2f"),
                      _num(int(s["n_amplifiers"]), "d"), _num(float(s["latency_ms"]), ".2f"),
                      _num(float(s["capacity_gbps"]) / 1000, ",.1f"), Text(str(s["srlg"])))
    return table


def latency_table(matrix: pd.DataFrame) -> Table:
    """The site x PoP matrix of lowest one-way latency (ms); ``-`` where no route exists."""
    table = _table("Lowest one-way latency, ms (site -> PoP)", "site", [(str(c), True) for c in matrix.columns])
    for site, row in matrix.iterrows():
        table.add_row(Text(str(site)), *(_num(float(v), ".2f") for v in row))
    return table


def site_pairs_lines(pairs: pd.DataFrame, *, limit: int = 20) -> list[str]:
    """One line per pair of campuses, at most ``limit`` lines (then a count of the rest).

    Examples
    --------
    >>> pairs = pd.DataFrame([{"a": "OH-NAL", "b": "LA-RCH", "great_circle_km": 1161.2, "route_km": 1509.6,
    ...                        "route_factor": 1.3, "latency_ms": 7.42}])
    >>> site_pairs_lines(pairs)
    ['OH-NAL <-> LA-RCH great circle 1,161 km; shortest fibre route 1,510 km (1.30x); fastest 7.42 ms']
    """
    lines = []
    for _, r in pairs.head(limit).iterrows():
        route = "no fibre route" if math.isnan(r["route_km"]) else (
            f"shortest fibre route {r['route_km']:,.0f} km ({r['route_factor']:.2f}x); "
            f"fastest {r['latency_ms']:.2f} ms")
        lines.append(f"{r['a']} <-> {r['b']} great circle {r['great_circle_km']:,.0f} km; {route}")
    if len(pairs) > limit:
        lines.append(f"... and {len(pairs) - limit} more pairs of campuses")
    return lines


# --------------------------------------------------------------------------- planning runs
def usd(x: float) -> str:
    """Dollars with thousands separators; ``-`` when unknown.

    Examples
    --------
    >>> usd(7548490340.4), usd(float("nan"))
    ('$7,548,490,340', '-')
    """
    return "-" if x is None or not math.isfinite(x) else f"${x:,.0f}"


def _pct(x: float) -> str:
    return "-" if x is None or not math.isfinite(x) else f"{x:.2%}"


def _load_detail(run: PlanRun) -> str:
    sc = run.scenario
    if sc is None:
        return ""
    internal = int((sc.workloads["priority"] == "internal").sum())
    text = (f"{sc.name}: {len(sc.sites)} sites, {len(sc.pods):,} pods, {int(sc.pods['gpus'].sum()):,} GPUs, "
            f"{len(sc.spans)} spans, {len(sc.workloads) - internal:,} leases (+{internal} internal), "
            f"{sc.horizon.periods} weeks")
    if sc.warnings:
        text += f"; {len(sc.warnings)} warnings (planner validate lists them)"
    return text


def _build_detail(run: PlanRun) -> str:
    if run.instance is None:
        return ""
    text = f"{len(run.instance.leases):,} workloads"
    opt = run.optimiser
    if opt is None:
        return text
    m = opt.model
    if m is not None:
        text += f"; {len(m.cp.proto.variables):,} variables, {len(m.cp.proto.constraints):,} constraints"
    elif opt.method_used == "sites":
        text += (f"; {opt.pairs:,} (replica, pod) pairs: site-level LP, then neighbourhood search"
                 " (too big for the pod-level model)")
    warm = opt.warm
    if warm is not None:
        text += f"; warm start: {warm.method}, ${warm.value_usd:,.0f}"
        if warm.bound is not None:
            text += f" ({warm.bound[1]} bound ${warm.bound[0]:,.0f})"
    return text


def _solve_detail(run: PlanRun) -> str:
    p = run.plan
    if p is None:
        return ""
    text = f"{p.headline()['status']}, net value {usd(p.objective_usd)}"
    return text + (f", gap {_pct(p.gap)} to bound" if math.isfinite(p.gap) else " (greedy: no bound)")


_DETAILS: dict[str, Callable[[PlanRun], str]] = {
    "load": _load_detail,
    "network": lambda run: (f"{run.graph.number_of_nodes():,} nodes, {run.graph.number_of_edges():,} edges"
                            if run.graph is not None else ""),
    "routing": lambda run: f"{len(run.paths):,} candidate paths site -> PoP" if run.paths is not None else "",
    "build": _build_detail,
    "solve": _solve_detail,
    "write": lambda run: str(run.out_dir) if run.out_dir is not None else "",
}


def stage_detail(run: PlanRun, stage: str) -> str:
    """One line on what a finished stage made.

    Examples
    --------
    >>> from planner.run import PlanRun
    >>> stage_detail(PlanRun(out_dir=Path("output/reference")), "write")
    'output/reference'
    """
    return _DETAILS[stage](run)


@dataclass
class _Stage:
    start: float
    end: float | None = None
    detail: str = ""
    stopped: bool = False


class PlanProgress:
    """Live progress of a planning run: each stage with its time, then the solver's best plan, bound and gap.

    On a terminal it is a live table (rich ``Live``); off a terminal (a pipe, a log
    file, CI) it prints plain lines: one per stage, each better plan found (at most
    one every ``min_gap_s``) and a status line every ``heartbeat_s`` during the solve.

    Use :meth:`stage` as ``on_stage`` and :meth:`incumbent` as ``on_progress`` of
    :func:`~planner.run.plan_scenario`.
    """

    def __init__(self, console: Console, *, time_limit_s: float, live: bool | None = None,
                 heartbeat_s: float = 10.0, min_gap_s: float = 2.0) -> None:
        self.console = console
        self.time_limit_s = time_limit_s
        self.live = (console.is_terminal and not console.is_dumb_terminal) if live is None else live
        self.heartbeat_s, self.min_gap_s = heartbeat_s, min_gap_s
        self.t0 = time.perf_counter()
        self.stages: dict[str, _Stage] = {}
        self.current: str | None = None
        self.run: PlanRun | None = None
        self.best: Progress | None = None
        self.bound: float | None = None
        self.interrupts = 0
        self.note = ""
        self.explained: tuple[int, int] | None = None  # (explained, left out) while the reasons are worked out
        self._lock = threading.RLock()
        self._last_line = 0.0
        self._printed: tuple[float, float] | None = None  # (objective, bound) last printed
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._live: Live | None = None

    # ------------------------------------------------------------------ context
    def __enter__(self) -> PlanProgress:
        if self.live:
            self._live = Live(get_renderable=self._render, console=self.console, refresh_per_second=4,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        self._stop_ticker()
        with self._lock:
            st = self.stages.get(self.current) if self.current else None
            if st is not None and exc_type is not None:  # the stage ends with an error or Ctrl-C
                st.end, st.stopped = time.perf_counter(), True
                st.detail = "stopped by Ctrl-C" if issubclass(exc_type, KeyboardInterrupt) else "stopped"
        if self._live is not None:
            self._live.stop()
            self._live = None

    # ------------------------------------------------------------------ callbacks
    def stage(self, run: PlanRun, name: str, finished: bool) -> None:
        """``on_stage`` callback: a stage starts or ends."""
        now = time.perf_counter()
        with self._lock:
            self.run = run
            if not finished:
                self.current = name
                self.stages[name] = _Stage(now)
                if name == "solve":
                    self._start_solve()
                return
            st = self.stages.setdefault(name, _Stage(now))
            st.end, st.detail = now, stage_detail(run, name)
            self.current = None
            if name == "solve":
                self._stop_ticker()
            if not self.live:
                self._line(f"{STAGES[name]} done in {_secs(st.end - st.start)}" + (f": {st.detail}" if st.detail
                                                                                     else ""))

    def incumbent(self, p: Progress) -> None:
        """``on_progress`` callback (called from the solver's thread): a better plan was found."""
        with self._lock:
            self.best = p
            if self.bound is None or p.bound_usd < self.bound:
                self.bound = p.bound_usd
            if not self.live and (self._printed is None or time.perf_counter() - self._last_line >= self.min_gap_s):
                self._solve_line()

    def reasons(self, explained: int, left_out: int) -> None:
        """``on_reasons`` callback: ``explained`` of the ``left_out`` leases have their reason."""
        with self._lock:
            self.explained = (explained, left_out)

    def _greedy(self) -> bool:
        """Whether the run plans with the greedy baseline (no optimiser once the model is built)."""
        return self.run is not None and self.run.optimiser is None and "solve" in self.stages

    def interrupted(self) -> None:
        """Ctrl-C arrived (called from the CLI's signal handler, so it never waits on the live display)."""
        with self._lock:
            self.interrupts += 1
            if self._greedy():  # no search to stop: Ctrl-C ends the run
                self.note = "Ctrl-C: stopping the run; nothing will be written"
            elif self.current == "solve" or (self.current == "build" and self.best is not None):
                self.note = "Ctrl-C: stopping the search; the best plan found so far will be written"
            else:
                self.note = f"Ctrl-C: stopping the {STAGES[self.current]} stage" if self.current else "Ctrl-C"
            if self._live is None:
                self._line(self.note)

    # ------------------------------------------------------------------ solve
    def _start_solve(self) -> None:
        self._printed = None  # the warm start's plan and bound (if reported) stay the best so far: never looser
        if not self.live:
            stop = ("Ctrl-C stops the run (nothing is written)" if self._greedy() else
                    "Ctrl-C stops it and writes the best plan so far")
            self._line(f"solve started: {self.limit_text()}; {stop}")
            self._stop.clear()
            self._ticker = threading.Thread(target=self._tick, name="plan-progress", daemon=True)
            self._ticker.start()

    def _stop_ticker(self) -> None:
        self._stop.set()
        if self._ticker is not None and self._ticker is not threading.current_thread():
            self._ticker.join(timeout=2)
        self._ticker = None

    def _tick(self) -> None:
        while not self._stop.wait(1.0):
            with self._lock:
                if time.perf_counter() - self._last_line >= self.heartbeat_s:
                    self._solve_line()

    def limit_text(self) -> str:
        """The solver's time limit in words (deterministic time is not wall time)."""
        opt = self.run.optimiser if self.run is not None else None
        if self._greedy():
            return "greedy first fit (no time limit), then the reason each left-out lease is left out"
        if opt is not None and opt.deterministic:
            return (f"time limit {self.time_limit_s:g} s of CP-SAT deterministic time (the same seed gives the "
                    "same plan; the wall clock can run longer)")
        return f"time limit {self.time_limit_s:g} s"

    def solve_status(self, *, clock: bool = True) -> str:
        """The solve in one line: the best plan's net value, the bound and the gap (and the time so far)."""
        st = self.stages.get("solve")
        after = f" (after {_secs(time.perf_counter() - st.start)})" if clock and st is not None else ""
        reasons = ""
        if self.explained is not None:
            done, n = self.explained
            reasons = f"; reasons for {done:,} of {n:,} left-out leases"
        if self.best is None:
            return f"{'placing leases' if self._greedy() else 'searching'}, no plan yet{after}"
        bound = self.bound if self.bound is not None else self.best.bound_usd
        if math.isnan(bound):
            return f"plan net value {usd(self.best.objective_usd)} (greedy: no bound){reasons}{after}"
        gap = relative_gap(self.best.objective_usd, bound)
        return f"best net value {usd(self.best.objective_usd)}, bound {usd(bound)}, gap {_pct(gap)}{reasons}{after}"

    def _solve_line(self) -> None:
        self._line(f"{'warm start' if self.current == 'build' else 'solve'}: {self.solve_status()}")
        if self.best is not None:
            self._printed = (self.best.objective_usd, self.bound or math.nan)

    # ------------------------------------------------------------------ output
    def _line(self, text: str) -> None:
        """A plain progress line, ``[  12.3 s] text``; a long text wraps to the console, indented under itself."""
        with self._lock:
            self._last_line = time.perf_counter()
            line = Table.grid(padding=(0, 1))
            line.add_column(no_wrap=True)
            line.add_column(overflow="fold")
            line.add_row(Text(f"[{self._last_line - self.t0:6.1f} s]"), Text(text))
            self.console.print(line, highlight=False, markup=False)

    def _render(self) -> Group:
        with self._lock:
            table = Table.grid(padding=(0, 1))
            table.add_column(width=4)
            table.add_column(no_wrap=True)
            table.add_column(justify="right", no_wrap=True, min_width=7)  # "123.4 s": no reflow as time grows
            table.add_column(overflow="fold")
            now = time.perf_counter()
            for name, label in STAGES.items():
                st = self.stages.get(name)
                if st is None:
                    table.add_row(Text(".."), Text(label, style="dim"), Text(""), Text(""))
                elif st.stopped:
                    table.add_row(Text("!!", style="bold red"), Text(label), Text(_secs((st.end or now) - st.start)),
                                  Text(st.detail, style="red"))
                elif st.end is None:
                    detail = self.solve_status(clock=False) if name == "solve" else ""
                    table.add_row(Spinner("line", style="cyan"), Text(label, style="bold"),
                                  Text(_secs(now - st.start)), Text(detail))
                else:
                    table.add_row(Text("ok", style="green"), Text(label), Text(_secs(st.end - st.start)),
                                  Text(st.detail, style="dim"))
            notes = [Text(self.note, style="yellow")] if self.note else []
            if self.current == "solve" and not self.interrupts:
                notes.append(Text(f"Ctrl-C stops the search and writes the best plan so far; {self.limit_text()}.",
                                  style="dim"))
            return Group(table, *notes)


def _secs(s: float) -> str:
    """Seconds, to a tenth.

    Examples
    --------
    >>> _secs(3.14159), _secs(123.4)
    ('3.1 s', '123.4 s')
    """
    return f"{s:.1f} s"


def api_line(sc: Scenario, plan: Plan) -> str | None:
    """The API serving in one line, ``None`` when the plan had no API demand.

    "$X net from N B tokens served (S % of demand)": the APIs' net value (revenue
    less power, transport and replica starts), billions of tokens served over the
    horizon and their share of the tokens asked (see :func:`planner.usesplit.api_totals`).
    """
    from planner.usesplit import api_totals, has_apis

    if not has_apis(plan):
        return None
    t = api_totals(sc, plan)
    share = "-" if not math.isfinite(t["served_share"]) else f"{100 * t['served_share']:.1f} %"
    billions = t["tokens_served"] / 1e9
    tokens = f"{billions:,.0f}" if billions >= 100 else f"{billions:,.1f}"
    return f"{usd(t['net_usd'])} net from {tokens} B tokens served ({share} of demand)"


def plan_summary(plan: Plan, *, out_dir: Path | None, total_s: float, sc: Scenario | None = None) -> Table:
    """The run's result: status, revenue, net value, GPUs leased, APIs, bound and gap, time and the folder.

    With the scenario ``sc``, a plan with API demand gets an ``APIs`` row (:func:`api_line`).
    """
    h = plan.headline()
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    status = Text(h["status"], style="yellow" if plan.interrupted else "green")
    table.add_row("status", status)
    worst = plan.worst_case_revenue_usd  # spot leases internal work may take back: expected and worst case apart
    spot = "" if abs(worst - plan.revenue_usd) < 0.5 else f" expected (worst case {usd(worst)})"
    table.add_row("revenue", Text(f"{usd(plan.revenue_usd)}{spot} over {plan.site_use['week'].nunique()} weeks"))
    api_net = plan.meta.get("api", {}).get("net_usd", 0.0) if isinstance(plan.meta.get("api"), dict) else 0.0
    apis_net = f" + APIs net {usd(api_net)}" if len(plan.api_use) else ""
    table.add_row("net value", Text(f"{usd(plan.objective_usd)} (revenue - power {usd(plan.power_cost_usd)} "
                                    f"- transport {usd(plan.transport_cost_usd)}{apis_net})"))
    leased = plan.leased_gpus()
    table.add_row("GPUs leased", Text(", ".join(f"{sku} {n:,}" for sku, n in leased.items()) + " (peak week)"
                                      if len(leased) else "none"))
    apis = api_line(sc, plan) if sc is not None else None
    if apis is not None:
        table.add_row("APIs", Text(apis))
    if math.isfinite(plan.bound_usd):
        table.add_row("bound", Text(f"{usd(plan.bound_usd)}; gap {_pct(plan.gap)} (no plan is worth more than "
                                    "the bound)"))
    else:
        table.add_row("bound", Text(f"none ({plan.method} baseline)"))
    table.add_row("leases", Text(f"{h['leases_placed']:,} placed, {h['leases_unplaced']:,} left out"))
    table.add_row("time", Text(f"solve {_secs(plan.wall_s)}, total {_secs(total_s)}"))
    if out_dir is not None:
        table.add_row("results", Text(f"{out_dir}{os.sep} (open report.html in a browser)"))
    return table


def _unplaced_top(plan: Plan, limit: int) -> tuple[pd.DataFrame, str]:
    """The ``limit`` leases left out with the most revenue, and the title that says so."""
    top = plan.unplaced.sort_values(["revenue_usd", "lease"], ascending=[False, True]).head(limit)
    n = len(plan.unplaced)
    return top, (f"Leases left out ({n})" if n <= limit else f"Leases left out: top {limit} of {n} by revenue")


def _unplaced_cells(r: pd.Series) -> list[str]:
    """lease, priority, SKU, GPUs, weeks, revenue, family of one left-out lease."""
    return [str(r["lease"]), str(r["priority"]), str(r["sku"]), f"{int(r['gpus']) * int(r['replicas']):,}",
            f"{int(r['start_week'])}-{int(r['end_week'])}", usd(float(r["revenue_usd"])), str(r["family"])]


_UNPLACED_COLUMNS = [("lease", False), ("priority", False), ("SKU", False), ("GPUs", True), ("weeks", False),
                     ("revenue", True), ("family", False)]


def unplaced_table(plan: Plan, *, limit: int = 20) -> Table:
    """The leases left out, most revenue first (at most ``limit``): family and reason, for a wide console."""
    top, title = _unplaced_top(plan, limit)
    table = _table(title, "lease", [*_UNPLACED_COLUMNS[1:], ("reason", False)])
    for column in table.columns[:-1]:  # only the reason wraps: ids, numbers and money are never cut
        column.no_wrap = True
    table.columns[-1].overflow = "fold"
    for _, r in top.iterrows():
        cells = _unplaced_cells(r)
        table.add_row(*(Text(c, justify="right" if numeric else "left")
                        for c, (_, numeric) in zip(cells, _UNPLACED_COLUMNS, strict=True)),
                      Text(str(r["reason"])))
    return table


def unplaced_view(plan: Plan, *, limit: int = 20, narrow: bool = False) -> RenderableType:
    """The leases left out, most revenue first: :func:`unplaced_table`, or on a ``narrow`` console one line each.

    Narrow, a lease's facts take one line (aligned in columns) and its reason
    wraps under it, indented, so that an 80-column terminal shows every figure whole.

    Examples
    --------
    >>> import io
    >>> from types import SimpleNamespace
    >>> unplaced = pd.DataFrame([{"lease": "L-0050", "priority": "lease", "sku": "B200", "gpus": 2048,
    ...     "replicas": 8, "start_week": 4, "end_week": 30, "revenue_usd": 366383616.0, "family": "gpus",
    ...     "reason": "no pod with 16,384 free B200 at allowed sites in weeks 4-30"}])
    >>> con = Console(width=60, file=io.StringIO())
    >>> con.print(unplaced_view(SimpleNamespace(unplaced=unplaced), narrow=True))
    >>> for line in con.file.getvalue().splitlines():
    ...     print(line.rstrip())
    Leases left out (1)
    lease   priority SKU    GPUs weeks      revenue family
    L-0050  lease    B200 16,384 4-30  $366,383,616 gpus
        no pod with 16,384 free B200 at allowed sites in weeks
        4-30
    """
    if not narrow:
        return unplaced_table(plan, limit=limit)
    top, title = _unplaced_top(plan, limit)
    rows = [_unplaced_cells(r) for _, r in top.iterrows()]
    headers = [h for h, _ in _UNPLACED_COLUMNS]
    widths = [max(len(x) for x in col) for col in zip(headers, *rows, strict=True)]

    def line(cells: list[str]) -> str:
        padded = [c.rjust(w) if numeric else c.ljust(w)
                  for c, w, (_, numeric) in zip(cells, widths, _UNPLACED_COLUMNS, strict=True)]
        return (padded[0] + "  " + " ".join(padded[1:])).rstrip()

    parts: list[RenderableType] = [Text(title, style="bold"), Text(line(headers), style="bold")]
    for cells, (_, r) in zip(rows, top.iterrows(), strict=True):
        parts.append(Text(line(cells)))
        parts.append(Padding(Text(str(r["reason"])), (0, 0, 0, 4)))
    return Group(*parts)
