"""The HTML report: its sections, that it is self-contained, and a real browser loading it offline."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from planner import load_scenario
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.report import headline_figures, render_report, write_report
from planner.report.basemap import map_frame, state_outlines, states_shapefile
from planner.report.style import fmt_usd
from planner.scenario import Scenario
from tests import tiny
from tests.report_pages import FAILURES, browser_driver, parse_page, remote_references, table_rows

ROOT = Path(__file__).resolve().parents[1]

SECTION_IDS = ["summary", "map-section", "sites", "fabric", "spans", "solver", "unplaced", "placements"]
CHART_IDS = ["map", "site-SA", "site-SB", "fabric-SA", "fabric-SB", "span-heatmap", "span-lines", "unplaced-chart"]
TABLE_IDS = ["unplaced-table", "placements-table", "spans-table", "fabric-SA-table", "fabric-SB-table"]


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The tiny scenario with a lease book that places some leases, leaves some out and loads the spans."""
    d = tiny.base()
    d["scenario"]["settings"]["max_link_utilisation"] = 0.8
    d["scenario"]["horizon"]["periods"] = 6
    d["leases"] = [
        tiny.lease("L1", 80, 3.0, egress_gbps=400, region="P1", latency_slo_ms=5, kind="inference"),
        tiny.lease("L2", 150, 2.5, egress_gbps=300, region="P2", latency_slo_ms=10, kind="inference"),
        tiny.lease("L3", 180, 2.0, end_week=6),
        tiny.lease("L4", 50, 1.0, start_week=2, end_week=3, egress_gbps=800, region="P1", latency_slo_ms=0.1),
        tiny.lease("L5", 100, 2.2, span="site", start_week=3, end_week=6),
        tiny.lease("L6", 40, 2.8, egress_gbps=400, region="P1", allowed_sites="SB", start_week=2, end_week=5),
    ]
    d["reservations"] = [{"pod": "A1", "site": "", "sku": "T1", "start_week": 1, "end_week": 2, "gpus": 50,
                          "note": "wave"}]
    return load_scenario(tiny.write(tmp_path_factory.mktemp("tiny"), d))


@pytest.fixture(scope="module")
def plan(scenario: Scenario) -> Plan:
    return greedy(scenario)


@pytest.fixture(scope="module")
def solved(scenario: Scenario) -> Plan:
    return optimise(scenario, time_limit_s=5)


@pytest.fixture(scope="module")
def page(scenario: Scenario, plan: Plan) -> str:
    return render_report(scenario, plan)


# --------------------------------------------------------------------------- helpers
# --------------------------------------------------------------------------- content
def test_sections_and_charts_present(page: str, plan: Plan) -> None:
    ids = parse_page(page).ids
    for sid in SECTION_IDS + CHART_IDS + TABLE_IDS + ["status", "run"]:
        assert ids.count(sid) == 1, sid
    assert page.startswith("<!DOCTYPE html>")
    assert "HEURISTIC" in page
    assert "progress-chart" not in page  # a greedy plan has no solver progress
    assert "No solver progress was recorded" in page
    assert "no bound" in page
    assert 'id="interrupted"' not in page and "INTERRUPTED" not in page
    assert 'id="failures"' not in page  # no failures given: no section


def test_ids_unique_and_references_resolve(page: str, scenario: Scenario, plan: Plan) -> None:
    ids = parse_page(page).ids
    assert len(ids) == len(set(ids)), "duplicate element ids (several inline SVGs share one document)"
    refs = set(re.findall(r"url\(#([^)]+)\)", page)) | {
        v[1:] for _, k, v in parse_page(page).attrs if k in ("href", "xlink:href") and v.startswith("#")}
    assert refs and refs <= set(ids)
    # the same plan renders to the same page (but for the time stamp in the footer)
    again = render_report(scenario, plan)
    strip = re.compile(r"generated [^·<]*")
    assert strip.sub("", again) == strip.sub("", page)


def test_headline_numbers(page: str, scenario: Scenario, plan: Plan) -> None:
    h = headline_figures(scenario, plan)
    assert h.leases_placed == plan.placements["lease"].nunique()
    assert h.leases_unplaced == len(plan.unplaced) > 0
    assert fmt_usd(plan.revenue_usd) in page
    assert f"{h.leases_placed:,} <small>/ {h.leases_placed + h.leases_unplaced:,}</small>" in page
    assert 0 < h.surplus_sold <= 1
    assert 0 < h.power_use_peak <= 1 + 1e-9
    assert h.span_peak == "SA-P1" and h.span_peak_utilisation == pytest.approx(0.8)
    assert h.spans_at_limit == 1
    for sku, n in plan.leased_gpus().items():
        assert f"<li><span>{sku}</span><span>{n:,}</span></li>" in page


def test_tables_list_every_lease(page: str, plan: Plan) -> None:
    rows = table_rows(page, "unplaced-table")
    assert len(rows) == len(plan.unplaced)
    for lease, reason in zip(plan.unplaced["lease"], plan.unplaced["reason"], strict=True):
        assert any(f"<td class=\"nw\">{lease}</td>" in r for r in rows)
        assert reason.replace(">", "&gt;") in page
    placed = table_rows(page, "placements-table")
    assert len(placed) == plan.placements["lease"].nunique()
    # richest first, with thousands separators and units
    revenue = plan.placements.groupby("lease")["revenue_usd"].sum().sort_values(ascending=False)
    assert revenue.index[0] in placed[0]
    assert f"${revenue.iloc[0]:,.0f}" in placed[0]
    assert " ms</td>" in page


def test_no_network_references(page: str, solved: Plan, scenario: Scenario) -> None:
    assert remote_references(page) == []
    full = render_report(scenario, dataclasses.replace(solved, interrupted=True), failures=FAILURES)
    assert remote_references(full) == []
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    # the checker itself catches what it should
    assert remote_references('<img src="https://x.test/a.png"><a href="//x.test">') != []
    assert remote_references("<style>@import 'x.css'; b{background:url(http://x.test/i.png)}</style>") != []
    assert remote_references('<svg><use xlink:href="http://x.test/s.svg#a"/></svg>') != []
    assert remote_references('<svg xmlns="http://www.w3.org/2000/svg"><use xlink:href="#a"/></svg>') == []


def test_interrupted_plan_has_banner(scenario: Scenario, solved: Plan) -> None:
    page = render_report(scenario, dataclasses.replace(solved, interrupted=True))
    assert 'id="interrupted"' in page
    assert "INTERRUPTED — best plan so far" in page
    assert '<span class="status interrupted" id="status">OPTIMAL · INTERRUPTED</span>' in page
    assert "(interrupted)" in page  # the solver panel says so too


def test_optimised_plan_shows_progress_and_gap(scenario: Scenario, solved: Plan) -> None:
    assert len(solved.progress) > 0
    page = render_report(scenario, solved)
    assert parse_page(page).ids.count("progress-chart") == 1
    assert 'class="status OPTIMAL"' in page
    assert "Gap to bound" in page and "no bound" not in page
    for key in ("seed", "workers"):
        assert f"{key} <b>{solved.meta[key]}</b>" in page


def test_failures_section_ranked(scenario: Scenario, plan: Plan) -> None:
    page = render_report(scenario, plan, failures=FAILURES)
    ids = parse_page(page).ids
    for sid in ("failures", "failures-chart", "failures-table"):
        assert ids.count(sid) == 1
    rows = table_rows(page, "failures-table")
    assert [re.search(r"<td>(cut [^<]+|conduit [^<]+)</td>", r).group(1) for r in rows] == [  # type: ignore[union-attr]
        "cut SB-P2", "cut SA-P1", "conduit c5"]
    assert "$150,000" in rows[0]
    assert 'href="#failures"' in page


def test_text_is_escaped(scenario: Scenario, plan: Plan) -> None:
    un = plan.unplaced.copy()
    un.loc[0, "reason"] = "<script>alert(1)</script> & more"
    page = render_report(scenario, dataclasses.replace(plan, unplaced=un))
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in page
    assert page.count("<script>") == 1  # only the page's own sort script


def _halls_scenario(tmp_path: Path) -> Scenario:
    """Tiny with declared halls (HA1: A1, HA2: A2 in two buildings of SA; HB: B1) and one lease split over A1, A2.

    L5 (150 GPUs, span=site, weeks 3-6) fills A1 and puts 50 GPUs in A2: at 2 Gbps per GPU its inter-pod
    traffic is 200 Gbps on HA1 (of 300: 67 %) and 100 Gbps on HA2 (33 %). L3 (100 GPUs, weeks 2-4) sits in
    B1 whole and loads no aggregation layer.
    """
    d = tiny.base()
    d["scenario"]["settings"]["interpod_gbps_per_gpu"] = 2.0
    d["scenario"]["horizon"]["periods"] = 6
    d["pods"]["halls"] = [{"id": "HA1", "site": "SA", "building": "SA-1", "aggregation_gbps": 300},
                          {"id": "HA2", "site": "SA", "building": "SA-2", "aggregation_gbps": 300},
                          {"id": "HB", "site": "SB", "building": "SB-1", "aggregation_gbps": 500}]
    for pod, hall in zip(d["pods"]["pods"], ["HA1", "HA2", "HB"], strict=True):
        pod["hall"] = hall
    d["leases"] = [tiny.lease("L5", 150, 2.2, span="site", start_week=3, end_week=6, allowed_sites="SA"),
                   tiny.lease("L3", 100, 2.0, start_week=2, end_week=4, allowed_sites="SB")]
    return load_scenario(tiny.write(tmp_path, d))


def test_fabric_section_shows_halls_aggregation_use_and_idle_pods(tmp_path: Path) -> None:
    from planner.report.fabric import hall_summary, idle_by_week

    sc = _halls_scenario(tmp_path)
    plan = greedy(sc)
    assert plan.check(sc) == [] and plan.unplaced.empty
    sa = hall_summary(sc, plan, "SA").set_index("hall")
    assert sa.loc["HA1", "peak_utilisation"] == pytest.approx(2 / 3) and sa.loc["HA2", "peak_utilisation"] == (
        pytest.approx(1 / 3))
    assert sa.loc["HA1", "peak_interpod_gbps"] == pytest.approx(200.0) and sa.loc["HA1", "peak_week"] == 3
    assert sa["weeks_idle"].tolist() == [2, 2] and sa["building"].tolist() == ["SA-1", "SA-2"]
    idle = idle_by_week(sc, plan, "SA")
    assert idle["idle_pods"].tolist() == [2, 2, 0, 0, 0, 0] and idle["idle_halls"].tolist() == [2, 2, 0, 0, 0, 0]
    assert idle["idle_gpus"].tolist() == [200, 200, 0, 0, 0, 0]
    assert idle_by_week(sc, plan, "SB")["idle_halls"].tolist() == [1, 0, 0, 0, 1, 1]
    page = render_report(sc, plan)
    fabric = page[page.index('<section id="fabric">'):]
    fabric = fabric[:fabric.index("</section>")]
    assert "peak aggregation use <b>67 %</b> (HA1, week 3)" in fabric
    assert "buildings <b>SA-1, SA-2</b>" in fabric and "aggregation <b>unused</b>" in fabric  # SB: L3 in one pod
    rows = table_rows(page, "fabric-SA-table")
    assert len(rows) == 2 and "300 Gb/s" in rows[0] and "67 %" in rows[0] and "2 wk" in rows[0]
    assert '<a href="#fabric">Fabric</a>' in page
    ids = parse_page(page).ids
    assert {"fabric-SA", "fabric-SB", "fabric-SB-table"} <= set(ids) and len(ids) == len(set(ids))


def test_fabric_section_marks_undeclared_halls_unlimited(page: str, scenario: Scenario, plan: Plan) -> None:
    fabric = page[page.index('<section id="fabric">'):]
    fabric = fabric[:fabric.index("</section>")]
    assert fabric.count("aggregation <b>not modelled</b>") == len(scenario.sites)
    assert "no aggregation limit" in fabric  # the hatched rows' legend in the heat map
    assert all("no limit" in row for row in table_rows(page, "fabric-SA-table"))
    assert 'data-v="Infinity">no limit<' in fabric  # sorts above every capacity, and no "inf" shown
    assert not re.search(r"\binf\b", re.sub(r"<svg.*?</svg>", "", fabric, flags=re.S))


def test_empty_plan(tmp_path: Path) -> None:
    sc = load_scenario(tiny.write(tmp_path, tiny.base()))
    plan = greedy(sc)
    assert plan.placements.empty and plan.unplaced.empty
    page = render_report(sc, plan)
    assert "Every lease is placed." in page
    assert parse_page(page).ids.count("map") == 1
    assert remote_references(page) == []


def test_write_report(tmp_path: Path, scenario: Scenario, plan: Plan) -> None:
    out = write_report(scenario, plan, tmp_path / "run" / "nested" / "report.html")
    assert out == tmp_path / "run" / "nested" / "report.html"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert write_report(scenario, plan, tmp_path / "run") == tmp_path / "run" / "report.html"


def test_no_figures_leak(scenario: Scenario, plan: Plan) -> None:
    import matplotlib.pyplot as plt

    before = plt.get_fignums()
    render_report(scenario, plan)
    assert plt.get_fignums() == before


def test_state_outlines() -> None:
    assert states_shapefile() is not None, "plotly-geo's cb_2016_us_state_500k.shp is missing"
    codes = {c for c, _ in state_outlines((-91.0, 29.0, -85.0, 35.0))}
    assert {"MS", "AL"} <= codes and "CA" not in codes
    frame = map_frame([-82.75, -91.65], [40.07, 32.47], aspect=1.5)
    assert frame.crs == "EPSG:5070"
    x0, y0, x1, y1 = frame.view
    assert (x1 - x0) / (y1 - y0) == pytest.approx(1.5)
    assert map_frame([10.0, 12.0], [50.0, 51.0]).crs.startswith("+proj=laea")


@pytest.mark.slow
def test_reference_scenario_renders_self_contained() -> None:
    sc = load_scenario()
    plan = greedy(sc, explain=False)
    page = render_report(sc, plan)
    assert remote_references(page) == []
    for sid in ["map", *(f"site-{s}" for s in sc.sites.index)]:
        assert parse_page(page).ids.count(sid) == 1


# --------------------------------------------------------------------------- a real browser
def _requests(driver: Any) -> list[dict[str, Any]]:
    out = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg["method"] in ("Network.requestWillBeSent", "Network.webSocketCreated"):
            out.append({"url": msg["params"].get("request", {}).get("url") or msg["params"].get("url", ""),
                        "document": msg["params"].get("documentURL", "")})
    return out


def test_report_in_a_real_browser(tmp_path: Path, scenario: Scenario, solved: Plan) -> None:
    path = write_report(scenario, solved, tmp_path / "report.html", failures=FAILURES)
    interrupted = write_report(scenario, dataclasses.replace(solved, interrupted=True),
                               tmp_path / "interrupted.html")
    shots = ROOT / "output"
    shots.mkdir(exist_ok=True)
    driver = browser_driver(tmp_path)
    try:
        driver.get("about:blank")
        driver.get_log("performance")  # drop what the browser did before the report
        driver.get_log("browser")
        url = path.as_uri()
        driver.get(url)
        assert driver.execute_script("return document.readyState") == "complete"
        for eid in SECTION_IDS + CHART_IDS + TABLE_IDS + ["progress-chart", "failures", "failures-chart"]:
            el = driver.find_element("id", eid)
            assert el.is_displayed(), eid
            if eid in CHART_IDS or eid.endswith("-chart"):
                assert el.size["width"] > 200 and el.size["height"] > 80, (eid, el.size)
        # the sort and filter script runs without errors
        head = driver.find_element("css selector", "#unplaced-table thead th:nth-child(6)")
        # scroll it clear of the sticky navigation bar, at once (no smooth scrolling)
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", head)
        head.click()
        assert head.get_attribute("aria-sort") == "ascending"
        box = driver.find_element("css selector", 'input[data-filter="placements-table"]')
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", box)
        box.send_keys(str(solved.placements["lease"].iloc[0]))
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#placements-table tbody tr')).filter(r => !r.hidden).length")
        assert shown == 1
        driver.execute_script("arguments[0].value = ''; arguments[0].dispatchEvent(new Event('input'))", box)
        assert driver.find_element("id", "placements-table-count").text == str(solved.placements["lease"].nunique())
        driver.execute_script("window.scrollTo({top: 0, behavior: 'instant'})")
        driver.save_screenshot(str(shots / "report-screenshot.png"))
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, max(int(height) + 120, 900))
        driver.save_screenshot(str(shots / "report-screenshot-full.png"))

        driver.set_window_size(1400, 900)
        driver.get(interrupted.as_uri())
        banner = driver.find_element("id", "interrupted")
        assert banner.is_displayed() and "INTERRUPTED" in banner.text
        driver.save_screenshot(str(shots / "report-screenshot-interrupted.png"))

        severe = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert severe == []
        requests = _requests(driver)
        assert requests, "the performance log recorded nothing: is goog:loggingPrefs honoured?"
        remote = [r["url"] for r in requests if r["url"].split(":", 1)[0].lower() in ("http", "https", "ws", "wss")]
        assert remote == []
        ours = [r["url"] for r in requests if r["document"] in (url, interrupted.as_uri())]
        assert ours and all(u.split(":", 1)[0] in ("file", "data") for u in ours), ours
    finally:
        driver.quit()
    assert (shots / "report-screenshot.png").stat().st_size > 10_000
