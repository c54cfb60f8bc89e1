"""``generate``: a seeded, realistic scenario of a benchmark tier, written as ordinary scenario files."""

from __future__ import annotations

import logging
import zlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from planner.generate.book import (
    LEASE_HEADER,
    RESERVATION_HEADER,
    finish_leases,
    free_gpu_weeks,
    internal_services,
    lease_shapes,
    scale_shapes,
)
from planner.generate.book import reservations as make_reservations
from planner.generate.campus import SKUS, make_halls, make_sites, size_power
from planner.generate.fibre import build_fibre, size_spans
from planner.generate.files import write_csv, write_pods, write_scenario, write_sites, write_skus, write_topology
from planner.generate.places import CAMPUSES
from planner.generate.tiers import Tier, get_tier

__all__ = ["generate"]

log = logging.getLogger(__name__)

K_PATHS = 3
MAX_LINK_UTILISATION = 0.8


def _streams(tier: Tier, seed: int) -> dict[str, np.random.Generator]:
    """One independent random stream per part, so that changing one part leaves the others as they were."""
    parts = ["sites", "fibre", "shapes", "halls", "reservations", "internal", "leases", "spans", "power"]
    root = np.random.SeedSequence([int(seed), zlib.crc32(tier.name.encode())])
    return {p: np.random.default_rng(s) for p, s in zip(parts, root.spawn(len(parts)), strict=True)}


def _some(ids: list[str], shown: int = 4) -> str:
    """A short list of ids.

    Examples
    --------
    >>> _some(["L-1", "L-2"]), _some([f"L-{i}" for i in range(6)])
    ('L-1, L-2', 'L-0, L-1, L-2, L-3 and 2 more')
    """
    more = f" and {len(ids) - shown} more" if len(ids) > shown else ""
    return ", ".join(ids[:shown]) + more


def generate(tier: str | Tier, seed: int, out_dir: str | Path) -> Path:
    """Generate a scenario of a benchmark tier and write its files into ``out_dir``.

    The same tier and seed always give byte-identical files. Campuses sit at real
    US AI data-center sites, built as operators publish them: AI zones of
    ~2,000-4,000 GPUs (GB200 in whole NVL72 racks on 400G InfiniBand), eight to a
    hall (an aggregation domain at 7:1, one building), with power sized to them; a
    DCI mesh along interstate corridors (routes 1.2-1.5x the great circle) joins
    them to real metro PoPs, every campus over two edge-disjoint routes; internal
    training comes in waves of whole zones and halls, internal inference holds part
    of the serving zones; the lease book, scaled to what internal work leaves free,
    mixes SKUs, fleets of small inference replicas with egress from serving
    throughput, training leases that span zones or halls, terms, regions, SLOs and
    prices, and a few asks that can never fit.

    Parameters
    ----------
    tier
        ``"small"``, ``"medium"``, ``"large"``, ``"hyperscale"`` (see
        :data:`planner.generate.TIERS`) or a :class:`~planner.generate.Tier`.
    seed
        Random seed.
    out_dir
        Directory to write into (created if needed); existing files of the same
        names are overwritten.

    Returns
    -------
    Path
        The scenario file, ``out_dir/scenario.yaml``, ready for :func:`planner.load_scenario`.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> with tempfile.TemporaryDirectory() as d:
    ...     sc = load_scenario(generate("small", 1, d))
    >>> len(sc.sites), len(sc.pods), len(sc.workloads)
    (2, 20, 50)
    """
    t = get_tier(tier)
    if t.campuses > len(CAMPUSES):
        msg = f"tier {t.name} asks for {t.campuses} campuses; the generator knows {len(CAMPUSES)}"
        raise ValueError(msg)
    if t.internal >= t.leases:
        msg = f"tier {t.name}: {t.internal} internal services leave no room for leases in {t.leases} rows"
        raise ValueError(msg)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = _streams(t, seed)
    campuses = list(CAMPUSES[: t.campuses])
    sites = make_sites(rng["sites"], campuses)
    fibre = build_fibre(rng["fibre"], campuses, t.pops, K_PATHS)
    pops = [p.id for p in fibre.pops]

    # Internal work on the built campuses first, then the lease book scaled to what it leaves free.
    halls = make_halls(rng["halls"], campuses, t.pods)
    res_rows, reserved = make_reservations(rng["reservations"], halls, t.weeks)
    int_rows, int_gpus = internal_services(rng["internal"], t.internal, halls, reserved, fibre.latency_ms, pops)
    shapes = lease_shapes(rng["shapes"], t.leases - len(int_rows), t.weeks, t.campuses)
    scale_shapes(shapes, free_gpu_weeks(halls, reserved + int_gpus), t.demand_ratio)
    tags = {s.campus.id: s.residency for s in sites}
    lease_rows, never = finish_leases(rng["leases"], shapes, halls, reserved + int_gpus, tags,
                                      fibre.latency_ms, pops)

    # DCI sized to the users' expected egress; power sized to the pods.
    c = {name: i for i, name in enumerate(LEASE_HEADER)}

    def gpu_weeks(r: list) -> int:
        return int(r[c["gpus"]]) * int(r[c["replicas"]]) * (int(r[c["end_week"]]) - int(r[c["start_week"]]) + 1)

    pop_egress: dict[str, float] = defaultdict(float)
    for r in int_rows + lease_rows:
        pop_egress[r[c["region"]]] += float(r[c["egress_gbps"]]) * gpu_weeks(r) / int(r[c["gpus"]]) / t.weeks
    pod_site = [h.site for h in halls for _ in range(h.count)]
    pue = {s.campus.id: s.pue for s in sites}
    kw = np.array([SKUS[h.sku][2] * pue[h.site] for h in halls for _ in range(h.count)])
    gpus = np.array([h.gpus for h in halls for _ in range(h.count)])
    at = {cp.id: np.array([s == cp.id for s in pod_site]) for cp in campuses}
    full = {cid: float((gpus * kw)[mask].sum() / 1000) for cid, mask in at.items()}
    share = {cid: float(gpus[mask].sum() / gpus.sum()) for cid, mask in at.items()}
    size_spans(rng["spans"], fibre, dict(pop_egress), share, MAX_LINK_UTILISATION)
    committed = (reserved + int_gpus) * kw[:, None] / 1000
    size_power(rng["power"], sites, full, {cid: committed[mask].sum(axis=0) for cid, mask in at.items()})

    name = f"{t.name}-s{seed}"
    n_gpus = int(gpus.sum())
    free = float((gpus[:, None] - reserved - int_gpus).sum())
    asked = sum(gpu_weeks(r) for r in lease_rows)
    about = (f"Generated by `planner generate --tier {t.name} --seed {seed}` (planner.generate); edit freely.\n"
             f"{t.campuses} campuses, {t.pods} pods ({n_gpus:,} GPUs), {len(fibre.spans)} DCI spans, "
             f"{len(pops)} PoPs, {len(lease_rows)} leases + {len(int_rows)} internal services, {t.weeks} weeks.\n"
             f"Leases ask for {asked / max(free, 1):.2f}x the GPU-weeks internal work leaves free; "
             f"{len(never)} can never fit ({_some(never)}: an SLO below the fibre latency from every campus "
             "they may use).")
    write_scenario(out / "scenario.yaml", name, f"Generated {t.name} tier, seed {seed}", t.weeks, K_PATHS, about)
    write_skus(out / "gpu_skus.yaml")
    write_sites(out / "sites.yaml", sites, about + "\nPower: MW of facility power (IT x PUE); prices USD/MWh "
                "(EIA Electric Power Monthly table 5.6.A, industrial, by state, rounded up).")
    write_pods(out / "pods.yaml", halls, about + "\nPods are AI zones (non-blocking two-tier Clos, ~2-4k GPUs); "
               "a hall is an aggregation domain of up to 8 zones\n(one building: 4 data halls x 2 zones) whose "
               "aggregation layer carries its GPUs' 400G ports at 7:1.\nEach pod group is one hall's `count` "
               "identical zones (ids <group>-01, <group>-02, ...).")
    write_topology(out / "topology.yaml", fibre, about + "\nSpans follow interstate corridors between real "
                   "metro PoPs and junction cities; routes are 1.2-1.5x the great circle.\nA campus's access "
                   "spans leave through two diverse entrances; the two sharing one share a shared-risk group.")
    write_csv(out / "reservations.csv", RESERVATION_HEADER, res_rows)
    write_csv(out / "leases.csv", LEASE_HEADER, int_rows + lease_rows)
    log.info("generated %s into %s", name, out)
    return out / "scenario.yaml"
