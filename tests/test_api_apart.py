"""Leases and hosted-model APIs planned apart (:mod:`planner.optimise.methods.apart`).

The random cases are :func:`tests.test_apis.random_api_case`'s; ``api_joint_max_pairs=0``
forces the block-coordinate path on them (the default keeps the joint model on small
instances, as the exact tests of :mod:`tests.test_apis` need).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from planner.optimise.apis import take
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.api_fill import fill_apis
from planner.optimise.heuristics.greedy import plan_value
from planner.optimise.incumbent import Progress
from planner.optimise.instance import build_instance, usable_pods
from planner.optimise.methods.apart import reserved
from planner.optimise.optimiser import Optimiser
from planner.optimise.residual import Residual, fits_from_placements
from planner.plan import Plan
from planner.scenario import Scenario
from tests.exact import exact_api_milp
from tests.test_apis import random_api_case

LIMIT_S = 2.0


def _apart(sc: Scenario) -> tuple[Optimiser, Plan]:
    opt = Optimiser(sc, time_limit_s=LIMIT_S, api_joint_max_pairs=0)
    return opt, opt.solve()


def _leases_as_without_apis(sc: Scenario) -> float:
    """Candidate (b): the leases the lease pipeline plans without API demand, plus the filler in what they leave."""
    inst = build_instance(sc)
    plain = Optimiser(dataclasses.replace(sc, api_demand=sc.api_demand.iloc[:0]), time_limit_s=LIMIT_S).solve()
    fits = {k: f for k, f in fits_from_placements(inst, plain.placements).items() if f is not None}
    return plan_value(inst, fits)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(4))
def test_apart_plan_checks_is_worth_both_candidates_and_bounds_the_exact_optimum(tmp_path: Path,
                                                                                  seed: int) -> None:
    sc = random_api_case(tmp_path, seed)
    opt, plan = _apart(sc)
    assert plan.meta["apart"]["lease_method"] == "pods"
    assert plan.check(sc) == []
    assert opt.warm is not None
    assert plan.objective_usd >= opt.warm.value_usd - 1e-6  # (a): the whole-campus warm start
    assert plan.objective_usd >= _leases_as_without_apis(sc) - 1e-6  # (b)
    best = exact_api_milp(sc)
    assert plan.objective_usd <= best + 1e-6 <= plan.bound_usd + 2e-6


def test_apart_is_deterministic_and_keeps_the_joint_model_below_the_threshold(tmp_path: Path) -> None:
    sc = random_api_case(tmp_path, 1)
    _, one = _apart(sc)
    _, two = _apart(sc)
    assert "apart" in one.meta
    pd.testing.assert_frame_equal(one.placements, two.placements)
    for name in ("api_use", "api_routes", "api_replicas"):
        pd.testing.assert_frame_equal(getattr(one, name), getattr(two, name))
    assert one.objective_usd == two.objective_usd
    joint = Optimiser(sc, time_limit_s=LIMIT_S).solve()  # the default threshold: the joint model
    assert "apart" not in joint.meta
    assert joint.meta["variables"] is not None


def test_apart_progress_shows_the_campus_bound_from_the_first_plan(tmp_path: Path) -> None:
    """The whole campus's relaxation is solved before the first plan: no report carries the sum of revenues."""
    sc = random_api_case(tmp_path, 1)
    seen: list[Progress] = []
    opt = Optimiser(sc, time_limit_s=LIMIT_S, api_joint_max_pairs=0, on_progress=seen.append)
    plan = opt.solve()
    inst = build_instance(sc)
    lp = site_relaxation(inst, where={lo.lease: usable_pods(inst, lo) for lo in inst.leases}).bound_usd
    assert seen
    assert lp < opt.revenue_bound() - 1.0
    assert seen[0].bound_usd <= lp + 1e-6
    assert all(p.bound_usd >= plan.bound_usd - 1e-6 for p in seen)
    assert seen[-1].bound_usd == pytest.approx(plan.bound_usd)


def test_reserved_instance_takes_the_api_service_off_every_capacity(tmp_path: Path) -> None:
    sc = random_api_case(tmp_path, 2)
    inst = build_instance(sc)
    sol = fill_apis(inst, Residual(inst))
    assert not sol.empty
    res = Residual(inst)
    take(inst.api, sol, res)
    lease_inst = reserved(inst, sol, keep_leases=True)
    assert lease_inst.api is None
    assert [lo.lease for lo in lease_inst.leases] == [lo.lease for lo in inst.leases]
    np.testing.assert_array_equal(lease_inst.pod_free, res.gpu)
    np.testing.assert_array_equal(lease_inst.site_power_w, res.power)
    np.testing.assert_array_equal(lease_inst.span_limit_mbps, res.link)
    np.testing.assert_array_equal(Residual(lease_inst).uplink, res.uplink)
    assert (lease_inst.pod_free <= inst.pod_free).all()
    assert (lease_inst.pod_free < inst.pod_free).any()
    assert not reserved(inst, sol, keep_leases=False).leases
