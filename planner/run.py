"""A planning run from scenario file to results folder, and the folder writer.

:func:`plan_scenario` runs every stage -- load and validate, network, routing,
model build, solve, write -- and tells a caller (the CLI's progress display, a
notebook) when each one starts and ends. :func:`write_run` writes a plan's results
folder whole or not at all: everything is written into a hidden temporary folder
beside the target, which is then renamed into place, so a crash, a full disk or a
Ctrl-C while writing never leaves a folder that looks complete.

::

    run = plan_scenario("scenarios/reference.yaml", time_limit_s=20)  # writes output/reference/
    run.plan.headline(), run.out_dir

    write_run(sc, plan, "output/my-run", force=True)                  # just the folder
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import networkx as nx
import pandas as pd

from planner.baseline import greedy
from planner.instance import Instance, build_instance
from planner.network import build_network
from planner.plan import Plan
from planner.routing import candidate_paths
from planner.scenario import Scenario, load_scenario

if TYPE_CHECKING:
    from planner.solver import Optimiser, Progress

# The writers (GeoPandas, GDAL, matplotlib) and the optimiser (OR-Tools) are imported
# when first used, so that ``import planner`` stays light.

__all__ = [
    "EXPORT_FORMATS",
    "RESULT_FILES",
    "STAGES",
    "PlanRun",
    "RunExistsError",
    "check_out_dir",
    "default_out_dir",
    "export_topology",
    "plan_scenario",
    "write_run",
]

log = logging.getLogger(__name__)

STAGES: dict[str, str] = {
    "load": "load + validate",
    "network": "network",
    "routing": "routing",
    "build": "model build",
    "solve": "solve",
    "write": "write",
}
"""The stages of a run, in order, with the words shown for them."""

RESULT_FILES: dict[str, str] = {
    "plan.json": "the plan: status, objective, bound, gap, placements, leases left out (versioned schema)",
    "placements.csv": "one row per lease, replica and pod: GPUs, site, route, latency, revenue and costs",
    "unplaced.csv": "leases left out: the binding constraint family, the reason with numbers, a fix",
    "site_use.csv": "per campus and week: power against what is available, GPUs internal/leased/free by SKU",
    "pod_use.csv": "per fabric domain (pod) and week: GPUs internal/leased/free, uplink traffic, power",
    "link_use.csv": "per DCI span and week: traffic, capacity, limit and utilisation",
    "progress.csv": "each better plan or tighter bound the solver found; the last row is the plan written",
    "network.graphml": "the network graph with typed attributes and peak use (Gephi, yEd, networkx)",
    "topology.geojson": "sites, PoPs, spans, amplifiers and lease routes: one RFC 7946 FeatureCollection",
    "topology.gpkg": "the same layers as a GeoPackage 1.3, one named layer each (QGIS)",
    "topology.kml": "the same layers for Google Earth; spans coloured by peak utilisation",
    "report.html": "the report: headline numbers, map, charts and tables in one offline page",
    "solver.log": "the CP-SAT search log",
    "README.txt": "this list",
}
"""Every file of a results folder, with what it holds."""

#: Written last, so that even a stray temporary folder (after a hard kill) has no plan.json.
_LAST = "plan.json"

StageCallback = Callable[["PlanRun", str, bool], None]
"""Called as ``on_stage(run, stage, finished)`` when a stage starts and when it ends."""


class RunExistsError(FileExistsError):
    """The results folder exists and may not be replaced; ``fix`` says what to do."""

    def __init__(self, path: Path, problem: str, fix: str) -> None:
        self.path, self.problem, self.fix = path, problem, fix
        super().__init__(f"{problem}; {fix}")


@dataclass
class PlanRun:
    """What a planning run has made so far, filled in stage by stage.

    Attributes
    ----------
    scenario, graph, paths, instance
        The loaded scenario, its network, the candidate routes and the planning instance.
    optimiser
        The CP-SAT optimiser (``None`` for the greedy baseline); its ``log_lines`` grow
        during the solve.
    plan
        The plan, once solved.
    out_dir
        The results folder (set before solving, so it can be refused early).
    stage_s
        Seconds spent in each finished stage.
    """

    scenario: Scenario | None = None
    graph: nx.Graph | None = None
    paths: pd.DataFrame | None = None
    instance: Instance | None = None
    optimiser: Optimiser | None = None
    plan: Plan | None = None
    out_dir: Path | None = None
    stage_s: dict[str, float] = field(default_factory=dict)


# --------------------------------------------------------------------------- the results folder
def default_out_dir(sc: Scenario) -> Path:
    """``output/<scenario name>`` (relative to the working directory).

    Examples
    --------
    >>> from planner import load_scenario
    >>> default_out_dir(load_scenario()).as_posix()
    'output/reference'
    """
    return Path("output") / sc.name


def check_out_dir(path: str | Path, *, force: bool = False) -> None:
    """Raise :class:`RunExistsError` unless a results folder may be written at ``path``.

    A missing path is fine. An existing one is replaced only with ``force``, and only
    when it is a folder that is empty or holds a ``plan.json`` (a results folder):
    ``--force`` never deletes a folder of something else.
    """
    p = Path(path)
    if not p.exists():
        return
    if not p.is_dir():
        raise RunExistsError(p, f"{p} exists and is not a folder", "choose another folder with --out")
    if not force:
        raise RunExistsError(p, f"results folder {p} already exists",
                             "pass --force to replace it, or --out to write somewhere else")
    if (p / _LAST).is_file() or not any(p.iterdir()):
        return
    raise RunExistsError(p, f"{p} is not a planner results folder (it has no {_LAST}), so --force does not "
                            "replace it", "choose another folder with --out")


def _csv(df: pd.DataFrame, path: Path) -> None:
    """A table as CSV; tuple and list cells joined with ``;``."""
    from planner.gis.layers import joined

    out = df.copy()
    for c in out.columns:
        if out[c].dtype == object and out[c].map(lambda v: isinstance(v, tuple | list | set | frozenset)).any():
            out[c] = out[c].map(joined)
    out.to_csv(path, index=False)


def _plan_json(plan: Plan) -> str:
    """``plan.to_json()``; a plan without a bound (the greedy baseline) gets ``null`` bound and gap."""
    if math.isfinite(plan.bound_usd) and math.isfinite(plan.gap):
        return plan.to_json()
    doc = json.loads(dataclasses.replace(plan, bound_usd=0.0, gap=0.0).to_json())
    doc["bound_usd"] = doc["gap"] = None
    return json.dumps(doc, indent=1, allow_nan=False)


def _readme(sc: Scenario, plan: Plan) -> str:
    h = plan.headline()
    lines = [f"planner results for scenario {sc.name!r} ({sc.title})",
             f"written {datetime.now(UTC).isoformat(timespec='seconds')}; status {h['status']}; "
             f"revenue {h['revenue_usd']:,.0f} USD; net value {h['objective_usd']:,.0f} USD; "
             f"{h['leases_placed']} leases placed, {h['leases_unplaced']} left out",
             "", "Files:"]
    width = max(map(len, RESULT_FILES))
    lines += [f"  {name:<{width}}  {what}" for name, what in RESULT_FILES.items()]
    lines += ["", "Units are in the column names (_km, _ms, _gbps, _mw, _usd); weeks count from 1; "
                  "coordinates are WGS84 lon/lat (EPSG:4326)."]
    return "\n".join(lines) + "\n"


def _write_files(sc: Scenario, plan: Plan, folder: Path) -> None:
    """Write every file of :data:`RESULT_FILES` into ``folder`` (plan.json last)."""
    from planner import gis, report

    for name, table in (("placements", plan.placements), ("unplaced", plan.unplaced), ("site_use", plan.site_use),
                        ("pod_use", plan.pod_use), ("link_use", plan.link_use), ("progress", plan.progress)):
        _csv(table, folder / f"{name}.csv")
    gis.write_graphml(sc, folder / "network.graphml", plan=plan)
    layers = gis.topology_layers(sc, plan)
    gis.write_geojson(layers, folder / "topology.geojson")
    gis.write_gpkg(layers, folder / "topology.gpkg")
    gis.write_kml(layers, folder / "topology.kml", name=f"planner: {sc.name}")
    report.write_report(sc, plan, folder / "report.html")
    solver_log = "\n".join(plan.log) if plan.log else f"no solver log: the plan was made by {plan.method}"
    (folder / "solver.log").write_text(solver_log + "\n", encoding="utf-8")
    (folder / "README.txt").write_text(_readme(sc, plan), encoding="utf-8")
    (folder / _LAST).write_text(_plan_json(plan), encoding="utf-8")


def _swap_in(tmp: Path, target: Path, *, force: bool) -> None:
    """Rename ``tmp`` to ``target``; an existing target (allowed by ``force``) is moved aside, then deleted."""
    if not target.exists():
        tmp.rename(target)
        return
    check_out_dir(target, force=force)
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    shutil.rmtree(old, ignore_errors=True)
    target.rename(old)
    try:
        tmp.rename(target)
    except BaseException:
        old.rename(target)  # put the previous results back
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_run(sc: Scenario, plan: Plan, out_dir: str | Path, *, force: bool = False) -> Path:
    """Write a plan's results folder, whole or not at all.

    The files (see :data:`RESULT_FILES`) are written into a hidden folder beside
    ``out_dir`` (``.<name>.tmp-<pid>``), which is renamed to ``out_dir`` once all
    are written. If anything fails -- or Ctrl-C arrives -- the temporary folder is
    removed and ``out_dir`` is left as it was.

    Parameters
    ----------
    sc
        The scenario the plan was made for.
    plan
        The plan; an interrupted plan is written as it is, marked ``interrupted``.
    out_dir
        The results folder to write.
    force
        Replace ``out_dir`` if it exists (only a previous results folder, or an empty folder).

    Returns
    -------
    Path
        ``out_dir``.

    Raises
    ------
    RunExistsError
        When ``out_dir`` exists and ``force`` is not set (or it is not a results folder).

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> from planner.baseline import greedy
    >>> sc = load_scenario()
    >>> out = write_run(sc, greedy(sc), Path(tempfile.mkdtemp()) / "run")
    >>> sorted(p.name for p in out.iterdir()) == sorted(RESULT_FILES)
    True
    """
    target = Path(out_dir)
    check_out_dir(target, force=force)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    t = time.perf_counter()
    try:
        tmp.mkdir()
        _write_files(sc, plan, tmp)
        _swap_in(tmp, target, force=force)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log.info("wrote %s in %.1f s", target, time.perf_counter() - t)
    return target


# --------------------------------------------------------------------------- the topology alone
EXPORT_FORMATS: dict[str, tuple[str, str]] = {
    "geojson": (".geojson", "every layer in one RFC 7946 FeatureCollection (lon/lat)"),
    "gpkg": (".gpkg", "GeoPackage 1.3, one named layer each (QGIS)"),
    "kml": (".kml", "KML 2.2 for Google Earth"),
    "graphml": (".graphml", "the network graph with typed attributes (Gephi, yEd, networkx)"),
    "routes": (".geojson", "span routes as the GeoJSON a scenario reads back as files.routes"),
}
"""Formats of :func:`export_topology`: the file suffix and what the file holds."""


def export_topology(sc: Scenario, path: str | Path, *, fmt: str) -> Path:
    """Write a scenario's topology alone (no plan) in one of :data:`EXPORT_FORMATS`.

    Examples
    --------
    >>> import tempfile
    >>> from planner import load_scenario
    >>> out = export_topology(load_scenario(), Path(tempfile.mkdtemp()) / "t.kml", fmt="kml")
    >>> "<kml" in out.read_text()
    True
    """
    if fmt not in EXPORT_FORMATS:
        msg = f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}"
        raise ValueError(msg)
    from planner import gis

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    writers: dict[str, Callable[[Scenario, Path], Path]] = {
        "geojson": gis.write_geojson, "gpkg": gis.write_gpkg, "kml": gis.write_kml, "graphml": gis.write_graphml,
        "routes": gis.export_routes_geojson,
    }
    writers[fmt](sc, out)
    return out


# --------------------------------------------------------------------------- the whole run
def plan_scenario(
    scenario: str | Path | Scenario | None = None,
    *,
    out_dir: str | Path | None = None,
    write: bool = True,
    force: bool = False,
    time_limit_s: float = 60.0,
    seed: int = 0,
    workers: int = 2,
    method: Literal["cp-sat", "greedy"] = "cp-sat",
    on_stage: StageCallback | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    model: Literal["auto", "pods", "sites"] = "auto",
) -> PlanRun:
    """Run every stage: load and validate, network, routing, model build, solve, write.

    Parameters
    ----------
    scenario
        A scenario file (the bundled reference scenario when ``None``) or a loaded
        :class:`~planner.scenario.Scenario` (then the load stage only checks ``out_dir``).
    out_dir
        The results folder; ``output/<scenario name>`` when ``None``. It is checked
        right after loading, so a refused folder costs no solve.
    write
        Write the results folder (with :func:`write_run`); ``False`` stops after the solve.
    force
        Replace an existing results folder.
    time_limit_s, seed, workers
        The solver's time limit, random seed and workers (see :class:`~planner.solver.Optimiser`).
    method
        ``"cp-sat"`` (the optimiser) or ``"greedy"`` (the fast baseline, no bound).
    on_stage
        Called as ``on_stage(run, stage, finished)`` at the start and end of each
        stage (names in :data:`STAGES`), with the run filled in so far.
    on_progress
        Called with each new incumbent during a CP-SAT solve.
    model
        The optimiser's method: ``"pods"``, ``"sites"`` or ``"auto"`` (see
        :class:`~planner.solver.Optimiser`).

    Returns
    -------
    PlanRun
        With ``plan.interrupted`` set when Ctrl-C stopped the solve early (the best
        plan found so far is still written).

    Raises
    ------
    ScenarioError
        The scenario's files have errors (every one is listed).
    RunExistsError
        The results folder exists (and ``force`` is not set).
    InfeasibleError
        Internal workloads cannot all be placed.

    Examples
    --------
    >>> run = plan_scenario(method="greedy", write=False)
    >>> run.plan.status, list(run.stage_s)
    ('HEURISTIC', ['load', 'network', 'routing', 'build', 'solve'])
    """
    run = PlanRun()

    def stage(name: str, work: Callable[[], None]) -> None:
        if on_stage is not None:
            on_stage(run, name, False)
        t = time.perf_counter()
        work()
        run.stage_s[name] = time.perf_counter() - t
        if on_stage is not None:
            on_stage(run, name, True)

    def load() -> None:
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        if write:  # refuse an existing folder now, not after the solve
            run.out_dir = Path(out_dir) if out_dir is not None else default_out_dir(sc)
            check_out_dir(run.out_dir, force=force)
        run.scenario = sc

    def network() -> None:
        run.graph = build_network(_sc(run))

    def routing() -> None:
        run.paths = candidate_paths(_sc(run), run.graph)

    def build() -> None:
        run.instance = build_instance(_sc(run), graph=run.graph, paths=run.paths)
        if method == "cp-sat":
            from planner.solver import Optimiser

            run.optimiser = Optimiser(_sc(run), time_limit_s=time_limit_s, seed=seed, workers=workers,
                                      instance=run.instance, on_progress=on_progress, method=model)
            run.optimiser.build()

    def solve() -> None:
        opt = run.optimiser
        run.plan = opt.solve() if opt is not None else greedy(_sc(run), instance=run.instance)
        run.plan.meta["stage_s"] = dict(run.stage_s)

    def write_folder() -> None:
        assert run.plan is not None and run.out_dir is not None
        write_run(_sc(run), run.plan, run.out_dir, force=force)

    stages = [("load", load), ("network", network), ("routing", routing), ("build", build), ("solve", solve)]
    for name, work in [*stages, *([("write", write_folder)] if write else [])]:
        stage(name, work)
    return run


def _sc(run: PlanRun) -> Scenario:
    """The run's scenario (loaded by the first stage)."""
    assert run.scenario is not None, "the load stage has not run"
    return run.scenario
