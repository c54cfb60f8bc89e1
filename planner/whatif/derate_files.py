"""A derate's results folder: the plan after it, like ``planner plan``'s, with the before/after comparison.

:func:`write_derate` writes the re-plan's results folder (every file of
:data:`planner.run.RESULT_FILES`, whole or not at all) plus the tables of
:data:`DERATE_FILES`, and puts a "Derate" section first in ``report.html``:
the leases curtailed and the revenue lost, the leases moved, and each site's
power drawn and available before and after.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from planner.whatif.derate import DerateResult

__all__ = ["DERATE_FILES", "derate_section", "power_figure", "write_derate"]

DERATE_FILES: dict[str, str] = {
    "curtailed.csv": "leases the plan held that the derate drops: tenant, GPUs, weeks, sites before, revenue, reason",
    "moved.csv": "leases the re-plan keeps but moves: sites before and after, revenue",
    "site_power.csv": "per site and week: power drawn and available before and after the derate, MW",
}
"""The derate's own files, beside the re-plan's results folder."""


def moved_table(r: DerateResult) -> pd.DataFrame:
    """The leases moved: ``lease``, ``sites_before``, ``sites_after``, ``revenue_usd``."""
    def sites(plan_placements: pd.DataFrame) -> pd.Series:
        return plan_placements.groupby("lease")["site"].agg(lambda s: ";".join(sorted(set(map(str, s)))))

    before, after = sites(r.before.placements), sites(r.plan.placements)
    rev = r.scenario.workloads["revenue_usd"]
    rows = [{"lease": lid, "sites_before": before.get(lid, ""), "sites_after": after.get(lid, ""),
             "revenue_usd": float(rev.get(lid, 0.0))} for lid in r.moved]
    return pd.DataFrame(rows, columns=["lease", "sites_before", "sites_after", "revenue_usd"])


def power_figure(r: DerateResult) -> Figure:
    """The derated site's power per week: drawn and available, before and after."""
    from planner.report.style import COLOURS
    from planner.report.svg import new_figure

    p = r.site_power()
    p = p[p["site"] == r.site].sort_values("week")
    weeks = p["week"].to_numpy(float)
    fig = new_figure(9.0, 3.0)
    ax = fig.subplots()
    ax.axvspan(r.weeks[0] - 0.5, r.weeks[1] + 0.5, color=COLOURS["grid"], alpha=0.6, zorder=1, label="derate")
    for col, colour, style, label in (
            ("available_mw_before", COLOURS["muted"], (0, (4, 2)), "available before"),
            ("available_mw_after", COLOURS["available"], (0, (4, 2)), "available after"),
            ("power_mw_before", COLOURS["internal"], "-", "drawn before"),
            ("power_mw_after", COLOURS["power"], "-", "drawn after")):
        ax.step(weeks, p[col].to_numpy(float), where="mid", color=colour, linestyle=style, linewidth=1.6,
                label=label, zorder=3)
    ax.set_xlabel("week")
    ax.set_ylabel("MW")
    ax.set_xlim(weeks.min() - 0.5, weeks.max() + 0.5)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=10, integer=True))
    top = float(np.nanmax(p[["available_mw_before", "available_mw_after", "power_mw_before",
                             "power_mw_after"]].to_numpy()))
    ax.set_ylim(0, max(top, 1e-3) * 1.4)  # room for the legend above the lines
    ax.legend(loc="upper center", ncols=5, fontsize="small", frameon=False)
    ax.set_title(f"{r.site}: facility power, before and after the derate")
    return fig


def _site_rows(r: DerateResult) -> pd.DataFrame:
    """Per site, over the derate's weeks: peak power drawn and least available, before and after."""
    p = r.site_power()
    w = p[(p["week"] >= r.weeks[0]) & (p["week"] <= r.weeks[1])]
    return w.groupby("site", sort=True).agg(
        power_mw_before=("power_mw_before", "max"), power_mw_after=("power_mw_after", "max"),
        available_mw_before=("available_mw_before", "min"), available_mw_after=("available_mw_after", "min"),
    ).reset_index()


def derate_section(r: DerateResult) -> str:
    """The report's "Derate" section: what was lost, what moved, and power per site before and after."""
    from planner.report.style import fmt_mw, fmt_usd, fmt_usd_full
    from planner.report.svg import svg_element
    from planner.report.tables import Column, html_table

    e = html.escape
    lede = (f"{e(r.site)} loses {r.percent:g} % of its available power in weeks {r.weeks[0]}-{r.weeks[1]}: "
            f"{len(r.curtailed):,} lease{'s' if len(r.curtailed) != 1 else ''} curtailed "
            f"({e(fmt_usd(r.revenue_lost_usd))} revenue lost), {len(r.moved):,} moved; plan revenue "
            f"{e(fmt_usd(r.revenue_before_usd))} before, {e(fmt_usd(r.revenue_after_usd))} after. "
            "The rest of this report shows the plan after the derate.")
    chart = svg_element(power_figure(r), "derate-chart", f"Power at {r.site} before and after the derate")
    power = html_table(_site_rows(r), [
        Column("Site", "site"),
        Column("Peak drawn before", "power_mw_before", fmt_mw, numeric=True),
        Column("Peak drawn after", "power_mw_after", fmt_mw, numeric=True),
        Column("Least available before", "available_mw_before", fmt_mw, numeric=True),
        Column("Least available after", "available_mw_after", fmt_mw, numeric=True),
    ], "derate-power-table", caption=f"Power per site in weeks {r.weeks[0]}-{r.weeks[1]}, MW")
    cur = r.curtailed.assign(weeks=[f"{a}-{b}" for a, b in zip(r.curtailed["start_week"], r.curtailed["end_week"],
                                                                 strict=True)])
    curtailed = html_table(cur, [
        Column("Lease", "lease"), Column("Tenant", "tenant"), Column("Priority", "priority"),
        Column("GPUs per replica", "gpus", lambda v: f"{int(v):,}", numeric=True),
        Column("Replicas", "replicas", lambda v: f"{int(v):,}", numeric=True), Column("Weeks", "weeks"),
        Column("Sites before", "sites_before"), Column("Revenue", "revenue_usd", fmt_usd_full, numeric=True),
        Column("Reason", "reason"),
    ], "derate-curtailed-table", caption="Leases curtailed")
    moved = html_table(moved_table(r), [
        Column("Lease", "lease"), Column("Sites before", "sites_before"), Column("Sites after", "sites_after"),
        Column("Revenue", "revenue_usd", fmt_usd_full, numeric=True),
    ], "derate-moved-table", caption="Leases moved")
    return (f'<section id="derate"><h2>Derate</h2><p class="lede">{lede}</p>'
            f'<figure class="panel" style="max-width:900px;margin-bottom:12px">{chart}</figure>'
            f'<div class="scroll">{power}</div><div class="scroll">{curtailed}</div>'
            f'<div class="scroll">{moved}</div></section>')


def write_derate(r: DerateResult, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write a derate's results folder, whole or not at all.

    The re-plan's folder as ``planner plan`` writes it (for the derated scenario;
    ``plan.json`` records the scenario file and input hashes, and the derate under
    ``meta.derate``), plus :data:`DERATE_FILES`, with the comparison first in
    ``report.html``.

    Raises
    ------
    planner.run.RunExistsError
        When ``out_dir`` exists and may not be replaced (see :func:`planner.run.check_out_dir`).
    """
    from dataclasses import replace

    from planner.run import write_run

    plan = replace(r.plan, meta={**r.plan.meta, "derate": {
        "site": r.site, "percent": r.percent, "weeks": list(r.weeks), "curtailed": r.curtailed["lease"].tolist(),
        "moved": list(r.moved), "revenue_before_usd": r.revenue_before_usd,
        "revenue_after_usd": r.revenue_after_usd}})

    def tables(folder: Path) -> None:
        r.curtailed.to_csv(folder / "curtailed.csv", index=False)
        moved_table(r).to_csv(folder / "moved.csv", index=False)
        r.site_power().to_csv(folder / "site_power.csv", index=False)

    return write_run(r.scenario, plan, out_dir, force=force, extra=tables, extra_files=DERATE_FILES,
                     report_sections=[("derate", "Derate", derate_section(r))])
