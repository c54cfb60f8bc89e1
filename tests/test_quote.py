"""planner quote: requests answered against a standing plan, on tiny hand-checkable scenarios.

Each answer is checked against the scenario itself: a placement applied to the plan
passes the independent checker, moves and drops are the ones the numbers force,
alternatives are re-fitted here, and the price floor is checked against exact
re-solves with and without the request.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.errors import ScenarioError
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.quote.answer import Answer
from planner.quote.book import QUOTE_COLUMNS, QuoteBook, quote_requests
from planner.quote.requests import Request, read_requests
from planner.quote.standing import with_workloads
from planner.run import write_run
from planner.scenario import Scenario, load_scenario
from planner.schema import RequestRow
from tests.tiny import base, lease, write

REQUEST_COLUMNS = list(RequestRow.model_fields)
WIDE = {"COLUMNS": "200"}


def request(id: str, gpus: int, **kw: Any) -> dict[str, Any]:
    """A request row: T1, one replica, starting week 1, four weeks, no price offered."""
    row: dict[str, Any] = {"id": id, "tenant": "c", "kind": "training", "sku": "T1", "gpus": gpus, "span": "pod",
                           "replicas": 1, "anti_affinity": False, "egress_gbps": 0, "region": "",
                           "latency_slo_ms": "", "allowed_sites": "", "residency": "", "earliest_start": 1,
                           "latest_start": 1, "duration_weeks": 4, "price_usd_per_gpu_hour": ""}
    row.update(kw)
    return row


def write_requests(path: Path, rows: list[dict[str, Any]]) -> Path:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, REQUEST_COLUMNS)
        w.writeheader()
        w.writerows(rows)
    return path


def setup(tmp: Path, data: dict[str, Any], rows: list[dict[str, Any]], *, plan: str = "greedy"
          ) -> tuple[Scenario, Plan, list[Request]]:
    sc = load_scenario(write(tmp / "sc", data))
    p = greedy(sc) if plan == "greedy" else optimise(sc, time_limit_s=5)
    return sc, p, read_requests(write_requests(tmp / "requests.csv", rows), sc)


def one(tmp: Path, data: dict[str, Any], row: dict[str, Any], **kw: Any) -> tuple[QuoteBook, Answer]:
    sc, p, reqs = setup(tmp, data, [row], **kw)
    book = quote_requests(sc, p, reqs, work_limit_s=5)
    return book, book.answers[0]


def checked(book: QuoteBook, ids: list[str] | None = None) -> Plan:
    """The plan with the request(s) applied; it must pass the independent checker."""
    sc2, p2 = book.applied(ids)
    assert p2.check(sc2) == []
    return p2


def refits(book: QuoteBook, a: Answer) -> None:
    """Every alternative fits what the plan leaves when fitted again here, from the residual."""
    from planner.quote.standing import standing

    st = standing(book.scenario, book.plan, [a.request])
    for alt in a.alternatives:
        assert st.res.fit(alt.lease) is not None, alt.text
        assert alt.lease.t0 == alt.start_week - 1


def reserved_weeks_1_2() -> dict[str, Any]:
    """Every pod held whole by internal work in weeks 1-2: room only from week 3."""
    d = base()
    d["reservations"] = [{"pod": p, "start_week": 1, "end_week": 2} for p in ("A1", "A2", "B1")]
    d["leases"] = [lease("L1", 10, price=1.0, start_week=3, end_week=4)]
    return d


# --------------------------------------------------------------------------- the three outcomes
def test_a_request_that_fits_as_the_plan_stands(tmp_path: Path) -> None:
    d = base()
    d["sites"]["sites"][0]["power_price_usd_per_mwh"] = 50.0  # 1 kW per GPU x 400 h = $20 per GPU at SA
    d["leases"] = [lease("L1", 100, price=2.0, allowed_sites="SA")]
    book, a = one(tmp_path, d, request("R1", 40, allowed_sites="SA", price_usd_per_gpu_hour=0.5))
    assert (a.outcome, a.start_week, a.changes) == ("fits", 1, [])
    assert set(a.rows["site"]) == {"SA"} and a.rows["gpus"].sum() == 40
    assert a.gpu_hours == 40 * 4 * 100
    assert a.price_floor == pytest.approx(40 * 20 / a.gpu_hours)  # its own power, nothing displaced: $0.05
    assert a.decision == "accept"
    p2 = checked(book, ["R1"])
    assert p2.objective_usd - book.plan.objective_usd == pytest.approx((0.5 - a.price_floor) * a.gpu_hours)


def test_a_request_that_fits_only_with_a_sold_lease_moved(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 100, price=2.0, allowed_sites="SA"), lease("L2", 60, price=1.0)]
    sc, p, reqs = setup(tmp_path, d, [request("R2", 100, allowed_sites="SA")])
    assert set(p.placements["site"]) == {"SA"}  # first fit: both sold leases at SA, no SA pod has 100 free
    book = quote_requests(sc, p, reqs, work_limit_s=5)
    a = book.answers[0]
    assert a.outcome == "fits with moves"
    assert [(c.lease, c.before.split()[0], c.after.split()[0]) for c in a.changes] == [("L2", "SA", "SB")]
    assert a.dropped == [] and a.displaced_revenue_usd == 0
    assert set(a.rows["site"]) == {"SA"}
    p2 = checked(book, ["R2"])
    assert p2.placements.set_index("lease").at["L2", "site"] == "SB"
    assert set(p2.unplaced["lease"]) == set(p.unplaced["lease"])  # nothing dropped


def test_a_request_that_fits_only_after_its_window(tmp_path: Path) -> None:
    book, a = one(tmp_path, reserved_weeks_1_2(), request("R3", 50, duration_weeks=2))
    assert a.outcome == "does not fit"
    assert a.family == "size" and "weeks 1-2" in a.reason, a.reason  # internal work holds every pod then
    later = [x for x in a.alternatives if x.kind == "later start"]
    assert [x.start_week for x in later] == [3] and "after the window" in later[0].text
    refits(book, a)
    assert checked(book).placements.equals(book.plan.placements)  # nothing taken: the plan as it stands


def test_a_request_that_fits_inside_its_window_only_at_a_later_week(tmp_path: Path) -> None:
    book, a = one(tmp_path, reserved_weeks_1_2(), request("R4", 50, latest_start=3, duration_weeks=2))
    assert (a.outcome, a.start_week) == ("fits", 3)
    assert set(a.rows["start_week"]) == {3} and set(a.rows["end_week"]) == {4}
    p2 = checked(book, ["R4"])
    assert p2.placements.set_index("lease").at["R4", "start_week"] == 3


def test_a_request_that_can_never_fit_and_its_checked_alternatives(tmp_path: Path) -> None:
    d = base()
    d["skus"]["skus"].append({"id": "T2", "name": "Other GPU", "tdp_w": 700, "server_kw_per_gpu": 1.0,
                              "source": "made up"})
    d["pods"]["pods"].append({"id": "B2", "site": "SB", "sku": "T2", "gpus": 600, "fabric": "f"})
    d["leases"] = [lease("L1", 10, price=1.0)]
    book, a = one(tmp_path, d, request("R5", 500))
    assert a.outcome == "does not fit" and a.family == "size" and "can never fit" in a.reason
    kinds = {x.kind: x for x in a.alternatives}
    assert "as T2" in kinds["another SKU"].text
    assert kinds["fewer GPUs"].text.startswith("200 GPUs per replica")  # the biggest T1 pod, B1, is empty
    assert "later start" not in kinds  # no start week helps a size problem
    refits(book, a)
    assert math.isnan(a.price_floor) and a.decision == ""


def test_slo_and_site_alternatives_are_refitted(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, price=1.0, allowed_sites="SB")]
    # 150 GPUs fit one pod only at SB (SA's pods hold 100): ~1.5 ms from P1 by fibre, SA ~0.6 ms
    rows = [request("R6", 150, region="P1", latency_slo_ms=1.0), request("R7", 150, allowed_sites="SA")]
    sc, p, reqs = setup(tmp_path, d, rows)
    book = quote_requests(sc, p, reqs, work_limit_s=2)
    slo_case, site_case = book.answers
    assert slo_case.outcome == site_case.outcome == "does not fit"
    kinds = {x.kind: x for x in slo_case.alternatives}
    assert set(kinds) == {"looser SLO", "fewer GPUs"}
    slo = float(kinds["looser SLO"].text.split()[1])
    path = kinds["looser SLO"].fits[0].path
    assert path is not None and 1.0 < path.latency_ms <= slo < path.latency_ms + 0.1
    assert kinds["fewer GPUs"].text.startswith("100 GPUs")  # at SA, within the SLO
    kinds = {x.kind: x for x in site_case.alternatives}
    assert kinds["another site"].text.startswith("at SB") and kinds["fewer GPUs"].text.startswith("100 GPUs")
    refits(book, slo_case)
    refits(book, site_case)


# --------------------------------------------------------------------------- the price floor
def displacing() -> dict[str, Any]:
    """Two sold leases fill SA's pods; a request allowed only at SA displaces one of them."""
    d = base()
    d["sites"]["sites"][0]["power_price_usd_per_mwh"] = 50.0
    d["scenario"]["settings"]["transport_usd_per_gbps_km_week"] = 1.0
    d["leases"] = [lease("L1", 100, price=2.0, allowed_sites="SA"), lease("L2", 100, price=1.0, allowed_sites="SA")]
    return d


def test_price_floor_is_exact_against_solves_with_and_without_the_request(tmp_path: Path) -> None:
    d = displacing()
    book, a = one(tmp_path, d, request("R7", 100, allowed_sites="SA", egress_gbps=10, region="P1"), plan="optimise")
    assert book.plan.status == "OPTIMAL" and len(book.plan.placements) == 2
    assert a.outcome == "fits with moves"
    assert [c.lease for c in a.dropped] == ["L2"] and a.displaced_revenue_usd == pytest.approx(40_000)
    transport = a.rows["transport_cost_usd"].sum()
    assert transport > 0
    assert a.price_floor == pytest.approx((40_000 + transport) / 40_000)  # power: R7's $2,000 for L2's $2,000
    hours = book.scenario.horizon.hours_per_period
    for factor in (0.97, 1.03):
        price = a.price_floor * factor
        q = a.request
        with_r = with_workloads(book.scenario, [q.workload(1, price, hours, priority="spot")])
        best = optimise(with_r, time_limit_s=5)
        assert best.status == "OPTIMAL"
        taken = "R7" in set(best.placements["lease"])
        worth = best.objective_usd >= book.plan.objective_usd + 1e-6
        assert taken == worth == (price >= a.price_floor), factor
        if taken:  # the quote's placement is worth what the exact optimum is
            _, p2 = _applied_at(book, a, price)
            assert p2.objective_usd == pytest.approx(best.objective_usd)


def _applied_at(book: QuoteBook, a: Answer, price: float) -> tuple[Scenario, Plan]:
    from planner.quote.apply import apply_answers

    sc2, p2 = apply_answers(book.scenario, book.plan, a, price=price)
    assert p2.check(sc2) == []
    return sc2, p2


def test_offered_price_below_the_floor_is_declined(tmp_path: Path) -> None:
    _, a = one(tmp_path, displacing(), request("R8", 100, allowed_sites="SA", price_usd_per_gpu_hour=0.9))
    assert a.outcome == "fits with moves" and a.price_floor == pytest.approx(1.0)
    assert a.decision == "decline"


# --------------------------------------------------------------------------- a batch
def test_best_subset_of_requests_that_fit_alone_but_not_together(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L0", 10, price=1.0, allowed_sites="SB")]
    rows = [request(f"R{p}", 100, allowed_sites="SA", price_usd_per_gpu_hour=p) for p in (3, 1, 2)]
    sc, p, reqs = setup(tmp_path, d, rows)
    book = quote_requests(sc, p, reqs, work_limit_s=5)
    assert [a.outcome for a in book.answers] == ["fits"] * 3
    assert sorted(book.batch.ids) == ["R2", "R3"]  # SA holds two of them: the two that pay most
    assert book.batch.value_usd == pytest.approx((3 + 2) * 100 * 400)
    table = book.table()
    assert list(table.columns) == QUOTE_COLUMNS
    assert table["request"].tolist() == ["R3", "R2", "R1"] and table["rank"].tolist() == [1, 2, 3]
    assert table["in_best_subset"].tolist() == [True, True, False]
    p2 = checked(book)
    assert {"R2", "R3"} <= set(p2.placements["lease"]) and "R1" not in set(p2.placements["lease"])


def test_library_entry_point_is_lazy_and_returns_the_table(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, price=1.0)]
    sc = load_scenario(write(tmp_path / "sc", d))
    path = write_requests(tmp_path / "r.csv", [request("R1", 10)])
    table = planner.quote(sc, greedy(sc), path, work_limit_s=2)
    assert isinstance(table, pd.DataFrame) and table.at[0, "outcome"] == "fits"


# --------------------------------------------------------------------------- bad requests
def test_bad_requests_list_every_problem_with_line_field_and_fix(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, price=1.0)]
    sc = load_scenario(write(tmp_path / "sc", d))
    rows = [request("R1", 10, sku="X9"), request("L1", "ten"), request("R3", 10, earliest_start=3, latest_start=2),
            request("R4", 10, latest_start=2, duration_weeks=4), request("R5", 10, latency_slo_ms=5)]
    path = write_requests(tmp_path / "bad.csv", rows)
    with pytest.raises(ScenarioError) as err:
        read_requests(path, sc)
    got = {(p.where.split()[1], p.field) for p in err.value.problems}
    assert got == {("2", "sku"), ("3", "gpus"), ("4", "latest_start"), ("5", "latest_start"), ("6", "region")}
    assert all(p.file == str(path) and p.fix for p in err.value.problems)


# --------------------------------------------------------------------------- the command line
def test_cli_answers_on_a_tiny_results_folder(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 100, price=2.0, allowed_sites="SA"), lease("L2", 60, price=1.0)]
    sc = load_scenario(write(tmp_path / "sc", d))
    run = write_run(sc, greedy(sc), tmp_path / "run")
    reqs = write_requests(tmp_path / "r.csv", [request("R1", 40, price_usd_per_gpu_hour=1.5),
                                               request("R2", 100, allowed_sites="SA"), request("R3", 500)])
    out = tmp_path / "q.csv"
    res = CliRunner().invoke(app, ["quote", str(run), str(reqs), "--work-limit", "2", "--out", str(out)], env=WIDE)
    assert res.exit_code == 0, res.output
    for text in ("R1: fits", "R2: fits with moves", "R3: does not fit", "L2: SA", "accept", "Best subset:"):
        assert text in res.output
    table = pd.read_csv(out)
    assert sorted(table["request"]) == ["R1", "R2", "R3"] and list(table.columns) == QUOTE_COLUMNS
    again = CliRunner().invoke(app, ["quote", str(run), str(reqs), "--out", str(out)], env=WIDE)
    assert again.exit_code == 2 and "already exists" in again.output


def test_cli_refuses_a_missing_folder_and_a_bad_requests_file(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, price=1.0)]
    sc = load_scenario(write(tmp_path / "sc", d))
    run = write_run(sc, greedy(sc), tmp_path / "run")
    good = write_requests(tmp_path / "r.csv", [request("R1", 10)])
    res = CliRunner().invoke(app, ["quote", str(tmp_path / "nowhere"), str(good)], env=WIDE)
    assert res.exit_code == 2 and "no plan here" in res.output and "Traceback" not in res.output
    bad = write_requests(tmp_path / "bad.csv", [request("R1", 10, region="MARS")])
    res = CliRunner().invoke(app, ["quote", str(run), str(bad)], env=WIDE)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "line 2" in res.output and "region" in res.output and "use a PoP id" in res.output


# --------------------------------------------------------------------------- routes after a re-plan
def test_a_replan_route_change_is_undone_only_where_the_earlier_route_has_room(tmp_path: Path) -> None:
    from planner.optimise.instance import build_instance
    from planner.optimise.residual import ReplicaFit
    from planner.quote.replan import keep_routes
    from tests.tiny import triangle

    d = triangle()
    d["leases"] = [lease("L2", 10, price=2, latency_slo_ms=20, egress_gbps=600, region="P1", allowed_sites="SA"),
                   lease("X", 10, price=2, latency_slo_ms=20, egress_gbps=1500, region="P1", allowed_sites="SA",
                         start_week=3)]
    sc = load_scenario(write(tmp_path / "tri", d))
    inst = build_instance(sc)
    lo = {x.lease: x for x in inst.leases}
    direct, detour = lo["L2"].paths[0]
    assert direct.spans == ("SA-P1",) and len(detour.spans) == 2

    def rows(lid: str, path: Any, pod: int) -> pd.DataFrame:
        from planner.optimise.heuristics.greedy import placement_rows

        return pd.DataFrame(placement_rows(inst, lo[lid], [ReplicaFit(0, ((pod, 10),), path)]))

    before = rows("L2", direct, 0)
    after = rows("L2", detour, 0)  # the re-plan took the detour for nothing: the direct span is empty
    assert keep_routes(inst, before, after)["spans"].tolist() == [("SA-P1",)]
    crowded = pd.concat([after, rows("X", direct, 1)], ignore_index=True)  # 1,500 of its 2,000 Gbps taken
    kept = keep_routes(inst, before, crowded).set_index("lease")["spans"]
    assert kept["L2"] == detour.spans and kept["X"] == ("SA-P1",)
