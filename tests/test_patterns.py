"""The pattern relaxation: a true bound, and tighter than the LP where replicas pack badly."""

from __future__ import annotations

from pathlib import Path

import pytest

import planner
from planner.optimise.bounds.patterns import pattern_bound
from planner.optimise.bounds.pod_lp import lp_relaxation
from planner.optimise.instance import build_instance
from planner.optimise.model import build_model
from tests import exact
from tests.tiny import base, lease, random_halls, random_tiny, write


@pytest.mark.parametrize("seed", range(6))
def test_pattern_bound_bounds_the_exact_optimum(tmp_path: Path, seed: int) -> None:
    sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 6)))
    pb = pattern_bound(build_instance(sc), time_limit_s=30)
    assert pb.status == "CONVERGED"
    best = exact.exact_milp(sc)
    assert pb.bound_usd >= best - 1e-6
    assert pb.bound_usd >= pb.master_usd - 1e-3  # the Lagrangian bound never undercuts the master
    assert list(pb.history["bound_usd"]) == sorted(pb.history["bound_usd"], reverse=True)


@pytest.mark.parametrize("seed", [0, 2, 6])
def test_pattern_bound_bounds_the_exact_optimum_with_halls(tmp_path: Path, seed: int) -> None:
    """span=hall and span=site leases, halls whose aggregation binds: still a true bound (it relaxes both)."""
    sc = planner.load_scenario(write(tmp_path, random_halls(seed, 6)))
    pb = pattern_bound(build_instance(sc), time_limit_s=30)
    assert pb.status == "CONVERGED"
    assert pb.bound_usd >= exact.exact_split_milp(sc) - 1e-6


def test_pattern_bound_sees_what_the_lp_cannot_pack(tmp_path: Path) -> None:
    """Two 100-GPU pods; replicas of 60, 45, 45, 45 GPUs. At most 150 GPUs pack; the LP carries all 195.

    Per pod the best patterns are {45, 45} (90) and {60}; with each lease at most once the
    pattern optimum is 90 + (45 + 60) / 2 = 165 GPUs' worth.
    """
    d = base()
    d["leases"] = [lease(f"L{i}", g, price=1.0, allowed_sites="SA") for i, g in enumerate((60, 45, 45, 45))]
    sc = planner.load_scenario(write(tmp_path, d))
    inst = build_instance(sc)
    per_gpu = sc.horizon.hours_per_period * 4  # USD per GPU over the term at 1 USD per GPU-hour
    best = exact.exact_milp(sc)
    assert best == pytest.approx(150 * per_gpu)
    lp = lp_relaxation(build_model(inst).cp)
    assert lp.objective == pytest.approx(195 * per_gpu)
    pb = pattern_bound(inst, time_limit_s=30)
    assert pb.status == "CONVERGED"
    assert pb.bound_usd == pytest.approx(165 * per_gpu, rel=1e-6)
    assert best <= pb.bound_usd < lp.objective
