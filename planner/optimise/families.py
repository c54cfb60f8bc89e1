"""The constraint families, declared once: what each limits, counted per what, per week.

Every consumer reads this table: the CP-SAT model (:mod:`planner.optimise.model`) adds
one row set per :data:`CAPACITIES` entry, in the table's order; the site-level LP
(:mod:`planner.optimise.bounds.site_lp`) keys its rows by family; the residual ledger
(:class:`~planner.optimise.residual.Residual`) keeps one array per capacity, named by
:attr:`Capacity.ledger`; the neighbourhood search (:func:`~planner.optimise.search.lns.sub_instance`)
hands what is left of each capacity to its sub-model through :attr:`Capacity.field`;
the reasons (:mod:`planner.reasons`) name the family that keeps a lease out with
:data:`FAMILIES`. The plan checker (:mod:`planner.check`) restates every rule on
purpose, as the independent witness, and does not read this table.

Adding a capacity family (as aggregation per hall was added): a :class:`Family` member and a
:data:`CAPACITIES` row here, its capacity array on the instance
(:mod:`planner.optimise.instance`), its load in each consumer that computes one
(``_terms`` of the model, ``Residual.apply``, the site LP's columns), its reason's
wording, and the checker's own test.

Examples
--------
>>> [c.family.value for c in CAPACITIES]
['gpus', 'uplink', 'power', 'dci', 'aggregation']
>>> FAMILIES
('gpus', 'power', 'dci', 'uplink', 'aggregation', 'latency', 'residency', 'anti_affinity')
>>> by_family(Family.POWER).per, by_family(Family.POWER).unit
('site', 'W')
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import numpy as np

if TYPE_CHECKING:
    from planner.optimise.instance import Instance

__all__ = ["CAPACITIES", "FAMILIES", "RULES", "Capacity", "Family", "Per", "by_family"]


class Family(StrEnum):
    """A constraint family: the name a reason, a plan table and a model row count carry."""

    GPUS = "gpus"
    POWER = "power"
    DCI = "dci"
    UPLINK = "uplink"
    AGGREGATION = "aggregation"
    LATENCY = "latency"
    RESIDENCY = "residency"
    ANTI_AFFINITY = "anti_affinity"


Per = Literal["pod", "site", "span", "hall"]
"""What a capacity is counted per: a pod (fabric domain), a site (campus), a DCI span, a hall
(the pods one aggregation layer joins)."""


@dataclass(frozen=True)
class Capacity:
    """A family that limits an amount, per thing and per week.

    Attributes
    ----------
    family
        Its name.
    per
        What it is counted per (its rows: one per pod, site, span or hall, and week).
    counted
        What is counted, in words.
    unit
        The integer unit the instance and the model count it in.
    field
        The :class:`~planner.optimise.instance.Instance` attribute holding the
        capacity: an array things x weeks, or one value per thing for every week.
    ledger
        The :class:`~planner.optimise.residual.Residual` attribute holding what is
        left of it, things x weeks.
    """

    family: Family
    per: Per
    counted: str
    unit: str
    field: str
    ledger: str

    def weekly(self, inst: Instance) -> np.ndarray:
        """The capacity of every thing in every week (a new array, things x weeks)."""
        cap = np.asarray(getattr(inst, self.field))
        weeks = inst.pod_free.shape[1]
        return cap.copy() if cap.ndim == 2 else np.repeat(cap[:, None], weeks, axis=1)


CAPACITIES: tuple[Capacity, ...] = (
    Capacity(Family.GPUS, "pod", "GPUs held, after internal reservations", "GPUs", "pod_free", "gpu"),
    Capacity(Family.UPLINK, "pod", "egress and inter-pod traffic to the aggregation layer", "kbps",
             "pod_uplink_kbps", "uplink"),
    Capacity(Family.POWER, "site", "IT power x PUE against grid + on-site supply", "W", "site_power_w", "power"),
    Capacity(Family.DCI, "span", "egress routed over the span, within capacity x max utilisation", "Mbps",
             "span_limit_mbps", "link"),
    Capacity(Family.AGGREGATION, "hall", "inter-pod traffic of replicas split over pods, on each hall's aggregation "
             "layer", "kbps", "hall_agg_kbps", "agg"),
)
"""The families that limit an amount, in the order the CP-SAT model adds their rows (the
order is part of the deterministic search: changing it changes the plan found)."""

RULES: dict[Family, str] = {
    Family.LATENCY: "the routed path's latency meets the lease's SLO to its region",
    Family.RESIDENCY: "only allowed sites, and sites with the lease's residency tags",
    Family.ANTI_AFFINITY: "replicas of one lease on distinct sites",
}
"""The families that rule where a lease may go (no amount is counted)."""

FAMILIES: tuple[str, ...] = tuple(f.value for f in Family)
"""Every family's name, as reasons and plan tables give it: the amounts first, then the rules
(the reasons report the first family that binds in this order)."""


def by_family(family: Family) -> Capacity:
    """The :data:`CAPACITIES` row of ``family``.

    Raises
    ------
    KeyError
        When ``family`` limits no amount (it is one of :data:`RULES`).
    """
    for c in CAPACITIES:
        if c.family is family:
            return c
    msg = f"{family.value} limits no amount: it is a rule on where a lease may go"
    raise KeyError(msg)
