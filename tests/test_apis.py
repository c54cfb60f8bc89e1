"""Hosted-model APIs: every method against an exact optimum, the checker's rules, the plan's tables, the reasons.

The scenarios are :mod:`tests.tiny`'s, with a model catalogue and API demand added by
:func:`tests.tiny.apis`. ``T1`` draws 1 kW per GPU and a week has 100 hours, so one
token per second of a stream at full average load and price ``p`` earns ``0.36 p`` a week.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from planner.api_plan import API_REPLICA_COLUMNS, API_ROUTE_COLUMNS, API_USE_COLUMNS
from planner.optimise.bounds.patterns import pattern_bound
from planner.optimise.bounds.pod_lp import lp_relaxation
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.instance import build_instance
from planner.optimise.model import build_model
from planner.optimise.optimiser import Optimiser, optimise
from planner.plan import Plan
from planner.scenario import Scenario, load_scenario
from tests import tiny
from tests.exact import exact_api_milp


def _load(tmp: Path, d: dict[str, Any]) -> Scenario:
    return load_scenario(tiny.write(tmp, d))


def lease_or_tokens(tmp: Path, price_per_mtok: float) -> Scenario:
    """SA has 100 free GPUs (A2 is reserved by internal work); lease L1 wants all 100 at $2/GPU-h.

    Model ``M`` serves 1,000 tokens/s on 10 GPUs; stream ``S`` wants 10,000 tokens/s from P1,
    which only SA reaches within its 0.6 ms budget. Ten replicas take the lease's 100 GPUs:
    the lease earns $20,000 a week, the tokens 10,000 x 0.36 x price a week.
    """
    d = tiny.base()
    d["reservations"] = [{"pod": "A2", "start_week": 1, "end_week": 4, "gpus": 100}]
    d["leases"] = [tiny.lease("L1", 100, price=2.0, allowed_sites="SA")]
    d["pods"]["pods"][2]["gpus"] = 10  # SB: too small for the lease, one replica
    sc = _load(tmp, d)
    return tiny.apis(sc, [tiny.api_model("M", gpus=10, tokens_per_s=1000)],
                     [tiny.api_stream("S", "M", "P1", peak=10_000, price=price_per_mtok, budget_ms=0.6)])


def random_api_case(tmp: Path, seed: int) -> Scenario:
    """Two sites, three pods, 4 weeks, 2-4 span=pod leases, 1-3 streams of 1-2 models, drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    d = tiny.base()
    d["sites"]["sites"][0] |= {"grid_mw": float(rng.uniform(0.1, 0.2)), "power_price_usd_per_mwh": 80.0}
    d["sites"]["sites"][1] |= {"grid_mw": float(rng.uniform(0.1, 0.2)), "power_price_usd_per_mwh": 40.0}
    d["scenario"]["settings"] |= {"transport_usd_per_gbps_km_week": 0.01, "max_link_utilisation": 0.8}
    d["reservations"] = [{"pod": "A1", "start_week": 1, "end_week": 2, "gpus": int(rng.integers(0, 60))}]
    d["leases"] = [tiny.lease(f"L{i}", int(rng.integers(3, 10)) * 10, price=float(rng.uniform(0.5, 3)),
                              start_week=int(rng.integers(1, 3)), end_week=int(rng.integers(3, 5)),
                              region=(r := str(rng.choice(["", "P1", "P2"]))),
                              egress_gbps=float(rng.integers(0, 300)) if r else 0)
                   for i in range(int(rng.integers(2, 5)))]
    sc = _load(tmp, d)
    models = [tiny.api_model("M0", gpus=int(rng.choice([10, 20])), tokens_per_s=float(rng.integers(5, 20)) * 100,
                             start_usd=float(rng.choice([0, 30, 300])))]
    if rng.random() < 0.5:
        models.append(tiny.api_model("M1", gpus=10, tokens_per_s=float(rng.integers(5, 20)) * 100,
                                     start_usd=float(rng.choice([0, 50]))))
    names = sorted({m["model"] for m in models})
    streams = []
    for k in range(int(rng.integers(1, 4))):
        a, b = sorted(int(x) for x in rng.integers(1, 5, size=2))
        streams.append(tiny.api_stream(
            f"S{k}", str(rng.choice(names)), str(rng.choice(["P1", "P2"])), peak=float(rng.integers(10, 80)) * 100,
            price=float(rng.uniform(1, 12)), start_week=a, end_week=b, avg=None if rng.random() < 0.5 else 1000.0,
            budget_ms=float(rng.choice([0.6, 1.2, 5.0])), bytes_in=float(rng.integers(1, 5)) * 1000.0,
            bytes_out=4.0))
    for s in streams:  # avg at most peak
        s["avg_tokens_per_s"] = min(s["avg_tokens_per_s"], s["peak_tokens_per_s"])
    return tiny.apis(sc, models, streams)


def cross_check(sc: Scenario, best: float) -> Plan:
    """CP-SAT proves ``best``; every bound >= it; greedy and the site method <= it; every plan checks."""
    plan = Optimiser(sc, time_limit_s=10, relative_gap_limit=0.0).solve()
    assert plan.check(sc) == []
    assert plan.status == "OPTIMAL"
    assert plan.objective_usd == pytest.approx(best, rel=1e-9, abs=1e-6)
    g = greedy(sc)
    assert g.check(sc) == []
    assert g.objective_usd <= best + 1e-6
    inst = build_instance(sc)
    bounds = {"cp-sat": plan.bound_usd, "pod lp": lp_relaxation(build_model(inst).cp).objective,
              "site lp per hall": site_relaxation(inst, pooling="hall").bound_usd,
              "site lp per site": site_relaxation(inst, pooling="site").bound_usd,
              "patterns": pattern_bound(inst, time_limit_s=30).bound_usd}
    assert all(b >= best - 1e-6 for b in bounds.values()), bounds
    sites = optimise(sc, time_limit_s=5, method="sites")
    assert sites.check(sc) == []
    assert sites.objective_usd <= best + 1e-6 <= sites.bound_usd + 2e-6
    return plan


# --------------------------------------------------------------------------- exact cross-checks
def test_tokens_beat_a_lease_for_the_same_gpus(tmp_path: Path) -> None:
    sc = lease_or_tokens(tmp_path, price_per_mtok=10.0)  # tokens: $36,000 a week > the lease's $20,000
    best = exact_api_milp(sc)
    plan = cross_check(sc, best)
    assert plan.placements.empty
    assert set(plan.unplaced["lease"]) == {"L1"}
    assert plan.api_use["served_tokens_per_s"].sum() > 0
    assert plan.meta["api"]["revenue_usd"] > 4 * 20_000
    assert plan.objective_usd == pytest.approx(plan.meta["api"]["net_usd"])
    g = greedy(sc)  # the greedy weighs the stream against the lease by value per GPU-week too
    assert g.placements.empty and g.objective_usd == pytest.approx(best)


def test_a_lease_beats_tokens_for_the_same_gpus(tmp_path: Path) -> None:
    sc = lease_or_tokens(tmp_path, price_per_mtok=2.0)  # tokens: $7,200 a week < the lease's $20,000
    best = exact_api_milp(sc)
    plan = cross_check(sc, best)
    assert set(plan.placements["lease"]) == {"L1"}
    # the lease's GPUs are gone; only SB's one replica is left, and SB is beyond the budget
    assert plan.api_use["served_tokens_per_s"].sum() == 0
    assert (plan.api_use["reason"] != "").all()
    assert best == pytest.approx(4 * 20_000)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_random_cases_match_an_exact_mip(tmp_path: Path, seed: int) -> None:
    sc = random_api_case(tmp_path, seed)
    cross_check(sc, exact_api_milp(sc))


# --------------------------------------------------------------------------- plan tables
def test_a_scenario_without_apis_has_empty_api_tables(tmp_path: Path) -> None:
    d = tiny.base()
    d["leases"] = [tiny.lease("L1", 50)]
    sc = _load(tmp_path, d)
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    assert list(plan.api_use.columns) == API_USE_COLUMNS and plan.api_use.empty
    assert list(plan.api_routes.columns) == API_ROUTE_COLUMNS and plan.api_routes.empty
    assert list(plan.api_replicas.columns) == API_REPLICA_COLUMNS and plan.api_replicas.empty
    assert set(plan.meta["api"].values()) == {0.0}
    assert (plan.pod_use["api_gpus"] == 0).all() and (plan.site_use["api_mw"] == 0).all()


def test_kept_replicas_start_once_and_tables_add_up(tmp_path: Path) -> None:
    """3,000 tokens/s in weeks 1-4 and 2,000 more in weeks 2-3: 3 replicas start in week 1, 2 in week 2."""
    sc = _load(tmp_path, tiny.base())
    sc = tiny.apis(sc, [tiny.api_model("M", gpus=10, tokens_per_s=1000, start_usd=100)],
                   [tiny.api_stream("S1", "M", "P1", peak=3000, price=10, budget_ms=0.6),
                    tiny.api_stream("S2", "M", "P1", peak=2000, price=10, start_week=2, end_week=3, budget_ms=0.6)])
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    reps = plan.api_replicas.groupby("week")[["replicas", "started", "start_usd"]].sum()
    assert reps["replicas"].tolist() == [3, 5, 5, 3]
    assert reps["started"].tolist() == [3, 2, 0, 0]
    assert plan.meta["api"]["start_usd"] == 500
    pu = plan.pod_use
    assert (pu["internal_gpus"] + pu["leased_gpus"] + pu["api_gpus"] + pu["free_gpus"] == pu["gpus"]).all()
    su = plan.site_use.set_index(["site", "week"])
    assert su.loc[("SA", 2), "api_gpus"] == 50 and su.loc[("SA", 2), "api_mw"] == pytest.approx(0.05)
    assert plan.meta["api"]["tokens_served"] == pytest.approx((3000 * 4 + 2000 * 2) * 100 * 3600)


# --------------------------------------------------------------------------- the checker
@pytest.fixture
def served_plan(tmp_path: Path) -> tuple[Scenario, Plan]:
    sc = lease_or_tokens(tmp_path, price_per_mtok=10.0)
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == [] and len(plan.api_routes)
    return sc, plan


def test_checker_rejects_more_tokens_than_the_replicas_serve(served_plan: tuple[Scenario, Plan]) -> None:
    sc, plan = served_plan
    reps = plan.api_replicas.copy()
    reps.loc[reps["week"] == 1, ["replicas", "gpus", "capacity_tokens_per_s"]] //= 2  # half the replicas
    bad = dataclasses.replace(plan, api_replicas=reps)
    assert any("tokens/s served > its replicas'" in v for v in bad.check(sc))


def test_checker_rejects_a_route_beyond_the_latency_budget(served_plan: tuple[Scenario, Plan]) -> None:
    sc, plan = served_plan
    tighter = dataclasses.replace(sc, api_demand=sc.api_demand.assign(network_budget_ms=0.3))
    assert any("> network budget 0.3 ms" in v for v in plan.check(tighter))


def test_checker_rejects_more_served_than_demanded(served_plan: tuple[Scenario, Plan]) -> None:
    sc, plan = served_plan
    smaller = dataclasses.replace(sc, api_demand=sc.api_demand.assign(peak_tokens_per_s=5000.0,
                                                                      avg_tokens_per_s=5000.0))
    assert any("tokens/s served > demand 5,000.0" in v for v in plan.check(smaller))


def test_checker_rejects_a_tampered_revenue(served_plan: tuple[Scenario, Plan]) -> None:
    sc, plan = served_plan
    use = plan.api_use.copy()
    use.loc[0, "revenue_usd"] *= 2
    violations = dataclasses.replace(plan, api_use=use).check(sc)
    assert any("revenue $" in v and "tokens served x price" in v for v in violations)
    meta = dict(plan.meta, api=dict(plan.meta["api"], revenue_usd=plan.meta["api"]["revenue_usd"] + 1000))
    assert any(v.startswith("meta api revenue_usd") for v in dataclasses.replace(plan, meta=meta).check(sc))


def test_checker_rejects_api_gpus_that_overfill_a_pod(served_plan: tuple[Scenario, Plan]) -> None:
    sc, plan = served_plan
    reserved = sc.reserved_gpus.copy()
    pod = plan.api_replicas["pod"].iloc[0]
    reserved.loc[pod, 1] = 95.0  # internal work takes the pod in week 1
    violations = plan.check(dataclasses.replace(sc, reserved_gpus=reserved))
    assert any(v.startswith(f"pod {pod} week 1:") and "APIs" in v for v in violations)


# --------------------------------------------------------------------------- reasons
def test_reasons_name_latency_with_a_verified_fix_and_an_unprofitable_price(tmp_path: Path) -> None:
    sc = _load(tmp_path, tiny.base())
    sc = tiny.apis(sc, [tiny.api_model("M", gpus=10, tokens_per_s=1000)],
                   [tiny.api_stream("FAR", "M", "P2", peak=1000, price=10, budget_ms=0.2),  # fastest: SB > P2
                    tiny.api_stream("CHEAP", "M", "P1", peak=1000, price=1e-6, budget_ms=5)])
    sc = dataclasses.replace(sc, sites=sc.sites.assign(power_price_usd_per_mwh=100.0))
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    reason = plan.api_use[plan.api_use["week"] == 1].set_index("stream")["reason"]
    assert reason["FAR"].startswith("latency: fastest path SB->P2 ")
    assert "> network budget 0.2 ms; fix: a network budget of" in reason["FAR"]
    assert "(checked: it is then served)" in reason["FAR"] and "(weeks 1-4)" in reason["FAR"]
    assert reason["CHEAP"].startswith("not worth it: a token/s earns $0.0000 a week, its power costs $0.1000")


def test_reasons_name_full_gpus(tmp_path: Path) -> None:
    d = tiny.base()
    d["reservations"] = [{"pod": p, "start_week": 3, "end_week": 4, "gpus": 100 if p != "B1" else 200}
                         for p in ("A1", "A2", "B1")]
    sc = tiny.apis(_load(tmp_path, d), [tiny.api_model("M", gpus=10, tokens_per_s=1000)],
                   [tiny.api_stream("S", "M", "P1", peak=1000, price=10, budget_ms=5)])
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    use = plan.api_use.set_index("week")
    assert use.loc[[1, 2], "served_share"].tolist() == [1.0, 1.0]
    assert use.loc[3, "reason"] == ("gpus: the model's pods at reachable sites have at most 0 GPUs free, a replica "
                                    "needs 10 (weeks 3-4)")
    assert isinstance(plan.api_use, pd.DataFrame)


def test_plan_json_keeps_the_api_tables(served_plan: tuple[Scenario, Plan]) -> None:
    """A plan read back from plan.json holds its API tables, so the checker still passes it."""
    sc, plan = served_plan
    back = Plan.from_json(plan.to_json(), sc)
    assert back.check(sc) == []
    pd.testing.assert_frame_equal(back.api_use, plan.api_use, check_dtype=False)
    assert back.meta["api"] == pytest.approx(plan.meta["api"])
