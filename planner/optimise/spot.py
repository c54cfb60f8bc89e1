"""Spot leases: what pre-emption by internal work costs them, per placement row.

Internal demand is uncertain: a reservation row may come with an upside (its work starts
early or grows, with a chance; :class:`~planner.schema.ReservationRow`). Committed leases
and internal work plan against the worst case (every upside happens); a spot lease may use
capacity only the base case leaves free, and internal work takes it back -- pre-empts it --
in every week an upside reaches one of its pods. Each pre-empted week of a GPU earns
nothing and refunds ``settings.spot_refund_factor`` of that week's revenue; a replica's GPUs
are counted pod by pod (GPU-weeks served), so the expected revenue is linear in where the
GPUs sit, and every method (CP-SAT's objective, the greedy, the local searches) values a
spot lease the same way, through :meth:`~planner.optimise.instance.Instance.spot_loss_usd`.
"""

from __future__ import annotations

from planner.optimise.instance import Instance, LeaseOptions

__all__ = ["SPOT_COLUMNS", "spot_columns"]

SPOT_COLUMNS = ["contract_revenue_usd", "expected_weeks_preempted", "worst_case_revenue_usd"]
"""The placement columns this module fills (``revenue_usd`` is the expected revenue)."""


def spot_columns(inst: Instance, lo: LeaseOptions, pod: int, gpus: int, contract_usd: float) -> dict[str, float]:
    """The spot columns of one placement row: ``gpus`` GPUs of ``lo`` in ``pod``, earning ``contract_usd`` if served.

    ``expected_weeks_preempted`` is the expected number of weeks of the term the pod's
    spot capacity is taken back; ``worst_case_revenue_usd`` what the row earns when every
    upside happens. Both are 0 and ``contract_usd`` for committed leases and internal work.
    """
    if not lo.spot or inst.pod_preempt.size == 0:
        return {"contract_revenue_usd": contract_usd, "expected_weeks_preempted": 0.0,
                "worst_case_revenue_usd": contract_usd}
    chance = inst.pod_preempt[pod, lo.t0 : lo.t1 + 1]
    taken = int((chance > 0).sum())
    return {"contract_revenue_usd": contract_usd, "expected_weeks_preempted": float(chance.sum()),
            "worst_case_revenue_usd": contract_usd - inst.spot_refund * lo.gpu_week_usd * gpus * taken}
