"""The planner's gap against the hall bound on the benchmark's generated instances.

For each ``<tier>-s<seed>`` given, this reads the planner's result
(``<results>/<tier>-s<seed>-planner.json``, written by ``run.py``), builds the pattern
master of the same scenario (``<instances>/<tier>-s<seed>/scenario.yaml``), solves its
LP relaxation for duals and prices, at those duals, every pod
(:mod:`planner.optimise.bounds.patterns`: the pattern bound's first pass) and every hall
(:func:`planner.optimise.bounds.halls.hall_bound`: span=hall leases whole). It prints a
table: the plan, the planner's own bound, both Lagrangian bounds, the gap to the best of
them, and the CPU and wall time of each. Results go to ``<results>/<tier>-s<seed>-halls.json``
(``bound_usd``: the better of the two).

::

    .venv/bin/python benchmarks/hall_gap.py medium-s1 medium-s2 --work 2
    .venv/bin/python benchmarks/hall_gap.py large-s1 --lp highs    # GLOP takes too long there
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bound_gap import each, header, parser  # noqa: E402
from planner.optimise.bounds.halls import hall_bound  # noqa: E402
from planner.optimise.bounds.patterns import PatternMaster  # noqa: E402


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--work", type=float, default=2.0, help="CP-SAT's deterministic seconds per hall or pod")
    ap.add_argument("--lp", choices=("glop", "highs"), default="glop", help="the LP solver of the master's duals")
    args = ap.parse_args()
    header("instance", "plan, M$", "planner's bound, M$", "pattern pass, M$", "hall bound, M$",
           "gap to the best bound", "duals CPU, s", "pods and halls CPU, s", "wall, s")
    for key, run, inst in each(args):
        t, c0 = time.perf_counter(), time.process_time()
        b = PatternMaster(inst)
        b.build()
        u = b.lp_duals(args.lp)
        c1 = time.process_time()
        hb = hall_bound(b, u, work=args.work)  # it prices every pod too, on the way
        c3 = time.process_time()
        pods = hb.pods_usd
        wall = time.perf_counter() - t
        plan, own = run["objective_usd"], run["bound_usd"]
        best = min(own, pods, hb.bound_usd)
        print(f"| {key} | {plan / 1e6:,.1f} | {own / 1e6:,.1f} | {pods / 1e6:,.1f} | {hb.bound_usd / 1e6:,.1f} | "
              f"{(best - plan) / best:.2%} | {c1 - c0:.0f} | {c3 - c1:.0f} | {wall:.0f} |", flush=True)
        (args.results / f"{key}-halls.json").write_text(json.dumps(
            {"instance": key, "bound_usd": min(pods, hb.bound_usd), "hall_bound_usd": hb.bound_usd,
             "pattern_pass_usd": pods, "work": args.work, "lp": args.lp,
             "cpu_s": c3 - c0, "wall_s": wall, "plan_usd": plan, "planner_bound_usd": own,
             "halls_usd": {inst.hall_ids[h]: v for h, v in sorted(hb.halls.items())}}, indent=1) + "\n")


if __name__ == "__main__":
    main()
