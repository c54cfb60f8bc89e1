"""Hosted-model API outputs: the results folder's API files and plan.json keys, the CLI line, the report, the sweep.

The plan's API tables are built by hand here, in the contract's columns, on a tiny
scenario (one model ``m1`` on SKU T1: 4 GPUs and 1,000 tokens/s per replica), so
every figure below is checked against arithmetic done on paper:

- stream S1 (P1, weeks 1-4): peak 3,000 tokens/s, average 1,500, $2 per million
  tokens; served in full from SA by 3 replicas on pod A2 (12 GPUs, started in week 1);
- stream S2 (P2, weeks 2-3): peak and average 5,000 tokens/s, $1 per million; 2,000
  served from SB by 2 replicas on pod B1 (8 GPUs, started in week 2), 3,000 unserved.

A week is 100 h (360,000 s); power costs $50 per MWh; T1 draws 1 kW per GPU at PUE 1.
"""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from rich.console import Console
from typer.testing import CliRunner

from planner.cli.console import api_line, plan_summary
from planner.network import build_network
from planner.optimise.heuristics.greedy import greedy
from planner.plan import Plan, make_plan
from planner.report import render_report, write_report
from planner.results import API_TABLES, read_results
from planner.routing import candidate_paths
from planner.run import RESULT_FILES, write_run
from planner.scenario import Scenario, load_scenario
from planner.usesplit import api_totals, gpus_by_use, unserved_runs, use_split
from planner.whatif.sweep import GridError, plan_metrics, read_grid, sweep_chart
from planner.whatif.variants import vary
from tests import tiny
from tests.report_pages import browser_driver, parse_page, remote_references, table_rows

API_USE_COLUMNS, API_ROUTES_COLUMNS, API_REPLICAS_COLUMNS = (API_TABLES[k] for k in ("api_use", "api_routes",
                                                                                  "api_replicas"))
"""The contract's columns of the three API tables."""
PRICE_MWH = 50.0
REASON_S2 = "gpus: the T1 pods that reach P2 within 12 ms are full in weeks 2-3 (B1: 200 of 200 GPUs)"


# --------------------------------------------------------------------------- the hand-made plan
def _scenario_data() -> dict[str, Any]:
    d = tiny.base()
    for s in d["sites"]["sites"]:
        s["power_price_usd_per_mwh"] = PRICE_MWH
    d["leases"] = [tiny.lease("L1", 80, 3.0, allowed_sites="SA", tenant="acme"),
                   tiny.lease("L2", 150, 2.0, allowed_sites="SB", kind="inference")]
    return d


API_DEMAND_CSV = """id,model,region,start_week,end_week,peak_tokens_per_s,avg_tokens_per_s,price_usd_per_mtok,\
network_budget_ms,bytes_in_per_token,bytes_out_per_token
S1,m1,P1,1,4,3000,1500,2,12,4,8
S2,m1,P2,2,3,5000,,1,12,4,8
"""
MODELS = {"models": [{"id": "m1", "name": "Model one", "replica_start_usd": 40,
                      "deployments": [{"sku": "T1", "gpus_per_replica": 4, "tokens_per_s": 1000}]}]}


def write_with_apis(folder: Path) -> Path:
    """The tiny scenario's files with the model catalogue and the API demand book; the scenario file's path."""
    path = tiny.write(folder, _scenario_data())
    (folder / "models.yaml").write_text(yaml.safe_dump(MODELS, sort_keys=False))
    (folder / "api_demand.csv").write_text(API_DEMAND_CSV)
    doc = yaml.safe_load(path.read_text())
    doc["files"].update({"models": "models.yaml", "api_demand": ["api_demand.csv"]})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def with_apis(sc: Scenario, plan: Plan) -> Plan:
    """The leases' plan with the two streams' API tables (its use tables and ``meta["api"]`` count them)."""
    hours = sc.horizon.hours_per_period
    rep: list[dict[str, Any]] = []
    for pod, site, weeks, n in (("A2", "SA", (1, 2, 3, 4), 3), ("B1", "SB", (2, 3), 2)):
        for w in weeks:
            started = n if w == weeks[0] else 0
            rep.append({"model": "m1", "sku": "T1", "site": site, "hall": sc.pods.loc[pod, "hall"], "pod": pod,
                        "week": w, "replicas": n, "gpus": 4 * n, "capacity_tokens_per_s": 1000.0 * n,
                        "started": started, "start_usd": 40.0 * started, "power_mw": 4 * n / 1000.0,
                        "power_usd": 4 * n * hours * PRICE_MWH / 1000.0})
    use: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    paths = candidate_paths(sc, build_network(sc))

    def path(pid: str) -> dict[str, Any]:  # the direct span from the campus to the PoP (1 degree of latitude)
        p = paths.loc[pid]
        return {"site": p["site"], "path_id": pid, "path": p["label"], "latency_ms": p["latency_ms"],
                "length_km": p["length_km"], "spans": p["spans"]}

    for w in (1, 2, 3, 4):
        use.append({"stream": "S1", "week": w, "model": "m1", "region": "P1", "price_usd_per_mtok": 2.0,
                    "demand_tokens_per_s": 3000.0, "served_tokens_per_s": 3000.0, "unserved_tokens_per_s": 0.0,
                    "served_share": 1.0, "revenue_usd": 3000 * 0.5 * hours * 3600 * 2.0 / 1e6, "reason": ""})
        routes.append({"stream": "S1", "week": w, "model": "m1", "region": "P1", **path("SA~P1~0"),
                       "served_tokens_per_s": 3000.0, "gbps": 3000 * 64 / 1e9, "transport_usd": 0.0})
    for w in (2, 3):
        use.append({"stream": "S2", "week": w, "model": "m1", "region": "P2", "price_usd_per_mtok": 1.0,
                    "demand_tokens_per_s": 5000.0, "served_tokens_per_s": 2000.0, "unserved_tokens_per_s": 3000.0,
                    "served_share": 0.4, "revenue_usd": 2000 * 1.0 * hours * 3600 * 1.0 / 1e6, "reason": REASON_S2})
        routes.append({"stream": "S2", "week": w, "model": "m1", "region": "P2", **path("SB~P2~0"),
                       "served_tokens_per_s": 2000.0, "gbps": 2000 * 64 / 1e9, "transport_usd": 0.0})
    tables = (pd.DataFrame(use, columns=API_USE_COLUMNS),
              pd.DataFrame(routes, columns=[*API_ROUTES_COLUMNS, "spans"]),  # the optimiser adds each route's spans
              pd.DataFrame(rep, columns=API_REPLICAS_COLUMNS))
    # the use tables count the API GPUs, power and traffic; meta["api"] holds the totals
    return make_plan(sc, plan.placements, plan.unplaced, status=plan.status, objective_usd=plan.objective_usd,
                     bound_usd=plan.bound_usd, wall_s=plan.wall_s, method=plan.method, meta=plan.meta, api=tables)


@pytest.fixture
def sc(tmp_path: Path) -> Scenario:
    scenario = load_scenario(write_with_apis(tmp_path / "tiny"))
    assert scenario.api_demand["avg_tokens_per_s"].tolist() == [1500.0, 5000.0]
    return scenario


@pytest.fixture
def plain(tmp_path: Path) -> Scenario:
    """The same scenario without APIs."""
    return load_scenario(tiny.write(tmp_path / "plain", _scenario_data()))


@pytest.fixture
def plan(sc: Scenario, plain: Scenario) -> Plan:
    base = greedy(plain)  # the leases' plan; the API tables are added by hand
    assert set(base.placements["lease"]) == {"L1", "L2"}
    return with_apis(sc, base)


# --------------------------------------------------------------------------- figures worked on paper
# revenue: S1 3,000 x 0.5 x 360,000 s x $2 / 1e6 = $1,080 a week x 4; S2 2,000 x 360,000 x $1 / 1e6 = $720 x 2
API_REVENUE = 4 * 1080.0 + 2 * 720.0
API_POWER = (12 * 4 + 8 * 2) * 100 * PRICE_MWH / 1000.0   # GPU-hours x 1 kW x $50/MWh
API_STARTS = 3 * 40.0 + 2 * 40.0
TOKENS_SERVED = (1500 * 4 + 2000 * 2) * 360_000.0          # 3.6 B
TOKENS_ASKED = (1500 * 4 + 5000 * 2) * 360_000.0           # 5.76 B


def test_api_totals_and_the_split_of_uses_are_the_hand_figures(sc: Scenario, plan: Plan) -> None:
    t = api_totals(sc, plan)
    assert t["revenue_usd"] == pytest.approx(API_REVENUE)
    assert t["net_usd"] == pytest.approx(API_REVENUE - API_POWER - API_STARTS)
    assert t["tokens_served"] == pytest.approx(TOKENS_SERVED)
    assert t["tokens_demanded"] == pytest.approx(TOKENS_ASKED)
    assert t["served_share"] == pytest.approx(0.625)
    plan.meta.pop("api")  # the same totals from the tables alone
    assert {k: pytest.approx(v) for k, v in api_totals(sc, plan).items()} == t

    split = use_split(sc, plan)
    assert list(split.index) == ["leases", "apis", "internal"]
    apis, leases = split.loc["apis"], split.loc["leases"]
    assert apis["gpu_hours"] == pytest.approx((12 * 4 + 8 * 2) * 100)
    assert apis["usd_per_gpu_hour"] == pytest.approx(API_REVENUE / 6400)
    assert apis["mw_peak"] == pytest.approx(0.020)                       # weeks 2-3: 12 + 8 GPUs x 1 kW
    assert apis["mw_mean"] == pytest.approx((0.012 * 2 + 0.020 * 2) / 4)
    assert apis["usd_per_mw_year"] == pytest.approx(API_REVENUE / (0.064 * 100 / 8760))
    assert leases["revenue_usd"] == pytest.approx((80 * 3.0 + 150 * 2.0) * 400)
    assert leases["gpu_hours"] == pytest.approx(230 * 400)
    assert leases["mw_peak"] == pytest.approx(0.230)
    assert leases["usd_per_gpu_hour"] == pytest.approx((80 * 3.0 + 150 * 2.0) / 230)
    assert split.loc["internal", "revenue_usd"] == 0 and np.isnan(split.loc["internal", "usd_per_gpu_hour"])
    assert split["gpu_hours_share"].sum() == pytest.approx(1.0)


def test_gpus_by_use_add_up_per_campus_and_week(sc: Scenario, plan: Plan) -> None:
    use = gpus_by_use(sc, plan).set_index(["site", "week"])
    assert use.loc[("SA", 1), ["leased_gpus", "api_gpus", "free_gpus"]].tolist() == [80, 12, 108]
    assert use.loc[("SB", 2), ["leased_gpus", "api_gpus", "free_gpus"]].tolist() == [150, 8, 42]
    assert use.loc[("SB", 4), "api_gpus"] == 0
    parts = use[["leased_gpus", "api_gpus", "internal_gpus", "free_gpus"]].sum(axis=1)
    assert (parts == use["gpus"]).all()


def test_unserved_demand_is_one_run_with_its_reason_and_lost_revenue(sc: Scenario, plan: Plan) -> None:
    runs = unserved_runs(sc, plan)
    assert len(runs) == 1
    r = runs.iloc[0]
    assert (r["stream"], r["start_week"], r["end_week"], r["weeks"], r["reason"]) == ("S2", 2, 3, 2, REASON_S2)
    assert r["unserved_share"] == pytest.approx(0.6)
    assert r["revenue_lost_usd"] == pytest.approx(2 * 3000 * 360_000 * 1.0 / 1e6)


# --------------------------------------------------------------------------- the results folder
def test_results_folder_has_the_api_files_and_reads_them_back(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    out = write_run(sc, plan, tmp_path / "run")
    assert sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    for name, cols in (("api_use", API_USE_COLUMNS), ("api_routes", API_ROUTES_COLUMNS),
                       ("api_replicas", API_REPLICAS_COLUMNS)):
        table = pd.read_csv(out / f"{name}.csv", keep_default_na=False)
        assert list(table.columns)[:len(cols)] == cols  # the contract's first, then what the optimiser adds
        assert len(table) == len(getattr(plan, name))
    assert pd.read_csv(out / "api_routes.csv")["spans"].tolist() == ["SA-P1"] * 4 + ["SB-P2"] * 2
    use = pd.read_csv(out / "api_use.csv", keep_default_na=False)
    assert use.loc[use["stream"] == "S2", "reason"].tolist() == [REASON_S2, REASON_S2]
    doc = json.loads((out / "plan.json").read_text())
    assert doc["meta"]["api"]["revenue_usd"] == pytest.approx(API_REVENUE)
    assert set(doc["meta"]["api"]) == {"revenue_usd", "power_usd", "transport_usd", "start_usd", "net_usd",
                                       "gpu_hours", "tokens_served"}
    assert doc["api"]["served_share"] == pytest.approx(0.625)
    assert doc["api"]["tokens_demanded"] == pytest.approx(TOKENS_ASKED)
    split = {r["use"]: r for r in doc["use_split"]}
    assert set(split) == {"leases", "apis", "internal"}
    assert split["apis"]["gpu_hours"] == pytest.approx(6400)
    assert split["internal"]["usd_per_mw_year"] is None  # no internal MW in the tiny scenario: null, not NaN
    assert len(doc["api_use"]) == 6 and len(doc["api_replicas"]) == 6 and len(doc["api_routes"]) == 6

    back = read_results(out, sc.path).plan
    for name in ("api_use", "api_routes", "api_replicas"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(plan, name), check_dtype=False)
    assert back.api_use["week"].dtype == np.int64 and back.api_use["reason"].tolist()[-1] == REASON_S2
    assert back.api_routes["spans"].tolist() == [("SA-P1",)] * 4 + [("SB-P2",)] * 2
    assert back.meta["api"]["net_usd"] == pytest.approx(API_REVENUE - API_POWER - API_STARTS)


def test_a_plan_without_apis_writes_empty_api_files_and_zero_totals(tmp_path: Path, plain: Scenario) -> None:
    out = write_run(plain, greedy(plain), tmp_path / "run")
    assert pd.read_csv(out / "api_use.csv").empty
    assert list(pd.read_csv(out / "api_replicas.csv").columns) == API_REPLICAS_COLUMNS
    doc = json.loads((out / "plan.json").read_text())
    assert doc["meta"]["api"] == dict.fromkeys(doc["meta"]["api"], 0.0)
    assert doc["api"]["served_share"] is None
    back = read_results(out, plain.path).plan
    assert back.api_use.empty and list(back.api_use.columns) == API_USE_COLUMNS


def test_a_tampered_api_table_in_plan_json_is_an_error_naming_the_file(tmp_path: Path, sc: Scenario,
                                                                       plan: Plan) -> None:
    from planner.errors import ScenarioError

    out = write_run(sc, plan, tmp_path / "run")
    doc = json.loads((out / "plan.json").read_text())
    doc["api_use"][0]["week"] = "soon"
    doc["api_replicas"][2]["power_usd"] = None
    (out / "plan.json").write_text(json.dumps(doc))
    with pytest.raises(ScenarioError) as exc:
        read_results(out, sc.path)
    problems = [(p.file, p.where, p.field, p.value, p.message) for p in exc.value.problems]
    assert problems == [(str(out / "plan.json"), "api_use row 1", "week", "'soon'", "not a whole number"),
                        (str(out / "plan.json"), "api_replicas row 3", "power_usd", "None", "not a number")]


# --------------------------------------------------------------------------- the CLI summary
def _summary(plan: Plan, sc: Scenario) -> str:
    console = Console(width=160, record=True)
    console.print(plan_summary(plan, out_dir=None, total_s=1.0, sc=sc))
    return console.export_text()


def test_summary_line_gives_api_net_tokens_and_share(sc: Scenario, plain: Scenario, plan: Plan) -> None:
    net = API_REVENUE - API_POWER - API_STARTS
    line = f"${net:,.0f} net from 3.6 B tokens served (62.5 % of demand)"
    assert api_line(sc, plan) == line
    text = _summary(plan, sc)
    assert re.search(r"^APIs\s+" + re.escape(line), text, re.M), text
    assert f"- transport $0 + APIs net ${net:,.0f})" in text  # the net value counts the APIs' net
    assert "APIs" not in _summary(greedy(plain), plain)  # nothing new without APIs


def test_cli_plan_without_apis_prints_no_api_line(tmp_path: Path) -> None:
    from planner.cli import app

    path = tiny.write(tmp_path / "tiny", _scenario_data())
    res = CliRunner().invoke(app, ["plan", str(path), "--greedy", "--out", str(tmp_path / "out")],
                             env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    assert "net value" in res.output and "APIs" not in res.output
    assert pd.read_csv(tmp_path / "out" / "api_use.csv").empty


# --------------------------------------------------------------------------- the report
API_IDS = ["apis", "api-split-table", "api-yardstick-chart", "api-gpus-chart", "api-demand-chart",
           "api-unserved-table"]


def test_report_section_leases_and_apis(sc: Scenario, plan: Plan) -> None:
    page = render_report(sc, plan)
    ids = parse_page(page).ids
    for eid in API_IDS:
        assert ids.count(eid) == 1, eid
    assert remote_references(page) == []
    assert '<a href="#apis">Leases and APIs</a>' in page
    section = page[page.index('<section id="apis">'):]
    section = section[:section.index("</section>")]
    assert "$5,240" in section or "$5.2" in section or "5,240" in section  # the APIs' net value
    assert "3.6 B" in section and "62.5 %" in section
    rows = table_rows(page, "api-split-table")
    assert len(rows) == 3 and "APIs" in rows[1] and "$0.90" in rows[1]
    assert "$2.35" in rows[0]  # leases: $216,000 / 92,000 GPU-hours
    unserved = table_rows(page, "api-unserved-table")
    assert len(unserved) == 1 and "S2" in unserved[0] and "2–3" in unserved[0]
    assert REASON_S2.replace(">", "&gt;") in unserved[0]


def test_site_charts_draw_the_api_gpus(sc: Scenario, plain: Scenario, plan: Plan) -> None:
    from planner.report.sections import site_chart_id

    def chart(page: str, site: str) -> str:
        start = page.index(f'id="{site_chart_id(site)}"')
        return page[start:page.index("</svg>", start)]

    assert ">API<" in chart(render_report(sc, plan), "SA")
    assert ">API<" not in chart(render_report(plain, greedy(plain)), "SA")


def test_no_api_section_without_apis(plain: Scenario) -> None:
    page = render_report(plain, greedy(plain))
    assert 'id="apis"' not in page and "api-gpus-chart" not in page


@pytest.mark.slow
def test_api_section_in_a_real_browser(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    path = write_report(sc, plan, tmp_path / "report.html")
    driver = browser_driver(tmp_path)
    try:
        driver.get("about:blank")
        driver.get_log("browser")
        driver.get(path.as_uri())
        from selenium.webdriver.support.ui import WebDriverWait

        WebDriverWait(driver, 60).until(lambda d: d.execute_script("return document.readyState") == "complete")
        for eid in API_IDS:
            el = driver.find_element("id", eid)
            driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", el)
            assert el.is_displayed(), eid
            if eid.endswith("-chart"):
                assert el.size["width"] > 200 and el.size["height"] > 80, (eid, el.size)
        head = driver.find_element("css selector", "#api-split-table thead th:nth-child(2)")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center', behavior: 'instant'})", head)
        head.click()
        assert head.get_attribute("aria-sort") == "ascending"
        order = driver.execute_script(
            "return Array.from(document.querySelectorAll('#api-split-table tbody tr'))"
            ".map(r => r.cells[0].textContent)")
        assert order.index("APIs") < order.index("Leases")  # $5,760 of API revenue sorts below the leases' $216,000
        box = driver.find_element("css selector", 'input[data-filter="api-unserved-table"]')
        box.send_keys("no such stream")
        shown = driver.execute_script(
            "return Array.from(document.querySelectorAll('#api-unserved-table tbody tr')).filter(r => !r.hidden)"
            ".length")
        assert shown == 0
        assert driver.find_element("id", "api-unserved-count").text == "0"
        assert [e for e in driver.get_log("browser") if e["level"] == "SEVERE"] == []
    finally:
        driver.quit()


# --------------------------------------------------------------------------- the sweep
def test_grid_reads_api_factors_and_refuses_bad_ones(tmp_path: Path) -> None:
    g = read_grid({"parameters": {"api_price_factor": [0.25, 0.5, 1, 2, 4], "api_demand_factor": [1.0, 2.0]}})
    assert g.n_points == 10 and g.points()[1] == {"api_price_factor": 0.25, "api_demand_factor": 2.0}
    bad = tmp_path / "grid.yaml"
    bad.write_text("parameters:\n  api_price_factor: [1.0, 0, -2]\n  api_demand_factor: [1e3]\n")
    with pytest.raises(GridError) as exc:
        read_grid(bad)
    problems = exc.value.problems
    assert [(p.where, p.field) for p in problems] == [("line 2", "parameters.api_price_factor"),
                                                      ("line 2", "parameters.api_price_factor"),
                                                      ("line 3", "parameters.api_demand_factor")]
    assert all("above 0, up to 100" in p.fix or "plain number" in p.fix for p in problems)


def test_example_grid_sweeps_api_prices_from_a_quarter_to_four_times() -> None:
    grid = read_grid(Path(__file__).resolve().parents[1] / "examples" / "sweep_api_price.yaml")
    prices = grid.parameters["api_price_factor"]
    assert min(prices) == 0.25 and max(prices) == 4.0 and prices == sorted(prices)


def test_vary_scales_api_prices_and_token_rates_only(sc: Scenario) -> None:
    v = vary(sc, api_price_factor=0.5, api_demand_factor=2.0)
    before, after = sc.api_demand, v.api_demand
    assert after["price_usd_per_mtok"].tolist() == [1.0, 0.5]
    assert after["peak_tokens_per_s"].tolist() == [6000.0, 10000.0]
    assert after["avg_tokens_per_s"].tolist() == [3000.0, 10000.0]
    assert before["price_usd_per_mtok"].tolist() == [2.0, 1.0]  # the original is unchanged
    same = ["model", "region", "start_week", "end_week", "network_budget_ms", "bytes_in_per_token"]
    pd.testing.assert_frame_equal(after[same], before[same])
    pd.testing.assert_frame_equal(v.workloads[["price_usd_per_gpu_hour"]], sc.workloads[["price_usd_per_gpu_hour"]])
    with pytest.raises(ValueError, match="api_price_factor must be a positive number"):
        vary(sc, api_price_factor=0.0)


def test_sweep_metrics_split_leases_and_apis(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    m = plan_metrics(sc, plan)
    assert m["api_revenue_usd"] == pytest.approx(API_REVENUE)
    assert m["lease_revenue_usd"] == pytest.approx(216_000.0)
    assert m["revenue_usd"] == pytest.approx(216_000.0 + API_REVENUE)
    assert m["api_gpus_peak"] == 20 and m["gpus_leased_peak"] == 230
    assert m["api_gpus_mean"] == pytest.approx((12 * 2 + 20 * 2) / 4)
    assert m["api_served_share"] == pytest.approx(0.625)
    table = pd.DataFrame([{"point": i + 1, "api_price_factor": f, **m, "status": "FEASIBLE",
                           "api_revenue_usd": API_REVENUE * f}
                          for i, f in enumerate((0.25, 1.0, 4.0))])
    with_api = sweep_chart(table, tmp_path / "sweep")[1].read_text()
    without = sweep_chart(table.assign(api_revenue_usd=0.0), tmp_path / "plain")[1].read_text()
    axes = re.compile(r'<g id="axes_\d+">')
    assert len(axes.findall(with_api)) == 4 and len(axes.findall(without)) == 2  # leases against APIs: a 2nd row


def test_cli_sweep_help_names_the_api_factors(cli: typer.Typer) -> None:
    res = CliRunner().invoke(cli, ["sweep", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "api_price_factor" in res.output and "api_demand_factor" in res.output


def test_readme_documents_the_api_outputs() -> None:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    for name in ("api_use.csv", "api_routes.csv", "api_replicas.csv", "api_price_factor", "api_demand_factor",
                 "Leases and APIs"):
        assert name in text, name
    grid = yaml.safe_load((Path(__file__).resolve().parents[1] / "examples" / "sweep_api_price.yaml").read_text())
    assert "api_price_factor" in grid["parameters"]


# --------------------------------------------------------------------------- GIS
def test_api_routes_layer_in_geojson_geopackage_and_kml(tmp_path: Path, sc: Scenario, plan: Plan) -> None:
    import subprocess

    from planner import gis
    from tests.gis_clients import ogrinfo, validate_gpkg_command

    layers = gis.topology_layers(sc, plan)
    assert list(layers)[:3] == ["spans", "routes", "api_routes"]
    api = layers["api_routes"]
    assert list(api.index) == ["S1@SA~P1~0", "S2@SB~P2~0"] and api.crs.to_epsg() == 4326
    s2 = api.loc["S2@SB~P2~0"]
    assert (s2["start_week"], s2["end_week"], s2["weeks_served"], s2["spans"]) == (2, 3, 2, "SB-P2")
    assert s2["peak_tokens_per_s"] == 2000.0 and s2["peak_gbps"] == pytest.approx(2000 * 64 / 1e9)
    start, end = s2.geometry.coords[0], s2.geometry.coords[-1]
    assert start == pytest.approx((sc.sites.at["SB", "lon"], sc.sites.at["SB", "lat"]))  # campus to PoP
    assert end == pytest.approx((sc.pops.at["P2", "lon"], sc.pops.at["P2", "lat"]))
    assert "api_routes" not in gis.topology_layers(sc, replace(plan, api_routes=plan.api_routes.iloc[:0]))

    geojson = gis.write_geojson(layers, tmp_path / "t.geojson")
    feats = [f for f in json.loads(geojson.read_text())["features"] if f["properties"]["layer"] == "api_routes"]
    assert [f["id"] for f in feats] == ["api_routes:S1@SA~P1~0", "api_routes:S2@SB~P2~0"]
    assert feats[0]["geometry"]["type"] == "LineString" and feats[0]["properties"]["peak_tokens_per_s"] == 3000.0
    gpkg = gis.write_gpkg(layers, tmp_path / "t.gpkg")
    kml = gis.write_kml(layers, tmp_path / "t.kml")
    in_gpkg = ogrinfo("-ro", "-so", gpkg, "api_routes")
    in_kml = ogrinfo("-ro", "-so", kml, "-sql", "SELECT * FROM api_routes WHERE OGR_GEOMETRY = 'LINESTRING'")
    assert re.search(r"^Geometry: Line String$", in_gpkg, re.M), in_gpkg
    for text in (in_gpkg, in_kml):
        assert re.search(r"^Feature Count: 2$", text, re.M), text
        assert re.search(r"^peak_gbps: Real", text, re.M) and re.search(r"^weeks_served: Integer", text, re.M), text
    run = subprocess.run([*validate_gpkg_command(), "-k", str(gpkg)], capture_output=True, text=True, check=False,
                         timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    assert 'id="api_routes"' in kml.read_text() or "<name>api_routes</name>" in kml.read_text()



# --------------------------------------------------------------------------- real solves with APIs
def _competing(folder: Path) -> Path:
    """Leases and one API stream competing for the tiny scenario's 400 GPUs.

    A replica of m1 serves 1,000 tokens/s on 4 GPUs: at $p per million tokens it earns
    1,000 x 3,600 x p / 1e6 / 4 = 0.9 p dollars per GPU-hour, against the leases' $2:
    at the book's $8 the stream is worth more than the leases, at a quarter of it ($2,
    $1.80 per GPU-hour) less. It asks 100,000 tokens/s at P1: every GPU there is.
    """
    data = _scenario_data()
    data["leases"] = [tiny.lease("L1", 180, 2.0), tiny.lease("L2", 100, 2.0), tiny.lease("L3", 90, 2.0)]
    path = tiny.write(folder, data)
    (folder / "models.yaml").write_text(yaml.safe_dump(MODELS, sort_keys=False))
    (folder / "api_demand.csv").write_text(API_DEMAND_CSV.splitlines()[0] + "\nS1,m1,P1,1,4,100000,,8,12,4,8\n")
    doc = yaml.safe_load(path.read_text())
    doc["files"].update({"models": "models.yaml", "api_demand": ["api_demand.csv"]})
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def test_a_real_solve_with_apis_writes_reads_back_and_reports(tmp_path: Path) -> None:
    from planner.optimise.optimiser import optimise

    sc = load_scenario(write_with_apis(tmp_path / "tiny"))
    plan = optimise(sc, time_limit_s=5, explain=True)
    assert plan.check(sc) == []
    assert plan.api_use["served_tokens_per_s"].sum() > 0 and len(plan.api_replicas) > 0
    out = write_run(sc, plan, tmp_path / "run")
    back = read_results(out).plan
    assert back.check(sc) == []
    pd.testing.assert_frame_equal(back.pod_use, plan.pod_use, check_dtype=False)  # API GPUs counted again
    for name in ("api_use", "api_routes", "api_replicas"):
        pd.testing.assert_frame_equal(getattr(back, name), getattr(plan, name), check_dtype=False)
    t = api_totals(sc, plan)
    assert t["revenue_usd"] == pytest.approx(plan.meta["api"]["revenue_usd"])
    assert 0 < t["served_share"] <= 1
    assert api_line(sc, plan) is not None and "APIs" in _summary(plan, sc)
    page = (out / "report.html").read_text()
    assert 'id="apis"' in page and 'id="api-gpus-chart"' in page
    split = use_split(sc, plan)
    assert split.loc["apis", "gpu_hours"] == pytest.approx(plan.meta["api"]["gpu_hours"])
    assert split["net_usd"].sum() == pytest.approx(plan.objective_usd)  # the uses' net values add up to the plan's


def test_sweep_api_gpus_do_not_grow_as_the_token_price_falls(tmp_path: Path) -> None:
    from planner.whatif.sweep import sweep

    sc = load_scenario(_competing(tmp_path / "tiny"))
    grid = {"parameters": {"api_price_factor": [4.0, 1.0, 0.25]}, "time_limit_s": 5}
    table = sweep(sc, grid, serial=True)
    assert table["status"].isin(["OPTIMAL", "FEASIBLE"]).all(), table[["status", "error"]]
    gpus = table["api_gpus_peak"].tolist()
    assert gpus == sorted(gpus, reverse=True), table[["api_price_factor", "api_gpus_peak", "gpus_leased_peak"]]
    assert gpus[0] > gpus[-1]  # dear tokens take GPUs from the leases; cheap ones leave them to leasing
    leases = table["lease_revenue_usd"].tolist()
    assert leases == sorted(leases), table[["api_price_factor", "lease_revenue_usd", "api_revenue_usd"]]
