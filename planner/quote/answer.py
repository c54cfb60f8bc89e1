"""One request against the standing plan: fits as it stands, fits with moves, or does not fit; and its price floor.

:func:`answer` tries, in this order:

1. **fits as the plan stands**: every start week of the window, earliest first, fitted
   into what the plan leaves (:meth:`~planner.optimise.residual.Residual.fit`);
2. **fits with moves**: at the first start week where the request fits beside
   internal work alone, a re-plan of the sold leases with the request forced in
   around the request (:func:`~planner.quote.near.near_replan`; the whole re-plan,
   :func:`~planner.quote.replan.replan_with`, when no few moves make room): it says which sold leases move and
   which are dropped (their revenue displaced);
3. **does not fit**: the binding constraint families with their numbers
   (:func:`planner.reasons.explain_lease`, the reasons the plan gives its own
   left-out leases) and the nearest alternatives that fit (:mod:`planner.quote.alternatives`).

The **price floor** is the least price per GPU-hour at which taking the request is
worth it: (revenue of the leases it displaces + what the plan's power and
transport cost rises by) / the request's GPU-hours. Taking it at price ``p`` changes
the plan's net value by exactly ``(p - floor) x GPU-hours``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Literal

import pandas as pd

from planner.errors import InfeasibleError, NoPlanError
from planner.optimise.heuristics.greedy import placement_rows
from planner.optimise.instance import LeaseOptions
from planner.optimise.residual import ReplicaFit
from planner.plan import PLACEMENT_COLUMNS
from planner.quote.alternatives import Alternative, alternatives
from planner.quote.near import near_replan
from planner.quote.replan import Change, changes, replan_with
from planner.quote.requests import Request, window_text
from planner.quote.standing import Standing
from planner.reasons import explain_lease

__all__ = ["Answer", "Outcome", "answer", "cost_usd", "priced"]

log = logging.getLogger(__name__)

Outcome = Literal["fits", "fits with moves", "does not fit"]


def cost_usd(placements: pd.DataFrame) -> float:
    """Power and transport cost of a set of placement rows."""
    return float(placements["power_cost_usd"].sum() + placements["transport_cost_usd"].sum())


def priced(rows: pd.DataFrame, price: float, hours: float) -> pd.DataFrame:
    """Placement rows of one (committed) lease with their revenue at ``price`` per GPU-hour."""
    out = rows.copy()
    weeks = out["end_week"] - out["start_week"] + 1
    out["revenue_usd"] = price * out["gpus"].astype(float) * weeks * hours
    # a request is sold as a committed lease: never pre-empted, so it earns its contract in every case
    out["contract_revenue_usd"] = out["worst_case_revenue_usd"] = out["revenue_usd"]
    out["expected_weeks_preempted"] = 0.0
    return out


@dataclass
class Answer:
    """The answer to one request.

    Attributes
    ----------
    request
        The request.
    outcome
        ``"fits"``, ``"fits with moves"`` or ``"does not fit"``.
    start_week
        The week it starts (``None`` when it does not fit).
    rows
        Its placement rows (revenue at price 0: :meth:`price` fills it in).
    placements
        The plan's placements with the request in (and the moves made), without the request's rows.
    changes
        The placed leases moved, re-routed or dropped.
    added_cost_usd
        What the plan's power and transport cost rises by, the request's own included.
    gpu_hours
        GPU-hours of the request's term.
    family, reason, fix
        For a request that does not fit: the binding families, the reason with its numbers, verified fixes.
    alternatives
        For a request that does not fit: changes that make it fit, each checked.
    note
        What else the answer should say (a re-plan that ran out of budget...).
    """

    request: Request
    outcome: Outcome
    start_week: int | None = None
    rows: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLACEMENT_COLUMNS))
    placements: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=PLACEMENT_COLUMNS))
    changes: list[Change] = field(default_factory=list)
    added_cost_usd: float = 0.0
    gpu_hours: float = 0.0
    family: str = ""
    reason: str = ""
    fix: str = ""
    alternatives: list[Alternative] = field(default_factory=list)
    note: str = ""

    @property
    def fits(self) -> bool:
        """Whether the request can be taken (as the plan stands, or with moves)."""
        return self.outcome != "does not fit"

    @property
    def moved(self) -> list[Change]:
        """Placed leases moved to other pods to make room."""
        return [c for c in self.changes if not c.dropped and not c.rerouted]

    @property
    def rerouted(self) -> list[Change]:
        """Placed leases kept on their pods whose traffic takes another route to make room."""
        return [c for c in self.changes if c.rerouted]

    @property
    def dropped(self) -> list[Change]:
        """Sold leases dropped to make room."""
        return [c for c in self.changes if c.dropped]

    @property
    def displaced_revenue_usd(self) -> float:
        """Revenue of the sold leases dropped."""
        return float(sum(c.revenue_usd for c in self.dropped))

    @property
    def price_floor(self) -> float:
        """The least price per GPU-hour at which taking the request is worth it (NaN when it does not fit)."""
        if not self.fits or self.gpu_hours <= 0:
            return math.nan
        return max((self.displaced_revenue_usd + self.added_cost_usd) / self.gpu_hours, 0.0)

    @property
    def offered(self) -> float | None:
        """The price offered, USD per GPU-hour."""
        return self.request.row.price_usd_per_gpu_hour

    @property
    def decision(self) -> str:
        """``"accept"`` or ``"decline"`` at the price offered; ``""`` without one."""
        if self.offered is None:
            return ""
        return "accept" if self.fits and self.offered >= self.price_floor - 1e-9 else "decline"

    def value_usd(self, price: float) -> float:
        """What taking the request at ``price`` per GPU-hour adds to the plan's net value."""
        return (price - self.price_floor) * self.gpu_hours if self.fits else math.nan


def _rows(st: Standing, lo: LeaseOptions, fits: list[ReplicaFit]) -> pd.DataFrame:
    return pd.DataFrame(placement_rows(st.inst, lo, fits), columns=PLACEMENT_COLUMNS)


def as_it_stands(st: Standing, q: Request) -> Answer | None:
    """The request fitted into what the plan leaves, at the first start week of its window where it fits."""
    hours = st.sc.horizon.hours_per_period
    for s in q.starts:
        lo = st.window_probe(q, s)
        got = st.res.fit(lo)
        if got is not None:
            rows = _rows(st, lo, got)
            return Answer(q, "fits", s, rows=rows, placements=st.plan.placements, added_cost_usd=cost_usd(rows),
                          gpu_hours=q.gpu_hours(hours))
    return None


def with_moves(st: Standing, q: Request, *, work_limit_s: float, seed: int = 0, workers: int = 1
               ) -> Answer | str:
    """The request forced in by a re-plan (sold leases moved or dropped), or why none was made."""
    hours = st.sc.horizon.hours_per_period
    start = next((s for s in q.starts if st.base.fit(st.window_probe(q, s)) is not None), None)
    if start is None:
        return f"it does not fit beside internal work alone in any start week of its window ({window_text(q)})"
    forced = q.workload(start, 0.0, hours, priority="internal")
    near = near_replan(st, forced, work_limit_s=work_limit_s, seed=seed, workers=workers)
    if near is not None:
        pl = near.placements
    else:  # no few moves make room: the whole re-plan
        try:
            pl = replan_with(st, [forced], work_limit_s=work_limit_s, seed=seed, workers=workers).placements
        except InfeasibleError:
            return f"no re-plan holds it from week {start}, whatever sold leases are dropped"
        except NoPlanError:
            return f"the re-plan found no plan within its budget ({work_limit_s:g} s of work); raise the work limit"
    mine = pl[pl["lease"] == q.id].reset_index(drop=True)
    others = pl[pl["lease"] != q.id].reset_index(drop=True)
    before = st.plan.placements
    added = cost_usd(pl) - cost_usd(before)
    return Answer(q, "fits with moves", start, rows=mine, placements=others, changes=changes(before, others),
                  added_cost_usd=added, gpu_hours=q.gpu_hours(hours))


def does_not_fit(st: Standing, q: Request, why: str) -> Answer:
    """The binding families (with numbers) at the window's first start, and the alternatives that fit."""
    lo = st.window_probe(q, q.row.earliest_start)
    row = explain_lease(st.inst, lo, st.res.copy(), st.base, st.placed)
    return Answer(q, "does not fit", family=str(row["family"]), reason=f"{row['reason']}; with moves: {why}",
                  fix=str(row["fix"]), alternatives=alternatives(st, q),
                  gpu_hours=q.gpu_hours(st.sc.horizon.hours_per_period))


def answer(st: Standing, q: Request, *, work_limit_s: float = 10.0, seed: int = 0, workers: int = 1) -> Answer:
    """Answer one request against the standing plan (see the module docs).

    Parameters
    ----------
    st
        The standing plan and the request's probes (:func:`~planner.quote.standing.standing`).
    q
        The request.
    work_limit_s
        CP-SAT's deterministic time for the re-plan with moves.
    seed, workers
        CP-SAT's seed and workers for it.
    """
    got = as_it_stands(st, q)
    if got is not None:
        return got
    moved = with_moves(st, q, work_limit_s=work_limit_s, seed=seed, workers=workers)
    if isinstance(moved, Answer):
        return moved
    log.info("request %s does not fit: %s", q.id, moved)
    return does_not_fit(st, q, moved)
