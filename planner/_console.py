"""Rich tables for the command line: problems, sites, spans, latencies.

Only :mod:`planner.cli` uses this module; the library itself never prints. Every
cell is a :class:`rich.text.Text`, so brackets in ids or fixes (``sites[0].lat``,
``[lon, lat]``) are shown as written, never read as rich markup. Output stays
ASCII apart from the table borders, which rich draws in ASCII when the output
stream cannot encode box characters.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from itertools import combinations

import networkx as nx
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from planner.errors import Problem
from planner.geo import great_circle_km
from planner.routing import k_shortest_paths, span_graph
from planner.scenario import Scenario

__all__ = [
    "latency_table",
    "make_console",
    "problems_table",
    "site_pairs",
    "site_pairs_lines",
    "sites_table",
    "spans_table",
]

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


def site_pairs(sc: Scenario, g: nx.Graph) -> pd.DataFrame:
    """Every pair of campuses: great-circle distance, shortest fibre route and fastest latency.

    Returns
    -------
    DataFrame
        One row per pair (``a``, ``b``): ``great_circle_km``, ``route_km`` (the
        shortest fibre route), ``route_factor`` (route / great circle) and
        ``latency_ms`` (of the lowest-latency route); NaN when no fibre joins them.
    """
    h = span_graph(g)
    rows = []
    for a, b in combinations(sc.sites.index, 2):
        (lat_a, lon_a), (lat_b, lon_b) = (sc.sites.loc[s, ["lat", "lon"]].astype(float) for s in (a, b))
        gc = great_circle_km(lat_a, lon_a, lat_b, lon_b)
        try:
            km = float(nx.shortest_path_length(h, a, b, weight="length_km"))
        except nx.NetworkXException:  # no path, or a site without fibre
            km = math.nan
        fastest = k_shortest_paths(h, a, b, 1)
        rows.append({"a": a, "b": b, "great_circle_km": gc, "route_km": km,
                     "route_factor": km / gc if gc > 0 else math.nan,
                     "latency_ms": fastest[0].latency_ms if fastest else math.nan})
    return pd.DataFrame(rows, columns=["a", "b", "great_circle_km", "route_km", "route_factor", "latency_ms"])


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
