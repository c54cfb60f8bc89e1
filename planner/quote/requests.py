"""Customers' requests to quote: read a requests CSV and check it against the scenario.

A request is a lease with a start window instead of a term (:class:`~planner.schema.RequestRow`).
:func:`read_requests` reads the CSV row by row (every problem at once: file, line,
field, value, fix; see :func:`planner.readers.read_csv_rows`) and checks what a row
alone cannot: the SKU, region and sites exist in the scenario, the window lies in
the horizon, and the ids are new.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from planner.errors import Problem, ScenarioError
from planner.readers import capped, read_csv_rows
from planner.scenario import Scenario
from planner.schema import RequestRow
from planner.validate import workload_problems

__all__ = ["Request", "read_requests", "request_problems"]

KIND = "request-row"
"""The requests CSV's kind in :data:`planner.schema.FILE_MODELS` (``planner schema request-row``)."""


@dataclass(frozen=True)
class Request:
    """One request read from a requests CSV, with where it came from.

    Attributes
    ----------
    row
        The validated row.
    file, line
        The file (as given) and the 1-based line it is on.
    """

    row: RequestRow
    file: str = ""
    line: int = 0

    @property
    def id(self) -> str:
        """The request's id."""
        return self.row.id

    @property
    def starts(self) -> list[int]:
        """The start weeks of its window, earliest first."""
        return list(range(self.row.earliest_start, self.row.latest_start + 1))

    def gpu_hours(self, hours_per_period: float) -> float:
        """GPU-hours of the whole term: GPUs per replica x replicas x weeks x hours per week."""
        r = self.row
        return float(r.gpus * r.replicas * r.duration_weeks * hours_per_period)

    def workload(self, start: int, price: float, hours_per_period: float, *, lease_id: str | None = None,
                 sku: str | None = None, priority: str = "committed") -> dict[str, Any]:
        """The request as a row of :attr:`Scenario.workloads <planner.scenario.Scenario.workloads>` starting ``start``.

        Parameters
        ----------
        start
            Its first week.
        price
            USD per GPU-hour (its revenue follows from it).
        hours_per_period
            Hours in a week of the horizon.
        lease_id, sku
            Another id or SKU (for probing variants); the request's own by default.
        priority
            ``"committed"``; ``"internal"`` makes an optimiser place it whatever it costs.
        """
        r = self.row
        weeks = r.duration_weeks
        return {"lease": lease_id or r.id, "tenant": r.tenant, "kind": r.kind, "priority": priority,
                "sku": sku or r.sku, "gpus": r.gpus, "span": r.span, "replicas": r.replicas,
                "anti_affinity": r.anti_affinity, "egress_gbps": r.egress_gbps, "region": r.region,
                "latency_slo_ms": r.latency_slo_ms if r.latency_slo_ms is not None else np.nan,
                "allowed_sites": tuple(r.allowed_sites), "residency": tuple(r.residency), "start_week": start,
                "end_week": start + weeks - 1, "price_usd_per_gpu_hour": float(price),
                "source": f"{self.file}:{self.line}" if self.file else "request", "weeks": weeks,
                "revenue_usd": float(price) * r.gpus * r.replicas * weeks * hours_per_period}


def request_problems(sc: Scenario, requests: list[Request]) -> list[Problem]:
    """What the scenario says is wrong with ``requests``: unknown ids, a window outside the horizon, reused ids."""
    out: list[Problem] = []
    periods = sc.horizon.periods
    pops, sites, skus = set(map(str, sc.pops.index)), set(map(str, sc.sites.index)), set(map(str, sc.skus.index))
    seen: dict[str, int] = {}
    for q in requests:
        r, file = q.row, q.file
        where = f"line {q.line} (request {r.id})"
        if r.id in seen:
            out.append(Problem(file, where, "id", r.id, f"the id is used on line {seen[r.id]} too",
                               "give each request its own id"))
        seen.setdefault(r.id, q.line)
        if r.id in sc.workloads.index:
            out.append(Problem(file, where, "id", r.id, "a lease of the scenario has this id",
                               "give the request an id that no lease book uses"))
        out += workload_problems(file, where, r, skus, pops, sites)
        if r.latest_start < r.earliest_start:
            out.append(Problem(file, where, "latest_start", str(r.latest_start),
                               f"before earliest_start ({r.earliest_start})",
                               f"give a latest_start of at least {r.earliest_start}"))
        last = periods - r.duration_weeks + 1
        if r.duration_weeks > periods:
            out.append(Problem(file, where, "duration_weeks", str(r.duration_weeks),
                               f"longer than the horizon ({periods} weeks)", f"give at most {periods} weeks"))
        elif r.latest_start > last:
            out.append(Problem(file, where, "latest_start", str(r.latest_start),
                               f"a {r.duration_weeks}-week lease starting then ends after the horizon's last "
                               f"week ({periods})", f"give a latest_start of at most {last}"))
    return out


def read_requests(path: str | Path, sc: Scenario) -> list[Request]:
    """Read a requests CSV and check it against ``sc``.

    Parameters
    ----------
    path
        The CSV: a header of :class:`~planner.schema.RequestRow`'s fields, one request per line.
    sc
        The scenario the requests are quoted against.

    Returns
    -------
    list of Request
        In file order.

    Raises
    ------
    ScenarioError
        Listing every problem (file, line, field, value, fix).

    Examples
    --------
    >>> from planner import load_scenario
    >>> reqs = read_requests("examples/requests.csv", load_scenario())
    >>> reqs[0].row.sku in {"H100", "B200", "GB200"}, reqs[0].starts[0] >= 1
    (True, True)
    """
    p = Path(path)
    display = str(path)
    rows, problems = read_csv_rows(p, RequestRow, KIND, display)
    requests = [Request(row, display, line) for line, row in rows]
    if not problems and not requests:
        problems.append(Problem(display, "", "", "", "the file holds no requests", "add one request per line"))
    problems += request_problems(sc, requests)
    if problems:
        raise ScenarioError(capped(problems))
    return requests


def window_text(q: Request) -> str:
    """``weeks 9-13`` (or ``week 9``) for a request's start window."""
    a, b = q.row.earliest_start, q.row.latest_start
    return f"week {a}" if a == b else f"weeks {a}-{b}"


def finite(x: float | None) -> float:
    """``x`` as a float, NaN for ``None``."""
    return math.nan if x is None else float(x)
