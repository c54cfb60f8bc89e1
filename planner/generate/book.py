"""Generated books: internal training waves, internal inference, and the lease book.

Internal work comes first, on the built campuses (:func:`reservations`,
:func:`internal_services`): pretraining waves take whole AI zones or whole halls,
post-training and evaluations take whole zones between them, and internal
inference holds part of the serving zones. The surplus a campus can sell is what
that leaves: idle zones and halls between waves, and the slack in the serving
zones.

The lease book is then drawn in three steps. :func:`lease_shapes` draws what
tenants ask for (kind, SKU, size, replicas, term, price); :func:`scale_shapes`
scales it, per SKU, to ``demand_ratio`` times the GPU-weeks internal work leaves
free; :func:`finish_leases` fits each ask to the campuses: span (``pod`` when one
AI zone holds a replica, ``hall`` when one hall does, ``site`` beyond), region,
egress derived from serving throughput, a latency SLO some campus meets, allowed
sites and residency; and a few asks that can never fit.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from planner.generate.campus import SKU_MIX, UNIT, Hall

__all__ = ["EGRESS_CEILING_GBPS_PER_GPU", "LEASE_HEADER", "RESERVATION_HEADER", "Shape", "capped_gpus",
           "finish_leases", "free_gpu_weeks", "inference_egress_gbps", "internal_services", "lease_shapes",
           "reservations", "scale_shapes", "site_capacity"]

LEASE_HEADER = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
                "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency", "start_week", "end_week",
                "price_usd_per_gpu_hour"]
RESERVATION_HEADER = ["pod", "hall", "site", "sku", "start_week", "end_week", "gpus", "note"]
T = TypeVar("T")

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
# GPUs per replica and their weights, by kind and SKU family ("server": H100, B200; "rack": GB200 NVL72).
SIZES: dict[str, dict[str, tuple[tuple[int, ...], tuple[float, ...]]]] = {
    "inference": {"server": ((8, 16, 32, 64), (40, 30, 20, 10)), "rack": ((72, 144), (85, 15))},
    "fine-tune": {"server": ((8, 16, 32, 64, 128, 256, 512), (10, 12, 18, 20, 18, 12, 10)),
                  "rack": ((72, 144, 288, 576), (40, 30, 20, 10))},
    "training": {"server": ((256, 512, 1024, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576),
                            (6, 8, 10, 12, 12, 11, 10, 10, 8, 8, 5)),
                 "rack": ((288, 576, 1152, 2016, 3024, 4032, 6048, 8064, 12096, 16128, 24192),  # 4-336 racks
                          (6, 8, 10, 12, 12, 11, 10, 10, 8, 8, 5))},
}
# Independent replicas of an inference lease (a fleet of small servers behind a load balancer).
REPLICAS = ((1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48), (6, 10, 8, 10, 8, 10, 10, 10, 10, 10, 8))
MAX_REPLICAS = 64
MAX_FINE_TUNE = {"server": 1024, "rack": 1152}
"""GPUs of the largest fine-tuning replica, by SKU family."""
KINDS = (("inference", 0.50), ("training", 0.25), ("fine-tune", 0.25))
INFERENCE_SLOS = (5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50)
BATCH_SLOS = (30, 50, 75, 100)
# Serving throughput: output tokens per second per GPU (an 8-GPU H100 node serves a few thousand tokens/s),
# and bytes on the wire per streamed token (event framing, TLS and HTTP/2; tool calls and logprobs at the top).
TOKENS_PER_GPU_S = {"H100": (250.0, 600.0), "B200": (600.0, 1500.0), "GB200": (1000.0, 2500.0)}
BYTES_PER_TOKEN = (200.0, 1500.0)
BATCH_MBPS_PER_GPU = (0.5, 4.0)
"""Training and fine-tuning send checkpoints and logs to the tenant's storage: Mb/s per GPU."""
EGRESS_CEILING_GBPS_PER_GPU = 0.05
"""No lease sends more than 50 Mb/s per GPU to its users (the top of the ranges above is 30 Mb/s)."""
NEVER_FIT_SHARE = 0.004
"""Share of leases (at least one) whose SLO no campus they may use can meet: asks sales must turn down."""
# Internal training waves and the dips between them, as weeks of a 52-week year.
WAVES = ((1, 14, "pretraining run A"), (20, 34, "pretraining run B"), (40, 52, "pretraining run C"))
DIPS = ((15, 19), (35, 39))


@dataclass
class Shape:
    """One lease as first drawn; :func:`scale_shapes` and :func:`finish_leases` fill in the rest."""

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


@functools.cache
def _cumulative(weights: tuple[float, ...]) -> np.ndarray:
    w = np.cumsum(np.asarray(weights, dtype=float))
    return w / w[-1]


def _pick(rng: np.random.Generator, items: tuple[T, ...], weights: tuple[float, ...]) -> T:
    """One of ``items``, drawn with ``weights``."""
    return items[min(int(np.searchsorted(_cumulative(weights), rng.random(), side="right")), len(items) - 1)]


def _family(sku: str) -> str:
    return "rack" if UNIT[sku] == 72 else "server"


def _units(gpus: float, sku: str) -> int:
    """``gpus`` rounded to whole servers or racks, at least one.

    Examples
    --------
    >>> _units(101, "H100"), _units(100, "GB200"), _units(3, "GB200")
    (104, 72, 72)
    """
    u = UNIT[sku]
    return max(u, round(gpus / u) * u)


def lease_shapes(rng: np.random.Generator, n: int, weeks: int, campuses: int) -> list[Shape]:
    """``n`` lease asks: ~50 % inference, 25 % training, 25 % fine-tune; ~35 % committed, the rest spot.

    Inference is a fleet of small independent replicas (one to eight servers, or one
    or two NVL72 racks, each); a quarter of the fleets that stay small ask for two or
    three replicas on distinct campuses instead. Training asks 256 to 24,576 GPUs in
    one replica; GB200 asks come in whole racks.
    """
    out = []
    kinds, kind_w = tuple(k for k, _ in KINDS), tuple(w for _, w in KINDS)
    skus, sku_w = tuple(SKU_MIX), tuple(SKU_MIX.values())
    terms = {"fine-tune": (2, min(8, weeks)), "inference": (min(8, weeks), weeks),
             "training": (min(4, weeks), min(30, weeks))}
    for _ in range(n):
        tenant = TENANTS[int(rng.integers(len(TENANTS)))]
        kind = str(_pick(rng, kinds, kind_w))
        priority = "committed" if rng.random() < 0.35 else "spot"
        sku = str(_pick(rng, skus, sku_w))
        gpus = int(_pick(rng, *SIZES[kind][_family(sku)]))
        reps, anti = 1, False
        if kind == "inference":
            if campuses >= 2 and rng.random() < 0.2:
                reps, anti = (3 if campuses >= 4 and rng.random() < 0.3 else 2), True
            else:
                reps = int(_pick(rng, *REPLICAS))
        lo, hi = terms[kind]
        length = int(rng.integers(lo, hi + 1))
        start = 1 if rng.random() < 0.15 else int(rng.integers(1, weeks - length + 2))
        (c_lo, c_hi), (s_lo, s_hi) = PRICE[sku]
        price = rng.uniform(c_lo, c_hi) if priority == "committed" else rng.uniform(s_lo, s_hi)
        out.append(Shape(tenant, kind, priority, sku, gpus, reps, anti, start, start + length - 1, round(price, 2)))
    return out


def scale_shapes(shapes: list[Shape], free_gpu_weeks: dict[str, float], ratio: float) -> dict[str, float]:
    """Scale the asks of each SKU (in place) to ``ratio`` times its free GPU-weeks; return the training factors.

    Inference fleets change their number of replicas (their replicas stay small, at
    most :data:`MAX_REPLICAS` of them; fleets with replicas on distinct campuses keep
    theirs), fine-tuning its GPUs (at most :data:`MAX_FINE_TUNE` racks or servers'
    worth); training, in whole servers or racks, takes what is left of the target.
    """
    factors: dict[str, float] = {}
    for sku in SKU_MIX:
        mine = [sh for sh in shapes if sh.sku == sku]
        asked = sum(sh.gpu_weeks for sh in mine)
        if not asked:
            continue
        target = ratio * free_gpu_weeks.get(sku, 0.0)
        f = target / asked
        for sh in mine:
            if sh.kind == "inference" and not sh.anti_affinity:
                sh.replicas = int(np.clip(round(sh.replicas * f), 1, MAX_REPLICAS))
            elif sh.kind == "fine-tune":
                sh.gpus = min(_units(sh.gpus * f, sku), MAX_FINE_TUNE[_family(sku)])
        training = [sh for sh in mine if sh.kind == "training"]
        rest = target - sum(sh.gpu_weeks for sh in mine if sh.kind != "training")
        have = sum(sh.gpu_weeks for sh in training)
        factors[sku] = max(rest, 0.1 * target) / have if have else 1.0
        for sh in training:
            sh.gpus = _units(sh.gpus * factors[sku], sku)
    return factors


def _wk(week: int, weeks: int) -> int:
    return max(1, min(weeks, round(week * weeks / 52)))


@dataclass
class _Ledger:
    """Reservation rows and the GPUs they hold, pods x weeks, as they are written."""

    halls: list[Hall]
    weeks: int

    def __post_init__(self) -> None:
        self.rows: list[list] = []
        self.reserved = np.zeros((sum(h.count for h in self.halls), self.weeks), dtype=np.int64)
        self.first: dict[str, int] = {}
        i = 0
        for h in self.halls:
            self.first[h.hall] = i
            i += h.count

    def pods(self, h: Hall) -> list[int]:
        """Positions of the hall's pods."""
        return list(range(self.first[h.hall], self.first[h.hall] + h.count))

    def idle(self, idx: list[int], s: int, e: int) -> bool:
        """Whether no internal work holds any of these pods in weeks ``s..e``."""
        return bool((self.reserved[idx, s - 1:e] == 0).all())

    def whole_pods(self, h: Hall, idx: list[int], s: int, e: int, note: str) -> None:
        """Rows that hold these pods whole (``gpus`` empty)."""
        for k in idx:
            self.rows.append([h.pod_ids[k - self.first[h.hall]], "", "", "", s, e, "", note])
            self.reserved[k, s - 1:e] = h.gpus

    def whole_hall(self, h: Hall, s: int, e: int, note: str) -> None:
        """A row that holds every pod of the hall whole."""
        self.rows.append(["", h.hall, "", "", s, e, "", note])
        self.reserved[self.pods(h), s - 1:e] = h.gpus

    def part_of_pod(self, h: Hall, j: int, gpus: int, s: int, e: int, note: str) -> None:
        """A row that holds ``gpus`` of the hall's ``j``-th pod."""
        self.rows.append([h.pod_ids[j], "", "", "", s, e, gpus, note])
        self.reserved[self.first[h.hall] + j, s - 1:e] += gpus


def _waves(rng: np.random.Generator, book: _Ledger, training: list[Hall], shift: int) -> None:
    """Pretraining waves: the whole hall after a ramp-up on half its zones, or most of its zones."""
    weeks = book.weeks
    for ws, we, note in WAVES:
        s = _wk(ws + shift, weeks) + int(rng.integers(0, 3))
        e = _wk(we + shift, weeks) - int(rng.integers(0, 3))
        if s + 2 > e:
            continue
        for h in training:
            idx = book.pods(h)
            if rng.random() < 0.1 or not book.idle(idx, s, e):
                continue  # this hall sits the wave out
            if rng.random() < 0.75:
                book.whole_pods(h, idx[: max(1, h.count // 2)], s, s + 1, f"{note} (ramp-up)")
                book.whole_hall(h, s + 2, e, note)
            else:
                k = int(rng.integers(math.ceil(h.count / 2), h.count + 1))
                book.whole_pods(h, sorted(int(x) for x in rng.choice(idx, size=k, replace=False)), s, e, note)


def _between_waves(rng: np.random.Generator, book: _Ledger, training: list[Hall], shift: int) -> None:
    """Post-training and RL on a few whole zones in the dips; evaluations and ablations on a zone now and then."""
    weeks = book.weeks
    for ds, de in DIPS:
        s, e = _wk(ds + shift, weeks), _wk(de + shift, weeks)
        for h in training:
            if rng.random() < 0.5 or s > e:
                continue
            idx = [k for k in book.pods(h) if book.idle([k], s, e)]
            if idx:
                k = int(rng.integers(1, max(1, len(idx) // 2) + 1))
                book.whole_pods(h, sorted(int(x) for x in rng.choice(idx, size=k, replace=False)), s, e,
                                "post-training and RL")
    for h in training:
        for _ in range(int(rng.integers(0, 3))):
            k = book.first[h.hall] + int(rng.integers(h.count))
            s = int(rng.integers(1, weeks + 1))
            e = min(weeks, s + int(rng.integers(0, 4)))
            if book.idle([k], s, e):
                book.whole_pods(h, [k], s, e, "evaluations and ablations")


def reservations(rng: np.random.Generator, halls: list[Hall], weeks: int) -> tuple[list[list], np.ndarray]:
    """Internal use of every pod: reservation rows, and the reserved GPUs as a pods x weeks array.

    Training halls run three pretraining waves a year, shifted by a few weeks per
    campus: a wave takes the whole hall (after a two-week ramp-up on half its zones)
    or, in some halls, most of its zones, always whole; post-training and RL take a
    few whole zones in the dips between waves, and evaluations and ablations a zone
    now and then. Serving halls hold internal inference: part of some zones, all
    year. No pod is ever over-reserved.
    """
    book = _Ledger(halls, weeks)
    for site in dict.fromkeys(h.site for h in halls):
        shift = int(rng.integers(-2, 3))
        training = [h for h in halls if h.site == site and h.role == "training"]
        _waves(rng, book, training, shift)
        _between_waves(rng, book, training, shift)
    for h in halls:
        if h.role != "serving":
            continue
        for j in range(h.count):
            if rng.random() < 0.5:
                g = UNIT[h.sku] * int(h.gpus * rng.uniform(0.1, 0.35) // UNIT[h.sku])
                if g > 0:
                    book.part_of_pod(h, j, g, 1, weeks, "internal inference (ranking, assistant)")
    return book.rows, book.reserved


def inference_egress_gbps(rng: np.random.Generator, sku: str, gpus: int) -> float:
    """Traffic to users of one inference replica, Gbps: tokens/s x bytes per token on the wire.

    An 8-GPU H100 server streaming 2,000-5,000 tokens/s at 200-1,500 bytes a token
    sends 3-60 Mb/s: a few Mb/s per GPU, not Gb/s.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> e = [inference_egress_gbps(rng, "H100", 8) for _ in range(100)]
    >>> 0.003 <= min(e) and max(e) <= 0.06
    True
    """
    lo, hi = TOKENS_PER_GPU_S[sku]
    bits = gpus * rng.uniform(lo, hi) * rng.uniform(*BYTES_PER_TOKEN) * 8
    return max(0.001, round(bits / 1e9, 3))


def _batch_egress_gbps(rng: np.random.Generator, gpus: int) -> float:
    return max(0.001, round(gpus * rng.uniform(*BATCH_MBPS_PER_GPU) / 1000, 3))


def internal_services(rng: np.random.Generator, n: int, halls: list[Hall], reserved: np.ndarray,
                      latency: dict[str, dict[str, float]], pops: list[str]) -> tuple[list[list], np.ndarray]:
    """``n`` internal inference services that fit: lease-book rows, and their GPUs as a pods x weeks array.

    Each one is sized to a share of the GPUs a serving zone has free over its whole
    term, with a second replica on another campus for some, and a latency SLO its
    campuses meet with room to spare.
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
            unit = max(64, UNIT[h.sku])
            gpus = int(free * rng.uniform(0.15, 0.4)) // unit * unit
            if gpus >= unit:
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
        egress = inference_egress_gbps(rng, h0.sku, gpus)
        rows.append([f"INT-{names[k]}", "Internal", "inference", "internal", h0.sku, gpus, "pod", len(chosen),
                     str(len(chosen) > 1).lower(), egress, region, slo, "", "US", start, weeks, 0])
    return rows, used_gpus


def free_gpu_weeks(halls: list[Hall], held: np.ndarray) -> dict[str, float]:
    """Per SKU, the GPU-weeks internal work (``held``: pods x weeks) leaves free."""
    gpus = np.array([h.gpus for h in halls for _ in range(h.count)])
    skus = np.array([h.sku for h in halls for _ in range(h.count)])
    free = (gpus[:, None] - held).sum(axis=1)
    return {sku: float(free[skus == sku].sum()) for sku in SKU_MIX if (skus == sku).any()}


def site_capacity(halls: list[Hall]) -> dict[str, int]:
    """GPUs of each SKU at the campus with the most of them."""
    totals: dict[tuple[str, str], int] = {}
    for h in halls:
        totals[(h.site, h.sku)] = totals.get((h.site, h.sku), 0) + h.gpus * h.count
    out: dict[str, int] = {}
    for (_, sku), v in totals.items():
        out[sku] = max(out.get(sku, 0), v)
    return out


def capped_gpus(gpus: int, site_max: int, unit: int = 8) -> int:
    """A lease's GPUs, at most 60 % of the largest campus's GPUs of its SKU, in whole ``unit`` s.

    Examples
    --------
    >>> capped_gpus(16384, 20000), capped_gpus(512, 20000), capped_gpus(24192, 30000, 72)
    (12000, 512, 18000)
    """
    cap = max(unit, int(0.6 * site_max) // unit * unit)
    return min(gpus, cap)


def _reach_slo(rng: np.random.Generator, need: float, kind: str) -> int | str:
    """An SLO met from the campus ``need`` ms away, with room (inference), or a loose one or none (batch)."""
    if kind != "inference":
        loose = [v for v in BATCH_SLOS if v >= 1.2 * need]
        return int(rng.choice(loose)) if loose and rng.random() < 0.5 else ""
    target = need * rng.uniform(1.1, 2.5) + 0.5
    return next((v for v in INFERENCE_SLOS if v >= target), math.ceil(target))


class _Room:
    """What one replica can have at each campus through a term, after internal work: one zone, one hall, the site.

    ``held`` is pods x weeks (internal reservations and internal services).
    """

    def __init__(self, halls: list[Hall], held: np.ndarray, sites: list[str]) -> None:
        self.sites = sites
        pos = {s: k for k, s in enumerate(sites)}
        gpus = np.array([h.gpus for h in halls for _ in range(h.count)])
        self.free = gpus[:, None] - held
        self.by_sku: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        for sku in SKU_MIX:
            mine = [h for h in halls if h.sku == sku]
            if not mine:
                continue
            rows = np.array([k for k, h in enumerate(h for h in halls for _ in range(h.count)) if h.sku == sku])
            pod_site = np.array([pos[h.site] for h in mine for _ in range(h.count)])
            pod_hall = np.array([j for j, h in enumerate(mine) for _ in range(h.count)])
            hall_site = np.array([pos[h.site] for h in mine])
            self.by_sku[sku] = (rows, pod_site, pod_hall, hall_site)

    def __call__(self, sku: str, start: int, end: int) -> dict[str, np.ndarray]:
        """Per span (``pod``, ``hall``, ``site``), the GPUs one replica can have at each campus in weeks start..end."""
        n = len(self.sites)
        if sku not in self.by_sku:
            return {k: np.zeros(n, dtype=np.int64) for k in ("pod", "hall", "site")}
        rows, pod_site, pod_hall, hall_site = self.by_sku[sku]
        floors = np.clip(self.free[rows, start - 1:end].min(axis=1), 0, None)
        pod = np.zeros(n, dtype=np.int64)
        np.maximum.at(pod, pod_site, floors)
        hall = np.zeros(n, dtype=np.int64)
        np.maximum.at(hall, hall_site, np.bincount(pod_hall, weights=floors).astype(np.int64))
        site = np.bincount(pod_site, weights=floors, minlength=n).astype(np.int64)
        return {"pod": pod, "hall": hall, "site": site}


def _span(rng: np.random.Generator, kind: str, gpus: int, room: dict[str, np.ndarray]) -> str:
    """The smallest domain that can hold the replica somewhere (training sometimes tolerates a larger one)."""
    if gpus <= room["pod"].max():
        return "hall" if kind == "training" and rng.random() < 0.25 else "pod"
    if gpus <= room["hall"].max():
        return "site" if rng.random() < 0.15 else "hall"
    return "site"


def finish_leases(rng: np.random.Generator, shapes: list[Shape], halls: list[Hall], held: np.ndarray,
                  sites: dict[str, list[str]], latency: dict[str, dict[str, float]],
                  pops: list[str]) -> tuple[list[list], list[str]]:
    """Lease-book rows for ``shapes`` on the built campuses, and the ids of the leases that can never fit.

    ``held`` is the GPUs internal work holds, pods x weeks; ``sites`` maps each campus
    to its residency tags. Leases are cut to at most 60 % of the largest campus's
    GPUs of their SKU, and to what internal work leaves of a campus through their
    term. A replica one AI zone can hold then spans a pod (a quarter of such
    training leases tolerate a hall); one a hall can hold spans a hall (15 % of them
    a site); larger ones span a site. Allowed sites, residency and replicas on
    distinct campuses name only campuses with room through the term, and every SLO
    is met from one of them, except for :data:`NEVER_FIT_SHARE` of the inference
    leases, whose SLO is below the fibre latency from all of them.
    """
    ids = list(sites)
    room_of = _Room(halls, held, ids)
    with_sku = {sku: [s for s in ids if any(h.site == s and h.sku == sku for h in halls)] for sku in SKU_MIX}
    max_site = site_capacity(halls)
    home = {t: pops[int(rng.integers(len(pops)))] for t in TENANTS}
    width = max(4, len(str(len(shapes))))
    rows: list[list] = []
    reach_of: list[list[float]] = []
    for i, sh in enumerate(shapes, start=1):
        unit = UNIT[sh.sku]
        room = room_of(sh.sku, sh.start, sh.end)
        gpus = min(capped_gpus(sh.gpus, max_site.get(sh.sku, 0), unit),
                   max(unit, int(room["site"].max()) // unit * unit))
        span = _span(rng, sh.kind, gpus, room)
        here = [s for k, s in enumerate(ids) if room[span][k] >= gpus]
        region = home[sh.tenant] if rng.random() < 0.7 else pops[int(rng.integers(len(pops)))]
        reps, anti = sh.replicas, sh.anti_affinity
        allowed: list[str] = []
        if not anti and rng.random() < 0.06 and len(here) > 1:
            allowed = sorted(str(s) for s in rng.choice(here, size=int(rng.integers(1, 3)), replace=False))
        residency = "US" if rng.random() < 0.7 else ""
        if rng.random() < 0.04:
            tags = sorted({t for s in (allowed or here) for t in sites[s] if t != "US"})
            tag = str(rng.choice(tags)) if tags else ""
            if sum(tag in sites[s] for s in (allowed or here)) >= reps:
                residency = tag
        ok = [s for s in (allowed or here) if not residency or residency in sites[s]]
        if anti and len(ok) < reps:
            reps = max(1, len(ok))
            anti = reps > 1
        reach = sorted(latency[s][region] for s in ok)
        need = reach[min(reps, len(reach)) - 1 if anti else 0] if reach else 0.0
        may = [s for s in (allowed or with_sku[sh.sku]) if not residency or residency in sites[s]]
        egress = (inference_egress_gbps(rng, sh.sku, gpus) if sh.kind == "inference"
                  else _batch_egress_gbps(rng, gpus))
        slo = _reach_slo(rng, need, sh.kind)
        reach_of.append(sorted(latency[s][region] for s in may))
        rows.append([f"L-{i:0{width}d}", sh.tenant, sh.kind, sh.priority, sh.sku, gpus, span, reps,
                     str(anti).lower(), egress, region, slo, ";".join(allowed), residency, sh.start,
                     sh.end, f"{sh.price:.2f}"])
    # A few asks no campus can serve: an SLO below the fibre latency from every campus with its SKU it may use.
    far = [k for k, r in enumerate(rows) if r[2] == "inference" and reach_of[k] and reach_of[k][0] >= 4.0]
    n_never = min(len(far), max(1, round(NEVER_FIT_SHARE * len(rows))))
    never = sorted(int(k) for k in rng.choice(far, size=n_never, replace=False)) if far else []
    for k in never:
        rows[k][11] = max(1, math.floor(reach_of[k][0] * 0.6))
    return rows, [str(rows[k][0]) for k in never]
