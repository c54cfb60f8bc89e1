"""The plan report: one self-contained HTML page with a map, charts and tables.

>>> from planner import load_scenario
>>> from planner.optimise.heuristics.greedy import greedy
>>> from planner.report import write_report
>>> sc = load_scenario()
>>> path = write_report(sc, greedy(sc), "output/report.html")  # doctest: +SKIP

Modules: :mod:`~planner.report.html` (the page), :mod:`~planner.report.sections`,
:mod:`~planner.report.charts`, :mod:`~planner.report.fabric` (halls and aggregation use per campus),
:mod:`~planner.report.planmap` and
:mod:`~planner.report.basemap` (the map), :mod:`~planner.report.tables`,
:mod:`~planner.report.summary` (headline numbers), :mod:`~planner.report.style`; the business
sections (:mod:`~planner.report.business`): :mod:`~planner.report.manager` (against the greedy
baseline, the yardsticks, revenue by tenant and kind), :mod:`~planner.report.inventory` (what is
left to sell), :mod:`~planner.report.leasebook` and :mod:`~planner.report.routemap` (lease by lease).
"""

from planner.report.html import render_report, write_report
from planner.report.summary import Headline, headline_figures

__all__ = ["Headline", "headline_figures", "render_report", "write_report"]
