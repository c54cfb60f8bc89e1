"""Benchmark harness for issue 6: the planner against greedy, HiGHS on the plain MIP, and the LP bound.

For every tier and seed it generates the scenario once (``planner.generate``), then
runs each method in its own process (``python -m benchmarks.worker``), one after
another so that they do not share the two cores, each watched for time and memory
and killed when it overruns (recorded as no result). Results go to
``benchmarks/results/<tier>-s<seed>-<method>.json``; then ``BENCHMARKS.md`` and
``benchmarks/gap_over_time.png`` are written from every result there.

    python benchmarks/run.py                                  # 4 tiers x 3 seeds, 60 s
    python benchmarks/run.py --tiers small,medium --seeds 1 --time-limit 20
    python benchmarks/run.py --report-only                    # rewrite the report from results/
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.report import write_report  # noqa: E402

METHODS = ("greedy", "lp", "planner", "highs")
TIER_NAMES = ("reference", "small", "medium", "large", "hyperscale")
REFERENCE = ROOT / "scenarios" / "reference.yaml"  # the bundled scenario (issue 3's targets)
POLL_S = 0.25


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--tiers", type=_csv, default=list(TIER_NAMES), help="comma-separated tiers")
    ap.add_argument("--seeds", type=lambda s: [int(x) for x in _csv(s)], default=[1, 2, 3],
                    help="comma-separated seeds (scenario and solver seed)")
    ap.add_argument("--methods", type=_csv, default=list(METHODS), help="comma-separated methods")
    ap.add_argument("--time-limit", type=float, default=60.0, help="solve time limit, s (planner, HiGHS MIP)")
    ap.add_argument("--lp-time-limit", type=float, default=None,
                    help="time limit of the LP relaxation, s (default: 5 x --time-limit)")
    ap.add_argument("--margin", type=float, default=180.0,
                    help="kill a run this long after its time limit (covers load, build and plan checks), s")
    ap.add_argument("--mem-limit-gb", type=float, default=12.0, help="kill a run above this RSS, GiB")
    ap.add_argument("--threads", type=int, default=2, help="solver threads / CP-SAT workers")
    ap.add_argument("--deterministic", action="store_true",
                    help="planner: CP-SAT deterministic time limit (default: wall-clock limit)")
    ap.add_argument("--no-check", dest="check", action="store_false", help="skip plan.check() of every plan")
    ap.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--instances", type=Path, default=ROOT / "benchmarks" / "instances",
                    help="where generated scenarios are written")
    ap.add_argument("--report", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument("--chart", type=Path, default=ROOT / "benchmarks" / "gap_over_time.png")
    ap.add_argument("--skip-existing", action="store_true", help="keep results already in --results")
    ap.add_argument("--report-only", action="store_true", help="only rewrite the report from --results")
    args = ap.parse_args(argv)
    bad = [t for t in args.tiers if t not in TIER_NAMES] + [m for m in args.methods if m not in METHODS]
    if bad:
        ap.error(f"unknown tier or method: {', '.join(bad)}")
    if args.lp_time_limit is None:
        args.lp_time_limit = 5 * args.time_limit
    return args


def generate_instance(tier: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Generate one scenario (timed) and record what it holds."""
    from planner.generate import TIERS, generate

    t = time.perf_counter()
    if tier == "reference":  # the bundled scenario; the seed is the solver's only
        import planner

        path = REFERENCE
        sc = planner.load_scenario(path)
        counts = {"leases": len(sc.workloads), "pods": len(sc.pods), "campuses": len(sc.sites),
                  "pops": len(sc.pops), "weeks": sc.horizon.periods}
        about = [sc.title]
    else:
        path = generate(tier, seed, args.instances / f"{tier}-s{seed}")
        spec = TIERS[tier]
        counts = {"leases": spec.leases, "pods": spec.pods, "campuses": spec.campuses, "pops": spec.pops,
                  "weeks": spec.weeks}
        about = [line.lstrip("# ") for line in path.read_text().splitlines()[1:3]]
    gen_s = time.perf_counter() - t
    rec = {"tier": tier, "seed": seed, "scenario": str(path), "generate_s": gen_s, **counts, "about": about,
           "loadavg_before": os.getloadavg()}
    (args.results / f"{tier}-s{seed}-instance.json").write_text(json.dumps(rec, indent=1), encoding="utf-8")
    return rec


def run_method(method: str, scenario: str, tier: str, seed: int, args: argparse.Namespace) -> dict[str, Any]:
    """Run one worker process, watch its time and memory, and return its record."""
    import subprocess

    import psutil

    limit = args.lp_time_limit if method == "lp" else args.time_limit
    out = args.results / f"{tier}-s{seed}-{method}.json"
    log = args.results / f"{tier}-s{seed}-{method}.log"
    out.unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "benchmarks.worker", method, scenario, "--out", str(out), "--time-limit",
           str(limit), "--seed", str(seed), "--threads", str(args.threads), "--mem-limit-gb", str(args.mem_limit_gb)]
    if args.deterministic:
        cmd.append("--deterministic")
    if not args.check:
        cmd.append("--no-check")
    kill_after = limit + args.margin
    mem_limit = args.mem_limit_gb * 2**30
    t0 = time.perf_counter()
    killed = ""
    peak = 0
    with log.open("w") as lf:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=lf, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        rusage = None
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                rusage = ru
                break
            with contextlib.suppress(psutil.Error):
                peak = max(peak, ps.memory_info().rss)
            elapsed = time.perf_counter() - t0
            if not killed and (elapsed > kill_after or peak > mem_limit):
                killed = "KILLED_TIMEOUT" if elapsed > kill_after else "KILLED_MEMORY"
                proc.kill()
            time.sleep(POLL_S)
    rec: dict[str, Any] = {}
    if out.exists():
        rec = json.loads(out.read_text(encoding="utf-8"))
    rec.update(method=method, tier=tier, seed=seed, time_limit_s=limit, harness_wall_s=time.perf_counter() - t0,
               exit_code=proc.returncode, command=" ".join(cmd[1:]))
    if rusage is not None:
        rec["peak_rss_mb"] = max(rec.get("peak_rss_mb") or 0.0, rusage.ru_maxrss / 1024, peak / 2**20)
    if killed:
        rec["status"] = killed
        rec["error"] = (f"killed after {rec['harness_wall_s']:.0f} s" if killed == "KILLED_TIMEOUT"
                        else f"killed above {args.mem_limit_gb:g} GiB RSS") + f" (last stage: {rec.get('status')})"
    elif rec.get("status") in (None, "RUNNING"):
        rec["status"] = "CRASHED"
        rec["error"] = f"exit code {proc.returncode}; see {log.name}"
    out.write_text(json.dumps(rec, indent=1), encoding="utf-8")
    return rec


def _line(rec: dict[str, Any]) -> str:
    obj = rec.get("objective_usd")
    bound = rec.get("bound_usd")
    parts = [f"{rec['tier']:>10} s{rec['seed']} {rec['method']:<8} {rec.get('status', '?'):<15}",
             f"obj {obj / 1e6:>12,.2f} M$" if obj is not None else f"obj {'-':>12}   ",
             f"bound {bound / 1e6:>12,.2f} M$" if bound is not None else f"bound {'-':>12}   ",
             f"{rec['harness_wall_s']:6.1f} s", f"{rec.get('peak_rss_mb') or 0:7.0f} MiB"]
    if rec.get("violations"):
        parts.append(f"{rec['violations']} VIOLATIONS")
    return "  ".join(parts)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark (or only rewrite its report)."""
    args = parse_args(argv)
    args.results.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        for tier in args.tiers:
            for seed in args.seeds:
                inst = generate_instance(tier, seed, args)
                print(f"{tier} s{seed}: generated in {inst['generate_s']:.1f} s -> {inst['scenario']}", flush=True)
                for method in args.methods:
                    if args.skip_existing and (args.results / f"{tier}-s{seed}-{method}.json").exists():
                        continue
                    print(_line(run_method(method, inst["scenario"], tier, seed, args)), flush=True)
    command = "python benchmarks/run.py " + " ".join(argv if argv is not None else sys.argv[1:])
    write_report(args.results, args.report, args.chart, command=command.strip())
    print(f"wrote {args.report} and {args.chart}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
