"""Generated books: internal training reservations in waves, internal services, and the lease book.

The lease book is drawn in two steps. :func:`lease_shapes` draws what tenants ask
for (kind, SKU, size, replicas, term, price) before the pods exist, so that pods
can be sized to the demand; :func:`finish_leases` then fits each ask to the built
campuses: span (``site`` when larger than any pod of its SKU), region, egress,
latency SLO (mostly within reach of some campus, some not), allowed sites and
residency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from planner.generate.campus import SKU_MIX, Hall

__all__ = ["LEASE_HEADER", "RESERVATION_HEADER", "Shape", "capped_gpus", "finish_leases", "internal_services",
           "lease_shapes", "reservations", "site_capacity"]

LEASE_HEADER = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
                "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency", "start_week", "end_week",
                "price_usd_per_gpu_hour"]
T = TypeVar("T")
RESERVATION_HEADER = ["pod", "site", "sku", "start_week", "end_week", "gpus", "note"]

TENANTS = (
    "Aurora Labs", "Borealis AI", "Cobalt Robotics", "Driftwood Health", "Ember Analytics", "Fathom Bio",
    "Granite Finance", "Halcyon Media", "Ionic Search", "Juniper Legal AI", "Kestrel Autonomy", "Lumen Games",
    "Meridian Retail", "Nimbus Voice", "Orchard Ads", "Pinnacle Pharma", "Quasar Research", "Redwood Code",
    "Sable Security", "Tidewater Energy", "Umber Logistics", "Vantage Insurance", "Willow Education",
    "Xenon Materials", "Yarrow Agritech", "Zephyr Weather", "Atlas Mapping", "Beacon News", "Cirrus Travel",
    "Delta Genomics", "Echo Translation", "Falcon Defense Tech", "Gemstone Design", "Harbor Shipping",
    "Iris Vision", "Jade Fintech", "Keystone Manufacturing", "Lattice Chips", "Mosaic Studios", "Nova Telecom",
)
INTERNAL_NAMES = ("assistant", "ads-ranking", "code-assist", "search", "media-gen", "translate", "moderation",
                  "recsys", "voice", "agents", "vision", "embeddings", "safety-evals", "feed-ranking")
PRICE = {  # USD per GPU-hour, (committed range, spot range), 2026-27 market
    "H100": ((2.2, 3.0), (1.8, 2.4)),
    "B200": ((3.8, 5.0), (3.0, 4.0)),
    "GB200": ((5.0, 6.5), (4.0, 5.2)),
}
SIZES = {  # GPUs per replica and their weights, by kind
    "fine-tune": ((8, 16, 32, 64, 128, 256, 512), (10, 10, 15, 20, 20, 15, 10)),
    "inference": ((8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096), (4, 5, 8, 15, 17, 17, 14, 10, 6, 4)),
    "training": ((256, 512, 1024, 2048, 4096, 8192, 16384), (8, 12, 15, 17, 17, 16, 15)),
}
KINDS = (("inference", 0.45), ("training", 0.35), ("fine-tune", 0.20))
INFERENCE_SLOS = (5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50)
BATCH_SLOS = (30, 50, 75, 100)
# Internal training waves and the dips between them, as weeks of a 52-week year.
WAVES = ((1, 14, "pretraining run A"), (20, 34, "pretraining run B"), (40, 52, "pretraining run C"))
DIPS = ((15, 19), (35, 39))


@dataclass
class Shape:
    """One lease as first drawn; :func:`finish_leases` fills in the rest."""

    tenant: str
    kind: str
    priority: str
    sku: str
    gpus: int
    replicas: int
    anti_affinity: bool
    start: int
    end: int
    price: float

    @property
    def gpu_weeks(self) -> int:
        """GPUs x replicas x weeks."""
        return self.gpus * self.replicas * (self.end - self.start + 1)


def _pick(rng: np.random.Generator, items: tuple[T, ...], weights: tuple[float, ...]) -> T:
    w = np.asarray(weights, dtype=float)
    return items[int(rng.choice(len(items), p=w / w.sum()))]


def lease_shapes(rng: np.random.Generator, n: int, weeks: int, campuses: int) -> list[Shape]:
    """``n`` lease asks: ~45 % inference, 35 % training, 20 % fine-tune; ~35 % committed, the rest spot."""
    out = []
    kinds, kind_w = tuple(k for k, _ in KINDS), tuple(w for _, w in KINDS)
    skus, sku_w = tuple(SKU_MIX), tuple(SKU_MIX.values())
    terms = {"fine-tune": (2, min(8, weeks)), "inference": (min(8, weeks), weeks), "training": (min(4, weeks),
                                                                                                min(30, weeks))}
    for _ in range(n):
        tenant = TENANTS[int(rng.integers(len(TENANTS)))]
        kind = str(_pick(rng, kinds, kind_w))
        priority = "committed" if rng.random() < 0.35 else "spot"
        sku = str(_pick(rng, skus, sku_w))
        gpus = _pick(rng, *SIZES[kind])
        reps, anti = 1, False
        if kind == "inference" and sku != "GB200" and gpus <= 2048 and rng.random() < 0.25:
            reps, anti = (3 if campuses >= 4 and rng.random() < 0.2 else 2), True
        elif kind == "inference" and rng.random() < 0.05:
            reps = 2
        lo, hi = terms[kind]
        length = int(rng.integers(lo, hi + 1))
        start = 1 if rng.random() < 0.15 else int(rng.integers(1, weeks - length + 2))
        (c_lo, c_hi), (s_lo, s_hi) = PRICE[sku]
        price = rng.uniform(c_lo, c_hi) if priority == "committed" else rng.uniform(s_lo, s_hi)
        out.append(Shape(tenant, kind, priority, sku, gpus, reps, anti, start, start + length - 1, round(price, 2)))
    return out


def _wk(week: int, weeks: int) -> int:
    return max(1, min(weeks, round(week * weeks / 52)))


def reservations(rng: np.random.Generator, halls: list[Hall], weeks: int) -> tuple[list[list], np.ndarray]:
    """Internal use of every pod: reservation rows, and the reserved GPUs as a pods x weeks array.

    Training halls carry a baseline of evals and data jobs, three pretraining runs
    a year (each with a two-week ramp-up) and post-training in the dips between
    them, shifted by a few weeks per campus; serving and small halls see an
    occasional evaluation sweep. No pod is ever over-reserved.
    """
    rows: list[list] = []
    n_pods = sum(h.count for h in halls)
    reserved = np.zeros((n_pods, weeks), dtype=np.int64)
    phase = {site: int(rng.integers(-2, 3)) for site in dict.fromkeys(h.site for h in halls)}
    i = 0
    for h in halls:
        for pid in h.pod_ids:
            for start, end, frac, note in _pod_blocks(rng, h.role, weeks, phase[h.site]):
                if start > end:
                    continue
                room = int((h.gpus - reserved[i, start - 1:end]).min())  # short horizons squeeze the waves
                g = min(int(h.gpus * frac), room) // 8 * 8
                if g > 0:
                    rows.append([pid, "", "", start, end, g, note])
                    reserved[i, start - 1:end] += g
            i += 1
    return rows, reserved


def _pod_blocks(rng: np.random.Generator, role: str, weeks: int, shift: int) -> list[tuple[int, int, float, str]]:
    out: list[tuple[int, int, float, str]] = []
    if role != "training":
        for _ in range(int(rng.integers(0, 3))):
            s = int(rng.integers(1, max(2, weeks - 4)))
            out.append((s, min(weeks, s + int(rng.integers(1, 6))), float(rng.uniform(0.2, 0.5)), "evaluation sweep"))
        return out
    base = float(rng.uniform(0.04, 0.12))
    out.append((1, weeks, base, "evals, ablations and data jobs"))
    for ws, we, note in WAVES:
        if rng.random() > 0.9:
            continue
        s = _wk(ws + shift, weeks) + int(rng.integers(0, 3))
        e = _wk(we + shift, weeks) - int(rng.integers(0, 3))
        frac = float(rng.uniform(0.72 - base, 0.95 - base))
        if s + 2 <= e:
            out += [(s, s + 1, frac / 2, f"{note} (ramp-up)"), (s + 2, e, frac, note)]
    for ds, de in DIPS:
        if rng.random() < 0.5:
            out.append((_wk(ds + shift, weeks), _wk(de + shift, weeks), float(rng.uniform(0.15, 0.45)),
                        "post-training and RL"))
    return out


def internal_services(rng: np.random.Generator, n: int, halls: list[Hall], reserved: np.ndarray,
                      latency: dict[str, dict[str, float]], pops: list[str]) -> tuple[list[list], np.ndarray]:
    """``n`` internal inference services that fit: lease-book rows, and their GPUs as a pods x weeks array.

    Each one is sized to a share of the GPUs a serving (or small) pod has free over
    its whole term, with a second replica on another campus for some, and a latency
    SLO its campuses meet with room to spare.
    """
    weeks = reserved.shape[1]
    pods = [(pid, h) for h in halls for pid in h.pod_ids]
    used_gpus = np.zeros_like(reserved)
    cands = [i for i in rng.permutation(len(pods)) if pods[i][1].role != "training"]
    taken: set[int] = set()
    rows: list[list] = []
    names = list(INTERNAL_NAMES) + [f"service-{k}" for k in range(len(INTERNAL_NAMES), n)]
    for k in range(n):
        start = 1 if rng.random() < 0.6 else int(rng.integers(1, weeks // 2 + 1))
        t = slice(start - 1, weeks)
        chosen: list[int] = []
        gpus = 0
        for i in cands:
            if i in taken:
                continue
            _, h = pods[i]
            free = int((h.gpus - reserved[i, t] - used_gpus[i, t]).min())
            gpus = int(free * rng.uniform(0.15, 0.4)) // 64 * 64
            if gpus >= 64:
                chosen = [i]
                break
        if not chosen:
            break
        _, h0 = pods[chosen[0]]
        if rng.random() < 0.4:
            for j in cands:
                _, h = pods[j]
                if (j not in taken and j != chosen[0] and h.sku == h0.sku and h.site != h0.site
                        and int((h.gpus - reserved[j, t] - used_gpus[j, t]).min()) >= 2 * gpus):
                    chosen.append(j)
                    break
        region = pops[int(rng.integers(len(pops)))]
        slowest = max(latency[pods[i][1].site][region] for i in chosen)
        slo = math.ceil(slowest * 1.25 + 1.5)
        for i in chosen:
            taken.add(i)
            used_gpus[i, t] += gpus
        egress = int(rng.integers(5, 31)) * 10
        rows.append([f"INT-{names[k]}", "Internal", "inference", "internal", h0.sku, gpus, "pod", len(chosen),
                     str(len(chosen) > 1).lower(), egress, region, slo, "", "US", start, weeks, 0])
    return rows, used_gpus


def site_capacity(halls: list[Hall]) -> dict[str, int]:
    """GPUs of each SKU at the campus with the most of them."""
    totals: dict[tuple[str, str], int] = {}
    for h in halls:
        totals[(h.site, h.sku)] = totals.get((h.site, h.sku), 0) + h.gpus * h.count
    out: dict[str, int] = {}
    for (_, sku), v in totals.items():
        out[sku] = max(out.get(sku, 0), v)
    return out


def capped_gpus(gpus: int, site_max: int) -> int:
    """A lease's GPUs, halved until they take at most 60 % of the largest campus's GPUs of its SKU.

    Examples
    --------
    >>> capped_gpus(16384, 20000), capped_gpus(512, 20000)
    (8192, 512)
    """
    while gpus > 8 and gpus > 0.6 * site_max:
        gpus //= 2
    return gpus


def finish_leases(rng: np.random.Generator, shapes: list[Shape], halls: list[Hall], sites: dict[str, list[str]],
                  latency: dict[str, dict[str, float]], pops: list[str]) -> list[list]:
    """Lease-book rows for ``shapes`` on the built campuses.

    ``sites`` maps each campus to its residency tags. Leases are cut down (halved)
    until they take at most 60 % of the largest campus's GPUs of their SKU.
    """
    max_pod: dict[str, int] = {}
    site_pod: dict[tuple[str, str], int] = {}
    site_gpus: dict[tuple[str, str], int] = {}
    for h in halls:
        max_pod[h.sku] = max(max_pod.get(h.sku, 0), h.gpus)
        site_pod[(h.site, h.sku)] = max(site_pod.get((h.site, h.sku), 0), h.gpus)
        site_gpus[(h.site, h.sku)] = site_gpus.get((h.site, h.sku), 0) + h.gpus * h.count
    max_site = site_capacity(halls)
    home = {t: pops[int(rng.integers(len(pops)))] for t in TENANTS}
    width = max(4, len(str(len(shapes))))
    rows = []
    for i, sh in enumerate(shapes, start=1):
        gpus = capped_gpus(sh.gpus, max_site.get(sh.sku, 0))
        big = gpus > max_pod[sh.sku] or (sh.kind == "training" and gpus >= 8192 and rng.random() < 0.3)
        span = "site" if big else "pod"
        region = home[sh.tenant] if rng.random() < 0.7 else pops[int(rng.integers(len(pops)))]
        room = site_gpus if big else site_pod
        here = [s for s in sites if room.get((s, sh.sku), 0) >= gpus]
        allowed: list[str] = []
        if not sh.anti_affinity and rng.random() < 0.06 and len(here) > 1:
            allowed = sorted(str(s) for s in rng.choice(here, size=int(rng.integers(1, 3)), replace=False))
        residency = "US" if rng.random() < 0.7 else ""
        if rng.random() < 0.04:
            tags = sorted({t for s in (allowed or here) for t in sites[s] if t != "US"})
            tag = str(rng.choice(tags)) if tags else ""
            if sum(tag in sites[s] for s in (allowed or here)) >= sh.replicas:
                residency = tag
        ok = [s for s in (allowed or here) if not residency or residency in sites[s]]
        reach = sorted(latency[s][region] for s in ok)
        if sh.kind == "inference":
            egress = int(np.clip(round(gpus * rng.uniform(0.3, 1.2) / 5) * 5, 20, 800))
            slo: int | str = int(rng.choice(INFERENCE_SLOS))
            need = reach[min(sh.replicas, len(reach)) - 1] if reach else 0.0
            if reach and rng.random() < 0.85:
                target = need * rng.uniform(1.1, 2.5)
                slo = next((v for v in INFERENCE_SLOS if v >= target), math.ceil(target))
        else:
            egress = int(rng.integers(1, 21))
            slo = int(rng.choice(BATCH_SLOS)) if rng.random() < 0.5 else ""
        rows.append([f"L-{i:0{width}d}", sh.tenant, sh.kind, sh.priority, sh.sku, gpus, span, sh.replicas,
                     str(sh.anti_affinity).lower(), egress, region, slo, ";".join(allowed), residency, sh.start,
                     sh.end, f"{sh.price:.2f}"])
    return rows
