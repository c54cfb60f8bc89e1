"""The generated DCI mesh: campuses joined to real US long-haul corridors and metro PoPs.

Each campus gets access spans to its three nearest hubs; hubs are joined by the
interstate corridors of :data:`~planner.generate.places.CORRIDORS`. Every span's
route is a smooth polyline whose length is 1.22-1.46x the great circle between
its ends (long-haul fibre follows road and rail at 1.2-1.5x; the US conduit
median is ~1.3x), measured on WGS84 as the planner measures it. A campus has two
diverse fibre entrances, so two of its three access routes leave it through one
conduit: they share their first kilometres and one shared-risk group. Spans no
campus-to-PoP route needs are dropped, keeping for every (campus, PoP) the k
lowest-latency routes and two edge-disjoint ones. Span capacities are sized to
the users' expected egress (the smallest line-up that carries it); with serving
egress of megabits per GPU that is the smallest line-up almost everywhere, so on
the generated tiers latency, not fibre capacity, decides where leases may go.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
from shapely.geometry import LineString

from planner.generate.places import CORRIDORS, HUBS, POP_ORDER, Campus, Hub
from planner.geo import WGS84, geodesic_length_km, great_circle_km
from planner.physics import span_latency_ms

__all__ = ["Fibre", "SpanSpec", "build_fibre", "route_waypoints", "size_spans"]

ACCESS_HUBS = 3
"""Hubs each campus is joined to."""
ROUTE_FACTOR = (1.22, 1.46)
"""Route length over the great circle, drawn per span (long-haul fibre runs 1.2-1.5x)."""
EXIT_KM = 3.0
"""Length of the conduit two access routes share out of a campus (at most a fifth of the shorter route)."""

# Span line-ups, smallest first: (fibre pairs, channels per pair, Gbps per channel).
LINEUPS: tuple[tuple[int, int, int], ...] = ((1, 32, 100), (1, 16, 400), (1, 32, 400), (1, 64, 400))
FULL_PAIR_GBPS = 64 * 400  # a C band filled with 400G channels on a 75 GHz grid


@dataclass
class SpanSpec:
    """One DCI span as it will be written to the topology file."""

    id: str
    a: str
    b: str
    srlg: str
    kind: str  # "access" (campus to hub) or "corridor" (hub to hub)
    waypoints: list[tuple[float, float]]
    length_km: float
    latency_ms: float
    fibre_pairs: int = 1
    channels: int = 64
    channel_gbps: int = 400
    note: str = ""

    @property
    def capacity_gbps(self) -> float:
        """Fibre pairs x channels x channel rate."""
        return float(self.fibre_pairs * self.channels * self.channel_gbps)

    @property
    def amplifier_spacing_km(self) -> float:
        """In-line amplifier spacing: 80 km for 400G line systems, 100 km for older 100G."""
        return 100.0 if self.channel_gbps < 400 else 80.0


@dataclass
class Fibre:
    """The mesh: PoPs, junctions and spans, with the campus x PoP lowest latency."""

    pops: list[Hub]
    junctions: list[Hub]
    spans: list[SpanSpec]
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)  # campus -> pop -> ms


def route_waypoints(rng: np.random.Generator, a: tuple[float, float], b: tuple[float, float],
                    factor: float) -> list[tuple[float, float]]:
    """Interior points ``[lon, lat]`` of a smooth route from ``a`` to ``b`` about ``factor`` x the direct line.

    The route bends sideways along a random mix of sine waves, scaled (by
    bisection, in a local km plane) until its length is ``factor`` times the chord.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> pts = route_waypoints(rng, (-82.75, 40.07), (-84.51, 39.10), 1.25)
    >>> line = LineString([(-82.75, 40.07), *pts, (-84.51, 39.10)])
    >>> round(geodesic_length_km(line) / great_circle_km(40.07, -82.75, 39.10, -84.51), 2)
    1.25
    """
    lon0, lat0 = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    kx, ky = 111.32 * math.cos(math.radians(lat0)), 110.57
    p0 = np.array([(a[0] - lon0) * kx, (a[1] - lat0) * ky])
    p1 = np.array([(b[0] - lon0) * kx, (b[1] - lat0) * ky])
    d = p1 - p0
    chord = float(np.hypot(*d))
    normal = np.array([-d[1], d[0]]) / chord
    m = int(np.clip(round(chord / 60.0), 2, 16))
    t = np.arange(1, m + 1) / (m + 1)
    c1 = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0))
    c2, c3 = float(rng.uniform(-0.35, 0.35)), float(rng.uniform(-0.25, 0.25))
    shape = c1 * np.sin(np.pi * t) + c2 * np.sin(2 * np.pi * t) + c3 * np.sin(3 * np.pi * t)

    def points(s: float) -> np.ndarray:
        return p0 + t[:, None] * d + (s * chord * shape)[:, None] * normal

    def length(s: float) -> float:
        pts = np.vstack([p0, points(s), p1])
        return float(np.hypot(*np.diff(pts, axis=0).T).sum())

    lo, hi = 0.0, 0.5
    while length(hi) < factor * chord:
        hi *= 2
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if length(mid) < factor * chord else (lo, mid)
    pts = points((lo + hi) / 2)
    return [(round(float(x / kx + lon0), 4), round(float(y / ky + lat0), 4)) for x, y in pts]


def _route(rng: np.random.Generator, a: tuple[float, float], b: tuple[float, float], factor: float,
           lead: list[tuple[float, float]]) -> tuple[list[tuple[float, float]], float]:
    """Interior points of a route from ``a`` to ``b`` through ``lead`` first, ``factor`` x the great circle; its km.

    The bend is drawn once; its depth is corrected (twice at most) until the
    geodesic length of the rounded points is within 0.5 % of the target.
    """
    gc = great_circle_km(a[1], a[0], b[1], b[0])
    start = lead[-1] if lead else a
    lead_km = geodesic_length_km(LineString([a, *lead])) if lead else 0.0
    chord = great_circle_km(start[1], start[0], b[1], b[0])
    state = rng.bit_generator.state
    f = max(1.02, (factor * gc - lead_km) / chord)
    for _ in range(3):
        rng.bit_generator.state = state
        pts = [*lead, *route_waypoints(rng, start, b, f)]
        length = geodesic_length_km(LineString([a, *pts, b]))
        if abs(length / gc - factor) < 0.005:
            break
        f = max(1.02, f + (factor * gc - length) / chord)
    return pts, length


def _span(rng: np.random.Generator, sid: str, a: str, b: str, xy: dict[str, tuple[float, float]], srlg: str,
          kind: str, note: str, lead: list[tuple[float, float]] | None = None) -> SpanSpec:
    wps, length = _route(rng, xy[a], xy[b], float(rng.uniform(*ROUTE_FACTOR)), lead or [])
    return SpanSpec(sid, a, b, srlg, kind, wps, length, span_latency_ms(length, max(math.ceil(length / 80) - 1, 0),
                                                                          0.0001, 0.01), note=note)


def _shared_exit(c: Campus, hubs: list[Hub]) -> tuple[list[int], tuple[float, float]]:
    """Which two of ``hubs`` a campus reaches through one conduit (the closest in bearing), and where it ends.

    Examples
    --------
    >>> from planner.generate.places import CAMPUSES, HUBS
    >>> by_id = {h.id: h for h in HUBS}
    >>> _shared_exit(CAMPUSES[0], [by_id["CIN"], by_id["CLE"], by_id["PIT"]])[0]
    [1, 2]
    """
    az = [WGS84.inv(c.lon, c.lat, h.lon, h.lat)[0] for h in hubs]
    gap = {(i, j): abs((az[i] - az[j] + 180) % 360 - 180) for i, j in itertools.combinations(range(len(hubs)), 2)}
    i, j = min(gap, key=lambda k: (gap[k], k))
    mean = math.degrees(math.atan2(math.sin(math.radians(az[i])) + math.sin(math.radians(az[j])),
                                   math.cos(math.radians(az[i])) + math.cos(math.radians(az[j]))))
    km = min(EXIT_KM, 0.2 * min(great_circle_km(c.lat, c.lon, hubs[k].lat, hubs[k].lon) for k in (i, j)))
    lon, lat, _ = WGS84.fwd(c.lon, c.lat, mean, km * 1000)
    return [i, j], (round(float(lon), 4), round(float(lat), 4))


def build_fibre(rng: np.random.Generator, campuses: list[Campus], n_pops: int, k_paths: int) -> Fibre:
    """Build the mesh for ``campuses`` and the first ``n_pops`` PoPs, pruned to the routes they need."""
    hubs = {h.id: h for h in HUBS}
    pop_ids = list(POP_ORDER[:n_pops])
    xy = {h.id: (h.lon, h.lat) for h in HUBS} | {c.id: (c.lon, c.lat) for c in campuses}
    spans: list[SpanSpec] = []
    for a, b, road in CORRIDORS:
        spans.append(_span(rng, f"{a}_{b}", a, b, xy, f"{road}-{a}-{b}", "corridor",
                           f"{road} corridor, {hubs[a].name} - {hubs[b].name}"))
    for c in campuses:
        near = sorted(HUBS, key=lambda h: great_circle_km(c.lat, c.lon, h.lat, h.lon))[:ACCESS_HUBS]
        shared, exit_point = _shared_exit(c, near)
        for k, h in enumerate(near):
            if k in shared:
                srlg, lead, how = f"ACCESS-{c.id}-ENTRANCE-A", [exit_point], ", leaves through entrance A (shared)"
            else:
                srlg, lead, how = f"ACCESS-{c.id}-ENTRANCE-B", [], ", leaves through entrance B"
            spans.append(_span(rng, f"{c.id}_{h.id}", c.id, h.id, xy, srlg, "access",
                               f"campus access, {c.name} - {h.name}{how}", lead))
    g = nx.Graph()
    for s in spans:
        g.add_edge(s.a, s.b, id=s.id, latency_ms=s.latency_ms)
    keep: set[str] = set()
    latency: dict[str, dict[str, float]] = {}
    for c in campuses:
        latency[c.id] = {}
        for p in pop_ids:
            keep |= _needed_spans(g, c.id, p, k_paths)
            latency[c.id][p] = float(nx.shortest_path_length(g, c.id, p, weight="latency_ms"))
    kept = [s for s in spans if s.id in keep]
    used = {n for s in kept for n in (s.a, s.b)}
    pops = [hubs[p] for p in pop_ids]
    junctions = [h for h in HUBS if h.id in used and h.id not in pop_ids]
    return Fibre(pops, junctions, kept, latency)


def _needed_spans(g: nx.Graph, source: str, target: str, k: int) -> set[str]:
    """Spans of the ``k`` lowest-latency routes and of two edge-disjoint routes from ``source`` to ``target``."""
    out: set[str] = set()

    def add(nodes: list[str]) -> None:
        out.update(g.edges[u, v]["id"] for u, v in itertools.pairwise(nodes))

    for i, nodes in enumerate(nx.shortest_simple_paths(g, source, target, weight="latency_ms")):
        if i >= k:
            break
        add(nodes)
    first = nx.shortest_path(g, source, target, weight="latency_ms")
    h = g.copy()
    h.remove_edges_from(itertools.pairwise(first))
    try:
        add(nx.shortest_path(h, source, target, weight="latency_ms"))
    except nx.NetworkXNoPath:
        for nodes in nx.edge_disjoint_paths(g, source, target):
            add(nodes)
    return out


def _lineup(need_gbps: float) -> tuple[int, int, int]:
    """The smallest span line-up with at least ``need_gbps`` of capacity."""
    for pairs, channels, rate in LINEUPS:
        if pairs * channels * rate >= need_gbps:
            return pairs, channels, rate
    return math.ceil(need_gbps / FULL_PAIR_GBPS), 64, 400


def size_spans(rng: np.random.Generator, fibre: Fibre, pop_egress_gbps: dict[str, float],
               campus_share: dict[str, float], headroom: float) -> None:
    """Give each span a line-up sized to the egress expected over it (in place).

    ``pop_egress_gbps`` is the users' expected concurrent egress into each PoP;
    ``campus_share`` each campus's share of it; ``headroom`` the usable share of a
    span (the scenario's max link utilisation).
    """
    total = sum(pop_egress_gbps.values())
    pop_ids = {p.id for p in fibre.pops}
    degree: dict[str, int] = {}
    for s in fibre.spans:
        for n in (s.a, s.b):
            degree[n] = degree.get(n, 0) + 1
    for s in fibre.spans:
        if s.kind == "access":
            need = total * campus_share.get(s.a, 0.0) / degree[s.a] * rng.uniform(0.8, 1.6)
        else:
            need = total / max(len(pop_ids), 1) * rng.uniform(0.3, 1.2)
        for end in (s.a, s.b):
            if end in pop_ids:
                need = max(need, pop_egress_gbps.get(end, 0.0) / degree[end] * rng.uniform(0.6, 1.3))
        s.fibre_pairs, s.channels, s.channel_gbps = _lineup(need / headroom)
