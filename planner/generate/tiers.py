"""Benchmark tiers: how many leases, pods, campuses and PoPs a generated scenario has."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TIERS", "Tier", "get_tier"]


@dataclass(frozen=True)
class Tier:
    """The size of a generated scenario.

    Attributes
    ----------
    name
        Tier name; also seeds the random stream (with the seed).
    leases
        Rows of the lease book, internal workloads included.
    pods
        Fabric domains (AI zones) over all campuses.
    campuses
        Campuses, taken in order from :data:`planner.generate.places.CAMPUSES`.
    pops
        Metro PoPs (user regions), in order from :data:`planner.generate.places.POP_ORDER`.
    weeks
        Periods of the horizon.
    internal
        Internal inference services among the leases (they must be placed).
    demand_ratio
        Lease demand (GPU-weeks) over the GPU-weeks internal training leaves free;
        the pods are sized to it, so that the scenario is tight but not hopeless.
    """

    name: str
    leases: int
    pods: int
    campuses: int
    pops: int
    weeks: int = 52
    internal: int = 2
    demand_ratio: float = 1.6


TIERS: dict[str, Tier] = {
    "small": Tier("small", leases=50, pods=20, campuses=2, pops=4, internal=2),
    "medium": Tier("medium", leases=1_000, pods=200, campuses=4, pops=6, internal=4),
    "large": Tier("large", leases=5_000, pods=500, campuses=6, pops=8, internal=6),
    "hyperscale": Tier("hyperscale", leases=10_000, pods=2_000, campuses=10, pops=10, internal=10),
}
"""The benchmark tiers of issue 6."""


def get_tier(tier: str | Tier) -> Tier:
    """A tier by name (or the tier itself).

    Examples
    --------
    >>> get_tier("medium").pods
    200
    """
    if isinstance(tier, Tier):
        return tier
    if tier not in TIERS:
        msg = f"unknown tier {tier!r}; use one of: {', '.join(TIERS)}"
        raise ValueError(msg)
    return TIERS[tier]
