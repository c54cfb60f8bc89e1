"""Re-plan the sold leases with requests added: moved or dropped where needed, on a work budget.

The re-plan starts from the standing plan (``previous_plan``): every lease it placed
is kept where it is unless moving it is needed, and dropping one costs its revenue
times ``drop_penalty_factor`` besides. For a quote, moving a lease should be cheaper
than dropping one, so the move penalty is set so that :data:`MOVES_BEFORE_A_DROP`
moves cost less than dropping the smallest sold lease (:func:`quote_move_penalty`):
the re-plan drops the least revenue it can, then moves the fewest leases. Its
search runs to the end of its budget (no gap limit: the drop penalties make the
objective so large that a relative gap would excuse a needless drop).

Only the leases the plan placed, and the requests, are in the re-plan: a lease the
plan left out stays out (the quote answers one question, not a new plan). The
budget is CP-SAT's deterministic time (:class:`~planner.optimise.budget.Budget`),
never the wall clock, so a quote is the same on a busy machine.
"""

from __future__ import annotations

import dataclasses
import logging

import pandas as pd

from planner.optimise.heuristics.greedy import placement_rows
from planner.optimise.instance import Instance, LeaseOptions, build_instance
from planner.optimise.model import add_hint
from planner.optimise.optimiser import Optimiser
from planner.optimise.residual import ReplicaFit, Residual, fits_from_placements
from planner.plan import PLACEMENT_COLUMNS, Plan
from planner.quote.room import make_room
from planner.quote.standing import Standing, holding_apis, with_workloads
from planner.scenario import Scenario
from planner.schema import Settings
from planner.whatif.compare import holdings

__all__ = ["MOVES_BEFORE_A_DROP", "Change", "Replan", "changes", "keep_routes", "quote_move_penalty", "replan_settings",
           "replan_with", "where_text"]

log = logging.getLogger(__name__)


MOVES_BEFORE_A_DROP = 20
"""A quote's re-plan moves up to this many placed leases rather than drop the smallest sold one."""


def quote_move_penalty(sc: Scenario, plan: Plan) -> float:
    """The cost of one move in a quote's re-plan: :data:`MOVES_BEFORE_A_DROP` moves cost less than the cheapest drop.

    Dropping a sold lease costs its revenue times ``1 + drop_penalty_factor``; the
    penalty is that of the smallest sold lease over ``MOVES_BEFORE_A_DROP + 1`` (the
    scenario's ``settings.move_penalty_usd`` when that is lower). As high as that
    allows, so that a re-plan does not move leases for the little power it saves.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> sc = SimpleNamespace(settings=SimpleNamespace(move_penalty_usd=1e9, drop_penalty_factor=20.0))
    >>> plan = SimpleNamespace(placements=pd.DataFrame({"lease": ["A", "B"], "revenue_usd": [300.0, 900.0]}))
    >>> quote_move_penalty(sc, plan)
    300.0
    """
    revenue = plan.placements.groupby("lease")["revenue_usd"].sum()
    sold = revenue[revenue > 0]
    if sold.empty:
        return float(sc.settings.move_penalty_usd)
    drop = float(sold.min()) * (1.0 + sc.settings.drop_penalty_factor)
    return float(min(sc.settings.move_penalty_usd, drop / (MOVES_BEFORE_A_DROP + 1)))


def replan_settings(st: Standing, drop_penalty_factor: float | None = None) -> Settings:
    """The scenario's settings with a quote's move penalty (and ``drop_penalty_factor``, when given)."""
    return st.sc.settings.model_copy(update={
        "move_penalty_usd": quote_move_penalty(st.sc, st.plan),
        "drop_penalty_factor": st.sc.settings.drop_penalty_factor if drop_penalty_factor is None
        else float(drop_penalty_factor)})


@dataclasses.dataclass
class Replan:
    """A re-plan with requests added: its scenario, instance and plan, and its placements with routes kept."""

    sc: Scenario
    inst: Instance
    plan: Plan
    placements: pd.DataFrame
    """The plan's placements, each lease whose pods did not change back on its earlier route where that fits."""


def keep_routes(inst: Instance, before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """``after`` with every lease that kept its pods put back on its route in ``before``, where that still fits.

    A re-plan pins a lease that stays to its pods, not to its route; taking another
    route would be a change nobody asked for. Every lease on its old pods but a new
    route is taken off the spans; each is put back on its earlier route where that
    fits, then the others on the re-plan's route, or the fastest with room. Should
    one find no route then, the leases are put back on their earlier routes one at a
    time instead, each where it fits beside the others as they are.
    """
    old, new = fits_from_placements(inst, before), fits_from_placements(inst, after)
    res = Residual.after(inst, {k: v for k, v in new.items() if v is not None})
    by_id = {lo.lease: lo for lo in inst.leases}
    a, b = holdings(before), holdings(after)
    changed: dict[str, list[ReplicaFit]] = {}
    todo: Todo = []
    for lid in sorted(set(a) & set(b)):
        was, now, lo = old.get(lid), new.get(lid), by_id.get(lid)
        if a[lid] != b[lid] or was is None or now is None or lo is None or not lo.needs_path:
            continue
        if any(f.path is None for f in was):
            continue
        if not all(x.path is not None and y.path is not None and x.path.spans == y.path.spans
                   for x, y in zip(sorted(was, key=_key), sorted(now, key=_key), strict=True)):
            todo.append((lid, lo, was, now))
    if not todo:
        return after
    placed = _together(res.copy(), todo)
    if placed is None:  # the earlier routes together crowd a lease off every route: one lease at a time
        placed = _one_by_one(res, todo)
    changed = {lid: f for lid, f in placed.items() if _spans(f) != _spans(new[lid] or [])}
    if not changed:
        return after
    rows = [row for lid, fits in changed.items() for row in placement_rows(inst, by_id[lid], fits)]
    kept = after[~after["lease"].isin(changed)]
    return pd.concat([kept, pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)], ignore_index=True)


Todo = list[tuple[str, LeaseOptions, list[ReplicaFit], list[ReplicaFit]]]
"""(lease, options, fits before, fits after) of the leases on their earlier pods but another route."""


def _together(res: Residual, todo: Todo) -> dict[str, list[ReplicaFit]] | None:
    """Every route in question off its spans; the earlier routes first, then the rest; ``None`` if one finds none."""
    for _, lo, _, now in todo:
        res.apply(lo, now, sign=+1)
    placed: dict[str, list[ReplicaFit]] = {}
    for lid, lo, was, _ in todo:
        if res.holds(lo, was):
            res.apply(lo, was)
            placed[lid] = was
    for lid, lo, _, now in todo:
        if lid in placed:
            continue
        got = _route_again(res, lo, now)
        if got is None:
            return None
        res.apply(lo, got)
        placed[lid] = got
    return placed


def _one_by_one(res: Residual, todo: Todo) -> dict[str, list[ReplicaFit]]:
    """Each lease back on its earlier route where that fits beside the others as they are, until none more does."""
    placed = {lid: now for lid, _, _, now in todo}
    progress = True
    while progress:
        progress = False
        for lid, lo, was, now in todo:
            if placed[lid] is was:
                continue
            res.apply(lo, now, sign=+1)
            if res.holds(lo, was):
                res.apply(lo, was)
                placed[lid] = was
                progress = True
            else:
                res.apply(lo, now)
    return placed


def _spans(fits: list[ReplicaFit]) -> list[tuple[tuple[tuple[int, int], ...], tuple[str, ...]]]:
    return sorted((_key(f), f.path.spans if f.path is not None else ()) for f in fits)


def _route_again(res: Residual, lo: LeaseOptions, now: list[ReplicaFit]) -> list[ReplicaFit] | None:
    """``now``'s pods with, replica by replica, its route if it has room, else the fastest with room (or ``None``)."""
    t = slice(lo.t0, lo.t1 + 1)
    out: list[ReplicaFit] = []
    try:
        for f in now:
            cands = [f.path] if f.path is not None else []
            cands += [p for p in lo.paths.get(f.site, []) if f.path is None or p.spans != f.path.spans]
            path = next((p for p in cands if res.link[p.span_idx, t].min() >= lo.egress_mbps), None)
            if path is None:
                return None
            fit = ReplicaFit(f.site, f.parts, path)
            res.apply(lo, [fit])
            out.append(fit)
        return out
    finally:
        res.apply(lo, out, sign=+1)


def _key(f: ReplicaFit) -> tuple[tuple[int, int], ...]:
    return tuple(sorted(f.parts))


def replan_with(st: Standing, rows: list[dict[str, object]], *, work_limit_s: float, seed: int = 0,
                workers: int = 1, drop_penalty_factor: float | None = None) -> Replan:
    """Re-plan the standing plan's leases with ``rows`` (workload rows) added.

    Parameters
    ----------
    st
        The standing plan.
    rows
        The requests as workload rows (``priority="internal"`` forces one in).
    work_limit_s
        CP-SAT's deterministic time limit (work, not wall seconds).
    seed, workers
        CP-SAT's seed and workers.
    drop_penalty_factor
        Dropping a sold lease costs this many times its revenue besides (the scenario's by default).

    Returns
    -------
    Replan
        The re-plan's scenario (the placed leases and ``rows``), instance, plan, and
        placements with unchanged leases on their earlier routes (:func:`keep_routes`).

    Raises
    ------
    InfeasibleError
        When a forced request cannot be placed whatever is dropped.
    NoPlanError
        When the budget ends before the first plan.
    """
    placed = list(dict.fromkeys(map(str, st.plan.placements["lease"])))
    sc = dataclasses.replace(with_workloads(st.sc, rows, keep=placed),
                             settings=replan_settings(st, drop_penalty_factor))
    inst = holding_apis(build_instance(sc, graph=st.graph, paths=st.paths), st.plan)
    log.info("re-planning %d leases with %d request(s), %.0f s of work", len(placed), len(rows), work_limit_s)
    opt = Optimiser(sc, time_limit_s=work_limit_s, seed=seed, workers=workers, previous_plan=st.plan,
                    deterministic=True, explain=False, instance=inst, relative_gap_limit=0.0)
    m = opt.build()
    forced = [str(r["lease"]) for r in rows if r["priority"] == "internal"]
    if m is not None and len(forced) == 1:  # a start that holds the forced request, for CP-SAT to improve on
        previous = {k: v for k, v in fits_from_placements(inst, st.plan.placements).items() if v is not None}
        start = make_room(inst, previous, forced[0])
        if start is not None:
            m.cp.clear_hints()
            add_hint(m, start, dict(previous))
    plan = opt.solve()
    return Replan(sc, inst, plan, keep_routes(inst, st.plan.placements, plan.placements))


@dataclasses.dataclass(frozen=True)
class Change:
    """A placed lease the re-plan changes: where it was and where it goes (``""`` when dropped)."""

    lease: str
    before: str
    after: str
    revenue_usd: float

    rerouted: bool = False
    """Whether only its route changed (same pods and GPUs)."""

    @property
    def dropped(self) -> bool:
        """Whether the lease is dropped (not moved)."""
        return not self.after


def where_text(rows: pd.DataFrame) -> str:
    """Where a lease's replicas are: ``SA A1x100 | SB B1x60+B2x40`` (replica by replica, routes after ``via``)."""
    parts = []
    for _, rr in rows.sort_values(["replica", "pod"]).groupby("replica"):
        pods = "+".join(f"{p}x{int(g):,}" for p, g in zip(rr["pod"], rr["gpus"], strict=True))
        route = str(rr["path"].iat[0]) if "path" in rr and str(rr["path"].iat[0]) else ""
        parts.append(f"{rr['site'].iat[0]} {pods}" + (f" via {route}" if route else ""))
    return " | ".join(parts)


def changes(before: pd.DataFrame, after: pd.DataFrame) -> list[Change]:
    """The leases of ``before`` that ``after`` moves (other pods or GPUs), re-routes (same pods) or drops."""
    a, b = holdings(before), holdings(after)
    out = []
    for lid in sorted(a):
        old = before[before["lease"] == lid]
        revenue = float(old["revenue_usd"].sum())
        if lid not in b:
            out.append(Change(lid, where_text(old), "", revenue))
            continue
        new = after[after["lease"] == lid]
        routes_old = sorted(map(tuple, old.groupby("replica")["spans"].first()))
        routes_new = sorted(map(tuple, new.groupby("replica")["spans"].first()))
        if a[lid] != b[lid] or routes_old != routes_new:
            out.append(Change(lid, where_text(old), where_text(new), revenue, rerouted=a[lid] == b[lid]))
    return out
