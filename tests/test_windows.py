"""Start windows: a lease with ``latest_start`` may start in any week from ``start_week`` to it.

The optimiser chooses the start (every method), the checker accepts only a start in the
window with the book's duration, the reasons name the starts tried, and bad windows are
input errors like any other.
"""

from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import planner
from planner.errors import ScenarioError
from planner.optimise.bounds.patterns import pattern_bound
from planner.optimise.bounds.pod_lp import lp_relaxation
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.instance import build_instance
from planner.optimise.model import build_model, segments
from planner.optimise.optimiser import optimise
from tests import exact
from tests.reasons_audit import audit_plan
from tests.tiny import base, lease, random_tiny, write


def load(tmp_path: Path, data: dict[str, Any]) -> planner.Scenario:
    return planner.load_scenario(write(tmp_path, data))


def late_room(periods: int = 8, busy_until: int = 3) -> dict[str, Any]:
    """One 100-GPU pod at SA, held whole by internal work in weeks 1..``busy_until``."""
    d = base()
    d["scenario"]["horizon"]["periods"] = periods
    d["pods"]["pods"] = [d["pods"]["pods"][0]]
    d["reservations"] = [{"pod": "A1", "start_week": 1, "end_week": busy_until, "gpus": 100}]
    return d


def windowed(lid: str = "W", **kw: Any) -> dict[str, Any]:
    """A 4-week, 100-GPU lease at SA that may start in weeks 1..5."""
    return lease(lid, 100, **({"price": 2.0, "start_week": 1, "end_week": 4, "latest_start": 5,
                               "allowed_sites": "SA"} | kw))


# --------------------------------------------------------------------------- the start is a decision
@pytest.mark.parametrize("method", ["cp-sat", "sites", "greedy"])
def test_a_lease_that_fits_only_later_starts_there(tmp_path: Path, method: str) -> None:
    """The pod is busy in weeks 1-3: the 4-week lease starts in week 4 (the earliest start that fits)."""
    sc = load(tmp_path, late_room() | {"leases": [windowed()]})
    plan = greedy(sc) if method == "greedy" else optimise(sc, time_limit_s=5,
                                                           method="sites" if method == "sites" else "pods")
    assert plan.check(sc) == []
    rows = plan.placements
    assert rows["lease"].tolist() == ["W"]
    assert (int(rows["start_week"].iat[0]), int(rows["end_week"].iat[0])) == (4, 7)
    assert plan.unplaced.empty
    assert plan.objective_usd == pytest.approx(2.0 * 100 * 4 * 100)  # price x GPUs x weeks x hours, no costs
    fixed = load(tmp_path / "fixed", late_room() | {"leases": [windowed(latest_start="")]})  # the same, no window
    plan = greedy(fixed) if method == "greedy" else optimise(fixed, time_limit_s=5,
                                                             method="sites" if method == "sites" else "pods")
    assert plan.placements.empty and "tried" not in str(plan.unplaced.set_index("lease").at["W", "reason"])


def test_two_windowed_leases_share_one_pod_in_turn(tmp_path: Path) -> None:
    """Two 3-week leases on one free pod over 6 weeks: only staggered starts carry both (one at 1, one at 4)."""
    d = late_room(periods=6, busy_until=0)
    d["reservations"] = []
    d["leases"] = [lease("A", 100, price=2.0, start_week=1, end_week=3, latest_start=4, allowed_sites="SA"),
                   lease("B", 100, price=1.5, start_week=1, end_week=3, latest_start=4, allowed_sites="SA")]
    sc = load(tmp_path, d)
    for plan in (optimise(sc, time_limit_s=5), greedy(sc)):
        assert plan.check(sc) == []
        starts = dict(zip(plan.placements["lease"], plan.placements["start_week"], strict=True))
        assert sorted(starts) == ["A", "B"] and sorted(starts.values()) == [1, 4]


def test_segments_cut_at_every_candidate_term(tmp_path: Path) -> None:
    sc = load(tmp_path, late_room() | {"leases": [windowed()]})
    inst = build_instance(sc)
    opts = [lo for lo in inst.leases if lo.group == "W"]
    assert [(lo.lease, lo.t0, lo.t1) for lo in opts] == [(f"W@{s}", s - 1, s + 2) for s in range(1, 6)]
    cuts = segments(np.array([lo.t0 for lo in opts]), np.array([lo.t1 for lo in opts]), 8)
    assert [a for a, _ in cuts] == list(range(8))
    m = build_model(inst)
    assert m.n_constraints["start_window"] == 1  # at most one start of W


# --------------------------------------------------------------------------- the checker
def test_the_checker_rejects_a_start_outside_the_window_and_a_changed_duration(tmp_path: Path) -> None:
    sc = load(tmp_path, late_room() | {"leases": [windowed()]})
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    late = dataclasses.replace(plan, placements=plan.placements.assign(start_week=6, end_week=9))
    assert any("starts in week 6, outside its start window 1-5" in v for v in late.check(sc))
    short = dataclasses.replace(plan, placements=plan.placements.assign(end_week=6))
    assert any("term 4-6 runs 3 weeks, the lease 4" in v for v in short.check(sc))


def test_the_checker_still_holds_a_fixed_term_to_the_book(tmp_path: Path) -> None:
    d = late_room(busy_until=0)
    d["reservations"] = []
    d["leases"] = [lease("F", 100, start_week=1, end_week=4, allowed_sites="SA")]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=5)
    moved = dataclasses.replace(plan, placements=plan.placements.assign(start_week=2, end_week=5))
    assert any("term 2-5 differs from the lease's 1-4" in v for v in moved.check(sc))


# --------------------------------------------------------------------------- exact optima
def random_windows(seed: int, n: int = 5) -> dict[str, Any]:
    """:func:`tests.tiny.random_tiny` over 6 weeks, a window of one or two weeks on some of its leases."""
    rng = np.random.default_rng(1000 + seed)
    d = random_tiny(seed, n)
    d["scenario"]["horizon"]["periods"] = 6
    for row in d["leases"][1:]:
        slack = 6 - int(row["end_week"])
        if rng.random() < 0.7:
            row["latest_start"] = int(row["start_week"]) + int(rng.integers(1, min(slack, 2) + 1))
    d["reservations"].append({"pod": "B1", "start_week": 1, "end_week": 3, "gpus": int(rng.integers(80, 200))})
    return d


def exact_with_windows(sc: planner.Scenario) -> float:
    """The exact optimum, enumerating every combination of starts (each a fixed-term exact MIP)."""
    wl = sc.workloads
    windowed = [lid for lid in wl.index if int(wl.at[lid, "latest_start"]) > int(wl.at[lid, "start_week"])]
    choices = [range(int(wl.at[lid, "start_week"]), int(wl.at[lid, "latest_start"]) + 1) for lid in windowed]
    best = -float("inf")
    for starts in itertools.product(*choices):
        fixed = wl.copy()
        for lid, s in zip(windowed, starts, strict=True):
            length = int(wl.at[lid, "end_week"]) - int(wl.at[lid, "start_week"])
            fixed.loc[lid, ["start_week", "end_week", "latest_start"]] = [s, s + length, s]
        best = max(best, exact.exact_split_milp(dataclasses.replace(sc, workloads=fixed)))
    return best


@pytest.mark.parametrize("seed", range(4))
def test_exact_optimum_with_windows(tmp_path: Path, seed: int) -> None:
    """CP-SAT's optimum is the exact one (every start enumerated); greedy is no better; every bound is at least it."""
    sc = load(tmp_path, random_windows(seed))
    assert (sc.workloads["latest_start"] > sc.workloads["start_week"]).sum() >= 2
    best = exact_with_windows(sc)
    exact.cross_check(sc, best)


def test_the_windows_are_worth_something(tmp_path: Path) -> None:
    """The cross-check means something: in these cases choosing the start earns more than the book's first start."""
    gained = 0
    for seed in range(4):
        d = random_windows(seed)
        with_windows = exact_with_windows(load(tmp_path / str(seed), d))
        for row in d["leases"]:
            row.pop("latest_start", None)
        gained += with_windows > exact.exact_split_milp(load(tmp_path / f"{seed}-fixed", d)) + 1
    assert gained >= 2


# --------------------------------------------------------------------------- reasons
def test_the_reason_names_the_start_weeks_tried(tmp_path: Path) -> None:
    """Busy through week 5: no start of 1..5 leaves the pod free for 4 weeks; the reason says so, fixes re-fit."""
    sc = load(tmp_path, late_room(busy_until=5) | {"leases": [windowed()]})
    for plan in (greedy(sc), optimise(sc, time_limit_s=5)):
        assert plan.check(sc) == []
        row = plan.unplaced.set_index("lease").loc["W"]
        assert "tried starting in weeks 1-5" in row["reason"], row["reason"]
        assert "4 weeks each" in row["reason"]
        assert (int(row["start_week"]), int(row["end_week"])) == (1, 4)
        au = audit_plan(sc, plan)
        assert au.false_rows == [] and au.verified == au.fixes >= 1


def test_a_crowded_out_windowed_lease_names_who_holds_its_room(tmp_path: Path) -> None:
    """A dearer fixed lease holds the pod in weeks 2-5: no 4-week start in 1..2 fits beside it."""
    d = late_room(busy_until=0)
    d["reservations"] = []
    d["leases"] = [windowed(price=1.0, latest_start=2), lease("RICH", 100, price=5.0, start_week=2, end_week=5,
                                                              allowed_sites="SA")]
    sc = load(tmp_path, d)
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == [] and plan.placements["lease"].tolist() == ["RICH"]
    row = plan.unplaced.set_index("lease").loc["W"]
    assert "tried starting in weeks 1-2" in row["reason"] and row["crowded_out_by"] == ("RICH",)
    au = audit_plan(sc, plan)
    assert au.false_rows == [] and au.verified == au.fixes >= 1


# --------------------------------------------------------------------------- validation
def test_bad_windows_are_reported_at_once(tmp_path: Path) -> None:
    d = late_room()
    d["leases"] = [windowed("EARLY", start_week=3, end_week=4, latest_start=2),
                   windowed("LONG", start_week=1, end_week=6, latest_start=4),
                   windowed("INT", priority="internal", price=0, latest_start=2),
                   windowed("OK")]
    with pytest.raises(ScenarioError) as info:
        load(tmp_path, d)
    got = {(Path(p.file).name, p.where, p.field, p.value) for p in info.value.problems if p.severity == "error"}
    assert got == {("leases.csv", "line 2 (lease EARLY)", "latest_start", "2"),
                   ("leases.csv", "line 3 (lease LONG)", "latest_start", "4"),
                   ("leases.csv", "line 4 (lease INT)", "latest_start", "2")}
    text = str(info.value)
    assert "make latest_start >= start_week" in text
    assert "would end in week 9, past the horizon of 8 weeks" in text and "at most 3" in text
    assert "internal work has a fixed term" in text


def test_the_schema_documents_latest_start() -> None:
    prop = planner.schema.json_schema("lease-row")["properties"]["latest_start"]
    assert "start_week..latest_start" in prop["description"]


def test_the_report_shows_the_chosen_start_and_the_window(tmp_path: Path) -> None:
    from planner.report.leasebook import lease_book, lease_book_section

    sc = load(tmp_path, late_room() | {"leases": [windowed()]})
    plan = optimise(sc, time_limit_s=5)
    row = lease_book(sc, plan).set_index("lease").loc["W"]
    assert (row["start_week"], row["end_week"], row["latest_start"]) == (4, 7, 5)
    assert 'title="weeks 4–7 (may start in weeks 1–5, this start chosen)"' in lease_book_section(sc, plan)


def test_the_bounds_count_a_windowed_lease_once(tmp_path: Path) -> None:
    """On an empty pod every start fits: each relaxation counts the lease once (at most one start), not five times."""
    d = late_room(busy_until=0)
    d["reservations"] = []
    d["leases"] = [windowed()]
    sc = load(tmp_path, d)
    revenue = float(sc.workloads.at["W", "revenue_usd"])
    inst = build_instance(sc)
    assert len([lo for lo in inst.leases if lo.group == "W"]) == 5
    bounds = {"lp": lp_relaxation(build_model(inst).cp).objective,
              "site lp": site_relaxation(inst).bound_usd,
              "patterns": pattern_bound(inst, time_limit_s=30).bound_usd,
              "cp-sat": optimise(sc, time_limit_s=5).bound_usd}
    assert all(revenue - 1e-6 <= b <= revenue + 1 for b in bounds.values()), (revenue, bounds)


def test_a_derate_curtails_a_windowed_lease_with_the_term_the_plan_chose(tmp_path: Path) -> None:
    """W starts in week 4 (weeks 4-7); SA's power cut in weeks 5-6 curtails it: the table says weeks 4-7, not 1-4."""
    from planner.whatif.derate import derate

    sc = load(tmp_path, late_room() | {"leases": [windowed()]})
    plan = optimise(sc, time_limit_s=5)
    assert plan.placements["start_week"].tolist() == [4]
    r = derate(sc, plan, "SA", 100, (5, 6), time_limit_s=5)
    assert r.violations == []
    (row,) = r.curtailed.to_dict("records")
    assert (row["lease"], row["start_week"], row["end_week"]) == ("W", 4, 7)
