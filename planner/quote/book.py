"""A batch of requests: each alone against the standing plan, then the best subset together.

:func:`quote_requests` answers each request alone (:func:`~planner.quote.answer.answer`),
then, when more than one fits, re-plans once with every request that fits as an
optional lease at its offered price (or its floor plus :data:`EPSILON_USD_PER_GPU_HOUR`
when none is offered), the sold leases kept as in any re-plan and dropping one
costing exactly its revenue: the requests that re-plan carries are the best subset
together. :func:`quote` returns the answers as a table, ranked by value.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from planner.errors import InfeasibleError, NoPlanError
from planner.plan import Plan
from planner.quote.answer import Answer, answer, cost_usd, priced
from planner.quote.apply import applied
from planner.quote.replan import Change, changes, replan_with, where_text
from planner.quote.requests import Request, read_requests, request_problems
from planner.quote.standing import Standing, standing
from planner.scenario import Scenario

__all__ = ["EPSILON_USD_PER_GPU_HOUR", "QUOTE_COLUMNS", "Batch", "QuoteBook", "best_subset", "quote",
           "quote_requests"]

EPSILON_USD_PER_GPU_HOUR = 0.01
"""Above its floor, the price a request without an offer is weighed at in the best subset."""

QUOTE_COLUMNS = ["request", "outcome", "start_week", "end_week", "where", "latency_ms", "moved", "rerouted", "dropped",
                 "displaced_revenue_usd", "added_cost_usd", "gpu_hours", "price_floor_usd_per_gpu_hour",
                 "offered_usd_per_gpu_hour", "decision", "value_usd", "family", "reason", "alternatives",
                 "in_best_subset", "rank"]
"""The columns of :func:`quote`'s table (and of ``planner quote --out``)."""


@dataclass
class Batch:
    """The best subset of the requests that fit, taken together.

    Attributes
    ----------
    taken
        The requests the re-plan carries, with the price each was weighed at and its rows.
    placements
        Every other lease's placement rows after the re-plan.
    changes
        The sold leases it moves or drops.
    value_usd
        What taking them adds to the plan's net value at those prices.
    note
        Why no re-plan was made, if none was.
    """

    taken: list[tuple[Answer, float, pd.DataFrame]] = field(default_factory=list)
    placements: pd.DataFrame | None = None
    changes: list[Change] = field(default_factory=list)
    value_usd: float = 0.0
    note: str = ""

    @property
    def ids(self) -> list[str]:
        """The requests taken."""
        return [a.request.id for a, _, _ in self.taken]


@dataclass
class QuoteBook:
    """Every request's answer and the best subset, against one standing plan."""

    scenario: Scenario
    plan: Plan
    answers: list[Answer]
    batch: Batch

    def price(self, a: Answer) -> float:
        """The price a request is weighed at: its offer, else its floor plus :data:`EPSILON_USD_PER_GPU_HOUR`."""
        return a.offered if a.offered is not None else a.price_floor + EPSILON_USD_PER_GPU_HOUR

    def applied(self, ids: list[str] | None = None) -> tuple[Scenario, Plan]:
        """The scenario and plan with requests taken: the best subset (default), or the request named alone.

        ``ids`` names one request to take alone (its own answer), or the best subset's ids.

        Raises
        ------
        ValueError
            When a named request does not fit, or several are named that are not the best subset.
        """
        if ids is None or sorted(ids) == sorted(self.batch.ids):
            if self.batch.placements is None:
                return self.scenario, self.plan
            return applied(self.scenario, self.plan, self.batch.placements, self.batch.taken)
        if len(ids) != 1:
            msg = f"requests {', '.join(ids)} are not the best subset ({', '.join(self.batch.ids) or 'none'})"
            raise ValueError(msg)
        a = next((x for x in self.answers if x.request.id == ids[0]), None)
        if a is None or not a.fits:
            msg = f"request {ids[0]} is not among the requests that fit"
            raise ValueError(msg)
        return applied(self.scenario, self.plan, a.placements, [(a, self.price(a), a.rows)])

    def table(self) -> pd.DataFrame:
        """One row per request (columns :data:`QUOTE_COLUMNS`), ranked by value at the price it is weighed at."""
        rows = []
        for a in self.answers:
            r = a.rows
            lat = float(r.groupby("replica")["latency_ms"].first().max()) if len(r) else math.nan
            price = self.price(a) if a.fits else math.nan
            rows.append({
                "request": a.request.id, "outcome": a.outcome, "start_week": a.start_week,
                "end_week": None if a.start_week is None else a.start_week + a.request.row.duration_weeks - 1,
                "where": where_text(r) if len(r) else "",
                "latency_ms": lat,
                "moved": "; ".join(f"{c.lease}: {c.before} -> {c.after}" for c in a.moved),
                "rerouted": "; ".join(f"{c.lease}: {c.before} -> {c.after}" for c in a.rerouted),
                "dropped": "; ".join(c.lease for c in a.dropped),
                "displaced_revenue_usd": a.displaced_revenue_usd, "added_cost_usd": a.added_cost_usd,
                "gpu_hours": a.gpu_hours, "price_floor_usd_per_gpu_hour": a.price_floor,
                "offered_usd_per_gpu_hour": math.nan if a.offered is None else a.offered,
                "decision": a.decision, "value_usd": a.value_usd(price) if a.fits else math.nan,
                "family": a.family, "reason": a.reason,
                "alternatives": "; or ".join(x.text for x in a.alternatives) if not a.fits else "",
                "in_best_subset": a.request.id in self.batch.ids,
            })
        out = pd.DataFrame(rows, columns=QUOTE_COLUMNS)
        order = out["value_usd"].rank(ascending=False, method="first")
        out["rank"] = order.astype("Int64")
        return out.sort_values(["rank", "request"], na_position="last").reset_index(drop=True)


def best_subset(book: QuoteBook, st: Standing, *, work_limit_s: float, seed: int = 0, workers: int = 1) -> Batch:
    """One re-plan with every request that fits as an optional lease (see the module docs)."""
    fit = [a for a in book.answers if a.fits]
    if not fit:
        return Batch(note="no request fits")
    hours = book.scenario.horizon.hours_per_period
    if len(fit) == 1:  # alone is together: its own answer
        a = fit[0]
        if a.value_usd(book.price(a)) < 0:
            return Batch(note=f"{a.request.id} is worth less than it displaces at its price")
        return Batch([(a, book.price(a), a.rows)], a.placements, a.changes, a.value_usd(book.price(a)))
    rows = [a.request.workload(int(a.start_week or a.request.row.earliest_start), book.price(a), hours)
            for a in fit]
    try:
        new = replan_with(st, rows, work_limit_s=work_limit_s, seed=seed, workers=workers,
                             drop_penalty_factor=0.0)
    except (InfeasibleError, NoPlanError) as exc:
        return Batch(note=f"no re-plan of the requests together: {exc}")
    pl = new.placements
    ids = {a.request.id for a in fit}
    others = pl[~pl["lease"].isin(ids)].reset_index(drop=True)
    taken = [(a, book.price(a), pl[pl["lease"] == a.request.id].reset_index(drop=True)) for a in fit
             if a.request.id in set(pl["lease"])]
    before = book.plan.placements
    value = float(sum(priced(r, p, hours)["revenue_usd"].sum() for _, p, r in taken))
    value -= float(before[~before["lease"].isin(set(others["lease"]))]["revenue_usd"].sum())
    value -= cost_usd(pl) - cost_usd(before)
    return Batch(taken, others, changes(before, others), value)


def quote_requests(sc: Scenario, plan: Plan, requests: str | Path | list[Request], *, work_limit_s: float = 10.0,
                   seed: int = 0, workers: int = 1, batch: bool = True) -> QuoteBook:
    """Answer each request against the standing plan, and find the best subset together.

    Parameters
    ----------
    sc
        The scenario the plan was made for.
    plan
        The standing plan.
    requests
        A requests CSV (read with :func:`~planner.quote.requests.read_requests`) or the requests.
    work_limit_s
        CP-SAT's deterministic time for each re-plan (work, not wall seconds).
    seed, workers
        CP-SAT's seed and workers for the re-plans.
    batch
        Also find the best subset together (one more re-plan when several requests fit).

    Raises
    ------
    ScenarioError
        When the requests have errors (every one listed).
    """
    from planner.errors import ScenarioError

    if isinstance(requests, str | Path):
        reqs = read_requests(requests, sc)
    else:
        reqs = list(requests)
        problems = request_problems(sc, reqs)
        if problems:
            raise ScenarioError(problems)
    st = standing(sc, plan, reqs)
    answers = [answer(st, q, work_limit_s=work_limit_s, seed=seed, workers=workers) for q in reqs]
    book = QuoteBook(sc, plan, answers, Batch(note="not asked for"))
    if batch:
        book.batch = best_subset(book, st, work_limit_s=work_limit_s, seed=seed, workers=workers)
    return book


def quote(scenario: Scenario, plan: Plan, requests: str | Path | list[Request], *, work_limit_s: float = 10.0,
          seed: int = 0, workers: int = 1, batch: bool = True) -> pd.DataFrame:
    """Answer customers' requests against the standing plan: can we take it, where, and at what price?

    For each request: does it fit as the plan stands (where, from which start week of
    its window), or only with sold leases moved or dropped (which, from where to
    where), or not at all (what binds, with numbers, and the nearest changes that fit,
    each checked); its price floor per GPU-hour, and accept or decline at the price
    offered. With ``batch``, the best subset of the requests taken together. See
    :mod:`planner.quote.answer` and :mod:`planner.quote.book`.

    Parameters
    ----------
    scenario
        The scenario the plan was made for.
    plan
        The standing plan (e.g. :meth:`planner.Plan.read` of a results folder).
    requests
        A requests CSV (``planner schema request-row``) or a list of
        :class:`~planner.quote.requests.Request`.
    work_limit_s
        CP-SAT's deterministic time for each re-plan with moves (work, never the wall clock).
    seed, workers
        CP-SAT's seed and workers for the re-plans.
    batch
        Also find the best subset together (column ``in_best_subset``).

    Returns
    -------
    pandas.DataFrame
        One row per request, columns :data:`QUOTE_COLUMNS`, best value first.

    Raises
    ------
    ScenarioError
        When the requests file has errors (every one: file, line, field, value, fix).

    Examples
    --------
    >>> import planner
    >>> sc = planner.load_scenario()
    >>> plan = planner.greedy(sc, explain=False)
    >>> q = planner.quote(sc, plan, "examples/requests.csv", work_limit_s=2)
    >>> set(q["outcome"]) <= {"fits", "fits with moves", "does not fit"}
    True
    """
    return quote_requests(scenario, plan, requests, work_limit_s=work_limit_s, seed=seed, workers=workers,
                          batch=batch).table()
