"""Compare two plans of one lease book: which leases moved, which were dropped, what revenue was kept."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from planner.plan import Plan

__all__ = ["PlanDiff", "compare_plans", "holdings"]


@dataclass(frozen=True)
class PlanDiff:
    """What changed between a plan and its re-plan.

    Attributes
    ----------
    moved
        Leases placed in both whose pods or GPUs per pod changed (routes may change freely).
    dropped
        Leases placed before and not after.
    added
        Leases placed after and not before.
    kept
        Leases placed in both on the same pods.
    revenue_kept_usd
        Revenue, after, of the leases placed in both plans.
    revenue_dropped_usd
        Revenue, before, of the dropped leases.
    """

    moved: tuple[str, ...]
    dropped: tuple[str, ...]
    added: tuple[str, ...]
    kept: tuple[str, ...]
    revenue_kept_usd: float
    revenue_dropped_usd: float


def holdings(placements: pd.DataFrame) -> dict[str, tuple[tuple[tuple[str, int], ...], ...]]:
    """Per lease, the pods and GPUs each replica holds, in a canonical order (replica numbers ignored)."""
    reps: dict[str, dict[object, list[tuple[str, int]]]] = {}
    cols = (placements[c].tolist() for c in ("lease", "replica", "pod", "gpus"))
    for lid, r, p, g in zip(*cols, strict=True):
        reps.setdefault(str(lid), {}).setdefault(r, []).append((str(p), int(g)))
    return {lid: tuple(sorted(tuple(sorted(parts)) for parts in reps[lid].values())) for lid in sorted(reps)}


def compare_plans(before: Plan, after: Plan) -> PlanDiff:
    """Which leases of ``before`` moved, were dropped or stayed in ``after``.

    Examples
    --------
    >>> import pandas as pd
    >>> from types import SimpleNamespace  # anything with a ``placements`` table
    >>> before = SimpleNamespace(placements=pd.DataFrame({"lease": ["A", "B"], "replica": [0, 0], "pod": ["p1", "p2"],
    ...                                                  "gpus": [8, 8], "revenue_usd": [10.0, 20.0]}))
    >>> after = SimpleNamespace(placements=pd.DataFrame({"lease": ["A"], "replica": [0], "pod": ["p3"], "gpus": [8],
    ...                                                 "revenue_usd": [10.0]}))
    >>> d = compare_plans(before, after)
    >>> d.moved, d.dropped, d.revenue_kept_usd, d.revenue_dropped_usd
    (('A',), ('B',), 10.0, 20.0)
    """
    a, b = holdings(before.placements), holdings(after.placements)
    both = sorted(set(a) & set(b))
    moved = tuple(lid for lid in both if a[lid] != b[lid])
    kept = tuple(lid for lid in both if a[lid] == b[lid])
    dropped = tuple(sorted(set(a) - set(b)))
    added = tuple(sorted(set(b) - set(a)))
    rev_after = after.placements.groupby("lease")["revenue_usd"].sum()
    rev_before = before.placements.groupby("lease")["revenue_usd"].sum()
    return PlanDiff(moved=moved, dropped=dropped, added=added, kept=kept,
                    revenue_kept_usd=float(rev_after.reindex(both).sum()),
                    revenue_dropped_usd=float(rev_before.reindex(list(dropped)).sum()))
