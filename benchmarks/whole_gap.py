"""The planner's gap against the site MIP with every lease whole, on the benchmark's instances.

For each ``<tier>-s<seed>`` given (``reference-s<seed>`` is the bundled scenario), this
reads the planner's result (``<results>/<key>-planner.json``, written by ``run.py``) and
solves :func:`planner.optimise.bounds.site_lp.site_relaxation` with ``whole_leases``:
the site-level relaxation (pods pooled per hall, weekly rows) with every lease placed
whole or not at all and each span=hall or span=site replica in one hall or site, a MIP
solved by HiGHS on one thread. Its work is counted in branch-and-bound nodes
(``--nodes``), so the bound does not depend on the machine; the wall clock only stops a
run that goes on for hours (``--wall``; a bound stopped by it is not recorded). It prints
a table and writes ``<results>/<key>-whole.json`` (``bound_usd``: HiGHS's proven dual
bound plus the APIs' own LP optimum, counted towards the best bound by ``report.py``).

::

    .venv/bin/python benchmarks/whole_gap.py reference-s1 --nodes 100000
"""

from __future__ import annotations

import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.bound_gap import header, parser, planner_run, scenario  # noqa: E402


def main() -> None:
    import planner
    from planner.optimise.bounds.site_lp import site_relaxation
    from planner.optimise.instance import build_instance

    ap = parser(__doc__)
    ap.add_argument("--nodes", type=int, default=100_000, help="HiGHS's branch-and-bound nodes at most")
    ap.add_argument("--wall", type=float, default=4 * 3600.0, help="wall seconds at most (a safety stop)")
    args = ap.parse_args()
    header("instance", "plan, M$", "planner's bound, M$", "whole-lease MIP bound, M$", "status", "nodes limit",
           "gap to it", "wall, s")
    for key in args.keys:
        run = planner_run(args.results, key)
        inst = build_instance(planner.load_scenario(scenario(args.instances, key)))
        t = time.perf_counter()
        rel = site_relaxation(inst, whole_leases=True, time_limit_s=args.wall, max_nodes=args.nodes)
        wall = time.perf_counter() - t
        plan, own = run["objective_usd"], run["bound_usd"]
        ok = math.isfinite(rel.bound_usd)
        gap = f"{(rel.bound_usd - plan) / rel.bound_usd:.2%}" if ok else "--"
        print(f"| {key} | {plan / 1e6:,.1f} | {own / 1e6:,.1f} | "
              f"{rel.bound_usd / 1e6:,.1f} | {rel.status} | {args.nodes:,} | {gap} | {wall:.0f} |", flush=True)
        if ok:
            (args.results / f"{key}-whole.json").write_text(json.dumps(
                {"instance": key, "status": rel.status, "bound_usd": rel.bound_usd, "nodes": args.nodes,
                 "integers": rel.integers, "pooling": rel.pooling, "block_weeks": rel.block_weeks,
                 "wall_s": wall, "plan_usd": plan, "planner_bound_usd": own}, indent=1) + "\n")


if __name__ == "__main__":
    main()
