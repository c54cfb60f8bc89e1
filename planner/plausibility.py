"""Checks for input that is well-formed but cannot be meant: sizes past the limits, spans of no length,
PoPs cut off from every campus, coordinates that look swapped, and (:mod:`planner.corridors`) spans
shorter than the roads they follow or side by side with a span of another shared-risk group.

:func:`size_problems` runs before any other cross-file check, so that nothing is
expanded (pod groups, per-period tables) past :data:`~planner.schema.LIMITS`;
:func:`topology_problems` runs with the topology checks. Both return
:class:`~planner.errors.Problem` records and never raise.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from shapely.geometry import LineString

from planner.corridors import corridor_problems
from planner.errors import Problem
from planner.geo import geodesic_length_km
from planner.schema import MAX_POD_PERIODS, MAX_PODS, MAX_SPAN_KM, MIN_SPAN_KM

if TYPE_CHECKING:
    from planner.validate import Inputs

__all__ = ["looks_swapped", "size_problems", "topology_problems"]

SWAP_FAR_KM = 2_000.0
"""A node this far from every other node is looked at for swapped coordinates."""
SWAP_NEAR_KM = 500.0
"""... and flagged when, swapped, it would lie this close to another node."""

SWAP_CANDIDATES = 100
"""Points looked at for swapped coordinates, the farthest from the median location first."""

_EARTH_KM = 6_371.0


def size_problems(inp: Inputs) -> list[Problem]:
    """Pods (groups expanded) and pods x periods beyond :data:`MAX_PODS` and :data:`MAX_POD_PERIODS`."""
    pf, pp = inp.pods_pos.file, inp.pods_pos
    n_pods = sum(g.count for g in inp.pods.pods)
    periods = inp.scenario.horizon.periods
    if n_pods > MAX_PODS:
        return [Problem(pf, pp.where(("pods",)), "count", f"{n_pods:,} pods",
                        f"the pod groups expand to more than {MAX_PODS:,} pods",
                        "lower the groups' count, or describe fewer, larger fabric domains")]
    if n_pods * periods > MAX_POD_PERIODS:
        sp = inp.scenario_pos
        return [Problem(sp.file, sp.where(("horizon", "periods")), "horizon.periods", str(periods),
                        f"{n_pods:,} pods x {periods:,} periods is more than {MAX_POD_PERIODS:,} pod-periods",
                        "plan a shorter horizon, or in longer periods (hours_per_period)")]
    return []


def _haversine_km(lat: float, lon: float, lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    """Great-circle distances from one point to many, km (a sphere is enough to spot a swap)."""
    p1, p2 = np.radians(lat), np.radians(lats)
    a = np.sin((p2 - p1) / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(np.radians(lons - lon) / 2) ** 2
    return 2 * _EARTH_KM * np.arcsin(np.sqrt(np.clip(a, 0, 1)))


def looks_swapped(lat: np.ndarray, lon: np.ndarray) -> list[tuple[int, float, float, int]]:
    """Points whose latitude and longitude look entered the wrong way round.

    A point is flagged when it lies more than :data:`SWAP_FAR_KM` from every other
    point, yet with lat and lon swapped would lie within :data:`SWAP_NEAR_KM` of one.

    Returns
    -------
    list of (index, km to the nearest point as given, km swapped, index of that nearest point swapped)

    Examples
    --------
    >>> lat = np.array([40.1, 39.9, 41.9, -82.0])  # the last: Columbus, Ohio, with lat and lon swapped
    >>> lon = np.array([-82.8, -83.0, -87.6, 40.0])
    >>> [(i, j) for i, _, _, j in looks_swapped(lat, lon)]
    [(3, 0)]
    """
    out: list[tuple[int, float, float, int]] = []
    if len(lat) < 2:
        return out
    # Only points far from the median location can be far from every other point; look at the farthest
    # SWAP_CANDIDATES of those alone (a swapped point is a lone outlier), so the check stays linear in the points.
    from_median = _haversine_km(float(np.median(lat)), float(np.median(lon)), lat, lon)
    far = [i for i in np.argsort(-from_median, kind="stable")[:SWAP_CANDIDATES] if from_median[i] > SWAP_FAR_KM]
    for i in sorted(far):
        if abs(lon[i]) > 90:  # swapped, it would not be a latitude
            continue
        others = np.arange(len(lat)) != i
        d_as_is = _haversine_km(lat[i], lon[i], lat[others], lon[others]).min()
        d_swapped = _haversine_km(lon[i], lat[i], lat[others], lon[others])
        j = int(np.argmin(d_swapped))
        if d_as_is > SWAP_FAR_KM and d_swapped[j] < SWAP_NEAR_KM:
            out.append((int(i), float(d_as_is), float(d_swapped[j]), int(np.flatnonzero(others)[j])))
    return out


def topology_problems(inp: Inputs) -> list[Problem]:
    """Spans of no (or impossible) length, PoPs that leases use but no span reaches, swapped coordinates,
    and the route-geometry warnings of :func:`~planner.corridors.corridor_problems`."""
    out: list[Problem] = []
    tf, tp = inp.topology_pos.file, inp.topology_pos
    sf, sp = inp.sites_pos.file, inp.sites_pos
    xy = {s.id: (s.lon, s.lat) for s in inp.sites.sites}
    xy |= {p.id: (p.lon, p.lat) for p in inp.topology.pops}
    xy |= {j.id: (j.lon, j.lat) for j in inp.topology.junctions}
    g = nx.Graph()
    g.add_nodes_from(xy)
    for i, span in enumerate(inp.topology.spans):
        if span.a not in xy or span.b not in xy or span.a == span.b:
            continue  # reported by the topology checks
        g.add_edge(span.a, span.b)
        line = (inp.routes[span.id][0] if span.id in inp.routes
                else LineString([xy[span.a], *span.waypoints, xy[span.b]]))
        km = geodesic_length_km(line)
        if km < MIN_SPAN_KM:
            out.append(Problem(tf, tp.where(("spans", i)), "b", repr(span.b),
                               f"span {span.id} is {km * 1000:.0f} m long, between two distinct nodes "
                               f"{span.a} and {span.b} (the same place?)",
                               f"give {span.a} and {span.b} their real coordinates, or remove the span"))
        elif km > MAX_SPAN_KM:
            out.append(Problem(tf, tp.where(("spans", i)), "waypoints", f"{km:,.0f} km",
                               f"span {span.id} is longer than {MAX_SPAN_KM:,.0f} km (half the Earth's circumference)",
                               "check its waypoints or route: [lon, lat] pairs, longitude first"))

    # PoPs the leases send traffic to, but that no span joins to any campus.
    users: dict[str, list[str]] = defaultdict(list)
    for _, _, lr in inp.leases:
        if lr.region is not None:
            users[lr.region].append(lr.id)
    sites = {s.id for s in inp.sites.sites}
    reach = set().union(*(c for c in nx.connected_components(g) if c & sites))
    for i, pop in enumerate(inp.topology.pops):
        if pop.id in users and pop.id not in reach:
            leases = users[pop.id]
            named = ", ".join(leases[:5]) + (f" and {len(leases) - 5} more" if len(leases) > 5 else "")
            spans = "has no spans" if g.degree(pop.id) == 0 else "is joined to no campus by spans"
            out.append(Problem(tf, tp.where(("pops", i)), "id", repr(pop.id),
                               f"PoP {pop.id} {spans}, yet {len(leases)} lease(s) send traffic to it ({named})",
                               f"add a span from {pop.id} towards a campus, or point those leases at another region"))

    # Coordinates entered lat-for-lon.
    places = ([(sf, sp.where(("sites", i, "lat")), "site", s.id) for i, s in enumerate(inp.sites.sites)]
              + [(tf, tp.where(("pops", i, "lat")), "PoP", p.id) for i, p in enumerate(inp.topology.pops)]
              + [(tf, tp.where(("junctions", i, "lat")), "junction", j.id)
                 for i, j in enumerate(inp.topology.junctions)])
    lat = np.array([xy[ident][1] for *_, ident in places], dtype=float)
    lon = np.array([xy[ident][0] for *_, ident in places], dtype=float)
    for i, d_as_is, d_swapped, j in looks_swapped(lat, lon):
        file, where, what, ident = places[i]
        out.append(Problem(file, where, "lat", f"{lat[i]:g} (lon {lon[i]:g})",
                           f"{what} {ident} lies {d_as_is:,.0f} km from every other node; with lat and lon swapped "
                           f"it would be {d_swapped:,.0f} km from {places[j][3]}",
                           "swap lat and lon if they were entered the wrong way round (lat is north-south)",
                           severity="warning"))
    return out + corridor_problems(inp)
