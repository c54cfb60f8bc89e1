"""Why a lease is left out: the constraints that bind, their numbers, and fixes checked by re-fitting.

For each left-out lease we try to fit it, with :class:`planner.optimise.residual.Residual`'s first fit:

1. if a fact keeps it out of every plan (:mod:`planner.feasibility`: too big for any
   allowed pod or site, an SLO below the fibre latency of every allowed site...), the
   reason says so plainly;
2. if it does not fit the campus as internal work alone leaves it, relaxing one
   constraint family at a time shows which ones bind ("with internal work alone");
3. if it fits that but not what the plan leaves, it was crowded out: the same test
   against the plan's residual, and the placed leases whose removal frees the room,
   found and checked by re-fitting;
4. if it fits what the plan leaves, it is unprofitable or left out within the gap.

Every number in a reason is read from the residual the reason speaks of, and every
fix is *verified*: the lease (or the capacity) changed as the fix says is fitted
again, against the same residual, and a fix that does not make it fit is not offered.
Fixes are alternatives, joined by ``"; or "``; each is one change (or one set of
capacity additions joined by ``" and "``).
"""

from __future__ import annotations

import copy
import dataclasses
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from planner.feasibility import fastest_ms, ms_text, never_fits, term_text
from planner.forked import forked_map
from planner.optimise.families import CAPACITIES, FAMILIES, Family, by_family
from planner.optimise.freed import Freed, ReplicaBound
from planner.optimise.instance import KBPS, MBPS, UNLIMITED, Instance, LeaseOptions, lease_groups
from planner.optimise.residual import Load, ReplicaFit, Residual, fits_from_placements
from planner.plan import UNPLACED_COLUMNS
from planner.weeks import weeks_text

__all__ = ["Fix", "Holdings", "crowders", "explain_lease", "explain_unplaced", "internal_failure_reasons",
           "lease_variant", "verified_fixes"]

# Capacity first: when more room alone would admit the lease, that is the reason; relaxing the
# lease's own requirements (SLO, sites, anti-affinity) is then offered as an alternative fix.
_ORDER = FAMILIES
_CAPACITY = tuple(f for f in FAMILIES if f in {c.family for c in CAPACITIES})
_MAX_FIXES = 4
_MAX_CROWDERS = 3  # named leases, each of which alone frees the room
_MAX_SET = 5  # leases named when only several together free the room
_MAX_TRIES = 24  # placed leases tried as crowders


# --------------------------------------------------------------------------- numbers as text
def _mw(w: float, *, up: bool) -> str:
    """Watts as MW, rounded up (a need) or down (a headroom) so the text never flatters."""
    mw = w / 1e6
    digits = 1 if abs(mw) >= 10 else 2 if abs(mw) >= 0.1 else 3
    f = 10**digits
    v = math.ceil(mw * f - 1e-9) / f if up else math.floor(mw * f + 1e-9) / f
    return f"{v:,.{digits}f} MW"


def _gbps(mbps: float, *, up: bool) -> str:
    """Mbps as Gbps, rounded up (a need) or down (room)."""
    g = mbps / MBPS
    digits = 0 if abs(g) >= 10 else 1 if abs(g) >= 1 else 3
    f = 10**digits
    v = math.ceil(g * f - 1e-9) / f if up else math.floor(g * f + 1e-9) / f
    return f"{v:,.{digits}f} Gbps"


def _weeks(lo: LeaseOptions, short: np.ndarray) -> str:
    return weeks_text([lo.t0 + 1 + int(i) for i in np.flatnonzero(short)])


def _names(items: list[str], limit: int = 3) -> str:
    return ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")


# --------------------------------------------------------------------------- lease variants
def lease_variant(lo: LeaseOptions, *, gpus: int | None = None, egress_gbps: float | None = None,
                  slo_ms: float | None = None, allow: int | None = None, replicas: int | None = None,
                  anti_affinity: bool | None = None, span: str | None = None) -> LeaseOptions:
    """A copy of ``lo`` with some terms changed and what follows from them recomputed.

    Parameters
    ----------
    lo
        The lease's options.
    gpus, egress_gbps, slo_ms, replicas, anti_affinity, span
        New terms (GPUs per replica...); ``None`` keeps the lease's.
    allow
        A site position added to the lease's allowed sites.

    Returns
    -------
    LeaseOptions
        Fitting it with :meth:`planner.optimise.residual.Residual.fit` tests the lease so changed.
    """
    new = copy.copy(lo)  # shallow, as dataclasses.replace(lo) is: the pods and paths are shared
    if gpus is not None:
        new.gpus = gpus
    if egress_gbps is not None:
        new.egress_gbps = egress_gbps
    new.derive_egress()
    if slo_ms is not None:
        new.slo_ms = slo_ms
        new.paths = {s: [p for p in ps if p.latency_ms <= slo_ms + 1e-9] for s, ps in lo.all_paths.items()}
    if allow is not None:
        new.placement_sites = sorted({*lo.placement_sites, allow})
    if replicas is not None:
        new.replicas = replicas
    if anti_affinity is not None:
        new.anti_affinity = anti_affinity
    if span is not None:
        new.span = span
    new.sites = [s for s in new.placement_sites if not new.needs_path or new.paths.get(s)]
    return new


# --------------------------------------------------------------------------- fixes
@dataclass(frozen=True)
class Fix:
    """One change that makes a lease fit: the changed lease against the (possibly enlarged) residual."""

    text: str
    lease: LeaseOptions
    room: Residual
    checked: bool = False
    """Whether :meth:`holds` was already found true (the lease and the room cannot change since)."""

    def holds(self) -> bool:
        """Whether the lease so changed fits the residual so changed."""
        return self.room.fit(self.lease) is not None


def _largest(ok: Callable[[int], bool], hi: int) -> int:
    """The largest ``k`` in ``1..hi`` with ``ok(k)`` by bisection (``0`` if ``ok(1)`` fails)."""
    if hi < 1 or not ok(1):
        return 0
    lo_k = 1
    while lo_k < hi:
        mid = (lo_k + hi + 1) // 2
        if ok(mid):
            lo_k = mid
        else:
            hi = mid - 1
    return lo_k


def _fewer_gpus(ref: Residual, lo: LeaseOptions) -> Fix | None:
    n = _largest(lambda k: ref.fit(lease_variant(lo, gpus=k)) is not None, lo.gpus - 1)
    # the bisection's last yes was this very change, fitted against ``ref``: verified
    return Fix(f"fits with <= {n:,} GPUs per replica", lease_variant(lo, gpus=n), ref, checked=True) if n else None


WIDER: dict[str, tuple[str, ...]] = {"pod": ("hall", "site"), "hall": ("site",), "site": ()}
"""The spans a lease may widen to, narrowest first."""


def _wider_span(ref: Residual, lo: LeaseOptions) -> list[Fix]:
    """The narrowest wider span the lease fits with (span=pod -> hall, else site; span=hall -> site), if any."""
    for span in WIDER[lo.span]:
        v = lease_variant(lo, span=span)
        if ref.fit(v) is not None:
            return [Fix(f"fits with span={span}", v, ref, checked=True)]
    return []


def _span_pod(ref: Residual, lo: LeaseOptions) -> Fix | None:
    """A split replica's inter-pod traffic binds: held whole by one pod, it sends none."""
    if lo.span == "pod":
        return None
    v = lease_variant(lo, span="pod")
    return Fix("fits with span=pod", v, ref, checked=True) if ref.fit(v) is not None else None


def _less_egress(ref: Residual, lo: LeaseOptions) -> Fix | None:
    if lo.egress_gbps <= 0:
        return None
    step = 1.0 if lo.egress_gbps >= 10 else 0.1 if lo.egress_gbps >= 1 else 0.001
    top = math.ceil(lo.egress_gbps / step - 1e-9) - 1
    k = _largest(lambda j: ref.fit(lease_variant(lo, egress_gbps=j * step)) is not None, top)
    if not k:
        return None
    e = round(k * step, 3)
    return Fix(f"fits with egress <= {e:,.{0 if step == 1 else 1 if step == 0.1 else 3}f} Gbps",
               lease_variant(lo, egress_gbps=e), ref, checked=k * step == e)  # verified by the bisection's last yes


def _as_spot(ref: Residual, lo: LeaseOptions) -> Fix | None:
    """A committed lease sold as spot: it may use what only the base case of internal demand leaves free."""
    if lo.spot or lo.internal or ref.inst.pod_free_worst.size == 0:
        return None
    return Fix("fits as spot (pre-emptible by internal work)", dataclasses.replace(lo, spot=True), ref)


def _looser_slo(ref: Residual, lo: LeaseOptions) -> Fix | None:
    if lo.slo_ms is None:
        return None
    slo = lo.slo_ms
    tries = sorted({math.ceil(p.latency_ms * 10 - 1e-9) / 10 for s in lo.placement_sites
                    for p in lo.all_paths.get(s, []) if p.latency_ms > slo + 1e-9})
    for x in tries:
        if x > slo:
            v = lease_variant(lo, slo_ms=x)
            if ref.fit(v) is not None:
                return Fix(f"fits with SLO >= {x:.1f} ms", v, ref, checked=True)
    return None


def _allow(ref: Residual, lo: LeaseOptions) -> list[Fix]:
    out = []
    for s in lo.sku_sites:
        if s not in lo.placement_sites:
            v = lease_variant(lo, allow=s)
            if ref.fit(v) is not None:
                out.append(Fix(f"allow {ref.inst.site_ids[s]}", v, ref, checked=True))
    return out


def _fewer_replicas(ref: Residual, lo: LeaseOptions) -> list[Fix]:
    if lo.replicas < 2:
        return []
    out = []
    if lo.anti_affinity:
        v = lease_variant(lo, anti_affinity=False)
        if ref.fit(v) is not None:
            out.append(Fix("fits without anti-affinity", v, ref, checked=True))
    # the first fit places replicas one after another, so the most that fit are those it places before one fails
    n = min(len(ref.term(lo).place(lo)), lo.replicas - 1)
    v = lease_variant(lo, replicas=n)
    if n >= 1 and ref.fit(v) is not None:
        out.append(Fix(f"fits with replicas <= {n}", v, ref, checked=True))
    return out


def _more_capacity(ref: Residual, lo: LeaseOptions, fams: Collection[str]) -> Fix | None:
    """Add what a fit that ignores the capacity families ``fams`` lacks, and check the lease then fits."""
    fams = [f for f in _CAPACITY if f in fams]
    if not fams:
        return None
    relaxed = ref.fit(lo, relax=set(fams))
    if relaxed is None:
        return None
    inst, t = ref.inst, slice(lo.t0, lo.t1 + 1)
    need = {k: sorted((x, a) for x, a in v.items() if a)  # what the relaxed fit takes, per thing
            for k, v in Load.of(inst, lo, relaxed).rows.items()}
    room = ref.copy(ledgers=[by_family(Family(f)).ledger for f in fams])  # only what is added to is copied
    parts = []
    added: list[tuple[str, int]] = []  # (ledger, thing) of every row added to

    def add(ledger: str, load: int, idx: int, scale: float, text: Callable[[float], str], what: str) -> None:
        arr = getattr(room, ledger)
        short = np.clip(load - arr[idx, t], 0, None)
        if short.max() <= 0:
            return
        shown = text(float(short.max()))  # rounded up; the amount added is the amount shown
        arr[idx, t] += np.where(short > 0, math.ceil(float(shown.split()[0].replace(",", "")) * scale - 1e-6), 0)
        parts.append(f"+{shown} {what} in {_weeks(lo, short > 0)}")
        added.append((ledger, idx))

    raised: list[int] = []  # pods whose free GPUs are raised
    for f in fams:
        if f == "gpus":  # as a level to free up to, which a pod can reach only if it has that many GPUs
            for p, want in need.get("gpu", []):
                short = room.gpu[p, t] < want
                if short.any():
                    parts.append(f"{want:,} free {lo.sku} GPUs in pod {inst.pod_ids[p]} in {_weeks(lo, short)} "
                                 f"(now {int(room.gpu[p, t][short].min()):,} at the least)")
                    room.gpu[p, t] = np.maximum(room.gpu[p, t], want)
                    raised.append(p)
                    added.append(("gpu", p))
        elif f == "uplink":
            for p, x in need.get("uplink", []):
                add("uplink", x, p, KBPS, lambda v: _gbps(v / 1000, up=True), f"uplink on pod {inst.pod_ids[p]}")
        elif f == "power":
            for s, x in need.get("power", []):
                add("power", x, s, 1e6, lambda v: _mw(v, up=True), f"at {inst.site_ids[s]}")
        elif f == "aggregation":
            for h, x in need.get("agg", []):
                add("agg", x, h, KBPS, lambda v: _gbps(v / 1000, up=True), f"aggregation in hall {inst.hall_ids[h]}")
        else:
            for e, x in need.get("link", []):
                add("link", x, e, MBPS, lambda v: _gbps(v, up=True), f"on span {inst.span_ids[e]}")
    has = inst.sc.pods["gpus"].to_numpy()[raised] if raised else None
    if not parts or (has is not None and (room.gpu[raised] > has[:, None]).any()):  # no more free than it has
        return None
    # the re-fit against ``room``: its term is ``ref``'s with the rows added to read again
    term = ref.term(lo).copy()
    local = term.positions()
    for ledger, x in added:
        least = getattr(room, ledger)[x, t].min()
        if ledger in ("gpu", "uplink"):  # per pod: its position among the term's pods, if one of them
            if local[x] >= 0:
                getattr(term, ledger)[local[x]] = least
        else:
            getattr(term, ledger)[x] = least
    return Fix(" and ".join(parts), lo, room, checked=True) if term.fit(lo, scratch=True) is not None else None


def _joint(ref: Residual, lo: LeaseOptions, fams: Collection[str]) -> Fix | None:
    """For families that bind only together: change the lease as a fit ignoring them needs, add what it lacks."""
    relaxed = ref.fit(lo, relax=set(fams))
    if relaxed is None or not set(fams) - set(_CAPACITY):
        return None
    variant, texts = lo, []
    if "latency" in fams and lo.slo_ms is not None:
        worst = max((f.path.latency_ms for f in relaxed if f.path is not None), default=0.0)
        if worst > lo.slo_ms + 1e-9:
            x = math.ceil(worst * 10 - 1e-9) / 10
            variant = lease_variant(variant, slo_ms=x)
            texts.append(f"SLO >= {x:.1f} ms")
    if "residency" in fams:
        for s in sorted({f.site for f in relaxed} - set(lo.placement_sites)):
            variant = lease_variant(variant, allow=s)
            texts.append(f"allow {ref.inst.site_ids[s]}")
    if "anti_affinity" in fams and len({f.site for f in relaxed}) < len(relaxed):
        variant = lease_variant(variant, anti_affinity=False)
        texts.append("no anti-affinity")
    if variant is lo:
        return None
    if ref.fit(variant) is not None:
        return Fix("fits with " + " and ".join(texts), variant, ref, checked=True)
    more = _more_capacity(ref, variant, fams)
    if more is None:
        return None
    return Fix("fits with " + " and ".join(texts) + " and " + more.text, variant, more.room, checked=True)  # as more


def verified_fixes(ref: Residual, lo: LeaseOptions, fams: Collection[str]) -> list[Fix]:
    """Changes that each make ``lo`` fit ``ref``, for the binding families ``fams``; each is re-fitted."""
    cands: list[Fix | None] = []
    fams = set(fams)
    if fams & set(_CAPACITY):
        cands.append(_more_capacity(ref, lo, fams))
    if fams & {"gpus", "power", "uplink", "aggregation"}:
        cands += [_fewer_gpus(ref, lo), *_wider_span(ref, lo)]
    if fams & {"gpus", "power"}:
        cands.append(_as_spot(ref, lo))
    if fams & {"uplink", "aggregation"}:
        cands.append(_span_pod(ref, lo))
    if fams & {"dci", "uplink"}:
        cands.append(_less_egress(ref, lo))
    if "latency" in fams or "dci" in fams:
        cands.append(_looser_slo(ref, lo))
    if fams & {"residency", "gpus", "power"}:
        cands += _allow(ref, lo)
    if "anti_affinity" in fams or lo.replicas > 1:
        cands += _fewer_replicas(ref, lo)
    if len(fams) > 1 or not any(c is not None for c in cands):  # a joint block: single changes may still do
        cands += [_joint(ref, lo, fams), _fewer_gpus(ref, lo), _less_egress(ref, lo), _looser_slo(ref, lo),
                  *_allow(ref, lo)]
    out: list[Fix] = []
    for c in cands:
        if c is not None and c.text not in {f.text for f in out} and (c.checked or c.holds()):
            out.append(c)
    return out[:_MAX_FIXES]


# --------------------------------------------------------------------------- what binds
def _applicable(lo: LeaseOptions, inst: Instance) -> list[str]:
    """The families that can bind ``lo`` at all, in reporting order."""
    skip = set()
    if lo.span == "pod" or inst.interpod_kbps_per_gpu <= 0 or not _limited_halls(inst, lo):
        skip.add("aggregation")
    if lo.slo_ms is None:
        skip.add("latency")
    if not lo.allowed and not lo.residency:
        skip.add("residency")
    if not lo.anti_affinity or lo.replicas < 2:
        skip.add("anti_affinity")
    if lo.egress_gbps <= 0:
        skip.add("dci")
    if lo.egress_gbps <= 0 and lo.span == "pod":
        skip.add("uplink")
    return [f for f in _ORDER if f not in skip]


def _blocking(res: Residual, lo: LeaseOptions) -> tuple[list[str], str]:
    """Families blocking ``lo`` in ``res``, and how they combine.

    Returns every single family whose relaxation alone admits the lease (joined by
    ``" or "``: relaxing any one is enough); failing that, an irreducible set found
    by a deletion filter (``"+"``: all of them must give).
    """
    fams = _applicable(lo, res.inst)
    singles = [f for f in fams if res.fit(lo, relax={f}) is not None]
    if singles:
        return singles, " or "
    relax = set(fams)
    if res.fit(lo, relax=relax) is None:
        return fams, "+"
    for f in fams:
        if res.fit(lo, relax=relax - {f}) is not None:
            relax.discard(f)
    return [f for f in fams if f in relax], "+"


def _limited_halls(inst: Instance, lo: LeaseOptions) -> list[int]:
    """Halls (by position) with pods of the lease's SKU at its sites whose aggregation layer is modelled."""
    halls = {int(inst.pod_hall[p]) for s in lo.sku_sites for p in lo.pods[s]}
    return sorted(h for h in halls if inst.hall_agg_kbps[h].min() < UNLIMITED // 2)


def _aggregation_fact(res: Residual, lo: LeaseOptions, cand: list[int]) -> str | None:
    """How the aggregation layers keep a split replica of ``lo`` out (their load in the term), or ``None``."""
    inst, t = res.inst, slice(lo.t0, lo.t1 + 1)
    per_gpu = inst.interpod_kbps_per_gpu
    halls = {int(inst.pod_hall[p]): s for s in cand for p in lo.pods[s]}
    limited = [h for h in _limited_halls(inst, lo) if h in halls]
    if not limited:
        return None
    room = {h: int(res.agg[h, t].min()) for h in limited}
    gpus = {h: int(np.clip(res.gpu[[p for p in lo.pods[halls[h]] if inst.pod_hall[p] == h], t].min(axis=1), 0,
                           None).sum()) for h in limited}
    if lo.span == "hall":  # the whole replica crosses one hall's layer
        need = inst.agg_kbps(lo.gpus, split=True)
        roomy = [h for h in limited if gpus[h] >= lo.gpus] or limited
        best = max(roomy, key=lambda h: (room[h], -h))
        if room[best] >= need:
            return None
        head = (f"a replica split over pods sends {_gbps(need / 1000, up=True)} over its hall's aggregation layer; "
                f"no allowed {lo.sku} hall with room for it has that free through {term_text(lo)}")
    else:  # span=site: the replica's GPUs may spread over the site's halls, each layer carries its share
        take: dict[int, int] = {}
        for s in cand:
            for h, ps in inst.hall_pods(lo, s).items():
                free = int(np.clip(res.gpu[ps, t].min(axis=1), 0, None).sum())
                take[s] = take.get(s, 0) + (min(free, max(room[h], 0) // per_gpu) if h in room else free)
        site = max(take, key=lambda x: (take[x], -x))
        if take[site] >= lo.gpus or not any(halls[h] == site for h in limited):
            return None
        best = max((h for h in limited if halls[h] == site), key=lambda h: (room[h], -h))
        head = (f"split over pods at {inst.site_ids[site]}, a replica sends {_gbps(per_gpu / 1000, up=True)} per GPU "
                f"over the aggregation layer of each hall it uses; the pods and aggregation layers of its halls take "
                f"at most {take[site]:,} of its {lo.gpus:,} GPUs through {term_text(lo)}")
    cap = inst.hall_agg_kbps[best]
    cap_w = cap[t] if np.ndim(cap) == 2 else np.full(lo.weeks, int(cap))
    used = (cap_w - res.agg[best, t]) / np.maximum(cap_w, 1)
    full = used >= used.max() - 1e-9
    return (f"{head}; the roomiest, hall {inst.hall_ids[best]}, has aggregation at {used.max() * 100:.0f} % in "
            f"{_weeks(lo, full)} ({_gbps(room[best] / 1000, up=False)} free)")


def _needed_sites(lo: LeaseOptions) -> int:
    return lo.replicas if lo.anti_affinity else 1


def _fact(res: Residual, lo: LeaseOptions, family: str) -> str | None:  # noqa: C901
    """A true statement of how ``family`` keeps ``lo`` out of ``res``, or ``None`` if none can be made."""
    inst, sites, t = res.inst, res.inst.site_ids, slice(lo.t0, lo.t1 + 1)
    cand = res.candidate_sites(lo, relax=_CAPACITY)
    pods: list[int] = [p for s in cand for p in lo.pods[s]]
    if family == "latency":
        if lo.slo_ms is None:
            return None
        inside = [s for s in lo.placement_sites if lo.paths.get(s)]
        far = fastest_ms(lo, [s for s in lo.placement_sites if s not in inside])
        if far is None:
            return None
        ms, s = far
        head = (f"only {', '.join(sites[x] for x in inside)} {'is' if len(inside) == 1 else 'are'} within SLO "
                f"{lo.slo_ms:g} ms of {lo.region}, without room for it; " if inside else "")
        return f"{head}{sites[s]}→{lo.region} is {ms_text(ms, above=lo.slo_ms)} ms, over the SLO of {lo.slo_ms:g} ms"
    if family == "residency":
        tags = ", ".join([*lo.allowed, *lo.residency]) or "-"
        allowed = ", ".join(sites[s] for s in lo.placement_sites)
        return (f"its allowed sites/residency ({tags}) restrict it to {allowed}, where it does not fit" if allowed
                else f"its allowed sites/residency ({tags}) match no site with {lo.sku} pods")
    if family == "anti_affinity":
        ok = [sites[s] for s in res.candidate_sites(lo) if res.fit_replica(lo, s) is not None]
        if not 1 <= len(ok) < lo.replicas:
            return None
        return (f"{lo.replicas} replicas need {lo.replicas} distinct sites; only {len(ok)} can take one "
                f"({', '.join(ok)})")
    if family == "gpus":
        if not pods:
            return None
        if lo.span == "hall":
            caps_h = {(s, h): int(np.clip(res.gpu[ps, t].min(axis=1), 0, None).sum())
                      for s in cand for h, ps in inst.hall_pods(lo, s).items()}
            best_h = max(caps_h, key=lambda k: caps_h[k])
            if caps_h[best_h] < lo.gpus:
                return (f"no allowed {lo.sku} hall's pods keep {lo.gpus:,} GPUs free through {term_text(lo)}; "
                        f"the roomiest, {inst.hall_ids[best_h[1]]}, keeps {caps_h[best_h]:,}")
            ok_sites = sorted({sites[s] for (s, _), c in caps_h.items() if c >= lo.gpus})
        elif lo.span == "site":
            caps = {s: int(np.clip(res.gpu[lo.pods[s], t].min(axis=1), 0, None).sum()) for s in cand}
            best = max(caps, key=lambda s: caps[s])
            if caps[best] < lo.gpus:
                return (f"no allowed site's {lo.sku} pods keep {lo.gpus:,} GPUs free through {term_text(lo)}; "
                        f"the roomiest, {sites[best]}, keeps {caps[best]:,}")
            ok_sites = [sites[s] for s in cand if caps[s] >= lo.gpus]
        else:
            floor = res.gpus_left(lo, pods, t)  # a committed lease: what every upside of internal work leaves
            k = int(np.argmax(floor))
            if floor[k] < lo.gpus:
                weekly = res.gpu[pods[k], t] if lo.spot else np.minimum(res.gpu[pods[k], t], res.gpu_worst[pods[k], t])
                note = ""
                if not lo.spot and int(res.gpu[pods[k], t].min()) >= lo.gpus:  # room in the base case only
                    note = " if internal work takes its upside (a committed lease plans for it; a spot lease need not)"
                return (f"no allowed {lo.sku} pod keeps {lo.gpus:,} GPUs free through {term_text(lo)}; the "
                        f"roomiest, {inst.pod_ids[pods[k]]}, has {int(floor[k]):,} free at the least "
                        f"(short in {_weeks(lo, weekly < lo.gpus)}){note}")
            ok_pods = [p for p, f in zip(pods, floor, strict=True) if f >= lo.gpus]
            ok_sites = sorted({sites[int(inst.pod_site[p])] for p in ok_pods})
            if not lo.anti_affinity and len(ok_pods) < lo.replicas:
                return (f"{lo.replicas} replicas of {lo.gpus:,} {lo.sku} GPUs; only {len(ok_pods)} allowed pod"
                        f"{'s have' if len(ok_pods) != 1 else ' has'} that many free through {term_text(lo)}")
        if len(ok_sites) < _needed_sites(lo):
            return (f"{lo.replicas} replicas of {lo.gpus:,} {lo.sku} GPUs need {lo.replicas} distinct sites; "
                    f"only {len(ok_sites)} ({', '.join(ok_sites) or 'none'}) "
                    f"{'has' if len(ok_sites) == 1 else 'have'} that many free through {term_text(lo)}")
        return None
    if family == "aggregation":
        return _aggregation_fact(res, lo, cand)
    if family == "power":
        short_sites = []
        for s in cand:
            need = lo.gpus * int(inst.pod_w_per_gpu[lo.pods[s][0]])
            headroom = res.power[s, t]
            if headroom.min() < need:
                short = headroom < need
                short_sites.append(f"{sites[s]} has {_mw(headroom[short].min(), up=False)} headroom in "
                                   f"{_weeks(lo, short)}, one replica needs {_mw(need, up=True)}")
        if not short_sites or len(cand) - len(short_sites) >= _needed_sites(lo):
            return None
        return "; ".join(short_sites)
    if family == "dci":
        rooms = [(res.link[p.span_idx, t].min(), s, p) for s in cand for p in lo.paths.get(s, [])]
        if not rooms:
            return None
        room, _s, path = max(rooms, key=lambda r: r[0])
        if room >= lo.egress_mbps:
            routed = {s for r, s, _ in rooms if r >= lo.egress_mbps}
            if len(routed) >= _needed_sites(lo):
                return None
            return (f"{lo.replicas} replicas need routes on distinct sites with {_gbps(lo.egress_mbps, up=True)} "
                    f"free; only {len(routed)} {'has' if len(routed) == 1 else 'have'} one")
        k = int(np.argmin(res.link[path.span_idx, t].min(axis=1)))
        e = int(path.span_idx[k])
        short = res.link[e, t] < lo.egress_mbps
        within = f" within SLO {lo.slo_ms:g} ms" if lo.slo_ms is not None else ""
        return (f"no route to {lo.region}{within} has {_gbps(lo.egress_mbps, up=True)} free through "
                f"{term_text(lo)}; on the roomiest, {path.label}, span {inst.span_ids[e]} has "
                f"{_gbps(res.link[e, t][short].min(), up=False)} free in {_weeks(lo, short)}")
    # uplink
    if not pods:
        return None
    need = inst.uplink_kbps(lo, lo.gpus, split=False)
    room = res.uplink[pods, t].min(axis=1)
    k = int(np.argmax(room))
    if room[k] >= need:
        return None
    return (f"no allowed pod uplink has {_gbps(need / 1000, up=True)} free through {term_text(lo)}; the roomiest, "
            f"{inst.pod_ids[pods[k]]}, has {_gbps(room[k] / 1000, up=False)}")


def _by_site(res: Residual, lo: LeaseOptions) -> str | None:
    """What each allowed site lacks for one replica of ``lo`` in ``res`` (up to three sites)."""
    inst, t = res.inst, slice(lo.t0, lo.t1 + 1)
    out = []
    for s in res.candidate_sites(lo, relax=_CAPACITY):
        lacks = []
        floors = res.gpu[lo.pods[s], t].min(axis=1)
        room = int(np.clip(floors, 0, None).sum()) if lo.span == "site" else int(floors.max())
        if lo.span == "hall":
            room = max(int(np.clip(res.gpu[ps, t].min(axis=1), 0, None).sum()) for ps in inst.hall_pods(lo, s).values())
        if room < lo.gpus:
            where = {"site": "across its pods", "hall": "across its roomiest hall's pods"}.get(lo.span,
                                                                                           "in its roomiest pod")
            lacks.append(f"{room:,} {lo.sku} GPUs free {where} through {term_text(lo)}, needs {lo.gpus:,}")
        need = lo.gpus * int(inst.pod_w_per_gpu[lo.pods[s][0]])
        head = res.power[s, t]
        if head.min() < need:
            short = head < need
            lacks.append(f"{_mw(head[short].min(), up=False)} headroom in {_weeks(lo, short)}, "
                         f"needs {_mw(need, up=True)}")
        if lo.egress_mbps > 0 and lo.paths.get(s):
            best = max(float(res.link[p.span_idx, t].min()) for p in lo.paths[s])
            if best < lo.egress_mbps:
                lacks.append(f"{_gbps(best, up=False)} free on its roomiest route to {lo.region} through "
                             f"{term_text(lo)}, needs {_gbps(lo.egress_mbps, up=True)}")
        if lacks:
            out.append(f"at {inst.site_ids[s]}, {'; '.join(lacks)}")
    return "; ".join(out[:3]) or None


def _describe(res: Residual, lo: LeaseOptions) -> tuple[str, str, list[Fix]]:
    """(family label, reason, verified fixes) for a lease that does not fit ``res``."""
    fams, how = _blocking(res, lo)
    facts = [(f, _fact(res, lo, f)) for f in fams]
    stated = [(f, x) for f, x in facts if x is not None]
    fixes = verified_fixes(res, lo, fams)
    if how == " or ":  # any one relaxation is enough: report the first that can be stated
        if stated:
            return stated[0][0], stated[0][1], fixes
        where = _by_site(res, lo)
        return fams[0], where or f"more room in any of {', '.join(fams)} would admit it", fixes
    where = _by_site(res, lo) if len(stated) < len(fams) else None
    text = "; ".join([x for _, x in stated] + ([where] if where else []))
    return "+".join(fams), text or f"{', '.join(fams)} bind together", fixes


# --------------------------------------------------------------------------- crowders
@dataclass
class Holdings:
    """Where each placed lease holds room: GPUs per site, replicas per span, and which leases are where.

    The arrays (one row per placed lease, in ``ids`` order, which is sorted) let
    :func:`crowders` score every candidate at once.
    """

    placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]]
    site_gpus: dict[str, dict[int, int]]
    span_uses: dict[str, dict[int, int]]
    at_site: dict[int, set[str]]
    on_span: dict[int, set[str]]
    ids: list[str] = field(default_factory=list)
    t0: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    t1: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    egress_gbps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    routed: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    gpus_at: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """Leases x sites: GPUs each lease holds at each site."""
    uses: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.int64))
    """Leases x spans: replicas of each lease routed over each span."""
    loads: dict[str, Load] = field(default_factory=dict)
    """Each placed lease's :class:`~planner.optimise.residual.Load`, made when first asked for (:meth:`load`)."""

    @classmethod
    def of(cls, placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]]) -> Holdings:
        """Index the placed leases' replica fits."""
        out = cls(placed, {}, {}, {}, {})
        for lid, (_, fits) in placed.items():
            gpus, uses = out.site_gpus.setdefault(lid, {}), out.span_uses.setdefault(lid, {})
            for f in fits:
                gpus[f.site] = gpus.get(f.site, 0) + sum(g for _, g in f.parts)
                out.at_site.setdefault(f.site, set()).add(lid)
                for e in (f.path.span_idx if f.path is not None else ()):
                    uses[int(e)] = uses.get(int(e), 0) + 1
                    out.on_span.setdefault(int(e), set()).add(lid)
        out.ids = sorted(placed)
        los = [placed[lid][0] for lid in out.ids]
        out.t0 = np.array([lo.t0 for lo in los], dtype=np.int64)
        out.t1 = np.array([lo.t1 for lo in los], dtype=np.int64)
        out.egress_gbps = np.array([lo.egress_gbps for lo in los], dtype=float)
        out.routed = np.array([bool(lo.egress_mbps) for lo in los], dtype=bool)
        n_sites = 1 + max((s for d in out.site_gpus.values() for s in d), default=-1)
        n_spans = 1 + max((e for d in out.span_uses.values() for e in d), default=-1)
        out.gpus_at = np.zeros((len(los), n_sites), dtype=np.int64)
        out.uses = np.zeros((len(los), n_spans), dtype=np.int64)
        for i, lid in enumerate(out.ids):
            for s, g in out.site_gpus[lid].items():
                out.gpus_at[i, s] = g
            for e, n in out.span_uses[lid].items():
                out.uses[i, e] = n
        return out

    def load(self, inst: Instance, lid: str) -> Load:
        """What placed lease ``lid`` takes from each capacity."""
        if lid not in self.loads:
            self.loads[lid] = Load.of(inst, *self.placed[lid])
        return self.loads[lid]

    def ranked(self, lo: LeaseOptions, sites: set[int], spans: set[int], limit: int | None = None) -> list[str]:
        """The leases holding GPUs at ``sites`` or traffic on ``spans`` in weeks of ``lo``'s term, most first.

        Each scores (its GPUs at those sites + its routed replicas on those spans x its egress in Gbps) x the
        weeks it shares with ``lo``; ties go by lease id. ``limit`` keeps the first so many.
        """
        if not self.ids:
            return []
        weeks = np.minimum(self.t1, lo.t1) - np.maximum(self.t0, lo.t0) + 1
        s_idx = [s for s in sites if s < self.gpus_at.shape[1]]
        e_idx = [e for e in spans if e < self.uses.shape[1]]
        gpus = self.gpus_at[:, s_idx].sum(axis=1) if s_idx else np.zeros(len(self.ids), dtype=np.int64)
        links = self.uses[:, e_idx].sum(axis=1) if e_idx else np.zeros(len(self.ids), dtype=np.int64)
        keep = (weeks > 0) & ((gpus > 0) | ((links > 0) & self.routed))
        score = -(gpus + links * self.egress_gbps) * weeks
        idx = np.flatnonzero(keep)
        if limit is not None and idx.size > limit:  # only those scoring at most the limit-th score can come first
            idx = idx[score[idx] <= np.partition(score[idx], limit - 1)[limit - 1]]
        order = idx[np.lexsort((idx, score[idx]))]  # ids are sorted: position breaks ties as the id would
        return [self.ids[i] for i in order[:limit].tolist()]


def crowders(res: Residual, base: Residual, lo: LeaseOptions,
             placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]],
             holdings: Holdings | None = None, target: list[ReplicaFit] | None = None) -> tuple[list[str], bool]:
    """Placed leases whose removal lets ``lo`` fit ``res``, checked by re-fitting.

    The candidates hold, in weeks of ``lo``'s term, GPUs at the sites or traffic on
    the spans that ``lo`` would use beside internal work alone; those holding most
    of it are tried first.

    Returns
    -------
    (names, each)
        With ``each`` true, removing any one of ``names`` alone frees the room;
        otherwise removing all of them together does. ``([], False)`` when no few
        leases do.

    ``target`` is ``base.fit(lo)`` when the caller has it.
    """
    target = target if target is not None else base.fit(lo)
    if target is None:
        return [], False
    hold = holdings if holdings is not None else Holdings.of(placed)
    sites_ = {f.site for f in target}
    spans = {int(e) for f in target if f.path is not None for e in f.path.span_idx}
    order = hold.ranked(lo, sites_, spans, _MAX_TRIES)
    term = res.term(lo)
    freed, sites = Freed(term, res, [hold.load(res.inst, lid) for lid in order]), term.site_order(lo)
    bound = ReplicaBound(freed.cur, lo, sites)
    k_of = {lid: k for k, lid in enumerate(order)}

    def give(lid: str, sign: int = +1) -> bool:  # whether the term changed
        if not freed.give(k_of[lid], sign):
            return False
        bound.update(*freed.changes())
        return True

    def fits_now() -> bool:  # a real re-fit, in what ``res`` leaves with the leases given back so far taken out
        if bound.most() < lo.replicas:  # the first fit never places more replicas than this bound
            return False
        return len(freed.term().place(lo, scratch=True, sites=sites)) == lo.replicas

    # A fit reads nothing but the term: where giving a lease back (or taking it again) moves no least room
    # (``give`` returns False), the term is the one last fitted and so is the answer; only changed terms are re-fitted.
    alone: list[str] = []
    for lid, change in zip(order, freed.alone(), strict=True):  # each given back alone, read all at once
        if freed.show(change):  # unchanged: the term of ``res``, where the lease does not fit
            bound.update(*freed.changes())
            ok = fits_now()
            freed.hide(change)
            bound.update(*freed.changes())
            if ok:
                alone.append(lid)
                if len(alone) == _MAX_CROWDERS:
                    break
    if alone:
        return alone, True
    chosen: list[str] = []  # taken out one by one until the lease fits, then pruned
    for lid in order:
        chosen.append(lid)
        if give(lid) and fits_now():  # unchanged: the term last fitted, which did not fit
            break
    else:
        return [], False
    for lid in list(chosen):  # deletion filter: put each back unless the lease then no longer fits
        if not give(lid, sign=-1) or fits_now():  # unchanged: the term last fitted, which fits
            chosen.remove(lid)
        else:
            give(lid)
    return (chosen, False) if len(chosen) <= _MAX_SET else ([], False)


# --------------------------------------------------------------------------- rows
def _fix_text(fixes: list[Fix]) -> str:
    return "; or ".join(f.text for f in fixes) if fixes else "no single change checked to make it fit"


def explain_lease(inst: Instance, lo: LeaseOptions, res: Residual, base: Residual,
                  placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]],
                  holdings: Holdings | None = None) -> dict[str, object]:
    """One ``unplaced`` row: family, reason, verified fixes and who crowded it out.

    Parameters
    ----------
    inst
        The instance.
    lo
        The left-out lease.
    res
        What the plan leaves.
    base
        What internal work alone leaves.
    placed
        Each placed lease (not internal) with its replica fits, for "crowded out by".
    holdings
        ``placed`` indexed by :meth:`Holdings.of` (built here when omitted).
    """
    with res.reusing_terms(), base.reusing_terms():  # the many re-fits of one lease read each residual once
        return _explain_lease(inst, lo, res, base, placed, holdings)


def _explain_lease(inst: Instance, lo: LeaseOptions, res: Residual, base: Residual,
                   placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]],
                   holdings: Holdings | None) -> dict[str, object]:
    row: dict[str, object] = {"lease": lo.group, "priority": "internal" if lo.internal else "lease", "sku": lo.sku,
                              "gpus": lo.gpus, "replicas": lo.replicas, "start_week": lo.t0 + 1,
                              "end_week": lo.t1 + 1, "revenue_usd": lo.revenue_usd, "crowded_out_by": ()}
    never = never_fits(inst, lo)
    if never:
        fixes = verified_fixes(base, lo, _blocking(base, lo)[0]) if base.fit(lo) is None else []
        row |= {"family": never[0].family, "reason": f"can never fit: {'; '.join(n.fact for n in never)}",
                "fix": _fix_text(fixes) + " (with internal work alone)"}
        return row
    target = base.fit(lo)
    if target is None:
        label, reason, fixes = _describe(base, lo)
        row |= {"family": label, "reason": f"{reason} (with internal work alone)",
                "fix": _fix_text(fixes) + " (with internal work alone)"}
        return row
    if res.fit(lo) is None:
        label, reason, fixes = _describe(res, lo)
        who, each = crowders(res, base, lo, placed, holdings, target)
        if who and each:
            by = f"; room freed by removing {'any one of ' if len(who) > 1 else ''}{', '.join(who)}"
        elif who:
            by = f"; room freed by removing {' and '.join(who)} together"
        else:
            by = "; it fits with internal work alone"
        row |= {"family": label, "reason": f"{reason} (beside the placed leases{by})",
                "fix": _fix_text(fixes) + " (beside the placed leases)", "crowded_out_by": tuple(who)}
        return row
    fits = res.fit(lo)
    assert fits is not None
    cost = sum(inst.power_cost_usd(lo, p, g) for f in fits for p, g in f.parts) + sum(
        inst.transport_cost_usd(lo, f.path) for f in fits)
    if cost >= lo.revenue_usd:
        ratio = math.floor(cost / max(lo.revenue_usd, 1e-9) * 100) / 100 + 0.01
        row |= {"family": "price", "reason": f"costs ${cost:,.0f} to carry (power + transport) but pays "
                f"${lo.revenue_usd:,.0f}", "fix": f"pays for itself at a price above {ratio:.2f}x the current one"}
    else:
        row |= {"family": "optimality", "reason": "fits in what the plan leaves; left out within the solver's gap",
                "fix": "run longer (--time-limit) to close the gap"}
    return row


_STANDING = ("fits", "beside", "alone", "never")
"""How near an option of a windowed lease comes to fitting, nearest first (see :func:`explain_window`)."""


def _standing(row: Mapping[str, object]) -> int:
    reason = str(row["reason"])
    if row["family"] in ("optimality", "price"):
        return _STANDING.index("fits")
    if reason.startswith("can never fit"):
        return _STANDING.index("never")
    return _STANDING.index("alone" if reason.endswith("(with internal work alone)") else "beside")


def explain_window(inst: Instance, opts: list[LeaseOptions], res: Residual, base: Residual,
                   placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]],
                   holdings: Holdings | None = None) -> dict[str, object]:
    """One ``unplaced`` row for a lease with a start window: every start is tried, the nearest one reported.

    Each candidate start (``opts``, earliest first) is explained as a lease of its own
    (:func:`explain_lease`: its fixes re-fitted at that start); the row gives the reason
    of the start that comes nearest to fitting (it fits what the plan leaves; it is
    crowded out by placed leases; it fits with internal work alone; it can never fit),
    the earliest among equals, and names the weeks tried. ``start_week``/``end_week``
    are those of the earliest start.
    """
    rows = [explain_lease(inst, lo, res, base, placed, holdings) for lo in opts]
    k = min(range(len(rows)), key=lambda i: (_standing(rows[i]), i))
    lo, row = opts[k], dict(rows[k])
    first = opts[0]
    tried = weeks_text([o.t0 + 1 for o in opts])
    row |= {"lease": lo.group, "start_week": first.t0 + 1, "end_week": first.t1 + 1,
            "reason": f"no start in its window fits (tried starting in {tried}, {lo.weeks} weeks each); "
                      f"starting in week {lo.t0 + 1}: {row['reason']}",
            "fix": f"starting in week {lo.t0 + 1}: {row['fix']}"}
    return row


def explain_unplaced(inst: Instance, placements: pd.DataFrame, res: Residual, *, explain: bool = True,
                     base: Residual | None = None, workers: int = 1,
                     on_done: Callable[[int, int], None] | None = None) -> pd.DataFrame:
    """The ``unplaced`` table of a plan: one row per left-out lease, with its reason.

    Parameters
    ----------
    inst
        The instance.
    placements
        The plan's placement rows.
    res
        What the plan leaves (every placement applied).
    explain
        ``False`` to skip the reasons (faster).
    base
        What internal work alone leaves; rebuilt from ``placements`` when omitted.
    workers
        Processes that explain leases side by side (:func:`planner.forked.forked_map`);
        each lease's reason reads only ``res`` and ``base``, so the table is the same
        for any number.
    on_done
        Called as ``on_done(explained, left_out)`` as the leases are explained.
    """
    placed_ids = set(placements["lease"])
    missing = [opts for group, opts in lease_groups(inst.leases).items() if group not in placed_ids]
    if not missing:
        return pd.DataFrame(columns=UNPLACED_COLUMNS)
    internal = {lo.lease for lo in inst.leases if lo.internal}
    by_id = {lo.lease: lo for lo in inst.leases}
    every = {lid: (by_id[lid], fits) for lid, fits in fits_from_placements(inst, placements).items()
             if fits is not None}
    if base is None:
        base = Residual.after(inst, {lid: fits for lid, (_, fits) in every.items() if lid in internal})
    placed = {by_id[lid].group: v for lid, v in every.items() if lid not in internal}  # a lease's own id names it
    holdings = Holdings.of(placed)
    work = res.copy()  # the caller's residual stays as it is

    def rows(a: int, b: int) -> list[dict[str, object]]:
        return [_row(inst, opts, work, base, placed, holdings, explain=explain) for opts in missing[a:b]]

    done = (lambda k: on_done(k, len(missing))) if on_done is not None else None
    with work.fixed(), base.fixed():  # neither changes while the leases are explained: terms read a table
        out = forked_map(rows, len(missing), workers if explain else 1, on_done=done)
    return pd.DataFrame(out, columns=UNPLACED_COLUMNS)


def _row(inst: Instance, opts: list[LeaseOptions], work: Residual, base: Residual,
         placed: Mapping[str, tuple[LeaseOptions, list[ReplicaFit]]], holdings: Holdings, *, explain: bool
         ) -> dict[str, object]:
    """The ``unplaced`` row of one left-out lease (its options)."""
    lo = opts[0]
    if explain and len(opts) > 1:
        return explain_window(inst, opts, work, base, placed, holdings)
    if explain:
        return explain_lease(inst, lo, work, base, placed, holdings)
    return {"lease": lo.group, "priority": "lease", "sku": lo.sku, "gpus": lo.gpus, "replicas": lo.replicas,
            "start_week": lo.t0 + 1, "end_week": lo.t1 + 1, "revenue_usd": lo.revenue_usd, "family": "",
            "reason": "not explained (explain=False)", "fix": "", "crowded_out_by": ()}


def internal_failure_reasons(inst: Instance, leases: list[str]) -> list[str]:
    """Why internal workloads cannot be placed, against the campus with internal reservations only."""
    base = Residual(inst)
    by_id = {lo.lease: lo for lo in inst.leases}
    out = []
    for lid in leases:
        lo = by_id[lid]
        never = never_fits(inst, lo)
        if never:
            out.append(f"{lid}: can never fit: {'; '.join(n.fact for n in never)} (fix: {never[0].need})")
        elif base.fit(lo) is None:
            _, reason, fixes = _describe(base, lo)
            out.append(f"{lid}: {reason} (fix: {_fix_text(fixes)})")
        else:
            out.append(f"{lid}: fits alone but not beside the other internal workloads and reservations "
                       "(fix: add capacity or lower internal demand)")
    return out
