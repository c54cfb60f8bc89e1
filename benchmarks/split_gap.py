"""The planner's gap against the hall LP split by site, on the benchmark's generated instances.

Where the hall-pooled site LP is too big to solve whole (hyperscale), the split
(:func:`planner.optimise.bounds.site_split.site_split_bound`) solves it one site at a
time, priced from the site-pooled LP, then takes ``--rounds`` subgradient steps on
the prices. For each ``<tier>-s<seed>`` given, this reads the planner's result
(``<results>/<tier>-s<seed>-planner.json``, written by ``run.py``), generates the
scenario if it is not in ``<instances>`` (``planner.generate``, as ``run.py`` does),
prints a table (the plan, the planner's own bound, the split bound after each
stage, the gap to the better bound, time) and writes
``<results>/<tier>-s<seed>-split.json``, which the report counts among the bounds.

::

    .venv/bin/python benchmarks/split_gap.py hyperscale-s1 hyperscale-s2 hyperscale-s3 --workers 2
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bound_gap import each, header, parser  # noqa: E402
from planner.optimise.bounds.site_split import site_split_bound  # noqa: E402


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=0, help="subgradient steps after the first prices")
    ap.add_argument("--workers", type=int, default=1, help="processes solving the sites side by side")
    args = ap.parse_args()
    header("instance", "plan, M$", "planner's bound, M$", "site LP, M$", "split at its prices, M$", "after rounds, M$",
           "gap to planner's bound", "gap to the better bound", "rounds", "wall, s")
    for key, run, inst in each(args):
        plan, own = run["objective_usd"], run["bound_usd"]
        t = time.perf_counter()
        b = site_split_bound(inst, rounds=args.rounds, target_usd=plan, workers=args.workers)
        wall = time.perf_counter() - t
        best = min(own, b.bound_usd)
        print(f"| {key} | {plan / 1e6:,.1f} | {own / 1e6:,.1f} | {b.priced_usd / 1e6:,.1f} | "
              f"{b.trace[0] / 1e6:,.1f} | {b.bound_usd / 1e6:,.1f} | {(own - plan) / own:.2%} | "
              f"{(best - plan) / best:.2%} | {len(b.trace) - 1} | {wall:.0f} |", flush=True)
        (args.results / f"{key}-split.json").write_text(json.dumps(
            {"instance": key, "status": b.status, "bound_usd": b.bound_usd, "priced_usd": b.priced_usd,
             "first_usd": b.trace[0], "trace_usd": list(b.trace), "rounds": len(b.trace) - 1,
             "pooling": b.pooling, "block_weeks": b.block_weeks, "sites": b.blocks - 1,
             "linking_rows": b.linking_rows, "nonzeros": b.nonzeros, "wall_s": wall, "plan_usd": plan,
             "planner_bound_usd": own}, indent=1) + "\n")


if __name__ == "__main__":
    main()
