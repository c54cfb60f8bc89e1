"""The report's sections, each a function returning an HTML fragment.

Every section has a stable element id (``summary``, ``map-section``, ``sites``,
``spans``, ``solver``, ``unplaced``, ``placements``, ``failures``) and each chart
an id of its own, so tests and readers can link to them.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime

import pandas as pd

from planner.plan import Plan
from planner.report import charts, tables
from planner.report.planmap import map_figure
from planner.report.style import (
    COLOURS,
    fmt_int,
    fmt_mw,
    fmt_pct,
    fmt_seconds,
    fmt_usd,
    fmt_usd_full,
)
from planner.report.summary import Headline
from planner.report.svg import svg_element
from planner.scenario import Scenario
from planner.version import __version__

__all__ = ["banner", "cards", "failures_section", "footer", "header", "map_section", "placements_section",
           "site_chart_id", "sites_section", "solver_section", "spans_section", "unplaced_section"]

e = html.escape


def site_chart_id(site: str) -> str:
    """Element id of a site's chart: ``site-`` and the id with anything unsafe replaced.

    Examples
    --------
    >>> site_chart_id("OH-NAL"), site_chart_id("a b/c")
    ('site-OH-NAL', 'site-a_b_c')
    """
    return "site-" + re.sub(r"[^A-Za-z0-9_-]", "_", site)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _section(sid: str, title: str, lede: str, body: str) -> str:
    return (f'<section id="{sid}"><h2>{e(title)}</h2>' + (f'<p class="lede">{lede}</p>' if lede else "")
            + body + "</section>")


# --------------------------------------------------------------------------- header
def header(sc: Scenario, plan: Plan) -> str:
    """Title, status badge and the run's facts (solve time, method, seed and workers)."""
    status = plan.status.upper()
    cls = "interrupted" if plan.interrupted else status if status in ("OPTIMAL", "FEASIBLE", "HEURISTIC") else "other"
    badge = f'<span class="status {cls}" id="status">{e(status)}{" · INTERRUPTED" if plan.interrupted else ""}</span>'
    f = plan.facts
    run = [f"method <b>{e(plan.method)}</b>", f"solve time <b>{fmt_seconds(plan.wall_s)}</b>"]
    if f is not None:
        if f.seed is not None:
            run.append(f"seed <b>{e(str(f.seed))}</b>")
        if f.workers is not None:
            run.append(f"workers <b>{e(str(f.workers))}</b>")
        if f.time_limit_s is not None:
            run.append(f"time limit <b>{fmt_seconds(float(f.time_limit_s))}</b>")
        if f.deterministic:
            run.append("deterministic")
        if f.safety_stop:
            run.append('<b style="color:var(--warn)">safety stop</b> (the wall clock cut the solve short)')
    hz = sc.horizon
    start = f" from {e(hz.start_date)}" if hz.start_date else ""
    facts = [f"scenario <code>{e(sc.name)}</code>", f"horizon <b>{_plural(hz.periods, 'week')}</b>{start}",
             f"<b>{_plural(len(sc.sites), 'site')}</b>", f"<b>{_plural(len(sc.pods), 'pod')}</b>",
             f"<b>{fmt_int(sc.pods['gpus'].sum())}</b> GPUs", f"<b>{_plural(len(sc.spans), 'span')}</b>",
             f"<b>{_plural(int((sc.workloads['priority'] != 'internal').sum()), 'lease')}</b>"]
    title = sc.title or sc.name
    return (f'<header class="top" id="top"><div class="wrap"><h1>{e(title)}{badge}</h1>'
            f'<div class="meta">{"".join(f"<span>{f}</span>" for f in facts)}</div>'
            f'<div class="meta" id="run">{"".join(f"<span>{r}</span>" for r in run)}</div></div></header>')


def banner(plan: Plan) -> str:
    """The "INTERRUPTED — best plan so far" banner, or nothing."""
    if not plan.interrupted:
        return ""
    gap = f" It is within {fmt_pct(plan.gap, 2)} of the solver's bound." if pd.notna(plan.gap) else ""
    return ('<div class="banner interrupted" id="interrupted" role="alert"><strong>INTERRUPTED — best plan so far'
            "</strong><br>The search was stopped before it finished. Every placement below keeps every limit, but "
            f"a longer run may find a better plan.{gap}</div>")


def _card(label: str, value: str, sub: str, *, tone: str = "", title: str = "", extra: str = "") -> str:
    t = f' title="{e(title)}"' if title else ""
    return (f'<div class="card {tone}"{t}><div class="label">{e(label)}</div><div class="value">{value}</div>'
            f'<div class="sub">{sub}</div>{extra}</div>')


def cards(h: Headline) -> str:
    """The summary cards."""
    out = [
        _card("Revenue", fmt_usd(h.revenue_usd), f"power {fmt_usd(h.power_cost_usd)} · transport "
              f"{fmt_usd(h.transport_cost_usd)}", title=fmt_usd_full(h.revenue_usd)),
        _card("Net value (objective)", fmt_usd(h.objective_usd), "revenue − power − transport",
              title=fmt_usd_full(h.objective_usd)),
    ]
    if pd.notna(h.bound_usd):
        tone = "good" if h.gap < 0.01 else "warn" if h.gap < 0.05 else "bad"
        out.append(_card("Gap to bound", fmt_pct(h.gap, 2), f"bound {fmt_usd(h.bound_usd)}", tone=tone,
                         title=f"bound {fmt_usd_full(h.bound_usd)}"))
    else:
        out.append(_card("Gap to bound", "no bound", "a heuristic plan proves no bound: run the optimiser"))
    out.append(_card("Leases placed", f"{h.leases_placed:,} <small>/ {h.leases_placed + h.leases_unplaced:,}</small>",
                     f"{_plural(h.leases_unplaced, 'lease')} left out · {fmt_usd(h.revenue_left_out_usd)} "
                     "revenue"))
    skus = "".join(f"<li><span>{e(str(k))}</span><span>{fmt_int(v)}</span></li>"
                   for k, v in h.leased_gpus_peak.items())
    out.append(_card("GPUs leased (peak)", fmt_int(h.leased_gpus_peak.sum()), "peak week of each SKU",
                     extra=f'<ul class="skus">{skus}</ul>' if skus else ""))
    out.append(_card("Surplus sold", fmt_pct(h.surplus_sold, 0),
                     "of the GPU-weeks internal work leaves free, leased (all sites, all weeks)"))
    out.append(_card("Site power use", f"{fmt_pct(h.power_use_avg, 0)} <small>avg</small>",
                     f"peak {fmt_pct(h.power_use_peak, 0)}: {fmt_mw(h.power_peak_mw)} of "
                     f"{fmt_mw(h.power_peak_available_mw)} at {e(h.power_peak_site)} in week {h.power_peak_week}",
                     tone="bad" if h.power_use_peak > 1 + 1e-9 else ""))
    if h.span_peak:
        tone = "bad" if h.span_peak_utilisation > h.limit + 1e-6 else "warn" if (
            h.span_peak_utilisation >= h.limit - 1e-6) else ""
        out.append(_card("Peak span utilisation", fmt_pct(h.span_peak_utilisation, 0),
                         f"{e(h.span_peak)} in week {h.span_peak_week} · limit {fmt_pct(h.limit, 0)} · "
                         f"{_plural(h.spans_at_limit, 'span')} at the limit", tone=tone))
    return '<section id="summary"><div class="cards">' + "".join(out) + "</div></section>"


# --------------------------------------------------------------------------- charts
def map_section(sc: Scenario, plan: Plan) -> str:
    """The map, with the legend and colour scale drawn beside it."""
    svg = svg_element(map_figure(sc, plan), "map", "Map of campuses, PoPs and DCI spans coloured by peak utilisation")
    lede = ("Campuses are pies of their GPUs in their busiest week (area ∝ GPUs); DCI spans follow their routes, "
            "as wide as their capacity and coloured by their peak utilisation over the horizon.")
    return _section("map-section", "Campuses and long-haul fibre", lede, f'<figure class="panel">{svg}</figure>')


def _legend() -> str:
    return " ".join(f'<span><span class="swatch" style="background:{COLOURS[k]}"></span>{k}</span>'
                    for k in ("internal", "leased", "free"))


def sites_section(sc: Scenario, plan: Plan) -> str:
    """Per site: GPUs by use and power drawn against power available, week by week."""
    blocks = []
    for site, row in sc.sites.iterrows():
        pods = sc.pods[sc.pods["site"] == site]
        by_sku = pods.groupby("sku")["gpus"].sum()
        skus = " · ".join(f"{e(str(k))} {fmt_int(v)}" for k, v in by_sku.items()) or "no pods"
        avail = sc.site_power_mw.loc[str(site)].to_numpy(float)
        lo, hi = float(avail.min()), float(avail.max())
        power = fmt_mw(lo) if lo == hi else f"{fmt_mw(lo)}–{fmt_mw(hi)}"
        su = plan.site_use[plan.site_use["site"] == site]
        peak_leased = fmt_int(su["leased_gpus"].max()) if len(su) else "0"
        svg = svg_element(charts.site_figure(sc, plan, str(site)), site_chart_id(str(site)),
                          f"GPUs and power of {row['name']} per week")
        blocks.append(
            f'<article class="panel site"><h3>{e(str(row["name"]))}<small>{e(str(site))}</small></h3>'
            f'<div class="facts"><span>GPUs <b>{skus}</b></span><span>power <b>{power}</b></span>'
            f'<span>PUE <b>{row["pue"]:.2f}</b></span>'
            f'<span>price <b>${row["power_price_usd_per_mwh"]:,.0f}/MWh</b></span>'
            f"<span>peak leased <b>{peak_leased}</b></span></div>{svg}</article>")
    lede = f"GPUs by use per week ({_legend()}), and facility power drawn (IT × PUE) against power available."
    return _section("sites", "Sites week by week", lede, f'<div class="sites">{"".join(blocks)}</div>')


def spans_section(sc: Scenario, plan: Plan) -> str:
    """Span utilisation per week: a heatmap of the busiest spans and lines for the top few."""
    if sc.spans.empty or plan.link_use.empty:
        return _section("spans", "DCI span utilisation", "", '<p class="note">The scenario has no DCI spans.</p>')
    limit = sc.settings.max_link_utilisation
    heat = svg_element(charts.span_heatmap_figure(sc, plan), "span-heatmap", "Span utilisation per week")
    lines = svg_element(charts.span_lines_figure(sc, plan), "span-lines", "Utilisation of the busiest spans")
    shown = min(len(sc.spans), charts.MAX_HEATMAP_SPANS)
    peak = plan.link_use.groupby("span")["utilisation"].max()
    over = int((peak > limit + 1e-6).sum())
    keeps = (f"<strong>{_plural(over, 'span')} exceed the {fmt_pct(limit, 0)} limit</strong>" if over else
             f"the plan keeps every span at or below the {fmt_pct(limit, 0)} limit")
    lede = (f"Traffic over capacity per span and week, busiest first ({shown} of {len(sc.spans)} spans); "
            f"{keeps} (dots mark cells at it).")
    return _section("spans", "DCI span utilisation", lede,
                    f'<div class="grid2"><figure class="panel">{heat}</figure><div class="stack">'
                    f'<figure class="panel">{lines}</figure>'
                    f'<div class="scroll">{tables.spans_table(sc, plan)}</div></div></div>')


def solver_section(plan: Plan) -> str:
    """Objective and bound over time, and the model's size, when the plan comes from the solver."""
    f = plan.facts
    facts = [("status", e(plan.status + (" (interrupted)" if plan.interrupted else ""))),
             ("objective", fmt_usd_full(plan.objective_usd)), ("bound", fmt_usd_full(plan.bound_usd)),
             ("gap", fmt_pct(plan.gap, 3)), ("solve time", fmt_seconds(plan.wall_s))]
    if f is not None:
        if f.bound_source:
            facts.append(("bound from", e(str(f.bound_source))))
        if f.method:
            facts.append(("method", e({"pods": "pod-level CP-SAT model",
                                       "sites": "site-level LP + neighbourhood search"}.get(f.method, f.method))))
        for v, label, seconds in ((f.build_s, "model build", True), (f.warm_start_s, "warm start", True),
                                  (f.variables, "variables", False), (f.constraints, "constraints", False)):
            if v is not None:
                facts.append((label, fmt_seconds(float(v)) if seconds else fmt_int(float(v))))
        focus = f.focus
        if isinstance(focus, dict) and focus.get("value_usd") is not None:
            facts.append(("focused search", f"{fmt_usd_full(float(focus['value_usd']))} in "
                                            f"{fmt_seconds(float(focus.get('wall_s') or 0.0))}, "
                                            f"{fmt_int(float(focus['fixed_site_choices']))} site choices left out"))
        if f.safety_stop:
            steps = ", ".join(f"{st.get('step')} at {fmt_seconds(float(st.get('at_s') or 0.0))}"
                              for st in f.safety_stops if isinstance(st, dict))
            facts.append(("safety stop", e(f"the wall clock ({fmt_seconds(float(f.safety_limit_s or 0.0))}) "
                                           f"cut short: {steps or 'a step'}; another run may give another plan")))
    kv = '<table class="kv">' + "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in facts) + "</table>"
    if len(plan.progress):
        chart = svg_element(charts.progress_figure(plan), "progress-chart", "Objective and bound over time")
        body = f'<div class="grid2"><figure class="panel">{chart}</figure><div class="panel">{kv}</div></div>'
        lede = "Each dot is a better plan found; the dashed line is the proven bound on the best possible plan."
    else:
        body = f'<div class="panel" style="max-width:560px">{kv}</div>'
        lede = ("No solver progress was recorded (a heuristic plan, or a solve that found its plan at once).")
    return _section("solver", "Solver progress", lede, body)


def _toolbar(table_id: str, n: int, noun: str) -> str:
    return (f'<div class="toolbar"><span>showing <span id="{table_id}-count">{n:,}</span> of {_plural(n, noun)} · '
            f'click a column heading to sort</span><input type="search" placeholder="Filter rows…" '
            f'aria-label="Filter the {noun}s" data-filter="{table_id}" data-count="{table_id}-count"></div>')


def unplaced_section(sc: Scenario, plan: Plan) -> str:
    """Every lease left out, with the family that keeps it out, the reason and the fix."""
    un = plan.unplaced
    if un.empty:
        return _section("unplaced", "Leases left out", "",
                        '<p class="ok">Every lease is placed.</p><table id="unplaced-table"></table>')
    chart = svg_element(charts.family_figure(plan), "unplaced-chart", "Revenue left out by constraint family")
    lede = (f"{_plural(len(un), 'lease')} worth {fmt_usd(float(un['revenue_usd'].sum()))} are left out. "
            "Family names the binding constraint (gpus, power, dci, latency, uplink, residency, anti_affinity; "
            "price: costs more than it pays; optimality: fits, but the solver preferred others).")
    return _section("unplaced", "Leases left out", lede,
                    f'<figure class="panel" style="max-width:760px;margin-bottom:12px">{chart}</figure>'
                    + _toolbar("unplaced-table", len(un), "lease")
                    + f'<div class="scroll">{tables.unplaced_table(sc, plan)}</div>')


def placements_section(sc: Scenario, plan: Plan) -> str:
    """The placed leases, one row each."""
    n = int(plan.placements.loc[plan.placements["lease"].map(sc.workloads["priority"]) != "internal", "lease"]
            .nunique()) if len(plan.placements) else 0
    lede = "One row per placed lease: where it runs, its route to its users and what it earns."
    return _section("placements", "Placements", lede, _toolbar("placements-table", n, "placed lease")
                    + f'<div class="scroll">{tables.placements_table(sc, plan)}</div>')


def failures_section(failures: pd.DataFrame | None) -> str:
    """Failure cases ranked by revenue at risk, or nothing without ``failures``."""
    if failures is None:
        return ""
    if failures.empty:
        return _section("failures", "Failure cases", "", '<p class="ok">No failure case puts revenue at risk.</p>')
    chart = svg_element(charts.failures_figure(failures), "failures-chart", "Revenue at risk by failure case")
    total = fmt_usd(float(failures["revenue_at_risk_usd"].max()))
    lede = (f"{_plural(len(failures), 'case')}, ranked by revenue at risk (worst: {total}): which leases would "
            "miss their latency SLO or lose their route if the case happened.")
    return _section("failures", "Failure cases", lede,
                    f'<figure class="panel" style="max-width:760px;margin-bottom:12px">{chart}</figure>'
                    + _toolbar("failures-table", len(failures), "case")
                    + f'<div class="scroll">{tables.failures_table(failures)}</div>')


def footer(plan: Plan) -> str:
    """Who made the report, and when."""
    created = str(plan.meta.get("created") or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return (f'<footer><div class="wrap">planner {e(__version__)} · plan of scenario <code>{e(plan.scenario)}</code>'
            f" · generated {e(created)} · a self-contained file: it loads nothing from the network.</div></footer>")
