"""Assemble the report page and write it: one self-contained ``report.html``."""

from __future__ import annotations

import html
import logging
import time
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from planner.plan import Plan
from planner.report import fabric, sections
from planner.report.assets import CSP, CSS, SCRIPT
from planner.report.business import business_sections
from planner.report.summary import headline_figures
from planner.scenario import Scenario

__all__ = ["ExtraSection", "render_report", "write_report"]

ExtraSection = tuple[str, str, str]
"""A section a caller adds to the report: element id, navigation label and its HTML (a ``<section>``)."""

log = logging.getLogger(__name__)

_NAV = [("summary", "Summary"), ("map-section", "Map"), ("sites", "Sites"), ("fabric", "Fabric"), ("spans", "Spans"),
        ("solver", "Solver"), ("unplaced", "Left out"), ("placements", "Placements"), ("failures", "Failures")]


def render_report(sc: Scenario, plan: Plan, *, failures: pd.DataFrame | None = None,
                  extra: Sequence[ExtraSection] = ()) -> str:
    """The plan as one self-contained HTML page: header, summary cards, map, charts and tables.

    Charts are inline SVG drawn with matplotlib, styles and the small table-sorting
    script are inline, and a Content-Security-Policy forbids loading anything: the
    page opens offline and fetches nothing.

    Parameters
    ----------
    sc : Scenario
        The scenario the plan was made for.
    plan : Plan
        The plan (from :func:`~planner.greedy` or :func:`~planner.optimise`).
    failures : DataFrame, optional
        Failure cases (columns case, kind, spans, leases_slo_lost, leases_stranded,
        revenue_at_risk_usd, worst_added_latency_ms); a ranked section when given.
    extra : sequence of (id, label, html)
        Sections shown first, after the summary cards (a what-if's comparison).

    Returns
    -------
    str
        The HTML document.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> page = render_report(sc, greedy(sc))
    >>> page.startswith("<!DOCTYPE html>") and 'id="map"' in page
    True
    """
    t0 = time.perf_counter()
    h = headline_figures(sc, plan)
    linked = frozenset({sid for sid, _, _ in extra} | ({"failures"} if failures is not None else set()))
    sales = business_sections(sc, plan, failures=failures, linked=linked)
    body = [
        sections.cards(h), *(fragment for _, _, fragment in extra), *(fragment for _, _, fragment in sales),
        sections.map_section(sc, plan),
        sections.sites_section(sc, plan),
        fabric.fabric_section(sc, plan),
        sections.spans_section(sc, plan), sections.solver_section(plan), sections.unplaced_section(sc, plan),
        sections.placements_section(sc, plan), sections.failures_section(failures),
    ]
    shown = [_NAV[0], *((sid, label) for sid, label, _ in (*extra, *sales)), *_NAV[1:]]
    nav = "".join(f'<a href="#{sid}">{html.escape(label)}</a>' for sid, label in shown
                  if sid != "failures" or failures is not None)
    title = html.escape(f"{sc.title or sc.name} — plan report")
    page = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="generator" content="planner">'
        f"<title>{title}</title><style>{CSS}</style></head><body>"
        + sections.header(sc, plan)
        + f'<nav class="sections" aria-label="Sections"><div class="wrap">{nav}</div></nav>'
        + '<main class="wrap">' + sections.banner(plan) + "".join(body) + "</main>"
        + sections.footer(plan)
        + f"<script>{SCRIPT}</script></body></html>\n"
    )
    log.info("report rendered in %.2f s (%d kB)", time.perf_counter() - t0, len(page) // 1024)
    return page


def write_report(sc: Scenario, plan: Plan, path: str | Path, *, failures: pd.DataFrame | None = None,
                 extra: Sequence[ExtraSection] = ()) -> Path:
    """Write :func:`render_report` to ``path`` (``path/report.html`` when ``path`` is a directory).

    Parameters
    ----------
    sc : Scenario
    plan : Plan
    path : str or Path
        The file to write; missing parent directories are created.
    failures, extra
        See :func:`render_report`.

    Returns
    -------
    Path
        The file written.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> out = write_report(sc, greedy(sc), Path(tempfile.mkdtemp()) / "run" / "report.html")
    >>> out.name, out.stat().st_size > 10_000
    ('report.html', True)
    """
    out = Path(path)
    if out.is_dir():
        out = out / "report.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(sc, plan, failures=failures, extra=extra), encoding="utf-8")
    return out
