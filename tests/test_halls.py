"""Halls and their aggregation layers: span=hall leases, the aggregation family, its checker and reasons."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import planner
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics import warmstart
from planner.optimise.heuristics.greedy import greedy, greedy_pass
from planner.optimise.heuristics.warmstart import ExtraGuide, warm_start
from planner.optimise.instance import Instance, LeaseOptions, build_instance
from planner.optimise.optimiser import optimise
from planner.optimise.residual import Guide, ReplicaFit, Residual
from tests import exact
from tests.reasons_audit import audit_plan
from tests.tiny import ZONE_GPUS, halls, lease, random_halls, write

TRAINING_GPUS = 8 * ZONE_GPUS  # 24,576: Meta's published cluster, eight AI zones under one aggregation layer
INTERPOD = 50.0  # Gbps per GPU between pods (tiny.halls' default)


def training(**kw: Any) -> dict[str, Any]:
    """The 24,576-GPU training lease, span=hall, at SA."""
    return lease("TRAIN", TRAINING_GPUS, **({"price": 3.0, "span": "hall", "allowed_sites": "SA"} | kw))


def load(tmp_path: Path, data: dict[str, Any]) -> planner.Scenario:
    return planner.load_scenario(write(tmp_path, data))


def halls_of(sc: planner.Scenario, plan: planner.plan.Plan, lid: str) -> set[str]:
    rows = plan.placements[plan.placements["lease"] == lid]
    return {str(sc.pods.at[p, "hall"]) for p in rows["pod"]}


@pytest.fixture
def placed(tmp_path: Path) -> tuple[planner.Scenario, planner.plan.Plan]:
    """The training lease placed by CP-SAT where both halls have room for it."""
    d = halls()
    d["leases"] = [training()]
    sc = load(tmp_path, d)
    return sc, optimise(sc, time_limit_s=10)


@pytest.mark.parametrize("method", ["cp-sat", "greedy"])
def test_training_lease_spans_the_eight_zones_of_one_hall(tmp_path: Path, method: str) -> None:
    d = halls()
    d["leases"] = [training(start_week=2, end_week=3)]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=10) if method == "cp-sat" else greedy(sc)
    assert plan.check(sc) == []
    rows = plan.placements
    assert list(rows["lease"].unique()) == ["TRAIN"]
    assert len(rows) == 8 and set(rows["gpus"]) == {ZONE_GPUS}
    (hall,) = halls_of(sc, plan, "TRAIN")
    use = plan.hall_use.set_index(["hall", "week"])
    load_gbps = TRAINING_GPUS * INTERPOD  # 1,228,800 Gbps over the aggregation layer
    assert [use.at[(hall, w), "interpod_gbps"] for w in (1, 2, 3, 4)] == [0.0, load_gbps, load_gbps, 0.0]
    assert use.at[(hall, 2), "utilisation"] == pytest.approx(load_gbps / 2_000_000)
    other = next(h for h in ("H1", "H2") if h != hall)
    assert (use.loc[other, "interpod_gbps"] == 0).all()


def test_checker_rejects_an_overloaded_aggregation_layer(placed: tuple[planner.Scenario, planner.plan.Plan]
                                                         ) -> None:
    sc, plan = placed
    assert plan.check(sc) == []
    (hall,) = halls_of(sc, plan, "TRAIN")
    smaller = sc.halls.copy()
    smaller.loc[hall, "aggregation_gbps"] = 1_000_000.0
    problems = plan.check(dataclasses.replace(sc, halls=smaller))
    assert f"hall {hall} week 1: aggregation 1,228,800.0 Gbps > 1,000,000.0" in problems


def test_checker_rejects_a_span_hall_replica_over_two_halls(placed: tuple[planner.Scenario, planner.plan.Plan]
                                                            ) -> None:
    sc, plan = placed
    (hall,) = halls_of(sc, plan, "TRAIN")
    other = "H2" if hall == "H1" else "H1"
    moved = plan.placements.copy()
    moved.loc[moved.index[-1], "pod"] = f"{other}-Z-01"  # one zone's share in the other hall
    problems = dataclasses.replace(plan, placements=moved).check(sc)
    assert f"lease TRAIN replica 0: span=hall but spread over halls {sorted([hall, other])}" in problems


def test_checker_recomputes_hall_use(placed: tuple[planner.Scenario, planner.plan.Plan]) -> None:
    sc, plan = placed
    hu = plan.hall_use.copy()
    hu["interpod_gbps"] = 0.0
    problems = dataclasses.replace(plan, hall_use=hu).check(sc)
    assert any(p.startswith("hall_use (") and "inter-pod but placements give 1228800" in p for p in problems)


@pytest.mark.parametrize("method", ["cp-sat", "greedy"])
def test_too_small_an_aggregation_layer_sends_the_lease_to_another_hall(tmp_path: Path, method: str) -> None:
    d = halls(aggregation_gbps=(1_000_000.0, 2_000_000.0))  # H1 carries less than the split's 1,228,800 Gbps
    d["leases"] = [training()]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=10) if method == "cp-sat" else greedy(sc)
    assert plan.check(sc) == []
    assert halls_of(sc, plan, "TRAIN") == {"H2"}


def test_aggregation_keeps_the_lease_out_and_its_fix_is_verified(tmp_path: Path) -> None:
    d = halls(aggregation_gbps=(1_000_000.0, 1_000_000.0))
    d["leases"] = [training()]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=10)
    assert plan.check(sc) == [] and plan.placements.empty
    u = plan.unplaced.set_index("lease").loc["TRAIN"]
    assert u["family"] == "aggregation"
    assert "sends 1,228,800 Gbps over its hall's aggregation layer" in u["reason"]
    assert "carries is 1,000,000 Gbps (H1)" in u["reason"]
    assert "+228,800 Gbps aggregation in hall H1 in weeks 1-4" in u["fix"]
    assert "fits with span=site" in u["fix"]  # split over both halls: 614,400 Gbps on each
    au = audit_plan(sc, plan)
    assert au.false_rows == [] and au.verified == au.fixes >= 3
    d["leases"] = [training(span="site")]  # the fix, applied: the lease is placed, over both halls
    sc2 = load(tmp_path / "fixed", d)
    fixed = optimise(sc2, time_limit_s=10)
    assert fixed.check(sc2) == []
    assert halls_of(sc2, fixed, "TRAIN") == {"H1", "H2"}
    assert fixed.hall_use.groupby("hall")["interpod_gbps"].max()[["H1", "H2"]].max() <= 1_000_000


def test_aggregation_beside_placed_leases_is_the_reason(tmp_path: Path) -> None:
    """One hall whose aggregation layer a dearer site-spanning lease already loads."""
    d = halls(aggregation_gbps=(1_500_000.0,), zones=12)
    d["leases"] = [lease("DEAR", 4 * ZONE_GPUS, price=5.0, span="site", allowed_sites="SA"),
                   training(price=1.0)]
    sc = load(tmp_path, d)
    plan = greedy(sc)
    assert plan.check(sc) == []
    assert set(plan.placements["lease"]) == {"DEAR"}
    u = plan.unplaced.set_index("lease").loc["TRAIN"]
    assert u["family"] == "aggregation"
    assert "hall H1, has aggregation at 41 % in weeks 1-4 (885,600 Gbps free)" in u["reason"]
    assert u["crowded_out_by"] == ("DEAR",)
    au = audit_plan(sc, plan)
    assert au.false_rows == [] and au.verified == au.fixes >= 1


@pytest.mark.parametrize("seed", range(8))
def test_exact_optimum_with_halls(tmp_path: Path, seed: int) -> None:
    """CP-SAT's optimum is the exact one; greedy is no better; every bound is at least the optimum."""
    sc = load(tmp_path, random_halls(seed, 6))
    best = exact.exact_split_milp(sc)
    exact.cross_check(sc, best)


def test_the_random_halls_bind(tmp_path: Path) -> None:
    """The cross-check means something: in these cases the aggregation layers cost value."""
    for seed in (0, 2, 6):
        d = random_halls(seed, 6)
        best = exact.exact_split_milp(load(tmp_path / str(seed), d))
        for h in d["pods"]["halls"]:
            h["aggregation_gbps"] = 1e6
        assert exact.exact_split_milp(load(tmp_path / f"{seed}-open", d)) > best + 1


def test_replan_keeps_span_hall_replicas_where_they_were(tmp_path: Path) -> None:
    """Two replicas, one per hall: a re-plan with a new lease moves neither (stay pins, hall symmetry order)."""
    d = halls()
    d["leases"] = [training(replicas=2)]
    sc0 = load(tmp_path / "before", d)
    plan0 = optimise(sc0, time_limit_s=10)
    assert plan0.check(sc0) == [] and halls_of(sc0, plan0, "TRAIN") == {"H1", "H2"}
    d["leases"].append(lease("NEW", 100, price=2.0, allowed_sites="SB"))
    sc1 = load(tmp_path / "after", d)
    plan1 = optimise(sc1, time_limit_s=10, previous_plan=plan0)
    assert plan1.check(sc1) == []
    assert plan1.meta["moved_leases"] == []
    key = ["lease", "replica", "pod", "gpus"]
    before = plan0.placements[key].sort_values(key).reset_index(drop=True)
    after = plan1.placements.loc[plan1.placements["lease"] == "TRAIN", key].sort_values(key).reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_same_seed_same_plan_with_halls(tmp_path: Path) -> None:
    sc = load(tmp_path, random_halls(4, 8))
    a = optimise(sc, time_limit_s=5, seed=3, workers=2)
    b = optimise(sc, time_limit_s=5, seed=3, workers=2)
    pd.testing.assert_frame_equal(a.placements, b.placements)
    assert a.objective_usd == b.objective_usd


def test_reasons_with_halls_hold_up_to_the_audit(tmp_path: Path) -> None:
    """Every reason of every left-out lease, on random halls: numbers true, every fix re-fits, aggregation named."""
    families: list[str] = []
    for seed in range(10):
        sc = load(tmp_path / str(seed), random_halls(seed, 8))
        for plan in (greedy(sc), optimise(sc, time_limit_s=5)) if seed < 3 else (greedy(sc),):
            au = audit_plan(sc, plan)
            assert au.false_rows == [], (seed, au.summary(), [(r.lease, r.problems, r.unverified)
                                                              for r in au.false_rows])
            assert au.verified == au.fixes
            families += plan.unplaced["family"].tolist()
    assert sum("aggregation" in f for f in families) >= 5


def test_the_aggregation_fix_adds_least_capacity(tmp_path: Path) -> None:
    """Neither hall carries the split; the fix names the hall that lacks least (H2: 28,800 Gbps short)."""
    d = halls(aggregation_gbps=(1_000_000.0, 1_200_000.0))
    d["leases"] = [training()]
    sc = load(tmp_path, d)
    plan = greedy(sc)
    u = plan.unplaced.set_index("lease").loc["TRAIN"]
    assert u["family"] == "aggregation" and "carries is 1,200,000 Gbps (H2)" in u["reason"]
    assert u["fix"].startswith("+28,800 Gbps aggregation in hall H2 in weeks 1-4; or ")
    assert audit_plan(sc, plan).false_rows == []


@pytest.mark.parametrize("seed", [0, 2, 6])
def test_the_benchmarks_plain_mip_knows_halls(tmp_path: Path, seed: int) -> None:
    """The benchmarks' textbook MIP (a binary per hall for span=hall, aggregation rows per week) is exact."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csc_matrix

    from benchmarks.plain_mip import build_plain_mip

    sc = load(tmp_path, random_halls(seed, 6))  # seeds where aggregation costs value (test_the_random_halls_bind)
    best = exact.exact_split_milp(sc)
    mip = build_plain_mip(build_instance(sc))
    assert mip.rows_by_family.get("aggregation", 0) > 0
    a = csc_matrix((mip.a_value, mip.a_index, mip.a_start), shape=(mip.n_rows, mip.n_cols))
    res = milp(-mip.cost, constraints=LinearConstraint(a, mip.row_lower, mip.row_upper),
               integrality=mip.integrality, bounds=Bounds(mip.lower, mip.upper), options={"mip_rel_gap": 0})
    assert res.status == 0, res.message
    assert -res.fun == pytest.approx(best, rel=1e-9, abs=1e-6)
    hall_of = build_instance(sc).pod_hall
    spans = {lo.lease: lo.span for lo in mip.leases}
    for lid, fs in mip.fits(res.x).items():  # a span=hall replica stays in one hall
        if spans[lid] == "hall":
            assert all(len({int(hall_of[p]) for p, _ in f.parts}) == 1 for f in fs)


def training_beside_a_dearer_zone(tmp_path: Path) -> planner.Scenario:
    """A hall-wide training lease (weeks 1-2) and a dearer zone lease (weeks 2-4) that would block it."""
    d = halls(aggregation_gbps=(2_000_000.0,))
    d["leases"] = [training(start_week=1, end_week=2),
                   lease("DEAR", ZONE_GPUS, price=5.0, allowed_sites="SA", start_week=2, end_week=4)]
    return load(tmp_path, d)


Pass = tuple[list[str], Guide | None, dict[str, list[ReplicaFit]]]


def spy_on_greedy_passes(monkeypatch: pytest.MonkeyPatch) -> list[Pass]:
    """Record each greedy pass of the warm start: its order (leases for sale), guide and plan."""
    passes: list[Pass] = []

    def spy(inst: Instance, order: list[LeaseOptions], guide: Guide | None = None
            ) -> tuple[dict[str, list[ReplicaFit]], Residual, list[str]]:
        fits, res, failed = greedy_pass(inst, order, guide)
        passes.append(([lo.lease for lo in order if not lo.internal], guide, dict(fits)))
        return fits, res, failed

    monkeypatch.setattr(warmstart, "greedy_pass", spy)
    return passes


def test_whole_span_bound_does_not_split_a_training_lease(tmp_path: Path) -> None:
    """The LP takes 7/8 of the hall-wide lease beside a dearer zone; the site MIP bound places it whole or not."""
    sc = training_beside_a_dearer_zone(tmp_path)
    best = exact.exact_split_milp(sc)
    plan = optimise(sc, time_limit_s=10)
    assert plan.check(sc) == [] and plan.objective_usd == pytest.approx(best, rel=1e-9)
    assert set(plan.placements["lease"]) == {"TRAIN"}
    inst = build_instance(sc)
    lp = site_relaxation(inst, pooling="hall")
    whole = site_relaxation(inst, pooling="hall", whole_spans=True)
    assert lp.placed["TRAIN"] == pytest.approx(7 / 8)
    assert whole.placed["TRAIN"] == pytest.approx(1.0) and whole.placed["DEAR"] == pytest.approx(0.0, abs=1e-9)
    assert best - 1e-6 <= whole.bound_usd <= best * (1 + 3e-4) < lp.bound_usd
    warm = warm_start(inst, lp="sites")  # the site-level warm start reports the tighter bound
    assert warm.bound == (whole.bound_usd, "site relaxation, whole span=hall/site leases")


def test_whole_span_mip_guides_a_greedy_start_to_the_training_lease(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """The site MIP's lease choices (the training lease whole, the dearer zone out) order and guide a greedy start.

    Price order puts the dearer zone lease first, and it blocks the training lease; the
    MIP-guided passes (its choices first by share, then biggest first) place the training
    lease first, which is the exact optimum.
    """
    sc = training_beside_a_dearer_zone(tmp_path)
    best = exact.exact_split_milp(sc)
    inst = build_instance(sc)
    whole = site_relaxation(inst, pooling="hall", whole_spans=True)
    passes = spy_on_greedy_passes(monkeypatch)
    guided = warm_start(inst, lp="none", guides=(ExtraGuide("site-level MIP", whole.guide, whole.placed),))
    assert [(order, set(fits)) for order, _, fits in passes] == [(["DEAR", "TRAIN"], {"DEAR"}),
                                                                  (["TRAIN", "DEAR"], {"TRAIN"}),
                                                                  (["TRAIN", "DEAR"], {"TRAIN"})]  # biggest first
    assert passes[1][1] is whole.guide and passes[2][1] is whole.guide
    fits = passes[1][2]["TRAIN"]
    lo = next(x for x in inst.leases if x.lease == "TRAIN")
    assert Residual(inst).holds(lo, fits)  # recomputed on an empty campus: it fits whole
    assert len({int(inst.pod_hall[p]) for f in fits for p, _ in f.parts}) == 1
    assert guided.value_usd == pytest.approx(best, rel=1e-9)


def test_site_level_warm_start_places_the_lps_leases_biggest_first(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """The site-level warm start's last LP-guided pass puts the leases the LP carries half of or more biggest first.

    The LP carries 7/8 of the hall-wide training lease and the dearer zone lease beside it;
    by price and by share the zone lease comes first and blocks the training lease, biggest
    first the training lease goes first, which is the exact optimum.
    """
    sc = training_beside_a_dearer_zone(tmp_path)
    best = exact.exact_split_milp(sc)
    inst = build_instance(sc)
    lp = site_relaxation(inst)
    assert lp.placed["TRAIN"] >= warmstart.CHOSEN_SHARE and lp.placed["DEAR"] >= warmstart.CHOSEN_SHARE
    passes = spy_on_greedy_passes(monkeypatch)
    warm = warm_start(inst, lp="sites")
    assert len(passes) == 4  # plain, LP by share, LP carried first, LP carried biggest first
    order, guide, fits = passes[-1]
    assert order == ["TRAIN", "DEAR"] and set(fits) == {"TRAIN"}
    assert guide is not None and set(guide.site) == set(lp.guide.site)  # the LP's guide
    assert all(set(p[2]) == {"DEAR"} for p in passes[:-1])  # every other order blocks the training lease
    assert warm.value_usd == pytest.approx(best, rel=1e-9)
    assert audit_plan_fits(inst, warm.fits)


def audit_plan_fits(inst: Instance, fits: dict[str, list[ReplicaFit]]) -> bool:
    """Every lease of ``fits`` fits what the others leave, recomputed from an empty campus."""
    res = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid, fs in fits.items():
        if not res.holds(by_id[lid], fs):
            return False
        res.apply(by_id[lid], fs)  # takes what the lease uses
    return True
