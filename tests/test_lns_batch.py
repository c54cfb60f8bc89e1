"""The neighbourhood search in batches: limits kept, conflicts refused, the same plan on a Dask cluster."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import planner
from planner.cli import app
from planner.generate import generate
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
from planner.optimise.instance import build_instance
from planner.optimise.optimiser import optimise
from planner.optimise.residual import Residual
from planner.optimise.search.lns import _assemble, _merged, _Picker, neighbourhoods, pool_lns
from planner.optimise.search.tasks import SubTask, sub_solver
from planner.whatif.distributed import local_cluster

LEDGERS = ("gpu", "uplink", "power", "link", "agg", "gpu_worst", "power_worst")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> planner.Scenario:
    return planner.load_scenario(generate("small", 1, tmp_path_factory.mktemp("small")))


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes on 127.0.0.1, one thread each; closed after the module."""
    with local_cluster(n_workers=2) as c:
        yield c


@pytest.mark.parametrize("batch", [1, 4])
def test_batched_search_keeps_every_limit_and_never_loses_value(small: planner.Scenario, batch: int) -> None:
    inst = build_instance(small)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    before = plan_value(inst, fits)
    seen: list[float] = []
    better, left, stats = pool_lns(inst, fits, res, budget_s=4, seed=1, batch=batch,
                                   on_improve=lambda f, v: seen.append(v))
    assert plan_value(inst, better) >= before and seen == sorted(seen)
    assert stats.batches > 0 and stats.batches <= stats.tried <= batch * stats.batches
    # each sub-solve's limit is what is left; CP-SAT may stop a little after its deterministic limit
    assert stats.improved == len(seen) and stats.deterministic_s <= 4 * 1.05
    again = Residual.after(inst, better)  # every capacity recomputed from the plan's own fits
    for ledger in LEDGERS:
        a, b = getattr(again, ledger), getattr(left, ledger)
        np.testing.assert_allclose(a, b, atol=1e-6)
        base = getattr(Residual(inst), ledger)
        assert not ((a < -1e-6) & (a < base - 1e-6)).any(), ledger  # no week the plan overloads


def test_a_batch_holds_neighbourhoods_on_disjoint_pods_offering_each_lease_once(small: planner.Scenario) -> None:
    inst = build_instance(small)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    by_id = {lo.lease: lo for lo in inst.leases}
    pick = _Picker()
    rng = np.random.default_rng(0)
    chosen, tried, _ = _assemble(inst, fits, res, pick, lambda: neighbourhoods(inst, fits, res, rng), by_id, None, 6)
    assert len(chosen) >= 2 and tried >= len(chosen)
    pods = [p for nb, _, _ in chosen for p in nb.pods]
    assert len(pods) == len(set(pods))
    groups = [lo.group for _, leases, _ in chosen for lo in leases]
    assert len(groups) == len(set(groups))
    for nb, leases, _ in chosen:  # freed leases lie wholly on the neighbourhood's pods
        on = set(nb.pods)
        assert all(p in on for lo in leases if lo.lease in fits for f in fits[lo.lease] for p, _ in f.parts)


def test_a_swap_that_overloads_a_shared_capacity_is_refused(small: planner.Scenario) -> None:
    inst = build_instance(small)
    fits, _, _ = greedy_pass(inst, price_order(inst))
    by_id = {lo.lease: lo for lo in inst.leases}
    lid = next(k for k, fs in fits.items() if not by_id[k].internal and fs)
    lo, new = by_id[lid], {lid: fits[lid]}
    rest = Residual.after(inst, {k: f for k, f in fits.items() if k != lid})
    assert _merged(rest, {}, new, by_id, check=True) is not None
    short = rest.copy()
    site = fits[lid][0].site
    short.power[site, lo.t0] = 0  # an earlier result of the batch took the site's power that week
    assert _merged(short, {}, new, by_id, check=True) is None
    assert _merged(short, {}, new, by_id, check=False) is not None  # the batch's first result is trusted
    assert _merged(short, new, new, by_id, check=True) is not None  # giving back what it takes again: no change


def test_the_site_method_on_a_dask_cluster_gives_the_in_process_plan(small: planner.Scenario, cluster: Any) -> None:
    here = optimise(small, time_limit_s=6, method="sites", explain=False)
    there = optimise(small, time_limit_s=6, method="sites", explain=False, scheduler=cluster.scheduler_address)
    assert here.meta["lns"]["batches"] > 0 and here.meta["lns"]["tried"] > 1
    assert there.check(small) == []
    assert there.objective_usd == here.objective_usd
    cols = ["lease", "replica", "site", "pod", "gpus"]
    pd.testing.assert_frame_equal(there.placements[cols], here.placements[cols])
    clocked = ("wall_s", "build_s", "task_s")  # wall seconds; every count and the value gained must agree
    assert {k: v for k, v in there.meta["lns"].items() if k not in clocked} == \
        {k: v for k, v in here.meta["lns"].items() if k not in clocked}


def test_sub_solves_side_by_side_give_the_plan_of_one_after_another(small: planner.Scenario) -> None:
    inst = build_instance(small)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    runs = [pool_lns(inst, fits, res.copy(), budget_s=4, seed=3, batch=4, workers=w) for w in (1, 2)]
    (one, left_one, s1), (two, left_two, s2) = runs
    assert s1.tried > 1 and s1.batches < s1.tried  # batches of several sub-solves ran
    assert plan_value(inst, two) == plan_value(inst, one) > plan_value(inst, fits)
    assert two == one  # every replica on the same pods, GPUs and weeks
    for ledger in LEDGERS:
        np.testing.assert_array_equal(getattr(left_two, ledger), getattr(left_one, ledger))
    clocked = ("wall_s", "build_s", "task_s")
    assert {k: v for k, v in vars(s2).items() if k not in clocked} == \
        {k: v for k, v in vars(s1).items() if k not in clocked}


def test_plan_on_a_scheduler_that_does_not_answer_fails_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(app, ["plan", "--scheduler", "tcp://127.0.0.1:1", "--out", str(out)])
    assert res.exit_code == 2, res.output
    assert "cannot connect to the Dask scheduler at tcp://127.0.0.1:1" in res.output
    assert "dask scheduler" in res.output and "Traceback" not in res.output
    assert not out.exists()


def test_plan_cli_on_a_cluster_writes_the_in_process_plan(small: planner.Scenario, cluster: Any, tmp_path: Path
                                                          ) -> None:
    args = ["plan", str(small.path), "--model", "sites", "--time-limit", "4", "--batch", "3"]
    a = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "here")])
    b = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "there"), "--scheduler", cluster.scheduler_address])
    assert a.exit_code == 0 and b.exit_code == 0, a.output + b.output
    here = pd.read_csv(tmp_path / "here" / "placements.csv")
    there = pd.read_csv(tmp_path / "there" / "placements.csv")
    pd.testing.assert_frame_equal(there, here)


def test_pattern_rounds_tighten_the_site_method_bound_and_stay_true(small: planner.Scenario, cluster: Any) -> None:
    exact = optimise(small, time_limit_s=20, method="pods", explain=False)
    assert exact.status == "OPTIMAL"
    plain = optimise(small, time_limit_s=2, method="sites", explain=False)
    tight = optimise(small, time_limit_s=2, method="sites", explain=False, pattern_rounds=2)
    there = optimise(small, time_limit_s=2, method="sites", explain=False, pattern_rounds=2,
                     scheduler=cluster.scheduler_address)
    pb = tight.meta["pattern_bound"]
    assert plain.meta["pattern_bound"] is None and pb["rounds"] == 2
    assert tight.bound_usd == min(plain.bound_usd, pb["bound_usd"])
    assert tight.bound_usd >= exact.objective_usd - 1e-6  # a true bound: no plan is worth more
    assert tight.check(small) == [] and there.check(small) == []
    mp = pb["master_plan"]  # a plan from the patterns' master, kept only when better than the search's
    assert mp["used"] == (mp["value_usd"] > plain.objective_usd + 1e-6)
    assert tight.objective_usd == pytest.approx(max(plain.objective_usd, mp["value_usd"]), abs=1e-3)
    assert there.meta["pattern_bound"] == {**pb, "wall_s": there.meta["pattern_bound"]["wall_s"]}
    # here the site relaxation with the span=site leases whole is tighter (the patterns keep them continuous)
    assert pb["bound_usd"] > plain.bound_usd and tight.meta["bound_source"] == plain.meta["bound_source"]


def test_sub_solves_skip_the_big_overlap_presolve_unless_the_caller_asks_for_it(small: planner.Scenario) -> None:
    """Its deterministic time stopped big sub-solves in their presolve, without even the hint (see sub_solver)."""
    task = SubTask(build_instance(small), {}, workers=1, seed=0, parameters=None, deterministic=True,
                   limit_s=0.5, deadline=0.0)
    assert sub_solver(task, 60.0).parameters.find_big_linear_overlap is False
    own = dataclasses.replace(task, parameters={"find_big_linear_overlap": True, "interleave_search": True})
    assert sub_solver(own, 60.0).parameters.find_big_linear_overlap is True
    assert sub_solver(own, 60.0).parameters.interleave_search is True
