"""The fast first fit and crowder search give exactly what the straightforward ones give.

:class:`~planner.optimise.residual.Term` fits a lease against the least room left
through its term, and :class:`~planner.optimise.freed.Freed` gives placed leases'
room back without changing the residual. Here each is checked against the plain
method it replaces, written out below as it read before: the first fit read week by
week from the residual, applying each replica and taking it back; a crowder was
taken out of the residual, the lease re-fitted, and the crowder put back.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pytest

import planner
from planner.generate import generate
from planner.optimise.families import FAMILIES
from planner.optimise.freed import Freed, ReplicaBound, term_without
from planner.optimise.heuristics.greedy import greedy
from planner.optimise.instance import Instance, LeaseOptions, PathOption, build_instance, lease_groups, usable_pods
from planner.optimise.residual import Load, RangeMin, ReplicaFit, Residual, fits_from_placements
from planner.reasons import (
    _MAX_CROWDERS,
    _MAX_SET,
    _MAX_TRIES,
    Holdings,
    _blocking,
    crowders,
    lease_variant,
    verified_fixes,
)

BIG = np.iinfo(np.int64).max // 4


# --------------------------------------------------------------------------- the plain methods
def plain_route(res: Residual, lo: LeaseOptions, site: int, relax: Collection[str]
                ) -> PathOption | Literal[False] | None:
    if not lo.needs_path:
        return None
    cands = lo.all_paths.get(site, []) if "latency" in relax else lo.paths.get(site, [])
    if lo.egress_mbps > 0 and "dci" not in relax:
        t = slice(lo.t0, lo.t1 + 1)
        return next((p for p in cands if res.link[p.span_idx, t].min() >= lo.egress_mbps), False)
    return cands[0] if cands else False


def plain_agg_gpus(res: Residual, hall: np.ndarray, t: slice, relax: Collection[str]) -> dict[int, int]:
    per_gpu = res.inst.interpod_kbps_per_gpu
    return {int(h): BIG if "aggregation" in relax or per_gpu <= 0 else max(int(res.agg[h, t].min()) // per_gpu, 0)
            for h in np.unique(hall).tolist()}


def plain_pick_hall(lo: LeaseOptions, hall: np.ndarray, cap: np.ndarray, agg: dict[int, int],
                    real: dict[int, int]) -> int | None:
    best = None
    for h in sorted(agg):
        room = int(np.minimum(cap[hall == h], lo.gpus).sum())
        if room < lo.gpus or agg[h] < lo.gpus:
            continue
        key = (0.0, max(lo.gpus - real[h], 0), room, h)
        if best is None or key < best:
            best = key
    return None if best is None else best[3]


def plain_fit_replica(res: Residual, lo: LeaseOptions, site: int, relax: Collection[str]) -> ReplicaFit | None:
    inst, t = res.inst, slice(lo.t0, lo.t1 + 1)
    path = plain_route(res, lo, site, relax)
    if path is False:
        return None
    pods = np.array(lo.pods.get(site, []), dtype=np.int64)
    if pods.size == 0:
        return None
    power = int(res.power[site, t].min()) if lo.spot else min(int(res.power[site, t].min()),
                                                             int(res.power_worst[site, t].min()))
    if "power" not in relax and power < lo.gpus * inst.pod_w_per_gpu[pods[0]]:
        return None
    ignore = "gpus" in relax and lo.span == "pod"
    free = res.gpu[pods, t].min(axis=1)
    if not lo.spot:
        free = np.minimum(free, res.gpu_worst[pods, t].min(axis=1))
    free = np.full(pods.size, BIG) if ignore else free
    room = np.full(pods.size, BIG) if "uplink" in relax else res.uplink[pods, t].min(axis=1)
    whole = (free >= lo.gpus) & (room >= inst.uplink_kbps(lo, lo.gpus, split=False))
    risk_all = res.preempt_weeks(lo, pods)
    if whole.any():
        if ignore:
            best = pods[whole][np.argmax(res.gpu[pods[whole], t].min(axis=1))]
        else:
            best = pods[whole][np.lexsort((free[whole], res.preempt_weeks(lo, pods[whole])))[0]]
        return ReplicaFit(site, ((int(best), lo.gpus),), path)
    if lo.span == "pod":
        return None
    per_gpu = inst.uplink_kbps(lo, 1, split=True)
    up_cap = room // per_gpu if per_gpu > 0 else np.full(pods.size, BIG)
    cap = np.minimum(np.clip(free, 0, None), up_cap)
    hall = inst.pod_hall[pods]
    agg = plain_agg_gpus(res, hall, t, relax)
    if lo.span == "hall":
        real = plain_agg_gpus(res, hall, t, ()) if "aggregation" in relax else agg
        got = plain_pick_hall(lo, hall, up_cap if "gpus" in relax else cap, agg, real)
        if got is None:
            return None
        cap, up_cap = np.where(hall == got, cap, 0), np.where(hall == got, up_cap, -1)
    parts: dict[int, int] = {}
    hall_left, left = dict(agg), lo.gpus
    for k in np.lexsort((-cap, risk_all)):
        if left == 0 or cap[k] < 1:
            break
        g = int(min(cap[k], left, hall_left[int(hall[k])]))
        if g < 1:
            continue
        parts[int(k)] = g
        hall_left[int(hall[k])] -= g
        left -= g
    if left > 0 and "gpus" in relax:
        spare = np.minimum(up_cap - np.array([parts.get(k, 0) for k in range(pods.size)]),
                           np.array([hall_left[int(h)] for h in hall]))
        k = int(np.argmax(spare))
        if spare[k] >= left:
            parts[k] = parts.get(k, 0) + left
            left = 0
    if left > 0:
        return None
    return ReplicaFit(site, tuple((int(pods[k]), g) for k, g in parts.items()), path)


def plain_fit(res: Residual, lo: LeaseOptions, relax: Collection[str] = ()) -> list[ReplicaFit] | None:
    """The first fit as it read before: week by week from the residual, each replica applied and taken back."""
    sites = sorted(res.candidate_sites(lo, relax), key=lambda s: (res.site_cost(lo, s), s))
    fits: list[ReplicaFit] = []
    try:
        for _ in range(lo.replicas):
            used = {f.site for f in fits}
            got = None
            for s in sites:
                if lo.anti_affinity and "anti_affinity" not in relax and s in used:
                    continue
                got = plain_fit_replica(res, lo, s, relax)
                if got is not None:
                    break
            if got is None:
                return None
            fits.append(got)
            if lo.replicas > 1:
                res.apply(lo, [got])
        return fits
    finally:
        if lo.replicas > 1:
            res.apply(lo, fits, sign=+1)


def plain_crowders(res: Residual, lo: LeaseOptions, order: list[str],
                   placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]]) -> tuple[list[str], bool]:
    """The crowder search as it read before: each candidate taken out of the residual, the lease re-fitted."""
    def fits_without(ids: Collection[str]) -> bool:
        for lid in ids:
            res.apply(*placed[lid], sign=+1)
        try:
            return plain_fit(res, lo) is not None
        finally:
            for lid in ids:
                res.apply(*placed[lid])

    alone = [lid for lid in order if fits_without([lid])][:_MAX_CROWDERS]
    if alone:
        return alone, True
    chosen: list[str] = []
    for lid in order:
        chosen.append(lid)
        if fits_without(chosen):
            break
    else:
        return [], False
    for lid in list(chosen):
        if fits_without([x for x in chosen if x != lid]):
            chosen.remove(lid)
    return (chosen, False) if len(chosen) <= _MAX_SET else ([], False)


# --------------------------------------------------------------------------- a book and its greedy plan
@pytest.fixture(scope="module")
def book(tmp_path_factory: pytest.TempPathFactory) -> tuple[Instance, Residual, Residual, dict]:
    """The generated medium tier (seed 5), its greedy plan's residual, internal work alone, the placed leases."""
    path = generate("medium", seed=5, out_dir=tmp_path_factory.mktemp("medium") / "medium")
    sc = planner.load_scenario(Path(path))
    inst = build_instance(sc)
    plan = greedy(sc, instance=inst, explain=False)
    by_id = {lo.lease: lo for lo in inst.leases}
    every = {k: (by_id[k], f) for k, f in fits_from_placements(inst, plan.placements).items() if f is not None}
    res = Residual.after(inst, {k: f for k, (_, f) in every.items()})
    base = Residual.after(inst, {k: f for k, (lo, f) in every.items() if lo.internal})
    placed = {by_id[k].group: v for k, v in every.items() if not by_id[k].internal}
    return inst, res, base, placed


def _left_out(inst: Instance, placed: Mapping[str, object]) -> list[LeaseOptions]:
    return [opts[0] for g, opts in lease_groups(inst.leases).items() if g not in placed and not opts[0].internal]


def test_fit_equals_the_week_by_week_fit_for_every_lease_and_relaxation(book: tuple) -> None:
    inst, res, base, _placed = book
    rng = random.Random(7)
    los = rng.sample(inst.leases, 300)
    checked = placed_some = 0
    for lo in los:
        for relax in [(), *[(f,) for f in FAMILIES], tuple(FAMILIES)]:
            for r in (res, base):
                got = r.fit(lo, relax)
                assert got == plain_fit(r, lo, relax), (lo.lease, relax)
                checked += 1
                placed_some += got is not None
    assert checked == 300 * 10 * 2 and 0 < placed_some < checked  # both answers are exercised


def test_variants_fit_alike_and_the_residual_is_left_as_it_was(book: tuple) -> None:
    inst, res, _base, placed = book
    before = {k: getattr(res, k).copy() for k in ("gpu", "gpu_worst", "uplink", "power", "power_worst", "link", "agg")}
    for lo in _left_out(inst, placed)[:150]:
        with res.reusing_terms():  # one term, many variants of the lease fitted against it
            for v in (lo, lease_variant(lo, gpus=max(lo.gpus // 2, 1)), lease_variant(lo, replicas=1),
                      lease_variant(lo, span="site"), lease_variant(lo, egress_gbps=lo.egress_gbps / 4)):
                assert res.fit(v) == plain_fit(res, v)
    for k, arr in before.items():
        assert np.array_equal(getattr(res, k), arr), k


def test_the_first_replicas_of_a_fit_are_what_fewer_replicas_find(book: tuple) -> None:
    inst, res, _base, placed = book
    many = [lo for lo in _left_out(inst, placed) if lo.replicas > 2][:60]
    assert len(many) > 20
    for lo in many:
        n = len(res.term(lo).place(lo))
        for k in range(1, lo.replicas + 1):  # a k-replica fit succeeds exactly up to n
            assert (plain_fit(res, lease_variant(lo, replicas=k)) is not None) == (k <= n), (lo.lease, k, n)


def test_giving_room_back_equals_applying_it_to_the_residual(book: tuple) -> None:
    inst, res, _base, placed = book
    rng = random.Random(3)
    ids = sorted(placed)
    for lo in rng.sample(_left_out(inst, placed), 40):
        out = rng.sample(ids, rng.randint(1, 6))
        freed = term_without(res.term(lo), res, [Load.of(inst, *placed[lid]) for lid in out])
        trial = res.copy()
        for lid in out:
            trial.apply(*placed[lid], sign=+1)
        direct = trial.term(lo)
        for k in ("gpu", "gpu_worst", "uplink", "power", "power_worst", "link", "agg"):
            assert np.array_equal(getattr(freed, k), getattr(direct, k)), (lo.lease, out, k)


def test_crowders_are_those_the_take_out_and_refit_search_finds(book: tuple) -> None:
    inst, res, base, placed = book
    hold = Holdings.of(placed)
    crowded = [lo for lo in _left_out(inst, placed) if base.fit(lo) is not None and res.fit(lo) is None][:80]
    kinds = set()
    for lo in crowded:
        target = base.fit(lo)
        assert target is not None
        order = hold.ranked(lo, {f.site for f in target},
                            {int(e) for f in target if f.path is not None for e in f.path.span_idx}, _MAX_TRIES)
        want = plain_crowders(res, lo, order, placed)
        assert crowders(res, base, lo, placed, hold) == want, lo.lease
        kinds.add("alone" if want[1] else "together" if want[0] else "none")
    assert kinds == {"alone", "together", "none"}  # every outcome of the search is compared


def test_a_copy_of_some_ledgers_shares_the_others(book: tuple) -> None:
    _inst, res, _base, _placed = book
    part = res.copy(ledgers=["power"])
    assert part.power is not res.power and np.array_equal(part.power, res.power)
    assert part.gpu is res.gpu and part.link is res.link
    assert all(getattr(res.copy(), k) is not getattr(res, k) for k in ("gpu", "gpu_worst", "agg"))


_LEDGERS = ("gpu", "gpu_worst", "uplink", "power", "power_worst", "link", "agg")


def test_the_replica_bound_is_never_below_what_the_first_fit_places(book: tuple) -> None:
    """A fit is skipped when the bound is short: the bound must hold for every lease, variant and relaxation."""
    inst, res, base, placed = book
    rng = random.Random(11)
    los = rng.sample(inst.leases, 200) + _left_out(inst, placed)[:100]
    short = tight = 0
    for lo in los:
        for v in (lo, lease_variant(lo, gpus=max(lo.gpus // 3, 1)), lease_variant(lo, span="site")):
            for relax in [(), *[(f,) for f in FAMILIES]]:
                for r in (res, base):
                    term = r.term(v)
                    most, placed_n = term.most_replicas(v, relax), len(term.place(v, relax))
                    assert most >= placed_n, (v.lease, relax, most, placed_n)
                    short += most < v.replicas
                    if not relax and v.replicas == 1 and v.span == "pod":  # one whole replica: the bound is exact
                        assert (most >= 1) == (placed_n == 1), v.lease
                        tight += 1
    assert short > 100 and tight > 100  # the bound does cut fits short, and the exact case is exercised


def test_the_freed_term_and_its_bound_follow_every_give_and_each_candidate_alone(book: tuple) -> None:
    inst, res, base, placed = book
    hold = Holdings.of(placed)
    crowded = [lo for lo in _left_out(inst, placed) if base.fit(lo) is not None and res.fit(lo) is None][:40]
    rng = random.Random(5)
    moved = 0
    for lo in crowded:
        target = base.fit(lo)
        assert target is not None
        order = hold.ranked(lo, {f.site for f in target},
                            {int(e) for f in target if f.path is not None for e in f.path.span_idx}, _MAX_TRIES)
        term = res.term(lo)
        sites = term.site_order(lo)
        freed = Freed(term, res, [hold.load(inst, lid) for lid in order])
        bound = ReplicaBound(freed.cur, lo, sites)

        def same_as(out: list[str], lo: LeaseOptions = lo, freed: Freed = freed, bound: ReplicaBound = bound,
                    sites: list[int] = sites) -> None:  # the freed term and its bound: ``res`` with ``out`` given back
            trial = res.copy()
            for lid in out:
                trial.apply(*placed[lid], sign=+1)
            direct = trial.term(lo)
            for k in _LEDGERS:
                assert np.array_equal(getattr(freed.term(), k), getattr(direct, k)), (lo.lease, out, k)
            assert bound.most() == direct.most_replicas(lo, (), sites), (lo.lease, out)

        for lid, change in zip(order, freed.alone(), strict=True):
            if freed.show(change):
                bound.update(*freed.changes())
                moved += 1
            same_as([lid])
            freed.hide(change)
            bound.update(*freed.changes())
        out: list[str] = []
        for lid in rng.sample(order, min(len(order), 8)):
            if freed.give(order.index(lid)):
                bound.update(*freed.changes())
            out.append(lid)
            same_as(out)
        for lid in list(out)[::2]:
            if freed.give(order.index(lid), sign=-1):
                bound.update(*freed.changes())
            out.remove(lid)
            same_as(out)
    assert moved > 50


def test_a_lease_fitted_again_after_the_residual_changed_is_fitted_anew(book: tuple) -> None:
    """Inside ``reusing_terms`` a lease fitted again gets its earlier answer, but not once ``apply`` changed things."""
    inst, res, base, placed = book
    trial = res.copy()
    crowded = [lo for lo in _left_out(inst, placed) if base.fit(lo) is not None and res.fit(lo) is None][:30]
    hold = Holdings.of(placed)
    changed = 0
    with trial.reusing_terms():
        for lo in crowded:
            assert trial.fit(lo) is None and trial.fit(lo) is None
            target = base.fit(lo)
            assert target is not None
            out = hold.ranked(lo, {f.site for f in target}, set(), 5)
            for lid in out:
                trial.apply(*placed[lid], sign=+1)
            got = trial.fit(lo)
            assert got == plain_fit(trial, lo)
            changed += got is not None
            for lid in out:
                trial.apply(*placed[lid])
            assert trial.fit(lo) is None
    assert changed > 0


def test_a_fixed_residual_reads_each_least_room_from_its_table(book: tuple) -> None:
    """Terms made inside ``fixed`` (range-minimum tables) equal terms read week by week, for any weeks."""
    inst, res, base, placed = book
    rng = random.Random(9)
    weeks = res.gpu.shape[1]
    table = RangeMin(res)
    for _ in range(200):
        t0 = rng.randrange(weeks)
        t1 = rng.randrange(t0, weeks)
        for k in _LEDGERS:
            assert np.array_equal(table.mins(k, t0, t1), getattr(res, k)[:, t0 : t1 + 1].min(axis=1)), (k, t0, t1)
    los = _left_out(inst, placed)[:100]
    plain = [{k: getattr(r.term(lo), k) for k in _LEDGERS} for lo in los for r in (res, base)]
    with res.fixed(), base.fixed():
        fixed = [{k: getattr(r.term(lo), k) for k in _LEDGERS} for lo in los for r in (res, base)]
    for a, b in zip(plain, fixed, strict=True):
        assert all(np.array_equal(a[k], b[k]) for k in _LEDGERS)
    assert res._table is None and base._table is None  # the tables go with the block


def test_every_fix_offered_holds_when_fitted_again_against_its_own_room(book: tuple) -> None:
    """Fixes are marked checked where they were fitted while found (the capacity fix against a term of its room):
    each must fit when fitted afresh, the plain way, against the residual it names."""
    inst, res, base, placed = book
    seen = capacity = 0
    for lo in _left_out(inst, placed)[:120]:
        for r in (res, base):
            if r.fit(lo) is not None:
                continue
            with r.reusing_terms(), r.fixed():
                fixes = verified_fixes(r, lo, _blocking(r, lo)[0])
            for fix in fixes:
                assert plain_fit(fix.room, fix.lease) is not None, (lo.lease, fix.text)
                seen += 1
                capacity += fix.room is not r
    assert seen > 100 and capacity > 20


def plain_usable(inst: Instance, lo: LeaseOptions) -> dict[int, list[int]]:
    """:func:`~planner.optimise.instance.usable_pods` as it read before: site by site, reading every week."""
    out: dict[int, list[int]] = {}
    free = inst.free_for(lo)
    for s in lo.sites:
        pods = np.asarray(lo.pods[s], dtype=np.int64)
        floor = free[pods, lo.t0 : lo.t1 + 1].min(axis=1)
        if lo.span == "pod":
            keep = pods[floor >= lo.gpus]
        else:
            room = np.where(floor >= 1, np.minimum(floor, lo.gpus), 0)
            if lo.span == "hall":
                total = {h: room[inst.pod_hall[pods] == h].sum() for h in set(inst.pod_hall[pods].tolist())}
                pooled = np.array([total[h] for h in inst.pod_hall[pods].tolist()])
            else:
                pooled = np.full(len(pods), room.sum())
            keep = pods[(floor >= 1) & (pooled >= lo.gpus)]
        if keep.size:
            out[s] = keep.tolist()
    return out


def test_usable_pods_are_what_the_site_by_site_scan_finds_for_every_span(book: tuple) -> None:
    """The usable pods (read from a range-minimum table, every site at once) equal the plain scan's,
    for every lease as it is and as if it spanned a pod, a hall or a site, spot or not."""
    base, _, _, _ = book
    rng = np.random.default_rng(3)  # internal work's upside: the worst case below the base one, week by week
    upside = dataclasses.replace(base, pod_free_worst=np.maximum(
        base.pod_free - rng.integers(0, 400, base.pod_free.shape), 0))
    kept = 0
    for inst in (base, upside):
        for lo in inst.leases:
            for span in ("pod", "hall", "site"):
                for spot in (False, True):
                    variant = dataclasses.replace(lo, span=span, spot=spot)
                    got = usable_pods(inst, variant)
                    assert got == plain_usable(inst, variant), (lo.lease, span, spot)
                    kept += sum(len(v) for v in got.values())
    assert kept > 0
    assert usable_pods(upside, base.leases[0]) is not None and upside._term_min.keys() != base._term_min.keys()
