"""The hall bound: true at any duals, and tighter than the pattern bound where a span=hall lease must lie whole."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

import planner
from planner.optimise.bounds.api_lp import api_lp_bound
from planner.optimise.bounds.halls import HallTask, hall_bound, price_hall
from planner.optimise.bounds.patterns import M, PatternMaster, _price_all, pattern_bound
from planner.optimise.instance import build_instance
from tests import exact
from tests.tiny import base, lease, random_halls, random_tiny, write


def _master(sc: Any) -> PatternMaster:
    b = PatternMaster(build_instance(sc))
    b.build()
    return b


def _duals(b: PatternMaster, seed: int) -> list[np.ndarray]:
    """The master's LP duals (GLOP's and HiGHS's), none, and two random perturbations of them (signs cleaned)."""
    rng = np.random.default_rng(seed)
    lp = b.lp_duals()
    n = lp.size
    return [lp, b.lp_duals("highs"), np.zeros(n), b.clean(lp * rng.uniform(0, 2, n)),
            b.clean(lp + rng.normal(0, 1.0, n))]


CASES = [("tiny", s) for s in range(4)] + [("halls", s) for s in (0, 2, 6)]


@pytest.mark.parametrize(("kind", "seed"), CASES)
def test_hall_bound_bounds_the_exact_optimum_at_any_duals(tmp_path: Path, kind: str, seed: int) -> None:
    """Tiny random scenarios, and ones with span=hall and span=site leases and halls whose aggregation binds."""
    if kind == "tiny":
        sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 6)))
        best = exact.exact_milp(sc)
    else:
        sc = planner.load_scenario(write(tmp_path, random_halls(seed, 6)))
        best = exact.exact_split_milp(sc)  # the bound relaxes aggregation: still a bound
    b = _master(sc)
    for u in _duals(b, seed):
        assert hall_bound(b, u, work=5.0).bound_usd >= best - 1e-6


@pytest.mark.parametrize("seed", [0, 1, 2, 6])
def test_hall_bound_is_no_looser_than_pricing_pods_at_the_same_duals(tmp_path: Path, seed: int) -> None:
    """The hall problems keep rows the pod pricing relaxes; solved exactly, they cannot bound higher."""
    sc = planner.load_scenario(write(tmp_path, random_halls(seed, 8)))
    inst = build_instance(sc)
    b = _master(sc)
    for u in _duals(b, seed):
        pods = _price_all(b, u, 5.0, lambda f, xs: list(map(f, xs))).bound / M + api_lp_bound(inst)
        hb = hall_bound(b, u, work=5.0)
        assert hb.bound_usd <= pods + 1e-3
        assert hb.pods_usd == pytest.approx(pods, rel=1e-9)  # the pods' pricing it reports is the pattern pass


def _two_halls() -> dict[str, Any]:
    """SA: halls HA1 and HA2 of two 60-GPU pods each. A 100-GPU span=hall lease and four 50-GPU pod leases.

    Whole, the hall lease fills a hall (100 of its 120 GPUs, no pod has 50 left), so a hall holds
    it or two pod leases: 200 GPUs' worth at best. Spread over the site's four pods, as the pattern
    relaxation lets it, it takes the 10 GPUs each pod lease leaves: 240.
    """
    d = base()
    d["sites"]["sites"][0]["grid_mw"] = 1.0
    d["pods"]["halls"] = [{"id": h, "site": "SA", "aggregation_gbps": 1e9} for h in ("HA1", "HA2")]
    d["pods"]["halls"].append({"id": "HB", "site": "SB", "aggregation_gbps": 1e9})
    d["pods"]["pods"] = [{"id": h, "site": "SA", "sku": "T1", "gpus": 60, "fabric": "f", "count": 2, "hall": h}
                         for h in ("HA1", "HA2")]
    d["pods"]["pods"].append({"id": "B1", "site": "SB", "sku": "T1", "gpus": 200, "fabric": "f", "hall": "HB"})
    d["leases"] = [lease("H", 100, price=1.0, span="hall", allowed_sites="SA")]
    d["leases"] += [lease(f"P{i}", 50, price=1.0, allowed_sites="SA") for i in range(4)]
    return d


def test_hall_bound_keeps_a_span_hall_lease_whole(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, _two_halls()))
    per_gpu = sc.horizon.hours_per_period * 4  # USD per GPU over the term at 1 USD per GPU-hour
    best = exact.exact_split_milp(sc)
    assert best == pytest.approx(200 * per_gpu)
    pb = pattern_bound(build_instance(sc), time_limit_s=30)
    assert pb.bound_usd == pytest.approx(240 * per_gpu, rel=1e-6)
    b = _master(sc)
    hb = hall_bound(b, b.lp_duals(), work=5.0)
    assert best - 1e-6 <= hb.bound_usd < pb.bound_usd - 10 * per_gpu


def test_highs_and_glop_duals_price_the_same_lp(tmp_path: Path) -> None:
    """Both solve the master's LP relaxation: at either's duals the pods' pricing bounds it alike (two halls)."""
    sc = planner.load_scenario(write(tmp_path, _two_halls()))
    inst = build_instance(sc)
    b = _master(sc)
    glop, highs = (_price_all(b, b.lp_duals(s), 5.0, lambda f, xs: list(map(f, xs))).bound for s in ("glop", "highs"))
    assert highs == pytest.approx(glop, rel=1e-6)
    assert highs / M + api_lp_bound(inst) >= exact.exact_split_milp(sc) - 1e-6


def test_price_hall_splits_a_hall_lease_over_its_pods() -> None:
    # pods of 100 GPUs; a 150-GPU hall replica (value 5) or a 60-GPU pod replica per pod (2 each)
    task = HallTask(0, values=(2_000_000, 2_000_000, 5_000_000, 0, 0), upper=(1, 1, 1, 100, 100),
                    rows=((((0, 60), (3, 1)), 100), (((1, 60), (4, 1)), 100)), splits=((2, 150, (3, 4)),),
                    work=1.0)
    assert price_hall(task) == pytest.approx(5.0)
    cheaper = HallTask(0, (2_000_000, 2_000_000, 3_000_000, 0, 0), task.upper, task.rows, task.splits, 1.0)
    assert price_hall(cheaper) == pytest.approx(4.0)
    assert price_hall(HallTask(0, (), (), (), (), 1.0)) == 0.0
