"""The report's spot section: expected against worst-case revenue, committed and spot leases apart.

Spot leases are valued at their expected revenue (refunds for the weeks internal work
may take their pods back); the worst case is every upside of internal demand happening.
"""

from __future__ import annotations

import html

import pandas as pd

from planner.plan import Plan
from planner.report.style import fmt_int, fmt_usd_full
from planner.report.tables import Column, html_table
from planner.scenario import Scenario

__all__ = ["spot_revenue_table", "spot_section"]


def spot_revenue_table(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """One row per lease priority (committed, spot) and a total: leases, contract, expected and worst-case revenue.

    ``gpu_weeks_preempted`` is the expected GPU-weeks internal work takes back (0 for committed leases).
    """
    pl = plan.placements.copy()
    pl["priority"] = pl["lease"].map(sc.workloads["priority"])
    pl = pl[pl["priority"] != "internal"]
    pl["gpu_weeks_preempted"] = pl["gpus"] * pl["expected_weeks_preempted"].fillna(0.0)
    for c in ("contract_revenue_usd", "worst_case_revenue_usd"):
        pl[c] = pl[c].fillna(pl["revenue_usd"])
    cols = ["contract_revenue_usd", "revenue_usd", "worst_case_revenue_usd", "gpu_weeks_preempted"]
    rows = []
    for prio in ("committed", "spot"):
        mine = pl[pl["priority"] == prio]
        rows.append({"priority": prio, "leases": mine["lease"].nunique(), **mine[cols].sum().to_dict()})
    rows.append({"priority": "total", "leases": pl["lease"].nunique(), **pl[cols].sum().to_dict()})
    return pd.DataFrame(rows).rename(columns={"revenue_usd": "expected_revenue_usd"})


def spot_section(sc: Scenario, plan: Plan) -> str:
    """The section (id ``spot``): the table of :func:`spot_revenue_table` and what it means."""
    df = spot_revenue_table(sc, plan)
    usd = lambda v: fmt_usd_full(float(v))  # noqa: E731
    table = html_table(df, [
        Column("Leases", "priority"), Column("Placed", "leases", fmt_int, numeric=True),
        Column("Contract revenue", "contract_revenue_usd", usd, numeric=True,
               title="price × GPUs × hours of every week of the term"),
        Column("Expected revenue", "expected_revenue_usd", usd, numeric=True,
               title="less the expected refunds of the weeks internal work may take spot capacity back"),
        Column("Worst case", "worst_case_revenue_usd", usd, numeric=True,
               title="every upside of internal demand happens; spot leases refund the weeks pre-empted"),
        Column("GPU-weeks pre-empted (expected)", "gpu_weeks_preempted", lambda v: f"{float(v):,.1f}", numeric=True),
    ], "spot-table")
    refund = sc.settings.spot_refund_factor
    lede = (f"Committed leases are planned against the worst case of internal demand; spot leases may use capacity "
            f"that only the base case leaves free, and refund {refund:.0%} of each week internal work takes it back.")
    return (f'<section id="spot"><h2>Spot leases and internal demand</h2><p class="lede">{html.escape(lede)}</p>'
            f"{table}</section>")
