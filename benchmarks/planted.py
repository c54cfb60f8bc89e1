"""How far the planner's plan is from a known optimum: leases planted to fill every pod exactly.

On the generated tiers no method proves the optimum, so a gap mixes the bound's
looseness with the plan's shortfall. This script builds, from a tier's scenario, one
whose optimum is known by construction, on the same fabric:

- every pod's free GPUs, week by week, are cut into rectangles (GPUs x weeks) that
  tile them exactly: level by level, each level's runs of weeks cut into terms of
  8-40 weeks and its GPUs into pieces of 256-2,048 (whole multiples of 8);
- each rectangle becomes a planted lease: span=pod, one replica, committed, no
  traffic (so no uplink, DCI or latency), any site, priced per GPU-hour at
  :data:`PREMIUM` times the dearest lease of its SKU;
- the tier's own leases stay as they are, decoys that pay less per GPU-week; the
  internal services are dropped (their pods would be a choice);
- the sites' power is multiplied by :data:`POWER_FACTOR` (at most :data:`POWER_CAP_MW`), so that no
  week's power binds.

Every pod-week then earns at most the planted price less the pod's power cost (a
decoy pays less, a planted lease exactly that, spot losses and transport only take),
and the planted leases, placed where they were cut, earn exactly that on every pod-week:
that is the optimum. The planner's own bound must equal it (a check of both), so the
plan's gap to it is the plan's alone.

::

    .venv/bin/python benchmarks/planted.py medium-s2 large-s2 --time-limit 60

It prints a table (the planted optimum, the planner's bound, the plan, its gap, the
planted GPU-weeks placed, the plan checker's violations) and writes
``<results>/<tier>-s<seed>-planted.json``.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bound_gap import header, scenario  # noqa: E402

PREMIUM = 1.25
"""A planted lease's price per GPU-hour over the dearest lease of its SKU."""
POWER_FACTOR = 100
"""The sites' power (grid and on-site MW) is multiplied by this (up to :data:`POWER_CAP_MW`)."""
POWER_CAP_MW = 100_000
"""The most a site's grid or on-site power may be (the schema's limit): 100 GW, far above any campus's draw."""
TERMS = (8, 40)
"""Weeks of a planted lease's term, drawn uniformly (a run shorter than the least is one term)."""
PIECES = (256, 512, 1024, 2048)
"""GPUs of a planted lease, drawn from these (the last piece of a level takes what is left)."""


def tiles(free: np.ndarray, rng: np.random.Generator) -> list[tuple[int, int, int]]:
    """Rectangles ``(gpus, first week, last week)`` (weeks from 0) tiling one pod's free GPUs exactly.

    Examples
    --------
    >>> free = np.array([128, 128, 64, 0, 64])
    >>> cover = np.zeros(5, dtype=int)
    >>> for g, a, b in tiles(free, np.random.default_rng(0)):
    ...     cover[a:b + 1] += g
    >>> bool((cover == free).all())
    True
    """
    out = []
    levels = np.unique(np.r_[0, free])
    for lo, hi in zip(levels[:-1].tolist(), levels[1:].tolist(), strict=True):
        on = np.r_[False, free >= hi, False].astype(np.int8)
        edges = np.flatnonzero(np.diff(on))
        for a, b in zip(edges[0::2].tolist(), (edges[1::2] - 1).tolist(), strict=True):
            w = a
            while w <= b:
                n = int(rng.integers(TERMS[0], TERMS[1] + 1))
                end = b if b - (w + n) + 1 < TERMS[0] else w + n - 1
                left = hi - lo
                while left > 0:
                    g = min(int(rng.choice(PIECES)), left)
                    out.append((g, w, end))
                    left -= g
                w = end + 1
    return out


def plant(src: Path, out: Path, seed: int) -> dict:
    """Write the planted scenario of ``src`` (a scenario file) into folder ``out``; the planted optimum and counts."""
    import planner
    from planner.optimise.instance import build_instance

    sc = planner.load_scenario(src)
    inst = build_instance(sc)
    if inst.pod_free_worst.size and (inst.pod_free_worst != inst.pod_free).any():
        msg = f"{src}: internal work has upsides; the planted optimum would not be known"
        raise SystemExit(msg)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(src.parent, out)
    sites = (out / "sites.yaml").read_text()
    def more(m: re.Match[str]) -> str:
        return f"{m[1]}: {min(float(m[2]) * POWER_FACTOR, POWER_CAP_MW):g}"

    (out / "sites.yaml").write_text(re.sub(r"(grid_mw|onsite_mw): (\d+(?:\.\d+)?)", more, sites))
    with (src.parent / "leases.csv").open() as f:
        rows = [r for r in csv.DictReader(f) if r["priority"] != "internal"]
    fields = list(rows[0])
    top: dict[str, float] = {}
    for r in rows:
        top[r["sku"]] = max(top.get(r["sku"], 0.0), float(r["price_usd_per_gpu_hour"]))
    price = {k: math.ceil(v * PREMIUM * 100) / 100 for k, v in top.items()}
    rng = np.random.default_rng(seed)
    skus = sc.pods["sku"].astype(str).tolist()
    optimum, gpu_weeks, planted = 0.0, 0, []
    for p in range(len(inst.pod_ids)):
        kw = float(inst.pod_kw_per_gpu[p]) * inst.hours / 1000.0 * float(inst.site_price[inst.pod_site[p]])
        for g, a, b in tiles(inst.pod_free[p], rng):
            weeks = b - a + 1
            optimum += g * weeks * (price[skus[p]] * inst.hours - kw)
            gpu_weeks += g * weeks
            planted.append({**dict.fromkeys(fields, ""), "tenant": "Planted",
                            "kind": "training", "priority": "committed", "sku": skus[p], "gpus": g, "span": "pod",
                            "replicas": 1, "anti_affinity": "false", "egress_gbps": 0,
                            "region": rows[0]["region"], "latency_slo_ms": 1000, "start_week": a + 1,
                            "end_week": b + 1, "price_usd_per_gpu_hour": price[skus[p]]})
    # in random order, numbered after: nothing in a lease's id or place in the book says where it was cut
    for k, i in enumerate(rng.permutation(len(planted)).tolist()):
        planted[i]["id"] = f"P-{k + 1:05d}"
    book = rows + planted
    with (out / "leases.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(book[i] for i in rng.permutation(len(book)).tolist())
    return {"optimum_usd": optimum, "planted": len(planted), "decoys": len(rows), "planted_gpu_weeks": gpu_weeks,
            "free_gpu_weeks": int(inst.pod_free.sum()), "price_usd_per_gpu_hour": price}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", maxsplit=1)[0])
    ap.add_argument("keys", nargs="+", help="instances as <tier>-s<seed>")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--instances", type=Path, default=ROOT / "benchmarks" / "instances")
    ap.add_argument("--time-limit", type=float, default=60.0, help="deterministic seconds, as the tier benchmark")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    args.results.mkdir(parents=True, exist_ok=True)
    import planner

    header("instance", "leases (planted + decoys)", "optimum, M$", "planner's bound, M$", "plan, M$",
           "gap to the optimum", "planted GPU-weeks placed", "decoy GPU-weeks placed", "violations", "wall, s")
    for key in args.keys:
        src = scenario(args.instances, key)
        info = plant(src, args.instances / f"{key}-planted", int(key.rsplit("-s", 1)[1]))
        t = time.perf_counter()
        sc = planner.load_scenario(args.instances / f"{key}-planted" / "scenario.yaml")
        plan = planner.optimise(sc, time_limit_s=args.time_limit, seed=int(key.rsplit("-s", 1)[1]),
                                workers=args.workers, deterministic=True, explain=False)
        wall = time.perf_counter() - t
        problems = plan.check(sc)  # the plan checker, independent of the optimiser
        pl = plan.placements
        gw = (pl["gpus"] * (pl["end_week"] - pl["start_week"] + 1)).groupby(pl["lease"].str.startswith("P-")).sum()
        opt = info["optimum_usd"]
        gap = (opt - plan.objective_usd) / opt
        print(f"| {key} | {info['planted']:,} + {info['decoys']:,} | {opt / 1e6:,.1f} | {plan.bound_usd / 1e6:,.1f} | "
              f"{plan.objective_usd / 1e6:,.1f} | {gap:.2%} | {gw.get(True, 0) / info['planted_gpu_weeks']:.1%} | "
              f"{gw.get(False, 0) / info['free_gpu_weeks']:.1%} | {len(problems)} | {wall:.0f} |", flush=True)
        (args.results / f"{key}-planted.json").write_text(json.dumps(
            {"instance": key, **info, "bound_usd": plan.bound_usd, "objective_usd": plan.objective_usd,
             "status": plan.status, "gap": gap, "wall_s": wall, "time_limit_s": args.time_limit,
             "violations": len(problems), "violation_examples": [str(p) for p in problems[:5]],
             "planted_gpu_weeks_placed": int(gw.get(True, 0)), "decoy_gpu_weeks_placed": int(gw.get(False, 0))},
            indent=1) + "\n")


if __name__ == "__main__":
    main()
