"""Generated campuses: halls of identical fabric domains, PUE, and power sized to the pods.

A campus is built hall by hall; a hall is ``count`` identical pods (one pod group
in the pods file) of one SKU and one role:

- ``training`` halls: big InfiniBand or Spectrum-X domains, busy with internal
  pretraining waves;
- ``serving`` halls: thin-uplink RoCE domains built for leasing and inference;
- ``small`` halls: small domains for fine-tuning and small leases.

Pod sizes are whole servers (8 GPUs) or whole NVL72 racks (72 GPUs), and sized so
that the lease book asks for about ``demand_ratio`` times the GPU-weeks internal
training leaves free. Campus power is sized to the pods: at full load they draw
85-95 % of what the campus can take; some campuses have weeks with less (a grid
upgrade not yet in service, a summer demand-response window), where power binds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from planner.generate.places import Campus
from planner.ids import pod_ids

__all__ = ["FABRICS", "SKUS", "Hall", "SiteSpec", "make_halls", "make_sites", "size_power"]

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
"""Share of leases (and so of pods) by SKU."""

# id: (kind, switch radix, port Gbps, planes, oversubscription) -- as in sites/reference_pods.yaml.
FABRICS: dict[str, tuple[str, int, int, int, float]] = {
    "ib-ndr-64": ("InfiniBand", 64, 400, 8, 8.0),
    "roce-spx-128": ("RoCE", 128, 400, 8, 4.0),
    "roce-spx-128-thin": ("RoCE", 128, 400, 8, 8.0),
    "ib-xdr-144": ("InfiniBand", 144, 800, 4, 4.0),
}
ROLES = {"training": (0.55, 1.4), "serving": (0.30, 0.8), "small": (0.15, 0.3)}
"""Role: (share of halls after the first, pod size relative to the SKU's mean)."""
FREE_SHARE = {"training": 0.42, "serving": 0.97, "small": 0.97}
"""Expected share of a pod's GPU-weeks internal work leaves free, by role."""
SERVER_SIZES = (256, 512, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576, 32768)
NVL72_RACKS = (4, 8, 16, 24, 32, 48, 64, 96, 128, 192, 224, 256, 384, 448)


@dataclass
class Hall:
    """``count`` identical pods of one SKU, fabric and role."""

    group: str
    site: str
    sku: str
    gpus: int
    fabric: str
    count: int
    hall: str
    role: str

    @property
    def pod_ids(self) -> list[str]:
        """Ids of the pods the group expands to."""
        return pod_ids(self.group, self.count)


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


def _snap(gpus: float, sku: str) -> int:
    """The nearest (in ratio) whole-server or whole-rack pod size."""
    menu = [72 * r for r in NVL72_RACKS] if sku == "GB200" else list(SERVER_SIZES)
    return min(menu, key=lambda s: abs(math.log(s / max(gpus, 1.0))))


def _fabric(sku: str, role: str, gpus: int) -> str:
    if sku == "GB200":
        return "ib-xdr-144"
    if role == "serving" or (role == "small" and sku == "B200"):
        return "roce-spx-128-thin"
    if sku == "H100" and gpus <= 16384:
        return "ib-ndr-64"
    return "roce-spx-128"


def make_halls(rng: np.random.Generator, campuses: list[Campus], n_pods: int,
               free_gpu_weeks: dict[str, float], weeks: int) -> list[Hall]:
    """Halls of identical pods at every campus: ``n_pods`` pods in all.

    ``free_gpu_weeks`` is, per SKU, the GPU-weeks internal work should leave free
    (the lease demand over the tier's demand ratio); pod sizes are scaled to it.
    """
    per_campus = _split(n_pods, rng.uniform(0.7, 1.3, len(campuses)))
    skus = list(SKU_MIX)
    mix = np.array([SKU_MIX[s] for s in skus])
    raw: list[tuple[Campus, str, int, str, float]] = []  # campus, sku, count, role, relative size
    for c, n in zip(campuses, per_campus, strict=True):
        counts = _split(n, mix * rng.lognormal(0, 0.35, len(skus)), minimum=1 if n >= len(skus) else 0)
        hi = max(2, math.ceil(n / 8))
        for sku, k in zip(skus, counts, strict=True):
            left, first = k, True
            while left > 0:
                size = min(left, int(rng.integers(max(1, hi // 4), hi + 1)))
                role = "training" if first else str(rng.choice(list(ROLES), p=[r[0] for r in ROLES.values()]))
                raw.append((c, sku, size, role, ROLES[role][1] * float(rng.lognormal(0, 0.25))))
                left -= size
                first = False
    halls: list[Hall] = []
    letters: dict[tuple[str, str], int] = {}
    for sku in skus:
        mine = [r for r in raw if r[1] == sku]
        weight = sum(cnt * rel * FREE_SHARE[role] for _, _, cnt, role, rel in mine)
        scale = free_gpu_weeks.get(sku, 0.0) / weeks / weight if weight else 0.0
        for c, _, cnt, role, rel in mine:
            gpus = _snap(scale * rel, sku)
            n = letters.get((c.id, sku), 0)
            letters[(c.id, sku)] = n + 1
            letter = _letters(n)
            halls.append(Hall(f"{c.id}-{sku}-{letter}", c.id, sku, gpus, _fabric(sku, role, gpus), cnt,
                              f"{sku} {role} hall {letter}", role))
    order = {c.id: i for i, c in enumerate(campuses)}
    halls.sort(key=lambda h: (order[h.site], h.group))
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
