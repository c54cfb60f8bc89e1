"""The planner's gap against the pattern bound on the benchmark's generated instances.

For each ``<tier>-s<seed>`` given, this reads the planner's result
(``<results>/<tier>-s<seed>-planner.json``, written by ``run.py``), runs rounds of
the pattern relaxation (:func:`planner.optimise.bounds.patterns.pattern_bound`) on
the same scenario (``<instances>/<tier>-s<seed>/scenario.yaml``), and prints a table:
the plan, the planner's own bound, the pattern bound and the gap to the better of the
two, with the rounds' CPU and wall time. Results go to ``<results>/<tier>-s<seed>-patterns.json``.

::

    .venv/bin/python benchmarks/pattern_gap.py medium-s1 medium-s2 --rounds 1
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bound_gap import each, header, parser  # noqa: E402
from planner.optimise.bounds.patterns import pattern_bound  # noqa: E402


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    header("instance", "plan, M$", "planner's bound, M$", "pattern bound, M$", "gap to planner's bound",
           "gap to the better bound", "rounds", "CPU, s", "wall, s")
    for key, run, inst in each(args):
        c, t = time.process_time(), time.perf_counter()
        pb = pattern_bound(inst, max_rounds=args.rounds, time_limit_s=3600)
        cpu, wall = time.process_time() - c, time.perf_counter() - t
        plan, own = run["objective_usd"], run["bound_usd"]
        best = min(own, pb.bound_usd)
        print(f"| {key} | {plan / 1e6:,.1f} | {own / 1e6:,.1f} | {pb.bound_usd / 1e6:,.1f} | "
              f"{(own - plan) / own:.2%} | {(best - plan) / best:.2%} | {pb.iterations} | {cpu:.0f} | {wall:.0f} |",
              flush=True)
        (args.results / f"{key}-patterns.json").write_text(json.dumps(
            {"instance": key, "status": pb.status, "bound_usd": pb.bound_usd, "master_usd": pb.master_usd,
             "rounds": pb.iterations, "columns": pb.columns, "cpu_s": cpu, "wall_s": wall, "plan_usd": plan,
             "planner_bound_usd": own}, indent=1) + "\n")


if __name__ == "__main__":
    main()
