"""Progress that never goes backwards: the best value reported never falls, the bound never rises, and the plan
returned (also after a stop) is worth at least every value reported; the report's chart draws exactly that."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import planner
from planner.optimise.optimiser import Method, Optimiser, Progress
from planner.plan import Plan
from tests.tiny import crowded, random_tiny, write

CENT = 0.01


def _solve(sc: planner.Scenario, *, stop_after: int | None = None, **kw: object) -> tuple[Plan, list[Progress]]:
    """Solve ``sc``, collecting every report; with ``stop_after``, stop as the ``stop_after``-th report arrives."""
    seen: list[Progress] = []
    opt = Optimiser(sc, **kw)  # type: ignore[arg-type]

    def collect(p: Progress) -> None:
        seen.append(p)
        if stop_after is not None and len(seen) == stop_after:
            opt.stop()

    opt.on_progress = collect
    return opt.solve(), seen


def _assert_never_backwards(plan: Plan, seen: list[Progress]) -> None:
    assert seen, "nothing was reported"
    obj = np.array([p.objective_usd for p in seen])
    bound = np.array([p.bound_usd for p in seen])
    assert (np.diff(obj) >= 0).all(), f"the best value fell: {obj}"
    assert (np.diff(bound) <= 0).all(), f"the bound rose: {bound}"
    assert (bound >= obj).all()
    assert plan.objective_usd >= obj.max() - CENT, "the plan is worth less than a value reported"
    assert plan.bound_usd <= bound.min() + CENT, "the plan's bound is looser than one reported"
    # progress.csv is exactly what was reported, and its last row is the plan written
    reported = pd.DataFrame([p.__dict__ for p in seen], columns=["wall_s", "objective_usd", "bound_usd", "gap"])
    pd.testing.assert_frame_equal(plan.progress.reset_index(drop=True), reported)
    assert plan.progress["objective_usd"].iloc[-1] == pytest.approx(plan.objective_usd, abs=CENT)
    assert plan.progress["bound_usd"].iloc[-1] == pytest.approx(plan.bound_usd, abs=CENT)


@pytest.mark.parametrize("seed", range(4))
def test_focused_search_never_reports_backwards(tmp_path: Path, seed: int) -> None:
    """Warm start, two focused rounds (whose first plans can be worse, whose bounds do not hold), the whole model."""
    sc = planner.load_scenario(write(tmp_path, crowded(seed, n=12)))
    plan, seen = _solve(sc, time_limit_s=5)
    assert plan.meta["focus"] is not None
    _assert_never_backwards(plan, seen)
    assert plan.check(sc) == []


@pytest.mark.parametrize("seed", range(3))
def test_whole_model_never_reports_backwards(tmp_path: Path, seed: int) -> None:
    """Without an LP: the sum-of-revenues bound first, then CP-SAT's (its first bound can be looser)."""
    sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 8)))
    plan, seen = _solve(sc, time_limit_s=5, use_lp=False)
    _assert_never_backwards(plan, seen)


@pytest.mark.parametrize("method", ["pods", "sites"])
def test_generated_tier_never_reports_backwards(small: planner.Scenario, method: Method) -> None:
    plan, seen = _solve(small, time_limit_s=4, method=method)
    _assert_never_backwards(plan, seen)
    assert plan.check(small) == []


@pytest.mark.parametrize("stop_after", [1, 2, 3, 5, 8])
def test_a_stopped_solve_returns_the_best_plan_reported(tmp_path: Path, stop_after: int) -> None:
    """Stopped (as by Ctrl-C) after any report: during the warm start, a focused round or the whole model."""
    sc = planner.load_scenario(write(tmp_path, crowded(1, n=12)))
    plan, seen = _solve(sc, time_limit_s=5, stop_after=stop_after)
    assert plan.interrupted or len(seen) <= stop_after, "stopped before the end, yet not marked interrupted"
    _assert_never_backwards(plan, seen)
    assert plan.check(sc) == []


@pytest.mark.parametrize(("method", "stop_after"), [("pods", 2), ("sites", 2), ("sites", 3)])
def test_a_stopped_generated_solve_returns_the_best_plan_reported(small: planner.Scenario, method: Method,
                                                                   stop_after: int) -> None:
    plan, seen = _solve(small, time_limit_s=4, method=method, stop_after=stop_after)
    assert plan.interrupted or len(seen) <= stop_after, "stopped before the end, yet not marked interrupted"
    _assert_never_backwards(plan, seen)
    assert plan.check(small) == []


def test_the_report_chart_draws_exactly_the_progress(tmp_path: Path) -> None:
    from planner.report import charts

    sc = planner.load_scenario(write(tmp_path, crowded(0, n=12)))
    plan, _ = _solve(sc, time_limit_s=5)
    fig = charts.progress_figure(plan)
    lines = {ln.get_label(): ln for ln in fig.axes[0].get_lines()}
    obj = np.asarray(lines["objective (net value)"].get_ydata(), dtype=float)
    bound = np.asarray(lines["bound"].get_ydata(), dtype=float)
    rows = plan.progress
    # every row, then the last one drawn on to the end of the solve: nothing the table does not hold
    np.testing.assert_array_equal(obj, [*rows["objective_usd"], rows["objective_usd"].iloc[-1]])
    np.testing.assert_array_equal(bound, [*rows["bound_usd"], rows["bound_usd"].iloc[-1]])
    assert obj[-1] == pytest.approx(plan.objective_usd, abs=CENT)
    assert bound[-1] == pytest.approx(plan.bound_usd, abs=CENT)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> planner.Scenario:
    from planner.generate import generate

    return planner.load_scenario(generate("small", 1, tmp_path_factory.mktemp("small")))
