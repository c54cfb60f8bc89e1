"""Quotes against a plan that serves hosted-model APIs: the API service holds its room, as internal work does."""

from __future__ import annotations

from pathlib import Path

from planner.optimise.optimiser import optimise
from planner.quote.book import quote_requests
from planner.quote.requests import read_requests
from tests.test_apis import lease_or_tokens
from tests.test_quote import request, write_requests


def test_a_request_does_not_fit_in_room_the_api_service_holds(tmp_path: Path) -> None:
    """At $20 per million tokens the plan serves S with 10 replicas on A1 (all 100 free GPUs of SA), not lease L1.

    A 50-GPU request for SA finds no room as the plan stands, and the API service is never moved for it
    (nothing else holds room at SA); applied, no plan exists that the checker would reject.
    """
    sc = lease_or_tokens(tmp_path, 20.0)
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == [] and plan.placements.empty
    assert int(plan.api_replicas["gpus"].sum()) == 100 * 4  # 100 GPUs in each of the 4 weeks
    reqs = read_requests(write_requests(tmp_path / "requests.csv", [request("R", 50, allowed_sites="SA")]), sc)
    book = quote_requests(sc, plan, reqs, work_limit_s=5)
    a = book.answers[0]
    assert a.outcome == "does not fit", (a.outcome, a.rows)
    assert "SA" in a.reason or "A1" in a.reason


def test_an_applied_answer_keeps_the_plans_api_service_and_passes_the_checker(tmp_path: Path) -> None:
    """At $20 per million tokens the APIs hold SA; a request for SB fits there, and the applied plan keeps the APIs."""
    sc = lease_or_tokens(tmp_path, 20.0)
    plan = optimise(sc, time_limit_s=5)
    reqs = read_requests(write_requests(tmp_path / "requests.csv", [request("R", 10, allowed_sites="SB",
                                                                                   price_usd_per_gpu_hour=1.0)]), sc)
    book = quote_requests(sc, plan, reqs, work_limit_s=5)
    assert book.answers[0].outcome == "fits"
    sc2, p2 = book.applied(["R"])
    assert p2.check(sc2) == []
    assert p2.api_replicas.equals(plan.api_replicas)
    assert p2.objective_usd > plan.objective_usd  # the request's net on top of leases and APIs
