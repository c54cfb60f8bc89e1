"""Power derates: a campus loses X % of its available MW for some weeks -- which leases go?

A gas-turbine outage or a heat wave cuts what a site can draw. :func:`derate`
re-optimises the derated scenario from the plan in force
(:func:`~planner.optimise.optimiser.optimise` with ``previous_plan``): every lease the
re-plan moves or drops costs ``settings.move_penalty_usd`` on top of the value it
loses, so leases stay where they are unless the derate forces them out, and the
ones curtailed are those whose loss costs the least -- revenue, power and
transport. A move penalty small against lease revenue lets the re-plan migrate
leases to another campus rather than curtail them; give ``move_penalty_usd`` to
change that trade-off.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pandas as pd

from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.scenario import Scenario
from planner.whatif.compare import PlanDiff, compare_plans
from planner.whatif.cuts import with_move_penalty

__all__ = ["CURTAILED_COLUMNS", "DerateResult", "derate", "derated_scenario", "parse_weeks"]

CURTAILED_COLUMNS = ["lease", "tenant", "priority", "sku", "gpus", "replicas", "start_week", "end_week",
                     "sites_before", "revenue_usd", "family", "reason"]
"""Columns of :attr:`DerateResult.curtailed`."""


def parse_weeks(text: str) -> tuple[int, int]:
    """``A-B`` (or ``A``) as the first and last week.

    Raises
    ------
    ValueError
        When ``text`` is not one or two whole numbers joined by ``-``.

    Examples
    --------
    >>> parse_weeks("27-35"), parse_weeks("4"), parse_weeks(" 7 - 12 ")
    ((27, 35), (4, 4), (7, 12))
    >>> parse_weeks("7..12")
    Traceback (most recent call last):
    ...
    ValueError: '7..12' is not weeks A-B (e.g. 27-35)
    """
    parts = text.replace(" ", "").split("-")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        nums = []
    if len(nums) not in (1, 2):
        msg = f"{text!r} is not weeks A-B (e.g. 27-35)"
        raise ValueError(msg)
    return nums[0], nums[-1]


def derated_scenario(sc: Scenario, site: str, percent: float, weeks: tuple[int, int]) -> Scenario:
    """The scenario with ``site``'s available MW cut by ``percent`` % in weeks ``weeks[0]..weeks[1]``.

    Raises
    ------
    ValueError
        On an unknown site, a percentage outside 0..100 or weeks outside the horizon.

    Examples
    --------
    >>> from planner import load_scenario
    >>> sc = load_scenario()
    >>> d = derated_scenario(sc, "OH-NAL", 25, (10, 12))
    >>> float(d.site_power_mw.loc["OH-NAL", 11] / sc.site_power_mw.loc["OH-NAL", 11])
    0.75
    """
    problems = []
    if site not in sc.sites.index:
        problems.append(f"unknown site {site!r}; use one of {', '.join(map(str, sc.sites.index))}")
    if not 0 <= percent <= 100:
        problems.append(f"percent {percent:g} is outside 0..100; give the share of available MW lost")
    a, b = weeks
    n = sc.horizon.periods
    if not 1 <= a <= b <= n:
        problems.append(f"weeks {a}-{b} are not within 1-{n} (first week first)")
    if problems:
        msg = "; ".join(problems)
        raise ValueError(msg)
    power = sc.site_power_mw.copy()
    power.loc[site, a:b] = power.loc[site, a:b] * (1 - percent / 100.0)
    return replace(sc, site_power_mw=power)


@dataclass
class DerateResult:
    """What a derate costs: the leases curtailed and moved, and the plan after it.

    Attributes
    ----------
    site, percent, weeks
        The derate.
    scenario
        The derated scenario.
    plan
        The re-plan (valid for ``scenario``: see ``violations``).
    curtailed
        Leases the plan held that the re-plan drops (:data:`CURTAILED_COLUMNS`), most revenue first.
    moved
        Leases the re-plan keeps but moves to other pods.
    diff
        The full comparison of the two plans.
    revenue_before_usd, revenue_after_usd
        Plan revenue before and after.
    violations
        ``plan.check(scenario)`` (empty).
    before
        The plan in force before the derate.
    """

    site: str
    percent: float
    weeks: tuple[int, int]
    scenario: Scenario
    plan: Plan
    curtailed: pd.DataFrame
    moved: tuple[str, ...]
    diff: PlanDiff
    revenue_before_usd: float
    revenue_after_usd: float
    violations: list[str]
    before: Plan

    def site_power(self) -> pd.DataFrame:
        """Per site and week: power drawn and available before and after the derate, MW.

        Columns ``site``, ``week``, ``power_mw_before``, ``power_mw_after``,
        ``available_mw_before``, ``available_mw_after``, ``headroom_mw_after``.
        """
        cols = ["site", "week", "power_mw", "available_mw"]
        a = self.before.site_use[cols].rename(columns={"power_mw": "power_mw_before",
                                                       "available_mw": "available_mw_before"})
        b = self.plan.site_use[cols].rename(columns={"power_mw": "power_mw_after",
                                                     "available_mw": "available_mw_after"})
        out = a.merge(b, on=["site", "week"], how="outer").sort_values(["site", "week"]).reset_index(drop=True)
        out["headroom_mw_after"] = out["available_mw_after"] - out["power_mw_after"]
        return out[["site", "week", "power_mw_before", "power_mw_after", "available_mw_before", "available_mw_after",
                    "headroom_mw_after"]]

    @property
    def revenue_lost_usd(self) -> float:
        """Revenue of the curtailed leases."""
        return float(self.curtailed["revenue_usd"].sum())

    def __repr__(self) -> str:
        return (f"DerateResult({self.site} -{self.percent:g}% in weeks {self.weeks[0]}-{self.weeks[1]}: "
                f"{len(self.curtailed)} curtailed (${self.revenue_lost_usd:,.0f}), {len(self.moved)} moved, "
                f"revenue ${self.revenue_before_usd:,.0f} -> ${self.revenue_after_usd:,.0f}, "
                f"{len(self.violations)} violations)")


def derate(sc: Scenario, plan: Plan, site: str, percent: float, weeks: tuple[int, int], *,
           time_limit_s: float = 20.0, seed: int = 0, workers: int = 2, explain: bool = True,
           move_penalty_usd: float | None = None) -> DerateResult:
    """Cut ``site``'s power by ``percent`` % in ``weeks`` and re-plan from ``plan`` with minimal moves.

    Parameters
    ----------
    sc, plan
        The scenario and the plan in force.
    site
        The campus derated.
    percent
        Share of its available MW lost, 0..100.
    weeks
        First and last week of the derate (inclusive).
    time_limit_s, seed, workers, explain
        Passed to :func:`~planner.optimise.optimiser.optimise`.
    move_penalty_usd
        Cost of moving or dropping a lease; ``settings.move_penalty_usd`` by default.

    Returns
    -------
    DerateResult

    Raises
    ------
    ValueError
        On a bad site, percentage or weeks.
    InfeasibleError
        When internal workloads no longer fit.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.optimiser import optimise
    >>> sc = load_scenario()
    >>> plan = optimise(sc, time_limit_s=20)  # doctest: +SKIP
    >>> r = derate(sc, plan, "OH-NAL", 30, (27, 35))  # doctest: +SKIP
    >>> r.curtailed[["lease", "tenant", "revenue_usd", "reason"]], r.moved, r.violations  # doctest: +SKIP
    """
    sc_d = derated_scenario(sc, site, percent, weeks)
    new = optimise(with_move_penalty(sc_d, move_penalty_usd), time_limit_s=time_limit_s, seed=seed, workers=workers,
                   previous_plan=plan, deterministic=True, explain=explain)
    diff = compare_plans(plan, new)
    wl = sc.workloads
    before_sites = plan.placements.groupby("lease")["site"].agg(lambda s: ";".join(sorted(set(s))))
    term = plan.placements.groupby("lease")[["start_week", "end_week"]].first()  # the plan's start, for a window
    why = new.unplaced.set_index("lease")
    rows = []
    for lid in diff.dropped:
        w = wl.loc[lid]
        rows.append({"lease": lid, "tenant": w["tenant"], "priority": w["priority"], "sku": w["sku"],
                     "gpus": int(w["gpus"]), "replicas": int(w["replicas"]),
                     "start_week": int(term.at[lid, "start_week"]), "end_week": int(term.at[lid, "end_week"]),
                     "sites_before": before_sites.get(lid, ""),
                     "revenue_usd": float(w["revenue_usd"]),
                     "family": why.at[lid, "family"] if lid in why.index else "",
                     "reason": why.at[lid, "reason"] if lid in why.index else ""})
    curtailed = pd.DataFrame(rows, columns=CURTAILED_COLUMNS).sort_values(
        ["revenue_usd", "lease"], ascending=[False, True], kind="stable").reset_index(drop=True)
    return DerateResult(site=site, percent=float(percent), weeks=(int(weeks[0]), int(weeks[1])), scenario=sc_d,
                        plan=new, curtailed=curtailed, moved=diff.moved, diff=diff,
                        revenue_before_usd=plan.revenue_usd, revenue_after_usd=new.revenue_usd,
                        violations=new.check(sc_d), before=plan)
