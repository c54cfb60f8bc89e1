"""HTML tables of the report: leases left out, placements per lease, failure cases.

Every cell is escaped; numeric cells carry their raw value in ``data-v`` so the
page's small sort script orders them as numbers.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from planner.plan import Plan
from planner.report.style import FAMILY_COLOURS, fmt_gbps, fmt_int, fmt_usd_full
from planner.scenario import Scenario

__all__ = ["Column", "failures_table", "html_table", "lease_summary", "placements_table", "spans_table",
           "unplaced_table"]


@dataclass(frozen=True)
class Column:
    """One table column: header, source column, how to show a value, and whether it is a number."""

    header: str
    key: str
    show: Callable[[Any], str] = str
    numeric: bool = False
    title: str = ""
    html: bool = False  # ``show`` returns markup (already escaped)
    nowrap: bool = False


def _is_missing(v: object) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _th(c: Column) -> str:
    cls = ' class="num"' if c.numeric else ""
    title = f' title="{html.escape(c.title, quote=True)}"' if c.title else ""
    return f'<th scope="col"{cls}{title}>{html.escape(c.header)}</th>'


def html_table(df: pd.DataFrame, columns: Sequence[Column], table_id: str, *, caption: str = "") -> str:
    """Render rows of ``df`` as a sortable ``<table>``.

    Parameters
    ----------
    df : DataFrame
        The rows, in display order.
    columns : sequence of Column
        What to show.
    table_id : str
        The table's element id.
    caption : str
        Optional caption (plain text).

    Returns
    -------
    str
        HTML.

    Examples
    --------
    >>> t = html_table(pd.DataFrame({"a": [1200]}), [Column("A", "a", lambda v: f"{v:,}", numeric=True)], "t")
    >>> '<td class="num" data-v="1200">1,200</td>' in t
    True
    """
    head = "".join(_th(c) for c in columns)
    rows = []
    for rec in df.to_dict("records"):
        cells = []
        for c in columns:
            v = rec.get(c.key)
            text = "—" if _is_missing(v) else c.show(v) if c.html else html.escape(c.show(v))
            if c.numeric:
                raw = "" if _is_missing(v) else html.escape(str(v), quote=True)
                cells.append(f'<td class="num" data-v="{raw}">{text}</td>')
            else:
                cells.append(f'<td class="nw">{text}</td>' if c.nowrap else f"<td>{text}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    cap = f"<caption>{html.escape(caption)}</caption>" if caption else ""
    return (f'<table id="{html.escape(table_id, quote=True)}" class="data sortable">{cap}<thead><tr>{head}</tr>'
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def _chip(family: object) -> str:
    fams = [f for f in str(family).split("+") if f] or ["unexplained"]
    return " + ".join(
        f'<span class="chip" style="--chip:{FAMILY_COLOURS.get(f.split(" ")[0], "#6b7280")}">{html.escape(f)}</span>'
        for f in fams)


def _join(v: object, limit: int = 4) -> str:
    items = [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)] if str(v) else []
    if len(items) > limit:
        return ", ".join(items[:limit]) + f" +{len(items) - limit} more"
    return ", ".join(items) or "—"


def _weeks(df: pd.DataFrame) -> pd.Series:
    """``start–end`` week ranges of the rows of ``df``."""
    return df["start_week"].astype(int).astype(str) + "–" + df["end_week"].astype(int).astype(str)


def unplaced_table(sc: Scenario, plan: Plan) -> str:
    """Every lease left out, richest first: what it is, why it is out, and what would make it fit.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    str
        HTML table with id ``unplaced-table``.
    """
    un = plan.unplaced.copy()
    un["tenant"] = un["lease"].map(sc.workloads["tenant"]) if len(un) else []
    un["total_gpus"] = un["gpus"] * un["replicas"]
    un["weeks"] = _weeks(un) if len(un) else []
    un = un.sort_values(["revenue_usd", "lease"], ascending=[False, True])
    cols = [
        Column("Lease", "lease", nowrap=True), Column("Tenant", "tenant"), Column("SKU", "sku", nowrap=True),
        Column("GPUs", "total_gpus", fmt_int, numeric=True, title="GPUs per replica x replicas"),
        Column("Weeks", "weeks", nowrap=True), Column("Revenue", "revenue_usd", fmt_usd_full, numeric=True),
        Column("Family", "family", _chip, html=True, title="The constraint family that keeps the lease out"),
        Column("Reason", "reason"), Column("What would make it fit", "fix"),
        Column("Crowded out by", "crowded_out_by", _join),
    ]
    return html_table(un, cols, "unplaced-table")


def _distinct(placements: pd.DataFrame, column: str) -> pd.Series:
    """Per lease (in order of first placement), the distinct values of ``column`` in order of first appearance."""
    firsts = placements[["lease", column]].drop_duplicates()
    return firsts.groupby("lease", sort=False)[column].agg(tuple)


def lease_summary(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Placements summarised per lease: where it went, its route, latency and value.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    DataFrame
        One row per placed lease: lease, tenant, kind, priority, sku, sites, pods, replicas, gpus, route,
        latency_ms, slo_ms, start_week, end_week, revenue_usd, net_usd; richest first.
    """
    pl = plan.placements
    cols = ["lease", "tenant", "kind", "priority", "sku", "sites", "pods", "replicas", "gpus", "route",
            "latency_ms", "slo_ms", "start_week", "end_week", "revenue_usd", "net_usd"]
    if pl.empty:
        return pd.DataFrame(columns=cols)
    net = pl["revenue_usd"] - pl["power_cost_usd"] - pl["transport_cost_usd"]
    g = pl.assign(net_usd=net).groupby("lease", sort=False)
    out = pd.DataFrame({
        "sites": _distinct(pl, "site"),
        "pods": _distinct(pl, "pod"),
        "replicas": g["replica"].nunique(),
        "gpus": g["gpus"].sum(),
        "route": _distinct(pl, "path").map(lambda paths: tuple(x for x in paths if x)),
        "latency_ms": g["latency_ms"].max(),
        "start_week": g["start_week"].min(),
        "end_week": g["end_week"].max(),
        "revenue_usd": g["revenue_usd"].sum(),
        "net_usd": g["net_usd"].sum(),
    })
    wl = sc.workloads.reindex(out.index)
    out = out.assign(tenant=wl["tenant"], kind=wl["kind"], priority=wl["priority"], sku=wl["sku"],
                     slo_ms=wl["latency_slo_ms"])
    out = out.reset_index().sort_values(["revenue_usd", "lease"], ascending=[False, True])
    return out[cols]


def _ms(v: float) -> str:
    return f"{v:,.2f} ms"


def placements_table(sc: Scenario, plan: Plan) -> str:
    """The placements summarised per lease (leases only; internal work is in the site charts).

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    str
        HTML table with id ``placements-table``.
    """
    df = lease_summary(sc, plan)
    df = df[df["priority"] != "internal"].copy()
    df["weeks"] = _weeks(df) if len(df) else []
    cols = [
        Column("Lease", "lease", nowrap=True), Column("Tenant", "tenant"), Column("Kind", "kind"),
        Column("SKU", "sku", nowrap=True), Column("Site", "sites", _join, nowrap=True), Column("Pods", "pods", _join),
        Column("GPUs", "gpus", fmt_int, numeric=True, title="GPUs over all replicas"),
        Column("Route", "route", lambda v: " | ".join(v) or "—", title="Path from the site to the users' PoP"),
        Column("Latency", "latency_ms", _ms, numeric=True, title="One-way latency of the route"),
        Column("SLO", "slo_ms", _ms, numeric=True), Column("Weeks", "weeks", nowrap=True),
        Column("Revenue", "revenue_usd", fmt_usd_full, numeric=True),
        Column("Net value", "net_usd", fmt_usd_full, numeric=True, title="Revenue - power - transport"),
    ]
    return html_table(df, cols, "placements-table")


def failures_table(failures: pd.DataFrame) -> str:
    """Failure cases ranked by revenue at risk.

    Parameters
    ----------
    failures : DataFrame
        Columns case, kind, spans, leases_slo_lost, leases_stranded, revenue_at_risk_usd,
        worst_added_latency_ms (missing columns show as ``—``).

    Returns
    -------
    str
        HTML table with id ``failures-table``.
    """
    df = failures.sort_values("revenue_at_risk_usd", ascending=False).reset_index(drop=True)
    df = df.assign(rank=range(1, len(df) + 1))
    cols = [
        Column("#", "rank", str, numeric=True), Column("Case", "case"), Column("Kind", "kind"),
        Column("Spans", "spans", lambda v: _join(v, 6)),
        Column("Leases past SLO", "leases_slo_lost", fmt_int, numeric=True),
        Column("Leases stranded", "leases_stranded", fmt_int, numeric=True),
        Column("Revenue at risk", "revenue_at_risk_usd", fmt_usd_full, numeric=True),
        Column("Worst added latency", "worst_added_latency_ms", _ms, numeric=True),
    ]
    return html_table(df, cols, "failures-table")


def spans_table(sc: Scenario, plan: Plan) -> str:
    """Every DCI span, busiest first: ends, length, capacity, peak use and weeks at the limit.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    str
        HTML table with id ``spans-table``.
    """
    lu = plan.link_use
    limit = sc.settings.max_link_utilisation
    g = lu.groupby("span")
    df = sc.spans[["a", "b", "length_km", "capacity_gbps"]].copy()
    df["peak"] = g["utilisation"].max().reindex(df.index).fillna(0.0)
    df["weeks_at_limit"] = (lu["utilisation"] >= 0.99 * limit).groupby(lu["span"]).sum().reindex(df.index).fillna(0)
    df["ends"] = df["a"].astype(str) + " – " + df["b"].astype(str)
    df = df.rename_axis("span").reset_index().sort_values(["peak", "span"], ascending=[False, True])
    cols = [
        Column("Span", "span", nowrap=True), Column("Ends", "ends", nowrap=True),
        Column("Length", "length_km", lambda v: f"{v:,.0f} km", numeric=True,
               title="Route length along the fibre"),
        Column("Capacity", "capacity_gbps", fmt_gbps, numeric=True),
        Column("Peak", "peak", lambda v: f"{100 * v:.0f} %", numeric=True, title="Peak utilisation of capacity"),
        Column("At limit", "weeks_at_limit", lambda v: f"{int(v)} wk", numeric=True,
               title=f"Weeks at the {100 * limit:.0f} % limit"),
    ]
    return html_table(df, cols, "spans-table")
