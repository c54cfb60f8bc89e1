"""A first plan for a re-plan that forces a request in: take the fewest sold leases out, fit it, fit them again.

CP-SAT's re-plan starts from the standing plan, which lacks the forced request: a
start it cannot use. :func:`make_room` builds one it can. The placed leases whose
removal lets the request fit are found by
:func:`planner.reasons.crowders` (each checked by re-fitting); the request is fitted
in their room and each of them is fitted again where it can go. Of the candidate
sets, the one that drops the least revenue, then moves the fewest leases, is kept.
"""

from __future__ import annotations

from collections.abc import Mapping

from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit, Residual
from planner.reasons import crowders

__all__ = ["make_room"]

Fits = dict[str, list[ReplicaFit]]


def _try(res: Residual, lo: LeaseOptions, out: list[str], placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]]
         ) -> tuple[float, int, Fits] | None:
    """Take ``out`` off ``res``, fit ``lo``, fit ``out`` again: (revenue dropped, leases moved, new fits)."""
    trial = res.copy()
    for lid in out:
        trial.apply(*placed[lid], sign=+1)
    got = trial.fit(lo)
    if got is None:
        return None
    trial.apply(lo, got)
    fits: Fits = {lo.lease: got}
    dropped = 0.0
    for lid in sorted(out, key=lambda k: -placed[k][0].revenue_usd):
        other = placed[lid][0]
        again = trial.fit(other)
        if again is None:
            dropped += other.revenue_usd
            continue
        trial.apply(other, again)
        fits[lid] = again
    moved = sum(1 for lid in out if lid in fits)
    return dropped, moved, fits


def make_room(inst: Instance, fits: Mapping[str, list[ReplicaFit]], lease: str) -> Fits | None:
    """Every lease's fits with ``lease`` fitted in (see the module docs), or ``None`` if no few leases make room.

    Parameters
    ----------
    inst
        The re-plan's instance (``lease`` is one of its leases).
    fits
        The standing plan's fits in ``inst`` (without ``lease``).
    lease
        The request forced in.
    """
    by_id = {lo.lease: lo for lo in inst.leases}
    lo = by_id[lease]
    res = Residual.after(inst, fits)
    if (alone := res.fit(lo)) is not None:
        return {**fits, lease: alone}
    internal = {k for k in fits if by_id[k].internal}
    base = Residual.after(inst, {k: v for k, v in fits.items() if k in internal})
    placed = {k: (by_id[k], v) for k, v in fits.items() if k not in internal}
    who, each = crowders(res.copy(), base, lo, placed)
    options = [[lid] for lid in who] if each else ([who] if who else [])
    tried = [(t[0], t[1], out, t[2]) for out in options if (t := _try(res, lo, out, placed)) is not None]
    if not tried:
        return None
    _, _, out, best = min(tried, key=lambda t: (t[0], t[1]))
    return {**{k: v for k, v in fits.items() if k not in out}, **best}
