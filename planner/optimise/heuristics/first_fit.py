"""The lease first fit every greedy plan is made of: each lease in a given order where it first fits, if it pays."""

from __future__ import annotations

from collections.abc import Collection

from planner.optimise.heuristics.polish import net_value
from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["fill"]


def fill(inst: Instance, order: list[LeaseOptions], res: Residual, held: Collection[str] = ()
         ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str]]:
    """First fit in ``order`` into ``res`` (changed in place); returns fits, residual, failed internal ids.

    ``held`` names the leases (options) ``res`` already holds: another start of a lease
    with a start window is not tried once one of its options is placed.
    """
    fits: dict[str, list[ReplicaFit]] = {}
    failed: list[str] = []
    taken = {lo.group for lo in inst.leases if lo.lease in held}
    for lo in order:
        if lo.group in taken:
            continue
        got = res.fit(lo)
        if got is None:
            if lo.internal:
                failed.append(lo.lease)
            continue
        if not lo.internal and net_value(inst, lo, got) <= 0:
            continue
        res.apply(lo, got)
        fits[lo.lease] = got
        taken.add(lo.group)
    return fits, res, failed
