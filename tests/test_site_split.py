"""The hall LP split by site (planner.optimise.bounds.site_split): a true bound at any prices."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import planner
from planner.optimise.bounds.api_lp import api_lp_bound
from planner.optimise.bounds.site_lp import relaxation_columns, row_matrix, site_relaxation
from planner.optimise.bounds.site_split import _Split, site_split_bound
from planner.optimise.instance import build_instance, usable_pods
from tests import exact
from tests.tiny import random_halls, write


def test_the_site_pooled_split_at_its_own_prices_is_the_site_lp() -> None:
    """LP duality: priced at the site LP's row duals, the site-pooled split gives that LP's optimum back.

    A check of the prices' signs and of the split's accounting (blocks, linking rows, constants).
    """
    inst = build_instance(planner.load_scenario())
    b = site_split_bound(inst, pooling="site")
    assert b.status == "OPTIMAL" and b.linking_rows > len(inst.leases) / 2 and b.blocks == 3
    assert b.bound_usd == pytest.approx(b.priced_usd, rel=1e-7)
    assert b.priced_usd == pytest.approx(site_relaxation(inst, pooling="site").bound_usd, rel=1e-7)


def test_the_hall_split_is_tighter_than_the_site_lp_and_rounds_tighten_it() -> None:
    """On the reference the hall split at the site LP's prices is below it, and subgradient rounds lower it more."""
    inst = build_instance(planner.load_scenario())
    first = site_split_bound(inst)
    more = site_split_bound(inst, rounds=12, target_usd=3.1e9)
    assert first.bound_usd < 0.95 * first.priced_usd
    assert more.trace[0] == pytest.approx(first.bound_usd, rel=1e-9)
    assert more.bound_usd == min(more.trace) < first.bound_usd
    # never below the hall LP solved whole: the split's Lagrangian dual is that LP
    assert more.bound_usd >= site_relaxation(inst, pooling="hall").bound_usd - 1.0


@pytest.mark.parametrize("seed", range(8))
def test_split_bounds_are_at_least_the_exact_optimum(tmp_path: Path, seed: int) -> None:
    """Hall split (first prices, after rounds, with whole spans) and the split at random prices: never below
    the exact optimum of random two-campus fabrics with halls and binding aggregation layers."""
    sc = planner.load_scenario(write(tmp_path, random_halls(seed, 8)))
    best = exact.exact_split_milp(sc)
    inst = build_instance(sc)
    b = site_split_bound(inst, rounds=6, target_usd=best, whole_spans=True)
    assert b.status == "OPTIMAL"
    assert all(v >= best - 1e-6 for v in b.trace), (best, b.trace)
    assert b.bound_usd >= best - 1e-6 and b.bound_usd <= b.priced_usd + 1e-6
    assert np.isnan(b.whole_usd) or b.whole_usd >= best - 1e-6
    # weak duality holds at any prices with the rows' signs, not only at good ones
    where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
    built = relaxation_columns(inst, where, "hall", site_rows=True)
    split = _Split(built, row_matrix(built, 1))
    rng = np.random.default_rng(seed)
    for _ in range(5):
        lam = split.clip(rng.normal(0.0, 1e5, split.link.size))
        status, value, g = split.value(lam, 60.0)
        assert status == "OPTIMAL" and g.shape == lam.shape
        assert value + api_lp_bound(inst) >= best - 1e-6


def test_the_split_is_the_same_with_two_processes(tmp_path: Path) -> None:
    """Sites solved in forked processes give the same bound, round by round, as in this one."""
    inst = build_instance(planner.load_scenario(write(tmp_path, random_halls(3, 8))))
    one = site_split_bound(inst, rounds=4)
    two = site_split_bound(inst, rounds=4, workers=2)
    assert one.trace == two.trace and one.bound_usd == two.bound_usd
