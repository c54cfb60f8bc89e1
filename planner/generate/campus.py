"""Generated campuses: AI zones in halls (aggregation domains) in buildings, PUE, and power sized to the pods.

A campus is built as operators publish it (Meta's 24K-GPU clusters, SIGCOMM 2024):

- a pod is an **AI zone**: a non-blocking two-tier Clos of ~2,000-4,000 GPUs
  (Meta's are 3,072), whole 8-GPU servers, or for GB200 whole 72-GPU NVL72 racks
  on 400G InfiniBand (NVIDIA's reference design);
- a **hall** is an aggregation domain: up to :data:`ZONES_PER_HALL` (8) identical
  zones joined by an aggregation layer oversubscribed
  :data:`AGGREGATION_OVERSUBSCRIPTION` (7) : 1 against the GPUs' 400G ports, so
  ``aggregation_gbps = GPUs of the hall x 400 / 7``. Two zones fill a data hall
  and four data halls a building, so one hall of 8 zones is one building; the
  last hall of a SKU at a campus may be a building part fitted out (fewer zones);
- a hall has one SKU and a role: ``training`` halls run the internal
  pretraining waves (whole zones or the whole hall at a time); ``serving`` halls
  carry internal inference footprints and most of what is leased.

Campus power is sized to the pods: at full load they draw 85-95 % of what the
campus can take; some campuses have weeks with less (a grid upgrade not yet in
service, a summer demand-response window), where power binds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.generate.places import Campus
from planner.ids import pod_ids

__all__ = ["AGGREGATION_OVERSUBSCRIPTION", "FABRICS", "FABRIC_NOTES", "SKUS", "UNIT", "ZONES_PER_HALL", "Hall",
           "SiteSpec", "make_halls", "make_sites", "size_power", "zone_gpus"]

# id: (name, TDP W, all-in server kW per GPU, source) -- the figures of sites/gpu_skus.yaml.
SKUS: dict[str, tuple[str, int, float, str]] = {
    "H100": ("NVIDIA H100 SXM5 80GB (DGX/HGX H100, 8 GPUs per server)", 700, 1.275,
             "NVIDIA H100 datasheet (700 W TDP); DGX H100 user guide (~10.2 kW per 8-GPU system)"),
    "B200": ("NVIDIA B200 180GB (DGX/HGX B200, 8 GPUs per server)", 1000, 1.7875,
             "NVIDIA HGX specifications (1,000 W TDP); DGX B200 datasheet (~14.3 kW per 8-GPU system)"),
    "GB200": ("NVIDIA GB200 NVL72 (72 GPUs per liquid-cooled rack)", 1200, 1.833,
              "NVIDIA GB200 NVL72 product page (72 GPUs, 36 Grace CPUs, ~120-132 kW per rack)"),
}
SKU_MIX = {"H100": 0.40, "B200": 0.35, "GB200": 0.25}
"""Share of pods (and of leases) by SKU."""
UNIT = {"H100": 8, "B200": 8, "GB200": 72}
"""GPUs in the smallest unit sold and built: an 8-GPU server, or a 72-GPU NVL72 rack."""

# id: (kind, switch radix, port Gbps, planes, oversubscription of the zone's uplinks to the aggregation layer)
FABRICS: dict[str, tuple[str, int, int, int, float]] = {
    "roce-400-zone": ("RoCE", 128, 400, 1, 4.0),
    "roce-400-zone-thin": ("RoCE", 128, 400, 1, 8.0),
    "ib-ndr-400-zone": ("InfiniBand", 64, 400, 8, 4.0),
    "ib-ndr-400-nvl72": ("InfiniBand", 64, 400, 4, 4.0),
}
FABRIC_NOTES = {
    "roce-400-zone": "a RoCE AI zone (Meta's design): rack and cluster switches of 128 x 400G, one 400G NIC per "
                     "GPU, non-blocking inside; uplinks to the aggregation layer 4:1",
    "roce-400-zone-thin": "the same zone with thinner uplinks (8:1): serving halls",
    "ib-ndr-400-zone": "an InfiniBand AI zone: Quantum-2 (64 x 400G NDR), 8 rails, one 400G NIC per GPU",
    "ib-ndr-400-nvl72": "GB200 NVL72 racks on 400G InfiniBand (NVIDIA's reference design: Quantum-2, "
                        "ConnectX-7, 4 rails per compute tray)",
}
ZONES_PER_HALL = 8
"""AI zones one aggregation layer joins (Meta: 8 x 3,072 GPUs = a 24K-GPU cluster, one building)."""
AGGREGATION_OVERSUBSCRIPTION = 7.0
"""The aggregation layer carries 1/7 of its GPUs' port bandwidth between zones (Meta: ~7:1)."""
ZONE_GPUS = tuple(range(2048, 4097, 256))
"""AI zone sizes of 8-GPU servers: 256 to 512 servers (Meta's 3,072-GPU zone is 384)."""
ZONE_RACKS = tuple(range(28, 57, 2))
"""AI zone sizes of NVL72 racks: 28 to 56 racks (2,016 to 4,032 GPUs)."""
TRAINING_HALL_SHARE = 0.55
"""Share of halls, after the first of each SKU at a campus (always training), that run internal training."""


@dataclass
class Hall:
    """A hall (aggregation domain): ``count`` identical AI zones of one SKU and role, written as one pod group."""

    group: str
    hall: str
    building: str
    site: str
    sku: str
    gpus: int
    fabric: str
    count: int
    role: str

    @property
    def pod_ids(self) -> list[str]:
        """Ids of the pods (AI zones) the group expands to."""
        return pod_ids(self.group, self.count)

    @property
    def aggregation_gbps(self) -> float:
        """What the aggregation layer carries between zones: the hall's GPU port bandwidth over 7."""
        return self.count * self.gpus * FABRICS[self.fabric][2] / AGGREGATION_OVERSUBSCRIPTION

    @property
    def name(self) -> str:
        """A readable name: building, SKU, role and size."""
        data_halls = math.ceil(self.count / 2)
        return (f"{self.building}: {self.sku} {self.role}, {self.count} AI zones in {data_halls} data "
                f"hall{'s' if data_halls > 1 else ''}")


@dataclass
class SiteSpec:
    """A campus as it will be written to the sites file."""

    campus: Campus
    pue: float
    price_usd_per_mwh: float
    residency: list[str]
    footprint: list[tuple[float, float]]
    grid_mw: float = 0.0
    onsite_mw: float = 0.0
    windows: list[dict[str, float | int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _footprint(rng: np.random.Generator, c: Campus) -> list[tuple[float, float]]:
    """A rough campus outline: an irregular octagon 1.5-3 km across, closed."""
    r_km = rng.uniform(0.75, 1.5)
    angles = np.sort(rng.uniform(0, 2 * np.pi, 8))
    radii = r_km * rng.uniform(0.7, 1.0, 8)
    kx, ky = 111.32 * math.cos(math.radians(c.lat)), 110.57
    ring = [(round(c.lon + float(r * np.cos(a)) / kx, 4), round(c.lat + float(r * np.sin(a)) / ky, 4))
            for a, r in zip(angles, radii, strict=True)]
    return [*ring, ring[0]]


def make_sites(rng: np.random.Generator, campuses: list[Campus]) -> list[SiteSpec]:
    """Campus sites with PUE, power price, residency tags and a footprint (power comes later)."""
    out = []
    for c in campuses:
        pue = round(float(rng.uniform(1.08, 1.2)), 2)
        price = round(c.price_usd_per_mwh * float(rng.uniform(0.95, 1.05)), 1)
        out.append(SiteSpec(c, pue, price, ["US", c.region.upper()], _footprint(rng, c)))
    return out


def _split(total: int, weights: np.ndarray, minimum: int = 0) -> list[int]:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder), each >= ``minimum``.

    Examples
    --------
    >>> _split(10, np.array([1.0, 1.0, 2.0]))
    [3, 2, 5]
    """
    base = np.full(len(weights), minimum)
    rest = total - int(base.sum())
    share = weights / weights.sum() * rest
    out = base + np.floor(share).astype(int)
    for i in np.argsort(-(share - np.floor(share)), kind="stable")[: total - int(out.sum())]:
        out[i] += 1
    return [int(x) for x in out]


def zone_gpus(rng: np.random.Generator, sku: str) -> int:
    """GPUs of one AI zone: around 3,072 (whole servers), or around 42 NVL72 racks for GB200.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> sizes = [zone_gpus(rng, "GB200") for _ in range(200)]
    >>> all(s % 72 == 0 and 2016 <= s <= 4032 for s in sizes)
    True
    """
    menu = [72 * r for r in ZONE_RACKS] if sku == "GB200" else list(ZONE_GPUS)
    target = 3072 * float(rng.lognormal(0.0, 0.12))
    return min(menu, key=lambda s: abs(math.log(s / target)))


def _fabric(sku: str, role: str) -> str:
    if sku == "GB200":
        return "ib-ndr-400-nvl72"
    if role == "serving":
        return "roce-400-zone-thin"
    return "ib-ndr-400-zone" if sku == "H100" else "roce-400-zone"


def _zone_counts(k: int) -> list[int]:
    """Zones per hall for ``k`` zones: full halls of 8, the last one part fitted out.

    Examples
    --------
    >>> _zone_counts(19), _zone_counts(8), _zone_counts(3)
    ([8, 8, 3], [8], [3])
    """
    return [ZONES_PER_HALL] * (k // ZONES_PER_HALL) + ([k % ZONES_PER_HALL] if k % ZONES_PER_HALL else [])


def make_halls(rng: np.random.Generator, campuses: list[Campus], n_pods: int) -> list[Hall]:
    """Halls of AI zones at every campus: ``n_pods`` zones in all, one building per hall.

    Each campus gets a share of the zones, split over the SKUs; a SKU's zones at a
    campus fill halls of 8. The first hall of each SKU at a campus runs internal
    training, the others do with probability 0.55; every campus with two halls or
    more, and every SKU with two halls or more, has a serving hall.
    """
    per_campus = _split(n_pods, rng.uniform(0.7, 1.3, len(campuses)))
    skus = list(SKU_MIX)
    mix = np.array([SKU_MIX[s] for s in skus])
    halls: list[Hall] = []
    for c, n in zip(campuses, per_campus, strict=True):
        counts = _split(n, mix * rng.lognormal(0, 0.35, len(skus)), minimum=1 if n >= len(skus) else 0)
        mine: list[Hall] = []
        for sku, k in zip(skus, counts, strict=True):
            for j, cnt in enumerate(_zone_counts(k)):
                role = "training" if j == 0 or rng.random() < TRAINING_HALL_SHARE else "serving"
                b = len(mine) + 1
                mine.append(Hall(f"{c.id}-{sku}-{_letters(j)}", f"{c.id}-B{b:02d}", f"Building {b}", c.id, sku,
                                 zone_gpus(rng, sku), "", cnt, role))
        roles = {h.role for h in mine}
        if len(mine) >= 2 and "serving" not in roles:  # the first hall is always training
            mine[-1].role = "serving"
        halls += mine
    for sku in skus:  # every SKU has some zones outside the waves, and some in them
        of_sku = [h for h in halls if h.sku == sku]
        if len(of_sku) >= 2 and all(h.role == "training" for h in of_sku):
            of_sku[-1].role = "serving"
    for h in halls:
        h.fabric = _fabric(h.sku, h.role)
    return halls


def _letters(n: int) -> str:
    """Hall letters: A..Z, then AA, AB...

    Examples
    --------
    >>> _letters(0), _letters(25), _letters(26)
    ('A', 'Z', 'AA')
    """
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(65 + r) + out
    return out


def size_power(rng: np.random.Generator, sites: list[SiteSpec], full_mw: dict[str, float],
               committed_mw: dict[str, np.ndarray]) -> None:
    """Set grid, on-site power and power windows of each site (in place).

    ``full_mw`` is each campus's facility draw with every pod at full load;
    ``committed_mw`` its draw per week from internal reservations and internal
    workloads, which every week's power must cover with room to spare.
    """
    for s in sites:
        full = full_mw[s.campus.id]
        base = committed_mw[s.campus.id]
        weeks = len(base)
        available = full / rng.uniform(0.85, 0.95)
        onsite = 10 * math.floor(available * rng.uniform(0.0, 0.2) / 10)
        s.onsite_mw = float(onsite)
        s.grid_mw = float(10 * math.ceil((available - onsite) / 10))
        s.notes.append(f"pods at full load draw {full:,.0f} MW, {full / (s.grid_mw + onsite):.0%} of the supply")
        if rng.random() < 0.4:  # halls built ahead of a grid upgrade
            end = int(rng.integers(weeks // 4, weeks // 2 + 1))
            low = max(full * rng.uniform(0.72, 0.85), 1.05 * float(base[:end].max()))
            grid = float(10 * math.ceil((low - onsite) / 10))
            if grid < s.grid_mw:
                s.windows.append({"start_week": 1, "end_week": end, "grid_mw": grid})
                s.notes.append(f"weeks 1-{end}: grid upgrade not yet in service, {grid:,.0f} MW from the grid")
        if rng.random() < (0.5 if s.campus.state in {"TX", "AZ"} else 0.15):  # summer demand response
            start, end = round(weeks * 0.52) + 1, round(weeks * 0.67)
            if not any(w["end_week"] >= start for w in s.windows) and end >= start:
                low = max(full * rng.uniform(0.8, 0.9), 1.05 * float(base[start - 1:end].max()))
                grid = float(10 * math.ceil((low - onsite) / 10))
                if grid < s.grid_mw:
                    s.windows.append({"start_week": start, "end_week": end, "grid_mw": grid})
                    s.notes.append(f"weeks {start}-{end}: summer demand response, grid capped at {grid:,.0f} MW")
