"""A deterministic solve gives the same plan on a loaded machine: no step stops on the wall clock.

How many deterministic seconds CP-SAT does per wall second depends on the load
(0.04-0.3 on a 2-core machine, by how busy it is), so any
wall-clock cap near the limit (CP-SAT's, the polish's, the neighbourhood search's)
fires at a point that depends on the load. These tests solve the reference scenario
twice, the second time beside one CPU-burning process per core, and compare the plans.
They solve the reference with every third lease (:mod:`tests.reference_cut`, 143 of
its 400 rows): big enough that no step proves its optimum before its counted work runs
out (the focused rounds end FEASIBLE, the neighbourhood search tries and improves
neighbourhoods), a fraction of the whole reference's minutes per solve.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

import planner
from planner.optimise.optimiser import Method, optimise
from planner.plan import Plan
from tests.reference_cut import write_cut_reference
from tests.tiny import crowded, write

LIMIT_S = 2.0
"""Deterministic seconds: a few wall seconds per step on the cut reference, so that a wall-clock cap at twice a
step's share (as the planner once had) fires beside the burners."""


@contextmanager
def cpu_burners(n: int | None = None) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``n`` processes (default: one per core) spinning in a loop for as long as the block runs."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n or os.cpu_count() or 1)]
    try:
        yield procs
    finally:
        for p in procs:
            p.kill()
            p.wait()


def _same_plan(a: Plan, b: Plan) -> None:
    assert not a.meta["safety_stop"] and not b.meta["safety_stop"], (a.meta["safety_stops"],
                                                                     b.meta["safety_stops"])
    pd.testing.assert_frame_equal(a.placements, b.placements)
    assert a.objective_usd == b.objective_usd
    assert a.bound_usd == b.bound_usd
    # the progress ends at the same plan and bound (the plans on the way may differ in number: CP-SAT hands its
    # interleaved searches' solutions to the callback as they are published, so a loaded run can skip some)
    cols = ["objective_usd", "bound_usd"]
    assert a.progress[cols].iloc[-1].tolist() == b.progress[cols].iloc[-1].tolist()


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> planner.Scenario:
    return planner.load_scenario(write_cut_reference(tmp_path_factory.mktemp("reference-cut-3"), 3))


@pytest.mark.slow
@pytest.mark.parametrize("method", ["pods", "sites"])
def test_same_plan_beside_cpu_burners(reference: planner.Scenario, method: Method) -> None:
    quiet = optimise(reference, time_limit_s=LIMIT_S, method=method, explain=False)
    with cpu_burners() as burners:
        loaded = optimise(reference, time_limit_s=LIMIT_S, method=method, explain=False)
        assert all(p.poll() is None for p in burners), "a CPU burner died: the second solve was not under load"
    _same_plan(quiet, loaded)
    assert quiet.meta["method"] == method
    if method == "sites":  # the neighbourhood search did the same work, whatever the wall clock said
        assert quiet.meta["lns"]["deterministic_s"] == loaded.meta["lns"]["deterministic_s"]
        assert quiet.meta["lns"]["tried"] == loaded.meta["lns"]["tried"] > 0
        assert quiet.meta["lns"]["improved"] > 0  # the search ran on a plan it could still improve
    else:
        assert quiet.meta["focus"]["rounds"] == 2
        assert quiet.meta["focus"]["status"] == "FEASIBLE"  # stopped by its counted work, not by an optimum


def test_the_safety_stop_is_recorded_in_plan_json_and_the_report(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """With the wall-clock safety stop at once, the steps it cuts short are named, and the plan says so."""
    from planner.optimise import budget
    from planner.report import render_report

    sc = planner.load_scenario(write(tmp_path, crowded(0, n=12)))
    monkeypatch.setattr(budget, "SAFETY_FACTOR", 0.0)
    monkeypatch.setattr(budget, "SAFETY_EXTRA_S", 0.0)
    monkeypatch.setattr(budget, "MIN_WALL_S", 0.0)  # every step has no wall time left
    plan = optimise(sc, time_limit_s=5)
    assert plan.check(sc) == []
    assert plan.meta["safety_stop"] is True and plan.meta["safety_limit_s"] == 0.0
    steps = [s["step"] for s in plan.meta["safety_stops"]]
    assert "whole model" in steps, steps
    back = Plan.from_json(plan.to_json(), sc)
    assert back.meta["safety_stops"] == plan.meta["safety_stops"]
    page = render_report(sc, plan)
    assert "safety stop" in page and "whole model" in page


def test_no_safety_stop_in_an_ordinary_deterministic_solve(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, crowded(0, n=12)))
    plan = optimise(sc, time_limit_s=5)
    assert plan.meta["safety_stop"] is False and plan.meta["safety_stops"] == []
    assert plan.meta["safety_limit_s"] == pytest.approx(30 * 5 + 300)
