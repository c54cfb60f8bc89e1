"""The scenario generator: deterministic, valid, the right size, realistic; and the plain MIP of the benchmarks."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from planner import build_network, candidate_paths, load_scenario, span_graph
from planner.generate import TIERS, Tier, generate
from planner.scenario import Scenario

ROOT = Path(__file__).resolve().parents[1]
TINY = Tier("tiny", leases=14, pods=6, campuses=2, pops=3, weeks=12, internal=1)


def _digest(folder: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(generate("small", 1, tmp_path_factory.mktemp("small")))


@pytest.fixture(scope="module")
def medium(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    return load_scenario(generate("medium", 1, tmp_path_factory.mktemp("medium")))


@pytest.mark.parametrize("tier", ["small", "medium"])
def test_same_seed_same_files(tier: str, tmp_path: Path) -> None:
    a = generate(tier, 7, tmp_path / "a").parent
    b = generate(tier, 7, tmp_path / "b").parent
    c = generate(tier, 8, tmp_path / "c").parent
    assert _digest(a) == _digest(b)
    assert set(_digest(a)) == {"scenario.yaml", "gpu_skus.yaml", "sites.yaml", "pods.yaml", "topology.yaml",
                               "reservations.csv", "leases.csv"}
    assert _digest(a)["leases.csv"] != _digest(c)["leases.csv"]


@pytest.mark.parametrize("name", ["small", "medium"])
def test_counts_match_the_tier(name: str, request: pytest.FixtureRequest) -> None:
    sc: Scenario = request.getfixturevalue(name)
    tier = TIERS[name]
    assert len(sc.workloads) == tier.leases
    assert len(sc.pods) == tier.pods
    assert len(sc.sites) == tier.campuses
    assert len(sc.pops) == tier.pops
    assert sc.horizon.periods == tier.weeks
    assert (sc.workloads["priority"] == "internal").sum() == tier.internal


def test_small_loads_without_errors(small: Scenario) -> None:
    # load_scenario raises on any error; warnings are only the site leases larger than any pod, and spans of
    # different shared-risk groups that leave a metro side by side (planner.corridors)
    assert all(p.severity == "warning" and ("split over pods" in p.message or "one cut there takes both" in p.message)
               for p in small.warnings)


@pytest.mark.parametrize("name", ["small", "medium"])
def test_every_campus_reaches_every_pop_twice(name: str, request: pytest.FixtureRequest) -> None:
    sc: Scenario = request.getfixturevalue(name)
    g = build_network(sc)
    fibre = span_graph(g)
    paths = candidate_paths(sc, g)
    for site in sc.sites.index:
        for pop in sc.pops.index:
            assert nx.edge_connectivity(fibre, site, pop) >= 2, (site, pop)
            assert ((paths["site"] == site) & (paths["pop"] == pop)).sum() >= 2, (site, pop)


def test_realistic_ranges(medium: Scenario) -> None:
    sc = medium
    assert sc.spans["route_factor"].between(1.05, 1.45).all()
    assert sc.sites["pue"].between(1.08, 1.2).all()
    summary = sc.summary()
    share = summary["facility_mw"] / summary["available_mw_max"]
    assert share.between(0.84, 0.96).all(), share
    wl = sc.workloads
    assert wl["gpus"].between(8, 16384).all()
    assert set(wl["sku"]) == {"H100", "B200", "GB200"}
    assert set(wl["kind"]) == {"training", "inference", "fine-tune"}
    assert {"pod", "site"} <= set(wl["span"])
    assert set(wl["region"]) == set(sc.pops.index)
    # halls of identical pods: fewer pod groups than pods
    assert sc.pods.groupby("hall").size().max() > 1
    # internal training in waves: reserved GPUs change week by week
    weekly = sc.reserved_gpus.sum()
    assert weekly.max() > 1.3 * weekly.min()
    # GPUs fit in their pods every week
    assert (sc.reserved_gpus.le(sc.pods["gpus"], axis=0)).all().all()


def test_greedy_plan_on_small_is_valid(small: Scenario) -> None:
    from planner.optimise.heuristics.greedy import greedy

    plan = greedy(small)
    assert plan.check(small) == []
    internal = small.workloads.index[small.workloads["priority"] == "internal"]
    assert set(internal) <= set(plan.placements["lease"])
    assert plan.placements["lease"].nunique() > len(internal)


@pytest.mark.parametrize("seed", range(1, 7))
def test_short_horizons_never_over_reserve(seed: int, tmp_path: Path) -> None:
    sc = load_scenario(generate(TINY, seed, tmp_path))  # raises if a pod is over-reserved
    assert (sc.reserved_gpus.le(sc.pods["gpus"], axis=0)).all().all()


def test_unknown_tier_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown tier"):
        generate("galactic", 1, tmp_path)


def test_cli_generate(tmp_path: Path) -> None:
    from planner.cli.generate import register

    app = typer.Typer()
    app.callback()(lambda: None)
    register(app)
    runner = CliRunner()
    out = tmp_path / "g"
    res = runner.invoke(app, ["generate", "--tier", "small", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "loads in" in res.output
    assert (out / "scenario.yaml").exists()
    again = runner.invoke(app, ["generate", "--tier", "small", "--seed", "3", "--out", str(out)])
    assert again.exit_code == 2
    forced = runner.invoke(app, ["generate", "--tier", "small", "--seed", "3", "--out", str(out), "--force",
                                 "--no-validate"])
    assert forced.exit_code == 0, forced.output


# --------------------------------------------------------------------------- the plain MIP of the benchmarks
@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(TINY, 3, tmp_path_factory.mktemp("tiny"))  # first fit is ~27 % off the optimum here


def test_plain_mip_matches_the_optimiser(tiny: Path, tmp_path: Path) -> None:
    """HiGHS on the plain MIP (its own process) and scipy's HiGHS both reach the planner's optimum."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import csc_matrix

    from benchmarks.plain_mip import build_plain_mip
    from planner.optimise.instance import build_instance
    from planner.optimise.optimiser import optimise

    sc = load_scenario(tiny)
    plan = optimise(sc, time_limit_s=30, seed=1)
    assert plan.status == "OPTIMAL"
    assert plan.check(sc) == []

    mip = build_plain_mip(build_instance(sc))
    assert plan.placements["lease"].nunique() < len(mip.leases)  # capacity binds: choices matter
    a = csc_matrix((mip.a_value, mip.a_index, mip.a_start), shape=(mip.n_rows, mip.n_cols))
    res = milp(-mip.cost, constraints=LinearConstraint(a, mip.row_lower, mip.row_upper),
               integrality=mip.integrality, bounds=Bounds(mip.lower, mip.upper), options={"mip_rel_gap": 0})
    assert res.status == 0, res.message
    assert -res.fun == pytest.approx(plan.objective_usd, rel=1e-6)

    if importlib.util.find_spec("highspy") is None:
        if "CI" in os.environ:
            pytest.fail("highspy is not installed: the dev extras must be (pip install -e '.[dev]')")
        pytest.skip("highspy is not installed (pip install -e '.[dev]')")
    out = tmp_path / "highs.json"
    subprocess.run([sys.executable, "-m", "benchmarks.worker", "highs", str(tiny), "--out", str(out),
                    "--time-limit", "30", "--seed", "1"], cwd=ROOT, check=True, capture_output=True, timeout=300)
    rec = json.loads(out.read_text())
    assert rec["status"] == "OPTIMAL", rec.get("error")
    assert rec["violations"] == 0
    assert rec["objective_usd"] == pytest.approx(plan.objective_usd, rel=1e-6)
    assert rec["bound_usd"] >= rec["objective_usd"] - 1e-6 * abs(rec["objective_usd"])


def test_plain_mip_shape(tiny: Path) -> None:
    from benchmarks.plain_mip import build_plain_mip, estimate_nonzeros
    from planner.optimise.instance import build_instance

    inst = build_instance(load_scenario(tiny))
    mip = build_plain_mip(inst)
    assert mip.n_cols == len(mip.cost) == len(mip.integrality)
    assert mip.a_start[-1] == mip.n_nonzeros <= estimate_nonzeros(inst) + 10 * mip.n_cols
    assert np.all(np.diff(mip.a_start) >= 0)
    assert mip.rows_by_family["assign"] >= sum(lo.replicas for lo in mip.leases)
    assert mip.rows_by_family["gpus"] > 0
    # internal workloads must be placed
    for lo in mip.leases:
        assert mip.lower[mip.placed[lo.lease]] == (1.0 if lo.internal else 0.0)


# --------------------------------------------------------------------------- hyperscale
@pytest.mark.slow
def test_hyperscale_generates_and_loads(tmp_path: Path) -> None:
    path = generate("hyperscale", 1, tmp_path)
    sc = load_scenario(path)
    tier = TIERS["hyperscale"]
    assert (len(sc.workloads), len(sc.pods), len(sc.sites), sc.horizon.periods) == (
        tier.leases, tier.pods, tier.campuses, tier.weeks)
    assert nx.is_connected(span_graph(build_network(sc)))
