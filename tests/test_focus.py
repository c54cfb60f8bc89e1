"""The pod-level model's focused first search: leases confined to the LP's sites, then the whole model."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest

import planner
from planner.optimise.optimiser import Optimiser
from tests import exact
from tests.tiny import crowded, write


def _focused(tmp_path: Path, seed: int) -> tuple[planner.Scenario, planner.plan.Plan]:
    sc = planner.load_scenario(write(tmp_path, crowded(seed)))
    return sc, Optimiser(sc, time_limit_s=10).solve()


@pytest.mark.parametrize("seed", range(4))
def test_focused_then_whole_model_reaches_the_exact_optimum(tmp_path: Path, seed: int) -> None:
    sc, plan = _focused(tmp_path, seed)
    assert plan.check(sc) == []
    info = plan.meta["focus"]
    assert info is not None and info["fixed_site_choices"] > 0, "the LP left no site out: nothing was focused"
    assert info["rounds"] == 2
    assert info["value_usd"] <= plan.objective_usd + 1e-6
    best = exact.exact_milp(sc)
    assert plan.status == "OPTIMAL"
    assert plan.objective_usd == pytest.approx(best, abs=len(sc.workloads) * 2.0)
    # The focused search's own bound holds only for its part of the model: every bound
    # reported while it ran, and after, must still hold for the whole.
    assert (plan.progress["bound_usd"] >= best - 1e-6).all()
    assert (plan.progress["bound_usd"] >= plan.progress["objective_usd"]).all()
    # Never a worse plan reported (up to CP-SAT's rounding of revenue up and costs down, a few dollars a lease).
    assert (plan.progress["objective_usd"].diff().dropna() >= -len(sc.workloads) * 2.0).all()


def test_stop_during_the_focused_search_returns_its_plan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from planner.optimise.search import focus

    sc = planner.load_scenario(write(tmp_path, crowded(1)))
    opt = Optimiser(sc, time_limit_s=10)
    search = focus.run_search

    def stop_after_focus(*args: Any, **kw: Any) -> tuple[str, bool]:
        out = search(*args, **kw)
        opt.stop()  # as if Ctrl-C came just as the focused search ended
        return out

    monkeypatch.setattr(focus, "run_search", stop_after_focus)
    plan = opt.solve()
    assert plan.interrupted and plan.meta["solver_status"] == "UNKNOWN"
    assert plan.check(sc) == []
    assert plan.objective_usd >= plan.meta["focus"]["value_usd"] - 1e-6  # then polished, as every plan is
    assert plan.bound_usd >= exact.exact_milp(sc) - 1e-6
    assert plan.meta["bound_source"] == "lp relaxation"


def test_no_focus_without_an_lp_solution(tmp_path: Path) -> None:
    sc = planner.load_scenario(write(tmp_path, crowded(2)))
    plan = Optimiser(sc, time_limit_s=10, use_lp=False).solve()
    assert plan.meta["focus"] is None
    assert plan.check(sc) == [] and plan.status == "OPTIMAL"


def test_report_and_plan_json_carry_the_focused_search(tmp_path: Path) -> None:
    from planner.report import render_report

    sc, plan = _focused(tmp_path, 0)
    page = render_report(sc, plan)
    value = plan.meta["focus"]["value_usd"]
    assert "focused search" in page and f"${value:,.0f}" in page
    back = planner.plan.Plan.from_json(plan.to_json(), sc)
    assert back.meta["focus"] == plan.meta["focus"]


def test_confined_start_keeps_every_lease_at_its_sites(tmp_path: Path) -> None:
    from planner.optimise.heuristics.greedy import confined_start, greedy_pass, plan_value, price_order
    from planner.optimise.instance import build_instance
    from planner.optimise.residual import Residual

    sc = planner.load_scenario(write(tmp_path, crowded(3, n=12)))
    inst = build_instance(sc)
    fits, _, _ = greedy_pass(inst, price_order(inst))
    sa, sb = (inst.site_ids.index(s) for s in ("SA", "SB"))
    sites = {lo.lease: {sb} if k % 2 else {sa, sb} for k, lo in enumerate(inst.leases)}
    got = confined_start(inst, fits, sites)
    assert all(f.site in sites[lid] for lid, fs in got.items() for f in fs)
    kept = {lid for lid, fs in fits.items() if all(f.site in sites[lid] for f in fs)}
    assert kept <= set(got), "a lease already at its sites was dropped"
    res = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid, fs in got.items():
        assert res.holds(by_id[lid], fs), f"{lid} does not fit"
        res.apply(by_id[lid], fs)
    assert plan_value(inst, got) >= plan_value(inst, {k: fits[k] for k in kept}) - 1e-6


def test_the_progress_display_shows_only_bounds_that_hold_for_the_whole_model(tmp_path: Path) -> None:
    """The CLI's live bound comes from the plans and bounds the optimiser reports, nothing else (no log reading):
    a focused search's own bound, which holds for its part of the model only, never reaches it."""
    import io

    from rich.console import Console

    from planner.cli.console import PlanProgress

    sc = planner.load_scenario(write(tmp_path, crowded(0)))
    shown = PlanProgress(Console(file=io.StringIO(), width=120), time_limit_s=10, live=False)
    bounds: list[float] = []

    def on_progress(p: Any) -> None:
        shown.incumbent(p)
        assert shown.bound is not None
        bounds.append(shown.bound)

    opt = Optimiser(sc, time_limit_s=10, on_progress=on_progress)
    plan = opt.solve()
    assert len(opt.focus_rounds) == 2 and bounds  # the focused rounds ran, and progress was shown
    optimum = exact.exact_milp(sc)
    assert all(b >= optimum - 1e-6 for b in bounds), (bounds, optimum)
    assert all(later <= earlier + 1e-6 for earlier, later in itertools.pairwise(bounds))
    assert plan.check(sc) == []
