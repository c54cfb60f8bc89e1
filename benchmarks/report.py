"""Turn benchmark results (``benchmarks/results/*.json``) into ``BENCHMARKS.md`` and a gap-over-time chart.

The best known bound of an instance is the smallest true upper bound any method
proved: the planner's reported bound, HiGHS's MIP dual bound and the LP
relaxation's optimum. Every gap here is measured against it:
``(best bound - objective) / |best bound|``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import platform
import re
import statistics
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Target", "load_results", "write_report"]

ROOT = Path(__file__).resolve().parents[1]
TIERS = ("reference", "small", "medium", "large", "hyperscale")
METHODS = ("planner", "greedy", "highs", "lp")
LABEL = {"planner": "planner", "greedy": "greedy", "highs": "HiGHS (plain MIP)", "lp": "LP relaxation (HiGHS)"}
BOUNDED = ("planner", "highs", "lp")
OK = {"OPTIMAL", "FEASIBLE", "HEURISTIC"}
GAP_LIMIT = 1e-4
"""Relative gap at which the solvers stop and call a plan optimal.

The planner's ``relative_gap_limit`` and HiGHS's ``mip_rel_gap`` (``worker.py``)."""
COLOURS = {"planner": "tab:blue", "greedy": "tab:green", "highs": "tab:orange"}
SECTIONS = Path(__file__).resolve().parent / "sections"
"""Sections measured by other commands (each file names its own), added before "Gap over time" as written."""


@dataclass
class Run:
    """One method on one instance, with gaps measured against the instance's best known bound."""

    rec: dict[str, Any]
    best_bound: float | None = None

    @property
    def ok(self) -> bool:
        """Finished with a plan that breaks no limit."""
        return self.rec.get("status") in OK and not self.rec.get("violations") and self.objective is not None

    @property
    def objective(self) -> float | None:
        """The plan's value (revenue - power - transport), USD."""
        v = self.rec.get("objective_usd")
        return None if v is None else float(v)

    def gap(self, objective: float | None) -> float | None:
        """Gap of ``objective`` to the best known bound."""
        if objective is None or self.best_bound is None:
            return None
        return max(self.best_bound - objective, 0.0) / max(abs(self.best_bound), 1.0)

    def trace(self) -> list[tuple[float, float]]:
        """(time s, incumbent) points, the final plan included."""
        pts = [(float(t), float(o)) for t, o, *_ in self.rec.get("trace") or [] if o is not None and math.isfinite(o)]
        if self.ok and self.rec.get("wall_s") is not None:
            pts.append((float(self.rec["wall_s"]), float(self.objective or 0.0)))
        out: list[tuple[float, float]] = []
        for t, o in sorted(pts):
            if not out or o > out[-1][1]:
                out.append((t, o))
        return out

    def gap_at(self, seconds: float) -> float | None:
        """Gap of the best incumbent found by ``seconds``."""
        best = [o for t, o in self.trace() if t <= seconds + 1e-9]
        return self.gap(max(best)) if best else None

    def time_to(self, gap: float) -> float | None:
        """First time the incumbent is within ``gap`` of the best known bound."""
        for t, o in self.trace():
            g = self.gap(o)
            if g is not None and g <= gap + 1e-12:
                return t
        return None

    @property
    def first_feasible_s(self) -> float | None:
        """Time of the first plan."""
        tr = self.trace()
        return tr[0][0] if tr else None


@dataclass
class Target:
    """One target of issue 17, measured on the planner's runs of a tier."""

    tier: str
    text: str
    unit: str
    limit: float
    measure: Callable[[dict[str, Run]], float | None]
    higher_is_better: bool = False
    tolerance: float = 1e-9
    values: list[float | None] = field(default_factory=list)

    def met(self, v: float | None) -> bool:
        """Whether one seed's value meets the target."""
        if v is None:
            return False
        return v >= self.limit - self.tolerance if self.higher_is_better else v <= self.limit + self.tolerance


def load_results(results: Path) -> tuple[dict[tuple[str, int], dict[str, Run]], dict[tuple[str, int], dict]]:
    """Runs by (tier, seed) and method, with best known bounds filled in; and instance records."""
    runs: dict[tuple[str, int], dict[str, Run]] = {}
    instances: dict[tuple[str, int], dict] = {}
    patterns: dict[tuple[str, int], float] = {}
    pat = re.compile(r"^(?P<tier>[a-z]+)-s(?P<seed>\d+)-(?P<what>[a-z]+)\.json$")
    for f in sorted(results.glob("*.json")):
        m = pat.match(f.name)
        if not m:
            continue
        key = (m["tier"], int(m["seed"]))
        rec = json.loads(f.read_text(encoding="utf-8"))
        if m["what"] == "instance":
            instances[key] = rec
        elif m["what"] in ("patterns", "split", "halls", "whole"):  # a bound alone (pattern_gap.py, split_gap.py,
            # hall_gap.py, whole_gap.py)
            if rec.get("status") == "OPTIMAL" or m["what"] != "split":  # it counts towards the best
                patterns[key] = min(patterns.get(key, math.inf), float(rec["bound_usd"]))
        elif m["what"] in METHODS:
            runs.setdefault(key, {})[m["what"]] = Run(rec)
    for key, by_method in runs.items():
        bounds = [float(r.rec["bound_usd"]) for m, r in by_method.items()
                  if m in BOUNDED and r.rec.get("bound_usd") is not None
                  and r.rec.get("status") in OK | {"NO_SOLUTION"}]
        bounds += [patterns[key]] if key in patterns else []
        best = min(bounds) if bounds else None
        best_obj = max((r.objective for r in by_method.values() if r.ok and r.objective is not None), default=None)
        if best is not None and best_obj is not None and best < best_obj:
            for r in by_method.values():
                r.rec.setdefault("notes", []).append(
                    f"best bound {best:,.0f} is below a valid plan's {best_obj:,.0f}: a reported bound is not a "
                    "true bound (or differs by rounding); the plan's value is used as the bound")
            best = best_obj
        for r in by_method.values():
            r.best_bound = best
    return runs, instances


# --------------------------------------------------------------------------- formatting
def _fmt(v: float | None, kind: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "—"
    if kind == "usd":
        return f"{v / 1e6:,.1f}"
    if kind == "pct":
        return f"{100 * v:.2f} %"
    if kind == "s":
        return f"{v:.1f}"
    if kind == "mib":
        return f"{v:,.0f}"
    if kind == "int":
        return f"{v:,.0f}"
    return str(v)


def _agg(values: list[float | None], worst: str) -> tuple[float | None, float | None]:
    """Median and worst of the values; a missing value is the worst of all."""
    have = [v for v in values if v is not None]
    if not have:
        return None, None
    med = statistics.median(have) if len(have) == len(values) else None
    if worst == "min":
        return med, (min(have) if len(have) == len(values) else None)
    return med, (max(have) if len(have) == len(values) else None)


def _pair(values: list[float | None], kind: str, worst: str = "max") -> str:
    med, bad = _agg(values, worst)
    missing = sum(v is None for v in values)
    if med is None and bad is None:
        return "—" if missing == len(values) else f"— ({missing} none)"
    if missing:
        return f"— ({missing} of {len(values)} none)"
    return _fmt(med, kind) if len(values) == 1 or med == bad else f"{_fmt(med, kind)} / {_fmt(bad, kind)}"


def _statuses(runs: list[Run]) -> str:
    counts: dict[str, int] = {}
    for r in runs:
        s = str(r.rec.get("status", "?"))
        if r.rec.get("violations"):
            s += " (INVALID)"
        counts[s] = counts.get(s, 0) + 1
    return ", ".join(f"{s}" + (f" ×{n}" if n > 1 else "") for s, n in sorted(counts.items()))


def _machine() -> list[tuple[str, str]]:
    def version(pkg: str) -> str:
        try:
            return metadata.version(pkg)
        except metadata.PackageNotFoundError:
            return "not installed"

    cpu = "unknown"
    mem = "unknown"
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                   if line.startswith("model name"))
        kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                       if line.startswith("MemTotal")))
        mem = f"{kib / 2**20:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                                check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=False).stdout.strip()
        commit = (commit or "unknown") + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        commit = "unknown"
    return [("CPU", f"{cpu}, {os.cpu_count()} cores (nproc)"), ("memory", mem),
            ("OS", f"{platform.system()} {platform.release()}"),
            ("Python", platform.python_version()), ("OR-Tools", version("ortools")),
            ("HiGHS (highspy)", version("highspy")), ("numpy / pandas", f"{version('numpy')} / {version('pandas')}"),
            ("planner", f"{version('planner')}, report written at commit {commit}")]


# --------------------------------------------------------------------------- targets
def _targets(time_limit: dict[str, float]) -> list[Target]:
    def planner(f: Callable[[Run], float | None]) -> Callable[[dict[str, Run]], float | None]:
        return lambda runs: f(runs["planner"]) if "planner" in runs and runs["planner"].ok else None

    def versus(other: str) -> Callable[[dict[str, Run]], float | None]:
        def f(runs: dict[str, Run]) -> float | None:
            p, o = runs.get("planner"), runs.get(other)
            if p is None or not p.ok or p.objective is None:
                return None
            if o is None or not o.ok or o.objective is None:
                return math.inf  # the other method found no plan
            return (p.objective - o.objective) / max(abs(o.objective), 1.0)
        return f

    def _build_share(tier: str) -> Callable[[Run], float | None]:
        return lambda r: float(r.rec.get("build_s") or 0.0) / time_limit.get(tier, 60.0)

    def final_gap(r: Run) -> float | None:
        return r.gap(r.objective) if r.objective is not None else None

    out = [
        Target("reference", "gap of the plan to the best bound", "gap", 0.01, planner(final_gap)),
        Target("small", "proven optimal: time to OPTIMAL", "s", time_limit.get("small", 60.0),
               planner(lambda r: r.rec.get("wall_s") if r.rec.get("status") == "OPTIMAL" else None)),
        Target("medium", "gap of the plan to the best bound", "gap", 0.02, planner(final_gap)),
        Target("large", "gap of the plan to the best bound", "gap", 0.03, planner(final_gap)),
        Target("hyperscale", "gap of the plan to the best bound", "gap", 0.05, planner(final_gap)),
        Target("hyperscale", "first feasible plan", "s", 10.0, planner(lambda r: r.first_feasible_s)),
        Target("hyperscale", "peak memory", "MiB", 4096.0, planner(lambda r: r.rec.get("peak_rss_mb"))),
    ]
    for tier in TIERS:
        # Equal within 1e-6: CP-SAT optimises integer-rounded costs, so ties can differ by cents.
        # Against HiGHS, within the relative gap both solvers stop at (1e-4: the planner's
        # relative_gap_limit and HiGHS's mip_rel_gap): two plans each proven within 0.01 % of
        # optimal may differ by that much.
        out += [Target(tier, "objective vs greedy", "rel", 0.0, versus("greedy"), higher_is_better=True,
                       tolerance=1e-6),
                Target(tier, "objective vs HiGHS", "rel", 0.0, versus("highs"), higher_is_better=True,
                       tolerance=GAP_LIMIT),
                Target(tier, "model build (share of the time limit)", "share", 0.1, planner(_build_share(tier)))]
    return out


def _target_value(t: Target, v: float | None) -> str:
    if v is None:
        return "no plan"
    if t.unit == "gap":
        return f"{100 * v:.2f} %"
    if t.unit == "rel":
        return "no rival plan" if math.isinf(v) else f"{100 * v if abs(v) >= 5e-5 else 0.0:+.2f} %"
    if t.unit == "share":
        return f"{100 * v:.1f} %"
    return f"{v:,.1f} {t.unit}"


def _target_limit(t: Target) -> str:
    if t.unit == "gap":
        return f"≤ {100 * t.limit:g} %"
    if t.unit == "rel":
        return "≥ +0 %"
    if t.unit == "share":
        return f"≤ {100 * t.limit:g} %"
    return f"≤ {t.limit:,.0f} {t.unit}"


def _missed_by(t: Target) -> str:
    vals = t.values
    if all(t.met(v) for v in vals):
        return "met"
    if any(v is None for v in vals):
        return f"missed: no plan in {sum(v is None for v in vals)} of {len(vals)} runs"
    worst = min(vals) if t.higher_is_better else max(vals)  # type: ignore[type-var]
    assert worst is not None
    if t.unit == "gap":
        return f"missed by {100 * (worst - t.limit):.2f} points"
    if t.unit == "rel":
        return f"missed: {100 * worst:.2f} % below"
    if t.unit == "share":
        return f"missed by {100 * (worst - t.limit):.1f} points"
    return f"missed by {worst - t.limit:,.1f} {t.unit} ({worst / t.limit:.1f}x)"


# --------------------------------------------------------------------------- chart
def _chart(runs: dict[tuple[str, int], dict[str, Run]], path: Path, time_limit: dict[str, float]) -> None:
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    tiers = [t for t in TIERS if any(k[0] == t for k in runs)]
    if not tiers:
        return
    fig, axes = plt.subplots(1, len(tiers), figsize=(max(4.6 * len(tiers), 7.0), 4.0), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for ax, tier in zip(axes[0], tiers, strict=True):
        keys = sorted(k for k in runs if k[0] == tier)
        xmax = time_limit.get(tier, 1.0)
        levels: list[tuple[float, float, str]] = []  # greedy plans: drawn as levels once the axis is known
        for i, key in enumerate(keys):
            for method in ("planner", "highs", "greedy"):
                r = runs[key].get(method)
                if r is None:
                    continue
                pts = [(t, max(g, 1e-5)) for t, o in r.trace() if (g := r.gap(o)) is not None]  # 0 on the floor
                if not pts:
                    continue
                end = float(r.rec.get("wall_s") or pts[-1][0])
                xmax = max(xmax, end)
                xs = [t for t, _ in pts] + [end]
                ys = [100 * g for _, g in pts] + [100 * pts[-1][1]]
                label = f"{LABEL[method]}" if i == 0 else None
                if method != "greedy":
                    ax.step(xs, ys, where="post", color=COLOURS[method], linestyle=styles[i % len(styles)],
                            label=label)
                    ax.plot(xs[:-1], ys[:-1], ".", color=COLOURS[method], ms=5)  # each new incumbent
                else:
                    ax.plot([], [], color=COLOURS[method], label=label)
                if method == "greedy":
                    ax.plot(xs[:1], ys[:1], "o", color=COLOURS[method], ms=4)
                    levels.append((xs[0], ys[0], styles[i % len(styles)]))
        for x, y, style in levels:
            ax.hlines(y, x, xmax * 1.02, color=COLOURS["greedy"], linestyle=style, linewidth=0.8)
        ax.set_yscale("log")
        ax.set_ylim(1e-3, 100)
        ax.set_xlim(0, xmax * 1.02)
        ax.set_title(f"{tier} ({len(keys)} seed{'s' if len(keys) != 1 else ''})")
        ax.set_xlabel("time since the scenario was loaded, s")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].set_ylabel("gap to best known bound, %")
    axes[0][0].legend(fontsize=8, loc="lower left")
    fig.suptitle("Incumbent gap to the best known bound over time; one line style per seed; "
                 "a gap of 0 is drawn at the 0.001 % floor", fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- report
TIERS_TEXT = [
    "## The generated tiers", "",
    "`planner generate --tier T --seed S` (`planner/generate/`) builds each tier as operators build campuses "
    "(small: 50 leases x 20 pods, 2 campuses, 4 PoPs; medium: 1,000 x 200, 4, 6; large: 5,000 x 500, 6, 8; "
    "hyperscale: 10,000 x 2,000, 10, 10; 52 weeks):", "",
    "- **pods are AI zones** of 2,016-4,096 GPUs (Meta's are 3,072): whole 8-GPU H100 / B200 servers, or GB200 "
    "in whole 72-GPU NVL72 racks on 400G InfiniBand;",
    "- **halls** (declared in `pods.yaml`) are aggregation domains of up to 8 zones, one building each (4 data "
    "halls x 2 zones), with `aggregation_gbps` = the hall's GPUs x 400 Gb/s / 7 (Meta's ~7:1);",
    "- **internal work**: three pretraining waves a year reserve whole zones or whole halls (reservation rows by "
    "`hall`, or by `pod` with `gpus` empty), post-training and evaluations whole zones between them; internal "
    "inference holds part of the serving zones. What can be sold is the idle zones and halls between waves and "
    "the serving slack;",
    "- **the lease book**, scaled per SKU to 1.6x the GPU-weeks internal work leaves free (the small tier, "
    "whose campuses are small against its largest asks, comes out at 0.8-0.95x): ~50 % inference as fleets of "
    "small independent replicas (8-64 GPUs, or one or two NVL72 racks) whose egress comes from serving "
    "throughput (a few Mb/s per GPU, at most 30), ~25 % training from a few hundred to ~26,000 GPUs (span=hall "
    "when one hall can hold it, span=site beyond), ~25 % fine-tuning; GB200 in multiples of 72; about 0.4 % of "
    "the leases ask for an SLO no campus they may use can meet;",
    "- **DCI**: spans along interstate corridors at 1.2-1.5x the great circle; each campus's three access spans "
    "leave through two entrances, the two that share one in one shared-risk group. With egress in megabits per "
    "GPU the fibre seldom binds; latency does.",
]
"""How the generated tiers are built (the report's description; the figures are in ``planner/generate/``)."""


def _about(inst: dict) -> str:
    """GPUs, spans and demand of a generated scenario, from its header lines."""
    text = " ".join(inst.get("about", []))
    gpus = re.search(r"\(([\d,]+) GPUs\)", text)
    spans = re.search(r"(\d+) DCI spans", text)
    ratio = re.search(r"ask for ([\d.]+)x", text)
    parts = [f"{gpus[1]} GPUs" if gpus else "", f"{spans[1]} spans" if spans else "",
             f"demand {ratio[1]}x free GPU-weeks" if ratio else ""]
    return ", ".join(p for p in parts if p) or "—"


def _tier_section(tier: str, keys: list[tuple[str, int]], runs: dict[tuple[str, int], dict[str, Run]],
                  instances: dict[tuple[str, int], dict]) -> list[str]:
    lines: list[str] = []
    inst = [instances.get(k, {}) for k in keys]
    first = next((i for i in inst if i), {})
    limits = sorted({float(r.rec.get("time_limit_s", 0)) for k in keys for m, r in runs[k].items() if m != "lp"})
    lp_limits = sorted({float(r.rec.get("time_limit_s", 0)) for k in keys for m, r in runs[k].items() if m == "lp"})
    lines += [f"## {tier}", ""]
    if first:
        lines.append(f"{first.get('leases', '?'):,} leases x {first.get('pods', '?'):,} pods, "
                     f"{first.get('campuses', '?')} campuses, {first.get('pops', '?')} PoPs, "
                     f"{first.get('weeks', '?')} weeks; seeds {', '.join(str(k[1]) for k in keys)}; "
                     f"time limit {', '.join(f'{v:g}' for v in limits)} s"
                     + (f" (LP {', '.join(f'{v:g}' for v in lp_limits)} s)." if lp_limits else "."))
        lines.append("")
    lines.append("| seed | scenario | generate, s | load (median), s | best known bound, M$ |")
    lines.append("|---|---|---|---|---|")
    for k, i in zip(keys, inst, strict=True):
        bound = next(iter(runs[k].values())).best_bound
        lk = [r.rec["load_s"] for r in runs[k].values() if r.rec.get("load_s") is not None]
        lines.append(f"| {k[1]} | {_about(i)} | {_fmt(i.get('generate_s'), 's')} | "
                     f"{_fmt(statistics.median(lk) if lk else None, 's')} | {_fmt(bound, 'usd')} |")
    lines += ["", "Median / worst over seeds (— where a run has no value):", "",
              "| method | status | objective, M$ | revenue, M$ | gap to best bound | first plan, s | to 1 % gap, s "
              "| build, s | variables | constraints | peak RSS, MiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    for method in METHODS:
        rs = [runs[k][method] for k in keys if method in runs[k]]
        if not rs:
            continue
        objs = [r.objective if r.ok else None for r in rs]
        revs = [r.rec.get("revenue_usd") if r.ok else None for r in rs]
        if method == "lp":
            objs = [r.rec.get("bound_usd") for r in rs]
            revs = [None for _ in rs]
        gaps: list[float | None] = [r.gap(r.objective) if r.ok and method != "lp" else None for r in rs]
        lines.append(
            f"| {LABEL[method]} | {_statuses(rs)} | {_pair(objs, 'usd', 'min')} | {_pair(revs, 'usd', 'min')} | "
            f"{_pair(gaps, 'pct')} | {_pair([r.first_feasible_s for r in rs], 's')} | "
            f"{_pair([r.time_to(0.01) for r in rs], 's')} | {_pair([r.rec.get('build_s') for r in rs], 's')} | "
            f"{_pair([r.rec.get('variables') for r in rs], 'int')} | "
            f"{_pair([r.rec.get('constraints') for r in rs], 'int')} | "
            f"{_pair([r.rec.get('peak_rss_mb') for r in rs], 'mib')} |")
    if any(method == "lp" for k in keys for method in runs[k]):
        lines += ["", "(For the LP relaxation, 'objective' is its optimum: an upper bound, not a plan.)"]
    notes = []
    for k in keys:
        for method, r in runs[k].items():
            err = r.rec.get("error")
            if err:
                notes.append(f"- seed {k[1]}, {LABEL[method]}: {r.rec.get('status')}: {str(err).splitlines()[0]}")
            if r.rec.get("violations"):
                notes.append(f"- seed {k[1]}, {LABEL[method]}: plan.check() found {r.rec['violations']} "
                             f"violations, e.g. {(r.rec.get('violation_examples') or [''])[0]}")
            notes += [f"- seed {k[1]}, {LABEL[method]}: {n}" for n in r.rec.get("notes", [])]
    if notes:
        lines += ["", "Notes:", "", *sorted(set(notes))]
    return [*lines, ""]


def _partial(keys_by_tier: dict[str, list[tuple[str, int]]], time_limit: dict[str, float],
             runs: dict[tuple[str, int], dict[str, Run]]) -> str:
    """How the results fall short of the full benchmark (every tier, 3 seeds, 60 s, every method), if they do."""
    short = []
    missing = [t for t, ks in keys_by_tier.items() if not ks]
    if missing:
        short.append(f"no {', '.join(missing)}")
    few = [t for t, ks in keys_by_tier.items() if 0 < len(ks) < 3]
    if few:
        short.append(f"fewer than 3 seeds: {', '.join(few)}")
    limits = sorted({v for t, v in time_limit.items() if keys_by_tier[t] and v != 60})
    if limits:
        short.append(f"time limit {', '.join(f'{v:g}' for v in limits)} s")
    methods = {m for by in runs.values() for m in by}
    if methods != set(METHODS):
        short.append(f"methods {', '.join(m for m in METHODS if m in methods)}")
    return "; ".join(short)


def write_report(results: Path, report: Path, chart: Path, *, command: str) -> None:
    """Write ``report`` (Markdown) and ``chart`` (PNG) from every result in ``results``."""
    runs, instances = load_results(results)
    keys_by_tier = {t: sorted(k for k in runs if k[0] == t) for t in TIERS}
    time_limit = {t: max((float(r.rec.get("time_limit_s", 60)) for k in ks for m, r in runs[k].items() if m != "lp"),
                         default=60.0) for t, ks in keys_by_tier.items()}
    partial = _partial(keys_by_tier, time_limit, runs)
    _chart(runs, chart, time_limit)
    rel_chart = os.path.relpath(chart, report.parent)
    lines = ["# Benchmarks", "",
             f"Written by `benchmarks/run.py` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC from "
             f"`{os.path.relpath(results, report.parent)}/`; do not edit by hand.", "",
             *([f"> **Partial run** ({partial}): a development sample, not the full benchmark.", ""]
               if partial else []),
             "Each method runs in its own process, one at a time, on the same generated scenario "
             "(`planner generate --tier T --seed S`):", "",
             "- **planner**: `planner.optimise.optimiser` (CP-SAT with the planner's own modelling);",
             "- **greedy**: `planner.optimise.heuristics.greedy`, price-ordered first fit (the warm-start baseline);",
             "- **HiGHS (plain MIP)**: highspy on the textbook model (`benchmarks/plain_mip.py`): one binary per "
             "(lease, replica, pod), integer GPUs per pod plus site binaries for span=site leases, route binaries "
             "per SLO-meeting path, capacity rows for every week (no time compression), same options, units and "
             "objective as the planner (`planner.optimise.instance.build_instance`);",
             "- **LP relaxation**: HiGHS on that model with integrality relaxed: an upper bound.", "",
             "The **best known bound** of an instance is the smallest upper bound any method proved (the "
             "planner's bound, HiGHS's dual bound, the LP optimum, and where `benchmarks/pattern_gap.py`, "
             "`benchmarks/hall_gap.py`, `benchmarks/split_gap.py` or `benchmarks/whole_gap.py` ran, the pattern "
             "bound, the hall bound, the hall LP split by site or the site MIP with every lease whole). "
             "Gaps are `(best bound - objective) / best "
             "bound`. Times are seconds from the moment the scenario was loaded, so model build counts; "
             "'first plan' is the first incumbent, 'to 1 % gap' the first incumbent within 1 % of the best bound. "
             "Peak RSS is the worker process's maximum resident memory. A run that overruns its time limit by "
             "the harness margin, or its memory limit, is killed and has no result.", "",
             *TIERS_TEXT, "",
             "## Machine", "", "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in _machine()], "",
             "## Reproduce", "", "```", "make install-dev", f".venv/bin/python {command.removeprefix('python ')}",
             "```", "", "The full benchmark is `python benchmarks/run.py` (4 tiers x 3 seeds, 60 s; LP 300 s); "
             "`--report-only` rewrites this file from the results.", ""]
    # targets
    tiers_run = [t for t in TIERS if keys_by_tier[t]]
    if tiers_run:
        lines += ["## Targets of issue 17 (planner)", "",
                  "Measured per seed; met only when every seed meets it. A gap is the final plan's (after the "
                  "run's deterministic time limit) to the best bound any method, the pattern bound, the hall bound, "
                  "the split bound or the whole-lease MIP proved for that seed.", "",
                  "| tier | target | limit | median | worst | result |", "|---|---|---|---|---|---|"]
        for t in sorted(_targets(time_limit), key=lambda t: TIERS.index(t.tier)):
            if not keys_by_tier.get(t.tier):
                continue
            t.values = [t.measure(runs[k]) for k in keys_by_tier[t.tier]]
            med, worst = _agg(t.values, "min" if t.higher_is_better else "max")
            lines.append(f"| {t.tier} | {t.text} | {_target_limit(t)} | {_target_value(t, med)} | "
                         f"{_target_value(t, worst)} | {_missed_by(t)} |")
        lines.append("")
    for tier in tiers_run:
        lines += _tier_section(tier, keys_by_tier[tier], runs, instances)
    for extra in sorted(SECTIONS.glob("*.md")):  # measured by hand (their commands in them), kept as written
        lines += [extra.read_text(encoding="utf-8").rstrip(), ""]
    lines += ["## Gap over time", "", f"![gap over time]({rel_chart})", ""]
    report.write_text("\n".join(lines), encoding="utf-8")
