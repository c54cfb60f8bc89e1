"""The report's business sections: against the baseline, the yardsticks, what is left to sell, lease by lease."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import pytest

from planner import load_scenario
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.report import manager, render_report, write_report
from planner.report.inventory import selling_line
from planner.report.leasebook import lease_book
from planner.report.style import fmt_usd
from planner.scenario import Scenario
from planner.surplus import surplus_runs
from tests import tiny
from tests.report_pages import FAILURES, browser_driver, parse_page, remote_references, table_rows

SECTIONS = ["manager", "surplus", "leases"]
CHARTS = ["revenue-chart", "surplus-heatmap", "surplus-fibre", "lease-map"]
TABLES = ["surplus-table", "lease-book"]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """test_report's tiny book, with SB short of power (0.19 MW) so that power limits what is left to sell."""
    d = tiny.base()
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["scenario"]["horizon"]["periods"] = 6
    d["sites"]["sites"][1]["grid_mw"] = 0.19
    d["leases"] = [
        tiny.lease("L1", 80, 3.0, egress_gbps=400, region="P1", latency_slo_ms=5, kind="inference", tenant="acme"),
        tiny.lease("L2", 150, 2.5, egress_gbps=300, region="P2", latency_slo_ms=10, kind="inference"),
        tiny.lease("L3", 180, 2.0, end_week=6, priority="committed", tenant="acme"),
        tiny.lease("L4", 50, 1.0, start_week=2, end_week=3, egress_gbps=800, region="P1", latency_slo_ms=0.1),
        tiny.lease("L5", 100, 2.2, span="site", start_week=3, end_week=6, kind="fine-tune"),
        tiny.lease("L6", 40, 2.8, egress_gbps=400, region="P1", allowed_sites="SB", start_week=2, end_week=5),
    ]
    d["reservations"] = [{"pod": "A1", "site": "", "sku": "T1", "start_week": 1, "end_week": 2, "gpus": 50,
                          "note": "wave"}]
    return load_scenario(tiny.write(tmp_path_factory.mktemp("tiny"), d))


@pytest.fixture(scope="module")
def solved(scenario: Scenario) -> Plan:
    plan = optimise(scenario, time_limit_s=5)
    assert plan.check(scenario) == []
    return plan


@pytest.fixture(scope="module")
def page(scenario: Scenario, solved: Plan) -> str:
    return render_report(scenario, solved)


def _leases_of(sc: Scenario, plan: Plan) -> pd.DataFrame:
    """Placed leases from the lease book itself: GPUs x replicas, weeks, and the site they went to."""
    placed = sorted(set(plan.placements["lease"]) - set(plan.meta["internal"]))
    wl = sc.workloads.loc[placed]
    site = plan.placements.groupby("lease")["site"].first()
    return wl.assign(total=wl["gpus"] * wl["replicas"], weeks=wl["end_week"] - wl["start_week"] + 1,
                     site=site.reindex(wl.index))


def test_sections_charts_and_tables(page: str) -> None:
    ids = parse_page(page).ids
    for sid in [*SECTIONS, *CHARTS, *TABLES, "baseline-chart"]:
        assert ids.count(sid) == 1, sid
    assert len(ids) == len(set(ids))
    for sid in SECTIONS:
        assert f'href="#{sid}"' in page
    assert remote_references(page) == []


def test_against_the_baseline(scenario: Scenario, solved: Plan, page: str) -> None:
    base = greedy(scenario, explain=False)
    mine, theirs = manager.plan_figures(scenario, solved), manager.plan_figures(scenario, base)
    assert theirs["objective_usd"] == pytest.approx(base.objective_usd)
    assert theirs["leases_placed"] == base.placements["lease"].nunique()
    assert mine["objective_usd"] > theirs["objective_usd"]  # the optimiser beats first fit here
    gain = solved.objective_usd - base.objective_usd
    assert f"+{fmt_usd(gain)}" in page
    assert f"places {int(theirs['leases_placed'])} leases for {fmt_usd(base.revenue_usd)}" in page
    # the figures by hand from the lease book
    for plan, figs in ((solved, mine), (base, theirs)):
        ls = _leases_of(scenario, plan)
        assert figs["gpu_hours"] == pytest.approx(float((ls["total"] * ls["weeks"]).sum()) * 100)


def test_recorded_baseline_is_used_and_greedy_plan_says_so(scenario: Scenario, solved: Plan,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = {"objective_usd": 1.0, "revenue_usd": 2.0, "leases_placed": 1, "gpu_hours": 3.0}
    from planner.optimise.heuristics import greedy as greedy_module

    def refuse(*_a: object, **_k: object) -> Plan:
        raise AssertionError("the recorded baseline should be used")

    monkeypatch.setattr(greedy_module, "greedy", refuse)
    figs, source = manager.baseline_figures(scenario, dataclasses.replace(solved, meta={**solved.meta,
                                                                                       "baseline": recorded}))
    assert figs == {k: float(v) for k, v in recorded.items()} and source == "recorded with the plan"
    monkeypatch.setattr(manager, "MAX_BASELINE_PAIRS", 1)
    figs, why = manager.baseline_figures(scenario, solved)
    assert figs is None and "was not run" in why
    monkeypatch.undo()
    page = render_report(scenario, greedy(scenario))
    assert "This plan is the greedy baseline itself" in page and 'id="baseline-chart"' not in page


def test_yardsticks_by_hand(scenario: Scenario, solved: Plan) -> None:
    y = manager.yardsticks(scenario, solved)
    ls = _leases_of(scenario, solved)
    revenue = float((ls["total"] * ls["weeks"] * 100 * ls["price_usd_per_gpu_hour"]).sum())
    assert revenue == pytest.approx(solved.revenue_usd)
    gpu_hours = float((ls["total"] * ls["weeks"]).sum()) * 100
    assert y.usd_per_gpu_hour == pytest.approx(revenue / gpu_hours)
    # T1 draws 1 kW per GPU at PUE 1: leased MW-years = GPU-weeks x 100 h / 1000 / 8760
    assert y.leased_mw_years == pytest.approx(float((ls["total"] * ls["weeks"]).sum()) * 100 / 1000 / 8760)
    assert y.usd_per_mw_year_leased == pytest.approx(revenue / y.leased_mw_years)
    campus = (1.0 + 0.19) * 6 * 100 / 8760  # both sites' MW x 6 weeks of 100 h
    assert y.usd_per_mw_year_campus == pytest.approx(revenue / campus)


def test_revenue_by_tenant_and_kind(scenario: Scenario, solved: Plan) -> None:
    for key in ("tenant", "kind"):
        by = manager.revenue_by(scenario, solved, key)
        assert by.to_numpy().sum() == pytest.approx(solved.revenue_usd)
        ls = _leases_of(scenario, solved)
        want = (ls["total"] * ls["weeks"] * 100 * ls["price_usd_per_gpu_hour"]).groupby(ls[key]).sum()
        assert by.sum(axis=1).sort_index().to_numpy() == pytest.approx(want.sort_index().to_numpy())
    assert list(manager.revenue_by(scenario, solved, "kind").columns) == sorted(
        set(_leases_of(scenario, solved)["priority"]))


def test_what_is_left_to_sell(scenario: Scenario, solved: Plan, page: str) -> None:
    runs = surplus_runs(scenario, solved)
    rows = table_rows(page, "surplus-table")
    assert len(rows) == len(runs) > 0
    # SB has 0.19 MW: power, not GPUs, sets what it can sell in some week
    assert (runs["sellable_gpus"] < runs["free_gpus"]).any()
    assert any(">power<" in r for r in rows)
    assert selling_line(runs).replace("–", "&ndash;") in page or selling_line(runs) in page


def test_lease_book_links_crowders(scenario: Scenario, solved: Plan, page: str) -> None:
    book = lease_book(scenario, solved)
    leases = set(scenario.workloads.index[scenario.workloads["priority"] != "internal"])
    assert set(book["lease"]) == leases and len(book) == len(leases)
    body = page[page.index('<table id="lease-book"'):]
    rows = re.findall(r'<tr id="(lease-[^"]+)"', body[:body.index("</table>")])
    assert sorted(rows) == sorted(f"lease-{x}" for x in leases)
    ids = set(parse_page(page).ids)
    assert {f"lease-{x}" for x in leases} <= ids
    crowded = solved.unplaced[solved.unplaced["crowded_out_by"].map(len) > 0]
    assert len(crowded) > 0
    for targets in crowded["crowded_out_by"]:
        for t in targets:
            assert f'<a href="#lease-{t}">{t}</a>' in page
    hrefs = re.findall(r'href="#(lease-[^"]+)"', page)
    assert hrefs and set(hrefs) <= ids
    for reason in solved.unplaced["reason"]:
        assert reason.replace(">", "&gt;") in page


def test_empty_plan_renders(tmp_path: Path) -> None:
    sc = load_scenario(tiny.write(tmp_path, tiny.base()))
    page = render_report(sc, greedy(sc))
    ids = parse_page(page).ids
    for sid in [*SECTIONS, *CHARTS, *TABLES]:
        assert ids.count(sid) == 1, sid
    assert remote_references(page) == []


def test_in_a_real_browser(tmp_path: Path, scenario: Scenario, solved: Plan) -> None:
    path = write_report(scenario, solved, tmp_path / "report.html")
    driver = browser_driver(tmp_path)
    try:
        driver.get("about:blank")
        driver.get_log("browser")
        driver.get(path.as_uri())
        assert driver.execute_script("return document.readyState") == "complete"
        for eid in [*SECTIONS, *CHARTS, *TABLES, "baseline-chart"]:
            el = driver.find_element("id", eid)
            assert el.is_displayed(), eid
            if eid in CHARTS or eid == "baseline-chart":
                assert el.size["width"] > 200 and el.size["height"] > 80, (eid, el.size)
        # a crowded-out link jumps to the crowding lease's row
        target = str(solved.unplaced.loc[solved.unplaced["crowded_out_by"].map(len) > 0, "crowded_out_by"].iloc[0][0])
        link = driver.find_element("css selector", f'#lease-book a[href="#lease-{target}"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", link)
        driver.execute_script("arguments[0].click()", link)
        assert driver.execute_script("return location.hash") == f"#lease-{target}"
        row = driver.find_element("id", f"lease-{target}")
        top = driver.execute_script("return arguments[0].getBoundingClientRect().top", row)
        assert 0 <= top < driver.execute_script("return window.innerHeight")
        # clicking a placed lease's row draws its route on the map, in red
        book = lease_book(scenario, solved)
        routed = book[book["spans"].map(len) > 0].iloc[0]
        row = driver.find_element("id", f"lease-{routed['lease']}")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", row)
        driver.execute_script("arguments[0].click()", row)
        for span in routed["spans"]:
            g = driver.find_element("id", f"lease-map-span-{span}")
            assert "route-on" in (g.get_attribute("class") or "")
            stroke = driver.execute_script("return getComputedStyle(arguments[0].querySelector('path')).stroke", g)
            assert stroke == "rgb(215, 48, 31)", stroke
        others = set(scenario.spans.index) - set(routed["spans"])
        for span in others:
            assert "route-on" not in (driver.find_element("id", f"lease-map-span-{span}").get_attribute("class") or "")
        assert routed["lease"] in driver.find_element("id", "lease-map-caption").text
        # the filter works on the lease book and the inventory
        box = driver.find_element("css selector", 'input[data-filter="lease-book"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", box)
        box.send_keys("L4")
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#lease-book tbody tr')).filter(r => !r.hidden).length")
        assert shown == 1
        head = driver.find_element("css selector", "#surplus-table thead th:nth-child(5)")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", head)
        head.click()
        assert head.get_attribute("aria-sort") == "ascending"
        section = driver.find_element("id", "surplus")
        driver.execute_script("arguments[0].scrollIntoView({block: 'start', behavior: 'instant'})", section)
        shots = Path(__file__).resolve().parents[1] / "output"
        shots.mkdir(exist_ok=True)
        driver.save_screenshot(str(shots / "report-screenshot-surplus.png"))
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()


def test_whatif_cards(scenario: Scenario, solved: Plan) -> None:
    meta = {**solved.meta, "derate": {"site": "SB", "percent": 50, "weeks": [2, 4], "curtailed": ["L3"], "moved": [],
                                      "revenue_before_usd": 500_000.0, "revenue_after_usd": 380_000.0}}
    derated = dataclasses.replace(solved, meta=meta)
    page = render_report(scenario, derated, failures=FAILURES,
                         extra=[("derate", "Derate", '<section id="derate"><h2>Derate</h2></section>')])
    assert "Derate SB −50 % weeks 2–4" in page and "−$120,000" in page and "1 curtailed · 0 moved" in page
    assert "Worst fibre cut" in page and "revenue at risk if cut SB-P2 · 2 of 3 cases" in page
    assert 'href="#derate"' in page and 'href="#failures"' in page
    refs = {v[1:] for _, k, v in parse_page(page).attrs if k == "href" and v.startswith("#")}
    assert refs <= set(parse_page(page).ids)
    # without those sections on the page, the cards still say it but link nowhere
    alone = render_report(scenario, derated)
    assert "Derate SB" in alone and 'href="#derate"' not in alone and "Worst fibre cut" not in alone


def test_large_books_are_cut_to_the_richest(scenario: Scenario, solved: Plan, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.report import inventory, leasebook

    monkeypatch.setattr(leasebook, "MAX_LEASES_SHOWN", 2)
    monkeypatch.setattr(inventory, "MAX_HEAT_ROWS", 1)
    page = render_report(scenario, solved)
    body = page[page.index('<table id="lease-book"'):]
    rows = re.findall(r'<tr id="lease-([^"]+)"', body[:body.index("</table>")])
    book = lease_book(scenario, solved)
    assert sorted(rows) == sorted(book.nlargest(2, "revenue_usd")["lease"])
    assert "The 2 richest are listed" in page
    ids = set(parse_page(page).ids)
    assert {v[1:] for _, k, v in parse_page(page).attrs if k == "href" and v.startswith("#")} <= ids
    assert "(top 1 by GPUs to sell)" in page
