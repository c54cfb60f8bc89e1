"""The report's lease book: every lease in one row, placed or left out, with its weeks drawn as a bar.

Each row has the id ``lease-<id>``, so a left-out lease's "crowded out by" links
jump to the rows of the leases that hold its room.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from planner.plan import Plan
from planner.report.routemap import route_map_figure, span_key
from planner.report.style import COLOURS, FAMILY_COLOURS, fmt_int, fmt_usd_full
from planner.report.svg import svg_element
from planner.report.tables import lease_summary
from planner.scenario import Scenario

__all__ = ["MAX_LEASES_SHOWN", "lease_book", "lease_book_section", "lease_row_id"]

MAX_LEASES_SHOWN = 2000
"""Leases in the report's lease book (the richest; placements.csv and unplaced.csv have all)."""

e = html.escape


def lease_row_id(lease: str) -> str:
    """Element id of a lease's row: ``lease-`` and the id with anything unsafe replaced.

    Examples
    --------
    >>> lease_row_id("L-1"), lease_row_id("a b/c")
    ('lease-L-1', 'lease-a_b_c')
    """
    return "lease-" + re.sub(r"[^A-Za-z0-9_-]", "_", lease)


def lease_book(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Every lease (internal work left out), placed or not, with where it runs or why it is left out.

    Returns
    -------
    DataFrame
        One row per lease: lease, tenant, kind, priority, sku, gpus (all replicas), start_week, end_week
        (the term it runs: for a lease with a start window, the start the plan chose, else the window's
        first), latest_start (the window's last start; start_week of the book for a fixed term), placed
        (bool), sites, pods, route (path labels), spans (the DCI spans of its routes), latency_ms,
        slo_ms, revenue_usd (earned, or forgone when left out), family, reason, crowded_out_by;
        placed leases first, richest first.
    """
    wl = sc.workloads[sc.workloads["priority"] != "internal"]
    placed = lease_summary(sc, plan).set_index("lease")
    placed_rows = placed[placed["priority"] != "internal"].to_dict("index")
    unplaced_rows = plan.unplaced.set_index("lease").to_dict("index")
    spans = plan.placements.groupby("lease")["spans"].agg(
        lambda routes: tuple(dict.fromkeys(s for route in routes for s in route))).to_dict()
    chosen = plan.placements.groupby("lease")[["start_week", "end_week"]].first().to_dict("index")
    rows = []
    for lease, w in zip(wl.index, wl.to_dict("records"), strict=True):
        lid = str(lease)
        base = {"lease": lid, "tenant": w["tenant"], "kind": w["kind"], "priority": w["priority"], "sku": w["sku"],
                "gpus": int(w["gpus"]) * int(w["replicas"]), "start_week": int(w["start_week"]),
                "end_week": int(w["end_week"]), "slo_ms": w["latency_slo_ms"],
                "latest_start": int(w["start_week"]) if pd.isna(w.get("latest_start")) else int(w["latest_start"])}
        if lid in chosen:  # the term the plan chose (a windowed lease's start)
            base |= {"start_week": int(chosen[lid]["start_week"]), "end_week": int(chosen[lid]["end_week"])}
        if lid in placed_rows:
            p = placed_rows[lid]
            rows.append({**base, "placed": True, "sites": tuple(p["sites"]), "pods": tuple(p["pods"]),
                         "route": tuple(p["route"]), "spans": spans.get(lid, ()), "latency_ms": float(p["latency_ms"]),
                         "revenue_usd": float(p["revenue_usd"]), "family": "", "reason": "", "crowded_out_by": ()})
        else:
            u = unplaced_rows.get(lid)
            rows.append({**base, "placed": False, "sites": (), "pods": (), "route": (), "spans": (),
                         "latency_ms": float("nan"),
                         "revenue_usd": float(u["revenue_usd"]) if u is not None else float(w["revenue_usd"]),
                         "family": str(u["family"]) if u is not None else "",
                         "reason": str(u["reason"]) if u is not None else "",
                         "crowded_out_by": tuple(u["crowded_out_by"]) if u is not None else ()})
    cols = ["lease", "tenant", "kind", "priority", "sku", "gpus", "start_week", "end_week", "latest_start", "placed",
            "sites", "pods",
            "route", "spans", "latency_ms", "slo_ms", "revenue_usd", "family", "reason", "crowded_out_by"]
    df = pd.DataFrame(rows, columns=cols)
    return df.sort_values(["placed", "revenue_usd", "lease"], ascending=[False, False, True]).reset_index(drop=True)


def _bar(start: int, end: int, periods: int, placed: bool, window: str = "") -> str:
    """The lease's weeks as a bar across the horizon (inline styles: the page loads nothing)."""
    left = 100.0 * (start - 1) / periods
    width = 100.0 * (end - start + 1) / periods
    colour = COLOURS["leased"] if placed else "#cbd5e1"
    return (f'<td data-v="{start}" title="weeks {start}–{end}{e(window, quote=True)}"><span style="display:block;'
            f'position:relative;min-width:140px;height:10px;background:#f1f3f6;border-radius:3px">'
            f'<span style="position:absolute;top:0;bottom:0;left:{left:.2f}%;width:{width:.2f}%;'
            f'background:{colour};border-radius:3px">'
            "</span></span></td>")


def _window(sc: Scenario, r: Any) -> str:
    """A windowed lease's start window, as the bar's tooltip adds it (empty for a fixed term)."""
    first = int(sc.workloads.at[r.lease, "start_week"])
    if r.latest_start <= first:
        return ""
    return f" (may start in weeks {first}–{r.latest_start}{', this start chosen' if r.placed else ''})"


def _join(items: tuple[str, ...], limit: int = 4) -> str:
    shown = ", ".join(e(str(x)) for x in items[:limit])
    return (shown + (f" +{len(items) - limit} more" if len(items) > limit else "")) or "—"


def _num(v: float, text: str) -> str:
    return f'<td class="num" data-v="{"" if pd.isna(v) else v}">{text}</td>'


def lease_book_section(sc: Scenario, plan: Plan) -> str:
    """The lease book (id ``leases``, table ``lease-book``): one row per lease, with links between them.

    Parameters
    ----------
    sc : Scenario
    plan : Plan

    Returns
    -------
    str
        HTML ``<section>``.
    """
    book = lease_book(sc, plan)
    df = book
    if len(book) > MAX_LEASES_SHOWN:
        df = book.loc[book["revenue_usd"].nlargest(MAX_LEASES_SHOWN).index].sort_index()
    ids = {lid: lease_row_id(lid) for lid in df["lease"]}
    periods = sc.horizon.periods
    rows = []
    for r in df.itertuples():
        status = ('<span class="chip" style="--chip:#047857">placed</span>' if r.placed else
                  " + ".join(f'<span class="chip" style="--chip:{FAMILY_COLOURS.get(f.split(" ")[0], "#6b7280")}">'
                             f"{e(f)}</span>" for f in (str(r.family).split("+") if r.family else ["left out"])))
        crowd = ", ".join(f'<a href="#{ids[c]}">{e(c)}</a>' if c in ids else e(c) for c in r.crowded_out_by) or "—"
        pods = f"{len(r.pods)} pod{'' if len(r.pods) == 1 else 's'}"
        where = (f'<span title="{e(", ".join(r.pods), quote=True)}">{_join(r.sites)} · {pods}</span>'
                 if r.placed else "—")
        route = "<br>".join(e(x) for x in r.route) or "—"
        latency = "—" if pd.isna(r.latency_ms) else f"{r.latency_ms:,.2f} ms"
        slo = "" if pd.isna(r.slo_ms) else f" / {float(r.slo_ms):,.1f} ms"
        drawn = (f' data-spans="{e(" ".join(span_key(x) for x in r.spans), quote=True)}" '
                 f'data-route="{e(f"{r.lease}: " + " | ".join(r.route), quote=True)}"' if r.spans else "")
        rows.append(
            f'<tr id="{ids[r.lease]}"{drawn}><td class="nw">{e(r.lease)}</td><td>{e(str(r.tenant))}</td>'
            f'<td>{e(str(r.kind))}</td><td>{e(str(r.priority))}</td><td class="nw">{e(str(r.sku))}</td>'
            + _num(r.gpus, fmt_int(r.gpus)) + _bar(r.start_week, r.end_week, periods, bool(r.placed), _window(sc, r))
            + f'<td class="nw">{status}</td><td class="nw">{where}</td><td style="min-width:260px">{route}</td>'
            + _num(r.latency_ms, latency + slo) + _num(r.revenue_usd, fmt_usd_full(r.revenue_usd))
            + f"<td>{e(str(r.reason)) or '—'}</td><td>{crowd}</td></tr>")
    heads = [("Lease", ""), ("Tenant", ""), ("Kind", ""), ("Priority", ""), ("SKU", ""),
             ("GPUs", "GPUs per replica x replicas"), ("Weeks", f"The lease's term over the {periods}-week horizon"),
             ("Status", "placed, or the constraint family that keeps it out"), ("Where", "Campuses and pods"),
             ("Route", "Path from the campus to the users' PoP"), ("Latency / SLO", ""),
             ("Revenue", "Earned when placed, forgone when left out"), ("Why left out", ""),
             ("Crowded out by", "Placed leases whose removal was checked to free the room (links to their rows)")]
    numeric = {"GPUs", "Latency / SLO", "Revenue"}
    head = "".join("<th scope=\"col\"" + (' class="num"' if h in numeric else "")
                   + (f' title="{e(t, quote=True)}"' if t else "") + f">{e(h)}</th>" for h, t in heads)
    table = (f'<table id="lease-book" class="data sortable"><thead><tr>{head}</tr></thead>'
             f"<tbody>{''.join(rows)}</tbody></table>")
    routes = svg_element(route_map_figure(sc), "lease-map", "The fibre; a clicked lease's route is drawn in red")
    n_placed = int(book["placed"].sum())
    shown = (f" The {fmt_int(len(df))} richest are listed; placements.csv and unplaced.csv have every one."
             if len(df) < len(book) else "")
    lede = (f"Every lease: {fmt_int(n_placed)} placed and {fmt_int(len(book) - n_placed)} left out.{shown} "
            "The bar is the lease's term over the horizon; a left-out lease names what keeps it out, and the "
            "leases that crowd it out link to their own rows. Click a placed lease's row to draw its route on the map.")
    return (f'<section id="leases"><h2>Lease by lease</h2><p class="lede">{lede}</p>'
            f'<figure class="panel" style="max-width:900px;margin:0 0 12px">{routes}<figcaption class="note" '
            'id="lease-map-caption">Click a placed lease\'s row to draw its route.</figcaption></figure>'
            f'<div class="toolbar"><span>showing <span id="lease-book-count">{len(df):,}</span> of '
            f'{len(df):,} leases · click a column heading to sort</span><input type="search" '
            'placeholder="Filter rows…" aria-label="Filter the leases" data-filter="lease-book" '
            f'data-count="lease-book-count"></div><div class="scroll">{table}</div></section>')
