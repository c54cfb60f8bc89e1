"""Where the site-level method's model build goes: each stage timed on generated scenarios.

The build the benchmarks count for the site-level method (``Optimiser.build_s``) is the
instance (network, routes, every lease's options), each lease's usable pods, and the
site LP's matrix (the look at hall pooling, the columns, the capacity rows). This
script times each stage (the median of ``--repeats`` runs, each in this process after
one warm-up load), prints a table and writes ``benchmarks/results/build-time.json``.
Run it from a checkout of the version to measure (its own ``planner`` is imported)::

    .venv/bin/python benchmarks/build_time.py --tier hyperscale --seeds 1,2,3 --instances /tmp/inst

``--instances DIR`` reads (or writes, when missing) ``DIR/<tier>-s<seed>/scenario.yaml``
as ``benchmarks/run.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import planner  # noqa: E402
from planner.generate import generate  # noqa: E402
from planner.optimise.bounds import site_lp  # noqa: E402
from planner.optimise.instance import build_instance, usable_pods  # noqa: E402

STAGES = ("instance", "usable pods", "hall look", "LP columns", "LP rows")


def stages(path: Path) -> dict[str, float]:
    """Wall seconds of each build stage on the scenario at ``path`` (site pooling, weekly rows)."""
    sc = planner.load_scenario(path)
    out: dict[str, float] = {}
    t = time.perf_counter()
    inst = build_instance(sc)
    out["instance"] = time.perf_counter() - t
    t = time.perf_counter()
    where = {lo.lease: usable_pods(inst, lo) for lo in inst.leases}
    out["usable pods"] = time.perf_counter() - t
    t = time.perf_counter()
    site_lp._hall_nonzeros(inst, where, int(site_lp.HALL_LOOK * site_lp.MAX_NONZEROS))
    out["hall look"] = time.perf_counter() - t
    t = time.perf_counter()
    built = site_lp.relaxation_columns(inst, where, "site")
    out["LP columns"] = time.perf_counter() - t
    t = time.perf_counter()
    site_lp.row_matrix(built, 1)
    out["LP rows"] = time.perf_counter() - t
    return out


def main() -> None:
    """Time the stages per seed and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tier", default="hyperscale")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--instances", type=Path, required=True)
    ap.add_argument("--label", default="", help="a name for this version in the results file (e.g. a commit)")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results" / "build-time.json")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    for seed in (int(s) for s in args.seeds.split(",")):
        path = args.instances / f"{args.tier}-s{seed}" / "scenario.yaml"
        if not path.exists():
            generate(args.tier, seed=seed, out_dir=path.parent)
        planner.load_scenario(path)  # warm-up: imports and caches
        runs = [stages(path) for _ in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in STAGES}
        rows.append({"tier": args.tier, "seed": seed, **med, "total": sum(med.values())})
    print(f"| {args.tier} seed | " + " | ".join(STAGES) + " | total |")
    print("|---" * (len(STAGES) + 2) + "|")
    for r in rows:
        print(f"| {r['seed']} | " + " | ".join(f"{r[k]:.2f} s" for k in (*STAGES, "total")) + " |")
    old = json.loads(args.results.read_text(encoding="utf-8")) if args.results.exists() else {}
    old[args.label or "this version"] = {"rows": rows, "repeats": args.repeats, "loadavg": os.getloadavg()}
    args.results.write_text(json.dumps(old, indent=1), encoding="utf-8")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
