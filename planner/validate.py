"""Cross-file checks on parsed input: ids, references, horizons, capacities.

Per-field checks (types, ranges, allowed values) are declared in
:mod:`planner.schema`; this module checks what one field cannot see on its own.
Every check appends :class:`~planner.errors.Problem` records; none raises.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import LineString

from planner import plausibility
from planner.errors import Problem
from planner.geo import great_circle_km
from planner.ids import pod_ids
from planner.readers import Positions
from planner.schema import (
    ApiDemandRow,
    CatalogueFile,
    LeaseRow,
    ModelsFile,
    PodsFile,
    ReservationRow,
    ScenarioFile,
    SitesFile,
    TopologyFile,
    WorkloadFields,
)
from planner.weeks import weeks_text

__all__ = ["Inputs", "check_inputs", "workload_problems"]

ROUTE_END_TOLERANCE_KM = 1.0


@dataclass
class Inputs:
    """Everything read from a scenario's files, with positions, before checks."""

    scenario: ScenarioFile
    scenario_pos: Positions
    skus: CatalogueFile
    skus_pos: Positions
    sites: SitesFile
    sites_pos: Positions
    pods: PodsFile
    pods_pos: Positions
    topology: TopologyFile
    topology_pos: Positions
    routes: dict[str, tuple[LineString, str]] = field(default_factory=dict)  # span -> (line, where)
    routes_file: str = ""
    reservations: list[tuple[int, ReservationRow]] = field(default_factory=list)
    reservations_file: str = ""
    leases: list[tuple[str, int, LeaseRow]] = field(default_factory=list)  # (file, line, row)
    models: ModelsFile | None = None
    models_pos: Positions | None = None
    api_demand: list[tuple[str, int, ApiDemandRow]] = field(default_factory=list)  # (file, line, row)


def _dupes(items: Iterable[tuple[str, str, str]], out: list[Problem], what: str) -> None:
    """Report ids seen twice. ``items`` are (id, file, where)."""
    first: dict[str, tuple[str, str]] = {}
    for ident, file, where in items:
        if ident in first:
            f0, w0 = first[ident]
            out.append(Problem(file, where, "id", repr(ident), f"duplicate {what} id (first at {f0}, {w0})",
                               "give each one a unique id"))
        else:
            first[ident] = (file, where)


def _term(out: list[Problem], file: str, where: str, start: int, end: int, periods: int) -> bool:
    ok = True
    if end < start:
        out.append(Problem(file, where, "end_week", str(end), f"the term ends before it starts (start_week {start})",
                           "make end_week >= start_week (both weeks are inclusive)"))
        ok = False
    for name, week in (("start_week", start), ("end_week", end)):
        if week > periods:
            out.append(Problem(file, where, name, str(week), f"week outside the horizon of {periods} weeks",
                               f"use a week from 1 to {periods}, or lengthen the horizon"))
            ok = False
    return ok


def _window(out: list[Problem], file: str, where: str, lr: LeaseRow, periods: int) -> None:
    """Check a lease's start window (``latest_start``): after its start, fixed for internal work, within the horizon."""
    latest = lr.latest_start
    if latest is None:
        return
    if latest < lr.start_week:
        out.append(Problem(file, where, "latest_start", str(latest),
                           f"the start window closes before it opens (start_week {lr.start_week})",
                           "make latest_start >= start_week, or leave it empty for a fixed start"))
        return
    if lr.priority == "internal" and latest > lr.start_week:
        out.append(Problem(file, where, "latest_start", str(latest), "internal work has a fixed term",
                           "leave latest_start empty (or equal to start_week) for internal work"))
        return
    last_end = latest + lr.end_week - lr.start_week
    if last_end > periods:
        out.append(Problem(file, where, "latest_start", str(latest),
                           f"started in week {latest}, the {lr.end_week - lr.start_week + 1}-week term would end in "
                           f"week {last_end}, past the horizon of {periods} weeks",
                           f"use a latest_start of at most {periods - (lr.end_week - lr.start_week)}, or lengthen "
                           f"the horizon"))


def check_inputs(inp: Inputs) -> list[Problem]:  # noqa: C901 - a checklist
    """Run every cross-file check and return the problems found (errors and warnings)."""
    out: list[Problem] = []
    periods = inp.scenario.horizon.periods
    sf, sp = inp.sites_pos.file, inp.sites_pos
    pf, pp = inp.pods_pos.file, inp.pods_pos
    tf, tp = inp.topology_pos.file, inp.topology_pos
    too_big = plausibility.size_problems(inp)
    if too_big:  # nothing below may expand what is past the limits
        return too_big

    # ---- ids
    _dupes(((s.id, inp.skus_pos.file, inp.skus_pos.where(("skus", i))) for i, s in enumerate(inp.skus.skus)),
           out, "SKU")
    _dupes(((f.id, pf, pp.where(("fabric_templates", i))) for i, f in enumerate(inp.pods.fabric_templates)),
           out, "fabric template")
    nodes = [(s.id, sf, sp.where(("sites", i))) for i, s in enumerate(inp.sites.sites)]
    nodes += [(p.id, tf, tp.where(("pops", i))) for i, p in enumerate(inp.topology.pops)]
    nodes += [(j.id, tf, tp.where(("junctions", i))) for i, j in enumerate(inp.topology.junctions)]
    _dupes(nodes, out, "site/PoP/junction")
    pods = [(pid, pf, pp.where(("pods", i))) for i, g in enumerate(inp.pods.pods) for pid in pod_ids(g.id, g.count)]
    _dupes(pods, out, "pod")
    _dupes(((s.id, tf, tp.where(("spans", i))) for i, s in enumerate(inp.topology.spans)), out, "span")
    _dupes(((r.id, f, f"line {n}") for f, n, r in inp.leases), out, "lease")

    skus = {s.id for s in inp.skus.skus}
    sites = {s.id: s for s in inp.sites.sites}
    pops = {p.id for p in inp.topology.pops}
    fabrics = {f.id: f for f in inp.pods.fabric_templates}
    node_xy = {s.id: (s.lon, s.lat) for s in inp.sites.sites}
    node_xy |= {p.id: (p.lon, p.lat) for p in inp.topology.pops}
    node_xy |= {j.id: (j.lon, j.lat) for j in inp.topology.junctions}
    site_ids, sku_ids = _choices(sites), _choices(skus)

    # ---- sites
    for i, s in enumerate(inp.sites.sites):
        if s.grid_mw + s.onsite_mw <= 0:
            out.append(Problem(sf, sp.where(("sites", i, "grid_mw")), "grid_mw", str(s.grid_mw),
                               f"site {s.id} has no power (grid + on-site = 0 MW)", "give grid_mw or onsite_mw > 0"))
        if s.pue < 1:
            out.append(Problem(sf, sp.where(("sites", i, "pue")), "pue", str(s.pue), "PUE below 1 is impossible",
                               "give the campus PUE (>= 1; hyperscale 1.06-1.2)"))
        for j, w in enumerate(s.power_windows):
            _term(out, sf, sp.where(("sites", i, "power_windows", j)), w.start_week, w.end_week, periods)
        if s.footprint is not None and len(s.footprint) < 3:
            out.append(Problem(sf, sp.where(("sites", i, "footprint")), "footprint", f"{len(s.footprint)} points",
                               "a footprint needs at least 3 points", "give the outline as a ring of [lon, lat]"))

    # ---- halls
    _dupes(((h.id, pf, pp.where(("halls", i))) for i, h in enumerate(inp.pods.halls)), out, "hall")
    halls = {h.id: h for h in inp.pods.halls}
    for i, h in enumerate(inp.pods.halls):
        if h.site not in sites:
            out.append(Problem(pf, pp.where(("halls", i, "site")), "site", repr(h.site), f"hall {h.id}: unknown site",
                               f"use one of the sites in {sf}: {site_ids}"))
    hall_pods: dict[str, int] = defaultdict(int)

    # ---- pods
    pod_gpus: dict[str, int] = {}
    pod_hall: dict[str, str] = {}
    for i, g in enumerate(inp.pods.pods):
        if halls:
            hall = halls.get(g.hall)
            if hall is None:
                out.append(Problem(pf, pp.where(("pods", i, "hall")), "hall", repr(g.hall),
                                   "unknown hall" if g.hall else "no hall named (this file declares halls)",
                                   f"use one of the halls declared in {pf}: {_choices(halls)}"))
            elif hall.site != g.site:
                out.append(Problem(pf, pp.where(("pods", i, "hall")), "hall", repr(g.hall),
                                   f"hall {g.hall} is at site {hall.site}, pod group {g.id} at {g.site}",
                                   f"put the pods in a hall of {g.site}, or fix the pod group's site"))
            else:
                hall_pods[g.hall] += g.count
        if g.site not in sites:
            out.append(Problem(pf, pp.where(("pods", i, "site")), "site", repr(g.site), "unknown site",
                               f"use one of the sites in {sf}: {site_ids}"))
        if g.sku not in skus:
            out.append(Problem(pf, pp.where(("pods", i, "sku")), "sku", repr(g.sku), "unknown SKU",
                               f"use one of: {sku_ids}, or add it to the catalogue"))
        fab = fabrics.get(g.fabric)
        if fab is None:
            out.append(Problem(pf, pp.where(("pods", i, "fabric")), "fabric", repr(g.fabric),
                               "unknown fabric template",
                               f"use one of: {_choices(fabrics) or '(none defined)'}"))
        else:
            cap = fab.planes * fab.switch_radix**2 // 2
            if g.gpus > cap:
                out.append(Problem(pf, pp.where(("pods", i, "gpus")), "gpus", str(g.gpus),
                                   f"a two-tier Clos of radix {fab.switch_radix} x {fab.planes} plane(s) holds at "
                                   f"most {cap} GPUs", "split the pod, or use a fabric of higher radix or more planes"))
        for pid in pod_ids(g.id, g.count):
            pod_gpus[pid] = g.gpus
            pod_hall[pid] = g.hall or g.id
    for i, h in enumerate(inp.pods.halls):
        if h.site in sites and not hall_pods.get(h.id):
            out.append(Problem(pf, pp.where(("halls", i)), "id", repr(h.id), f"hall {h.id} holds no pods",
                               "name it in some pods' hall, or remove it", severity="warning"))
    for i, f in enumerate(inp.pods.fabric_templates):
        if f.oversubscription < 1:
            out.append(Problem(pf, pp.where(("fabric_templates", i, "oversubscription")), "oversubscription",
                               str(f.oversubscription), "oversubscription below 1:1",
                               "give a ratio >= 1 (4 means 4:1 to the aggregation layer)"))

    # ---- topology
    for i, span in enumerate(inp.topology.spans):
        for end in ("a", "b"):
            ident = getattr(span, end)
            if ident not in node_xy:
                out.append(Problem(tf, tp.where(("spans", i, end)), end, repr(ident),
                                   f"span {span.id}: unknown endpoint", "use the id of a site, PoP or junction"))
        if span.a == span.b:
            out.append(Problem(tf, tp.where(("spans", i, "b")), "b", repr(span.b), f"span {span.id} starts and ends at "
                               "the same node (self-loop)", "give two different endpoints"))
        elif span.length_km is not None and span.a in node_xy and span.b in node_xy:
            (x0, y0), (x1, y1) = node_xy[span.a], node_xy[span.b]
            gc = great_circle_km(y0, x0, y1, x1)
            if span.length_km < gc * (1 - 1e-3):
                out.append(Problem(tf, tp.where(("spans", i, "length_km")), "length_km", f"{span.length_km:g}",
                                   f"span {span.id} is shorter than the great circle between its ends ({gc:.1f} km)",
                                   "give the fibre length in km, or leave length_km out to measure the route"))
    out += plausibility.topology_problems(inp)
    span_ends = {span.id: (span.a, span.b) for span in inp.topology.spans}
    for sid, (line, where) in inp.routes.items():
        if sid not in span_ends:
            out.append(Problem(inp.routes_file, where, "span", repr(sid), "route for an unknown span",
                               f"set the feature's 'span' property to a span id of {tf}"))
            continue
        a, b = span_ends[sid]
        if a not in node_xy or b not in node_xy:
            continue
        (x0, y0), (x1, y1) = line.coords[0], line.coords[-1]
        for name, (x, y), node in (("start", (x0, y0), a), ("end", (x1, y1), b)):
            d = great_circle_km(y, x, node_xy[node][1], node_xy[node][0])
            if d > ROUTE_END_TOLERANCE_KM:
                out.append(Problem(inp.routes_file, where, "geometry", f"{name} ({x:.4f}, {y:.4f})",
                                   f"route of span {sid}: its {name} is {d:.1f} km from {node}",
                                   f"snap the route's {name} to {node} ({node_xy[node][0]:.4f}, "
                                   f"{node_xy[node][1]:.4f}); within {ROUTE_END_TOLERANCE_KM:g} km, a to b"))

    # ---- reservations
    rf = inp.reservations_file
    reserved: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(periods + 1, dtype=np.int64))
    first_line: dict[str, int] = {}
    known_halls = set(pod_hall.values())
    for line, r in inp.reservations:
        where = f"line {line}"
        if r.pod is None and r.hall is None and (r.site is None or r.sku is None):
            out.append(Problem(rf, where, "pod", "", "the row names no pod (nor hall, nor site + sku)",
                               "give a pod id, a hall id (every pod of it, whole), or a site and a SKU for a "
                               "site-wide reservation"))
            continue
        if r.pod is not None and r.hall is not None:
            out.append(Problem(rf, where, "hall", repr(r.hall), "the row names both a pod and a hall",
                               "give one: the pod, or the hall for every pod of it"))
            continue
        if r.pod is not None and r.pod not in pod_gpus:
            out.append(Problem(rf, where, "pod", repr(r.pod), "unknown pod",
                               f"use a pod id from {pf} (groups expand to <id>-01, <id>-02, ...)"))
            continue
        if r.hall is not None and r.hall not in known_halls:
            out.append(Problem(rf, where, "hall", repr(r.hall), "unknown hall",
                               f"use a hall of {pf}: {_choices(known_halls)}"))
            continue
        if r.pod is None and r.hall is None and r.gpus is None:
            out.append(Problem(rf, where, "gpus", "", "a site-wide reservation needs its GPU count",
                               "give gpus (the planner places them over the site's pods)"))
            continue
        if r.hall is not None:
            if _term(out, rf, where, r.start_week, r.end_week, periods):
                for pid, hall_of in pod_hall.items():
                    if hall_of == r.hall:
                        reserved[pid][r.start_week : r.end_week + 1] += r.gpus or pod_gpus[pid]
                        first_line.setdefault(pid, line)
            continue
        if r.pod is None:
            if r.site not in sites:
                out.append(Problem(rf, where, "site", repr(r.site), "unknown site", f"use one of: {site_ids}"))
            if r.sku not in skus:
                out.append(Problem(rf, where, "sku", repr(r.sku), "unknown SKU", f"use one of: {sku_ids}"))
        if not _term(out, rf, where, r.start_week, r.end_week, periods):
            continue
        if r.pod is not None:
            reserved[r.pod][r.start_week : r.end_week + 1] += r.gpus or pod_gpus[r.pod]
            first_line.setdefault(r.pod, line)
    for pid, arr in reserved.items():
        over = np.flatnonzero(arr > pod_gpus[pid])
        if over.size:
            weeks = weeks_text(over.tolist())
            out.append(Problem(rf, f"line {first_line[pid]} (pod {pid})", "gpus", str(int(arr.max())),
                               f"internal reservations on pod {pid} exceed its {pod_gpus[pid]} GPUs in {weeks}",
                               "lower the reservations or move some to another pod"))

    # ---- leases
    biggest: dict[str, int] = defaultdict(int)
    site_total: dict[tuple[str, str], int] = defaultdict(int)
    hall_total: dict[tuple[str, str], int] = defaultdict(int)
    for g in inp.pods.pods:
        biggest[g.sku] = max(biggest[g.sku], g.gpus)
        site_total[(g.site, g.sku)] += g.gpus * g.count
        hall_total[(g.hall or g.id, g.sku)] += g.gpus * g.count
    biggest_hall: dict[str, int] = defaultdict(int)
    for (_h, sku), n in hall_total.items():
        biggest_hall[sku] = max(biggest_hall[sku], n)
    for file, line, lr in inp.leases:
        where = f"line {line} (lease {lr.id})"
        out += workload_problems(file, where, lr, skus, pops, set(sites), pops_from=tf)
        if _term(out, file, where, lr.start_week, lr.end_week, periods):
            _window(out, file, where, lr, periods)
        if lr.sku in skus:
            big = biggest.get(lr.sku, 0)
            if lr.gpus > big:
                best_site = max((site_total[(s, lr.sku)] for s in sites), default=0)
                if lr.span == "pod":
                    out.append(Problem(file, where, "gpus", str(lr.gpus),
                                       f"larger than any {lr.sku} pod (largest {big} GPUs)",
                                       "set span to 'hall' or 'site' to split it over pods of one hall or site, "
                                       "or make it smaller"))
                elif lr.span == "hall" and lr.gpus > biggest_hall[lr.sku]:
                    out.append(Problem(file, where, "gpus", str(lr.gpus),
                                       f"larger than the {lr.sku} GPUs of any hall (largest {biggest_hall[lr.sku]})",
                                       "set span to 'site' to split it over halls, or make it smaller"))
                elif lr.gpus > best_site:
                    out.append(Problem(file, where, "gpus", str(lr.gpus),
                                       f"larger than the {lr.sku} GPUs of any site (largest {best_site})",
                                       "make it smaller or split it into replicas", severity="warning"))
                # else: larger than a pod but within a hall or site -- what span=hall/site is for, no warning
        if lr.anti_affinity and lr.replicas > len(sites):
            out.append(Problem(file, where, "replicas", str(lr.replicas),
                               f"{lr.replicas} replicas on distinct sites, but the scenario has {len(sites)} sites",
                               "lower replicas or drop anti_affinity", severity="warning"))
    out += _api_problems(inp, skus, pops, biggest)
    return out


def _api_problems(inp: Inputs, skus: Collection[str], pops: Collection[str], biggest: dict[str, int]) -> list[Problem]:
    """The model catalogue and the API demand books against the scenario: ids, SKUs, PoPs, weeks, sizes.

    ``biggest`` is the largest pod of each SKU: a replica sits whole in one pod.
    """
    out: list[Problem] = []
    files = inp.scenario.files
    if files.api_demand and files.models is None:
        sp = inp.scenario_pos
        out.append(Problem(sp.file, sp.where(("files", "api_demand")), "files.models", "",
                           "API demand books are given but no model catalogue",
                           "add files.models: the model catalogue (YAML) that names the streams' models"))
    models: set[str] = set()
    if inp.models is not None and inp.models_pos is not None:
        mf, mp = inp.models_pos.file, inp.models_pos
        _dupes(((m.id, mf, mp.where(("models", i))) for i, m in enumerate(inp.models.models)), out, "model")
        with_pods = sorted(s for s in skus if biggest.get(s))
        for i, m in enumerate(inp.models.models):
            models.add(m.id)
            before, runs, seen = len(out), False, set()
            for j, d in enumerate(m.deployments):
                where = mp.where(("models", i, "deployments", j, "sku"))
                if d.sku in seen:
                    out.append(Problem(mf, where, "sku", repr(d.sku), f"model {m.id} runs on {d.sku} twice",
                                       "keep one deployment per SKU"))
                elif d.sku not in skus:
                    out.append(Problem(mf, where, "sku", repr(d.sku), f"model {m.id}: unknown SKU",
                                       f"use one of: {_choices(skus)}, or add it to the catalogue"))
                elif biggest.get(d.sku, 0) and d.gpus_per_replica > biggest[d.sku]:
                    out.append(Problem(mf, mp.where(("models", i, "deployments", j, "gpus_per_replica")),
                                       "gpus_per_replica", f"{d.gpus_per_replica:,}",
                                       f"a replica of {m.id} on {d.sku} needs more GPUs than any {d.sku} pod "
                                       f"holds (largest {biggest[d.sku]:,}); a replica sits whole in one pod",
                                       f"at most {biggest[d.sku]:,} GPUs per replica"))
                runs = runs or bool(biggest.get(d.sku, 0) and d.gpus_per_replica <= biggest[d.sku])
                seen.add(d.sku)
            if not runs and len(out) == before:
                out.append(Problem(mf, mp.where(("models", i, "deployments")), "deployments",
                                   ", ".join(d.sku for d in m.deployments),
                                   f"no pod of the scenario can run model {m.id}: it has no pods of its SKUs",
                                   f"add a deployment on a SKU the scenario has pods of ({', '.join(with_pods)}), "
                                   f"or remove the model"))
    _dupes(((r.id, f, f"line {n}") for f, n, r in inp.api_demand), out, "API demand stream")
    periods = inp.scenario.horizon.periods
    for file, line, r in inp.api_demand:
        where = f"line {line} (stream {r.id})"
        if inp.models is not None and r.model not in models:
            out.append(Problem(file, where, "model", repr(r.model), "unknown model",
                               f"use a model id of {inp.models_pos.file if inp.models_pos else 'files.models'}: "
                               f"{_choices(models)}"))
        if r.region not in pops:
            out.append(Problem(file, where, "region", repr(r.region), "unknown region (PoP)",
                               f"use a PoP id from {inp.topology_pos.file}: {_choices(pops)}"))
        _term(out, file, where, r.start_week, r.end_week, periods)
    return out


def workload_problems(file: str, where: str, row: WorkloadFields, skus: Collection[str], pops: Collection[str],
                      sites: Collection[str], *, pops_from: str = "") -> list[Problem]:
    """What a lease row or a quote request names that the scenario lacks: SKU, region, allowed sites.

    Also a row that gives egress or an SLO without the region they are to.
    """
    out = []
    if row.sku not in skus:
        out.append(Problem(file, where, "sku", repr(row.sku), "unknown SKU", f"use one of: {_choices(skus)}"))
    if row.region is not None and row.region not in pops:
        source = f" from {pops_from}" if pops_from else ""
        out.append(Problem(file, where, "region", repr(row.region), "unknown region (PoP)",
                           f"use a PoP id{source}: {_choices(pops)}"))
    if row.region is None and (row.egress_gbps > 0 or row.latency_slo_ms is not None):
        field_name = "egress_gbps" if row.egress_gbps > 0 else "latency_slo_ms"
        out.append(Problem(file, where, "region", "", f"{field_name} is given but no region",
                           "give the PoP id where the users' traffic enters"))
    for sid in row.allowed_sites:
        if sid not in sites:
            out.append(Problem(file, where, "allowed_sites", repr(sid), "unknown site",
                               f"use ';'-separated site ids: {_choices(sites)}"))
    return out


def _choices(ids: Iterable[str], shown: int = 12) -> str:
    """The ids a fix offers, sorted, at most ``shown`` of them (a fix stays short however many there are).

    Examples
    --------
    >>> _choices(["SB", "SA"])
    'SA, SB'
    >>> _choices([f"P{i:02d}" for i in range(20)], shown=3)
    'P00, P01, P02 and 17 more'
    """
    ordered = sorted(ids)
    more = f" and {len(ordered) - shown} more" if len(ordered) > shown else ""
    return ", ".join(ordered[:shown]) + more
