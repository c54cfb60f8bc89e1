"""Neighbourhood-search throughput in this process and on Dask clusters of 1 and 2 workers.

The site-level method's neighbourhood search (``planner.optimise.search.lns.pool_lns``)
solves a batch of neighbourhoods at a time; each sub-solve (model build and CP-SAT) is
a task that runs here or on a Dask worker. This script runs the same search -- same
generated scenario, greedy start, seed, batch and deterministic budget -- in this
process and on local Dask clusters, checks that every run ends with the same plan,
and prints a table of throughput (neighbourhoods per wall second) with the share of
the wall time the tasks took (the parallel fraction), and what Amdahl's law then
predicts for bigger clusters. It writes ``benchmarks/results/lns-dask-<tier>-s<seed>.json``.

::

    .venv/bin/python benchmarks/lns_dask.py --tier medium --seed 1 --budget 20 --batch 4
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import planner  # noqa: E402
from planner.generate import generate  # noqa: E402
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order  # noqa: E402
from planner.optimise.instance import build_instance  # noqa: E402
from planner.optimise.search.lns import pool_lns  # noqa: E402
from planner.optimise.search.tasks import dask_map, local_map  # noqa: E402
from planner.whatif.distributed import local_cluster  # noqa: E402

PREDICT = (8, 32, 128)


def _run(inst: Any, fits: Any, res: Any, args: argparse.Namespace, map_fn: Any) -> dict[str, Any]:
    t = time.perf_counter()
    cpu = os.times()
    out, _, stats = pool_lns(inst, fits, res, budget_s=args.budget, seed=args.seed, workers=1, batch=args.batch,
                             map_fn=map_fn, deterministic=True)
    wall = time.perf_counter() - t
    done = os.times()
    return {"wall_s": wall, "driver_cpu_s": (done.user - cpu.user) + (done.system - cpu.system),
            "tried": stats.tried, "improved": stats.improved, "batches": stats.batches, "conflicts": stats.conflicts,
            "deterministic_s": stats.deterministic_s, "build_s": stats.build_s, "task_s": stats.task_s,
            "value_usd": plan_value(inst, out),
            "fits": {k: [(f.site, f.parts) for f in v] for k, v in sorted(out.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tier", default="medium")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=20.0, help="deterministic seconds of sub-solves")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--workers", default="1,2", help="Dask cluster sizes to run")
    args = ap.parse_args()
    folder = generate(args.tier, args.seed, Path(tempfile.mkdtemp()) / args.tier)
    inst = build_instance(planner.load_scenario(folder))
    fits, res, _ = greedy_pass(inst, price_order(inst))
    runs: dict[str, dict[str, Any]] = {"in-process": _run(inst, fits, res.copy(), args, local_map)}
    for n in (int(x) for x in args.workers.split(",")):
        with local_cluster(n_workers=n) as cluster:
            from distributed import Client

            with Client(cluster) as client:
                runs[f"Dask, {n} worker{'s' if n > 1 else ''}"] = _run(inst, fits, res.copy(), args, dask_map(client))
    base = runs["in-process"]
    same = all(r["fits"] == base["fits"] for r in runs.values())
    # the tasks' share of the in-process wall time: what parallel workers can take over
    p = min(1.0, base["task_s"] / base["wall_s"])
    print(f"{args.tier} seed {args.seed}: greedy ${plan_value(inst, fits):,.0f}, batch {args.batch}, "
          f"budget {args.budget:g} deterministic s, workers 1 CP-SAT thread per sub-solve; same plan in every run: "
          f"{same}")
    print("| run | wall, s | neighbourhoods | per wall s | speed-up | batches | conflicts | plan, $ |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        print(f"| {name} | {r['wall_s']:.1f} | {r['tried']} | {r['tried'] / r['wall_s']:.2f} | "
              f"{base['wall_s'] / r['wall_s']:.2f}x | {r['batches']} | {r['conflicts']} | {r['value_usd']:,.0f} |")
    print(f"parallel fraction (tasks' share of the in-process wall time): {p:.2f}")
    for n in PREDICT:
        eff = min(n, args.batch)
        print(f"  {n} workers, batch {n}: Amdahl {1 / ((1 - p) + p / n):.1f}x; with batch {args.batch}: "
              f"{1 / ((1 - p) + p / eff):.1f}x")
    out = ROOT / "benchmarks" / "results" / f"lns-dask-{args.tier}-s{args.seed}.json"
    out.write_text(json.dumps({"args": vars(args), "same_plan": same, "parallel_fraction": p,
                               "runs": {k: {kk: vv for kk, vv in v.items() if kk != "fits"} for k, v in runs.items()}},
                              indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
