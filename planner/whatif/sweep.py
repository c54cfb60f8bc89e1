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
from planner.plan import Plan
from planner.scenario import Scenario
from planner.solver import optimise
from planner.whatif.distributed import ProgressCallback, run_tasks
from planner.whatif.variants import pod_groups, vary

__all__ = ["METRIC_COLUMNS", "PARAMETERS", "Grid", "GridError", "evaluate_point", "plan_metrics", "read_grid",
           "sweep", "sweep_chart"]

PARAMETERS: dict[str, tuple[type, float]] = {
    "demand_growth": (float, 1.0),
    "price_factor": (float, 1.0),
    "slo_factor": (float, 1.0),
    "span_capacity_factor": (float, 1.0),
    "extra_pods": (int, 0),
    "time_limit_s": (float, 10.0),
}
"""Sweepable parameters: type and default."""

OPTIONS = ("parameters", "extra_pods_group", "time_limit_s", "seed")

METRIC_COLUMNS = ["status", "error", "revenue_usd", "net_value_usd", "objective_usd", "bound_usd", "gap",
                  "leases_placed", "leases_unplaced", "gpus_leased_peak", "gpus_leased_mean", "gpu_utilisation_mean",
                  "gpu_utilisation_peak", "span_utilisation_peak", "wall_s"]
"""Result columns of :func:`sweep` (after the parameter columns)."""


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

    def points(self) -> list[dict[str, Any]]:
        """Every combination, in the grid's order (last parameter fastest).

        Examples
        --------
        >>> Grid({"demand_growth": [1.0, 1.5], "price_factor": [1.0, 0.9]}).points()[1]
        {'demand_growth': 1.0, 'price_factor': 0.9}
        """
        names = list(self.parameters)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*self.parameters.values())]


_MINIMUM = {"extra_pods": (0.0, "whole numbers >= 0"), "demand_growth": (1.0, "numbers >= 1")}


def _parameter_values(name: str, values: Any) -> tuple[list[Any], list[Any]]:
    """A parameter's values, cleaned, and the values that are not valid."""
    kind, _ = PARAMETERS[name]
    low, _ = _MINIMUM.get(name, (0.0, ""))
    clean: list[Any] = []
    wrong: list[Any] = []
    for v in values if isinstance(values, list | tuple) else [values]:
        ok = isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
        ok = ok and (int(v) == v if kind is int else True) and (v >= low if name in _MINIMUM else v > 0)
        (clean if ok else wrong).append(kind(v) if ok else v)
    return clean, wrong


def _grid_from(data: Any, source: str, sc: Scenario | None = None) -> Grid:
    problems: list[Problem] = []

    def bad(where: str, value: Any, message: str, fix: str) -> None:
        problems.append(Problem(source, "", where, repr(value), message, fix))

    if not isinstance(data, Mapping):
        raise GridError([Problem(source, "", "", "", "the grid is not a mapping",
                                 "write 'parameters:' with a list of values per parameter")])
    for key in data:
        if key not in OPTIONS:
            bad(str(key), data[key], "unknown key", f"use {', '.join(OPTIONS)}")
    params_in = data.get("parameters") or {}
    if not isinstance(params_in, Mapping) or not params_in:
        bad("parameters", params_in, "no parameters to sweep", f"list values for some of {', '.join(PARAMETERS)}")
        params_in = {}
    params: dict[str, list[Any]] = {}
    for name, values in params_in.items():
        if name not in PARAMETERS:
            bad(f"parameters.{name}", values, "unknown parameter", f"use one of {', '.join(PARAMETERS)}")
            continue
        clean, wrong = _parameter_values(name, values)
        for v in wrong:
            bad(f"parameters.{name}", v, "not a valid value", f"give {_MINIMUM.get(name, (0, 'positive numbers'))[1]}")
        if not clean and not wrong:
            bad(f"parameters.{name}", values, "no values", "give a list of values")
        params[name] = clean
    group = data.get("extra_pods_group")
    if group is not None and sc is not None and str(group) not in set(pod_groups(sc)):
        bad("extra_pods_group", group, "no such pod group in the scenario",
            f"use one of {', '.join(sorted(set(pod_groups(sc)))[:8])}...")
    tl, seed = data.get("time_limit_s", 10.0), data.get("seed", 0)
    if not (isinstance(tl, int | float) and not isinstance(tl, bool) and tl > 0):
        bad("time_limit_s", tl, "not a positive number of seconds", "e.g. time_limit_s: 10")
    if not (isinstance(seed, int) and not isinstance(seed, bool) and seed >= 0):
        bad("seed", seed, "not a whole number >= 0", "e.g. seed: 0")
    if problems:
        raise GridError(problems)
    return Grid(parameters=params, extra_pods_group=None if group is None else str(group),
                time_limit_s=float(tl), seed=int(seed))


def read_grid(source: str | Path | Mapping[str, Any], sc: Scenario | None = None) -> Grid:
    """Read and check a sweep grid (a YAML file, or the same content as a mapping).

    Parameters
    ----------
    source
        The grid file or mapping.
    sc
        When given, ``extra_pods_group`` is checked against its pods.

    Raises
    ------
    GridError
        Listing every problem (unknown keys or parameters, bad values).

    Examples
    --------
    >>> read_grid({"parameters": {"price_factor": [0.9, 1.1]}}).points()
    [{'price_factor': 0.9}, {'price_factor': 1.1}]
    """
    if isinstance(source, Mapping):
        return _grid_from(source, "grid", sc)
    path = Path(source)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GridError([Problem(str(path), "", "", "", f"cannot read file ({exc.strerror})",
                                 "check the path")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else ""
        raise GridError([Problem(str(path), where, "", "", f"malformed YAML: {getattr(exc, 'problem', exc)}",
                                 "fix the YAML syntax")]) from None
    return _grid_from(data, str(path), sc)


# --------------------------------------------------------------------------- one point
def plan_metrics(sc: Scenario, plan: Plan) -> dict[str, Any]:
    """The numbers a sweep compares: revenue, net value, GPUs leased, utilisation, gap."""
    gpus = float(sc.pods["gpus"].sum())
    weekly = plan.pod_use.groupby("week")[["leased_gpus", "internal_gpus"]].sum()
    busy = (weekly["leased_gpus"] + weekly["internal_gpus"]) / gpus if gpus else weekly["leased_gpus"] * 0.0
    return {
        "status": plan.status, "error": "", "revenue_usd": plan.revenue_usd,
        "net_value_usd": plan.revenue_usd - plan.power_cost_usd - plan.transport_cost_usd,
        "objective_usd": plan.objective_usd, "bound_usd": plan.bound_usd, "gap": plan.gap,
        "leases_placed": int(plan.placements["lease"].nunique()), "leases_unplaced": len(plan.unplaced),
        "gpus_leased_peak": int(weekly["leased_gpus"].max()) if len(weekly) else 0,
        "gpus_leased_mean": float(weekly["leased_gpus"].mean()) if len(weekly) else 0.0,
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

    One line per combination of the other parameters that vary. Written as
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
    fig = Figure(figsize=(10, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    panels = (("revenue_usd", "Revenue (USD million)", 1e-6), ("gpu_utilisation_mean", "Mean GPU utilisation (%)",
                                                               100.0))
    groups = ok.groupby(others, sort=True) if others else [((), ok)]
    for ax, (col, label, scale) in zip(axes, panels, strict=True):
        for key, df in groups:
            values = key if isinstance(key, tuple) else (key,)
            name = ", ".join(f"{k}={v:g}" for k, v in zip(others, values, strict=True)) or None
            line = df.sort_values(x)
            ax.plot(line[x], line[col] * scale, marker="o", label=name)
        ax.set_xlabel(x.replace("_", " "))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if others and len(ok):
        axes[1].legend(fontsize="small", title=" / ".join(others), title_fontsize="small")
    if not len(ok):
        for ax in axes:
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
