"""``planner quote``: answer customers' requests against a results folder's plan.

A thin layer over :func:`planner.quote.book.quote_requests`: read the results folder
(:func:`planner.results.read_results`) and the requests CSV, answer, print one table
per request and the best subset, and write the answers as CSV with ``--out``. Exit
codes: 0 answered; 2 bad input (no results folder, a changed input file, a bad
requests file, an output file in the way).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from planner.cli.console import EXIT_INPUT_ERROR, examples, input_errors_exit, make_console, usd

if TYPE_CHECKING:
    from planner.quote.book import QuoteBook

__all__ = ["quote", "register"]

_STYLE = {"fits": "green", "fits with moves": "yellow", "does not fit": "red"}


def _money_rate(x: float) -> str:
    """A price per GPU-hour: ``1.2345 USD/GPU-h`` (cents and below: whole dollars are shown as ``$1,234``)."""
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:,.4f} USD/GPU-h"


def _card(r: dict[str, Any]) -> Table:
    """One request's answer as a two-column table."""
    t = Table(title=Text.assemble((f"{r['request']}: ", "bold"), (str(r["outcome"]), _STYLE[str(r["outcome"])])),
              title_justify="left", show_header=False, box=None, padding=(0, 2, 0, 0))
    t.add_column(style="bold", no_wrap=True)
    t.add_column(overflow="fold")
    rows: list[tuple[str, str]] = []
    if r["outcome"] != "does not fit":
        rows += [("start", f"week {int(r['start_week'])} (to week {int(r['end_week'])})"), ("where", str(r["where"]))]
        if not math.isnan(r["latency_ms"]):
            rows.append(("latency", f"{r['latency_ms']:.2f} ms"))
        if r["moved"]:
            rows.append(("moves", str(r["moved"]).replace("; ", "\n")))
        if r["rerouted"]:
            rows.append(("re-routes", str(r["rerouted"]).replace("; ", "\n")))
        if r["dropped"]:
            rows.append(("dropped", f"{r['dropped']} (revenue {usd(r['displaced_revenue_usd'])} displaced)"))
        rows.append(("price floor", f"{_money_rate(r['price_floor_usd_per_gpu_hour'])} "
                                    f"(added cost {usd(r['added_cost_usd'])} over {r['gpu_hours']:,.0f} GPU-hours)"))
    else:
        rows += [("binding", str(r["family"])), ("reason", str(r["reason"]))]
        rows.append(("alternatives", str(r["alternatives"]).replace("; or ", "\n") or "none found"))
    offered = r["offered_usd_per_gpu_hour"]
    if not math.isnan(offered):
        rows.append(("offered", f"{_money_rate(offered)}: {r['decision']}"))
    if r["outcome"] != "does not fit":
        rows.append(("best subset", "yes" if r["in_best_subset"] else "no"))
    for k, v in rows:
        t.add_row(k, Text(v))
    return t


def _summary(book: QuoteBook) -> str:
    b = book.batch
    if not b.taken:
        return f"Best subset: none ({b.note})." if b.note else "Best subset: none."
    return (f"Best subset: {', '.join(b.ids)}, adding {usd(b.value_usd)} of net value at the prices weighed "
            f"(offered, else floor + 0.01 USD/GPU-h).")


def quote(
    results: Annotated[Path, typer.Argument(metavar="RESULTS_DIR", show_default=False, help=(
        "A results folder written by `planner plan` (or its plan.json): the standing plan."))],
    requests: Annotated[Path, typer.Argument(metavar="REQUESTS.csv", show_default=False, help=(
        "The requests, one per line (`planner schema request-row`; e.g. examples/requests.csv)."))],
    scenario: Annotated[Path | None, typer.Option("--scenario", metavar="<file>", show_default=False, help=(
        "The scenario the plan was made for \\[default: the one plan.json records]"))] = None,
    out: Annotated[Path | None, typer.Option("--out", metavar="<file.csv>", dir_okay=False, show_default=False,
                                             help="Write the answers as CSV here.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace the --out file if it exists.")] = False,
    work_limit: Annotated[float, typer.Option("--work-limit", min=0.1, metavar="<seconds>", help=(
        "CP-SAT's deterministic time for each re-plan with moves (work, not wall seconds).")) ] = 10.0,
    seed: Annotated[int, typer.Option("--seed", min=0, metavar="<int>", help="CP-SAT random seed.")] = 0,
) -> None:
    """Answer customers' requests against the standing plan: can we take it, where, and at what price?

    For each request: it fits as the plan stands (where, which start week of its
    window), or only with sold leases moved or dropped (which, from where to where), or
    not at all (the binding constraint with numbers, and the nearest changes that fit,
    each checked); its price floor per GPU-hour (displaced revenue plus added power and
    transport cost, over its GPU-hours), and accept or decline at the price offered.
    Then the best subset of the requests together.

    Exits 0 when every request is answered; 2 on bad input (a missing results folder,
    an input file changed since the plan, a bad requests file: every problem with its
    file, line, field and fix; an --out file in the way).
    """
    from planner.quote.book import quote_requests
    from planner.quote.files import write_quote
    from planner.quote.requests import read_requests
    from planner.results import read_results
    from planner.run import OutputError

    con, err = make_console(), make_console(stderr=True)
    with input_errors_exit(err):
        run = read_results(results, scenario)
        reqs = read_requests(requests, run.scenario)
    with err.status(f"Quoting {len(reqs)} request(s) against {run.plan_file} ..."):
        book = quote_requests(run.scenario, run.plan, reqs, work_limit_s=work_limit, seed=seed)
    table = book.table()
    for r in table.to_dict("records"):
        con.print(_card(r))
        con.print()
    con.print(_summary(book), highlight=False)
    if out is not None:
        try:
            write_quote(table, out, sc=run.scenario, force=force, inputs=(requests,))
        except OutputError as exc:
            err.print(Text(f"error: {exc.problem}", style="bold red"), soft_wrap=True)
            err.print(Text(f"fix: {exc.fix}", style="green"), soft_wrap=True)
            raise typer.Exit(EXIT_INPUT_ERROR) from None
        con.print(f"wrote {out}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``quote`` to a Typer app (the main ``planner`` app)."""
    app.command(epilog=examples(
        "planner plan --greedy             # a standing plan: output/reference/",
        "planner quote output/reference examples/requests.csv --work-limit 2",
        "planner quote output/reference examples/requests.csv --work-limit 2 \\",
        "    --out output/quote.csv --force # the answers as CSV"))(quote)
