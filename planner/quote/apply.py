"""The standing plan with accepted requests applied: a plan of the scenario with the requests as leases.

The plan returned passes :meth:`~planner.plan.Plan.check` against the scenario
returned (the standing scenario with each accepted request as a committed lease at
its start week and price): the request's rows are added, the moves made, and the
sold leases dropped are listed as left out with the request that displaced them.
"""

from __future__ import annotations

import pandas as pd

from planner.plan import PLACEMENT_COLUMNS, UNPLACED_COLUMNS, Plan, Status, make_plan
from planner.quote.answer import Answer, priced
from planner.quote.standing import with_workloads
from planner.scenario import Scenario

__all__ = ["applied", "apply_answers"]


def applied(sc: Scenario, plan: Plan, placements: pd.DataFrame, taken: list[tuple[Answer, float, pd.DataFrame]],
            *, note: str = "quote") -> tuple[Scenario, Plan]:
    """The plan with ``placements`` (the other leases, after any moves) and each taken request's rows.

    Parameters
    ----------
    sc, plan
        The standing scenario and plan.
    placements
        The placement rows of every lease but the requests (the standing plan's, or a re-plan's).
    taken
        Each request taken: its answer, the price per GPU-hour, its placement rows.
    note
        The plan's method label.
    """
    hours = sc.horizon.hours_per_period
    rows = [a.request.workload(int(r["start_week"].iat[0]), price, hours) for a, price, r in taken]
    sc2 = with_workloads(sc, rows)
    mine = [priced(r, price, hours) for _, price, r in taken]
    pl = pd.concat([placements.reindex(columns=PLACEMENT_COLUMNS), *mine], ignore_index=True)
    dropped = sorted(set(plan.placements["lease"]) - set(pl["lease"]))
    by = ", ".join(a.request.id for a, _, _ in taken)
    wl = sc.workloads
    gone = pd.DataFrame([{
        "lease": lid, "priority": "lease", "sku": wl.at[lid, "sku"], "gpus": int(wl.at[lid, "gpus"]),
        "replicas": int(wl.at[lid, "replicas"]), "start_week": int(wl.at[lid, "start_week"]),
        "end_week": int(wl.at[lid, "end_week"]), "revenue_usd": float(wl.at[lid, "revenue_usd"]),
        "family": "displaced", "reason": f"dropped to make room for request {by}",
        "fix": "decline the request to keep it", "crowded_out_by": tuple(a.request.id for a, _, _ in taken),
    } for lid in dropped], columns=UNPLACED_COLUMNS)
    unplaced = pd.concat([plan.unplaced, gone], ignore_index=True) if len(gone) else plan.unplaced.copy()
    net = float((pl["revenue_usd"] - pl["power_cost_usd"] - pl["transport_cost_usd"]).sum())
    net += float(plan.meta.get("api", {}).get("net_usd", 0.0))  # the plan's API service, kept as it stands
    meta = {"quote": {"requests": [a.request.id for a, _, _ in taken], "dropped": dropped,
                      "moved": sorted({c.lease for a, _, _ in taken for c in a.moved})}}
    return sc2, make_plan(sc2, pl, unplaced, status=Status.FEASIBLE, objective_usd=net, bound_usd=float("nan"),
                          wall_s=0.0, method=note, meta=meta, api=(plan.api_use, plan.api_routes, plan.api_replicas))


def apply_answers(sc: Scenario, plan: Plan, answer: Answer, *, price: float | None = None) -> tuple[Scenario, Plan]:
    """The standing plan with one request taken as its answer says, at ``price`` (offered, else its floor).

    Raises
    ------
    ValueError
        When the request does not fit.
    """
    if not answer.fits:
        msg = f"request {answer.request.id} does not fit; only a request that fits can be applied"
        raise ValueError(msg)
    p = price if price is not None else answer.offered if answer.offered is not None else answer.price_floor
    return applied(sc, plan, answer.placements, [(answer, p, answer.rows)])
