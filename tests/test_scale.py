"""The site-level method for big instances.

Its relaxation is a true bound, its plans keep every limit, and on small cases it
reaches the optimum of the pod-level model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import planner
from planner.generate import generate
from planner.optimise.bounds.site_lp import site_relaxation
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
from planner.optimise.heuristics.polish import polish
from planner.optimise.instance import build_instance
from planner.optimise.optimiser import POD_MODEL_MAX_PAIRS, Method, Optimiser, optimise
from planner.optimise.residual import Residual
from planner.optimise.search.lns import Neighbourhood, _freed, _Picker, pool_lns, sub_instance
from tests import exact
from tests.tiny import random_tiny, write


@pytest.mark.parametrize("seed", range(6))
def test_site_relaxation_bounds_the_exact_optimum(tmp_path: Path, seed: int) -> None:
    sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 6)))
    rel = site_relaxation(build_instance(sc))
    assert rel.status == "OPTIMAL"
    best = exact.exact_milp(sc)
    assert rel.bound_usd >= best - 1e-6
    pooled = site_relaxation(build_instance(sc), block_weeks=2)  # averaged weeks: looser, still a bound
    assert pooled.bound_usd >= rel.bound_usd - 1e-6


def test_site_relaxation_pools_halls_while_their_weekly_rows_fit(small: planner.Scenario) -> None:
    from planner.optimise.bounds import site_lp
    from planner.optimise.instance import usable_pods

    inst = build_instance(small)
    where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
    halls, sites = (site_lp.weekly_nonzeros(site_lp.relaxation_columns(inst, where, k).cols, 1)
                    for k in ("hall", "site"))
    assert sites < halls  # hall pools: more columns, the same weeks
    rel = site_relaxation(inst, max_nonzeros=halls)
    assert (rel.pooling, rel.block_weeks) == ("hall", 1)
    assert rel.bound_usd == pytest.approx(site_relaxation(inst, pooling="hall", block_weeks=1).bound_usd)
    rel = site_relaxation(inst, max_nonzeros=halls - 1)  # halls would need blocks: sites, weekly
    assert (rel.pooling, rel.block_weeks) == ("site", 1)
    assert rel.bound_usd == pytest.approx(site_relaxation(inst, pooling="site", block_weeks=1).bound_usd)
    assert site_relaxation(inst, max_nonzeros=sites - 1).block_weeks > 1  # sites too: weeks pooled in blocks


@pytest.mark.parametrize("seed", range(6))
def test_site_method_reaches_the_exact_optimum_on_tiny_cases(tmp_path: Path, seed: int) -> None:
    sc = planner.load_scenario(write(tmp_path, random_tiny(seed, 6)))
    plan = optimise(sc, time_limit_s=5, method="sites")
    assert plan.meta["method"] == "sites"
    assert plan.check(sc) == []
    best = exact.exact_milp(sc)
    assert plan.objective_usd == pytest.approx(best, abs=len(sc.workloads) * 2.0)
    assert plan.bound_usd >= best - 1e-6


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> planner.Scenario:
    return planner.load_scenario(generate("small", 1, tmp_path_factory.mktemp("small")))


def test_site_method_on_a_generated_tier_matches_the_pod_model(small: planner.Scenario) -> None:
    pods = optimise(small, time_limit_s=20, method="pods")
    sites = optimise(small, time_limit_s=20, method="sites")
    assert pods.status == "OPTIMAL"
    for plan in (pods, sites):
        assert plan.check(small) == []
        assert plan.bound_usd >= pods.objective_usd - 1e-6
    # the LP splits span=site leases here: the bound is the site relaxation with them whole (a MIP)
    assert sites.meta["bound_source"] == "site relaxation, whole span=hall/site leases"
    assert sites.objective_usd == pytest.approx(pods.objective_usd, rel=1e-6)


def test_neighbourhood_search_never_loses_value_and_keeps_every_limit(small: planner.Scenario) -> None:
    inst = build_instance(small)
    fits, res, _ = greedy_pass(inst, price_order(inst))
    before = plan_value(inst, fits)
    seen: list[float] = []
    better, left, stats = pool_lns(inst, fits, res, budget_s=3, seed=2, on_improve=lambda f, v: seen.append(v))
    assert plan_value(inst, better) >= before
    assert seen == sorted(seen)
    assert stats.tried > 0 and stats.improved == len(seen)
    again = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid, f in better.items():
        again.apply(by_id[lid], f)
    for a, b in ((again.gpu, left.gpu), (again.power, left.power), (again.link, left.link)):
        assert (a == b).all() and (a >= 0).all()


def test_auto_picks_the_method_by_size(small: planner.Scenario) -> None:
    opt = Optimiser(small, time_limit_s=1)
    opt.build()
    assert opt.method_used == "pods" and opt.model is not None
    assert 0 < opt.pairs <= POD_MODEL_MAX_PAIRS


@pytest.mark.parametrize("method", ["sites", "pods"])
def test_solve_after_build_starts_warm_once(small: planner.Scenario, monkeypatch: pytest.MonkeyPatch,
                                            method: Method) -> None:
    # ``planner plan`` builds, then solves: the warm start (greedy, LP, polish) must not run again in the solve,
    # nor the progress start over from the first greedy plan
    from planner.optimise import optimiser as module

    calls: list[str] = []
    real = module.warm_start

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(method)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, "warm_start", counted)
    seen: list[float] = []
    opt = Optimiser(small, time_limit_s=1, method=method, explain=False, on_progress=lambda p: seen.append(p.wall_s))
    m = opt.build()
    assert (m is None) == (method == "sites")
    built = len(seen)
    plan = opt.solve()
    assert calls == [method]
    assert seen == sorted(seen) and built >= 1  # one clock from the build on: no second, restarted history
    assert plan.check(small) == []


@pytest.mark.slow
@pytest.mark.parametrize("tier", ["medium", "large", "hyperscale"])
def test_every_generated_tier_plans_and_its_plan_keeps_every_limit(tmp_path: Path, tier: str) -> None:
    sc = planner.load_scenario(generate(tier, 1, tmp_path))
    plan = optimise(sc, time_limit_s=10, explain=tier == "medium")
    assert plan.meta["method"] == "sites"
    assert plan.check(sc) == []
    assert plan.meta["bound_source"] == "site lp relaxation"
    assert plan.bound_usd >= plan.objective_usd >= planner.greedy(sc, explain=False).objective_usd
    if tier == "medium":
        assert plan.unplaced["reason"].str.len().gt(0).all()


@pytest.mark.parametrize("method", ["pods", "sites"])
def test_stop_during_the_warm_start_returns_its_plan(small: planner.Scenario, method: Method) -> None:
    opt = Optimiser(small, time_limit_s=30, method=method)
    opt.on_progress = lambda p: opt.stop()  # Ctrl-C as soon as the first plan is reported
    plan = opt.solve()
    assert opt.has_plan and plan.interrupted
    assert plan.check(small) == []
    assert plan.objective_usd >= plan.progress["objective_usd"].iloc[0] - 1e-6


def _labels(pick: _Picker, n: int, *, any_queued: bool = False) -> list[str | None]:
    """The labels of the next ``n`` neighbourhoods the picker hands out (``None`` when it has none)."""
    out: list[str | None] = []
    for _ in range(n):
        nb = pick.next(any_queued=any_queued)
        out.append(None if nb is None else nb.label)
    return out


def test_neighbourhood_picker_follows_the_kind_that_pays() -> None:
    pick = _Picker()
    nbs = [Neighbourhood((k,), f"{kind} {k}", kind) for kind in ("room", "spanning", "pods") for k in range(3)]
    pick.refill(nbs)
    first = []
    for gain in (0.0, 5.0, 1.0):  # every kind once, in KINDS order, the last of each queue first
        nb = pick.next()
        assert nb is not None
        first.append(nb.label)
        pick.record(nb.kind, gain, 1.0)
    assert first == ["spanning 2", "pods 2", "room 2"]
    assert _labels(pick, 3) == ["pods 1", "pods 0", None]  # the paying kind, until it runs dry: a fresh round
    assert _labels(pick, 1, any_queued=True) == ["room 1"]  # the best kind still queued
    pick.refill([Neighbourhood((9,), "pods 9", "pods")])  # empty kinds refilled, "spanning" keeps its queue
    assert _labels(pick, 1) == ["pods 9"]
    assert [nb.label for nb in pick.queues["spanning"]] == ["spanning 0", "spanning 1"]


def test_site_spanning_neighbourhood_frees_split_leases_and_one_chunk(tmp_path: Path) -> None:
    inst = build_instance(planner.load_scenario(generate("medium", 1, tmp_path)))
    fits, res, _ = greedy_pass(inst, price_order(inst))
    by_id = {lo.lease: lo for lo in inst.leases}
    split = [lid for lid, fs in fits.items() if by_id[lid].span == "site" and len(fs[0].parts) > 1]
    assert split, "the medium tier should hold a lease split over pods"
    site = fits[split[0]][0].site
    sku = by_id[split[0]].sku
    group = sorted(p for p in range(len(inst.pod_ids)) if inst.pod_site[p] == site
                   and inst.sc.pods["sku"].iat[p] == sku)
    chunk = tuple(group[: len(group) // 2])
    nb = Neighbourhood(tuple(group), "test", "spanning", chunk)
    freed, rest = _freed(inst, fits, res, nb, by_id)
    on = {lo.lease for lo in freed if lo.lease in fits}
    want = {lid for lid, fs in fits.items()  # a span=hall lease is freed like a site-spanning one
            if all(p in (group if by_id[lid].span != "pod" else chunk) for f in fs for p, _ in f.parts)}
    assert on == want and split[0] in on
    sub = sub_instance(inst, freed, rest, nb)
    for lo in sub.leases:
        allowed = set(group if lo.span != "pod" else chunk)
        assert all(p in allowed for ps in lo.pods.values() for p in ps)
    assert (sub.pod_free[[p for p in range(len(inst.pod_ids)) if p not in group]] == 0).all()


def test_eviction_polish_gains_keeps_its_residual_exact_and_leaves_the_input_alone(tmp_path: Path) -> None:
    inst = build_instance(planner.load_scenario(generate("medium", 2, tmp_path)))
    fits, res, _ = greedy_pass(inst, price_order(inst))
    snapshot = [a.copy() for a in (res.gpu, res.uplink, res.power, res.link)]
    better, left = polish(inst, fits, res, time_limit_s=60, max_tries=3_000)
    assert plan_value(inst, better) > plan_value(inst, fits)
    for a, b in zip(snapshot, (res.gpu, res.uplink, res.power, res.link), strict=True):
        assert (a == b).all()  # the moves work on a copy and take back every trial exactly
    again = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    for lid, f in better.items():
        again.apply(by_id[lid], f)
    for a, b in ((again.gpu, left.gpu), (again.uplink, left.uplink), (again.power, left.power),
                 (again.link, left.link)):
        assert (a == b).all() and (a >= 0).all()


def test_eviction_polish_makes_room_for_a_hall_lease_by_evicting_a_hall(tmp_path: Path) -> None:
    from tests.tiny import halls, lease

    d = halls(aggregation_gbps=(2_000_000.0,), zones=2)  # hall H1: two zones of 3,072 GPUs
    d["leases"] = [lease("P1", 2_000, price=1.0, allowed_sites="SA"), lease("P2", 2_000, price=1.0, allowed_sites="SA"),
                   lease("BIG", 6_000, price=3.0, span="hall", allowed_sites="SA")]
    inst = build_instance(planner.load_scenario(write(tmp_path, d)))
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res, _ = greedy_pass(inst, [by_id["P1"], by_id["P2"]])  # one per zone: no zone can make room alone
    assert set(fits) == {"P1", "P2"} and len({p for fs in fits.values() for f in fs for p, _ in f.parts}) == 2
    better, left = polish(inst, fits, res, time_limit_s=60, max_tries=100)
    assert set(better) == {"BIG"}  # the hall's two leases evicted for the one worth more; no room left for them
    assert plan_value(inst, better) > plan_value(inst, fits)
    again = Residual(inst)
    again.apply(by_id["BIG"], better["BIG"])
    assert sum(g for f in better["BIG"] for _, g in f.parts) == 6_000
    for a, b in ((again.gpu, left.gpu), (again.uplink, left.uplink), (again.power, left.power)):
        assert (a == b).all() and (a >= 0).all()
