"""Plans from the pattern master's MIP: real plans (every limit recomputed), never worth more than the optimum."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.optimise.bounds.patterns import pattern_bound
from planner.optimise.heuristics.greedy import greedy_pass, placement_rows, plan_value, price_order
from planner.optimise.instance import build_instance
from planner.optimise.search.master_mip import master_plan
from planner.plan import PLACEMENT_COLUMNS, UNPLACED_COLUMNS, Status, make_plan
from tests import exact
from tests.tiny import base, halls, lease, random_halls, random_tiny, write


def _checked(sc: planner.Scenario, fits: dict) -> float:
    """The plan of ``fits`` checked against every constraint by the independent checker; its net value."""
    inst = build_instance(sc)
    rows = [r for lo in inst.leases if lo.lease in fits for r in placement_rows(inst, lo, fits[lo.lease])]
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    net = float((placements["revenue_usd"] - placements["power_cost_usd"] - placements["transport_cost_usd"]).sum())
    left = sorted({lo.lease for lo in inst.leases} - set(fits))
    unplaced = pd.DataFrame({c: [None] * len(left) for c in UNPLACED_COLUMNS}) if left else \
        pd.DataFrame(columns=UNPLACED_COLUMNS)
    if left:
        unplaced["lease"], unplaced["reason"] = left, "left out by the master"
    plan = make_plan(sc, placements, unplaced, status=Status.FEASIBLE,
                     objective_usd=net, bound_usd=float("nan"), wall_s=0.0, method="test")
    assert plan.check(sc) == []
    return net


def test_the_master_packs_what_first_fit_cannot(tmp_path: Path) -> None:
    """Two 100-GPU pods; replicas of 60, 45, 45, 45 GPUs at one price.

    First fit (smallest first at equal price) puts 45 + 45 in one pod and 45 in the other,
    where the 60 no longer fits: 135 GPUs. The patterns {45, 45} and {60} pack 150, the optimum.
    """
    d = base()
    d["leases"] = [lease(f"L{i}", g, price=1.0, allowed_sites="SA") for i, g in enumerate((60, 45, 45, 45))]
    sc = planner.load_scenario(write(tmp_path, d))
    inst = build_instance(sc)
    per_gpu = sc.horizon.hours_per_period * 4
    fits, _, _ = greedy_pass(inst, price_order(inst))
    assert plan_value(inst, fits) == pytest.approx(135 * per_gpu)
    pb = pattern_bound(inst, time_limit_s=30)
    assert pb.master is not None
    mp = master_plan(inst, pb.master, work_s=5, hint=fits)
    assert mp.value_usd == pytest.approx(150 * per_gpu) == pytest.approx(exact.exact_milp(sc))
    assert mp.dropped == 0 and _checked(sc, mp.fits) == pytest.approx(mp.value_usd)


@pytest.mark.parametrize("seed", range(5))
def test_master_plans_are_real_and_no_better_than_the_optimum(tmp_path: Path, seed: int) -> None:
    sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 6)))
    inst = build_instance(sc)
    pb = pattern_bound(inst, time_limit_s=30)
    start, _, _ = greedy_pass(inst, price_order(inst))
    assert pb.master is not None
    mp = master_plan(inst, pb.master, work_s=5, hint=start)
    assert mp.status in ("OPTIMAL", "FEASIBLE")
    value = _checked(sc, mp.fits)
    assert value == pytest.approx(mp.value_usd)
    assert mp.value_usd <= exact.exact_milp(sc) + 1e-6 <= pb.bound_usd + 2e-6


@pytest.mark.parametrize("seed", [0, 2, 6])
def test_master_plans_hold_where_the_master_relaxes_halls(tmp_path: Path, seed: int) -> None:
    """span=hall and span=site leases and binding hall aggregation: rows the master leaves out.

    What does not hold in the real model is dropped (and counted), the rest is kept, and
    the plan passes the checker.
    """
    sc = planner.load_scenario(write(tmp_path, random_halls(seed, 6)))
    inst = build_instance(sc)
    pb = pattern_bound(inst, time_limit_s=30)
    assert pb.master is not None
    mp = master_plan(inst, pb.master, work_s=5)
    assert _checked(sc, mp.fits) == pytest.approx(mp.value_usd)
    assert mp.value_usd <= exact.exact_split_milp(sc) + 1e-6
    assert mp.kept + mp.dropped > 0


def test_a_span_hall_replica_stays_in_one_hall(tmp_path: Path) -> None:
    """Two halls of 6,144 GPUs; three span=hall leases of 4,000 GPUs at one price: two fit, one per hall.

    The pattern master lets a span=hall replica spread over its site (12,000 of 12,288
    GPUs: all three); the MIP keeps each replica's GPUs whole in one hall, so what it
    chooses holds and nothing is dropped.
    """
    d = halls(zones=2, interpod_gbps_per_gpu=0.0)
    d["leases"] = [lease(f"L{i}", 4000, price=1.0, span="hall", allowed_sites="SA") for i in range(3)]
    sc = planner.load_scenario(write(tmp_path, d))
    inst = build_instance(sc)
    pb = pattern_bound(inst, time_limit_s=30)
    assert pb.master is not None
    mp = master_plan(inst, pb.master, work_s=5)
    assert (mp.kept, mp.dropped, len(mp.fits)) == (2, 0, 2)
    assert _checked(sc, mp.fits) == pytest.approx(mp.value_usd) == pytest.approx(exact.exact_split_milp(sc))
