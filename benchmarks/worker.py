"""Run one method on one scenario, in this process alone, and write what it measured as JSON.

    python -m benchmarks.worker METHOD SCENARIO --time-limit 60 --seed 1 --out result.json

Methods:

- ``planner`` -- :func:`planner.optimise.optimiser.optimise` (CP-SAT and whatever the planner does);
- ``greedy``  -- :func:`planner.optimise.heuristics.greedy.greedy`, the price-ordered first-fit baseline;
- ``highs``   -- HiGHS (``highspy``) on the plain MIP of :mod:`benchmarks.plain_mip`;
- ``lp``      -- HiGHS on the LP relaxation of that MIP: a true upper bound when solved.

Times are seconds from the end of loading the scenario (so build time counts);
the trace is the incumbent over time, ``[t_s, objective_usd, bound_usd]``. The JSON
is rewritten as the run goes (status ``RUNNING``), so a run the harness has to kill
still says how far it got. ``ortools`` and ``highspy`` cannot share a process, so
the HiGHS methods refuse to import ``ortools`` at all and say which import wanted it.
"""

from __future__ import annotations

import argparse
import importlib.abc
import inspect
import json
import math
import os
import resource
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.report import GAP_LIMIT

METHODS = ("planner", "greedy", "highs", "lp")
BYTES_PER_NONZERO = 150
"""Peak memory of the plain MIP per non-zero: numpy build arrays plus HiGHS's copies (measured, rounded up)."""


class _NoOrtools(importlib.abc.MetaPathFinder):
    """Refuse ``ortools`` in a HiGHS process: the traceback shows the import chain that asked for it."""

    def find_spec(self, name: str, path: object, target: object = None) -> None:
        if name == "ortools" or name.startswith("ortools."):
            msg = "ortools must not be imported in a highspy process (the two clash); see the traceback for who did"
            raise ImportError(msg)


class Recorder:
    """The result record, rewritten atomically to ``path`` as it fills in."""

    def __init__(self, path: Path, **fields: Any) -> None:
        self.path = path
        self.t0 = time.perf_counter()
        self.data: dict[str, Any] = {"status": "RUNNING", "trace": [], "error": None, **fields}
        self._last = 0.0

    def now(self) -> float:
        """Seconds since the clock was started."""
        return time.perf_counter() - self.t0

    def point(self, objective: float, bound: float | None) -> None:
        """An incumbent (and the method's bound at that moment)."""
        b = None if bound is None or not math.isfinite(bound) else float(bound)
        self.data["trace"].append([round(self.now(), 4), float(objective), b])
        if time.perf_counter() - self._last > 1.0:
            self.write()

    def write(self) -> None:
        self.data["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=_plain), encoding="utf-8")
        os.replace(tmp, self.path)
        self._last = time.perf_counter()


def _plain(v: object) -> object:
    if hasattr(v, "item"):
        return v.item()  # numpy scalars
    return str(v)


def _finish_plan(rec: Recorder, sc: Any, plan: Any, check: bool) -> None:
    d = rec.data
    d["objective_usd"] = float(plan.objective_usd)
    d["revenue_usd"] = float(plan.revenue_usd)
    d["leases_placed"] = int(plan.placements["lease"].nunique())
    d["status"] = str(plan.status)
    if check:
        t = time.perf_counter()
        violations = plan.check(sc)
        d["check_s"] = time.perf_counter() - t
        d["violations"] = len(violations)
        d["violation_examples"] = [str(v) for v in violations[:5]]


def run_planner(rec: Recorder, sc: Any, args: argparse.Namespace) -> None:
    """The planner's optimiser, with its progress callback feeding the trace."""
    from planner.optimise.optimiser import optimise

    params = inspect.signature(optimise).parameters
    kw: dict[str, Any] = {}
    if "deterministic" in params:
        kw["deterministic"] = args.deterministic
    if "explain" in params:
        kw["explain"] = args.explain
    if "on_progress" in params:
        kw["on_progress"] = lambda p: rec.point(p.objective_usd, p.bound_usd)
    plan = optimise(sc, time_limit_s=args.time_limit, seed=args.seed, workers=args.threads, **kw)
    d = rec.data
    d["wall_s"] = rec.now()
    meta = plan.meta
    d["build_s"] = meta.get("build_s")
    d["variables"] = meta.get("variables")
    d["constraints"] = meta.get("constraints")
    d["bound_usd"] = float(plan.bound_usd) if math.isfinite(plan.bound_usd) else None
    d["bound_kind"] = "proven"
    d["meta"] = {k: v for k, v in meta.items() if isinstance(v, int | float | str | bool)}
    if not d["trace"] and len(plan.progress):  # no callback: the plan's own progress table
        build = float(meta.get("build_s") or 0.0)
        d["trace"] = [[build + float(r.wall_s), float(r.objective_usd), float(r.bound_usd)]
                      for r in plan.progress.itertuples()]
    _finish_plan(rec, sc, plan, args.check)


def run_greedy(rec: Recorder, sc: Any, args: argparse.Namespace) -> None:
    """The greedy baseline: one plan, one trace point."""
    from planner.optimise.heuristics.greedy import greedy
    from planner.optimise.instance import build_instance

    inst = build_instance(sc)
    rec.data["build_s"] = rec.now()
    plan = greedy(sc, instance=inst, explain=args.explain)
    rec.data["wall_s"] = rec.now()
    rec.point(plan.objective_usd, None)
    rec.data["bound_usd"] = None
    _finish_plan(rec, sc, plan, args.check)


def run_highs(rec: Recorder, sc: Any, args: argparse.Namespace, *, relax: bool) -> None:
    """HiGHS on the plain MIP (or its LP relaxation)."""
    import numpy as np

    from benchmarks.plain_mip import build_plain_mip, estimate_nonzeros
    from planner.optimise.instance import build_instance

    d = rec.data
    inst = build_instance(sc)
    d["instance_s"] = rec.now()
    est = estimate_nonzeros(inst)
    d["nonzeros_estimate"] = est
    need_gb = est * BYTES_PER_NONZERO / 2**30
    if need_gb > args.mem_limit_gb:
        d["status"] = "TOO_LARGE"
        d["error"] = (f"the plain model has ~{est / 1e6:,.0f} M non-zeros before dropping rows that cannot bind; "
                      f"building it needs ~{need_gb:,.0f} GiB > the {args.mem_limit_gb:g} GiB limit")
        return
    mip = build_plain_mip(inst)
    d.update(variables=mip.n_cols, constraints=mip.n_rows, nonzeros=mip.n_nonzeros, rows_by_family=mip.rows_by_family,
             model_build_s=mip.build_s)
    rec.write()

    import highspy

    h = highspy.Highs()
    h.setOptionValue("output_flag", bool(args.highs_log))
    h.setOptionValue("time_limit", float(args.time_limit))
    h.setOptionValue("random_seed", int(args.seed))
    h.setOptionValue("mip_rel_gap", GAP_LIMIT)  # as the planner's relative_gap_limit
    h.setOptionValue("threads", int(args.threads))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = mip.n_cols, mip.n_rows
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = mip.cost, mip.lower, mip.upper
    lp.row_lower_, lp.row_upper_ = mip.row_lower, mip.row_upper
    lp.sense_ = highspy.ObjSense.kMaximize
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_, lp.a_matrix_.index_, lp.a_matrix_.value_ = mip.a_start, mip.a_index, mip.a_value
    if not relax:
        kinds = [highspy.HighsVarType.kContinuous, highspy.HighsVarType.kInteger]
        lp.integrality_ = [kinds[f] for f in mip.integrality.tolist()]
    h.passModel(lp)
    del lp
    d["build_s"] = rec.now()
    if not relax:
        h.cbMipImprovingSolution.subscribe(
            lambda e: rec.point(e.data_out.objective_function_value, e.data_out.mip_dual_bound))
    rec.write()
    h.run()
    d["wall_s"] = rec.now()
    status = h.modelStatusToString(h.getModelStatus())
    info = h.getInfo()
    d["highs_status"] = status
    feasible = info.primal_solution_status == 2  # kSolutionStatusFeasible
    if relax:
        d["status"] = "OPTIMAL" if status == "Optimal" else status.upper().replace(" ", "_")
        d["bound_usd"] = float(info.objective_function_value) if status == "Optimal" else None
        d["bound_kind"] = "lp"
        return
    bound = float(info.mip_dual_bound)
    d["bound_usd"] = bound if math.isfinite(bound) else None
    d["bound_kind"] = "proven"
    if not feasible:
        d["status"] = "NO_SOLUTION" if status != "Infeasible" else "INFEASIBLE"
        return
    d["status"] = "OPTIMAL" if status == "Optimal" else "FEASIBLE"
    d["solver_objective_usd"] = float(info.objective_function_value)
    values = np.asarray(h.getSolution().col_value)
    _finish_plan(rec, sc, _plan_from(sc, inst, mip, values, d["status"], d["wall_s"]), args.check)


def _plan_from(sc: Any, inst: Any, mip: Any, values: Any, status: str, wall_s: float) -> Any:
    """A planner Plan from a plain-MIP solution (so that ``plan.check`` can judge it)."""
    import pandas as pd

    from planner.optimise.heuristics.greedy import placement_rows
    from planner.plan import PLACEMENT_COLUMNS, UNPLACED_COLUMNS, make_plan

    fits = mip.fits(values)
    rows = [row for lo in inst.leases if lo.lease in fits for row in placement_rows(inst, lo, fits[lo.lease])]
    placements = pd.DataFrame(rows, columns=PLACEMENT_COLUMNS)
    unplaced = pd.DataFrame([{"lease": lo.lease} for lo in inst.leases if lo.lease not in fits],
                            columns=UNPLACED_COLUMNS)
    net = float((placements["revenue_usd"] - placements["power_cost_usd"] - placements["transport_cost_usd"]).sum())
    return make_plan(sc, placements, unplaced, status=status, objective_usd=net, bound_usd=float("nan"),
                     wall_s=wall_s, method="highs")


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the method, write the record; exit 0 unless the worker itself broke."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("method", choices=METHODS)
    ap.add_argument("scenario", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--time-limit", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=0, help="solver seed")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--mem-limit-gb", type=float, default=12.0)
    ap.add_argument("--deterministic", action="store_true", help="planner: CP-SAT deterministic time limit")
    ap.add_argument("--explain", action="store_true", help="planner/greedy: explain unplaced leases")
    ap.add_argument("--no-check", dest="check", action="store_false", help="skip plan.check()")
    ap.add_argument("--highs-log", action="store_true", help="HiGHS log to stdout")
    args = ap.parse_args(argv)
    if args.method in ("highs", "lp"):
        sys.meta_path.insert(0, _NoOrtools())
    rec = Recorder(args.out, method=args.method, scenario=str(args.scenario), time_limit_s=args.time_limit,
                   seed=args.seed, threads=args.threads, pid=os.getpid())
    try:
        from planner.scenario import load_scenario

        t = time.perf_counter()
        sc = load_scenario(args.scenario)
        rec.data["load_s"] = time.perf_counter() - t
        rec.t0 = time.perf_counter()
        rec.write()
        if args.method == "planner":
            run_planner(rec, sc, args)
        elif args.method == "greedy":
            run_greedy(rec, sc, args)
        else:
            run_highs(rec, sc, args, relax=args.method == "lp")
    except Exception as exc:  # every failure is a result to record
        rec.data["status"] = "ERROR"
        rec.data["error"] = f"{type(exc).__name__}: {exc}\n" + traceback.format_exc()[-3000:]
    if rec.data["trace"]:
        rec.data["first_feasible_s"] = rec.data["trace"][0][0]
    rec.write()
    return 0


if __name__ == "__main__":
    sys.exit(main())
