"""The optimiser: every constraint family binds somewhere, reasons name it, exact cross-checks."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import planner
from planner.errors import InfeasibleError
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from tests import exact
from tests.tiny import base, crowded, lease, random_tiny, write


def solve(tmp_path: Path, data: dict[str, Any], **kw: Any) -> tuple[planner.Scenario, planner.plan.Plan]:
    sc = planner.load_scenario(write(tmp_path, data))
    plan = optimise(sc, time_limit_s=10, **kw)
    assert plan.check(sc) == []
    assert plan.status == "OPTIMAL"
    g = greedy(sc)
    assert g.check(sc) == []
    assert plan.objective_usd >= g.objective_usd - 1e-6
    return sc, plan


def unplaced(plan: planner.plan.Plan, lid: str) -> pd.Series:
    row = plan.unplaced.set_index("lease").loc[lid]
    return row


def test_gpus_bind(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 80, price=3, allowed_sites="SA"), lease("L2", 80, price=2, allowed_sites="SA"),
                   lease("L3", 90, price=1, allowed_sites="SA")]
    _sc, plan = solve(tmp_path, d)
    assert set(plan.placements["lease"]) == {"L1", "L2"}
    u = unplaced(plan, "L3")
    assert u["family"] == "gpus"
    assert "no allowed T1 pod keeps 90 GPUs free through weeks 1-4" in u["reason"]
    assert "has 20 free at the least" in u["reason"]
    assert set(u["crowded_out_by"]) == {"L1", "L2"}
    assert "fits with <= 20 GPUs" in u["fix"]
    use = plan.pod_use.set_index(["pod", "week"])
    assert use.loc[("A1", 1), "free_gpus"] == 20 and use.loc[("A2", 1), "free_gpus"] == 20


def test_power_binds(tmp_path: Path) -> None:
    d = base()
    d["sites"]["sites"][0]["grid_mw"] = 0.15
    d["leases"] = [lease("L1", 100, price=3, allowed_sites="SA"), lease("L2", 100, price=2, allowed_sites="SA")]
    _sc, plan = solve(tmp_path, d)
    assert set(plan.placements["lease"]) == {"L1"}
    u = unplaced(plan, "L2")
    assert u["family"] == "power"
    assert "SA has 0.050 MW headroom in weeks 1-4, one replica needs 0.10 MW" in u["reason"]
    assert "+0.050 MW at SA in weeks 1-4" in u["fix"] and u["crowded_out_by"] == ("L1",)
    su = plan.site_use.set_index(["site", "week"])
    assert su.loc[("SA", 1), "power_mw"] == pytest.approx(0.1)
    assert su.loc[("SA", 1), "headroom_mw"] == pytest.approx(0.05)


def test_dci_binds(tmp_path: Path) -> None:
    d = base()
    kw = {"allowed_sites": "SA", "region": "P1", "latency_slo_ms": 0.6, "egress_gbps": 600}
    d["leases"] = [lease("L1", 10, price=3, **kw), lease("L2", 10, price=2, **kw)]
    _sc, plan = solve(tmp_path, d)
    assert set(plan.placements["lease"]) == {"L1"}
    u = unplaced(plan, "L2")
    assert u["family"] == "dci"
    assert "span SA-P1 has 400 Gbps free in weeks 1-4" in u["reason"]
    assert "fits with egress <= 400 Gbps" in u["fix"]
    lu = plan.link_use.set_index(["span", "week"])
    assert lu.loc[("SA-P1", 2), "gbps"] == 600 and lu.loc[("SA-P1", 2), "utilisation"] == pytest.approx(0.6)


def test_uplink_binds(tmp_path: Path) -> None:
    d = base()
    d["pods"]["fabric_templates"][0]["oversubscription"] = 400  # 100 GPUs x 400G / 400 = 100 Gbps uplink
    kw = {"region": "P1", "egress_gbps": 150}
    d["leases"] = [lease("L1", 10, price=3, allowed_sites="SA", **kw)]
    sc, plan = solve(tmp_path, d)
    assert sc.pods.loc["A1", "uplink_gbps"] == 100
    u = unplaced(plan, "L1")
    assert u["family"] == "uplink"
    assert "no allowed pod uplink has 150 Gbps free" in u["reason"] and "A1, has 100 Gbps" in u["reason"]
    assert "fits with egress <= 100 Gbps" in u["fix"]


def test_latency_binds(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, region="P2", latency_slo_ms=0.5, egress_gbps=1)]
    sc, plan = solve(tmp_path, d)
    assert plan.placements.empty
    u = unplaced(plan, "L1")
    assert u["family"] == "latency"
    best = sc.spans.loc["SB-P2", "latency_ms"]
    assert f"fastest: SB→P2 {best:.2f} ms" in u["reason"] and "can never fit" in u["reason"]
    assert "fits with SLO >= 0.6 ms" in u["fix"]
    # and with the SLO relaxed as the fix says, it is placed over that route
    d["leases"][0]["latency_slo_ms"] = 0.6
    sc, plan = solve(tmp_path / "fixed", d)
    assert plan.placements["path"].tolist() == ["SB > P2"]
    assert plan.placements["latency_ms"].iat[0] <= 0.6


def test_residency_and_allowed_sites(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 10, residency="DE"), lease("L2", 10, residency="EU", price=3),
                   lease("L3", 150, allowed_sites="SA", span="pod")]
    _sc, plan = solve(tmp_path, d)
    assert plan.placements.set_index("lease").loc["L2", "site"] == "SB"
    assert unplaced(plan, "L1")["family"] == "residency"
    u3 = unplaced(plan, "L3")  # 150 GPUs, span=pod, pods at SA hold 100: more GPUs, span=site or SB
    assert u3["family"] == "size" and "the roomiest allowed T1 pod, A1, keeps at most 100 free" in u3["reason"]
    assert "fits with <= 100 GPUs per replica" in u3["fix"] and "fits with span=site" in u3["fix"]
    assert "allow SB" in u3["fix"]


def test_anti_affinity(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 50, replicas=2, anti_affinity=True, price=3),
                   lease("L2", 50, replicas=3, anti_affinity=True, price=3)]
    sc, plan = solve(tmp_path, d)
    sites = plan.placements[plan.placements["lease"] == "L1"]["site"]
    assert sorted(sites) == ["SA", "SB"]
    u = unplaced(plan, "L2")
    assert u["family"] == "anti_affinity" and "3 replicas need 3 distinct sites" in u["reason"]
    assert any(p.field == "replicas" for p in sc.warnings)


def test_span_site_splits_over_pods_of_one_site(tmp_path: Path) -> None:
    d = base()
    d["scenario"]["settings"]["interpod_gbps_per_gpu"] = 10.0
    d["leases"] = [lease("L1", 180, span="site", allowed_sites="SA", price=3)]
    _sc, plan = solve(tmp_path, d)
    rows = plan.placements
    assert set(rows["site"]) == {"SA"} and rows["gpus"].sum() == 180 and len(rows) == 2
    pu = plan.pod_use.set_index(["pod", "week"])
    split_traffic = sum(10.0 * g for g in rows["gpus"])
    assert pu.xs(1, level="week")["uplink_gbps"].sum() == pytest.approx(split_traffic)


def test_aggregation_binds(tmp_path: Path) -> None:
    """Three 100-GPU pods in one hall whose aggregation layer carries 200 Gbps; 1 Gbps per GPU between pods."""
    d = base()
    d["scenario"]["settings"]["interpod_gbps_per_gpu"] = 1.0
    d["pods"]["halls"] = [{"id": "HA", "site": "SA", "aggregation_gbps": 200.0},
                          {"id": "HB", "site": "SB", "aggregation_gbps": 1000.0}]
    d["pods"]["pods"] = [{"id": "A", "site": "SA", "sku": "T1", "gpus": 100, "fabric": "f", "count": 3, "hall": "HA"},
                         {"id": "B1", "site": "SB", "sku": "T1", "gpus": 200, "fabric": "f", "hall": "HB"}]
    d["leases"] = [lease("L1", 120, price=3, span="site", allowed_sites="SA"),  # split: 120 Gbps on HA
                   lease("L2", 120, price=2, span="hall", allowed_sites="SA")]  # split: 120 Gbps more, 80 left
    _sc, plan = solve(tmp_path, d)
    assert set(plan.placements["lease"]) == {"L1"}
    u = unplaced(plan, "L2")
    assert u["family"] == "aggregation"
    assert "the roomiest, hall HA, has aggregation at 60 % in weeks 1-4 (80 Gbps free)" in u["reason"]
    assert "+40 Gbps aggregation in hall HA in weeks 1-4" in u["fix"]
    assert set(u["crowded_out_by"]) == {"L1"}
    hu = plan.hall_use.set_index(["hall", "week"])
    assert hu.at[("HA", 1), "interpod_gbps"] == 120.0 and hu.at[("HA", 1), "utilisation"] == pytest.approx(0.6)


def test_internal_infeasible_raises(tmp_path: Path) -> None:
    d = base()
    d["reservations"] = [{"pod": "B1", "start_week": 1, "end_week": 4, "gpus": 150}]
    d["leases"] = [lease("I1", 90, priority="internal", price=0, allowed_sites="SB")]
    sc = planner.load_scenario(write(tmp_path, d))
    with pytest.raises(InfeasibleError, match=r"I1: can never fit: needs 90 GPUs .*B1, keeps at most 50 free"):
        optimise(sc, time_limit_s=5)
    with pytest.raises(InfeasibleError, match="I1"):
        greedy(sc)


def test_internal_always_placed_before_leases(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("I1", 100, priority="internal", price=0, allowed_sites="SA"),
                   lease("L1", 100, price=50, allowed_sites="SA"), lease("L2", 100, price=50, allowed_sites="SA")]
    _sc, plan = solve(tmp_path, d)
    assert "I1" in set(plan.placements["lease"])
    assert plan.placements["lease"].nunique() == 2


def test_replan_after_removing_a_pod_moves_only_its_leases(tmp_path: Path) -> None:
    d = base()
    d["pods"]["pods"].append({"id": "B2", "site": "SB", "sku": "T1", "gpus": 200, "fabric": "f"})
    d["leases"] = [lease(f"L{i}", 40 + 5 * i, price=2 + i / 10) for i in range(8)]
    _sc0, plan0 = solve(tmp_path / "before", d)
    on_b1 = set(plan0.placements.loc[plan0.placements["pod"] == "B1", "lease"])
    assert on_b1, "the test needs leases on B1"
    # B1 goes (a fabric fault); a spare pod elsewhere has room for what it held
    d["pods"]["pods"] = [p for p in d["pods"]["pods"] if p["id"] != "B1"]
    d["pods"]["pods"].append({"id": "A3", "site": "SA", "sku": "T1", "gpus": 200, "fabric": "f"})
    sc1 = planner.load_scenario(write(tmp_path / "after", d))
    plan1 = optimise(sc1, time_limit_s=10, previous_plan=plan0)
    assert plan1.check(sc1) == []
    before = plan0.placements.set_index("lease")["pod"]
    after = plan1.placements.set_index("lease")["pod"]
    kept = set(before.index) - on_b1
    assert all(after.get(lid) == before[lid] for lid in kept), "a lease not on B1 moved"
    assert set(plan1.meta["moved_leases"]) <= on_b1
    assert on_b1 <= set(after.index), "leases from B1 fit elsewhere, so none is dropped"
    assert set(plan1.meta["moved_leases"]) == on_b1


def test_same_seed_same_plan(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    d = base()
    d["leases"] = [lease(f"L{i}", int(rng.integers(1, 12)) * 10, price=float(rng.uniform(1, 4)),
                         start_week=int(rng.integers(1, 3)), end_week=int(rng.integers(3, 5)),
                         region=str(rng.choice(["P1", "P2"])), egress_gbps=float(rng.integers(0, 400)))
                   for i in range(14)]
    sc = planner.load_scenario(write(tmp_path, d))
    a = optimise(sc, time_limit_s=5, seed=3, workers=2)
    b = optimise(sc, time_limit_s=5, seed=3, workers=2)
    pd.testing.assert_frame_equal(a.placements, b.placements)
    assert a.objective_usd == b.objective_usd


@pytest.mark.parametrize("seed", range(6))
def test_optimum_equals_independent_exact_mip(tmp_path: Path, seed: int) -> None:
    d = random_tiny(seed, 6)
    sc = planner.load_scenario(write(tmp_path, d))
    plan = optimise(sc, time_limit_s=20)
    assert plan.check(sc) == []
    assert plan.status == "OPTIMAL"
    best = exact.exact_milp(sc)
    assert plan.objective_usd == pytest.approx(best, abs=len(sc.workloads) * 2.0)
    assert plan.bound_usd >= best - 1e-6


@pytest.mark.parametrize("seed", range(3))
def test_optimum_equals_brute_force(tmp_path: Path, seed: int) -> None:
    d = random_tiny(100 + seed, 4, max_replicas=1 + seed % 2)
    sc = planner.load_scenario(write(tmp_path, d))
    plan = optimise(sc, time_limit_s=20)
    assert plan.check(sc) == []
    best = exact.brute_force(sc)
    assert plan.objective_usd == pytest.approx(best, abs=len(sc.workloads) * 2.0)
    assert exact.exact_milp(sc) == pytest.approx(best, rel=1e-9, abs=1e-6)


def test_plan_json_round_trip(tmp_path: Path) -> None:
    d = random_tiny(1, 6)
    sc = planner.load_scenario(write(tmp_path, d))
    plan = optimise(sc, time_limit_s=5)
    text = plan.to_json()
    back = planner.plan.Plan.from_json(text, sc)
    pd.testing.assert_frame_equal(back.placements, plan.placements)
    pd.testing.assert_frame_equal(back.link_use, plan.link_use)
    assert back.unplaced["reason"].tolist() == plan.unplaced["reason"].tolist()
    assert (back.status, back.objective_usd, back.bound_usd) == (plan.status, plan.objective_usd, plan.bound_usd)
    assert back.check(sc) == []


def test_greedy_plan_json_round_trip_keeps_missing_bound(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, random_tiny(2, 6)))
    g = greedy(sc)
    back = planner.plan.Plan.from_json(g.to_json(), sc)
    assert np.isnan(back.bound_usd) and np.isnan(back.gap)
    assert back.check(sc) == [] and back.objective_usd == pytest.approx(g.objective_usd)


def test_no_cp_sat_plan_in_time_returns_the_warm_start(tmp_path: Path) -> None:
    from planner.optimise.optimiser import Optimiser

    sc = planner.load_scenario(write(tmp_path, random_tiny(3, 6)))
    opt = Optimiser(sc, time_limit_s=1e-9, deterministic=False)
    plan = opt.solve()
    assert plan.meta["solver_status"] == "UNKNOWN" and plan.status == "FEASIBLE"
    assert plan.check(sc) == []
    assert opt.warm is not None and plan.objective_usd == pytest.approx(opt.warm.value_usd)
    assert plan.bound_usd >= plan.objective_usd and plan.meta["bound_source"] == "lp relaxation"


def test_focused_rounds_follow_the_site_lp_where_the_pod_lp_is_too_big(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Above POD_LP_MAX_PAIRS the warm start solves the site-level LP only: the focused rounds follow its sites."""
    sc = planner.load_scenario(write(tmp_path, crowded(1)))
    module = sys.modules[optimise.__module__]  # planner.optimise.optimiser (``planner.optimise`` is also a function)
    monkeypatch.setattr(module, "POD_LP_MAX_PAIRS", 0)  # as on the reference (21,620 pairs > 20,000)
    plan = optimise(sc, time_limit_s=3, method="pods")
    assert plan.check(sc) == []
    assert plan.meta["warm_start"]["lp"].startswith("site ")
    assert plan.meta["focus"] is not None and plan.meta["focus"]["rounds"] >= 1
    assert plan.meta["focus"]["fixed_site_choices"] > 0
