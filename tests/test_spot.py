"""Spot leases and the upside of internal demand: the rule, the expected value, the checker, the inputs."""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from rich.console import Console

import planner
from planner.cli.console import plan_summary
from planner.errors import ScenarioError
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.report.business import business_sections
from planner.report.spot import spot_revenue_table, spot_section
from tests import exact
from tests.tiny import base, lease, write

HOURS = 100  # tiny's hours per week


def load(tmp_path: Path, data: dict[str, Any]) -> planner.Scenario:
    return planner.load_scenario(write(tmp_path, data))


def two_pods() -> dict[str, Any]:
    """SA's pods A1 and A2 (100 GPUs each); a training wave holds A1 in weeks 3-4 and may start 2 weeks early (p 0.4).

    In the base case A1 is free in weeks 1-2; in the worst case the wave takes it all four weeks.
    """
    d = base()
    d["pods"]["pods"] = d["pods"]["pods"][:2]
    d["reservations"] = [{"pod": "A1", "start_week": 3, "end_week": 4, "may_start_early_weeks": 2,
                          "upside_probability": 0.4}]
    return d


def test_committed_kept_off_a_pod_internal_work_may_take_back_spot_placed_there(tmp_path: Path) -> None:
    """A2 holds one 100-GPU lease; A1 is free in weeks 1-2 only if the wave does not start early."""
    d = two_pods()
    d["leases"] = [lease("C", 100, price=2.0, priority="committed", end_week=2),
                   lease("C2", 100, price=1.9, priority="committed", end_week=2),
                   lease("S", 100, price=1.0, priority="spot", end_week=2)]
    sc = load(tmp_path, d)
    for plan in (greedy(sc), optimise(sc, time_limit_s=5)):
        assert plan.check(sc) == []
        where = dict(zip(plan.placements["lease"], plan.placements["pod"], strict=True))
        assert where == {"C": "A2", "S": "A1"}, where  # C2 pays more than S but may not take A1
        assert set(plan.unplaced["lease"]) == {"C2"}


def test_expected_revenue_of_a_spot_lease_by_hand(tmp_path: Path) -> None:
    """S (50 GPUs at 2 USD/GPU-h, weeks 1-4) on A1: pre-empted in weeks 1 and 2 with chance 0.4 each.

    Contract: 50 x 2 x 100 h x 4 weeks = 40,000 USD. Expected weeks pre-empted: 0.8; with the
    refund factor 0.5, expected revenue 40,000 - 0.5 x 0.8 x 50 x 2 x 100 = 36,000 USD; worst case
    (the wave starts early): 40,000 - 0.5 x 2 x 10,000 = 30,000 USD.
    """
    d = two_pods()
    d["scenario"]["settings"]["spot_refund_factor"] = 0.5
    d["pods"]["pods"] = d["pods"]["pods"][:1]
    d["reservations"][0] |= {"gpus": 50}  # the wave holds 50 of A1's GPUs: S fits beside it
    d["leases"] = [lease("S", 50, price=2.0, priority="spot")]
    sc = load(tmp_path, d)
    for plan in (greedy(sc), optimise(sc, time_limit_s=5)):
        assert plan.check(sc) == []
        row = plan.placements.iloc[0]
        assert row["contract_revenue_usd"] == pytest.approx(40_000)
        assert row["expected_weeks_preempted"] == pytest.approx(0.8)
        assert row["revenue_usd"] == pytest.approx(36_000)
        assert row["worst_case_revenue_usd"] == pytest.approx(30_000)
        assert plan.revenue_usd == pytest.approx(36_000) and plan.worst_case_revenue_usd == pytest.approx(30_000)
        assert plan.objective_usd == pytest.approx(36_000)  # power is free in tiny


def test_a_split_spot_replica_loses_only_its_gpus_in_the_pod_taken(tmp_path: Path) -> None:
    """S (120 GPUs, span=site, weeks 1-2) must split over A1 (exposed: chance 0.5 in weeks 1-2) and A2 (40 held).

    A2 keeps 60 free, so at least 60 GPUs go to A1: 60 x 1 USD x 100 h x (0.5 + 0.5) = 6,000 USD expected
    refund on a 24,000 USD contract; the worst case refunds both weeks, 12,000 USD. Every method puts as
    few GPUs as it can on A1.
    """
    d = two_pods()
    d["reservations"] = [{"pod": "A1", "start_week": 3, "end_week": 4, "gpus": 40, "may_start_early_weeks": 2,
                          "upside_probability": 0.5},
                         {"pod": "A2", "start_week": 1, "end_week": 4, "gpus": 40}]
    d["leases"] = [lease("S", 120, price=1.0, priority="spot", span="site", end_week=2)]
    sc = load(tmp_path, d)
    for plan in (greedy(sc), optimise(sc, time_limit_s=5)):
        assert plan.check(sc) == []
        gpus = dict(zip(plan.placements["pod"], plan.placements["gpus"], strict=True))
        assert gpus == {"A1": 60, "A2": 60}, gpus
        assert plan.revenue_usd == pytest.approx(18_000) and plan.worst_case_revenue_usd == pytest.approx(12_000)


def test_two_upsides_on_one_pod_combine_as_independent_chances(tmp_path: Path) -> None:
    """Two rows reach A1 in week 2 (chances 0.5 and 0.2): taken with chance 1 - 0.5 x 0.8 = 0.6."""
    d = two_pods()
    d["reservations"] = [
        {"pod": "A1", "start_week": 3, "end_week": 3, "gpus": 10, "may_start_early_weeks": 1,
         "upside_probability": 0.5},
        {"pod": "A1", "start_week": 1, "end_week": 2, "gpus": 10, "may_grow_gpus": 5, "upside_probability": 0.2},
    ]
    sc = load(tmp_path, d)
    assert sc.preemption_chance().loc["A1"].tolist() == pytest.approx([0.2, 0.6, 0.0, 0.0])
    assert sc.worst_free_gpus().loc["A1"].tolist() == [85, 75, 90, 100]  # 10 + 5 early and grown; 10 + 5 in week 2


def test_the_checker_rejects_a_committed_lease_on_preemptible_capacity(tmp_path: Path) -> None:
    """Turning the placed spot lease into a committed one (same rows) breaks the worst case."""
    d = two_pods()
    d["pods"]["pods"] = d["pods"]["pods"][:1]  # A1 only
    d["leases"] = [lease("S", 100, price=1.0, priority="spot", end_week=2)]
    plan = optimise(load(tmp_path / "spot", d), time_limit_s=5)
    assert plan.placements["pod"].tolist() == ["A1"]
    d["leases"][0]["priority"] = "committed"
    sc = load(tmp_path / "committed", d)
    bad = dataclasses.replace(plan, placements=plan.placements.assign(
        revenue_usd=plan.placements["contract_revenue_usd"], expected_weeks_preempted=0.0,
        worst_case_revenue_usd=plan.placements["contract_revenue_usd"]))
    got = bad.check(sc)
    assert any("committed leases hold 100 GPUs but internal work may take 100" in m for m in got), got
    assert optimise(sc, time_limit_s=5).placements.empty  # and the optimiser does not place it


def test_the_reason_names_the_upside(tmp_path: Path) -> None:
    """A committed lease kept off the only pod by the wave's early start: its reason says so."""
    d = two_pods()
    d["pods"]["pods"] = d["pods"]["pods"][:1]
    d["leases"] = [lease("C", 100, price=2.0, priority="committed", end_week=2)]
    (u,) = optimise(load(tmp_path, d), time_limit_s=5).unplaced.to_dict("records")
    assert u["family"] == "size"  # a fact: no plan can hold it in the worst case
    assert "A1, keeps no GPU free through weeks 1-2 after internal reservations and the upside they may take" \
        in u["reason"]
    assert u["fix"].startswith("fits as spot (pre-emptible by internal work)")  # verified by re-fitting as spot


def test_the_checker_rejects_a_spot_revenue_without_its_refunds(tmp_path: Path) -> None:
    d = two_pods()
    d["pods"]["pods"] = d["pods"]["pods"][:1]  # A1 only: the spot lease is exposed
    d["leases"] = [lease("S", 100, price=1.0, priority="spot", end_week=2)]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=5)
    full = dataclasses.replace(plan, placements=plan.placements.assign(revenue_usd=plan.placements[
        "contract_revenue_usd"]))
    assert any("less expected pre-emption refunds" in m for m in full.check(sc))


# --------------------------------------------------------------------------- exact optimum
def random_spot(seed: int, n: int) -> dict[str, Any]:
    """``n`` random span=pod leases, committed or spot, on tiny's three pods, with upside on two reservations."""
    rng = np.random.default_rng(seed)
    d = base()
    d["sites"]["sites"][0] |= {"grid_mw": float(rng.uniform(0.12, 0.2)), "power_price_usd_per_mwh": 80.0}
    d["sites"]["sites"][1] |= {"power_price_usd_per_mwh": 40.0}
    d["scenario"]["settings"]["spot_refund_factor"] = float(rng.choice([0.5, 1.0, 1.5]))
    d["reservations"] = [
        {"pod": "A1", "start_week": 3, "end_week": 4, "gpus": int(rng.integers(20, 80)),
         "may_start_early_weeks": int(rng.integers(1, 3)), "upside_probability": float(rng.uniform(0.1, 0.9))},
        {"pod": "B1", "start_week": 1, "end_week": 4, "gpus": int(rng.integers(20, 120)),
         "may_grow_gpus": int(rng.integers(20, 80)), "upside_probability": float(rng.uniform(0.1, 0.9))},
    ]
    d["leases"] = [lease(f"L{i}", int(rng.integers(2, 10)) * 10, price=float(rng.uniform(0.5, 4)),
                         priority=str(rng.choice(["committed", "spot"])), start_week=int(rng.integers(1, 3)),
                         end_week=int(rng.integers(2, 5)), allowed_sites=str(rng.choice(["", "SA", "SB"])))
                   for i in range(n)]
    for row in d["leases"]:
        row["end_week"] = max(row["end_week"], row["start_week"])
    return d


def brute_force_spot(sc: planner.Scenario) -> float:
    """The best expected value by enumeration, written from the rules alone.

    Every lease goes to one pod or none; in every week every pod holds its base-case
    reservations and all leases, and its worst-case reservations (every upside) and the
    committed leases; each site's power carries both cases the same way. A spot lease
    earns its price for each GPU-week less the refund factor times the chance the pod is
    taken that week; power costs the GPUs' MWh at the site's price.
    """
    wl, pods, hours = sc.workloads, sc.pods, sc.horizon.hours_per_period
    base_res = sc.reserved_gpus.to_numpy(dtype=float)
    worst_res = base_res + sc.upside_gpus.reindex(index=pods.index).fillna(0).to_numpy(dtype=float)
    chance = sc.upside_chance.reindex(index=pods.index).fillna(0).to_numpy(dtype=float)
    kw = (pods["sku"].map(sc.skus["server_kw_per_gpu"]) * pods["site"].map(sc.sites["pue"])).to_numpy()
    price = pods["site"].map(sc.sites["power_price_usd_per_mwh"]).to_numpy()
    refund = sc.settings.spot_refund_factor
    choices = []
    for _, w in wl.iterrows():
        ok = [None] + [k for k, (_, p) in enumerate(pods.iterrows())
                       if not w["allowed_sites"] or p["site"] in w["allowed_sites"]]
        choices.append(ok)
    best = 0.0
    for pick in itertools.product(*choices):
        base_use, worst_use = base_res.copy(), worst_res.copy()
        value = 0.0
        for (_, w), k in zip(wl.iterrows(), pick, strict=True):
            if k is None:
                continue
            t = slice(int(w["start_week"]) - 1, int(w["end_week"]))
            g = float(w["gpus"])
            base_use[k, t] += g
            weeks = int(w["end_week"]) - int(w["start_week"]) + 1
            value += w["price_usd_per_gpu_hour"] * g * hours * weeks - g * kw[k] * hours * weeks / 1000 * price[k]
            if w["priority"] == "spot":
                value -= refund * w["price_usd_per_gpu_hour"] * hours * g * chance[k, t].sum()
            else:
                worst_use[k, t] += g
        cap = pods["gpus"].to_numpy(dtype=float)[:, None]
        if (base_use > cap + 1e-9).any() or (worst_use > cap + 1e-9).any():
            continue
        mw_ok = True
        for use in (base_use, worst_use):
            mw = (use * kw[:, None]).T @ (pods["site"].to_numpy()[:, None] == sc.sites.index.to_numpy()) / 1000
            mw_ok &= bool((mw <= sc.site_power_mw.loc[sc.sites.index].to_numpy().T + 1e-9).all())
        if mw_ok and value > best:
            best = value
    return best


@pytest.mark.parametrize("seed", range(6))
def test_exact_optimum_with_spot_and_upside(tmp_path: Path, seed: int) -> None:
    """CP-SAT's optimum is the enumerated one; greedy is no better; every bound is at least the optimum."""
    sc = load(tmp_path, random_spot(seed, 6))
    best = brute_force_spot(sc)
    exact.cross_check(sc, best)


def test_the_random_cases_use_both_rules(tmp_path: Path) -> None:
    """The cross-check means something: treating every lease as spot (or ignoring the upside) changes the optimum."""
    moved = 0
    for seed in range(6):
        d = random_spot(seed, 6)
        best = brute_force_spot(load(tmp_path / str(seed), d))
        for row in d["leases"]:
            row["priority"] = "spot"
        moved += brute_force_spot(load(tmp_path / f"{seed}-spot", d)) != pytest.approx(best)
    assert moved >= 3


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(("row", "field", "words"), [
    ({"may_start_early_weeks": 2}, "upside_probability", "give the upside's chance"),
    ({"upside_probability": 0.3}, "upside_probability", "clear upside_probability"),
    ({"may_grow_gpus": 10, "upside_probability": 1.5}, "upside_probability", "smaller value"),
    ({"may_grow_gpus": -1, "upside_probability": 0.5}, "may_grow_gpus", "larger value"),
    ({"pod": "", "site": "SA", "sku": "T1", "may_grow_gpus": 10, "upside_probability": 0.5},
     "upside_probability", "name the pod or hall"),
])
def test_upside_columns_are_validated(tmp_path: Path, row: dict[str, Any], field: str, words: str) -> None:
    d = two_pods()
    d["reservations"] = [{"pod": "A1", "start_week": 3, "end_week": 4, "gpus": 10} | row]
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, d)
    (p,) = info.value.errors
    assert (Path(p.file).name, p.where, p.field) == ("reservations.csv", "line 2", field)
    assert words in p.fix


def test_the_refund_factor_is_validated(tmp_path: Path) -> None:
    d = two_pods()
    d["scenario"]["settings"]["spot_refund_factor"] = -0.5
    with pytest.raises(ScenarioError, match="spot_refund_factor"):
        load(tmp_path, d)


# --------------------------------------------------------------------------- outputs
def test_plan_json_and_report_carry_expected_and_worst_case_revenue(tmp_path: Path) -> None:
    """The hand example plus a committed lease on A2: plan.json, the headline and the report's spot table agree."""
    d = two_pods()
    d["scenario"]["settings"]["spot_refund_factor"] = 0.5
    d["reservations"][0] |= {"gpus": 50}
    d["leases"] = [lease("S", 50, price=2.0, priority="spot", allowed_sites="SA"),
                   lease("C", 100, price=1.0, priority="committed")]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == [] and set(plan.placements["lease"]) == {"S", "C"}
    doc = json.loads(plan.to_json())
    assert doc["expected_revenue_usd"] == pytest.approx(36_000 + 40_000)  # S as by hand; C: 100 x 1 x 100 x 4
    assert doc["worst_case_revenue_usd"] == pytest.approx(30_000 + 40_000)
    assert plan.headline()["worst_case_revenue_usd"] == pytest.approx(70_000)
    table = spot_revenue_table(sc, plan).set_index("priority")
    assert table.loc["spot", "expected_revenue_usd"] == pytest.approx(36_000)
    assert table.loc["spot", "gpu_weeks_preempted"] == pytest.approx(50 * 0.8)
    assert table.loc["committed", "worst_case_revenue_usd"] == pytest.approx(40_000)
    assert table.loc["total", "contract_revenue_usd"] == pytest.approx(80_000)
    ids = [sid for sid, _, _ in business_sections(sc, plan)]
    assert ids == ["manager", "spot", "surplus", "leases"]
    assert "$36,000" in spot_section(sc, plan) and "$30,000" in spot_section(sc, plan)
    console = Console(width=120, record=True)
    console.print(plan_summary(plan, out_dir=None, total_s=1.0))
    assert re.search(r"revenue\s+\$76,000 expected \(worst case \$70,000\) over 4 weeks", console.export_text())


def test_validate_warns_of_a_committed_lease_only_the_upside_keeps_out(tmp_path: Path) -> None:
    """On A1 alone, a committed lease in weeks 1-2 never fits in the worst case (the wave may start early); spot may."""
    from planner.feasibility import never_fit_problems

    d = two_pods()
    d["pods"]["pods"] = d["pods"]["pods"][:1]
    d["leases"] = [lease("C", 100, price=2.0, priority="committed", end_week=2),
                   lease("S", 100, price=1.0, priority="spot", end_week=2)]
    (w,) = never_fit_problems(load(tmp_path, d))
    assert w.where.endswith("(lease C)") and w.field == "gpus" and w.severity == "warning"
    assert "keeps no GPU free through weeks 1-2 after internal reservations and the upside they may take" in w.message
    assert "priority spot" in w.fix
    plan = optimise(load(tmp_path, d), time_limit_s=5)
    assert plan.check(load(tmp_path, d)) == [] and list(plan.placements["lease"]) == ["S"]
