"""Can a lease ever fit? Facts that hold whatever else is placed.

A lease can never be carried when, with nothing but the internal reservations on
the campus, it still asks for more than any allowed place can give in the weeks of
its term:

- ``residency``: its allowed sites and residency tags leave no site with pods of its SKU;
- ``latency``: its SLO is below the fibre latency from every allowed site with its SKU
  to its region (the fastest route of the scenario's own network and routing);
- ``size``: one replica needs more GPUs than any allowed pod (span=pod), hall (span=hall)
  or site (span=site) of its SKU keeps free through its term, after internal reservations
  (and, for a committed lease, after the upside internal work may take: the worst case);
- ``aggregation``: no pod can hold a replica whole, and split over pods it needs more
  inter-pod traffic than the aggregation layer of any hall with room for it carries
  (span=hall; a span=site replica may spread over halls, so it gets no such fact);
- ``anti_affinity``: its replicas need more distinct sites than can each ever hold one.

:func:`never_fits` states these facts for one lease; :func:`never_fit_problems`
turns them into ``planner validate`` warnings naming the lease's file and line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.errors import Problem
from planner.optimise.instance import KBPS, Instance, LeaseOptions, build_instance
from planner.scenario import Scenario
from planner.weeks import weeks_text

__all__ = ["NeverFit", "fastest_ms", "never_fit_problems", "never_fits", "term_text"]


@dataclass(frozen=True)
class NeverFit:
    """A fact that keeps a lease out of every plan.

    Attributes
    ----------
    family
        ``"residency"``, ``"latency"``, ``"size"``, ``"aggregation"`` or ``"anti_affinity"``.
    field
        The lease field the fact is about (for a validation warning).
    fact
        The fact, with its numbers.
    need
        What the lease would at least have to give up to have a chance.
    """

    family: str
    field: str
    fact: str
    need: str


def term_text(lo: LeaseOptions) -> str:
    """The lease's term as text: ``"weeks 3-9"`` (1-based)."""
    return weeks_text(list(range(lo.t0 + 1, lo.t1 + 2)))


def ms_text(ms: float, *, above: float) -> str:
    """``ms`` rounded to two decimals, or more if needed to show that it is above ``above``."""
    for digits in (2, 3, 4):
        text = f"{ms:.{digits}f}"
        if float(text) > above:
            return text
    return f"{ms:.6f}"


def fastest_ms(lo: LeaseOptions, sites: list[int]) -> tuple[float, int] | None:
    """The lowest route latency from any of ``sites`` to the lease's region, and that site."""
    return min(((p.latency_ms, s) for s in sites for p in lo.all_paths.get(s, [])), default=None)


def _floors(inst: Instance, lo: LeaseOptions, site: int) -> np.ndarray:
    """Free GPUs of each of the site's pods of the lease's SKU, at their lowest in the term.

    A committed lease counts what the worst case of internal demand leaves (it may not be pre-empted);
    a spot lease what the base case leaves.
    """
    return inst.free_for(lo)[lo.pods[site], lo.t0:lo.t1 + 1].min(axis=1)


def _upside_counts(inst: Instance, lo: LeaseOptions) -> bool:
    """Whether the upside of internal work takes GPUs a committed lease ``lo`` might otherwise use."""
    if lo.spot or inst.pod_free_worst.size == 0:
        return False
    pods = [p for ps in lo.pods.values() for p in ps]
    t = slice(lo.t0, lo.t1 + 1)
    return bool((inst.pod_free_worst[pods, t] < inst.pod_free[pods, t]).any())


def _room(inst: Instance, lo: LeaseOptions, site: int) -> tuple[int, int]:
    """GPUs one replica can have at ``site`` through the term (one pod, one hall's pods, or the site's pods),
    and the best pod (for span=hall, a pod of the roomiest hall)."""
    floors = _floors(inst, lo, site)
    k = int(np.argmax(floors))
    if lo.span == "site":
        return int(np.clip(floors, 0, None).sum()), lo.pods[site][k]
    if lo.span == "hall":
        rooms = _hall_rooms(inst, lo, site)
        h = max(rooms, key=lambda x: (rooms[x], -x))
        return rooms[h], next(p for p in lo.pods[site] if inst.pod_hall[p] == h)
    return int(floors[k]), lo.pods[site][k]


def _hall_rooms(inst: Instance, lo: LeaseOptions, site: int) -> dict[int, int]:
    """Free GPUs of the lease's SKU per hall of ``site`` (by hall position), at their lowest in the term."""
    out: dict[int, int] = {}
    for p, f in zip(lo.pods[site], _floors(inst, lo, site), strict=True):
        h = int(inst.pod_hall[p])
        out[h] = out.get(h, 0) + max(int(f), 0)
    return out


def _aggregation(inst: Instance, lo: LeaseOptions, reach: list[int]) -> NeverFit | None:
    """The aggregation fact of a span=hall lease: no pod holds a replica whole, no roomy hall carries it split."""
    if lo.span != "hall" or inst.interpod_kbps_per_gpu <= 0:
        return None
    if any(int(_floors(inst, lo, s).max()) >= lo.gpus for s in reach):
        return None  # one pod can hold a replica: no inter-pod traffic
    need = inst.agg_kbps(lo.gpus, split=True)
    roomy = [(int(inst.hall_agg_kbps[h]), h) for s in reach for h, g in _hall_rooms(inst, lo, s).items()
             if g >= lo.gpus]
    if not roomy or max(roomy)[0] >= need:
        return None
    cap, h = max(roomy, key=lambda r: (r[0], -r[1]))
    most = max(cap // inst.interpod_kbps_per_gpu, *(int(_floors(inst, lo, s).max()) for s in reach))
    return NeverFit("aggregation", "gpus",
                    f"split over pods, one replica sends {need / KBPS:,.0f} Gbps over its hall's aggregation "
                    f"layer; the most any allowed {lo.sku} hall with room for it carries is {cap / KBPS:,.0f} Gbps "
                    f"({inst.hall_ids[h]})",
                    f"at most {most:,} GPUs per replica, or span=site")


def never_fits(inst: Instance, lo: LeaseOptions) -> list[NeverFit]:
    """Every fact that keeps ``lo`` out of any plan of ``inst`` (empty when none does)."""
    sites, sku = inst.site_ids, lo.sku
    if not lo.placement_sites:
        have = ", ".join(sites[s] for s in lo.sku_sites)
        tags = ", ".join([*lo.allowed, *lo.residency]) or "-"
        fact = (f"its allowed sites/residency ({tags}) exclude every site with {sku} pods ({have})" if have
                else f"no site has {sku} pods")
        return [NeverFit("residency", "allowed_sites" if lo.allowed else "residency", fact,
                         f"allow {have}" if have else f"add {sku} pods")]
    out = []
    reach = lo.placement_sites
    if lo.region is not None:
        best = fastest_ms(lo, lo.placement_sites)
        if best is None:
            return [NeverFit("latency", "region", f"no route from any allowed {sku} site to {lo.region}",
                             f"connect an allowed site to {lo.region}")]
        ms, s = best
        if lo.slo_ms is not None and ms > lo.slo_ms + 1e-9:
            out.append(NeverFit("latency", "latency_slo_ms",
                                f"SLO {lo.slo_ms:g} ms to {lo.region} is below the fibre latency from every "
                                f"allowed {sku} site (fastest: {sites[s]}→{lo.region} "
                                f"{ms_text(ms, above=lo.slo_ms)} ms)",
                                f"an SLO of at least {math.floor(ms * 100) / 100:.2f} ms"))
            return out
        reach = [s for s in lo.placement_sites if lo.paths.get(s)]
    rooms = {s: _room(inst, lo, s) for s in reach}
    where = {"pod": "in one pod", "hall": "in one hall"}.get(lo.span, "at one site")
    best_s = max(rooms, key=lambda s: rooms[s][0])
    most, pod = rooms[best_s]
    if most < lo.gpus:
        place = {"pod": f"the roomiest allowed {sku} pod, {inst.pod_ids[pod]},",
                 "hall": f"the pods of the roomiest allowed {sku} hall, {inst.hall_ids[int(inst.pod_hall[pod])]},"
                 }.get(lo.span, f"the pods of the roomiest allowed {sku} site, {sites[best_s]},")
        keeps = f"at most {most:,} free" if most > 0 else "no GPU free"
        verb = "keeps" if lo.span == "pod" else "keep"
        upside = _upside_counts(inst, lo)
        after = ("after internal reservations and the upside they may take (the worst case, which a committed "
                 "lease plans for)") if upside else "after internal reservations"
        out.append(NeverFit("size", "gpus", f"needs {lo.gpus:,} GPUs per replica {where}; {place} {verb} "
                            f"{keeps} through {term_text(lo)} {after}",
                            f"at most {most:,} GPUs per replica" if most > 0 else
                            "priority spot, other sites or another term" if upside else "other sites or another term"))
        return out
    agg = _aggregation(inst, lo, reach)
    if agg is not None:
        return [agg]
    if lo.anti_affinity and lo.replicas > 1:
        able = [s for s in reach if rooms[s][0] >= lo.gpus]
        if len(able) < lo.replicas:
            names = ", ".join(sites[s] for s in able)
            out.append(NeverFit("anti_affinity", "replicas",
                                f"{lo.replicas} replicas need {lo.replicas} distinct sites; only {len(able)} "
                                f"allowed site{'s' if len(able) != 1 else ''} ({names}) can ever hold one of "
                                f"{lo.gpus:,} {sku} GPUs through {term_text(lo)}",
                                f"at most {len(able)} replicas, or no anti-affinity"))
    return out


def never_fit_problems(sc: Scenario, inst: Instance | None = None) -> list[Problem]:
    """Warnings for the workloads of ``sc`` that can never be placed, one per fact.

    Each names the workload's file and line, the field, the fact with its numbers,
    and what the workload would at least have to give up. A site-spanning workload
    larger than every site's GPUs of its SKU is left out: loading already warns of it.

    Examples
    --------
    >>> from planner import load_scenario
    >>> probs = never_fit_problems(load_scenario())
    >>> all(p.severity == "warning" for p in probs)
    True
    """
    inst = inst if inst is not None else build_instance(sc)
    biggest_site = sc.pods.groupby(["sku", "site"])["gpus"].sum().groupby(level="sku").max().to_dict()
    out = []
    for lo in inst.leases:
        for nf in never_fits(inst, lo):
            source = str(sc.workloads.at[lo.lease, "source"]) if "source" in sc.workloads else ""
            file, _, line = source.rpartition(":")
            where = f"line {line} (lease {lo.lease})" if file else f"lease {lo.lease}"
            value = {"gpus": f"{lo.gpus:,}", "latency_slo_ms": f"{lo.slo_ms:g}" if lo.slo_ms is not None else "",
                     "replicas": str(lo.replicas), "region": str(lo.region)}.get(nf.field, "")
            if nf.family == "size" and lo.span == "site" and lo.gpus > biggest_site.get(lo.sku, 0):
                continue
            out.append(Problem(file or source, where, nf.field, value,
                               f"{lo.lease} can never be placed: {nf.fact}", f"needs {nf.need}",
                               severity="warning"))
    return out
