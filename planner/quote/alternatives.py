"""The nearest changes to a request that make it fit the standing plan, each checked by re-fitting.

For a request that does not fit, :func:`alternatives` tries, against what the plan
leaves (never inferred, always fitted with
:meth:`~planner.optimise.residual.Residual.fit`): a later start beyond its window,
another site (one its allowed sites or residency exclude), another SKU, a looser
SLO, and fewer GPUs per replica. Each found is returned with the start week and the
replica fits that make it fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.optimise.instance import LeaseOptions
from planner.optimise.residual import ReplicaFit
from planner.quote.requests import Request
from planner.quote.standing import Standing, at_start
from planner.reasons import lease_variant

__all__ = ["Alternative", "alternatives"]


@dataclass(frozen=True)
class Alternative:
    """One change that makes a request fit as the plan stands.

    Attributes
    ----------
    kind
        ``"later start"``, ``"another site"``, ``"another SKU"``, ``"looser SLO"`` or ``"fewer GPUs"``.
    text
        The change, in words (``"as H100 from week 9"``).
    start_week
        Its first week.
    lease
        The request so changed (the probe it was fitted as).
    fits
        Where it fits, replica by replica.
    """

    kind: str
    text: str
    start_week: int
    lease: LeaseOptions
    fits: list[ReplicaFit]


def _first_start(st: Standing, lo: LeaseOptions, q: Request, starts: list[int]
                 ) -> tuple[int, LeaseOptions, list[ReplicaFit]] | None:
    hours = st.sc.horizon.hours_per_period
    for s in starts:
        v = at_start(lo, s, q.row.duration_weeks, 0.0, hours)
        f = st.res.fit(v)
        if f is not None:
            return s, v, f
    return None


def _later(st: Standing, q: Request) -> Alternative | None:
    last = st.sc.horizon.periods - q.row.duration_weeks + 1
    got = _first_start(st, st.probe(q.id), q, list(range(q.row.latest_start + 1, last + 1)))
    return None if got is None else Alternative("later start", f"start in week {got[0]} (after the window)", *got)


def _sites(st: Standing, q: Request) -> list[Alternative]:
    lo, out = st.probe(q.id), []
    for s in lo.sku_sites:
        if s in lo.placement_sites:
            continue
        got = _first_start(st, lease_variant(lo, allow=s), q, q.starts)
        if got is not None:
            out.append(Alternative("another site", f"at {st.inst.site_ids[s]} from week {got[0]}", *got))
    return out


def _skus(st: Standing, q: Request) -> list[Alternative]:
    out = []
    for sku in map(str, st.sc.skus.index):
        if sku == q.row.sku:
            continue
        got = _first_start(st, st.probe(q.id, sku), q, q.starts)
        if got is not None:
            out.append(Alternative("another SKU", f"as {sku} from week {got[0]}", *got))
    return out


def _slo(st: Standing, q: Request) -> Alternative | None:
    lo = st.probe(q.id)
    if lo.slo_ms is None:
        return None
    tries = sorted({math.ceil(p.latency_ms * 10 - 1e-9) / 10 for s in lo.placement_sites
                    for p in lo.all_paths.get(s, []) if p.latency_ms > lo.slo_ms + 1e-9})
    for x in tries:
        got = _first_start(st, lease_variant(lo, slo_ms=x), q, q.starts)
        if got is not None:
            return Alternative("looser SLO", f"SLO {x:.1f} ms from week {got[0]}", *got)
    return None


def _fewer_gpus(st: Standing, q: Request) -> Alternative | None:
    """The most GPUs per replica that fit at some start of the window (by bisection, as the reasons do)."""
    lo = st.probe(q.id)

    def fits(k: int) -> tuple[int, LeaseOptions, list[ReplicaFit]] | None:
        return _first_start(st, lease_variant(lo, gpus=k), q, q.starts)

    if lo.gpus < 2 or fits(1) is None:
        return None
    good, hi = 1, lo.gpus - 1
    while good < hi:
        mid = (good + hi + 1) // 2
        if fits(mid) is not None:
            good = mid
        else:
            hi = mid - 1
    got = fits(good)
    assert got is not None
    return Alternative("fewer GPUs", f"{good:,} GPUs per replica from week {got[0]}", *got)


def alternatives(st: Standing, q: Request) -> list[Alternative]:
    """The changes that each make request ``q`` fit the standing plan (see the module docs)."""
    found: list[Alternative | None] = [_later(st, q), *_sites(st, q), *_skus(st, q), _slo(st, q), _fewer_gpus(st, q)]
    return [a for a in found if a is not None]
