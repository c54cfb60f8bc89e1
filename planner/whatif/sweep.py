"""Sweeps: a grid of scenario variants, each solved, in one table and one chart.

A grid (YAML, ``planner sweep SCENARIO --grid grid.yaml``) lists values per
parameter; every combination is a point, solved as a Dask task (short time limit,
one CP-SAT worker, fixed seed, deterministic)::

    parameters:
      demand_growth: [1.0, 1.2, 1.5]   # copies of leases (see planner.whatif.variants.vary)
      price_factor: [1.0]
      slo_factor: [1.0, 0.8]
      span_capacity_factor: [1.0]
      extra_pods: [0]
      api_price_factor: [0.25, 1, 4]   # every API stream's price per million tokens x this
      api_demand_factor: [1.0]         # every API stream's tokens/s (peak and average) x this
      time_limit_s: [10]               # may be swept too
    extra_pods_group: LA-B200-A        # which pod group extra_pods copies
    time_limit_s: 10                   # default for points that do not set it
    seed: 0
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from planner.errors import InfeasibleError, Problem
from planner.optimise.optimiser import optimise
from planner.plan import Plan
from planner.scenario import Scenario
from planner.usesplit import api_gpus_by_pod, api_totals
from planner.whatif.distributed import ProgressCallback, run_tasks
from planner.whatif.variants import pod_groups, vary

__all__ = ["LIMITS", "MAX_POINTS", "METRIC_COLUMNS", "PARAMETERS", "Grid", "GridError", "evaluate_point",
           "failed_points", "plan_metrics", "read_grid", "sweep", "sweep_chart", "write_sweep"]

PARAMETERS: dict[str, tuple[type, float]] = {
    "demand_growth": (float, 1.0),
    "price_factor": (float, 1.0),
    "slo_factor": (float, 1.0),
    "span_capacity_factor": (float, 1.0),
    "extra_pods": (int, 0),
    "api_price_factor": (float, 1.0),
    "api_demand_factor": (float, 1.0),
    "time_limit_s": (float, 10.0),
}
"""Sweepable parameters: type and default."""

LIMITS: dict[str, tuple[float, float, bool, str]] = {
    "demand_growth": (1.0, 10.0, True, "numbers from 1 to 10"),
    "price_factor": (0.0, 100.0, False, "numbers above 0, up to 100"),
    "slo_factor": (0.0, 100.0, False, "numbers above 0, up to 100"),
    "span_capacity_factor": (0.0, 100.0, False, "numbers above 0, up to 100"),
    "extra_pods": (0.0, 1000.0, True, "whole numbers from 0 to 1,000"),
    "api_price_factor": (0.0, 100.0, False, "numbers above 0, up to 100"),
    "api_demand_factor": (0.0, 100.0, False, "numbers above 0, up to 100"),
    "time_limit_s": (0.0, 3600.0, False, "seconds above 0, up to 3,600"),
}
"""Each parameter's allowed range: lowest, highest, whether the lowest is allowed, and the range in words."""

MAX_POINTS = 1000
"""Most points a grid may have (the product of its parameters' value counts)."""

MAX_GRID_BYTES = 64 * 1024
"""Largest grid file read, bytes."""

MAX_SEED = 2**31 - 1
"""Largest seed (CP-SAT's random seed is a 32-bit integer)."""

OPTIONS = ("parameters", "extra_pods_group", "time_limit_s", "seed")

METRIC_COLUMNS = ["status", "error", "revenue_usd", "net_value_usd", "objective_usd", "bound_usd", "gap",
                  "lease_revenue_usd", "api_revenue_usd", "api_net_usd", "api_served_share", "leases_placed",
                  "leases_unplaced", "gpus_leased_peak", "gpus_leased_mean", "api_gpus_peak", "api_gpus_mean",
                  "gpu_utilisation_mean", "gpu_utilisation_peak", "span_utilisation_peak", "wall_s"]
"""Result columns of :func:`sweep` (after the parameter columns).

``revenue_usd`` and ``net_value_usd`` are the leases' and the APIs' together;
``lease_revenue_usd`` and ``api_revenue_usd`` apart; ``api_gpus_*`` count the GPUs of
API replicas (``gpus_leased_*`` leased GPUs), peak and mean over the weeks."""

PLANNED = ("OPTIMAL", "FEASIBLE")
"""Statuses of a point that has a plan; any other (``INFEASIBLE``, ``UNKNOWN``, ``failed``) is a failed point."""


class GridError(ValueError):
    """A sweep grid has problems; ``problems`` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(["sweep grid has problems:", *(f"  - {p}" for p in self.problems)]))


@dataclass(frozen=True)
class Grid:
    """Values per parameter (every combination is a point) and the solve settings."""

    parameters: dict[str, list[Any]] = field(default_factory=dict)
    extra_pods_group: str | None = None
    time_limit_s: float = 10.0
    seed: int = 0

    @property
    def n_points(self) -> int:
        """How many points the grid has (without listing them)."""
        return math.prod(len(v) for v in self.parameters.values())

    def points(self) -> list[dict[str, Any]]:
        """Every combination, in the grid's order (last parameter fastest).

        Examples
        --------
        >>> Grid({"demand_growth": [1.0, 1.5], "price_factor": [1.0, 0.9]}).points()[1]
        {'demand_growth': 1.0, 'price_factor': 0.9}
        """
        names = list(self.parameters)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*self.parameters.values())]


def _in_range(name: str, v: Any) -> bool:
    kind, _ = PARAMETERS[name]
    low, high, low_ok, _ = LIMITS[name]
    if not (isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)):
        return False
    if kind is int and int(v) != v:
        return False
    return (v >= low if low_ok else v > low) and v <= high


def _value_fix(name: str, v: Any) -> str:
    """The fix for a bad value: the range, and for a number YAML read as text (``1e3``) how to write it."""
    words = LIMITS[name][3]
    if isinstance(v, str):
        try:
            number = float(v)
        except ValueError:
            return f"give {words}"
        if _in_range(name, number) and (PARAMETERS[name][0] is float or number.is_integer()):
            return f"write it as a plain number: YAML reads {v} as text (e.g. {number:g} as {number!r})"
        return f"give {words} ({v} is outside)"
    return f"give {words}"


class _Lines:
    """Lines of a YAML document's values, by path (``("parameters", "extra_pods", 0)``)."""

    def __init__(self, node: yaml.Node | None) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        if node is not None:
            self._walk(node, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                key = k.value if isinstance(k, yaml.ScalarNode) else str(k.start_mark.line)
                self.lines[(*path, key)] = k.start_mark.line + 1
                self._walk(v, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, v in enumerate(node.value):
                self._walk(v, (*path, i))

    def where(self, *path: Any) -> str:
        """``"line N"`` of the value at ``path`` (or of its nearest parent), ``""`` when unknown."""
        for n in range(len(path), -1, -1):
            if path[:n] in self.lines:
                return f"line {self.lines[path[:n]]}"
        return ""


def _grid_from(data: Any, source: str, sc: Scenario | None = None, lines: _Lines | None = None) -> Grid:
    problems: list[Problem] = []
    at = lines or _Lines(None)

    def bad(path: tuple[Any, ...], value: Any, message: str, fix: str) -> None:
        field_name = ".".join(str(p) for p in path if not isinstance(p, int))
        problems.append(Problem(source, at.where(*path), field_name, repr(value), message, fix))

    if not isinstance(data, Mapping):
        raise GridError([Problem(source, at.where(), "", "", "the grid is not a mapping",
                                 "write 'parameters:' with a list of values per parameter")])
    for key in data:
        if key not in OPTIONS:
            bad((key,), data[key], "unknown key", f"use {', '.join(OPTIONS)}")
    params_in = data.get("parameters") or {}
    if not isinstance(params_in, Mapping) or not params_in:
        bad(("parameters",), params_in, "no parameters to sweep", f"list values for some of {', '.join(PARAMETERS)}")
        params_in = {}
    params: dict[str, list[Any]] = {}
    for name, values in params_in.items():
        if name not in PARAMETERS:
            bad(("parameters", name), values, "unknown parameter", f"use one of {', '.join(PARAMETERS)}")
            continue
        listed = values if isinstance(values, list | tuple) else [values]
        if len(listed) > MAX_POINTS:
            bad(("parameters", name), f"{len(listed):,} values", f"more than {MAX_POINTS:,} values",
                "sweep fewer values")
            continue
        clean: list[Any] = []
        for i, v in enumerate(listed):
            if _in_range(name, v):
                clean.append(PARAMETERS[name][0](v))
            else:
                path = ("parameters", name, i) if isinstance(values, list | tuple) else ("parameters", name)
                bad(path, v, "not a valid value", _value_fix(name, v))
        if not listed:
            bad(("parameters", name), values, "no values", "give a list of values")
        params[name] = clean
    n_points = math.prod(len(v) for v in params.values()) if params else 0
    if n_points > MAX_POINTS:
        counts = " x ".join(f"{len(v)} {k}" for k, v in params.items())
        bad(("parameters",), f"{n_points:,} points", f"the grid has {n_points:,} points ({counts}), more than "
            f"{MAX_POINTS:,}", "sweep fewer values, or split the grid into several files")
    group = data.get("extra_pods_group")
    if group is not None and sc is not None and str(group) not in set(pod_groups(sc)):
        bad(("extra_pods_group",), group, "no such pod group in the scenario",
            f"use one of {', '.join(sorted(set(pod_groups(sc)))[:8])}...")
    tl, seed = data.get("time_limit_s", 10.0), data.get("seed", 0)
    if not _in_range("time_limit_s", tl):
        bad(("time_limit_s",), tl, "not a time limit", f"give {LIMITS['time_limit_s'][3]}, e.g. time_limit_s: 10")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed <= MAX_SEED):
        bad(("seed",), seed, "not a seed", f"give a whole number from 0 to {MAX_SEED:,}, e.g. seed: 0")
    if problems:
        raise GridError(problems)
    return Grid(parameters=params, extra_pods_group=None if group is None else str(group),
                time_limit_s=float(tl), seed=int(seed))


def _read_text(path: Path) -> str:
    """A grid file's text: a regular file of at most :data:`MAX_GRID_BYTES`, UTF-8; else :class:`GridError`."""
    name = str(path)
    try:
        if not path.is_file():
            what = "no such file" if not path.exists() else "not a regular file"
            raise GridError([Problem(name, "", "", "", what, "give the path of a grid YAML file "
                                                            "(see examples/sweep_grid.yaml)")])
        with path.open("rb") as f:
            raw = f.read(MAX_GRID_BYTES + 1)
    except OSError as exc:
        raise GridError([Problem(name, "", "", "", f"cannot read file ({exc.strerror})", "check the path")]) from None
    if len(raw) > MAX_GRID_BYTES:
        raise GridError([Problem(name, "", "", "", f"the file is larger than {MAX_GRID_BYTES // 1024} KiB",
                                 "give a grid YAML file: a few lines of values per parameter")])
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GridError([Problem(name, f"line {line}, byte {exc.start + 1}", "", f"0x{raw[exc.start]:02x}",
                                 "the file is not UTF-8 text", "save it as UTF-8 plain text")]) from None


def read_grid(source: str | Path | Mapping[str, Any], sc: Scenario | None = None) -> Grid:
    """Read and check a sweep grid (a YAML file, or the same content as a mapping).

    The file is refused unless it is a regular file of at most
    :data:`MAX_GRID_BYTES`, in UTF-8; every value must lie in its parameter's
    range (:data:`LIMITS`) and the grid may have at most :data:`MAX_POINTS` points.

    Parameters
    ----------
    source
        The grid file or mapping.
    sc
        When given, ``extra_pods_group`` is checked against its pods.

    Raises
    ------
    GridError
        Listing every problem (file, line, field, value, fix): unknown keys or
        parameters, values out of range, too many points, a file that is not YAML text.

    Examples
    --------
    >>> read_grid({"parameters": {"price_factor": [0.9, 1.1]}}).points()
    [{'price_factor': 0.9}, {'price_factor': 1.1}]
    """
    if isinstance(source, Mapping):
        return _grid_from(source, "grid", sc)
    path = Path(source)
    text = _read_text(path)
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise GridError([Problem(str(path), where, "", "", f"malformed YAML: {getattr(exc, 'problem', exc)}",
                                 "fix the YAML syntax")]) from None
    except RecursionError:
        raise GridError([Problem(str(path), "", "", "", "the YAML is nested too deep",
                                 "give a flat grid: parameters with a list of values each")]) from None
    return _grid_from(data, str(path), sc, _Lines(node))


# --------------------------------------------------------------------------- one point
def plan_metrics(sc: Scenario, plan: Plan) -> dict[str, Any]:
    """The numbers a sweep compares: revenue (leases, APIs), net value, GPUs leased and serving APIs, utilisation, gap.

    Examples
    --------
    >>> from planner import load_scenario
    >>> from planner.optimise.heuristics.greedy import greedy
    >>> sc = load_scenario()
    >>> m = plan_metrics(sc, greedy(sc, explain=False))
    >>> m["revenue_usd"] == m["lease_revenue_usd"] + m["api_revenue_usd"], m["api_gpus_peak"] > 0
    (True, True)
    """
    gpus = float(sc.pods["gpus"].sum())
    api_gpus = api_gpus_by_pod(plan).groupby(level="week").sum()
    weekly = plan.pod_use.groupby("week")[["leased_gpus", "internal_gpus"]].sum()
    weekly["api_gpus"] = api_gpus.reindex(weekly.index, fill_value=0.0)
    busy = ((weekly["leased_gpus"] + weekly["internal_gpus"] + weekly["api_gpus"]) / gpus if gpus
            else weekly["leased_gpus"] * 0.0)
    api = api_totals(sc, plan)
    lease_net = plan.revenue_usd - plan.power_cost_usd - plan.transport_cost_usd
    return {
        "status": plan.status, "error": "", "revenue_usd": plan.revenue_usd + api["revenue_usd"],
        "net_value_usd": lease_net + api["net_usd"],
        "objective_usd": plan.objective_usd, "bound_usd": plan.bound_usd, "gap": plan.gap,
        "lease_revenue_usd": plan.revenue_usd, "api_revenue_usd": api["revenue_usd"], "api_net_usd": api["net_usd"],
        "api_served_share": api["served_share"],
        "leases_placed": int(plan.placements["lease"].nunique()), "leases_unplaced": len(plan.unplaced),
        "gpus_leased_peak": int(weekly["leased_gpus"].max()) if len(weekly) else 0,
        "gpus_leased_mean": float(weekly["leased_gpus"].mean()) if len(weekly) else 0.0,
        "api_gpus_peak": round(float(weekly["api_gpus"].max())) if len(weekly) else 0,
        "api_gpus_mean": float(weekly["api_gpus"].mean()) if len(weekly) else 0.0,
        "gpu_utilisation_mean": float(busy.mean()) if len(busy) else 0.0,
        "gpu_utilisation_peak": float(busy.max()) if len(busy) else 0.0,
        "span_utilisation_peak": float(plan.link_use["utilisation"].max()) if len(plan.link_use) else 0.0,
        "wall_s": plan.wall_s,
    }


def evaluate_point(sc: Scenario, point: Mapping[str, Any], *, extra_pods_group: str | None = None,
                   time_limit_s: float = 10.0, seed: int = 0, workers: int = 1) -> dict[str, Any]:
    """Solve one variant of ``sc`` and return its parameters and :func:`plan_metrics`.

    An infeasible variant (internal work no longer fits) or one the solver finds no
    plan for in its time limit is a result, not an error: ``status="INFEASIBLE"``
    (or ``"UNKNOWN"``) with the reasons in ``error``.
    """
    knobs = {k: v for k, v in point.items() if k != "time_limit_s"}
    variant = vary(sc, extra_pods_group=extra_pods_group, **knobs)
    limit = float(point.get("time_limit_s", time_limit_s))
    try:
        plan = optimise(variant, time_limit_s=limit, seed=seed, workers=workers, deterministic=True, explain=False)
    except InfeasibleError as exc:
        return {**point, "status": "INFEASIBLE", "error": "; ".join(exc.reasons)}
    except RuntimeError as exc:  # CP-SAT found no plan in the time limit: retrying would not help
        return {**point, "status": "UNKNOWN", "error": str(exc)}
    return {**point, **plan_metrics(variant, plan)}


def _point_task(sc: Scenario, job: tuple[dict[str, Any], Grid]) -> dict[str, Any]:
    point, grid = job
    return evaluate_point(sc, point, extra_pods_group=grid.extra_pods_group, time_limit_s=grid.time_limit_s,
                          seed=grid.seed, workers=1)


def sweep(sc: Scenario, grid: Grid | Mapping[str, Any] | str | Path, *, scheduler: Any = None, serial: bool = False,
          n_workers: int = 2, on_progress: ProgressCallback | None = None) -> pd.DataFrame:
    """Solve every point of a grid (as Dask tasks, or in-process) and tabulate the results.

    Parameters
    ----------
    sc
        The scenario varied.
    grid
        A :class:`Grid`, its mapping, or a grid YAML file (see :func:`read_grid`).
    scheduler, serial, n_workers, on_progress
        Where the points run (see :func:`~planner.whatif.distributed.run_tasks`).

    Returns
    -------
    DataFrame
        One row per point: ``point``, the parameters, then :data:`METRIC_COLUMNS`; a
        point whose task failed twice has ``status="failed"`` and its ``error``.

    Examples
    --------
    >>> from planner import load_scenario
    >>> grid = {"parameters": {"price_factor": [0.8, 1.0, 1.2]}, "time_limit_s": 20}
    >>> table = sweep(load_scenario(), grid)  # doctest: +SKIP
    >>> table[["price_factor", "status", "revenue_usd", "gpu_utilisation_mean"]]  # doctest: +SKIP
    """
    g = grid if isinstance(grid, Grid) else read_grid(grid, sc)
    points = g.points()
    keys = [",".join(f"{k}={v:g}" for k, v in p.items()) for p in points]
    results = run_tasks(_point_task, sc, [(p, g) for p in points], keys=keys, scheduler=scheduler, serial=serial,
                        n_workers=n_workers, on_progress=on_progress)
    rows = [r.value if r.value is not None else {**p, "status": "failed", "error": r.error}
            for p, r in zip(points, results, strict=True)]
    table = pd.DataFrame(rows).reindex(columns=[*g.parameters, *METRIC_COLUMNS])
    table.insert(0, "point", range(1, len(table) + 1))
    return table


# --------------------------------------------------------------------------- chart
def sweep_chart(table: pd.DataFrame, path: str | Path, *, formats: Sequence[str] = ("png", "svg")) -> list[Path]:
    """Chart a sweep: revenue and GPU utilisation against the first swept parameter.

    One line per combination of the other parameters that vary. When some point
    serves API demand, a second row sets leases against APIs: lease revenue (solid)
    and API revenue (dashed), and peak GPUs leased (solid) and serving APIs (dashed)
    -- where the lines cross, one use overtakes the other. Written as
    ``<path>.png`` and ``<path>.svg`` (``path`` without suffix, e.g. ``out/sweep``).

    Returns
    -------
    list of Path
        The files written.
    """
    from matplotlib.figure import Figure

    params = [c for c in table.columns if c in PARAMETERS]
    varying = [c for c in params if table[c].nunique(dropna=True) > 1] or params[:1]
    x = varying[0] if varying else "point"
    others = varying[1:]
    ok = table[table["status"].isin(["OPTIMAL", "FEASIBLE"])]
    apis = "api_revenue_usd" in ok and bool((ok["api_revenue_usd"].fillna(0) > 0).any())
    fig = Figure(figsize=(10, 7.6 if apis else 4.2), layout="constrained")
    axes = fig.subplots(2 if apis else 1, 2, squeeze=False)
    panels: list[tuple[Any, list[tuple[str, str]], str, float]] = [
        (axes[0][0], [("revenue_usd", "-")], "Revenue (USD million)", 1e-6),
        (axes[0][1], [("gpu_utilisation_mean", "-")], "Mean GPU utilisation (%)", 100.0)]
    if apis:
        panels += [(axes[1][0], [("lease_revenue_usd", "-"), ("api_revenue_usd", "--")],
                    "Revenue, leases (solid) and APIs (dashed), USD million", 1e-6),
                   (axes[1][1], [("gpus_leased_peak", "-"), ("api_gpus_peak", "--")],
                    "Peak GPUs leased (solid) and serving APIs (dashed)", 1.0)]
    groups = list(ok.groupby(others, sort=True)) if others else [((), ok)]
    for ax, columns, label, scale in panels:
        for i, (key, df) in enumerate(groups):
            values = key if isinstance(key, tuple) else (key,)
            name = ", ".join(f"{k}={v:g}" for k, v in zip(others, values, strict=True)) or None
            line = df.sort_values(x)
            for col, style in columns:
                ax.plot(line[x], line[col] * scale, marker="o", linestyle=style, color=f"C{i % 10}",
                        label=name if style == "-" else None)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        if x.startswith("api_") and x.endswith("_factor") and len(ok):
            ax.set_xscale("log", base=2)  # factors from 1/4 to 4 sit evenly either side of 1
            ax.set_xticks(sorted(ok[x].unique()), [f"{v:g}" for v in sorted(ok[x].unique())])
            ax.minorticks_off()
    if others and len(ok):
        axes[0][1].legend(fontsize="small", title=" / ".join(others), title_fontsize="small")
    if not len(ok):
        for ax in axes.ravel():
            ax.text(0.5, 0.5, "no point has a plan", ha="center", va="center", transform=ax.transAxes)
    failed = int((~table["status"].isin(["OPTIMAL", "FEASIBLE"])).sum())
    fig.suptitle(f"Sweep: {len(table)} points" + (f" ({failed} without a plan)" if failed else ""))
    base = Path(path)
    base.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        target = base.with_suffix(f".{fmt}")
        fig.savefig(target, dpi=120)
        out.append(target)
    return out


# --------------------------------------------------------------------------- results
_FIXES = {
    "INFEASIBLE": "internal workloads do not fit this variant: sweep values that leave them room",
    "UNKNOWN": "the solver found no plan in the point's time limit: raise time_limit_s",
}


def failed_points(table: pd.DataFrame) -> pd.DataFrame:
    """The points of a sweep table without a plan (status not in :data:`PLANNED`).

    Returns
    -------
    DataFrame
        ``point``, the parameters, ``status``, ``error`` and ``fix``; empty when every point has a plan.
    """
    params = [c for c in table.columns if c in PARAMETERS]
    bad = table[~table["status"].isin(PLANNED)].reindex(columns=["point", *params, "status", "error"])
    bad["error"] = bad["error"].fillna("").astype(str)
    bad["fix"] = bad["status"].map(_FIXES).fillna("the task raised an error: run the point again with --serial "
                                                  "to see it in this process")
    return bad.reset_index(drop=True)


def write_sweep(table: pd.DataFrame, out_dir: str | Path, *, force: bool = False) -> dict[str, Path]:
    """Write a sweep's folder whole or not at all: ``sweep.png``, ``sweep.svg``, then ``sweep.csv``.

    Written through :func:`planner.run.write_folder` (a hidden temporary folder renamed
    into place); an existing folder is replaced only with ``force``, and only when it
    is an earlier sweep's (it holds a ``sweep.csv``) or empty.

    Returns
    -------
    dict
        ``csv``, ``png``, ``svg`` -> the files written.

    Raises
    ------
    planner.run.RunExistsError
        When ``out_dir`` exists and may not be replaced.
    """
    from planner.run import write_folder

    target = Path(out_dir)

    def fill(folder: Path) -> None:
        sweep_chart(table, folder / "sweep")
        table.to_csv(folder / "sweep.csv", index=False)

    write_folder(target, fill, force=force, marker="sweep.csv")
    return {"csv": target / "sweep.csv", "png": target / "sweep.png", "svg": target / "sweep.svg"}
