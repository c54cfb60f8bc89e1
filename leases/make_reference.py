"""Generate the reference scenario's internal reservations and lease book.

Writes, deterministically for a seed (numpy ``default_rng``):

- ``sites/reference_reservations.csv``: internal training per pod and week range,
  in waves (big pretraining runs in weeks ~1-14, ~20-34, ~40-52, post-training in
  the dips), so the surplus GPUs change week by week. Rows of one pod never add
  up to more than the pod's GPUs in any week.
- ``leases/reference.csv``: a few internal inference services (must be placed),
  then committed and spot leases from made-up tenants.

Pods are read from ``sites/reference_pods.yaml`` and PoP ids from
``topologies/reference.yaml``. Run from anywhere::

    python leases/make_reference.py [--seed 2026] [--leases 400]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
WEEKS = 52
WAVES = [(1, 14, "pretraining run A"), (20, 34, "pretraining run B"), (40, 52, "pretraining run C")]
DIPS = [(15, 19), (35, 39)]
SERVING = {"OH-H100-C", "OH-H100-D", "OH-B200-B", "LA-GB200-B", "LA-B200-C", "LA-H100-B"}
TENANTS = [
    "Aurora Labs", "Borealis AI", "Cobalt Robotics", "Driftwood Health", "Ember Analytics",
    "Fathom Bio", "Granite Finance", "Halcyon Media", "Ionic Search", "Juniper Legal AI",
    "Kestrel Autonomy", "Lumen Games", "Meridian Retail", "Nimbus Voice", "Orchard Ads",
    "Pinnacle Pharma", "Quasar Research", "Redwood Code", "Sable Security", "Tidewater Energy",
]
PRICE = {  # USD per GPU-hour, (committed range, spot range), 2026-27 market
    "H100": ((2.2, 3.0), (1.8, 2.4)),
    "B200": ((3.8, 5.0), (3.0, 4.0)),
    "GB200": ((5.0, 6.5), (4.0, 5.2)),
}
SIZES = {  # GPUs per replica and their weights, by kind
    "fine-tune": ([8, 16, 32, 64, 128, 256, 512], [10, 10, 15, 20, 20, 15, 10]),
    "inference": ([8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096],
                  [4, 5, 8, 15, 17, 17, 14, 10, 6, 4]),
    "training": ([256, 512, 1024, 2048, 4096, 8192, 16384],
                 [4, 6, 10, 14, 18, 20, 18]),
}
TERM = {"fine-tune": (2, 8), "inference": (8, 52), "training": (4, 30)}
HEADER = ["id", "tenant", "kind", "priority", "sku", "gpus", "span", "replicas", "anti_affinity",
          "egress_gbps", "region", "latency_slo_ms", "allowed_sites", "residency",
          "start_week", "end_week", "price_usd_per_gpu_hour"]
INTERNAL = [  # (id, sku, gpus, replicas, anti_affinity, egress, region, slo, start, end)
    ("INT-assistant", "H100", 1024, 2, True, 400, "ASH", 15, 1, 52),
    ("INT-ads-ranking", "B200", 2048, 1, False, 300, "CHI", 10, 1, 52),
    ("INT-code-assist", "GB200", 1152, 1, False, 200, "DFW", 8, 10, 52),
    ("INT-search", "H100", 512, 1, False, 150, "ATL", 10, 1, 52),
    ("INT-media-gen", "B200", 1024, 1, False, 250, "NYC", 12, 20, 52),
]


def expand_pods(path: Path) -> list[tuple[str, str, str, str, int]]:
    """(pod id, group id, site, sku, gpus) for every pod, ``count`` expanded."""
    out = []
    for g in yaml.safe_load(path.read_text())["pods"]:
        n = int(g.get("count", 1))
        for i in range(1, n + 1):
            pid = f"{g['id']}-{i:02d}" if n > 1 else g["id"]
            out.append((pid, g["id"], g["site"], g["sku"], int(g["gpus"])))
    return out


def pod_blocks(rng: np.random.Generator, group: str, site: str) -> list[tuple[int, int, float, str]]:
    """(start, end, fraction of the pod, note) blocks of internal use for one pod."""
    out: list[tuple[int, int, float, str]] = []
    if group in SERVING:  # serving halls: internal inference all year, plus occasional short jobs
        out.append((1, WEEKS, rng.uniform(0.55, 0.8), "internal inference serving"))
        for _ in range(int(rng.integers(0, 3))):
            s = int(rng.integers(1, WEEKS - 4))
            out.append((s, min(WEEKS, s + int(rng.integers(2, 7))), rng.uniform(0.05, 0.15), "evaluation sweep"))
        return out
    base = rng.uniform(0.04, 0.12)
    out.append((1, WEEKS, base, "evals, ablations and data jobs"))
    for ws, we, note in WAVES:
        if rng.random() > 0.97:
            continue
        s, e = ws + int(rng.integers(0, 3)), we - int(rng.integers(0, 3))
        # Richland is power-capped until the new gas unit (week 27): lighter waves.
        lo, hi = (0.70, 0.88) if site == "LA-RCH" and ws < 27 else (0.80, 0.97)
        frac = rng.uniform(lo - base, hi - base)
        out += [(s, s + 1, frac / 2, f"{note} (ramp-up)"), (s + 2, e, frac, note)]
    for ds, de in DIPS:
        if rng.random() < 0.5:
            out.append((ds, de, rng.uniform(0.15, 0.45), "post-training and RL"))
    return out


def reservations(rng: np.random.Generator, pods: list[tuple[str, str, str, str, int]]) -> list[list]:
    """Internal training rows: a baseline, waves of pretraining, post-training in the dips."""
    rows: list[list] = []
    for pid, group, site, _sku, gpus in pods:
        for start, end, frac, note in pod_blocks(rng, group, site):
            n = int(gpus * frac) // 8 * 8
            if n > 0 and start <= end:
                rows.append([pid, "", "", start, end, n, note])
    return rows


def leases(rng: np.random.Generator, n: int, pops: list[str], max_pod: dict[str, int]) -> list[list]:
    """The lease book: internal services first, then ~35 % committed and the rest spot."""
    rows: list[list] = []
    for lid, i_sku, i_gpus, i_reps, i_anti, i_egress, i_region, i_slo, i_start, i_end in INTERNAL:
        rows.append([lid, "Internal", "inference", "internal", i_sku, i_gpus, "pod", i_reps,
                     str(i_anti).lower(), i_egress, i_region, i_slo, "", "US", i_start, i_end, 0])
    home = {t: pops[int(rng.integers(len(pops)))] for t in TENANTS}
    for i in range(1, n - len(INTERNAL) + 1):
        tenant = TENANTS[int(rng.integers(len(TENANTS)))]
        kind = str(rng.choice(["inference", "training", "fine-tune"], p=[0.45, 0.35, 0.20]))
        priority = "committed" if rng.random() < 0.35 else "spot"
        sku = str(rng.choice(["H100", "B200", "GB200"], p=[0.40, 0.35, 0.25]))
        sizes, w = SIZES[kind]
        gpus = int(rng.choice(sizes, p=np.array(w) / sum(w)))
        span = "site" if gpus > max_pod[sku] or (gpus >= 8192 and rng.random() < 0.3) else "pod"
        reps, anti = 1, False
        if kind == "inference" and sku != "GB200" and gpus <= 2048 and rng.random() < 0.25:
            reps, anti = 2, True  # one replica per campus
        elif kind == "inference" and rng.random() < 0.05:
            reps = 2
        region = home[tenant] if rng.random() < 0.7 else pops[int(rng.integers(len(pops)))]
        if kind == "inference":
            egress = int(np.clip(round(gpus * rng.uniform(0.3, 1.2) / 5) * 5, 20, 800))
            slos = [12, 15, 20, 25] if anti else [5, 6, 8, 10, 12, 15, 20, 25]
            slo: int | str = int(rng.choice(slos))
        else:
            egress = int(rng.integers(1, 21))
            slo = int(rng.choice([30, 50, 75, 100])) if rng.random() < 0.5 else ""
        allowed = ""
        if not anti and rng.random() < 0.08:
            allowed = "LA-RCH" if sku == "GB200" else str(rng.choice(["OH-NAL", "LA-RCH"]))
        residency = "US" if rng.random() < 0.7 else ""
        lo, hi = TERM[kind]
        length = int(rng.integers(lo, hi + 1))
        # ~15 % are running already when the year starts
        start = 1 if rng.random() < 0.15 else int(rng.integers(1, WEEKS - length + 2))
        (c_lo, c_hi), (s_lo, s_hi) = PRICE[sku]
        price = rng.uniform(c_lo, c_hi) if priority == "committed" else rng.uniform(s_lo, s_hi)
        rows.append([f"L-{i:04d}", tenant, kind, priority, sku, gpus, span, reps, str(anti).lower(),
                     egress, region, slo, allowed, residency, start, start + length - 1,
                     f"{price:.2f}"])
    return rows


def write(path: Path, header: list[str], rows: list[list]) -> None:
    """Write one CSV with a header row."""
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def main() -> None:
    """Parse arguments and write both CSV files."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--leases", type=int, default=400, help="rows in the lease book")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    pods = expand_pods(ROOT / "sites" / "reference_pods.yaml")
    pops = [p["id"] for p in yaml.safe_load((ROOT / "topologies" / "reference.yaml").read_text())["pops"]]
    max_pod: dict[str, int] = {}
    for _pid, _g, _site, sku, gpus in pods:
        max_pod[sku] = max(max_pod.get(sku, 0), gpus)
    res = reservations(rng, pods)
    write(ROOT / "sites" / "reference_reservations.csv",
          ["pod", "site", "sku", "start_week", "end_week", "gpus", "note"], res)
    book = leases(rng, args.leases, pops, max_pod)
    write(ROOT / "leases" / "reference.csv", HEADER, book)
    print(f"{len(res)} reservation rows, {len(book)} leases")


if __name__ == "__main__":
    main()
