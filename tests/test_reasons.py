"""Reasons for leases left out: true numbers, fixes that re-fit, crowders that free the room, plain 'never'.

The property tests audit every left-out lease of a plan with :mod:`tests.reasons_audit`,
which reads each reason as a user would and checks it independently: numbers against
the plan's usage tables, each fix applied alone and the lease re-fitted, the leases
named "crowded out by" taken out and the lease re-fitted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.feasibility import never_fit_problems
from planner.generate import generate
from planner.network import build_network
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.optimiser import optimise
from planner.routing import latency_matrix
from tests.reasons_audit import Audit, audit_plan
from tests.tiny import base, lease, write


def _clean(au: Audit) -> None:
    """No contradiction, every fix re-fits, every crowder set frees the room."""
    bad = [(r.lease, r.problems, r.unverified) for r in au.rows if r.problems or r.unverified]
    assert bad == [], au.summary()
    assert au.bad_crowders == [], au.summary()
    assert au.verified == au.fixes


def _greedy(tmp_path: Path, data: dict[str, Any]) -> tuple[planner.Scenario, planner.plan.Plan, pd.DataFrame]:
    sc = planner.load_scenario(write(tmp_path, data))
    plan = greedy(sc)
    _clean(audit_plan(sc, plan))
    return sc, plan, plan.unplaced.set_index("lease")


# --------------------------------------------------------------------------- every left-out lease
def test_every_reason_of_the_reference_greedy_plan_is_true_and_every_fix_refits() -> None:
    sc = planner.load_scenario()
    plan = greedy(sc)
    au = audit_plan(sc, plan)
    assert len(au.rows) == len(plan.unplaced) > 50
    _clean(au)
    assert au.fixes > len(au.rows)  # most leases get at least one checked fix
    assert any(r.crowders_ok for r in au.rows)


@pytest.mark.slow
def test_every_reason_of_a_short_cp_sat_reference_plan_is_true() -> None:
    sc = planner.load_scenario()
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []  # as optimise's doctest showed on the reference (it now runs on a cut of it)
    au = audit_plan(sc, plan)
    assert len(au.rows) > 20
    _clean(au)


def test_every_reason_of_a_generated_medium_tier_is_true(tmp_path: Path) -> None:
    path = generate("medium", seed=2, out_dir=tmp_path / "medium")
    sc = planner.load_scenario(path)
    plan = greedy(sc)
    au = audit_plan(sc, plan)
    assert len(au.rows) > 100
    _clean(au)


# --------------------------------------------------------------------------- one family at a time
def test_power_names_the_site_that_is_short_not_the_roomy_one(tmp_path: Path) -> None:
    d = base()
    d["sites"]["sites"][1]["grid_mw"] = 0.2  # SB: 200 GPUs of T1 at 1 kW, PUE 1
    d["leases"] = [lease("L1", 195, price=3, allowed_sites="SB", span="pod"),
                   lease("L2", 10, replicas=2, anti_affinity=True, price=1)]
    d["pods"]["pods"][2]["gpus"] = 250
    _sc, _plan, u = _greedy(tmp_path, d)
    r = u.loc["L2"]
    assert r["family"] == "power"
    assert "SB has 0.005 MW headroom in weeks 1-4, one replica needs 0.010 MW" in r["reason"]
    assert "SA has" not in r["reason"] and "no week" not in r["reason"]
    assert r["crowded_out_by"] == ("L1",)
    assert "+0.005 MW at SB in weeks 1-4" in r["fix"] and "fits without anti-affinity" in r["fix"]
    assert "fits with replicas <= 1" in r["fix"] and "fits with <= 5 GPUs per replica" in r["fix"]


def test_latency_is_not_blamed_when_the_site_in_reach_is_full(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 100, price=3, allowed_sites="SA"), lease("L1b", 100, price=3, allowed_sites="SA"),
                   lease("L2", 50, price=1, region="P1", latency_slo_ms=1.0, egress_gbps=1)]
    sc, _plan, u = _greedy(tmp_path, d)
    r = u.loc["L2"]
    lat = latency_matrix(sc, build_network(sc))
    assert lat.loc["SA", "P1"] < 1.0 < lat.loc["SB", "P1"]
    assert r["family"] == "gpus"
    assert "> SLO" not in r["reason"]
    assert "no allowed T1 pod keeps 50 GPUs free through weeks 1-4" in r["reason"]
    slo = float(r["fix"].split("fits with SLO >= ")[1].split(" ms")[0])
    assert slo > 1.0 and slo >= lat.loc["SB", "P1"]
    assert set(r["crowded_out_by"]) == {"L1", "L1b"}


def test_dci_room_and_egress_fix(tmp_path: Path) -> None:
    d = base()
    kw = {"allowed_sites": "SA", "region": "P1", "latency_slo_ms": 0.6}
    d["leases"] = [lease("L1", 10, price=3, egress_gbps=700, **kw), lease("L2", 10, price=1, egress_gbps=500, **kw)]
    _sc, _plan, u = _greedy(tmp_path, d)
    r = u.loc["L2"]
    assert r["family"] == "dci"
    assert "span SA-P1 has 300 Gbps free in weeks 1-4" in r["reason"]
    assert "fits with egress <= 300 Gbps" in r["fix"] and "+200 Gbps on span SA-P1 in weeks 1-4" in r["fix"]
    assert r["crowded_out_by"] == ("L1",)


def test_anti_affinity_counts_the_sites_that_can_take_a_replica(tmp_path: Path) -> None:
    d = base()
    d["leases"] = [lease("L1", 200, price=3, allowed_sites="SB"),
                   lease("L2", 50, replicas=2, anti_affinity=True, price=1)]
    _sc, _plan, u = _greedy(tmp_path, d)
    r = u.loc["L2"]
    assert "only 1 can take one (SA)" in r["reason"] or "only 1 (SA)" in r["reason"]
    assert "fits without anti-affinity" in r["fix"] and "fits with replicas <= 1" in r["fix"]
    assert "replicas <= 0" not in r["fix"]


def test_price_and_residency(tmp_path: Path) -> None:
    d = base()
    d["sites"]["sites"][0]["power_price_usd_per_mwh"] = 1000.0  # 1 kW x 100 h x 4 weeks = 0.4 MWh per GPU
    d["leases"] = [lease("L1", 10, price=0.5, allowed_sites="SA"), lease("L2", 10, residency="DE")]
    _sc, _plan, u = _greedy(tmp_path, d)
    assert u.loc["L1", "family"] == "price"
    assert "pays for itself at a price above 2.01x" in u.loc["L1", "fix"]
    assert u.loc["L2", "family"] == "residency" and u.loc["L2", "reason"].startswith("can never fit: ")


# --------------------------------------------------------------------------- can never fit
def _never(tmp_path: Path) -> dict[str, Any]:
    d = base()
    d["reservations"] = [{"pod": "A1", "start_week": 2, "end_week": 3, "gpus": 40},
                         {"pod": "A2", "start_week": 1, "end_week": 4, "gpus": 45}]
    d["leases"] = [lease("BIG", 80, allowed_sites="SA"),  # A1 keeps 60 free through weeks 1-4, A2 55
                   lease("WIDE", 150, allowed_sites="SA", span="site"),  # the pods of SA keep 115
                   lease("FAST", 10, region="P1", latency_slo_ms=0.3, egress_gbps=1),
                   lease("OK", 10, allowed_sites="SA", start_week=4, end_week=4)]
    return d


def test_a_lease_that_can_never_fit_is_said_so(tmp_path: Path) -> None:
    sc, _plan, u = _greedy(tmp_path, _never(tmp_path))
    assert u.loc["BIG", "family"] == "size"
    assert u.loc["BIG", "reason"] == ("can never fit: needs 80 GPUs per replica in one pod; the roomiest allowed T1 "
                                      "pod, A1, keeps at most 60 free through weeks 1-4 after internal reservations")
    assert "fits with <= 60 GPUs per replica" in u.loc["BIG", "fix"]
    assert u.loc["WIDE", "family"] == "size"
    assert "needs 150 GPUs per replica at one site; the pods of the roomiest allowed T1 site, SA, keep at most " \
           "115 free" in u.loc["WIDE", "reason"]
    fastest = latency_matrix(sc, build_network(sc)).min(axis=0)["P1"]
    assert u.loc["FAST", "family"] == "latency"
    assert (f"can never fit: SLO 0.3 ms to P1 is below the fibre latency from every allowed T1 site "
            f"(fastest: SA→P1 {fastest:.2f} ms)") == u.loc["FAST", "reason"]
    assert "OK" not in u.index


def test_validate_warns_about_leases_that_can_never_fit(tmp_path: Path) -> None:
    path = write(tmp_path, _never(tmp_path))
    probs = never_fit_problems(planner.load_scenario(path))
    assert sorted((p.where, p.field) for p in probs) == [
        ("line 2 (lease BIG)", "gpus"), ("line 3 (lease WIDE)", "gpus"), ("line 4 (lease FAST)", "latency_slo_ms")]
    assert all(p.severity == "warning" and p.file.endswith("leases.csv") for p in probs)
    result = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "BIG can never be placed: needs 80 GPUs per replica in one pod" in out
    assert "FAST can never be placed: SLO 0.3 ms to P1 is below the fibre latency" in out
    assert "3 warnings" in out
