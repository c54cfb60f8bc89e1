"""A big lease traded for the left-out leases that fit in its place.

The eviction polish (:mod:`~planner.optimise.heuristics.polish`) and room made at a site
(:mod:`~planner.optimise.heuristics.make_room`) start from a left-out lease and evict
what stands in its way, one lease's room at a time. Where the plan's *mix* is wrong --
a training lease of thousands of GPUs holding, for its whole term, GPUs that many
dearer inference fleets could use -- no single left-out lease pays for evicting it.
This move starts from the placed lease instead: it takes a big lease out, fills what it
leaves with the left-out leases of its SKU whose terms overlap its own and that may use
one of its sites (those the LP carries half or more of first, then the dearest per
GPU-week), puts the big lease back anywhere it still fits, and keeps the change when
the plan gains; otherwise everything goes back as it was.

Big leases are tried cheapest per GPU-week first, each once per pass. On the generated
hyperscale tier (seed 3), from the site-level warm start's polished plan ($72,690.3 M),
one pass over the 1,107 placed leases of 1,024 GPUs or more (72 s) kept 254 trades:
$74,177.9 M (+2.05 %); the neighbourhood search gains $805.6 M (+1.1 %) in 239 s.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Mapping

from planner.optimise.heuristics.make_room import CARRIED
from planner.optimise.heuristics.polish import Halt, net_value
from planner.optimise.instance import Instance, LeaseOptions
from planner.optimise.residual import ReplicaFit, Residual

__all__ = ["BIG_GPUS", "trade_big"]

Fits = dict[str, list[ReplicaFit]]

BIG_GPUS = 1024
"""A placed lease of at least this many GPUs (all replicas) is offered for a trade.

On hyperscale seed 3 (one pass from the polished warm start): 1,024 GPUs, 1,107 trades tried
in 72 s, $74,177.9 M; 256 GPUs, 1,870 tried in 123 s, $74,207.0 M.
"""


MAX_FITS = 1_000_000
"""Fits of left-out leases one call tries at most, over all its trades (work counted as moves are: the
same on any machine). Large seed 1 tries about 390 per trade. On hyperscale seed 3's polished warm
start it ends the second pass after 1,837 trades ($74,293.7 M; uncapped, 2,214 trades and $74,346.5 M):
what bounds the call's time on books with many more big leases."""


def _density(lo: LeaseOptions) -> float:
    """Revenue per GPU-week."""
    return lo.revenue_usd / max(lo.gpus * lo.replicas * lo.weeks, 1)


def trade_big(inst: Instance, fits: Fits, res: Residual, placed: Mapping[str, float], *, max_moves: int,
              passes: int = 1, min_gpus: int = BIG_GPUS, max_fits: int = MAX_FITS, time_limit_s: float = float("inf"),
              stop: threading.Event | None = None, on_time_out: Callable[[], None] | None = None
              ) -> tuple[Fits, Residual, int]:
    """Passes of trades: each placed big lease, cheapest per GPU-week first, for what fits in its place.

    Parameters
    ----------
    inst
        The instance.
    fits, res
        The plan to start from and its residual (both left as they are; new ones are returned).
    placed
        Each lease's share in the site LP (:attr:`~planner.optimise.bounds.site_lp.SiteRelaxation.placed`):
        the left-out leases it carries :data:`~planner.optimise.heuristics.make_room.CARRIED` or
        more of are tried first.
    max_moves
        Trades to try at most (the work counted in a deterministic run).
    max_fits
        Fits of left-out leases to try at most, over all trades (counted too; the trade that
        reaches it is judged on what it placed so far, and the search ends).
    passes
        Passes over the big leases; a pass that keeps no trade ends the search.
    min_gpus
        The least GPUs (all replicas) of a lease offered for a trade.
    time_limit_s, stop, on_time_out
        When to stop besides the counted work (:class:`~planner.optimise.heuristics.polish.Halt`).

    Returns
    -------
    tuple
        The new plan, what it leaves (a :class:`~planner.optimise.residual.Residual`) and the
        trades tried.

    Examples
    --------
    Without an LP's shares (``placed`` empty) the left-out leases fill by price alone:

    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order
    >>> from planner.optimise.instance import build_instance
    >>> inst = build_instance(load_scenario())
    >>> greedy, left, _ = greedy_pass(inst, price_order(inst))
    >>> traded, _, tried = trade_big(inst, greedy, left, {}, max_moves=300)
    >>> plan_value(inst, traded) > plan_value(inst, greedy), tried <= 300
    (True, True)
    """
    halt = Halt(max_moves, time_limit_s, stop, on_time_out)
    by_id = {lo.lease: lo for lo in inst.leases}
    fits, res = dict(fits), res.copy()
    value = {lid: net_value(inst, by_id[lid], fs) for lid, fs in fits.items()}
    held = {by_id[lid].group for lid in fits}
    by_sku: dict[str, list[LeaseOptions]] = defaultdict(list)  # every non-internal lease, in the order tried
    for lo in sorted((lo for lo in inst.leases if not lo.internal),
                     key=lambda lo: (placed.get(lo.lease, 0.0) < CARRIED, -_density(lo), lo.lease)):
        by_sku[lo.sku].append(lo)
    order = {lo.lease: res.site_order(lo) for pool in by_sku.values() for lo in pool}  # fitted many times
    moves, fits_left = 0, max_fits
    for _ in range(passes):
        big = sorted((by_id[lid] for lid in fits if not by_id[lid].internal
                      and by_id[lid].gpus * by_id[lid].replicas >= min_gpus), key=lambda lo: (_density(lo), lo.lease))
        kept = 0
        for lo in big:
            if lo.lease not in fits:
                continue
            if fits_left <= 0 or halt.now(moves):
                return fits, res, moves
            moves += 1
            gained, tried = _trade(inst, lo, fits, res, value, held, by_sku[lo.sku], order, fits_left)
            fits_left -= tried
            kept += gained
        if not kept:
            break
    return fits, res, moves


def _trade(inst: Instance, big: LeaseOptions, fits: Fits, res: Residual, value: dict[str, float], held: set[str],
           pool: list[LeaseOptions], order: dict[str, list[int]], fits_left: int) -> tuple[bool, int]:
    """Take ``big`` out, fill its place from ``pool``, put it back where it fits; keep it all if the plan gains.

    ``fits``, ``res``, ``value`` and ``held`` are changed in place when the trade is kept,
    and left as they were otherwise (integer loads: taking back is exact); ``order`` is each
    pool lease's :meth:`~planner.optimise.residual.Residual.site_order`. At most ``fits_left`` pool
    leases are tried; returns whether the trade was kept and how many were tried.
    """
    sites = {f.site for f in fits[big.lease]}
    old = fits[big.lease]
    res.apply(big, old, sign=+1)
    gain = -value[big.lease]
    taken: list[tuple[LeaseOptions, list[ReplicaFit]]] = []
    groups: set[str] = set()
    tried = 0
    for lo in pool:
        if lo.group in held or lo.group in groups or lo.t0 > big.t1 or lo.t1 < big.t0 \
                or not any(s in sites for s in lo.sites):
            continue
        if tried >= fits_left:
            break
        tried += 1
        got = res.fit(lo, order=order[lo.lease])
        if got is None:
            continue
        v = net_value(inst, lo, got)
        if v <= 0:
            continue
        res.apply(lo, got)
        taken.append((lo, got))
        groups.add(lo.group)
        gain += v
    back = res.fit(big)
    if back is not None:
        res.apply(big, back)
        gain += net_value(inst, big, back)
    if gain <= 1e-6:
        if back is not None:
            res.apply(big, back, sign=+1)
        for lo, fs in taken:
            res.apply(lo, fs, sign=+1)
        res.apply(big, old)
        return False, tried
    if back is None:
        del fits[big.lease], value[big.lease]
        held.discard(big.group)
    else:
        fits[big.lease], value[big.lease] = back, net_value(inst, big, back)
    for lo, fs in taken:
        fits[lo.lease], value[lo.lease] = fs, net_value(inst, lo, fs)
        held.add(lo.group)
    return True, tried
