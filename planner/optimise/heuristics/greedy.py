"""Greedy plans: internal work first, then leases by price, first fit.

:func:`greedy` is the baseline (``planner.greedy``) and the yardstick the optimiser
must beat; :func:`greedy_pass`, :func:`fill` and :func:`confined_start` are the
first-fit passes the warm starts and the focused search build on. Nothing here
imports OR-Tools.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import pandas as pd

from planner.errors import InfeasibleError
from planner.optimise.apis import ApiSolution, api_value, solution_rows, take
from planner.optimise.heuristics.api_fill import fill_apis, greedy_with_apis
from planner.optimise.heuristics.first_fit import fill
from planner.optimise.heuristics.polish import net_value
from planner.optimise.instance import Instance, LeaseOptions, build_instance
from planner.optimise.residual import Guide, ReplicaFit, Residual
from planner.optimise.spot import spot_columns
from planner.plan import PLACEMENT_COLUMNS, Plan, Status, make_plan
from planner.scenario import Scenario

__all__ = ["CARRIED_SHARE", "confined_start", "fill", "greedy", "greedy_pass", "kept_in_place", "placement_rows",
           "plan_apis", "plan_value", "price_order"]


def placement_rows(inst: Instance, lo: LeaseOptions, fits: list[ReplicaFit]) -> list[dict[str, object]]:
    """The ``placements`` rows of one placed lease."""
    rows = []
    per_replica_revenue = lo.revenue_usd / lo.replicas
    for r, f in enumerate(fits):
        transport = inst.transport_cost_usd(lo, f.path)
        for pod, g in f.parts:
            share = g / lo.gpus
            rows.append({
                "lease": lo.group, "replica": r, "site": inst.site_ids[f.site], "pod": inst.pod_ids[pod],
                "gpus": g, "path_id": f.path.path_id if f.path else "", "path": f.path.label if f.path else "",
                "spans": f.path.spans if f.path else (), "latency_ms": f.path.latency_ms if f.path else float("nan"),
                "egress_gbps": lo.egress_gbps * share, "start_week": lo.t0 + 1, "end_week": lo.t1 + 1,
                "revenue_usd": per_replica_revenue * share - inst.spot_loss_usd(lo, pod, g),
                "power_cost_usd": inst.power_cost_usd(lo, pod, g), "transport_cost_usd": transport * share,
                **spot_columns(inst, lo, pod, g, per_replica_revenue * share),
            })
    return rows


def greedy(sc: Scenario, *, instance: Instance | None = None, explain: bool = True, workers: int = 1,
           on_plan: Callable[[float], None] | None = None,
           on_reasons: Callable[[int, int], None] | None = None) -> Plan:
    """Plan by price-ordered first fit: a fast, valid baseline.

    With API demand, the better of two plans: leases first and the API filler in what they
    leave, or leases and streams together by value per GPU-week
    (:func:`~planner.optimise.heuristics.api_fill.greedy_with_apis`).

    Parameters
    ----------
    sc
        The scenario.
    instance
        A prebuilt :class:`~planner.optimise.instance.Instance` (built from ``sc`` when omitted).
    explain
        Find the reason each left-out lease is left out (slower on large scenarios).
    workers
        Processes that explain the left-out leases side by side (the same reasons for any number).
    on_plan
        Called with the plan's net value once the leases are placed, before they are explained.
    on_reasons
        Called as ``on_reasons(explained, left_out)`` while the left-out leases are explained.

    Raises
    ------
    InfeasibleError
        When an internal workload does not fit.

    Examples
    --------
    >>> from planner import load_scenario
    >>> sc = load_scenario()
    >>> plan = greedy(sc)
    >>> plan.check(sc)
    []
    """
    from planner.reasons import explain_unplaced, internal_failure_reasons

    t = time.perf_counter()
    inst = instance or build_instance(sc)
    placed, res, failed = greedy_pass(inst, price_order(inst))
    if failed:
        raise InfeasibleError(internal_failure_reasons(inst, failed))
    api = fill_apis(inst, res)  # then the APIs, in what the leases leave
    take(inst.api, api, res)
    if inst.api is not None:  # or leases and API streams together, by value per GPU-week: the better plan
        fits2, res2, _, api2 = greedy_with_apis(inst, price_order(inst))
        if plan_value(inst, fits2, api2) > plan_value(inst, placed, api) + 1e-6:
            placed, res, api = fits2, res2, api2
    rows = [row for lo in inst.leases if lo.lease in placed for row in placement_rows(inst, lo, placed[lo.lease])]
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    net = (placements["revenue_usd"] - placements["power_cost_usd"] - placements["transport_cost_usd"]).sum()
    net += api_value(inst.api, api).net_usd
    if on_plan is not None:
        on_plan(float(net))
    unplaced = explain_unplaced(inst, placements, res, explain=explain, workers=workers, on_done=on_reasons)
    return make_plan(sc, placements, unplaced, status=Status.HEURISTIC, objective_usd=float(net),
                     bound_usd=float("nan"), wall_s=time.perf_counter() - t, method="greedy",
                     api=plan_api_tables(inst, api, res))


def greedy_pass(inst: Instance, order: list[LeaseOptions], guide: Guide | None = None
                ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str]]:
    """First fit in ``order``; leases that lose money are skipped. Returns fits, residual, failed internal ids."""
    return fill(inst, order, Residual(inst, guide))


CARRIED_SHARE = 0.25
"""A lease an LP relaxation carries at least this share of counts as carried by it (see :func:`price_order`)."""


def price_order(inst: Instance, lp_placed: dict[str, float] | None = None, *,
                carried_at: float | None = None, biggest_first: bool = False) -> list[LeaseOptions]:
    """Internal work first (largest first), then leases by price per GPU-hour, those an LP carries first.

    The options of a lease with a start window come together, earliest start first.

    With ``lp_placed`` (the share of each lease an LP relaxation carries) leases come
    by that share, highest first, then by price; with ``carried_at`` too, every lease
    carried at least that much comes first, alike, by price -- which keeps a dear lease
    the LP splits from waiting behind cheap whole ones (on the generated medium and
    large tiers it gives better greedy plans; on hyperscale, worse). With ``biggest_first``
    as well, the carried leases come biggest first (GPU-weeks), as a bin packer places
    them: the relaxation has chosen them, so what is left is packing them, and small
    ones fit round big ones where big ones do not fit round small ones (the rest still
    by price).

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario())
    >>> chosen = {lo.lease: 1.0 for lo in inst.leases[:40] if not lo.internal}
    >>> order = [lo for lo in price_order(inst, chosen, carried_at=0.5, biggest_first=True) if not lo.internal]
    >>> sizes = [lo.gpus * lo.replicas * lo.weeks for lo in order[:len(chosen)]]
    >>> {lo.lease for lo in order[:len(chosen)]} == set(chosen), sizes == sorted(sizes, reverse=True)
    (True, True)
    """
    def key(lo: LeaseOptions) -> tuple[int, float, float, int, str, int]:
        price = lo.revenue_usd / max(lo.gpus * lo.replicas * lo.weeks, 1)
        share = lp_placed.get(lo.lease, 0.0) if lp_placed is not None else 0.0
        carried = carried_at is not None and share >= carried_at
        lean = -float(carried) if carried_at is not None else -round(share, 3)
        first = -lo.gpus * lo.replicas if lo.internal else -price
        if biggest_first and carried and not lo.internal:
            first = -float(lo.gpus * lo.replicas * lo.weeks)
        return (0 if lo.internal else 1, lean, first, lo.gpus, lo.group, lo.t0)
    return sorted(inst.leases, key=key)


def kept_in_place(inst: Instance, keep: dict[str, list[ReplicaFit]]) -> tuple[dict[str, list[ReplicaFit]], Residual]:
    """An earlier plan's placements that still fit, each replica re-routed over today's paths."""
    res = Residual(inst)
    fits: dict[str, list[ReplicaFit]] = {}
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid in sorted(keep, key=lambda k: (not by_id[k].internal, -by_id[k].revenue_usd) if k in by_id else (1, 0)):
        lo = by_id.get(lid)
        if lo is None:
            continue
        routed = []
        for f in keep[lid]:
            same = None if f.path is None else next(
                (p for p in lo.paths.get(f.site, []) if p.spans == f.path.spans), None)
            path = same if same is not None else res.route(lo, f.site)
            if path is False:
                break
            routed.append(ReplicaFit(f.site, f.parts, path))
        if len(routed) == len(keep[lid]) and res.holds(lo, routed):
            res.apply(lo, routed)
            fits[lid] = routed
    return fits, res


def confined_start(inst: Instance, fits: dict[str, list[ReplicaFit]], sites: dict[str, set[int]],
                   lp_placed: dict[str, float] | None = None) -> dict[str, list[ReplicaFit]]:
    """A plan with every lease at its ``sites`` only: ``fits`` less the leases elsewhere, then filled up greedily.

    Leases left out or dropped are tried again in :func:`price_order` (by
    ``lp_placed``), each confined to the pods of its own ``sites`` (a lease without
    an entry has none).
    """
    kept = {lid: fs for lid, fs in fits.items() if all(f.site in sites.get(lid, ()) for f in fs)}
    res = Residual.after(inst, kept)
    rest = [dataclasses.replace(lo, pods={s: ps for s, ps in lo.pods.items() if s in sites.get(lo.lease, ())})
            for lo in price_order(inst, lp_placed) if lo.lease not in kept]
    more, _, _ = fill(inst, rest, res, held=kept)
    return kept | more


def plan_value(inst: Instance, fits: dict[str, list[ReplicaFit]], api: ApiSolution | None = None) -> float:
    """Net value (revenue less power and transport cost) of a set of placements and its API service.

    The API service is ``api``, or, when omitted, what the greedy API filler serves with
    the capacity ``fits`` leave (nothing without API demand).
    """
    by_id = {lo.lease: lo for lo in inst.leases}
    leases = sum(net_value(inst, by_id[k], f) for k, f in fits.items())
    if inst.api is None:
        return leases
    return leases + api_value(inst.api, api if api is not None else plan_apis(inst, fits)).net_usd


def plan_api_tables(inst: Instance, api: ApiSolution | None, res: Residual
                    ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None:
    """The plan's API tables (``None`` without API demand); ``res`` is what its leases and ``api`` leave."""
    if inst.api is None:
        return None
    from planner.api_plan import api_tables
    from planner.api_reasons import explain_unserved

    sol = api if api is not None else ApiSolution()
    reps, routes = solution_rows(inst, sol)
    return api_tables(inst.sc, reps, routes, explain_unserved(inst, sol, res))


def plan_apis(inst: Instance, fits: dict[str, list[ReplicaFit]]) -> ApiSolution:
    """The greedy API filler's service in what ``fits`` leave (empty without API demand)."""
    return fill_apis(inst, Residual.after(inst, fits)) if inst.api is not None else ApiSolution()

