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

import numpy as np  # noqa: E402

import planner  # noqa: E402
from planner.generate import generate  # noqa: E402
from planner.optimise.heuristics.greedy import greedy_pass, plan_value, price_order  # noqa: E402
from planner.optimise.instance import build_instance  # noqa: E402
from planner.optimise.search.lns import neighbourhoods, pool_lns  # noqa: E402
from planner.optimise.search.tasks import dask_map, local_map  # noqa: E402
from planner.whatif.distributed import local_cluster  # noqa: E402

PREDICT_ALL = (1, 2, 8, 32, 128)


def _makespan(times: list[float], n: int) -> float:
    """Wall time of one batch's tasks on ``n`` workers, each task to the first free worker in order."""
    free = [0.0] * n
    for t in times:
        k = free.index(min(free))
        free[k] += t
    return max(free)


def _run(inst: Any, fits: Any, res: Any, args: argparse.Namespace, map_fn: Any, batch: int) -> dict[str, Any]:
    tasks: list[list[float]] = []  # per batch, each task's wall seconds (model build and CP-SAT)

    def timed(f: Any, items: list[Any]) -> list[Any]:
        out = map_fn(f, items)
        tasks.append([r.build_s + r.wall_s for r in out])
        return out

    t = time.perf_counter()
    out, _, stats = pool_lns(inst, fits, res, budget_s=args.budget, seed=args.seed, workers=1, batch=batch,
                             map_fn=timed, deterministic=True)
    wall = time.perf_counter() - t
    return {"batch": batch, "wall_s": wall, "task_times": tasks,
            "tried": stats.tried, "improved": stats.improved, "batches": stats.batches, "conflicts": stats.conflicts,
            "deterministic_s": stats.deterministic_s, "build_s": stats.build_s, "task_s": stats.task_s,
            "value_usd": plan_value(inst, out),
            "fits": {k: [(f.site, f.parts) for f in v] for k, v in sorted(out.items())}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tier", default="medium")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=20.0, help="deterministic seconds of sub-solves")
    ap.add_argument("--batch", default="4", help="comma-separated batch sizes (the first also runs on Dask)")
    ap.add_argument("--workers", default="1,2", help="Dask cluster sizes to run")
    args = ap.parse_args()
    folder = generate(args.tier, args.seed, Path(tempfile.mkdtemp()) / args.tier)
    inst = build_instance(planner.load_scenario(folder))
    fits, res, _ = greedy_pass(inst, price_order(inst))
    batches = [int(x) for x in args.batch.split(",")]
    runs: dict[str, dict[str, Any]] = {}
    for b in batches:
        runs[f"in-process, batch {b}"] = _run(inst, fits, res.copy(), args, local_map, b)
    base = runs[f"in-process, batch {batches[0]}"]
    for n in (int(x) for x in args.workers.split(",")):
        with local_cluster(n_workers=n) as cluster:
            from distributed import Client

            with Client(cluster) as client:
                runs[f"Dask, {n} worker{'s' if n > 1 else ''}, batch {batches[0]}"] = _run(
                    inst, fits, res.copy(), args, dask_map(client), batches[0])
    same = all(r["fits"] == base["fits"] for r in runs.values() if r["batch"] == batches[0])
    size = max(len(nb.pods) for nb in neighbourhoods(inst, fits, res, np.random.default_rng(0)) if nb.kind == "pods")
    print(f"{args.tier} seed {args.seed}: {len(inst.pod_ids)} pods (at most {len(inst.pod_ids) // size} disjoint "
          f"neighbourhoods of {size}), greedy ${plan_value(inst, fits):,.0f}, budget {args.budget:g} deterministic "
          f"s, 1 CP-SAT thread per sub-solve; load average {os.getloadavg()[0]:.1f}; same plan in-process and on "
          f"Dask: {same}")
    print("| run | wall, s | neighbourhoods | per wall s | speed-up | batches | dropped | plan, $ |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in runs.items():
        print(f"| {name} | {r['wall_s']:.1f} | {r['tried']} | {r['tried'] / r['wall_s']:.2f} | "
              f"{base['wall_s'] / r['wall_s']:.2f}x | {r['batches']} | {r['conflicts']} | {r['value_usd']:,.0f} |")
    print("Predicted from the in-process runs' own task times (the batch waits for its slowest task; the rest of "
          "the wall time, choosing and merging neighbourhoods, stays serial):")
    print("| batch | parallel fraction | " + " | ".join(f"{n} workers" for n in PREDICT_ALL) + " |")
    print("|---|---|" + "---|" * len(PREDICT_ALL))
    for b in batches:
        r = runs[f"in-process, batch {b}"]
        serial = r["wall_s"] - sum(map(sum, r["task_times"]))
        p = 1 - serial / r["wall_s"]
        cells = [r["wall_s"] / (serial + sum(_makespan(ts, n) for ts in r["task_times"])) for n in PREDICT_ALL]
        print(f"| {b} | {p:.3f} | " + " | ".join(f"{c:.2f}x" for c in cells) + " |")
        r["parallel_fraction"] = p
        r["predicted_speedup"] = dict(zip(PREDICT_ALL, cells, strict=True))
    out = ROOT / "benchmarks" / "results" / f"lns-dask-{args.tier}-s{args.seed}.json"
    out.write_text(json.dumps({"args": vars(args), "same_plan": same,
                               "runs": {k: {kk: vv for kk, vv in v.items() if kk != "fits"} for k, v in runs.items()}},
                              indent=1) + "\n")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
