"""A big lease traded for the left-out leases that fit in its place (a move of the site-level warm start)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import planner
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.first_fit import fill
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
from planner.optimise.heuristics.polish import polish
from planner.optimise.heuristics.trade import trade_big
from planner.optimise.instance import build_instance
from planner.optimise.residual import Residual
from tests.test_pod_fill import assert_plan_and_residual, audit
from tests.tiny import base, lease, write

HOURS = 100  # the tiny scenario's hours per week


@pytest.mark.parametrize("big_sites", ["SA", "SA;SB"])
def test_a_cheap_lease_gives_way_to_two_dear_ones_that_no_eviction_seats(tmp_path: Path, big_sites: str) -> None:
    """A cheap 100-GPU lease fills pod A1, X fills A2; two dearer 50-GPU leases may use site A only.

    Evicting the cheap lease for one of them loses money (the eviction polish keeps the
    plan); taking it out for both gains. Where the cheap lease may also use site B, it
    moves there and the plan keeps all four (as the polish's eviction finds too).
    """
    d = base()
    d["leases"] = [lease("T", 100, price=1.0, allowed_sites=big_sites), lease("X", 100, price=2.0, allowed_sites="SA"),
                   lease("D1", 50, price=1.5, allowed_sites="SA"), lease("D2", 50, price=1.5, allowed_sites="SA")]
    inst = build_instance(planner.load_scenario(write(tmp_path, d)))
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res, _ = fill(inst, [by_id["T"], by_id["X"]], Residual(inst))
    assert {inst.pod_ids[fits[k][0].parts[0][0]] for k in fits} == {"A1", "A2"} and fits["T"][0].site == 0
    polished, _ = polish(inst, fits, res, max_tries=1000)
    if big_sites == "SA":
        assert set(polished) == {"T", "X"}  # one of them ($30,000) does not pay for the cheap one ($40,000)

    traded, traded_res, moves = trade_big(inst, fits, res, {}, max_moves=10, min_gpus=100)
    week = HOURS  # GPU-hours per GPU-week
    if big_sites == "SA":
        assert set(traded) == {"X", "D1", "D2"}
        assert plan_value(inst, traded) - plan_value(inst, fits) == pytest.approx(2 * 50 * 1.5 * 4 * week
                                                                                   - 100 * 1.0 * 4 * week)
    else:
        assert set(traded) == {"T", "X", "D1", "D2"} and inst.pod_ids[traded["T"][0].parts[0][0]] == "B1"
        assert set(polished) == set(traded)
        assert plan_value(inst, traded) - plan_value(inst, fits) == pytest.approx(2 * 50 * 1.5 * 4 * week)
    assert moves == 2  # one pass tries T and X (1 trade kept); the second pass keeps none and ends the search
    assert_plan_and_residual(inst, traded, traded_res)
    assert set(fits) == {"T", "X"}  # the plan given is not changed


def test_a_trade_that_loses_is_taken_back(tmp_path: Path) -> None:
    """Nothing dearer is left out: every trade is taken back, the plan and its residual are as they were."""
    d = base()
    d["leases"] = [lease("T", 100, price=3.0, allowed_sites="SA"), lease("D1", 50, price=1.0, allowed_sites="SA")]
    d["pods"]["pods"] = d["pods"]["pods"][:1] + d["pods"]["pods"][2:]  # A1 and B1 only
    inst = build_instance(planner.load_scenario(write(tmp_path, d)))
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res, _ = fill(inst, [by_id["T"]], Residual(inst))
    traded, traded_res, moves = trade_big(inst, fits, res, {"D1": 1.0}, max_moves=10, min_gpus=100)
    assert traded == fits and moves == 1
    for ledger in ("gpu", "power", "link", "uplink", "agg"):
        assert np.array_equal(getattr(traded_res, ledger), getattr(res, ledger)), ledger


def test_trades_on_a_generated_campus_hold_every_limit(tmp_path: Path) -> None:
    """From the greedy's plan: worth more, every limit recomputed, the residual the plan's, the same every time."""
    from planner.generate import generate

    inst = build_instance(planner.load_scenario(generate("small", seed=5, out_dir=tmp_path)))
    rel = site_relaxation(inst)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    traded, traded_res, moves = trade_big(inst, fits, res, rel.placed, max_moves=500, passes=3)
    assert 0 < moves <= 500
    assert plan_value(inst, traded) > plan_value(inst, fits) * 1.2  # $401.2 M -> $523.2 M in 21 trades
    assert_plan_and_residual(inst, traded, traded_res)
    again, _, _ = trade_big(inst, fits, res, rel.placed, max_moves=500, passes=3)
    assert again == traded
    _, _, used = trade_big(inst, fits, res, rel.placed, max_moves=2, passes=3)
    assert used == 2
    few, _, used = trade_big(inst, fits, res, rel.placed, max_moves=500, passes=3, max_fits=20)
    assert used < moves and plan_value(inst, fits) <= plan_value(inst, few) < plan_value(inst, traded)
    assert audit(inst, few) == []
