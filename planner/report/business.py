"""The report's business sections, in page order: the manager's view, what is left to sell, lease by lease."""

from __future__ import annotations

import pandas as pd

from planner.plan import Plan
from planner.report.apis import apis_section
from planner.report.inventory import inventory_section
from planner.report.leasebook import lease_book_section
from planner.report.manager import manager_section
from planner.report.spot import spot_section
from planner.scenario import Scenario
from planner.usesplit import has_apis

__all__ = ["business_sections"]


def business_sections(sc: Scenario, plan: Plan, *, failures: pd.DataFrame | None = None,
                      linked: frozenset[str] = frozenset()) -> list[tuple[str, str, str]]:
    """The sections shown after the summary cards: (element id, navigation label, HTML).

    ``manager`` (the plan against the greedy baseline, the yardsticks, revenue by
    tenant and kind), ``apis`` (leases against hosted-model APIs, when the plan had API
    demand), ``spot`` (expected against worst-case revenue, when the scenario
    has spot leases or internal demand upside), ``surplus`` (what is left to sell) and ``leases`` (every lease,
    placed or left out, linked to the leases that crowd it out). ``failures`` and a
    derate recorded in ``plan.meta`` add what-if cards, linked to the sections
    named in ``linked`` (the page's ``failures`` and ``derate`` sections).
    """
    out = [("manager", "Business", manager_section(sc, plan, failures=failures, linked=linked))]
    if has_apis(plan):  # leases against APIs: what each earns per GPU-hour and MW
        out.append(("apis", "Leases and APIs", apis_section(sc, plan)))
    if (sc.workloads["priority"] == "spot").any() or sc.upside_gpus is not None:  # expected vs worst-case revenue
        out.append(("spot", "Spot", spot_section(sc, plan)))
    return [*out, ("surplus", "Left to sell", inventory_section(sc, plan)),
            ("leases", "Leases", lease_book_section(sc, plan))]
