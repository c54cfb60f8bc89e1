"""Generate the reference scenario's internal reservations and lease book.

Writes, deterministically for a seed (numpy ``default_rng``):

- ``sites/reference_reservations.csv``: internal work. Training comes in waves that
  take whole halls (rows naming a ``hall``: every AI zone of it), with post-training
  on a few whole pods (rows naming a ``pod`` with ``gpus`` empty) in some of the gaps
  between waves; internal inference holds part of every pod of the serving halls
  all year (rows naming a ``pod`` and its ``gpus``). The surplus a campus can sell is
  the idle halls and pods between waves and the slack of the serving halls.
  Richland Parish's halls run internal work only once energised (its power ramps
  through 2028, see ``sites/reference.yaml``).
  Two pretraining waves (``UPSIDE``) may start a few weeks early, with a chance: the
  internal demand upside that committed leases plan around and spot leases risk.
- ``leases/reference.csv``: internal inference services (must be placed), then
  committed and spot leases from made-up tenants: training that spans halls
  (span=hall, whole AI zones) or sites, many small inference replicas, fine-tunes,
  and a few requests that can never fit (``IMPOSSIBLE``; ``planner validate`` names
  each with its reason). The leases of ``WINDOWS`` may start a few weeks late
  (``latest_start``): the optimiser chooses their start.

Figures (GPUs per zone, egress per GPU, prices) are sourced in ``sites/README.md``.
Pods and halls are read from ``sites/reference_pods.yaml`` and PoP ids from
``topologies/reference.yaml``. Run from anywhere::

    python leases/make_reference.py [--seed 2028] [--leases 400]
"""

from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
WEEKS = 52
ENERGISED = {  # first week a Richland Parish hall runs (sites/README.md S7); Ohio's all run from week 1
    "LA-H01": 1, "LA-H02": 1, "LA-H03": 1, "LA-H04": 1, "LA-H05": 1, "LA-H06": 14, "LA-H07": 14,
    "LA-H08": 27, "LA-H09": 27, "LA-H10": 40, "LA-H11": 40, "LA-H12": 40,
}
UNIT = {"H100": 8, "B200": 8, "GB200": 72}  # GPUs per server (HGX) or per NVL72 rack: the unit sold
EGRESS_MBPS_PER_GPU = {"H100": 1.0, "B200": 2.5, "GB200": 4.0}  # inference serving, sites/README.md L3
TENANTS = [
    "Aurora Labs", "Borealis AI", "Cobalt Robotics", "Driftwood Health", "Ember Analytics",
    "Fathom Bio", "Granite Finance", "Halcyon Media", "Ionic Search", "Juniper Legal AI",
    "Kestrel Autonomy", "Lumen Games", "Meridian Retail", "Nimbus Voice", "Orchard Ads",
    "Pinnacle Pharma", "Quasar Research", "Redwood Code", "Sable Security", "Tidewater Energy",
]
PRICE = {  # USD per GPU-hour, (committed range, spot range): sites/README.md L5-L7 (H2 2025 market)
    "H100": ((1.90, 2.50), (1.40, 2.00)),
    "B200": ((3.00, 4.00), (2.40, 3.40)),
    "GB200": ((3.80, 4.80), (3.00, 4.00)),
}
TRAINING = {  # (GPUs per replica, span, weight): whole AI zones and halls for the big ones (sites/README.md L1)
    "H100": [(256, "pod", 6), (512, "pod", 10), (1024, "pod", 12), (2048, "pod", 10), (3072, "pod", 8),
             (6144, "hall", 6), (12288, "hall", 5), (24576, "hall", 4)],
    "B200": [(512, "pod", 8), (1024, "pod", 10), (2048, "pod", 10), (4096, "pod", 8),
             (8192, "hall", 7), (16384, "hall", 5), (32768, "hall", 4), (65536, "site", 2)],
    "GB200": [(576, "pod", 8), (1152, "pod", 10), (2304, "pod", 10), (4032, "pod", 8),
              (8064, "hall", 7), (16128, "hall", 5), (32256, "hall", 4), (64512, "site", 2)],
}
INFERENCE = {  # GPUs per replica and weights: one to a few servers (or one or two NVL72 racks)
    "H100": ([8, 16, 32, 64], [30, 35, 25, 10]),
    "B200": ([8, 16, 32, 64], [30, 35, 25, 10]),
    "GB200": ([72, 144], [75, 25]),
}
FINE_TUNE = {"H100": [8, 16, 32, 64, 128, 256], "B200": [8, 16, 32, 64, 128, 256], "GB200": [72, 144, 288, 576]}
TERM = {"fine-tune": (2, 8), "inference": (8, 52), "training": (6, 26)}
UPSIDE = {  # (hall, wave): (may start this many weeks early, chance); sites/README.md L10
    ("OH-H08", 2): (3, 0.3),
    ("LA-H04", 2): (4, 0.25),
}
RESERVATION_HEADER = ["pod", "hall", "site", "sku", "start_week", "end_week", "gpus", "note",
                      "may_start_early_weeks", "may_grow_gpus", "upside_probability"]
HEADER = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
          "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency",
          "start_week", "end_week", "price_usd_per_gpu_hour"]
INTERNAL = [  # (id, sku, gpus, replicas, anti_affinity, region, slo ms, start, end)
    ("INT-assistant", "B200", 1024, 2, True, "ASH", 15, 1, 52),
    ("INT-ads-ranking", "H100", 1024, 1, False, "CHI", 10, 1, 52),
    ("INT-code-assist", "GB200", 1152, 1, False, "DFW", 8, 10, 52),
    ("INT-search", "B200", 512, 1, False, "ATL", 10, 1, 52),
    ("INT-media-gen", "GB200", 576, 1, False, "NYC", 20, 20, 52),
]
WINDOWS = {"L-0012": 4, "L-0014": 4, "L-0040": 4, "L-0052": 3, "L-0084": 4}
"""Leases that may start up to this many weeks after their ``start_week`` ("12 weeks, any time in March"),
given after the book is drawn (no draw of the rest changes); sites/README.md names them."""
Request = tuple[str, str, str, str, int, str, int, bool, str, int | str, str, str, int, int]
"""tenant, kind, priority, sku, gpus, span, replicas, anti_affinity, region, slo, allowed_sites, residency, weeks"""
IMPOSSIBLE: list[Request] = [  # requests that can never fit, each for its own reason (planner validate names it)
    # latency: 3 ms to New York is below the fibre latency from either campus
    ("Ionic Search", "inference", "committed", "B200", 64, "pod", 4, False, "NYC", 3, "", "US", 1, 52),
    # residency: EU-resident data, and both campuses are in the US
    ("Granite Finance", "training", "committed", "B200", 8192, "hall", 1, False, "", "", "", "EU", 10, 22),
    # residency: H100 pinned to Richland Parish, which has no H100
    ("Driftwood Health", "fine-tune", "spot", "H100", 64, "pod", 1, False, "", "", "LA-RCH", "US", 5, 8),
    # anti-affinity: two H100 replicas on distinct campuses, and only New Albany has H100
    ("Nimbus Voice", "inference", "committed", "H100", 32, "pod", 2, True, "CHI", 20, "", "US", 1, 52),
    # size: more GB200 than either campus has (5,376 NVL72 racks)
    ("Quasar Research", "training", "committed", "GB200", 387072, "site", 1, False, "", "", "", "US", 30, 42),
    # size: one whole GB200 zone all year, but every zone has internal work some week
    ("Kestrel Autonomy", "training", "committed", "GB200", 4032, "pod", 1, False, "", "", "", "US", 1, 52),
]


@dataclass(frozen=True)
class Hall:
    """One hall of the pods file: its site, SKU, role and pods (id, GPUs)."""

    id: str
    site: str
    sku: str
    role: str
    pods: tuple[tuple[str, int], ...]


def read_halls(path: Path) -> list[Hall]:
    """The halls of the pods file with their pods (``count`` expanded), in file order."""
    doc = yaml.safe_load(path.read_text())
    pods: dict[str, list[tuple[str, int]]] = {h["id"]: [] for h in doc["halls"]}
    sku: dict[str, str] = {}
    for g in doc["pods"]:
        n = int(g.get("count", 1))
        pods[g["hall"]] += [(f"{g['id']}-{i:02d}" if n > 1 else g["id"], int(g["gpus"])) for i in range(1, n + 1)]
        sku[g["hall"]] = g["sku"]
    return [Hall(h["id"], h["site"], sku[h["id"]], h["name"], tuple(pods[h["id"]])) for h in doc["halls"]]


def training_rows(rng: np.random.Generator, hall: Hall) -> list[list[object]]:
    """Waves of pretraining that take the whole hall, post-training on whole pods in some gaps.

    Two or three waves of 6-14 weeks a year, 3-10 weeks apart (the next run waits for
    its data and model design): the hall is idle, and for sale, in between.
    """
    rows: list[list[object]] = []
    week = ENERGISED.get(hall.id, 1) + int(rng.integers(0, 8))
    run = 0
    while week <= WEEKS - 5:
        end = min(WEEKS, week + int(rng.integers(6, 15)) - 1)
        run += 1
        rows.append(["", hall.id, "", "", week, end, "", f"pretraining wave {run} ({hall.sku}, whole hall)"])
        if end + 2 <= WEEKS and rng.random() < 0.5:  # post-training on a few zones right after the wave
            zones = rng.choice(len(hall.pods), size=int(rng.integers(2, 5)), replace=False)
            stop = min(WEEKS, end + 1 + int(rng.integers(1, 3)))
            rows += [[hall.pods[z][0], "", "", "", end + 1, stop, "", "post-training and RL (whole zone)"]
                     for z in sorted(zones.tolist())]
        week = end + 1 + int(rng.integers(3, 11))
    return rows


def serving_rows(rng: np.random.Generator, hall: Hall) -> list[list[object]]:
    """Internal inference on part of every pod of a serving hall, all year, plus occasional eval sweeps."""
    unit = UNIT[hall.sku]
    start = ENERGISED.get(hall.id, 1)
    rows: list[list[object]] = []
    for pid, gpus in hall.pods:
        held = int(gpus * rng.uniform(0.45, 0.70)) // unit * unit
        rows.append([pid, "", "", "", start, WEEKS, held, "internal inference serving"])
        if rng.random() < 0.4:
            s = int(rng.integers(start, WEEKS - 4))
            extra = int(gpus * rng.uniform(0.05, 0.15)) // unit * unit
            rows.append([pid, "", "", "", s, s + int(rng.integers(2, 5)), extra, "evaluation sweep"])
    return rows


def reservations(rng: np.random.Generator, halls: list[Hall]) -> list[list[object]]:
    """Internal work per hall, in the pods file's order."""
    rows: list[list[object]] = []
    for h in halls:
        rows += training_rows(rng, h) if "training" in h.role else serving_rows(rng, h)
    return rows


def with_upside(rows: list[list[object]]) -> list[list[object]]:
    """The reservation rows with the upside columns: filled for the waves of :data:`UPSIDE`, empty elsewhere."""
    out = []
    for r in rows:
        note = str(r[7])
        wave = int(note.split()[2]) if note.startswith("pretraining wave") else 0
        early, chance = UPSIDE.get((str(r[1]), wave), ("", ""))
        out.append([*r, early, "", chance])
    return out


def egress_gbps(sku: str, gpus: int, rng: np.random.Generator) -> float:
    """Inference egress of one replica: its GPUs x the SKU's serving rate, times 0.5-2 for the model mix."""
    return round(gpus * EGRESS_MBPS_PER_GPU[sku] * float(rng.uniform(0.5, 2.0)) / 1000, 3)


def lease_row(rng: np.random.Generator, i: int, tenant: str, region_of: dict[str, str],
              pops: list[str]) -> list[object]:
    """One generated lease."""
    kind = str(rng.choice(["inference", "training", "fine-tune"], p=[0.45, 0.40, 0.15]))
    priority = "committed" if rng.random() < 0.35 else "spot"
    sku = str(rng.choice(["H100", "B200", "GB200"], p=[0.25, 0.40, 0.35]))
    span, reps, anti = "pod", 1, False
    region = region_of[tenant] if rng.random() < 0.7 else pops[int(rng.integers(len(pops)))]
    if kind == "training":
        opts = TRAINING[sku]
        k = int(rng.choice(len(opts), p=np.array([w for *_, w in opts]) / sum(w for *_, w in opts)))
        gpus, span = opts[k][0], opts[k][1]
        egress: float = float(rng.integers(1, 21))
        slo: int | str = int(rng.choice([30, 50, 75, 100])) if rng.random() < 0.5 else ""
    elif kind == "inference":
        sizes, w = INFERENCE[sku]
        gpus = int(rng.choice(sizes, p=np.array(w) / sum(w)))
        if sku != "H100" and rng.random() < 0.25:
            reps, anti = 2, True  # one replica per campus
        else:
            reps = int(rng.choice([2, 4, 8, 16, 32], p=[0.25, 0.3, 0.25, 0.15, 0.05]))
        egress = egress_gbps(sku, gpus, rng)
        slo = int(rng.choice([12, 15, 20, 25] if anti else [6, 8, 10, 12, 15, 20, 25]))
    else:
        gpus = int(rng.choice(FINE_TUNE[sku]))
        egress = float(rng.integers(1, 6))
        slo = ""
    allowed = ""
    if not anti and sku != "H100" and rng.random() < 0.08:
        allowed = str(rng.choice(["OH-NAL", "LA-RCH"]))
    residency = "US" if rng.random() < 0.7 else ""
    lo, hi = TERM[kind]
    length = int(rng.integers(lo, hi + 1))
    start = 1 if rng.random() < 0.15 else int(rng.integers(1, WEEKS - length + 2))  # ~15 % running already
    (c_lo, c_hi), (s_lo, s_hi) = PRICE[sku]
    price = rng.uniform(c_lo, c_hi) if priority == "committed" else rng.uniform(s_lo, s_hi)
    return [f"L-{i:04d}", tenant, kind, priority, sku, gpus, span, reps, str(anti).lower(), f"{egress:g}",
            region, slo, allowed, residency, start, start + length - 1, f"{price:.2f}"]


def leases(rng: np.random.Generator, n: int, pops: list[str], region_of: dict[str, str]) -> list[list[object]]:
    """The lease book: internal services, generated leases, then the requests that can never fit."""
    rows: list[list[object]] = []
    for lid, sku, gpus, reps, anti, region, slo, start, end in INTERNAL:
        egress = round(gpus * EGRESS_MBPS_PER_GPU[sku] / 1000, 3)
        rows.append([lid, "Internal", "inference", "internal", sku, gpus, "pod", reps, str(anti).lower(),
                     f"{egress:g}", region, slo, "", "US", start, end, 0])
    generated = n - len(INTERNAL) - len(IMPOSSIBLE)
    for i in range(1, generated + 1):
        rows.append(lease_row(rng, i, TENANTS[int(rng.integers(len(TENANTS)))], region_of, pops))
    for j, (tenant, kind, prio, sku, gpus, span, reps, anti, region, r_slo, allowed, res, s, e) in enumerate(
            IMPOSSIBLE):
        egress = egress_gbps(sku, gpus, rng) if kind == "inference" else 0
        (c_lo, c_hi), (s_lo, s_hi) = PRICE[sku]
        price = rng.uniform(c_lo, c_hi) if prio == "committed" else rng.uniform(s_lo, s_hi)
        rows.append([f"L-{generated + j + 1:04d}", tenant, kind, prio, sku, gpus, span, reps, str(anti).lower(),
                     f"{egress:g}", region, r_slo, allowed, res, s, e, f"{price:.2f}"])
    return rows


def never_fit(scenario: Path) -> set[str]:
    """Generated leases that could not be placed even on a campus holding nothing but internal work.

    Uses the planner's own facts (:func:`planner.feasibility.never_fits`) for latency,
    residency, size and anti-affinity; a span=hall replica's size is checked here, against
    the free GPUs of each hall's pods through its term.
    """
    from planner import load_scenario
    from planner.feasibility import never_fits
    from planner.optimise.instance import build_instance

    sc = load_scenario(scenario)
    inst = build_instance(sc)
    free = sc.free_gpus().to_numpy()
    hall_of = sc.pods["hall"].to_numpy()
    bad = set()
    for lo in inst.leases:
        facts = never_fits(inst, lo)
        if lo.span == "hall":
            facts = [f for f in facts if f.family not in ("size", "anti_affinity")]
            rooms = sorted((int(free[np.flatnonzero(hall_of == h), lo.t0:lo.t1 + 1].min(axis=1).sum())
                            for s in lo.placement_sites for h in set(hall_of[lo.pods[s]])), reverse=True)
            need = 2 if lo.anti_affinity else 1
            if len(rooms) < need or rooms[need - 1] < lo.gpus:
                bad.add(lo.lease)
        if facts:
            bad.add(lo.lease)
    return bad


def write(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """Write one CSV with a header row."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main() -> None:
    """Parse arguments and write both CSV files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2028)
    ap.add_argument("--leases", type=int, default=400, help="rows in the lease book")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    halls = read_halls(ROOT / "sites" / "reference_pods.yaml")
    pops = [p["id"] for p in yaml.safe_load((ROOT / "topologies" / "reference.yaml").read_text())["pops"]]
    res = reservations(rng, halls)
    write(ROOT / "sites" / "reference_reservations.csv", RESERVATION_HEADER, with_upside(res))
    region_of = {t: pops[int(rng.integers(len(pops)))] for t in TENANTS}  # each tenant's home PoP
    book = leases(rng, args.leases, pops, region_of)
    lease_csv = ROOT / "leases" / "reference.csv"
    write(lease_csv, HEADER, book)
    # Real customers ask for impossible things, but only the IMPOSSIBLE rows do so on purpose:
    # draw every other lease again until it could fit on its own.
    generated = {str(r[0]): i for i, r in enumerate(book) if r[1] != "Internal"}
    for _ in range(50):
        bad = sorted(never_fit(ROOT / "scenarios" / "reference.yaml") & set(list(generated)[:-len(IMPOSSIBLE)]))
        if not bad:
            break
        for lid in bad:
            i = generated[lid]
            book[i] = lease_row(rng, int(lid[2:]), str(book[i][1]), region_of, pops)
        write(lease_csv, HEADER, book)
    write(lease_csv, [*HEADER, "latest_start"],
          [[*r, int(r[14]) + WINDOWS[str(r[0])] if str(r[0]) in WINDOWS else ""] for r in book])
    print(f"{len(res)} reservation rows, {len(book)} leases")


if __name__ == "__main__":
    main()
