"""The crowder search's view of a residual: its term with some placed leases' room given back, and a bound on it.

:class:`Freed` gives placed leases' room back to one lease's :class:`~planner.optimise.residual.Term`
without changing the residual, one lease at a time (or each alone, all at once);
:class:`ReplicaBound` keeps :meth:`~planner.optimise.residual.Term.most_replicas` of that
term up to date as a few of its things change, so a re-fit that cannot succeed is not tried.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from planner.optimise.instance import LeaseOptions
from planner.optimise.residual import BIG, LEDGER_ORDER, N_POD_LEDGERS, POD_LEDGERS, Load, Residual, Term

__all__ = ["Freed", "ReplicaBound", "term_without"]


class Freed:
    """A :class:`Term` of a residual with the room of some placed leases given back, changed one lease at a time.

    Every week of the term of each thing the candidate ``loads`` touch is copied from the
    residual once; giving a load back adds it to those weeks (where its own term
    overlaps), taking it again subtracts it, and the least room of the things it touches
    is read again into :attr:`cur` (:meth:`give` says whether any moved, :meth:`changes`
    which). :meth:`term` is then the term of the residual after :meth:`Residual.apply` with
    ``sign=+1`` of each load given back, while the residual itself is never changed.
    :meth:`alone` reads what each load given back alone would change, all at once.

    Parameters
    ----------
    term
        The term of ``res`` (of the lease being fitted).
    res
        The residual.
    loads
        The loads that may be given back, by position.
    """

    def __init__(self, term: Term, res: Residual, loads: Sequence[Load]) -> None:
        self.base = term
        t0, t1 = term.t0, term.t1
        weeks = t1 - t0 + 1
        local = term.positions()
        mine = [k for k, ld in enumerate(loads) if ld.t0 <= t1 and ld.t1 >= t0]
        flat = [loads[k].flat() for k in mine]
        codes = np.concatenate([f[0] for f in flat]) if flat else np.zeros(0, dtype=np.int64)
        things = np.concatenate([f[1] for f in flat]) if flat else np.zeros(0, dtype=np.int64)
        amounts = np.concatenate([f[2] for f in flat]) if flat else np.zeros(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(mine)), [f[0].size for f in flat]) if flat else codes
        pod = codes < N_POD_LEDGERS  # the pod ledgers come first in LEDGER_ORDER
        keep = ~pod | (local[np.where(pod, things, 0)] >= 0)  # only the term's own pods
        codes, things, amounts, owner = codes[keep], things[keep], amounts[keep], owner[keep]
        # one block row per (ledger, thing) the loads touch: its weeks through the term
        key, row = np.unique(codes * (1 << 40) + things, return_inverse=True)
        n = key.size
        self._ledger = key >> 40  # per row: its ledger (position in LEDGER_ORDER) and its thing (term position)
        thing = key & ((1 << 40) - 1)
        per_pod = self._ledger < N_POD_LEDGERS
        self._where = np.where(per_pod, local[np.where(per_pod, thing, 0)], thing)
        self.block = np.zeros((n, weeks), dtype=np.int64)
        for c in np.unique(self._ledger).tolist():
            at = np.flatnonzero(self._ledger == c)
            self.block[at] = getattr(res, LEDGER_ORDER[c])[thing[at], t0 : t1 + 1]
        self.cells: list[tuple[np.ndarray, np.ndarray, int, int]] = [  # per load: rows, amounts, weeks a:b
            (np.zeros(0, dtype=np.int64), np.zeros((0, 1), dtype=np.int64), 0, 0) for _ in loads]
        ends = np.searchsorted(owner, np.arange(len(mine) + 1)).tolist()  # owners come in order
        rows_of, amounts_of = row.astype(np.int64), amounts[:, None]
        for j, k in enumerate(mine):
            ld, e0, e1 = loads[k], ends[j], ends[j + 1]
            self.cells[k] = (rows_of[e0:e1], amounts_of[e0:e1], max(ld.t0, t0) - t0, min(ld.t1, t1) - t0 + 1)
        self.mins = self.block.min(axis=1) if weeks > 0 else np.zeros(0, dtype=np.int64)
        """Per row of the block, its least room through the term as the block stands: the term's own value."""
        self.cur = term.copy()
        """The term with the room of the loads now given back (kept up to date by :meth:`give`)."""
        self.changed = np.zeros(0, dtype=np.int64)
        """The rows whose least room the last :meth:`give` moved."""

    def give(self, k: int, sign: int = +1) -> bool:
        """Give load ``k``'s room back (``sign=+1``), or take it again (``sign=-1``).

        Returns whether :meth:`term` changes by it: ``False`` when no least room through the
        term moves (the load's weeks miss every week where its things are at their lowest),
        so a fit against :meth:`term` finds what it found before.
        """
        rows, amounts, a, b = self.cells[k]
        if sign > 0:
            self.block[rows, a:b] += amounts
        else:
            self.block[rows, a:b] -= amounts
        if rows.size == 0 or a == b:
            self.changed = rows[:0]
            return False
        now = self.block[rows].min(axis=1)
        moved = now != self.mins[rows]
        self._write(rows[moved], now[moved])
        return bool(self.changed.size)

    def _write(self, rows: np.ndarray, values: np.ndarray) -> None:
        """Set the least room of ``rows`` (in :attr:`mins` and :attr:`cur`); they are :attr:`changed`."""
        self.changed = rows
        if rows.size:
            self.mins[rows] = values
            for r, v in zip(rows.tolist(), values.tolist(), strict=True):
                getattr(self.cur, LEDGER_ORDER[self._ledger[r]])[self._where[r]] = v

    def alone(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """Per load, what giving it back alone changes: the rows, their least room then, and now.

        All at once, without changing the block: :meth:`show` and :meth:`hide` put one of
        them in :attr:`cur` and take it out again.
        """
        if not self.cells:
            return []
        weeks = np.arange(self.block.shape[1])
        rows = np.concatenate([c[0] for c in self.cells])
        amounts = np.concatenate([c[1][:, 0] for c in self.cells]) if rows.size else np.zeros(0, dtype=np.int64)
        sizes = [c[0].size for c in self.cells]
        a = np.repeat([c[2] for c in self.cells], sizes)
        b = np.repeat([c[3] for c in self.cells], sizes)
        inside = (weeks >= a[:, None]) & (weeks < b[:, None])
        new = (self.block[rows] + np.where(inside, amounts[:, None], 0)).min(axis=1) if rows.size else rows
        moved = new != self.mins[rows]
        out = []
        for k0, k1 in zip(np.cumsum([0, *sizes[:-1]]).tolist(), np.cumsum(sizes).tolist(), strict=True):
            m = moved[k0:k1]
            out.append((rows[k0:k1][m], new[k0:k1][m], self.mins[rows[k0:k1][m]]))
        return out

    def show(self, change: tuple[np.ndarray, np.ndarray, np.ndarray]) -> bool:
        """Put one of :meth:`alone`'s changes in :attr:`cur` (the block stays as it is); whether it changes any."""
        self._write(change[0], change[1])
        return bool(change[0].size)

    def hide(self, change: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
        """Take a change :meth:`show` put in out again (its rows are :attr:`changed`)."""
        self._write(change[0], change[2])

    def changes(self) -> tuple[list[int], list[int], bool]:
        """What the last :meth:`give` changed in :attr:`cur`: pods (term positions), sites, and whether a span."""
        pods, sites, link = [], [], False
        for r in self.changed.tolist():
            ledger = LEDGER_ORDER[self._ledger[r]]
            if ledger in POD_LEDGERS:
                pods.append(int(self._where[r]))
            elif ledger in ("power", "power_worst"):
                sites.append(int(self._where[r]))
            elif ledger == "link":
                link = True
        return pods, sites, link

    def term(self) -> Term:
        """The term with the room of the loads now given back (a copy, to fit against)."""
        return self.cur.copy()


class ReplicaBound:
    """:meth:`Term.most_replicas` of a term (nothing relaxed), kept up to date as a few of its things change.

    Per pod the replicas (span=pod) or GPUs it can take, per site their sum, the
    replicas its power allows and whether it has a route with room; :meth:`most` sums
    the sites as :meth:`Term.most_replicas` does. After the term changes, :meth:`update`
    recomputes only what changed.

    Parameters
    ----------
    term
        The term, which the bound follows (read again at each :meth:`update`).
    lo
        The lease.
    order
        The sites its replicas may use (:meth:`Term.site_order`).
    """

    def __init__(self, term: Term, lo: LeaseOptions, order: list[int]) -> None:
        self.term, self.lo = term, lo
        ids, a, b, self.draw_w, self.at = term._sites()
        self.order = [(s, self.at[s]) for s in order if s in self.at]
        self.site_of: list[int] = np.repeat(np.arange(ids.size), b - a).tolist()  # per pod of the term: its site
        self.ids = ids
        per_pod = self._pods(np.arange(term.rows.size))
        upto = np.concatenate(([0], np.cumsum(per_pod)))
        self.per_pod: list[int] = per_pod.tolist()
        self.gpus: list[int] = (upto[b] - upto[a]).tolist()
        self.power: list[int] = self._power(np.arange(ids.size)).tolist()
        self.routed: dict[int, bool] = {}

    def _pods(self, k: np.ndarray) -> np.ndarray:
        t, lo = self.term, self.lo
        free = t.gpu[k] if lo.spot else np.minimum(t.gpu[k], t.gpu_worst[k])
        out = np.maximum(free, 0)
        if lo.span == "pod":
            out //= lo.gpus
        kbps = lo.egress_kbps if lo.span == "pod" else lo.egress_kbps_per_gpu
        if kbps > 0:
            out = np.minimum(out, np.maximum(t.uplink[k], 0) // kbps)
        return out

    def _power(self, sp: np.ndarray) -> np.ndarray:
        t, lo = self.term, self.lo
        sites = self.ids[sp]
        left = t.power[sites] if lo.spot else np.minimum(t.power[sites], t.power_worst[sites])
        w = self.draw_w[sp]
        return np.where(w > 0, np.maximum(left, 0) // np.maximum(lo.gpus * w, 1), BIG)

    def update(self, pods: list[int], sites: list[int], link: bool) -> None:
        """Read again the pods (term positions) and sites that changed, and every route if a span did."""
        t, lo, g = self.term, self.lo, self.lo.gpus
        kbps = lo.egress_kbps if lo.span == "pod" else lo.egress_kbps_per_gpu
        for k in set(pods):  # a few at a time: one by one, as the arrays do it
            free = int(t.gpu[k]) if lo.spot else min(int(t.gpu[k]), int(t.gpu_worst[k]))
            new = max(free, 0) // g if lo.span == "pod" else max(free, 0)
            if kbps > 0:
                new = min(new, max(int(t.uplink[k]), 0) // kbps)
            self.gpus[self.site_of[k]] += new - self.per_pod[k]
            self.per_pod[k] = new
        for s in set(sites):
            j = self.at.get(s)
            if j is not None and self.draw_w[j] > 0:
                left = int(t.power[s]) if lo.spot else min(int(t.power[s]), int(t.power_worst[s]))
                self.power[j] = max(left, 0) // max(g * int(self.draw_w[j]), 1)
        if link:
            self.routed.clear()

    def most(self) -> int:
        """The bound, as :meth:`Term.most_replicas` of the term as it stands now."""
        lo = self.lo
        div = 1 if lo.span == "pod" else lo.gpus
        one = lo.anti_affinity
        cand = []
        for s, k in self.order:
            m = min(int(self.gpus[k]) // div, int(self.power[k]))
            cand.append((s, min(m, 1) if one else m))
        if sum(m for _, m in cand) < lo.replicas:
            return sum(m for _, m in cand)
        total = 0
        for s, m in cand:
            if m > 0:
                ok = self.routed.get(s)
                if ok is None:
                    ok = self.routed[s] = self.term.route(lo, s) is not False
                if ok:
                    total += m
                    if total >= lo.replicas:
                        break
        return total


def term_without(term: Term, res: Residual, loads: Sequence[Load]) -> Term:
    """A copy of ``term`` (of ``res``) with the room ``loads`` hold given back; ``res`` is left as it is."""
    freed = Freed(term, res, loads)
    for k in range(len(loads)):
        freed.give(k)
    return freed.term()
