"""The greedy baseline: internal work first, then leases by price, first fit.

Used as the optimiser's warm start and as the yardstick it must beat.
"""

from __future__ import annotations

import time

import pandas as pd

from planner.errors import InfeasibleError
from planner.fit import ReplicaFit
from planner.instance import Instance, LeaseOptions, build_instance
from planner.plan import PLACEMENT_COLUMNS, Plan, make_plan
from planner.scenario import Scenario

__all__ = ["greedy", "placement_rows"]


def placement_rows(inst: Instance, lo: LeaseOptions, fits: list[ReplicaFit]) -> list[dict[str, object]]:
    """The ``placements`` rows of one placed lease."""
    rows = []
    per_replica_revenue = lo.revenue_usd / lo.replicas
    for r, f in enumerate(fits):
        transport = inst.transport_cost_usd(lo, f.path)
        for pod, g in f.parts:
            share = g / lo.gpus
            rows.append({
                "lease": lo.lease, "replica": r, "site": inst.site_ids[f.site], "pod": inst.pod_ids[pod],
                "gpus": g, "path_id": f.path.path_id if f.path else "", "path": f.path.label if f.path else "",
                "spans": f.path.spans if f.path else (), "latency_ms": f.path.latency_ms if f.path else float("nan"),
                "egress_gbps": lo.egress_gbps * share, "start_week": lo.t0 + 1, "end_week": lo.t1 + 1,
                "revenue_usd": per_replica_revenue * share, "power_cost_usd": inst.power_cost_usd(lo, pod, g),
                "transport_cost_usd": transport * share,
            })
    return rows


def greedy(sc: Scenario, *, instance: Instance | None = None, explain: bool = True) -> Plan:
    """Plan by price-ordered first fit: a fast, valid baseline.

    Parameters
    ----------
    sc
        The scenario.
    instance
        A prebuilt :class:`~planner.instance.Instance` (built from ``sc`` when omitted).
    explain
        Find the reason each left-out lease is left out (slower on large scenarios).

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
    from planner.warmstart import greedy_pass, price_order

    t = time.perf_counter()
    inst = instance or build_instance(sc)
    placed, res, failed = greedy_pass(inst, price_order(inst))
    if failed:
        raise InfeasibleError(internal_failure_reasons(inst, failed))
    rows = [row for lo in inst.leases if lo.lease in placed for row in placement_rows(inst, lo, placed[lo.lease])]
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    unplaced = explain_unplaced(inst, placements, res, explain=explain)
    net = (placements["revenue_usd"] - placements["power_cost_usd"] - placements["transport_cost_usd"]).sum()
    return make_plan(sc, placements, unplaced, status="HEURISTIC", objective_usd=float(net),
                     bound_usd=float("nan"), wall_s=time.perf_counter() - t, method="greedy")
